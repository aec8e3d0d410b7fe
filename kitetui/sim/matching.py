"""Matching the market's batches against every account's working orders.

Each batch the market plays (``SimMarket.add_listener``) is first remembered on the
tape (last traded quantities, LPP references), then, account by account: waiting AMO
requests of a new day are sent, and each tick or candle in turn is matched by the
account's ``PaperBook`` (the paper rules: next price only, slippage against the
taker, partial fills by the trade's liquidity). Around the paper book the sim does
what only an exchange does:

* A protected SL-M waits in the sim (TRIGGER PENDING) and, once a trade crosses its
  trigger, becomes a LIMIT at the protection band around the price that triggered it,
  matched at once against that price.
* An option SL whose limit is outside NSE's LPP band when it triggers is CANCELLED by
  the "exchange" (NSE circular of 28 Oct 2022; Kite's text: forum 13838).
* Stops the paper book triggered without filling go out as OPEN; TTL orders whose
  minutes have run out are cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kitetui.domain import Bar, OrderStatus, OrderType, Tick
from kitetui.sim.fills import FillRecorder
from kitetui.sim.market import NS_PER_SECOND
from kitetui.sim.order_book import WORKING, AccountBook, SimOrder
from kitetui.sim.orders import OrderDesk
from kitetui.sim.rules import MSG_LPP_CANCELLED, is_option, lpp_band
from kitetui.sim.tape import TradeTape

__all__ = ["Matcher", "crossed"]


class Matcher:
    """Feeds market batches to the accounts' books (module docstring)."""

    def __init__(
        self,
        books: Mapping[str, AccountBook],
        desk: OrderDesk,
        fills: FillRecorder,
        tape: TradeTape,
    ) -> None:
        self.books = books
        self.desk = desk
        self.fills = fills
        self.tape = tape

    def on_batch(self, ts_ns: int, items: list[Tick | Bar], _tokens: list[int]) -> None:
        """``SimMarket``'s batch listener."""
        self.tape.record(items)
        for book in self.books.values():
            if book.amo_release:
                book.amo_release = False
                self.desk.release_amo(book)
            if not book.stops and not book.paper.has_working():
                continue
            for item in items:
                self._match(book, item)
            self.fills.publish_triggered(book)
            self._expire_ttl(book, ts_ns)

    def _match(self, book: AccountBook, item: Tick | Bar) -> None:
        self._cancel_outside_lpp(book, item)
        self.fills.record(book, book.paper.on_market(item))
        self._trigger_stops(book, item)

    def _trigger_stops(self, book: AccountBook, item: Tick | Bar) -> None:
        """Protected SL-M orders this trade triggers become a LIMIT at the protection band
        around the triggering price, matched at once against that price."""
        for order in [o for o in book.stops.values() if o.key == item.symbol]:
            price = crossed(order, item)
            if price is not None:
                self._release_stop(book, order, price)

    def _release_stop(self, book: AccountBook, order: SimOrder, price: float) -> None:
        desk = self.desk
        del book.stops[order.order_id]
        order.triggered = True
        order.order_type = "MARKET"  # what an SL-M releases, protected at once
        desk.protect(order, ltp=price)
        order.paper_tag = f"{order.order_id}.{order.modifications}t"
        book.by_paper_tag[order.paper_tag] = order.order_id
        placed = book.paper.place(order.to_paper(desk.now()))
        order.exchange_update_ns = desk.now()
        if placed.status is OrderStatus.REJECTED:  # a band price off the tick cannot be
            order.status_message = order.kite_reason(placed.reason)
            order.record("REJECTED")
            desk.updates.publish(order)
            return
        order.record("OPEN")
        desk.updates.publish(order)
        quantity = self.tape.last_quantity(order.key)
        fills = book.paper.on_price(order.key, desk.now() + 1, price, quantity)
        self.fills.record(book, fills)

    def _cancel_outside_lpp(self, book: AccountBook, item: Tick | Bar) -> None:
        """NSE checks an option SL's limit against the LPP band when it triggers and
        cancels it if outside (circular of 28 Oct 2022; Kite's text: forum 13838)."""
        tape = self.tape
        if not tape.lpp or isinstance(item, Bar) or item.symbol not in tape.option_keys:
            return
        reference = tape.reference(item.symbol)
        if reference is None:
            return
        low, high = lpp_band(reference)
        for order in _option_stops(book, item.symbol):
            if crossed(order, item) is None:
                continue
            if (order.buy and order.price > high) or (not order.buy and order.price < low):
                self.desk.cancel(book, order, MSG_LPP_CANCELLED)

    def _expire_ttl(self, book: AccountBook, ts_ns: int) -> None:
        for order in list(book.orders.values()):
            expires = order.order_ns + order.validity_ttl * 60 * NS_PER_SECOND
            if order.validity == "TTL" and order.status in WORKING and ts_ns >= expires:
                self.desk.cancel(book, order, "TTL order expired.")


def _option_stops(book: AccountBook, symbol: str) -> Iterator[SimOrder]:
    """The option SL orders on ``symbol`` the paper book has not triggered yet."""
    for paper_order in book.paper.open_orders():
        if paper_order.symbol != symbol or paper_order.order_type is not OrderType.SL:
            continue
        if paper_order.status is not OrderStatus.TRIGGER_PENDING:
            continue
        order = book.for_paper(paper_order.tag)
        if order is not None and is_option(order.instrument):
            yield order


def crossed(order: SimOrder, item: Tick | Bar) -> float | None:
    """The price at which ``item`` crosses the stop's trigger (a bar that opens beyond
    it: its open), or None; only items after the order count."""
    if isinstance(item, Bar):
        return _crossed_by_bar(order, item)
    if item.ts_ns <= order.order_ns:
        return None
    trigger = order.trigger_price
    if (order.buy and item.price >= trigger) or (not order.buy and item.price <= trigger):
        return item.price
    return None


def _crossed_by_bar(order: SimOrder, bar: Bar) -> float | None:
    if bar.ts_ns + 1 <= order.order_ns:
        return None
    trigger = order.trigger_price
    if order.buy:
        return bar.open if bar.open >= trigger else trigger if bar.high >= trigger else None
    return bar.open if bar.open <= trigger else trigger if bar.low <= trigger else None
