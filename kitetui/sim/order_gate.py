"""The order gate: Kite's and NSE's checks on the fields of a placement or modification.

A request the gate refuses never becomes an order: Kite answers it with HTTP 400
``InputException`` and nothing enters the order book. The checks are data — two
ordered tables of field checks, ``_PLACEMENT`` and ``_MODIFICATION`` — because the
order they run in decides which of several problems Kite names, and a placement and
a modification share most checks but not their order. Each check reads its form
field over an ``OrderFields`` draft and raises Kite's error or records the value: a
placement's draft starts from Kite's defaults, a modification's from the order as it
stands, so an absent field keeps the order's value.

The rules (``kitetui.sim.rules``, table in docs/exchange-rules.md): lots and the
freeze quantity, SL-M on options, MARKET/SL-M without ``market_protection``, limit
prices and triggers outside the circuit, option limit prices outside NSE's limit
price protection band, tags of 1-20 alphanumerics, equity orders of more than
1,00,000 shares, AMOs during market hours and MARKET AMOs on index options, and
contracts past their expiry day (unknown, as Kite's master of the day no longer lists
them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kitetui.clock import ist_date
from kitetui.market.instruments import Instrument
from kitetui.sim.errors import input_error
from kitetui.sim.market import SimMarket
from kitetui.sim.order_book import SimOrder
from kitetui.sim.rules import (
    MAX_EQUITY_QUANTITY,
    MSG_AMO_HOURS,
    MSG_AMO_INDEX_MARKET,
    MSG_CIRCUIT,
    MSG_MAX_QUANTITY,
    MSG_NO_PROTECTION,
    MSG_SL_M_OPTIONS,
    MSG_TAG_CHARACTERS,
    MSG_TAG_LENGTH,
    SimRules,
    amo_blocked,
    freeze_message,
    is_index_option,
    is_option,
    lpp_band,
    trigger_circuit_message,
)
from kitetui.sim.tape import TradeTape

__all__ = [
    "EXCHANGES",
    "MAX_TAG_LENGTH",
    "ORDER_TYPES",
    "PRODUCTS",
    "VALIDITIES",
    "VARIETIES",
    "OrderFields",
    "OrderGate",
]

VARIETIES = ("regular", "amo")
UNSUPPORTED_VARIETIES = ("co", "iceberg", "auction", "bo")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO")
PRODUCTS = ("MIS", "NRML", "CNC")
UNSUPPORTED_PRODUCTS = ("CO", "BO", "MTF")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
VALIDITIES = ("DAY", "IOC", "TTL")
MAX_TAG_LENGTH = 20
REQUIRED_FIELDS = (
    "exchange",
    "tradingsymbol",
    "transaction_type",
    "quantity",
    "product",
    "order_type",
)
_DERIVATIVE_EXCHANGES = ("NFO", "BFO")

Params = Mapping[str, Any]


@dataclass(slots=True)
class OrderFields:
    """A placement's or modification's fields as the gate has read them so far."""

    variety: str
    instrument: Instrument
    transaction_type: str = ""
    order_type: str = ""
    product: str = ""
    quantity: int = 0
    filled_quantity: int = 0
    price: float = 0.0
    trigger_price: float = 0.0
    validity: str = "DAY"
    validity_ttl: int = 0
    disclosed_quantity: int | None = 0
    market_protection: float = 0.0
    tag: str | None = None

    @classmethod
    def of(cls, order: SimOrder) -> OrderFields:
        """A modification's starting point: the order as it stands; an absent
        ``disclosed_quantity`` stays None (unchanged)."""
        return cls(
            variety=order.variety,
            instrument=order.instrument,
            transaction_type=order.transaction_type,
            order_type=order.order_type,
            product=order.product,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            price=order.price,
            trigger_price=order.trigger_price,
            validity=order.validity,
            validity_ttl=order.validity_ttl,
            disclosed_quantity=None,
            market_protection=order.market_protection,
            tag=order.tag,
        )

    @property
    def buy(self) -> bool:
        return self.transaction_type == "BUY"

    def placement(self) -> dict[str, Any]:
        """The checked fields of a new order, as ``SimOrder`` takes them."""
        market = self.order_type in ("MARKET", "SL-M")
        return {
            "instrument": self.instrument,
            "transaction_type": self.transaction_type,
            "order_type": self.order_type,
            "product": self.product,
            "quantity": self.quantity,
            "price": self.price,
            "trigger_price": self.trigger_price,
            "validity": self.validity,
            "validity_ttl": self.validity_ttl,
            "disclosed_quantity": self.disclosed_quantity or 0,
            "market_protection": (self.market_protection or 0.0) if market else 0,
            "tag": self.tag,
        }


class OrderGate:
    """Kite's field checks (module docstring), over the market's instruments and prices."""

    def __init__(
        self,
        market: SimMarket,
        rules: SimRules,
        tape: TradeTape,
        freeze_limits: Mapping[str, int] | None = None,
    ) -> None:
        """``freeze_limits``: NSE's freeze quantity by underlying (F&O only)."""
        self.market = market
        self.rules = rules
        self.tape = tape
        self.freeze_limits = dict(freeze_limits or {})

    def placement(self, variety: str, params: Params) -> dict[str, Any]:
        """``POST /orders/{variety}``'s fields, checked: ``SimOrder``'s keyword arguments."""
        fields = OrderFields(variety, self._instrument(variety, params))
        for check in _PLACEMENT:
            check(self, fields, params)
        return fields.placement()

    def modification(self, order: SimOrder, params: Params) -> OrderFields:
        """``PUT /orders/{variety}/{order_id}``'s fields over ``order``, checked."""
        fields = OrderFields.of(order)
        for check in _MODIFICATION:
            check(self, fields, params)
        return fields

    def _instrument(self, variety: str, params: Params) -> Instrument:
        """The tradable instrument a placement names, after the variety and the
        required fields."""
        if variety in UNSUPPORTED_VARIETIES:
            raise input_error(f"Variety `{variety}` is not supported by the simulated exchange.")
        if variety not in VARIETIES:
            raise input_error("Invalid `variety`.")
        for name in REQUIRED_FIELDS:
            if not str(params.get(name) or "").strip():
                raise input_error(f"Missing or empty field `{name}`.")
        exchange = str(params["exchange"]).upper()
        if exchange not in EXCHANGES:
            raise input_error("Invalid `exchange`.")
        instrument = self.market.instrument(exchange, str(params["tradingsymbol"]))
        if instrument is None or self._expired(instrument):
            raise input_error("Invalid `tradingsymbol`: instrument not found.")
        if instrument.segment == "INDICES":
            raise input_error("Index instruments cannot be traded.")
        return instrument

    def _expired(self, instrument: Instrument) -> bool:
        """A contract past its expiry day by the market clock: Kite's master of the day
        no longer lists it, so it is as unknown as a name never listed."""
        expiry = instrument.expiry
        return (
            expiry is not None and self.market.now_ns > 0 and expiry < ist_date(self.market.now_ns)
        )

    # ------------------------------------------------------------------ field checks

    def _side(self, fields: OrderFields, params: Params) -> None:
        fields.transaction_type = _choice(params, "transaction_type", ("BUY", "SELL"), "")

    def _order_type(self, fields: OrderFields, params: Params) -> None:
        fields.order_type = _choice(params, "order_type", ORDER_TYPES, fields.order_type)

    def _product(self, fields: OrderFields, params: Params) -> None:
        product = str(params["product"]).upper()
        if product in UNSUPPORTED_PRODUCTS:
            raise input_error(f"Product `{product}` is not supported by the simulated exchange.")
        if product not in PRODUCTS:
            raise input_error("Invalid `product`.")
        derivative = fields.instrument.exchange in _DERIVATIVE_EXCHANGES
        if derivative and product == "CNC":
            raise input_error("CNC is not allowed for F&O instruments; use NRML or MIS.")
        if not derivative and product == "NRML":
            raise input_error("NRML is not allowed for equity; use CNC or MIS.")
        fields.product = product

    def _quantity(self, fields: OrderFields, params: Params) -> None:
        """Whole, above what has filled, in whole lots, within the freeze quantity."""
        quantity = whole(params, "quantity")
        quantity = fields.quantity if quantity is None else quantity
        if quantity <= 0 or quantity <= fields.filled_quantity:
            raise input_error("Invalid `quantity`.")
        self.check_lots(fields.instrument, quantity)
        self.check_size(fields.instrument, quantity)
        fields.quantity = quantity

    def check_lots(self, instrument: Instrument, quantity: int) -> None:
        lot = instrument.lot_size
        if lot > 1 and quantity % lot:
            raise input_error(
                f"Quantity should be a multiple of lot size ({lot}) for {instrument.tradingsymbol}."
            )
        underlying = (instrument.name or instrument.tradingsymbol).upper()
        freeze = self.freeze_limits.get(underlying)
        if freeze and instrument.exchange in _DERIVATIVE_EXCHANGES and quantity > freeze:
            raise input_error(freeze_message(quantity, freeze, lot))

    @staticmethod
    def check_size(instrument: Instrument, quantity: int) -> None:
        """Zerodha blocks equity orders of more than 1,00,000 shares before the order
        book (its "rejected order not displayed" article), so a gate refusal."""
        equity = instrument.exchange not in _DERIVATIVE_EXCHANGES
        if equity and quantity > MAX_EQUITY_QUANTITY:
            raise input_error(MSG_MAX_QUANTITY)

    def check_amo_hours(self, instrument: Instrument) -> None:
        """Refuse an AMO placement, modification or cancellation while Zerodha blocks
        AMOs (9:00/9:10 AM to 3:45 PM IST by the market clock): a gate refusal, as the
        same article's other checks are."""
        if self.rules.amo_hours and amo_blocked(instrument.exchange, self.market.now_ns):
            raise input_error(MSG_AMO_HOURS)

    def _amo(self, fields: OrderFields, params: Params) -> None:
        """An AMO is placed only outside market hours, and never as a MARKET order on an
        index option (the article's "Market order using AMO for Index options")."""
        if fields.variety != "amo":
            return
        self.check_amo_hours(fields.instrument)
        self._amo_market(fields, params)

    def _amo_market(self, fields: OrderFields, _params: Params) -> None:
        index_option = is_index_option(fields.instrument)
        if fields.variety == "amo" and fields.order_type == "MARKET" and index_option:
            raise input_error(MSG_AMO_INDEX_MARKET)

    def _prices(self, fields: OrderFields, params: Params) -> None:
        """The price and trigger the order type needs; the ones it does not use are 0."""
        price = non_negative(params, "price")
        price = fields.price if price is None else price
        trigger = non_negative(params, "trigger_price")
        trigger = fields.trigger_price if trigger is None else trigger
        order_type = fields.order_type
        if order_type in ("LIMIT", "SL") and price <= 0:
            raise input_error("Invalid `price`.")
        if order_type in ("SL", "SL-M") and trigger <= 0:
            raise input_error("Invalid `trigger_price`.")
        fields.price = 0.0 if order_type in ("MARKET", "SL-M") else price
        fields.trigger_price = 0.0 if order_type in ("MARKET", "LIMIT") else trigger

    def _protection(self, fields: OrderFields, params: Params) -> None:
        """``market_protection`` if given; a modification carries the order's own."""
        value = protection(params)
        if value is not None:
            fields.market_protection = value

    def _type_allowed(self, fields: OrderFields, _params: Params) -> None:
        """Refuse the order types Kite refuses at its gate (docs/exchange-rules.md)."""
        order_type = fields.order_type
        if order_type == "SL-M" and self.rules.sl_m_options and is_option(fields.instrument):
            raise input_error(MSG_SL_M_OPTIONS)
        required = self.rules.require_market_protection
        if order_type in ("MARKET", "SL-M") and required and fields.market_protection == 0:
            raise input_error(MSG_NO_PROTECTION)

    def _within_circuit(self, fields: OrderFields, _params: Params) -> None:
        """Refuse a limit price or trigger outside the day's circuit (Kite's texts)."""
        state = self.market.state_for_key(fields.instrument.key)
        if not self.rules.circuit_limits or state is None or not state.has_data:
            return
        lower, upper = state.circuit_limits()
        if upper <= 0:
            return
        order_type = fields.order_type
        if order_type in ("LIMIT", "SL") and not lower <= fields.price <= upper:
            raise input_error(MSG_CIRCUIT)
        if order_type in ("SL", "SL-M") and not lower <= fields.trigger_price <= upper:
            raise input_error(trigger_circuit_message(fields.buy, upper if fields.buy else lower))

    def _within_lpp(self, fields: OrderFields, _params: Params) -> None:
        """Refuse an option's limit price outside NSE's limit price protection band; a
        live reference is needed, so not for AMO. Kite answers with the circuit text."""
        if not self.rules.lpp or fields.order_type != "LIMIT" or fields.variety == "amo":
            return
        state = self.market.state_for_key(fields.instrument.key)
        if state is None or not state.has_data or not is_option(fields.instrument):
            return
        reference = self.tape.reference(fields.instrument.key)
        if reference is None:
            return
        low, high = lpp_band(reference)
        if (fields.buy and fields.price > high) or (not fields.buy and fields.price < low):
            raise input_error(MSG_CIRCUIT)

    def _validity(self, fields: OrderFields, params: Params) -> None:
        fields.validity = _choice(params, "validity", VALIDITIES, fields.validity)

    def _ttl(self, fields: OrderFields, params: Params) -> None:
        """A TTL order's lifetime in minutes; 0 for other validities."""
        ttl = whole(params, "validity_ttl") or 0
        if fields.validity == "TTL" and ttl <= 0:
            raise input_error("Invalid `validity_ttl`.")
        fields.validity_ttl = ttl if fields.validity == "TTL" else 0

    def _disclosed(self, fields: OrderFields, params: Params) -> None:
        disclosed = whole(params, "disclosed_quantity") or 0
        if disclosed < 0 or disclosed > fields.quantity:
            raise input_error("Invalid `disclosed_quantity`.")
        fields.disclosed_quantity = disclosed

    def _disclosed_change(self, fields: OrderFields, params: Params) -> None:
        """A modification changes ``disclosed_quantity`` only when it sends one."""
        fields.disclosed_quantity = whole(params, "disclosed_quantity")

    def _tag(self, fields: OrderFields, params: Params) -> None:
        tag = params.get("tag")
        tag = str(tag) if tag not in (None, "") else None
        if tag is not None and len(tag) > MAX_TAG_LENGTH:
            raise input_error(MSG_TAG_LENGTH)
        if tag is not None and self.rules.tag_alphanumeric and not _alphanumeric(tag):
            raise input_error(MSG_TAG_CHARACTERS)
        fields.tag = tag


Check = Callable[[OrderGate, OrderFields, Params], None]

# The order is Kite's: the first failing check names the problem.
_PLACEMENT: tuple[Check, ...] = (
    OrderGate._side,
    OrderGate._order_type,
    OrderGate._amo,
    OrderGate._product,
    OrderGate._quantity,
    OrderGate._prices,
    OrderGate._protection,
    OrderGate._type_allowed,
    OrderGate._within_circuit,
    OrderGate._within_lpp,
    OrderGate._validity,
    OrderGate._ttl,
    OrderGate._disclosed,
    OrderGate._tag,
)
_MODIFICATION: tuple[Check, ...] = (
    OrderGate._order_type,
    OrderGate._amo_market,
    OrderGate._quantity,
    OrderGate._prices,
    OrderGate._validity,
    OrderGate._disclosed_change,
    OrderGate._protection,
    OrderGate._type_allowed,
    OrderGate._within_circuit,
    OrderGate._within_lpp,
)


# ---------------------------------------------------------------------- form values


def _alphanumeric(text: str) -> bool:
    return text.isascii() and text.isalnum()


def _choice(params: Params, name: str, allowed: tuple[str, ...], default: str) -> str:
    """The field, upper-cased, if it is one of ``allowed`` (``default`` when absent)."""
    value = str(params.get(name) or default).upper()
    if value not in allowed:
        raise input_error(f"Invalid `{name}`.")
    return value


def number(params: Params, name: str) -> float | None:
    """The form field ``name`` as a finite float; None when absent or empty.

    Kite answers every malformed number with the same ``Invalid `name`.``
    InputException; this is the parsing ``whole`` and ``non_negative`` share before
    their own check.
    """
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        raise input_error(f"Invalid `{name}`.") from None
    if not math.isfinite(parsed):
        raise input_error(f"Invalid `{name}`.")
    return parsed


def whole(params: Params, name: str) -> int | None:
    """A whole-number field (a quantity); None when absent."""
    parsed = number(params, name)
    if parsed is None:
        return None
    if not parsed.is_integer():
        raise input_error(f"Invalid `{name}`.")
    return int(parsed)


def non_negative(params: Params, name: str) -> float | None:
    """A price field; None when absent."""
    parsed = number(params, name)
    if parsed is not None and parsed < 0:
        raise input_error(f"Invalid `{name}`.")
    return parsed


def protection(params: Params) -> float | None:
    """``market_protection`` as Kite takes it: a decimal, -1 (automatic) or a
    percentage in (0, 100]; 0 means none. None when absent."""
    value = params.get("market_protection")
    if value in (None, ""):
        return None
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        raise input_error(
            f"Invalid request (failed to decode market_protection, got: {value} (expected decimal))"
        ) from None
    if not math.isfinite(parsed) or not (parsed == -1 or 0 <= parsed <= 100):
        raise input_error("Invalid `market_protection`.")
    return parsed
