"""Margins of the simulated exchange: approximated as Kite buckets them, and enforced.

The rates are an approximation, chosen to be in the right place rather than exact:
CNC 100 % of value (``delivery``), MIS equity 20 % (``exposure``), futures 12 % (9 %
span + 3 % exposure, booked as ``span``), bought options their premium
(``option_premium``), sold options 12 % of strike value (``span``). Open positions
and working orders (and AMO requests) use margin; an order that only reduces an open
position needs none. ``GET /user/margins`` answers Kite's segment shape with these
buckets under ``utilised``, and the RMS (``kitetui.sim.orders``) refuses an order
needing more than ``net``.
"""

from __future__ import annotations

from typing import Any

from kitetui.market.instruments import Instrument
from kitetui.sim.errors import input_error
from kitetui.sim.market import SimMarket
from kitetui.sim.order_book import WORKING, AccountBook, SimOrder, num
from kitetui.sim.reads import position_dict
from kitetui.sim.sessions import SimAccount

__all__ = ["Margins"]

_BUCKETS = ("span", "exposure", "option_premium", "delivery")
_UTILISED = (
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


def rates(inst: Instrument, product: str) -> tuple[str, float]:
    """(utilised bucket, fraction of value) of a position or order."""
    if inst.exchange in ("NFO", "BFO"):
        if inst.instrument_type == "FUT":
            return "span", 0.12
        return "option", 1.0
    if product == "CNC":
        return "delivery", 1.0
    return "exposure", 0.2


def value_margin(
    inst: Instrument, product: str, side: int, qty: int, price: float
) -> tuple[str, float]:
    """(bucket, amount) of ``qty`` at ``price`` on ``side`` (+1 buy, -1 sell)."""
    bucket, rate = rates(inst, product)
    if bucket == "option":
        if side > 0:
            return "option_premium", qty * price
        return "span", qty * (inst.strike or price) * 0.12
    return bucket, qty * price * rate


class Margins:
    """The margin an account uses and has, priced by the market."""

    def __init__(self, market: SimMarket) -> None:
        self.market = market

    def order_margin(self, book: AccountBook, order: SimOrder) -> float:
        """Margin a new order needs; 0 when it only reduces an open position."""
        return self.order_bucket(book, order)[1]

    def order_bucket(self, book: AccountBook, order: SimOrder) -> tuple[str, float]:
        row = book.position_of(order)
        side = 1 if order.transaction_type == "BUY" else -1
        held = row.quantity if row else 0
        if held * side < 0 and order.pending_quantity <= abs(held):
            return "span", 0.0
        price = order.price or order.trigger_price or self.market.last_price(order.key) or 0.0
        return value_margin(order.instrument, order.product, side, order.pending_quantity, price)

    def summary(self, book: AccountBook, exclude: str = "") -> dict[str, float]:
        """The buckets used, realised and unrealised P&L, and ``net`` (what is left);
        the order ``exclude`` (one being checked) does not count."""
        used = dict.fromkeys(_BUCKETS, 0.0)
        realised = unrealised = 0.0
        for (_exchange, key, _product), row in book.positions.items():
            data = position_dict(self.market, key, row)
            realised += data["realised"]
            unrealised += data["unrealised"]
            qty = row.quantity
            if qty:
                side = 1 if qty > 0 else -1
                price = data["average_price"] or data["last_price"]
                bucket, amount = value_margin(row.instrument, row.product, side, abs(qty), price)
                used[bucket] += amount
        for order in book.orders.values():
            if order.order_id == exclude or order.status not in (*WORKING, "AMO REQ RECEIVED"):
                continue
            bucket, amount = self.order_bucket(book, order)
            used[bucket] += amount
        debits = sum(used.values())
        net = book.account.cash - debits + realised + unrealised
        return {
            **used,
            "debits": debits,
            "realised": realised,
            "unrealised": unrealised,
            "net": net,
        }

    def margins(
        self, account: SimAccount, book: AccountBook, segment: str | None = None
    ) -> dict[str, Any]:
        """``GET /user/margins[/{segment}]``: ``account``'s cash, its book's usage."""
        summary = self.summary(book)
        equity = segment_dict(
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
        commodity = segment_dict(account.commodity_cash, account.commodity_cash, {})
        if segment == "equity":
            return equity
        if segment == "commodity":
            return commodity
        if segment is not None:
            raise input_error("Invalid segment. Use `equity` or `commodity`.")
        return {"equity": equity, "commodity": commodity}


def segment_dict(cash: float, net: float, utilised: dict[str, float]) -> dict[str, Any]:
    """One segment of ``GET /user/margins`` in Kite's shape."""
    return {
        "enabled": True,
        "net": round(net, 2),
        "available": {
            "adhoc_margin": 0,
            "cash": num(cash),
            "opening_balance": num(cash),
            "live_balance": round(net, 2),
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {name: num(utilised.get(name, 0.0)) for name in _UTILISED},
    }
