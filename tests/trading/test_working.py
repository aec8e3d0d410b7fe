"""WorkingOrders: the per-symbol index says exactly what a scan of all orders says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kitetui.domain import Exchange, Order, OrderPurpose, OrderStatus, OrderType, Product, Side
from kitetui.trading.working import WorkingOrders

SYMBOLS = ("A", "B", "C")
TAGS = tuple(f"t{i}" for i in range(8))


def _order(tag: str, status: OrderStatus) -> Order:
    return Order(
        tag=tag,
        engine="e",
        symbol=SYMBOLS[int(tag[1:]) % len(SYMBOLS)],  # a tag keeps its symbol, as in life
        exchange=Exchange.NSE,
        side=Side.BUY,
        quantity=1,
        order_type=OrderType.MARKET,
        product=Product.MIS,
        # a tag keeps its purpose too: every other one an entry (``entries``' index)
        purpose=OrderPurpose.ENTRY if int(tag[1:]) % 2 else OrderPurpose.STOP,
        status=status,
        ts_ns=0,
    )


@given(st.lists(st.tuples(st.sampled_from(TAGS), st.sampled_from(list(OrderStatus)))))
def test_the_index_matches_a_scan_in_placement_order(steps) -> None:
    working = WorkingOrders()
    reference: dict[str, Order] = {}  # what Trader kept before the index
    for tag, status in steps:
        order = _order(tag, status)
        working.track(order)
        if status.is_terminal:
            reference.pop(tag, None)
        else:
            reference[tag] = order
    assert working.all() == list(reference.values())
    assert bool(working) == bool(reference)
    assert working.entries() == [o for o in reference.values() if o.purpose is OrderPurpose.ENTRY]
    for symbol in SYMBOLS:
        expected = [o for o in reference.values() if o.symbol == symbol]
        assert working.of(symbol) == expected
        assert working.count(symbol) == len(expected)
