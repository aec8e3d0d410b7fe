"""Live, the news of a symbol's other orders does not wait behind its hung entry placement.

A strategy's entry is placed in its symbol's lane (``UpdateLanes``), and the symbol's
order updates went through that same lane: while Kite took its time to answer one
placement (its 7 s timeout, then the unknown placement's look-ups), every update of the
symbol waited behind it. A sliced entry's first slice filled at Kite and the desk did
not know it held a position, so no stop went out for the whole hang (NAKED at Kite,
no alarm); the book, the P&L the loss limits read and the screen were stale for as
long. An update of an order the desk knows and has its answer for now runs at once,
in a lane of its own order (its updates keep their order); an update of the order
whose placement is in flight still waits for that placement's answer.

The desk runs against the strict exchange in process (``kite_rig``), the order updates
going through the lanes as live (``_through_lanes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from kitetui.domain import OrderPurpose, OrderStatus, OrderType, Side, SignalKind
from kitetui.events import EventKind

from .desk import rule_11
from .kite_rig import OPTION, SYMBOL, Rig, drawn_signal
from .test_entry_lanes import SOON_S, _at_exchange
from .test_flatten_beside_entry import (
    _answer_held,
    _desk,
    _settle,
    _sold,
    _soon,
    _through_lanes,
)


@asynccontextmanager
async def _desk_on(folder: Path) -> AsyncIterator[Rig]:
    """A desk on the strict exchange, its journal and database closed however the test
    ends (a database left open keeps its thread, and a failed test's process, alive)."""
    rig = await _desk(folder)
    try:
        yield rig
    finally:
        await asyncio.wait_for(rig.journal.close(), 10)
        await asyncio.wait_for(rig.db.close(), 10)


def _second_slice(params: dict) -> bool:
    return params.get("tradingsymbol") == SYMBOL and params["tag"].endswith("2")


def _stops_at_kite(rig: Rig) -> list[dict]:
    """The symbol's protective stops at Kite (a triggered SL-M shows as a MARKET)."""
    orders = rig.trader.orders
    return [
        o
        for o in _at_exchange(rig, SYMBOL)
        if o["tag"] in orders and orders[o["tag"]].purpose is OrderPurpose.STOP
    ]


def _resting_stop(rig: Rig, quantity: int) -> bool:
    return [(o["status"], o["quantity"]) for o in _stops_at_kite(rig)] == [
        ("TRIGGER PENDING", quantity)
    ]


async def _first_slice_covered(rig: Rig) -> list[str]:
    """A LONG sliced in five; the second slice waits at Kite's door, the first filled.
    Its news goes through the lanes: the desk hears of it and its stop goes out while
    the second still hangs. The slices' tags."""
    trader = rig.trader
    await trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
    slices = [o.tag for o in trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
    assert len(slices) == 5
    await _soon(lambda: bool(_at_exchange(rig, SYMBOL)))
    assert [o["status"] for o in _at_exchange(rig, SYMBOL)] == ["COMPLETE"]  # the first
    _through_lanes(rig)  # the first slice's news, behind the second slice's placement
    await _soon(lambda: trader.position_qty(SYMBOL) == 100)
    await _soon(lambda: _resting_stop(rig, 100))  # its stop, at Kite
    _through_lanes(rig)  # the stop's own news
    await _soon(lambda: trader.orders[_stop_tag(rig)].status is OrderStatus.TRIGGER_PENDING)
    assert not rule_11(trader)
    assert trader.exits.protection(SYMBOL).state == "PROTECTED"
    assert trader.orders[slices[1]].status is OrderStatus.NEW  # still unanswered
    return slices


def _stop_tag(rig: Rig) -> str:
    (stop,) = _stops_at_kite(rig)
    return stop["tag"]


def test_a_filled_slice_is_covered_while_a_later_slice_hangs(tmp_path: Path) -> None:
    """The first slice's fill is heard, and its stop placed, while the second slice's
    placement hangs at Kite's door: before, nothing covered it until Kite answered."""

    async def scenario() -> None:
        async with _desk_on(tmp_path) as rig:
            trader = rig.trader
            with _answer_held(rig, _second_slice, acted=False) as release:
                slices = await _first_slice_covered(rig)
                assert release.arrived.is_set() and not release.is_set()
                release.set()
                await asyncio.wait_for(rig.lanes.drain(), 10)
            _through_lanes(rig)
            await asyncio.wait_for(rig.lanes.drain(), 10)
            assert trader.position_qty(SYMBOL) == rig.exchange_position() == 500
            resting = [o for o in _stops_at_kite(rig) if o["status"] == "TRIGGER PENDING"]
            assert sum(o["quantity"] for o in resting) == 500  # (in freeze-sized orders)
            assert not rule_11(trader)
            await asyncio.wait_for(trader.flatten(SYMBOL, OrderPurpose.FLATTEN, "test"), 10)
            await _settle(rig, (SYMBOL,))
            assert _sold(rig, SYMBOL) == 500
            assert all(trader.orders[tag].status is OrderStatus.COMPLETE for tag in slices)

    asyncio.run(scenario())


async def _close_by(rig: Rig, closer: str) -> None:
    """What would close ``SYMBOL`` next: the strategy's exit signal, the square-off, a
    person's flatten, the kill switch or the exit manager's timer (bounded)."""
    trader = rig.trader
    if closer == "exit signal":
        closing = trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.EXIT))  # type: ignore[arg-type]
    elif closer == "square-off":
        closing = trader.flatten_soon(SYMBOL, OrderPurpose.SQUARE_OFF, "square-off")
    elif closer == "flatten":
        closing = trader.flatten(SYMBOL, OrderPurpose.FLATTEN, "manual")
    elif closer == "kill switch":
        closing = trader.flatten_all(OrderPurpose.FLATTEN, "kill switch")
    else:
        closing = trader.exits.service()
    await asyncio.wait_for(closing, SOON_S)


@pytest.mark.parametrize("closer", ["exit signal", "square-off", "exit timer"])
def test_a_stop_filled_beside_a_hung_slice_is_heard_at_once(tmp_path: Path, closer: str) -> None:
    """The first slice's stop fills at Kite while the second slice still hangs: the desk
    is flat at once, and what would close the position next (a strategy's exit, the
    session's square-off, the exit timer) sends nothing (never a second close, which
    would leave Kite short)."""

    async def scenario() -> None:
        async with _desk_on(tmp_path) as rig:
            trader = rig.trader
            with _answer_held(rig, _second_slice, acted=False) as release:
                await _first_slice_covered(rig)
                await rig.tick(-5, 1000)  # through the stop: it fills at Kite
                await _soon(lambda: _stops_at_kite(rig)[0]["status"] == "COMPLETE")
                assert rig.exchange_position() == 0
                _through_lanes(rig)
                await _soon(lambda: trader.position_qty(SYMBOL) == 0)  # heard while it hangs
                assert "StopFilled" in [e.kind for e in trader.events]
                await _close_by(rig, closer)
                await asyncio.sleep(0.05)  # (what a close beside the lane would have sent)
                assert _sold(rig, SYMBOL) == 100  # the stop's, and nothing else
                assert [
                    o["tag"] for o in _at_exchange(rig, SYMBOL) if o["transaction_type"] == "SELL"
                ] == [_stop_tag(rig)]
                assert rig.exchange_position() == 0
                assert not rule_11(trader)
                assert not release.is_set()
                release.set()
                await asyncio.wait_for(rig.lanes.drain(), 10)
            _through_lanes(rig)
            await asyncio.wait_for(rig.lanes.drain(), 10)
            await asyncio.wait_for(trader.flatten_all(OrderPurpose.FLATTEN, "test"), 10)
            await _settle(rig, (SYMBOL,))

    asyncio.run(scenario())


async def _protected_hundred(rig: Rig) -> str:
    """Long 100 of the future, its stop resting at Kite, every update heard; the stop's tag."""
    trader = rig.trader
    signal = drawn_signal(rig, SignalKind.LONG)
    await trader._place_entry(
        rig.engine,  # type: ignore[arg-type]
        signal,
        SYMBOL,
        Side.BUY,
        100,
        round(rig.price - 30, 2),
        rig.price,
        "",
    )
    for _ in range(3):
        await asyncio.wait_for(rig.lanes.drain(), 10)
        _through_lanes(rig)
    await asyncio.wait_for(rig.lanes.drain(), 10)
    assert trader.position_qty(SYMBOL) == 100
    assert _resting_stop(rig, 100)
    tag = _stop_tag(rig)
    assert trader.orders[tag].status is OrderStatus.TRIGGER_PENDING
    return tag


@pytest.mark.parametrize("closer", ["exit signal", "flatten", "kill switch"])
def test_a_close_that_finds_its_stop_filled_at_kite_sends_nothing_and_says_so(
    tmp_path: Path, closer: str
) -> None:
    """The stop filled at Kite and its news is still on its way (a websocket behind, an
    update in its lane): the close turns the stop into itself in place, finds it filled,
    takes its fill and sends nothing more (flat, not short). It is journaled: the close
    was not sent because Kite was already flat (the stop's fill, heard by the close,
    says no ``StopFilled``)."""

    async def scenario() -> None:
        async with _desk_on(tmp_path) as rig:
            trader = rig.trader
            stop_tag = await _protected_hundred(rig)
            await rig.tick(-5, 1000)  # through the stop
            assert _stops_at_kite(rig)[0]["status"] == "COMPLETE"
            assert rig.exchange_position() == 0
            late = list(rig.updates)  # the stop's news, not yet heard
            rig.updates.clear()
            assert trader.position_qty(SYMBOL) == 100  # the desk still holds it
            await _close_by(rig, closer)
            await asyncio.wait_for(rig.lanes.drain(), 10)
            assert trader.position_qty(SYMBOL) == rig.exchange_position() == 0
            assert _sold(rig, SYMBOL) == 100
            sells = [o["tag"] for o in _at_exchange(rig, SYMBOL) if o["transaction_type"] == "SELL"]
            assert sells == [stop_tag]  # no second close: Kite is flat, not short
            said = [e for e in trader.events if e.kind == EventKind.CLOSE_NOT_SENT]
            assert len(said) == 1, [e.message for e in said]
            assert stop_tag in said[0].message and "flat" in said[0].message
            await rig.journal.flush()
            row = await (
                await rig.db.execute(
                    "SELECT COUNT(*) FROM events WHERE kind = ?", (str(EventKind.CLOSE_NOT_SENT),)
                )
            ).fetchone()
            assert row[0] == 1
            rig.updates[:0] = late  # the late news arrives: nothing new
            _through_lanes(rig)
            await asyncio.wait_for(rig.lanes.drain(), 10)
            await _settle(rig, (SYMBOL,))
            assert _sold(rig, SYMBOL) == 100

    asyncio.run(scenario())


def test_a_stops_news_that_comes_before_its_answer_is_not_undone_by_it(tmp_path: Path) -> None:
    """The option's stop goes out from its entry's fill (in that fill's lane) and Kite
    is slow to answer it; meanwhile it triggers and rests (the premium gapped below its
    limit). Its news runs in its own lane now, not behind its placement: the desk sees
    it triggered, and the late answer ("placed, waiting for its trigger") must not put
    it back, or the exit timer would never re-price it toward the market (before, its
    news waited in the symbol's lane until the answer had been taken)."""

    async def scenario() -> None:
        async with _desk_on(tmp_path) as rig:
            trader = rig.trader
            await rig.buy_option()
            await asyncio.wait_for(rig.lanes.drain(), 10)  # the entry, answered
            stop = lambda p: p.get("tradingsymbol") == OPTION and p["transaction_type"] == "SELL"  # noqa: E731
            with _answer_held(rig, stop, acted=True) as release:
                _through_lanes(rig)  # the entry's fill: its stop goes out
                await _soon(release.arrived.is_set)  # at Kite, its answer held
                (tag,) = [
                    o["tag"]
                    for o in _at_exchange(rig, OPTION)
                    if o["tag"] in trader.orders
                    and trader.orders[o["tag"]].purpose is OrderPurpose.STOP
                ]
                await rig.option_tick(-350, 1000)  # 100 -> 65: through the stop (70) and its limit
                assert [o["status"] for o in _at_exchange(rig, OPTION) if o["tag"] == tag] == [
                    "OPEN"
                ]
                # Kite's websocket tells of it once, as it stands (its earlier news lost:
                # the reconciler is there for that): triggered, resting.
                news = [u for u in rig.updates if u["tag"] == tag]
                assert [u["status"] for u in news][-1] == "OPEN"
                rig.updates[:] = news[-1:]
                _through_lanes(rig)
                await _soon(lambda: trader.orders[tag].status is OrderStatus.OPEN)
                release.set()
                await asyncio.wait_for(rig.lanes.drain(), 10)
            assert trader.orders[tag].status is OrderStatus.OPEN  # the answer undid nothing
            assert trader.orders[tag].broker_order_id  # (and gave its id)
            rig.wall.ns += 2 * 10**9  # past reprice_after_s
            await asyncio.wait_for(trader.exits.service(), 10)
            assert trader.orders[tag].order_type is OrderType.LIMIT  # re-priced at the market
            await _settle(rig, (OPTION,))
            assert rig.exchange_position(OPTION) == 0

    asyncio.run(scenario())


def test_an_exit_that_finds_the_position_gone_flat_while_it_waited_says_so(
    tmp_path: Path,
) -> None:
    """A strategy's exit saw the position and waited for the symbol (the exit timer was
    working it); meanwhile the stop's fill was heard and the position went flat. The
    exit sends nothing (flat, not short at Kite), and says why (``CloseNotSent``)."""

    async def scenario() -> None:
        async with _desk_on(tmp_path) as rig:
            trader = rig.trader
            stop_tag = await _protected_hundred(rig)
            await rig.tick(-5, 1000)  # through the stop: filled at Kite
            assert rig.exchange_position() == 0
            busy = trader.exits._lock(SYMBOL)
            await asyncio.wait_for(busy.acquire(), SOON_S)  # something works the symbol
            signal = drawn_signal(rig, SignalKind.EXIT)
            exiting = asyncio.ensure_future(trader.on_signal(rig.engine, signal))  # type: ignore[arg-type]
            await asyncio.sleep(0.01)
            assert not exiting.done()  # waiting for the symbol, the position +100 seen
            _through_lanes(rig)  # the stop's fill
            await _soon(lambda: trader.position_qty(SYMBOL) == 0)
            busy.release()
            assert await asyncio.wait_for(exiting, SOON_S) == 0
            await asyncio.wait_for(rig.lanes.drain(), 10)
            assert _sold(rig, SYMBOL) == 100 and rig.exchange_position() == 0
            sells = [o["tag"] for o in _at_exchange(rig, SYMBOL) if o["transaction_type"] == "SELL"]
            assert sells == [stop_tag]
            said = [e.message for e in trader.events if e.kind == EventKind.CLOSE_NOT_SENT]
            assert len(said) == 1 and "flat" in said[0], said
            await _settle(rig, (SYMBOL,))

    asyncio.run(scenario())
