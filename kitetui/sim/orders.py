"""Placing and cancelling orders at the simulated exchange, through Kite's order states.

An order the gate (``kitetui.sim.order_gate``) accepts enters the book and walks
Kite's states, each a row of its history: ``PUT ORDER REQ RECEIVED`` -> ``VALIDATION
PENDING`` -> (``REJECTED`` by a ``reject`` fault or the RMS: a CNC sell beyond the
holdings, a stop's trigger on the wrong side of the last price, or more margin than is
available) -> ``OPEN PENDING``
-> ``OPEN``/``TRIGGER PENDING`` (or ``REJECTED`` by the matcher) -> ``COMPLETE``/
``CANCELLED``. AMO orders (taken outside market hours only: the gate) wait as ``AMO
REQ RECEIVED`` until the market clock enters the next IST day. Cancels add ``CANCEL
PENDING``.

Sending an order to the "exchange" prices a protected MARKET order as Kite does — a
LIMIT at LTP +/- the protection band, inside the circuit — and places it in the
account's ``PaperBook`` under the tag ``<order_id>.<modification>``. A protected SL-M
is watched by the sim instead (``kitetui.sim.matching``). With ``fill_on_placement``
(or IOC validity) an accepted order is matched at once against the last traded price,
offering the last trade's liquidity, as a real exchange fills a marketable order; an
IOC order's unfilled rest is cancelled.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from kitetui.clock import ist_minute_of_day
from kitetui.domain import OrderStatus
from kitetui.market.instruments import Instrument
from kitetui.sim.errors import input_error, order_error
from kitetui.sim.faults import FaultInjector
from kitetui.sim.fills import FillRecorder
from kitetui.sim.margins import Margins
from kitetui.sim.market import SimMarket, ist_str
from kitetui.sim.order_book import TERMINAL, WORKING, AccountBook, SimOrder
from kitetui.sim.order_gate import OrderGate
from kitetui.sim.order_updates import OrderUpdates
from kitetui.sim.rules import (
    MSG_HOLDINGS,
    MSG_HOLDINGS_RAW,
    MSG_MASS_CANCEL,
    MSG_MIS_AFTER_SQUARE_OFF,
    MSG_NOT_TRADED,
    SimRules,
    auto_protection_percent,
    auto_square_off_minute,
    is_option,
    protection_price,
)
from kitetui.sim.sessions import SimAccount
from kitetui.sim.tape import TradeTape

__all__ = ["OrderDesk"]

FIRST_EXCHANGE_ORDER_ID = 1_300_000_000_000_000


class OrderDesk:
    """Placement, cancellation and the path to the matcher (module docstring)."""

    def __init__(
        self,
        market: SimMarket,
        rules: SimRules,
        faults: FaultInjector,
        gate: OrderGate,
        margins: Margins,
        fills: FillRecorder,
        updates: OrderUpdates,
        tape: TradeTape,
        *,
        fill_on_placement: bool = True,
        enforce_margins: bool = True,
    ) -> None:
        self.market = market
        self.rules = rules
        self.faults = faults
        self.gate = gate
        self.margins = margins
        self.fills = fills
        self.updates = updates
        self.tape = tape
        self.fill_on_placement = fill_on_placement
        self.enforce_margins = enforce_margins
        self._order_seq = itertools.count(1)  # order ids are exchange-wide

    def now(self) -> int:
        return self.market.now_ns

    # ------------------------------------------------------------------ placement

    def place(
        self, account: SimAccount, book: AccountBook, variety: str, params: dict[str, Any]
    ) -> str:
        """``POST /orders/{variety}``; returns the order id (the order may end REJECTED)."""
        order = self._received(account, book, variety, self.gate.placement(variety, params))
        fault = self.faults.take_reject()
        if fault is not None:
            self.reject(order, fault.message or "Order rejected by the simulated RMS.")
            return order.order_id
        if self.beyond_holdings(book, order, order.quantity):
            self.refuse(order, MSG_HOLDINGS, MSG_HOLDINGS_RAW)
            return order.order_id
        if self.fresh_mis_after_square_off(book, order):
            self.reject(order, MSG_MIS_AFTER_SQUARE_OFF)
            return order.order_id
        reason = self._rms_check(book, order)
        if reason:
            self.reject(order, reason)
            return order.order_id
        if variety == "amo":
            order.record("AMO REQ RECEIVED")
            book.amo_queue.append(order.order_id)
            self.updates.publish(order)
            return order.order_id
        self.send(book, order)
        return order.order_id

    def place_for_rms(
        self, account: SimAccount, book: AccountBook, instrument: Instrument, quantity: int
    ) -> SimOrder:
        """The broker's own order closing ``quantity`` (signed: the position) of an MIS
        position: MARKET with automatic protection, untagged, past the gate and the
        account's faults, as Zerodha's RMS squares off."""
        fields = {
            "instrument": instrument,
            "transaction_type": "SELL" if quantity > 0 else "BUY",
            "order_type": "MARKET",
            "product": "MIS",
            "quantity": abs(quantity),
            "price": 0.0,
            "trigger_price": 0.0,
            "validity": "DAY",
            "validity_ttl": 0,
            "disclosed_quantity": 0,
            "market_protection": -1,
            "tag": None,
        }
        order = self._received(account, book, "regular", fields)
        self.send(book, order)
        return order

    def _received(
        self, account: SimAccount, book: AccountBook, variety: str, fields: dict[str, Any]
    ) -> SimOrder:
        """A new order in the book, through Kite's first two states."""
        order = SimOrder(
            order_id=self._new_order_id(),
            user_id=account.user_id,
            variety=variety,
            order_ns=self.now(),
            guid=secrets.token_hex(8),
            **fields,
        )
        book.orders[order.order_id] = order
        order.record("PUT ORDER REQ RECEIVED")
        order.record("VALIDATION PENDING")
        return order

    def end_day(self, book: AccountBook) -> None:
        """The session is over: what is unmatched is cancelled ("exchange mass cancel"),
        and the order book and tradebook start the next day empty, as Kite's list only
        the day's orders and trades, and the positions list without those closed.
        AMO requests for the next session stay."""
        for order in list(book.orders.values()):
            if order.status not in TERMINAL and order.order_id not in book.amo_queue:
                self.cancel(book, order, MSG_MASS_CANCEL)
        book.orders = {i: o for i, o in book.orders.items() if i in book.amo_queue}
        book.by_paper_tag = {t: i for t, i in book.by_paper_tag.items() if i in book.orders}
        book.trades = []
        # a position closed during the day is gone from the next day's list; one still
        # open is carried (its day figures carried with it: a simplification)
        book.positions = {key: row for key, row in book.positions.items() if row.quantity}

    def _new_order_id(self) -> str:
        seq = next(self._order_seq)
        day = ist_str(self.now())[2:10].replace("-", "")
        return f"{day}{seq:09d}"

    def beyond_holdings(self, book: AccountBook, order: SimOrder, quantity: int) -> bool:
        """A CNC sell of more than the account can deliver (``AccountBook.sellable``):
        Kite's RMS rejects it ("To sell stocks as CNC, stocks need to be available in
        holdings", kite.trade/docs/kite/orders; raw "RMS:Rule: Check holdings")."""
        if not self.rules.cnc_holdings or order.product != "CNC" or order.buy:
            return False
        wanted = quantity - order.filled_quantity
        return wanted > book.sellable(order.instrument.tradingsymbol, exclude=order.order_id)

    def fresh_mis_after_square_off(self, book: AccountBook, order: SimOrder) -> bool:
        """An MIS order past the intraday auto square-off time that does not close part
        of the MIS position (with the orders already working to close it): Zerodha
        allows no fresh MIS order then (support article "What are the auto square-off
        timings for open intraday positions?"). An AMO is for the next session and is
        not one."""
        if not self.rules.auto_square_off or order.product != "MIS" or order.variety == "amo":
            return False
        minute = ist_minute_of_day(self.now())
        if minute < auto_square_off_minute(order.instrument.exchange):
            return False
        row = book.position_of(order)
        held = row.quantity if row is not None else 0
        closable = -held if order.buy else held
        for other in book.orders.values():  # what closes it already, the RMS's own too
            same_side = other.buy == order.buy and other.product == "MIS"
            if same_side and other.key == order.key and other.order_id != order.order_id:
                closable -= other.pending_quantity if other.status not in TERMINAL else 0
        return order.quantity > closable

    def _rms_check(self, book: AccountBook, order: SimOrder) -> str:
        """Why the RMS would reject the order (Kite's wording where known), or ""."""
        reason = self._trigger_side(order)
        if reason or not self.enforce_margins:
            return reason
        required = self.margins.order_margin(book, order)
        if required <= 0:
            return ""
        available = self.margins.summary(book, exclude=order.order_id)["net"]
        if required > available:
            return (
                f"Insufficient funds. Required margin is {required:.2f} but available "
                f"margin is {available:.2f}. Check the orderbook for open orders."
            )
        return ""

    def _trigger_side(self, order: SimOrder) -> str:
        """A stop must trigger beyond the last price (not for AMO: no live price)."""
        ltp = self.market.last_price(order.key)
        if ltp is None or order.order_type not in ("SL", "SL-M") or order.variety == "amo":
            return ""
        if order.buy and order.trigger_price <= ltp:
            return (
                "Trigger price for stoploss buy orders should be higher than the last traded price."
            )
        if not order.buy and order.trigger_price >= ltp:
            return (
                "Trigger price for stoploss sell orders should be lower than the last traded price."
            )
        return ""

    def reject(self, order: SimOrder, message: str) -> None:
        """An RMS rejection (``status_message_raw`` is ``RMS:`` + the message)."""
        self.refuse(order, message, f"RMS:{message}")

    def refuse(self, order: SimOrder, message: str, raw: str | None) -> None:
        """The order ends REJECTED now, with Kite's ``message`` and the ``raw`` one."""
        order.status_message = message
        order.status_message_raw = raw
        order.exchange_update_ns = self.now()
        order.record("REJECTED")
        self.updates.publish(order)

    def send(self, book: AccountBook, order: SimOrder) -> None:
        """To the exchange: priced if protected, placed in the paper book, and matched
        at once when the desk fills on placement."""
        order.record("OPEN PENDING")
        reason = self.protect(order)
        if reason:
            self.refuse(order, reason, reason)
            return
        order.paper_tag = f"{order.order_id}.{order.modifications}"
        book.by_paper_tag[order.paper_tag] = order.order_id
        placed = book.paper.place(order.to_paper(self.now()))
        now = self.now()
        if placed.status is OrderStatus.REJECTED:
            self.refuse(order, order.kite_reason(placed.reason), placed.reason)
            return
        if order.watched_by_sim:  # validated by the paper; its trigger is ours to watch
            book.paper.cancel(order.paper_tag)
            book.stops[order.order_id] = order
        order.exchange_order_id = f"{FIRST_EXCHANGE_ORDER_ID + int(order.order_id[-9:])}"
        order.exchange_ns = order.exchange_update_ns = now
        order.record(placed.status.value)
        self.updates.publish(order)
        self.after_accept(book, order)

    def protect(self, order: SimOrder, ltp: float | None = None) -> str:
        """Turn a protected MARKET order into Kite's LIMIT at the band price around
        ``ltp`` (default: the last traded price); "" or why it cannot be priced."""
        if order.order_type != "MARKET" or order.market_protection == 0:
            return ""
        if ltp is None:
            ltp = self.market.last_price(order.key)
        if ltp is None:
            return MSG_NOT_TRADED
        inst = order.instrument
        percent = order.market_protection
        if percent < 0:
            percent = auto_protection_percent(is_option(inst), ltp)
        price = protection_price(ltp, percent, order.buy, inst.tick_size or 0.05)
        state = self.market.state_for_key(order.key)
        if self.rules.circuit_limits and state is not None:
            lower, upper = state.circuit_limits()
            if upper > 0:  # never priced outside the day's range
                price = min(max(price, lower), upper)
        order.order_type = "LIMIT"
        order.price = price
        order.protected_pct = percent
        return ""

    def after_accept(self, book: AccountBook, order: SimOrder) -> None:
        """Match a new/modified order against the last price; IOC leftovers cancel."""
        ltp = self.market.last_price(order.key)
        working = order.order_id not in book.stops
        if working and ltp is not None and (self.fill_on_placement or order.validity == "IOC"):
            quantity = self.tape.last_quantity(order.key)
            fills = book.paper.on_price(order.key, self.now() + 1, ltp, quantity)
            self.fills.record(book, fills)
            self.fills.publish_triggered(book)
        if order.validity == "IOC" and order.status in WORKING:
            self.cancel(book, order, "IOC order cancelled: no match at placement.")

    def release_amo(self, book: AccountBook) -> None:
        """Send the AMO requests still waiting (the new day's first batch has played)."""
        queue, book.amo_queue = book.amo_queue, []
        for order_id in queue:
            order = book.orders[order_id]
            if order.status == "AMO REQ RECEIVED":
                order.order_ns = self.now()
                self.send(book, order)

    # ------------------------------------------------------------------ cancellation

    def cancel_order(self, book: AccountBook, variety: str, order_id: str) -> str:
        """``DELETE /orders/{variety}/{order_id}``."""
        order = self.live_order(book, variety, order_id, "cancelled")
        self.check_amo_change(variety, order)
        order.record("CANCEL PENDING")
        self.cancel(book, order, None)
        return order.order_id

    @staticmethod
    def live_order(book: AccountBook, variety: str, order_id: str, verb: str) -> SimOrder:
        """The order a modify or cancel acts on, or Kite's refusal.

        Both routes check the URL's variety against the order's and refuse an order that
        has reached a terminal state, in the same words but for ``verb`` ("modified",
        "cancelled").
        """
        order = book.order(order_id)
        if variety != order.variety and not _released_amo(variety, order):
            raise input_error("Invalid `variety` for this order.")
        if order.status in TERMINAL:
            raise order_error(
                f"Order cannot be {verb} as it is {order.status.lower()}."
                if order.status != "COMPLETE"
                else f"Order cannot be {verb} as it is already completed."
            )
        return order

    def check_amo_change(self, variety: str, order: SimOrder) -> None:
        """Modifying or cancelling through ``/orders/amo/..`` is refused while Zerodha
        blocks AMOs (the "What is an After Market Order" article: place, modify or cancel
        AMOs only outside market hours); an AMO the exchange already has is changed
        through ``/orders/regular/..`` (kite.trade forum comment 40302)."""
        if variety == "amo":
            self.gate.check_amo_hours(order.instrument)

    def cancel(self, book: AccountBook, order: SimOrder, message: str | None) -> None:
        """End a working (or waiting) order CANCELLED, its unfilled rest cancelled."""
        if order.paper_tag:
            book.paper.cancel(order.paper_tag)
        book.stops.pop(order.order_id, None)
        if order.order_id in book.amo_queue:
            book.amo_queue.remove(order.order_id)
        order.cancelled_quantity = order.pending_quantity
        order.status_message = message
        order.exchange_update_ns = self.now()
        order.record("CANCELLED")
        self.updates.publish(order)


def _released_amo(variety: str, order: SimOrder) -> bool:
    """An AMO sent to the exchange is modified and cancelled as a regular order, though
    the order book still says ``amo`` (Kite staff, kite.trade forum comment 40302)."""
    return variety == "regular" and order.variety == "amo" and order.status != "AMO REQ RECEIVED"
