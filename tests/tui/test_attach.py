"""`kitetui attach`: the TUI on a headless daemon's control socket, keys and all."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual.widgets import Input

from kitetui.control import socket_path_for
from kitetui.control_client import RemoteLink
from kitetui.tui.app import make_app


async def _until(predicate, pilot, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.1)


def _query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql).fetchall()


async def test_attach_with_kill_keys_halts_the_daemon_and_leaves_it_flat() -> None:
    # A short folder: Unix socket paths are limited to ~107 bytes.
    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        db = Path(folder) / "state.db"
        log = (Path(folder) / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "kitetui", "run", "--no-ui", "--speed", "300", "--db", str(db)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            sock = socket_path_for(db)
            deadline = time.monotonic() + 60
            while not sock.exists():
                assert daemon.poll() is None and time.monotonic() < deadline
                await asyncio.sleep(0.1)
            link = RemoteLink(sock)
            app = make_app(link, refresh_hz=10)
            async with app.run_test(size=(120, 40)) as pilot:
                await _until(lambda: (s := link.snapshot()) is not None and s.data_ts_ns > 0, pilot)
                await pilot.press("k")
                await pilot.pause(0.2)
                app.screen.query_one(Input).value = "KILL"
                await pilot.press("enter")
                await _until(lambda: link.snapshot().risk.kill_switch, pilot)
                assert link.snapshot().risk.state == "HALTED"
                await pilot.press("q")
            await link.close()
            assert daemon.poll() is None, "quitting the TUI must leave the daemon trading"
            await asyncio.sleep(3)  # flatten orders fill on the next prices
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            log.close()
        assert daemon.returncode == 0
        assert _query(db, "SELECT value FROM desk_state WHERE key='kill_switch'")[0][0].startswith(
            '{"on":true'
        )
        open_orders = _query(
            db,
            "SELECT count(*) FROM orders WHERE status IN ('NEW','OPEN','TRIGGER PENDING') "
            "AND purpose != 'FLATTEN'",
        )
        assert open_orders == [(0,)]
        net = _query(
            db,
            "SELECT symbol, SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END) q "
            "FROM fills GROUP BY symbol HAVING q != 0",
        )
        assert net == []
