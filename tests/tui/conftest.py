"""The TUI tests' fixtures: the collector's policy of a running desk."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kitetui.tui.app import GC_YOUNG_THRESHOLD


@pytest.fixture(autouse=True)
def _desk_collector_policy() -> Iterator[None]:
    """Collect garbage as a running desk does (``app.quiet_collector``'s thresholds), for
    the test's duration.

    The tests run the app headless, where it leaves the collector alone, in a process
    that runs a hundred desks one after another. Textual keeps its rendered strips in
    process-wide caches (``Strip.blank``'s, each strip with its own small caches), so the
    heap grows by ~10,000 live objects a test, and at CPython's thresholds a full pass
    over it came every test: 5.4 s of test_tables_and_details' 18 s of CPU (2026-12-07).
    No test here asserts on when garbage is collected; the thresholds are put back after
    each test, and nothing is frozen, so other tests see the collector they always did.
    """
    before = gc.get_threshold()
    young, middle, oldest = before
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), max(middle, 20), oldest)
    try:
        yield
    finally:
        gc.set_threshold(*before)
