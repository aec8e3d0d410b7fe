"""The paper book's opt-in partial fills (``liquidity=Liquidity(...)``) and its unchanged
default (whole fills, fill id ``{tag}-1``), on ``PaperBook`` directly (PaperBroker
hands the same arguments to its book: tests/brokers/test_paper.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.brokers.paper_book import Liquidity, PaperBook
from kitetui.domain import Bar, Order, OrderStatus, OrderType, Side

from .paper_orders import LMT, B, S
from .paper_orders import order as _order


def order(
    side: Side = B,
    kind: OrderType = LMT,
    price: float = 100.0,
    trigger: float = 0.0,
    qty: int = 100,
    tag: str = "t1",
    symbol: str = "INFY",
) -> Order:
    """This file's defaults: a LIMIT buy at 100."""
    return _order(side, kind, price, trigger, qty, tag, 100, symbol)


def place(book: PaperBook, o: Order) -> Order:
    return book.place(o)


def test_default_is_whole_fills_even_when_a_quantity_is_given():
    broker = PaperBook()
    place(broker, order(qty=500))
    fills = broker.on_price("INFY", 200, 99.0, quantity=1)
    assert [(f.fill_id, f.quantity, f.price) for _, f in fills] == [("t1-1", 500, 99.0)]
    assert fills[0][0].status is OrderStatus.COMPLETE


def test_a_tick_offers_its_fraction_and_the_rest_stays_open():
    broker = PaperBook(liquidity=Liquidity(0.5))
    place(broker, order(qty=100))
    ((state, fill),) = broker.on_price("INFY", 200, 99.0, quantity=60)
    assert (fill.fill_id, fill.quantity, fill.price) == ("t1-30", 30, 99.0)
    assert (state.status, state.filled_qty, state.avg_price) == (OrderStatus.OPEN, 30, 99.0)
    assert broker.on_price("INFY", 300, 101.0, quantity=1000) == []  # above the limit
    ((state, fill),) = broker.on_price("INFY", 400, 98.0, quantity=1000)
    assert (fill.fill_id, fill.quantity) == ("t1-100", 70)
    assert state.status is OrderStatus.COMPLETE and state.filled_qty == 100
    assert state.avg_price == pytest.approx((30 * 99 + 70 * 98) / 100)
    assert broker.open_orders() == []


def test_without_a_quantity_the_rest_fills_whole():
    broker = PaperBook(liquidity=Liquidity(0.5))
    place(broker, order(qty=100))
    broker.on_price("INFY", 200, 99.0, quantity=60)
    ((state, fill),) = broker.on_price("INFY", 300, 99.0)
    assert (fill.quantity, fill.fill_id, state.status) == (70, "t1-100", OrderStatus.COMPLETE)


def test_orders_share_a_price_in_placement_order_and_in_whole_lots():
    broker = PaperBook(liquidity=Liquidity(0.25, {"NIFTY": 50}))
    place(broker, order(qty=100, tag="a", symbol="NIFTY"))
    place(broker, order(qty=100, tag="b", symbol="NIFTY"))
    assert broker.on_price("NIFTY", 200, 99.0, quantity=199) == []  # 49 units: no lot
    fills = broker.on_price("NIFTY", 300, 99.0, quantity=600)  # 150 units: 3 lots
    assert [(f.tag, f.quantity) for _, f in fills] == [("a", 100), ("b", 50)]


def test_a_bar_offers_a_fraction_of_its_volume():
    broker = PaperBook(liquidity=Liquidity(0.1))
    place(broker, order(qty=100, price=100.0))
    bar = Bar("INFY", 200, 60, 101.0, 102.0, 99.0, 100.5, volume=400)
    ((state, fill),) = broker.on_bar(bar)
    assert (fill.quantity, fill.price, state.filled_qty) == (40, 100.0, 40)


def test_a_stop_that_fills_in_part_is_triggered_and_rests_open():
    broker = PaperBook(liquidity=Liquidity(0.5))
    place(broker, order(side=S, kind=OrderType.SL, price=95.0, trigger=96.0, qty=100))
    ((state, fill),) = broker.on_price("INFY", 200, 95.5, quantity=20)
    assert state.status is OrderStatus.OPEN and fill.quantity == 10
    (working,) = broker.open_orders()
    assert working.status is OrderStatus.OPEN and working.filled_qty == 10
    assert broker.on_price("INFY", 300, 94.0, quantity=1000) == []  # below the limit now


def test_restore_keeps_a_part_filled_order_working_with_unique_fill_ids():
    broker = PaperBook(liquidity=Liquidity(0.5))
    place(broker, order(qty=100))
    ((state, _fill),) = broker.on_price("INFY", 200, 99.0, quantity=60)
    again = PaperBook(liquidity=Liquidity(0.5))
    again.restore([state])
    ((done, fill),) = again.on_price("INFY", 300, 99.0, quantity=1000)
    assert (fill.fill_id, fill.quantity, done.status) == ("t1-100", 70, OrderStatus.COMPLETE)


def test_liquidity_refuses_a_bad_fraction():
    for fraction in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError):
            Liquidity(fraction)


@settings(max_examples=60, deadline=None)
@given(
    qty=st.integers(min_value=1, max_value=500),
    fraction=st.sampled_from([0.05, 0.25, 0.5, 1.0]),
    trades=st.lists(
        st.tuples(st.floats(min_value=95, max_value=105), st.integers(min_value=0, max_value=300)),
        max_size=30,
    ),
)
def test_fills_add_up_and_never_overfill(qty, fraction, trades):
    broker = PaperBook(liquidity=Liquidity(fraction))
    place(broker, order(qty=qty, price=100.0))
    total = 0
    value = 0.0
    ids = set()
    state = None
    for step, (price, traded) in enumerate(trades):
        for state, fill in broker.on_price("INFY", 200 + step, round(price, 2), quantity=traded):
            assert 0 < fill.quantity <= int(traded * fraction)
            assert fill.price <= 100.0
            assert fill.fill_id not in ids
            ids.add(fill.fill_id)
            total += fill.quantity
            value += fill.quantity * fill.price
            assert state.filled_qty == total <= qty
            assert state.avg_price == pytest.approx(value / total)
            assert (state.status is OrderStatus.COMPLETE) == (total == qty)
    if state is None:
        assert broker.lookup("t1").filled_qty == 0
