"""RSI pullback: enters on the turn out of a dip in an uptrend (spike in a downtrend).

Crafted with fast 3, slow 8, RSI 3, dip 40, exit 80. ``UPTREND_DIP`` rises 2 a bar to
130 (RSI 100), pulls back 129 -> 127.5 -> 126 (RSI 80, 55, 38: below 40 at bar 18)
and turns up at bar 19 (127, RSI 53) with EMA3 127.0 > EMA8 125.6: LONG. The run that
follows lifts RSI to 83 at bar 21: EXIT. ``DOWNTREND_SPIKE`` is its mirror image
(300 - close), which gives SHORT at 19 and EXIT at 21.
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

from strategies.base import NOT_READY_REASON
from strategies.rsi_pullback import RsiPullbackStrategy

UPTREND_DIP = (
    [100.0 + 2 * i for i in range(16)]  # 0..15: up to 130
    + [129.0, 127.5, 126.0]  # 16..18: the pullback, RSI 38 at 18
    + [127.0, 129.0, 131.0, 134.0, 137.0]  # 19: the turn; 21: RSI 83
)
DOWNTREND_SPIKE = [300.0 - c for c in UPTREND_DIP]
# after the entry the trend breaks before RSI gets anywhere near 80
UPTREND_DIP_THEN_BREAK = [*UPTREND_DIP[:20], 126.0, 124.5, 123.0, 121.5]


def _strategy(**overrides) -> RsiPullbackStrategy:
    params = {"fast": 3, "slow": 8, "rsi_period": 3, "rsi_dip": 40.0, "rsi_exit": 80.0}
    return RsiPullbackStrategy.from_mapping({**params, **overrides})


def test_rsi_pullback_with_dip_in_uptrend_goes_long_on_the_turn_and_exits_on_rsi():
    decisions = follow(_strategy(), make_bars(UPTREND_DIP))
    assert signals(decisions) == [(19, LONG), (21, EXIT)]
    assert decisions[18].reason == "flat: rsi dipping, waiting for the turn"
    assert decisions[18].indicators["rsi"] < 40 <= decisions[19].indicators["rsi"]
    long = decisions[19]
    assert long.reason == "ema3>ema8, rsi back above 40 after a dip"
    ind = long.indicators
    assert set(ind) == {"ema_fast", "ema_slow", "rsi", "atr"}
    depth = (40 - decisions[18].indicators["rsi"]) / 20
    trend = (ind["ema_fast"] - ind["ema_slow"]) / ind["atr"]
    assert long.confidence == pytest.approx(0.5 * min(1.0, trend) + 0.5 * depth)
    assert decisions[21].reason == "long: rsi>80" and decisions[21].confidence == 1.0


def test_rsi_pullback_with_spike_in_downtrend_goes_short_on_the_turn():
    decisions = follow(_strategy(), make_bars(DOWNTREND_SPIKE))
    assert signals(decisions) == [(19, SHORT), (21, EXIT)]
    assert decisions[19].reason == "ema3<ema8, rsi back below 60 after a spike"
    assert decisions[21].reason == "short: rsi<20"
    # the mirror image scores the same
    up = follow(_strategy(), make_bars(UPTREND_DIP))
    assert decisions[19].confidence == pytest.approx(up[19].confidence)


def test_rsi_pullback_without_shorts_holds_on_the_spike():
    decisions = follow(_strategy(allow_short=False), make_bars(DOWNTREND_SPIKE))
    assert signals(decisions) == []
    assert decisions[19].reason.endswith("shorts disabled")


def test_rsi_pullback_with_trend_break_after_entry_exits_on_the_emas():
    decisions = follow(_strategy(), make_bars(UPTREND_DIP_THEN_BREAK))
    assert signals(decisions) == [(19, LONG), (22, EXIT)]
    exit_ = decisions[22]
    assert exit_.reason == "long: trend ended, ema3<=ema8"
    assert exit_.indicators["ema_fast"] <= exit_.indicators["ema_slow"]
    assert decisions[21].indicators["ema_fast"] > decisions[21].indicators["ema_slow"]


def test_rsi_pullback_ignores_a_spike_in_an_uptrend_and_a_dip_in_a_downtrend():
    # UPTREND_DIP's RSI falls from 100 through 60 at bar 17 (a spike ending) with the
    # trend up; DOWNTREND_SPIKE's rises through 40 at 17 with the trend down
    for closes in (UPTREND_DIP, DOWNTREND_SPIKE):
        decisions = follow(_strategy(), make_bars(closes))
        assert decisions[17].kind.value == "HOLD", decisions[17]
        assert decisions[17].reason == "flat: no pullback"


def test_rsi_pullback_holding_already_long_does_not_repeat_the_entry():
    decisions = run(_strategy(), make_bars(UPTREND_DIP), position_qty=1)
    # RSI is above 80 on bars 14-15 (100) and 21-23; the turn at 19 is not an entry
    assert signals(decisions) == [(14, EXIT), (15, EXIT), (21, EXIT), (22, EXIT), (23, EXIT)]
    assert decisions[19].reason == "long: waiting for rsi or trend exit"


def test_rsi_pullback_warmup_and_flat_prices_are_not_ready():
    assert RsiPullbackStrategy().warmup_bars == 50
    decisions = run(_strategy(), make_bars(UPTREND_DIP))
    assert first_ready(decisions) == 14  # ATR 14
    flat = run(_strategy(), make_bars([100.0] * 30, spread=0.0))
    assert all(d.reason == NOT_READY_REASON for d in flat)  # RSI 0/0


@pytest.mark.parametrize(("name", "timeframe_s"), [("NIFTY", 300), ("HDFCBANK", 60)])
def test_rsi_pullback_with_real_bars_trades(real_bars, name, timeframe_s):
    counts = trade_on_real_bars(RsiPullbackStrategy(), real_bars(name, timeframe_s))
    assert counts["long"] >= 20 and counts["short"] >= 20 and counts["exit"] >= 40, counts
