"""Bars and runners for the strategy tests (``tests/strategies`` is on ``sys.path``).

Crafted sequences are lists of closes turned into bars with a fixed high/low spread,
one ``timeframe_s`` apart from 09:15 IST on 2023-04-03; ``run`` feeds them with a
fixed position, ``follow`` lets the position follow the signals as the engine would
(LONG -> long, SHORT -> short, EXIT -> flat), and ``signals`` lists the non-HOLD
decisions as ``(bar index, kind)``, the form every "fires exactly here" test pins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kitetui.domain import NS_PER_SECOND, Bar, SignalKind
from strategies.base import NOT_READY_REASON, Decision, Strategy

LONG, SHORT, EXIT, HOLD = SignalKind.LONG, SignalKind.SHORT, SignalKind.EXIT, SignalKind.HOLD
T0 = 1_680_493_500_000_000_000  # 2023-04-03 09:15 IST
DAY_NS = 86_400 * NS_PER_SECOND


def make_bars(
    closes: Iterable[float],
    spread: float = 0.5,
    timeframe_s: int = 60,
    start_ns: int = T0,
    volume: int = 1_000,
    symbol: str = "TEST",
) -> list[Bar]:
    step = timeframe_s * NS_PER_SECOND
    return [
        Bar(symbol, start_ns + i * step, timeframe_s, c, c + spread, c - spread, c, volume)
        for i, c in enumerate(closes)
    ]


def run(strategy: Strategy, bars: Iterable[Bar], position_qty: int = 0) -> list[Decision]:
    return [strategy.on_bar(bar, position_qty) for bar in bars]


def follow(strategy: Strategy, bars: Iterable[Bar], position_qty: int = 0) -> list[Decision]:
    """Decisions with the position following them, as the engine's trader would."""
    decisions = []
    for bar in bars:
        decision = strategy.on_bar(bar, position_qty)
        decisions.append(decision)
        if decision.kind is LONG:
            position_qty = 1
        elif decision.kind is SHORT:
            position_qty = -1
        elif decision.kind is EXIT:
            position_qty = 0
    return decisions


def signals(decisions: list[Decision]) -> list[tuple[int, SignalKind]]:
    return [(i, d.kind) for i, d in enumerate(decisions) if d.kind is not HOLD]


def first_ready(decisions: list[Decision]) -> int:
    return next(i for i, d in enumerate(decisions) if d.reason != NOT_READY_REASON)


def trade_on_real_bars(strategy: Strategy, bars: list[Bar]) -> dict[str, int]:
    """Follow ``strategy`` over real bars checking the contract on every decision.

    Returns counts of entries, exits (EXIT or a reversal) and bars; every ready
    decision carries a finite positive ``atr``, a confidence in [0, 1] (0 on a HOLD)
    and a reason; a ``size_scale``, when present, is in (0, 1]; most entries have a
    confidence of at least 0.01 (what the journal shows as 0.01).
    """
    position = 0
    counts = {"bars": len(bars), "long": 0, "short": 0, "exit": 0, "ready": 0}
    entry_confidences: list[float] = []
    for bar in bars:
        decision = strategy.on_bar(bar, position)
        assert decision.reason, bar
        if decision.reason == NOT_READY_REASON:
            assert decision.kind is HOLD
            continue
        counts["ready"] += 1
        atr = decision.indicators["atr"]
        assert math.isfinite(atr) and atr > 0, (bar, decision)
        assert 0.0 <= decision.confidence <= 1.0, (bar, decision)
        scale = decision.indicators.get("size_scale")
        if scale is not None:
            assert 0.0 < scale <= 1.0, (bar, decision)
        kind = decision.kind
        if kind is HOLD:
            assert decision.confidence == 0.0
            continue
        if kind is EXIT:
            assert position != 0, (bar, decision)  # an EXIT only when there is a position
            counts["exit"] += 1
            position = 0
            continue
        if position != 0:  # a reversal closes the old position first
            counts["exit"] += 1
        assert (kind is LONG and position <= 0) or (kind is SHORT and position >= 0)
        counts["long" if kind is LONG else "short"] += 1
        entry_confidences.append(decision.confidence)
        position = 1 if kind is LONG else -1
    scored = sum(1 for c in entry_confidences if c >= 0.01)
    assert scored > len(entry_confidences) // 2, "entry confidence mostly 0.00"
    return counts
