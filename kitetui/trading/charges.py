"""What an order costs beyond its price: Zerodha's brokerage and India's levies, as Kite bills them.

Every rupee kitetui showed before this module was gross. A Zerodha order pays brokerage,
STT (CTT on commodities), the exchange's transaction charge with NSE's IPFT levy, SEBI's
turnover fee, stamp duty on the buy side and 18 % GST, and for a small intraday strategy
these add up to most of the edge. The rates change by law, circular and tariff, so they
live in a dated data file (``kitetui/data/charges/rates.yaml``, each figure with its
source) and the calculator picks the row in force on the fill's trade date.

How Kite computes, as its own virtual-contract-note mock shows (``POST /charges/orders``,
``kiteconnect-mocks`` ``virtual_contract_note.json``):

* Everything is per ORDER, on the order's turnover (price × quantity; the premium for
  options). Brokerage is ``min(₹20, 0.03 % of turnover)`` for intraday equity, futures and
  commodity futures, a flat ₹20 per executed order for options, zero for delivery.
* Nothing is rounded: the mock carries 0.00056 of SEBI fee and 0.0033768 of GST. So the
  figures here are exact ``Decimal`` rupees, not paise. Rounding to paise happens once,
  on an order's cumulative total (``OrderCharges.total_paise``).
* GST is 18 % of brokerage + exchange transaction charge + SEBI fee, where the exchange
  charge is taken WITHOUT its IPFT part; Kite's ``exchange_turnover_charge`` does include
  IPFT (the NIFTY option in the mock: 0.07575 = 0.075 + 0.00075 IPFT, GST = 0.18 ×
  (20 + 0.075 + 0.00015) = 3.613527). ``Charges`` therefore keeps ``exchange`` and
  ``ipft`` apart; ``contract_note`` adds them for Kite's shape.

Partial fills: a fill's charges are the order's charges after the fill minus the order's
charges before it (``ChargeCalculator.fill``). That keeps the per-order ₹20 cap and the
flat option brokerage right however an order is split, and the per-fill figures sum
exactly to the order's. They never go negative: every component is non-decreasing in
turnover. (A CNC order has a second, intraday line for the part of it squared off the
same day: ``OrderCharges.intraday_rates`` and ``kitetui.trading.same_day``, where the
correction of an earlier order, made by a later fill, can be negative.)

A contract held into its expiry is settled by the exchange, not traded: its closing
fill (``kitetui.supervisor.expiry``) is priced as what the settlement is
(``OrderSpec.settlement``, ``SettlementKind``): a long option exercised pays STT on
exercise on its intrinsic value (the table's ``stt_on_exercise``) instead of the sale's
STT on premium; a short one assigned pays none; an option that lapses worthless pays
nothing at all; a future cash-settled is charged as a trade at the settlement price
(docs/charges.md, "Held into expiry", says from which sources and where they are silent).

The hot path (a fill) does no file I/O and no table look-up: ``open_order`` resolves the
order's rates once (cached per trade date, class, exchange and underlying; the fill
charger keeps the opened state of an order of ours per symbol, side and IST day,
``FillCharger._open_trade``) and each fill is a handful of exact ``Decimal``
multiplications.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kitetui.domain import Fill, Product, Side
from kitetui.drafts import built_in_draft, maker
from kitetui.money import (
    _ADD,
    _HUNDRED,
    _MULTIPLY,
    EXACT,
    NO_CHARGES,
    ZERO,
    Charges,
    FillCost,
    to_paise,
)

if TYPE_CHECKING:
    from kitetui.market.instruments import Instrument

__all__ = [
    "DEFAULT_RATES",
    "EXACT",
    "ChargeCalculator",
    "ChargeClass",
    "ChargeError",
    "ChargeTable",
    "ChargeTableError",
    "Charges",
    "FillCharges",
    "FillCost",
    "OrderCharges",
    "OrderSpec",
    "SegmentKind",
    "SegmentRates",
    "SettlementKind",
    "charge_class",
    "default_calculator",
    "exact_price",
    "segment_kind",
    "venue",
]

DEFAULT_RATES = Path(__file__).resolve().parent.parent / "data" / "charges" / "rates.yaml"


class ChargeTableError(Exception):
    """The rate file cannot be used; the message names the file, the row and the reason."""


class ChargeError(Exception):
    """An order the table cannot price (unknown segment, or a date it does not cover)."""


class SegmentKind(StrEnum):
    """What was traded, from Kite's instrument ``segment``."""

    EQUITY = "equity"
    FUTURES = "futures"
    OPTIONS = "options"
    COMMODITY_FUTURES = "commodity_futures"


class ChargeClass(StrEnum):
    """The tariff line an order falls under: the segment, and for cash equity the product."""

    EQUITY_INTRADAY = "equity_intraday"
    EQUITY_DELIVERY = "equity_delivery"
    FUTURES = "futures"
    OPTIONS = "options"
    COMMODITY_FUTURES = "commodity_futures"


class SettlementKind(StrEnum):
    """How the exchange ended a contract held into its expiry, which decides what its
    closing fill is charged (``ChargeCalculator.open_order``)."""

    EXERCISE = "exercise"  # a long option in the money: STT on exercise, intrinsic value
    ASSIGNMENT = "assignment"  # a short option in the money: no STT (the buyer pays it)
    LAPSE = "lapse"  # an option out of the money: no trade, no charges
    FUTURE = "future"  # a future cash-settled at the final settlement price: a trade


_SEGMENTS: Mapping[str, SegmentKind] = {
    "NSE": SegmentKind.EQUITY,
    "BSE": SegmentKind.EQUITY,
    "NFO-FUT": SegmentKind.FUTURES,
    "BFO-FUT": SegmentKind.FUTURES,
    "NFO-OPT": SegmentKind.OPTIONS,
    "BFO-OPT": SegmentKind.OPTIONS,
    "MCX-FUT": SegmentKind.COMMODITY_FUTURES,
}
# Kite's order/instrument exchange -> the exchange whose levies apply.
_VENUES: Mapping[str, str] = {"NSE": "NSE", "NFO": "NSE", "BSE": "BSE", "BFO": "BSE", "MCX": "MCX"}
_CLASS_VENUES: Mapping[ChargeClass, tuple[str, ...]] = {
    ChargeClass.EQUITY_INTRADAY: ("NSE", "BSE"),
    ChargeClass.EQUITY_DELIVERY: ("NSE", "BSE"),
    ChargeClass.FUTURES: ("NSE", "BSE"),
    ChargeClass.OPTIONS: ("NSE", "BSE"),
    ChargeClass.COMMODITY_FUTURES: ("MCX",),
}
_SIDE_WORDS: Mapping[str, Side] = {"buy": Side.BUY, "sell": Side.SELL}
# Read on every order's charges, bound once (why: ``kitetui/domain.py``, "Bound members").
_EQUITY, _MIS, _CNC = SegmentKind.EQUITY, Product.MIS, Product.CNC
_INTRADAY, _DELIVERY = ChargeClass.EQUITY_INTRADAY, ChargeClass.EQUITY_DELIVERY


def segment_kind(segment: str) -> SegmentKind:
    """``"NFO-OPT"`` -> OPTIONS. Kite's ``Instrument.segment``; indices and currency refuse."""
    kind = _SEGMENTS.get(segment.strip().upper())
    if kind is None:
        raise ChargeError(f"no charges are known for Kite segment {segment!r}")
    return kind


def venue(exchange: str) -> str:
    """The exchange whose levies apply: ``"NFO"`` -> ``"NSE"``, ``"BFO"`` -> ``"BSE"``."""
    name = _VENUES.get(exchange.strip().upper())
    if name is None:
        raise ChargeError(f"no charges are known for exchange {exchange!r}")
    return name


def charge_class(kind: SegmentKind, product: Product) -> ChargeClass:
    """Cash equity splits by product (MIS intraday, CNC delivery); derivatives do not."""
    if kind is _EQUITY:
        if product is _MIS:
            return _INTRADAY
        if product is _CNC:
            return _DELIVERY
        raise ChargeError(f"cash equity takes product MIS or CNC, not {product}")
    return ChargeClass(kind.value)


# --------------------------------------------------------------------------- values


@built_in_draft
@dataclass(frozen=True, slots=True)
class SegmentRates:
    """The rates one order pays, as fractions of turnover (0.0003 = 0.03 %), resolved once."""

    brokerage_fraction: Decimal
    brokerage_cap: Decimal | None  # None with brokerage_flat set
    brokerage_flat: Decimal | None  # per executed order, whatever the turnover
    stt: Decimal
    exchange: Decimal
    ipft: Decimal
    sebi: Decimal
    stamp: Decimal
    gst: Decimal
    tax_type: str  # "stt" or "ctt", as Kite labels transaction_tax
    square_off_fee: Decimal = ZERO  # per executed order the broker squared off

    def charges(self, turnover: Decimal, executed: bool, squared_off: int = 0) -> Charges:
        """An order's charges on its cumulative ``turnover``; ``executed`` = has a fill;
        ``squared_off`` = how many of the broker's square-off orders it stands for (the
        fee of each comes on top of the brokerage, and in GST's base with it)."""
        # ``EXACT``'s own operations (``_MULTIPLY``, ``_ADD``): the arithmetic of
        # ``localcontext(EXACT)``, the same digits and traps, without entering and
        # leaving a context on every fill.
        mul, add = _MULTIPLY, _ADD
        if self.brokerage_flat is not None:
            brokerage = self.brokerage_flat if executed else ZERO
        else:
            brokerage = mul(self.brokerage_fraction, turnover)
            if self.brokerage_cap is not None and brokerage > self.brokerage_cap:
                brokerage = self.brokerage_cap
        if squared_off and executed:
            brokerage = add(brokerage, mul(self.square_off_fee, squared_off))
        exchange = mul(self.exchange, turnover)
        sebi = mul(self.sebi, turnover)
        return _new_charges(
            brokerage,
            mul(self.stt, turnover),
            exchange,
            mul(self.ipft, turnover),
            sebi,
            mul(self.stamp, turnover),
            mul(self.gst, add(add(brokerage, exchange), sebi)),
            ZERO,  # dp: never an order's (``Charges``)
        )


@built_in_draft
@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What an order's charges depend on besides its fills.

    ``exchange`` is Kite's exchange of the instrument (NSE, BSE, NFO, BFO, MCX).
    ``underlying`` matters for BSE options (Sensex/Bankex pay more than Sensex 50 and
    stock options). ``multiplier`` turns price × quantity into turnover where Kite's
    quantity is in lots (MCX); it is 1 for NSE/BSE, where quantity is in units.
    """

    segment: SegmentKind
    exchange: str
    product: Product
    side: Side
    trade_date: date
    underlying: str = ""
    multiplier: int = 1
    # The broker's own square-off orders this order stands for (``square_off_fee`` each;
    # 0: an order of ours): one, or as many as the RMS would split it into.
    squared_off: int = 0
    # The exchange's settlement of a contract held into its expiry (None: a trade).
    settlement: SettlementKind | None = None

    @classmethod
    def for_instrument(
        cls,
        instrument: Instrument,
        product: Product,
        side: Side,
        trade_date: date,
        multiplier: int = 1,
    ) -> OrderSpec:
        """From a ``kitetui.market.instruments.Instrument`` (its segment, exchange, name)."""
        return cls(
            segment=segment_kind(instrument.segment),
            exchange=instrument.exchange,
            product=product,
            side=side,
            trade_date=trade_date,
            underlying=(instrument.name or "").upper(),
            multiplier=multiplier,
        )


@built_in_draft
@dataclass(frozen=True, slots=True)
class OrderCharges:
    """An order's cumulative state for charging: what has filled, and what that cost.

    The charges are not stored: they are a function of the rates and the turnover, and
    the trader keeps this state for every order of a run (24,406 in a year of 20
    symbols: ~20 MB of ``Decimal`` held for nothing). A fill computes them again.

    A CNC order carries a second tariff line, ``intraday_rates``: the part of it squared
    off the same day (``intraday_quantity`` units, ``intraday_turnover`` of its
    turnover; ``kitetui.trading.same_day``) is billed as intraday equity, the rest as
    delivery, as Zerodha's contract note bills a partial square-off. Every other order
    has ``intraday_rates`` None and one line. A CNC order also carries ``dp``, the DP
    charge (GST in it) of its trade date: not one of the order's charges (it is not on
    the contract note) but the amount its fills book or hand back when they change
    whether its scrip has a delivery sale that day (``same_day``).
    """

    spec: OrderSpec
    rates: SegmentRates
    quantity: int = 0
    turnover: Decimal = ZERO
    intraday_rates: SegmentRates | None = None
    intraday_quantity: int = 0
    intraday_turnover: Decimal = ZERO
    dp: Decimal = ZERO

    @property
    def charges(self) -> Charges:
        if not self.quantity:
            return NO_CHARGES
        if self.intraday_quantity:
            return self._split(self.quantity, self.turnover)
        return self.rates.charges(self.turnover, executed=True, squared_off=self.spec.squared_off)

    def _split(self, quantity: int, turnover: Decimal) -> Charges:
        """The charges with ``intraday_quantity`` of ``quantity`` (``intraday_turnover``
        of ``turnover``) on the intraday line: brokerage's cap applies to that part
        alone, once for the order; exchange, IPFT and SEBI rates are the same on both
        lines, so the split leaves them as they were."""
        assert self.intraday_rates is not None
        with localcontext(EXACT):
            delivery = self.rates.charges(
                turnover - self.intraday_turnover,
                executed=quantity > self.intraday_quantity,
                squared_off=self.spec.squared_off,
            )
        return delivery + self.intraday_rates.charges(self.intraday_turnover, executed=True)

    def squared_same_day(self, quantity: int, turnover: Decimal) -> OrderCharges:
        """This order with ``quantity`` more of its filled units (``turnover`` of its
        turnover) squared off the same day: moved from the delivery line to intraday."""
        if self.intraday_rates is None:
            raise ChargeError(f"only a CNC order has a same-day line, not {self.spec.product}")
        with localcontext(EXACT):
            intraday_turnover = self.intraday_turnover + turnover
        if self.intraday_quantity + quantity > self.quantity or intraday_turnover > self.turnover:
            raise ChargeError(
                f"cannot square off {quantity} more of an order that filled {self.quantity} "
                f"({self.intraday_quantity} already squared off)"
            )
        return replace(
            self,
            intraday_quantity=self.intraday_quantity + quantity,
            intraday_turnover=intraday_turnover,
        )

    @property
    def total_paise(self) -> int:
        return self.charges.total_paise


@built_in_draft
@dataclass(frozen=True, slots=True)
class FillCharges:
    """One fill's share of its order's charges, and the order's state after the fill.

    ``paise`` is the order's total in paise after the fill minus before it, so the
    fills of an order sum exactly to the order's rounded total (for a paise ledger).
    """

    charges: Charges
    paise: int
    order: OrderCharges


# The records every fill builds, made by ``drafts.maker`` (every field, in field order):
# one frame and one class assignment each instead of ``__init__``'s call and two.
_new_charges = maker(Charges)
_new_order_charges = maker(OrderCharges)
_new_fill_charges = maker(FillCharges)


# An option that lapses worthless: no order at the exchange, so nothing is charged.
_NOTHING = SegmentRates(
    brokerage_fraction=ZERO,
    brokerage_cap=None,
    brokerage_flat=ZERO,
    stt=ZERO,
    exchange=ZERO,
    ipft=ZERO,
    sebi=ZERO,
    stamp=ZERO,
    gst=ZERO,
    tax_type="stt",
)


# --------------------------------------------------------------------------- the table


_CHARGE_NAMES = ("brokerage", "stt", "exchange", "ipft", "sebi", "stamp", "gst", "square_off_fee")
# Rates only a settlement reads (``ChargeTable.exercise_stt``): options rows only, so
# they are not resolved with every order's rates.
_SETTLEMENT_NAMES = ("stt_on_exercise",)
# The depository's charge on a scrip's day of delivery sales (``ChargeTable.dp``): not
# an order's rate, resolved once with a CNC order for the same-day netting to book.
_DEPOSITORY_NAMES = ("dp",)
_TABLE_NAMES = _CHARGE_NAMES + _SETTLEMENT_NAMES + _DEPOSITORY_NAMES
# An amount, no percent: per order (square_off_fee), per scrip and day (dp).
_FLAT_ONLY = frozenset({"square_off_fee", "dp"})
_ROW_KEYS = frozenset(
    {"classes", "exchanges", "sides", "underlyings", "from", "sources", "note"}
    | {"percent", "cap", "flat"}
)


@dataclass(frozen=True, slots=True)
class _Value:
    """One row's figure: a fraction of turnover, with brokerage's cap or flat amount."""

    fraction: Decimal
    cap: Decimal | None = None
    flat: Decimal | None = None


_Key = tuple[str, ChargeClass, str, Side, str]  # charge, class, venue, side, underlying


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with a repeated key (YAML would keep the last)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


class _FastUniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``_UniqueKeyLoader`` on libyaml's parser (PyYAML built without it: the same class).

    Every desk start reads the bundled table: ~40 ms of CPU in PyYAML's pure-Python
    parser, ~6 ms in libyaml's, and a crash test restarts the desk a hundred times. The
    constructor and resolver are SafeLoader's either way; only the bundled file is read
    with it, and a test holds it to the data ``_UniqueKeyLoader`` reads from that file.
    """


_FastUniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


class ChargeTable:
    """The dated rate table. ``rates(...)`` answers which rates apply to an order's day.

    Rows are expanded at load into one history per (charge, class, exchange, side,
    underlying), sorted by date; a look-up takes the last row on or before the trade
    date. Resolved ``SegmentRates`` are cached, so each (day, class, exchange, side,
    underlying) is resolved once while it is in use: the cache is emptied when it
    reaches ``CACHE_SIZE`` (a year's backtest resolves thousands, a few a day; one
    resolved again is the same rates, only a little later).
    """

    CACHE_SIZE = 1024

    def __init__(self, histories: Mapping[_Key, list[tuple[date, _Value]]], origin: str) -> None:
        self._histories = dict(histories)
        self.origin = origin
        # The underlyings some row names (BSE's index options): any other is priced by
        # the general rows (``_value`` falls back to them), so its rates are those of
        # no underlying at all, resolved and cached once for every such instrument.
        self._underlyings = frozenset(key[4] for key in self._histories if key[4])
        self._cache: dict[tuple[date, ChargeClass, str, Side, str], SegmentRates] = {}

    @classmethod
    def load(cls, path: Path | str | None = None) -> ChargeTable:
        """Read and validate a rate file; the default is the bundled one."""
        file = Path(path) if path is not None else DEFAULT_RATES
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ChargeTableError(f"{file}: cannot read the rate file ({exc})") from exc
        try:
            data = _read_yaml(text, bundled=file == DEFAULT_RATES)
        except yaml.YAMLError as exc:
            raise ChargeTableError(f"{file}: not valid YAML ({_one_line(exc)})") from exc
        return cls(_parse(data, str(file)), str(file))

    def first_date(self) -> date:
        """The earliest trade date any rate covers."""
        return min(history[0][0] for history in self._histories.values())

    def rates(
        self,
        trade_date: date,
        kind: ChargeClass,
        exchange: str,
        side: Side,
        underlying: str = "",
    ) -> SegmentRates:
        """The rates for one order; raises ``ChargeError`` naming a gap in the table."""
        place = venue(exchange)
        if underlying and underlying.upper() not in self._underlyings:
            # no row names it: the general rows' rates, under their own key (a stock's
            # orders were resolved and cached per stock, a day's every stock and side)
            underlying = ""
        cache_key = (trade_date, kind, place, side, underlying)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        if place not in _CLASS_VENUES[kind]:
            raise ChargeError(f"{kind} is not traded on {place}")
        values = {
            name: self._value(name, trade_date, kind, place, side, underlying)
            for name in _CHARGE_NAMES
        }
        brokerage = values["brokerage"]
        resolved = SegmentRates(
            brokerage_fraction=brokerage.fraction,
            brokerage_cap=brokerage.cap,
            brokerage_flat=brokerage.flat,
            stt=values["stt"].fraction,
            exchange=values["exchange"].fraction,
            ipft=values["ipft"].fraction,
            sebi=values["sebi"].fraction,
            stamp=values["stamp"].fraction,
            gst=values["gst"].fraction,
            tax_type="ctt" if kind is ChargeClass.COMMODITY_FUTURES else "stt",
            square_off_fee=values["square_off_fee"].flat or ZERO,
        )
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[cache_key] = resolved
        return resolved

    def exercise_stt(
        self, trade_date: date, exchange: str, side: Side, underlying: str = ""
    ) -> Decimal:
        """STT on an option's exercise, as a fraction of its intrinsic value, for the
        settlement's closing ``side``: SELL a long exercised (the buyer pays it), BUY a
        short assigned; raises ``ChargeError`` naming a gap in the table."""
        value = self._value(
            "stt_on_exercise", trade_date, ChargeClass.OPTIONS, venue(exchange), side, underlying
        )
        return value.fraction

    def dp(self, trade_date: date, exchange: str) -> Decimal:
        """The DP charge with its GST, rupees, for one scrip's day of delivery sales from
        the demat account (the ``dp`` row's flat amount, on the equity-delivery sell's GST
        rate): what ``kitetui.trading.same_day`` books once per scrip and IST day. Raises
        ``ChargeError`` naming a gap in the table."""
        place = venue(exchange)
        kind = ChargeClass.EQUITY_DELIVERY
        flat = self._value("dp", trade_date, kind, place, Side.SELL, "").flat or ZERO
        gst = self._value("gst", trade_date, kind, place, Side.SELL, "").fraction
        with localcontext(EXACT):
            return flat + flat * gst

    def _value(
        self, name: str, day: date, kind: ChargeClass, place: str, side: Side, underlying: str
    ) -> _Value:
        history = None
        if underlying:
            history = self._histories.get((name, kind, place, side, underlying.upper()))
            if history is not None and history[0][0] > day:
                history = None  # the specific row starts later: fall back to the general one
        if history is None:
            history = self._histories.get((name, kind, place, side, ""))
        if not history or history[0][0] > day:
            start = f" (its first row is {history[0][0]})" if history else ""
            raise ChargeError(
                f"{self.origin}: no {name} rate for {kind} {side.value.lower()} on {place} "
                f"on {day}{start}"
            )
        found = history[0][1]
        for start_day, value in history:
            if start_day > day:
                break
            found = value
        return found


def _read_yaml(text: str, *, bundled: bool) -> Any:
    """The rate file's data. The bundled file (every desk start reads it) is read by
    libyaml, which a test holds to the very data the pure-Python loader reads from it;
    any other file, and any text libyaml refuses, by the pure-Python loader, so that what
    a user's file means and a refusal's message (its line, shown) are what they were."""
    if bundled:
        try:
            return yaml.load(text, Loader=_FastUniqueKeyLoader)  # SafeLoader's constructor
        except yaml.YAMLError:
            pass  # read again below: the refusal is the pure-Python loader's own
    return yaml.load(text, Loader=_UniqueKeyLoader)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _parse(data: object, origin: str) -> dict[_Key, list[tuple[date, _Value]]]:
    if not isinstance(data, dict):
        raise ChargeTableError(f"{origin}: expected a mapping with 'version', 'sources', 'charges'")
    unknown = set(data) - {"version", "sources", "charges"}
    if unknown:
        raise ChargeTableError(f"{origin}: unknown top-level key(s) {sorted(unknown)}")
    if data.get("version") != 1:
        raise ChargeTableError(f"{origin}: version must be 1, not {data.get('version')!r}")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise ChargeTableError(f"{origin}: 'sources' must map ids to {{url, title}}")
    for source_id, source in sources.items():
        if not isinstance(source, dict) or not source.get("url") or not source.get("title"):
            raise ChargeTableError(f"{origin}: sources.{source_id}: needs a url and a title")
    charges = data.get("charges")
    if not isinstance(charges, dict):
        raise ChargeTableError(f"{origin}: 'charges' must map charge names to lists of rows")
    unknown = set(charges) - set(_TABLE_NAMES)
    if unknown:
        raise ChargeTableError(f"{origin}: charges: unknown charge(s) {sorted(unknown)}")
    histories: dict[_Key, list[tuple[date, _Value]]] = {}
    for name in _TABLE_NAMES:
        rows = charges.get(name)
        if not isinstance(rows, list) or not rows:
            raise ChargeTableError(f"{origin}: charges.{name}: missing (a list of rows)")
        for index, row in enumerate(rows):
            where = f"{origin}: charges.{name}[{index}]"
            start, value, keys = _parse_row(name, row, sources, where)
            for key in keys:
                history = histories.setdefault(key, [])
                if any(existing == start for existing, _ in history):
                    raise ChargeTableError(
                        f"{where}: a second {key[0]} row for {key[1]} {key[3].value.lower()} "
                        f"on {key[2]} from {start}"
                    )
                history.append((start, value))
    for history in histories.values():
        history.sort(key=lambda item: item[0])
    return histories


def _parse_row(
    name: str, row: object, sources: Mapping[str, Any], where: str
) -> tuple[date, _Value, list[_Key]]:
    if not isinstance(row, dict):
        raise ChargeTableError(f"{where}: a row must be a mapping")
    unknown = set(row) - _ROW_KEYS
    if unknown:
        raise ChargeTableError(f"{where}: unknown key(s) {sorted(unknown)}")
    start = row.get("from")
    if not isinstance(start, date):
        raise ChargeTableError(f"{where}: 'from' must be a date (YYYY-MM-DD), not {start!r}")
    cited = row.get("sources")
    if not isinstance(cited, list) or not cited:
        raise ChargeTableError(f"{where}: 'sources' must list at least one source id")
    for source_id in cited:
        if source_id not in sources:
            raise ChargeTableError(f"{where}: unknown source {source_id!r}")
    classes = [_enum(ChargeClass, item, "class", where) for item in _list(row, "classes", where)]
    sides = [_side(item, where) for item in _list(row, "sides", where, ["buy", "sell"])]
    underlyings = [str(u).upper() for u in _list(row, "underlyings", where, [""])]
    value = _parse_value(name, row, where)
    keys: list[_Key] = []
    for kind in classes:
        allowed = _CLASS_VENUES[kind]
        exchanges = _list(row, "exchanges", where, list(allowed))
        for place in exchanges:
            if place not in allowed:
                raise ChargeTableError(f"{where}: {kind} is not traded on {place!r}")
            for side in sides:
                for underlying in underlyings:
                    keys.append((name, kind, place, side, underlying))
    return start, value, keys


def _parse_value(name: str, row: Mapping[str, Any], where: str) -> _Value:
    if name == "brokerage":
        if "flat" in row:
            if "percent" in row or "cap" in row:
                raise ChargeTableError(f"{where}: brokerage is either 'flat' or 'percent'+'cap'")
            return _Value(fraction=ZERO, flat=_amount(row["flat"], "flat", where))
        if "percent" not in row or "cap" not in row:
            raise ChargeTableError(f"{where}: brokerage needs 'flat', or 'percent' and 'cap'")
        return _Value(
            fraction=_amount(row["percent"], "percent", where) / _HUNDRED,
            cap=_amount(row["cap"], "cap", where),
        )
    if name in _FLAT_ONLY:
        if "flat" not in row or "percent" in row or "cap" in row:
            raise ChargeTableError(f"{where}: {name} is a 'flat' amount per order")
        return _Value(fraction=ZERO, flat=_amount(row["flat"], "flat", where))
    if "flat" in row or "cap" in row:
        raise ChargeTableError(f"{where}: only brokerage rows take 'flat' or 'cap'")
    if "percent" not in row:
        raise ChargeTableError(f"{where}: missing 'percent'")
    return _Value(fraction=_amount(row["percent"], "percent", where) / _HUNDRED)


def _amount(raw: object, key: str, where: str) -> Decimal:
    if not isinstance(raw, str):
        raise ChargeTableError(
            f"{where}: '{key}' must be a quoted decimal string so it stays exact, not {raw!r}"
        )
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ChargeTableError(f"{where}: '{key}' {raw!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise ChargeTableError(f"{where}: '{key}' {raw!r} must be a finite amount >= 0")
    if value.as_tuple().exponent > 0:  # type: ignore[operator]  (finite: an int)
        # (an order's first fill is charged on this: ``ChargeCalculator.fill``)
        raise ChargeTableError(
            f"{where}: '{key}' {raw!r}: write the amount out, without an exponent"
        )
    return value


def _list(row: Mapping[str, Any], key: str, where: str, default: list[Any] | None = None) -> list:
    if key not in row:
        if default is None:
            raise ChargeTableError(f"{where}: missing '{key}'")
        return default
    items = row[key]
    if not isinstance(items, list) or not items:
        raise ChargeTableError(f"{where}: '{key}' must be a non-empty list")
    return items


def _enum(kind: type[ChargeClass], raw: object, what: str, where: str) -> ChargeClass:
    try:
        return kind(str(raw))
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ChargeTableError(f"{where}: unknown {what} {raw!r} (one of {choices})") from None


def _side(raw: object, where: str) -> Side:
    side = _SIDE_WORDS.get(str(raw).lower())
    if side is None:
        raise ChargeTableError(f"{where}: unknown side {raw!r} (buy or sell)")
    return side


# --------------------------------------------------------------------------- the calculator


class ChargeCalculator:
    """Prices orders and fills from a ``ChargeTable``.

    ``open_order`` resolves an order's rates once; ``fill`` then costs a fill as the
    difference it makes to its order's charges. ``for_order`` prices a whole order from
    its fills in one call (the contract note, a backtest report).
    """

    def __init__(self, table: ChargeTable | None = None) -> None:
        self.table = table if table is not None else ChargeTable.load()

    def open_order(self, spec: OrderSpec) -> OrderCharges:
        """An order with nothing filled yet; raises ``ChargeError`` if it cannot be priced."""
        if spec.multiplier < 1:
            raise ChargeError(f"turnover multiplier must be >= 1, not {spec.multiplier}")
        kind = charge_class(spec.segment, spec.product)
        rates = self.table.rates(spec.trade_date, kind, spec.exchange, spec.side, spec.underlying)
        if spec.settlement is not None:
            return OrderCharges(spec=spec, rates=self._settlement_rates(spec, kind, rates))
        if kind is not _DELIVERY:
            return OrderCharges(spec=spec, rates=rates)
        intraday = self.table.rates(
            spec.trade_date, ChargeClass.EQUITY_INTRADAY, spec.exchange, spec.side, spec.underlying
        )
        dp = self.table.dp(spec.trade_date, spec.exchange)
        return OrderCharges(spec=spec, rates=rates, intraday_rates=intraday, dp=dp)

    def _settlement_rates(
        self, spec: OrderSpec, kind: ChargeClass, trade: SegmentRates
    ) -> SegmentRates:
        """The rates of an expiry settlement's closing order: the trade's rates with the
        settlement's STT (exercise, assignment), none at all (a lapse: nothing is traded),
        or the trade's own (a future). The rates apply to the settlement value, which
        is the closing fill's price × quantity (an option's intrinsic value)."""
        settlement = spec.settlement
        if settlement is SettlementKind.LAPSE:
            if kind is not ChargeClass.OPTIONS:
                raise ChargeError(f"only an option lapses, not {kind}")
            return _NOTHING
        if settlement is SettlementKind.FUTURE:
            if kind not in (ChargeClass.FUTURES, ChargeClass.COMMODITY_FUTURES):
                raise ChargeError(f"a future's settlement cannot price {kind}")
            return trade
        if kind is not ChargeClass.OPTIONS:
            raise ChargeError(f"only an option is exercised or assigned, not {kind}")
        stt = self.table.exercise_stt(spec.trade_date, spec.exchange, spec.side, spec.underlying)
        return replace(trade, stt=stt)

    def fill(
        self, before: OrderCharges, quantity: int, price: float | Decimal, same_day: int = 0
    ) -> FillCharges:
        """One fill of ``quantity`` at ``price``: its share of the order's charges.
        ``same_day``: how many of its units square off the day's opposite fills of a CNC
        order (``kitetui.trading.same_day``): billed on the order's intraday line."""
        if quantity <= 0:
            raise ChargeError(f"a fill's quantity must be positive, not {quantity}")
        exact = exact_price(price)
        turnover = _ADD(
            before.turnover, _MULTIPLY(_MULTIPLY(exact, quantity), before.spec.multiplier)
        )
        if same_day or before.intraday_quantity:
            return self._fill_split(before, quantity, exact, turnover, same_day)
        # (positional arguments, in field order: a fill's records are built on every fill)
        rates, spec = before.rates, before.spec
        after_charges = rates.charges(turnover, True, spec.squared_off)
        after = _new_order_charges(
            spec,
            rates,
            before.quantity + quantity,
            turnover,
            before.intraday_rates,
            0,
            ZERO,
            before.dp,
        )
        if not before.quantity and before.turnover is ZERO:
            # An order's first fill: ``after_charges - NO_CHARGES`` is ``after_charges``
            # digit for digit, since ``x - 0`` keeps ``x`` when its exponent is not
            # positive, and here none is: the turnover is ``0 + price × quantity`` and
            # every rate is a table amount written without a positive exponent
            # (``_amount``), so no product of them has one. (A subtraction and a record
            # saved on most fills: a backtest's orders fill at once.)
            # (``total_paise`` without its property frame)
            return _new_fill_charges(after_charges, to_paise(after_charges.total), after)
        before_charges = before.charges
        return FillCharges(
            charges=after_charges - before_charges,
            paise=after_charges.total_paise - before_charges.total_paise,
            order=after,
        )

    def _fill_split(
        self,
        before: OrderCharges,
        quantity: int,
        price: Decimal,
        turnover: Decimal,
        same_day: int,
    ) -> FillCharges:
        """``fill`` for a CNC order with a same-day part (the rarer path, kept apart so
        the common one stays a handful of multiplications)."""
        if not 0 <= same_day <= quantity:
            raise ChargeError(f"{same_day} of a fill of {quantity} cannot square off the day")
        if before.intraday_rates is None:
            raise ChargeError(f"only a CNC order has a same-day line, not {before.spec.product}")
        with localcontext(EXACT):
            intraday_turnover = before.intraday_turnover + price * same_day * before.spec.multiplier
        after = replace(
            before,
            quantity=before.quantity + quantity,
            turnover=turnover,
            intraday_quantity=before.intraday_quantity + same_day,
            intraday_turnover=intraday_turnover,
        )
        after_charges = after.charges
        before_charges = before.charges
        return FillCharges(
            charges=after_charges - before_charges,
            paise=after_charges.total_paise - before_charges.total_paise,
            order=after,
        )

    def for_fill(self, before: OrderCharges, fill: Fill) -> FillCharges:
        """``fill`` for a journaled ``Fill`` (its quantity and price)."""
        return self.fill(before, fill.quantity, fill.price)

    def for_order(
        self, spec: OrderSpec, fills: Iterable[Fill | tuple[int, float | Decimal]]
    ) -> OrderCharges:
        """An order's state after all of ``fills`` (``Fill`` objects or (quantity, price))."""
        state = self.open_order(spec)
        quantity = 0
        turnover = ZERO
        for item in fills:
            qty, price = (item.quantity, item.price) if isinstance(item, Fill) else item
            if qty <= 0:
                raise ChargeError(f"a fill's quantity must be positive, not {qty}")
            quantity += qty
            with localcontext(EXACT):
                turnover += exact_price(price) * qty * spec.multiplier
        if quantity == 0:
            return state
        return replace(state, quantity=quantity, turnover=turnover)


@functools.cache
def default_calculator() -> ChargeCalculator:
    """One calculator on the bundled rate table per process (the file is read once)."""
    return ChargeCalculator(ChargeTable.load())


def exact_price(price: float | Decimal) -> Decimal:
    """A fill price as the exact decimal it was written as (floats are tick-rounded)."""
    value = price if isinstance(price, Decimal) else Decimal(repr(float(price)))
    if not value.is_finite() or value < 0:
        raise ChargeError(f"a fill's price must be a finite amount >= 0, not {price!r}")
    return value
