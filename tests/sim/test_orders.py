"""kitetui.sim.orders: placement through Kite's states, the RMS, AMO requests, protected
MARKET orders, IOC, and cancellation."""

from __future__ import annotations

from sim_units import AFTER_CLOSE_S, CALL_KEY, STOCK_KEY, T0, limit, new_account, refused, rig

from kitetui.sim.market import NS_PER_SECOND
from kitetui.sim.orders import FIRST_EXCHANGE_ORDER_ID
from kitetui.sim.rules import MSG_NOT_TRADED

ACCEPTED = ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN"]


def test_place_with_resting_limit_walks_kites_states_to_open():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=499.0))
    assert made.statuses(order) == ACCEPTED
    assert order.order_id == "231115000000001"
    assert order.exchange_order_id == str(FIRST_EXCHANGE_ORDER_ID + 1)
    assert order.exchange_ns == order.exchange_update_ns == made.market.now_ns
    assert [u["status"] for u in made.updates] == ["OPEN"]
    assert made.place(**limit(price=498.0)).order_id == "231115000000002"


def test_place_with_marketable_limit_fills_at_once_unless_told_not_to():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=501.0))
    assert made.statuses(order)[-1] == "COMPLETE" and order.average_price == 500.0
    lazy = rig(fill_on_placement=False)
    lazy.tick(STOCK_KEY, 500.0)
    resting = lazy.place(**limit(price=501.0))
    assert resting.status == "OPEN"
    lazy.tick(STOCK_KEY, 500.0)
    assert resting.status == "COMPLETE"


def test_place_with_ioc_cancels_what_does_not_match_at_once():
    made = rig(fill_on_placement=False)
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=499.0, validity="IOC"))
    assert made.statuses(order)[-1] == "CANCELLED"
    assert order.status_message == "IOC order cancelled: no match at placement."
    assert order.cancelled_quantity == 1
    filled = made.place(**limit(price=500.0, validity="IOC"))
    assert filled.status == "COMPLETE"


def test_place_with_reject_fault_ends_rejected_by_the_rms():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    made.exchange.faults.add_spec("place_order:reject:1")
    order = made.place(**limit(price=499.0))
    assert made.statuses(order) == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "REJECTED"]
    assert order.status_message == "Order rejected by the simulated RMS."
    assert order.status_message_raw == "RMS:Order rejected by the simulated RMS."
    assert order.to_kite()["pending_quantity"] == 0
    assert made.place(**limit(price=499.0)).status == "OPEN"  # one call only


def test_place_with_stop_on_the_wrong_side_of_the_last_price_is_rejected():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    buy = made.place(**limit(order_type="SL", price=501.0, trigger_price=500.0))
    sell = made.place(**limit(side="SELL", order_type="SL", price=499.0, trigger_price=500.0))
    assert (buy.status, sell.status) == ("REJECTED", "REJECTED")
    assert buy.status_message == (
        "Trigger price for stoploss buy orders should be higher than the last traded price."
    )
    assert sell.status_message == (
        "Trigger price for stoploss sell orders should be lower than the last traded price."
    )
    made.tick(STOCK_KEY, 500.0, after_s=AFTER_CLOSE_S)
    amo = made.place("amo", **limit(order_type="SL", price=501.0, trigger_price=500.0))
    assert amo.status == "AMO REQ RECEIVED"  # no live price to compare with


def test_place_with_more_margin_than_available_is_rejected_unless_not_enforced():
    made = rig(account=new_account(cash=1_000.0))
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=499.0, quantity=20, product="CNC"))
    assert order.status == "REJECTED"
    assert order.status_message == (
        "Insufficient funds. Required margin is 9980.00 but available margin is 1000.00. "
        "Check the orderbook for open orders."
    )
    free = rig(account=new_account(cash=1_000.0), enforce_margins=False)
    free.tick(STOCK_KEY, 500.0)
    assert free.place(**limit(price=499.0, quantity=20, product="CNC")).status == "OPEN"


def test_place_with_amo_waits_for_the_next_days_first_batch():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    made.tick(STOCK_KEY, 500.0, after_s=AFTER_CLOSE_S)
    order = made.place("amo", **limit(price=499.0))
    assert made.statuses(order)[-1] == "AMO REQ RECEIVED" and made.book.amo_queue
    made.tick(STOCK_KEY, 500.0, after_s=3600)  # same day: still waiting
    assert order.status == "AMO REQ RECEIVED"
    # the next session's first batch, at 09:15 (17:00 + 16 h 15 min)
    next_day = made.tick(STOCK_KEY, 500.0, after_s=16.25 * 3600)
    assert made.statuses(order)[-2:] == ["OPEN PENDING", "OPEN"]
    assert order.order_ns == next_day and made.book.amo_queue == []


def test_place_with_protected_market_order_rests_as_a_limit_at_the_band():
    made = rig(fill_on_placement=False)
    made.tick(STOCK_KEY, 500.0)
    buy = made.place(**limit(order_type="MARKET", price="", market_protection="2"))
    assert (buy.order_type, buy.price, buy.market_protection) == ("LIMIT", 510.0, 2)
    sell = made.place(**limit(side="SELL", order_type="MARKET", market_protection="2"))
    assert (sell.order_type, sell.price) == ("LIMIT", 490.0)


def test_place_with_protected_market_order_before_any_trade_is_rejected():
    made = rig()
    made.tick(STOCK_KEY, 500.0)  # SBIN trades; the option never has
    order = made.place(**limit("NIFTY23NOV19500CE", order_type="MARKET", market_protection="-1"))
    assert made.statuses(order)[-2:] == ["OPEN PENDING", "REJECTED"]
    assert order.status_message == order.status_message_raw == MSG_NOT_TRADED
    assert made.market.last_price(CALL_KEY) is None


def test_place_with_price_off_the_tick_is_rejected_by_the_matcher_in_kites_words():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=499.03))
    assert made.statuses(order)[-2:] == ["OPEN PENDING", "REJECTED"]
    assert order.status_message.startswith("Tick size for this script is 0.05.")
    assert order.status_message_raw == "price 499.03 is not a multiple of the tick 0.05"


def test_place_with_protected_sl_m_is_watched_by_the_sim_not_the_matcher():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(order_type="SL-M", trigger_price=505.0, market_protection="2"))
    assert order.status == "TRIGGER PENDING"
    assert list(made.book.stops) == [order.order_id] and made.book.paper.open_orders() == []


def test_cancel_with_working_order_cancels_it_and_refuses_a_second_time():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=499.0, quantity=3))
    assert made.cancel(order) == order.order_id
    assert made.statuses(order)[-2:] == ["CANCEL PENDING", "CANCELLED"]
    assert order.cancelled_quantity == 3 and made.book.paper.open_orders() == []
    with refused("Order cannot be cancelled as it is cancelled.", "OrderException"):
        made.cancel(order)


def test_cancel_with_wrong_variety_or_completed_order_is_refused():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    done = made.place(**limit(price=501.0))
    with refused("Order cannot be cancelled as it is already completed.", "OrderException"):
        made.cancel(done)
    made.tick(STOCK_KEY, 500.0, after_s=AFTER_CLOSE_S)
    waiting = made.place("amo", **limit(price=499.0))
    with refused("Invalid `variety` for this order."):
        made.exchange.cancel_order(made.account, "regular", waiting.order_id)
    made.cancel(waiting)
    assert waiting.status == "CANCELLED" and made.book.amo_queue == []


def test_place_at_a_later_time_stamps_the_order_with_the_market_clock():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    made.tick(STOCK_KEY, 500.0, after_s=90)
    order = made.place(**limit(price=499.0))
    assert order.order_ns == T0 + 90 * NS_PER_SECOND
    assert order.to_kite()["order_timestamp"] == "2023-11-15 09:31:30"
