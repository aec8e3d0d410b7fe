"""Kite's rate limits on a fake clock: exact waits, no busy loops, a hard daily cap."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from kitetui.brokers.ratelimit import (
    KiteRateLimits,
    RateLimitExceeded,
    SlidingWindow,
    TokenBucket,
)


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a limiter must never sleep for nothing (busy loop)"
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def limits(clock: FakeClock, **kwargs) -> KiteRateLimits:
    return KiteRateLimits(clock=clock, sleep=clock.sleep, **kwargs)


@pytest.mark.parametrize(
    ("rate", "burst", "takes_at", "probe_at", "expected_delay"),
    [
        (10, 10, [0.0] * 10, 0.0, 0.1),  # burst spent: one token takes 1/rate
        (10, 10, [0.0] * 9, 0.0, 0.0),  # one token left
        (1, 1, [0.0], 0.5, 0.5),  # half refilled
        (3, 1, [0.0], 1.0, 0.0),  # refill is capped at the burst, but one is back
        (2, 5, [0.0] * 5, 2.0, 0.0),  # 4 tokens back after 2 s
    ],
)
def test_token_bucket_with_takes_gives_delay(rate, burst, takes_at, probe_at, expected_delay):
    bucket = TokenBucket(rate, burst)
    for t in takes_at:
        bucket.take(t)
    assert bucket.delay(probe_at) == pytest.approx(expected_delay)


def test_token_bucket_refill_never_exceeds_burst():
    bucket = TokenBucket(5, 3)
    bucket.take(0.0)
    bucket.delay(100.0)
    assert bucket.tokens == 3


@pytest.mark.parametrize(
    ("limit", "window", "takes_at", "probe_at", "expected_delay"),
    [
        (10, 1.0, [0.0] * 10, 0.0, 1.0),
        (10, 1.0, [0.0] * 10, 0.4, 0.6),
        (10, 1.0, [0.0] * 10, 1.0, 0.0),  # the next calendar second
        (3, 1.0, [0.0, 0.5, 0.9], 0.95, 0.05),
        (400, 60.0, [i * 0.1 for i in range(400)], 39.9, 60.0 - 39.9),
    ],
)
def test_sliding_window_with_takes_gives_delay(limit, window, takes_at, probe_at, expected_delay):
    win = SlidingWindow(limit, window)
    for t in takes_at:
        win.take(t)
    assert win.delay(probe_at) == pytest.approx(expected_delay)


@pytest.mark.parametrize("bad", [(0, 1), (-1, 1), (float("nan"), 1), (1, 0)])
def test_token_bucket_with_bad_arguments_refuses(bad):
    with pytest.raises(ValueError):
        TokenBucket(*bad)


@pytest.mark.parametrize(
    ("kind", "count", "elapsed"),
    [
        ("order", 10, 0.0),
        ("order", 11, 1.0),
        ("order", 21, 2.0),
        ("quote", 1, 0.0),
        ("quote", 3, 2.0),
        ("historical", 3, 0.0),
        ("historical", 4, 1.0),
        ("historical", 7, 2.0),
        ("other", 10, 0.0),
        ("other", 11, 1.0),
    ],
)
async def test_acquire_with_count_waits_exactly(kind, count, elapsed):
    clock = FakeClock()
    rl = limits(clock)
    for _ in range(count):
        await rl.acquire(kind)
    assert clock.now - 1000.0 == pytest.approx(elapsed)
    # one sleep per blocked request at most: never a spin
    assert len(clock.sleeps) <= count


async def test_acquire_orders_per_minute_caps_at_400():
    clock = FakeClock()
    rl = limits(clock)
    for _ in range(400):
        await rl.acquire("order")
    assert clock.now - 1000.0 == pytest.approx(39.0)  # 10 a second
    await rl.acquire("order")
    assert clock.now - 1000.0 == pytest.approx(60.0)  # the minute window
    assert rl.orders_today == 401
    assert len(clock.sleeps) <= 41


async def test_acquire_kinds_are_independent():
    clock = FakeClock()
    rl = limits(clock)
    for _ in range(10):
        await rl.acquire("order")
    await rl.acquire("quote")
    await rl.acquire("historical")
    for _ in range(10):
        await rl.acquire("other")
    assert clock.now == 1000.0
    assert rl.delay("order") == pytest.approx(1.0)
    assert rl.delay("quote") == pytest.approx(1.0)
    assert rl.delay("historical") == 0.0


async def test_acquire_concurrent_waiters_all_served_within_limit():
    clock = FakeClock()
    rl = limits(clock)
    stamps: list[float] = []

    async def one() -> None:
        await rl.acquire("quote")
        stamps.append(clock.now)

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(4))), 5)
    assert sorted(stamps) == pytest.approx([1000.0, 1001.0, 1002.0, 1003.0])


async def test_daily_cap_refuses_without_waiting():
    clock = FakeClock()
    rl = limits(clock, orders_today=4999)
    await rl.acquire("order")
    assert rl.orders_today == 5000
    with pytest.raises(RateLimitExceeded, match="daily order limit"):
        await rl.acquire("order")
    assert clock.sleeps == []
    assert rl.orders_today == 5000
    await rl.acquire("other")  # other endpoints still work


async def test_daily_cap_resets_on_a_new_ist_day():
    clock = FakeClock()
    day = [date(2026, 11, 20)]
    rl = limits(clock, today=lambda: day[0], orders_per_day=2)
    await rl.acquire("order")
    await rl.acquire("order")
    with pytest.raises(RateLimitExceeded):
        await rl.acquire("order")
    day[0] = date(2026, 11, 21)
    assert rl.orders_today == 0
    await rl.acquire("order")
    assert rl.orders_today == 1


async def test_acquire_unknown_kind_refuses():
    rl = limits(FakeClock())
    with pytest.raises(ValueError, match="unknown rate-limit kind"):
        await rl.acquire("orders")
