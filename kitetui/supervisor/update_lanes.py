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
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


class UpdateLanes:
    def __init__(
        self, handle: Handler, on_failure: Callable[[BaseException], None] | None = None
    ) -> None:
        self._handle = handle
        self._on_failure = on_failure
        self._queues: dict[str, deque[Mapping[str, Any]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failure: BaseException | None = None

    def dispatch(self, data: Mapping[str, Any]) -> None:
        """Queue ``data`` in its symbol's lane; a lane's task runs while it has work."""
        self._raise_failure()
        symbol = str(data.get("tradingsymbol") or "")
        queue = self._queues.setdefault(symbol, deque())
        queue.append(data)
        if symbol not in self._tasks:
            self._tasks[symbol] = asyncio.get_running_loop().create_task(
                self._run(symbol, queue), name=f"order-updates {symbol}"
            )

    async def drain(self) -> None:
        """Wait until every lane has handled what it was given (the desk stops, or a
        caller needs the book as the updates leave it); raise a lane's failure."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._raise_failure()

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def _run(self, symbol: str, queue: deque[Mapping[str, Any]]) -> None:
        try:
            while queue:
                await self._handle(queue.popleft())
        except asyncio.CancelledError:
            queue.clear()
            raise
        except Exception as exc:  # the run fails as an inline update would make it
            queue.clear()
            if self._failure is None:
                self._failure = exc
                if self._on_failure is not None:
                    self._on_failure(exc)
        finally:
            del self._tasks[symbol]

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
