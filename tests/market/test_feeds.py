"""The live batcher and the session recorder: batches as processed, replayed as recorded."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest

from kitetui.domain import NS_PER_SECOND, Tick
from kitetui.market.feeds import LiveFeed, OrderUpdate
from kitetui.store.recording import RecordingError, TickRecorder, load_recording

T0 = 1_668_743_100 * NS_PER_SECOND


def tick(second: int, price: float = 100.0, symbol: str = "A") -> Tick:
    return Tick(symbol, T0 + second * NS_PER_SECOND, price, 1, 0)


async def _drain(feed: LiveFeed, count: int) -> list:
    out = []
    iterator = feed.items().__aiter__()
    for _ in range(count):
        out.append(await asyncio.wait_for(iterator.__anext__(), 2))
    return out


async def test_live_feed_with_ticks_of_two_instants_makes_two_batches() -> None:
    feed = LiveFeed(linger_s=0.05)
    feed.push([tick(0), tick(0, 101.0, "B")])
    feed.push([tick(1)])  # a later instant closes the first batch
    first, second = await _drain(feed, 2)  # the second closes after the linger
    assert first[0] == T0 and [t.symbol for t in first[1]] == ["A", "B"]
    assert second[0] == T0 + NS_PER_SECOND and len(second[1]) == 1


async def test_live_feed_with_late_tick_joins_the_open_batch() -> None:
    feed = LiveFeed(linger_s=0.05)
    feed.push([tick(5), tick(4)])
    (batch,) = await _drain(feed, 1)
    assert batch[0] == T0 + 5 * NS_PER_SECOND and len(batch[1]) == 2
    assert feed.late_ticks == 1


async def test_live_feed_with_order_update_keeps_its_place_in_time() -> None:
    feed = LiveFeed(linger_s=10)
    feed.push([tick(0)])
    feed.push_order_update({"order_id": "1"})
    batch, update = await _drain(feed, 2)
    assert batch[0] == T0 and isinstance(update, OrderUpdate) and update.data["order_id"] == "1"


async def test_live_feed_close_ends_the_stream_after_the_open_batch() -> None:
    feed = LiveFeed(linger_s=10)
    feed.push([tick(0)])
    await feed.close()
    got = [item async for item in feed.items()]
    assert len(got) == 1


async def test_live_feed_subscriptions_reach_the_ticker_once_per_change() -> None:
    feed = LiveFeed()
    seen: list[frozenset[str]] = []
    feed.on_subscriptions(seen.append)
    feed.set_subscriptions(frozenset({"A"}))
    feed.set_subscriptions(frozenset({"A"}))
    feed.set_subscriptions(frozenset({"A", "B"}))
    assert seen == [frozenset({"A"}), frozenset({"A", "B"})]


def test_recording_round_trip_keeps_batches_exactly(tmp_path: Path) -> None:
    path = tmp_path / "run.ticks.gz"
    recorder = TickRecorder(path)
    batches = [(T0, [tick(0), tick(0, 100.05, "B")]), (T0 + 7, [tick(1, 0.1 + 0.2)])]
    for ts, batch in batches:
        recorder.record(ts, batch)
    recorder.close()
    assert load_recording(path) == batches


def test_recording_cut_short_keeps_the_complete_batches(tmp_path: Path) -> None:
    path = tmp_path / "run.ticks.gz"
    recorder = TickRecorder(path)
    for second in range(50):
        recorder.record(T0 + second, [tick(second, 100 + second)])
    recorder.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])  # SIGKILL while the writer was mid-flush
    loaded = load_recording(path)
    assert 0 < len(loaded) < 50
    assert loaded == [(T0 + s, [tick(s, 100 + s)]) for s in range(len(loaded))]


def test_recording_with_garbage_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ticks.gz"
    path.write_bytes(gzip.compress(b"B,1\nX,what\n"))
    with pytest.raises(RecordingError, match="line 2"):
        load_recording(path)
