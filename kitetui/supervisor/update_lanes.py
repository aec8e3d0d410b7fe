"""``UpdateLanes``: a live desk's order updates, one lane per symbol, and per order.

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
turn (the placement's answer is taken before any update of that order).

An update of an order the desk knows (``owner``: the tag of one of its orders) runs in
a lane of that order, not its symbol's: in the symbol's lane it waited behind the
symbol's hung entry placement too, so a sliced entry's first slice filled at Kite with
no stop for the whole hang (the desk did not know it held anything), and a stop that
filled left the desk holding a position Kite no longer had, its P&L and the screen
stale, for as long. An order's updates keep their order (one lane, and an update goes
behind its order's earlier ones wherever they wait); one of an entry whose placement is
queued or in flight waits for that placement's answer (its gate), as the symbol's lane
made it wait: the desk takes the answer, and any cancel asked meanwhile, first. An
update of an order the desk does not know (another's, or one without our tag) stays in
the symbol's lane, behind the placements: it may be the hung entry's own.

A flatten does not wait in a lane (``beside``): it runs at once in a task of its own,
beside its symbol's lane. Queued there (a loss halt's, a block's, the square-off's),
it waited behind the symbol's hung entry placement: neither the entry's cancel nor the
close of what the symbol held went out until Kite answered. It needs no turn: the
trader takes each order state under its symbol's lock, and the exit manager works a
symbol's cover under its own, as the kill switch (a command, never in a lane) always
did beside the lanes; so do the updates of different orders of a symbol.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]
Job = Callable[[], Awaitable[None]]
Owner = Callable[[Mapping[str, Any]], str]


@dataclass(slots=True)
class _Placement:
    """An entry's placement in its symbol's lane; its order's updates wait for it."""

    job: Job
    tag: str

    def __call__(self) -> Awaitable[None]:
        return self.job()


@dataclass(slots=True)
class _Waiting:
    """Where an order's updates wait (its lane), and how many do."""

    lane: str
    count: int = 0


class UpdateLanes:
    def __init__(
        self,
        handle: Handler,
        on_failure: Callable[[BaseException], None] | None = None,
        owner: Owner | None = None,
    ) -> None:
        """``owner``: the tag of the desk's order an update is about ("" for none it
        knows); without it every update goes to its symbol's lane."""
        self._handle = handle
        self._on_failure = on_failure
        self._owner = owner
        self._queues: dict[str, deque[Job]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._beside: set[asyncio.Task[None]] = set()  # jobs run beside the lanes
        # tag -> set once its placement has been answered (or dropped with its lane)
        self._gates: dict[str, asyncio.Event] = {}
        self._waiting: dict[str, _Waiting] = {}  # order id -> its updates not yet handled
        self._failure: BaseException | None = None

    def dispatch(self, data: Mapping[str, Any]) -> None:
        """Queue ``data`` in its order's lane (an order the desk knows) or its symbol's;
        a lane's task runs while it has work."""
        self._raise_failure()
        symbol = str(data.get("tradingsymbol") or "")
        order_id = str(data.get("order_id") or "")
        tag = self._owner(data) if self._owner is not None and order_id else ""
        waiting = self._waiting.get(order_id) if order_id else None
        if waiting is None:
            # (a lane name no symbol has: Kite's trading symbols carry no space)
            lane = f"{symbol} order {order_id}" if tag else symbol
            if order_id:
                waiting = self._waiting[order_id] = _Waiting(lane)
        if waiting is not None:
            waiting.count += 1
        self._append(waiting.lane if waiting is not None else symbol, self._update(data, tag))

    def _update(self, data: Mapping[str, Any], tag: str) -> Job:
        handle, order_id = self._handle, str(data.get("order_id") or "")

        async def update() -> None:
            try:
                gate = self._gates.get(tag) if tag else None
                if gate is not None:  # its placement is queued or at Kite
                    await gate.wait()
                await handle(data)
            finally:
                self._handled(order_id)

        return update

    def _handled(self, order_id: str) -> None:
        waiting = self._waiting.get(order_id)
        if waiting is not None:
            waiting.count -= 1
            if waiting.count <= 0:
                del self._waiting[order_id]

    def queue(self, symbol: str, job: Job, tag: str = "") -> bool:
        """Queue ``job`` (an entry's placement) in ``symbol``'s lane, after what it holds;
        the updates of ``tag`` wait for it. False once a lane has failed: the run is
        stopping, and the caller does the job itself, as it did before lanes (a failure
        raised here would land in an engine)."""
        if self._failure is not None:
            return False
        if tag:
            self._gates[tag] = asyncio.Event()
            self._append(symbol, _Placement(job, tag))
        else:
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

    def _append(self, lane: str, job: Job) -> None:
        queue = self._queues.setdefault(lane, deque())
        queue.append(job)
        if lane not in self._tasks:
            self._tasks[lane] = asyncio.get_running_loop().create_task(
                self._run(lane, queue), name=f"order-updates {lane}"
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

    async def _run(self, lane: str, queue: deque[Job]) -> None:
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                finally:
                    if isinstance(job, _Placement):
                        self._open(job.tag)
        except asyncio.CancelledError:
            self._drop(lane, queue)
            raise
        except Exception as exc:  # the run fails as an inline update would make it
            self._drop(lane, queue)
            self._fail(exc)
        finally:
            del self._tasks[lane]
            if self._queues.get(lane) is queue and not queue:
                del self._queues[lane]  # (an order's lane ends with its updates)

    def _open(self, tag: str) -> None:
        """The placement of ``tag`` is over: its order's updates go on."""
        gate = self._gates.pop(tag, None)
        if gate is not None:
            gate.set()

    def _drop(self, lane: str, queue: deque[Job]) -> None:
        """A lane that failed or was cancelled drops what it held: no placement of it
        will be answered, so no update waits for one, nor counts as waiting there."""
        for job in queue:
            if isinstance(job, _Placement):
                self._open(job.tag)
        queue.clear()
        for order_id in [k for k, w in self._waiting.items() if w.lane == lane]:
            del self._waiting[order_id]

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
            if self._on_failure is not None:
                self._on_failure(exc)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
