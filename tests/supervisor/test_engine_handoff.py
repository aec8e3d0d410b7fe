"""The engine hand-off: inline at full speed, a task of its own when paced; an
unexpected error is decided the same way on both paths (ERROR, journaled, run goes on)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml

from engines.base import Engine
from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import parse_config
from kitetui.domain import EngineState
from kitetui.supervisor import Supervisor


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
