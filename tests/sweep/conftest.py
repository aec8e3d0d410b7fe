"""The sweep tests' config: ``tests/backtest_helpers.py``'s small slice (a point runs in
about a second)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from kitetui.config import load_config
from kitetui.sweep import scratch
from tests.backtest_helpers import SMALL


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweepcfg") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def small(small_config: Path):
    return load_config(small_config)


@pytest.fixture(autouse=True)
def _temporary_files_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A point with no scratch of its own journals in the temporary directory, and a
    test that kills one (an abort, a SIGKILL) leaves its folder there: let that be the
    test's own ``tmp_path``, for this process and the workers it starts, not ``/tmp``."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again


@pytest.fixture(autouse=True)
def _not_leaving(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that plays an orphaned worker (``remove_own``) marks this process as
    leaving; the next test's points start in a process that is not."""
    monkeypatch.setattr(scratch, "_leaving", False)
