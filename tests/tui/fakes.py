"""A fake ``DeskLink`` and hand-built, frozen desk snapshots for the TUI tests.

Every timestamp is fixed (15 Jan 2024, IST), so screenshots are byte-for-byte stable.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from kitetui.commands import Command, CommandResult
from kitetui.views import (
    BlockedView,
    DayView,
    DeskSnapshot,
    EngineView,
    EventView,
    FeedView,
    FillView,
    HeadlineView,
    LimitSetting,
    LimitView,
    OrderDetail,
    OrderEventView,
    OrderView,
    PositionView,
    RiskView,
    SignalView,
)


def ts(hh: int, mm: int, ss: int = 0) -> int:
    """Epoch ns of 2024-01-15 hh:mm:ss IST (UTC+05:30)."""
    utc = datetime(2024, 1, 15, hh, mm, ss, tzinfo=UTC).timestamp() - 5.5 * 3600
    return int(utc) * 1_000_000_000


def wall_clock() -> int:
    """The fixed wall time the header shows in tests: 10:31:05 IST on the same day."""
    return ts(10, 31, 5)


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

    def connection_problem(self) -> str | None:
        return self.problem

    def failure(self) -> str | None:
        """Why the desk stopped (a test sets ``stopped``); None while it is well."""
        return self.stopped

    def publish(self, snapshot: DeskSnapshot) -> None:
        self.current = snapshot


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
        counts=(("events", 1250), ("orders", 5), ("signals", 5)),
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
    )


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
