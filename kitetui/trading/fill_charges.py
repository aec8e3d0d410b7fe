"""Charging fills as they happen: each fill's share of its ORDER's charges, per order.

Zerodha bills per executed order: the ₹20 brokerage cap (and the flat ₹20 of an
option order) applies once to an order, however many partial fills it took. So a fill
is charged as the difference it makes to its order's charges (``ChargeCalculator.fill``)
and this module keeps each order's running state (what it has filled, what that cost)
between its fills, keyed by the order's client tag. A freeze slice is its own order at
the exchange, with its own tag, and pays its own brokerage, as it does at Zerodha.

The trader charges a fill before it journals it, so the charges are written with the
fill in one transaction (rule 2); recovery feeds the journaled fills back through
``restore`` in the order they were committed, which rebuilds each order's state
exactly, so an order that fills again after a restart is charged as if nothing had
happened. A journaled fill keeps the charges it was journaled with; one from before
kitetui recorded charges (schema < 4) is charged from the rate table then.

What a fill is charged depends on the instrument (Kite's segment and exchange, the
underlying for BSE options), the order's product and side and the trade date (IST).
The instrument comes from the day's master; a symbol missing from it is classed by
its exchange and name (``...FUT`` futures, ``...CE``/``...PE`` options on NFO/BFO,
cash equity on NSE/BSE). A fill the rate table cannot price (a date before it starts,
a segment it does not cover) is journaled without charges and ``ChargesUnpriced`` says
so: it is never charged a guess.

A contract's settlement at expiry is charged as what it is, not as a trade: its
closing order names the settlement in its reason (``kitetui.trading.expiry_settlement``)
and ``order_spec`` carries it to the calculator, so the one journaled figure of the
fill is the settlement's (a lapse: nothing).

A CNC fill is also netted against the symbol's other CNC fills of its IST day
(``kitetui.trading.same_day``): the units it squares off are billed as intraday, and it
carries the correction of the earlier orders it squared off, so its charge is final
when it is journaled. The charger keeps each symbol's day (``_days``) and the running
state of the day's CNC orders (``_cnc``: an order the trader forgot may still be squared
off that day); both are dropped once a later day's CNC fill comes. The same netting
books the DP charge of a scrip's day with a delivery sale (``same_day``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from kitetui.clock import ist_date, ist_day_number
from kitetui.domain import Event, Fill, Order, evolve
from kitetui.drafts import built_in_draft, copier, maker
from kitetui.events import EventKind
from kitetui.trading import auto_square_off, expiry_settlement, same_day
from kitetui.trading.charges import (
    ChargeCalculator,
    ChargeError,
    FillCost,
    OrderCharges,
    OrderSpec,
    SegmentKind,
    segment_kind,
)

if TYPE_CHECKING:
    from kitetui.market.instruments import Instrument

__all__ = ["ChargedFill", "FillCharger", "order_spec"]

# ``evolve(fill, charges=...)`` compiled once (``drafts.copier``): every fill is charged.
_with_charges = copier(Fill, "charges")
# Read on every order's charges, bound once (why: ``kitetui/domain.py``, "Bound members").
_EQUITY = SegmentKind.EQUITY


def order_spec(
    order: Order, instrument: Instrument | None, ts_ns: int, squared_before: int = 0
) -> OrderSpec:
    """What an order is charged on: its instrument's segment (from the master, else from
    its exchange and symbol), exchange, product, side and IST trade date, and whether
    the broker squared it off (its fee on top; ``squared_before``: the units of the
    symbol the broker squared off earlier that day, ``auto_square_off.broker_orders``),
    and whether it is a contract's settlement at expiry (``expiry_settlement``: priced
    as the exercise, assignment, lapse or future settlement its reason names)."""
    exchange = order.exchange._value_  # (``.value`` is a Python property: a call a read)
    if instrument is not None and instrument.segment:
        kind = segment_kind(instrument.segment)
        exchange = instrument.exchange or exchange
        underlying = (instrument.name or "").upper()
    else:
        kind = _kind_from_symbol(exchange, order.symbol)
        underlying = ""
    return OrderSpec(
        segment=kind,
        exchange=exchange,
        product=order.product,
        side=order.side,
        trade_date=ist_date(ts_ns),
        underlying=underlying,
        squared_off=auto_square_off.broker_orders(order, kind is _EQUITY, squared_before),
        settlement=expiry_settlement.kind_of(order.reason),
    )


def _kind_from_symbol(exchange: str, symbol: str) -> SegmentKind:
    if exchange in ("NSE", "BSE"):
        return SegmentKind.EQUITY
    if exchange in ("NFO", "BFO"):
        if symbol.endswith("FUT"):
            return SegmentKind.FUTURES
        if symbol.endswith(("CE", "PE")):
            return SegmentKind.OPTIONS
    raise ChargeError(f"cannot tell the segment of {exchange}:{symbol} without its instrument")


@built_in_draft
@dataclass(frozen=True, slots=True)
class ChargedFill:
    """A fill with its charges, and its order's state once the fill is taken."""

    fill: Fill
    state: OrderCharges | None  # None: the fill could not be priced
    squared: tuple[tuple[str, date], int] | None = None  # a broker's square-off, first seen
    settlement: same_day.Settlement | None = None  # a CNC fill: its day netted (same_day)


# The records of every priced fill, made by ``drafts.maker`` (every field in order).
_new_cost = maker(FillCost)
_new_charged = maker(ChargedFill)


class FillCharger:
    """Each order's running charges; ``quote`` prices a fill, ``take`` commits it.

    Quote and take are separate so a fill that is not journaled (a duplicate delivery,
    a full disk) never moves its order's state: the next delivery is priced the same.
    """

    CACHE_SIZE = 1024

    def __init__(
        self,
        calculator: ChargeCalculator,
        instruments: Mapping[str, Instrument],
        on_event: Callable[[Event], object] | None = None,
    ) -> None:
        self.calculator = calculator
        self.instruments = instruments
        self.on_event = on_event
        self._orders: dict[str, OrderCharges] = {}
        # The units the broker squared off so far, by symbol and IST day, and the orders
        # counted in them: its fees are counted across its orders (broker_orders).
        self._squared: dict[tuple[str, date], int] = {}
        self._squared_tags: set[str] = set()
        # CNC: each symbol's day of fills not yet squared off, and the day's CNC orders'
        # running charges (kept here too: the trader may forget a finished order that a
        # later fill of the day squares off).
        self._days: dict[str, same_day.DayLots] = {}
        self._cnc: dict[str, OrderCharges] = {}
        self._cnc_day: date | None = None
        self.unpriced = 0  # fills journaled without charges (each said in an event)
        # An order of ours that is a trade opens with nothing filled on rates that
        # depend only on its instrument, exchange, product, side and IST day: the
        # opened state (immutable) is kept for the next order of the same kind.
        self._opened: dict[tuple, tuple[Instrument | None, OrderCharges]] = {}

    def quote(self, order: Order, fill: Fill) -> ChargedFill:
        """``fill`` with its share of ``order``'s charges attached (None if unpriceable)."""
        squared = None
        try:
            before = self._orders.get(order.tag)
            if before is None:
                if auto_square_off.by_broker(order):
                    if order.tag not in self._squared_tags:
                        squared = ((order.symbol, ist_date(fill.ts_ns)), order.quantity)
                    earlier = self._squared.get(squared[0], 0) if squared else 0
                    instrument = self.instruments.get(order.symbol)
                    spec = order_spec(order, instrument, fill.ts_ns, earlier)
                    before = self.calculator.open_order(spec)
                else:
                    before = self._open_trade(order, fill.ts_ns)
            if before.intraday_rates is not None:  # CNC: netted against its day
                return self._quote_same_day(order, fill, before, squared)
            priced = self.calculator.fill(before, fill.quantity, fill.price)
        except ChargeError as exc:
            self._unpriced(order, fill, exc)
            return ChargedFill(evolve(fill, charges=None), None)
        cost = _new_cost(priced.charges, priced.paise)
        return _new_charged(_with_charges(fill, cost), priced.order, squared, None)

    def _open_trade(self, order: Order, ts_ns: int) -> OrderCharges:
        """``open_order`` of an order the broker did not square off, kept per
        (symbol, exchange, product, side, IST day, settlement) while the instrument the
        master has for the symbol is the one it was opened on: that is all ``order_spec``
        reads of such an order (its reason only names a settlement or not), so the
        kept state is the one ``open_order`` would make. (An order's fixed cost: the
        spec, its segment and venue look-ups and the rate cache's key were a sixth of
        a quote's instructions.) Emptied at ``CACHE_SIZE``, as the rate table's cache is."""
        instrument = self.instruments.get(order.symbol)
        key = (
            order.symbol,
            order.exchange,
            order.product,
            order.side,
            ist_day_number(ts_ns),
            expiry_settlement.kind_of(order.reason),
        )
        kept = self._opened.get(key)
        if kept is not None and kept[0] is instrument:
            return kept[1]
        opened = self.calculator.open_order(order_spec(order, instrument, ts_ns))
        if len(self._opened) >= self.CACHE_SIZE:
            self._opened.clear()
        self._opened[key] = (instrument, opened)
        return opened

    def _quote_same_day(
        self,
        order: Order,
        fill: Fill,
        before: OrderCharges,
        squared: tuple[tuple[str, date], int] | None,
    ) -> ChargedFill:
        """A CNC fill: the units that square off the symbol's day are intraday, and the
        fill carries what that changes on the earlier orders it squares off."""
        priced, settlement = same_day.charge_fill(
            self.calculator, before, self._days.get(order.symbol), fill, self._cnc_state
        )
        cost = FillCost(
            priced.charges + settlement.adjustment, priced.paise + settlement.adjustment_paise
        )
        return ChargedFill(evolve(fill, charges=cost), priced.order, squared, settlement)

    def _cnc_state(self, tag: str) -> OrderCharges | None:
        return self._cnc.get(tag) or self._orders.get(tag)

    def take(self, tag: str, charged: ChargedFill) -> None:
        """The fill was journaled: its order's state moves on (and a broker's square-off
        order counts in the units the broker squared off that day)."""
        if charged.state is not None:
            self._orders[tag] = charged.state
        if charged.settlement is not None:
            self._take_same_day(tag, charged)
        if charged.squared is not None and tag not in self._squared_tags:
            self._squared_tags.add(tag)
            key, units = charged.squared
            self._squared[key] = self._squared.get(key, 0) + units

    def _take_same_day(self, tag: str, charged: ChargedFill) -> None:
        """A CNC fill was journaled: its symbol's day moves on, and the orders it squared
        off keep their re-priced state. A later day's first CNC fill drops the earlier
        days (nothing squares off across days)."""
        settlement = charged.settlement
        assert settlement is not None and charged.state is not None
        day = settlement.lots.day
        if self._cnc_day is None or day > self._cnc_day:
            self._cnc_day = day
            self._days = {s: lots for s, lots in self._days.items() if lots.day >= day}
            self._cnc = {}
        self._days[charged.fill.symbol] = settlement.lots
        self._cnc[tag] = charged.state
        for other, state in settlement.repriced:
            self._cnc[other] = state
            if other in self._orders:
                self._orders[other] = state

    def restore(self, order: Order | None, fill: Fill) -> Fill:
        """A journaled fill read back (recovery): its order's state moves on as it did
        when the fill was taken, and the fill keeps the charges journaled with it; a
        fill journaled without charges is priced now."""
        if order is None:
            return fill
        charged = self.quote(order, fill)
        self.take(order.tag, charged)
        return fill if fill.charges is not None else charged.fill

    def state(self, tag: str) -> OrderCharges | None:
        """An order's charges so far (None before its first fill, or once forgotten)."""
        return self._orders.get(tag)

    def forget(self, tag: str) -> None:
        """A finished order no fill can reach any more: its running state goes (the
        trader's bound on what a long run keeps, ``Trader(keep_finished=)``)."""
        self._orders.pop(tag, None)

    def _unpriced(self, order: Order, fill: Fill, exc: ChargeError) -> None:
        self.unpriced += 1
        if self.on_event is not None:
            self.on_event(
                Event(
                    ts_ns=fill.ts_ns,
                    kind=EventKind.CHARGES_UNPRICED,
                    level="WARNING",
                    symbol=order.symbol,
                    engine=order.engine,
                    message=f"fill {fill.fill_id} journaled without charges: {exc}",
                )
            )
