"""Volatility regime: EMA crosses traded only in a NORMAL regime, sized by it.

Crafted with fast 2, slow 4 and a 60-bar baseline ATR. ``CALM`` is 70 bars flat at
100 (every true range 1.0: ratio exactly 1, EMAs equal, no sign), then 99.6 (the
first sign: a start, not a cross) and 100.4 at bar 71: the up-cross, in a ratio of
1.016. ``SHOCK`` then keeps the close at 100.4 with a 12-point range, which lifts
ATR 14 far faster than the baseline (ratio 1.5 at bar 72, 2.41 at bar 77), then drops
to 99 at bar 84: a down-cross in the shock regime.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from strategy_support import (
    EXIT,
    HOLD,
    LONG,
    SHORT,
    T0,
    first_ready,
    follow,
    make_bars,
    run,
    signals,
    trade_on_real_bars,
)

from kitetui.domain import NS_PER_MINUTE
from strategies.vol_regime import VolRegimeStrategy

CALM = make_bars([100.0] * 70 + [99.6, 100.4])  # bars 0..71
SHOCK = make_bars([100.4] * 12 + [99.0, 98.0], spread=6.0, start_ns=T0 + 72 * NS_PER_MINUTE)


def _strategy(**overrides) -> VolRegimeStrategy:
    return VolRegimeStrategy.from_mapping({"fast": 2, "slow": 4, "atr_slow": 60, **overrides})


def test_vol_regime_with_cross_in_normal_regime_goes_long_with_size_scale():
    decisions = follow(_strategy(), CALM)
    assert signals(decisions) == [(71, LONG)]
    long = decisions[71]
    assert long.reason == "ema2 crossed above ema4, regime normal"
    ind = long.indicators
    # ATR 14: (13 * 1.0 + 1.3) / 14; baseline: (59 * 1.0 + 1.3) / 60
    assert ind["vol_ratio"] == pytest.approx((14.3 / 14) / (60.3 / 60))
    assert ind["size_scale"] == pytest.approx(1.0 / ind["vol_ratio"])
    assert long.confidence == pytest.approx((100.4 - ind["ema_slow"]) / ind["atr"])
    assert first_ready(decisions) == 60  # the baseline ATR 60 needs 61 bars


@pytest.mark.parametrize(
    ("overrides", "regime"),
    [({"max_ratio": 1.01}, "shock"), ({"min_ratio": 1.05}, "compressed")],
)
def test_vol_regime_with_cross_outside_normal_regime_skips_it(overrides, regime):
    decisions = follow(_strategy(**overrides), CALM)
    assert signals(decisions) == []
    skipped = decisions[71]
    assert skipped.kind is HOLD
    assert skipped.reason == f"ema2 crossed above ema4, skipped: regime {regime} (1.02)"


def test_vol_regime_with_cross_against_a_short_in_bad_regime_still_exits():
    decisions = run(_strategy(max_ratio=1.01), CALM, position_qty=-1)
    assert signals(decisions) == [(71, EXIT)]
    assert run(_strategy(), CALM, position_qty=-1)[71].kind is LONG  # normal: reverses


def test_vol_regime_with_volatility_shock_exits_and_skips_crosses():
    decisions = follow(_strategy(exit_ratio=2.4), CALM + SHOCK)
    assert signals(decisions) == [(71, LONG), (77, EXIT)]
    assert decisions[76].indicators["vol_ratio"] <= 2.4 < decisions[77].indicators["vol_ratio"]
    assert decisions[77].reason == "volatility shock: atr/baseline>2.4"
    assert decisions[84].reason == "ema2 crossed below ema4, skipped: regime shock (2.47)"
    assert decisions[74].reason == "no cross, regime shock"
    for d in decisions[60:]:
        ratio, scale = d.indicators["vol_ratio"], d.indicators["size_scale"]
        assert scale == (1.0 if ratio <= 1.0 else 1.0 / ratio)


def test_vol_regime_without_shorts_exits_a_long_on_the_down_cross():
    bars = [*CALM, *make_bars([99.0], start_ns=T0 + 72 * NS_PER_MINUTE)]
    decisions = follow(_strategy(allow_short=False), bars)
    assert signals(decisions) == [(71, LONG), (72, EXIT)]
    assert signals(follow(_strategy(), bars)) == [(71, LONG), (72, SHORT)]


@pytest.mark.parametrize(
    "params",
    [
        {"min_ratio": 2.0, "max_ratio": 2.0},
        {"min_ratio": 1.5, "max_ratio": 1.2},
        {"max_ratio": 3.0, "exit_ratio": 2.5},
        {"atr_slow": 14},
        {"max_ratio": 11.0},
        {"exit_ratio": math.inf},
    ],
)
def test_vol_regime_params_with_unordered_or_unbounded_ratios_are_rejected(params):
    with pytest.raises(ValidationError):
        VolRegimeStrategy.Params.model_validate(params)


@pytest.mark.parametrize(("name", "timeframe_s"), [("NIFTY", 300), ("HDFCBANK", 60)])
def test_vol_regime_with_real_bars_trades_and_scales(real_bars, name, timeframe_s):
    strategy = VolRegimeStrategy()
    bars = real_bars(name, timeframe_s)
    counts = trade_on_real_bars(strategy, bars)
    assert counts["long"] >= 50 and counts["short"] >= 50 and counts["exit"] >= 100, counts
    entries = [
        d for d in run(VolRegimeStrategy(), bars) if d.kind in (LONG, SHORT)
    ]  # flat all along: every cross in a normal regime is an entry
    ratios = [d.indicators["vol_ratio"] for d in entries]
    assert all(0.8 <= r <= 2.0 for r in ratios)
    scaled = [d.indicators["size_scale"] for d in entries if d.indicators["size_scale"] < 1.0]
    assert 0 < len(scaled) < len(entries), "some entries, not all, in an above-baseline regime"
