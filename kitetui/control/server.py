"""The desk's side of the control socket: how ``kitetui ctl`` and ``kitetui attach`` reach it.

A Unix stream socket beside the database (``state.db.sock``), mode 0600, that only
accepts peers of our own uid (SO_PEERCRED), speaking the JSON lines of
``kitetui/control/protocol.py``. Each command request becomes its command object and
goes through ``desk.execute`` — the one door; ``order`` reads one order's history and
fills through ``desk.order_detail``, ``chart`` one symbol's price chart through
``desk.chart``; ``runs``, ``history``, ``run-report`` and ``export``
read the database through ``reads`` (``control/reads.py``), off the trading loop.

Nothing here can slow the desk: every client has its own sender task, replies wait in a
small bounded queue (a client that lets it overflow is dropped) and pushed snapshots
overwrite each other, so a stalled reader only ever holds the newest one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Any, Protocol

from kitetui.commands import Command, CommandResult
from kitetui.control.protocol import (
    RequestId,
    chart_to_json,
    encode_line,
    order_detail_to_json,
    parse_request,
    request_to_command,
    snapshot_to_json,
)
from kitetui.control.reads import HISTORY_WORDS, HistoryReads, answer
from kitetui.views import ChartView, DeskSnapshot, OrderDetail

log = logging.getLogger(__name__)

REQUEST_LINE_LIMIT = 1024 * 1024
MAX_PENDING_REPLIES = 64
_SUN_PATH_MAX = 107


class ControlSocketError(Exception):
    """The control socket cannot be opened (busy, not a socket, path too long)."""


class ServedDesk(Protocol):
    """What the server needs of a desk (the supervisor, or a fake in tests)."""

    published: DeskSnapshot | None

    async def execute(self, command: Command) -> CommandResult: ...

    async def order_detail(self, tag: str) -> OrderDetail | None: ...

    async def chart(self, symbol: str) -> ChartView | None: ...


# -- peers -----------------------------------------------------------------------------


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where unknown)."""
    if sock is None:
        return None
    if hasattr(socket, "SO_PEERCRED"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return uid
    getpeereid = getattr(sock, "getpeereid", None)  # not in CPython, but cheap to honour
    return getpeereid()[0] if getpeereid else None


def check_peer_uid(uid: int | None, own_uid: int | None = None) -> str | None:
    """Why a peer must be refused, or None to let it in. Only our own uid may connect."""
    own = os.getuid() if own_uid is None else own_uid
    if uid is None:
        return None  # no peer credentials on this platform: the 0600 mode still guards it
    if uid != own:
        return f"uid {uid} may not control this desk (it belongs to uid {own})"
    return None


# -- the server ------------------------------------------------------------------------


class _Client:
    """One connection: a bounded reply queue plus a single newest-snapshot slot."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.replies: collections.deque[bytes] = collections.deque()
        self.snapshot: bytes | None = None
        self.watching = False
        self.last_seq: int | None = None
        self.overflowed = False
        self.wake = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None

    def reply(self, message: dict[str, Any]) -> None:
        self.reply_raw(encode_line(message))

    def reply_raw(self, data: bytes) -> None:
        if len(self.replies) >= MAX_PENDING_REPLIES:
            self.overflowed = True  # it sends but never reads: drop it
            self.writer.close()
            return
        self.replies.append(data)
        self.wake.set()

    def push(self, seq: int, line: bytes) -> None:
        self.snapshot = line  # replaces any snapshot it has not taken yet
        self.last_seq = seq
        self.wake.set()

    async def run_sender(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.replies or self.snapshot is not None:
                    if self.replies:
                        data = self.replies.popleft()
                    else:
                        data, self.snapshot = self.snapshot, None
                    self.writer.write(data)
                    await self.writer.drain()
        except (ConnectionError, OSError):
            self.writer.close()


def check_socket_path(path: Path) -> None:
    """What refuses a socket path whatever runs: too long for a Unix socket, or taken by
    something that is not a socket. The desk asks this before it opens the database, so a
    start refused here leaves no new run behind (``start`` asks it again)."""
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise ControlSocketError(
            f"control socket path is too long for a Unix socket ({path}); "
            "use a shorter database path"
        )
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (the database's own
        return  # checks name a folder that is a file)
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(f"{path} exists and is not a socket; not touching it")


class ControlServer:
    """Serve a desk (``.published``, ``execute``, ``order_detail``) on a Unix control socket."""

    def __init__(
        self,
        desk: ServedDesk,
        path: str | Path,
        *,
        max_rate: float = 4.0,
        reads: HistoryReads | None = None,
    ) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.desk = desk
        self.reads = reads  # runs, history, run-report, export (control/reads.py)
        self.path = Path(path)
        self.max_rate = max_rate
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._broadcaster: asyncio.Task[None] | None = None
        self._encoded: tuple[int, str] | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        check_socket_path(self.path)
        await self._clear_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            # Nobody can connect before listen(): tighten the mode first.
            os.chmod(self.path, 0o600)
            self._inode = os.stat(self.path).st_ino
            self._server = await asyncio.start_unix_server(
                self._accept, sock=sock, limit=REQUEST_LINE_LIMIT
            )
        except OSError as exc:
            sock.close()
            raise ControlSocketError(f"cannot open control socket {self.path}: {exc}") from exc
        self._broadcaster = asyncio.create_task(self._broadcast(), name="control-broadcast")
        log.info("control socket listening on %s", self.path)

    async def _clear_stale(self) -> None:
        """Remove a dead socket file; refuse when something is listening or it is no socket."""
        if not os.path.lexists(self.path):
            return
        check_socket_path(self.path)
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path)), 2.0
            )
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            log.info("removed stale control socket %s", self.path)
            return
        except (OSError, TimeoutError) as exc:
            raise ControlSocketError(f"cannot check control socket {self.path}: {exc}") from exc
        writer.close()
        raise ControlSocketError(
            f"another desk is already listening on {self.path}; "
            "is a `kitetui run` using this database still running?"
        )

    async def stop(self, *, final_push_s: float = 1.0) -> None:
        """Close the socket; watchers first get the desk's last snapshot (bounded wait),
        so an attached screen shows how the run ended, not a frame from before it."""
        await self._push_final(final_push_s)
        if self._broadcaster is not None:
            self._broadcaster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._broadcaster, 1.0)
            self._broadcaster = None
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.writer.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.wait(handlers, timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        self._remove_socket_file()

    async def _push_final(self, timeout: float) -> None:
        snapshot = self.desk.published
        if snapshot is None or timeout <= 0:
            return
        watchers = [c for c in self._clients if c.watching and not c.overflowed]
        if not watchers:
            return
        line = self._push_line(snapshot)
        for client in watchers:
            if client.last_seq != snapshot.seq:
                client.push(snapshot.seq, line)
        deadline = asyncio.get_running_loop().time() + timeout
        while any(c.snapshot is not None or c.replies for c in watchers):
            if asyncio.get_running_loop().time() >= deadline:
                return  # a stalled reader does not hold the shutdown up
            await asyncio.sleep(0.01)

    def _remove_socket_file(self) -> None:
        try:
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)  # only our own file, never a successor's
        except FileNotFoundError:
            pass
        self._inode = None

    # -- connections -------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            refusal = check_peer_uid(peer_uid(writer.get_extra_info("socket")))
        except OSError as exc:
            refusal = f"cannot read peer credentials: {exc}"
        if refusal is not None:
            log.warning("control socket: refused a peer: %s", refusal)
            writer.write(encode_line({"ok": False, "error": refusal}))
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.drain(), 1.0)
            return
        client = _Client(writer)
        client.sender = asyncio.create_task(client.run_sender(), name="control-sender")
        self._clients.add(client)
        try:
            while not client.overflowed:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than REQUEST_LINE_LIMIT: the stream is lost
                    client.reply({"ok": False, "error": "request line too long"})
                    await self._flush(client)
                    break
                except OSError:
                    break
                if not line:
                    break
                if line.strip():
                    await self._handle_line(client, line)
        finally:
            self._clients.discard(client)
            client.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(client.sender, 1.0)

    async def _flush(self, client: _Client) -> None:
        for _ in range(20):  # at most a second for the last reply to leave
            if not client.replies:
                return
            await asyncio.sleep(0.05)

    async def _handle_line(self, client: _Client, line: bytes) -> None:
        request_id, request = parse_request(line)
        if isinstance(request, str):
            client.reply({"id": request_id, "ok": False, "error": request})
            return
        command = request_to_command(request)
        if command is not None:
            await self._execute(client, request_id, command)
        elif request.cmd == "status":
            self._status(client, request_id)
        elif request.cmd == "watch":
            self._watch(client, request_id)
        elif request.cmd == "order":
            await self._order(client, request_id, request.tag)  # its one field
        elif request.cmd == "chart":
            await self._chart(client, request_id, request.symbol)  # its one field
        elif request.cmd in HISTORY_WORDS:
            # Read in a worker thread on the desk's side: the loop only awaits it.
            client.reply({"id": request_id, **await answer(self.reads, request)})

    def _status(self, client: _Client, request_id: RequestId) -> None:
        snapshot = self.desk.published
        text = "null" if snapshot is None else self._encode(snapshot)
        client.reply_raw(
            f'{{"id":{json.dumps(request_id)},"ok":true,"snapshot":{text}}}\n'.encode()
        )

    def _watch(self, client: _Client, request_id: RequestId) -> None:
        client.reply({"id": request_id, "ok": True, "message": "watching"})
        client.watching = True
        snapshot = self.desk.published
        if snapshot is not None:
            client.push(snapshot.seq, self._push_line(snapshot))

    async def _execute(self, client: _Client, request_id: RequestId, command: Command) -> None:
        try:
            result = await self.desk.execute(command)
        except Exception as exc:  # the desk's own façade should not raise; be safe anyway
            log.exception("control socket: %s failed", command)
            result = CommandResult(False, f"{type(command).__name__} failed: {exc}")
        client.reply({"id": request_id, "ok": result.ok, "message": result.message})

    async def _order(self, client: _Client, request_id: RequestId, tag: str) -> None:
        try:
            detail = await self.desk.order_detail(tag)
            data = None if detail is None else order_detail_to_json(detail)
        except Exception as exc:  # a failed read must not take the connection down
            log.exception("control socket: order %s failed", tag)
            error = f"cannot read order {tag}: {exc}"
            client.reply({"id": request_id, "ok": False, "error": error})
            return
        client.reply({"id": request_id, "ok": True, "detail": data})

    async def _chart(self, client: _Client, request_id: RequestId, symbol: str) -> None:
        try:
            chart = await self.desk.chart(symbol)
            data = None if chart is None else chart_to_json(chart)
        except Exception as exc:  # a failed read must not take the connection down
            log.exception("control socket: chart %s failed", symbol)
            error = f"cannot chart {symbol}: {exc}"
            client.reply({"id": request_id, "ok": False, "error": error})
            return
        client.reply({"id": request_id, "ok": True, "chart": data})

    # -- snapshots ---------------------------------------------------------------------

    def _encode(self, snapshot: DeskSnapshot) -> str:
        """The snapshot as JSON text, encoded once per seq however many clients want it."""
        if self._encoded is None or self._encoded[0] != snapshot.seq:
            text = json.dumps(snapshot_to_json(snapshot), separators=(",", ":"))
            self._encoded = (snapshot.seq, text)
        return self._encoded[1]

    def _push_line(self, snapshot: DeskSnapshot) -> bytes:
        return f'{{"snapshot":{self._encode(snapshot)}}}\n'.encode()

    async def _broadcast(self) -> None:
        interval = 1.0 / self.max_rate
        while True:
            await asyncio.sleep(interval)
            snapshot = self.desk.published
            if snapshot is None:
                continue
            watchers = [c for c in self._clients if c.watching and c.last_seq != snapshot.seq]
            if not watchers:
                continue
            try:
                line = self._push_line(snapshot)
            except Exception:  # a snapshot that cannot be encoded must not kill pushes
                log.exception("control socket: cannot encode snapshot %s", snapshot.seq)
                continue
            for client in watchers:
                client.push(snapshot.seq, line)
