"""Crash tests: SIGKILL a headless replay mid-trading, restart it, and check the journal.

The strongest check available: a run that was killed twice and resumed must leave the
same order and fill ledger as a run that was never interrupted, and the state the
resumed process rebuilt must equal what the journal's fills say.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.attacks.sigkill_corpus import JournalChanges

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_LOGS: dict[int, Path] = {}


def _kitetui(db: Path, *args: str) -> subprocess.Popen[bytes]:
    # Output goes to files, never to an unread pipe that could fill and stall the process.
    log = db.with_suffix(f".{time.monotonic_ns()}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kitetui", "run", "--no-ui", "--db", str(db), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    _LOGS[proc.pid] = log
    return proc


def _finish(proc: subprocess.Popen[bytes]) -> str:
    proc.wait(120)
    output = _LOGS[proc.pid].read_text()
    assert proc.returncode == 0, output
    return output


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # tables not created yet


def _kill_when(proc: subprocess.Popen[bytes], db: Path, sql: str, at_least: int) -> int:
    deadline = time.monotonic() + 60
    changes = JournalChanges(db)  # count only when a commit can have landed
    seen = -1
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = _LOGS[proc.pid].read_text()
            pytest.fail(f"kitetui ended before the kill point: {output}")
        if changes.changed():
            seen = _count(db, sql)
        if seen >= at_least:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return seen
        time.sleep(0.02)
    proc.kill()
    pytest.fail("kill point not reached within 60 s")


def _ledger(db: Path) -> tuple[list, list, int, list]:
    with closing(sqlite3.connect(db)) as conn:
        (run_id,) = conn.execute(
            "SELECT run_id FROM runs ORDER BY started_wall_ns DESC LIMIT 1"
        ).fetchone()
        orders = conn.execute(
            "SELECT symbol, side, quantity, purpose, status, filled_qty, avg_price, ts_ns "
            "FROM orders WHERE run_id = ? ORDER BY ts_ns, symbol, purpose",
            (run_id,),
        ).fetchall()
        # Charges too: a fill after a restart is charged from the order's rebuilt state.
        fills = conn.execute(
            "SELECT symbol, side, quantity, price, ts_ns, charge_brokerage, charge_stt, "
            "charge_exchange, charge_ipft, charge_sebi, charge_stamp, charge_gst, "
            "charges_paise FROM fills WHERE run_id = ? ORDER BY ts_ns, symbol, side",
            (run_id,),
        ).fetchall()
        signals = conn.execute("SELECT count(*) FROM signals WHERE run_id = ?", (run_id,))
        # HOLDs are counted per day, engine, symbol and reason, with the cursor
        holds = conn.execute(
            "SELECT trading_day, engine, symbol, reason, holds, first_ts_ns, last_ts_ns "
            "FROM hold_counts WHERE run_id = ? ORDER BY trading_day, engine, symbol, reason",
            (run_id,),
        ).fetchall()
        return orders, fills, signals.fetchone()[0], holds


def _positions_from_fills(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT symbol, SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END) "
            "FROM fills GROUP BY symbol"
        ).fetchall()
    return {symbol: qty for symbol, qty in rows if qty}


@pytest.fixture(scope="module")
def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, list, int, list]:
    """The demo's ledger run through once: every kill pattern's reference."""
    clean_db = tmp_path_factory.mktemp("clean") / "clean.db"
    _finish(_kitetui(clean_db, "--speed", "max"))
    clean = _ledger(clean_db)
    assert sum(row[4] for row in clean[3]) > 100, "the demo's HOLDs are counted"
    assert len(clean[1]) >= 20, "the demo must trade for this test to mean anything"
    assert all(fill[-1] for fill in clean[1]), "every demo fill is charged"
    return clean


@pytest.mark.parametrize(
    ("table", "first_kill", "second_kill"),
    [("orders", 8, 25), ("fills", 3, 12)],
    ids=["by-orders", "by-fills"],
)
def test_crash_with_sigkill_resumes_to_the_same_ledger(
    tmp_path: Path,
    table: str,
    first_kill: int,
    second_kill: int,
    clean_demo: tuple[list, list, int, list],
) -> None:
    clean_orders, clean_fills, clean_signals, clean_holds = clean_demo

    crash_db = tmp_path / "crash.db"
    first = _kitetui(crash_db, "--speed", "4000")
    killed_at = _kill_when(first, crash_db, f"SELECT count(*) FROM {table}", first_kill)
    journal_positions = _positions_from_fills(crash_db)
    journal_charges = _count(crash_db, "SELECT COALESCE(SUM(charges_paise), 0) FROM fills")

    second = _kitetui(crash_db, "--speed", "4000")
    _kill_when(second, crash_db, f"SELECT count(*) FROM {table}", killed_at + second_kill)
    # the second process rebuilt exactly what the journal said after the first kill
    with closing(sqlite3.connect(crash_db)) as conn:
        (data,) = conn.execute(
            "SELECT data FROM events WHERE kind = 'StateRebuilt' ORDER BY id LIMIT 1"
        ).fetchone()
    assert json.loads(data)["positions"] == journal_positions
    assert json.loads(data)["charges_paise"] == journal_charges

    assert "(resumed)" in _finish(_kitetui(crash_db, "--speed", "max"))

    orders, fills, signals, holds = _ledger(crash_db)
    assert orders == clean_orders
    assert fills == clean_fills
    assert signals == clean_signals
    assert holds == clean_holds  # no batch's HOLDs counted twice, none lost
    with closing(sqlite3.connect(crash_db)) as conn:
        status, restarts = conn.execute("SELECT status, restarts FROM runs").fetchone()
        tags = conn.execute("SELECT count(*), count(DISTINCT tag) FROM orders").fetchone()
    assert (status, restarts) == ("FINISHED", 2)
    assert tags[0] == tags[1]


def test_restart_after_finish_starts_a_new_run(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    for _ in range(2):
        _finish(_kitetui(db, "--speed", "max"))
    with closing(sqlite3.connect(db)) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM runs")]
    assert statuses == ["FINISHED", "FINISHED"]
