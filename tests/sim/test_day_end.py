"""kitetui.sim.day_end: Zerodha's intraday auto square-off and the close, as Kite does them."""

from __future__ import annotations

from sim_units import CALL_KEY, FUT_KEY, STOCK_KEY, T0, limit, rig

from kitetui.sim.market import NS_PER_SECOND
from kitetui.sim.rules import (
    MSG_MASS_CANCEL,
    MSG_MIS_AFTER_SQUARE_OFF,
    MSG_RMS_SQUARE_OFF_CANCEL,
    SimRules,
)

# T0 is 09:30 IST: these are the seconds to the times that matter that day
TO_15_19 = (5 * 60 + 49) * 60
TO_15_20 = (5 * 60 + 50) * 60
MINUTE = 60


def _position(made, key: str, product: str = "MIS") -> int:
    rows = made.exchange.positions(made.account)["net"]
    symbol = key.split(":", 1)[1]
    return sum(
        r["quantity"] for r in rows if r["tradingsymbol"] == symbol and r["product"] == product
    )


def _at(made, seconds_after_t0: float, key: str = STOCK_KEY, price: float = 500.0) -> int:
    """A trade at ``T0 + seconds_after_t0``."""
    at = T0 + int(seconds_after_t0 * NS_PER_SECOND)
    return made.market.inject_tick(key, price, 1000, ts_ns=at)


def test_the_rms_cancels_pending_mis_orders_then_closes_mis_positions_at_the_cut_off():
    made = rig()
    _at(made, 0)
    _at(made, 0, CALL_KEY, 100.0)
    bought = made.place(**limit(price=501.0, quantity=10))  # fills at once: MIS +10
    made.place(**limit(price=501.0, quantity=5, product="CNC"))  # delivery: not the RMS's
    resting_sell = made.place(**limit(side="SELL", price=520.0, quantity=10))
    option = made.place(**limit(symbol="NIFTY23NOV19500CE", price=101.0))  # NFO: 15:25
    assert bought.status == "COMPLETE" and option.status == "COMPLETE"
    assert _position(made, STOCK_KEY) == 10 and resting_sell.status == "OPEN"
    _at(made, TO_15_19, price=505.0)
    assert _position(made, STOCK_KEY) == 10  # not before the cut-off
    made.updates.clear()
    _at(made, TO_15_20, price=506.0)
    assert resting_sell.status == "CANCELLED"
    assert resting_sell.status_message == MSG_RMS_SQUARE_OFF_CANCEL
    placed = {bought.order_id, resting_sell.order_id, option.order_id}
    closing = [o for o in made.book.orders.values() if o.order_id not in placed]
    closing = [o for o in closing if o.product == "MIS"]
    assert len(closing) == 1
    (rms,) = closing
    assert (rms.transaction_type, rms.quantity, rms.product, rms.status) == (
        "SELL",
        10,
        "MIS",
        "COMPLETE",
    )
    assert _position(made, STOCK_KEY) == 0
    assert _position(made, STOCK_KEY, "CNC") == 5  # untouched
    assert _position(made, CALL_KEY) == 50  # derivatives wait for 15:25
    # the desk hears it all: the cancel, and the broker's own order with its fill
    assert [u["status"] for u in made.updates if u["order_id"] == resting_sell.order_id] == [
        "CANCELLED"
    ]
    assert any(u["order_id"] == rms.order_id and u["status"] == "COMPLETE" for u in made.updates)
    _at(made, TO_15_20 + 5 * MINUTE, CALL_KEY, 100.0)
    assert _position(made, CALL_KEY) == 0
    _at(made, TO_15_20 + 6 * MINUTE, price=506.0)
    rms_orders = [o for o in made.book.orders.values() if o.product == "MIS"]
    assert len(rms_orders) == len(placed) + 2  # once a segment a day
    assert all(o.tag is None for o in rms_orders if o.order_id not in placed)


def test_after_the_cut_off_an_mis_order_may_only_close():
    made = rig()
    _at(made, 0)
    made.place(**limit(price=501.0, quantity=10))
    _at(made, TO_15_19)
    _at(made, TO_15_20 + 30)  # the RMS has closed the +10 (see the test above)
    fresh = made.place(**limit(price=501.0, quantity=1))
    assert fresh.status == "REJECTED" and fresh.status_message == MSG_MIS_AFTER_SQUARE_OFF
    assert fresh.status_message_raw == f"RMS:{MSG_MIS_AFTER_SQUARE_OFF}"
    delivery = made.place(**limit(price=501.0, quantity=1, product="CNC"))
    assert delivery.status == "COMPLETE"


def test_a_position_left_after_the_cut_off_may_still_be_closed_by_hand():
    made = rig()
    _at(made, 0)
    made.place(**limit(price=501.0, quantity=10))
    # the RMS runs at the first batch past the cut-off; an order before that batch is
    # what a desk racing it sends: a close is taken, a bigger one or a new side is not
    made.market.now_ns += TO_15_20 * NS_PER_SECOND
    too_big = made.place(**limit(side="SELL", price=480.0, quantity=11))
    assert too_big.status == "REJECTED"
    close = made.place(**limit(side="SELL", price=480.0, quantity=10))
    assert close.status == "COMPLETE" and _position(made, STOCK_KEY) == 0


def test_the_close_cancels_what_is_unmatched_and_the_next_day_starts_with_empty_books():
    made = rig()
    _at(made, 0)
    made.place(**limit(price=501.0, quantity=10, product="CNC"))
    made.place(**limit(price=501.0, quantity=5))  # an intraday round trip, closed
    made.place(**limit(side="SELL", price=499.0, quantity=5))
    stop = made.place(
        **limit(
            side="SELL",
            order_type="SL",
            price=470.0,
            trigger_price=480.0,
            quantity=10,
            product="CNC",
        )
    )
    assert stop.status == "TRIGGER PENDING"
    assert made.exchange.trades(made.account)
    made.updates.clear()
    _at(made, 24 * 3600 - 15 * MINUTE)  # 09:15 the next day
    assert stop.status == "CANCELLED" and stop.status_message == MSG_MASS_CANCEL
    assert [u["status"] for u in made.updates if u["order_id"] == stop.order_id] == ["CANCELLED"]
    assert made.exchange.orders(made.account) == []
    assert made.exchange.trades(made.account) == []
    assert _position(made, STOCK_KEY, "CNC") == 10  # a position is no order: it stays
    symbols = [
        (r["tradingsymbol"], r["product"]) for r in made.exchange.positions(made.account)["net"]
    ]
    assert symbols == [("SBIN", "CNC")]  # the intraday round trip of yesterday is gone


def test_with_the_rules_off_orders_outlive_their_session():
    made = rig(rules=SimRules(day_end=False, auto_square_off=False))
    _at(made, 0)
    made.place(**limit(price=501.0, quantity=10))
    resting = made.place(**limit(price=450.0, quantity=1))
    _at(made, 24 * 3600 - 15 * MINUTE)
    assert resting.status == "OPEN" and _position(made, STOCK_KEY) == 10


def test_the_rms_squares_off_in_orders_no_bigger_than_the_freeze_quantity():
    made = rig(freeze_limits={"NIFTY": 100}, enforce_margins=False)
    _at(made, 0, CALL_KEY, 100.0)
    for _ in range(5):  # 250 in lots of 50, two at a time (the freeze is 100)
        made.place(**limit(symbol="NIFTY23NOV19500CE", price=101.0, quantity=50))
    assert _position(made, CALL_KEY) == 250
    before = set(made.book.orders)
    _at(made, TO_15_20 + 5 * MINUTE, CALL_KEY, 100.0)
    rms = [o for i, o in made.book.orders.items() if i not in before]
    assert sorted(o.quantity for o in rms) == [50, 100, 100]
    assert _position(made, CALL_KEY) == 0


def test_contracts_held_through_their_expiry_are_settled_the_next_morning_in_cash():
    """A long future and a short call (NRML) held through their expiry day, 30-Nov-2023:
    Kite lists them until that day ends; the next morning they are gone, settled at the
    index's close (the future at it, the call at its intrinsic value), with their P&L
    in the account's cash. A stock position is untouched."""
    made = rig()
    expiry_day = T0 + 15 * 24 * 3600 * NS_PER_SECOND  # 2023-11-30 09:30 IST
    for key, price in ((FUT_KEY, 19_600.0), (CALL_KEY, 150.0), (STOCK_KEY, 500.0)):
        made.market.inject_tick(key, price, 1000, ts_ns=expiry_day)
    made.market.inject_tick("NSE:NIFTY 50", 19_590.0, 1, ts_ns=expiry_day + 1)
    future = made.place(**limit(symbol="NIFTY23NOVFUT", price=19_600.0, product="NRML"))
    call = made.place(**limit(symbol="NIFTY23NOV19500CE", side="SELL", price=150.0,
                              product="NRML"))  # fmt: skip
    stock = made.place(**limit(price=500.0, product="CNC"))
    assert {o.status for o in (future, call, stock)} == {"COMPLETE"}
    cash = made.account.cash
    close = expiry_day + 6 * 3600 * NS_PER_SECOND - 60 * NS_PER_SECOND  # 15:29
    made.market.inject_tick("NSE:NIFTY 50", 19_620.0, 1, ts_ns=close)
    made.market.inject_tick(STOCK_KEY, 501.0, 1, ts_ns=close + 30 * 60 * NS_PER_SECOND)  # 16:00
    assert _position(made, FUT_KEY, "NRML") == 50 and _position(made, CALL_KEY, "NRML") == -50
    assert made.book.settlements == [] and made.account.cash == cash
    made.market.inject_tick(STOCK_KEY, 502.0, 1, ts_ns=expiry_day + 24 * 3600 * NS_PER_SECOND)
    assert _position(made, FUT_KEY, "NRML") == 0 and _position(made, CALL_KEY, "NRML") == 0
    rows = {r["tradingsymbol"] for r in made.exchange.positions(made.account)["net"]}
    assert rows == {"SBIN"}
    settled = {
        s["tradingsymbol"]: (s["quantity"], s["price"], s["pnl"]) for s in made.book.settlements
    }
    assert settled == {
        "NIFTY23NOVFUT": (50, 19_620.0, 50 * 20.0),
        "NIFTY23NOV19500CE": (-50, 120.0, 50 * 30.0),
    }
    assert made.account.cash == cash + 50 * 20.0 + 50 * 30.0
