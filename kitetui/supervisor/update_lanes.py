"""``UpdateLanes``: a live desk's order updates, one lane per symbol.

Handling an order update can wait on the exchange: a fill calls for its stop, and a
placement that hangs holds its caller for up to Kite's timeout, then a look-up of the
book. Taken one after another, every other update waited behind it: a second symbol's
entry filled at the exchange and sat there without a stop for the whole timeout, the
desk not yet knowing it had a position (an outside probe saw 5 s uncovered, no alarm).

Each symbol's updates keep their order in a lane of their own (a fill before the next
state of the same order, a close before its reversal); lanes of different symbols run
side by side, as the exit timer and the reconciler already run beside the ticks (the
exit manager holds a lock per symbol). An update that fails fails the run, as it did
when it was handled inline: ``on_failure`` hears of it at once (the desk stops its
loop), and ``drain`` raises it.

The same lanes carry a symbol's entry placements (``queue``): the batch path only
writes the order ahead and queues its placement, so an entry that hangs at Kite holds
neither the other symbols' prices and signals nor this symbol's order updates out of
turn (the placement's answer is taken before any update that came after it, as when
the batch awaited it).

A flatten does not wait in a lane (``beside``): it runs at once in a task of its own,
beside its symbol's lane. Queued there (a loss halt's, a block's, the square-off's),
it waited behind the symbol's hung entry placement: neither the entry's cancel nor the
close of what the symbol held went out until Kite answered. It needs no turn: the
trader takes each order state under its symbol's lock, and the exit manager works a
symbol's cover under its own, as the kill switch (a command, never in a lane) always
did beside the lanes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]
Job = Callable[[], Awaitable[None]]


class UpdateLanes:
    def __init__(
        self, handle: Handler, on_failure: Callable[[BaseException], None] | None = None
    ) -> None:
        self._handle = handle
        self._on_failure = on_failure
        self._queues: dict[str, deque[Job]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._beside: set[asyncio.Task[None]] = set()  # jobs run beside the lanes
        self._failure: BaseException | None = None

    def dispatch(self, data: Mapping[str, Any]) -> None:
        """Queue ``data`` in its symbol's lane; a lane's task runs while it has work."""
        self._raise_failure()
        handle = self._handle
        self._append(str(data.get("tradingsymbol") or ""), lambda: handle(data))

    def queue(self, symbol: str, job: Job) -> bool:
        """Queue ``job`` (an entry's placement) in ``symbol``'s lane, after what it holds.
        False once a lane has failed: the run is stopping, and the caller does the job
        itself, as it did before lanes (a failure raised here would land in an engine)."""
        if self._failure is not None:
            return False
        self._append(symbol, job)
        return True

    def beside(self, symbol: str, job: Job) -> bool:
        """Run ``job`` (a flatten) now, in a task of its own beside ``symbol``'s lane:
        never behind what the lane holds (a hung placement). ``drain`` waits for it and a
        failure fails the run as a lane's does; False once a lane has failed, as
        ``queue``."""
        if self._failure is not None:
            return False
        task = asyncio.get_running_loop().create_task(
            self._run_beside(job), name=f"beside the lane {symbol}"
        )
        self._beside.add(task)
        task.add_done_callback(self._beside.discard)
        return True

    async def _run_beside(self, job: Job) -> None:
        try:
            await job()
        except Exception as exc:  # the run fails as one in a lane makes it
            self._fail(exc)

    def _append(self, symbol: str, job: Job) -> None:
        queue = self._queues.setdefault(symbol, deque())
        queue.append(job)
        if symbol not in self._tasks:
            self._tasks[symbol] = asyncio.get_running_loop().create_task(
                self._run(symbol, queue), name=f"order-updates {symbol}"
            )

    async def drain(self) -> None:
        """Wait until every lane has handled what it was given (the desk stops, or a
        caller needs the book as the updates leave it); raise a lane's failure."""
        while self._tasks or self._beside:
            await asyncio.gather(*self._tasks.values(), *self._beside, return_exceptions=True)
        self._raise_failure()

    @property
    def busy(self) -> bool:
        return bool(self._tasks or self._beside)

    async def _run(self, symbol: str, queue: deque[Job]) -> None:
        try:
            while queue:
                await queue.popleft()()
        except asyncio.CancelledError:
            queue.clear()
            raise
        except Exception as exc:  # the run fails as an inline update would make it
            queue.clear()
            self._fail(exc)
        finally:
            del self._tasks[symbol]

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
            if self._on_failure is not None:
                self._on_failure(exc)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
