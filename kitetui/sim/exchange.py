"""The simulated exchange's broker side: accounts, sessions, orders, trades, portfolio.

``SimExchange`` is the state behind the REST routes (``kitetui.sim.rest``) and the
ticker (``kitetui.sim.ticker``), shaped exactly like Kite's payloads (see
``../shared/docs/kite-contract.md`` and ``../shared/kite-mocks``):

* **Sessions.** Each ``SimAccount`` has an api_key, api_secret and user_id.
  ``issue_request_token`` stands in for the browser login; ``create_session`` checks
  ``sha256(api_key + request_token + api_secret)`` and issues an access token valid
  until it is revoked (``invalidate``), expired (``expire_access_tokens``, a
  ``token`` fault), its optional wall-clock TTL runs out, or - with
  ``expire_tokens_on_new_day`` - the market clock enters a new IST day.
* **Orders** (varieties ``regular`` and ``amo``; MARKET/LIMIT/SL/SL-M; MIS/NRML/CNC;
  validity DAY/IOC/TTL) are validated at the gate (HTTP 400 ``InputException``), then
  walk Kite's states, each a row of the order history: ``PUT ORDER REQ RECEIVED`` ->
  ``VALIDATION PENDING`` -> (``REJECTED`` for margin/RMS/fault rejections) ->
  ``OPEN PENDING`` -> ``OPEN``/``TRIGGER PENDING`` (or ``REJECTED`` by the matcher)
  -> ``COMPLETE``/``CANCELLED``. AMO orders wait as ``AMO REQ RECEIVED`` until the
  market clock enters the next IST day. Modifications add ``MODIFY VALIDATION
  PENDING``, ``MODIFY PENDING``, ``MODIFIED``; cancels ``CANCEL PENDING``.
* **Matching** is ``kitetui.brokers.paper.PaperBroker`` (one per account) fed with the
  market's prices: the next tick or candle after an order fills it by the paper rules
  (slippage against the taker, SL triggers). With ``rules.liquidity_fraction`` (the
  default) an order takes at most that share of each recorded trade, in whole lots,
  so a large order fills in parts: each part is a trade row, the order stays OPEN
  with ``filled_quantity`` rising (history rows ``OPEN``, websocket updates
  ``UPDATE``, as Kite's postbacks) until it is COMPLETE. With ``fill_on_placement``
  (default) a new or modified order is also matched at once against the last traded
  price (offering the last trade's liquidity), as a real exchange would fill a
  marketable order. Each paper order is tagged ``<order_id>.<modification>``.
* **Kite's and NSE's rules** (``kitetui.sim.rules``, table in docs/exchange-rules.md):
  the gate refuses (HTTP 400 ``InputException``) SL-M on options, MARKET/SL-M without
  ``market_protection``, limit prices and triggers outside the circuit, option limit
  prices outside NSE's limit price protection band, quantities above the freeze
  limit and tags that are not 1-20 alphanumerics. A protected MARKET order becomes a
  LIMIT at LTP +/- the band (``order_type`` then reads LIMIT, ``price`` the band price,
  ``market_protection`` what was asked); what the market cannot fill inside the band
  rests OPEN. A protected SL-M waits in the sim (TRIGGER PENDING) and, once a trade
  crosses its trigger, becomes the same LIMIT around the price that triggered it. An
  option SL whose limit is outside the LPP band when it triggers is CANCELLED by the
  "exchange", as NSE does.
* **Positions** are day positions per (exchange, symbol, product) with Kite's net/day
  rows; **holdings** are the account's configured opening holdings priced by the
  market; **margins** are approximated (CNC 100 %, MIS equity 20 %, futures 12 %
  (9 % span + 3 % exposure), bought options their premium, sold options 12 % of strike
  value) and enforced: an order needing more than the available margin is REJECTED
  with Kite's "Insufficient funds" text.

Every state change of an order is published to ``on_order_update`` listeners as the
order dict (Kite's shape plus the postback-only keys ``user_id``,
``unfilled_quantity``, ``app_id``, ``checksum``), which the ticker pushes as
``{"type": "order", "data": ...}``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kitetui.brokers.paper import Liquidity, PaperBroker
from kitetui.domain import (
    Bar,
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Tick,
)
from kitetui.market.instruments import Instrument
from kitetui.sim.faults import FaultInjector
from kitetui.sim.market import NS_PER_SECOND, SimMarket, ist_str
from kitetui.sim.rules import (
    MSG_CIRCUIT,
    MSG_LPP_CANCELLED,
    MSG_MAX_MODIFICATIONS,
    MSG_NO_PROTECTION,
    MSG_NOT_TRADED,
    MSG_SL_M_OPTIONS,
    MSG_TAG_CHARACTERS,
    MSG_TAG_LENGTH,
    ReferencePrices,
    SimRules,
    auto_protection_percent,
    freeze_message,
    is_option,
    lpp_band,
    protection_price,
    trigger_circuit_message,
)

__all__ = ["KiteError", "SimAccount", "SimExchange", "SimOrder"]

log = logging.getLogger(__name__)

VARIETIES = ("regular", "amo")
UNSUPPORTED_VARIETIES = ("co", "iceberg", "auction", "bo")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO")
PRODUCTS = ("MIS", "NRML", "CNC")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
VALIDITIES = ("DAY", "IOC", "TTL")
TERMINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})
WORKING = frozenset({"OPEN", "TRIGGER PENDING"})
MAX_MODIFICATIONS = 25
MAX_TAG_LENGTH = 20


class KiteError(Exception):
    """An error answered with Kite's envelope: HTTP ``status`` + ``error_type``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def input_error(message: str) -> KiteError:
    return KiteError(400, "InputException", message)


def order_error(message: str) -> KiteError:
    return KiteError(400, "OrderException", message)


def token_error(message: str = "Incorrect `api_key` or `access_token`.") -> KiteError:
    return KiteError(403, "TokenException", message)


def _alphanumeric(text: str) -> bool:
    return text.isascii() and text.isalnum()


def _sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (``PaperBroker``'s protocol methods are
    ``async`` only to satisfy the Broker protocol) and return its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("PaperBroker coroutine suspended; it must not")


def _num(value: float) -> float | int:
    """Kite prints whole prices as integers (``"price": 300``)."""
    value = round(float(value), 4)
    return int(value) if value.is_integer() else value


@dataclass(slots=True)
class SimAccount:
    """One Kite Connect app + user. ``holdings``: rows with ``tradingsymbol``,
    ``exchange``, ``quantity``, ``average_price`` and optionally ``isin``."""

    api_key: str
    api_secret: str
    user_id: str
    user_name: str = "Sim Trader"
    user_shortname: str = "Sim"
    email: str = "sim@example.invalid"
    cash: float = 1_000_000.0
    commodity_cash: float = 0.0
    holdings: list[dict[str, Any]] = field(default_factory=list)
    redirect_url: str | None = None

    def checksum(self, request_token: str) -> str:
        return hashlib.sha256(
            (self.api_key + request_token + self.api_secret).encode("utf-8")
        ).hexdigest()


@dataclass(slots=True)
class _Session:
    api_key: str
    user_id: str
    access_token: str
    public_token: str
    issued_wall: float
    expires_wall: float | None
    login_ns: int
    valid: bool = True


@dataclass(slots=True)
class SimOrder:
    """An order as the exchange keeps it; ``to_kite()`` is the wire shape."""

    order_id: str
    user_id: str
    variety: str
    instrument: Instrument
    transaction_type: str
    order_type: str
    product: str
    quantity: int
    price: float
    trigger_price: float
    validity: str
    validity_ttl: int
    disclosed_quantity: int
    market_protection: float
    tag: str | None
    order_ns: int
    guid: str
    status: str = "PUT ORDER REQ RECEIVED"
    status_message: str | None = None
    status_message_raw: str | None = None
    exchange_order_id: str | None = None
    exchange_ns: int | None = None
    exchange_update_ns: int | None = None
    average_price: float = 0.0
    filled_quantity: int = 0
    cancelled_quantity: int = 0
    modifications: int = 0
    paper_tag: str = ""
    triggered: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.instrument.exchange}:{self.instrument.tradingsymbol}"

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    def to_kite(self) -> dict[str, Any]:
        return {
            "placed_by": self.user_id,
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "parent_order_id": None,
            "status": self.status,
            "status_message": self.status_message,
            "status_message_raw": self.status_message_raw,
            "order_timestamp": ist_str(self.order_ns),
            "exchange_update_timestamp": (
                ist_str(self.exchange_update_ns) if self.exchange_update_ns else None
            ),
            "exchange_timestamp": ist_str(self.exchange_ns) if self.exchange_ns else None,
            "variety": self.variety,
            "modified": False,  # Kite's mocks keep false even after a modification
            "exchange": self.instrument.exchange,
            "tradingsymbol": self.instrument.tradingsymbol,
            "instrument_token": self.instrument.instrument_token,
            "order_type": self.order_type,
            "transaction_type": self.transaction_type,
            "validity": self.validity,
            "validity_ttl": self.validity_ttl,
            "product": self.product,
            "quantity": self.quantity,
            "disclosed_quantity": self.disclosed_quantity,
            "price": _num(self.price),
            "trigger_price": _num(self.trigger_price),
            "average_price": _num(self.average_price),
            "filled_quantity": self.filled_quantity,
            "pending_quantity": self.pending_quantity if self.status != "REJECTED" else 0,
            "cancelled_quantity": self.cancelled_quantity,
            "market_protection": _num(self.market_protection),
            "meta": {},
            "tag": self.tag,
            "tags": [self.tag] if self.tag else [],
            "guid": self.guid,
        }


@dataclass(slots=True)
class _PositionRow:
    instrument: Instrument
    product: str
    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0

    @property
    def quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity


@dataclass(slots=True)
class _Book:
    """One account's orders, trades and positions."""

    account: SimAccount
    paper: PaperBroker
    orders: dict[str, SimOrder] = field(default_factory=dict)
    by_paper_tag: dict[str, str] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[tuple[str, str, str], _PositionRow] = field(default_factory=dict)
    amo_queue: list[str] = field(default_factory=list)
    amo_release: bool = False
    # protected SL-M orders waiting for their trigger, watched by the sim (not the paper)
    stops: dict[str, SimOrder] = field(default_factory=dict)


OrderListener = Callable[[dict[str, Any]], None]


class SimExchange:
    """Accounts, sessions and order books over a ``SimMarket`` (module docstring)."""

    def __init__(
        self,
        market: SimMarket,
        accounts: Iterable[SimAccount],
        *,
        slippage_bps: float = 2.0,
        fill_on_placement: bool = True,
        freeze_limits: dict[str, int] | None = None,
        token_ttl_s: float | None = None,
        expire_tokens_on_new_day: bool = False,
        enforce_margins: bool = True,
        rules: SimRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.market = market
        self.rules = rules or SimRules()
        self.faults = FaultInjector()
        self.fill_on_placement = fill_on_placement
        self.freeze_limits = dict(freeze_limits or {})
        self.token_ttl_s = token_ttl_s
        self.expire_tokens_on_new_day = expire_tokens_on_new_day
        self.enforce_margins = enforce_margins
        self.clock = clock
        self.accounts: dict[str, SimAccount] = {}
        self._books: dict[str, _Book] = {}
        ticks = {i.key: i.tick_size for i in market.master if i.tick_size > 0}
        fraction = self.rules.liquidity_fraction
        liquidity = None
        if fraction is not None:
            lots = {i.key: i.lot_size for i in market.master if i.lot_size > 1}
            liquidity = Liquidity(fraction, lots)
        for account in accounts:
            if account.api_key in self.accounts:
                raise ValueError(f"duplicate api_key {account.api_key!r}")
            self.accounts[account.api_key] = account
            paper = PaperBroker(slippage_bps=slippage_bps, tick_sizes=ticks, liquidity=liquidity)
            self._books[account.user_id] = _Book(account, paper)
        self._references = ReferencePrices()  # NSE's LPP reference price, options only
        self._option_keys = frozenset(i.key for i in market.master if is_option(i))
        self._last_traded: dict[str, int] = {}  # key -> quantity of its last trade / candle
        self._request_tokens: dict[str, tuple[str, float]] = {}
        self._sessions: dict[str, _Session] = {}
        self._listeners: list[OrderListener] = []
        self._order_seq = itertools.count(1)
        self._trade_seq = itertools.count(1)
        market.add_listener(self._on_batch)
        market.on_day_change(self._on_day)

    # ================================================================== sessions

    def account(self, api_key: str) -> SimAccount | None:
        return self.accounts.get(api_key)

    def issue_request_token(self, api_key: str) -> str:
        """What the browser login would hand back; single use, valid 5 minutes."""
        if api_key not in self.accounts:
            raise token_error("Invalid `api_key`.")
        token = secrets.token_hex(16)
        self._request_tokens[token] = (api_key, self.clock())
        return token

    def create_session(self, api_key: str, request_token: str, checksum: str) -> dict[str, Any]:
        """``POST /session/token``: verify the checksum and issue an access token."""
        for name, value in (
            ("api_key", api_key),
            ("request_token", request_token),
            ("checksum", checksum),
        ):
            if not value:
                raise input_error(f"Missing or empty `{name}`.")
        account = self.accounts.get(api_key)
        if account is None:
            raise token_error("Invalid `api_key`.")
        issued = self._request_tokens.get(request_token)
        if issued is None or issued[0] != api_key or self.clock() - issued[1] > 300:
            raise token_error("Token is invalid or has expired.")
        if not secrets.compare_digest(checksum.lower(), account.checksum(request_token)):
            raise token_error("Invalid `checksum`.")
        del self._request_tokens[request_token]
        now = self.clock()
        session = _Session(
            api_key=api_key,
            user_id=account.user_id,
            access_token=secrets.token_hex(16),
            public_token=secrets.token_hex(16),
            issued_wall=now,
            expires_wall=None if self.token_ttl_s is None else now + self.token_ttl_s,
            login_ns=self.market.now_ns,
        )
        self._sessions[session.access_token] = session
        return {
            **self._user_fields(account),
            "user_id": account.user_id,
            "api_key": api_key,
            "access_token": session.access_token,
            "public_token": session.public_token,
            "enctoken": secrets.token_hex(16),
            "refresh_token": "",
            "silo": "",
            "login_time": ist_str(int(now * NS_PER_SECOND)),
            "meta": {"demat_consent": "physical"},
        }

    def authenticate(self, api_key: str, access_token: str) -> SimAccount:
        """The account behind a valid token; raises 403 ``TokenException`` otherwise."""
        session = self._sessions.get(access_token)
        if session is None or session.api_key != api_key or not session.valid:
            raise token_error()
        if session.expires_wall is not None and self.clock() >= session.expires_wall:
            session.valid = False
            raise token_error()
        return self.accounts[api_key]

    def account_for_token(self, api_key: str, access_token: str) -> SimAccount | None:
        """For the ticker's handshake: the account, or None when the token is bad."""
        try:
            return self.authenticate(api_key, access_token)
        except KiteError:
            return None

    def check_access_token(self, api_key: str, access_token: str) -> str | None:
        """For the ticker's upgrade check: the user id of a valid pair, else None."""
        account = self.account_for_token(api_key, access_token)
        return account.user_id if account is not None else None

    def invalidate(self, api_key: str, access_token: str) -> bool:
        """``DELETE /session/token``: revoke one access token."""
        session = self._sessions.get(access_token)
        if session is None or session.api_key != api_key:
            return False
        session.valid = False
        return True

    def expire_access_tokens(self, api_key: str | None = None) -> int:
        """Expire every live token (of one api_key); the next call gets 403."""
        count = 0
        for session in self._sessions.values():
            if session.valid and (api_key is None or session.api_key == api_key):
                session.valid = False
                count += 1
        return count

    def _on_day(self, _old: int, _new: int) -> None:
        if self.expire_tokens_on_new_day:
            self.expire_access_tokens()
        for book in self._books.values():
            # Released after the new day's first batch is applied, at its prices.
            book.amo_release = bool(book.amo_queue)

    # ================================================================== user

    @staticmethod
    def _user_fields(account: SimAccount) -> dict[str, Any]:
        return {
            "user_type": "individual",
            "email": account.email,
            "user_name": account.user_name,
            "user_shortname": account.user_shortname,
            "broker": "ZERODHA",
            "exchanges": ["NSE", "NFO", "BFO", "BSE"],
            "products": ["CNC", "NRML", "MIS"],
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
            "avatar_url": None,
        }

    def profile(self, account: SimAccount) -> dict[str, Any]:
        return {
            "user_id": account.user_id,
            **self._user_fields(account),
            "meta": {"demat_consent": "physical"},
        }

    # ================================================================== listeners

    def on_order_update(self, callback: OrderListener) -> Callable[[], None]:
        """``callback(order_dict)`` on every order state change; returns a remover.
        The dict is Kite's order shape plus ``user_id`` (route it per user)."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _publish(self, order: SimOrder, status: str | None = None) -> None:
        """Send the order to the listeners; ``status`` overrides the book's status (a
        partial fill goes out as ``UPDATE``, as Kite's postbacks and websocket do)."""
        if not self._listeners:
            return
        data = order.to_kite()
        if status is not None:
            data["status"] = status
        account = self._books[order.user_id].account
        data["user_id"] = order.user_id
        data["unfilled_quantity"] = order.pending_quantity if order.status in WORKING else 0
        data["app_id"] = 0
        data["checksum"] = hashlib.sha256(
            (order.order_id + data["order_timestamp"] + account.api_secret).encode("utf-8")
        ).hexdigest()
        for callback in list(self._listeners):
            try:
                callback(dict(data))
            except Exception:
                log.exception("order update listener failed")

    # ================================================================== orders

    def book(self, account: SimAccount) -> _Book:
        return self._books[account.user_id]

    def _now(self) -> int:
        return self.market.now_ns

    def _snapshot(self, order: SimOrder, status: str | None = None) -> None:
        if status is not None:
            order.status = status
        order.history.append(order.to_kite())

    def _new_order_id(self) -> str:
        seq = next(self._order_seq)
        day = ist_str(self._now())[2:10].replace("-", "")
        return f"{day}{seq:09d}"

    def place_order(self, account: SimAccount, variety: str, params: dict[str, Any]) -> str:
        """``POST /orders/{variety}``; returns the order id (the order may end REJECTED)."""
        book = self.book(account)
        fields = self._validate_new(variety, params)
        instrument: Instrument = fields.pop("instrument")
        order = SimOrder(
            order_id=self._new_order_id(),
            user_id=account.user_id,
            variety=variety,
            instrument=instrument,
            order_ns=self._now(),
            guid=secrets.token_hex(8),
            **fields,
        )
        book.orders[order.order_id] = order
        self._snapshot(order, "PUT ORDER REQ RECEIVED")
        self._snapshot(order, "VALIDATION PENDING")
        fault = self.faults.take_reject()
        if fault is not None:
            self._reject(order, fault.message or "Order rejected by the simulated RMS.")
            return order.order_id
        reason = self._rms_check(book, order)
        if reason:
            self._reject(order, reason)
            return order.order_id
        if variety == "amo":
            self._snapshot(order, "AMO REQ RECEIVED")
            book.amo_queue.append(order.order_id)
            self._publish(order)
            return order.order_id
        self._send_to_exchange(book, order)
        return order.order_id

    def _validate_new(self, variety: str, params: dict[str, Any]) -> dict[str, Any]:
        if variety in UNSUPPORTED_VARIETIES:
            raise input_error(f"Variety `{variety}` is not supported by the simulated exchange.")
        if variety not in VARIETIES:
            raise input_error("Invalid `variety`.")
        for name in (
            "exchange",
            "tradingsymbol",
            "transaction_type",
            "quantity",
            "product",
            "order_type",
        ):
            if not str(params.get(name) or "").strip():
                raise input_error(f"Missing or empty field `{name}`.")
        exchange = str(params["exchange"]).upper()
        if exchange not in EXCHANGES:
            raise input_error("Invalid `exchange`.")
        instrument = self.market.instrument(exchange, str(params["tradingsymbol"]))
        if instrument is None:
            raise input_error("Invalid `tradingsymbol`: instrument not found.")
        if instrument.segment == "INDICES":
            raise input_error("Index instruments cannot be traded.")
        transaction_type = str(params["transaction_type"]).upper()
        if transaction_type not in ("BUY", "SELL"):
            raise input_error("Invalid `transaction_type`.")
        order_type = str(params["order_type"]).upper()
        if order_type not in ORDER_TYPES:
            raise input_error("Invalid `order_type`.")
        product = str(params["product"]).upper()
        if product in ("CO", "BO", "MTF"):
            raise input_error(f"Product `{product}` is not supported by the simulated exchange.")
        if product not in PRODUCTS:
            raise input_error("Invalid `product`.")
        derivative = instrument.exchange in ("NFO", "BFO")
        if derivative and product == "CNC":
            raise input_error("CNC is not allowed for F&O instruments; use NRML or MIS.")
        if not derivative and product == "NRML":
            raise input_error("NRML is not allowed for equity; use CNC or MIS.")
        quantity = self._int(params, "quantity")
        if quantity is None or quantity <= 0:
            raise input_error("Invalid `quantity`.")
        self._check_lots(instrument, quantity)
        price = self._float(params, "price") or 0.0
        trigger = self._float(params, "trigger_price") or 0.0
        if order_type in ("LIMIT", "SL") and price <= 0:
            raise input_error("Invalid `price`.")
        if order_type in ("SL", "SL-M") and trigger <= 0:
            raise input_error("Invalid `trigger_price`.")
        if order_type in ("MARKET", "SL-M"):
            price = 0.0
        if order_type in ("MARKET", "LIMIT"):
            trigger = 0.0
        protection = self._protection(params) or 0.0
        self._check_order_type(instrument, order_type, protection)
        self._check_prices(
            instrument, transaction_type == "BUY", order_type, price, trigger, variety
        )
        validity = str(params.get("validity") or "DAY").upper()
        if validity not in VALIDITIES:
            raise input_error("Invalid `validity`.")
        ttl = self._int(params, "validity_ttl") or 0
        if validity == "TTL" and ttl <= 0:
            raise input_error("Invalid `validity_ttl`.")
        disclosed = self._int(params, "disclosed_quantity") or 0
        if disclosed < 0 or disclosed > quantity:
            raise input_error("Invalid `disclosed_quantity`.")
        tag = params.get("tag")
        tag = str(tag) if tag not in (None, "") else None
        if tag is not None and len(tag) > MAX_TAG_LENGTH:
            raise input_error(MSG_TAG_LENGTH)
        if tag is not None and self.rules.tag_alphanumeric and not _alphanumeric(tag):
            raise input_error(MSG_TAG_CHARACTERS)
        return {
            "instrument": instrument,
            "transaction_type": transaction_type,
            "order_type": order_type,
            "product": product,
            "quantity": quantity,
            "price": price,
            "trigger_price": trigger,
            "validity": validity,
            "validity_ttl": ttl if validity == "TTL" else 0,
            "disclosed_quantity": disclosed,
            "market_protection": protection if order_type in ("MARKET", "SL-M") else 0,
            "tag": tag,
        }

    def _check_lots(self, instrument: Instrument, quantity: int) -> None:
        lot = instrument.lot_size
        if lot > 1 and quantity % lot:
            raise input_error(
                f"Quantity should be a multiple of lot size ({lot}) for {instrument.tradingsymbol}."
            )
        underlying = (instrument.name or instrument.tradingsymbol).upper()
        freeze = self.freeze_limits.get(underlying)
        if freeze and instrument.exchange in ("NFO", "BFO") and quantity > freeze:
            raise input_error(freeze_message(quantity, freeze, lot))

    def _protection(self, params: dict[str, Any]) -> float | None:
        """``market_protection`` as Kite takes it: a decimal, -1 (automatic) or a
        percentage in (0, 100]; 0 means none. None when absent."""
        value = params.get("market_protection")
        if value in (None, ""):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise input_error(
                f"Invalid request (failed to decode market_protection, got: {value} "
                "(expected decimal))"
            ) from None
        if not math.isfinite(number) or not (number == -1 or 0 <= number <= 100):
            raise input_error("Invalid `market_protection`.")
        return number

    def _check_order_type(self, instrument: Instrument, order_type: str, protection: float) -> None:
        """Refuse the order types Kite refuses at its gate (docs/exchange-rules.md)."""
        if order_type == "SL-M" and self.rules.sl_m_options and is_option(instrument):
            raise input_error(MSG_SL_M_OPTIONS)
        required = self.rules.require_market_protection
        if order_type in ("MARKET", "SL-M") and required and protection == 0:
            raise input_error(MSG_NO_PROTECTION)

    def _check_prices(
        self,
        instrument: Instrument,
        buy: bool,
        order_type: str,
        price: float,
        trigger: float,
        variety: str,
    ) -> None:
        """Refuse a limit price or trigger outside the day's circuit, and an option's
        limit price outside NSE's limit price protection band (a live reference needed,
        so not for AMO). Kite answers both with the same circuit text."""
        state = self.market.state_for_key(instrument.key)
        if state is None or not state.has_data:
            return
        if self.rules.circuit_limits:
            lower, upper = state.circuit_limits()
            if upper > 0:
                if order_type in ("LIMIT", "SL") and not lower <= price <= upper:
                    raise input_error(MSG_CIRCUIT)
                if order_type in ("SL", "SL-M") and not lower <= trigger <= upper:
                    raise input_error(trigger_circuit_message(buy, upper if buy else lower))
        if self.rules.lpp and order_type == "LIMIT" and variety != "amo" and is_option(instrument):
            reference = self._references.reference(instrument.key)
            if reference is not None:
                low, high = lpp_band(reference)
                if (buy and price > high) or (not buy and price < low):
                    raise input_error(MSG_CIRCUIT)

    @staticmethod
    def _number(params: dict[str, Any], name: str) -> float | None:
        """The form field ``name`` as a finite float; None when absent or empty.

        Kite answers every malformed number with the same ``Invalid `name`.``
        InputException; this is the parsing ``_int`` (whole numbers) and ``_float``
        (non-negative numbers) share before their own check.
        """
        value = params.get(name)
        if value in (None, ""):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise input_error(f"Invalid `{name}`.") from None
        if not math.isfinite(number):
            raise input_error(f"Invalid `{name}`.")
        return number

    @staticmethod
    def _int(params: dict[str, Any], name: str) -> int | None:
        number = SimExchange._number(params, name)
        if number is None:
            return None
        if not number.is_integer():
            raise input_error(f"Invalid `{name}`.")
        return int(number)

    @staticmethod
    def _float(params: dict[str, Any], name: str) -> float | None:
        number = SimExchange._number(params, name)
        if number is not None and number < 0:
            raise input_error(f"Invalid `{name}`.")
        return number

    def _reject(self, order: SimOrder, message: str) -> None:
        order.status_message = message
        order.status_message_raw = f"RMS:{message}"
        order.exchange_update_ns = self._now()
        self._snapshot(order, "REJECTED")
        self._publish(order)

    def _rms_check(self, book: _Book, order: SimOrder) -> str:
        """Why the RMS would reject the order (Kite's wording where known), or ""."""
        ltp = self.market.last_price(order.key)
        if ltp is not None and order.order_type in ("SL", "SL-M") and order.variety != "amo":
            if order.transaction_type == "BUY" and order.trigger_price <= ltp:
                return (
                    "Trigger price for stoploss buy orders should be higher than the "
                    "last traded price."
                )
            if order.transaction_type == "SELL" and order.trigger_price >= ltp:
                return (
                    "Trigger price for stoploss sell orders should be lower than the "
                    "last traded price."
                )
        if not self.enforce_margins:
            return ""
        required = self._order_margin(book, order)
        if required <= 0:
            return ""
        available = self._margin_summary(book, exclude=order.order_id)["net"]
        if required > available:
            return (
                f"Insufficient funds. Required margin is {required:.2f} but available "
                f"margin is {available:.2f}. Check the orderbook for open orders."
            )
        return ""

    def _send_to_exchange(self, book: _Book, order: SimOrder) -> None:
        self._snapshot(order, "OPEN PENDING")
        reason = self._protect(order)
        if reason:
            order.exchange_update_ns = self._now()
            order.status_message = order.status_message_raw = reason
            self._snapshot(order, "REJECTED")
            self._publish(order)
            return
        order.paper_tag = f"{order.order_id}.{order.modifications}"
        book.by_paper_tag[order.paper_tag] = order.order_id
        placed = _sync(book.paper.place(self._paper_order(order)))
        now = self._now()
        if placed.status is OrderStatus.REJECTED:
            order.exchange_update_ns = now
            order.status_message = self._kite_reason(placed.reason, order)
            order.status_message_raw = placed.reason
            self._snapshot(order, "REJECTED")
            self._publish(order)
            return
        if self._is_sim_stop(order):  # validated by the paper; its trigger is ours to watch
            _sync(book.paper.cancel(order.paper_tag))
            book.stops[order.order_id] = order
        order.exchange_order_id = f"{1_300_000_000_000_000 + int(order.order_id[-9:])}"
        order.exchange_ns = order.exchange_update_ns = now
        self._snapshot(order, placed.status.value)
        self._publish(order)
        self._after_accept(book, order)

    def _is_sim_stop(self, order: SimOrder) -> bool:
        """A protected SL-M before its trigger: the sim, not the paper, watches it, since
        once triggered it must become a LIMIT around the price that triggered it."""
        return order.order_type == "SL-M" and order.market_protection != 0 and not order.triggered

    def _protect(self, order: SimOrder, ltp: float | None = None) -> str:
        """Turn a protected MARKET order into Kite's LIMIT at the band price around
        ``ltp`` (default: the last traded price); "" or why it cannot be priced."""
        if order.order_type != "MARKET" or order.market_protection == 0:
            return ""
        if ltp is None:
            ltp = self.market.last_price(order.key)
        if ltp is None:
            return MSG_NOT_TRADED
        buy = order.transaction_type == "BUY"
        inst = order.instrument
        percent = order.market_protection
        if percent < 0:
            percent = auto_protection_percent(is_option(inst), ltp)
        price = protection_price(ltp, percent, buy, inst.tick_size or 0.05)
        state = self.market.state_for_key(order.key)
        if self.rules.circuit_limits and state is not None:
            lower, upper = state.circuit_limits()
            if upper > 0:  # never priced outside the day's range
                price = min(max(price, lower), upper)
        order.order_type = "LIMIT"
        order.price = price
        return ""

    @staticmethod
    def _kite_reason(reason: str, order: SimOrder) -> str:
        if "multiple of the tick" in reason:
            tick = order.instrument.tick_size or 0.05
            return (
                f"Tick size for this script is {tick:g}. Kindly enter price in the "
                "multiple of tick size for this script"
            )
        return reason

    def _paper_order(self, order: SimOrder, status: OrderStatus = OrderStatus.NEW) -> Order:
        """The paper broker's view: what is left to fill of the order, as it is now."""
        return Order(
            tag=order.paper_tag,
            engine="sim",
            symbol=order.key,
            exchange=Exchange(order.instrument.exchange),
            side=Side(order.transaction_type),
            quantity=order.quantity - order.filled_quantity,
            order_type=OrderType(order.order_type),
            product=Product(order.product),
            purpose=OrderPurpose.ENTRY,
            status=status,
            ts_ns=self._now(),
            price=order.price,
            trigger_price=order.trigger_price,
        )

    def _after_accept(self, book: _Book, order: SimOrder) -> None:
        """Match a new/modified order against the last price; IOC leftovers cancel."""
        ltp = self.market.last_price(order.key)
        working = order.order_id not in book.stops
        if working and ltp is not None and (self.fill_on_placement or order.validity == "IOC"):
            quantity = self._last_traded.get(order.key)
            fills = book.paper.on_price(order.key, self._now() + 1, ltp, quantity)
            self._apply_fills(book, fills)
            self._sync_triggers(book)
        if order.validity == "IOC" and order.status in WORKING:
            self._cancel(book, order, "IOC order cancelled: no match at placement.")

    def _release_amo(self, book: _Book) -> None:
        queue, book.amo_queue = book.amo_queue, []
        for order_id in queue:
            order = book.orders[order_id]
            if order.status == "AMO REQ RECEIVED":
                order.order_ns = self._now()
                self._send_to_exchange(book, order)

    # ------------------------------------------------------------------ modify / cancel

    def _get(self, account: SimAccount, order_id: str) -> SimOrder:
        order = self.book(account).orders.get(order_id)
        if order is None:
            raise input_error("Couldn't find that `order_id`.")
        return order

    def modify_order(
        self, account: SimAccount, variety: str, order_id: str, params: dict[str, Any]
    ) -> str:
        """``PUT /orders/{variety}/{order_id}``: price/qty/type/trigger/validity.

        A MARKET or SL-M needs ``market_protection`` unless the order already carries
        one (forum comment 52331); a MARKET is priced as a protected LIMIT at once."""
        book, order = self._live_order(account, variety, order_id, "modified")
        if order.modifications >= MAX_MODIFICATIONS:
            raise KiteError(400, "NetworkException", MSG_MAX_MODIFICATIONS)
        order_type = str(params.get("order_type") or order.order_type).upper()
        if order_type not in ORDER_TYPES:
            raise input_error("Invalid `order_type`.")
        quantity = self._int(params, "quantity")
        quantity = order.quantity if quantity is None else quantity
        if quantity <= 0 or quantity <= order.filled_quantity:
            raise input_error("Invalid `quantity`.")
        self._check_lots(order.instrument, quantity)
        price = self._float(params, "price")
        price = order.price if price is None else price
        trigger = self._float(params, "trigger_price")
        trigger = order.trigger_price if trigger is None else trigger
        if order_type in ("LIMIT", "SL") and price <= 0:
            raise input_error("Invalid `price`.")
        if order_type in ("SL", "SL-M") and trigger <= 0:
            raise input_error("Invalid `trigger_price`.")
        if order_type in ("MARKET", "SL-M"):
            price = 0.0
        if order_type in ("MARKET", "LIMIT"):
            trigger = 0.0
        validity = str(params.get("validity") or order.validity).upper()
        if validity not in VALIDITIES:
            raise input_error("Invalid `validity`.")
        disclosed = self._int(params, "disclosed_quantity")
        protection = self._protection(params)
        carried = order.market_protection if protection is None else protection
        self._check_order_type(order.instrument, order_type, carried)
        buy = order.transaction_type == "BUY"
        self._check_prices(order.instrument, buy, order_type, price, trigger, order.variety)

        if order.status == "AMO REQ RECEIVED":
            order.order_ns = self._now()
            self._snapshot(order, "MODIFY VALIDATION PENDING")
            self._snapshot(order, "MODIFY PENDING")
            self._snapshot(order, "MODIFIED")
            self._apply_changes(
                order, order_type, quantity, price, trigger, validity, disclosed, carried
            )
            self._snapshot(order, "AMO REQ RECEIVED")
            self._publish(order)
            return order.order_id
        # Validate in the matcher under a new tag first: a refused change leaves the
        # order as it was. A triggered stop of the same type stays triggered.
        was_triggered = order.status == "OPEN" and order.order_type in ("SL", "SL-M")
        same_stop = was_triggered and order.order_type == order_type
        new_tag = f"{order.order_id}.{order.modifications + 1}"
        trial = replace(
            order,
            order_type=order_type,
            quantity=quantity,
            price=price,
            trigger_price=trigger,
            # kept while the order stays a protected one (a re-priced band LIMIT too)
            market_protection=carried
            if order_type in ("MARKET", "SL-M") or order_type == order.order_type
            else 0.0,
            triggered=order.triggered and same_stop,
            paper_tag=new_tag,
            history=[],
        )
        reason = self._protect(trial)
        if reason:
            raise input_error(reason)
        placed = _sync(book.paper.place(self._paper_order(trial)))
        if placed.status is OrderStatus.REJECTED:
            raise input_error(self._kite_reason(placed.reason, trial))
        if order.paper_tag:
            _sync(book.paper.cancel(order.paper_tag))
        book.stops.pop(order.order_id, None)
        book.by_paper_tag[new_tag] = order.order_id
        status = "OPEN"
        if self._is_sim_stop(trial):
            _sync(book.paper.cancel(new_tag))
            book.stops[order.order_id] = order
            status = "TRIGGER PENDING"
        elif same_stop:
            book.paper.restore([replace(placed, status=OrderStatus.OPEN)])
        elif trial.order_type in ("SL", "SL-M"):
            status = "TRIGGER PENDING"
        order.order_ns = self._now()
        self._snapshot(order, "MODIFY VALIDATION PENDING")
        self._snapshot(order, "MODIFY PENDING")
        order.exchange_ns = order.exchange_update_ns = self._now()
        self._snapshot(order, "MODIFIED")
        self._apply_changes(
            order,
            trial.order_type,
            quantity,
            trial.price,
            trigger,
            validity,
            disclosed,
            trial.market_protection,
        )
        order.triggered = trial.triggered
        order.paper_tag = new_tag
        self._snapshot(order, status)
        self._publish(order)
        self._after_accept(book, order)
        return order.order_id

    @staticmethod
    def _apply_changes(
        order: SimOrder,
        order_type: str,
        quantity: int,
        price: float,
        trigger: float,
        validity: str,
        disclosed: int | None,
        protection: float,
    ) -> None:
        order.order_type = order_type
        order.quantity = quantity
        order.price = price
        order.trigger_price = trigger
        order.validity = validity
        if disclosed is not None:
            order.disclosed_quantity = disclosed
        order.market_protection = protection
        order.modifications += 1

    def cancel_order(self, account: SimAccount, variety: str, order_id: str) -> str:
        """``DELETE /orders/{variety}/{order_id}``."""
        book, order = self._live_order(account, variety, order_id, "cancelled")
        self._snapshot(order, "CANCEL PENDING")
        self._cancel(book, order, None)
        return order.order_id

    def _live_order(
        self, account: SimAccount, variety: str, order_id: str, verb: str
    ) -> tuple[_Book, SimOrder]:
        """The book and the order a modify or cancel acts on, or Kite's refusal.

        Both routes check the URL's variety against the order's and refuse an order that
        has reached a terminal state, in the same words but for ``verb`` ("modified",
        "cancelled").
        """
        book = self.book(account)
        order = self._get(account, order_id)
        if variety != order.variety:
            raise input_error("Invalid `variety` for this order.")
        if order.status in TERMINAL:
            raise order_error(
                f"Order cannot be {verb} as it is {order.status.lower()}."
                if order.status != "COMPLETE"
                else f"Order cannot be {verb} as it is already completed."
            )
        return book, order

    def _cancel(self, book: _Book, order: SimOrder, message: str | None) -> None:
        if order.paper_tag:
            _sync(book.paper.cancel(order.paper_tag))
        book.stops.pop(order.order_id, None)
        if order.order_id in book.amo_queue:
            book.amo_queue.remove(order.order_id)
        order.cancelled_quantity = order.pending_quantity
        order.status_message = message
        order.exchange_update_ns = self._now()
        self._snapshot(order, "CANCELLED")
        self._publish(order)

    # ------------------------------------------------------------------ matching

    def _on_batch(self, ts_ns: int, items: list[Tick | Bar], _tokens: list[int]) -> None:
        for item in items:
            if isinstance(item, Bar):
                self._last_traded[item.symbol] = item.volume
            else:
                self._last_traded[item.symbol] = item.qty
                if self.rules.lpp and item.symbol in self._option_keys:
                    self._references.add(item.symbol, item.ts_ns, item.price)
        for book in self._books.values():
            if book.amo_release:
                book.amo_release = False
                self._release_amo(book)
            if not book.stops and not _sync(book.paper.open_orders()):
                continue
            for item in items:
                self._cancel_outside_lpp(book, item)
                if isinstance(item, Bar):
                    fills = book.paper.on_bar(item)
                else:
                    fills = book.paper.on_price(item.symbol, item.ts_ns, item.price, item.qty)
                self._apply_fills(book, fills)
                self._trigger_stops(book, item)
            self._sync_triggers(book)
            self._expire_ttl(book, ts_ns)

    @staticmethod
    def _crossed(order: SimOrder, item: Tick | Bar) -> float | None:
        """The price at which ``item`` crosses the stop's trigger (a bar that opens beyond
        it: its open), or None; only items after the order count."""
        trigger = order.trigger_price
        buy = order.transaction_type == "BUY"
        if isinstance(item, Bar):
            if item.ts_ns + 1 <= order.order_ns:
                return None
            if buy:
                return (
                    item.open if item.open >= trigger else trigger if item.high >= trigger else None
                )
            return item.open if item.open <= trigger else trigger if item.low <= trigger else None
        if item.ts_ns <= order.order_ns:
            return None
        if (buy and item.price >= trigger) or (not buy and item.price <= trigger):
            return item.price
        return None

    def _trigger_stops(self, book: _Book, item: Tick | Bar) -> None:
        """Protected SL-M orders this trade triggers become a LIMIT at the protection band
        around the triggering price, matched at once against that price."""
        for order in [o for o in book.stops.values() if o.key == item.symbol]:
            price = self._crossed(order, item)
            if price is None:
                continue
            del book.stops[order.order_id]
            order.triggered = True
            order.order_type = "MARKET"  # what an SL-M releases, protected at once
            self._protect(order, ltp=price)
            order.paper_tag = f"{order.order_id}.{order.modifications}t"
            book.by_paper_tag[order.paper_tag] = order.order_id
            placed = _sync(book.paper.place(self._paper_order(order)))
            order.exchange_update_ns = self._now()
            if placed.status is OrderStatus.REJECTED:  # a band price off the tick cannot be
                order.status_message = self._kite_reason(placed.reason, order)
                self._snapshot(order, "REJECTED")
                self._publish(order)
                continue
            self._snapshot(order, "OPEN")
            self._publish(order)
            fills = book.paper.on_price(
                order.key, self._now() + 1, price, self._last_traded.get(order.key)
            )
            self._apply_fills(book, fills)

    def _cancel_outside_lpp(self, book: _Book, item: Tick | Bar) -> None:
        """NSE checks an option SL's limit against the LPP band when it triggers and
        cancels it if outside (circular of 28 Oct 2022; Kite's text: forum 13838)."""
        if not self.rules.lpp or isinstance(item, Bar) or item.symbol not in self._option_keys:
            return
        reference = self._references.reference(item.symbol)
        if reference is None:
            return
        low, high = lpp_band(reference)
        for paper_order in _sync(book.paper.open_orders()):
            if paper_order.symbol != item.symbol or paper_order.order_type is not OrderType.SL:
                continue
            if paper_order.status is not OrderStatus.TRIGGER_PENDING:
                continue
            order_id = book.by_paper_tag.get(paper_order.tag)
            order = book.orders.get(order_id) if order_id else None
            if order is None or not is_option(order.instrument):
                continue
            if self._crossed(order, item) is None:
                continue
            buy = order.transaction_type == "BUY"
            if (buy and order.price > high) or (not buy and order.price < low):
                self._cancel(book, order, MSG_LPP_CANCELLED)

    def _sync_triggers(self, book: _Book) -> None:
        """Publish stops the matcher has triggered but not filled (now OPEN)."""
        for paper_order in _sync(book.paper.open_orders()):
            order_id = book.by_paper_tag.get(paper_order.tag)
            order = book.orders.get(order_id) if order_id else None
            if order is None:
                continue
            if paper_order.status is OrderStatus.OPEN and order.status == "TRIGGER PENDING":
                order.exchange_update_ns = self._now()
                self._snapshot(order, "OPEN")
                self._publish(order)

    def _expire_ttl(self, book: _Book, ts_ns: int) -> None:
        for order in list(book.orders.values()):
            expires = order.order_ns + order.validity_ttl * 60 * NS_PER_SECOND
            if order.validity == "TTL" and order.status in WORKING and ts_ns >= expires:
                self._cancel(book, order, "TTL order expired.")

    def _apply_fills(self, book: _Book, fills: list[tuple[Order, Fill]]) -> None:
        """Book each fill (one trade row each); a part fill leaves the order OPEN and goes
        out as Kite's ``UPDATE``, the last one makes it COMPLETE."""
        for _paper_order, fill in fills:
            order_id = book.by_paper_tag.get(fill.tag)
            order = book.orders.get(order_id) if order_id else None
            if order is None or order.status in TERMINAL:
                continue
            quantity = min(fill.quantity, order.pending_quantity)
            if quantity <= 0:
                continue
            total = order.average_price * order.filled_quantity + fill.price * quantity
            order.filled_quantity += quantity
            order.average_price = round(total / order.filled_quantity, 4)
            order.exchange_update_ns = fill.ts_ns
            trade_ns = fill.ts_ns
            book.trades.append(
                {
                    "trade_id": str(10_000_000 + next(self._trade_seq)),
                    "order_id": order.order_id,
                    "exchange": order.instrument.exchange,
                    "tradingsymbol": order.instrument.tradingsymbol,
                    "instrument_token": order.instrument.instrument_token,
                    "product": order.product,
                    "average_price": _num(fill.price),
                    "quantity": quantity,
                    "exchange_order_id": order.exchange_order_id,
                    "transaction_type": order.transaction_type,
                    "fill_timestamp": ist_str(trade_ns),
                    "order_timestamp": ist_str(trade_ns)[11:],
                    "exchange_timestamp": ist_str(trade_ns),
                }
            )
            row = book.positions.get((order.instrument.exchange, order.key, order.product))
            if row is None:
                row = _PositionRow(order.instrument, order.product)
                book.positions[(order.instrument.exchange, order.key, order.product)] = row
            if order.transaction_type == "BUY":
                row.buy_quantity += quantity
                row.buy_value += fill.price * quantity
            else:
                row.sell_quantity += quantity
                row.sell_value += fill.price * quantity
            if order.pending_quantity:
                self._snapshot(order, "OPEN")
                self._publish(order, status="UPDATE")
            else:
                self._snapshot(order, "COMPLETE")
                self._publish(order)

    # ================================================================== reads

    def orders(self, account: SimAccount) -> list[dict[str, Any]]:
        return [order.to_kite() for order in self.book(account).orders.values()]

    def order_history(self, account: SimAccount, order_id: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self._get(account, order_id).history]

    def find_by_tag(self, account: SimAccount, tag: str) -> list[dict[str, Any]]:
        return [o.to_kite() for o in self.book(account).orders.values() if o.tag == tag]

    def trades(self, account: SimAccount) -> list[dict[str, Any]]:
        return [dict(t) for t in self.book(account).trades]

    def order_trades(self, account: SimAccount, order_id: str) -> list[dict[str, Any]]:
        self._get(account, order_id)
        return [dict(t) for t in self.book(account).trades if t["order_id"] == order_id]

    def _ltp_close(self, key: str, fallback: float) -> tuple[float, float]:
        state = self.market.state_for_key(key)
        if state is None or not state.has_data:
            return fallback, fallback
        return state.last_price, state.close

    def positions(self, account: SimAccount) -> dict[str, list[dict[str, Any]]]:
        rows = []
        for (_exchange, key, _product), row in self.book(account).positions.items():
            rows.append(self._position_dict(key, row))
        return {"net": rows, "day": [dict(r) for r in rows]}

    def _position_dict(self, key: str, row: _PositionRow) -> dict[str, Any]:
        buy_avg = row.buy_value / row.buy_quantity if row.buy_quantity else 0.0
        sell_avg = row.sell_value / row.sell_quantity if row.sell_quantity else 0.0
        last, close = self._ltp_close(key, buy_avg or sell_avg)
        quantity = row.quantity
        value = row.sell_value - row.buy_value
        pnl = value + quantity * last
        closed = min(row.buy_quantity, row.sell_quantity)
        realised = closed * (sell_avg - buy_avg) if closed else 0.0
        average = buy_avg if quantity > 0 else sell_avg if quantity < 0 else 0.0
        inst = row.instrument
        return {
            "tradingsymbol": inst.tradingsymbol,
            "exchange": inst.exchange,
            "instrument_token": inst.instrument_token,
            "product": row.product,
            "quantity": quantity,
            "overnight_quantity": 0,
            "multiplier": 1,
            "average_price": _num(average),
            "close_price": _num(close),
            "last_price": _num(last),
            "value": _num(value),
            "pnl": _num(pnl),
            "m2m": _num(pnl),
            "unrealised": _num(pnl - realised),
            "realised": _num(realised),
            "buy_quantity": row.buy_quantity,
            "buy_price": _num(buy_avg),
            "buy_value": _num(row.buy_value),
            "buy_m2m": _num(row.buy_value),
            "sell_quantity": row.sell_quantity,
            "sell_price": _num(sell_avg),
            "sell_value": _num(row.sell_value),
            "sell_m2m": _num(row.sell_value),
            "day_buy_quantity": row.buy_quantity,
            "day_buy_price": _num(buy_avg),
            "day_buy_value": _num(row.buy_value),
            "day_sell_quantity": row.sell_quantity,
            "day_sell_price": _num(sell_avg),
            "day_sell_value": _num(row.sell_value),
        }

    def holdings(self, account: SimAccount) -> list[dict[str, Any]]:
        out = []
        for item in account.holdings:
            exchange = str(item.get("exchange", "NSE"))
            symbol = str(item["tradingsymbol"])
            quantity = int(item.get("quantity", 0))
            average = float(item.get("average_price", 0.0))
            inst = self.market.instrument(exchange, symbol)
            last, close = self._ltp_close(f"{exchange}:{symbol}", average)
            change = last - close if close else 0.0
            out.append(
                {
                    "tradingsymbol": symbol,
                    "exchange": exchange,
                    "instrument_token": inst.instrument_token if inst else 0,
                    "isin": str(item.get("isin", "")),
                    "product": "CNC",
                    "price": 0,
                    "quantity": quantity,
                    "used_quantity": 0,
                    "t1_quantity": 0,
                    "realised_quantity": quantity,
                    "authorised_quantity": 0,
                    "authorised_date": ist_str(self._now())[:10] + " 00:00:00",
                    "authorisation": {},
                    "opening_quantity": quantity,
                    "short_quantity": 0,
                    "collateral_quantity": 0,
                    "collateral_type": "",
                    "discrepancy": False,
                    "average_price": _num(average),
                    "last_price": _num(last),
                    "close_price": _num(close),
                    "pnl": (last - average) * quantity,
                    "day_change": change,
                    "day_change_percentage": change * 100 / close if close else 0.0,
                    "mtf": {
                        "quantity": 0,
                        "used_quantity": 0,
                        "average_price": 0,
                        "value": 0,
                        "initial_margin": 0,
                    },
                }
            )
        return out

    # ------------------------------------------------------------------ margins

    @staticmethod
    def _rates(inst: Instrument, product: str) -> tuple[str, float]:
        """(utilised bucket, fraction of value) of a position or order."""
        if inst.exchange in ("NFO", "BFO"):
            if inst.instrument_type == "FUT":
                return "span", 0.12
            return "option", 1.0
        if product == "CNC":
            return "delivery", 1.0
        return "exposure", 0.2

    def _value_margin(
        self, inst: Instrument, product: str, side: int, qty: int, price: float
    ) -> tuple[str, float]:
        bucket, rate = self._rates(inst, product)
        if bucket == "option":
            if side > 0:
                return "option_premium", qty * price
            return "span", qty * (inst.strike or price) * 0.12
        return bucket, qty * price * rate

    def _order_margin(self, book: _Book, order: SimOrder) -> float:
        """Margin a new order needs; 0 when it only reduces an open position."""
        return self._order_bucket(book, order)[1]

    def _order_bucket(self, book: _Book, order: SimOrder) -> tuple[str, float]:
        row = book.positions.get((order.instrument.exchange, order.key, order.product))
        side = 1 if order.transaction_type == "BUY" else -1
        held = row.quantity if row else 0
        if held * side < 0 and order.pending_quantity <= abs(held):
            return "span", 0.0
        price = order.price or order.trigger_price or self.market.last_price(order.key) or 0.0
        return self._value_margin(
            order.instrument, order.product, side, order.pending_quantity, price
        )

    def _margin_summary(self, book: _Book, exclude: str = "") -> dict[str, float]:
        used = {"span": 0.0, "exposure": 0.0, "option_premium": 0.0, "delivery": 0.0}
        realised = unrealised = 0.0
        for (_exchange, key, _product), row in book.positions.items():
            data = self._position_dict(key, row)
            realised += data["realised"]
            unrealised += data["unrealised"]
            qty = row.quantity
            if qty:
                side = 1 if qty > 0 else -1
                price = data["average_price"] or data["last_price"]
                bucket, amount = self._value_margin(
                    row.instrument, row.product, side, abs(qty), price
                )
                used[bucket] += amount
        for order in book.orders.values():
            if order.order_id == exclude or order.status not in (*WORKING, "AMO REQ RECEIVED"):
                continue
            bucket, amount = self._order_bucket(book, order)
            used[bucket] += amount
        debits = sum(used.values())
        cash = book.account.cash
        net = cash - debits + realised + unrealised
        return {
            **used,
            "debits": debits,
            "realised": realised,
            "unrealised": unrealised,
            "net": net,
        }

    def margins(self, account: SimAccount, segment: str | None = None) -> dict[str, Any]:
        summary = self._margin_summary(self.book(account))
        equity = self._segment(
            account.cash,
            summary["net"],
            {
                "debits": summary["debits"],
                "exposure": summary["exposure"],
                "m2m_realised": summary["realised"],
                "m2m_unrealised": summary["unrealised"],
                "option_premium": summary["option_premium"],
                "span": summary["span"],
                "delivery": summary["delivery"],
            },
        )
        commodity = self._segment(account.commodity_cash, account.commodity_cash, {})
        if segment == "equity":
            return equity
        if segment == "commodity":
            return commodity
        if segment is not None:
            raise input_error("Invalid segment. Use `equity` or `commodity`.")
        return {"equity": equity, "commodity": commodity}

    @staticmethod
    def _segment(cash: float, net: float, utilised: dict[str, float]) -> dict[str, Any]:
        names = (
            "debits",
            "exposure",
            "m2m_realised",
            "m2m_unrealised",
            "option_premium",
            "payout",
            "span",
            "holding_sales",
            "turnover",
            "liquid_collateral",
            "stock_collateral",
            "delivery",
        )
        return {
            "enabled": True,
            "net": round(net, 2),
            "available": {
                "adhoc_margin": 0,
                "cash": _num(cash),
                "opening_balance": _num(cash),
                "live_balance": round(net, 2),
                "collateral": 0,
                "intraday_payin": 0,
            },
            "utilised": {name: _num(utilised.get(name, 0.0)) for name in names},
        }
