"""The live market feed: Kite's ticker (``kiteconnect.KiteTicker``) bridged into asyncio.

Why it has this shape
---------------------
``KiteTicker`` runs on Twisted. Its reactor is process-global, lives in one daemon
thread (``connect(threaded=True)``) and **cannot be restarted** once stopped, and every
ticker callback runs on that thread. kitetui's engines run on an asyncio loop that must
never block. So there are two threads and one rule each way:

* reactor → loop: each ticker callback does the minimum on the reactor thread (note
  the time a message arrived; turn Kite's tick dicts into ``kitetui.domain.Tick``, so
  parsing and conversion stay off the loop) and hops to the loop with
  ``loop.call_soon_threadsafe``. One hop per WebSocket message, not per tick. State
  changes hop through the same queue, so the loop sees ticks and states in order.
* loop → reactor: ``set_subscriptions``/``set_mode``/``stop`` and the forced reconnect
  hand work to the reactor with ``reactor.callFromThread`` (calling ``subscribe`` or
  ``connect`` from another thread is not thread-safe; the reactor then only notices
  the call 1.5-2.5 s later, see docs/kite-contract.md §4.5).

Ownership: ``_desired`` (what the app wants) belongs to the loop; ``_r_*`` attributes
and ``KiteTicker.subscribed_tokens`` (what the current connection has been sent)
belong to the reactor thread, which receives copies. The only value written by the
reactor thread and read by the loop is ``_last_message`` (a float; atomic under the GIL).

Reactor lifetime: ``ensure_reactor()`` starts the reactor thread once per process and
reuses it for every ``KiteFeed`` (a second ``KiteTicker.connect(threaded=True)`` would
try to start it again). ``stop()`` closes this feed's connection and stops retrying but
never stops the reactor: another feed, a later restart of the feed after a re-login,
or a test in the same process may still need it, and a stopped reactor is gone for good.
The reactor thread is a daemon, so it does not keep the process alive.

Subscriptions: ``set_subscriptions(symbols)`` diffs against the current set. On the
reactor the wanted set is reconciled against ``KiteTicker.subscribed_tokens`` whenever
the socket opens or the set changes: unsubscribe what is gone, subscribe (and set the
mode of) what is new, in chunks of ``SUBSCRIBE_CHUNK`` tokens. After a reconnect the
client itself re-sends its ``subscribed_tokens`` (per mode: subscribe then mode) before
our ``on_open`` runs, so the reconcile then sends only what changed while the socket
was down: nothing is subscribed twice by us. More than 3000 instruments (Kite's limit
per connection) raises ``SubscriptionLimitError`` and changes nothing; symbols missing
from the token map are skipped and reported in the returned ``SubscriptionChange``.

Health and staleness: Kite's socket can go silent — no ticks, no heartbeats, no close
— and the client does not notice (it never pings). While CONNECTED, a watchdog on the
loop checks the time of the last message of any kind (ticks, the 1-byte heartbeat,
text); after ``stale_after_s`` of silence the state goes STALE and the feed aborts the
TCP connection on the reactor, so the client's own reconnect engine (first retry after
~1 s, then ×e with jitter, capped at ``reconnect_max_delay``, which Kite raises to at
least 5 s) dials again and re-subscribes. States: CONNECTING → CONNECTED ⇄ STALE →
RECONNECTING → CONNECTED …, CLOSED at ``stop()``, when retries run out, or when the
upgrade is refused with HTTP 403 (a bad or expired access token: retrying cannot help,
so the feed stops retrying and reports it; log in again and start a new feed).

Ticks: ``Tick.ts_ns`` is the exchange timestamp (full mode), else the last trade time,
else the local receive time (ltp/quote packets carry no time). The client turns epoch
seconds into naive *local* datetimes with ``datetime.fromtimestamp``; ``.timestamp()``
on such a value inverts it exactly, whatever the machine's zone (IST has no DST).
``Tick.qty`` is the growth of the day's ``volume_traded`` since the previous packet of
that token (0 when a quote changed without a trade); for a token's first packet, or
when the volume went down (a new day), it is ``last_traded_quantity``. ltp and index
packets have no volume, so their qty is 0. ``Tick.oi`` is the open interest (full mode).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kitetui.domain import NS_PER_SECOND, Tick

__all__ = [
    "MAX_INSTRUMENTS_PER_CONNECTION",
    "SUBSCRIBE_CHUNK",
    "FeedError",
    "FeedHealth",
    "FeedState",
    "KiteFeed",
    "SubscriptionChange",
    "SubscriptionLimitError",
    "ensure_reactor",
]

log = logging.getLogger(__name__)

MAX_INSTRUMENTS_PER_CONNECTION = 3000
SUBSCRIBE_CHUNK = 500  # tokens per subscribe/unsubscribe/mode message
MODES = ("ltp", "quote", "full")
_RATE_WINDOW_S = 5.0


class FeedState(StrEnum):
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    STALE = "STALE"
    RECONNECTING = "RECONNECTING"
    CLOSED = "CLOSED"


class FeedError(RuntimeError):
    """The feed cannot run (e.g. the process's Twisted reactor was already stopped)."""


class SubscriptionLimitError(ValueError):
    """More instruments than one Kite ticker connection carries."""


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unknown: tuple[str, ...]  # symbols with no instrument token in the map: skipped


@dataclass(frozen=True, slots=True)
class FeedHealth:
    state: FeedState
    ticks_per_s: float  # over the last 5 s
    last_tick_age_s: float | None  # None: no tick yet
    last_message_age_s: float | None  # any message, heartbeats included
    reconnects: int  # successful re-connections after the first connect
    stale_events: int
    subscribed: int
    ticks_total: int
    unknown_tokens: int  # ticks dropped because their token has no symbol
    last_error: str


# --------------------------------------------------------------------------- reactor

_reactor_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None


def ensure_reactor(timeout_s: float = 5.0) -> Any:
    """The Twisted reactor, running in this process's one daemon thread.

    Started on first use and never stopped by kitetui (see the module docstring).
    Raises ``FeedError`` if something already stopped it: it cannot restart.
    """
    global _reactor_thread
    import kiteconnect.ticker  # noqa: F401 - installs Twisted's default reactor first
    from twisted.internet import reactor

    with _reactor_lock:
        if reactor.running:
            return reactor
        if _reactor_thread is not None and _reactor_thread.is_alive():
            pass  # started by us, still coming up: wait below
        elif getattr(reactor, "_startedBefore", False):
            raise FeedError(
                "the Twisted reactor was stopped in this process and cannot restart "
                "(ReactorNotRestartable); start the Kite feed in a new process"
            )
        else:
            _reactor_thread = threading.Thread(
                target=reactor.run,
                kwargs={"installSignalHandlers": False},
                name="twisted-reactor",
                daemon=True,
            )
            _reactor_thread.start()
    deadline = time.monotonic() + timeout_s
    while not reactor.running:
        if time.monotonic() > deadline:
            raise FeedError(f"the Twisted reactor did not start within {timeout_s} s")
        time.sleep(0.005)
    return reactor


def _subscription_changes(
    current: dict[int, str], desired: dict[int, str]
) -> tuple[list[int], dict[str, list[int]], dict[str, list[int]]]:
    """From the socket's subscriptions to the wanted ones: the tokens to drop, the new
    tokens by mode and the tokens whose mode changes, by their new mode."""
    gone = [token for token in current if token not in desired]
    new: dict[str, list[int]] = {}
    remode: dict[str, list[int]] = {}
    for token, mode in desired.items():
        have = current.get(token)
        if have is None:
            new.setdefault(mode, []).append(token)
        elif have != mode:
            remode.setdefault(mode, []).append(token)
    return gone, new, remode


def _chunks(items: Sequence[int], size: int = SUBSCRIBE_CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _epoch_ns(value: Any) -> int:
    """A client timestamp (naive local datetime from ``fromtimestamp``) → epoch ns; 0 if none."""
    if value is None:
        return 0
    try:
        seconds = round(value.timestamp())
    except (AttributeError, OverflowError, OSError, ValueError):
        return 0
    return seconds * NS_PER_SECOND if seconds > 0 else 0


# --------------------------------------------------------------------------- the feed


class KiteFeed:
    """Kite's live ticks for kitetui, delivered on an asyncio loop (module docstring).

    Callbacks, all invoked on ``loop``: ``on_ticks(list[Tick])`` once per WebSocket
    message, ``on_order_update(dict)`` with Kite's order shape, ``on_state(FeedState,
    reason)`` on every state change. ``start``/``stop``/``set_*`` must be called on the
    loop's thread.
    """

    def __init__(
        self,
        api_key: str,
        access_token: str,
        *,
        root_ws: str | None = None,
        loop: asyncio.AbstractEventLoop,
        on_ticks: Callable[[list[Tick]], object],
        on_order_update: Callable[[dict[str, Any]], object] | None = None,
        on_state: Callable[[FeedState, str], object] | None = None,
        stale_after_s: float = 5.0,
        symbols_by_token: Mapping[int, str] | None = None,
        mode: str = "full",
        reconnect_max_delay: int = 10,
        reconnect_max_tries: int = 300,
        connect_timeout: int = 10,
        stop_retry_on_auth_error: bool = True,
        max_instruments: int = MAX_INSTRUMENTS_PER_CONNECTION,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if stale_after_s <= 0:
            raise ValueError("stale_after_s must be positive")
        self.api_key = api_key
        self._access_token = access_token
        self.root_ws = root_ws
        self.loop = loop
        self.on_ticks = on_ticks
        self.on_order_update = on_order_update
        self.on_state = on_state
        self.stale_after_s = stale_after_s
        self.mode = mode
        self.max_instruments = max_instruments
        self._reconnect_max_delay = reconnect_max_delay
        self._reconnect_max_tries = reconnect_max_tries
        self._connect_timeout = connect_timeout
        self._stop_retry_on_auth_error = stop_retry_on_auth_error

        self._symbols: dict[int, str] = {}
        self._tokens: dict[str, int] = {}
        self.set_instruments(symbols_by_token or {})

        # loop-owned
        self._state = FeedState.CLOSED
        self._started = False
        self._stopping = False
        self._desired: dict[int, str] = {}
        self._ever_connected = False
        self._connected_at = 0.0
        self._reconnects = 0
        self._stale_events = 0
        self._ticks_total = 0
        self._last_tick = 0.0
        self._rate: collections.deque[tuple[float, int]] = collections.deque()
        self._last_error = ""
        self._watchdog: asyncio.TimerHandle | None = None
        self._waiters: list[tuple[frozenset[FeedState], asyncio.Future[FeedState]]] = []

        # written on the reactor thread, read on the loop
        self._last_message = 0.0

        # reactor-owned
        self._reactor: Any = None
        self._kws: Any = None
        self._r_desired: dict[int, str] = {}
        self._r_volume: dict[int, int] = {}
        self._r_unknown = 0
        self._r_closing = False
        self._r_auth_refused = False

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> FeedState:
        return self._state

    @property
    def subscriptions(self) -> dict[str, str]:
        """symbol → mode the feed is asked to stream."""
        return {self._symbols[token]: mode for token, mode in self._desired.items()}

    def set_instruments(self, symbols_by_token: Mapping[int, str]) -> None:
        """Replace the instrument token → symbol map (e.g. after a new master)."""
        symbols = {int(token): str(symbol) for token, symbol in symbols_by_token.items()}
        self._symbols = symbols  # one assignment: the reactor thread reads the new dict
        self._tokens = {symbol: token for token, symbol in symbols.items()}

    def start(self) -> None:
        """Connect (asynchronously: watch ``on_state``/``wait_for_state``)."""
        if self._started:
            return
        from kiteconnect import KiteTicker

        self._reactor = ensure_reactor()
        self._started = True
        self._stopping = False
        kws = KiteTicker(
            self.api_key,
            self._access_token,
            root=self.root_ws,
            reconnect_max_tries=self._reconnect_max_tries,
            reconnect_max_delay=self._reconnect_max_delay,
            connect_timeout=self._connect_timeout,
        )
        kws.on_connect = self._r_on_connect
        kws.on_open = self._r_on_open
        kws.on_message = self._r_on_message
        kws.on_ticks = self._r_on_ticks
        kws.on_order_update = self._r_on_order_update
        kws.on_error = self._r_on_error
        kws.on_close = self._r_on_close
        kws.on_reconnect = self._r_on_reconnect
        kws.on_noreconnect = self._r_on_noreconnect
        self._kws = kws
        self._set_state(FeedState.CONNECTING, "connecting")
        self._reactor.callFromThread(self._r_connect, kws, dict(self._desired))
        self._schedule_watchdog()

    def stop(self) -> None:
        """Close this feed's connection and stop retrying. The reactor keeps running."""
        if not self._started:
            return
        self._stopping = True
        self._started = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._reactor is not None:
            self._reactor.callFromThread(self._r_close, self._kws)
        self._set_state(FeedState.CLOSED, "stopped")

    def set_subscriptions(
        self, symbols: Iterable[str], mode: str | None = None
    ) -> SubscriptionChange:
        """Stream exactly ``symbols``: subscribe the new ones, unsubscribe the gone ones.

        New symbols get ``mode`` (default: the feed's mode); symbols already streaming
        keep theirs unless ``mode`` is given. Raises ``SubscriptionLimitError`` (and
        changes nothing) past ``max_instruments``.
        """
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        wanted: dict[int, str] = {}
        unknown: list[str] = []
        for symbol in symbols:
            token = self._tokens.get(symbol)
            if token is None:
                unknown.append(symbol)
                continue
            wanted[token] = mode or self._desired.get(token, self.mode)
        if len(wanted) > self.max_instruments:
            raise SubscriptionLimitError(
                f"{len(wanted)} instruments requested; one Kite ticker connection "
                f"carries at most {self.max_instruments}"
            )
        added = tuple(self._symbols[t] for t in wanted if t not in self._desired)
        removed = tuple(self._symbols.get(t, str(t)) for t in self._desired if t not in wanted)
        self._desired = wanted
        if unknown:
            log.warning("no instrument token for %d symbol(s): %s", len(unknown), unknown[:5])
        self._push_desired()
        return SubscriptionChange(added, removed, tuple(unknown))

    def set_mode(self, mode: str, symbols: Iterable[str] | None = None) -> None:
        """Change the streaming mode of subscribed symbols (all when ``symbols`` is None)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if symbols is None:
            tokens = list(self._desired)
        else:
            tokens = [t for s in symbols if (t := self._tokens.get(s)) in self._desired]
        for token in tokens:
            self._desired[token] = mode
        self._push_desired()

    def health(self) -> FeedHealth:
        now = time.monotonic()
        self._prune_rate(now)
        count = sum(n for _, n in self._rate)
        return FeedHealth(
            state=self._state,
            ticks_per_s=count / _RATE_WINDOW_S,
            last_tick_age_s=now - self._last_tick if self._last_tick else None,
            last_message_age_s=now - self._last_message if self._last_message else None,
            reconnects=self._reconnects,
            stale_events=self._stale_events,
            subscribed=len(self._desired),
            ticks_total=self._ticks_total,
            unknown_tokens=self._r_unknown,
            last_error=self._last_error,
        )

    async def wait_for_state(self, *states: FeedState, timeout: float) -> FeedState:
        """Until the state is one of ``states``; ``TimeoutError`` after ``timeout`` s."""
        wanted = frozenset(states)
        if self._state in wanted:
            return self._state
        future: asyncio.Future[FeedState] = self.loop.create_future()
        entry = (wanted, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    # ------------------------------------------------------------------ loop side

    def _hop(self, callback: Callable[..., object], *args: object) -> None:
        """From the reactor thread to the loop; dropped if the loop is closed."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(callback, *args)

    def _push_desired(self) -> None:
        if self._started and self._reactor is not None:
            self._reactor.callFromThread(self._r_apply, dict(self._desired))

    def _set_state(self, state: FeedState, reason: str) -> None:
        if state is self._state:
            return
        if self._stopping and state is not FeedState.CLOSED:
            return  # late news from the reactor about a feed we closed
        self._state = state
        log.info("kite feed %s: %s", state.value, reason)
        for wanted, future in list(self._waiters):
            if state in wanted and not future.done():
                future.set_result(state)
        if self.on_state is not None:
            try:
                self.on_state(state, reason)
            except Exception:
                log.exception("on_state callback failed")

    def _loop_connected(self) -> None:
        if self._stopping:
            return
        if self._ever_connected:
            self._reconnects += 1
        self._ever_connected = True
        self._connected_at = time.monotonic()
        self._set_state(FeedState.CONNECTED, "connected")

    def _loop_closed(self, final: bool, reason: str) -> None:
        if reason:
            self._last_error = reason
        if final:
            self._started = False
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            self._set_state(FeedState.CLOSED, reason or "closed")
        elif not self._stopping:
            self._set_state(FeedState.RECONNECTING, reason or "connection lost")

    def _loop_error(self, reason: str) -> None:
        self._last_error = reason

    def _deliver(self, ticks: list[Tick], received: float) -> None:
        if self._stopping:
            return
        if self._state is FeedState.STALE:
            self._set_state(FeedState.CONNECTED, "ticks resumed")
        if not ticks:
            return
        self._ticks_total += len(ticks)
        self._last_tick = received
        self._rate.append((received, len(ticks)))
        self._prune_rate(received)
        try:
            self.on_ticks(ticks)
        except Exception:
            log.exception("on_ticks callback failed")

    def _deliver_order(self, data: dict[str, Any]) -> None:
        if self.on_order_update is None or self._stopping:
            return
        try:
            self.on_order_update(data)
        except Exception:
            log.exception("on_order_update callback failed")

    def _prune_rate(self, now: float) -> None:
        while self._rate and now - self._rate[0][0] > _RATE_WINDOW_S:
            self._rate.popleft()

    def _schedule_watchdog(self) -> None:
        interval = min(0.5, self.stale_after_s / 5)
        self._watchdog = self.loop.call_later(interval, self._check_stale)

    def _check_stale(self) -> None:
        self._watchdog = None
        if not self._started:
            return
        if self._state is FeedState.CONNECTED:
            now = time.monotonic()
            silent_for = now - max(self._last_message, self._connected_at)
            if silent_for > self.stale_after_s:
                self._stale_events += 1
                self._set_state(
                    FeedState.STALE, f"no tick or heartbeat for {silent_for:.1f} s; reconnecting"
                )
                self._reactor.callFromThread(self._r_drop)
        self._schedule_watchdog()

    # ------------------------------------------------------------------ reactor side

    # Every ticker callback receives the KiteTicker as ``ws``; one that is not the
    # current ``self._kws`` belongs to a connection closed by ``stop()`` (before a
    # restart) and is ignored.

    def _r_connect(self, kws: Any, desired: dict[int, str]) -> None:
        self._r_desired = desired
        self._r_closing = False
        self._r_auth_refused = False
        # The reactor is running, so connect() only dials (it starts no thread).
        kws.connect(threaded=True)

    def _r_close(self, kws: Any) -> None:
        if kws is self._kws:
            self._r_closing = True
        if kws is None:
            return
        kws.stop_retry()
        if kws.ws is not None:
            with contextlib.suppress(Exception):
                kws.ws.sendClose(1000, "client stopped")

    def _r_drop(self) -> None:
        kws = self._kws
        if kws is not None and kws.ws is not None:
            kws.ws.dropConnection(abort=True)

    def _r_apply(self, desired: dict[int, str]) -> None:
        self._r_desired = desired
        self._r_sync()

    def _r_sync(self) -> None:
        kws = self._kws
        if kws is None or self._r_closing or not kws.is_connected():
            return  # on_open reconciles when the socket is (re)opened
        gone, new, remode = _subscription_changes(kws.subscribed_tokens, self._r_desired)
        try:
            for chunk in _chunks(gone):
                kws.unsubscribe(chunk)
            for mode, tokens in new.items():
                for chunk in _chunks(tokens):
                    kws.subscribe(chunk)
                    if mode != "quote":  # quote is what a fresh subscription streams
                        kws.set_mode(mode, chunk)
            for mode, tokens in remode.items():
                for chunk in _chunks(tokens):
                    kws.set_mode(mode, chunk)
        except Exception as exc:  # the client closes the socket; on_open retries
            self._hop(self._loop_error, f"subscription update failed: {exc}")

    def _r_on_connect(self, ws: Any, response: Any) -> None:
        if ws is not self._kws or self._r_closing:
            # Connected after stop(): hang up at once (it will not be retried).
            with contextlib.suppress(Exception):
                ws.ws.dropConnection(abort=True)
            return
        self._last_message = time.monotonic()
        self._hop(self._loop_connected)

    def _r_on_open(self, ws: Any) -> None:
        # KiteTicker has already re-sent its subscribed_tokens if this is a reconnect.
        if ws is self._kws:
            self._r_sync()

    def _r_on_message(self, ws: Any, payload: bytes, is_binary: bool) -> None:
        if ws is self._kws:
            self._last_message = time.monotonic()

    def _r_on_ticks(self, ws: Any, ticks: list[dict[str, Any]]) -> None:
        if ws is not self._kws:
            return
        received = time.monotonic()
        self._hop(self._deliver, self._r_convert(ticks), received)

    def _r_convert(self, ticks: list[dict[str, Any]]) -> list[Tick]:
        symbols = self._symbols
        volumes = self._r_volume
        out: list[Tick] = []
        now_ns = 0
        for tick in ticks:
            token = tick["instrument_token"]
            symbol = symbols.get(token)
            if symbol is None:
                self._r_unknown += 1
                continue
            ts_ns = _epoch_ns(tick.get("exchange_timestamp")) or _epoch_ns(
                tick.get("last_trade_time")
            )
            if not ts_ns:
                ts_ns = now_ns = now_ns or time.time_ns()
            volume = tick.get("volume_traded")
            if volume is None:
                qty = 0
            else:
                previous = volumes.get(token)
                volumes[token] = volume
                if previous is None or volume < previous:
                    qty = tick.get("last_traded_quantity", 0)
                else:
                    qty = volume - previous
            out.append(Tick(symbol, ts_ns, float(tick["last_price"]), qty, tick.get("oi", 0)))
        return out

    def _r_on_order_update(self, ws: Any, data: dict[str, Any]) -> None:
        if ws is self._kws:
            self._hop(self._deliver_order, data)

    def _r_on_error(self, ws: Any, code: int, reason: Any) -> None:
        if ws is not self._kws:
            return
        text = f"{code}: {reason}"
        # code 0 is a text {"type": "error"} message; a refused upgrade is a 1006 whose
        # reason reads "... upgrade failed (403 - Forbidden)".
        if code != 0 and "403" in str(reason) and self._stop_retry_on_auth_error:
            self._r_auth_refused = True
            ws.stop_retry()
            text = f"access refused (HTTP 403): {reason}"
        self._hop(self._loop_error, text)

    def _r_on_close(self, ws: Any, code: int | None, reason: Any) -> None:
        if ws is not self._kws:
            return
        if self._r_auth_refused:
            self._hop(self._loop_closed, True, "access refused (HTTP 403); log in again")
        elif self._r_closing:
            self._hop(self._loop_closed, True, "")
        else:
            self._hop(self._loop_closed, False, f"connection lost ({code}: {reason})")

    def _r_on_reconnect(self, ws: Any, attempt: int) -> None:
        if ws is self._kws:
            self._hop(self._loop_error, f"reconnect attempt {attempt} failed")

    def _r_on_noreconnect(self, ws: Any) -> None:
        if ws is self._kws:
            self._hop(self._loop_closed, True, "gave up reconnecting (max retries)")
