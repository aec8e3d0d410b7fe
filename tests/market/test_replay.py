"""The replay feed: data-time order, equal-time batches, and pacing at N× or max."""

from __future__ import annotations

import asyncio
import heapq
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.domain import NS_PER_MINUTE, NS_PER_SECOND, Bar, Tick, round_to_tick, to_paise
from kitetui.market import replay
from kitetui.market.feeds import ReplayFeed
from kitetui.market.lazy_items import LazyItems
from kitetui.market.replay import Pacer, event_time, merge_batches

T0 = 1_680_493_500 * NS_PER_SECOND  # 2023-04-03 09:15 IST


def _bar(symbol: str, minute: int) -> Bar:
    return Bar(symbol, T0 + minute * NS_PER_MINUTE, 60, 10.0, 11.0, 9.0, 10.5, 100)


def _tick(symbol: str, second: int, price: float = 10.0) -> Tick:
    return Tick(symbol, T0 + second * NS_PER_SECOND, price, 1)


def test_event_time_with_bar_is_its_end_and_with_tick_its_time() -> None:
    assert event_time(_bar("A", 0)) == T0 + NS_PER_MINUTE
    assert event_time(_tick("A", 5)) == T0 + 5 * NS_PER_SECOND


def test_merge_batches_with_bars_and_ticks_orders_by_event_time_and_groups_equal_times() -> None:
    bars_a = [_bar("A", 0), _bar("A", 1)]
    bars_b = [_bar("B", 0), _bar("B", 1)]
    ticks = [_tick("F", 30), _tick("F", 60), _tick("F", 60, 11.0), _tick("F", 90)]
    batches = list(merge_batches([bars_a, bars_b, ticks]))
    assert [ts for ts, _ in batches] == [
        T0 + 30 * NS_PER_SECOND,
        T0 + 60 * NS_PER_SECOND,
        T0 + 90 * NS_PER_SECOND,
        T0 + 120 * NS_PER_SECOND,
    ]
    at_0916 = batches[1][1]
    # same event time: sources in config order, rows in file order (stable)
    assert [(i.symbol, getattr(i, "price", None)) for i in at_0916] == [
        ("A", None),
        ("B", None),
        ("F", 10.0),
        ("F", 11.0),
    ]


def test_merge_batches_with_no_streams_yields_nothing() -> None:
    assert list(merge_batches([[], []])) == []


def _merged_by_heap(streams: list[list[Bar | Tick]]) -> list[tuple[int, list[Bar | Tick]]]:
    """The reference: a k-way merge on (event time, stream, position), then grouped."""
    keyed = [
        [(event_time(item), order, index, item) for index, item in enumerate(stream)]
        for order, stream in enumerate(streams)
    ]
    batches: list[tuple[int, list[Bar | Tick]]] = []
    for ts, _order, _index, item in heapq.merge(*keyed):
        if not batches or batches[-1][0] != ts:
            batches.append((ts, []))
        batches[-1][1].append(item)
    return batches


@st.composite
def _streams(draw: st.DrawFn) -> list[list[Bar | Tick]]:
    streams: list[list[Bar | Tick]] = []
    for number in range(draw(st.integers(0, 6))):
        symbol = f"S{number}"
        if draw(st.booleans()):  # bars: minutes, some missing
            minutes = sorted(draw(st.sets(st.integers(0, 12), max_size=10)))
            streams.append([_bar(symbol, m) for m in minutes])
        else:  # ticks: seconds, repeated ones included (several prints at one time)
            seconds = sorted(draw(st.lists(st.integers(0, 12 * 60), max_size=12)))
            streams.append([_tick(symbol, sec, 10.0 + n) for n, sec in enumerate(seconds)])
    return streams


@given(_streams())
def test_merge_batches_equals_a_k_way_merge_on_time_stream_and_position(
    streams: list[list[Bar | Tick]],
) -> None:
    expected = _merged_by_heap(streams)
    assert list(merge_batches(streams)) == expected
    assert list(merge_batches(iter(streams))) == expected  # any iterable of streams


def _lazy(stream: list[Bar | Tick]) -> LazyItems[Bar | Tick]:
    """``stream`` as a loaded file's lazy items: a ``ts_ns`` column, and the lag."""
    columns = {
        "ts_ns": np.array([item.ts_ns for item in stream], dtype=np.int64),
        "row": np.arange(len(stream)),
    }
    lag = 60 * NS_PER_SECOND if stream and isinstance(stream[0], Bar) else 0
    return LazyItems(
        lambda part: tuple(stream[row] for row in part["row"].tolist()), columns, lag_ns=lag
    )


@given(_streams(), st.integers(1, 6))
def test_merge_batches_of_loaded_columns_equals_the_k_way_merge(
    streams: list[list[Bar | Tick]], chunk: int
) -> None:
    """The window-at-a-time merge of lazy streams, with windows of a few rows so that
    they end inside runs of equal times and streams run out inside them."""
    with patch.object(replay, "CHUNK", chunk):
        assert list(merge_batches([_lazy(stream) for stream in streams])) == (
            _merged_by_heap(streams)
        )


class _FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.now += delay


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> _FakeTime:
    fake = _FakeTime()
    monkeypatch.setattr(replay.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(replay.asyncio, "sleep", fake.sleep)
    return fake


async def test_pacer_with_speed_sleeps_data_gap_over_speed(fake_time: _FakeTime) -> None:
    pacer = Pacer(speed=60.0, max_gap_s=5.0)
    for minute in range(4):
        await pacer.wait(T0 + minute * NS_PER_MINUTE)
    assert fake_time.slept == pytest.approx([1.0, 1.0, 1.0])


async def test_pacer_with_overnight_gap_caps_the_sleep(fake_time: _FakeTime) -> None:
    pacer = Pacer(speed=60.0, max_gap_s=0.5)
    await pacer.wait(T0)
    await pacer.wait(T0 + 18 * 3600 * NS_PER_SECOND)
    assert fake_time.slept == pytest.approx([0.5])


async def test_pacer_after_slow_stretch_catches_up_at_most_max_gap(fake_time: _FakeTime) -> None:
    pacer = Pacer(speed=60.0, max_gap_s=1.0)
    await pacer.wait(T0)
    fake_time.now += 30.0  # the consumer was slow for 30 s of wall time
    for minute in (1, 2):  # owed 29 s of sleep; only 1 s of it may be skipped
        await pacer.wait(T0 + minute * NS_PER_MINUTE)
    assert fake_time.slept == []
    await pacer.wait(T0 + 3 * NS_PER_MINUTE)
    assert fake_time.slept == pytest.approx([1.0])


async def test_pacer_at_max_speed_only_yields(fake_time: _FakeTime) -> None:
    pacer = Pacer(speed=None, yield_every=4)
    for second in range(12):
        await pacer.wait(T0 + second * NS_PER_SECOND)
    assert fake_time.slept == [0, 0, 0]
    assert asyncio.iscoroutinefunction(pacer.wait)


@pytest.mark.parametrize(
    ("price", "paise"), [(0.05, 5), (1607.55, 160755), (0.1 + 0.2, 30), (-2.345, -235), (0, 0)]
)
def test_to_paise_with_float_noise_rounds_to_exact_paise(price: float, paise: int) -> None:
    assert to_paise(price) == paise


@pytest.mark.parametrize(
    ("price", "tick", "expected"),
    [(18283.23, 0.05, 18283.25), (18283.22, 0.05, 18283.2), (101.04, 0.1, 101.0), (7, 0.05, 7.0)],
)
def test_round_to_tick_with_off_tick_price_lands_on_tick(price, tick, expected) -> None:
    assert round_to_tick(price, tick) == expected


async def test_a_feed_at_max_speed_pauses_only_to_yield(fake_time: _FakeTime) -> None:
    """``ReplayFeed.pace`` hands out nothing to await for a batch due now (most at full
    speed: no coroutine is made for them) and a yield every ``yield_every`` batches; a
    paced feed's pause is the pacer's sleep, and a feed without a pacer never pauses."""
    feed = ReplayFeed([], Pacer(speed=None, yield_every=4))
    pauses = [feed.pace(T0 + second * NS_PER_SECOND) for second in range(8)]
    assert [pause is None for pause in pauses] == [True, True, True, False] * 2
    for pause in pauses:
        if pause is not None:
            await pause
    assert fake_time.slept == [0, 0]
    paced = ReplayFeed([], Pacer(speed=60.0, max_gap_s=5.0))
    assert paced.pace(T0) is None  # the first batch is due at once
    pause = paced.pace(T0 + NS_PER_MINUTE)
    assert pause is not None
    await pause
    assert fake_time.slept == pytest.approx([0, 0, 1.0])
    assert ReplayFeed([]).pace(T0) is None
