"""A desk killed outright leaves its last transactions in the ``-wal``; one deleted
after that leaves an older journal that still verifies. The lock file's marker
(kitetui/store/lock.py) tells the next desk, which refuses the file untouched.

The death is real: a child process opens the database as the desk does, commits a
run, and sends itself SIGKILL.
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

async def main(path, die):
    db = await open_database(path, exclusive=True)
    await create_run(db, "last", "replay", "c.yaml", "h")
    if die:
        os.kill(os.getpid(), signal.SIGKILL)
    await db.close()

asyncio.run(main(sys.argv[1], sys.argv[2] == "die"))
"""


def _desk(path: Path, *, die: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _DESK, str(path), "die" if die else "close"],
        timeout=TIMEOUT_S,
        capture_output=True,
        text=True,
    )
    expected = -signal.SIGKILL if die else 0
    assert done.returncode == expected, done.stderr


def _runs(path: Path) -> list[str]:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id")]
    finally:
        con.close()


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """A database closed cleanly once (run ``first``), then written by a desk that was
    killed with run ``last`` committed in its WAL."""
    path = tmp_path / "state.db"

    async def first() -> None:
        db = await open_database(path, exclusive=True)
        await create_run(db, "first", "replay", "c.yaml", "h")
        await db.close()

    asyncio.run(first())
    _desk(path, die=True)
    assert (tmp_path / "state.db-wal").exists()
    return path


async def test_a_wal_deleted_after_a_death_refuses_the_file_untouched(crashed: Path) -> None:
    (crashed.parent / "state.db-wal").unlink()
    (crashed.parent / "state.db-shm").unlink(missing_ok=True)
    before = sha256(crashed)
    for _ in range(2):  # a refusal keeps the marker: the next start refuses too
        with pytest.raises(DatabaseRefused) as refused:
            await asyncio.wait_for(open_database(crashed, exclusive=True), TIMEOUT_S)
        message = str(refused.value)
        assert "\n" not in message
        assert "state.db-wal" in message and "stopped without closing it" in message
        assert "pid " in message
        assert "state.db.lock" in message  # how to accept the loss
        assert sha256(crashed) == before
    assert not (crashed.parent / "state.db-wal").exists()


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
    # and once closed cleanly, the file stands alone: no WAL is needed any more
    assert not (crashed.parent / "state.db-wal").exists()
    db = await asyncio.wait_for(open_database(crashed, exclusive=True), TIMEOUT_S)
    await db.close()


async def test_a_clean_close_needs_no_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _desk(path, die=False)
    assert not (tmp_path / "state.db-wal").exists()
    assert (tmp_path / "state.db.lock").read_text().splitlines()[1] == "closed"
    db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
    await db.close()
    assert _runs(path) == ["last"]


async def test_a_lock_file_of_an_older_kitetui_holds_only_a_pid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _desk(path, die=False)
    (tmp_path / "state.db.lock").write_text("12345\n")  # no state line: nothing is known
    db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
    await db.close()


async def test_the_marker_says_open_while_the_desk_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = await asyncio.wait_for(open_database(path, exclusive=True), TIMEOUT_S)
    try:
        pid, state = (tmp_path / "state.db.lock").read_text().splitlines()
        assert (int(pid), state) == (os.getpid(), "open")
    finally:
        await db.close()
    assert (tmp_path / "state.db.lock").read_text().splitlines()[1] == "closed"
