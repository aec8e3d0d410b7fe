"""Modifying an order at the simulated exchange, as Kite's ``PUT /orders`` does.

A modification changes price, quantity, type, trigger, validity or disclosed
quantity of a working order (or a waiting AMO request) in place: same order id, the
history gains ``MODIFY VALIDATION PENDING``, ``MODIFY PENDING``, ``MODIFIED`` and the
state it works in again. Kite caps an order at 25 modifications
(``MSG_MAX_MODIFICATIONS``, a NetworkException). A MARKET or SL-M needs
``market_protection`` unless the order already carries one (forum comment 52331); a
MARKET is priced as a protected LIMIT at once.

The change is tried first: the changed order is placed in the paper book under a new
tag (``<order_id>.<modification + 1>``) and only if the book takes it is the old
paper order cancelled, so a refused change leaves the order exactly as it was. A
stop that has triggered and stays a stop of the same type stays triggered.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kitetui.domain import Order, OrderStatus
from kitetui.sim.errors import KiteError, input_error
from kitetui.sim.order_book import AccountBook, SimOrder
from kitetui.sim.order_gate import OrderFields, OrderGate
from kitetui.sim.orders import OrderDesk
from kitetui.sim.rules import MSG_HOLDINGS, MSG_MAX_MODIFICATIONS

__all__ = ["MAX_MODIFICATIONS", "OrderModifier"]

MAX_MODIFICATIONS = 25


class OrderModifier:
    """``modify`` of the exchange's orders (module docstring)."""

    def __init__(self, desk: OrderDesk, gate: OrderGate) -> None:
        self.desk = desk
        self.gate = gate

    def modify(self, book: AccountBook, variety: str, order_id: str, params: dict[str, Any]) -> str:
        """``PUT /orders/{variety}/{order_id}``: price/qty/type/trigger/validity."""
        order = self.desk.live_order(book, variety, order_id, "modified")
        self.desk.check_amo_change(variety, order)
        if order.modifications >= MAX_MODIFICATIONS:
            raise KiteError(400, "NetworkException", MSG_MAX_MODIFICATIONS)
        fields = self.gate.modification(order, params)
        if self.desk.beyond_holdings(book, order, fields.quantity):
            raise input_error(MSG_HOLDINGS)
        if order.status == "AMO REQ RECEIVED":
            self._modify_waiting(order, fields)
        else:
            self._modify_working(book, order, fields)
        return order.order_id

    def _modify_waiting(self, order: SimOrder, fields: OrderFields) -> None:
        """An AMO request is only rewritten: it has not reached the exchange yet."""
        order.order_ns = self.desk.now()
        order.record("MODIFY VALIDATION PENDING")
        order.record("MODIFY PENDING")
        order.record("MODIFIED")
        _apply(order, fields.order_type, fields.price, fields.market_protection, fields)
        order.record("AMO REQ RECEIVED")
        self.desk.updates.publish(order)

    def _modify_working(self, book: AccountBook, order: SimOrder, fields: OrderFields) -> None:
        same_stop = (
            order.status == "OPEN"
            and order.order_type in ("SL", "SL-M")
            and order.order_type == fields.order_type
        )
        trial = _trial(order, fields, same_stop)
        reason = self.desk.protect(trial)
        if reason:
            raise input_error(reason)
        placed = book.paper.place(trial.to_paper(self.desk.now()))
        if placed.status is OrderStatus.REJECTED:
            order.refused_trials += 1  # the book keeps the refused tag: never reuse it
            raise input_error(trial.kite_reason(placed.reason))
        status = self._swap(book, order, trial, placed, same_stop)
        now = self.desk.now()
        order.order_ns = now
        order.record("MODIFY VALIDATION PENDING")
        order.record("MODIFY PENDING")
        order.exchange_ns = order.exchange_update_ns = now
        order.record("MODIFIED")
        _apply(order, trial.order_type, trial.price, trial.market_protection, fields)
        order.triggered = trial.triggered
        order.protected_pct = trial.protected_pct  # a MARKET the change made a band LIMIT
        order.paper_tag = trial.paper_tag
        order.record(status)
        self.desk.updates.publish(order)
        self.desk.after_accept(book, order)

    @staticmethod
    def _swap(
        book: AccountBook, order: SimOrder, trial: SimOrder, placed: Order, same_stop: bool
    ) -> str:
        """Retire the order's old paper order for the trial's; the status it works in."""
        if order.paper_tag:
            book.paper.cancel(order.paper_tag)
        book.stops.pop(order.order_id, None)
        book.by_paper_tag[trial.paper_tag] = order.order_id
        if trial.watched_by_sim:
            book.paper.cancel(trial.paper_tag)
            book.stops[order.order_id] = order
            return "TRIGGER PENDING"
        if same_stop:  # a triggered stop stays triggered: the paper book works it OPEN
            book.paper.restore([replace(placed, status=OrderStatus.OPEN)])
        elif trial.order_type in ("SL", "SL-M"):
            return "TRIGGER PENDING"
        return "OPEN"


def _trial(order: SimOrder, fields: OrderFields, same_stop: bool) -> SimOrder:
    """The order as the change would make it, under a paper tag the book has not seen
    (a refused trial's tag stays in the paper book, so a retry needs its own)."""
    order_type = fields.order_type
    # kept while the order stays a protected one (a re-priced band LIMIT too)
    keeps_protection = order_type in ("MARKET", "SL-M") or order_type == order.order_type
    return replace(
        order,
        order_type=order_type,
        quantity=fields.quantity,
        price=fields.price,
        trigger_price=fields.trigger_price,
        market_protection=fields.market_protection if keeps_protection else 0.0,
        triggered=order.triggered and same_stop,
        paper_tag=f"{order.order_id}.{order.modifications + 1}"
        + (f"r{order.refused_trials}" if order.refused_trials else ""),
        history=[],
    )


def _apply(
    order: SimOrder, order_type: str, price: float, protection: float, fields: OrderFields
) -> None:
    """Write an accepted change into the order (``order_type``, ``price`` and
    ``protection`` as the exchange priced them) and count it."""
    order.order_type = order_type
    order.quantity = fields.quantity
    order.price = price
    order.trigger_price = fields.trigger_price
    order.validity = fields.validity
    if fields.disclosed_quantity is not None:
        order.disclosed_quantity = fields.disclosed_quantity
    order.market_protection = protection
    order.modifications += 1
