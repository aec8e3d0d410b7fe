"""kitetui.sim.order_book: SimOrder's wire shape and history, its paper view, and an
account's book (lookups, positions)."""

from __future__ import annotations

import pytest
from sim_units import CALL, FUTURE, STOCK, new_account, refused, sim_order

from kitetui.brokers.paper_book import PaperBook
from kitetui.domain import OrderStatus, OrderType, Side
from kitetui.sim.order_book import AccountBook, PositionRow, num


@pytest.mark.parametrize(
    ("value", "expected"),
    [(300.0, 300), (300.5, 300.5), (0.1 + 0.2, 0.3), (19_500.123456, 19_500.1235), (-0.0, 0)],
)
def test_num_with_whole_price_prints_an_integer(value, expected):
    got = num(value)
    assert got == expected and type(got) is type(expected)


def test_to_kite_with_order_is_kites_order_shape():
    order = sim_order(filled_quantity=4, average_price=499.5)
    data = order.to_kite()
    assert data["order_timestamp"] == "2023-11-15 09:30:00"
    assert (data["exchange"], data["tradingsymbol"], data["instrument_token"]) == ("NSE", "SBIN", 3)
    assert (data["price"], data["average_price"], data["pending_quantity"]) == (500, 499.5, 6)
    assert (data["tag"], data["tags"], data["modified"]) == ("abc", ["abc"], False)
    assert data["exchange_timestamp"] is None and data["meta"] == {}
    order.status = "REJECTED"
    assert order.to_kite()["pending_quantity"] == 0


def test_record_with_status_moves_the_order_and_appends_its_state():
    order = sim_order()
    order.record("PUT ORDER REQ RECEIVED")
    order.price = 501.0
    order.record()
    assert [(row["status"], row["price"]) for row in order.history] == [
        ("PUT ORDER REQ RECEIVED", 500),
        ("PUT ORDER REQ RECEIVED", 501),
    ]
    order.history[0]["price"] = 0
    assert order.to_kite()["price"] == 501  # rows are copies


def test_to_paper_with_part_filled_order_offers_what_is_left():
    order = sim_order(FUTURE, transaction_type="SELL", order_type="SL", quantity=150,
                      filled_quantity=50, trigger_price=19_400.0, paper_tag="1.2")  # fmt: skip
    paper = order.to_paper(123)
    assert (paper.tag, paper.symbol, paper.side, paper.order_type) == (
        "1.2",
        "NFO:NIFTY23NOVFUT",
        Side.SELL,
        OrderType.SL,
    )
    assert (paper.quantity, paper.ts_ns, paper.status) == (100, 123, OrderStatus.NEW)
    assert (paper.price, paper.trigger_price) == (500.0, 19_400.0)


def test_kite_reason_with_paper_tick_refusal_is_kites_tick_text():
    order = sim_order(CALL)
    assert order.kite_reason("price 100.03 is not a multiple of the tick 0.05") == (
        "Tick size for this script is 0.05. Kindly enter price in the multiple of tick size "
        "for this script"
    )
    assert order.kite_reason("anything else") == "anything else"


@pytest.mark.parametrize(
    ("order_type", "protection", "triggered", "watched"),
    [
        ("SL-M", 2.0, False, True),
        ("SL-M", -1.0, False, True),
        ("SL-M", 0.0, False, False),
        ("SL-M", 2.0, True, False),
        ("SL", 2.0, False, False),
    ],
)
def test_watched_by_sim_with_protected_sl_m_before_trigger_only(
    order_type, protection, triggered, watched
):
    order = sim_order(order_type=order_type, market_protection=protection, triggered=triggered)
    assert order.watched_by_sim is watched


def test_account_book_with_orders_finds_them_by_id_and_paper_tag():
    book = AccountBook(new_account(), PaperBook())
    order = sim_order()
    book.orders[order.order_id] = order
    book.by_paper_tag["231115000000001.0"] = order.order_id
    assert book.order(order.order_id) is order
    assert book.for_paper("231115000000001.0") is order
    assert book.for_paper("unknown") is None
    with refused("Couldn't find that `order_id`."):
        book.order("nope")


def test_position_for_with_trades_opens_one_row_per_symbol_and_product():
    book = AccountBook(new_account(), PaperBook())
    order = sim_order()
    assert book.position_of(order) is None
    row = book.position_for(order)
    row.add(True, 10, 500.0)
    row.add(False, 4, 510.0)
    assert book.position_for(order) is row and book.position_of(order) is row
    assert (row.quantity, row.buy_value, row.sell_value) == (6, 5000.0, 2040.0)
    assert book.position_for(sim_order(product="CNC")) is not row
    assert list(book.positions) == [("NSE", "NSE:SBIN", "MIS"), ("NSE", "NSE:SBIN", "CNC")]


def test_position_row_with_no_trades_is_flat():
    assert PositionRow(STOCK, "MIS").quantity == 0
