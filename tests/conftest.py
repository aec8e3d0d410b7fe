"""Shared fixtures. Tests read ../shared/data only through ``shared_data``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SHARED_DATA = Path(
    os.environ.get("KITETUI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real NSE data set beside the repository; tests that need it skip without it."""
    if not (_SHARED_DATA / "SOURCE.md").is_file():
        pytest.skip(f"shared market data not found at {_SHARED_DATA}")
    return _SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _private_load_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Parsed-data caching (``kitetui.market.load_cache``) writes to a temporary folder,
    never ~/.cache: every load in the tests (and the CLIs they start) goes through it."""
    os.environ["KITETUI_CACHE_DIR"] = str(tmp_path_factory.mktemp("load-cache"))
