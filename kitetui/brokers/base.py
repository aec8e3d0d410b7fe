"""The one shape every broker has, so nothing above it asks which broker it is.

The order manager talks only to this protocol, so paper, the local simulated exchange
and live Kite are interchangeable. Orders are identified by our client ``tag``
(journaled before any broker call); ``lookup`` exists for rule 3 — after a placement
timeout the caller asks whether the broker has the tag before deciding anything, and
never blind-retries.

Three failures are told apart, because the exit manager answers each differently:

* ``NotAccepted`` — the broker knows the exchange never took the order (HTTP 429, a
  local rate limit, a timeout whose tag is not in the order book). Nothing exists under
  that tag, so a retry under a *fresh* tag after a backoff is safe.
* ``PlacementUnknown`` — sent, and the order book cannot be read to say what became of
  it: nothing may be sent for that symbol until ``lookup`` answers.
* ``ModifyRefused`` — the exchange refused a modification (a bad price, the
  25-modifications cap); the order stands as it was.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence, Sized
from typing import Any, Protocol, runtime_checkable

from kitetui.domain import Bar, Fill, Order, OrderType, Tick


@runtime_checkable
class Broker(Protocol):
    async def place(self, order: Order) -> Order:
        """Submit ``order``; return it as the broker took it: OPEN, TRIGGER_PENDING or
        REJECTED (with ``reason``), ``broker_order_id`` set. Raises ``NotAccepted`` when
        the exchange certainly never took it and ``PlacementUnknown`` when no one can
        tell."""
        ...

    async def modify(
        self,
        tag: str,
        *,
        ts_ns: int,
        order_type: OrderType | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        quantity: int | None = None,
    ) -> Order | None:
        """Change a working order in place (same tag, same exchange order); the order as
        the broker now has it, or None if it is no longer working (filled or cancelled
        first). ``ts_ns`` is when the change is made: it acts on prices after it.
        Raises ``ModifyRefused`` if the change is refused and the order stands."""
        ...

    async def cancel(self, tag: str) -> Order | None:
        """Cancel an open order; the CANCELLED order, or None if it was not open."""
        ...

    async def lookup(self, tag: str) -> Order | None:
        """The broker's latest view of the order with this client tag, or None."""
        ...

    async def refresh(self, tag: str) -> tuple[Order | None, list[Fill]]:
        """``lookup``, plus the fills that view shows and no update has delivered yet
        (deterministic ids: a fill delivered twice is applied once)."""
        ...

    async def open_orders(self) -> list[Order]:
        """Every order the broker still works (OPEN or TRIGGER_PENDING)."""
        ...

    def restore(self, orders: Sequence[Order]) -> None:
        """After a restart: the journaled orders, so tags are never sent twice and a
        simulated book works its resting orders again."""
        ...

    def on_market(self, item: Bar | Tick) -> list[tuple[Order, Fill]]:
        """A print reached the exchange: the fills it brings (a simulated exchange's;
        a real one's come through ``apply_update``)."""
        ...

    def take_triggered(self) -> list[Order]:
        """Stops that triggered and rest unfilled since the last call (simulated)."""
        ...

    def watched(self) -> tuple[Container[str], Sized]:
        """Live views of what a print must reach the broker for: the symbols with an
        order working here, and the stops triggered and not yet taken. For a print of a
        symbol not in the first while the second is empty, ``on_market`` and
        ``take_triggered`` would both answer [] and change nothing, so the desk's gate,
        which binds the two views once a batch, does not make the calls (most bars of a
        backtest are of a symbol with nothing working). A real exchange: both empty."""
        ...

    def stop_bands(self) -> Mapping[str, tuple[float, float]]:
        """A live view of the symbols whose working orders here are all stops waiting
        for their triggers, each with its band: (highest sell trigger, lowest buy
        trigger). While no triggered stop waits to be taken, a bar of such a symbol whose
        low is above the first and whose high is below the second would have
        ``on_market`` and ``take_triggered`` answer [] and change nothing, so the gate,
        which binds this once a batch with ``watched``, does not make the calls (most
        bars of a held symbol pass its stop by). A symbol not in it may be asked about
        as ``watched`` says. A real exchange (or a simulated one that keeps no band):
        empty."""
        ...

    def settle_at_expiry(
        self, tags: Sequence[str], ts_ns: int, price: float
    ) -> list[tuple[Order, Fill]]:
        """A simulated exchange settling an expired contract: the named closing orders
        filled at exactly the settlement ``price`` (zero for an option that lapses), not
        traded. A real exchange settles on its own and reports nothing here: []."""
        ...

    def take_filled(self) -> list[tuple[Order, Fill]]:
        """Fills the exchange made outside ``on_market`` since the last call (simulated:
        a stop placed in reaction to a bar's fill that the rest of that bar went
        through); the reaction to the last print is over."""
        ...

    def apply_update(self, data: Mapping[str, Any]) -> tuple[Order | None, list[Fill]]:
        """One order update from the exchange: the order's new state and its new fills
        (None for an order that is not ours to track)."""
        ...


class BrokerError(Exception):
    """A broker call failed; the message is safe to show (no secrets)."""


class BrokerUnavailable(BrokerError):
    """A read kept failing (network, 5xx, 429) after every retry."""


class NotAccepted(BrokerError):
    """The exchange never took this order: a retry under a fresh tag is safe."""

    def __init__(self, message: str, tag: str) -> None:
        super().__init__(message)
        self.tag = tag


class ModifyRefused(BrokerError):
    """A modification was refused; the order is unchanged at the exchange."""

    def __init__(self, message: str, tag: str) -> None:
        super().__init__(message)
        self.tag = tag


class PlacementUnknown(BrokerError):
    """A placement's outcome is unknown and the order book could not be read to settle
    it. Pause trading; ``lookup(tag)`` later decides."""

    def __init__(self, message: str, tag: str) -> None:
        super().__init__(message)
        self.tag = tag
