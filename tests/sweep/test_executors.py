"""The executors run points in other processes and hand back what ``run_point`` gives
in-process: a local process pool, and Ray (skipped when ray is not installed)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest

from kitetui.config import ConfigError
from kitetui.market.replay import DateWindow
from kitetui.sweep.bundle import is_materialised, make_bundle
from kitetui.sweep.executors import LocalPool, check_ray_address
from kitetui.sweep.point import PointJob, PointResult, run_point

WINDOW = DateWindow(date(2023, 4, 5), date(2023, 4, 6))
PARAMS = [(("bb_std", "1.5"),), (("bb_std", "2.5"),), (("fno.fast", "30"),)]


def _jobs(small, small_config) -> list[PointJob]:
    return [PointJob(i, p, small, str(small_config), WINDOW, None) for i, p in enumerate(PARAMS)]


def _figures(result: PointResult) -> tuple:
    return (result.index, result.error, result.net_pnl, result.sharpe, result.trades)


@pytest.fixture(scope="module")
def in_process(small, small_config) -> list[tuple]:
    return [_figures(run_point(job)) for job in _jobs(small, small_config)]


def test_local_pool_gives_what_a_point_gives_in_process(small, small_config, in_process):
    pool = LocalPool(2)
    try:
        got = sorted(_figures(r) for r in pool.run(_jobs(small, small_config)))
    finally:
        pool.close()
    assert got == sorted(in_process)
    assert pool.describe() == "2 local workers"
    assert got[2][1].startswith("invalid params:")  # reported, and the others ran


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("", True),
        ("auto", True),
        ("ray://10.0.0.5:10001", True),
        ("head:6379", True),
        ("ray://host", False),
        ("ray://:10001", False),
        ("ray://host:99999", False),
        ("foo", False),
        ("http://127.0.0.1:8265", False),  # the dashboard's, not the client's
        ("ray://127.0.0.1:8265/x", False),
    ],
)
def test_check_ray_address(address, ok) -> None:
    if ok:
        assert check_ray_address(address) == address
    else:
        with pytest.raises(ConfigError, match=r"expected ray://HOST:PORT"):
            check_ray_address(address)


def test_ray_pool_ships_the_data_once_and_gives_the_same_figures(
    small, small_config, in_process, tmp_path: Path, monkeypatch, request
):
    pytest.importorskip("ray")
    from kitetui.sweep.executors import RayPool

    # Ray's session files and its auth token go to a short temporary folder, not /tmp/ray
    # or ~/.ray (its socket paths must stay under 107 characters, so not tmp_path).
    scratch = Path(tempfile.mkdtemp(prefix="kr", dir="/tmp"))
    monkeypatch.setenv("RAY_TMPDIR", str(scratch))
    monkeypatch.setenv("HOME", str(scratch))
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    pool = RayPool(workers=2, root=tmp_path)
    try:
        got = sorted(_figures(r) for r in pool.run(_jobs(small, small_config)))
        assert pool.describe() == "Ray (a local Ray, 2 CPUs)"
    finally:
        pool.close()
    assert got == sorted(in_process)
    bundle = make_bundle(small)
    assert pool.bundle_bytes == bundle.size  # put in the object store once, not per point
    assert is_materialised(bundle.digest, tmp_path)  # this node's copy, keyed by hash
