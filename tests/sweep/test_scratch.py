"""A killed point's temporary journal is cleared by the next point on that machine; a
live point's, a fresh one's and anything not a point's are left alone."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from datetime import date
from pathlib import Path

from kitetui.market.replay import DateWindow
from kitetui.store.lock import DeskLock
from kitetui.sweep.point import PointJob, run_point
from kitetui.sweep.scratch import PREFIX, STALE_AFTER_S, SWEEP_PREFIX, clear_dead, remove_own

WINDOW = DateWindow(date(2023, 4, 5), date(2023, 4, 6))


def _left(parent: Path, name: str, *, age_s: float) -> Path:
    """A point folder as a killed point leaves it: its journal and an unheld lock."""
    folder = parent / f"{PREFIX}{name}"
    folder.mkdir()
    (folder / "point.db").write_bytes(b"journal")
    lock = folder / "point.db.lock"
    lock.write_text("4242\n")
    then = time.time() - age_s
    os.utime(lock, (then, then))
    return folder


def test_only_an_old_folder_whose_lock_nobody_holds_is_cleared(tmp_path: Path) -> None:
    dead = _left(tmp_path, "dead", age_s=STALE_AFTER_S + 5)
    fresh = _left(tmp_path, "fresh", age_s=1)  # its point may not have locked it yet
    live = _left(tmp_path, "live", age_s=STALE_AFTER_S + 5)
    held = DeskLock(live / "point.db")
    held.acquire()
    os.utime(held.path, (time.time() - 600, time.time() - 600))  # running ten minutes
    unlocked = tmp_path / f"{PREFIX}nolock"  # not a journal's folder
    unlocked.mkdir()
    other = tmp_path / "someone-elses"
    other.mkdir()
    (other / "point.db.lock").write_text("1\n")
    try:
        assert clear_dead(tmp_path) == [dead]
    finally:
        held.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fresh.name, live.name, unlocked.name, other.name]
    )
    assert (live / "point.db").read_bytes() == b"journal"


def test_clearing_a_missing_folder_is_nothing(tmp_path: Path) -> None:
    assert clear_dead(tmp_path / "gone") == []


def test_a_point_killed_mid_run_is_cleared_by_the_next_point(
    small, small_config, tmp_path: Path
) -> None:
    """kill -9 a real point mid-backtest (as a Ray job ending does): its journal stays;
    the next point run there removes it once it is old, and leaves nothing itself."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    job = PointJob(0, (("bb_std", "2"),), small, str(small_config), None, None, scratch=scratch)
    worker = multiprocessing.get_context("spawn").Process(target=run_point, args=(job,))
    worker.start()
    deadline = time.monotonic() + 60
    locks: list[Path] = []
    while not locks and worker.is_alive() and time.monotonic() < deadline:
        locks = list(scratch.glob(f"{PREFIX}*/point.db.lock"))
        time.sleep(0.01)
    worker.kill()
    worker.join()
    assert locks, "the point never started its journal"
    (killed,) = [lock.parent for lock in locks]
    assert killed.exists() and worker.exitcode == -9

    second = PointJob(
        1, (("bb_std", "2"),), small, str(small_config), WINDOW, None, scratch=scratch
    )
    assert run_point(second).ok
    assert killed.exists()  # still within STALE_AFTER_S: it could be a point starting

    then = time.time() - STALE_AFTER_S - 1
    os.utime(killed / "point.db.lock", (then, then))
    assert run_point(second).ok
    assert list(scratch.iterdir()) == []


def test_an_orphaned_worker_removes_its_own_point_and_the_empty_sweep_folder(tmp_path: Path):
    sweep = tmp_path / f"{SWEEP_PREFIX}x"
    sweep.mkdir()
    mine = _left(sweep, "mine", age_s=0)
    (mine / "point.db.lock").write_text(f"{os.getpid()}\n")
    other = _left(sweep, "other", age_s=0)  # another worker's: it removes its own
    remove_own(sweep)
    assert not mine.exists() and other.exists()
    shutil.rmtree(other)
    remove_own(sweep)  # the last worker to end finds it empty
    assert not sweep.exists()


def test_an_orphaned_worker_never_removes_a_scratch_that_is_not_a_sweeps(tmp_path: Path):
    remove_own(tmp_path)  # empty, but not a sweep's folder (a node's temp dir, say)
    assert tmp_path.exists()
