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

The depository's charge rides on the same netting. Zerodha (with CDSL) charges ₹13.50 +
18 % GST per scrip and day that shares of it are sold FROM the demat account, whatever
the quantity, and posts it to the funds statement, not the contract note
(support.zerodha.com "What do DP charges mean?"; a BTST sell pays it too, "DP charges for
BTST trades"). What leaves the demat is the day's net delivery sale: the units of the
day's CNC sells that no buy of the day matched. After any CNC fill at most one side of
the day has lots, so the scrip has a delivery sale exactly when the day's sell lots are
not empty. A fill that makes them non-empty books one DP charge (``Settlement.dp`` +1);
one that empties them (a buy that nets the day's sales back to nothing) hands it back
(-1), on the fill, like the same-day correction, so the journal stays append-only. The
changes telescope: whatever the order of the day's fills, they sum to one charge for a
scrip whose day ends with a delivery sale and none for one whose day does not (sell
then buy back, buy then sell). MIS and derivative fills never come here: they take
nothing out of the demat. The amount is the order's ``OrderCharges.dp`` (the rate
table's ``dp`` row of the trade date, GST in it), journaled as the ``dp`` component.

Nothing here reads a file or a table: the intraday rates are resolved with the order
(``ChargeCalculator.open_order``), and a CNC fill does a few tuple operations more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, localcontext
from typing import Protocol

from kitetui.clock import ist_date
from kitetui.domain import Side
from kitetui.money import EXACT, NO_CHARGES, Charges, to_paise
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
    changed their charges by; ``lots`` is the day after the fill. ``dp``: +1 when the
    fill gives the scrip a delivery sale that day (its sell lots were empty and are not
    any more: one DP charge booked), -1 when it takes it away (handed back), else 0.
    ``charge_fill`` adds that DP amount to ``adjustment``."""

    matched: int
    repriced: tuple[tuple[str, OrderCharges], ...]
    adjustment: Charges
    adjustment_paise: int
    lots: DayLots
    dp: int = 0


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
    dp = bool(after.sells) - bool(lots.sells)
    if not taken:
        return Settlement(0, (), NO_CHARGES, 0, after, dp)
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
    return Settlement(quantity - left, tuple(repriced.items()), adjustment, paise, after, dp)


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
    squared off and the DP charge it books or hands back (``Settlement.dp`` times its
    order's ``OrderCharges.dp``)."""
    price = exact_price(fill.price)
    settlement = settle(
        lots, ist_date(fill.ts_ns), fill.side, fill.tag, fill.quantity, price, state_of
    )
    priced = calculator.fill(before, fill.quantity, price, same_day=settlement.matched)
    if settlement.dp and before.dp:
        with localcontext(EXACT):
            dp = Charges(dp=before.dp * settlement.dp)
        settlement = replace(
            settlement,
            adjustment=settlement.adjustment + dp,
            adjustment_paise=settlement.adjustment_paise + to_paise(dp.dp),
        )
    return priced, settlement
