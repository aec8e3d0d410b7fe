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
``closed`` cleanly, and its third how many money rows (the checksum chains' rows,
``chain.chained_rows``) the desk had committed, noted after every journal commit. A
desk killed outright leaves ``open``, and its last transactions in the ``-wal`` beside
the database, where SQLite finds them at the next open. A ``-wal`` deleted, emptied or
truncated after such a death takes those transactions with it and leaves a database
that is consistent but older: every chain still verifies. The next desk finds ``open``
and a file holding fewer money rows than its desk had committed (``left_open``,
``committed_rows``), and refuses it rather than trade on a journal that forgot orders
the broker holds (``database.open_database``). A file that holds them all is accepted
whatever became of its WAL (folded in by another SQLite client, or by the close a kill
interrupted). The pid and marker stay as they were until the new writer opens, so a
refused start names the desk that died, not itself. Like the seal, the marker holds no
secret: it catches an accident (a cleanup script, a copy of the file alone), not
someone who also edits it.
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
        self.committed_rows = 0  # the money rows it had committed, as its file says
        self._state = _CLOSED
        self._rows = 0

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
        owner = os.fstat(fd).st_uid
        if owner != os.geteuid():  # its holder could lock us out, or fake a lost WAL's marks
            os.close(fd)
            raise DatabasePathError(
                f"{self.path} is owned by uid {owner}, not by you; kitetui does not use "
                "another user's lock file (remove it)"
            )
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
        lines = _lines(fd)
        self.left_open = _field(lines, 1) == _OPEN
        self.previous_pid = _number(_field(lines, 0))
        self.committed_rows = _number(_field(lines, 2))

    def mark_open(self, rows: int) -> None:
        """The writer connection is open on a file holding ``rows`` money rows: a death
        from here on leaves ``open``."""
        self._state, self._rows = _OPEN, rows
        self._write(durable=True)

    def note_rows(self, rows: int) -> None:
        """A journal commit made the file hold ``rows`` money rows. Not fsynced: a marker
        that lags the file after a power cut only makes the check more lenient."""
        if rows != self._rows:
            self._rows = rows
            self._write(durable=False)

    def mark_closed(self) -> None:
        """The writer connection closed cleanly (SQLite folded the WAL in)."""
        self._state = _CLOSED
        self._write(durable=True)

    def _write(self, *, durable: bool) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            text = f"{os.getpid()}\n{self._state}\n{self._rows}\n".encode()
            os.pwrite(self._fd, text, 0)
            os.ftruncate(self._fd, len(text))
            if durable:
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
        return os.pread(fd, 128, 0).decode().splitlines()
    return []


def _field(lines: list[str], index: int) -> str:
    """A line of the lock file; "" for one an older kitetui did not write."""
    return lines[index].strip() if len(lines) > index else ""


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _read_pid(fd: int) -> int:
    return _number(_field(_lines(fd), 0))
