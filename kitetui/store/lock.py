"""One desk per database: an exclusive lock beside the file, held while the desk runs.

Two desks trading one run would place each other's orders twice and bump each other's
restarts. The lock is an ``flock`` on ``<database>.lock`` (mode 0600), taken before the
database is written at all and held by the open writer connection until it closes, so
the operating system releases it when the process dies, ``kill -9`` included: a stale
lock file is harmless. The holder writes its pid into the file, so a refused second desk
can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DeskLocked(Exception):
    """Another desk holds this database; the message names it (exit 7)."""


class DeskLock:
    """The exclusive lock on one database (see the module docstring)."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None
        self._created = False

    def acquire(self) -> None:
        """Take the lock or raise ``DeskLocked`` naming the holder; nothing is changed
        when it is refused (the file exists already: the holder made it)."""
        self._created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise DeskLocked(
                f"{self.path.with_suffix('')} is in use by another kitetui desk ({who}); "
                "stop it first, or use `kitetui attach` / `kitetui ctl` to reach it"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self, *, refused: bool = False) -> None:
        """Let the lock go. The file stays (removing it would race a new holder), unless
        this desk made it and its database was refused: a refusal leaves no trace."""
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
