"""Paper broker: next-price fills, slippage against you, triggers, bars and rejections."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.brokers.base import Broker
from kitetui.brokers.paper import PaperBroker
from kitetui.domain import (
    Bar,
    Exchange,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
)

B, S = Side.BUY, Side.SELL
MKT, LMT, SL, SLM = OrderType.MARKET, OrderType.LIMIT, OrderType.SL, OrderType.SL_M


def order(
    side: Side = B,
    kind: OrderType = MKT,
    price: float = 0.0,
    trigger: float = 0.0,
    qty: int = 10,
    tag: str = "t1",
    ts_ns: int = 100,
    symbol: str = "INFY",
) -> Order:
    return Order(
        tag=tag,
        engine="eq",
        symbol=symbol,
        exchange=Exchange.NSE,
        side=side,
        quantity=qty,
        order_type=kind,
        product=Product.MIS,
        purpose=OrderPurpose.ENTRY,
        status=OrderStatus.NEW,
        ts_ns=ts_ns,
        price=price,
        trigger_price=trigger,
    )


def bar(o: float, h: float, low: float, c: float, ts_ns: int = 200, symbol: str = "INFY") -> Bar:
    return Bar(symbol, ts_ns, 60, o, h, low, c)


def _run(coro):
    """Drive a coroutine from a sync (hypothesis) test; it never awaits anything."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


# ---------------------------------------------------------------------- protocol


def test_paper_broker_with_protocol_check_is_a_broker():
    assert isinstance(PaperBroker(), Broker)


async def test_place_with_market_order_returns_open_with_broker_id():
    broker = PaperBroker()
    placed = await broker.place(order())
    assert placed.status is OrderStatus.OPEN
    assert placed.broker_order_id == "paper-t1"
    assert await broker.lookup("t1") == placed
    assert await broker.open_orders() == [placed]


@pytest.mark.parametrize("kind", [SL, SLM])
async def test_place_with_stop_order_returns_trigger_pending(kind):
    placed = await PaperBroker().place(order(kind=kind, price=101.0, trigger=101.0))
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
async def test_place_with_invalid_order_rejects_with_reason(o, fragment):
    broker = PaperBroker()
    placed = await broker.place(o)
    assert placed.status is OrderStatus.REJECTED
    assert fragment in placed.reason
    assert await broker.open_orders() == []


async def test_place_with_duplicate_tag_rejects_and_keeps_the_original():
    broker = PaperBroker()
    first = await broker.place(order())
    second = await broker.place(order(side=S))
    assert second.status is OrderStatus.REJECTED and "duplicate" in second.reason
    assert await broker.lookup("t1") == first


async def test_cancel_with_open_order_cancels_and_then_returns_none():
    broker = PaperBroker()
    await broker.place(order(kind=LMT, price=90.0))
    cancelled = await broker.cancel("t1")
    assert cancelled.status is OrderStatus.CANCELLED
    assert await broker.cancel("t1") is None
    assert await broker.cancel("unknown") is None
    assert await broker.lookup("t1") == cancelled
    assert broker.on_price("INFY", 500, 80.0) == []


async def test_cancel_with_filled_order_returns_none():
    broker = PaperBroker()
    await broker.place(order())
    broker.on_price("INFY", 101, 100.0)
    assert await broker.cancel("t1") is None
    assert (await broker.lookup("t1")).status is OrderStatus.COMPLETE


# ---------------------------------------------------------------------- ticks


async def test_on_price_with_same_or_earlier_ts_does_not_fill():
    broker = PaperBroker()
    await broker.place(order(ts_ns=100))
    assert broker.on_price("INFY", 99, 100.0) == []
    assert broker.on_price("INFY", 100, 100.0) == []
    assert broker.on_price("TCS", 101, 100.0) == []
    fills = broker.on_price("INFY", 101, 100.0)
    assert len(fills) == 1
    done, fill = fills[0]
    assert done.status is OrderStatus.COMPLETE and done.filled_qty == 10
    assert (fill.fill_id, fill.tag, fill.ts_ns, fill.quantity) == ("t1-1", "t1", 101, 10)
    assert done.avg_price == fill.price
    assert await broker.open_orders() == []


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
async def test_on_price_with_market_order_fills_with_slippage_against_you(
    side, price, bps, expected
):
    broker = PaperBroker(slippage_bps=bps)
    await broker.place(order(side=side))
    [(_, fill)] = broker.on_price("INFY", 101, price)
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
async def test_on_price_with_limit_order_fills_at_or_better_than_limit(
    side, limit, ticks, expected
):
    broker = PaperBroker()
    await broker.place(order(side=side, kind=LMT, price=limit))
    fills = [f for i, p in enumerate(ticks) for f in broker.on_price("INFY", 101 + i, p)]
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
async def test_on_price_with_sl_m_order_fills_only_once_triggered(side, trigger, ticks, expected):
    broker = PaperBroker()
    placed = await broker.place(order(side=side, kind=SLM, trigger=trigger))
    fills = [f for i, p in enumerate(ticks) for f in broker.on_price("INFY", 101 + i, p)]
    assert [f.price for _, f in fills] == ([] if expected is None else [expected])
    if expected is None:
        assert await broker.lookup("t1") == placed


async def test_on_price_with_sl_buy_gap_beyond_limit_rests_as_limit():
    broker = PaperBroker()
    await broker.place(order(B, SL, price=101.0, trigger=100.0))
    assert broker.on_price("INFY", 101, 102.0) == []  # triggered, but above the limit
    assert (await broker.lookup("t1")).status is OrderStatus.OPEN
    assert broker.on_price("INFY", 102, 101.5) == []
    [(done, fill)] = broker.on_price("INFY", 103, 100.5)
    assert fill.price == 100.5
    assert done.status is OrderStatus.COMPLETE


async def test_on_price_with_sl_sell_triggered_inside_limit_fills_at_price():
    broker = PaperBroker()
    await broker.place(order(S, SL, price=99.0, trigger=100.0))
    assert broker.on_price("INFY", 101, 100.05) == []
    [(_, fill)] = broker.on_price("INFY", 102, 99.5)
    assert fill.price == 99.5


@pytest.mark.parametrize("price", [float("nan"), float("inf"), 0.0, -1.0])
async def test_on_price_with_bad_price_is_ignored(price):
    broker = PaperBroker()
    await broker.place(order())
    assert broker.on_price("INFY", 101, price) == []
    assert len(await broker.open_orders()) == 1


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
    broker = PaperBroker()
    _run(broker.place(o))
    fills = broker.on_bar(bar(*ohlc))
    assert [f.price for _, f in fills] == ([] if expected is None else [expected])
    if fills:
        assert fills[0][1].ts_ns == 200


def test_on_bar_with_bar_starting_at_order_ts_fills_at_its_open():
    # An order decided on a closed bar is stamped with that bar's end, which is the next
    # bar's start: that next bar's open is the first price after the decision.
    broker = PaperBroker()
    _run(broker.place(order(ts_ns=200)))
    assert broker.on_bar(bar(100, 101, 99, 100, ts_ns=140)) == []
    fills = broker.on_bar(bar(100, 101, 99, 100, ts_ns=200))
    assert len(fills) == 1 and fills[0][1].ts_ns == 200


def test_on_bar_with_several_orders_fills_each_in_placement_order():
    broker = PaperBroker()
    _run(broker.place(order(B, LMT, price=99.0, tag="a")))
    _run(broker.place(order(S, SLM, trigger=98.0, tag="b")))
    _run(broker.place(order(B, LMT, price=90.0, tag="c")))
    _run(broker.place(order(B, tag="d", symbol="TCS")))
    fills = broker.on_bar(bar(100.0, 100.5, 97.0, 98.0))
    assert [(o.tag, f.price) for o, f in fills] == [("a", 99.0), ("b", 97.95)]
    assert [o.tag for o in _run(broker.open_orders())] == ["c", "d"]


def test_on_bar_with_nan_price_is_ignored():
    broker = PaperBroker()
    _run(broker.place(order()))
    assert broker.on_bar(bar(float("nan"), 101, 99, 100)) == []


# ---------------------------------------------------------------------- restore


async def test_restore_with_open_orders_works_them_again():
    before = PaperBroker()
    placed = [
        await before.place(order(B, LMT, price=99.0, tag="a")),
        await before.place(order(S, SLM, trigger=95.0, tag="b")),
    ]
    done = replace(placed[0], tag="c", status=OrderStatus.COMPLETE, filled_qty=10)
    never_sent = replace(placed[0], tag="d", status=OrderStatus.NEW, broker_order_id="")
    after = PaperBroker()
    after.restore([*placed, done, never_sent])
    assert await after.open_orders() == placed
    assert await after.lookup("c") == done
    assert await after.lookup("d") is None
    fills = after.on_price("INFY", 101, 94.0)
    assert [o.tag for o, _ in fills] == ["a", "b"]


async def test_restore_with_triggered_sl_m_fills_as_market():
    broker = PaperBroker()
    broker.restore([replace(order(S, SLM, trigger=95.0), status=OrderStatus.OPEN)])
    [(_, fill)] = broker.on_price("INFY", 101, 96.0)
    assert fill.price == 95.95


# ---------------------------------------------------------------------- properties

tick_prices = st.integers(min_value=20, max_value=200_000).map(lambda t: t / 20)


@st.composite
def working_orders(draw):
    side = draw(st.sampled_from([B, S]))
    kind = draw(st.sampled_from([MKT, LMT, SL, SLM]))
    price = draw(tick_prices)
    trigger = draw(tick_prices)
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
    broker = PaperBroker(slippage_bps=bps)
    _run(broker.place(o))
    ticks = sorted(ticks)
    fills = [(ts, p, f) for ts, p in ticks for f in broker.on_price("INFY", ts, p)]
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
    broker = PaperBroker()
    _run(broker.place(o))
    op, hi, lo, _ = prices
    fills = broker.on_bar(bar(*prices, ts_ns=bar_ts))
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


def test_fills_with_per_symbol_tick_round_to_that_instruments_tick():
    broker = PaperBroker(slippage_bps=2.0, tick_size=0.05, tick_sizes={"NIFTY26AUGFUT": 0.1})
    _run(broker.place(order(tag="f", symbol="NIFTY26AUGFUT")))
    _run(broker.place(order(tag="e", symbol="SBIN")))
    ((_, fut_fill),) = broker.on_price("NIFTY26AUGFUT", 10**12, 24_512.0)
    ((_, eq_fill),) = broker.on_price("SBIN", 10**12, 512.0)
    assert fut_fill.price == 24_517.0  # 24,516.90 slipped, rounded up to the 0.10 tick
    assert eq_fill.price == 512.15  # 512.1024 up to the 0.05 tick


def test_place_with_price_off_the_symbols_tick_is_rejected_naming_the_tick():
    broker = PaperBroker(tick_sizes={"NIFTY26AUGFUT": 0.1})
    placed = _run(broker.place(order(B, LMT, price=24_500.05, symbol="NIFTY26AUGFUT")))
    assert placed.status is OrderStatus.REJECTED and "tick 0.1" in placed.reason
