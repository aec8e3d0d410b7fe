"""Live: a contract's settlement at expiry, booked in the desk's books; nothing is sent.

At Kite the exchange settles a contract held into its expiry by itself: no order, no
trade, no order update. Kite lists the position until its day ends and not the next
morning; the P&L lands in the account. Nothing would ever close the desk's position:
its stop could never fill, its P&L and exposure would stay in the loss limits, and
the next start's reconcile would find Kite flat and the desk not. So the desk books
the settlement itself, as the paper exchange fills it where kitetui plays the
exchange (``kitetui.supervisor.expiry`` works out the price and says what it did):

1. ``end_orders``: each working order of the contract is cancelled at Kite (Kite
   cancels what is unmatched after the close; a cancel that reads a fill brings it in
   first); one Kite no longer works, its end unheard, is marked CANCELLED here with
   an ``OrderLapsed`` event. The caller marks the contract settled first
   (``Trader.settled_at_expiry``), so neither the trader nor the exit manager sends
   anything for it from then on (``Trader.contract_expired``).
2. ``book``: what is still held is closed by one order written in the journal as
   COMPLETE and never sent (no broker order id; its reason names the settlement's kind
   as the paper close's does, so it is charged the same, and says it was ``BOOKED``),
   and its fill at the settlement price.

``remember`` reads such an order back after a restart: the contract is settled, and
Kite listing the position until its day ends is no drift (``Reconciler``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kitetui.domain import (
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
    evolve,
)
from kitetui.events import EventKind

if TYPE_CHECKING:
    from kitetui.trading.trader import Trader

__all__ = ["BOOKED", "Booked", "book", "end_orders", "remember"]

# In the reason of a settlement the desk booked itself: no such order went to Kite.
BOOKED = "booked by kitetui, not sent: the exchange settles it"


@dataclass(frozen=True, slots=True)
class Booked:
    """One settlement booked: its order, the signed quantity it closed, the P&L it
    realized (paise, before charges) and what its fill was charged (paise)."""

    order: Order
    quantity: int
    realized_paise: int
    charges_paise: int


async def end_orders(trader: Trader, symbol: str, why: str) -> list[str]:
    """End every working order of ``symbol`` that is ours: cancelled at Kite, or marked
    CANCELLED here when Kite no longer works it (journaled, said); what became of each,
    in words. The broker's own orders (``Trader._foreign``) are Kite's to end."""
    ended: list[str] = []
    for order in trader.open_orders(symbol):
        if trader.not_ours(order.tag):
            continue
        name = f"{order.purpose.value.lower()} {order.tag}"
        if await trader.cancel(order.tag, why):
            ended.append(f"{name} cancelled at Kite")
            continue
        current = trader.orders.get(order.tag, order)
        if current.status.is_terminal:  # filled or ended first: the read brought it in
            ended.append(f"{name} found {current.status.value} at Kite")
            continue
        trader.record_order_event(
            current,
            EventKind.ORDER_LAPSED,
            "WARNING",
            f"{order.purpose.value} {order.tag} ({order.side.value} {order.pending_qty} "
            f"{symbol}) is not worked at Kite (or its cancel was not confirmed): it ended "
            "with its contract at expiry, and Kite cancels what is unmatched after the close",
        )
        await trader.on_order_state(
            evolve(current, status=OrderStatus.CANCELLED, reason=f"lapsed: {why}"),
            before=current,
        )
        ended.append(f"{name} marked cancelled (Kite no longer works it)")
    return ended


async def book(
    trader: Trader, symbol: str, exchange: Exchange, price: float, reason: str, ts_ns: int
) -> Booked | None:
    """Close what the desk holds of ``symbol`` at the settlement ``price`` by an order
    journaled COMPLETE and never sent, and its fill (charged as ``reason``'s kind);
    None when it holds nothing (or the settlement was booked at this instant before)."""
    held = trader.position_qty(symbol)
    position = trader.portfolio.position(symbol)
    if not held or position is None:
        return None
    tag = trader.tag_for("expiry", symbol, ts_ns)
    if tag in trader.placed_tags:
        return None
    side = Side.SELL if held > 0 else Side.BUY
    order = Order(
        tag=tag,
        engine=position.engine,
        symbol=symbol,
        exchange=exchange,
        side=side,
        quantity=abs(held),
        order_type=OrderType.MARKET,
        product=position.product,
        purpose=OrderPurpose.SQUARE_OFF,
        status=OrderStatus.COMPLETE,  # terminal as written: never looked up, never placed
        ts_ns=ts_ns,
        reason=f"{reason}; {BOOKED}",
    )
    trader.track(order)
    await trader.journal.write_order(order)
    trader.counts["orders"] += 1
    realized_before = position.realized_paise
    charges_before = position.charges_paise
    fill = Fill(
        fill_id=f"{tag}-settled",
        tag=tag,
        symbol=symbol,
        side=side,
        quantity=abs(held),
        price=price,
        ts_ns=ts_ns,
        engine=position.engine,
        product=position.product,
    )
    await trader.on_fills([(order, fill)])
    after = trader.portfolio.position(symbol)
    realized = (after.realized_paise if after else realized_before) - realized_before
    charged = (after.charges_paise if after else charges_before) - charges_before
    trader.settled_at_expiry[symbol] = held
    return Booked(trader.orders.get(tag, order), held, realized, charged)


def remember(trader: Trader, order: Order) -> None:
    """After a restart: a settlement the desk booked (``book``) marks its contract
    settled again, with the quantity it closed."""
    if BOOKED in order.reason and order.filled_qty:
        closed = order.filled_qty if order.side is Side.SELL else -order.filled_qty
        trader.settled_at_expiry[order.symbol] = closed
