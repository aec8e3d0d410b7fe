"""Shared fixtures. Tests read ../shared/data only through ``shared_data``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from suite_order import LONGEST_FILES_FIRST

from kitetui.sweep.local_pool import cores  # this process's share of the machine

# ``-n auto`` (pyproject's addopts) starts this many workers per core. About a fifth of
# the suite's wall time is spent waiting, not computing: on the processes end-to-end
# tests start, on sockets, on paced replays. With one worker per core those waits leave
# a core idle; half a worker more per core fills them. Measured on 2 cores, whole suite,
# back to back: 2 workers 551.9 s, 3 workers 456.1 s.
WORKERS_PER_CORE = 1.5

_SHARED_DATA = Path(
    os.environ.get("KITETUI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """The worker count ``-n auto`` means (pytest-xdist's hook)."""
    return max(1, round(cores() * WORKERS_PER_CORE))


def pytest_configure(config: pytest.Config) -> None:
    """Keep the collection's order for ``--dist loadfile`` (the longest files first,
    ``suite_order.py``) instead of pytest-xdist's most-tests-first."""
    if getattr(config.option, "dist", "no") == "loadfile":
        config.option.loadscopereorder = False


@pytest.hookimpl(trylast=True)  # after any other plugin has reordered them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files to the front of the queue, each file's tests in their order."""
    rank = {path: place for place, path in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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
