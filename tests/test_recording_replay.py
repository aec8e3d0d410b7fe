"""A recorded session replays to the same decisions: the record-and-reproduce promise.

The session here is the bundled F&O day run with its batches recorded exactly as the
live loop records them; `kitetui replay` of that recording, through the paper broker,
must produce the same signals, orders and fills.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import yaml
from cli_helpers import run_kitetui

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import parse_config
from kitetui.market.loaders import data_path
from kitetui.store.recording import TickRecorder, master_beside
from kitetui.supervisor import Supervisor


def _fno_only(tmp_path: Path) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["engines"] = [e for e in data["engines"] if e["name"] in ("fno", "options")]
    data["replay"]["sources"] = [
        s
        for s in data["replay"]["sources"]
        if s.get("exchange") == "NFO" or s.get("kind") == "index"
    ]
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ledger(db: Path) -> tuple[list, list, list, list]:
    with sqlite3.connect(db) as conn:
        (run,) = conn.execute("SELECT run_id FROM runs ORDER BY started_wall_ns DESC").fetchone()
        signals = conn.execute(
            "SELECT ts_ns, engine, symbol, kind, reason FROM signals WHERE run_id=? ORDER BY 1, 2",
            (run,),
        ).fetchall()
        orders = conn.execute(
            "SELECT ts_ns, symbol, side, quantity, purpose, status, filled_qty, avg_price "
            "FROM orders WHERE run_id=? ORDER BY 1, 2, 5",
            (run,),
        ).fetchall()
        fills = conn.execute(
            "SELECT ts_ns, symbol, side, quantity, price FROM fills WHERE run_id=? ORDER BY 1, 2",
            (run,),
        ).fetchall()
        holds = conn.execute(  # the HOLDs counted, not journaled as rows
            "SELECT trading_day, engine, symbol, reason, holds, first_ts_ns, last_ts_ns "
            "FROM hold_counts WHERE run_id=? ORDER BY 1, 2, 3, 4",
            (run,),
        ).fetchall()
    return signals, orders, fills, holds


async def test_replay_of_a_recorded_session_reproduces_signals_orders_and_fills(
    tmp_path: Path,
) -> None:
    config_path = _fno_only(tmp_path)
    config = parse_config(yaml.safe_load(config_path.read_text()), config_path)
    session_db = tmp_path / "session.db"
    recording = tmp_path / "recordings" / "session.ticks.gz"
    supervisor = Supervisor(config, config_path, database=session_db, speed=None)
    await asyncio.wait_for(supervisor.open(), 60)
    recorder = TickRecorder(recording)  # what a live venue does with each batch
    process = supervisor._process

    async def recorded(ts, batch, warm):
        await process(ts, batch, warm)
        recorder.record(ts, batch)

    supervisor._process = recorded
    try:
        await asyncio.wait_for(supervisor.run(), 120)
    finally:
        await supervisor.close()
        recorder.close()
    shutil.copy(data_path("pkg:replay/nfo_20221118/instruments.csv"), master_beside(recording))

    replay_db = tmp_path / "replay.db"
    proc = run_kitetui(
        "replay",
        str(recording),
        "--config",
        str(config_path),
        "--db",
        str(replay_db),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    session, replayed = _ledger(session_db), _ledger(replay_db)
    assert session[2], "the session must trade for this to mean anything"
    assert session[3], "and hold"
    assert replayed == session
