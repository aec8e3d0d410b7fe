"""A killed point's temporary journal is cleared by the next point on that machine; a
live point's (running, or reading its report after its desk let the journal go), a
fresh one's and anything not a point's are left alone."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import shutil
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from kitetui.market.replay import DateWindow
from kitetui.sweep.point import PointJob, run_point
from kitetui.sweep.scratch import (
    PREFIX,
    STALE_AFTER_S,
    SWEEP_PREFIX,
    SweepGone,
    clear_dead,
    exit_and_remove_own,
    point_folder,
    remove_own,
)

WINDOW = DateWindow(date(2023, 4, 5), date(2023, 4, 6))


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def _left(parent: Path, name: str, *, age_s: float) -> Path:
    """A point folder as a killed point leaves it: its journal, nobody holding it."""
    folder = parent / f"{PREFIX}{name}"
    folder.mkdir()
    (folder / "point.db").write_bytes(b"journal")
    _age(folder, age_s)
    return folder


def test_only_an_old_folder_that_nobody_holds_is_cleared(tmp_path: Path) -> None:
    dead = _left(tmp_path, "dead", age_s=STALE_AFTER_S + 5)
    fresh = _left(tmp_path, "fresh", age_s=1)  # its point may not have locked it yet
    live = _left(tmp_path, "live", age_s=600)  # a point ten minutes into its run
    held = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    other = tmp_path / "someone-elses"
    other.mkdir()
    _age(other, 600)
    try:
        assert clear_dead(tmp_path) == [dead]
    finally:
        os.close(held)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, live.name, other.name])
    assert (live / "point.db").read_bytes() == b"journal"


def test_a_point_reading_its_report_keeps_its_folder(tmp_path: Path) -> None:
    """The journal's desk lock goes with the run's end; the report is read after. The
    folder's own lock lasts until the folder is gone."""
    with point_folder(tmp_path) as folder:
        (folder / "point.db").write_bytes(b"journal")
        desk_lock = folder / "point.db.lock"  # the desk's, let go when its run ended
        desk_lock.write_text(f"{os.getpid()}\n")
        _age(desk_lock, STALE_AFTER_S * 10)
        _age(folder, STALE_AFTER_S * 10)  # a long run: nothing made in it for a while
        assert clear_dead(tmp_path) == []
        assert (folder / "point.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_clearing_a_missing_folder_is_nothing(tmp_path: Path) -> None:
    assert clear_dead(tmp_path / "gone") == []


def test_a_point_killed_mid_run_is_cleared_by_the_next_point(
    small, small_config, tmp_path: Path, caplog: pytest.LogCaptureFixture
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
        locks = list(scratch.glob(f"{PREFIX}*/point.db.lock"))  # its desk is running
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

    _age(killed, STALE_AFTER_S + 1)
    with caplog.at_level(logging.INFO, logger="kitetui.sweep.scratch"):
        assert run_point(second).ok
    assert f"removed {killed}, left by a point that was killed" in caplog.text
    assert list(scratch.iterdir()) == []


def test_an_orphaned_worker_removes_its_own_point_and_the_empty_sweep_folder(tmp_path: Path):
    sweep = tmp_path / f"{SWEEP_PREFIX}x"
    sweep.mkdir()
    other = _left(sweep, "other", age_s=0)  # another worker's: it removes its own
    with point_folder(sweep) as mine:
        remove_own(sweep)
        assert not mine.exists() and other.exists()
    shutil.rmtree(other)
    remove_own(sweep)  # the last worker to end finds it empty
    assert not sweep.exists()


def test_a_worker_whose_point_still_writes_is_cleared_after_it_has_ended(tmp_path: Path):
    """The watcher's removal races the point's desk, which makes its journal's missing
    folder again: the folder is removed by a cleaner once the worker process is gone."""
    sweep = tmp_path / f"{SWEEP_PREFIX}x"
    sweep.mkdir()
    ready = tmp_path / "ready"
    pid = os.fork()
    if pid == 0:  # the worker: a point whose desk keeps making its folder and journal
        try:
            with point_folder(sweep) as mine:

                def desk() -> None:
                    while True:
                        with contextlib.suppress(OSError):  # removed meanwhile: again
                            mine.mkdir(exist_ok=True)
                            (mine / "point.db").write_bytes(b"x")

                threading.Thread(target=desk, daemon=True).start()
                ready.touch()
                exit_and_remove_own(sweep)
        finally:
            os._exit(3)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert os.waitpid(pid, 0)[1] >> 8 == 1  # the worker ended itself at once
    while sweep.exists() and time.monotonic() < deadline:  # its cleaner, after it
        time.sleep(0.01)
    assert not sweep.exists()


def test_a_worker_leaving_makes_no_new_point_folder(tmp_path: Path) -> None:
    """The watcher removes the worker's point folders while the main thread may be
    starting the next point: a folder made after the removal would be left behind
    (seen once in a killed sweep's --out: an empty kitetui-point-* folder)."""
    sweep = tmp_path / f"{SWEEP_PREFIX}x"
    sweep.mkdir()
    remove_own(sweep)
    with pytest.raises(SweepGone), point_folder(sweep):
        pass
    assert not sweep.exists()


def test_an_orphaned_worker_never_removes_a_scratch_that_is_not_a_sweeps(tmp_path: Path):
    remove_own(tmp_path)  # empty, but not a sweep's folder (a node's temp dir, say)
    assert tmp_path.exists()
