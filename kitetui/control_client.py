"""The client side of the control socket: ``kitetui ctl``, ``kitetui attach`` and scripts.

``snapshot_to_json`` / ``snapshot_from_json`` carry a ``DeskSnapshot`` over JSON with an
exact round trip (tuples stay tuples, nested views come back as the same dataclasses), and
``order_detail_to_json`` / ``order_detail_from_json`` do the same for an ``OrderDetail``.
``ControlClient`` speaks the JSON-lines protocol of ``kitetui.control``; ``RemoteLink``
is the socket implementation of ``DeskLink`` for the TUI (it reconnects by itself once it
has been connected); ``run_ctl`` is ``kitetui ctl``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import itertools
import json
import sys
import types
import typing
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from kitetui.clock import format_ist
from kitetui.commands import (
    CancelOrder,
    Command,
    CommandResult,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.views import DeskSnapshot, OrderDetail

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

#: The protocol name of every command object, and back.
COMMAND_NAMES: dict[type, str] = {
    StartEngine: "start",
    StopEngine: "stop",
    PauseEntries: "pause",
    ResumeEntries: "resume",
    TriggerKillSwitch: "kill",
    ResetKillSwitch: "reset-kill",
    FlattenPosition: "flatten",
    CancelOrder: "cancel",
}
COMMAND_TYPES: dict[str, type] = {name: cls for cls, name in COMMAND_NAMES.items()}

#: Lines from the desk can carry a whole snapshot: allow them to be large.
CLIENT_LINE_LIMIT = 64 * 1024 * 1024


def socket_path_for(database: str | Path) -> Path:
    """The control socket that lives beside a database: ``state.db`` → ``state.db.sock``."""
    database = Path(database)
    return database.with_name(database.name + ".sock")


def command_to_request(command: Command) -> dict[str, Any]:
    """``FlattenPosition("SBIN")`` → ``{"cmd": "flatten", "symbol": "SBIN"}``."""
    name = COMMAND_NAMES.get(type(command))
    if name is None:
        raise TypeError(f"not a desk command: {command!r}")
    return {"cmd": name, **{f.name: getattr(command, f.name) for f in dataclasses.fields(command)}}


def command_from_request(cmd: str, args: dict[str, Any]) -> Command:
    return COMMAND_TYPES[cmd](**args)


# -- snapshots over JSON ---------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _from_json(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        if not args:
            return tuple(value)
        return tuple(_from_json(a, v) for a, v in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        # Optional[X]: the None case was handled above
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _from_json(inner[0], value) if len(inner) == 1 else value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(
            **{
                f.name: _from_json(hints[f.name], value[f.name])
                for f in dataclasses.fields(tp)
                if f.name in value
            }
        )
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def snapshot_to_json(snapshot: DeskSnapshot) -> dict[str, Any]:
    """A JSON-ready dict of every field of the snapshot and its views."""
    return _to_json(snapshot)


def snapshot_from_json(data: dict[str, Any]) -> DeskSnapshot:
    """The exact inverse of ``snapshot_to_json``."""
    return _from_json(DeskSnapshot, data)


def order_detail_to_json(detail: OrderDetail) -> dict[str, Any]:
    """A JSON-ready dict of an order's history and fills."""
    return _to_json(detail)


def order_detail_from_json(data: dict[str, Any]) -> OrderDetail:
    """The exact inverse of ``order_detail_to_json``."""
    return _from_json(OrderDetail, data)


# -- the client ------------------------------------------------------------------------


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
        self._task = asyncio.create_task(self._read_loop(), name=f"control-client {self.path}")

    @property
    def connected(self) -> bool:
        """True from ``connect()`` until the connection ends (``closed_reason`` says why)."""
        return self._writer is not None and not self._ended

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "the desk closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                message_id = message.get("id")
                future = self._pending.pop(message_id, None) if type(message_id) is int else None
                if future is not None:
                    if not future.done():
                        future.set_result(message)
                elif "snapshot" in message and message["snapshot"] is not None:
                    self._latest = snapshot_from_json(message["snapshot"])
                    self._fresh.set()
                elif message.get("ok") is False and "error" in message:
                    reason = f"the desk refused the connection: {message['error']}"
        except (OSError, ValueError) as exc:
            reason = f"connection to the desk lost: {exc}"
        finally:
            self.closed_reason = reason
            self._ended = True
            self._fresh.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ControlError(reason))
            self._pending.clear()

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one request and wait (bounded by ``timeout``) for its reply."""
        if self._writer is None or self._ended:
            raise ControlError(self.closed_reason or "not connected")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
            await asyncio.wait_for(self._writer.drain(), self.timeout)
            return await asyncio.wait_for(future, self.timeout)
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
    return (
        f"cannot connect to the desk at {path}{why}: "
        "is `kitetui run --no-ui` running with this database?"
    )


# -- the remote link -------------------------------------------------------------------


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


# -- kitetui ctl -----------------------------------------------------------------------

_NEEDS_ARG = {
    "order": "tag",
    "start": "engine",
    "stop": "engine",
    "flatten": "symbol",
    "cancel": "tag",
}
_OPTIONAL_ARG = {"pause": "engine", "resume": "engine", "kill": "reason"}
CTL_COMMANDS = ("status", "order", *COMMAND_TYPES)


def build_ctl_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kitetui ctl", description="Talk to a running desk over its control socket."
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", help="control socket path")
    where.add_argument(
        "--db", help="the desk's database; the socket is beside it (default: state.db)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON reply")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (5)")
    parser.add_argument("command", choices=CTL_COMMANDS)
    parser.add_argument("arg", nargs="?", help="engine, symbol, order tag or kill reason")
    return parser


def run_ctl(argv: Sequence[str] | None = None) -> int:
    """``kitetui ctl``: 0 done, 1 the desk refused (or has no such order), 2 usage, 3 cannot
    connect."""
    parser = build_ctl_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    request: dict[str, Any] = {}
    if args.command in _NEEDS_ARG:
        if not args.arg:
            parser.print_usage(sys.stderr)
            print(
                f"kitetui ctl: {args.command} needs a {_NEEDS_ARG[args.command]}", file=sys.stderr
            )
            return EXIT_USAGE
        request[_NEEDS_ARG[args.command]] = args.arg
    elif args.command in _OPTIONAL_ARG:
        if args.arg:
            request[_OPTIONAL_ARG[args.command]] = args.arg
    elif args.arg:
        print(f"kitetui ctl: {args.command} takes no argument", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.socket) if args.socket else socket_path_for(args.db or "state.db")

    async def call() -> dict[str, Any]:
        async with ControlClient(path, timeout=args.timeout) as client:
            return await client.request(args.command, **request)

    try:
        reply = asyncio.run(call())
    except ControlError as exc:
        print(f"kitetui ctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    unknown_order = args.command == "order" and reply.get("ok") and reply.get("detail") is None
    if args.json:
        print(json.dumps(reply, indent=2))
    elif not reply.get("ok"):
        print(f"refused: {reply.get('error') or reply.get('message', '')}", file=sys.stderr)
    elif unknown_order:
        print(f"kitetui ctl: the desk has no order {args.arg!r}", file=sys.stderr)
    elif args.command == "order":
        print(format_order(order_detail_from_json(reply["detail"])))
    elif args.command == "status":
        snapshot = reply.get("snapshot")
        if snapshot is None:
            print("the desk is up but has not published a snapshot yet")
        else:
            print(format_status(snapshot_from_json(snapshot)))
    else:
        print(reply.get("message", "ok"))
    return EXIT_OK if reply.get("ok") and not unknown_order else EXIT_REFUSED


_OPEN_ORDER_STATES = {"NEW", "OPEN", "TRIGGER PENDING"}


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_order(detail: OrderDetail) -> str:
    """``kitetui ctl order TAG``: each state the order passed through, then its fills."""
    lines = [f"order {detail.tag}", "", f"history ({len(detail.history)})"]
    if detail.history:
        lines += _table(
            [("TIME", "STATUS", "REASON")]
            + [(format_ist(e.ts_ns), e.status, e.reason) for e in detail.history]
        )
    lines += ["", f"fills ({len(detail.fills)})"]
    if detail.fills:
        lines += _table(
            [("TIME", "SIDE", "QTY", "PRICE", "FILL")]
            + [
                (format_ist(f.ts_ns), f.side, str(f.quantity), f"{f.price:,.2f}", f.fill_id)
                for f in detail.fills
            ]
        )
        quantity = sum(f.quantity for f in detail.fills)
        average = sum(f.quantity * f.price for f in detail.fills) / quantity if quantity else 0.0
        lines.append(f"  filled {quantity} at an average of {average:,.2f}")
    return "\n".join(lines)


def _entries_word(risk) -> str:
    """Whether a new entry could go out now, in one word."""
    if risk.kill_switch or risk.state == "HALTED":
        return "BLOCKED"
    if risk.entries_paused:
        return "PAUSED"
    return "BLOCKED" if risk.blocks else "open"


def format_status(s: DeskSnapshot) -> str:
    """One screen for ``kitetui ctl status``."""
    risk = s.risk
    clock = format_ist(s.data_ts_ns) if s.data_ts_ns else "-"
    lines = [
        f"desk      {s.mode}  run {s.run_id}  feed {s.feed_state}  speed {s.speed}",
        f"data      {clock}",
        f"risk      {risk.state}  kill switch {'ON' if risk.kill_switch else 'off'}"
        f"  entries {_entries_word(risk)}"
        + (f"  ({risk.halt_reason})" if risk.halt_reason else ""),
        *(f"block     {name}: {reason} (clears {clears})" for name, reason, clears in risk.blocks),
        *(f"NAKED     {symbol}: {why}" for symbol, why in risk.naked),
        f"day P&L   {risk.day_pnl:+,.2f}  realized {risk.realized:+,.2f}"
        f"  unrealized {risk.unrealized:+,.2f}  max drawdown {risk.max_drawdown:,.2f}",
        "",
        f"engines ({len(s.engines)})",
    ]
    if s.engines:
        lines += _table(
            [("NAME", "KIND", "STATE", "STRATEGY", "SYMBOLS", "BARS", "ORDERS", "ERROR")]
            + [
                (
                    e.name,
                    e.kind,
                    e.state,
                    e.strategy,
                    str(len(e.symbols)),
                    str(e.bars_seen),
                    str(e.orders_placed),
                    e.last_error,
                )
                for e in s.engines
            ]
        )
    lines += ["", f"positions ({len(s.positions)})"]
    if s.positions:
        lines += _table(
            [("SYMBOL", "ENGINE", "PRODUCT", "QTY", "AVG", "LAST", "P&L", "COVER")]
            + [
                (
                    p.symbol,
                    p.engine,
                    p.product,
                    str(p.quantity),
                    f"{p.avg_price:,.2f}",
                    f"{p.last_price:,.2f}",
                    f"{p.pnl:+,.2f}",
                    p.cover or "-",
                )
                for p in s.positions
            ]
        )
    open_orders = [o for o in s.orders if o.status in _OPEN_ORDER_STATES]
    lines += ["", f"open orders ({len(open_orders)})"]
    if open_orders:
        lines += _table(
            [("TAG", "ENGINE", "SYMBOL", "SIDE", "QTY", "TYPE", "PRICE", "STATUS")]
            + [
                (
                    o.tag,
                    o.engine,
                    o.symbol,
                    o.side,
                    f"{o.filled_qty}/{o.quantity}",
                    o.order_type,
                    f"{o.price or o.trigger_price:,.2f}",
                    o.status,
                )
                for o in open_orders
            ]
        )
    return "\n".join(lines)
