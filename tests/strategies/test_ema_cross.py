"""EMA cross as the seeds' "EMA 20/50 intraday": its defaults are that strategy.

``FALL_THEN_JUMP`` falls 1 a bar from 1200 for 60 bars: on a straight line an SMA-seeded
EMA(n) lags by (n - 1) / 2, so at bar 59 (close 1141) EMA 20 is 1150.5 and EMA 50
1165.5. The jump to 1500 at bar 60 moves EMA 20 by 2/21 of 349.5 (to 1183.8) and EMA
50 by 2/51 of 334.5 (to 1178.6): the up-cross is on that bar. ``RISE_THEN_DROP`` is the
mirror image (up from 1000, EMAs 1049.5 / 1034.5, a drop to 700: 1016.2 / 1021.4).
"""

from __future__ import annotations

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

from strategies.ema_cross import EmaCrossStrategy
from strategies.registry import get_strategy

FALL_THEN_JUMP = [1200.0 - i for i in range(60)] + [1500.0] * 5
RISE_THEN_DROP = [1000.0 + i for i in range(60)] + [700.0] * 5


def test_ema_cross_defaults_are_the_seed_20_50_pair():
    strategy = get_strategy("ema_cross").from_mapping({})
    assert (strategy.params.fast, strategy.params.slow) == (20, 50)
    assert strategy.params.allow_short is True
    assert strategy.warmup_bars == 50


@pytest.mark.parametrize(
    ("closes", "kind", "reason"),
    [
        (FALL_THEN_JUMP, LONG, "ema20 crossed above ema50"),
        (RISE_THEN_DROP, SHORT, "ema20 crossed below ema50"),
    ],
)
def test_ema_cross_20_50_with_jump_signals_on_that_bar(closes, kind, reason):
    decisions = follow(EmaCrossStrategy(), make_bars(closes))
    assert first_ready(decisions) == 49
    assert signals(decisions) == [(60, kind)]
    assert decisions[60].reason == reason
    ind = decisions[60].indicators
    fast, slow = (1183.79, 1178.62) if kind is LONG else (1016.21, 1021.38)
    assert (ind["ema_fast"], ind["ema_slow"]) == pytest.approx((fast, slow), abs=0.01)
    assert 0.0 < decisions[60].confidence <= 1.0


def test_ema_cross_20_50_without_shorts_exits_a_long_on_the_down_cross():
    strategy = EmaCrossStrategy.from_mapping({"allow_short": False})
    assert signals(run(strategy, make_bars(RISE_THEN_DROP), position_qty=1)) == [(60, EXIT)]


@pytest.mark.parametrize(("name", "timeframe_s"), [("NIFTY", 300), ("BANKNIFTY", 300)])
def test_ema_cross_20_50_with_real_5_minute_bars_trades(real_bars, name, timeframe_s):
    counts = trade_on_real_bars(EmaCrossStrategy(), real_bars(name, timeframe_s))
    assert counts["long"] >= 20 and counts["short"] >= 20 and counts["exit"] >= 40, counts
