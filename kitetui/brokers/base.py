"""The one shape every broker has: place, cancel, look up by tag, list open orders.

The order manager talks only to this protocol, so paper, the local simulated exchange
and live Kite are interchangeable. Orders are identified by our client ``tag``
(journaled before any broker call); ``lookup`` exists for rule 3 — after a placement
timeout the caller asks whether the broker has the tag before deciding anything, and
never blind-retries.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kitetui.domain import Order


@runtime_checkable
class Broker(Protocol):
    async def place(self, order: Order) -> Order:
        """Submit ``order``; return it as the broker took it: OPEN, TRIGGER_PENDING or
        REJECTED (with ``reason``), ``broker_order_id`` set."""
        ...

    async def cancel(self, tag: str) -> Order | None:
        """Cancel an open order; the CANCELLED order, or None if it was not open."""
        ...

    async def lookup(self, tag: str) -> Order | None:
        """The broker's latest view of the order with this client tag, or None."""
        ...

    async def open_orders(self) -> list[Order]:
        """Every order the broker still works (OPEN or TRIGGER_PENDING)."""
        ...


class BrokerError(Exception):
    """A broker call failed; the message is safe to show (no secrets)."""


class BrokerUnavailable(BrokerError):
    """A read kept failing (network, 5xx, 429) after every retry."""


class PlacementUnknown(BrokerError):
    """A placement's outcome is unknown and the order book could not be read to settle
    it. Pause trading; ``lookup(tag)`` later decides."""

    def __init__(self, message: str, tag: str) -> None:
        super().__init__(message)
        self.tag = tag
