"""Money as kitetui books it: exact rupees split as a contract note bills them.

These are values, not rules: the rate table and the arithmetic that fills them live in
``kitetui.trading.charges``. They sit at the bottom of the package so the journal, the
domain and the screens can carry a fill's charges without importing the trading core.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction
from typing import Protocol

from kitetui.drafts import built_in_draft

ZERO = Decimal(0)
_HUNDRED = Decimal(100)
# Exact arithmetic: 60 digits hold any turnover × rate product here, and Inexact is
# trapped, so a figure that could not be represented exactly raises instead of rounding.
# Use it (``with localcontext(EXACT)``) for any sum of charges.
EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])
# ``EXACT.add(a, b)`` is ``a + b`` under ``localcontext(EXACT)``, the same digits and the
# same traps, without copying the context in and out around each sum: ``Charges``
# adds seven fields at a time, several times a fill, and the switch cost more than the
# additions. (Only the context's sticky flags differ: they collect on ``EXACT``, and
# nothing reads them; a trap raises either way.)
_ADD = EXACT.add
_SUBTRACT = EXACT.subtract
_MULTIPLY = EXACT.multiply


def exact_ratio(value: float) -> tuple[int, int]:
    """The decimal a float prints as (its shortest repr: ``0.05`` is 1/20, not the binary
    float just above it), exactly, as (numerator, denominator > 0).

    Prices, ticks and percentages are decimals a person or an exchange wrote; whole-number
    arithmetic on these pairs is exact and, on the paths that size and price every order,
    several times cheaper than parsing the repr into a ``Fraction``. A non-finite value
    raises ``ValueError``, as ``Fraction`` does."""
    text = repr(float(value))
    try:
        return Decimal(text).as_integer_ratio()
    except (OverflowError, ValueError):
        raise ValueError(f"{text} is not a finite number") from None


def exact_fraction(value: float) -> Fraction:
    """``exact_ratio`` as a ``Fraction``."""
    return Fraction(*exact_ratio(value))


@built_in_draft
@dataclass(frozen=True, slots=True)
class Charges:
    """One order's (or one fill's share of) charges in exact rupees, split as billed.

    ``exchange`` is the exchange transaction charge without NSE's IPFT levy, which is
    ``ipft``; Kite's ``exchange_turnover_charge`` is their sum. ``stt`` is CTT for
    commodities. ``dp`` is the depository (DP) charge, GST included, on a scrip's day of
    delivery sales (``kitetui.trading.same_day``): it is not on the contract note (Zerodha
    posts it to the funds statement), so an ORDER's charges never hold it, only the
    charges journaled with a fill.
    """

    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange: Decimal = ZERO
    ipft: Decimal = ZERO
    sebi: Decimal = ZERO
    stamp: Decimal = ZERO
    gst: Decimal = ZERO
    dp: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        add = _ADD  # EXACT's own addition, in the order billed (``_ADD``)
        total = add(self.brokerage, self.stt)
        total = add(total, self.exchange)
        total = add(total, self.ipft)
        total = add(total, self.sebi)
        total = add(total, self.stamp)
        total = add(total, self.gst)
        return add(total, self.dp) if self.dp else total

    @property
    def exchange_turnover(self) -> Decimal:
        """Kite's ``exchange_turnover_charge``: the transaction charge with IPFT in it."""
        return _ADD(self.exchange, self.ipft)

    @property
    def total_paise(self) -> int:
        """The total rounded half-up to whole paise (a display or ledger figure)."""
        return to_paise(self.total)

    def __add__(self, other: Charges) -> Charges:
        # Field by field, spelled out: every fill adds charges to several tallies.
        add = _ADD
        return Charges(
            add(self.brokerage, other.brokerage),
            add(self.stt, other.stt),
            add(self.exchange, other.exchange),
            add(self.ipft, other.ipft),
            add(self.sebi, other.sebi),
            add(self.stamp, other.stamp),
            add(self.gst, other.gst),
            add(self.dp, other.dp),
        )

    def __sub__(self, other: Charges) -> Charges:
        sub = _SUBTRACT
        return Charges(
            sub(self.brokerage, other.brokerage),
            sub(self.stt, other.stt),
            sub(self.exchange, other.exchange),
            sub(self.ipft, other.ipft),
            sub(self.sebi, other.sebi),
            sub(self.stamp, other.stamp),
            sub(self.gst, other.gst),
            sub(self.dp, other.dp),
        )

    def items(self) -> Iterator[tuple[str, Decimal]]:
        """``(component name, amount)`` in billing order."""
        for name in _FIELDS:
            yield name, getattr(self, name)


_FIELDS = tuple(f.name for f in fields(Charges))
NO_CHARGES = Charges()


def sum_charges(start: Charges, more: list[Charges]) -> Charges:
    """``start`` plus each of ``more`` in order: ``sum(more, start)``'s figures (exact
    sums are the same digits however they are grouped), built once instead of a new
    ``Charges`` for every addend."""
    with localcontext(EXACT):
        return Charges(
            sum([c.brokerage for c in more], start.brokerage),
            sum([c.stt for c in more], start.stt),
            sum([c.exchange for c in more], start.exchange),
            sum([c.ipft for c in more], start.ipft),
            sum([c.sebi for c in more], start.sebi),
            sum([c.stamp for c in more], start.stamp),
            sum([c.gst for c in more], start.gst),
            sum([c.dp for c in more], start.dp),
        )


class ChargesSum:
    """Charges added one at a time, summed by component only when read (``total``).

    A tally or a portfolio that added each fill's or trade's ``Charges`` into a new
    record as it came built eight exact sums an addend; most of them were never read
    before the next. Addends wait in a list (summed at ``KEEP``, so it stays bounded),
    and ``total`` is the same digits as adding each as it came (``sum_charges``)."""

    __slots__ = ("_sum", "_waiting")
    KEEP = 256

    def __init__(self, start: Charges = NO_CHARGES) -> None:
        self._sum = start
        self._waiting: list[Charges] = []

    def add(self, charges: Charges) -> None:
        waiting = self._waiting
        waiting.append(charges)
        if len(waiting) >= self.KEEP:
            self._sum, self._waiting = sum_charges(self._sum, waiting), []

    @property
    def total(self) -> Charges:
        if self._waiting:
            self._sum, self._waiting = sum_charges(self._sum, self._waiting), []
        return self._sum

    def copy(self) -> ChargesSum:
        """A sum of its own, from what this one holds (adding to either leaves the other)."""
        both = ChargesSum(self._sum)
        both._waiting = list(self._waiting)
        return both


def to_paise(rupees: Decimal) -> int:
    """Exact rupees -> integer paise, half-up (away from zero for negatives)."""
    return int((rupees * _HUNDRED).to_integral_value(rounding=ROUND_HALF_UP))


class _Priced(Protocol):
    charges: Charges
    paise: int


@built_in_draft
@dataclass(frozen=True, slots=True)
class FillCost:
    """What one fill is charged, as it is journaled with the fill.

    ``charges`` are the exact components (the fill's share of its order's); ``paise``
    is its share of the order's total rounded to paise (``FillCharges.paise``), the
    figure the ledger subtracts, so an order's fills add up to its rounded total.
    """

    charges: Charges
    paise: int

    @classmethod
    def of(cls, fill_charges: _Priced) -> FillCost:
        return cls(fill_charges.charges, fill_charges.paise)


NO_COST = FillCost(NO_CHARGES, 0)
