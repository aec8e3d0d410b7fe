"""A desk killed outright leaves its last transactions in the ``-wal``; one deleted,
emptied or truncated after that leaves an older journal that still verifies. The lock
file's marker (kitetui/store/lock.py) says how many money rows the desk had committed,
and the next desk refuses a file holding fewer, untouched. A file holding them all is
accepted whatever became of its WAL.

The death is real: a child process opens the database as the desk does, commits a run
(a money row: ``runs`` is chained), and sends itself SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kitetui.store.database import DatabaseRefused, open_database
from kitetui.store.runs import create_run

from .journal_support import sha256

TIMEOUT_S = 30.0

_DESK = """
import asyncio, os, signal, sys
from kitetui.store.database import open_database
from kitetui.store.runs import create_run

async def main(path, how):
    db = await open_database(path, exclusive=True)
    await create_run(db, "last", "replay", "c.yaml", "h")
    if how == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "die-closing":  # killed after SQLite's close, before the marker's
        db.lock.mark_closed = lambda: os.kill(os.getpid(), signal.SIGKILL)
    await db.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _desk(path: Path, how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _DESK, str(path), how],
        timeout=TIMEOUT_S,
        capture_output=True,
        text=True,
    )
    expected = -signal.SIGKILL if how.startswith("die") else 0
    assert done.returncode == expected, done.stderr


def _runs(path: Path) -> list[str]:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id")]
    finally:
        con.close()


def _marker(path: Path) -> list[str]:
    return path.with_name(path.name + ".lock").read_text().splitlines()


def _first_run(path: Path, run_id: str = "first") -> None:
    async def first() -> None:
        db = await open_database(path, exclusive=True)
        await create_run(db, run_id, "replay", "c.yaml", "h")
        await db.close()

    asyncio.run(first())


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """A database closed cleanly once (run ``first``), then written by a desk that was
    killed with run ``last`` committed in its WAL."""
    path = tmp_path / "state.db"
    _first_run(path)
    _desk(path, "die")
    assert (tmp_path / "state.db-wal").stat().st_size > 0
    assert _marker(path)[1:] == ["open", "2"]  # two runs' rows committed
    return path


def _lose(wal: Path, how: str) -> None:
    if how == "deleted":
        wal.unlink()
    elif how == "emptied":
        wal.unlink()
        wal.write_bytes(b"")
    else:  # truncated to its header: no frame left
        os.truncate(wal, 32)


@pytest.mark.parametrize("how", ["deleted", "emptied", "truncated"])
async def test_a_wal_lost_after_a_death_refuses_the_file_untouched(crashed: Path, how) -> None:
    _lose(crashed.parent / "state.db-wal", how)
    (crashed.parent / "state.db-shm").unlink(missing_ok=True)
    before = sha256(crashed)
    pid = _marker(crashed)[0]
    for _ in range(2):  # a refusal keeps the marker: the next start refuses too
        with pytest.raises(DatabaseRefused) as refused:
            await asyncio.wait_for(open_database(crashed, exclusive=True), TIMEOUT_S)
        message = str(refused.value)
        assert "\n" not in message
        assert "holds 1 journaled money rows where" in message
        assert f"pid {pid}, which stopped without closing it, had committed 2" in message
        assert "state.db-wal" in message and "state.db.lock" in message  # how to accept
        assert sha256(crashed) == before
        assert _marker(crashed)[0] == pid  # the refused start named the dead desk, not itself


async def test_removing_the_lock_accepts_the_older_file(crashed: Path) -> None:
    (crashed.parent / "state.db-wal").unlink()
    (crashed.parent / "state.db-shm").unlink(missing_ok=True)
    (crashed.parent / "state.db.lock").unlink()
    db = await asyncio.wait_for(open_database(crashed, exclusive=True), TIMEOUT_S)
    await db.close()
    assert _runs(crashed) == ["first"]  # what the deleted WAL held is gone, as accepted


async def test_a_death_with_its_wal_kept_recovers_the_last_transaction(crashed: Path) -> None:
    db = await asyncio.wait_for(open_database(crashed, exclusive=True), TIMEOUT_S)
    try:
        cursor = await db.execute("SELECT run_id FROM runs ORDER BY run_id")
        assert [r[0] for r in await cursor.fetchall()] == ["first", "last"]
    finally:
        await db.close()
    assert not (crashed.parent / "state.db-wal").exists()
    assert _marker(crashed)[1:] == ["closed", "2"]


async def test_a_wal_another_sqlite_client_folded_in_lost_nothing(crashed: Path) -> None:
    """The probe's F4: the sqlite3 shell (or a notebook) opened the dead desk's file and,
    as its last connection, folded the WAL in and removed it: nothing was lost."""
    shell = sqlite3.connect(crashed)
    shell.execute("SELECT count(*) FROM runs").fetchone()
    shell.close()  # the last connection: SQLite checkpoints and removes the WAL
    assert not (crashed.parent / "state.db-wal").exists()
    db = await asyncio.wait_for(open_database(crashed, exclusive=True), TIMEOUT_S)
    await db.close()
    assert _runs(crashed) == ["first", "last"]


def test_a_death_during_the_clean_close_lost_nothing(tmp_path: Path) -> None:
    """The probe's F5: killed after SQLite folded the WAL in, before the marker said so."""
    path = tmp_path / "state.db"
    _first_run(path)
    _desk(path, "die-closing")
    assert _marker(path)[1] == "open" and not (tmp_path / "state.db-wal").exists()

    async def reopen() -> None:
        db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
        await db.close()

    asyncio.run(reopen())
    assert _runs(path) == ["first", "last"]


async def test_a_clean_close_needs_no_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _desk(path, "close")
    assert not (tmp_path / "state.db-wal").exists()
    assert _marker(path)[1:] == ["closed", "1"]
    db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
    await db.close()
    assert _runs(path) == ["last"]


async def test_a_lock_file_of_an_older_kitetui_holds_only_a_pid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _desk(path, "close")
    (tmp_path / "state.db.lock").write_text("12345\n")  # no state line: nothing is known
    db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
    await db.close()


async def test_the_marker_says_open_while_the_desk_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
    try:
        assert _marker(path) == [str(os.getpid()), "open", "0"]
        await create_run(db, "r", "replay", "c.yaml", "h")
        assert _marker(path) == [str(os.getpid()), "open", "1"]  # noted after the commit
    finally:
        await db.close()
    assert _marker(path)[1] == "closed"


def test_a_file_with_another_name_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The probe's F3: a desk killed under one hard-link name and started under another
    never sees the first name's -wal (nor its lock's marker). Said at every start."""
    path = tmp_path / "state.db"
    _first_run(path)
    (tmp_path / "other.db").hardlink_to(path)
    _first_run(path, "second")  # opened again, now with two names
    assert "state.db has 2 names (hard links)" in capsys.readouterr().err
