"""Zerodha's intraday auto square-off: when it comes, and how its orders are known.

At or after 3:20 PM IST (cash equity) and 3:25 PM (equity and index derivatives)
Zerodha's RMS cancels the pending MIS orders and closes every MIS position still open
with an order of its own, and charges ₹50 + 18 % GST for each such order on top of its
brokerage (the "call and trade (auto square off)" charge; the rate table's
``square_off_fee``). Support articles: "What are the auto square-off timings for open
intraday positions?" and "What are call and trade charges?" (docs/charges.md).

Three places need this: the local exchange, which plays the RMS; the paper desk, which
plays it at the bell when its own square-off did not close a position; and the live
desk, which takes a position down by the RMS's fills. An order squared off by the
broker carries ``REASON`` at the head of its reason, which is how the charges know it.
"""

from __future__ import annotations

from kitetui.domain import Order

__all__ = ["EQUITY_ORDER_MAX", "REASON", "broker_orders", "by_broker", "cutoff_minute"]

REASON = "auto square-off by the broker"
# The most units of a stock the RMS squares off in one order; a derivative goes in
# orders of its freeze quantity, which kitetui's own orders are sliced to already.
EQUITY_ORDER_MAX = 30_000
_CASH_MINUTE = 15 * 60 + 20
_DERIVATIVES_MINUTE = 15 * 60 + 25
_DERIVATIVE_EXCHANGES = frozenset({"NFO", "BFO"})


def cutoff_minute(exchange: str) -> int:
    """The minute of the IST day from which the RMS squares off MIS on ``exchange``."""
    return _DERIVATIVES_MINUTE if exchange in _DERIVATIVE_EXCHANGES else _CASH_MINUTE


def by_broker(order: Order) -> bool:
    """Whether the broker squared this order's position off (and charges for it)."""
    return order.reason.startswith(REASON)


def broker_orders(order: Order, equity: bool, before: int = 0) -> int:
    """How many of the broker's square-off orders ``order`` stands for (each charged the
    fee): none for an order of ours; one for a derivative (sliced to its freeze, as the
    RMS's are); for a stock, the RMS's 30,000-unit orders that its units, after the
    ``before`` units the broker squared off earlier that day, add. Where kitetui plays
    the RMS its square-off goes in slices of its own (1,00,000 shares), so counting
    across them keeps the total the RMS's: 2,50,001 shares are 9 fees however sliced."""
    if not by_broker(order):
        return 0
    if not equity:
        return 1
    return _ceil(before + order.quantity, EQUITY_ORDER_MAX) - _ceil(before, EQUITY_ORDER_MAX)


def _ceil(units: int, per: int) -> int:
    return -(-units // per)
