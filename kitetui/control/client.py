"""One connection to a desk's control socket, for ``kitetui ctl``, ``RemoteLink`` and scripts.

``ControlClient`` speaks the JSON lines of ``kitetui/control/protocol.py``: requests and
a watch share one connection; replies are matched to requests by id, and pushed
snapshots are kept newest-only, so a consumer slower than the pushes never builds up a
backlog.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kitetui.control.protocol import (
    chart_from_json,
    order_detail_from_json,
    peer_uid,
    snapshot_from_json,
    view_from_json,
)
from kitetui.views import (
    ChartView,
    DeskSnapshot,
    ExportResult,
    HistoryPage,
    OrderDetail,
    RunReportView,
    RunView,
)

#: Lines from the desk can carry a whole snapshot: allow them to be large.
CLIENT_LINE_LIMIT = 64 * 1024 * 1024
#: How long a history read (a search, a report, an export) may take to answer.
READ_TIMEOUT_S = 120.0


def _served_by_another_user(sock: socket.socket | None) -> int | None:
    """The uid serving the socket, when it is neither this user nor root.

    A socket beside a database in a shared directory could be planted by another user:
    ``ctl`` would hand it a kill reason and print its made-up answers, ``attach`` would
    show its made-up desk."""
    try:
        uid = peer_uid(sock)
    except OSError:
        return None
    return None if uid is None or uid in (os.getuid(), 0) else uid


class ControlError(Exception):
    """The desk could not be reached, or the connection to it was lost."""


class DeskRequestError(Exception):
    """The desk answered, but could not do what was asked (its error is the message)."""


class ControlClient:
    """One connection to a desk's control socket. Requests and a watch can share it."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.closed_reason: str | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._latest: DeskSnapshot | None = None
        self._fresh = asyncio.Event()
        self._ended = False

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=CLIENT_LINE_LIMIT),
                self.timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise ControlError(unreachable_message(self.path, exc)) from exc
        stranger = _served_by_another_user(self._writer.get_extra_info("socket"))
        if stranger is not None:
            self._writer.close()
            raise ControlError(
                f"{self.path} is served by uid {stranger}, not by you (uid {os.getuid()}): "
                "not a desk of yours, so nothing is sent to it"
            )
        self._task = asyncio.create_task(self._read_loop(), name=f"control-client {self.path}")

    @property
    def connected(self) -> bool:
        """True from ``connect()`` until the connection ends (``closed_reason`` says why)."""
        return self._writer is not None and not self._ended

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "the desk closed the connection"
        try:
            while line := await self._reader.readline():
                refusal = self._route(_decode(line))
                if refusal is not None:
                    reason = refusal
        except (OSError, ValueError) as exc:
            reason = f"connection to the desk lost: {exc}"
        finally:
            self._end(reason)

    def _route(self, message: dict[str, Any] | None) -> str | None:
        """Hand one message from the desk to whoever waits for it: a reply to its request,
        a pushed snapshot to the newest-only slot. Returns why the desk refused us, if
        that is what it said."""
        if message is None:
            return None
        message_id = message.get("id")
        future = self._pending.pop(message_id, None) if type(message_id) is int else None
        if future is not None:
            if not future.done():
                future.set_result(message)
        elif message.get("snapshot") is not None:
            self._latest = snapshot_from_json(message["snapshot"])
            self._fresh.set()
        elif message.get("ok") is False and "error" in message:
            return f"the desk refused the connection: {message['error']}"
        return None

    def _end(self, reason: str) -> None:
        self.closed_reason = reason
        self._ended = True
        self._fresh.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ControlError(reason))
        self._pending.clear()

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one request and wait (bounded by ``timeout``) for its reply."""
        return await self.request_within(self.timeout, cmd, **args)

    async def request_within(self, timeout: float, cmd: str, **args: Any) -> dict[str, Any]:
        """``request`` with its own bound: a search or an export of a long run may take
        longer than a command."""
        if self._writer is None or self._ended:
            raise ControlError(self.closed_reason or "not connected")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
            await asyncio.wait_for(self._writer.drain(), self.timeout)
            return await asyncio.wait_for(future, timeout)
        except (OSError, TimeoutError) as exc:
            raise ControlError(f"no reply from the desk to {cmd!r}: {exc!r}") from exc
        finally:
            self._pending.pop(request_id, None)

    async def watch(self) -> AsyncIterator[DeskSnapshot]:
        """Ask for pushed snapshots and yield the newest each time one arrives.

        Ends when the connection closes (``closed_reason`` says why). A consumer that is
        slower than the pushes sees only the newest snapshot, never a backlog.
        """
        reply = await self.request("watch")
        if not reply.get("ok"):
            raise ControlError(reply.get("error", "watch refused"))
        async for snapshot in self.snapshots():
            yield snapshot

    async def snapshots(self) -> AsyncIterator[DeskSnapshot]:
        """The snapshots pushed after a ``watch`` request, newest each time; ends with the
        connection."""
        while True:
            # The newest snapshot first, even when the connection has just ended: the
            # last one a closing desk pushes is the one that says how the run ended.
            if self._latest is not None:
                snapshot, self._latest = self._latest, None
                yield snapshot
                continue
            if self._ended:
                return
            await self._fresh.wait()
            self._fresh.clear()

    async def order_detail(self, tag: str) -> OrderDetail | None:
        """An order's state history and fills from the desk's journal; None if unknown.

        Raises ``ControlError`` when the desk cannot be asked and ``DeskRequestError``
        when it could not read the order.
        """
        reply = await self.request("order", tag=tag)
        if not reply.get("ok"):
            raise DeskRequestError(reply.get("error") or f"the desk refused order {tag}")
        detail = reply.get("detail")
        return None if detail is None else order_detail_from_json(detail)

    async def chart(self, symbol: str) -> ChartView | None:
        """One symbol's price chart; None when the desk has no bars for it.

        Raises ``ControlError`` when the desk cannot be asked and ``DeskRequestError``
        when it could not build the chart.
        """
        reply = await self.request("chart", symbol=symbol)
        if not reply.get("ok"):
            raise DeskRequestError(reply.get("error") or f"the desk refused a chart of {symbol}")
        chart = reply.get("chart")
        return None if chart is None else chart_from_json(chart)

    # -- the database's history (control/reads.py) --------------------------------------

    async def _read(self, cmd: str, key: str, tp: Any, **args: Any) -> Any:
        reply = await self.request_within(max(self.timeout, READ_TIMEOUT_S), cmd, **args)
        if not reply.get("ok"):
            raise DeskRequestError(reply.get("error") or f"the desk refused {cmd}")
        return view_from_json(tp, reply.get(key))

    async def runs(self) -> tuple[RunView, ...]:
        """Every run of the desk's database, oldest first (``kitetui runs``)."""
        return await self._read("runs", "runs", tuple[RunView, ...])

    async def history(
        self, table: str, run: str = "", text: str = "", offset: int = 0, limit: int = 100
    ) -> HistoryPage:
        """One page (newest first) of a journal table of ``run`` ("" the desk's own)."""
        args = {"table": table, "run": run, "filter": text, "offset": offset, "limit": limit}
        return await self._read("history", "page", HistoryPage, **args)

    async def run_report(self, run: str = "") -> RunReportView:
        """A run's report headline."""
        return await self._read("run-report", "report", RunReportView, run=run)

    async def export(self, what: str, run: str = "", path: str = "") -> ExportResult:
        """Have the desk write ``kitetui export``'s CSV (a relative path is beside its
        database)."""
        return await self._read("export", "export", ExportResult, what=what, run=run, path=path)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()

    async def __aenter__(self) -> ControlClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def unreachable_message(path: Path, exc: BaseException | None = None) -> str:
    why = f" ({exc.strerror or exc})" if isinstance(exc, OSError) else ""
    if isinstance(exc, TimeoutError):
        why = " (timed out)"
    holder = running_desk_pid(path)
    if holder:  # the desk is there, its socket is not: "is it running?" would mislead
        return (
            f"cannot connect to the desk at {path}{why}: the database's lock names a running "
            f"desk (pid {holder}), so its control socket is missing or replaced; the desk "
            "binds a removed socket again within seconds (retry), or stop it with "
            f"`kill -TERM {holder}`"
        )
    return (
        f"cannot connect to the desk at {path}{why}: "
        "is `kitetui run --no-ui` running with this database?"
    )


def running_desk_pid(path: Path) -> int:
    """The pid of a live desk holding the database beside socket ``path``, else 0.

    Read from ``<database>.lock`` (``kitetui/store/lock.py`` writes it: pid, then
    ``open``/``closed``; repeated here because the screen, which reaches the desk only
    through this package, may not import the store). A ``closed`` file or a dead pid
    names no desk."""
    if not path.name.endswith(".sock"):
        return 0
    database = os.path.realpath(path.with_name(path.name.removesuffix(".sock")))
    try:
        with open(f"{database}.lock", encoding="ascii") as lock:
            pid_line, state = (lock.readline().strip(), lock.readline().strip())
    except (OSError, ValueError):
        return 0
    if state != "open" or not pid_line.isdigit():
        return 0
    try:
        os.kill(int(pid_line), 0)
    except PermissionError:
        return int(pid_line)  # alive, another user's
    except OSError:
        return 0
    return int(pid_line)


def _decode(line: bytes) -> dict[str, Any] | None:
    """A line from the desk as a JSON object, or None for anything else (skipped)."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
