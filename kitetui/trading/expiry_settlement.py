"""A contract's settlement at expiry: which kind it is, how its closing order says so,
and what that kind is charged.

Where kitetui plays the exchange (replay, paper, backtest) a contract held into its
expiry is closed through the one exit path by an order that fills at exactly the final
settlement price (``kitetui.supervisor.expiry``), zero for an option that lapses (the
one fill at zero a ledger takes: ``is_lapse``). That fill is not a trade, and Zerodha
does not bill it as one: the exchange exercises a long option in the money (STT on
exercise, on the intrinsic value, payable by the buyer), assigns a short one (no STT),
lets one out of the money lapse (no order, no charges) and cash-settles a future at the
settlement price. So the closing order carries its kind at the head of its reason
(``reason``), and the charger reads it back from there (``kind_of``) — from the order
in the journal too, so a recovered run and the report price it the same way. The
journal's ``reason`` column is the one record of it; nothing else is stored.

Charged, per kind (docs/charges.md "Held into expiry", each with its source):

* exercise: brokerage (₹20 an order), STT on exercise (``stt_on_exercise``: 0.125 %,
  0.15 % from 1 April 2026) of the intrinsic value, and the exchange, IPFT, SEBI and GST
  on the intrinsic value at the options rates;
* assignment: brokerage and those levies, stamp duty on the buy, no STT;
* lapse: nothing;
* future: as a trade at the settlement price (brokerage, STT on a long's sale, the
  levies, stamp on a short's buy).

The sources are silent on the exchange's levies of an exercise or assignment and
disagree on a future's brokerage and STT; those are charged (the conservative reading:
a cost is never left out on a guess), and ``charged_as`` says so in the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from kitetui.trading.charges import SettlementKind

if TYPE_CHECKING:
    from kitetui.domain import Order

__all__ = [
    "REASON",
    "SettlementKind",
    "charged_as",
    "is_lapse",
    "kind_for",
    "kind_of",
    "reason",
]

REASON = "expiry settlement"
_HEAD = f"{REASON} ("  # ``reason``'s text up to the kind (``kind_of``)
# Read on every fill (``is_lapse``), bound once (why: ``kitetui/domain.py``, "Bound members").
_LAPSE = SettlementKind.LAPSE

_CHARGED_AS: Mapping[SettlementKind, str] = {
    SettlementKind.EXERCISE: (
        "exercised: charged brokerage, STT on exercise of the intrinsic value (payable by "
        "the buyer) and the exchange's levies on it (sources silent on the levies: charged, "
        "the conservative reading)"
    ),
    SettlementKind.ASSIGNMENT: (
        "assigned: no STT (the buyer pays it on exercise); charged brokerage and the "
        "exchange's levies and stamp duty on the settlement value (sources silent on the "
        "levies: charged, the conservative reading)"
    ),
    SettlementKind.LAPSE: "lapsed worthless: no order at the exchange, so no charges",
    SettlementKind.FUTURE: (
        "cash-settled: charged as a trade at the settlement price, brokerage, STT on a "
        "long's sale and the exchange's levies (some sources say no STT or brokerage: "
        "charged, the conservative reading)"
    ),
}


def kind_for(is_option: bool, long: bool, value: float) -> SettlementKind:
    """The settlement of a contract at ``value`` (an option's intrinsic value, a
    future's settlement price): an option worth nothing lapses, one worth something is
    exercised (long) or assigned (short); a future is cash-settled."""
    if not is_option:
        return SettlementKind.FUTURE
    if value <= 0:
        return SettlementKind.LAPSE
    return SettlementKind.EXERCISE if long else SettlementKind.ASSIGNMENT


def reason(kind: SettlementKind, basis: str) -> str:
    """The closing order's reason: the kind at its head (``kind_of``), then the basis."""
    return f"{REASON} ({kind.value}) at {basis}"


def kind_of(order_reason: str) -> SettlementKind | None:
    """The settlement an order's reason names; None for a trade (and for a settlement
    journaled before the kinds were, which was charged as a trade)."""
    if not order_reason.startswith(_HEAD):
        return None  # (every fill asks: most orders are trades)
    word, closed, _ = order_reason[len(_HEAD) :].partition(")")
    if not closed:
        return None
    try:
        return SettlementKind(word)
    except ValueError:
        return None


def is_lapse(order: Order | None) -> bool:
    """Whether ``order`` closes an option that lapsed: its fill is at zero (NSE's
    settlement price of an option out of the money), the one fill at zero a ledger
    takes (``Portfolio.apply_fill``)."""
    return order is not None and kind_of(order.reason) is _LAPSE


def charged_as(kind: SettlementKind) -> str:
    """What ``kind`` is charged, for the ``ExpirySettled`` event."""
    return _CHARGED_AS[kind]
