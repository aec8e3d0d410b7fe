"""One desk per database: an exclusive lock beside the file, held while the desk runs.

Two desks trading one run would place each other's orders twice and bump each other's
restarts. The lock is an ``flock`` on ``<database>.lock`` (mode 0600), taken before the
database is written at all and held by the open writer connection until it closes, so
the operating system releases it when the process dies, ``kill -9`` included: a stale
lock file is harmless. The holder writes its pid into the file, so a refused second desk
can name it.

One database has many names: a symlink, ``sub/../state.db``, a hard link. So the lock
file sits beside the database's real path (symlinks resolved), and the desk also holds an
``flock`` on the database file itself (``hold_file``), which every hard link shares: a
second desk under any name is refused. (SQLite's own locks are ``fcntl`` locks, which on
Linux never meet ``flock``.) The lock file is opened without following a symlink: one
planted there would have had the desk's pid written over its target.

The file's second line says whether its desk's writer connection is ``open`` or was
``closed`` cleanly. A desk killed outright leaves ``open``, and its last transactions in
the ``-wal`` beside the database, where SQLite finds them at the next open. A ``-wal``
deleted after such a death takes those transactions with it and leaves a database that
is consistent but older: every checksum chain still verifies. The next desk finds
``open`` and no ``-wal`` (``left_open``) and refuses the file rather than trade on a
journal that forgot its last orders (``database.open_database``). Like the seal, the
marker holds no secret: it catches an accident (a cleanup script, a copy of the file
alone), not someone who also edits it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from kitetui.store.errors import DatabasePathError


class DeskLocked(Exception):
    """Another desk holds this database; the message names it (exit 7)."""


class DeskLock:
    """The exclusive lock on one database (see the module docstring)."""

    def __init__(self, database: Path) -> None:
        self.database = Path(os.path.realpath(database))
        self.path = Path(f"{self.database}.lock")
        self._fd: int | None = None
        self._file_fd: int | None = None
        self._created = False
        self.left_open = False  # the last desk's writer never closed (set by acquire)
        self.previous_pid = 0  # the last holder's pid, as its file says (0: not known)
        self._state = _CLOSED

    def acquire(self) -> None:
        """Take the lock or raise ``DeskLocked`` naming the holder; nothing is changed
        when it is refused (the file exists already: the holder made it)."""
        self._created = not os.path.lexists(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if os.path.islink(self.path):
                raise DatabasePathError(
                    f"{self.path} is a symbolic link; kitetui never writes through one (remove it)"
                ) from None
            raise DatabasePathError(f"{self.path} cannot be opened: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise self._locked(f"pid {holder}" if holder else "another process") from None
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        try:
            self.hold_file()
        except BaseException:
            self.release(refused=True)
            raise
        self.left_open = _read_state(fd) == _OPEN
        self.previous_pid = _read_pid(fd)
        self._state = _OPEN if self.left_open else _CLOSED
        self._write()

    def mark_open(self) -> None:
        """The writer connection is open: a death from here on leaves ``open``."""
        self._state = _OPEN
        self._write()

    def mark_closed(self) -> None:
        """The writer connection closed cleanly (SQLite folded the WAL in)."""
        self._state = _CLOSED
        self._write()

    def _write(self) -> None:
        """The holder's pid and the writer's state; the previous state is kept until the
        writer opens, so a refused or failed start leaves the marker as it found it."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n{self._state}\n".encode(), 0)
            os.fsync(self._fd)

    def hold_file(self) -> None:
        """Hold the database file's own lock, shared by all its hard links (a database
        not created yet has none: ``open_database`` calls this again once it exists)."""
        if self._file_fd is not None:
            return
        try:
            fd = os.open(self.database, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._locked("another process, through another name of this file") from None
        except OSError:
            os.close(fd)
            raise
        self._file_fd = fd

    def _locked(self, who: str) -> DeskLocked:
        return DeskLocked(
            f"{self.database} is in use by another kitetui desk ({who}); "
            "stop it first, or use `kitetui attach` / `kitetui ctl` to reach it"
        )

    def release(self, *, refused: bool = False) -> None:
        """Let the lock go. The file stays (removing it would race a new holder), unless
        this desk made it and its database was refused: a refusal leaves no trace."""
        file_fd, self._file_fd = self._file_fd, None
        if file_fd is not None:
            os.close(file_fd)  # closing the last descriptor lets the flock go
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if refused and self._created:
            with contextlib.suppress(OSError):
                self.path.unlink()
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


_OPEN = "open"
_CLOSED = "closed"


def _lines(fd: int) -> list[str]:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return os.pread(fd, 64, 0).decode().splitlines()
    return []


def _read_pid(fd: int) -> int:
    with contextlib.suppress(ValueError, IndexError):
        return int(_lines(fd)[0].strip() or 0)
    return 0


def _read_state(fd: int) -> str:
    """The previous holder's writer state; a file of an older kitetui has none."""
    lines = _lines(fd)
    return lines[1].strip() if len(lines) > 1 else _CLOSED
