"""The contract every registered strategy keeps with the engine, on any bars at all.

Hypothesis draws bar sequences (trends, flat stretches, zero ranges, gaps across
sessions, non-finite prices) and positions, and every strategy, with small periods so
it is ready early, must: never raise; answer a non-finite bar with the bad-bar HOLD
and carry on as if it never came; never ask to go long when long, short when short,
or exit when flat; keep confidence in [0, 1] (0 on a HOLD); carry a finite ``atr``
on every ready decision and a ``size_scale`` in (0, 1] when it has one.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from strategy_support import EXIT, HOLD, LONG, SHORT, T0, make_bars

from kitetui.domain import NS_PER_MINUTE, Bar
from strategies.base import BAD_BAR_REASON, NOT_READY_REASON
from strategies.registry import get_strategy, strategy_names

SMALL = {
    "ema_cross": {"fast": 2, "slow": 5},
    "mean_reversion": {"rsi_period": 3, "bb_period": 5},
    "fno_intraday_trend": {"fast": 2, "slow": 5, "adx_period": 3, "breakout": 3, "exit_period": 2},
    "rsi_pullback": {"fast": 2, "slow": 5, "rsi_period": 3},
    "vwap_filter": {"fast": 2, "slow": 5, "session_bars": 1},
    "vol_regime": {"fast": 2, "slow": 5, "atr_slow": 20},
    "htf_trend": {"htf_fast": 2, "htf_slow": 3, "fast": 2, "slow": 5},
    "supertrend": {"period": 3, "multiplier": 1.0},
}

_steps = hs.lists(
    hs.tuples(
        hs.integers(-20, 20).map(lambda k: k / 4),  # close change
        hs.sampled_from([1.0, 0.0, 0.1, 3.0]),  # half range
        hs.sampled_from([0, 0, 0, 0, 1, 400]),  # minutes skipped (400: a new session)
        hs.sampled_from([1_000, 0, 50_000]),  # volume
        hs.integers(-1, 1),  # the position the engine reports
        hs.sampled_from([None] * 12 + [math.nan, math.inf]),  # a bad close now and then
    ),
    min_size=1,
    max_size=160,
)


def _check(strategy, twin, steps) -> None:
    close, ts = 1000.0, T0
    for change, half_range, skipped, volume, position, bad in steps:
        close = max(1.0, close + change)
        ts += (1 + skipped) * NS_PER_MINUTE
        bar = Bar("X", ts, 60, close, close + half_range, close - half_range, close, volume)
        if bad is not None:
            broken = Bar("X", ts, 60, close, close + half_range, close - half_range, bad)
            assert strategy.on_bar(broken, position) == (HOLD, BAD_BAR_REASON, 0.0, {})
        decision = strategy.on_bar(bar, position)
        assert decision == twin.on_bar(bar, position)  # the bad bar left no trace
        kind = decision.kind
        assert 0.0 <= decision.confidence <= 1.0
        if kind is HOLD:
            assert decision.confidence == 0.0
        assert not (kind is LONG and position > 0), decision
        assert not (kind is SHORT and position < 0), decision
        assert not (kind is EXIT and position == 0), decision
        if decision.reason != NOT_READY_REASON:
            assert math.isfinite(decision.indicators["atr"]), decision
            scale = decision.indicators.get("size_scale", 1.0)
            assert 0.0 < scale <= 1.0


def test_contract_covers_every_registered_strategy():
    assert set(SMALL) == set(strategy_names())


@pytest.mark.parametrize("name", sorted(SMALL))
@settings(max_examples=40, deadline=None)
@given(steps=_steps)
def test_strategy_with_any_bars_keeps_the_engine_contract(name, steps):
    cls = get_strategy(name)
    _check(cls.from_mapping(SMALL[name]), cls.from_mapping(SMALL[name]), steps)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_strategy_with_long_random_walk_keeps_the_engine_contract(name):
    """A seeded 3,000-bar walk: every signal kind meets every position many times."""
    rng = random.Random(name)
    steps = [
        (
            rng.choice([-3.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0]),
            rng.choice([0.0, 0.5, 2.0]),
            400 if rng.random() < 0.01 else 0,
            rng.choice([0, 1_000]),
            rng.choice([-1, 0, 1]),
            rng.choice([None] * 30 + [math.nan]),
        )
        for _ in range(3_000)
    ]
    cls = get_strategy(name)
    strategy = cls.from_mapping(SMALL[name])
    _check(strategy, cls.from_mapping(SMALL[name]), steps)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_strategy_with_flat_bars_never_signals(name):
    strategy = get_strategy(name).from_mapping(SMALL[name])
    for decision in (strategy.on_bar(bar, 0) for bar in make_bars([100.0] * 200)):
        assert decision.kind is HOLD, (name, decision)
