"""kitetui.sim.modifications: modify in place, tried in the matcher first, capped at 25."""

from __future__ import annotations

import pytest
from sim_units import AFTER_CLOSE_S, STOCK_KEY, limit, refused, rig

from kitetui.domain import OrderStatus
from kitetui.sim.errors import KiteError
from kitetui.sim.modifications import MAX_MODIFICATIONS
from kitetui.sim.rules import MSG_MAX_MODIFICATIONS

MODIFIED = ["MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED"]


@pytest.fixture
def made():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    return made


def test_modify_with_new_price_works_under_a_new_paper_tag(made):
    order = made.place(**limit(price=495.0, quantity=3, disclosed_quantity=1))
    old_tag = order.paper_tag
    assert made.modify(order, price="496", quantity="4") == order.order_id
    assert made.statuses(order)[-4:] == [*MODIFIED, "OPEN"]
    assert (order.price, order.quantity, order.modifications) == (496.0, 4, 1)
    assert order.disclosed_quantity == 1  # not sent: unchanged
    assert order.paper_tag == f"{order.order_id}.1"
    assert made.book.paper.lookup(old_tag).status is OrderStatus.CANCELLED
    assert [o.tag for o in made.book.paper.open_orders()] == [order.paper_tag]
    assert made.updates[-1]["status"] == "OPEN" and made.updates[-1]["price"] == 496


def test_modify_with_change_the_matcher_refuses_leaves_the_order_as_it_was(made):
    order = made.place(**limit(price=495.0))
    history, tag = list(order.history), order.paper_tag
    with refused(
        "Tick size for this script is 0.05. Kindly enter price in the multiple of tick size "
        "for this script"
    ):
        made.modify(order, price="495.03")
    assert order.history == history and order.paper_tag == tag and order.modifications == 0
    assert [o.tag for o in made.book.paper.open_orders()] == [tag]


def test_modify_after_a_refused_change_can_change_the_order_again(made):
    """The paper book keeps a refused trial's tag; the next change must not reuse it
    (it did once, and every later modification was refused as a duplicate tag)."""
    order = made.place(**limit(price=495.0))
    with pytest.raises(KiteError):
        made.modify(order, price="495.03")
    made.modify(order, price="494")
    assert order.price == 494.0 and order.modifications == 1
    with pytest.raises(KiteError):
        made.modify(order, price="493.02")
    made.modify(order, price="493")
    assert order.price == 493.0 and order.modifications == 2


def test_modify_with_marketable_price_fills_at_once(made):
    order = made.place(**limit(price=495.0))
    made.modify(order, price="501")
    assert made.statuses(order)[-2:] == ["OPEN", "COMPLETE"]


def test_modify_with_protected_market_prices_it_as_a_band_limit(made):
    order = made.place(**limit(price=495.0))
    made.modify(order, order_type="MARKET", market_protection="2")
    assert (order.order_type, order.price, order.market_protection) == ("LIMIT", 510.0, 2)
    assert order.status == "COMPLETE"  # the band limit is marketable


def test_modify_with_limit_turned_stop_waits_for_its_trigger(made):
    order = made.place(**limit(price=495.0))
    made.modify(order, order_type="SL", price="506", trigger_price="505")
    assert (order.status, order.order_type, order.trigger_price) == ("TRIGGER PENDING", "SL", 505)


def test_modify_with_triggered_stop_of_the_same_type_stays_triggered(made):
    order = made.place(**limit(order_type="SL", price="506", trigger_price="505"))
    made.tick(STOCK_KEY, 507.0)  # triggers above its limit: rests OPEN
    assert order.status == "OPEN"
    made.modify(order, price="506.5")
    assert order.status == "OPEN"
    (paper,) = made.book.paper.open_orders()
    assert (paper.tag, paper.status) == (order.paper_tag, OrderStatus.OPEN)


def test_modify_with_protected_sl_m_keeps_it_watched_by_the_sim(made):
    order = made.place(**limit(order_type="SL-M", trigger_price="505", market_protection="2"))
    made.modify(order, trigger_price="506")
    assert (order.status, order.trigger_price, order.market_protection) == (
        "TRIGGER PENDING",
        506,
        2,
    )
    assert list(made.book.stops) == [order.order_id] and made.book.paper.open_orders() == []


def test_modify_with_amo_request_rewrites_it_and_it_keeps_waiting(made):
    made.tick(STOCK_KEY, 500.0, after_s=AFTER_CLOSE_S)
    order = made.place("amo", **limit(price=495.0))
    made.modify(order, price="490", validity="IOC")
    assert made.statuses(order)[-4:] == [*MODIFIED, "AMO REQ RECEIVED"]
    assert (order.price, order.validity, order.modifications) == (490.0, "IOC", 1)
    assert made.book.paper.open_orders() == []


def test_modify_with_the_cap_reached_is_refused_as_kite_does(made):
    order = made.place(**limit(price=495.0))
    for step in range(MAX_MODIFICATIONS):
        made.modify(order, price=str(470 + step))
    with refused(MSG_MAX_MODIFICATIONS, "NetworkException"):
        made.modify(order, price="470")
    assert order.modifications == MAX_MODIFICATIONS and order.price == 494.0


def test_modify_with_ended_order_is_refused_naming_its_state(made):
    done = made.place(**limit(price=501.0))
    with refused("Order cannot be modified as it is already completed.", "OrderException"):
        made.modify(done, price="499")
    rejected = made.place(**limit(price=499.03))
    with refused("Order cannot be modified as it is rejected.", "OrderException"):
        made.modify(rejected, price="499")
