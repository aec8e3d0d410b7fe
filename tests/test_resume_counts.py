"""A resumed run's totals go on from what it journaled before the restart.

The desk shows the newest 300 signals and 200 events "of" the run's totals; after a
restart those totals must still count what the database holds for the run (the trader
starts with empty buffers), and never another run's rows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kitetui.brokers.paper import PaperBroker
from kitetui.clock import DataClock
from kitetui.config import ExitConfig, RiskConfig, SizingConfig
from kitetui.domain import Event, RiskDecision, RiskVerdict, Signal, SignalKind
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import RiskEngine, RiskLimits
from kitetui.trading.trader import Trader


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
        assert trader.counts == {"signals": 7, "orders": 0, "fills": 0, "events": 3, "decisions": 1}
        trader.record_event(Event(ts_ns=4_000, kind="RunResumed", message="resumed"))
        assert trader.counts["events"] == 4

        fresh = Journal(db, "run-c")
        await asyncio.wait_for(fresh.load_sequences(), 10)
        assert fresh.journaled == {"signals": 0, "events": 0, "decisions": 0}
        assert trader_on(fresh).counts == dict.fromkeys(trader.counts, 0)
    finally:
        await db.close()
