"""``update_many`` is ``update`` a chunk at a time: the same floats, bit for bit."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from kitetui.market.indicators import ATR, EMA


def _series(seed: int, size: int) -> tuple[list[float], list[float], list[float]]:
    rng = random.Random(seed)
    closes, highs, lows = [], [], []
    price = 100.0
    for _ in range(size):
        price *= math.exp(rng.gauss(0.0, 0.01))
        high, low = price * (1 + rng.random() / 100), price * (1 - rng.random() / 100)
        if rng.random() < 0.02:  # the non-finite prints update skips
            price_out = rng.choice([math.nan, math.inf, -math.inf])
            closes.append(price_out)
        else:
            closes.append(price)
        highs.append(high if rng.random() > 0.01 else math.nan)
        lows.append(low if rng.random() > 0.05 else high)  # a zero range sometimes
    return closes, highs, lows


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        (x != x and y != y) or x == y for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("period", [1, 2, 14, 50])
@pytest.mark.parametrize("seed", range(5))
def test_ema_update_many_matches_update_in_chunks(period: int, seed: int) -> None:
    closes, _, _ = _series(seed, 400)
    one, many = EMA(period), EMA(period)
    expected = [one.update(close) for close in closes]
    got: list[float] = []
    for start in range(0, len(closes), 37):  # chunk edges anywhere, the warm-up too
        got += many.update_many(closes[start : start + 37])
    assert _same(got, expected)
    assert _same([many.update(1.5), many.value], [one.update(1.5), one.value])
    assert many.ready == one.ready


@pytest.mark.parametrize("period", [1, 3, 14])
@pytest.mark.parametrize("seed", range(5))
def test_atr_update_many_matches_update_in_chunks(period: int, seed: int) -> None:
    closes, highs, lows = _series(seed, 400)
    one, many = ATR(period), ATR(period)
    expected = list(map(one.update, highs, lows, closes))
    got: list[float] = []
    for start in range(0, len(closes), 29):
        stop = start + 29
        got += many.update_many(highs[start:stop], lows[start:stop], closes[start:stop])
    assert _same(got, expected)
    assert _same([many.update(101.0, 99.0, 100.0)], [one.update(101.0, 99.0, 100.0)])
    assert many.ready == one.ready


def _finite_series(seed: int, size: int) -> tuple[list[float], list[float], list[float]]:
    """Finite prices on a tick grid (a zero range, a close at the high or the low, a
    gap past the previous close: every branch of the true range), with every
    ``_series`` quirk but the non-finite prints."""
    rng = random.Random(seed)
    closes, highs, lows = [], [], []
    price = 100.0
    for _ in range(size):
        price = round(price * math.exp(rng.gauss(0.0, 0.01)) / 0.05) * 0.05
        high = price + rng.choice([0.0, 0.05, 0.35, 1.1])
        low = price - rng.choice([0.0, 0.05, 0.4, 1.3])
        if rng.random() < 0.1:
            low = high  # a zero range: epsilon
        closes.append(price)
        highs.append(high)
        lows.append(low)
    return closes, highs, lows


@pytest.mark.parametrize("period", [1, 2, 14, 50])
@pytest.mark.parametrize("chunk", [1, 37, 400])
def test_ema_update_many_on_finite_chunks_is_update_bit_for_bit(period: int, chunk: int) -> None:
    """All-finite chunks take the comprehension (``_smoothed``), the seed split across
    chunk edges anywhere; a chunk with a nan after them goes close by close again."""
    closes, _, _ = _finite_series(period * 7 + chunk, 400)
    closes += [math.nan, 101.0, math.inf, 102.5]
    one, many = EMA(period), EMA(period)
    expected = [one.update(close) for close in closes]
    got: list[float] = []
    for start in range(0, len(closes), chunk):
        got += many.update_many(closes[start : start + chunk])
    assert _same(got, expected) and got[-1] == expected[-1]
    assert all(type(value) is float for value in got)
    assert many.ready == one.ready and many.value == one.value


@pytest.mark.parametrize("period", [1, 3, 14])
@pytest.mark.parametrize("chunk", [1, 29, 400])
@pytest.mark.parametrize("as_arrays", [False, True])
def test_atr_true_ranges_from_numpy_are_update_s_bit_for_bit(
    period: int, chunk: int, as_arrays: bool
) -> None:
    """Finite chunks (as lists, or float64 arrays like a column form's) take their true
    ranges from numpy and smooth in one comprehension: every value is ``update``'s
    float, from the first bar (no range) through the seed to the end, and a chunk
    with a non-finite price afterwards goes bar by bar from the same state."""
    closes, highs, lows = _finite_series(period * 11 + chunk, 400)
    closes[397], highs[398] = math.nan, math.inf
    one, many = ATR(period), ATR(period)
    expected = list(map(one.update, highs, lows, closes))
    got: list[float] = []
    for start in range(0, len(closes), chunk):
        stop = start + chunk
        columns = [highs[start:stop], lows[start:stop], closes[start:stop]]
        if as_arrays:
            columns = [np.array(column) for column in columns]
        got += many.update_many(*columns)
    assert _same(got, expected) and math.isnan(got[0]) and got[-1] == expected[-1]
    assert all(type(value) is float for value in got)
    assert _same([many.update(101.0, 99.0, 100.0)], [one.update(101.0, 99.0, 100.0)])
    assert many.ready == one.ready


def test_atr_update_many_refuses_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        ATR(3).update_many([1.0, 2.0], [0.5], [1.0, 1.5])


def test_update_many_takes_any_iterable_of_prices() -> None:
    """Generators, as well as lists and arrays: the same values as ``update``."""
    closes, highs, lows = _finite_series(3, 60)
    one, many = ATR(5), ATR(5)
    expected = list(map(one.update, highs, lows, closes))
    got = many.update_many(iter(highs), (low for low in lows), iter(closes))
    assert _same(got, expected)
    ema_one, ema_many = EMA(4), EMA(4)
    assert ema_many.update_many(iter(closes)) == [ema_one.update(c) for c in closes]
