"""A resumed run's totals go on from what it journaled before the restart.

The desk shows the newest 300 signals and 200 events "of" the run's totals; after a
restart those totals must still count what the database holds for the run (the trader
starts with empty buffers), and never another run's rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from kitetui.brokers.paper import PaperBroker
from kitetui.clock import DataClock
from kitetui.config import ExitConfig, RiskConfig, SizingConfig
from kitetui.domain import Event, RiskDecision, RiskVerdict, Signal, SignalKind
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run
from kitetui.supervisor import Supervisor
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import RiskEngine, RiskLimits
from kitetui.trading.trader import Trader
from tests.demo_session import run_demo


def signal(run: str, n: int) -> Signal:
    return Signal(
        signal_id=f"{run}-s{n}",
        ts_ns=1_000 + n,
        engine="fno",
        strategy="ema_cross",
        symbol="NIFTY22NOVFUT",
        timeframe_s=60,
        kind=SignalKind.HOLD if n % 2 else SignalKind.LONG,
        price=18_300.0,
        reason="r",
        indicators={"atr": 10.0},
    )


def trader_on(journal: Journal) -> Trader:
    return Trader(
        journal=journal,
        broker=PaperBroker(slippage_bps=0, tick_size=0.05),
        portfolio=Portfolio(1_000_000),
        risk=RiskEngine(RiskLimits(**RiskConfig().model_dump())),
        clock=DataClock(),
        sizing=SizingConfig(),
        exits=ExitConfig(),
        tick_size=0.05,
        run_id=journal.run_id,
    )


async def test_resumed_journal_and_trader_count_what_the_run_journaled(tmp_path: Path) -> None:
    db = await asyncio.wait_for(open_database(tmp_path / "state.db"), 10)
    try:
        for run in ("run-a", "run-b"):
            await create_run(db, run, "replay", "c.yaml", "hash")
        first = Journal(db, "run-a")
        other = Journal(db, "run-b")
        for n in range(7):
            first.add_signal(signal("run-a", n))
        for n in range(3):
            first.add_event(Event(ts_ns=2_000 + n, kind="BarSkipped", message="m"))
        first.add_risk_decision(
            3_000, "run-a-s0", "fno", "NIFTY22NOVFUT", "ENTRY", "BUY", 50,
            RiskDecision(RiskVerdict.ALLOW, 50, "ok"),
        )  # fmt: skip
        other.add_signal(signal("run-b", 0))
        other.add_event(Event(ts_ns=2_000, kind="BarSkipped", message="m"))
        await asyncio.wait_for(first.flush(), 10)
        await asyncio.wait_for(other.flush(), 10)

        resumed = Journal(db, "run-a")
        await asyncio.wait_for(resumed.load_sequences(), 10)
        assert resumed.journaled == {"signals": 7, "events": 3, "decisions": 1}
        trader = trader_on(resumed)
        assert trader.counts == {
            "signals": 7,
            "signals_listed": 0,
            "orders": 0,
            "fills": 0,
            "events": 3,
            "decisions": 1,
        }
        trader.record_event(Event(ts_ns=4_000, kind="RunResumed", message="resumed"))
        assert trader.counts["events"] == 4

        fresh = Journal(db, "run-c")
        await asyncio.wait_for(fresh.load_sequences(), 10)
        assert fresh.journaled == {"signals": 0, "events": 0, "decisions": 0}
        assert trader_on(fresh).counts == dict.fromkeys(trader.counts, 0)
    finally:
        await db.close()


def _journaled(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


async def test_resumed_run_counts_each_engines_orders_on_and_is_running_while_it_trades(
    tmp_path: Path,
) -> None:
    """Issue 14: after a restart the Engines tab's order counts began at 0 again and
    runs.status stayed STOPPED while the resumed run traded."""
    db = tmp_path / "state.db"

    async def stop_after_orders(supervisor: Supervisor, warm: bool) -> None:
        if supervisor.trader.placed >= 20:
            supervisor.request_stop()

    first = await run_demo(db, stop_after_orders)
    (status,) = _journaled(db, "SELECT status FROM runs WHERE run_id = ?", first.run_id)[0]
    assert status == "STOPPED"
    before = dict(_journaled(db, "SELECT engine, count(*) FROM orders GROUP BY engine"))
    assert sum(before.values()) >= 20
    seen: dict[str, object] = {}

    async def watch(supervisor: Supervisor, warm: bool) -> None:
        if warm or "engines" in seen:
            return
        seen["engines"] = {e.name: e.orders_placed for e in supervisor.publisher.build(0).engines}
        seen["signals"] = {e.name: e.signals_emitted for e in supervisor.publisher.build(0).engines}
        seen["status"] = _journaled(db, "SELECT status FROM runs")[0][0]

    second = await run_demo(db, watch)
    assert second.resumed and second.run_id == first.run_id
    assert seen["status"] == "RUNNING"  # while the resumed run trades
    engines = seen["engines"]
    assert all(engines[name] >= count for name, count in before.items()), (engines, before)
    journaled_signals = dict(_journaled(db, "SELECT engine, count(*) FROM signals GROUP BY engine"))
    holds = _journaled(db, "SELECT engine, sum(holds) FROM hold_counts GROUP BY engine")
    for engine, counted in holds:  # HOLDs that changed nothing are counted, not rows
        journaled_signals[engine] = journaled_signals.get(engine, 0) + counted
    final = {e.name: e for e in second.engines}
    after = dict(_journaled(db, "SELECT engine, count(*) FROM orders GROUP BY engine"))
    for name, engine in final.items():
        assert engine.view().orders_placed == after.get(name, 0)
        assert engine.signals_emitted == journaled_signals.get(name, 0)
    assert _journaled(db, "SELECT status FROM runs")[0][0] == "FINISHED"


async def test_a_resume_does_not_journal_the_datas_warnings_again(tmp_path: Path) -> None:
    """probe C 6: every resume journaled the loader's warnings again (46 in the report,
    23 distinct, after one restart)."""
    db = tmp_path / "state.db"

    async def stop(supervisor: Supervisor, warm: bool) -> None:
        if not warm:
            supervisor.request_stop()

    sql = (
        "SELECT kind, message, count(*) FROM events WHERE kind = 'TickOutsideSession' GROUP BY 1, 2"
    )
    first = await run_demo(db, stop)
    said = _journaled(db, sql)
    assert said and all(count == 1 for *_, count in said)
    second = await run_demo(db, stop)
    assert second.resumed and second.run_id == first.run_id
    assert _journaled(db, sql) == said
