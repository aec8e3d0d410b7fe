"""The cells the desk's tables show, as plain values (no screen)."""

from __future__ import annotations

import dataclasses

import pytest

from kitetui.tui.cells import confidence_text, engine_row, signal_row
from kitetui.tui.header import header_model

from .fakes import ENGINES, SIGNALS, busy_snapshot


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


def test_engine_with_nothing_to_trade_reads_no_contracts_and_raises_an_amber_alarm() -> None:
    fno = dataclasses.replace(
        ENGINES[0], idle="NO CONTRACTS", idle_reason="every NFO:NIFTY future has expired"
    )
    stopped = dataclasses.replace(ENGINES[2], idle="NO CONTRACTS")  # stopped says STOPPED
    assert engine_row(fno)[1] == ("NO CONTRACTS", "warn")
    assert engine_row(stopped)[1].text == "STOPPED"
    snapshot = dataclasses.replace(busy_snapshot(), engines=(fno, ENGINES[1], stopped))
    alarms = header_model(snapshot).alarms
    assert "NO CONTRACTS: fno-trend" in alarms
