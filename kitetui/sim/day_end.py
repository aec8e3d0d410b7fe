"""The broker's end of the trading day at the simulated exchange.

Two things Kite does that a desk must survive, and that a sim without them would hide:

* **The intraday auto square-off.** At or after 3:20 PM (cash equity) and 3:25 PM
  (equity and index derivatives) Zerodha's RMS cancels the account's pending MIS orders
  and closes every MIS position with a market order of its own, untagged, charging
  ₹50 + GST an order; after that time no fresh MIS order is taken (support article
  "What are the auto square-off timings for open intraday positions?"). A desk whose own
  square-off comes later, or fails, finds its position closed and its stop cancelled by
  somebody else. The sim squares off at the first batch at or after the cut-off, in
  orders of at most 30,000 units of a stock or the freeze quantity of a derivative.
* **The close.** Unmatched orders are cancelled by the exchange after the close
  ("exchange mass cancel"), and the next day's order book and tradebook list only that
  day's (``OrderDesk.end_day``). A stop placed yesterday is gone, whether or not the
  desk heard of it.
* **The settlement at expiry.** A future or option held through its expiry day is
  settled by the exchange, with no order, trade or order update: the position is
  listed until that day ends and not the next morning, and its P&L at the final
  settlement price lands in the account's cash (``settle_expired``). The price is NSE's
  rule: the underlying's close (an index derivative's index, ``rules.INDEX_OF``; a
  stock's own), an option at its intrinsic value, zero when out of the money; the sim
  takes the underlying's last price in its market (NSE's official index close is a
  weighted average of the last half hour, which the sim does not compute), else the
  contract's own last price. Stock derivatives settle physically at NSE; the sim
  settles every contract in cash.

``SimRules.auto_square_off`` and ``SimRules.day_end`` switch each off for a test that
needs an order to outlive its session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from kitetui.clock import date_of_day_number, ist_day_number, ist_minute_of_day
from kitetui.domain import Bar, Tick
from kitetui.market.instruments import Instrument
from kitetui.sim.market import SimMarket
from kitetui.sim.order_book import TERMINAL, AccountBook
from kitetui.sim.orders import OrderDesk
from kitetui.sim.rules import INDEX_OF, MSG_RMS_SQUARE_OFF_CANCEL, SimRules, auto_square_off_minute
from kitetui.trading.auto_square_off import EQUITY_ORDER_MAX

__all__ = ["DayEnd"]


class DayEnd:
    """Squares off MIS positions at the cut-off and ends each account's day."""

    def __init__(
        self,
        books: Mapping[str, AccountBook],
        desk: OrderDesk,
        rules: SimRules,
        freeze_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.books = books
        self.desk = desk
        self.market: SimMarket = desk.market
        self.rules = rules
        self.freeze_limits = dict(freeze_limits or {})  # underlying -> freeze quantity
        self._squared: dict[int, int] = {}  # cut-off minute -> the IST day it was run

    def on_batch(self, ts_ns: int, _items: list[Tick | Bar], _tokens: list[int]) -> None:
        """``SimMarket``'s batch listener, after the matcher: the batch has traded."""
        if not self.rules.auto_square_off:
            return
        minute, day = ist_minute_of_day(ts_ns), ist_day_number(ts_ns)
        for cutoff in sorted({auto_square_off_minute(e) for e in ("NSE", "NFO")}):
            if minute >= cutoff and self._squared.get(cutoff) != day:
                self._squared[cutoff] = day
                for book in self.books.values():
                    self._square_off(book, cutoff)

    def on_day(self, day: int | None = None) -> None:
        """The market clock entered a new IST day (``day``, days since the epoch): the
        last session's orders end, and the contracts that expired before it settle."""
        if self.rules.day_end:
            for book in self.books.values():
                self.desk.end_day(book)
        if day is not None:
            today = date_of_day_number(day)
            for book in self.books.values():
                self.settle_expired(book, today)

    def settle_expired(self, book: AccountBook, today: date) -> None:
        """Every position in a contract that expired before ``today`` is settled at its
        final settlement price (module doc): gone from the positions, its P&L (the
        row's value plus its quantity at that price) added to the account's cash, and
        recorded in ``book.settlements``. Nothing is sent to the desk: Kite says nothing."""
        for key, row in list(book.positions.items()):
            expiry = row.instrument.expiry
            if expiry is None or expiry >= today or not row.quantity:
                continue
            price = self._settlement_price(row.instrument)
            pnl = row.sell_value - row.buy_value + row.quantity * price
            book.account.cash += pnl
            del book.positions[key]
            book.settlements.append(
                {
                    "tradingsymbol": row.instrument.tradingsymbol,
                    "product": row.product,
                    "quantity": row.quantity,
                    "price": price,
                    "pnl": pnl,
                    "expiry": expiry.isoformat(),
                }
            )

    def _settlement_price(self, instrument: Instrument) -> float:
        """NSE's final settlement price as the sim knows it: the underlying's last price
        (an option's intrinsic value against it), else the contract's own last price."""
        name = (instrument.name or "").upper()
        underlying = self.market.last_price(INDEX_OF.get(name, f"NSE:{name}"))
        own = self.market.last_price(f"{instrument.exchange}:{instrument.tradingsymbol}")
        if underlying is None:
            return own or 0.0
        if instrument.instrument_type == "CE":
            return max(0.0, round(underlying - instrument.strike, 6))
        if instrument.instrument_type == "PE":
            return max(0.0, round(instrument.strike - underlying, 6))
        return underlying

    def _square_off(self, book: AccountBook, cutoff: int) -> None:
        """The RMS at ``cutoff``: the pending MIS orders of its segments are cancelled,
        then each MIS position there is closed at the market."""

        def due(exchange: str) -> bool:
            return auto_square_off_minute(exchange) == cutoff

        for order in list(book.orders.values()):
            if order.product != "MIS" or order.status in TERMINAL:
                continue
            if order.order_id in book.amo_queue or not due(order.instrument.exchange):
                continue
            self.desk.cancel(book, order, MSG_RMS_SQUARE_OFF_CANCEL)
        for row in list(book.positions.values()):
            if row.product == "MIS" and row.quantity and due(row.instrument.exchange):
                left, most = row.quantity, self._most(row.instrument)
                while left:  # in orders of at most ``_most``, each charged
                    part = max(-most, min(most, left))
                    self.desk.place_for_rms(book.account, book, row.instrument, part)
                    left -= part

    def _most(self, instrument: Instrument) -> int:
        """The most the RMS squares off in one order: 30,000 units of a stock, the
        freeze quantity of a derivative (support article "What are call and trade
        charges?")."""
        if instrument.exchange in ("NSE", "BSE"):
            return EQUITY_ORDER_MAX
        freeze = self.freeze_limits.get((instrument.name or instrument.tradingsymbol).upper())
        if not freeze:
            return 10**9
        lot = max(1, instrument.lot_size)
        return max(lot, freeze // lot * lot)
