"""Fixtures for the simulated Kite exchange's REST tests.

``sim_rest`` runs a ``SimServer`` (REST only, manual clock, 127.0.0.1, an OS-chosen
port) on an event loop in a background thread, so the blocking, real
``kiteconnect.KiteConnect`` client can be called straight from the test. Everything
that touches the market or the exchange goes through ``harness.call`` (run on the
server's loop, bounded wait).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_support import Harness, sim_config


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(clock: Callable[[], float] | None = None, **overrides: Any) -> Harness:
        harness = Harness(sim_config(**overrides), clock=clock)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


@pytest.fixture
def sim_rest(sim_factory: Callable[..., Harness]) -> Harness:
    """A fresh sim with the NIFTY future (ticks), NIFTY 50 (index) and SBIN (candles)."""
    return sim_factory()


@pytest.fixture(scope="session")
def kite_mocks(shared_data: Path) -> Path:
    mocks = shared_data.parent / "kite-mocks"
    if not (mocks / "orders.json").is_file():
        pytest.skip(f"Kite mocks not found at {mocks}")
    return mocks
