"""A strategy's column form decides exactly what ``on_bar`` decides (``strategies.columns``).

Bars are drawn with what makes the cases: long flat runs (the averages meet exactly,
a sign of 0), sharp turns (crosses both ways), non-finite prices (refused before the
indicators), chunks of any size, any position held. Every bar's decision from the
chunk's code must be ``on_bar``'s, field for field, and a bar-by-bar strategy handed
back at any bar must go on deciding as the one that saw every bar.
"""

from __future__ import annotations

import math
import random
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import Bar, SignalKind
from strategies.base import Strategy
from strategies.columns import DECIDE, FIRST_HOLD, HELD_LONG, HELD_SHORT, NOT_READY, ChunkPrices
from strategies.ema_cross import EmaCrossStrategy
from strategies.fno_intraday_trend import FnoIntradayTrendStrategy
from strategies.htf_trend import HtfTrendStrategy
from strategies.mean_reversion import MeanReversionStrategy
from strategies.rsi_pullback import RsiPullbackStrategy
from strategies.supertrend import SuperTrendStrategy
from strategies.vol_regime import VolRegimeStrategy
from strategies.vwap_filter import VwapFilterStrategy

STEPS = st.one_of(
    st.integers(-3, 3).map(float),  # the drift of a walk, in ticks a bar
    st.just(0.0),
    st.sampled_from([math.nan, math.inf]),  # a bad print
)


# A session's first minute, 09:15 IST, on 2024-01-01 in UTC nanoseconds.
FIRST_MINUTE = (1_704_067_200 + (9 * 60 + 15) * 60 - 19_800) * 10**9
MINUTE = 60 * 10**9
DAY = 86_400 * 10**9


@st.composite
def markets(draw: st.DrawFn) -> tuple[list[Bar], list[int]]:
    """Runs of 1-minute bars: a drift with or without noise (a noisy walk makes RSI dip
    and spike without pinning it at 0 or 100), flat stretches, bad prints; volumes that
    stop and start (a VWAP not ready yet); sessions of any length, minutes missing
    (the higher timeframe's buckets end early or late)."""
    runs = draw(
        st.lists(
            st.tuples(STEPS, st.integers(1, 40), st.integers(0, 3), st.sampled_from([0, 1, 500])),
            min_size=1,
            max_size=25,
        )
    )
    session = draw(st.sampled_from([375, 40, 9]))  # bars a day
    missing = draw(st.sampled_from([0.0, 0.1]))  # the chance a minute has no bar
    noise = random.Random(draw(st.integers(0, 2**32 - 1)))
    bars: list[Bar] = []
    price = 1000.0
    day = minute = 0
    for step, length, spread, volume in runs:
        for _ in range(length):
            while True:
                minute += 1
                if minute > session:
                    day, minute = day + 1, 1
                if noise.random() >= missing:
                    break
            ts = FIRST_MINUTE + day * DAY + (minute - 1) * MINUTE
            traded = noise.randint(0, volume)
            if not math.isfinite(step):
                bad = [price] * 4
                bad[noise.randrange(4)] = step
                bars.append(Bar("X", ts, 60, *bad, traded))
                continue
            opened = price
            ticks = step + noise.randint(-spread, spread)
            price = round(max(price + ticks * 0.05, 1.0), 2)
            high, low = max(opened, price) + 0.05, min(opened, price) - 0.05
            bars.append(Bar("X", ts, 60, opened, high, low, price, traded))
    positions = [noise.choice((-5, 0, 0, 5)) for _ in bars]
    return bars, positions


def _chunks(size: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = sorted({0, size, *(c % (size + 1) for c in cuts)})
    return list(pairwise(edges))


# The strategies with a column form, with short periods (so warm-up ends early and
# the drawn markets make crosses, dips and spikes).
STRATEGIES = {
    "ema_cross 3/7": EmaCrossStrategy.Params(fast=3, slow=7, allow_short=True),
    "ema_cross 5/12 long only": EmaCrossStrategy.Params(fast=5, slow=12, allow_short=False),
    "ema_cross 20/50": EmaCrossStrategy.Params(fast=20, slow=50, allow_short=True),
    "rsi_pullback 3/8 rsi 5": RsiPullbackStrategy.Params(
        fast=3, slow=8, rsi_period=5, rsi_dip=45.0, rsi_exit=60.0
    ),
    "rsi_pullback 5/12 rsi 3 long only": RsiPullbackStrategy.Params(
        fast=5, slow=12, rsi_period=3, rsi_dip=30.0, rsi_exit=80.0, allow_short=False
    ),
    "supertrend 3, 1": SuperTrendStrategy.Params(period=3, multiplier=1.0),
    "mean_reversion 5, 1.0": MeanReversionStrategy.Params(
        rsi_period=3, bb_period=5, bb_std=1.0, rsi_low=40.0, rsi_high=60.0, rsi_exit=55.0
    ),
    "mean_reversion 20 long only": MeanReversionStrategy.Params(allow_short=False),
    "supertrend 20, 0.5 long only": SuperTrendStrategy.Params(
        period=20, multiplier=0.5, allow_short=False
    ),
    "vol_regime 3/7 atr 40": VolRegimeStrategy.Params(
        fast=3, slow=7, atr_slow=40, min_ratio=0.9, max_ratio=1.1, exit_ratio=1.3
    ),
    "vol_regime 5/12 long only": VolRegimeStrategy.Params(
        fast=5,
        slow=12,
        atr_slow=30,
        min_ratio=0.95,
        max_ratio=1.05,
        exit_ratio=1.2,
        allow_short=False,
    ),
    "fno_intraday_trend 3/8 adx 3": FnoIntradayTrendStrategy.Params(
        fast=3, slow=8, adx_period=3, adx_min=20.0, breakout=5, exit_period=3
    ),
    "fno_intraday_trend 5/12 long only": FnoIntradayTrendStrategy.Params(
        fast=5, slow=12, adx_period=5, adx_min=10.0, breakout=8, exit_period=4, allow_short=False
    ),
    "htf_trend 15m 2/4, 3/7": HtfTrendStrategy.Params(
        htf_minutes=15, htf_fast=2, htf_slow=4, fast=3, slow=7
    ),
    "htf_trend 60m 2/3, 5/12 long only": HtfTrendStrategy.Params(
        htf_minutes=60, htf_fast=2, htf_slow=3, fast=5, slow=12, allow_short=False
    ),
    "vwap_filter 3/7, 2 opening bars": VwapFilterStrategy.Params(fast=3, slow=7, session_bars=2),
    "vwap_filter 5/12 long only": VwapFilterStrategy.Params(
        fast=5, slow=12, session_bars=0, allow_short=False
    ),
}


def _strategy(params: Strategy.Params) -> Strategy:
    for cls in (
        EmaCrossStrategy,
        RsiPullbackStrategy,
        SuperTrendStrategy,
        MeanReversionStrategy,
        VolRegimeStrategy,
        FnoIntradayTrendStrategy,
        HtfTrendStrategy,
        VwapFilterStrategy,
    ):
        if type(params) is cls.Params:
            return cls(params)
    raise AssertionError(params)


def _state(strategy: Strategy) -> dict[str, object]:
    """A strategy's whole state, comparable: its attributes, an indicator's slots, a
    nan as a word (nan != nan)."""

    def plain(value: object) -> object:
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        slots = getattr(type(value), "__slots__", None)
        if slots and not isinstance(value, str | tuple):
            return tuple(plain(getattr(value, name)) for name in slots)
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return {name: plain(value) for name, value in vars(strategy).items()}


def _prices(bars: list[Bar]) -> ChunkPrices:
    """The bars as the cursor hands them to a decider (``engines.column_cursor``)."""

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array([getattr(bar, name) for bar in bars], dtype=dtype)

    prices = (column(name, np.float64) for name in ("open", "high", "low", "close"))
    return ChunkPrices("X", *prices, column("ts_ns", np.int64), column("volume", np.int32), 60)


@settings(max_examples=400, deadline=None)
@given(
    markets(),
    st.lists(st.integers(0, 10_000), max_size=6),
    st.sampled_from(sorted(STRATEGIES)),
)
def test_column_forms_decide_as_on_bar(market, cuts, name) -> None:
    bars, positions = market
    params = STRATEGIES[name]
    reference = _strategy(params)
    decider = _strategy(params).column_decider()
    assert decider is not None
    assert len(decider.held) == len(decider.reasons)
    for start, stop in _chunks(len(bars), cuts):
        part = bars[start:stop]
        chunk = decider.decide(_prices(part))
        assert len(chunk.codes) == len(part)
        for offset, bar in enumerate(part):
            held = positions[start + offset]
            expected = reference.on_bar(bar, held)
            code = chunk.codes[offset]
            assert chunk.decision(offset, held) == expected
            assert chunk.indicators(offset) == expected.indicators
            if code == NOT_READY:
                assert expected.reason == "indicators not ready"
            elif code >= FIRST_HOLD:  # a HOLD for the code's reason, flat and as it says
                reason = code - FIRST_HOLD
                flat = chunk.decision(offset, 0)
                assert flat.kind is SignalKind.HOLD
                assert flat.reason == decider.reasons[reason]
                side = HELD_LONG if held > 0 else HELD_SHORT
                if not held or decider.held[reason] & side:  # the engine counts it a HOLD
                    assert expected == flat
            else:
                assert code == DECIDE


@settings(max_examples=300, deadline=None)
@given(
    markets(),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.sampled_from(sorted(STRATEGIES)),
)
def test_handed_back_at_any_bar_decides_on_as_the_one_that_saw_every_bar(
    market, cut, at, name
) -> None:
    bars, positions = market
    params = STRATEGIES[name]
    cut %= len(bars) + 1
    decider = _strategy(params).column_decider()
    assert decider is not None
    if cut:
        decider.decide(_prices(bars[:cut]))
    rest = bars[cut:]
    if not rest:
        return
    chunk = decider.decide(_prices(rest))
    offset = at % (len(rest) + 1) - 1  # -1: handed back before the chunk's first bar
    handed = chunk.strategy_after(offset)
    reference = _strategy(params)
    for bar in bars[: cut + offset + 1]:
        reference.on_bar(bar, 0)
    assert _state(handed) == _state(reference)  # every indicator and every mark
    for index, bar in enumerate(bars[cut + offset + 1 :], start=cut + offset + 1):
        held = positions[index]
        assert handed.on_bar(bar, held) == reference.on_bar(bar, held)
