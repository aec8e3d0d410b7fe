"""The local pool: a worker that dies costs its own point only (reported with how it
died), a fresh worker takes its place and the other points give what they give
in-process; ``abort`` leaves no worker running."""

from __future__ import annotations

import signal
import threading
from datetime import date

import pytest

from kitetui.market.replay import DateWindow
from kitetui.sweep.local_pool import LocalPool, how_it_ended
from kitetui.sweep.point import PointJob, PointResult, run_point

WINDOW = DateWindow(date(2023, 4, 5), date(2023, 4, 6))


class _Dies:
    """A job's config that kills the worker unpickling it, as ``kill -9`` would."""

    def __reduce__(self) -> tuple:
        return (signal.raise_signal, (signal.SIGKILL,))


def _job(index: int, config, config_path: str, bb_std: str = "2") -> PointJob:
    return PointJob(index, (("bb_std", bb_std),), config, config_path, WINDOW, None)


def _figures(result: PointResult) -> tuple:
    return (result.index, result.error, result.net_pnl, result.sharpe, result.trades)


def _collect(pool: LocalPool, jobs: list[PointJob]) -> list[PointResult]:
    """Every result, or the test fails (a hung pool is aborted, not waited on forever)."""
    results: list[PointResult] = []
    runner = threading.Thread(target=lambda: results.extend(pool.run(jobs)), daemon=True)
    runner.start()
    runner.join(timeout=240)
    if runner.is_alive():
        pool.abort()
        pytest.fail(f"the pool hung with {len(results)} of {len(jobs)} results")
    return results


def test_a_worker_killed_mid_point_fails_that_point_and_the_sweep_goes_on(
    small, small_config
) -> None:
    path = str(small_config)
    jobs = [
        _job(0, small, path, "1.5"),
        _job(1, _Dies(), path),
        _job(2, small, path, "2.5"),
        _job(3, small, path, "3"),
    ]
    pool = LocalPool(2)
    try:
        results = sorted(_collect(pool, jobs), key=lambda r: r.index)
    finally:
        pool.close()
    assert [r.index for r in results] == [0, 1, 2, 3]
    dead = results[1]
    assert not dead.ok
    assert dead.error.startswith("its worker (pid ")
    assert dead.error.endswith(") died: killed by SIGKILL")
    for job, result in zip(jobs, results, strict=True):
        if job.index != 1:
            assert result.ok, result.error
            assert _figures(result) == _figures(run_point(job))  # as in-process
    assert pool.started == 3  # the dead worker's replacement


def test_abort_leaves_no_worker_running(small, small_config) -> None:
    pool = LocalPool(2)
    jobs = [_job(i, small, str(small_config), v) for i, v in enumerate(["1.5", "2", "2.5"])]
    results = pool.run(jobs)
    first = next(results)  # one finished; the other worker is on its next point
    assert first.ok, first.error
    processes = [w.process for w in pool._live]
    assert processes and all(p.is_alive() for p in processes)
    pool.abort()
    assert not any(p.is_alive() for p in processes)
    assert pool._live == []


@pytest.mark.parametrize(
    ("exitcode", "words"),
    [(-9, "killed by SIGKILL"), (-15, "killed by SIGTERM"), (1, "exit code 1"), (None, "ended")],
)
def test_how_it_ended(exitcode, words) -> None:
    assert how_it_ended(exitcode) == words


def test_a_worker_that_died_idle_is_replaced_and_its_next_point_runs(small, small_config):
    pool = LocalPool(1)
    jobs = [_job(i, small, str(small_config), v) for i, v in enumerate(["1.5", "2.5"])]
    try:
        results = pool.run(jobs)
        first = next(results)  # the worker is idle now, its next point not yet sent
        (idle,) = pool._live
        idle.process.kill()
        idle.process.join()
        rest = list(results)
    finally:
        pool.close()
    assert [r.ok for r in (first, *rest)] == [True, True], rest
    assert pool.started == 2
