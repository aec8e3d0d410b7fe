"""A CNC position squared off the same day is billed as intraday: which units, and the
correction it makes to the day's fills already charged.

Zerodha bills a CNC (delivery) order at delivery rates — no brokerage, STT 0.1 % on both
sides, stamp duty 0.015 % on the buy — only for the shares that are delivered. Shares
bought and sold in the same session, on CNC as on MIS, are an intraday trade: brokerage
``min(₹20, 0.03 %)`` per order, STT 0.025 % on the sell, stamp 0.003 % on the buy
(support.zerodha.com "brokerage charged for partial delivery"; tradingqna "STT chargeable
on intraday trade made using CNC" and "for calculation of charges in CNC"). The exchange
nets a client's day per scrip: of the day's buys and sells, the quantity that matches is
intraday, the rest delivery (buy 100, sell 60: 60 intraday, 40 delivered). It does not
matter which came first: selling shares held from an earlier day and buying them back the
same day is intraday too. Exchange, IPFT and SEBI charges are the same on both lines.

Here that netting is done as the fills come, per symbol and IST trade date, on CNC fills
only (MIS is intraday already; futures and options have one line). Each side keeps its
day's unmatched fills as lots, first in, first out; a fill first squares off the
opposite side's lots (at most one side has any), and what is left of it waits as a lot
of its own side. The fill's squared-off units are billed on its order's intraday line
(``ChargeCalculator.fill(..., same_day=)``); the lots it squares off belong to earlier
orders, already journaled at delivery rates, and their orders move that many units, at
their own prices, to the intraday line (``OrderCharges.squared_same_day``).

Where the earlier orders' correction is booked: on the fill that squares them off. The
journal is append-only and chained, so an earlier fill's row is never rewritten; and the
closing fill is the moment kitetui knows the day's charges changed, so it carries the
change: its journaled charges are its own share of its order's charges PLUS the change it
made to the orders it squared off (``Settlement.adjustment``). Every total then holds
exactly as before: the fills of a day still sum to the sum of its orders' charges as the
contract note bills them, to the paisa in paise (each order's rounded total after, minus
before); a same-day round trip's buy and sell are in one trade, so its net P&L is right;
and fills.csv, the report and the P&L all read the one journaled figure. The price of
that choice: such a fill's components can be negative (the buy's delivery STT and stamp
handed back: ``kitetui.store.rows`` accepts a signed amount on a CNC fill only), and the
buy's own row keeps the delivery charges it was journaled with (its order's running
state, ``FillCharger.state``, is the re-priced one: the figure Kite's virtual contract
note shows once the position is squared off).

Nothing here reads a file or a table: the intraday rates are resolved with the order
(``ChargeCalculator.open_order``), and a CNC fill does a few tuple operations more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Protocol

from kitetui.clock import ist_date
from kitetui.domain import Side
from kitetui.money import EXACT, NO_CHARGES, Charges
from kitetui.trading.charges import (
    ChargeCalculator,
    ChargeError,
    FillCharges,
    OrderCharges,
    exact_price,
)

__all__ = ["DayLots", "Lot", "Settlement", "charge_fill", "settle"]


class CncFill(Protocol):
    """What netting reads of a fill (a desk ``Fill``, a journaled one)."""

    @property
    def tag(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def quantity(self) -> int: ...
    @property
    def price(self) -> float | Decimal: ...
    @property
    def ts_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Lot:
    """Units of one order's fill not squared off yet that day, at the fill's price."""

    tag: str
    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class DayLots:
    """One symbol's CNC day: each side's fills not yet matched, oldest first (at most
    one side holds any)."""

    day: date
    buys: tuple[Lot, ...] = ()
    sells: tuple[Lot, ...] = ()


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one CNC fill does to its day: ``matched`` of its units square off earlier
    fills, whose orders become ``repriced``; ``adjustment`` (exact) and
    ``adjustment_paise`` (each order's rounded total after minus before) are what that
    changed their charges by; ``lots`` is the day after the fill."""

    matched: int
    repriced: tuple[tuple[str, OrderCharges], ...]
    adjustment: Charges
    adjustment_paise: int
    lots: DayLots


def settle(
    lots: DayLots | None,
    day: date,
    side: Side,
    tag: str,
    quantity: int,
    price: Decimal,
    state_of: Callable[[str], OrderCharges | None],
) -> Settlement:
    """A CNC fill of ``quantity`` at ``price`` (exact) of order ``tag`` on ``side`` on
    IST ``day``, against the symbol's ``lots`` so far (None, or another day's: a fresh
    day). ``state_of`` gives an earlier order's running charges. Pure: the caller keeps
    the result only once the fill is journaled."""
    if lots is None or lots.day != day:
        lots = DayLots(day)
    buying = side is Side.BUY
    opposite = list(lots.sells if buying else lots.buys)
    left = quantity
    taken: list[Lot] = []
    while left and opposite:
        lot = opposite[0]
        part = min(left, lot.quantity)
        taken.append(Lot(lot.tag, part, lot.price))
        left -= part
        if part == lot.quantity:
            opposite.pop(0)
        else:
            opposite[0] = Lot(lot.tag, lot.quantity - part, lot.price)
    own = lots.buys if buying else lots.sells
    if left:
        own = (*own, Lot(tag, left, price))
    after = DayLots(day, own, tuple(opposite)) if buying else DayLots(day, tuple(opposite), own)
    if not taken:
        return Settlement(0, (), NO_CHARGES, 0, after)
    before: dict[str, OrderCharges] = {}
    repriced: dict[str, OrderCharges] = {}
    for lot in taken:
        state = repriced.get(lot.tag)
        if state is None:
            state = state_of(lot.tag)
            if state is None:
                raise ChargeError(f"order {lot.tag}, squared off the same day, is not known")
            before[lot.tag] = state
        with localcontext(EXACT):
            turnover = lot.price * lot.quantity * state.spec.multiplier
        repriced[lot.tag] = state.squared_same_day(lot.quantity, turnover)
    adjustment = NO_CHARGES
    paise = 0
    for order_tag, state in repriced.items():
        old, new = before[order_tag].charges, state.charges
        adjustment = adjustment + (new - old)
        paise += new.total_paise - old.total_paise
    return Settlement(quantity - left, tuple(repriced.items()), adjustment, paise, after)


def charge_fill(
    calculator: ChargeCalculator,
    before: OrderCharges,
    lots: DayLots | None,
    fill: CncFill,
    state_of: Callable[[str], OrderCharges | None],
) -> tuple[FillCharges, Settlement]:
    """A CNC fill priced against its day (``settle``) on its order's lines: what the
    desk's charger and the report's pricing of an old journal both do. The fill's own
    charges are the first; ``Settlement.adjustment`` is what it adds for the orders it
    squared off."""
    price = exact_price(fill.price)
    settlement = settle(
        lots, ist_date(fill.ts_ns), fill.side, fill.tag, fill.quantity, price, state_of
    )
    priced = calculator.fill(before, fill.quantity, price, same_day=settlement.matched)
    return priced, settlement
