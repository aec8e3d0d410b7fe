"""Kite's rate limits on a fake clock: exact waits, no busy loops, a hard daily cap."""

from __future__ import annotations

import asyncio
import random
from datetime import date

import pytest
from limit_helpers import SteppedClock

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
    await rl.acquire("order", urgent=True)  # the last one of the day (the reserve's)
    assert rl.orders_today == 5000
    with pytest.raises(RateLimitExceeded, match="daily order limit"):
        await rl.acquire("order", urgent=True)
    assert clock.sleeps == []
    assert rl.orders_today == 5000
    await rl.acquire("other")  # other endpoints still work


async def test_daily_cap_resets_on_a_new_ist_day():
    clock = FakeClock()
    day = [date(2026, 11, 20)]
    rl = limits(clock, today=lambda: day[0], orders_per_day=2, urgent_reserve=0)
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


# ------------------------------------------------------------------ urgent requests first


def stepped(clock: SteppedClock, **kwargs) -> KiteRateLimits:
    defaults = {"orders_per_second": 2, "orders_per_minute": 400}
    return KiteRateLimits(clock=clock, sleep=clock.sleep, **(defaults | kwargs))


def start(rl: KiteRateLimits, sent: list[str], name: str, kind: str, urgent: bool):
    async def go() -> None:
        await rl.acquire(kind, urgent=urgent)
        sent.append(name)

    return asyncio.ensure_future(go())


async def test_acquire_with_entries_queued_lets_a_later_stop_go_first():
    """Two slots a second, both spent; three entries queue, then a stop arrives half a
    second later: it takes the next slot, ahead of every entry (it waited behind all
    three before: 1.5 s naked on a 2/s window, a minute on a full 400/min one)."""
    clock = SteppedClock()
    rl = stepped(clock)
    await rl.acquire("order")
    await rl.acquire("order")
    sent: list[str] = []
    tasks = [start(rl, sent, f"entry{i}", "order", False) for i in (1, 2, 3)]
    await clock.advance_to(1000.5)
    assert sent == []
    tasks.append(start(rl, sent, "stop", "order", True))
    await clock.advance_to(1003.0)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert sent == ["stop", "entry1", "entry2", "entry3"]
    assert rl.orders_today == 6


async def test_acquire_urgent_requests_keep_their_arrival_order():
    clock = SteppedClock()
    rl = stepped(clock)
    await rl.acquire("order")
    await rl.acquire("order")
    sent: list[str] = []
    tasks = [start(rl, sent, "entry", "order", False)]
    tasks += [start(rl, sent, name, "order", True) for name in ("stop", "exit", "flatten")]
    await clock.advance_to(1000.2)
    tasks.append(start(rl, sent, "square-off", "order", True))
    await clock.advance_to(1004.0)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert sent == ["stop", "exit", "flatten", "square-off", "entry"]


async def test_acquire_modify_of_an_entry_does_not_jump_ahead_of_a_stop():
    """Modifications share the placements' windows and their queue: an ordinary one
    (an entry re-priced) waits behind a stop that arrived after it; an urgent one (a
    stop trailed) goes ahead of queued entries."""
    clock = SteppedClock()
    rl = stepped(clock)
    await rl.acquire("order")
    await rl.acquire("modify")
    sent: list[str] = []
    tasks = [
        start(rl, sent, "entry modify", "modify", False),
        start(rl, sent, "entry", "order", False),
    ]
    await clock.advance_to(1000.3)
    tasks.append(start(rl, sent, "stop", "order", True))
    tasks.append(start(rl, sent, "stop trail", "modify", True))
    await clock.advance_to(1003.0)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert sent == ["stop", "stop trail", "entry modify", "entry"]
    assert rl.orders_today == 3  # a modification is not a day's order


async def test_acquire_urgent_cancel_goes_ahead_of_queued_reads():
    clock = SteppedClock()
    rl = stepped(clock, others_per_second=1)
    await rl.acquire("other")
    sent: list[str] = []
    tasks = [start(rl, sent, f"read{i}", "other", False) for i in (1, 2)]
    await clock.advance_to(1000.9)
    tasks.append(start(rl, sent, "cancel", "other", True))
    await clock.advance_to(1004.0)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert sent == ["cancel", "read1", "read2"]


async def test_acquire_with_waiter_cancelled_passes_its_turn_on():
    """A placement given up while it waits (its task cancelled) leaves the queue: the
    next one is served when the window frees, not never."""
    clock = SteppedClock()
    rl = stepped(clock, orders_per_second=1)
    await rl.acquire("order")
    sent: list[str] = []
    first = start(rl, sent, "entry1", "order", False)
    second = start(rl, sent, "entry2", "order", False)
    await clock.advance_to(1000.5)
    first.cancel()
    await clock.advance_to(1002.0)
    await asyncio.wait_for(second, 5)
    assert sent == ["entry2"]
    assert first.cancelled()


async def test_acquire_answers_how_long_it_waited():
    clock = SteppedClock()
    rl = stepped(clock)
    assert await rl.acquire("order") == 0.0
    await rl.acquire("order")
    waiting = asyncio.ensure_future(rl.acquire("order", urgent=True))
    await clock.advance_to(1002.0)
    assert await asyncio.wait_for(waiting, 5) == pytest.approx(1.0)


async def test_daily_reserve_refuses_entries_and_lets_an_exit_through():
    clock = FakeClock()
    rl = limits(clock, orders_today=4899)
    assert rl.urgent_reserve == 100
    await rl.acquire("order")  # the 4,900th: the last an ordinary order may spend
    with pytest.raises(RateLimitExceeded, match=r"4,900 of 5,000 .* last 100 are kept"):
        await rl.acquire("order")
    assert rl.orders_today == 4900
    for _ in range(100):
        await rl.acquire("order", urgent=True)
    assert rl.orders_today == 5000
    with pytest.raises(RateLimitExceeded, match="daily order limit reached: 5,000 of 5,000"):
        await rl.acquire("order", urgent=True)
    await rl.acquire("modify")  # modifications are not the day's orders


async def test_daily_reserve_refuses_an_entry_that_waited_into_it():
    """The count is checked again when a queued entry's turn comes: urgent orders
    that went ahead of it may have spent the last ordinary order meanwhile."""
    clock = SteppedClock()
    rl = stepped(clock, orders_today=4897)
    await rl.acquire("order")
    await rl.acquire("order")  # 4,899: one ordinary order left, the window full
    entry = asyncio.ensure_future(rl.acquire("order"))
    await clock.advance_to(1000.5)
    stop = asyncio.ensure_future(rl.acquire("order", urgent=True))
    await clock.advance_to(1002.0)
    await asyncio.wait_for(stop, 5)
    with pytest.raises(RateLimitExceeded, match="kept for stops"):
        await asyncio.wait_for(entry, 5)
    assert rl.orders_today == 4900


@pytest.mark.parametrize("reserve", [-1, 5000, 6000])
def test_limits_with_bad_reserve_refuse(reserve):
    with pytest.raises(ValueError, match="urgent_reserve"):
        KiteRateLimits(urgent_reserve=reserve)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_acquire_with_random_arrivals_keeps_windows_and_serves_urgent_first(seed):
    """Entries, modifications and stops arrive at random moments over a burst: every
    one is served, no second holds more than the window allows, and no ordinary request
    is served while an urgent one that arrived before it still waits."""
    rng = random.Random(seed)
    clock = SteppedClock(start=0.0)
    rl = stepped(clock, orders_per_second=3)
    arrivals = sorted((round(rng.uniform(0, 8), 3) + 0.0005, rng.random() < 0.3) for _ in range(60))
    served: list[tuple[float, float, bool]] = []  # (served at, arrived at, urgent)

    async def one(at: float, urgent: bool) -> None:
        await rl.acquire(rng.choice(("order", "modify")), urgent=urgent)
        served.append((clock.now, at, urgent))

    tasks = []
    for at, urgent in arrivals:
        await clock.advance_to(at)
        tasks.append(asyncio.ensure_future(one(at, urgent)))
    await clock.advance_to(60.0)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert len(served) == len(arrivals)
    stamps = sorted(t for t, _, _ in served)
    assert all(
        later - earlier >= 1.0 - 1e-9 for earlier, later in zip(stamps, stamps[3:], strict=False)
    )
    for when, _, urgent in served:
        if urgent:
            continue
        waiting = [a for t, a, u in served if u and a < when and t > when]
        assert not waiting, f"an entry went at {when} while a stop waited since {waiting}"
