"""The supervisor end to end, in-process, on the bundled replay (or small files of our own).

Each test runs the real pipeline — loaders, bars, indicators, strategies, sizing, risk,
paper broker, journal — and then reads the SQLite journal back to check what happened.
"""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_kitetui

from kitetui.backtest.build import build_report
from kitetui.backtest.ledger import load_ledger
from kitetui.cli import DEFAULT_CONFIG
from kitetui.clock import ist_date, ist_minute_of_day
from kitetui.commands import (
    PauseEntries,
    ResetKillSwitch,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.config import AppConfig, parse_config
from kitetui.domain import OrderPurpose, TradingState
from kitetui.supervisor import Supervisor
from tests.demo_session import run_hooked

Hook = Callable[[Supervisor, int], Awaitable[None]]


def _config(**overrides: object) -> AppConfig:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return parse_config(data, "test.yaml")


async def _run(config: AppConfig, db: Path, hook: Hook | None = None) -> Supervisor:
    async def each(supervisor: Supervisor, ts: int, warm: bool) -> None:
        if hook is not None:
            await hook(supervisor, ts)

    return await run_hooked(config, db, each)


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


async def test_default_replay_trades_and_journals_every_decision(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    supervisor = await _run(_config(), db)
    summary = supervisor.summary
    assert summary is not None and supervisor.feed_state == "FINISHED"
    assert summary.fills >= 20 and summary.signals > 1000
    # write-ahead: every fill has its order, every entry its signal and risk decision
    orphans = _rows(db, "SELECT count(*) FROM fills WHERE tag NOT IN (SELECT tag FROM orders)")
    assert orphans == [(0,)]
    entries = _rows(
        db,
        "SELECT o.tag, d.verdict FROM orders o JOIN risk_decisions d "
        "ON d.signal_id = o.signal_id AND d.purpose = o.purpose WHERE o.purpose = 'ENTRY'",
    )
    assert entries and {verdict for _, verdict in entries} <= {"ALLOW", "REDUCE"}
    assert len(entries) == _rows(db, "SELECT count(*) FROM orders WHERE purpose='ENTRY'")[0][0]
    unsignalled = _rows(
        db,
        "SELECT count(*) FROM orders WHERE purpose IN ('ENTRY','EXIT') "
        "AND signal_id NOT IN (SELECT signal_id FROM signals)",
    )
    assert unsignalled == [(0,)]
    # every protective stop sits on the right side of its entry's fill
    stops = _rows(
        db,
        "SELECT e.side, e.avg_price, s.trigger_price FROM orders s "
        "JOIN orders e ON s.signal_id = e.signal_id AND e.purpose = 'ENTRY' "
        "WHERE s.order_type IN ('SL', 'SL-M') AND e.filled_qty > 0",
    )
    assert stops
    for side, entry_price, trigger in stops:
        assert trigger < entry_price if side == "BUY" else trigger > entry_price
    # the equity curve and run cursor were journaled
    assert _rows(db, "SELECT count(*) FROM equity_curve")[0][0] > 100
    assert _rows(db, "SELECT status, cursor_ns FROM runs")[0][0] == "FINISHED"


async def test_default_replay_with_mis_positions_is_flat_at_every_session_end(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    await _run(_config(), db)
    net: dict[tuple[str, str], int] = {}
    for symbol, side, qty, ts in _rows(db, "SELECT symbol, side, quantity, ts_ns FROM fills"):
        key = (ist_date(ts).isoformat(), symbol)
        net[key] = net.get(key, 0) + (qty if side == "BUY" else -qty)
    assert net and all(qty == 0 for qty in net.values()), net
    assert _rows(db, "SELECT count(*) FROM events WHERE kind = 'IntradayCarried'") == [(0,)]
    late = _rows(
        db,
        "SELECT count(*) FROM orders WHERE purpose = 'ENTRY' AND "
        "((ts_ns / 1000000000 + 19800) % 86400) >= 15 * 3600",
    )
    assert late == [(0,)], "no entry after the 15:00 cut-off"


async def test_kill_switch_with_open_position_cancels_flattens_and_survives_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    fired: list[int] = []

    async def kill_when_positioned(supervisor: Supervisor, ts: int) -> None:
        if not fired and supervisor.portfolio.open_positions():
            fired.append(ts)
            result = await supervisor.execute(TriggerKillSwitch("test"))
            assert result.ok, result.message
            working = supervisor.trader.open_orders()
            assert all(o.purpose is OrderPurpose.FLATTEN for o in working)
            assert working, "a flatten order per open position"

    supervisor = await _run(_config(), db, kill_when_positioned)
    assert fired
    assert supervisor.risk.state is TradingState.HALTED
    assert not supervisor.portfolio.open_positions()
    after = _rows(db, "SELECT count(*) FROM orders WHERE purpose = 'ENTRY' AND ts_ns > ?", fired[0])
    assert after == [(0,)]
    blocked = _rows(
        db,
        "SELECT count(*) FROM risk_decisions WHERE ts_ns > ? AND verdict = 'BLOCK' "
        "AND purpose = 'ENTRY'",
        fired[0],
    )
    assert blocked[0][0] > 0
    # the pull is journaled before the flatten goes out (a crash mid-flatten left no trace)
    pulled, executed = (
        _rows(db, f"SELECT min(id) FROM events WHERE kind = '{kind}'")[0][0]
        for kind in ("KillSwitchPulled", "CommandExecuted")
    )
    assert pulled is not None and pulled < executed
    # a new run on the same database starts HALTED until a person resets the switch
    second = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(second.open(), 30)
    try:
        second._fills_applied = 0
        await asyncio.wait_for(second.recovery.finish(), 30)
        assert second.risk.state is TradingState.HALTED
        result = await second.execute(ResetKillSwitch())
        assert result.ok and second.risk.state is TradingState.ACTIVE
    finally:
        await second.close()
    assert _rows(db, "SELECT value FROM desk_state WHERE key = 'kill_switch'") == [
        ('{"on":false,"reason":""}',)
    ]


async def test_paused_entries_with_signals_place_no_entry(tmp_path: Path) -> None:
    db = tmp_path / "state.db"

    async def pause_first(supervisor: Supervisor, ts: int) -> None:
        if not supervisor.risk.entries_paused and supervisor.summary.batches == 1:
            assert (await supervisor.execute(PauseEntries())).ok

    await _run(_config(), db, pause_first)
    assert _rows(db, "SELECT count(*) FROM orders WHERE purpose = 'ENTRY'") == [(0,)]
    rules = _rows(
        db, "SELECT DISTINCT rule FROM risk_decisions WHERE purpose = 'ENTRY' AND verdict='BLOCK'"
    )
    assert ("entries_paused",) in rules, rules


async def test_stopped_engine_with_data_stays_silent_then_starts(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    restarted_at: list[int] = []

    async def stop_then_start(supervisor: Supervisor, ts: int) -> None:
        if supervisor.summary.batches == 1:
            assert (await supervisor.execute(StopEngine("equity"))).ok
            assert not (await supervisor.execute(StopEngine("equity"))).ok
        if not restarted_at and ist_date(ts).isoformat() == "2023-04-06":
            restarted_at.append(ts)
            assert (await supervisor.execute(StartEngine("equity"))).ok

    await _run(_config(), db, stop_then_start)
    before = _rows(
        db, "SELECT count(*) FROM signals WHERE engine = 'equity' AND ts_ns < ?", restarted_at[0]
    )
    after = _rows(
        db, "SELECT count(*) FROM signals WHERE engine = 'equity' AND ts_ns >= ?", restarted_at[0]
    )
    assert before == [(0,)] and after[0][0] > 0
    held_before = _rows(  # nor any HOLD counted before the restart
        db,
        "SELECT count(*) FROM hold_counts WHERE engine = 'equity' AND first_ts_ns < ?",
        restarted_at[0],
    )
    assert held_before == [(0,)]
    # warm indicators: the first equity signal after the restart is not a warm-up skip
    assert _rows(db, "SELECT count(*) FROM signals WHERE engine='fno'")[0][0] > 0


async def test_daily_loss_limit_with_losses_halts_and_flattens_until_next_day(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    supervisor = await _run(_config(risk__max_daily_loss=1500.0), db)
    halts = _rows(db, "SELECT ts_ns, message FROM events WHERE kind = 'TradingHalted'")
    assert halts, "a 1,500 rupee limit must trip on this data"
    first_halt = halts[0][0]
    halt_day = ist_date(first_halt)
    same_day_entries = [
        ts
        for (ts,) in _rows(
            db, "SELECT ts_ns FROM orders WHERE purpose = 'ENTRY' AND ts_ns > ?", first_halt
        )
        if ist_date(ts) == halt_day
    ]
    assert same_day_entries == []
    held: dict[str, int] = {}
    for symbol, side, qty in _rows(
        db, "SELECT symbol, side, quantity FROM fills WHERE clock_ns <= ?", first_halt
    ):
        held[symbol] = held.get(symbol, 0) + (qty if side == "BUY" else -qty)
    held = {s: q for s, q in held.items() if q}
    flattened = {
        symbol
        for (symbol,) in _rows(
            db, "SELECT symbol FROM orders WHERE purpose = 'FLATTEN' AND ts_ns = ?", first_halt
        )
    }
    assert flattened == set(held), (held, flattened)
    # the halt is for the day: a later session trades again
    later = [
        ts
        for (ts,) in _rows(db, "SELECT ts_ns FROM orders WHERE purpose = 'ENTRY'")
        if ist_date(ts) > halt_day
    ]
    assert later, "the daily-loss halt must clear on the next trading day"
    assert supervisor.risk.kill_switch is False


def _kite_csv(path: Path, rows: list[tuple[str, float, float, float, float, int]]) -> None:
    lines = ["date,open,high,low,close,volume"]
    lines += [f"{ts}+05:30,{o},{h},{lo},{c},{v}" for ts, o, h, lo, c, v in rows]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


LONG_5_10 = {"fast": 5, "slow": 10, "allow_short": False}


def _one_symbol_config(tmp_path: Path, rows: list, **params: object) -> AppConfig:
    """The demo config trading one stock, TEST, on ``rows`` (a gzipped Kite CSV), with an
    equity engine on ema_cross ``params``."""
    source = tmp_path / "TEST.csv.gz"
    _kite_csv(source, rows)
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["replay"]["sources"] = [{"symbol": "TEST", "path": str(source)}]
    master = tmp_path / "instruments.csv"
    master.write_text(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
        "tick_size,lot_size,instrument_type,segment,exchange\n"
        "2561,10,TEST,TEST LTD,0,,0,0.05,1,EQ,NSE,NSE\n"
    )
    data["instruments"] = [str(master)]
    data["engines"] = [
        {
            "name": "equity",
            "kind": "equity",
            "symbols": ["TEST"],
            "timeframe": "1m",
            "strategy": "ema_cross",
            "params": params,
        }
    ]
    return parse_config(data, "t.yaml")


async def test_bad_bars_with_spike_and_unknown_data_are_skipped_with_events(
    tmp_path: Path,
) -> None:
    rows = []
    price = 100.0
    for minute in range(120):
        hh, mm = divmod(9 * 60 + 15 + minute, 60)
        o = c = price + (minute % 7) * 0.1
        if minute == 60:
            o = c = price * 3  # a fat-finger print: skipped, then the level goes on
        rows.append(
            (f"2023-04-03 {hh:02d}:{mm:02d}:00", o, max(o, c) + 0.2, min(o, c) - 0.2, c, 1000)
        )
    rows.insert(30, ("2023-04-03 09:45:00", float("nan"), 1, 1, 1, 1))  # duplicate + NaN
    db = tmp_path / "state.db"
    supervisor = await _run(_one_symbol_config(tmp_path, rows, fast=5, slow=10), db)
    kinds = dict(_rows(db, "SELECT kind, count(*) FROM events GROUP BY kind"))
    assert kinds.get("BarSkipped", 0) >= 1
    spike = _rows(
        db, "SELECT message FROM events WHERE kind='BarSkipped' AND message LIKE '%jump%'"
    )
    assert spike, kinds
    assert kinds.get("RowSkipped", 0) + kinds.get("DuplicateBarsDropped", 0) >= 1
    assert supervisor.feed_state == "FINISHED"
    # signals: the rows and the HOLDs counted without one
    rows = _rows(db, "SELECT count(*) FROM signals WHERE symbol = 'TEST'")[0][0]
    holds = _rows(db, "SELECT COALESCE(sum(holds), 0) FROM hold_counts WHERE symbol = 'TEST'")
    assert rows + holds[0][0] > 50


async def test_corrupt_database_with_cli_exits_3_and_is_untouched(tmp_path: Path) -> None:
    import hashlib

    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a database, it is a trader's notes\n" * 100)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    proc = run_kitetui("run", "--no-ui", "--db", str(db))
    assert proc.returncode == 3
    assert "untouched" in proc.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


@pytest.mark.parametrize("speed", ["max"])
def test_headless_cli_with_default_config_prints_summary(tmp_path: Path, speed: str) -> None:
    proc = run_kitetui(
        "run", "--no-ui", "--speed", speed, "--db", str(tmp_path / "state.db"), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for heading in ("replayed", "signals", "P&L", "max drawdown", "open", "events", "fills"):
        assert heading in out
    assert len(out.splitlines()) <= 24


async def test_unknown_symbol_and_time_gap_with_data_are_recorded_not_fatal(
    tmp_path: Path,
) -> None:
    from kitetui.domain import NS_PER_MINUTE, Tick

    db = tmp_path / "state.db"
    supervisor = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 30)
    try:
        await supervisor.recovery.finish()
        start = 1668743100 * 10**9  # 2022-11-18 09:15 IST
        symbol = "NIFTY22NOVFUT"
        await supervisor._process(start, [Tick(symbol, start, 18300.0, 50)], False)
        await supervisor._process(start, [Tick("NOSUCH", start, 10.0, 1)], False)
        later = start + 10 * NS_PER_MINUTE
        await supervisor._process(later, [Tick(symbol, later, 18301.0, 50)], False)
        await supervisor._process(later + 1, [Tick("NOSUCH", later + 1, 10.0, 1)], False)
        await supervisor._process(later + 2, [Tick("NOSUCH", later + 2, 30.0, 1)], False)
        await supervisor.journal.flush()
    finally:
        await supervisor.close()
    kinds = dict(_rows(db, "SELECT kind, count(*) FROM events GROUP BY kind"))
    assert kinds["UnknownSymbol"] == 1  # once per symbol, not per tick
    # skipped before the price gate: no held-jump or skipped-tick notes about it follow
    about = _rows(db, "SELECT DISTINCT kind FROM events WHERE symbol = 'NOSUCH'")
    assert about == [("UnknownSymbol",)]
    gap = _rows(db, "SELECT symbol, message FROM events WHERE kind = 'DataGap'")
    assert gap == [("NIFTY22NOVFUT", "no data for 10.0 min before this tick")]
    assert supervisor.portfolio.position("NOSUCH") is None


async def test_stop_with_on_stop_square_off_places_square_off_orders(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    stopped_at: list[int] = []

    async def stop_when_positioned(supervisor: Supervisor, ts: int) -> None:
        if not stopped_at and supervisor.portfolio.open_positions():
            stopped_at.append(ts)
            supervisor.request_stop()

    supervisor = await _run(_config(on_stop="square_off"), db, stop_when_positioned)
    assert stopped_at and supervisor.feed_state == "STOPPED"
    squares = _rows(
        db,
        "SELECT count(*) FROM orders WHERE purpose = 'SQUARE_OFF' AND ts_ns = ?",
        stopped_at[0],
    )
    assert squares[0][0] >= 1
    assert _rows(db, "SELECT count(*) FROM events WHERE kind = 'SquaredOffOnStop'") == [(1,)]
    assert _rows(db, "SELECT status FROM runs") == [("STOPPED",)]


async def test_stop_with_on_stop_leave_keeps_positions_for_the_next_start(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"

    async def stop_when_positioned(supervisor: Supervisor, ts: int) -> None:
        if supervisor.portfolio.open_positions():
            supervisor.request_stop()

    await _run(_config(), db, stop_when_positioned)
    assert _rows(db, "SELECT count(*) FROM orders WHERE purpose = 'SQUARE_OFF'") == [(0,)]


async def test_reconcile_with_drift_reports_it_only_when_seen_twice(tmp_path: Path) -> None:
    from kitetui.domain import Position, Product
    from kitetui.venues.reconciler import Reconciler

    supervisor = Supervisor(_config(), "test.yaml", database=tmp_path / "s.db", speed=None)
    await asyncio.wait_for(supervisor.open(), 30)
    broker_positions: list[Position] = []

    async def positions() -> list[Position]:
        return broker_positions

    supervisor.broker.positions = positions  # type: ignore[method-assign]
    reconciler = Reconciler(
        supervisor.broker, supervisor.trader, supervisor.feed, supervisor.clock, lambda: None
    )  # type: ignore[arg-type]
    try:
        assert await reconciler.reconcile() == []
        broker_positions.append(Position("SBIN", "", Product.MIS, 10, 500.0, 500.0, 0, 0))
        first = await reconciler.reconcile()  # in flight, perhaps: not reported yet
        assert first and not any(e.kind == "ReconcileDrift" for e in supervisor.trader.events)
        await reconciler.reconcile()  # the same difference again: now it is drift
        assert [e.kind for e in supervisor.trader.events].count("ReconcileDrift") == 1
        await reconciler.reconcile()  # still there: reported once, not every pass
        assert [e.kind for e in supervisor.trader.events].count("ReconcileDrift") == 1
        broker_positions.clear()
        await reconciler.reconcile()
        assert supervisor.trader.events[-1].kind == "ReconcileClean"
    finally:
        await supervisor.close()


async def test_a_reconcile_pass_refused_for_the_token_blocks_entries_and_says_login(
    tmp_path: Path,
) -> None:
    """ReconcileFailed said "trading must halt; run kitetui login" on every pass while
    the desk stayed ACTIVE, with no login_required block and no LoginRequired event."""
    from kitetui.kite.session import TokenExpired
    from kitetui.venues.reconciler import Reconciler

    supervisor = Supervisor(_config(), "test.yaml", database=tmp_path / "s.db", speed=None)
    await asyncio.wait_for(supervisor.open(), 30)
    reconciler = Reconciler(
        supervisor.broker, supervisor.trader, supervisor.feed, supervisor.clock, lambda: None
    )  # type: ignore[arg-type]
    try:
        for _ in range(2):
            reconciler._failed(TokenExpired("Kite refused the access token"))
        kinds = [e.kind for e in supervisor.trader.events]
        assert kinds.count("LoginRequired") == 1 and kinds.count("ReconcileFailed") == 2
        assert "login_required" in supervisor.risk.blocks
    finally:
        await supervisor.close()


async def test_a_token_refused_mid_session_stops_the_run_resumable_not_failed(
    tmp_path: Path,
) -> None:
    """A cancel or a modify that met Kite's TokenException failed the run; the start
    after `kitetui login` then began a new one with no positions, and the live position
    and its stop went unmanaged. Stopped, the run resumes with them."""
    from kitetui.kite.session import TokenExpired

    db = tmp_path / "state.db"
    refused = TokenExpired("Kite refused the access token")

    async def token_dies(supervisor: Supervisor, ts: int, warm: bool) -> None:
        if not warm and supervisor.portfolio.open_positions():
            raise RuntimeError("cancel failed") from refused

    with pytest.raises(RuntimeError):
        await run_hooked(_config(), db, token_dies)
    assert _rows(db, "SELECT status FROM runs") == [("STOPPED",)]
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'LoginRequired'")[0]
    assert "run `kitetui login`" in message and "resumes" in message
    again = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(again.open(), 30)
    try:
        assert again.resumed
        await asyncio.wait_for(again.recovery.finish(), 30)
        assert again.portfolio.open_positions()  # rebuilt from the journal, not abandoned
    finally:
        await again.close()


async def test_a_position_left_open_at_the_bell_is_squared_off_by_the_broker_and_charged_for_it(
    tmp_path: Path,
) -> None:
    """The data ends at 11:14 with an MIS long open: the paper broker plays Zerodha's
    auto square-off at the last price, and charges its ₹50 + GST as Zerodha does."""
    rows = []
    price = 100.0
    for minute in range(120):
        hh, mm = divmod(9 * 60 + 15 + minute, 60)
        price += -0.05 if minute < 40 else 0.2  # down, then a steady rise: a long to hold
        o, c = price - 0.05, price
        rows.append((f"2023-04-03 {hh:02d}:{mm:02d}:00", o, c + 0.1, o - 0.1, c, 1000))
    db = tmp_path / "state.db"
    await _run(_one_symbol_config(tmp_path, rows, fast=5, slow=10, allow_short=False), db)
    assert _rows(db, "SELECT count(*) FROM events WHERE kind = 'AutoSquaredOff'") == [(1,)]
    squared = _rows(
        db,
        "SELECT o.reason, SUM(CAST(f.charge_brokerage AS REAL)), SUM(CAST(f.charge_gst AS REAL)) "
        "FROM orders o JOIN fills f ON f.tag = o.tag WHERE o.purpose = 'SQUARE_OFF' "
        "GROUP BY o.tag",
    )
    assert len(squared) == 1
    reason, brokerage, gst = squared[0]
    assert reason.startswith("auto square-off by the broker")
    assert 50 < brokerage <= 70 and gst > 9  # ₹50 over the ≤ ₹20 brokerage, GST on it
    net = _rows(db, "SELECT SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END) FROM fills")
    assert net == [(0,)]
    # the equity curve ends on the square-off, slippage and charges in (the probe's F1:
    # its last point had the position still open, ₹416.63 above the run's net)
    ledger = load_ledger(db, "latest")
    report = build_report(ledger)
    last_paise = ledger.equity[-1][1]
    assert abs(last_paise - round((ledger.capital + report.total.net_pnl) * 100)) <= 1


async def test_an_entry_bar_that_goes_through_the_stop_stops_out_on_that_bar(
    tmp_path: Path,
) -> None:
    """A candle replay: the entry fills at a bar's open, and the same bar then falls
    through the protective stop placed on that fill. The stop fills on that bar, at its
    trigger: a minute later (the next bar's open) flattered the backtest."""
    rows = []
    price = 100.0
    for minute in range(120):
        hh, mm = divmod(9 * 60 + 15 + minute, 60)
        price += -0.05 if minute < 40 else 0.2
        o, c = round(price - 0.05, 2), round(price, 2)
        rows.append([f"2023-04-03 {hh:02d}:{mm:02d}:00", o, c + 0.1, o - 0.1, c, 1000])
    first = tmp_path / "first"
    first.mkdir()
    db = first / "state.db"
    await _run(_one_symbol_config(first, [tuple(r) for r in rows], **LONG_5_10), db)
    ((entry_ts, entry_price, stop_trigger),) = _rows(
        db,
        "SELECT f.ts_ns, f.price, e.stop_price FROM fills f JOIN orders e ON e.tag = f.tag "
        "WHERE e.purpose = 'ENTRY' ORDER BY f.ts_ns LIMIT 1",
    )
    # the same data, but the entry's bar dips through that stop before closing up again
    minute = ist_minute_of_day(entry_ts)
    index = minute - (9 * 60 + 15)  # a row a minute from 09:15
    assert rows[index][0].endswith(f"{minute // 60:02d}:{minute % 60:02d}:00")
    rows[index][3] = round(stop_trigger - 1.0, 2)
    again = tmp_path / "again"
    again.mkdir()
    db = again / "state.db"
    await _run(_one_symbol_config(again, [tuple(r) for r in rows], **LONG_5_10), db)
    fills = _rows(
        db,
        "SELECT o.purpose, f.ts_ns, f.price, o.ts_ns FROM fills f JOIN orders o ON o.tag = f.tag "
        "ORDER BY f.seq LIMIT 2",
    )
    assert fills[0][:2] == ("ENTRY", entry_ts)
    purpose, ts, price, placed = fills[1]
    # on the entry's own bar, stamped when the desk placed the stop (never before it)
    assert purpose == "STOP" and entry_ts < placed == ts <= entry_ts + 60 * 10**9
    assert price <= stop_trigger < entry_price
    assert _rows(db, "SELECT count(*) FROM events WHERE kind = 'StopFilled'")[0][0] >= 1


async def test_a_stopped_runs_summary_shows_the_marks_its_journal_holds(tmp_path: Path) -> None:
    """probe C 7: the positions checkpoint was taken at a data minute's first transaction,
    so a run stopped later in the minute printed one mark and journaled an older one
    (`kitetui report` disagreed with the stop summary)."""
    db = tmp_path / "state.db"
    seen: list[int] = []

    async def stop_late_in_a_minute(supervisor: Supervisor, ts: int) -> None:
        await supervisor.journal.flush()  # a paced desk's journal commits on its timer
        if supervisor.portfolio.open_positions():
            seen.append(ts)
            if len(seen) > 40 and ts % 60_000_000_000 >= 40_000_000_000:
                supervisor.request_stop()

    supervisor = await _run(_config(), db, stop_late_in_a_minute)
    assert supervisor.feed_state == "STOPPED"
    printed = sorted((s, q, last) for s, q, _avg, last in supervisor.summary.open_positions)
    assert printed
    journaled = _rows(
        db,
        "SELECT symbol, quantity, last_price FROM positions WHERE quantity != 0 ORDER BY symbol",
    )
    assert printed == journaled
