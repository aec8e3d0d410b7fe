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
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

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


def _read_pid(fd: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode().strip() or 0)
    return 0
