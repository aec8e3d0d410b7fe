"""kitetui.sim.reads: the order book, trades, positions and holdings in Kite's shape."""

from __future__ import annotations

import pytest
from sim_units import STOCK, STOCK_KEY, limit, new_account, refused, rig

from kitetui.sim import reads
from kitetui.sim.order_book import PositionRow


@pytest.fixture
def traded():
    """SBIN: bought 10 at 498, sold 4 at 505, last traded at 510."""
    made = rig(account=new_account(holdings=[
        {"tradingsymbol": "SBIN", "exchange": "NSE", "quantity": 5, "average_price": 480.0,
         "isin": "INE062A01020"},
        {"tradingsymbol": "NOPE", "quantity": 2, "average_price": 10.0},
    ]))  # fmt: skip
    made.tick(STOCK_KEY, 500.0)
    made.place(**limit(price=498.0, quantity=10))
    made.tick(STOCK_KEY, 498.0)
    made.place(**limit(side="SELL", price=505.0, quantity=4))
    made.tick(STOCK_KEY, 505.0)
    made.tick(STOCK_KEY, 510.0)
    return made


def test_orders_and_trades_with_book_are_copies_in_placement_order(traded):
    book = traded.book
    orders = reads.orders(book)
    assert [(o["transaction_type"], o["status"]) for o in orders] == [
        ("BUY", "COMPLETE"),
        ("SELL", "COMPLETE"),
    ]
    trades = reads.trades(book)
    assert [(t["quantity"], t["average_price"]) for t in trades] == [(10, 498), (4, 505)]
    trades[0]["quantity"] = 0
    orders[0]["status"] = "EDITED"
    assert reads.trades(book)[0]["quantity"] == 10
    assert reads.orders(book)[0]["status"] == "COMPLETE"
    first = orders[0]["order_id"]
    assert [t["quantity"] for t in reads.order_trades(book, first)] == [10]
    assert reads.order_history(book, first)[-1]["status"] == "COMPLETE"
    assert [o["order_id"] for o in reads.find_by_tag(book, "none")] == []


@pytest.mark.parametrize("read", [reads.order_history, reads.order_trades])
def test_reads_by_id_with_unknown_order_answer_kites_input_exception(traded, read):
    with refused("Couldn't find that `order_id`."):
        read(traded.book, "231115999999999")


def test_positions_with_round_trip_split_realised_and_unrealised(traded):
    answer = reads.positions(traded.book, traded.market)
    assert answer["net"] == answer["day"] and answer["net"] is not answer["day"]
    (row,) = answer["net"]
    assert (row["quantity"], row["average_price"], row["last_price"]) == (6, 498, 510)
    assert (row["buy_value"], row["sell_value"], row["value"]) == (4980, 2020, -2960)
    assert (row["realised"], row["pnl"], row["unrealised"]) == (28, 100, 72)
    assert (row["product"], row["overnight_quantity"], row["multiplier"]) == ("MIS", 0, 1)


def test_position_dict_with_no_market_data_prices_at_the_average():
    row = PositionRow(STOCK, "MIS", sell_quantity=2, sell_value=1000.0)
    data = reads.position_dict(rig().market, STOCK_KEY, row)
    assert (data["quantity"], data["average_price"], data["last_price"], data["pnl"]) == (
        -2,
        500,
        500,
        0,
    )


def test_holdings_with_market_price_the_configured_rows(traded):
    state = traded.market.state_for_key(STOCK_KEY)
    sbin, unknown = reads.holdings(traded.account, traded.market)
    assert (sbin["instrument_token"], sbin["isin"], sbin["quantity"]) == (3, "INE062A01020", 5)
    assert (sbin["last_price"], sbin["pnl"]) == (510, (510 - 480) * 5)
    assert sbin["day_change"] == 510 - state.close
    assert sbin["authorised_date"] == "2023-11-15 00:00:00"
    assert (unknown["exchange"], unknown["instrument_token"], unknown["last_price"]) == (
        "NSE",
        0,
        10,
    )
