"""Live Kite orders behind the ``Broker`` protocol, over the official ``kiteconnect``.

Every SDK call is blocking ``requests`` I/O, so it runs in a worker thread
(``asyncio.to_thread``) after the rate limiter lets it go (``KiteRateLimits``).

Placement policy (design rule 3 — never blind-retry a placement):

1. ``place`` sends a given tag **at most once** per broker instance (tags handed to
   ``restore`` after a restart count as sent). A second ``place`` of a sent tag sends
   nothing: it returns ``lookup(tag)``, or REJECTED "duplicate tag" if Kite has no
   such order. An order without a tag, or with one over Kite's 20 characters, is
   REJECTED locally (without a tag the outcome of a timeout could not be resolved).
2. A definite answer at Kite's gate — ``InputException``, ``OrderException``,
   ``PermissionException`` or any other 4xx error except 429 — means the order was not
   placed: it comes back REJECTED with Kite's message.
3. ``TokenException`` raises ``TokenExpired``: nothing is retried; the supervisor halts
   and asks for ``kitetui login``. The tag stays journaled as NEW, and recovery
   resolves it by tag after the login.
4. HTTP 429 is answered at Kite's gate before an order exists: ``NotAccepted`` at once
   (no lookup), and a retry under a fresh tag is safe. So is our own daily cap.
5. Anything else — a timeout, a connection error, ``NetworkException`` /
   ``DataException``, a 5xx, an unparseable answer — means UNKNOWN: the order
   may or may not be at Kite. Before anything else the order book is searched for the
   tag (``orders()``, a read, itself retried with backoff), ``unknown_lookups`` times
   ``unknown_lookup_delay_s`` apart (Kite may list an order a moment after accepting
   it). Found: the order is returned as Kite has it (status mapped, Kite's order id).
   Not found after every lookup: ``NotAccepted`` is raised, saying
   ``"not placed (timeout, not in the order book)"`` (``timeout`` names the cause:
   ``connection error``, ``HTTP 503``...). The tag is never sent again. If the order
   surfaces later anyway, ``apply_update`` lets it come back to life (and logs a
   warning) so its fills are not lost, and the reconciler reports the drift.
   If the lookups themselves cannot get an answer, ``PlacementUnknown`` is raised:
   the order's state is unknown and trading should pause until ``lookup`` answers.

Kite's rate limits (``KiteRateLimits``): a protective order's requests — a stop, an
exit, a flatten or square-off close, a modification of one of those, and every cancel
(a cancel only ever takes risk off), with the lookups that serve them — are *urgent*:
they go ahead of every entry and entry modification waiting at the limit, and may spend
the orders of the day kept back from entries. One that waited ``LIMIT_WAIT_SAID_S`` or
more for the limits is said (``on_limit_wait``: the desk journals ``RateLimitWaited``).

Reads (order book, history, trades, positions, margins, profile, quotes) are retried
with exponential backoff (bounded) on timeouts, connection errors,
``NetworkException``/``DataException``, 5xx and 429; then ``BrokerUnavailable``.
A cancel is retried the same way (cancelling twice is harmless).

Fills come only out of ``apply_update`` (fed by the websocket's order updates through
``push_update``, or by polling in ``order_updates``): a fill is the rise in
``filled_quantity`` priced so the order's average price works out, with the
deterministic id ``f"{order_id}-{cumulative filled qty}"``, so replaying an update is
idempotent. ``place``, ``lookup`` and ``open_orders`` never make fills.

No secret reaches a message: errors are rebuilt from the SDK's text with the access
token replaced by ``***`` and raised ``from None``; the SDK's debug mode (which logs
the Authorization header) is never turned on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Mapping, Sequence, Sized
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from kitetui.brokers.base import (
    BrokerError,
    BrokerUnavailable,
    ModifyRefused,
    NotAccepted,
    PlacementUnknown,
)
from kitetui.brokers.kite_orders import (
    STOPS,
    WORKING,
    exchange_time,
    map_status,
    number,
    order_tags,
    ts_ns_of,
)
from kitetui.brokers.ratelimit import (
    HISTORICAL,
    MODIFY,
    ORDER,
    OTHER,
    QUOTE,
    URGENT_RESERVE,
    KiteRateLimits,
    RateLimitExceeded,
)
from kitetui.domain import (
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    Product,
    Side,
    Validity,
    Variety,
    to_paise,
)
from kitetui.kite.session import TokenExpired, redact
from kitetui.money import exact_fraction
from kitetui.secret_values import scrub

__all__ = [
    "LIMIT_WAIT_SAID_S",
    "NOT_PLACED_REASON",
    "BrokerError",
    "BrokerUnavailable",
    "KiteBroker",
    "LimitWait",
    "ModifyRefused",
    "NotAccepted",
    "PlacementUnknown",
    "TokenExpired",
    "map_status",
    "protective_reserve",
]

log = logging.getLogger(__name__)

_NOTHING: frozenset[str] = frozenset()  # ``watched``: no print ever reaches Kite's book
_NO_BANDS: Mapping[str, tuple[float, float]] = MappingProxyType({})  # ``stop_bands``

NOT_PLACED_REASON = "not placed (timeout, not in the order book)"
MAX_TAG_LENGTH = 20
# A protective request that waited this long at Kite's limits is said. Shorter waits
# are the per-second window's ordinary pacing of a burst (the eleventh request of a
# second waits for the next one); a quarter second and more means it stood behind a
# full window or other protective requests: a stop or a close that late is worth a line.
LIMIT_WAIT_SAID_S = 0.25


@dataclass(frozen=True, slots=True)
class LimitWait:
    """A protective order's request (``action``: placement, modification, cancel) that
    waited ``waited_s`` seconds in all at Kite's rate limits."""

    order: Order
    action: str
    waited_s: float

    def describe(self) -> str:
        order = self.order
        return (
            f"the {self.action} of {order.purpose.value} {order.tag} ({order.side.value} "
            f"{order.quantity} {order.symbol}) waited {self.waited_s:.2f} s at Kite's rate "
            "limits, behind requests already sent and other protective ones only"
        )


@dataclass(slots=True)
class _Urgent:
    """The requests of one protective call go ahead of entries at the limits; how long
    they waited there in all (said once, when the call ends)."""

    action: str
    order: Order | None
    waited_s: float = 0.0


def protective_reserve(max_open_positions: int, orders_per_day: int = 5000) -> int:
    """The orders of the day kept back from entries for protective ones.

    Each position the risk limits allow open needs a stop and a close, and each may go
    twice (a stop placed again after NSE's band cancelled it, a close retried under a
    fresh tag after a 429): 4 orders a position. At least ``URGENT_RESERVE`` (100), so
    a desk of few positions still has room for positions sliced at the freeze quantity
    (the default 5 positions: 20 orders each); at most half the day's cap, so entries
    keep room too. It follows the limit as it is: the config's at the start, the
    journal's after a restart, a person's ``set-limit`` (``KiteBroker.keep_reserve_for``)."""
    wanted = max(URGENT_RESERVE, 4 * max_open_positions)
    return min(wanted, orders_per_day // 2)


def _protective(order: Order) -> bool:
    """Everything but an entry protects or closes a position (rule 11)."""
    return order.purpose is not OrderPurpose.ENTRY


def valid_market_protection(value: float) -> bool:
    """-1 (automatic, Zerodha's recommendation) or a band in percent, 0 < p <= 100."""
    return value == -1 or (math.isfinite(value) and 0 < value <= 100)


def _protection_param(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _too_many_requests(exc: BaseException) -> bool:
    return isinstance(exc, kex.KiteException) and getattr(exc, "code", 0) == 429


# Refusals Kite sends as a NetworkException (retried like a network error) that no
# retry changes: an order modified 25 times is never modified again (docs/exchange-rules
# row 7a). Retried, the exit manager waited on it for good, its close at a dead limit.
_FINAL = ("maximum allowed order modifications exceeded",)


class KiteBroker:
    """The ``Broker`` protocol over a ``KiteConnect`` client; see the module doc."""

    def __init__(
        self,
        kite: KiteConnect,
        *,
        limits: KiteRateLimits | None = None,
        market_protection: float = -1,
        read_attempts: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        unknown_lookups: int = 3,
        unknown_lookup_delay_s: float = 1.0,
        cancel_polls: int = 5,
        cancel_poll_s: float = 0.2,
        poll_interval_s: float = 2.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock_ns: Callable[[], int] = time.time_ns,
        on_limit_wait: Callable[[LimitWait], None] | None = None,
    ) -> None:
        """``market_protection`` goes with MARKET and SL-M orders, in Kite's terms:
        ``-1`` automatic, or a percentage band (``0 < p <= 100``, decimals allowed)
        around the LTP beyond which the exchange will not fill. ``0`` (none) is refused:
        Kite has not accepted unprotected market orders through the API since April 2026
        (docs/exchange-rules.md). ``on_limit_wait`` hears of every protective request
        that waited ``LIMIT_WAIT_SAID_S`` or more at the rate limits (it is logged too)."""
        if not valid_market_protection(market_protection):
            raise ValueError(
                f"market_protection must be -1 (automatic) or a percentage in (0, 100], "
                f"got {market_protection!r}"
            )
        if read_attempts < 1 or unknown_lookups < 1:
            raise ValueError("read_attempts and unknown_lookups must be >= 1")
        kite.debug = False  # its debug log prints the Authorization header
        self._kite = kite
        self.limits = limits or KiteRateLimits()
        self.market_protection = market_protection
        self.read_attempts = read_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.unknown_lookups = unknown_lookups
        self.unknown_lookup_delay_s = unknown_lookup_delay_s
        self.cancel_polls = cancel_polls
        self.cancel_poll_s = cancel_poll_s
        self.poll_interval_s = poll_interval_s
        self._sleep = sleep
        self._clock_ns = clock_ns
        self._on_limit_wait = on_limit_wait
        self._sent: set[str] = set()  # tags ever sent to place_order: never again
        self._orders: dict[str, Order] = {}  # latest view by tag
        self._tag_by_id: dict[str, str] = {}
        self._fill_state: dict[str, tuple[int, float]] = {}  # order_id -> (filled, avg)
        self._not_placed: set[str] = set()  # tags we declared REJECTED after an unknown
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.exchange_ns = 0  # the latest exchange time an order book read showed

    @classmethod
    def connect(
        cls,
        api_key: str,
        access_token: str,
        *,
        root: str | None = None,
        timeout: float = 7.0,
        **options: Any,
    ) -> KiteBroker:
        """A broker on a fresh client (``root``: a local Kite-compatible exchange)."""
        kite = KiteConnect(api_key, access_token=access_token, root=root, timeout=timeout)
        return cls(kite, **options)

    def __repr__(self) -> str:
        return f"KiteBroker(root={self._kite.root!r}, sent={len(self._sent)})"

    # ------------------------------------------------------------------ plumbing

    def _describe(self, exc: BaseException) -> str:
        text = scrub(redact(str(exc), [self._kite.access_token]))  # the key, the secret too
        if len(text) > 300:
            text = text[:300] + "…"
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def _token_expired(self, exc: BaseException) -> TokenExpired:
        return TokenExpired(
            f"Kite refused the access token ({self._describe(exc)}): trading must halt; "
            "run `kitetui login` (tokens expire daily at 06:00 IST)"
        )

    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        if isinstance(exc, requests.RequestException):
            return True
        if any(text in str(exc).lower() for text in _FINAL):
            return False  # a NetworkException no retry can change
        if isinstance(exc, kex.NetworkException | kex.DataException):
            return True
        if isinstance(exc, kex.KiteException):
            code = getattr(exc, "code", 0) or 0
            return code >= 500 or code == 429
        return False

    async def _acquire(self, kind: str, urgent: _Urgent | None) -> None:
        """Wait for Kite's limits: ahead of the ordinary waiters when ``urgent``."""
        waited = await self.limits.acquire(kind, urgent=urgent is not None)
        if urgent is not None:
            urgent.waited_s += waited

    def _say_wait(self, urgent: _Urgent | None) -> None:
        """A protective call that waited long at the limits is said, once."""
        if urgent is None or urgent.order is None or urgent.waited_s < LIMIT_WAIT_SAID_S:
            return
        wait = LimitWait(urgent.order, urgent.action, urgent.waited_s)
        log.warning("%s", wait.describe())
        if self._on_limit_wait is not None:
            self._on_limit_wait(wait)

    async def _read(
        self, kind: str, fn: Callable[..., Any], *args: Any, urgent: _Urgent | None = None
    ) -> Any:
        """A call that is safe to repeat: retried with exponential backoff."""
        name = getattr(fn, "__name__", "call")
        for attempt in range(1, self.read_attempts + 1):
            try:
                await self._acquire(kind, urgent)
                return await asyncio.to_thread(fn, *args)
            except kex.TokenException as exc:
                raise self._token_expired(exc) from None
            except Exception as exc:
                if not self._retryable(exc):
                    raise BrokerError(f"Kite {name} failed: {self._describe(exc)}") from None
                if attempt == self.read_attempts:
                    raise BrokerUnavailable(
                        f"Kite {name} failed {attempt} times; last: {self._describe(exc)}"
                    ) from None
                delay = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
                log.warning(
                    "Kite %s failed (%s); retry %d/%d in %.2f s",
                    name,
                    self._describe(exc),
                    attempt,
                    self.read_attempts - 1,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ mapping

    def _order_from_kite(self, d: Mapping[str, Any]) -> Order:
        """Kite's order object as our ``Order``; our journaled fields come from the
        order we placed (matched by tag or order id). Raises ValueError for an order
        our domain cannot hold (another exchange or product)."""
        order_id = str(d.get("order_id") or "")
        tag = self._tag_by_id.get(order_id)
        if tag is None:
            tag = next((t for t in order_tags(d) if t in self._orders), None)
        if tag is None:
            tags = order_tags(d)
            tag = tags[0] if tags else f"kite-{order_id}"
        previous = self._orders.get(tag)
        order_type = OrderType(d.get("order_type") or (previous and previous.order_type))
        status = map_status(d.get("status"), order_type, previous.status if previous else None)
        message = str(d.get("status_message") or "")
        if previous is None:
            base = Order(
                tag=tag,
                engine="",
                symbol=str(d["tradingsymbol"]),
                exchange=Exchange(d["exchange"]),
                side=Side(d["transaction_type"]),
                quantity=int(d.get("quantity") or 0),
                order_type=order_type,
                product=Product(d["product"]),
                purpose=OrderPurpose.ENTRY,
                status=status,
                ts_ns=ts_ns_of(d.get("order_timestamp")) or self._clock_ns(),
                validity=Validity(d.get("validity") or "DAY"),
                variety=Variety(d["variety"])
                if d.get("variety") in ("regular", "amo")
                else Variety.REGULAR,
            )
        else:
            base = previous
            if previous.status.is_terminal and not status.is_terminal:
                if tag in self._not_placed:
                    log.warning(
                        "order %s was declared not placed but Kite now lists it as %s",
                        tag,
                        d.get("status"),
                    )
                    self._not_placed.discard(tag)
                else:
                    status = previous.status  # a stale update never revives an order
        reason = base.reason
        if status in (OrderStatus.REJECTED, OrderStatus.CANCELLED) and message:
            reason = message
        return replace(
            base,
            status=status,
            quantity=int(d.get("quantity") or base.quantity),
            order_type=order_type,
            price=number(d.get("price")) if "price" in d else base.price,
            trigger_price=number(d.get("trigger_price"))
            if "trigger_price" in d
            else base.trigger_price,
            filled_qty=int(d.get("filled_quantity") or 0),
            avg_price=number(d.get("average_price")),
            broker_order_id=order_id or base.broker_order_id,
            reason=reason,
        )

    def _remember(self, order: Order) -> Order:
        previous = self._orders.get(order.tag)
        if previous is not None and order.filled_qty < previous.filled_qty:
            # an older snapshot: keep the furthest fill state seen
            order = replace(order, filled_qty=previous.filled_qty, avg_price=previous.avg_price)
        self._orders[order.tag] = order
        if order.broker_order_id:
            self._tag_by_id[order.broker_order_id] = order.tag
        return order

    def apply_update(self, d: Mapping[str, Any]) -> tuple[Order, list[Fill]]:
        """One Kite order object (websocket update, postback or polled row) as our new
        order state plus the fills it implies. Idempotent: the same or an older update
        again yields no fill. Raises ValueError for an order outside our domain."""
        order = self._remember(self._order_from_kite(d))
        order_id = order.broker_order_id
        seen_qty, seen_avg = self._fill_state.get(order_id, (0, 0.0))
        qty, avg = int(d.get("filled_quantity") or 0), number(d.get("average_price"))
        fills: list[Fill] = []
        if qty > seen_qty and avg > 0:
            delta = qty - seen_qty
            # the price that makes the running average come out: one fill = the average
            exact = (exact_fraction(avg) * qty - exact_fraction(seen_avg) * seen_qty) / delta
            price = round(float(exact), 2)
            if not price > 0:
                price = avg
            ts = (
                ts_ns_of(d.get("exchange_update_timestamp"))
                or ts_ns_of(d.get("exchange_timestamp"))
                or ts_ns_of(d.get("order_timestamp"))
                or self._clock_ns()
            )
            fills.append(
                Fill(
                    fill_id=f"{order_id}-{qty}",
                    tag=order.tag,
                    symbol=order.symbol,
                    side=order.side,
                    quantity=delta,
                    price=price,
                    ts_ns=ts,
                    engine=order.engine,
                    product=order.product,
                )
            )
            self._fill_state[order_id] = (qty, avg)
        return order, fills

    # ------------------------------------------------------------------ Broker protocol

    def _place_params(self, order: Order) -> dict[str, Any]:
        params: dict[str, Any] = {
            "variety": order.variety.value,
            "exchange": order.exchange.value,
            "tradingsymbol": order.symbol,
            "transaction_type": order.side.value,
            "quantity": int(order.quantity),
            "product": order.product.value,
            "order_type": order.order_type.value,
            "validity": order.validity.value,
            "tag": order.tag,
        }
        if order.order_type in (OrderType.LIMIT, OrderType.SL):
            params["price"] = order.price
        if order.order_type in STOPS:
            params["trigger_price"] = order.trigger_price
        if order.order_type in (OrderType.MARKET, OrderType.SL_M):
            params["market_protection"] = _protection_param(self.market_protection)
        return params

    @staticmethod
    def _rejected(order: Order, reason: str) -> Order:
        return replace(order, status=OrderStatus.REJECTED, reason=reason, filled_qty=0)

    async def place(self, order: Order) -> Order:
        """Send ``order`` once; see the module doc for every outcome. A protective
        order goes ahead of entries at the rate limits."""
        urgent = _Urgent("placement", order) if _protective(order) else None
        try:
            return await self._place(order, urgent)
        finally:
            self._say_wait(urgent)

    async def _place(self, order: Order, urgent: _Urgent | None) -> Order:
        tag = order.tag
        if not tag or len(tag) > MAX_TAG_LENGTH or not tag.isalnum():
            return self._rejected(order, f"client tag must be 1-{MAX_TAG_LENGTH} letters/digits")
        if tag in self._sent:
            found = await self._lookup(tag, urgent)
            return found or self._rejected(order, f"duplicate tag {tag!r}: not sent again")
        self._sent.add(tag)  # before any await: a concurrent place of this tag sends nothing
        try:
            await self._acquire(ORDER, urgent)
        except RateLimitExceeded as exc:
            raise NotAccepted(f"order {tag} not sent: {exc}", tag) from None
        self._orders[tag] = order
        try:
            order_id = await asyncio.to_thread(self._kite.place_order, **self._place_params(order))
        except kex.TokenException as exc:
            raise self._token_expired(exc) from None
        except Exception as exc:
            if _too_many_requests(exc):
                # Kite answers 429 at its gate, before the order exists: the tag is spent
                # (never sent again), and a retry under a fresh tag is safe.
                self._not_placed.add(tag)
                self._orders[tag] = self._rejected(order, "not placed (HTTP 429)")
                raise NotAccepted(
                    f"order {tag} not placed: Kite answered 429 Too many requests", tag
                ) from None
            if isinstance(exc, kex.KiteException) and not self._retryable(exc):
                message = scrub(redact(str(exc), [self._kite.access_token])) or type(exc).__name__
                rejected = self._rejected(order, message)
                self._orders[tag] = rejected
                return rejected
            return await self._resolve_unknown(order, exc, urgent)
        placed = replace(
            order,
            status=OrderStatus.TRIGGER_PENDING if order.order_type in STOPS else OrderStatus.OPEN,
            broker_order_id=str(order_id),
            filled_qty=0,
            avg_price=0.0,
        )
        return self._remember(placed)

    @staticmethod
    def _cause(exc: BaseException) -> str:
        if isinstance(exc, requests.Timeout):
            return "timeout"
        if isinstance(exc, requests.ConnectionError):
            return "connection error"
        code = getattr(exc, "code", None)
        if isinstance(exc, kex.KiteException) and code:
            return f"HTTP {code} {type(exc).__name__}"
        return type(exc).__name__

    async def _resolve_unknown(
        self, order: Order, exc: BaseException, urgent: _Urgent | None
    ) -> Order:
        cause = self._cause(exc)
        log.warning(
            "placing %s: outcome unknown (%s); looking the tag up in the order book",
            order.tag,
            self._describe(exc),
        )
        for attempt in range(1, self.unknown_lookups + 1):
            try:
                rows = await self._read(OTHER, self._kite.orders, urgent=urgent)
            except BrokerError as failure:
                raise PlacementUnknown(
                    f"order {order.tag}: placement outcome unknown ({cause}) and the order "
                    f"book could not be read ({failure}); pause trading and look it up later",
                    order.tag,
                ) from None
            match = [d for d in rows if order.tag in order_tags(d)]
            if match:
                found = self._remember(self._order_from_kite(match[-1]))
                log.warning("order %s is at Kite as %s after %s", order.tag, found.status, cause)
                return found
            if attempt < self.unknown_lookups:
                await self._sleep(self.unknown_lookup_delay_s)
        reason = f"not placed ({cause}, not in the order book)"
        self._not_placed.add(order.tag)
        self._orders[order.tag] = self._rejected(order, reason)
        log.warning("order %s: %s", order.tag, reason)
        raise NotAccepted(f"order {order.tag} {reason}", order.tag)

    async def _latest_row(
        self, tag: str, urgent: _Urgent | None = None
    ) -> Mapping[str, Any] | None:
        """Kite's newest row of the order with this tag (its history, else the book)."""
        known = self._orders.get(tag)
        order_id = known.broker_order_id if known else ""
        if order_id:
            try:
                history = await self._read(OTHER, self._kite.order_history, order_id, urgent=urgent)
            except BrokerUnavailable:
                raise
            except BrokerError:
                history = []
            if history:
                return history[-1]
        rows = await self._read(OTHER, self._kite.orders, urgent=urgent)
        match = [d for d in rows if tag in order_tags(d)]
        return match[-1] if match else None

    async def lookup(self, tag: str) -> Order | None:
        return await self._lookup(tag, None)

    async def _lookup(self, tag: str, urgent: _Urgent | None) -> Order | None:
        row = await self._latest_row(tag, urgent)
        return None if row is None else self._remember(self._order_from_kite(row))

    async def refresh(self, tag: str) -> tuple[Order | None, list[Fill]]:
        """The order as Kite has it now, and the fills that brings that no update has
        yet: read from the order book, they are the same fills (same ids) an update
        would carry, so applying both is harmless."""
        row = await self._latest_row(tag)
        if row is None:
            return None, []
        return self.apply_update(row)

    async def modify(
        self,
        tag: str,
        *,
        ts_ns: int,
        order_type: OrderType | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        quantity: int | None = None,
    ) -> Order | None:
        """Modify a working order at Kite (``PUT /orders/:variety/:order_id``).

        A modification sets absolute values, so sending it twice is harmless: it is
        retried like a read on 429, 5xx and network errors (``BrokerUnavailable`` when
        every try failed: the order stands as it was). A definite refusal raises
        ``ModifyRefused``, unless the order is no longer working (filled or cancelled
        first), which returns None like ``cancel``. ``ts_ns`` is unused: Kite stamps it.
        A protective order's modification goes ahead of entries at the rate limits."""
        del ts_ns
        known = self._orders.get(tag)
        urgent = _Urgent("modification", known) if known and _protective(known) else None
        try:
            return await self._modify(
                tag, urgent, self._modify_params(order_type, price, trigger_price, quantity)
            )
        finally:
            self._say_wait(urgent)

    async def _modify(
        self, tag: str, urgent: _Urgent | None, params: dict[str, Any]
    ) -> Order | None:
        current = self._orders.get(tag)
        if current is None or not current.broker_order_id or current.status not in WORKING:
            current = await self._lookup(tag, urgent)
        if current is None or current.status not in WORKING:
            return None
        variety, order_id = current.variety.value, current.broker_order_id

        def modify_order() -> Any:
            return self._kite.modify_order(variety, order_id, **params)

        try:
            await self._read(MODIFY, modify_order, urgent=urgent)
        except BrokerUnavailable:
            raise
        except BrokerError as exc:
            latest = await self._lookup(tag, urgent)
            if latest is None or latest.status not in WORKING:
                return None
            raise ModifyRefused(f"modify {tag}: {exc}", tag) from None
        latest = await self._lookup(tag, urgent)
        if latest is None or latest.status not in WORKING:
            return None
        return latest

    def _modify_params(
        self,
        order_type: OrderType | None,
        price: float | None,
        trigger_price: float | None,
        quantity: int | None,
    ) -> dict[str, Any]:
        """Kite's modify form: only the fields that change (a market order carries its
        protection, as Kite requires)."""
        params: dict[str, Any] = {}
        if order_type is not None:
            params["order_type"] = order_type.value
            if order_type in (OrderType.MARKET, OrderType.SL_M):
                params["market_protection"] = _protection_param(self.market_protection)
        if price is not None:
            params["price"] = price
        if trigger_price is not None:
            params["trigger_price"] = trigger_price
        if quantity is not None:
            params["quantity"] = int(quantity)
        return params

    async def cancel(self, tag: str) -> Order | None:
        """Cancel at Kite and wait briefly for CANCELLED. None if the order is not open
        (unknown, filled or rejected first). If Kite accepted the cancel but has not
        confirmed it within ``cancel_polls``, the order is returned CANCELLED with a
        reason saying so; a fill that still arrives comes through ``apply_update``.
        Every cancel goes ahead of ordinary requests at the rate limits: it only ever
        takes risk off (an entry's, or a stop's on the way to its position's close)."""
        urgent = _Urgent("cancel", self._orders.get(tag))
        try:
            return await self._cancel(tag, urgent)
        finally:
            self._say_wait(urgent)

    async def _cancel(self, tag: str, urgent: _Urgent) -> Order | None:
        current = await self._lookup(tag, urgent)
        if current is None or current.status not in WORKING:
            return None
        urgent.order = urgent.order or current
        try:
            await self._read(
                OTHER,
                self._cancel_call(current.variety.value, current.broker_order_id),
                urgent=urgent,
            )
        except BrokerUnavailable:
            raise
        except BrokerError as exc:  # e.g. already complete/cancelled: the book decides
            log.info("cancel %s: %s", tag, exc)
        latest: Order | None = current
        for _ in range(self.cancel_polls):
            latest = await self._lookup(tag, urgent)
            if latest is None:
                return None
            if latest.status is OrderStatus.CANCELLED:
                return latest
            if latest.status.is_terminal:
                return None
            await self._sleep(self.cancel_poll_s)
        assert latest is not None
        return self._remember(
            replace(
                latest,
                status=OrderStatus.CANCELLED,
                reason="cancel accepted by Kite, not yet confirmed",
            )
        )

    def _cancel_call(self, variety: str, order_id: str) -> Callable[[], Any]:
        def cancel_order() -> Any:
            return self._kite.cancel_order(variety, order_id)

        return cancel_order

    async def open_orders(self) -> list[Order]:
        """Every order Kite still works today, ours or not (for the reconciler)."""
        rows = await self._book()
        result: list[Order] = []
        for d in rows:
            try:
                order = self._remember(self._order_from_kite(d))
            except (ValueError, KeyError) as exc:
                log.warning("order %s outside kitetui's domain: %s", d.get("order_id"), exc)
                continue
            if order.status in WORKING:
                result.append(order)
        return result

    # ------------------------------------------------------------------ updates

    def on_market(self, item: object) -> list[tuple[Order, Fill]]:
        """Kite matches its own orders: a print we see fills nothing here (fills come
        through ``apply_update``)."""
        del item
        return []

    def take_triggered(self) -> list[Order]:
        """Kite reports a triggered stop by an update like any other change."""
        return []

    def watched(self) -> tuple[Container[str], Sized]:
        """Nothing: Kite's fills and triggers come as updates, never from a print."""
        return _NOTHING, _NOTHING

    def stop_bands(self) -> Mapping[str, tuple[float, float]]:
        """None: Kite works its stops itself; no print of ours is matched here."""
        return _NO_BANDS

    def settle_at_expiry(
        self, tags: Sequence[str], ts_ns: int, price: float
    ) -> list[tuple[Order, Fill]]:
        """The exchange settles an expired contract itself and reports nothing: no fills
        here; the desk books the settlement in its own books (``kitetui.trading.
        expiry_booking``), and sends Kite nothing for it."""
        del tags, ts_ns, price
        return []

    def take_filled(self) -> list[tuple[Order, Fill]]:
        """Kite reports every fill by an update."""
        return []

    def keep_reserve_for(self, max_open_positions: int) -> int:
        """Keep back from entries the day's orders that ``max_open_positions`` positions
        need to be stopped and closed (``protective_reserve``); the reserve now."""
        reserve = protective_reserve(max_open_positions, self.limits.orders_per_day)
        self.limits.set_urgent_reserve(reserve)
        return reserve

    def restore(self, orders: Sequence[Order]) -> None:
        """After a restart: the journaled orders. Their tags count as sent (never placed
        again) and their journaled fill state is where fill deltas start from."""
        for order in orders:
            if order.status is OrderStatus.NEW:
                continue  # never reached a broker? recovery must lookup() it first
            self._sent.add(order.tag)
            self._orders[order.tag] = order
            if order.broker_order_id:
                self._tag_by_id[order.broker_order_id] = order.tag
                self._fill_state[order.broker_order_id] = (order.filled_qty, order.avg_price)

    def push_update(self, d: Mapping[str, Any]) -> None:
        """Queue a websocket order update; safe from KiteTicker's reactor thread."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._updates.put_nowait, dict(d))
        else:
            self._updates.put_nowait(dict(d))

    async def order_updates(self) -> AsyncIterator[tuple[Order, list[Fill]]]:
        """Changes of our orders, forever: websocket updates as they come, and the
        order book polled every ``poll_interval_s`` of silence as the fallback."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                batch = [await asyncio.wait_for(self._updates.get(), timeout=self.poll_interval_s)]
            except TimeoutError:
                batch = await self._read(OTHER, self._kite.orders)
            for d in batch:
                tags = order_tags(d)
                tag = self._tag_by_id.get(str(d.get("order_id") or "")) or (
                    tags[0] if tags else None
                )
                before = self._orders.get(tag) if tag else None
                try:
                    order, fills = self.apply_update(d)
                except (ValueError, KeyError) as exc:
                    log.warning("order update %s skipped: %s", d.get("order_id"), exc)
                    continue
                if fills or order != before:
                    yield order, fills

    # ------------------------------------------------------------------ reads

    async def positions(self) -> list[Position]:
        """Kite's net positions (quantity 0 rows included: they carry the day's P&L)."""
        data = await self._read(OTHER, self._kite.positions)
        result: list[Position] = []
        for row in (data or {}).get("net") or []:
            try:
                product = Product(row["product"])
            except (KeyError, ValueError):
                log.warning(
                    "position %s: product %r not tracked",
                    row.get("tradingsymbol"),
                    row.get("product"),
                )
                continue
            result.append(
                Position(
                    symbol=str(row["tradingsymbol"]),
                    engine="",
                    product=product,
                    quantity=int(row.get("quantity") or 0),
                    avg_price=number(row.get("average_price")),
                    last_price=number(row.get("last_price")),
                    realized_paise=to_paise(number(row.get("realised"))),
                    unrealized_paise=to_paise(number(row.get("unrealised"))),
                )
            )
        return result

    async def orders(self) -> list[dict[str, Any]]:
        return await self._book()

    async def _book(self) -> list[dict[str, Any]]:
        """Today's order book; its latest exchange time is kept (``exchange_ns``): a
        desk restarted near the cut-off knows the exchange's clock from its first read."""
        rows = await self._read(OTHER, self._kite.orders)
        for d in rows:
            self.exchange_ns = max(self.exchange_ns, exchange_time(d))
        return rows

    async def order_history(self, order_id: str) -> list[dict[str, Any]]:
        return await self._read(OTHER, self._kite.order_history, order_id)

    async def trades(self) -> list[dict[str, Any]]:
        return await self._read(OTHER, self._kite.trades)

    async def margins(self) -> dict[str, Any]:
        return await self._read(OTHER, self._kite.margins)

    async def profile(self) -> dict[str, Any]:
        return await self._read(OTHER, self._kite.profile)

    async def contract_note(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Kite's virtual contract note (``POST /charges/orders``) for executed orders,
        each as ``NoteOrder.kite_request`` shapes it: a read, so it is retried."""

        def get_virtual_contract_note() -> Any:
            return self._kite.get_virtual_contract_note(orders)

        return await self._read(OTHER, get_virtual_contract_note)

    async def quote(self, *instruments: str) -> dict[str, Any]:
        def quote() -> Any:
            return self._kite.quote(*instruments)

        return await self._read(QUOTE, quote)

    async def historical(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        def historical_data() -> Any:
            return self._kite.historical_data(*args, **kwargs)

        return await self._read(HISTORICAL, historical_data)
