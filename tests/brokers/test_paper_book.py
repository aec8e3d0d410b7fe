"""PaperBook, the synchronous matching core: next-price fills, slippage against you,
triggers, bars, rejections, modification and restore.

Moved from the paper broker's tests (tests/brokers/test_paper.py, which now tests only
the async adapter) and driven without an event loop, since the book has none.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.brokers.base import ModifyRefused
from kitetui.brokers.paper_book import Liquidity, PaperBook
from kitetui.domain import (
    Bar,
    Order,
    OrderStatus,
    Tick,
    Validity,
    Variety,
    evolve,
)

from .paper_orders import LMT, MKT, SL, SLM, B, S, order


def bar(o: float, h: float, low: float, c: float, ts_ns: int = 200, symbol: str = "INFY") -> Bar:
    return Bar(symbol, ts_ns, 60, o, h, low, c)


# ---------------------------------------------------------------------- the book


def test_place_with_market_order_returns_open_with_broker_id():
    book = PaperBook()
    placed = book.place(order())
    assert placed.status is OrderStatus.OPEN
    assert placed.broker_order_id == "paper-t1"
    assert book.lookup("t1") == placed
    assert book.open_orders() == [placed]


@pytest.mark.parametrize("kind", [SL, SLM])
def test_place_with_stop_order_returns_trigger_pending(kind):
    placed = PaperBook().place(order(kind=kind, price=101.0, trigger=101.0))
    assert placed.status is OrderStatus.TRIGGER_PENDING


@pytest.mark.parametrize(
    ("o", "fragment"),
    [
        (order(qty=0), "quantity"),
        (order(qty=-5), "quantity"),
        (order(kind=LMT, price=0.0), "price"),
        (order(kind=LMT, price=100.03), "tick"),
        (order(kind=LMT, price=float("nan")), "finite"),
        (order(kind=MKT, trigger=float("inf")), "finite"),
        (order(kind=SLM, trigger=0.0), "trigger"),
        (order(kind=SLM, trigger=100.01), "tick"),
        (order(kind=SL, price=0.0, trigger=100.0), "price"),
        (order(kind=SL, price=100.0, trigger=-1.0), "trigger"),
        (order(B, SL, price=100.0, trigger=100.5), "above its price"),
        (order(S, SL, price=100.0, trigger=99.5), "below its price"),
        (order(tag=""), "tag"),
    ],
)
def test_place_with_invalid_order_rejects_with_reason(o, fragment):
    book = PaperBook()
    placed = book.place(o)
    assert placed.status is OrderStatus.REJECTED
    assert fragment in placed.reason
    assert book.open_orders() == []


@settings(max_examples=150, deadline=None)
@given(
    side=st.sampled_from([B, S]),
    kind=st.sampled_from([MKT, LMT, SL, SLM]),
    price=st.sampled_from([99.0, 101.0]),
    trigger=st.sampled_from([95.0, 104.95]),
    qty=st.integers(1, 500),
    filled=st.integers(0, 7),
    avg=st.sampled_from([0.0, 12.5]),
    stop=st.sampled_from([0.0, 93.25]),
)
def test_place_answers_the_order_sent_with_only_the_books_four_fields_set(
    side, kind, price, trigger, qty, filled, avg, stop
):
    """An accepted placement is copied by a compiled copier (``_PLACED``), not
    ``evolve``: the answer must be ``evolve`` of the order sent with the status, the
    broker's id, no fill and no average, every other field the order's own (each set
    here to a value of its own: a field dropped, or two slots swapped, shows; the
    types too, as 0 == 0.0)."""
    sent = replace(
        order(side=side, kind=kind, price=price, trigger=trigger, qty=qty, tag="x7"),
        filled_qty=filled,
        avg_price=avg,
        stop_price=stop,
        broker_order_id="theirs",
        signal_id="sig-1",
        reason="a reason",
        validity=Validity.IOC,
        variety=Variety.AMO,
    )
    answer = PaperBook().place(sent)
    if kind is SL and ((side is B and trigger > price) or (side is S and trigger < price)):
        assert answer.status is OrderStatus.REJECTED  # (an SL's trigger beyond its limit)
        return
    status = OrderStatus.TRIGGER_PENDING if kind in (SL, SLM) else OrderStatus.OPEN
    expected = evolve(sent, status=status, broker_order_id="paper-x7", filled_qty=0, avg_price=0.0)
    assert answer == expected
    assert [type(getattr(answer, f.name)) for f in fields(Order)] == [
        type(getattr(expected, f.name)) for f in fields(Order)
    ]


def test_place_with_duplicate_tag_rejects_and_keeps_the_original():
    book = PaperBook()
    first = book.place(order())
    second = book.place(order(side=S))
    assert second.status is OrderStatus.REJECTED and "duplicate" in second.reason
    assert book.lookup("t1") == first


def test_cancel_with_open_order_cancels_and_then_returns_none():
    book = PaperBook()
    book.place(order(kind=LMT, price=90.0))
    cancelled = book.cancel("t1")
    assert cancelled.status is OrderStatus.CANCELLED
    assert book.cancel("t1") is None
    assert book.cancel("unknown") is None
    assert book.lookup("t1") == cancelled
    assert book.on_price("INFY", 500, 80.0) == []


def test_cancel_with_filled_order_returns_none():
    book = PaperBook()
    book.place(order())
    book.on_price("INFY", 101, 100.0)
    assert book.cancel("t1") is None
    assert book.lookup("t1").status is OrderStatus.COMPLETE


# ---------------------------------------------------------------------- ticks


def test_on_price_with_same_or_earlier_ts_does_not_fill():
    book = PaperBook()
    book.place(order(ts_ns=100))
    assert book.on_price("INFY", 99, 100.0) == []
    assert book.on_price("INFY", 100, 100.0) == []
    assert book.on_price("TCS", 101, 100.0) == []
    fills = book.on_price("INFY", 101, 100.0)
    assert len(fills) == 1
    done, fill = fills[0]
    assert done.status is OrderStatus.COMPLETE and done.filled_qty == 10
    assert (fill.fill_id, fill.tag, fill.ts_ns, fill.quantity) == ("t1-1", "t1", 101, 10)
    assert done.avg_price == fill.price
    assert book.open_orders() == []


@pytest.mark.parametrize(
    ("side", "price", "bps", "expected"),
    [
        (B, 1000.0, 2.0, 1000.20),
        (S, 1000.0, 2.0, 999.80),
        (B, 100.0, 2.0, 100.05),  # 100.02 rounds up to the tick against you
        (S, 100.0, 2.0, 99.95),
        (B, 100.0, 0.0, 100.0),
        (S, 100.0, 0.0, 100.0),
    ],
)
def test_on_price_with_market_order_fills_with_slippage_against_you(side, price, bps, expected):
    book = PaperBook(slippage_bps=bps)
    book.place(order(side=side))
    [(_, fill)] = book.on_price("INFY", 101, price)
    assert fill.price == expected


@pytest.mark.parametrize(
    ("side", "limit", "ticks", "expected"),
    [
        (B, 100.0, [100.5, 100.05], None),
        (B, 100.0, [100.5, 100.0], 100.0),
        (B, 100.0, [99.5], 99.5),  # a gap below the limit fills at the better price
        (S, 100.0, [99.5, 99.95], None),
        (S, 100.0, [100.0], 100.0),
        (S, 100.0, [101.0], 101.0),
    ],
)
def test_on_price_with_limit_order_fills_at_or_better_than_limit(side, limit, ticks, expected):
    book = PaperBook()
    book.place(order(side=side, kind=LMT, price=limit))
    fills = [f for i, p in enumerate(ticks) for f in book.on_price("INFY", 101 + i, p)]
    assert [f.price for _, f in fills] == ([] if expected is None else [expected])


@pytest.mark.parametrize(
    ("side", "trigger", "ticks", "expected"),
    [
        (B, 105.0, [104.95], None),
        (B, 105.0, [104.0, 105.0], 105.05),  # 105 + 2bps = 105.021 -> 105.05
        (B, 105.0, [107.0], 107.05),  # gap through the trigger fills at the price
        (S, 95.0, [95.05], None),
        (S, 95.0, [95.0], 94.95),
        (S, 95.0, [90.0], 89.95),
    ],
)
def test_on_price_with_sl_m_order_fills_only_once_triggered(side, trigger, ticks, expected):
    book = PaperBook()
    placed = book.place(order(side=side, kind=SLM, trigger=trigger))
    fills = [f for i, p in enumerate(ticks) for f in book.on_price("INFY", 101 + i, p)]
    assert [f.price for _, f in fills] == ([] if expected is None else [expected])
    if expected is None:
        assert book.lookup("t1") == placed


def test_on_price_with_sl_buy_gap_beyond_limit_rests_as_limit():
    book = PaperBook()
    book.place(order(B, SL, price=101.0, trigger=100.0))
    assert book.on_price("INFY", 101, 102.0) == []  # triggered, but above the limit
    assert book.lookup("t1").status is OrderStatus.OPEN
    assert book.on_price("INFY", 102, 101.5) == []
    [(done, fill)] = book.on_price("INFY", 103, 100.5)
    assert fill.price == 100.5
    assert done.status is OrderStatus.COMPLETE


def test_on_price_with_sl_sell_triggered_inside_limit_fills_at_price():
    book = PaperBook()
    book.place(order(S, SL, price=99.0, trigger=100.0))
    assert book.on_price("INFY", 101, 100.05) == []
    [(_, fill)] = book.on_price("INFY", 102, 99.5)
    assert fill.price == 99.5


@pytest.mark.parametrize("price", [float("nan"), float("inf"), 0.0, -1.0])
def test_on_price_with_bad_price_is_ignored(price):
    book = PaperBook()
    book.place(order())
    assert book.on_price("INFY", 101, price) == []
    assert len(book.open_orders()) == 1


def test_on_market_with_tick_or_bar_matches_as_on_price_or_on_bar():
    by_tick, by_price = PaperBook(liquidity=Liquidity(0.5)), PaperBook(liquidity=Liquidity(0.5))
    by_bar, by_ohlc = PaperBook(), PaperBook()
    for book in (by_tick, by_price, by_bar, by_ohlc):
        book.place(order(B, LMT, price=100.0, qty=10))
    assert by_tick.on_market(Tick("INFY", 101, 99.5, 8)) == by_price.on_price("INFY", 101, 99.5, 8)
    assert by_tick.lookup("t1").filled_qty == 4  # the tick's quantity limited the fill
    moved = bar(101.0, 102.0, 99.0, 100.0)
    assert by_bar.on_market(moved) == by_ohlc.on_bar(moved) != []


# ---------------------------------------------------------------------- bars


@pytest.mark.parametrize(
    ("o", "ohlc", "expected"),
    [
        # MARKET fills at the open plus slippage
        (order(B), (1000.0, 1010.0, 990.0, 1005.0), 1000.20),
        (order(S), (1000.0, 1010.0, 990.0, 1005.0), 999.80),
        # LIMIT buy: open at/below the limit fills at the open, else low reaching it at the limit
        (order(B, LMT, price=100.0), (99.0, 101.0, 98.0, 100.0), 99.0),
        (order(B, LMT, price=100.0), (101.0, 102.0, 100.0, 101.0), 100.0),
        (order(B, LMT, price=100.0), (101.0, 102.0, 100.05, 101.0), None),
        # LIMIT sell mirrored
        (order(S, LMT, price=100.0), (101.0, 101.5, 99.0, 100.0), 101.0),
        (order(S, LMT, price=100.0), (99.0, 100.0, 98.0, 99.0), 100.0),
        (order(S, LMT, price=100.0), (99.0, 99.95, 98.0, 99.0), None),
        # SL-M buy: open through the trigger fills at the open, else high reaching it at it
        (order(B, SLM, trigger=100.0), (101.0, 102.0, 100.5, 101.0), 101.05),
        (order(B, SLM, trigger=100.0), (99.0, 100.0, 98.0, 99.0), 100.05),
        (order(B, SLM, trigger=100.0), (99.0, 99.95, 98.0, 99.0), None),
        # SL-M sell mirrored
        (order(S, SLM, trigger=100.0), (99.0, 99.5, 98.0, 99.0), 98.95),
        (order(S, SLM, trigger=100.0), (101.0, 102.0, 100.0, 101.0), 99.95),
        (order(S, SLM, trigger=100.0), (101.0, 102.0, 100.05, 101.0), None),
        # SL buy: crossing the trigger mid-bar fills at the trigger (inside its limit)
        (order(B, SL, price=100.5, trigger=100.0), (99.0, 101.0, 98.0, 100.0), 100.0),
        # SL buy: gap above the limit rests; a down bar's later low reaches the limit
        (order(B, SL, price=100.5, trigger=100.0), (102.0, 103.0, 100.0, 101.0), 100.5),
        # SL buy: gap above the limit and never back to it
        (order(B, SL, price=100.5, trigger=100.0), (102.0, 103.0, 101.0, 102.5), None),
        # SL sell: gap below, up bar's path O->L->H->C comes back up through the limit
        (order(S, SL, price=99.5, trigger=100.0), (98.0, 100.0, 97.0, 99.0), 99.5),
    ],
)
def test_on_bar_with_order_type_fills_along_the_ohlc_path(o, ohlc, expected):
    book = PaperBook()
    book.place(o)
    fills = book.on_bar(bar(*ohlc))
    assert [f.price for _, f in fills] == ([] if expected is None else [expected])
    if fills:
        assert fills[0][1].ts_ns == 200


def test_on_bar_with_bar_starting_at_order_ts_fills_at_its_open():
    # An order decided on a closed bar is stamped with that bar's end, which is the next
    # bar's start: that next bar's open is the first price after the decision.
    book = PaperBook()
    book.place(order(ts_ns=200))
    assert book.on_bar(bar(100, 101, 99, 100, ts_ns=140)) == []
    fills = book.on_bar(bar(100, 101, 99, 100, ts_ns=200))
    assert len(fills) == 1 and fills[0][1].ts_ns == 200


def test_on_bar_with_several_orders_fills_each_in_placement_order():
    book = PaperBook()
    book.place(order(B, LMT, price=99.0, tag="a"))
    book.place(order(S, SLM, trigger=98.0, tag="b"))
    book.place(order(B, LMT, price=90.0, tag="c"))
    book.place(order(B, tag="d", symbol="TCS"))
    fills = book.on_bar(bar(100.0, 100.5, 97.0, 98.0))
    assert [(o.tag, f.price) for o, f in fills] == [("a", 99.0), ("b", 97.95)]
    assert [o.tag for o in book.open_orders()] == ["c", "d"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1.0])
@pytest.mark.parametrize("at", range(4))
def test_on_bar_with_a_non_finite_or_non_positive_price_is_ignored(bad: float, at: int):
    """Any one of the four prices bad (each is checked, not only the path's ends):
    the bar fills nothing and the order still works."""
    book = PaperBook()
    book.place(order())
    prices = [100.0, 101.0, 99.0, 100.0]
    prices[at] = bad
    assert book.on_bar(bar(*prices)) == []
    assert [o.tag for o in book.open_orders()] == ["t1"]
    assert book.on_bar(bar(100.0, 101.0, 99.0, 100.0, ts_ns=260))  # a sound bar fills it


# ---------------------------------------------------------------------- restore


def test_restore_with_open_orders_works_them_again():
    before = PaperBook()
    placed = [
        before.place(order(B, LMT, price=99.0, tag="a")),
        before.place(order(S, SLM, trigger=95.0, tag="b")),
    ]
    done = replace(placed[0], tag="c", status=OrderStatus.COMPLETE, filled_qty=10)
    never_sent = replace(placed[0], tag="d", status=OrderStatus.NEW, broker_order_id="")
    after = PaperBook()
    after.restore([*placed, done, never_sent])
    assert after.open_orders() == placed
    assert after.lookup("c") == done
    assert after.lookup("d") is None
    fills = after.on_price("INFY", 101, 94.0)
    assert [o.tag for o, _ in fills] == ["a", "b"]


def test_restore_with_triggered_sl_m_fills_as_market():
    book = PaperBook()
    book.restore([replace(order(S, SLM, trigger=95.0), status=OrderStatus.OPEN)])
    [(_, fill)] = book.on_price("INFY", 101, 96.0)
    assert fill.price == 95.95


# ---------------------------------------------------------------------- properties

tick_prices = st.integers(min_value=20, max_value=200_000).map(lambda t: t / 20)


@st.composite
def working_orders(draw, prices=tick_prices):
    side = draw(st.sampled_from([B, S]))
    kind = draw(st.sampled_from([MKT, LMT, SL, SLM]))
    price = draw(prices)
    trigger = draw(prices)
    if kind is SL:  # keep it acceptable: trigger inside the limit
        low, high = sorted((price, trigger))
        price, trigger = (high, low) if side is B else (low, high)
    return order(side, kind, price=price, trigger=trigger, ts_ns=draw(st.integers(0, 50)))


@settings(max_examples=200, deadline=None)
@given(
    o=working_orders(),
    ticks=st.lists(st.tuples(st.integers(0, 100), tick_prices), min_size=1, max_size=20),
    bps=st.floats(min_value=0, max_value=50),
)
def test_property_with_any_ticks_fills_respect_time_price_and_trigger(o, ticks, bps):
    book = PaperBook(slippage_bps=bps)
    book.place(o)
    ticks = sorted(ticks)
    fills = [(ts, p, f) for ts, p in ticks for f in book.on_price("INFY", ts, p)]
    assert len(fills) <= 1
    for ts, price, (done, fill) in fills:
        assert fill.ts_ns == ts > o.ts_ns
        assert done.status is OrderStatus.COMPLETE and fill.quantity == o.quantity
        assert fill.price > 0
        if o.order_type is MKT:
            assert fill.price >= price if o.side is B else fill.price <= price
        if o.order_type in (LMT, SL):
            assert fill.price <= o.price if o.side is B else fill.price >= o.price
        if o.order_type in (SL, SLM):
            # the trigger was reached by a tick at or before this one, after the order
            seen = [p for t, p in ticks if o.ts_ns < t <= ts]
            if o.side is B:
                assert max(seen) >= o.trigger_price
            else:
                assert min(seen) <= o.trigger_price
        if o.order_type is SLM:
            assert fill.price >= o.trigger_price if o.side is B else fill.price <= o.trigger_price


ohlc = st.lists(tick_prices, min_size=4, max_size=4).map(lambda v: (v[0], max(v), min(v), v[3]))


@settings(max_examples=200, deadline=None)
@given(o=working_orders(), bar_ts=st.integers(0, 100), prices=ohlc)
def test_property_with_any_bar_fills_stay_inside_the_bar_and_after_the_order(o, bar_ts, prices):
    book = PaperBook()
    book.place(o)
    op, hi, lo, _ = prices
    fills = book.on_bar(bar(*prices, ts_ns=bar_ts))
    if bar_ts < o.ts_ns:  # a bar starting at the order time is its next price
        assert fills == []
        return
    for _, fill in fills:
        assert fill.ts_ns == bar_ts
        if o.order_type is SLM:
            if o.side is B:
                assert hi >= o.trigger_price and fill.price >= o.trigger_price
            else:
                assert lo <= o.trigger_price and fill.price <= o.trigger_price
        if o.order_type is MKT:
            assert fill.price >= op if o.side is B else fill.price <= op
        if o.order_type in (LMT, SL):
            assert lo <= fill.price <= hi
            assert fill.price <= o.price if o.side is B else fill.price >= o.price


# Prices a few ticks apart, so bars touch triggers exactly as often as they pass them.
near = st.integers(min_value=1990, max_value=2010).map(lambda t: t / 20)


class _NoBandBook(PaperBook):
    """The book without its stops' band: every bar looks at each working order."""

    def _band(self, symbol: str, working: dict[str, Order]) -> None:
        self._bands.pop(symbol, None)


@settings(max_examples=200, deadline=None)
@given(
    orders=st.lists(working_orders(near), min_size=1, max_size=4),
    bars=st.lists(
        st.tuples(
            st.integers(0, 100),
            st.lists(near, min_size=4, max_size=4).map(lambda v: (v[0], max(v), min(v), v[3])),
        ),
        min_size=1,
        max_size=12,
    ),
    cancel=st.integers(0, 5),
)
def test_property_with_stops_band_bars_fill_as_when_each_order_is_looked_at(orders, bars, cancel):
    """The band that passes a bar over a symbol whose working orders are all stops
    waiting for their triggers answers every bar as a look at each order does: the
    same fills, the same triggered stops, the same book, as orders come and go."""
    books = PaperBook(), _NoBandBook()
    for k, o in enumerate(orders):
        for book in books:
            book.place(replace(o, tag=f"t{k}"))
    for step, (ts, prices) in enumerate(sorted(bars)):
        if step == cancel:
            for book in books:
                book.cancel("t0")
        banded, looked = (book.on_market(bar(*prices, ts_ns=ts)) for book in books)
        assert banded == looked
        assert books[0].take_triggered() == books[1].take_triggered()
        assert books[0].open_orders() == books[1].open_orders()


@pytest.mark.parametrize("call", ["on_bar", "on_market"])
def test_on_bar_with_a_stop_the_bar_does_not_reach_fills_nothing_and_keeps_it(call):
    book = PaperBook()
    match = getattr(book, call)
    book.place(order(S, SLM, trigger=95.0, tag="s", ts_ns=0))
    book.place(order(B, SLM, trigger=105.0, tag="b", ts_ns=0))
    assert match(bar(100.0, 104.95, 95.05, 101.0)) == []
    assert [o.tag for o in book.open_orders()] == ["s", "b"]
    ((done, fill),) = match(bar(100.0, 105.0, 96.0, 101.0, ts_ns=300))
    assert done.tag == "b" and fill.price >= 105.0  # the high reached the buy stop
    ((done, fill),) = match(bar(100.0, 101.0, 95.0, 99.0, ts_ns=400))
    assert done.tag == "s" and fill.price <= 95.0  # the low touched the sell stop


def test_on_bar_with_a_triggered_stop_resting_fills_it_above_its_trigger():
    """A stop that triggered and rests as its limit is no stop waiting any more: a bar
    above its trigger that reaches its limit fills it."""
    book = PaperBook()
    book.place(order(S, SL, price=94.5, trigger=95.0, tag="s", ts_ns=0))
    assert book.on_bar(bar(94.0, 94.2, 93.0, 94.1)) == []  # gapped past its limit
    (rests,) = book.take_triggered()
    assert rests.status is OrderStatus.OPEN
    ((done, fill),) = book.on_market(bar(96.0, 97.0, 96.0, 96.5, ts_ns=300))
    assert done.status is OrderStatus.COMPLETE and fill.price == 96.0


def test_fills_with_per_symbol_tick_round_to_that_instruments_tick():
    book = PaperBook(slippage_bps=2.0, tick_size=0.05, tick_sizes={"NIFTY26AUGFUT": 0.1})
    book.place(order(tag="f", symbol="NIFTY26AUGFUT"))
    book.place(order(tag="e", symbol="SBIN"))
    ((_, fut_fill),) = book.on_price("NIFTY26AUGFUT", 10**12, 24_512.0)
    ((_, eq_fill),) = book.on_price("SBIN", 10**12, 512.0)
    assert fut_fill.price == 24_517.0  # 24,516.90 slipped, rounded up to the 0.10 tick
    assert eq_fill.price == 512.15  # 512.1024 up to the 0.05 tick


def test_place_with_price_off_the_symbols_tick_is_rejected_naming_the_tick():
    book = PaperBook(tick_sizes={"NIFTY26AUGFUT": 0.1})
    placed = book.place(order(B, LMT, price=24_500.05, symbol="NIFTY26AUGFUT"))
    assert placed.status is OrderStatus.REJECTED and "tick 0.1" in placed.reason


# ---------------------------------------------------------------------- modify


def test_modify_with_new_limit_price_acts_on_later_prices_only():
    book = PaperBook()
    book.place(order(B, LMT, price=99.0, ts_ns=100))
    changed = book.modify("t1", ts_ns=150, price=100.0)
    assert (changed.price, changed.ts_ns, changed.status) == (100.0, 150, OrderStatus.OPEN)
    assert book.lookup("t1") == changed
    assert book.on_price("INFY", 150, 99.5) == []  # not after the change
    [(done, fill)] = book.on_price("INFY", 151, 99.5)
    assert (done.status, fill.price) == (OrderStatus.COMPLETE, 99.5)


def test_modify_with_stop_turned_to_market_works_at_once_without_a_trigger():
    book = PaperBook()
    book.place(order(S, SLM, trigger=95.0))
    changed = book.modify("t1", ts_ns=100, order_type=MKT)
    assert (changed.status, changed.trigger_price, changed.price) == (OrderStatus.OPEN, 0.0, 0.0)
    [(_, fill)] = book.on_price("INFY", 101, 100.0)
    assert fill.price == 99.95


@pytest.mark.parametrize(
    ("new_type", "expected"),
    [(SL, OrderStatus.OPEN), (SLM, OrderStatus.TRIGGER_PENDING)],
)
def test_modify_with_triggered_stop_stays_triggered_only_as_the_same_type(new_type, expected):
    book = PaperBook()
    book.place(order(B, SL, price=101.0, trigger=100.0))
    assert book.on_price("INFY", 101, 102.0) == []  # triggered above its limit: rests OPEN
    changed = book.modify("t1", ts_ns=102, order_type=new_type, price=101.5, trigger_price=100.0)
    assert changed.status is expected


def test_modify_with_refused_change_raises_and_the_order_stands():
    book = PaperBook()
    placed = book.place(order(B, LMT, price=99.0))
    with pytest.raises(ModifyRefused, match="tick") as refused:
        book.modify("t1", ts_ns=150, price=99.03)
    assert refused.value.tag == "t1"
    assert book.lookup("t1") == placed and book.open_orders() == [placed]


def test_modify_with_quantity_not_above_the_filled_is_refused():
    book = PaperBook(liquidity=Liquidity(0.5))
    book.place(order(B, LMT, price=100.0, qty=100))
    book.on_price("INFY", 101, 100.0, quantity=80)  # 40 of 100 filled
    with pytest.raises(ModifyRefused, match="not above the filled 40"):
        book.modify("t1", ts_ns=102, quantity=40)
    assert book.modify("t1", ts_ns=102, quantity=60).quantity == 60


def test_modify_with_order_no_longer_working_returns_none():
    book = PaperBook()
    book.place(order())
    book.on_price("INFY", 101, 100.0)
    assert book.modify("t1", ts_ns=102, price=1.0) is None
    assert book.modify("unknown", ts_ns=102, price=1.0) is None


# ---------------------------------------------------------------------- triggers


def test_take_triggered_with_stop_resting_after_trigger_reports_it_once():
    book = PaperBook()
    book.place(order(B, SL, price=101.0, trigger=100.0, tag="a"))
    book.place(order(B, SL, price=101.0, trigger=100.0, tag="b"))
    book.on_price("INFY", 101, 102.0)
    book.cancel("b")  # no longer working: not reported
    assert [(o.tag, o.status) for o in book.take_triggered()] == [("a", OrderStatus.OPEN)]
    assert book.take_triggered() == []


def test_has_working_with_orders_follows_the_book():
    book = PaperBook()
    assert not book.has_working()
    book.place(order(B, LMT, price=90.0))
    assert book.has_working()
    book.cancel("t1")
    assert not book.has_working()


def test_refresh_with_any_tag_brings_no_fills():
    book = PaperBook()
    placed = book.place(order(B, LMT, price=90.0))
    assert book.refresh("t1") == (placed, [])
    assert book.refresh("unknown") == (None, [])


# -- a bounded book: the newest finished orders stay readable, every tag stays refused --


def _fill_one(book: PaperBook, tag: str, ts_ns: int) -> None:
    book.place(order(tag=tag, ts_ns=ts_ns))
    assert book.on_price("INFY", ts_ns + 1, 100.0)


def test_bounded_book_forgets_only_old_finished_orders_and_still_refuses_their_tags():
    book = PaperBook(slippage_bps=0, keep_finished=2)
    stop = book.place(order(S, SLM, trigger=50.0, tag="stop", ts_ns=1))  # works throughout
    book.place(order(B, LMT, price=1.0, tag="gone", ts_ns=1))
    assert book.cancel("gone") is not None
    refused = book.place(order(B, LMT, price=-1.0, tag="refused", ts_ns=1))
    assert refused.status is OrderStatus.REJECTED  # finished at once
    for i in range(8):
        _fill_one(book, f"f{i}", 10 + 10 * i)
    # Between 2 and 4 finished orders are kept (trimmed in batches); the newest two always.
    assert book.lookup("f7").status is OrderStatus.COMPLETE
    assert book.refresh("f6") == (book.lookup("f6"), [])
    assert book.lookup("f0") is None and book.lookup("gone") is None
    assert book.lookup("refused") is None
    assert book.lookup("stop") == stop  # a working order is never forgotten
    assert [o.tag for o in book.open_orders()] == ["stop"]
    for tag in ("f0", "gone", "refused", "f7"):
        again = book.place(order(tag=tag, ts_ns=500))
        assert again.status is OrderStatus.REJECTED
        assert again.reason == f"duplicate tag {tag!r}"
    assert book.cancel("f0") is None
    assert book.modify("f0", ts_ns=600, price=99.0) is None
    assert not book.on_price("INFY", 700, 100.0)  # nothing refused came back to life


def test_unbounded_book_keeps_every_finished_order():
    book = PaperBook(slippage_bps=0)
    for i in range(8):
        _fill_one(book, f"f{i}", 10 + 10 * i)
    assert all(book.lookup(f"f{i}").status is OrderStatus.COMPLETE for i in range(8))


@settings(max_examples=40, deadline=None)
@given(
    keep=st.integers(0, 5),
    steps=st.lists(st.sampled_from(["fill", "cancel", "reject", "stop"]), max_size=40),
)
def test_property_bounded_book_matches_the_unbounded_one(keep, steps):
    """Same orders, same prices: a bounded book and an unbounded one give the same
    answers and fills; the bounded one reads back at least the newest ``keep`` finished
    orders and at most ``2 * keep`` of them (each still what the unbounded one says)."""
    books = PaperBook(slippage_bps=0), PaperBook(slippage_bps=0, keep_finished=keep)
    finished: list[str] = []
    for i, step in enumerate(steps):
        tag, ts = f"o{i}", 10 * (i + 1)
        if step == "fill":
            placed = [b.place(order(tag=tag, ts_ns=ts)) for b in books]
            fills = [b.on_price("INFY", ts + 1, 100.0) for b in books]
            assert fills[0] == fills[1]
            finished += [o.tag for o, _ in fills[0]]
        elif step == "cancel":
            placed = [b.place(order(B, LMT, price=1.0, tag=tag, ts_ns=ts)) for b in books]
            assert books[0].cancel(tag) == books[1].cancel(tag)
            finished.append(tag)
        elif step == "reject":
            placed = [b.place(order(B, LMT, price=-1.0, tag=tag, ts_ns=ts)) for b in books]
            assert placed[0].status is OrderStatus.REJECTED
            finished.append(tag)
        else:
            placed = [b.place(order(S, SLM, trigger=1.0, tag=tag, ts_ns=ts)) for b in books]
        assert placed[0] == placed[1]
        again = [b.place(order(tag=f"o{i // 2}", ts_ns=ts)) for b in books]
        assert again[0] == again[1]
    full, bounded = books
    assert full.open_orders() == bounded.open_orders()
    kept = [tag for tag in finished if bounded.lookup(tag) is not None]
    if keep:
        assert kept[-keep:] == finished[-keep:]
    assert len(kept) <= 2 * keep
    for tag in kept:
        assert bounded.lookup(tag) == full.lookup(tag)


# ---------------------------------------------------------------------- the rest of the bar


def _entered(book: PaperBook, entry_bar: Bar) -> float:
    """A MARKET buy filled at ``entry_bar``'s open; its fill price."""
    book.place(order())
    ((_, fill),) = book.on_bar(entry_bar)
    return fill.price


@pytest.mark.parametrize(
    "entry_bar",
    [
        bar(100.0, 101.0, 97.0, 100.5),  # up bar: O -> L (through the stop) -> H -> C
        bar(100.0, 102.0, 97.0, 97.5),  # down bar: O -> H -> L (through the stop) -> C
    ],
    ids=["up-bar", "down-bar"],
)
def test_a_stop_placed_on_its_entrys_fill_meets_the_rest_of_that_bar(entry_bar):
    book = PaperBook(slippage_bps=0, rest_of_bar=True)
    _entered(book, entry_bar)
    stop = order(side=S, kind=SLM, trigger=98.0, tag="s1", ts_ns=200)
    assert book.place(stop).status is OrderStatus.TRIGGER_PENDING  # as placed
    ((done, fill),) = book.take_filled()
    assert (done.tag, done.status, fill.price, fill.ts_ns) == (
        "s1",
        OrderStatus.COMPLETE,
        98.0,
        200,
    )
    assert book.take_filled() == [] and book.open_orders() == []


def test_a_stop_the_rest_of_its_entrys_bar_fills_is_stamped_no_earlier_than_itself():
    """The probe's F3: the desk places the stop when it has seen the bar, after the
    bar's start; a fill stamped at the bar's start came before its own order's NEW."""
    book = PaperBook(slippage_bps=0, rest_of_bar=True)
    _entered(book, bar(100.0, 101.0, 97.0, 100.5, ts_ns=200))
    book.place(order(side=S, kind=SLM, trigger=98.0, tag="s1", ts_ns=260))
    ((done, fill),) = book.take_filled()
    assert (done.status, fill.price, fill.ts_ns) == (OrderStatus.COMPLETE, 98.0, 260)


def test_a_stop_the_rest_of_the_bar_never_reached_waits_for_the_next_bar():
    book = PaperBook(slippage_bps=0, rest_of_bar=True)
    _entered(book, bar(100.0, 101.0, 99.0, 100.5))
    book.place(order(side=S, kind=SLM, trigger=98.0, tag="s1", ts_ns=200))
    assert book.take_filled() == []
    assert [o.tag for o in book.open_orders()] == ["s1"]
    ((_, fill),) = book.on_bar(bar(99.5, 99.5, 97.0, 97.5, ts_ns=260))
    assert fill.price == 98.0


def test_a_limit_entry_filled_mid_bar_meets_only_the_walk_after_its_fill():
    book = PaperBook(slippage_bps=0, rest_of_bar=True)
    book.place(order(kind=LMT, price=99.0))
    # up bar O 100 -> L 96 -> H 101 -> C 100: the buy fills at 99 on the way down, and
    # the walk after it still reaches 96, through a stop at 97
    ((_, fill),) = book.on_bar(bar(100.0, 101.0, 96.0, 100.0))
    assert fill.price == 99.0
    book.place(order(side=S, kind=SL, price=96.5, trigger=97.0, tag="s1", ts_ns=200))
    ((done, stop_fill),) = book.take_filled()
    assert (done.tag, stop_fill.price) == ("s1", 97.0)


def test_after_the_reaction_a_new_stop_waits_and_without_rest_of_bar_it_always_does():
    book = PaperBook(slippage_bps=0, rest_of_bar=True)
    _entered(book, bar(100.0, 101.0, 97.0, 100.5))
    assert book.take_filled() == []  # the reaction is over: no stop came
    book.place(order(side=S, kind=SLM, trigger=98.0, tag="s1", ts_ns=200))
    assert book.take_filled() == [] and [o.tag for o in book.open_orders()] == ["s1"]
    exchange_book = PaperBook(slippage_bps=0)  # the local exchange's: orders come later
    _entered(exchange_book, bar(100.0, 101.0, 97.0, 100.5))
    exchange_book.place(order(side=S, kind=SLM, trigger=98.0, tag="s1", ts_ns=200))
    assert exchange_book.take_filled() == []


@pytest.mark.parametrize(
    ("kind", "price", "expected"),
    [
        (SLM, 0.0, 99.5),  # an SL-M: a market order from the price it met
        (SL, 99.0, 99.5),  # an SL whose limit the price is still within
    ],
    ids=["sl-m", "sl"],
)
def test_a_stop_already_through_the_market_when_placed_fills_where_the_market_is(
    kind, price, expected
):
    """The probe's F2: a tight stop above the entry bar's open (a long's sell stop at
    100.5 while the market stood at 99.5) filled at its trigger, 100.5 — above every
    price the rest of the bar traded, a stop-out at a profit out of nothing."""
    book = PaperBook(slippage_bps=0, rest_of_bar=True)
    _entered(book, bar(99.5, 100.2, 99.4, 100.0))  # up bar: O 99.5 -> L 99.4 -> H 100.2
    stop = order(side=S, kind=kind, price=price, trigger=100.5, tag="s1", ts_ns=200)
    book.place(stop)
    ((done, fill),) = book.take_filled()
    assert (done.status, fill.price) == (OrderStatus.COMPLETE, expected)
    assert book.lookup("s1").status is OrderStatus.COMPLETE  # F4: not TRIGGER PENDING


# ---------------------------------------------------------------------- expiry


def test_settle_at_expiry_fills_the_named_orders_at_exactly_the_price_even_zero():
    """The exchange's settlement is no trade: no slippage, no tick floor, no next-price
    wait; an option that lapses settles at zero. Orders not named are not touched."""
    book = PaperBook(slippage_bps=50)
    book.place(order(S, MKT, qty=75, tag="settle", ts_ns=100, symbol="CE"))
    book.place(order(S, SLM, trigger=12.0, qty=25, tag="stop", ts_ns=100, symbol="CE"))
    book.place(order(S, MKT, qty=10, tag="other", ts_ns=100, symbol="PE"))
    fills = book.settle_at_expiry(["settle", "stop", "gone"], 100, 0.0)
    assert [(o.tag, o.status, o.avg_price, f.price, f.quantity) for o, f in fills] == [
        ("settle", OrderStatus.COMPLETE, 0.0, 0.0, 75),
        ("stop", OrderStatus.COMPLETE, 0.0, 0.0, 25),
    ]
    assert [o.tag for o in book.open_orders()] == ["other"]
    book.place(order(S, MKT, qty=50, tag="itm", ts_ns=200, symbol="CE"))
    ((_, itm),) = book.settle_at_expiry(["itm"], 200, 261.37)
    assert itm.price == 261.37  # off the 0.05 grid and unslipped: the exact value


@pytest.mark.parametrize("price", [-0.05, float("nan"), float("inf")])
def test_settle_at_expiry_with_a_bad_price_raises_and_fills_nothing(price):
    book = PaperBook()
    book.place(order(S, MKT, qty=75, tag="settle", symbol="CE"))
    with pytest.raises(ValueError):
        book.settle_at_expiry(["settle"], 200, price)
    assert [o.tag for o in book.open_orders()] == ["settle"]


# ---------------------------------------------------------------------- watched

_SYMBOLS = ("INFY", "TCS")
_near = st.integers(1960, 2040).map(lambda t: t / 20)  # 98.00 .. 102.00, on the tick
watched_steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("place"),
            st.sampled_from(_SYMBOLS),
            st.sampled_from([B, S]),
            st.sampled_from([MKT, LMT, SL, SLM]),
            _near,
        ),
        st.tuples(st.just("cancel"), st.integers(0, 12)),
        st.tuples(st.just("modify"), st.integers(0, 12), _near),
        st.tuples(
            st.just("bar"),
            st.sampled_from(_SYMBOLS),
            st.lists(_near, min_size=4, max_size=4).map(lambda v: (v[0], max(v), min(v), v[3])),
        ),
        # a print whose triggered stops nobody takes at once (the session's square-off
        # tick): the next print of any symbol reports them
        st.tuples(st.just("tick"), st.sampled_from(_SYMBOLS), _near),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(steps=watched_steps)
def test_property_prints_the_watched_views_pass_over_change_nothing(steps):
    """The desk's gate binds ``watched()`` once a batch and asks the book about a bar
    only while its symbol has an order working or a triggered stop waits to be taken.
    Against a book asked about every bar: the same fills, the same triggered stops
    reported at the same prints, the same book, as orders come and go mid-run (fails if
    a view is not live, or leaves out a symbol with an order working)."""
    gated, asked = PaperBook(), PaperBook()
    resting, untaken = gated.watched()  # bound once: live for the whole run
    for ts, step in enumerate(steps, start=100):
        if step[0] == "place":
            _, symbol, side, kind, price = step
            o = order(side, kind, price=price, trigger=price, tag=f"t{ts}", ts_ns=ts)
            o = replace(o, symbol=symbol)
            assert gated.place(o) == asked.place(o)
        elif step[0] in ("cancel", "modify"):
            tag = f"t{100 + step[1]}"
            if step[0] == "cancel":
                assert gated.cancel(tag) == asked.cancel(tag)
            else:
                changes = {"ts_ns": ts, "price": step[2], "trigger_price": step[2]}
                try:
                    expected = asked.modify(tag, **changes)
                except ModifyRefused:
                    with pytest.raises(ModifyRefused):
                        gated.modify(tag, **changes)
                else:
                    assert gated.modify(tag, **changes) == expected
        elif step[0] == "tick":
            _, symbol, price = step
            tick = Tick(symbol, ts, price)
            assert gated.on_market(tick) == asked.on_market(tick)
        else:
            _, symbol, prices = step
            printed = bar(*prices, ts_ns=ts, symbol=symbol)
            expected = (asked.on_market(printed), asked.take_triggered())
            if symbol in resting or untaken:
                assert (gated.on_market(printed), gated.take_triggered()) == expected
            else:
                assert expected == ([], [])
        assert gated.open_orders() == asked.open_orders()
        for symbol in _SYMBOLS:
            working = any(o.symbol == symbol for o in gated.open_orders())
            assert (symbol in resting) == working
    assert gated.take_triggered() == asked.take_triggered()


def test_watched_views_follow_the_book_and_stay_the_same_objects():
    book = PaperBook()
    resting, untaken = book.watched()
    assert "INFY" not in resting and not untaken
    book.place(order(B, SL, price=101.0, trigger=100.0, tag="a"))
    book.place(order(B, SL, price=101.0, trigger=100.0, tag="b"))
    assert "INFY" in resting and not untaken
    book.on_price("INFY", 101, 102.0)  # both trigger, their limit below the price
    assert len(untaken) == 2
    book.cancel("b")
    assert "INFY" in resting  # "a" still works
    assert [o.tag for o in book.take_triggered()] == ["a"]
    assert not untaken and book.watched() == (resting, untaken)
    assert book.watched()[0] is resting and book.watched()[1] is untaken
    book.cancel("a")
    assert "INFY" not in resting  # its last order stopped working


def test_stop_bands_is_a_live_view_of_the_band_while_only_waiting_stops_work():
    """The gate binds ``stop_bands()`` once a batch: the same dict, kept as orders come
    and go; a symbol has a band only while every order of it working is a waiting stop."""
    book = PaperBook()
    bands = book.stop_bands()
    book.place(order(S, SLM, trigger=99.0, tag="a"))
    assert bands == {"INFY": (99.0, math.inf)}
    book.place(order(B, SL, price=102.0, trigger=101.0, tag="b"))
    assert bands == {"INFY": (99.0, 101.0)}
    book.place(order(B, LMT, price=95.0, tag="c"))  # not a stop: no band
    assert "INFY" not in bands and "INFY" in book.watched()[0]
    book.cancel("c")
    book.cancel("b")
    assert bands == {"INFY": (99.0, math.inf)} and book.stop_bands() is bands
    book.cancel("a")
    assert bands == {}


def test_a_stop_triggered_and_not_taken_keeps_every_print_asking_until_taken():
    """A print nobody took the triggered stops of (the session's square-off tick) leaves
    ``untaken`` non-empty: the next bar of any symbol, one with nothing working here
    included, must still be asked, so the stop is reported at that bar as before."""
    book = PaperBook()
    resting, untaken = book.watched()
    book.place(order(B, SL, price=100.0, trigger=100.0, tag="a", ts_ns=100))
    assert book.on_market(Tick("INFY", 101, 101.0)) == []  # triggered, its limit below
    other = bar(50.0, 50.5, 49.5, 50.0, ts_ns=200, symbol="TCS")
    assert "TCS" not in resting and untaken  # the gate's rule: ask
    assert book.on_market(other) == []
    assert [(o.tag, o.status) for o in book.take_triggered()] == [("a", OrderStatus.OPEN)]
    assert "TCS" not in resting and not untaken  # from here on, TCS's bars are passed over
