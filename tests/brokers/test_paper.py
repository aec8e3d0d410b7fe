"""PaperBroker, the async ``Broker`` adapter over a ``PaperBook``: it answers every call as
its book does, never suspends, and hands its constructor arguments to the book.

The matching rules themselves are the book's and are tested in
tests/brokers/test_paper_book.py (moved from here) and test_paper_partial.py.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.brokers.base import Broker, ModifyRefused
from kitetui.brokers.paper import Liquidity, PaperBook, PaperBroker
from kitetui.domain import (
    Bar,
    OrderStatus,
    Tick,
)

from .paper_orders import LMT, MKT, SL, SLM, B, S, order


def now(coro: Coroutine[Any, Any, Any]) -> Any:
    """The coroutine's result, which it must have on its first step (it never waits)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    pytest.fail("a PaperBroker call suspended")


def outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    """What ``call(*args, **kwargs)`` answered (awaited if a coroutine), or the
    refusal it raised (message, tag)."""
    try:
        answer = call(*args, **kwargs)
        return ("ok", now(answer) if isinstance(answer, Coroutine) else answer)
    except ModifyRefused as exc:
        return ("refused", str(exc), exc.tag)


# ---------------------------------------------------------------------- protocol


def test_paper_broker_with_protocol_check_is_a_broker():
    assert isinstance(PaperBroker(), Broker)


async def test_adapter_with_each_protocol_call_answers_as_its_book():
    broker, book = PaperBroker(), PaperBook()
    for o in (order(tag="a", kind=LMT, price=99.0), order(tag="b", kind=SLM, trigger=95.0)):
        assert await broker.place(o) == book.place(o)
    assert await broker.lookup("a") == book.lookup("a")
    assert await broker.open_orders() == book.open_orders()
    assert await broker.modify("a", ts_ns=150, price=98.0) == book.modify(
        "a", ts_ns=150, price=98.0
    )
    with pytest.raises(ModifyRefused, match="tick"):
        await broker.modify("a", ts_ns=160, price=98.01)
    assert await broker.refresh("a") == book.refresh("a")
    assert await broker.cancel("b") == book.cancel("b")
    assert await broker.cancel("b") is None
    assert await broker.open_orders() == book.open_orders()


def test_adapter_with_constructor_arguments_hands_them_to_its_book():
    liquidity = Liquidity(0.5, {"INFY": 5})
    broker = PaperBroker(
        slippage_bps=7.5, tick_size=0.1, tick_sizes={"INFY": 0.05}, liquidity=liquidity
    )
    assert (broker.slippage_bps, broker.tick_size, broker.liquidity) == (7.5, 0.1, liquidity)
    assert broker.book.liquidity is liquidity
    now(broker.place(order(qty=20)))
    [(state, fill)] = broker.on_price("INFY", 101, 100.0, quantity=30)  # 15 -> 3 lots of 5
    assert (fill.quantity, fill.price, state.status) == (15, 100.1, OrderStatus.OPEN)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slippage_bps": -1.0},
        {"slippage_bps": float("nan")},
        {"tick_size": 0.0},
        {"tick_size": float("inf")},
    ],
)
def test_adapter_with_bad_constructor_arguments_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        PaperBroker(**kwargs)


def test_adapter_with_market_data_and_restore_drives_its_book():
    broker = PaperBroker()
    now(broker.place(order(B, SL, price=101.0, trigger=100.0, tag="s")))
    assert broker.on_price("INFY", 101, 102.0) == []  # triggered above its limit
    [triggered] = broker.take_triggered()
    assert triggered.tag == "s" and triggered.status is OrderStatus.OPEN
    [(done, fill)] = broker.on_bar(Bar("INFY", 200, 60, 101.5, 102.0, 100.5, 101.0))
    assert (done.status, fill.price) == (OrderStatus.COMPLETE, 101.0)
    other = PaperBroker()
    other.restore([done])
    assert now(other.lookup("s")) == done and now(other.open_orders()) == []


def test_adapter_with_on_market_matches_ticks_and_bars_and_ignores_updates():
    broker = PaperBroker(liquidity=Liquidity(0.5))
    now(broker.place(order(kind=LMT, price=100.0, qty=20)))
    [(_, part)] = broker.on_market(Tick("INFY", 101, 100.0, 10))  # half of 10
    [(done, rest)] = broker.on_market(Bar("INFY", 200, 60, 99.5, 100.0, 99.0, 99.8, 1000))
    assert (part.quantity, rest.quantity, done.status) == (5, 15, OrderStatus.COMPLETE)
    assert broker.apply_update({"order_id": "1", "tag": "t1", "status": "COMPLETE"}) == (None, [])
    assert now(broker.lookup("t1")) == done


# ---------------------------------------------------------------------- property

calls = st.lists(
    st.one_of(
        st.tuples(
            st.just("place"),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([MKT, LMT, SL, SLM]),
            st.integers(1960, 2040).map(lambda t: t / 20),
        ),
        st.tuples(
            st.just("modify"),
            st.sampled_from(["a", "b", "c"]),
            st.integers(1960, 2040).map(lambda t: t / 20),
        ),
        st.tuples(st.just("cancel"), st.sampled_from(["a", "b", "c"])),
        st.tuples(st.just("tick"), st.integers(1960, 2040).map(lambda t: t / 20)),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(script=calls)
def test_property_with_any_calls_the_adapter_and_a_bare_book_agree(script):
    broker, book = PaperBroker(), PaperBook()
    for ts, call in enumerate(script, start=100):
        if call[0] == "place":
            _, tag, kind, price = call
            o = order(kind=kind, price=price, trigger=price, tag=tag, ts_ns=ts)
            assert now(broker.place(o)) == book.place(o)
        elif call[0] == "modify":
            _, tag, price = call
            mine = outcome(broker.modify, tag, ts_ns=ts, price=price)
            assert mine == outcome(book.modify, tag, ts_ns=ts, price=price)
        elif call[0] == "cancel":
            assert now(broker.cancel(call[1])) == book.cancel(call[1])
        else:
            assert broker.on_price("INFY", ts, call[1]) == book.on_price("INFY", ts, call[1])
        assert now(broker.open_orders()) == book.open_orders()
        assert broker.take_triggered() == book.take_triggered()
        for tag in ("a", "b", "c"):
            assert now(broker.refresh(tag)) == book.refresh(tag)


# ---------------------------------------------------------------------- the answer


placements = st.lists(
    st.tuples(
        st.sampled_from([B, S]),
        st.sampled_from([MKT, LMT, SL, SLM]),
        st.sampled_from([0.0, 99.0, 99.03, 101.0, -1.0]),  # 99.03: off the tick (refused)
        st.sampled_from([0.0, 95.0, 100.5, 104.97]),
        st.sampled_from([0, 10, 25]),  # 0: refused
        st.sampled_from(["a", "b", "c"]),  # repeated: a duplicate tag, refused
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(placements=placements, bar_first=st.booleans())
def test_answers_as_placed_with_any_order_is_the_trader_merge_of_its_answer(placements, bar_first):
    """``PaperBroker.answers_as_placed``: the trader keeps the placement's answer itself
    instead of ``Trader._merge`` of it into the order it sent (the order and its stop
    each save a copy). That holds only while ``place`` sets nothing but the broker's own
    state: any other field it set (a fill at placement, a new time, other terms) makes
    the merge differ and fails here. A bar first leaves its walk for a stop to meet
    (``rest_of_bar``)."""
    from types import SimpleNamespace

    from kitetui.trading.trader import Trader

    assert PaperBroker.answers_as_placed
    broker = PaperBroker()
    if bar_first:
        now(broker.place(order(tag="entry", ts_ns=50)))
        broker.on_market(Bar("INFY", 60, 60, 100.0, 106.0, 94.0, 97.0))
    for side, kind, price, trigger, qty, tag in placements:
        sent = order(side=side, kind=kind, price=price, trigger=trigger, qty=qty, tag=tag)
        answer = now(broker.place(sent))
        trader = SimpleNamespace(orders={tag: sent}, _adopted={})
        merged = Trader._merge(trader, answer)  # type: ignore[arg-type]
        assert merged == answer
        assert type(merged.avg_price) is type(answer.avg_price)
