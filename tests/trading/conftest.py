"""Fixtures for the trading tests: Zerodha's own Kite mocks, beside the shared data."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def kite_mocks(shared_data: Path) -> Path:
    """``shared/kite-mocks`` (Zerodha's kiteconnect-mocks copy); skips when absent."""
    mocks = shared_data.parent / "kite-mocks"
    if not (mocks / "virtual_contract_note.json").is_file():
        pytest.skip(f"Kite mocks not found at {mocks}")
    return mocks
