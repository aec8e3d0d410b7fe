"""Opening the one SQLite file safely: path checks, a read-only verification, migrations.

The order is the point. (1) The path is checked with ``stat`` only — a FIFO given as the
database is never opened, so it cannot hang the start — and a bad one is a
``DatabasePathError`` (exit 2). (2) An existing file is verified on a read-only
connection (verify.py: structure, schema, run rows, every checksum chain) and a bad one
is a ``DatabaseRefused`` (exit 3), left exactly as it was found. (3) Only then is the
writer's connection opened, the permissions tightened and the schema migrated.

A new database is built under a temporary name and renamed into place, so the path
either does not exist or holds a complete, migrated kitetui database: an empty file
there is damage (truncation), not a database still being made, and is refused.

A missing parent directory is created (mode 0700) and kitetui says so, on stderr and
in the journal (``DatabaseDirectoryCreated``): a run that starts a fresh journal in a
new place should never do so without a word.

The writer's connection is a ``JournalConnection``: its ``close`` seals the file when it
was the last connection (seal.py), so the next clean start need not re-read every row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import stat
import sys
import weakref
from pathlib import Path

import aiosqlite

from kitetui.events import EventKind
from kitetui.shown import escaped
from kitetui.store import schema
from kitetui.store.chain import BY_NAME, chained_at, chained_rows, on_connection_thread, reseal_all
from kitetui.store.errors import (
    DatabasePathError,
    DatabaseRefused,
    disk_full,
    is_disk_full,
)
from kitetui.store.lock import DeskLock
from kitetui.store.seal import drop_seal, write_seal
from kitetui.store.verify import CHAINS_SINCE, Verified, read_only_uri, verify_database

__all__ = [
    "DatabasePathError",
    "DatabaseRefused",
    "database_path",
    "open_database",
    "take_notices",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PRIVATE = 0o600
_SIDECARS = ("-wal", "-shm")
CHARGES_SINCE = 4  # the schema version that journals charges with each fill

# Notices for the journal of the run that opens the database (kind, message); the
# Journal takes them, so they land as events without the supervisor's help.
_NOTICES: weakref.WeakKeyDictionary[aiosqlite.Connection, list[tuple[EventKind, str]]] = (
    weakref.WeakKeyDictionary()
)

# The migration list as this module applies it (tests patch it here); schema.py is
# the source.
MIGRATIONS = schema.MIGRATIONS
SCHEMA_VERSION = schema.SCHEMA_VERSION


_PATHS: weakref.WeakKeyDictionary[aiosqlite.Connection, Path] = weakref.WeakKeyDictionary()


def database_path(db: aiosqlite.Connection) -> Path | None:
    """The file ``db`` was opened on by ``open_database`` (for messages)."""
    return _PATHS.get(db)


def take_notices(db: aiosqlite.Connection) -> list[tuple[EventKind, str]]:
    """What opening ``db`` did that a person should know (kind, message); once only."""
    return _NOTICES.pop(db, [])


def _say(notices: list[tuple[EventKind, str]], kind: EventKind, message: str) -> None:
    print(f"kitetui: {escaped(message)}", file=sys.stderr, flush=True)  # it names a path
    notices.append((kind, message))


# -- the path ------------------------------------------------------------------------


def check_path(path: Path, notices: list[tuple[EventKind, str]]) -> None:
    """Refuse a path that cannot hold a database; create a missing parent directory."""
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise DatabasePathError(_parent_is_a_file(path)) from None
    except OSError as exc:
        raise DatabasePathError(f"{path} cannot be used as the database: {exc.strerror}") from None
    if info is None:
        if path.is_symlink():
            raise DatabasePathError(
                f"{path} is a symlink to {os.readlink(path)}, which does not exist; "
                "point 'database:' or --db at the real file"
            )
        _ensure_directory(path, notices)
        _check_beside(path)
        return
    if stat.S_ISDIR(info.st_mode):
        raise DatabasePathError(
            f"{path} is a directory, not a database file; point 'database:' or --db at a "
            "file (for example state.db inside it)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise DatabasePathError(
            f"{path} is a {_kind(info.st_mode)}, not a regular file; point 'database:' or "
            "--db at a file"
        )
    _check_owner(path, info)
    _check_writable(path.parent, path)
    if not os.access(path, os.R_OK | os.W_OK) or not info.st_mode & 0o222:
        raise DatabasePathError(
            f"{path} is read-only; kitetui must write its journal there (chmod u+rw it, "
            "or point 'database:' or --db at another file)"
        )
    _check_beside(path)


#: The files SQLite keeps beside a database, under its name.
SQLITE_BESIDE = ("-wal", "-shm", "-journal")


def _check_beside(path: Path) -> None:
    """SQLite opens ``-wal``/``-shm``/``-journal`` by name and would write through a
    symlink planted there (or fail inside the driver with a traceback): refused, and
    nothing is touched."""
    for suffix in SQLITE_BESIDE:
        beside = path.with_name(path.name + suffix)
        if beside.is_symlink():
            raise DatabasePathError(
                f"{beside} is a symbolic link; SQLite would write through it, so kitetui "
                "does not open the database (remove the link)"
            )
        try:
            info = beside.stat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            raise DatabasePathError(
                f"{beside} is a {_kind(info.st_mode)}, not a regular file; kitetui does not "
                "open the database beside it (remove it)"
            )
        _check_owner(beside, info)


def _check_owner(path: Path, info: os.stat_result) -> None:
    """The journal and SQLite's files beside it are the trade history: one another user
    owns (planted, open to all, in a shared folder) would stay theirs to read whatever
    its mode, so it is refused before anything is opened or tightened."""
    if info.st_uid != os.geteuid():
        raise DatabasePathError(
            f"{path} is owned by uid {info.st_uid}, not by you (uid {os.geteuid()}); kitetui "
            "keeps its journal only in its own files, so it does not open the database "
            "(chown it, or point 'database:' or --db at another file)"
        )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _parent_is_a_file(path: Path) -> str:
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return (
                f"{path}: {parent} is a file, not a directory; point 'database:' or --db "
                "at a path inside a directory"
            )
    return f"{path}: a part of this path is not a directory"


def _ensure_directory(path: Path, notices: list[tuple[EventKind, str]]) -> None:
    parent = path.parent
    if parent.is_dir():
        _check_writable(parent, path)
        return
    try:
        parent.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        raise DatabasePathError(_parent_is_a_file(path)) from None
    except NotADirectoryError:
        raise DatabasePathError(_parent_is_a_file(path)) from None
    except OSError as exc:
        raise DatabasePathError(
            f"{path}: its directory {parent} does not exist and cannot be created ({exc.strerror})"
        ) from None
    _say(
        notices,
        EventKind.DATABASE_DIRECTORY_CREATED,
        f"created directory {parent} for the database",
    )


def _check_writable(directory: Path, path: Path) -> None:
    """SQLite writes ``-wal`` and ``-shm`` files beside the database: the directory must
    take them. A directory with no write bit at all counts as read-only even for root,
    who could otherwise write into it anyway: it was made read-only on purpose."""
    try:
        mode = directory.stat().st_mode
    except OSError as exc:
        raise DatabasePathError(f"{path}: its directory {directory}: {exc.strerror}") from None
    if not os.access(directory, os.W_OK | os.X_OK) or not mode & 0o222:
        raise DatabasePathError(
            f"{path}: its directory {directory} is read-only; kitetui writes the database "
            "and its -wal/-shm files there (make it writable, or point 'database:' or --db "
            "elsewhere)"
        )


def _check_header(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise DatabaseRefused(
            f"{path} is empty (0 bytes): kitetui never leaves an empty database, so it was "
            "probably truncated; it was left untouched. Restore it from a backup or move "
            "it aside."
        )
    with path.open("rb") as handle:
        header = handle.read(len(_SQLITE_MAGIC))
    if header != _SQLITE_MAGIC:
        raise DatabaseRefused(
            f"{path} is not a SQLite database (bad header); it was left untouched. "
            "Move it aside or point 'database:' at another file."
        )


# -- opening -------------------------------------------------------------------------------


class JournalConnection(aiosqlite.Connection):
    """The writer's connection: closing it seals the file (seal.py) when SQLite has folded
    the WAL in, i.e. when it was the last connection open."""

    def __init__(self, path: Path, lock: DeskLock | None = None) -> None:
        # Not bound to aiosqlite's thread: a replay at full speed writes on the loop's
        # own (journal.Journal._on_writer) while the desk's readers may use aiosqlite's;
        # SQLite serialises the two on a connection that threadsafety 3 lets them share.
        super().__init__(
            lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False), 64
        )
        self.path = path
        self.lock = lock
        self._sealable = True

    async def close(self) -> None:
        sealable, self._sealable = self._sealable, False
        try:
            await super().close()
            if self.lock is not None and sealable:
                self.lock.mark_closed()
            if sealable:
                await asyncio.to_thread(write_seal, self.path)
        finally:
            if self.lock is not None:
                self.lock.release()


async def open_database(
    path: str | Path,
    *,
    synchronous: str = "FULL",
    integrity: str = "quick_check",
    exclusive: bool = False,
) -> aiosqlite.Connection:
    """Open (or create) the database, verify it read-only, and bring its schema up to date.

    ``exclusive``: take the desk lock (``lock.py``) before anything is written; the
    connection holds it until it closes. Raises ``DeskLocked`` when another desk has it,
    ``DatabasePathError`` for a path that cannot hold a database, ``DatabaseRefused`` for
    a file that is damaged or not kitetui's (left untouched) and ``DiskFull`` when
    creating or migrating runs out of space.
    """
    path = Path(path)
    notices: list[tuple[EventKind, str]] = []
    check_path(path, notices)
    lock = DeskLock(path) if exclusive else None
    if lock is not None:
        lock.acquire()
    try:
        if lock is not None:
            _refuse_lost_wal(path, lock)
        return await _open_checked(path, notices, synchronous, integrity, lock)
    except BaseException:
        if lock is not None:
            lock.release(refused=True)
        raise


def _refuse_lost_wal(path: Path, lock: DeskLock) -> None:
    """The last desk on this file died with its writer open (lock.py), having committed
    ``lock.committed_rows`` money rows: a file holding fewer lost the ``-wal`` that held
    the rest (deleted, emptied, truncated), and has forgotten orders the broker may hold.
    Refused, untouched; removing the lock file accepts it. One a reader cannot open is
    left to the verification, which says what is wrong with it."""
    if not lock.left_open or not lock.committed_rows or not path.exists():
        return
    try:
        con = sqlite3.connect(read_only_uri(lock.database), uri=True)
        try:
            held = chained_rows(con)
        finally:
            con.close()
    except sqlite3.Error:
        return
    if held >= lock.committed_rows:
        return
    who = f"pid {lock.previous_pid}" if lock.previous_pid else "its last desk"
    wal = lock.database.with_name(lock.database.name + "-wal")
    raise DatabaseRefused(
        f"{path}: holds {held:,} journaled money rows where {who}, which stopped without "
        f"closing it, had committed {lock.committed_rows:,}: {wal.name}, which held the "
        "rest, is gone or damaged, so the file has forgotten its last orders and fills; "
        f"it was left untouched. Put the -wal back, or accept the loss by removing "
        f"{lock.path} and reconcile with the broker"
    )


async def _open_checked(
    path: Path,
    notices: list[tuple[EventKind, str]],
    synchronous: str,
    integrity: str,
    lock: DeskLock | None,
) -> aiosqlite.Connection:
    if path.exists():
        _check_header(path)
        verified = await asyncio.to_thread(verify_database, path, integrity=integrity)
        if verified.changed_since_seal:
            _say(
                notices,
                EventKind.DATABASE_CHANGED_SINCE_CLOSE,
                f"{path} changed after kitetui last closed it; every checksummed row "
                "verifies, so the change is in history kitetui does not checksum (signals, "
                "events, risk decisions, the instrument cache) or SQLite maintenance",
            )
        _tighten(path, notices)
        _say_linked(path, notices)
    else:
        await _create(path)
        if lock is not None:
            lock.hold_file()  # the file exists now: a hard link made from here on shares it
        verified = Verified(schema.SCHEMA_VERSION, False, {}, 0.0)
    drop_seal(path)  # from here on the file may change: only a clean close seals it again
    try:
        db = await JournalConnection(path, lock)
    except Exception as exc:
        raise DatabasePathError(f"{path} cannot be opened for writing: {exc}") from None
    try:
        await db.execute("PRAGMA busy_timeout = 5000")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute(f"PRAGMA synchronous = {synchronous}")
        await db.execute("PRAGMA foreign_keys = ON")
        await _migrate(db, verified.version)
        if 0 < verified.version < SCHEMA_VERSION:
            await _say_migrated(db, path, verified.version, notices)
        if lock is not None:  # a death from here on leaves "open" and the WAL
            lock.mark_open(await on_connection_thread(db, chained_rows))
    except BaseException as exc:
        db.lock = None  # the caller releases it
        await db.close()
        if is_disk_full(exc):
            raise disk_full(f"{path}: migrating the database", exc) from None
        raise
    _PATHS[db] = path
    if notices:
        _NOTICES[db] = notices
    return db


async def _create(path: Path) -> None:
    """Build a new database under a temporary name, then rename it into place."""
    temp = path.with_name(f".{path.name}.creating-{secrets.token_hex(4)}")
    try:
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _PRIVATE)
        os.close(fd)
        db = await aiosqlite.connect(temp, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await _migrate(db, 0)
        finally:
            await db.close()  # the last connection: the WAL is folded in and removed
        os.rename(temp, path)
        with contextlib.suppress(OSError):
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
    except BaseException as exc:
        for leftover in (temp, *(temp.with_name(temp.name + s) for s in _SIDECARS)):
            with contextlib.suppress(OSError):
                leftover.unlink()
        if is_disk_full(exc):
            raise disk_full(f"{path}: creating the database", exc) from None
        if isinstance(exc, OSError):
            raise DatabasePathError(f"{path} cannot be created: {exc.strerror}") from None
        raise


def _say_linked(path: Path, notices: list[tuple[EventKind, str]]) -> None:
    """A file with other names (hard links; a backup tool's, say): the lock and its
    marker sit beside one name, and a desk killed under another leaves its last
    transactions in that name's -wal, which this name never sees. Said, not refused."""
    links = path.stat().st_nlink
    if links > 1:
        _say(
            notices,
            EventKind.DATABASE_LINKED,
            f"{path} has {links} names (hard links): a desk killed under another name "
            "leaves its last transactions in that name's -wal, unseen from this one; "
            "run the desk under one name",
        )


def _tighten(path: Path, notices: list[tuple[EventKind, str]]) -> None:
    """The journal is the trade history: owner-only, like everything kitetui writes."""
    loosened = []
    for file in (path, *(path.with_name(path.name + s) for s in _SIDECARS)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                os.chmod(file, mode & 0o700 | _PRIVATE)
            except OSError as exc:  # not ours to change: say so, and go on
                _say(
                    notices,
                    EventKind.DATABASE_PERMISSIONS_OPEN,
                    f"{file} is readable by other users ({mode:04o}) and could not be "
                    f"made private ({exc.strerror})",
                )
                continue
            loosened.append(f"{file.name} {mode:04o}")
    if loosened:
        _say(
            notices,
            EventKind.DATABASE_PERMISSIONS_TIGHTENED,
            f"{path} was readable by other users ({', '.join(loosened)}); now 0600",
        )


async def _migrate(db: aiosqlite.Connection, version: int) -> None:
    """Apply the migrations after ``version``, each in one transaction with its sealing."""
    for index in range(version, len(MIGRATIONS)):
        await db.execute("BEGIN IMMEDIATE")
        try:
            before = await _chained_columns(db)
            for statement in _statements(MIGRATIONS[index]):
                await db.execute(statement)
            if index + 1 == CHAINS_SINCE:  # the first chaining of rows an older kitetui wrote
                await reseal_all(db, [t.name for t in chained_at(index + 1)])
            elif index + 1 > CHAINS_SINCE:
                after = await _chained_columns(db)
                current = {t.name for t in chained_at(index + 1)}  # not a table turned view
                changed = [t for t in after if t in current and after[t] != before.get(t)]
                if changed:  # the hashed bytes of every row of these tables changed
                    await reseal_all(db, changed)
            await db.execute(f"PRAGMA user_version = {index + 1}")
            await db.commit()
        except BaseException:
            await db.rollback()
            raise


async def _say_migrated(
    db: aiosqlite.Connection, path: Path, version: int, notices: list[tuple[str, str]]
) -> None:
    """A database of an older schema was brought up to date: say so once. One from
    before schema 4 has fills without charges: say how many, and what kitetui does
    about them."""
    uncharged = 0
    if version < CHARGES_SINCE:
        cursor = await db.execute("SELECT count(*) FROM fills WHERE charges_paise IS NULL")
        (uncharged,) = await cursor.fetchone()
    what = (
        f"its {uncharged} fill(s) were journaled before kitetui recorded charges; they are "
        "charged from the rate table when a run rebuilds from them, and shown without "
        "charges elsewhere"
        if uncharged
        else "migrated in place (what it holds reads the same; an older kitetui refuses "
        "it from now on)"
    )
    _say(
        notices,
        EventKind.DATABASE_MIGRATED,
        f"{path}: schema {version} -> {SCHEMA_VERSION}: {what}",
    )


async def _chained_columns(db: aiosqlite.Connection) -> dict[str, tuple]:
    columns = {}
    for name in BY_NAME:
        cursor = await db.execute(f"PRAGMA table_info({name})")
        rows = await cursor.fetchall()
        if rows:
            columns[name] = tuple(tuple(r) for r in rows)
    return columns


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
