"""Kite's order objects read as ours: statuses, timestamps, tags and numbers.

Kite reports an order as a loose dict (REST rows, websocket updates, postbacks) with
statuses that include a dozen transient ones; ``KiteBroker`` and the reconciler both
read them, so the reading lives here, once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kitetui.clock import IST
from kitetui.domain import OrderStatus, OrderType

log = logging.getLogger(__name__)

WORKING = frozenset({OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING})
STOPS = frozenset({OrderType.SL, OrderType.SL_M})

# Kite's settled statuses. Everything else Kite reports (PUT ORDER REQ RECEIVED,
# VALIDATION PENDING, OPEN PENDING, MODIFY VALIDATION PENDING, MODIFY PENDING,
# MODIFIED, CANCEL PENDING, AMO REQ RECEIVED, TRIGGER PENDING's own transients, the
# postback's UPDATE) is an order still alive at the exchange: see ``map_status``.
_KITE_STATUS: dict[str, OrderStatus] = {
    "OPEN": OrderStatus.OPEN,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "COMPLETE": OrderStatus.COMPLETE,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCELLED AMO": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
}
KNOWN_TRANSIENT = frozenset(
    {
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "CANCEL PENDING",
        "AMO REQ RECEIVED",
        "TRIGGER PENDING",
        "UPDATE",
    }
)


def map_status(
    kite_status: str | None, order_type: OrderType, previous: OrderStatus | None = None
) -> OrderStatus:
    """Kite's status string as our ``OrderStatus``.

    Settled statuses map one to one. A transient one means the order is alive at Kite
    but between states: it keeps the working status it had (a MODIFY PENDING on a
    triggered stop stays OPEN), or, new to us, is TRIGGER_PENDING for SL/SL-M and OPEN
    otherwise."""
    status = (kite_status or "").strip().upper()
    mapped = _KITE_STATUS.get(status)
    if mapped is not None:
        return mapped
    if status not in KNOWN_TRANSIENT:
        log.warning("unknown Kite order status %r: treated as working", kite_status)
    if previous in WORKING:
        return previous
    return OrderStatus.TRIGGER_PENDING if order_type in STOPS else OrderStatus.OPEN


def ts_ns_of(value: Any) -> int | None:
    """Kite's naive-IST timestamp (a datetime from the SDK, or the websocket's string)."""
    if isinstance(value, str) and len(value) == 19:
        try:
            value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=IST)
        return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000
    return None


def exchange_time(d: Mapping[str, Any]) -> int:
    """The exchange's clock as an order row shows it (its last update, else when it was
    placed); 0 when the row says nothing readable."""
    return ts_ns_of(d.get("exchange_update_timestamp")) or ts_ns_of(d.get("order_timestamp")) or 0


def order_tags(d: Mapping[str, Any]) -> list[str]:
    """The order's own tags, the ``tag`` first. Kite's labels are left out: a protected
    market order it turned into a LIMIT carries ``mktp`` and ``mktp:2.00`` (orders.json),
    the same on every such order, so they would make two orders of the account one."""
    tags = [str(t) for t in (d.get("tags") or []) if t and not _kite_label(str(t))]
    if d.get("tag"):
        tags.insert(0, str(d["tag"]))
    return tags


def _kite_label(tag: str) -> bool:
    return tag == "mktp" or tag.startswith("mktp:")


def number(value: Any) -> float:
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
