"""Order updates: every state change of an order, pushed to listeners as Kite does.

Kite tells an app of its orders twice — postbacks and the websocket's
``{"type": "order", "data": ...}`` — with the order dict plus postback-only keys
(``user_id`` to route it, ``unfilled_quantity``, ``app_id`` and ``checksum`` =
``sha256(order_id + order_timestamp + api_secret)``). The ticker is one listener; an
in-process client (``kitetui.sim.inproc``) or a test is another. A listener that
raises is logged and the others still hear the update: one bad reader must not stop
the exchange.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kitetui.sim.order_book import WORKING, SimOrder
from kitetui.sim.sessions import SimAccount

__all__ = ["OrderListener", "OrderUpdates"]

log = logging.getLogger(__name__)

OrderListener = Callable[[dict[str, Any]], None]


class OrderUpdates:
    """The listeners of order updates and the postback shape they are sent."""

    def __init__(self, accounts_by_user: Mapping[str, SimAccount]) -> None:
        """``accounts_by_user``: each order's account (its api_secret signs the update)."""
        self._accounts = accounts_by_user
        self._listeners: list[OrderListener] = []

    def subscribe(self, callback: OrderListener) -> Callable[[], None]:
        """``callback(order_dict)`` on every order state change; returns a remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def publish(self, order: SimOrder, status: str | None = None) -> None:
        """Send the order to the listeners; ``status`` overrides the book's status (a
        partial fill goes out as ``UPDATE``, as Kite's postbacks and websocket do)."""
        if not self._listeners:
            return
        data = order.to_kite()
        if status is not None:
            data["status"] = status
        account = self._accounts[order.user_id]
        data["user_id"] = order.user_id
        data["unfilled_quantity"] = order.pending_quantity if order.status in WORKING else 0
        data["app_id"] = 0
        data["checksum"] = hashlib.sha256(
            (order.order_id + data["order_timestamp"] + account.api_secret).encode("utf-8")
        ).hexdigest()
        for callback in list(self._listeners):
            try:
                callback(dict(data))
            except Exception:
                log.exception("order update listener failed")
