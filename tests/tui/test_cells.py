"""The cells the desk's tables show, as plain values (no screen)."""

from __future__ import annotations

import dataclasses

import pytest

from kitetui.tui.cells import confidence_text, signal_row

from .fakes import SIGNALS


@pytest.mark.parametrize(
    ("confidence", "text"),
    [(0.0, "0.00"), (0.0018, "<0.01"), (0.0049, "<0.01"), (0.006, "0.01"), (0.72, "0.72")],
)
def test_confidence_text_with_tiny_score_never_reads_zero(confidence: float, text: str) -> None:
    assert confidence_text(confidence) == text


def test_signal_row_with_allowed_tiny_confidence_shows_below_one_hundredth() -> None:
    signal = dataclasses.replace(SIGNALS[0], confidence=0.0018386990658599905)
    assert signal.risk_verdict == "ALLOW"
    assert signal_row(signal)[4].text == "<0.01"
