"""What the paper book did, applied to the exchange's orders: trades, positions, states.

The ``PaperBook`` matches; the exchange keeps Kite's books. Each paper fill becomes
one trade row (Kite's trades.json shape, a sequential ``trade_id``), moves the day
position of (exchange, symbol, product), and raises the order's ``filled_quantity``
and ``average_price``. A part fill leaves the order OPEN and goes out as Kite's
``UPDATE`` (history row ``OPEN``); the last makes it COMPLETE. A stop the paper book
triggered without filling is reported OPEN, as Kite's order updates would say.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from kitetui.brokers.paper_book import OrderFill
from kitetui.domain import Fill, OrderStatus
from kitetui.sim.market import ist_str
from kitetui.sim.order_book import TERMINAL, AccountBook, SimOrder, num
from kitetui.sim.order_updates import OrderUpdates

__all__ = ["FillRecorder"]

FIRST_TRADE_ID = 10_000_000


class FillRecorder:
    """Books paper fills and triggers into the accounts' books (module docstring)."""

    def __init__(self, updates: OrderUpdates, now: Callable[[], int]) -> None:
        """``now``: the market clock, stamped on a triggered stop's update."""
        self.updates = updates
        self.now = now
        self._trade_seq = itertools.count(1)  # trade ids are exchange-wide

    def record(self, book: AccountBook, fills: list[OrderFill]) -> None:
        """Book each fill (one trade row each) and publish the order's new state."""
        for _paper_order, fill in fills:
            order = book.for_paper(fill.tag)
            if order is None or order.status in TERMINAL:
                continue
            quantity = min(fill.quantity, order.pending_quantity)
            if quantity <= 0:
                continue
            total = order.average_price * order.filled_quantity + fill.price * quantity
            order.filled_quantity += quantity
            order.average_price = round(total / order.filled_quantity, 4)
            order.exchange_update_ns = fill.ts_ns
            book.trades.append(self._trade(order, fill, quantity))
            book.position_for(order).add(order.buy, quantity, fill.price)
            if order.pending_quantity:
                order.record("OPEN")
                self.updates.publish(order, status="UPDATE")
            else:
                order.record("COMPLETE")
                self.updates.publish(order)

    def _trade(self, order: SimOrder, fill: Fill, quantity: int) -> dict[str, Any]:
        trade_ns = fill.ts_ns
        return {
            "trade_id": str(FIRST_TRADE_ID + next(self._trade_seq)),
            "order_id": order.order_id,
            "exchange": order.instrument.exchange,
            "tradingsymbol": order.instrument.tradingsymbol,
            "instrument_token": order.instrument.instrument_token,
            "product": order.product,
            "average_price": num(fill.price),
            "quantity": quantity,
            "exchange_order_id": order.exchange_order_id,
            "transaction_type": order.transaction_type,
            "fill_timestamp": ist_str(trade_ns),
            "order_timestamp": ist_str(trade_ns)[11:],
            "exchange_timestamp": ist_str(trade_ns),
        }

    def publish_triggered(self, book: AccountBook) -> None:
        """Publish stops the matcher has triggered but not filled (now OPEN)."""
        for paper_order in book.paper.open_orders():
            order = book.for_paper(paper_order.tag)
            if order is None:
                continue
            if paper_order.status is OrderStatus.OPEN and order.status == "TRIGGER PENDING":
                order.exchange_update_ns = self.now()
                order.record("OPEN")
                self.updates.publish(order)
