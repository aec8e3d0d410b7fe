"""Another local user must not read the trade history: everything kitetui writes is 0600.

The real CLI runs under a permissive umask (022, as a login shell has); kitetui sets
077 itself as its first act, and creates the database owner-only anyway. Checked while
it trades (the database, its WAL and SHM, the control socket) and after it stops (the
seal); and a database left 0644 by an older kitetui is tightened, with one line.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def kitetui(db: Path, speed: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kitetui", "run", "--no-ui", "--speed", speed, "--db", str(db)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.umask(0o022),
        )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def orders(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM orders").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_cli_with_open_umask_keeps_every_file_owner_only() -> None:
    # A short folder: the control socket's path must fit in ~107 bytes.
    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        db = Path(folder) / "state.db"
        proc = kitetui(db, "4000", Path(folder) / "run.log")
        try:
            deadline = time.monotonic() + 90
            while orders(db) < 3:
                assert proc.poll() is None, (Path(folder) / "run.log").read_text()
                assert time.monotonic() < deadline, "no orders within 90 s"
                time.sleep(0.05)
            files = ["state.db", "state.db-wal", "state.db-shm", "state.db.sock"]
            assert {name: mode(Path(folder) / name) for name in files} == dict.fromkeys(
                files, 0o600
            )
        finally:
            proc.send_signal(signal.SIGTERM)  # a graceful stop: the file gets sealed
            proc.wait(60)
        assert proc.returncode == 0, (Path(folder) / "run.log").read_text()
        assert mode(db) == 0o600
        assert mode(Path(folder) / "state.db-seal") == 0o600


def test_cli_with_database_left_open_by_others_tightens_it_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    out = tmp_path / "report"
    first = subprocess.run(
        [sys.executable, "-m", "kitetui", "backtest", "--db", str(db), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert first.returncode == 0, first.stderr
    db.chmod(0o644)
    again = subprocess.run(  # its own report folder: the one line is about the database
        [sys.executable, "-m", "kitetui", "backtest", "--db", str(db), "--out", f"{out}-2"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"kitetui: {db} was readable by other users (state.db 0644); now 0600"
    ]
    assert mode(db) == 0o600
