"""What can go wrong with the store, each phrased for a person and mapped to an exit code.

Three kinds, because a person fixes each differently: a *path* that cannot hold a
database (fix the config or the filesystem: exit 2), a *database* that is damaged,
foreign or undecodable (restore or move it aside: exit 3, and it was not touched), and
a *full disk* (free space and start again: exit 6, nothing committed was lost). Every
message is one line: row values that name a row are shown with ``repr`` so a newline an
attacker put in a tag cannot split it.
"""

from __future__ import annotations

import errno
import sqlite3

# SQLite's primary result code for "database or disk is full" (and max_page_count).
_SQLITE_FULL = 13

_disk_full_seen = False


class DatabaseRefused(Exception):
    """The database cannot be used; the message says why and that it was not touched."""


class DatabasePathError(Exception):
    """The database path cannot hold a database (a file as its directory, a FIFO, ...)."""


class WriteFailed(Exception):
    """The database could not be written (a full disk, an I/O error, a file size limit):
    what was committed is intact, and the run stops (exit 6) and resumes once fixed."""


class DiskFull(WriteFailed):
    """The disk (or the database's size limit) is full; committed data is intact."""


class RowError(ValueError):
    """A journaled row does not decode; ``reason`` names the field and the value."""


def one_line(text: str, limit: int = 160) -> str:
    """Text from elsewhere (SQLite's own reports, an OS error) fit for a one-line message:
    whitespace runs collapsed, anything unprintable escaped, cut short."""
    flat = " ".join(str(text).split())
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def show(value: object, limit: int = 60) -> str:
    """A row value fit for a one-line message: quoted, escaped and cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def row_refusal(
    where: str, table: str, rowid: int | None, label: str, value: object, reason: str
) -> DatabaseRefused:
    """The one-line refusal for one row: table, rowid and naming column, and why."""
    row = f"row {rowid}" if rowid is not None else "a row"
    return DatabaseRefused(
        f"{where}: table {table}, {row} ({label} {show(value)}): {reason}; "
        "the database was left untouched. Restore it from a backup or move it aside."
    )


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL from SQLite, or ENOSPC/EDQUOT from the operating system."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF == _SQLITE_FULL
        return "database or disk is full" in str(exc)
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return False


def disk_full(what: str, exc: BaseException) -> DiskFull:
    """The DiskFull to raise for ``exc``; remembers for this process that it happened.

    The memory matters at shutdown: a run stopped by a full disk must stay resumable,
    so ``finish_run`` records it as STOPPED rather than FAILED (see runs.py).
    """
    global _disk_full_seen
    _disk_full_seen = True
    if isinstance(exc, DiskFull):
        return exc
    return DiskFull(_stopped(f"{what}: no space left ({_detail(exc)})", "Free some space"))


def write_failed(what: str, exc: BaseException) -> WriteFailed:
    """The ``WriteFailed`` to raise for a write that failed with ``exc`` (a ``DiskFull``
    when the disk is full); remembered like a full disk, so the run stays resumable."""
    global _disk_full_seen
    if is_disk_full(exc):
        return disk_full(what, exc)
    _disk_full_seen = True
    if isinstance(exc, WriteFailed):
        return exc
    return WriteFailed(
        _stopped(f"{what}: cannot write ({one_line(_detail(exc))})", "Fix the cause")
    )


def _detail(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _stopped(what_failed: str, fix: str) -> str:
    return (
        f"{what_failed}; everything committed before it is kept. {fix} and start kitetui "
        "again: the run resumes where it stopped."
    )


def disk_full_seen() -> bool:
    return _disk_full_seen


def find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of ``kind`` it was raised while handling.

    A full disk often surfaces twice: once where it happened, and again while shutting
    down tries to write; the first one is the one to report.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
