"""A full disk against the real CLI: exit 6, one line, nothing lost, and a resume.

No root tricks: SQLite's own ``PRAGMA max_page_count`` caps the journal's connection
(set by a short bootstrap that wraps ``JournalConnection`` before ``kitetui.cli.main``
runs), so a write fails with SQLITE_FULL exactly as on a full filesystem; and an
``OSError(ENOSPC)`` is raised where the writer's sqlite3 connection commits. Then the
same database, with space back, resumes and ends with the ledger of a run that never
hit the wall.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kitetui.store.verify import verify_database

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX")

BOOTSTRAP = """
import sqlite3
import sys
from kitetui.store import database

kind, limit = sys.argv[1], int(sys.argv[2])
wrap = database.JournalConnection.__init__
real_connect = sqlite3.connect


class Full(sqlite3.Connection):
    durable_fills = 0

    def commit(self):
        if kind == "enospc":  # the first commit adding fills once ``limit`` are on disk
            (fills,) = self.execute("SELECT count(*) FROM fills").fetchone()
            if Full.durable_fills >= limit and fills > Full.durable_fills:
                raise OSError(28, "No space left on device")
            super().commit()
            Full.durable_fills = fills
            return
        super().commit()


def init(self, path, lock=None):
    wrap(self, path, lock)
    connect = self._connector

    def connector():
        sqlite3.connect = lambda *args, **kwargs: real_connect(*args, factory=Full, **kwargs)
        try:
            con = connect()
        finally:
            sqlite3.connect = real_connect
        if kind == "pages":
            con.execute(f"PRAGMA max_page_count = {limit}")
        return con

    self._connector = connector


database.JournalConnection.__init__ = init
from kitetui.cli import main

raise SystemExit(main(sys.argv[3:]))
"""


def run(db: Path, *fault: str) -> subprocess.CompletedProcess[str]:
    head = [sys.executable, "-c", BOOTSTRAP, *fault] if fault else [sys.executable, "-m", "kitetui"]
    return subprocess.run(
        [*head, "run", "--no-ui", "--speed", "max", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def ledger(db: Path) -> tuple[list, list]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (run_id,) = con.execute(
            "SELECT run_id FROM runs ORDER BY started_wall_ns DESC LIMIT 1"
        ).fetchone()
        orders = con.execute(
            "SELECT symbol, side, quantity, purpose, status, filled_qty, avg_price, ts_ns "
            "FROM orders WHERE run_id = ? ORDER BY ts_ns, symbol, purpose",
            (run_id,),
        ).fetchall()
        fills = con.execute(
            "SELECT symbol, side, quantity, price, ts_ns FROM fills WHERE run_id = ? "
            "ORDER BY ts_ns, symbol, side",
            (run_id,),
        ).fetchall()
    finally:
        con.close()
    return orders, fills


def assert_one_line_exit_six(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 6, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and says in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_cli_with_database_full_exits_six_and_resumes_to_the_same_ledger(
    tmp_path: Path,
) -> None:
    clean = tmp_path / "clean.db"
    assert run(clean).returncode == 0
    clean_orders, clean_fills = ledger(clean)
    assert len(clean_fills) >= 20, "the demo must trade for this test to mean anything"

    db = tmp_path / "full.db"
    full = run(db, "pages", "190")  # the demo's journal needs ~240 pages (schema 7)
    assert_one_line_exit_six(full, "no space left (database or disk is full)")
    assert "the run resumes where it stopped" in full.stderr
    verified = verify_database(db, trust_seal=False)  # everything committed is intact
    assert 0 < verified.rows["fills"] < len(clean_fills)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    (status,) = con.execute("SELECT status FROM runs").fetchone()
    con.close()
    assert status in ("RUNNING", "STOPPED")  # resumable, not FAILED

    resumed = run(db)  # space is back
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout
    assert ledger(db) == (clean_orders, clean_fills)


def test_cli_with_enospc_from_the_writer_exits_six_and_keeps_the_file_sound(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    # mid-run by the ledger, not by a count of commits: the journal's timed flushes come
    # more often per data minute on a loaded machine, and the 7th commit then held no fill
    full = run(db, "enospc", "5")
    assert_one_line_exit_six(full, "No space left on device")
    assert verify_database(db, trust_seal=False).rows["fills"] > 0  # it hit the wall mid-run
    resumed = run(db)
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout
