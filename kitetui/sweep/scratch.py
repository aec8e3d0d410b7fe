"""A point's temporary journal, and clearing those that killed points left behind.

A point that keeps no journal backtests into a folder of its own (``kitetui-point-*``)
removed when it ends. A point that is killed instead — a Ray sweep interrupted on a
cluster ends its tasks with the job, a worker is ``kill -9``'d — cannot remove it, and
on a cluster the sweep's own process cannot reach that machine's disk: a year's
journal is ~45 MB, left once per point in flight at every interrupt.

So each point clears its dead predecessors on the machine it runs on before it starts.
A folder is dead when its journal's desk lock (``point.db.lock``, see
``kitetui.store.lock``: an ``flock`` the kernel releases when its holder dies) can be
taken, and has been there a while: a point that is alive holds it from before it
writes its journal until its folder is gone, and the age keeps a point that has just
made its lock file (created, not yet locked) out of reach. Only folders of this
prefix with that file are touched; anything else in the temporary directory is not
the sweep's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "kitetui-point-"
SWEEP_PREFIX = ".points-"  # a local sweep's scratch folder in its --out, one per sweep
JOURNAL = "point.db"
STALE_AFTER_S = 60.0  # a live point's lock is taken within milliseconds of its creation


def point_folder(scratch: Path | None) -> tempfile.TemporaryDirectory[str]:
    """A new point's folder in ``scratch`` (None: the temporary directory), after
    clearing the folders there that dead points left."""
    clear_dead(Path(scratch) if scratch is not None else Path(tempfile.gettempdir()))
    return tempfile.TemporaryDirectory(prefix=PREFIX, dir=scratch)


def clear_dead(parent: Path, *, now: float | None = None) -> list[Path]:
    """Remove the point folders in ``parent`` whose journal lock nobody holds and that
    are older than ``STALE_AFTER_S``; return them. Errors (a folder removed by another
    point meanwhile, a permission) leave that folder be: this is housekeeping."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        candidates = [p for p in parent.iterdir() if p.name.startswith(PREFIX)]
        for folder in candidates:
            if _dead(folder / f"{JOURNAL}.lock", now):
                shutil.rmtree(folder, ignore_errors=True)
                if not folder.exists():
                    removed.append(folder)
    return removed


def _dead(lock: Path, now: float) -> bool:
    try:
        if now - lock.stat().st_mtime < STALE_AFTER_S:
            return False
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:  # no lock file (not a journal's folder, or not ours): leave it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its point is running
        return False
    finally:
        os.close(fd)  # closing releases the lock taken just now
    return True


def remove_own(scratch: Path) -> None:
    """Remove this process's point folder in ``scratch`` (its lock names this pid), and
    ``scratch`` itself once empty if it is a sweep's: a worker ending because its sweep
    was killed. The last worker to end finds the folder empty."""
    mine = f"{os.getpid()}"
    with contextlib.suppress(OSError):
        for folder in [p for p in scratch.iterdir() if p.name.startswith(PREFIX)]:
            with contextlib.suppress(OSError):
                if (folder / f"{JOURNAL}.lock").read_text().strip() == mine:
                    shutil.rmtree(folder, ignore_errors=True)
        if scratch.name.startswith(SWEEP_PREFIX):
            scratch.rmdir()
