"""The desk's side of the control socket: how ``kitetui ctl`` and ``kitetui attach`` reach it.

A Unix stream socket beside the database (``state.db.sock``), mode 0600, that only
accepts peers of our own uid (SO_PEERCRED), speaking the JSON lines of
``kitetui/control/protocol.py``. Each command request becomes its command object and
goes through ``desk.execute`` — the one door; ``order`` reads one order's history and
fills through ``desk.order_detail``, ``chart`` one symbol's price chart through
``desk.chart``; ``runs``, ``history``, ``run-report`` and ``export``
read the database through ``reads`` (``control/reads.py``), off the trading loop.

Nothing here can slow the desk, and no client can starve the others:

- every client has its own sender task; its replies wait in a queue bounded by count
  (``MAX_PENDING_REPLIES``) and by bytes (``MAX_PENDING_BYTES``), and a client that
  lets it overflow is dropped with a log line. A ``status`` reply shares the encoded
  snapshot's bytes, and pushed snapshots overwrite each other, so a stalled reader only
  ever holds the newest one;
- at most ``MAX_CLIENTS`` connections are served at once; one more is answered with an
  ``ok: false`` line and closed. The accept loop is our own: when accepting fails (out
  of file descriptors) it backs off and logs at most one line a minute;
- a request line is at most ``REQUEST_LINE_LIMIT`` bytes and must be finished within
  ``PARTIAL_LINE_TIMEOUT_S`` of its first byte (an idle connection with nothing
  half-sent, such as a watcher, may stay as long as it likes);
- each client may send ``READ_RATE`` reads and ``COMMAND_RATE`` commands a second (with
  bursts), and all clients together ``DESK_COMMAND_RATE`` commands; a request over the
  rate gets ``ok: false`` "too many requests" and never reaches the desk, so it is not
  journaled (the server counts them and logs one line a minute);
- a request that cannot be read or fails gets a one-line ``ok: false`` and the
  connection stays usable; at the end of the stream (a client that half-closes after its
  request) the replies already due are written before the connection is closed.

The socket file can vanish under a running desk (a tmp cleaner, an ``rm`` by mistake):
the listening socket then serves nobody and ``ctl``/``attach``/``ctl kill`` cannot reach
the desk until a restart. So every ``SOCKET_CHECK_S`` the server checks that its path is
still its own socket (device and inode). Gone: it binds a new socket there and says so
(a WARNING event, ``ControlSocketRestored``). Something else there: it leaves it alone
and says so once (an ERROR event, ``ControlSocketTaken``); it re-binds when the path is
free again.
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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kitetui.commands import Command, CommandResult
from kitetui.control.protocol import (
    REQUESTS,
    Request,
    RequestId,
    chart_to_json,
    encode_line,
    order_detail_to_json,
    parse_request,
    peer_uid,
    request_to_command,
    snapshot_to_json,
)
from kitetui.control.reads import HISTORY_WORDS, HistoryReads, answer
from kitetui.domain import Event
from kitetui.events import EventKind
from kitetui.views import ChartView, DeskSnapshot, OrderDetail

log = logging.getLogger(__name__)

REQUEST_LINE_LIMIT = 1024 * 1024
#: A client's reply queue: at most this many replies and this many bytes waiting.
MAX_PENDING_REPLIES = 64
MAX_PENDING_BYTES = 8 * 1024 * 1024
#: Connections served at once (each holds a file descriptor and a line buffer).
MAX_CLIENTS = 64
#: How long a request line may stay unfinished after its first byte arrived.
PARTIAL_LINE_TIMEOUT_S = 10.0
#: How long the replies due at the end of a stream may take to leave.
FINAL_FLUSH_S = 2.0
#: How long the accept loop waits after accepting failed (out of file descriptors).
ACCEPT_RETRY_S = 0.5
#: Request rates as (per second, burst): a client's reads and commands, and all clients'
#: commands together (each command may journal an event).
READ_RATE = (50.0, 100)
COMMAND_RATE = (5.0, 20)
DESK_COMMAND_RATE = (20.0, 50)
#: A repeating problem (failed accepts, refused clients, rate refusals) is logged at
#: most once in this many seconds.
LOG_EVERY_S = 60.0
#: How often the server checks that its socket file is still its own (module docstring).
SOCKET_CHECK_S = 5.0
_READ_CHUNK = 64 * 1024
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


def check_peer_uid(uid: int | None, own_uid: int | None = None) -> str | None:
    """Why a peer must be refused, or None to let it in. Only our own uid may connect."""
    own = os.getuid() if own_uid is None else own_uid
    if uid is None:
        return None  # no peer credentials on this platform: the 0600 mode still guards it
    if uid != own:
        return f"uid {uid} may not control this desk (it belongs to uid {own})"
    return None


# -- limits ----------------------------------------------------------------------------


class _Throttled:
    """A problem that may repeat thousands of times a second, logged at most once every
    ``LOG_EVERY_S`` with how many were kept quiet: a log must not fill the disk."""

    def __init__(self) -> None:
        self._next_at = 0.0
        self._quiet = 0

    def log(self, level: int, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now < self._next_at:
            self._quiet += 1
            return
        if self._quiet:
            message += " (and %d more like it since the last line)"
            args = (*args, self._quiet)
        self._quiet = 0
        self._next_at = now + LOG_EVERY_S
        log.log(level, message, *args, exc_info=exc_info)


class _Bucket:
    """A token bucket: ``rate`` requests a second on average, ``burst`` at once."""

    def __init__(self, rate_and_burst: tuple[float, int]) -> None:
        self.rate, self.burst = rate_and_burst
        self._tokens = float(self.burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class _LineTooLong(Exception):
    """A request line longer than ``REQUEST_LINE_LIMIT``: the stream is lost."""


class _Lines:
    """A connection's request lines, bounded in length and in how long a half-sent line
    may wait: a client that sends part of a line and stalls is cut off, while one that
    sends nothing (a watcher) may wait as long as it likes."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._scanned = 0  # no newline before here
        self._partial_since = 0.0

    async def next(self) -> bytes:
        """The next line; at the end of the stream what is left (a last request without
        its newline), then b"". Raises ``_LineTooLong`` and ``TimeoutError``."""
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                return self._take(end + 1)
            self._scanned = len(self._buffer)
            if len(self._buffer) > REQUEST_LINE_LIMIT:
                raise _LineTooLong
            chunk = await self._read()
            if not chunk:
                return self._take(len(self._buffer))
            if not self._buffer:
                self._partial_since = time.monotonic()
            self._buffer += chunk

    def _take(self, size: int) -> bytes:
        if size > REQUEST_LINE_LIMIT + 1:  # the newline is not counted
            raise _LineTooLong
        line = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        self._partial_since = time.monotonic()  # what is left came with this line
        return line

    async def _read(self) -> bytes:
        if not self._buffer:
            return await self._reader.read(_READ_CHUNK)
        left = self._partial_since + PARTIAL_LINE_TIMEOUT_S - time.monotonic()
        return await asyncio.wait_for(self._reader.read(_READ_CHUNK), max(left, 0.0))


# -- the server ------------------------------------------------------------------------


class _Client:
    """One connection: a reply queue bounded by count and bytes, a single
    newest-snapshot slot and its own request rates."""

    def __init__(self, writer: asyncio.StreamWriter, drops: _Throttled) -> None:
        self.writer = writer
        # each reply is its parts: a status reply shares the encoded snapshot's bytes
        self.replies: collections.deque[tuple[bytes, ...]] = collections.deque()
        self.pending_bytes = 0
        self.snapshot: bytes | None = None
        self.watching = False
        self.last_seq: int | None = None
        self.overflowed = False
        self.closing = False  # the stream ended: write what is due, then stop
        self.wake = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None
        self.reads = _Bucket(READ_RATE)
        self.commands = _Bucket(COMMAND_RATE)
        self._drops = drops

    def reply(self, message: dict[str, Any]) -> None:
        self.reply_raw(encode_line(message))

    def reply_raw(self, *parts: bytes) -> None:
        if self.overflowed:
            return
        size = sum(len(part) for part in parts)
        # One reply may always wait, however large: a snapshot bigger than the cap must
        # still reach a client that reads.
        if self.replies and (
            len(self.replies) >= MAX_PENDING_REPLIES
            or self.pending_bytes + size > MAX_PENDING_BYTES
        ):
            self._drop()
            return
        self.replies.append(parts)
        self.pending_bytes += size
        self.wake.set()

    def _drop(self) -> None:
        """It sends but does not read: hold no more for it, and close it."""
        self._drops.log(
            logging.WARNING,
            "control socket: dropped a client that does not read its replies "
            "(%d replies, %d bytes waiting)",
            len(self.replies),
            self.pending_bytes,
        )
        self.overflowed = True
        self.replies.clear()
        self.pending_bytes = 0
        self.snapshot = None
        self.writer.close()

    def push(self, seq: int, line: bytes) -> None:
        self.snapshot = line  # replaces any snapshot it has not taken yet
        self.last_seq = seq
        self.wake.set()

    async def run_sender(self) -> None:
        """Write replies, then the newest snapshot, as the client reads them; once the
        stream has ended (``closing``), return when nothing more is due."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while (self.replies or self.snapshot is not None) and not self.overflowed:
                    if self.replies:
                        parts = self.replies.popleft()
                        self.pending_bytes -= sum(len(part) for part in parts)
                        for part in parts:
                            self.writer.write(part)
                    else:
                        data, self.snapshot = self.snapshot, None
                        self.writer.write(data)
                    await self.writer.drain()
                if self.closing or self.writer.is_closing():
                    return
        except (ConnectionError, OSError):
            self.writer.close()

    async def finish(self) -> None:
        """Let the replies already due leave (bounded by ``FINAL_FLUSH_S``), then stop
        the sender: a client that half-closes after its request still gets its reply."""
        sender = self.sender
        if sender is None:
            return
        if self.overflowed or self.writer.is_closing():
            sender.cancel()
        else:
            self.closing = True
            self.wake.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(sender, FINAL_FLUSH_S)


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


def _identity(found: os.stat_result) -> tuple[int, int]:
    """What tells our socket file from a successor at the same path."""
    return found.st_dev, found.st_ino


class ControlServer:
    """Serve a desk (``.published``, ``execute``, ``order_detail``) on a Unix control socket."""

    def __init__(
        self,
        desk: ServedDesk,
        path: str | Path,
        *,
        max_rate: float = 4.0,
        reads: HistoryReads | None = None,
        on_event: Callable[[Event], None] | None = None,
        socket_check_s: float = SOCKET_CHECK_S,
    ) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.desk = desk
        self.reads = reads  # runs, history, run-report, export (control/reads.py)
        self.path = Path(path)
        self.max_rate = max_rate
        self._listener: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._inode: tuple[int, int] | None = None  # (device, inode) of our socket file
        self.on_event = on_event  # the desk's journal, for what the watchdog finds
        self.socket_check_s = socket_check_s
        self._watchdog: asyncio.Task[None] | None = None
        self._taken_said: str | None = None  # the trouble already reported
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._broadcaster: asyncio.Task[None] | None = None
        self._encoded: tuple[int, bytes] | None = None
        self._desk_commands = _Bucket(DESK_COMMAND_RATE)
        #: Requests refused for their rate since the start (never journaled).
        self.rate_refused = 0
        self._rate_log = _Throttled()
        self._accept_log = _Throttled()
        self._full_log = _Throttled()
        self._failure_log = _Throttled()
        self._drop_log = _Throttled()

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        check_socket_path(self.path)
        await self._clear_stale()
        self._listen()
        self._broadcaster = asyncio.create_task(self._broadcast(), name="control-broadcast")
        self._watchdog = asyncio.create_task(self._watch_socket_file(), name="control-watchdog")
        log.info("control socket listening on %s", self.path)

    def _listen(self) -> None:
        """Bind a new listening socket at ``path`` and accept on it."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            # Nobody can connect before listen(): tighten the mode first.
            os.chmod(self.path, 0o600)
            self._inode = _identity(os.stat(self.path))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ControlSocketError(f"cannot open control socket {self.path}: {exc}") from exc
        self._listener = sock
        self._acceptor = asyncio.create_task(self._accept_loop(sock), name="control-accept")

    async def _watch_socket_file(self) -> None:
        """Every ``socket_check_s``: is the path still our socket? (module docstring)"""
        while True:
            await asyncio.sleep(self.socket_check_s)
            await self.check_socket_file()

    async def check_socket_file(self) -> None:
        """Re-bind a removed socket file (WARNING event); report a foreign file once
        (ERROR event) and leave it there."""
        try:
            found = os.lstat(self.path)
        except FileNotFoundError:
            await self._rebind()
            return
        except OSError as exc:  # the folder went away or became unreadable
            self._report_taken(f"cannot check control socket {self.path}: {exc.strerror}")
            return
        if _identity(found) == self._inode:
            return
        self._report_taken(
            f"control socket {self.path} was replaced by another file; leaving it there: "
            "`ctl` and `attach` cannot reach this desk until it is removed",
        )

    async def _rebind(self) -> None:
        await self._stop_accepting()
        self._inode = None
        try:
            self._listen()
        except ControlSocketError as exc:
            self._report_taken(f"{exc}; `ctl` and `attach` cannot reach this desk")
            return
        self._taken_said = None
        self._say(
            EventKind.CONTROL_SOCKET_RESTORED,
            "WARNING",
            f"control socket {self.path} was removed while the desk ran; listening again",
        )

    def _report_taken(self, message: str) -> None:
        if message == self._taken_said:
            return  # said once, not every few seconds until someone acts
        self._taken_said = message
        self._say(EventKind.CONTROL_SOCKET_TAKEN, "ERROR", message)

    def _say(self, kind: EventKind, level: str, message: str) -> None:
        log.log(logging.getLevelName(level), "%s", message)
        if self.on_event is not None:
            self.on_event(Event(0, kind, message, level=level, data={"path": str(self.path)}))

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
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._watchdog, 1.0)
            self._watchdog = None
        if self._broadcaster is not None:
            self._broadcaster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._broadcaster, 1.0)
            self._broadcaster = None
        await self._stop_accepting()
        for client in list(self._clients):
            client.writer.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.wait(handlers, timeout=2.0)
        self._remove_socket_file()

    async def _stop_accepting(self) -> None:
        if self._acceptor is not None:
            self._acceptor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._acceptor, 1.0)
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

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
            if self._inode is not None and _identity(os.stat(self.path)) == self._inode:
                os.unlink(self.path)  # only our own file, never a successor's
        except FileNotFoundError:
            pass
        self._inode = None

    # -- connections -------------------------------------------------------------------

    async def _accept_loop(self, listener: socket.socket) -> None:
        """Accept connections for as long as the server runs. When accepting fails (out
        of file descriptors) wait ``ACCEPT_RETRY_S`` and say so at most once a minute:
        never a tight loop of tracebacks."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _address = await loop.sock_accept(listener)
            except OSError as exc:
                self._accept_log.log(logging.WARNING, "control socket: cannot accept: %s", exc)
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            if len(self._handlers) >= MAX_CLIENTS:
                self._refuse_full(conn)
                continue
            task = asyncio.create_task(self._accept(conn), name="control-client")
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    def _refuse_full(self, conn: socket.socket) -> None:
        """One connection too many: one ``ok: false`` line, then close. A new socket's
        send buffer is empty, so the line is sent without waiting."""
        self._full_log.log(
            logging.WARNING, "control socket: refused a client: %d already connected", MAX_CLIENTS
        )
        error = f"too many clients: the desk serves {MAX_CLIENTS} at once; try again later"
        with contextlib.suppress(OSError):
            conn.send(encode_line({"ok": False, "error": error}))
        conn.close()

    async def _accept(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn, limit=REQUEST_LINE_LIMIT)
        except OSError:
            conn.close()
            return
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug here must cost one connection, never the log or loop
            self._failure_log.log(logging.ERROR, "control socket: a client failed", exc_info=True)
        finally:
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
        client = _Client(writer, self._drop_log)
        client.sender = asyncio.create_task(client.run_sender(), name="control-sender")
        self._clients.add(client)
        lines = _Lines(reader)
        try:
            while not client.overflowed:
                try:
                    line = await lines.next()
                except _LineTooLong:  # the stream is lost
                    client.reply({"ok": False, "error": "request line too long"})
                    break
                except TimeoutError:
                    error = f"request line not finished within {PARTIAL_LINE_TIMEOUT_S:g} s"
                    client.reply({"ok": False, "error": error})
                    break
                except OSError:
                    break
                if not line:
                    break
                if line.strip():
                    await self._handle_line(client, line)
        finally:
            self._clients.discard(client)
            await client.finish()

    async def _handle_line(self, client: _Client, line: bytes) -> None:
        """Answer one request line; whatever goes wrong, with one ``ok: false`` line."""
        request_id, request = parse_request(line)
        if not self._within_rate(client, request):
            client.reply({"id": request_id, "ok": False, "error": "too many requests; slow down"})
            return
        if isinstance(request, str):
            client.reply({"id": request_id, "ok": False, "error": request})
            return
        try:
            await self._answer(client, request_id, request)
        except Exception as exc:  # a bug must not drop the connection or flood the log
            self._failure_log.log(
                logging.ERROR, "control socket: %s failed", request.cmd, exc_info=True
            )
            error = f"{request.cmd} failed: {type(exc).__name__}"
            client.reply({"id": request_id, "ok": False, "error": error})

    def _within_rate(self, client: _Client, request: Request | str) -> bool:
        """Whether this request is within its client's rate (and, for a command, the
        desk's). One refused is counted, not journaled: it never reaches the desk."""
        if isinstance(request, str) or REQUESTS[request.cmd].command is None:
            allowed = client.reads.take()  # a read, or a line that is not a request
        else:
            allowed = client.commands.take() and self._desk_commands.take()
        if not allowed:
            self.rate_refused += 1
            self._rate_log.log(
                logging.WARNING,
                "control socket: refused requests over the rate limit (%d in all)",
                self.rate_refused,
            )
        return allowed

    async def _answer(self, client: _Client, request_id: RequestId, request: Request) -> None:
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
        body = b"null" if snapshot is None else self._encode(snapshot)
        head = f'{{"id":{json.dumps(request_id)},"ok":true,"snapshot":'.encode()
        client.reply_raw(head, body, b"}\n")  # the body is shared, never copied

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

    def _encode(self, snapshot: DeskSnapshot) -> bytes:
        """The snapshot as JSON, encoded once per seq however many clients want it."""
        if self._encoded is None or self._encoded[0] != snapshot.seq:
            text = json.dumps(snapshot_to_json(snapshot), separators=(",", ":"))
            self._encoded = (snapshot.seq, text.encode())
        return self._encoded[1]

    def _push_line(self, snapshot: DeskSnapshot) -> bytes:
        return b'{"snapshot":' + self._encode(snapshot) + b"}\n"

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
