"""SuperTrend strategy: trades exactly on the indicator's flips, whatever the position.

The crafted sequence rises 1 a bar (high/low = close +/- 0.5), so with (3, 1.0) the
lower band sits at close - 1.5 and bar 20's drop to 116 closes below bar 19's band
(117.5): the flip down. The fall then reverses and bar 29 closes above the ratcheted
upper band: the flip up. On real bars the signals are checked against the flips of
pandas-ta-classic's own SuperTrend.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pandas_ta_classic as ta
import pytest
from strategy_support import (
    EXIT,
    LONG,
    SHORT,
    first_ready,
    follow,
    make_bars,
    run,
    signals,
    trade_on_real_bars,
)

from kitetui.domain import Bar
from strategies.base import BAD_BAR_REASON, NOT_READY_REASON
from strategies.supertrend import SuperTrendStrategy

UP_DOWN_UP = (
    [100.0 + i for i in range(20)]  # 0..19: up 1 a bar
    + [119.0 - 3 * i for i in range(1, 9)]  # 20..27: down 3 a bar, flips at 20
    + [95.0 + 3 * i for i in range(1, 9)]  # 28..35: up 3 a bar, flips at 29
)


def _strategy(allow_short: bool = True) -> SuperTrendStrategy:
    return SuperTrendStrategy(
        SuperTrendStrategy.Params(period=3, multiplier=1.0, allow_short=allow_short)
    )


@pytest.mark.parametrize(
    ("position", "allow_short", "expected"),
    [
        (0, True, [(20, SHORT), (29, LONG)]),
        # a long is reversed at the flip down, then closed on every bar against the trend
        (1, True, [(20, SHORT)] + [(i, EXIT) for i in range(21, 29)]),
        # a short against the uptrend is closed on every ready bar, reversed at the flip up
        (
            -1,
            True,
            [*((i, EXIT) for i in range(14, 20)), (29, LONG), *((i, EXIT) for i in range(30, 36))],
        ),
        (0, False, [(29, LONG)]),
        (1, False, [(i, EXIT) for i in range(20, 29)]),
    ],
    ids=["flat", "long-held", "short-held", "flat-no-shorts", "long-held-no-shorts"],
)
def test_supertrend_with_constant_position_signals_per_rule(position, allow_short, expected):
    decisions = run(_strategy(allow_short), make_bars(UP_DOWN_UP), position)
    assert signals(decisions) == expected
    if position > 0:
        assert decisions[29].reason == "supertrend(3,1) flipped up, already long"
    if position < 0:
        assert decisions[20].reason == "supertrend(3,1) flipped down, already short"
        assert decisions[14].reason == "short: supertrend(3,1) up"


def test_supertrend_following_its_signals_reverses_on_each_flip():
    decisions = follow(_strategy(), make_bars(UP_DOWN_UP))
    assert signals(decisions) == [(20, SHORT), (29, LONG)]
    assert decisions[20].reason == "supertrend(3,1) flipped down"
    assert decisions[29].reason == "supertrend(3,1) flipped up"
    # broke 1.5 below the 117.5 band with an ATR(14) of 1.643: confidence 0.91
    assert decisions[20].confidence == pytest.approx(1.5 / decisions[20].indicators["atr"])
    assert 0.9 < decisions[20].confidence < 0.92
    assert set(decisions[20].indicators) == {"supertrend", "direction", "atr"}
    assert decisions[20].indicators["direction"] == -1.0


def test_supertrend_without_shorts_exits_a_long_on_the_flip_down():
    decisions = follow(_strategy(allow_short=False), make_bars(UP_DOWN_UP), position_qty=1)
    assert signals(decisions) == [(20, EXIT), (29, LONG)]
    assert run(_strategy(allow_short=False), make_bars(UP_DOWN_UP))[20].reason.endswith(
        "shorts disabled"
    )


def test_supertrend_with_trend_in_place_at_start_does_not_trade_it():
    decisions = run(_strategy(), make_bars([100.0 + i for i in range(40)]))
    assert signals(decisions) == []
    assert first_ready(decisions) == 14  # ATR 14 for sizing needs 15 bars


def test_supertrend_warmup_holds_not_ready_then_reports_line():
    strategy = SuperTrendStrategy()
    assert strategy.warmup_bars == 15
    decisions = run(strategy, make_bars(UP_DOWN_UP))
    assert [d.reason for d in decisions[:14]] == [NOT_READY_REASON] * 14
    assert decisions[14].reason == "supertrend(10,3) up"
    assert math.isfinite(decisions[14].indicators["supertrend"])


def test_supertrend_with_non_finite_bar_holds_and_keeps_state():
    bars = make_bars(UP_DOWN_UP)
    expected = run(_strategy(), bars)
    strategy, got = _strategy(), []
    for i, bar in enumerate(bars):
        if i == 18:
            bad = Bar(bar.symbol, bar.ts_ns, 60, bar.open, math.nan, bar.low, bar.close)
            assert strategy.on_bar(bad, 0).reason == BAD_BAR_REASON
        got.append(strategy.on_bar(bar, 0))
    assert got == expected


@pytest.mark.parametrize(("name", "timeframe_s"), [("NIFTY", 300), ("HDFCBANK", 60)])
def test_supertrend_with_real_bars_trades_on_pandas_ta_flips(real_bars, name, timeframe_s):
    bars = real_bars(name, timeframe_s)
    counts = trade_on_real_bars(SuperTrendStrategy(), bars)
    assert counts["long"] >= 20 and counts["short"] >= 20 and counts["exit"] >= 40, counts

    decisions = run(SuperTrendStrategy(), bars)
    frame = ta.supertrend(
        *(pd.Series([getattr(b, k) for b in bars]) for k in ("high", "low", "close")),
        length=10,
        multiplier=3.0,
    )
    direction = frame["SUPERTd_10_3.0"].to_numpy()
    ready = 14  # both the SuperTrend (11 bars) and ATR 14 (15 bars) ready from here
    flips = [int(i) for i in np.flatnonzero(np.diff(direction[ready:])) + ready + 1]
    kinds = [LONG if direction[i] > 0 else SHORT for i in flips]
    assert signals(decisions) == list(zip(flips, kinds, strict=True))
