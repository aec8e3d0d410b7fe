"""Live: the day's charges as kitetui journaled them, held against Kite's own contract note.

Kite can price executed orders itself (``POST /charges/orders``, the virtual contract
note). At the end of a live session the desk sends it the day's executed orders (each
with Kite's order id, its filled quantity and Kite's average price) and compares
Kite's figures with ours, order by order and figure by figure
(``kitetui.trading.contract_note.compare_notes``). Ours are each order's running
charges (``FillCharger.state``): exactly the sum of what its fills were journaled with,
except a CNC order squared off the same day, re-priced by the fill that squared it off
(which journaled the correction: ``kitetui.trading.same_day``), as Kite's note shows it.
The DP charge a CNC sale's fill carries is in neither: it is not on a contract note.

Every difference is a ``ChargesMismatched`` event (WARNING) naming the order, the
figure, our amount and Kite's; the check itself ends with ``ContractNoteChecked``, or
``ContractNoteCheckFailed`` when Kite could not be asked or answered something
unreadable. Nothing here changes the ledger: the journal keeps what was charged, and
the events say where Kite disagrees (a rate that changed, a rounding we do not share).

Kite prices an order on ``average_price × quantity``; ours is the sum of the fills'
turnovers. They agree to the paisa for any real order, so figures are compared to
half a paisa (``NOTE_TOLERANCE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kitetui.brokers.base import BrokerError
from kitetui.domain import Event, Order
from kitetui.events import EventKind
from kitetui.money import Charges
from kitetui.trading.charges import OrderCharges
from kitetui.trading.contract_note import (
    ContractNote,
    ContractNoteError,
    NoteCharges,
    NoteDifference,
    NoteLine,
    compare_notes,
    parse_kite_contract_note,
)

if TYPE_CHECKING:
    from kitetui.trading.trader import Trader

__all__ = ["NOTE_TOLERANCE", "NoteCheck", "check_contract_note", "day_note"]

NOTE_TOLERANCE = Decimal("0.005")  # rupees: half a paisa


@dataclass(frozen=True, slots=True)
class NoteCheck:
    """What one check found: the orders sent and every figure that differed."""

    orders: tuple[Order, ...]
    differences: tuple[NoteDifference, ...]


def day_note(trader: Trader, day: date) -> tuple[list[Order], list[dict[str, Any]], ContractNote]:
    """The day's executed orders that Kite knows (a broker order id), the request Kite's
    ``get_virtual_contract_note`` takes for them, and our note in Kite's shape."""
    orders: list[Order] = []
    requests: list[dict[str, Any]] = []
    lines: list[NoteLine] = []
    for order in trader.orders.values():
        state = trader.charger.state(order.tag)
        if state is None or not state.quantity or not order.broker_order_id:
            continue
        if state.spec.trade_date != day:
            continue
        orders.append(order)
        requests.append(
            {
                "order_id": order.broker_order_id,
                "exchange": order.exchange.value,
                "tradingsymbol": order.symbol,
                "transaction_type": order.side.value,
                "variety": order.variety.value,
                "product": order.product.value,
                "order_type": order.order_type.value,
                "quantity": state.quantity,
                "average_price": order.avg_price,
            }
        )
        lines.append(
            NoteLine(
                transaction_type=order.side.value,
                tradingsymbol=order.symbol,
                exchange=order.exchange.value,
                variety=order.variety.value,
                product=order.product.value,
                order_type=order.order_type.value,
                quantity=state.quantity,
                price=Decimal(repr(order.avg_price)),
                charges=NoteCharges.from_charges(_as_kite_prices(state), state.rates.tax_type),
                order_id=order.broker_order_id,
            )
        )
    return orders, requests, ContractNote(tuple(lines))


async def check_contract_note(broker: Any, trader: Trader, day: date) -> NoteCheck | None:
    """Ask Kite (``broker.contract_note``) for the day's note and journal every
    difference from ours; None when the check could not be made (said in an event)."""
    orders, requests, ours = day_note(trader, day)
    if not requests:
        _say(
            trader, EventKind.CONTRACT_NOTE_CHECKED, "INFO", f"no executed orders on {day} to check"
        )
        return NoteCheck((), ())
    try:
        kite = parse_kite_contract_note(await broker.contract_note(requests))
    except (BrokerError, ContractNoteError) as exc:
        _say(
            trader,
            EventKind.CONTRACT_NOTE_CHECK_FAILED,
            "WARNING",
            f"Kite's contract note for {len(requests)} orders of {day} could not be checked: {exc}",
        )
        return None
    differences = compare_notes(ours, kite, NOTE_TOLERANCE)
    for difference in differences:
        order = orders[difference.line - 1] if difference.line else None
        trader.record_event(
            Event(
                ts_ns=0,
                kind=EventKind.CHARGES_MISMATCHED,
                level="WARNING",
                symbol=order.symbol if order is not None else "",
                engine=order.engine if order is not None else "",
                message=f"Kite's contract note differs from ours: {difference.describe()}",
                data={
                    "tag": order.tag if order is not None else "",
                    "order_id": order.broker_order_id if order is not None else "",
                    "field": difference.field,
                    "ours": difference.ours,
                    "kite": difference.kite,
                },
            )
        )
    _say(
        trader,
        EventKind.CONTRACT_NOTE_CHECKED,
        "WARNING" if differences else "INFO",
        f"{len(requests)} orders of {day} held against Kite's contract note: "
        f"{len(differences)} difference(s)",
    )
    return NoteCheck(tuple(orders), differences)


def _as_kite_prices(state: OrderCharges) -> Charges:
    """An order's charges as Kite's virtual contract note prices it: from the order's
    fields alone, so without the fee of an order the broker squared off (the RMS's
    ₹50 + GST is on the day's real contract note, not on a note Kite computes from what
    it is sent)."""
    if not state.spec.squared_off:
        return state.charges
    return state.rates.charges(state.turnover, executed=True)


def _say(trader: Trader, kind: str, level: str, message: str) -> None:
    trader.record_event(Event(ts_ns=0, kind=kind, level=level, message=message))
