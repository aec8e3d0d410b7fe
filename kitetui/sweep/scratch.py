"""A point's temporary journal, and clearing those that killed points left behind.

A point that keeps no journal backtests into a folder of its own (``kitetui-point-*``)
removed when it ends. A point that is killed instead — a Ray sweep interrupted on a
cluster ends its tasks with the job, a worker is ``kill -9``'d — cannot remove it, and
on a cluster the sweep's own process cannot reach that machine's disk: a year's
journal is ~45 MB, left once per point in flight at every interrupt.

So each point clears its dead predecessors on the machine it runs on before it starts.
A point holds an ``flock`` on its folder for as long as the folder lives — the run, the
report read from its journal, the removal — and the kernel releases it when the point
dies, ``kill -9`` included. A folder is dead when that lock can be taken and the folder
has not changed for a while (the age keeps a folder just made, not yet locked, out of
reach). Not the journal's desk lock: the desk lets it go when its run ends, before the
point reads its report. Only this user's folders of this prefix are touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

PREFIX = "kitetui-point-"
SWEEP_PREFIX = ".points-"  # a local sweep's scratch folder in its --out, one per sweep
JOURNAL = "point.db"
STALE_AFTER_S = 60.0  # a folder is locked within microseconds of being made

_log = logging.getLogger(__name__)
_current: list[Path] = []  # this process's point folder while a point runs (remove_own)
# A worker leaving (``remove_own``, from its watcher thread) while its main thread makes
# the next point's folder: the lock orders the two, and once leaving no folder is made.
_making = threading.Lock()
_leaving = False


class SweepGone(RuntimeError):
    """This worker is leaving (its sweep is gone): no new point starts."""


@contextlib.contextmanager
def point_folder(scratch: Path | None) -> Iterator[Path]:
    """A new point's folder in ``scratch`` (None: the temporary directory), locked while
    it lives and removed at the end, after clearing the folders dead points left there."""
    parent = Path(scratch) if scratch is not None else Path(tempfile.gettempdir())
    for dead in clear_dead(parent):  # the point's own journal is temporary: a log line
        _log.info("removed %s, left by a point that was killed", dead)
    with _making:
        if _leaving:
            raise SweepGone("the sweep is gone: this worker is leaving")
        folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        _current.append(folder)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        with contextlib.suppress(ValueError):
            _current.remove(folder)
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def clear_dead(parent: Path, *, now: float | None = None) -> list[Path]:
    """Remove the point folders in ``parent`` that no live point holds and that have not
    changed for ``STALE_AFTER_S``; return them. Errors (a folder removed by another
    point meanwhile, a permission) leave that folder be: this is housekeeping."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        candidates = [p for p in parent.iterdir() if p.name.startswith(PREFIX)]
        for folder in candidates:
            if _dead(folder, now):
                shutil.rmtree(folder, ignore_errors=True)
                if not folder.exists():
                    removed.append(folder)
    return removed


def _dead(folder: Path, now: float) -> bool:
    try:
        about = folder.lstat()
        if about.st_uid != os.getuid() or now - about.st_mtime < STALE_AFTER_S:
            return False
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # gone, a link, not a folder: leave it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its point is running
        return False
    finally:
        os.close(fd)  # closing releases the lock taken just now
    return True


def _remove(folder: Path, tries: int = 50) -> None:
    """``rmtree``, again while the folder is still there (up to a second): a file made
    in it between the listing and the ``rmdir`` would otherwise keep it, and with it
    the sweep's scratch in --out."""
    for _ in range(tries):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.02)


def _stop_making() -> list[Path]:
    """From here on this process makes no point folder (``SweepGone``): one made after
    the removal would be left behind. This process's point folders, to remove."""
    global _leaving
    with _making:
        _leaving = True
        return list(_current)


def _remove_all(folders: list[Path], scratch: Path) -> None:
    """``folders``, then ``scratch`` once empty if it is a sweep's: the last worker to
    end finds it empty."""
    for folder in folders:
        _remove(folder)
    if scratch.name.startswith(SWEEP_PREFIX):
        with contextlib.suppress(OSError):
            scratch.rmdir()


def remove_own(scratch: Path) -> None:
    """Remove this process's point folder, and ``scratch`` once empty if it is a
    sweep's: a worker ending because its sweep was killed, while no point runs in it
    (its main thread found the sweep's pipe broken between points)."""
    _remove_all(_stop_making(), scratch)


def exit_and_remove_own(scratch: Path) -> NoReturn:
    """End this process at once, and remove its point folder (and ``scratch``, as
    ``remove_own``) after it has ended: from a worker's watcher thread while its main
    thread may be running a point.

    Not removed from here: the point's desk goes on until the process ends, and a desk
    that opens its journal just after the removal makes the folder again (a database's
    missing folder is created), which a whole-suite run once left in --out. A forked
    cleaner waits for this process to be gone, so no writer is left, and removes them.
    The child uses no lock of this process's (a fork copies them in whatever state)."""
    folders = _stop_making()
    worker = os.getpid()
    if os.fork() == 0:  # the cleaner
        try:
            while os.getppid() == worker:  # reparented once the worker has ended
                time.sleep(0.005)
            _remove_all(folders, scratch)
        finally:
            os._exit(0)
    os._exit(1)
