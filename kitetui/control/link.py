"""How a screen reaches the desk, without knowing whether it is in-process or remote.

``DeskLink`` is everything the TUI asks of a desk, and it has two implementations:
``LocalLink`` (the supervisor runs on its own loop in a thread of this process) and
``RemoteLink`` (the control socket, for ``kitetui attach``). ``snapshot()`` is cheap and
never blocks; ``send()``, ``order_detail()`` and ``chart()`` are coroutines that resolve when the
desk has answered; ``failure()`` and ``connection_problem()`` say what the screen must
tell the trader about the link itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol, TypeVar

from kitetui.commands import Command, CommandResult
from kitetui.control.client import ControlClient, ControlError, DeskRequestError
from kitetui.control.protocol import command_to_request
from kitetui.control.reads import NOT_SERVED, HistoryError, HistoryReads
from kitetui.views import (
    ChartView,
    DeskSnapshot,
    ExportResult,
    HistoryPage,
    OrderDetail,
    RunReportView,
    RunView,
)

T = TypeVar("T")


class DeskLink(Protocol):
    def snapshot(self) -> DeskSnapshot | None:
        """The newest published snapshot, or None before the first one."""
        ...

    async def send(self, command: Command) -> CommandResult:
        """Carry a command out on the desk and report what happened."""
        ...

    async def order_detail(self, tag: str) -> OrderDetail | None:
        """An order's state history and fills from the journal; None if unknown."""
        ...

    async def chart(self, symbol: str) -> ChartView | None:
        """One symbol's price chart (bars, indicators, fills and stops); None when the
        desk has no bars for it."""

    # The database's history (control/reads.py): each raises an exception whose
    # message is one line when the desk refuses or cannot be reached.

    async def runs(self) -> tuple[RunView, ...]:
        """Every run of the desk's database, oldest first."""
        ...

    async def history(
        self, table: str, run: str = "", text: str = "", offset: int = 0, limit: int = 100
    ) -> HistoryPage:
        """A page (newest first) of ``table`` of ``run`` ("" the desk's own run)."""
        ...

    async def run_report(self, run: str = "") -> RunReportView:
        """A run's report headline."""
        ...

    async def export(self, what: str, run: str = "", path: str = "") -> ExportResult:
        """``kitetui export``'s CSV, written by the desk."""
        ...

    def failure(self) -> str | None:
        """Why the desk cannot be reached or stopped on an error (the screen exits with
        it), or None while it is well."""
        ...

    def connection_problem(self) -> str | None:
        """What is wrong with a link that was up and is being re-made (the screen keeps
        its last picture and shows this), or None."""
        ...


class InProcessDesk(Protocol):
    """What ``LocalLink`` reads of the supervisor it runs beside."""

    @property
    def published(self) -> DeskSnapshot | None: ...

    def order_detail(self, tag: str) -> Coroutine[Any, Any, OrderDetail | None]: ...

    def chart(self, symbol: str) -> Coroutine[Any, Any, ChartView | None]: ...


class DeskThread(Protocol):
    """What ``LocalLink`` needs of ``kitetui.runner.SupervisorThread``, declared here so
    that the control package (and the TUI above it) never imports the desk's side."""

    @property
    def supervisor(self) -> InProcessDesk: ...

    @property
    def failure(self) -> str | None: ...

    @property
    def reads(self) -> HistoryReads | None: ...

    def submit(self, command: Command) -> Future[CommandResult]: ...

    def call(self, coro: Coroutine[Any, Any, T]) -> Future[T]: ...


class LocalLink:
    """A link to a supervisor running on its own event loop in a background thread."""

    def __init__(self, runner: DeskThread) -> None:
        self._runner = runner

    def snapshot(self) -> DeskSnapshot | None:
        return self._runner.supervisor.published

    async def send(self, command: Command) -> CommandResult:
        future = self._runner.submit(command)
        return await asyncio.wrap_future(future)

    async def order_detail(self, tag: str) -> OrderDetail | None:
        future = self._runner.call(self._runner.supervisor.order_detail(tag))
        return await asyncio.wrap_future(future)

    async def chart(self, symbol: str) -> ChartView | None:
        future = self._runner.call(self._runner.supervisor.chart(symbol))
        return await asyncio.wrap_future(future)

    def _reads(self) -> HistoryReads:
        reads = self._runner.reads
        if reads is None:
            raise HistoryError(NOT_SERVED)
        return reads

    async def _on_desk(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a read on the desk's loop (it hands the work to a thread there)."""
        return await asyncio.wrap_future(self._runner.call(coro))

    async def runs(self) -> tuple[RunView, ...]:
        return await self._on_desk(self._reads().runs())

    async def history(
        self, table: str, run: str = "", text: str = "", offset: int = 0, limit: int = 100
    ) -> HistoryPage:
        return await self._on_desk(self._reads().history(table, run, text, offset, limit))

    async def run_report(self, run: str = "") -> RunReportView:
        return await self._on_desk(self._reads().run_report(run))

    async def export(self, what: str, run: str = "", path: str = "") -> ExportResult:
        return await self._on_desk(self._reads().export(what, run, path))

    def failure(self) -> str | None:
        """Why the desk behind this link stopped on an error, or None while it is well."""
        return self._runner.failure

    def connection_problem(self) -> str | None:
        """Always None: a desk in this process has no connection to lose."""
        return None


def _short_reason(exc: BaseException) -> str:
    """'connection refused' rather than the whole how-to-start-a-desk sentence."""
    cause = exc.__cause__ if isinstance(exc, ControlError) and exc.__cause__ else exc
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, FileNotFoundError):
        return "no socket at that path"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return str(exc) or type(exc).__name__


class RemoteLink:
    """``DeskLink`` over the control socket, for ``kitetui attach``.

    A background task keeps one connection open, watches snapshots and keeps the newest;
    ``snapshot()`` only reads that reference. It starts on ``await start()`` or, lazily,
    on the first ``snapshot()``/``send()`` made inside a running event loop.

    If the desk cannot be reached at first, ``failure()`` says why and the link gives up
    (the TUI exits with that reason). Once it has been connected, a lost connection (the
    daemon restarted, the socket closed) is not a failure: ``snapshot()`` keeps the last
    picture, ``connection_problem()`` says what is wrong and the link reconnects with a
    backoff (``retry_first_s`` doubling up to ``retry_max_s``) until ``close()``. Commands
    sent meanwhile fail at once and are never queued for later.

    ``seq`` only ever grows through this link: a restarted daemon numbers its snapshots
    from 1 again, so the link renumbers them past the last one it showed (a screen that
    skips an unchanged ``seq`` would otherwise skip the new desk's first frames).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        retry_first_s: float = 0.25,
        retry_max_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.connections = 0
        """How many times a connection (and its watch) has been made, reconnects included."""
        self._client: ControlClient | None = None
        self._latest: DeskSnapshot | None = None
        self._failure: str | None = None
        self._problem: str | None = None
        self._connected: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._last_seq = 0  # the seq of the newest snapshot handed out
        self._seq_offset = 0  # added to the desk's seq so that it never goes back

    def _ensure_started(self) -> None:
        if self._task is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._connected = loop.create_future()
        self._task = loop.create_task(self._run(), name=f"remote-link {self.path}")

    async def start(self) -> None:
        """Connect and start watching; raises ``ControlError`` when the desk is not there."""
        self._ensure_started()
        if self._connected is None:
            raise ControlError("the link to the desk is closed")
        await asyncio.shield(self._connected)

    async def _open(self) -> ControlClient:
        """A new connection that is watching, or ControlError."""
        client = ControlClient(self.path, timeout=self.timeout)
        try:
            await client.connect()
            reply = await client.request("watch")
            if not reply.get("ok"):
                raise ControlError(
                    f"the desk refused to send snapshots: {reply.get('error', 'no reason')}"
                )
        except BaseException:
            client.close()
            raise
        return client

    async def _run(self) -> None:
        assert self._connected is not None
        delay = self.retry_first_s
        attempt = 0  # 0: the first connection; n: the n-th try since the last one broke
        reason = ""
        while True:
            if attempt:
                self._problem = (
                    f"reconnecting to the desk at {self.path} (attempt {attempt}): {reason}"
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
            try:
                client = await self._open()
            except ControlError as exc:
                if not self._connected.done():  # never connected: give up, as before
                    self._failure = str(exc)
                    self._connected.set_exception(exc)
                    self._connected.exception()  # failure() reports it: nobody must await
                    return
                attempt += 1
                reason = _short_reason(exc)
                continue
            self._client = client
            self._problem = None
            self.connections += 1
            delay, attempt = self.retry_first_s, 0
            if not self._connected.done():
                self._connected.set_result(None)
            try:
                async for snapshot in client.snapshots():
                    self._take(snapshot)
                reason = client.closed_reason or "the desk closed the connection"
            finally:
                self._client = None
                client.close()
            attempt = 1

    def _take(self, snapshot: DeskSnapshot) -> None:
        if snapshot.seq + self._seq_offset <= self._last_seq:
            self._seq_offset = self._last_seq + 1 - snapshot.seq  # a restarted desk
        if self._seq_offset:
            snapshot = dataclasses.replace(snapshot, seq=snapshot.seq + self._seq_offset)
        self._last_seq = snapshot.seq
        self._latest = snapshot

    def snapshot(self) -> DeskSnapshot | None:
        self._ensure_started()
        return self._latest

    async def _ready(self) -> ControlClient | str:
        """The live connection, or why there is none (waiting for a first connect)."""
        self._ensure_started()
        connected = self._connected
        if self._closed or connected is None:
            return "the link to the desk is closed"
        if not connected.done():
            try:
                await asyncio.wait_for(asyncio.shield(connected), self.timeout)
            except (ControlError, TimeoutError) as exc:
                return self._failure or str(exc) or "timed out connecting to the desk"
        if self._failure is not None:
            return self._failure
        client = self._client
        if client is None or not client.connected:
            why = self._problem or (client.closed_reason if client else None) or "connection lost"
            return f"not connected to the desk: {why}"
        return client

    async def send(self, command: Command) -> CommandResult:
        """Carry a command out on the desk; fails at once (never queued) while disconnected."""
        client = await self._ready()
        if isinstance(client, str):
            return CommandResult(False, client)
        try:
            reply = await client.request(**command_to_request(command))
        except ControlError as exc:
            return CommandResult(False, str(exc))
        return CommandResult(bool(reply.get("ok")), reply.get("message") or reply.get("error", ""))

    async def order_detail(self, tag: str) -> OrderDetail | None:
        """An order's history and fills from the desk's journal; None if the tag is unknown
        or the desk cannot be reached right now. ``DeskRequestError`` if the desk failed."""
        client = await self._ready()
        if isinstance(client, str):
            return None
        try:
            return await client.order_detail(tag)
        except ControlError:
            return None

    async def chart(self, symbol: str) -> ChartView | None:
        """One symbol's price chart; None if the desk has no bars for it or cannot be
        reached right now. ``DeskRequestError`` if the desk failed to build it."""
        client = await self._ready()
        if isinstance(client, str):
            return None
        try:
            return await client.chart(symbol)
        except ControlError:
            return None

    async def _connected_client(self) -> ControlClient:
        client = await self._ready()
        if isinstance(client, str):
            raise DeskRequestError(client)
        return client

    async def runs(self) -> tuple[RunView, ...]:
        return await (await self._connected_client()).runs()

    async def history(
        self, table: str, run: str = "", text: str = "", offset: int = 0, limit: int = 100
    ) -> HistoryPage:
        client = await self._connected_client()
        return await client.history(table, run, text, offset, limit)

    async def run_report(self, run: str = "") -> RunReportView:
        return await (await self._connected_client()).run_report(run)

    async def export(self, what: str, run: str = "", path: str = "") -> ExportResult:
        return await (await self._connected_client()).export(what, run, path)

    def failure(self) -> str | None:
        """Why the desk could not be reached at all, or None (also while reconnecting)."""
        return self._failure

    def connection_problem(self) -> str | None:
        """What is wrong with a connection that was up and is being re-made, else None."""
        return self._problem

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            self._client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 1.0)
        if self._connected is not None and not self._connected.done():
            self._connected.cancel()
        self._problem = None
