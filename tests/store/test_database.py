"""Opening the database (kitetui/store/database.py): paths, permissions, creation, seal.

Paths that cannot hold a database are a ``DatabasePathError`` (exit 2) found with
``stat`` alone, so a FIFO is never opened; a new database appears complete (built
under a temporary name) and owner-only whatever the umask; an older, more open one is
tightened with a notice that lands in the journal.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitetui.store import database
from kitetui.store.database import DatabasePathError, DatabaseRefused, open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run
from kitetui.store.seal import is_sealed, seal_path

from .journal_support import sha256

TIMEOUT_S = 20.0


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run the test under a permissive umask: the database must be private anyway."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- paths ------------------------------------------------------------------------------------


def _some_database(path: Path) -> None:
    con = sqlite3.connect(path)  # the path is refused before its content is looked at
    con.execute("CREATE TABLE x (y)")
    con.close()


def _parent_is_a_file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("x")
    return tmp / "notes.txt" / "state.db"


def _grandparent_is_a_file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("x")
    return tmp / "notes.txt" / "sub" / "state.db"


def _directory(tmp: Path) -> Path:
    (tmp / "state.db").mkdir()
    return tmp / "state.db"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "state.db")
    return tmp / "state.db"


def _read_only_directory(tmp: Path) -> Path:
    folder = tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "state.db"


def _read_only_directory_with_database(tmp: Path) -> Path:
    folder = tmp / "ro"
    folder.mkdir()
    _some_database(folder / "state.db")
    folder.chmod(0o555)
    return folder / "state.db"


def _read_only_file(tmp: Path) -> Path:
    _some_database(tmp / "state.db")
    (tmp / "state.db").chmod(0o444)
    return tmp / "state.db"


def _dangling_symlink(tmp: Path) -> Path:
    (tmp / "state.db").symlink_to(tmp / "gone" / "real.db")
    return tmp / "state.db"


def _wal_symlink(tmp: Path) -> Path:
    (tmp / "state.db-wal").symlink_to(tmp / "elsewhere-wal")
    return tmp / "state.db"


def _shm_symlink_beside_a_database(tmp: Path) -> Path:
    victim = tmp / "victim"
    victim.write_text("mine")
    victim.chmod(0o644)
    (tmp / "state.db").write_bytes(b"")
    (tmp / "state.db-shm").symlink_to(victim)
    return tmp / "state.db"


def _journal_directory(tmp: Path) -> Path:
    (tmp / "state.db-journal").mkdir()
    return tmp / "state.db"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_wal_symlink, r"state.db-wal is a symbolic link; SQLite would write through it"),
        (_shm_symlink_beside_a_database, r"state.db-shm is a symbolic link"),
        (_journal_directory, r"state.db-journal is a directory, not a regular file"),
        (_parent_is_a_file, r"notes.txt is a file, not a directory"),
        (_grandparent_is_a_file, r"notes.txt is a file, not a directory"),
        (_directory, r"is a directory, not a database file"),
        (_fifo, r"is a FIFO \(named pipe\), not a regular file"),
        (_read_only_directory, r"its directory .*ro is read-only"),
        (_read_only_directory_with_database, r"its directory .*ro is read-only"),
        (_read_only_file, r"state.db is read-only"),
        (_dangling_symlink, r"is a symlink to .*real.db, which does not exist"),
    ],
    ids=lambda v: getattr(v, "__name__", "").strip("_") or None,
)
async def test_open_database_with_unusable_path_refuses_in_one_line(
    tmp_path: Path, make, says: str
) -> None:
    path = make(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    try:
        with pytest.raises(DatabasePathError, match=says) as refused:
            await asyncio.wait_for(open_database(path), TIMEOUT_S)
        assert "\n" not in str(refused.value)
        assert sorted(str(p) for p in tmp_path.rglob("*")) == before
        victim = tmp_path / "victim"
        if victim.exists():  # a planted -shm's target: its mode was tightened through it
            assert (victim.stat().st_mode & 0o777, victim.read_text()) == (0o644, "mine")
    finally:
        for folder in tmp_path.rglob("ro"):
            folder.chmod(0o755)


async def test_open_database_with_missing_directories_creates_them_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, "r1", "replay", "c.yaml", "h")
        journal = Journal(db, "r1")
        await journal.close()
        cursor = await db.execute("SELECT kind, level, message FROM events")
        events = await cursor.fetchall()
    finally:
        await db.close()
    err = capsys.readouterr().err
    assert err == f"kitetui: created directory {path.parent} for the database\n"
    assert events == [
        ("DatabaseDirectoryCreated", "WARNING", f"created directory {path.parent} for the database")
    ]
    assert mode(path.parent) == 0o700


# -- creation and permissions ---------------------------------------------------------------


async def test_open_database_with_new_path_is_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "state.db"
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, "r1", "replay", "c.yaml", "h")  # the WAL and SHM exist now
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
    finally:
        await db.close()
    assert mode(seal_path(path)) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db", "state.db-seal"]


async def test_open_database_with_failing_creation_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(db, version):
        raise RuntimeError("migration failed")

    monkeypatch.setattr(database, "_migrate", broken)
    with pytest.raises(RuntimeError, match="migration failed"):
        await asyncio.wait_for(open_database(tmp_path / "state.db"), TIMEOUT_S)
    assert list(tmp_path.iterdir()) == []


async def test_open_database_with_open_permissions_tightens_them_with_an_event(
    journal_db: Path, open_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    journal_db.chmod(0o644)
    db = await asyncio.wait_for(open_database(journal_db), TIMEOUT_S)
    try:
        journal = Journal(db, "r2")
        await create_run(db, "r2", "replay", "c.yaml", "h")
        await journal.close()
        cursor = await db.execute(
            "SELECT message FROM events WHERE kind = 'DatabasePermissionsTightened'"
        )
        events = [r[0] for r in await cursor.fetchall()]
    finally:
        await db.close()
    assert mode(journal_db) == 0o600
    assert events == [f"{journal_db} was readable by other users (state.db 0644); now 0600"]
    assert "was readable by other users" in capsys.readouterr().err


async def test_open_database_with_refused_file_does_not_tighten_it(journal_db: Path) -> None:
    journal_db.chmod(0o644)
    con_edit = sqlite3.connect(journal_db)
    con_edit.execute("UPDATE fills SET price = 1")
    con_edit.commit()
    con_edit.close()
    before = sha256(journal_db)
    with pytest.raises(DatabaseRefused):
        await asyncio.wait_for(open_database(journal_db), TIMEOUT_S)
    assert mode(journal_db) == 0o644  # refused: not even its mode changes
    assert sha256(journal_db) == before


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", r"is empty \(0 bytes\)"), (b"PK\x03\x04zipfile" * 100, r"not a SQLite database")],
    ids=["empty", "zip"],
)
async def test_open_database_with_non_database_file_refuses_untouched(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(DatabaseRefused, match=says):
        await asyncio.wait_for(open_database(path), TIMEOUT_S)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["state.db"]


# -- the seal ------------------------------------------------------------------------------------


async def test_open_database_with_seal_drops_it_until_the_clean_close(journal_db: Path) -> None:
    assert is_sealed(journal_db)
    db = await asyncio.wait_for(open_database(journal_db), TIMEOUT_S)
    try:
        assert not seal_path(journal_db).exists()  # a crash now must not leave a seal
        await create_run(db, "r2", "replay", "c.yaml", "h")
    finally:
        await db.close()
    assert is_sealed(journal_db)


async def test_close_with_another_connection_open_leaves_no_seal(journal_db: Path) -> None:
    db = await asyncio.wait_for(open_database(journal_db), TIMEOUT_S)
    reader = sqlite3.connect(journal_db)
    try:
        reader.execute("SELECT count(*) FROM fills").fetchone()
        await create_run(db, "r2", "replay", "c.yaml", "h")
        await db.close()
        assert not is_sealed(journal_db)  # the WAL still holds the run: no seal
    finally:
        reader.close()


async def test_open_database_with_history_changed_after_the_seal_says_so(
    journal_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Signals are history, not money: kitetui does not checksum them, so one changed
    # letter in a signal's reason verifies. But the file no longer matches its seal,
    # and that is said: on stderr and as a journal event, never silently.
    data = journal_db.read_bytes()
    at = data.index(b"fast above slow")
    journal_db.write_bytes(data[:at] + b"F" + data[at + 1 :])
    db = await asyncio.wait_for(open_database(journal_db), TIMEOUT_S)
    try:
        journal = Journal(db, "r2")
        await create_run(db, "r2", "replay", "c.yaml", "h")
        await journal.close()
        cursor = await db.execute(
            "SELECT count(*) FROM events WHERE kind = 'DatabaseChangedSinceClose'"
        )
        assert (await cursor.fetchone())[0] == 1
    finally:
        await db.close()
    assert "changed after kitetui last closed it" in capsys.readouterr().err


async def test_a_symlink_planted_at_the_lock_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    """The lock file was opened through a symlink and the desk's pid written over the
    target (the tester's /tmp/pb/victim)."""
    victim = tmp_path / "victim"
    victim.write_text("important data")
    (tmp_path / "state.db.lock").symlink_to(victim)
    with pytest.raises(DatabasePathError, match=r"state.db.lock is a symbolic link") as refused:
        await asyncio.wait_for(open_database(tmp_path / "state.db", exclusive=True), TIMEOUT_S)
    assert "\n" not in str(refused.value)
    assert victim.read_text() == "important data"
    assert not (tmp_path / "state.db").exists()
