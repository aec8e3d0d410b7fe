"""The local exchange's ticker: Kite's binary WebSocket feed on 127.0.0.1.

``TickerServer`` speaks what ``wss://ws.kite.trade`` speaks (docs/kite-contract.md §4)
so the real ``kiteconnect.KiteTicker`` can connect to it unchanged:

* ``GET /?api_key=..&access_token=..`` — the credentials are checked at the upgrade and
  a bad pair is refused with HTTP 403 (the client then reports a 1006 and retries). An
  api_key may hold 3 connections at once (docs/kite-contract.md §4.1, §5); a 4th is
  refused at the upgrade with HTTP 429, as users of Kite report it ("WebSocket
  connection upgrade failed (429 - TooManyRequests)", kite.trade forum 8500, 40313).
* Text JSON actions ``{"a": "subscribe"|"unsubscribe"|"mode", "v": ...}``. A fresh
  subscription streams in ``quote`` mode; repeated subscribes are no-ops (the client
  re-sends everything after a reconnect); a mode for an unsubscribed token does
  nothing; more than 3000 instruments on one connection is refused with a text
  ``{"type": "error", "data": ...}`` message (the connection stays open).
* One binary frame per market step (``publish``) carrying the packets of the
  connection's subscribed tokens that changed, each in that token's mode; a newly
  subscribed token, or one whose mode changed, gets its current packet at once.
* A 1-byte heartbeat when nothing else was sent for ``heartbeat_s``.
* Order updates as text ``{"type": "order", "data": {...}}`` to the owner's connections.
* Never an unsolicited pong (the client would drop the socket 5 s later), no pings
  either (Kite's keep-alive is the heartbeat), no compression.

Delivery keeps the latest value, not every value: a connection holds an ordered set of
changed tokens and its sender encodes them from the market's *current* state when the
socket can take more. A client that keeps up gets one frame per step; a slow one gets
fewer, larger frames with the newest prices instead of an ever-growing backlog.

The server knows its peers only through small protocols, so the local exchange and
test fakes plug in alike. Exchange: ``check_access_token(api_key, access_token)``, or
``SimExchange.account_for_token`` (the account's ``user_id`` routes order updates);
``on_order_update(callback)`` (optional). Market:
``quote_state(token) -> QuoteState``, or ``SimMarket.state(token)`` (converted by
``quote_state_of``) plus ``add_listener`` (each played batch is ``publish``-ed).
``publish`` and the fault hooks must be called on the server's event loop; order
updates and market batches may come from any thread.

Fault hooks, for the sim server's ``ticker:`` faults (``kitetui.sim.server`` takes them
from the exchange's ``FaultInjector``) and tests: ``drop_all()`` aborts every TCP
connection as a network drop would (the client sees 1006 and reconnects);
``go_silent(seconds)`` makes the connections open now send nothing at all — no ticks,
no heartbeats, no order updates (they wait) — while the socket stays open: Kite's
known silent-feed failure, which only the client's own staleness check can detect.
Connections made after the call are not silent, so a client that reconnects recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from kitetui.sim.packets import (
    HEARTBEAT,
    MODE_QUOTE,
    MODES,
    DepthLevel,
    QuoteState,
    encode_for_mode,
    encode_frame,
)

__all__ = [
    "MAX_CONNECTIONS_PER_API_KEY",
    "MAX_INSTRUMENTS_PER_CONNECTION",
    "AccessChecker",
    "ConnectionInfo",
    "OrderUpdateSource",
    "QuoteSource",
    "TickerServer",
    "quote_state_of",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MAX_INSTRUMENTS_PER_CONNECTION = 3000
MAX_CONNECTIONS_PER_API_KEY = 3
_ACTION_LOG = 256  # per-connection record of received actions kept for inspection


class AccessChecker(Protocol):
    def check_access_token(self, api_key: str, access_token: str) -> str | bool | None:
        """The user id (or True) for a valid pair; None/False/"" refuses the upgrade."""


@runtime_checkable
class OrderUpdateSource(Protocol):
    def on_order_update(self, callback: Callable[[Mapping[str, Any]], object]) -> object:
        """Register ``callback(order)``; the order dict is Kite's order/postback shape."""


class QuoteSource(Protocol):
    def quote_state(self, instrument_token: int) -> QuoteState | None:
        """The instrument's current state, or None when the market does not know it."""


_NO_DEPTH = (DepthLevel(),) * 5


def quote_state_of(state: Any) -> QuoteState | None:
    """``kitetui.sim.market.InstrumentState`` (duck-typed) → the packet's ``QuoteState``.

    Lets ``TickerServer`` take a ``SimMarket`` directly (its ``state(token)``); an
    instrument without data yet gives None (Kite sends nothing for it either).
    """
    if state is None or not getattr(state, "has_data", True):
        return None
    depth = state.depth() if callable(getattr(state, "depth", None)) else {}

    def levels(side: str) -> tuple[DepthLevel, ...]:
        return tuple(
            DepthLevel(float(lv["price"]), int(lv["quantity"]), int(lv["orders"]))
            for lv in depth.get(side, ())[:5]
        )

    bids, offers = levels("buy"), levels("sell")
    return QuoteState(
        last_price=state.last_price,
        last_traded_quantity=int(getattr(state, "last_quantity", 0)),
        average_traded_price=float(getattr(state, "average_price", 0.0)),
        volume_traded=int(getattr(state, "volume", 0)),
        total_buy_quantity=sum(level.quantity for level in bids),
        total_sell_quantity=sum(level.quantity for level in offers),
        open=state.open,
        high=state.high,
        low=state.low,
        close=state.close,
        last_trade_time=int(getattr(state, "last_trade_ns", 0)) // 1_000_000_000,
        oi=int(getattr(state, "oi", 0)),
        oi_day_high=int(getattr(state, "oi_day_high", 0)),
        oi_day_low=int(getattr(state, "oi_day_low", 0)),
        exchange_timestamp=int(getattr(state, "updated_ns", 0)) // 1_000_000_000,
        bids=bids or _NO_DEPTH,
        offers=offers or _NO_DEPTH,
    )


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """A snapshot of one live connection, for tests and the sim's status display."""

    connection_id: int
    user_id: str | None
    modes: dict[int, str]
    actions: tuple[tuple[str, Any], ...]  # (action, value) as received, oldest first
    frames_sent: int
    packets_sent: int
    heartbeats_sent: int
    texts_sent: int
    silent: bool


class _Client:
    """Server-side state of one connection. Touched only on the server's loop."""

    __slots__ = (
        "actions",
        "connection_id",
        "frames_sent",
        "heartbeats_sent",
        "last_sent",
        "modes",
        "packets_sent",
        "pending",
        "silent_until",
        "texts",
        "texts_sent",
        "user_id",
        "wake",
        "ws",
    )

    def __init__(self, connection_id: int, ws: ServerConnection, user_id: str | None) -> None:
        self.connection_id = connection_id
        self.ws = ws
        self.user_id = user_id
        self.modes: dict[int, str] = {}
        self.pending: dict[int, None] = {}  # ordered set of tokens to send
        self.texts: deque[str] = deque()
        self.wake = asyncio.Event()
        self.silent_until = 0.0
        self.last_sent = time.monotonic()
        self.actions: deque[tuple[str, Any]] = deque(maxlen=_ACTION_LOG)
        self.frames_sent = 0
        self.packets_sent = 0
        self.heartbeats_sent = 0
        self.texts_sent = 0

    def info(self, now: float) -> ConnectionInfo:
        return ConnectionInfo(
            connection_id=self.connection_id,
            user_id=self.user_id,
            modes=dict(self.modes),
            actions=tuple(self.actions),
            frames_sent=self.frames_sent,
            packets_sent=self.packets_sent,
            heartbeats_sent=self.heartbeats_sent,
            texts_sent=self.texts_sent,
            silent=now < self.silent_until,
        )


def _error_text(message: str) -> str:
    return json.dumps({"type": "error", "data": message})


def _tokens(value: Any) -> list[int] | None:
    """A JSON list of instrument tokens, de-duplicated in order; None if malformed."""
    if not isinstance(value, list):
        return None
    out: dict[int, None] = {}
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            return None
        out[item] = None
    return list(out)


class TickerServer:
    """Kite's ticker WebSocket for the local exchange. See the module docstring."""

    def __init__(
        self,
        exchange: AccessChecker,
        market: QuoteSource | Any,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_s: float = 1.0,
        *,
        max_instruments: int = MAX_INSTRUMENTS_PER_CONNECTION,
        max_connections: int = MAX_CONNECTIONS_PER_API_KEY,
    ) -> None:
        self.exchange = exchange
        self.market = market
        self._quote_state = self._lookup_for(market)
        self._remove_listener: Callable[[], object] | None = None
        self.host = host
        self.heartbeat_s = heartbeat_s
        self.max_instruments = max_instruments
        self.max_connections = max_connections
        self._requested_port = port
        self._port: int | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[ServerConnection, _Client] = {}
        self._users: dict[ServerConnection, str | None] = {}
        self._api_keys: dict[ServerConnection, str] = {}  # accepted upgrades, until closed
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 0
        self._unhooks: list[Callable[[], object]] = []
        self.handshakes_refused = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("TickerServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """The ``root`` to give ``KiteTicker`` (no trailing ``?``: the client appends it)."""
        return f"ws://{self.host}:{self.port}"

    @staticmethod
    def _lookup_for(market: Any) -> Callable[[int], QuoteState | None]:
        if callable(getattr(market, "quote_state", None)):
            return market.quote_state
        if callable(getattr(market, "state", None)):  # kitetui.sim.market.SimMarket
            return lambda token: quote_state_of(market.state(token))
        raise TypeError("market needs quote_state(token) or state(token)")

    def _on_market_batch(self, _ts_ns: int, _items: object, tokens: list[int]) -> None:
        # SimMarket's batch listener; the market may be stepped off the server's loop.
        # A copy: the market may reuse its list before a scheduled publish runs.
        self._call_on_loop(self.publish, list(tokens))

    def _call_on_loop(self, fn: Callable[[_T], object], arg: _T) -> None:
        """Run ``fn(arg)`` on the server's loop: at once when called on it, else scheduled.

        The market and the exchange may be driven from another thread (tests, a manual
        clock), while clients live on the server's loop. Nothing happens when the server
        is not running, or when its loop has closed under a late call.
        """
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(arg)
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: the server is gone
                loop.call_soon_threadsafe(fn, arg)

    async def start(self) -> None:
        """Listen; a market with ``add_listener`` (SimMarket) is followed automatically."""
        if self._server is not None:
            return
        self._loop = asyncio.get_running_loop()
        add_listener = getattr(self.market, "add_listener", None)
        if self._remove_listener is None and callable(add_listener):
            self._remove_listener = add_listener(self._on_market_batch)
        if isinstance(self.exchange, OrderUpdateSource):
            self._unhooks.append(self.exchange.on_order_update(self.send_order_update))
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,  # Kite keeps alive with heartbeats; no pings, no pongs
            max_size=2**20,
            server_header=None,
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self._port = int(sockname[1])
        log.info("ticker listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection (1001 going away) and the listening socket."""
        server, self._server = self._server, None
        if server is None:
            return
        remove, self._remove_listener = self._remove_listener, None
        unhooks, self._unhooks = [*self._unhooks, remove], []
        for unhook in unhooks:
            if callable(unhook):
                with contextlib.suppress(ValueError):
                    unhook()
        server.close(close_connections=True)
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=5.0)
        except TimeoutError:
            self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)

    async def __aenter__(self) -> TickerServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ market and orders

    def publish(self, tokens: Iterable[int]) -> int:
        """One market step changed these tokens: queue them for every subscriber.

        Call on the server's loop. Returns the number of connections woken.
        """
        changed = tokens if isinstance(tokens, set | frozenset | dict) else list(tokens)
        woken = 0
        for client in self._clients.values():
            modes = client.modes
            pending = client.pending
            added = False
            for token in changed:
                if token in modes:
                    pending[token] = None
                    added = True
            if added:
                client.wake.set()
                woken += 1
        return woken

    def send_order_update(self, order: Mapping[str, Any]) -> None:
        """Send ``{"type":"order","data":order}`` to the order owner's connections.

        Routed by ``user_id`` (or ``placed_by``); an order naming no user goes to all.
        Safe to call from any thread.
        """
        self._call_on_loop(self._queue_order, dict(order))

    def _queue_order(self, order: dict[str, Any]) -> None:
        owner = order.get("user_id") or order.get("placed_by")
        text = json.dumps({"type": "order", "data": order}, default=str)
        for client in self._clients.values():
            if owner is None or client.user_id is None or client.user_id == owner:
                client.texts.append(text)
                client.wake.set()

    # ------------------------------------------------------------------ faults

    def drop_all(self) -> int:
        """Abort every TCP connection without a close frame (client sees 1006)."""
        return self._drop(list(self._clients.values()))

    def go_silent(self, seconds: float) -> int:
        """Connections open now send nothing for ``seconds``; sockets stay open."""
        return self._silence(list(self._clients.values()), seconds)

    @staticmethod
    def _drop(clients: list[_Client]) -> int:
        count = 0
        for client in clients:
            transport = client.ws.transport
            if transport is not None and not transport.is_closing():
                transport.abort()
                count += 1
        return count

    @staticmethod
    def _silence(clients: list[_Client], seconds: float) -> int:
        until = time.monotonic() + seconds
        for client in clients:
            client.silent_until = until
            client.wake.set()
        return len(clients)

    # ------------------------------------------------------------------ inspection

    def connections(self) -> list[ConnectionInfo]:
        now = time.monotonic()
        return [client.info(now) for client in self._clients.values()]

    @property
    def connection_count(self) -> int:
        return len(self._clients)

    # ------------------------------------------------------------------ websocket

    def _check_access(self, api_key: str, access_token: str) -> str | bool | None:
        check = getattr(self.exchange, "check_access_token", None)
        if callable(check):
            return check(api_key, access_token)
        # kitetui.sim.exchange.SimExchange: the account (with its user_id) or None.
        account = self.exchange.account_for_token(api_key, access_token)
        if account is None:
            return None
        user_id = getattr(account, "user_id", None)
        return str(user_id) if user_id else True

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        api_key = (query.get("api_key") or [""])[0]
        access_token = (query.get("access_token") or [""])[0]
        user: str | bool | None = None
        if api_key and access_token:
            try:
                user = self._check_access(api_key, access_token)
            except Exception:  # a checker bug must not take the server down
                log.exception("access token check failed")
                user = None
        if not user:
            self.handshakes_refused += 1
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        if self._open_for(api_key) >= self.max_connections:
            self.handshakes_refused += 1
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests\n")
        self._api_keys[connection] = api_key
        self._users[connection] = user if isinstance(user, str) else None
        return None

    def _open_for(self, api_key: str) -> int:
        """Connections of ``api_key`` accepted and not yet closed (an accepted upgrade
        whose handshake then failed never reaches ``_handle``: dropped here once closed)."""
        for connection in [c for c in self._api_keys if c.state is State.CLOSED]:
            del self._api_keys[connection]
        return sum(1 for key in self._api_keys.values() if key == api_key)

    async def _handle(self, ws: ServerConnection) -> None:
        self._next_id += 1
        client = _Client(self._next_id, ws, self._users.pop(ws, None))
        self._clients[ws] = client
        sender = asyncio.create_task(self._sender(client), name=f"ticker-send-{self._next_id}")
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        try:
            async for message in ws:
                if isinstance(message, str):
                    self._on_text(client, message)
                # Binary from a client means nothing at Kite; ignore it.
        except ConnectionClosed:
            pass
        finally:
            self._clients.pop(ws, None)
            self._api_keys.pop(ws, None)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    def _on_text(self, client: _Client, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            client.texts.append(_error_text("Invalid message: not JSON"))
            client.wake.set()
            return
        if not isinstance(message, dict):
            self._reject(client, "Invalid message: expected an object with 'a' and 'v'")
            return
        action, value = message.get("a"), message.get("v")
        client.actions.append((str(action), value))
        if action == "subscribe":
            self._subscribe(client, value)
        elif action == "unsubscribe":
            tokens = _tokens(value)
            if tokens is None:
                self._reject(client, "Invalid unsubscribe: 'v' must be a list of tokens")
                return
            for token in tokens:
                client.modes.pop(token, None)
                client.pending.pop(token, None)
        elif action == "mode":
            self._set_mode(client, value)
        else:
            self._reject(client, f"Invalid action {action!r}")

    def _reject(self, client: _Client, message: str) -> None:
        client.texts.append(_error_text(message))
        client.wake.set()

    def _subscribe(self, client: _Client, value: Any) -> None:
        tokens = _tokens(value)
        if tokens is None:
            self._reject(client, "Invalid subscribe: 'v' must be a list of tokens")
            return
        new = [token for token in tokens if token not in client.modes]
        if len(client.modes) + len(new) > self.max_instruments:
            # The whole message is refused, so the connection's set stays predictable.
            self._reject(
                client,
                f"Subscription limit exceeded: at most {self.max_instruments} instruments "
                f"per connection ({len(client.modes)} subscribed, {len(new)} requested)",
            )
            return
        for token in new:
            client.modes[token] = MODE_QUOTE
            client.pending[token] = None
        if new:
            client.wake.set()

    def _set_mode(self, client: _Client, value: Any) -> None:
        if not isinstance(value, list) or len(value) != 2 or value[0] not in MODES:
            self._reject(client, "Invalid mode: 'v' must be [ltp|quote|full, [tokens]]")
            return
        mode = value[0]
        tokens = _tokens(value[1])
        if tokens is None:
            self._reject(client, "Invalid mode: 'v' must be [ltp|quote|full, [tokens]]")
            return
        changed = False
        for token in tokens:
            if token in client.modes:  # a mode for an unsubscribed token does nothing
                client.modes[token] = mode
                client.pending[token] = None
                changed = True
        if changed:
            client.wake.set()

    def _frame_for(self, client: _Client) -> tuple[bytes | None, int]:
        tokens = list(client.pending)
        client.pending.clear()
        packets = []
        quote_state = self._quote_state
        for token in tokens:
            mode = client.modes.get(token)
            if mode is None:
                continue
            state = quote_state(token)
            if state is None:
                continue
            try:
                packets.append(encode_for_mode(token, mode, state))
            except ValueError:
                log.warning("token %d: state does not fit Kite's packet; skipped", token)
        if not packets:
            return None, 0
        return encode_frame(packets), len(packets)

    async def _sender(self, client: _Client) -> None:
        ws = client.ws
        try:
            while True:
                now = time.monotonic()
                if now < client.silent_until:
                    # Silent: ticks are lost, heartbeats stop, texts wait; the socket lives.
                    client.pending.clear()
                    client.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(client.wake.wait(), client.silent_until - now)
                    client.last_sent = time.monotonic()  # no heartbeat burst on waking
                    continue
                idle_left = self.heartbeat_s - (now - client.last_sent)
                if idle_left > 0 and not client.wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(client.wake.wait(), idle_left)
                    continue
                client.wake.clear()
                sent = False
                while client.texts:
                    await ws.send(client.texts.popleft())
                    client.texts_sent += 1
                    sent = True
                if client.pending:
                    frame, count = self._frame_for(client)
                    if frame is not None:
                        await ws.send(frame)
                        client.frames_sent += 1
                        client.packets_sent += count
                        sent = True
                if not sent and time.monotonic() - client.last_sent >= self.heartbeat_s:
                    await ws.send(HEARTBEAT)
                    client.heartbeats_sent += 1
                    sent = True
                if sent:
                    client.last_sent = time.monotonic()
        except ConnectionClosed:
            return
