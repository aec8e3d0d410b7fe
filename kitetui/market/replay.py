"""The replay feed: recorded candles and ticks merged into one data-time stream.

Items are grouped into *batches* that share one event time (a bar is known at its end,
a tick at its timestamp), so every consumer sees the market in the order it happened,
and batch boundaries are the same at every speed: a resumed or re-run replay makes
the same decisions. Pacing maps data time to wall time at N×; ``max`` does not sleep
but yields to the loop every few batches so commands and the UI stay responsive.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

from kitetui.domain import NS_PER_SECOND, Bar, Tick

Item = Tick | Bar


def event_time(item: Item) -> int:
    return item.end_ns if isinstance(item, Bar) else item.ts_ns


def merge_batches(streams: Iterable[Sequence[Item]]) -> Iterator[tuple[int, list[Item]]]:
    """Merge per-symbol streams (each in time order) into batches of equal event time."""
    keyed = [_keyed(order, stream) for order, stream in enumerate(streams)]
    current_ts = -1
    batch: list[Item] = []
    for ts, _order, _index, item in heapq.merge(*keyed):
        if ts != current_ts and batch:
            yield current_ts, batch
            batch = []
        current_ts = ts
        batch.append(item)
    if batch:
        yield current_ts, batch


def _keyed(order: int, stream: Sequence[Item]) -> Iterator[tuple[int, int, int, Item]]:
    # (time, stream, position) is unique, so items themselves are never compared.
    for index, item in enumerate(stream):
        yield event_time(item), order, index, item


class Pacer:
    """Turns data-time gaps into wall-clock sleeps at a given speed (None = max)."""

    def __init__(self, speed: float | None, max_gap_s: float = 1.0, yield_every: int = 64) -> None:
        self.speed = speed
        self.max_gap_s = max_gap_s
        self.yield_every = yield_every
        self._last_ts: int | None = None
        self._target: float | None = None
        self._count = 0

    def reset(self) -> None:
        self._last_ts = None
        self._target = None

    async def wait(self, ts_ns: int) -> None:
        self._count += 1
        if self.speed is None:
            if self._count % self.yield_every == 0:
                await asyncio.sleep(0)
            return
        now = time.monotonic()
        if self._last_ts is None or self._target is None:
            self._target = now
        else:
            gap_s = (ts_ns - self._last_ts) / NS_PER_SECOND / self.speed
            self._target += min(max(gap_s, 0.0), self.max_gap_s)
            # Never build up a backlog of "owed" sleep after a slow stretch.
            self._target = max(self._target, now - self.max_gap_s)
        self._last_ts = ts_ns
        delay = self._target - now
        if delay > 0:
            await asyncio.sleep(delay)
        elif self._count % self.yield_every == 0:
            await asyncio.sleep(0)


async def paced(
    batches: Iterable[tuple[int, list[Item]]], pacer: Pacer
) -> AsyncIterator[tuple[int, list[Item]]]:
    for ts, batch in batches:
        await pacer.wait(ts)
        yield ts, batch
