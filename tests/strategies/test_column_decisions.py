"""A strategy's column form decides exactly what ``on_bar`` decides (``strategies.columns``).

Bars are drawn with what makes the cases: long flat runs (the averages meet exactly,
a sign of 0), sharp turns (crosses both ways), non-finite prices (refused before the
indicators), chunks of any size, any position held. Every bar's decision from the
chunk's code must be ``on_bar``'s, field for field, and a bar-by-bar strategy handed
back at any bar must go on deciding as the one that saw every bar.
"""

from __future__ import annotations

import math
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import Bar, SignalKind
from strategies.columns import DECIDE, FIRST_HOLD, NOT_READY, ChunkPrices
from strategies.ema_cross import EmaCrossStrategy

STEPS = st.one_of(
    st.integers(-3, 3).map(float),  # ticks of a walk
    st.just(0.0),
    st.sampled_from([math.nan, math.inf]),  # a bad print
)


@st.composite
def markets(draw: st.DrawFn) -> tuple[list[tuple[float, float, float, float]], list[int]]:
    runs = draw(st.lists(st.tuples(STEPS, st.integers(1, 40)), min_size=1, max_size=25))
    bars: list[tuple[float, float, float, float]] = []
    price = 1000.0
    for step, length in runs:
        for _ in range(length):
            if not math.isfinite(step):
                bad = [price] * 4
                bad[draw(st.integers(0, 3))] = step
                bars.append((bad[0], bad[1], bad[2], bad[3]))
                continue
            opened = price
            price = round(price + step * 0.05, 2)
            bars.append((opened, max(opened, price) + 0.05, min(opened, price) - 0.05, price))
    positions = draw(st.lists(st.sampled_from([-5, 0, 5]), min_size=len(bars), max_size=len(bars)))
    return bars, positions


def _bar(o: float, h: float, lo: float, c: float) -> Bar:
    return Bar("X", 0, 60, o, h, lo, c)


def _chunks(size: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = sorted({0, size, *(c % (size + 1) for c in cuts)})
    return list(pairwise(edges))


@settings(max_examples=300, deadline=None)
@given(
    markets(),
    st.lists(st.integers(0, 10_000), max_size=6),
    st.sampled_from([(3, 7), (5, 12), (20, 50)]),
    st.booleans(),
)
def test_ema_cross_columns_decide_as_on_bar(market, cuts, periods, shorts) -> None:
    bars, positions = market
    fast, slow = periods
    params = EmaCrossStrategy.Params(fast=fast, slow=slow, allow_short=shorts)
    reference = EmaCrossStrategy(params)
    decider = EmaCrossStrategy(params).column_decider()
    for start, stop in _chunks(len(bars), cuts):
        part = bars[start:stop]
        chunk = decider.decide(
            ChunkPrices.of(*(list(column) for column in zip(*part, strict=True)))
        )
        assert len(chunk.codes) == len(part)
        for offset, ohlc in enumerate(part):
            held = positions[start + offset]
            expected = reference.on_bar(_bar(*ohlc), held)
            code = chunk.codes[offset]
            assert chunk.decision(offset, held) == expected
            if code == NOT_READY:
                assert expected.reason == "indicators not ready"
            elif code >= FIRST_HOLD:  # a HOLD whatever the position
                assert expected.kind is SignalKind.HOLD
                assert expected.reason == decider.reasons[code - FIRST_HOLD]
                for other in (-5, 0, 5):
                    assert chunk.decision(offset, other) == expected
            else:
                assert code == DECIDE


@settings(max_examples=150, deadline=None)
@given(markets(), st.integers(0, 10_000), st.integers(0, 10_000))
def test_ema_cross_handed_back_at_any_bar_decides_on_as_the_one_that_saw_every_bar(
    market, cut, at
) -> None:
    bars, positions = market
    params = EmaCrossStrategy.Params(fast=3, slow=7, allow_short=False)
    cut %= len(bars) + 1
    decider = EmaCrossStrategy(params).column_decider()
    if cut:
        decider.decide(ChunkPrices.of(*(list(column) for column in zip(*bars[:cut], strict=True))))
    rest = bars[cut:]
    if not rest:
        return
    chunk = decider.decide(ChunkPrices.of(*(list(column) for column in zip(*rest, strict=True))))
    offset = at % (len(rest) + 1) - 1  # -1: handed back before the chunk's first bar
    handed = chunk.strategy_after(offset)
    reference = EmaCrossStrategy(params)
    for ohlc in bars[: cut + offset + 1]:
        reference.on_bar(_bar(*ohlc), 0)
    for index, ohlc in enumerate(bars[cut + offset + 1 :], start=cut + offset + 1):
        held = positions[index]
        assert handed.on_bar(_bar(*ohlc), held) == reference.on_bar(_bar(*ohlc), held)
