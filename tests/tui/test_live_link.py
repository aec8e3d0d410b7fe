"""The TUI on a real supervisor thread through LocalLink: the picture and the keys work."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.widgets import Label

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import load_config
from kitetui.link import LocalLink
from kitetui.runner import SupervisorThread
from kitetui.supervisor import Supervisor
from kitetui.tui.app import make_app
from kitetui.tui.widgets import HeaderBar


async def _until(predicate, pilot, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def test_app_with_real_supervisor_shows_replay_and_pauses_entries(tmp_path: Path) -> None:
    config = load_config(DEFAULT_CONFIG)
    runner = SupervisorThread(
        Supervisor(config, "dev.yaml", database=tmp_path / "s.db", speed=2000.0)
    )
    runner.start()
    assert await asyncio.to_thread(runner.ready.wait, 30)
    assert runner.error is None
    app = make_app(LocalLink(runner), refresh_hz=10)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            link = LocalLink(runner)
            await _until(lambda: (s := link.snapshot()) is not None and s.data_ts_ns > 0, pilot)
            header = app.query_one(HeaderBar)
            clock = header.query_one("#clock", Label)
            await _until(lambda: "IST" in str(clock.render()), pilot)
            assert "REPLAY" in str(header.query_one("#mode", Label).render())
            await pilot.press("p")
            await _until(lambda: runner.supervisor.risk.entries_paused, pilot)
            await _until(lambda: link.snapshot().risk.entries_paused, pilot)
            await pilot.press("q")
    finally:
        await asyncio.to_thread(runner.stop)
    assert not runner._thread.is_alive()
    assert runner.error is None
