"""Shared fixtures. Tests read ../shared/data only through ``shared_data``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from suite_order import LONGEST_FILES_FIRST

from kitetui import secret_values
from kitetui.sweep.local_pool import cores  # this process's share of the machine

# ``-n auto`` (pyproject's addopts) starts this many workers per core. About a fifth of
# the suite's wall time is spent waiting, not computing: on the processes end-to-end
# tests start, on sockets, on paced replays. With one worker per core those waits leave
# a core idle; more workers than cores fill them. Measured on 2 cores, whole suite,
# back to back: 2 workers 551.9 s, 3 workers 456.1 s. Later, with ~100 more end-to-end
# tests (2026-12-07, fresh clone, idle 2-core host, 4,615 passed each time): 3 workers
# 547.9 s, 4 workers 497.3 s.
WORKERS_PER_CORE = 2.0

_SHARED_DATA = Path(
    os.environ.get("KITETUI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """The worker count ``-n auto`` means (pytest-xdist's hook)."""
    return max(1, round(cores() * WORKERS_PER_CORE))


def pytest_configure(config: pytest.Config) -> None:
    """Keep the collection's order for ``--dist loadfile`` (the longest files first,
    ``suite_order.py``) instead of pytest-xdist's most-tests-first; share one bytecode
    cache between the workers and the processes the tests start."""
    if getattr(config.option, "dist", "no") == "loadfile":
        config.option.loadscopereorder = False
    _share_bytecode(config)


def _share_bytecode(config: pytest.Config) -> None:
    """Let the workers and the ~400 ``python -m kitetui`` processes the tests start write
    and reuse compiled bytecode, as ``scripts/dev test`` does, when the environment says
    not to write it (PYTHONDONTWRITEBYTECODE, set in some sandboxes and CI images).

    Without a cache every one of those processes compiled every module it imported,
    kitetui's and its libraries' alike (PYTHONPYCACHEPREFIX points Python away from
    the ``__pycache__`` folders installed beside them): ``python -m kitetui --help``
    took 0.95 s of CPU instead of 0.31 s. The cache goes where PYTHONPYCACHEPREFIX says,
    else into pytest's own cache folder, never beside the sources. Runs before the
    workers start, so they inherit it; what the tests check does not depend on it."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or hasattr(config, "workerinput"):
        return
    if not os.environ.get("PYTHONPYCACHEPREFIX"):
        cache = getattr(config, "cache", None)
        if cache is None:  # -p no:cacheprovider: nowhere of pytest's own to write
            return
        os.environ["PYTHONPYCACHEPREFIX"] = str(cache.mkdir("pycache"))
    del os.environ["PYTHONDONTWRITEBYTECODE"]


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


@pytest.fixture(autouse=True)
def _no_secret_outlives_its_test():
    """The secrets a test reads (made-up keys and tokens) are scrubbed from every text
    (``kitetui.secret_values``) for the rest of the process: forgotten after each test,
    so one test's ``"secret"`` is not another test's ``***``."""
    yield
    secret_values.forget_all()
