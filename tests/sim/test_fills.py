"""kitetui.sim.fills: paper fills become trade rows, positions and Kite's order states."""

from __future__ import annotations

from sim_units import FUTURE, T0, new_account, sim_order

from kitetui.brokers.paper_book import Liquidity, PaperBook
from kitetui.domain import OrderStatus
from kitetui.sim.fills import FIRST_TRADE_ID, FillRecorder
from kitetui.sim.order_book import AccountBook, SimOrder
from kitetui.sim.order_updates import OrderUpdates


class Desk:
    """One account's book with a paper book that fills half of each trade."""

    def __init__(self) -> None:
        self.book = AccountBook(new_account(), PaperBook(liquidity=Liquidity(0.5)))
        self.updates = OrderUpdates({"AB0001": self.book.account})
        self.heard: list[dict] = []
        self.updates.subscribe(self.heard.append)
        self.fills = FillRecorder(self.updates, now=lambda: T0 + 7)

    def work(self, order: SimOrder) -> SimOrder:
        order.paper_tag = f"{order.order_id}.0"
        order.status = "OPEN"
        self.book.orders[order.order_id] = order
        self.book.by_paper_tag[order.paper_tag] = order.order_id
        self.book.paper.place(order.to_paper(T0))
        return order

    def trade(self, symbol: str, price: float, quantity: int, at: int) -> None:
        self.fills.record(self.book, self.book.paper.on_price(symbol, at, price, quantity))


def test_record_with_part_fills_books_trades_and_updates_until_complete():
    desk = Desk()
    order = desk.work(sim_order(quantity=10, price=500.0))
    desk.trade("NSE:SBIN", 499.0, 8, T0 + 1)  # 4 of 10
    assert (order.status, order.filled_quantity, order.average_price) == ("OPEN", 4, 499.0)
    assert desk.heard[-1]["status"] == "UPDATE" and desk.heard[-1]["filled_quantity"] == 4
    desk.trade("NSE:SBIN", 498.0, 100, T0 + 2)  # the other 6
    assert (order.status, order.filled_quantity) == ("COMPLETE", 10)
    assert order.average_price == round((4 * 499 + 6 * 498) / 10, 4)
    assert [row["status"] for row in order.history] == ["OPEN", "COMPLETE"]
    trades = desk.book.trades
    assert [(t["trade_id"], t["quantity"], t["average_price"]) for t in trades] == [
        (str(FIRST_TRADE_ID + 1), 4, 499),
        (str(FIRST_TRADE_ID + 2), 6, 498),
    ]
    assert trades[0]["fill_timestamp"] == "2023-11-15 09:30:00"
    assert trades[0]["order_timestamp"] == "09:30:00"
    row = desk.book.position_of(order)
    assert (row.buy_quantity, row.buy_value, row.sell_quantity) == (10, 4 * 499 + 6 * 498, 0)


def test_record_with_fill_for_an_ended_or_unknown_order_books_nothing():
    desk = Desk()
    order = desk.work(sim_order(transaction_type="SELL", quantity=2, price=500.0))
    order.status = "CANCELLED"  # the exchange ended it before the paper fill was applied
    desk.trade("NSE:SBIN", 501.0, 100, T0 + 1)
    desk.book.by_paper_tag.clear()
    desk.trade("NSE:SBIN", 501.0, 100, T0 + 2)
    assert desk.book.trades == [] and desk.book.positions == {} and desk.heard == []


def test_record_with_more_filled_than_pending_clips_to_the_order():
    desk = Desk()
    order = desk.work(sim_order(quantity=10))
    order.quantity = 6  # the exchange's order shrank after the paper order was placed
    desk.trade("NSE:SBIN", 499.0, 100, T0 + 1)
    assert order.filled_quantity == 6 and desk.book.trades[0]["quantity"] == 6


def test_trade_ids_with_two_books_are_exchange_wide():
    updates = OrderUpdates({})
    fills = FillRecorder(updates, now=lambda: T0)
    ids = []
    for user in ("A", "B"):
        book = AccountBook(new_account(user_id=user), PaperBook())
        order = sim_order(user_id=user, paper_tag="x.0")
        order.status = "OPEN"
        book.orders[order.order_id] = order
        book.by_paper_tag["x.0"] = order.order_id
        book.paper.place(order.to_paper(T0))
        fills.record(book, book.paper.on_price("NSE:SBIN", T0 + 1, 499.0))
        ids += [t["trade_id"] for t in book.trades]
    assert ids == [str(FIRST_TRADE_ID + 1), str(FIRST_TRADE_ID + 2)]


def test_publish_triggered_with_stop_resting_after_trigger_reports_it_open_once():
    desk = Desk()
    order = desk.work(sim_order(FUTURE, order_type="SL", quantity=50, price=19_510.0,
                                trigger_price=19_505.0))  # fmt: skip
    order.status = "TRIGGER PENDING"
    desk.trade("NFO:NIFTY23NOVFUT", 19_520.0, 10, T0 + 1)  # triggers above its limit
    assert [o.status for o in desk.book.paper.open_orders()] == [OrderStatus.OPEN]
    desk.fills.publish_triggered(desk.book)
    desk.fills.publish_triggered(desk.book)
    assert [u["status"] for u in desk.heard] == ["OPEN"]
    assert order.exchange_update_ns == T0 + 7 and order.history[-1]["status"] == "OPEN"
