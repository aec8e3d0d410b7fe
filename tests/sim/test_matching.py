"""kitetui.sim.matching: market batches matched per account, protected SL-M triggers,
LPP cancellations of option stops, TTL expiry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_units import CALL_KEY, FUTURE, STOCK, STOCK_KEY, T0, limit, new_account, rig, sim_order

from kitetui.domain import Bar, Tick
from kitetui.market.instruments import InstrumentMaster
from kitetui.sim.exchange import SimExchange
from kitetui.sim.market import NS_PER_SECOND, MarketSource, SimMarket
from kitetui.sim.matching import crossed
from kitetui.sim.rules import MSG_LPP_CANCELLED, protection_price

MINUTE = 60 * NS_PER_SECOND


@pytest.mark.parametrize(
    ("side", "item", "expected"),
    [
        ("BUY", Tick(STOCK_KEY, T0 + 1, 505.0, 1), 505.0),
        ("BUY", Tick(STOCK_KEY, T0 + 1, 504.95, 1), None),
        ("BUY", Tick(STOCK_KEY, T0, 510.0, 1), None),  # not after the order
        ("SELL", Tick(STOCK_KEY, T0 + 1, 505.0, 1), 505.0),
        ("SELL", Tick(STOCK_KEY, T0 + 1, 505.05, 1), None),
        ("BUY", Bar(STOCK_KEY, T0, 60, 507.0, 508.0, 506.0, 507.0), 507.0),  # gap: its open
        ("BUY", Bar(STOCK_KEY, T0, 60, 500.0, 505.5, 499.0, 501.0), 505.0),  # at the trigger
        ("BUY", Bar(STOCK_KEY, T0, 60, 500.0, 504.0, 499.0, 501.0), None),
        ("BUY", Bar(STOCK_KEY, T0 - MINUTE, 60, 507.0, 508.0, 506.0, 507.0), None),
        ("SELL", Bar(STOCK_KEY, T0, 60, 503.0, 504.0, 501.0, 502.0), 503.0),
        ("SELL", Bar(STOCK_KEY, T0, 60, 510.0, 511.0, 504.0, 506.0), 505.0),
    ],
)
def test_crossed_with_trade_after_the_order_is_where_it_meets_the_trigger(side, item, expected):
    stop = sim_order(transaction_type=side, order_type="SL-M", trigger_price=505.0, order_ns=T0)
    assert crossed(stop, item) == expected


def test_protected_sl_m_with_trigger_crossed_becomes_a_band_limit_and_fills():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    stop = made.place(**limit(order_type="SL-M", trigger_price="505", market_protection="2"))
    made.tick(STOCK_KEY, 504.0)
    assert stop.status == "TRIGGER PENDING"
    made.tick(STOCK_KEY, 506.0)
    assert (stop.order_type, stop.price) == ("LIMIT", protection_price(506.0, 2, True, 0.05))
    assert stop.triggered and stop.paper_tag == f"{stop.order_id}.0t"
    assert made.statuses(stop)[-3:] == ["TRIGGER PENDING", "OPEN", "COMPLETE"]
    assert stop.average_price == 506.0 and made.book.stops == {}


def test_option_sl_with_limit_outside_the_lpp_band_is_cancelled_when_it_triggers():
    made = rig()
    made.tick(CALL_KEY, 100.0, qty=500)
    stop = made.place(
        **limit("NIFTY23NOV19500CE", side="SELL", order_type="SL", price="50", trigger_price="95")
    )
    assert stop.status == "TRIGGER PENDING"
    made.tick(CALL_KEY, 96.0, qty=500)  # not through the trigger: nothing
    assert stop.status == "TRIGGER PENDING"
    made.tick(CALL_KEY, 94.0, qty=500)  # reference ~96.7: the band's low is ~58 > 50
    assert made.statuses(stop)[-1] == "CANCELLED"
    assert stop.status_message == MSG_LPP_CANCELLED and made.book.trades == []


def test_option_sl_with_limit_inside_the_band_fills_when_it_triggers():
    made = rig()
    made.tick(CALL_KEY, 100.0, qty=500)
    stop = made.place(
        **limit("NIFTY23NOV19500CE", side="SELL", order_type="SL", price="90", trigger_price="95")
    )
    made.tick(CALL_KEY, 94.0, qty=500)
    assert stop.status == "COMPLETE" and stop.average_price == 94.0


def test_ttl_order_with_its_minutes_run_out_is_cancelled():
    made = rig(fill_on_placement=False)
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=490.0, validity="TTL", validity_ttl="1"))
    made.tick(STOCK_KEY, 500.0, after_s=59)
    assert order.status == "OPEN"
    made.tick(STOCK_KEY, 500.0, after_s=1)
    assert made.statuses(order)[-1] == "CANCELLED"
    assert order.status_message == "TTL order expired."


def test_stop_triggered_without_a_fill_goes_out_as_open():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    stop = made.place(**limit(order_type="SL", price="505.5", trigger_price="505"))
    made.tick(STOCK_KEY, 506.0)  # triggered above its limit: rests as a limit
    assert made.statuses(stop)[-2:] == ["TRIGGER PENDING", "OPEN"]
    assert made.updates[-1]["status"] == "OPEN" and stop.filled_quantity == 0


def test_batch_with_two_accounts_matches_each_book():
    market = SimMarket([], InstrumentMaster([FUTURE, STOCK]))
    first, second = new_account(), new_account(api_key="key2", user_id="AB0002")
    exchange = SimExchange(market, [first, second])
    market.inject_tick(STOCK_KEY, 500.0, 1000, ts_ns=T0)
    for account in (first, second):
        exchange.place_order(account, "regular", limit(price=499.0))
    market.inject_tick(STOCK_KEY, 499.0, 4, ts_ns=T0 + NS_PER_SECOND)  # one unit each
    for account in (first, second):
        assert [o["status"] for o in exchange.orders(account)] == ["COMPLETE"]


def test_candles_with_working_order_fill_from_the_next_candle_on(tmp_path: Path):
    csv = tmp_path / "SBIN.csv"
    csv.write_text(
        "Date,open,high,low,close,volume\n"
        "2023-11-15 09:30:00+05:30,500,501,499,500.5,1000\n"
        "2023-11-15 09:31:00+05:30,500.5,500.5,497,498,4000\n"
        "2023-11-15 09:32:00+05:30,498,499,496,496.5,4000\n"
    )
    market = SimMarket(
        [MarketSource(str(csv), "candles", "SBIN", "NSE")], InstrumentMaster([STOCK])
    )
    account = new_account()
    exchange = SimExchange(market, [account])  # a quarter of each candle's volume
    order_id = exchange.place_order(account, "regular", limit(price=499.0, quantity=1500))
    market.step()  # the 09:30 candle started before the order: it cannot fill it
    book = exchange.book(account)
    assert book.orders[order_id].status == "OPEN"
    market.step()  # 09:31: 1,000 of its 4,000 at the limit
    order = book.orders[order_id]
    assert (order.status, order.filled_quantity, order.average_price) == ("OPEN", 1000, 499.0)
    market.step()  # 09:32 opens below the limit: the rest at its open
    assert (order.status, order.filled_quantity) == ("COMPLETE", 1500)
    assert [t["quantity"] for t in exchange.trades(account)] == [1000, 500]
