"""What each strategy tells the price chart: which indicators are in price units, and
a new ``indicators`` dict on every decision (the engine's chart history keeps them by
reference, so a reused dict would show one bar's values on every bar)."""

from __future__ import annotations

import math

import pytest
from strategy_support import make_bars

from strategies.base import NOT_READY_REASON
from strategies.registry import get_strategy, strategy_names

# Bars of a wave around 1,000 over three sessions: every strategy gets ready on them.
CLOSES = [1000 + 40 * math.sin(i / 11) + 9 * math.sin(i / 3) for i in range(1200)]


@pytest.mark.parametrize("name", strategy_names())
def test_strategy_chart_overlays_are_its_indicators_in_price_units(name: str) -> None:
    strategy = get_strategy(name)()
    bars = make_bars(CLOSES, spread=2.0, timeframe_s=60, symbol="TEST")
    ready = []
    seen_dicts: list[int] = []
    for bar in bars:
        decision = strategy.on_bar(bar, 0)
        if decision.reason != NOT_READY_REASON and decision.indicators:
            ready.append(decision.indicators)
            seen_dicts.append(id(decision.indicators))
    assert ready, f"{name} never got ready on {len(bars)} bars"
    overlays = type(strategy).chart_overlays
    assert overlays, f"{name} names no indicator in price units for the chart"
    assert set(overlays) <= set(ready[-1]), f"{name}: {overlays} not in {sorted(ready[-1])}"
    low, high = min(CLOSES) - 2, max(CLOSES) + 2
    span = high - low
    for name_ in overlays:
        values = [ind[name_] for ind in ready[-200:] if math.isfinite(ind[name_])]
        assert values and all(low - span <= v <= high + span for v in values), name_
    # a new dict every time: the last 200 decisions' dicts are all alive in `ready`
    assert len(set(seen_dicts[-200:])) == len(seen_dicts[-200:])
