"""Where batches come from: recorded data (replay) or the live Kite ticker.

The supervisor consumes ``(ts_ns, items)`` batches and does not care which. A replay
merges files (or a recorded session) and paces them; a live feed groups ticks by their
exchange timestamp as they arrive, so a batch holds what the market printed in one
instant. Every batch a live session processes is recorded exactly as processed, so a
replay of the recording reproduces the same decisions.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Protocol

from kitetui.domain import Tick
from kitetui.market.replay import Item, Pacer

Batch = tuple[int, list[Item]]


class OrderUpdate:
    """A broker's order update (Kite's websocket ``type: order`` payload), in stream order."""

    __slots__ = ("data",)

    def __init__(self, data: dict) -> None:
        self.data = data


class Feed(Protocol):
    """Where the supervisor's one driver loop takes its items from, in every mode."""

    live: bool  # the market is now (Kite's ticker), not a file
    dropped_batches: int  # tick batches dropped because the desk fell behind

    def set_subscriptions(self, symbols: frozenset[str]) -> None:
        """The symbols the engines (and held positions) want prices of."""
        ...

    def items(self) -> AsyncIterator[Batch | OrderUpdate]:
        """Batches of equal event time (and, live, order updates in arrival order)."""
        ...

    def pace(self, ts_ns: int) -> Awaitable[None] | None:
        """What to await before the batch at ``ts_ns`` is due (a paced replay's sleep, a
        yield to the loop), or None when it is due now (live, and most batches of a
        replay at full speed: no coroutine is made for them, ``Pacer.pause``)."""
        ...

    async def close(self) -> None: ...


class ReplayFeed:
    """Batches from files or a recording; paced at N× (None = as fast as possible)."""

    live = False
    dropped_batches = 0  # a replay never falls behind its own data

    def __init__(self, batches: Iterable[Batch], pacer: Pacer | None = None) -> None:
        self._batches: Iterator[Batch] = iter(batches)
        self.pacer = pacer

    def set_subscriptions(self, symbols: frozenset[str]) -> None:
        """The whole recorded market is present; nothing to ask for."""

    async def items(self) -> AsyncIterator[Batch]:
        for batch in self._batches:
            yield batch

    def pace(self, ts_ns: int) -> Awaitable[None] | None:
        pacer = self.pacer
        return None if pacer is None else pacer.pause(ts_ns)

    async def close(self) -> None:
        return None


class LiveFeed:
    """Turns ticks pushed from the ticker thread into batches of equal exchange time.

    ``push`` runs on the event loop (the ticker's thread hops over with
    ``call_soon_threadsafe``). A batch is closed when a tick with a later timestamp
    arrives, or when nothing new has come for ``linger_s`` (so the last print of a
    quiet market is not held back). A late tick (older than the open batch) joins the
    open batch rather than reopening the past.

    Order updates have their own queue, never bounded and never dropped: an update is
    money (a fill, a stop the exchange refused). Tick batches are bounded; when the
    pipeline is far behind, the newest batch is dropped rather than blocking the
    ticker's thread, and ``on_drop`` says so (the supervisor journals it and the header
    shows it). Both queues are numbered on arrival so a consumer takes them in the
    order they came: an update follows the ticks printed before it.
    """

    live = True

    def __init__(
        self,
        linger_s: float = 0.25,
        max_queue: int = 10_000,
        on_drop: Callable[[int, int], None] | None = None,
    ) -> None:
        self.linger_s = linger_s
        self.max_queue = max_queue
        self.on_drop = on_drop  # (batch exchange time, ticks in it)
        self._batches: deque[tuple[int, Batch]] = deque()
        self._updates: deque[tuple[int, OrderUpdate]] = deque()
        self._arrivals = 0
        self._wake = asyncio.Event()
        self._open_ts = 0
        self._open: list[Item] = []
        self._timer: asyncio.TimerHandle | None = None
        self._subscribe: list = []
        self.ticks_received = 0
        self.late_ticks = 0
        self.dropped_batches = 0
        self.dropped_ticks = 0
        self.subscriptions: frozenset[str] = frozenset()
        self._closed = False

    def on_subscriptions(self, callback) -> None:
        """Register who turns our symbol set into ticker subscriptions (the KiteFeed)."""
        self._subscribe.append(callback)

    def set_subscriptions(self, symbols: frozenset[str]) -> None:
        if symbols != self.subscriptions:
            self.subscriptions = symbols
            for callback in self._subscribe:
                callback(symbols)

    def push(self, ticks: list[Tick]) -> None:
        for tick in ticks:
            self.ticks_received += 1
            if self._open and tick.ts_ns > self._open_ts:
                self._close_batch()
            if not self._open:
                self._open_ts = tick.ts_ns
            elif tick.ts_ns < self._open_ts:
                self.late_ticks += 1
            self._open.append(tick)
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._open:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.linger_s, self._close_batch)

    def _close_batch(self) -> None:
        if not self._open:
            return
        batch = (self._open_ts, self._open)
        self._open = []
        if len(self._batches) >= self.max_queue:  # far behind: say so, never block
            self.dropped_batches += 1
            self.dropped_ticks += len(batch[1])
            if self.on_drop is not None:
                self.on_drop(batch[0], len(batch[1]))
            return
        self._arrivals += 1
        self._batches.append((self._arrivals, batch))
        self._wake.set()

    def push_order_update(self, data: dict) -> None:
        """Order updates keep their place in time: the open tick batch goes first."""
        self._close_batch()
        self._arrivals += 1
        self._updates.append((self._arrivals, OrderUpdate(data)))
        self._wake.set()

    def _next(self) -> Batch | OrderUpdate | None:
        batches, updates = self._batches, self._updates
        if updates and (not batches or updates[0][0] < batches[0][0]):
            return updates.popleft()[1]
        if batches:
            return batches.popleft()[1]
        return None

    def pace(self, ts_ns: int) -> Awaitable[None] | None:
        """The live market paces itself."""
        return None

    async def items(self) -> AsyncIterator[Batch | OrderUpdate]:
        """Batches and updates in arrival order, until ``close`` (then what is queued
        is still delivered, updates and all, before the iterator ends)."""
        while True:
            item = self._next()
            if item is not None:
                yield item
                continue
            if self._closed:
                return
            self._wake.clear()
            await self._wake.wait()

    def drain_updates(self) -> list[OrderUpdate]:
        """Every order update still queued (on stop: applied before the journal closes)."""
        updates = [update for _, update in self._updates]
        self._updates.clear()
        return updates

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._close_batch()
        self._wake.set()
