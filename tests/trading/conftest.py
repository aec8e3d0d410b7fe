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


@pytest.fixture(autouse=True)
def _settle_leaves_the_alarm_a_fresh_look_would(monkeypatch: pytest.MonkeyPatch):
    """After every settle of the rule, in every trading test, ``_check_naked`` run afresh
    finds nothing to change: the NAKED alarm is raised exactly for a position left
    uncovered, and lifted otherwise. A settle's last pass sets the alarm from what it
    has just read (``ExitManager._alarm``) instead of reading the position and the
    cover once more; this fails if that skips a raise or a lift (the fresh look would
    then change the alarm, and say so in an event)."""
    from kitetui.trading.exits import ExitManager

    settle = ExitManager._settle
    problems: list[str] = []

    async def checked(self: ExitManager, symbol: str, cause: str, ts_ns: int | None = None):
        # (an expired contract's settle leaves its alarm to the settlement: not checked)
        left = self.trader.contract_expired(symbol) and not self._settling(symbol)
        await settle(self, symbol, cause, ts_ns)
        if left:
            return
        before = dict(self._naked)
        self._check_naked(symbol)
        if self._naked != before:
            problems.append(f"{symbol} ({cause}): alarm {before} after the settle, {self._naked}")

    monkeypatch.setattr(ExitManager, "_settle", checked)
    yield
    assert problems == []
