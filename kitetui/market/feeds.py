"""Where batches come from: recorded data (replay) or the live Kite ticker.

The supervisor consumes ``(ts_ns, items)`` batches and does not care which. A replay
merges files (or a recorded session) and paces them; a live feed groups ticks by their
exchange timestamp as they arrive, so a batch holds what the market printed in one
instant. Every batch a live session processes is recorded exactly as processed, so a
replay of the recording reproduces the same decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator

from kitetui.domain import Tick
from kitetui.market.replay import Item, Pacer

Batch = tuple[int, list[Item]]


class OrderUpdate:
    """A broker's order update (Kite's websocket ``type: order`` payload), in stream order."""

    __slots__ = ("data",)

    def __init__(self, data: dict) -> None:
        self.data = data


class ReplayFeed:
    """Batches from files or a recording; paced at N× (None = as fast as possible)."""

    live = False

    def __init__(self, batches: Iterable[Batch], pacer: Pacer | None = None) -> None:
        self._batches: Iterator[Batch] = iter(batches)
        self.pacer = pacer

    def set_subscriptions(self, symbols: frozenset[str]) -> None:
        """The whole recorded market is present; nothing to ask for."""

    def batches(self) -> Iterator[Batch]:
        return self._batches

    async def close(self) -> None:
        return None


class LiveFeed:
    """Turns ticks pushed from the ticker thread into batches of equal exchange time.

    ``push`` runs on the event loop (the ticker's thread hops over with
    ``call_soon_threadsafe``). A batch is closed when a tick with a later timestamp
    arrives, or when nothing new has come for ``linger_s`` (so the last print of a
    quiet market is not held back). A late tick (older than the open batch) joins the
    open batch rather than reopening the past.
    """

    live = True

    def __init__(self, linger_s: float = 0.25, max_queue: int = 10_000) -> None:
        self.linger_s = linger_s
        self._queue: asyncio.Queue[Batch | OrderUpdate | None] = asyncio.Queue(maxsize=max_queue)
        self._open_ts = 0
        self._open: list[Item] = []
        self._timer: asyncio.TimerHandle | None = None
        self._subscribe: list = []
        self.ticks_received = 0
        self.late_ticks = 0
        self.dropped_batches = 0
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
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:  # the pipeline is far behind: say so, never block
            self.dropped_batches += 1

    def push_order_update(self, data: dict) -> None:
        """Order updates keep their place in time: the open tick batch goes first."""
        self._close_batch()
        self._queue.put_nowait(OrderUpdate(data))

    async def batches(self) -> AsyncIterator[Batch | OrderUpdate]:
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            yield batch

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._close_batch()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
