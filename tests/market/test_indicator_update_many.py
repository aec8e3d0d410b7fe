"""``update_many`` is ``update`` a chunk at a time: the same floats, bit for bit."""

from __future__ import annotations

import math
import random

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
