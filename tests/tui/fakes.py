"""A fake ``DeskLink`` and hand-built, frozen desk snapshots for the TUI tests.

Every timestamp is fixed (15 Jan 2024, IST), so screenshots are byte-for-byte stable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable
from datetime import UTC, datetime

from kitetui.commands import Command, CommandResult
from kitetui.views import (
    BlockedView,
    ChartMark,
    ChartView,
    DayView,
    DeskSnapshot,
    EngineView,
    EventView,
    ExportResult,
    FeedView,
    FillView,
    HeadlineView,
    HistoryPage,
    LimitSetting,
    LimitView,
    OrderDetail,
    OrderEventView,
    OrderView,
    PerformanceRow,
    PerformanceView,
    PositionView,
    RiskView,
    RunReportView,
    RunView,
    SignalView,
)


def ts(hh: int, mm: int, ss: int = 0) -> int:
    """Epoch ns of 2024-01-15 hh:mm:ss IST (UTC+05:30)."""
    utc = datetime(2024, 1, 15, hh, mm, ss, tzinfo=UTC).timestamp() - 5.5 * 3600
    return int(utc) * 1_000_000_000


def wall_clock() -> int:
    """The fixed wall time the header shows in tests: 10:31:05 IST on the same day."""
    return ts(10, 31, 5)


def _chart_bars() -> tuple[list[tuple[int, float, float, float, float]], list[float]]:
    """5-minute NIFTY future bars: Friday 12 Jan from 09:15 to 15:25, then Monday the
    15th from 09:15 to 10:25, a deterministic wave that ends at the position's LTP."""
    starts = [ts(9, 15) - 3 * 86_400_000_000_000 + i * 300_000_000_000 for i in range(75)]
    starts += [ts(9, 15) + i * 300_000_000_000 for i in range(15)]
    bars, closes = [], []
    close = 21640.0
    for i, start in enumerate(starts):
        opened = close
        close = 21700.0 + 45 * math.sin(i / 9) + 12 * math.sin(i / 2.3) + (i - 75) * 1.5
        if i == len(starts) - 1:
            close = 21755.5
        close = round(close * 20) / 20
        high = max(opened, close) + 4 + (i % 4) * 1.5
        low = min(opened, close) - 3 - (i % 3) * 2.0
        bars.append((start, opened, high, low, close))
        closes.append(close)
    return bars, closes


def _ema(values: list[float], period: int) -> list[float | None]:
    alpha, out, value = 2 / (period + 1), [], values[0]
    for i, x in enumerate(values):
        value += alpha * (x - value)
        out.append(round(value, 2) if i >= period else None)
    return out


def nifty_chart() -> ChartView:
    """The chart of the NIFTY future the fno engine holds: an entry at 09:35 and the
    stop working at 21,650 (the Orders tab's fno-0001 and fno-0002), and Friday's round
    trip: a short entered at 12:35's close and stopped out 20 points higher."""
    bars, closes = _chart_bars()
    short_at = 40  # Friday 12:35
    entry = closes[short_at]
    trigger = entry + 20
    hit = next(i for i in range(short_at + 1, len(bars)) if bars[i][2] >= trigger)
    five = 300_000_000_000
    marks = (
        ChartMark("ENTRY", bars[short_at][0] + five, entry, "SELL", 50, "fno-f001"),
        ChartMark("STOP_FILL", bars[hit][0] + 1, trigger, "BUY", 50, "fno-f002"),
        ChartMark("ENTRY", ts(9, 35), 21710.0, "BUY", 50, "fno-0001"),
        ChartMark("STOP", bars[short_at][0] + five + 1, trigger, "BUY", 50, "fno-f002",
                  bars[hit][0] + 1),
        ChartMark("STOP", ts(9, 35, 1), 21650.0, "SELL", 50, "fno-0002"),
    )  # fmt: skip
    return ChartView(
        symbol="NIFTY24JANFUT",
        bars_symbol="NIFTY24JANFUT",
        engine="fno-trend",
        strategy="fno_intraday_trend",
        timeframe_s=300,
        bars=tuple(bars),
        indicators=(
            ("ema_fast", tuple(_ema(closes, 9))),
            ("ema_slow", tuple(_ema(closes, 21))),
            ("adx", tuple(None if i < 28 else 24.0 + (i % 7) for i in range(len(bars)))),
            ("atr", tuple(None if i < 14 else 18.5 for i in range(len(bars)))),
        ),
        overlays=("ema_fast", "ema_slow"),
        marks=marks,
    )


class FakeLink:
    """Returns whatever snapshot a test publishes and records every command sent."""

    def __init__(self, snapshot: DeskSnapshot | None = None) -> None:
        self.current = snapshot
        self.sent: list[Command] = []
        self.details: dict[str, OrderDetail] = dict(ORDER_DETAILS)
        self.detail_requests: list[str] = []
        self.problem: str | None = None
        self.stopped: str | None = None
        self.snapshot_calls = 0
        self.reply: Callable[[Command], CommandResult] = lambda command: CommandResult(
            True, f"{type(command).__name__} done"
        )
        self.gate: asyncio.Event | None = None  # when set, send() waits for it
        self.charts: dict[str, ChartView] = {"NIFTY24JANFUT": nifty_chart()}
        self.chart_requests: list[str] = []

    def snapshot(self) -> DeskSnapshot | None:
        self.snapshot_calls += 1
        return self.current

    async def send(self, command: Command) -> CommandResult:
        self.sent.append(command)
        if self.gate is not None:
            await self.gate.wait()
        return self.reply(command)

    async def order_detail(self, tag: str) -> OrderDetail | None:
        self.detail_requests.append(tag)
        return self.details.get(tag)

    async def chart(self, symbol: str) -> ChartView | None:
        self.chart_requests.append(symbol)
        return self.charts.get(symbol)

    def connection_problem(self) -> str | None:
        return self.problem

    def failure(self) -> str | None:
        """Why the desk stopped (a test sets ``stopped``); None while it is well."""
        return self.stopped

    def publish(self, snapshot: DeskSnapshot) -> None:
        self.current = snapshot

    # The database's history: ``reads`` answers (CannedReads, or a real DatabaseReads).
    reads: object | None = None

    def _reads(self):
        if self.reads is None:
            raise RuntimeError("this desk does not serve its history")
        return self.reads

    async def runs(self):
        return await self._reads().runs()

    async def history(self, table, run="", text="", offset=0, limit=100):
        return await self._reads().history(table, run, text, offset, limit)

    async def run_report(self, run=""):
        return await self._reads().run_report(run)

    async def export(self, what, run="", path=""):
        return await self._reads().export(what, run, path)


RUNS = (
    RunView("run-old", "replay", "configs/dev.yaml", "FINISHED", 0, "2024-01-12 09:10",
            "2024-01-10", "2024-01-12", 240, 236, 0, -1843.25),
    RunView("run-busy", "paper", "configs/paper.yaml", "RUNNING", 1, "2024-01-15 09:05",
            "2024-01-15", "2024-01-15", 250, 5, 2, 909.5),
)  # fmt: skip

REPORT = RunReportView(
    RUNS[0],
    HeadlineView(gross=-1843.25, charges=612.4, trades=118, won=51, max_drawdown=3120.75,
                 orders=240, fills=236, days=3),
)  # fmt: skip


def history_orders(count: int = 250) -> tuple[OrderView, ...]:
    """``count`` orders of one run, oldest first: ENTRY/STOP pairs on three symbols."""
    symbols = ("SBIN", "INFY", "RELIANCE")
    return tuple(
        OrderView(
            f"h-{i:04d}", ts(9, 15) + i * 60 * 10**9, "eq", symbols[i % 3],
            "BUY" if i % 2 == 0 else "SELL", 10, "MARKET" if i % 2 == 0 else "SL-M",
            "ENTRY" if i % 2 == 0 else "STOP", "COMPLETE", filled_qty=10,
            avg_price=600.0 + i, reason="orb breakout" if i % 2 == 0 else "stop hit",
        )
        for i in range(count)
    )  # fmt: skip


class CannedReads:
    """History reads over fixed rows (stable screenshots): ``history_orders()`` and the
    busy desk's signals and events; a filter keeps rows whose text has every word."""

    def __init__(self, orders: tuple[OrderView, ...] | None = None) -> None:
        self.orders = history_orders() if orders is None else orders
        self.queries: list[tuple] = []
        self.exports: list[tuple[str, str, str]] = []

    async def runs(self):
        return RUNS

    async def run_report(self, run=""):
        if run not in ("", "run-old", "run-busy"):
            raise RuntimeError(f"no run {run!r}")
        return REPORT if run == "run-old" else dataclasses.replace(REPORT, run=RUNS[1])

    async def history(self, table, run="", text="", offset=0, limit=100):
        self.queries.append((table, run, text, offset, limit))
        rows = {"orders": self.orders, "signals": SIGNALS, "events": EVENTS, "fills": ()}[table]
        words = text.lower().split()
        kept = [r for r in reversed(rows) if all(w in repr(r).lower() for w in words)]
        page = tuple(kept[offset : offset + limit])
        return HistoryPage(run or "run-busy", table, " ".join(words), offset, len(kept),
                           **{table: page})  # fmt: skip

    async def export(self, what, run="", path=""):
        self.exports.append((what, run, path))
        return ExportResult(f"/desk/{path}", run or "run-busy", what, 42)


def next_snapshot(snapshot: DeskSnapshot, **changes: object) -> DeskSnapshot:
    """The same desk one ``seq`` later, with ``changes`` applied."""
    return dataclasses.replace(snapshot, seq=snapshot.seq + 1, **changes)


def empty_snapshot() -> DeskSnapshot:
    return DeskSnapshot(
        seq=1,
        mode="paper",
        run_id="run-empty",
        data_ts_ns=ts(9, 15),
        feed_state="STARTING",
        speed="60x",
    )


ENGINES = (
    EngineView(
        name="fno-trend",
        kind="fno",
        state="RUNNING",
        strategy="fno_intraday_trend",
        timeframe_s=300,
        symbols=("NIFTY24JANFUT", "BANKNIFTY24JANFUT"),
        bars_seen=42,
        signals_emitted=3,
        orders_placed=2,
        heartbeat_ts_ns=ts(10, 30),
    ),
    EngineView(
        name="equity-mr",
        kind="equity",
        state="PAUSED",
        strategy="mean_reversion",
        timeframe_s=60,
        symbols=("RELIANCE", "INFY", "TCS", "HDFCBANK", "SBIN"),
        bars_seen=210,
        signals_emitted=5,
        orders_placed=3,
        heartbeat_ts_ns=ts(10, 30),
    ),
    EngineView(
        name="options-atm",
        kind="options",
        state="STOPPED",
        strategy="ema_cross",
        timeframe_s=900,
        symbols=("NIFTY",),
        last_error="no ATM strike: chain empty",
    ),
)

POSITIONS = (
    PositionView(
        "NIFTY24JANFUT",
        "fno-trend",
        "MIS",
        50,
        21710.0,
        21755.5,
        0.0,
        2275.0,
        21650.0,
        lot_size=50,
        expiry="2024-01-25",
        cover_state="PROTECTED",
        cover="STOP @ 21650",
        charges=71.9,
    ),
    PositionView(
        "NIFTY2411121700CE",
        "options-atm",
        "MIS",
        100,
        112.4,
        118.05,
        0.0,
        565.0,
        78.65,
        lot_size=50,
        expiry="2024-01-11",
        cover_state="EXITING",
        cover="EXITING 50/100",
        charges=24.17,
    ),
    PositionView(
        "RELIANCE",
        "equity-mr",
        "MIS",
        -20,
        2745.3,
        2751.0,
        1250.0,
        -114.0,
        2770.0,
        cover_state="NAKED",
        cover="NAKED",
        charges=30.12,
    ),
    PositionView("INFY", "equity-mr", "MIS", 0, 0.0, 1640.2, -340.5, 0.0, charges=17.61),
)
# One trading day so far: what each symbol realized is all today's.
POSITIONS = tuple(
    dataclasses.replace(p, day_realized=p.realized, day_charges=p.charges) for p in POSITIONS
)

ORDERS = (
    OrderView(
        "fno-0001",
        ts(9, 35),
        "fno-trend",
        "NIFTY24JANFUT",
        "BUY",
        50,
        "MARKET",
        "ENTRY",
        "COMPLETE",
        filled_qty=50,
        avg_price=21710.0,
    ),
    OrderView(
        "fno-0002",
        ts(9, 35, 1),
        "fno-trend",
        "NIFTY24JANFUT",
        "SELL",
        50,
        "SL-M",
        "STOP",
        "TRIGGER_PENDING",
        trigger_price=21650.0,
    ),
    OrderView(
        "eq-0001",
        ts(9, 50),
        "equity-mr",
        "RELIANCE",
        "SELL",
        20,
        "LIMIT",
        "ENTRY",
        "COMPLETE",
        price=2745.3,
        filled_qty=20,
        avg_price=2745.3,
    ),
    OrderView(
        "eq-0002",
        ts(10, 5),
        "equity-mr",
        "INFY",
        "BUY",
        15,
        "LIMIT",
        "ENTRY",
        "REJECTED",
        price=1641.0,
        reason="max trades per symbol reached",
    ),
    OrderView(
        "eq-0003", ts(10, 20), "equity-mr", "TCS", "BUY", 5, "LIMIT", "ENTRY", "OPEN", price=3801.5
    ),
)

SIGNALS = (
    SignalView(
        11,
        "s11",
        ts(9, 35),
        "fno-trend",
        "fno_intraday_trend",
        "NIFTY24JANFUT",
        "LONG",
        21705.0,
        "ema20 crossed above ema50",
        0.72,
        (("ema20", 21700.1),),
        "ALLOW",
    ),
    SignalView(
        12,
        "s12",
        ts(9, 50),
        "equity-mr",
        "mean_reversion",
        "RELIANCE",
        "SHORT",
        2746.0,
        "z-score 2.3 above mean",
        0.64,
        (),
        "REDUCE",
        "exposure cap: qty 40 -> 20",
    ),
    SignalView(
        13,
        "s13",
        ts(10, 5),
        "equity-mr",
        "mean_reversion",
        "INFY",
        "LONG",
        1641.0,
        "z-score -2.1 below mean",
        0.58,
        (),
        "BLOCK",
        "max trades per symbol",
    ),
    SignalView(
        14,
        "s14",
        ts(10, 20),
        "equity-mr",
        "mean_reversion",
        "TCS",
        "LONG",
        3801.5,
        "z-score -2.0 below mean",
        0.55,
        (),
        "ALLOW",
    ),
    SignalView(
        15,
        "s15",
        ts(10, 25),
        "fno-trend",
        "fno_intraday_trend",
        "BANKNIFTY24JANFUT",
        "EXIT",
        47210.0,
        "trend filter off",
        0.5,
    ),
)

LIMITS = (
    LimitView("daily loss *", 340.5, 10000.0, "₹"),
    LimitView("open positions", 2, 5),
    LimitView("exposure", 1640000.0, 2000000.0, "₹"),
    LimitView("trades INFY", 2, 2),
    LimitView("margin used", 328000.0, 1003070.5, "₹"),
)

# The limits a person may change (the Risk tab's ``l`` form): daily loss lowered by hand.
SETTINGS = (
    LimitSetting("max_daily_loss", 10000.0, 20000.0, "above 0, at most 100,000,000,000"),
    LimitSetting("max_symbol_loss", 8000.0, 8000.0, "above 0, at most 100,000,000,000"),
    LimitSetting("max_open_positions", 5.0, 5.0, "1 to 1,000", integer=True),
    LimitSetting("max_trades_per_symbol_per_day", 2.0, 2.0, "1 to 1,000", integer=True),
    LimitSetting("max_gross_exposure", 2000000.0, 2000000.0, "above 0, at most 1,000,000,000,000"),
    LimitSetting("max_order_value", 1500000.0, 1500000.0, "above 0, at most 100,000,000,000"),
    LimitSetting("max_order_quantity", 10000.0, 10000.0, "1 to 10,000,000", integer=True),
)

EVENTS = tuple(
    EventView(
        seq=100 + i,
        ts_ns=ts(9, 15 + i),
        kind="bar_skipped" if i % 5 == 4 else "order_update",
        level="WARNING" if i % 5 == 4 else "INFO",
        message=f"event number {i}",
        symbol="INFY" if i % 2 else "",
        engine="equity-mr" if i % 3 else "",
    )
    for i in range(25)
)


ORDER_DETAILS = {
    "fno-0001": OrderDetail(
        "fno-0001",
        history=(
            OrderEventView(ts(9, 35), "NEW"),
            OrderEventView(ts(9, 35), "OPEN"),
            OrderEventView(ts(9, 35, 1), "COMPLETE"),
        ),
        fills=(
            FillView("f-1", ts(9, 35, 1), "BUY", 25, 21709.0),
            FillView("f-2", ts(9, 35, 1), "BUY", 25, 21711.0),
        ),
    ),
    "eq-0003": OrderDetail(
        "eq-0003",
        history=(OrderEventView(ts(10, 20), "NEW"), OrderEventView(ts(10, 20), "OPEN")),
    ),
}

#: One equity point a minute from 09:15 to 10:30, drifting up with a saw-tooth.
EQUITY = tuple(
    (ts(9, 15) + minute * 60_000_000_000, 1_000_000 + 40 * minute - (minute % 17) * 55.5)
    for minute in range(76)
)


BLOCKED = (
    BlockedView("fno", "order_working", "BLOCK", 14, ts(10, 29), "NIFTY24JANFUT",
                "NIFTY24JANFUT: an order is already working"),
    BlockedView("equity", "max_open_positions", "BLOCK", 3, ts(10, 12), "SBIN",
                "open positions 5 of 5"),
    BlockedView("equity", "max_order_value", "REDUCE", 2, ts(9, 48), "RELIANCE",
                "order value 3,12,000 over 3,00,000: reduced to 120"),
)  # fmt: skip


def _parts(scope: str) -> tuple[PerformanceRow, ...]:
    """One day's (or a one-day run's) performance: the whole, two engines, four symbols."""
    P = PerformanceRow
    return (
        P(scope, "all", "", "", 5, 2, 3, 2, 3214.3, 143.8, 3070.5, 812.4, -763.35, 1.6, 181.9,
          512.25, 2_345_678.9),
        P(scope, "engine", "fno-trend", "fno_intraday_trend", 2, 1, 1, 1, 2890.0, 96.4, 2793.6,
          1450.0, -420.3, 3.45, 514.85, 420.3, 1_302_000.0),
        P(scope, "engine", "equity-mr", "mean_reversion", 3, 1, 2, 1, 324.3, 47.4, 276.9, 493.6,
          -1106.4, 0.89, -39.73, 1106.4, 1_043_678.9),
        P(scope, "symbol", "INFY", "", 2, 0, 1, 1, -612.4, 18.3, -630.7, 475.7, -1106.4, 0.43,
          -315.35, 1106.4, 412_300.0),
        P(scope, "symbol", "NIFTY24JANFUT", "", 2, 1, 1, 1, 2890.0, 96.4, 2793.6, 1450.0, -420.3,
          3.45, 514.85, 420.3, 1_302_000.0),
        P(scope, "symbol", "RELIANCE", "", 0, 1, 0, 0, 425.2, 12.6, 412.6, None, None, None, None,
          0.0, 312_000.0),
        P(scope, "symbol", "SBIN", "", 1, 0, 1, 0, 511.5, 16.5, 495.0, 495.0, None, None, 495.0,
          0.0, 319_378.9),
    )  # fmt: skip


#: Today is the run's only day: the run's rows are today's, with the day itself listed.
PERFORMANCE = PerformanceView(
    rows=(
        *_parts("run"),
        dataclasses.replace(_parts("run")[0], part="day", name="2024-01-15"),
        *_parts("2024-01-15"),
    )
)


def busy_snapshot() -> DeskSnapshot:
    return DeskSnapshot(
        seq=7,
        mode="paper",
        run_id="run-busy",
        data_ts_ns=ts(10, 30, 15),
        feed_state="RUNNING",
        speed="60x",
        engines=ENGINES,
        positions=POSITIONS,
        orders=ORDERS,
        signals=SIGNALS,
        events=EVENTS,
        blocked=BLOCKED,
        performance=PERFORMANCE,
        risk=RiskView(
            state="ACTIVE",
            kill_switch=False,
            entries_paused=False,
            halt_reason="",
            day_pnl=3070.5,
            realized=909.5,
            unrealized=2161.0,
            max_drawdown=512.25,
            day_realized=909.5,
            day_max_drawdown=512.25,
            day_gross_pnl=3214.3,
            day_charges=143.8,
            charges=143.8,
            charges_by_component=(
                ("brokerage", 68.52),
                ("stt", 27.18),
                ("exchange", 11.45),
                ("sebi", 0.31),
                ("stamp", 21.27),
                ("gst", 15.07),
            ),
            limits=LIMITS,
            blocked_symbols=("INFY",),
            trades_today=(("NIFTY24JANFUT", 1), ("RELIANCE", 1), ("INFY", 2)),
            naked=(("RELIANCE", "the exchange refused its stop"),),
            settings=SETTINGS,
            margin_used=328000.0,
            margin_available=675070.5,
            margin_source="rates",
        ),
        equity_curve=EQUITY,
        counts=(("events", 1250), ("orders", 5), ("signals", 120), ("signals_listed", 5)),
        day="2024-01-15",
        feed=FeedView(
            state="RUNNING",
            items_per_s=1234.0,
            last_item_wall_ns=ts(10, 31, 4),
            reconnects=1,
            session="OPEN",
        ),
    )


def halted_snapshot() -> DeskSnapshot:
    busy = busy_snapshot()
    return dataclasses.replace(
        busy,
        seq=40,
        mode="live",
        engines=tuple(dataclasses.replace(e, state="STOPPED") for e in busy.engines),
        positions=(),
        risk=dataclasses.replace(
            busy.risk,
            state="HALTED",
            kill_switch=True,
            entries_paused=True,
            halt_reason="max daily loss hit (-10,250.00)",
            day_pnl=-10250.0,
            realized=-10106.2,
            unrealized=0.0,
            day_gross_pnl=-10106.2,
            max_drawdown=10980.0,
            day_realized=-10106.2,
            day_max_drawdown=10980.0,
            limits=(LimitView("daily loss", 10250.0, 10000.0, "₹"), *busy.risk.limits[1:]),
        ),
    )


def multi_day_snapshot():
    """Day two of a run: SBIN traded (and closed) on day one only, NIFTY today."""
    busy = busy_snapshot()
    nifty = PositionView(
        "NIFTY24JANFUT",
        "fno",
        "MIS",
        50,
        21710.0,
        21700.0,
        -1500.0,
        -500.0,
        charges=96.4,
        day_realized=200.0,
        day_charges=40.2,
        today=True,
    )
    sbin_old = PositionView(
        "SBIN", "equity", "MIS", 0, 0.0, 600.0, -30000.0, 0.0, charges=45.0, today=False
    )
    day_one = DayView(
        "2024-01-12",
        tuple(
            PositionView(
                symbol,
                engine,
                "MIS",
                0,
                0.0,
                0.0,
                realized,
                0.0,
                charges=charges,
                day_realized=realized,
                day_charges=charges,
                today=False,
            )
            for symbol, engine, realized, charges in (
                ("SBIN", "equity", -30000.0, 45.0),
                ("NIFTY24JANFUT", "fno", -1700.0, 56.2),
            )
        ),
    )
    day_one_ts = ts(10, 0) - 3 * 86_400 * 10**9
    return dataclasses.replace(
        busy,
        positions=(sbin_old, nifty),
        past_days=(day_one,),
        day="2024-01-15",
        risk=dataclasses.replace(
            busy.risk,
            day_pnl=-340.2,
            day_gross_pnl=-300.0,
            day_charges=40.2,
            realized=-31500.0,
            unrealized=-500.0,
            charges=141.4,
            day_realized=200.0,
            max_drawdown=32500.0,
            day_max_drawdown=800.0,
            days=2,
        ),
        equity_curve=((day_one_ts, 1_000_000.0), (ts(9, 15), 968_300.0), (ts(10, 0), 968_000.0)),
        equity_run=((day_one_ts, 1_000_000.0), (ts(9, 15), 968_300.0), (ts(10, 0), 968_000.0)),
        performance=MULTI_DAY_PERFORMANCE,
    )


def _multi_day_performance() -> PerformanceView:
    """Day one: SBIN lost 30,000 and NIFTY 1,700 in four trades; today: NIFTY won one
    trade and holds another."""
    P = PerformanceRow
    one, today = "2024-01-12", "2024-01-15"
    return PerformanceView(
        rows=(
            P("run", "all", "", "", 5, 1, 1, 4, -31800.0, 141.4, -31941.4, 159.8, -8025.3, 0.0,
              -6388.28, 32141.2, 6_120_000.0),
            P("run", "engine", "fno-trend", "fno_intraday_trend", 3, 1, 1, 2, -1800.0, 96.4,
              -1896.4, 159.8, -878.1, 0.18, -632.13, 1756.2, 4_300_000.0),
            P("run", "engine", "equity-mr", "mean_reversion", 2, 0, 0, 2, -30000.0, 45.0,
              -30045.0, None, -15022.5, 0.0, -15022.5, 30045.0, 1_820_000.0),
            P("run", "symbol", "NIFTY24JANFUT", "", 3, 1, 1, 2, -1800.0, 96.4, -1896.4, 159.8,
              -878.1, 0.18, -632.13, 1756.2, 4_300_000.0),
            P("run", "symbol", "SBIN", "", 2, 0, 0, 2, -30000.0, 45.0, -30045.0, None, -15022.5,
              0.0, -15022.5, 30045.0, 1_820_000.0),
            P("run", "day", one, "", 4, 0, 0, 4, -31700.0, 101.2, -31801.2, None, -7950.3, 0.0,
              -7950.3, 31801.2, 4_900_000.0),
            P("run", "day", today, "", 1, 1, 1, 0, -100.0, 40.2, -140.2, 159.8, None, None, 159.8,
              0.0, 1_220_000.0),
            P(one, "all", "", "", 4, 0, 0, 4, -31700.0, 101.2, -31801.2, None, -7950.3, 0.0,
              -7950.3, 31801.2, 4_900_000.0),
            P(one, "engine", "fno-trend", "fno_intraday_trend", 2, 0, 0, 2, -1700.0, 56.2,
              -1756.2, None, -878.1, 0.0, -878.1, 1756.2, 3_080_000.0),
            P(one, "engine", "equity-mr", "mean_reversion", 2, 0, 0, 2, -30000.0, 45.0, -30045.0,
              None, -15022.5, 0.0, -15022.5, 30045.0, 1_820_000.0),
            P(one, "symbol", "NIFTY24JANFUT", "", 2, 0, 0, 2, -1700.0, 56.2, -1756.2, None,
              -878.1, 0.0, -878.1, 1756.2, 3_080_000.0),
            P(one, "symbol", "SBIN", "", 2, 0, 0, 2, -30000.0, 45.0, -30045.0, None, -15022.5,
              0.0, -15022.5, 30045.0, 1_820_000.0),
            P(today, "all", "", "", 1, 1, 1, 0, -100.0, 40.2, -140.2, 159.8, None, None, 159.8,
              0.0, 1_220_000.0),
            P(today, "engine", "fno-trend", "fno_intraday_trend", 1, 1, 1, 0, -100.0, 40.2,
              -140.2, 159.8, None, None, 159.8, 0.0, 1_220_000.0),
            P(today, "symbol", "NIFTY24JANFUT", "", 1, 1, 1, 0, -100.0, 40.2, -140.2, 159.8,
              None, None, 159.8, 0.0, 1_220_000.0),
        )
    )  # fmt: skip


MULTI_DAY_PERFORMANCE = _multi_day_performance()


#: A finished replay's headline figures (the summary screen).
HEADLINE = HeadlineView(
    gross=-26111.3,
    charges=4120.55,
    trades=40,
    won=14,
    max_drawdown=43336.2,
    orders=86,
    fills=86,
    days=6,
)
