"""The engine hand-off: inline at full speed, a task of its own when paced; an
unexpected error is decided the same way on both paths (ERROR, journaled, run goes on)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from engines.base import Engine
from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import EquityEngineConfig, parse_config
from kitetui.domain import Bar, EngineState, Event
from kitetui.events import EventKind
from kitetui.supervisor import Supervisor
from kitetui.supervisor.session_keeper import SessionKeeper


@pytest.mark.parametrize("speed", [None, 100_000.0], ids=["inline", "task"])
async def test_an_engine_error_with_either_hand_off_stops_that_engine_and_the_run_goes_on(
    tmp_path: Path, monkeypatch, speed: float | None
) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["replay"]["max_gap_seconds"] = 0.01
    config = parse_config(data, "handoff.yaml")
    db = tmp_path / "state.db"
    supervisor = Supervisor(config, "handoff.yaml", database=db, speed=speed)
    await asyncio.wait_for(supervisor.open(), 60)
    victim = supervisor.engines[-1]
    on_bar = Engine.on_bar
    seen = {"bars": 0}

    async def failing(self: Engine, bar) -> None:
        if self is victim:
            seen["bars"] += 1
            if seen["bars"] == 100:
                raise RuntimeError("boom")
        await on_bar(self, bar)

    monkeypatch.setattr(Engine, "on_bar", failing)
    try:
        await asyncio.wait_for(supervisor.run(), 300)
    finally:
        await asyncio.wait_for(supervisor.close(), 60)
    assert victim.inline is (speed is None)
    assert supervisor.feed_state == "FINISHED"
    assert victim.state is EngineState.ERROR and "boom" in victim.last_error
    assert all(e.state is EngineState.RUNNING for e in supervisor.engines if e is not victim)
    assert seen["bars"] > 100  # its bars still come (indicators kept warm)...
    with sqlite3.connect(db) as conn:
        failed = conn.execute(
            "SELECT engine, ts_ns FROM events WHERE kind = 'EngineFailed'"
        ).fetchall()
        # its last decision: a signal row, or the last of its HOLDs counted (holds.py)
        last_signal = conn.execute(
            "SELECT max(ts) FROM (SELECT max(ts_ns) AS ts FROM signals WHERE engine = ?1 "
            "UNION ALL SELECT max(last_ts_ns) FROM hold_counts WHERE engine = ?1)",
            (victim.name,),
        ).fetchone()[0]
    assert [engine for engine, _ in failed] == [victim.name]
    assert last_signal is not None and last_signal <= failed[0][1]  # ...and it is silent


class _Trader:
    """What an engine asks of its trader on a bar: a position, and where to journal."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def position_qty(self, symbol: str) -> int:
        return 0

    def record_event(self, event: Event) -> None:
        self.events.append(event)


async def test_a_strategy_error_on_a_flushed_partial_bar_is_the_engines_failure_not_a_traceback(
    monkeypatch,
) -> None:
    """probeB F5: the session's end decides on the partial bars it closes outside the
    bar path's catch; an htf_trend fed 60-minute bars raised out of ``SessionKeeper.end``
    and the backtest died with a traceback (exit 1)."""
    config = EquityEngineConfig.model_validate(
        {"kind": "equity", "name": "htf", "strategy": "htf_trend", "symbols": ["SBIN"]}
    )
    journal = _Trader()
    engine = Engine(config, journal, "run", None, None)  # type: ignore[arg-type]
    engine.subscriptions = frozenset({"SBIN"})
    bar = Bar("SBIN", 1_680_493_500_000_000_000, 3600, 100.0, 101.0, 99.0, 100.5, 10)
    monkeypatch.setattr(engine, "flush_bars", lambda: [bar])
    desk = SimpleNamespace(engines=[engine], warmup=SimpleNamespace(active=True))
    keeper = SessionKeeper.__new__(SessionKeeper)
    keeper.desk = desk  # type: ignore[assignment]
    await keeper.end()
    assert engine.state is EngineState.ERROR
    assert "timeframe divides it" in engine.last_error
    assert [event.kind for event in journal.events] == [EventKind.ENGINE_FAILED]
