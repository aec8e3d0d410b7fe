"""The sweep tests' config: ``tests/backtest_helpers.py``'s small slice (a point runs in
about a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitetui.config import load_config
from tests.backtest_helpers import SMALL


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweepcfg") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def small(small_config: Path):
    return load_config(small_config)
