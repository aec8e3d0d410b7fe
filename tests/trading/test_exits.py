"""The exit manager keeps rule 11: every open position is protected or being closed.

These drive the real trader, exit manager and journal with the paper broker (and a
broker that refuses on cue), price by price, and check the invariant after each step.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kitetui.brokers.base import BrokerUnavailable, ModifyRefused, NotAccepted
from kitetui.brokers.paper import PaperBroker
from kitetui.config import ExitConfig, RiskConfig
from kitetui.domain import (
    Exchange,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    SignalKind,
)
from kitetui.supervisor.command_handler import CommandHandler
from kitetui.trading.exits import ExitManager

from .desk import CALL, FUTURE, StubEngine, cover_of, make_desk, rule_11, working

FUT = FUTURE.tradingsymbol
OPT = CALL.tradingsymbol


class Refusing:
    """The paper broker, refusing the next calls it is told to (place, modify, cancel)."""

    def __init__(self, paper: PaperBroker) -> None:
        self.paper = paper
        self.faults: dict[str, deque[Exception]] = {
            "place": deque(),
            "modify": deque(),
            "cancel": deque(),
        }
        self.placed: list[str] = []

    def fail(self, call: str, *errors: Exception) -> None:
        self.faults[call].extend(errors)

    async def place(self, order: Order) -> Order:
        self.placed.append(order.tag)
        if self.faults["place"]:
            error = self.faults["place"].popleft()
            if isinstance(error, NotAccepted):
                raise NotAccepted(str(error), order.tag)
            raise error
        return await self.paper.place(order)

    async def modify(self, tag: str, **changes):
        if self.faults["modify"]:
            raise self.faults["modify"].popleft()
        return await self.paper.modify(tag, **changes)

    async def cancel(self, tag: str):
        if self.faults["cancel"]:
            raise self.faults["cancel"].popleft()
        return await self.paper.cancel(tag)

    async def lookup(self, tag: str):
        return await self.paper.lookup(tag)

    async def refresh(self, tag: str):
        return await self.paper.refresh(tag)

    async def open_orders(self):
        return await self.paper.open_orders()

    def on_price(self, symbol, ts, price):
        return self.paper.on_price(symbol, ts, price)


def _ticks() -> dict[str, float]:
    return {FUT: 0.05, OPT: 0.05}


def _events(desk, kind: str) -> list[str]:
    rows = sqlite3.connect(desk.db_path).execute(
        "SELECT message FROM events WHERE kind = ?", (kind,)
    )
    return [r[0] for r in rows]


async def _desk(tmp_path: Path, **kwargs):
    engine = StubEngine(instruments={FUT: FUTURE, OPT: CALL}, freeze=kwargs.pop("freeze", None))
    roomy = RiskConfig(max_order_value=1e9, max_gross_exposure=1e10, max_order_quantity=10_000)
    desk = await make_desk(tmp_path, engine=engine, risk=roomy, **kwargs)
    desk.db_path = tmp_path / "state.db"
    return desk


async def _refusing_desk(tmp_path: Path, **kwargs):
    """A desk whose broker refuses the calls a test names (``Refusing``): (desk, broker)."""
    broker = Refusing(PaperBroker(slippage_bps=0, tick_sizes=_ticks()))
    return await _desk(tmp_path, broker=broker, **kwargs), broker


async def _long(desk, price: float = 19_500.0) -> None:
    """Go long the future at ``price`` and let the entry fill at the next price."""
    await desk.price(FUT, price)
    await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, price))
    await desk.price(FUT, price)
    assert desk.trader.position_qty(FUT) > 0


async def _long_option(desk) -> None:
    """Buy 50 of the call at 100 with its stop at 70 (the fill comes with the next price)."""
    await desk.price(OPT, 100.0)
    await desk.trader._place_entry(
        desk.engine, desk.signal(SignalKind.LONG, OPT, 100.0), OPT, Side.BUY, 50, 70.0,
        100.0, "",
    )  # fmt: skip


async def test_entry_fill_is_protected_by_a_stop_of_the_position_size(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        qty, stops, closing = cover_of(desk.trader, FUT)
        assert stops == qty and closing == 0
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        assert stop.order_type is OrderType.SL_M and stop.trigger_price < 19_500
        assert desk.exits.protection(FUT).text == f"STOP @ {stop.trigger_price:.2f}".rstrip(
            "0"
        ).rstrip(".")
        assert len(stop.tag) <= 20 and stop.tag.isalnum()
        assert rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_option_is_protected_by_an_sl_limit_never_sl_m(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, exits=ExitConfig(option_stop_limit_pct=5.0))
    try:
        await desk.price(OPT, 100.0)
        desk.trader.portfolio.mark(OPT, 100.0)
        placed = await desk.trader._place_entry(
            desk.engine,
            desk.signal(SignalKind.LONG, OPT, 100.0),
            OPT,
            side=Side.BUY,
            quantity=50,
            stop=70.0,
            price=100.0,
            why_zero="",
        )
        assert placed[1] == 1
        await desk.price(OPT, 100.0)
        [stop] = working(desk.trader, OPT, OrderPurpose.STOP)
        assert stop.order_type is OrderType.SL
        assert stop.trigger_price == 70.0 and stop.price == pytest.approx(66.5)
        assert rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_exit_turns_the_stop_into_the_close_in_place(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        signal = desk.signal(SignalKind.EXIT, FUT, 19_520.0)
        assert await desk.trader.on_signal(desk.engine, signal) == 1
        [close] = working(desk.trader, FUT)
        assert close.tag == stop.tag  # the same order: never two closing orders, never none
        assert close.purpose is OrderPurpose.EXIT and close.order_type is OrderType.MARKET
        assert close.signal_id == signal.signal_id
        assert desk.exits.protection(FUT).state == "EXITING"
        assert rule_11(desk.trader) == []
        await desk.price(FUT, 19_520.0)
        assert desk.trader.position_qty(FUT) == 0
        assert desk.trader.open_orders(FUT) == []
        assert rule_11(desk.trader) == []
        await desk.trader.journal.flush()
        row = sqlite3.connect(desk.db_path).execute(
            "SELECT purpose, order_type, status FROM orders WHERE tag = ?", (stop.tag,)
        )
        assert row.fetchone() == ("EXIT", "MARKET", "COMPLETE")
    finally:
        await desk.close()


async def test_flatten_and_kill_close_through_the_same_door(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        assert await desk.trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test") == 1
        [close] = working(desk.trader, FUT)
        assert (close.tag, close.purpose) == (stop.tag, OrderPurpose.FLATTEN)
        # a second flatten while closing sends nothing more
        assert await desk.trader.flatten(FUT, OrderPurpose.SQUARE_OFF, "square-off") is False
        assert len(working(desk.trader, FUT)) == 1
        await desk.price(FUT, 19_480.0)
        assert desk.trader.position_qty(FUT) == 0 and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_sliced_position_has_sliced_stops_and_every_slice_turns(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, freeze=100)
    try:
        await desk.price(FUT, 19_500.0)
        placed = await desk.trader._place_entry(
            desk.engine,
            desk.signal(SignalKind.LONG, FUT, 19_500.0),
            FUT,
            side=Side.BUY,
            quantity=250,
            stop=19_400.0,
            price=19_500.0,
            why_zero="",
        )
        assert placed[1] == 1
        await desk.price(FUT, 19_500.0)
        assert desk.trader.position_qty(FUT) == 250
        stops = working(desk.trader, FUT, OrderPurpose.STOP)
        assert sum(s.quantity for s in stops) == 250 and all(s.quantity <= 100 for s in stops)
        assert all(len(s.tag) <= 20 for s in stops)
        assert rule_11(desk.trader) == []
        await desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "test")
        assert {o.purpose for o in working(desk.trader, FUT)} == {OrderPurpose.FLATTEN}
        assert rule_11(desk.trader) == []
        await desk.price(FUT, 19_490.0)
        assert desk.trader.position_qty(FUT) == 0 and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_stop_refused_by_the_exchange_closes_the_position(tmp_path: Path) -> None:
    desk, broker = await _refusing_desk(tmp_path)
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0))

        async def reject(order: Order) -> Order:
            from dataclasses import replace

            if order.purpose is OrderPurpose.STOP:
                return replace(order, status=OrderStatus.REJECTED, reason="RMS: stop refused")
            return await broker.paper.place(order)

        broker.place = reject  # type: ignore[method-assign]
        await desk.price(FUT, 19_500.0)
        assert desk.trader.position_qty(FUT) > 0
        closing = working(desk.trader, FUT, OrderPurpose.FLATTEN)
        assert closing, "a refused stop means exit now"
        assert rule_11(desk.trader) == []
        await desk.trader.journal.flush()
        assert _events(desk, "StopRejected")
        await desk.price(FUT, 19_490.0)
        assert desk.trader.position_qty(FUT) == 0
    finally:
        await desk.close()


async def test_close_not_accepted_keeps_the_stop_and_retries(tmp_path: Path) -> None:
    desk, broker = await _refusing_desk(tmp_path, exits=ExitConfig(retry_backoff_s=0.5))
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        broker.fail("modify", BrokerUnavailable("429 Too many requests"))
        await desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "test")
        # the stop still stands: protected while the close waits to be retried
        assert [o.tag for o in working(desk.trader, FUT)] == [stop.tag]
        assert desk.exits.protection(FUT).state == "EXITING"
        assert rule_11(desk.trader) == []
        # and a person asking is not told the close is at the exchange (probe A M1)
        assert desk.exits.unsent_closes() == [FUT]
        handler = CommandHandler(SimpleNamespace(trader=desk.trader))  # type: ignore[arg-type]
        assert (await handler._flatten(FUT)).message == f"flatten {FUT}: already working"
        desk.exits._closing.clear()  # as if asked before the close began
        broker.fail("modify", BrokerUnavailable("429 Too many requests"))
        reply = await handler._flatten(FUT)
        assert "not accepted yet and is retrying" in reply.message, reply.message
        desk.advance(0.2)
        await desk.exits.service()
        assert working(desk.trader, FUT)[0].purpose is OrderPurpose.STOP  # not due yet
        desk.advance(0.5)
        await desk.exits.service()
        [close] = working(desk.trader, FUT)
        assert (close.tag, close.purpose) == (stop.tag, OrderPurpose.FLATTEN)
        assert desk.exits.unsent_closes() == []
        await desk.trader.journal.flush()
        assert _events(desk, "ExitRetryScheduled")
        await desk.price(FUT, 19_450.0)
        assert desk.trader.position_qty(FUT) == 0 and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_fresh_close_not_accepted_is_retried_under_a_fresh_tag(tmp_path: Path) -> None:
    desk, broker = await _refusing_desk(tmp_path, exits=ExitConfig(retry_backoff_s=1.0))
    try:
        await _long(desk)
        # the exchange will not turn the stop (modify refused): it is cancelled and a
        # fresh close goes out, which meets two 429s before it is accepted
        broker.fail("modify", ModifyRefused("not allowed", "x"))
        broker.fail("place", NotAccepted("429", ""), NotAccepted("429", ""))
        before = len(broker.placed)
        await desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "test")
        assert rule_11(desk.trader) == []
        for _ in range(8):
            desk.advance(1.0)
            await desk.exits.service()
            assert rule_11(desk.trader) == []
        tags = broker.placed[before:]
        closes = [t for t in tags if desk.trader.orders[t].purpose is OrderPurpose.FLATTEN]
        assert len(closes) == 3 and len(set(closes)) == 3  # a fresh tag every time
        assert desk.trader.orders[closes[-1]].status is OrderStatus.OPEN
        await desk.price(FUT, 19_450.0)
        assert desk.trader.position_qty(FUT) == 0 and rule_11(desk.trader) == []
        assert desk.trader.open_orders() == []
    finally:
        await desk.close()


async def test_stop_not_accepted_is_retried_with_the_naked_alarm(tmp_path: Path) -> None:
    desk, broker = await _refusing_desk(tmp_path, exits=ExitConfig(retry_backoff_s=0.5))
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0))
        broker.fail("place", NotAccepted("429", ""))
        await desk.price(FUT, 19_500.0)
        assert desk.exits.protection(FUT).text.startswith("NAKED stop retry")
        assert FUT in desk.exits.naked() and rule_11(desk.trader) == []
        desk.advance(0.6)
        await desk.exits.service()
        assert desk.exits.protection(FUT).state == "PROTECTED"
        assert desk.exits.naked() == {} and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_a_stop_never_accepted_is_said_so_not_called_refused(tmp_path: Path) -> None:
    """Probe A M4: three 429s in a row close the position as documented, but the event
    called them the exchange's refusal."""
    desk, broker = await _refusing_desk(tmp_path, exits=ExitConfig(retry_backoff_s=0.5))
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0))
        broker.fail("place", *(NotAccepted("429 Too many requests", "") for _ in range(3)))
        await desk.price(FUT, 19_500.0)
        for _ in range(2):
            desk.advance(5.0)
            await desk.exits.service()
        await desk.trader.journal.flush()
        (said,) = _events(desk, "StopRejected")
        assert "not accepted 3 times in a row" in said and " refused " not in said, said
    finally:
        await desk.close()


async def test_stop_and_reverse_enters_the_other_side_once_flat(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        short = desk.signal(SignalKind.SHORT, FUT, 19_480.0)
        await desk.trader.on_signal(desk.engine, short)
        assert desk.trader.position_qty(FUT) > 0  # not yet: the close works first
        assert not working(desk.trader, FUT, OrderPurpose.ENTRY)
        await desk.price(FUT, 19_480.0)  # the close fills; the short entry goes out
        [entry] = working(desk.trader, FUT, OrderPurpose.ENTRY)
        assert entry.signal_id == short.signal_id and entry.side.value == "SELL"
        await desk.price(FUT, 19_470.0)
        assert desk.trader.position_qty(FUT) < 0 and rule_11(desk.trader) == []
    finally:
        await desk.close()


@pytest.mark.parametrize(("again", "held"), [(SignalKind.LONG, 1), (SignalKind.EXIT, 0)])
async def test_a_signal_while_the_reversal_entry_works_makes_it_stale(
    tmp_path: Path, again: SignalKind, held: int
) -> None:
    """Long, SHORT reverses: the close filled and the SELL entry waits for the next
    price when the strategy turns again. That entry is cancelled; the new signal
    stands (LONG enters long, EXIT stays flat) instead of the desk going short
    against it until the next cross."""
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.SHORT, FUT, 19_480.0))
        await desk.price(FUT, 19_480.0)  # the close fills; the short entry goes out
        [stale] = working(desk.trader, FUT, OrderPurpose.ENTRY)
        await desk.trader.on_signal(desk.engine, desk.signal(again, FUT, 19_490.0))
        assert desk.trader.orders[stale.tag].status.value == "CANCELLED"
        assert desk.trader.orders[stale.tag].reason.startswith("stale: a ")
        await desk.price(FUT, 19_490.0)
        assert (desk.trader.position_qty(FUT) > 0) is bool(held)
        assert desk.trader.position_qty(FUT) >= 0 and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_exit_only_does_not_reverse(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, exits=ExitConfig(on_opposite_signal="exit_only"))
    try:
        await _long(desk)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.SHORT, FUT, 19_480.0))
        await desk.price(FUT, 19_480.0)
        await desk.price(FUT, 19_470.0)
        assert desk.trader.position_qty(FUT) == 0 and desk.trader.open_orders() == []
    finally:
        await desk.close()


async def test_triggered_option_stop_that_rests_is_repriced_toward_the_market(
    tmp_path: Path,
) -> None:
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=2.0, max_modifications=2))
    try:
        await _long_option(desk)
        await desk.price(OPT, 100.0)
        [stop] = working(desk.trader, OPT, OrderPurpose.STOP)
        await desk.price(OPT, 60.0)  # gaps through trigger 70 and limit 66.5: rests
        [resting] = working(desk.trader, OPT)
        assert resting.status is OrderStatus.OPEN and desk.trader.position_qty(OPT) == 50
        assert rule_11(desk.trader) == []
        await desk.price(OPT, 58.0, seconds=3.0)  # resting 3 s: re-priced to 58 - 1%
        [repriced] = working(desk.trader, OPT)
        assert (repriced.tag, repriced.order_type, repriced.price) == (
            stop.tag,
            OrderType.LIMIT,
            57.4,
        )
        await desk.price(OPT, 58.0)  # the next trade fills it
        assert desk.trader.position_qty(OPT) == 0
        assert desk.trader.orders[stop.tag].avg_price == pytest.approx(58.0)
        assert rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_a_triggered_stop_goes_on_being_repriced_after_its_first(tmp_path: Path) -> None:
    """Probe A F1: the first re-price turns the SL into a LIMIT, and a LIMIT stop was
    never looked at again: the market fell 40% below it with nothing more done."""
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=2.0, max_modifications=5))
    try:
        await _long_option(desk)
        await desk.price(OPT, 100.0)
        [stop] = working(desk.trader, OPT, OrderPurpose.STOP)
        await desk.price(OPT, 60.0)  # gaps through trigger 70 and limit 66.5: rests
        prices = []
        for market in (58.0, 50.0, 45.0):  # each resting 3 s, the market falling away
            desk.trader.last_prices[OPT] = market
            desk.advance(3.0)
            await desk.exits.service()
            prices.append(desk.trader.orders[stop.tag].price)
        assert prices == [57.4, 49.5, 44.55]
        assert desk.trader.position_qty(OPT) == 50 and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_a_reprice_never_moves_a_triggered_stop_away_from_the_market(
    tmp_path: Path,
) -> None:
    """Probe A F1: the trigger's update came before the print that triggered it, so the
    last price was still the one above: the SL sell at 104.50 was re-priced to 118.80
    with the market at 100. A re-price only ever makes the order more marketable."""
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=2.0, max_modifications=5))
    try:
        await _long_option(desk)
        await desk.price(OPT, 100.0)
        [stop] = working(desk.trader, OPT, OrderPurpose.STOP)
        await desk.price(OPT, 60.0)  # triggered, resting at its limit 66.5
        desk.trader.last_prices[OPT] = 120.0  # a stale last price above the limit
        desk.advance(3.0)
        await desk.exits.service()
        resting = desk.trader.orders[stop.tag]
        assert (resting.order_type, resting.price) == (OrderType.SL, 66.5)
        assert not [e for e in desk.trader.events if e.kind == "OrderModified"]
        await desk.price(OPT, 58.0, seconds=3.0)  # now toward the market
        assert desk.trader.orders[stop.tag].price == 57.4
    finally:
        await desk.close()


async def test_a_reprice_not_accepted_is_said_once_a_streak(tmp_path: Path) -> None:
    """Probe D D3: a 429 storm left a close resting far from the market for a minute
    with 31 failed modifications in the log and not one event in the journal."""
    desk, broker = await _refusing_desk(
        tmp_path, exits=ExitConfig(reprice_after_s=1.0, max_modifications=5)
    )
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        await desk.trader.modify(stop.tag, order_type=OrderType.LIMIT, price=19_900.0,
                                 purpose=OrderPurpose.EXIT, why="resting")  # fmt: skip
        broker.fail("modify", *(BrokerUnavailable("429 Too many requests") for _ in range(3)))
        for _ in range(3):
            await desk.price(FUT, 19_500.0, seconds=1.5)
        said = [e.message for e in desk.trader.events if e.kind == "ExitRetryScheduled"]
        assert len(said) == 1 and f"resting {stop.tag} could not be re-priced" in said[0]
        await desk.price(FUT, 19_500.0, seconds=1.5)  # accepted again: re-priced
        assert desk.trader.orders[stop.tag].price == 19_305.0
    finally:
        await desk.close()


async def test_a_close_resting_from_before_a_live_restart_is_repriced(tmp_path: Path) -> None:
    """Probe A F2: live, the exit manager's timer is the monotonic clock; an order it
    had not placed in this process (a restart) was timed from its epoch stamp, so
    ``now - since`` was hugely negative and the close rested at a dead limit for good."""
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=1.0, max_modifications=3))
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        await desk.trader.modify(stop.tag, order_type=OrderType.LIMIT, price=19_900.0,
                                 purpose=OrderPurpose.EXIT, why="resting")  # fmt: skip
        exits = desk.exits  # as a restarted live desk has it: its own timer, no history
        exits.on_data_clock = False
        exits.now_ns = lambda: 5_000_000_000  # seconds since boot, far below any stamp
        exits._last_action.clear()
        await desk.price(FUT, 19_500.0, seconds=0.1)
        assert desk.trader.orders[stop.tag].price == 19_305.0
    finally:
        await desk.close()


async def _option_stop_gapped_through(tmp_path: Path, *, skip: bool) -> list[tuple]:
    """A bought option's stop waits quietly, then the market gaps through it and it rests
    to be re-priced; ``skip=False`` forgets the timer's all-quiet mark before each
    price, so every pass looks at every symbol."""
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=2.0, max_modifications=3))
    try:
        await _long_option(desk)
        quiet_seen = False
        for price, seconds in ((100.0, 1), (99.0, 1), (98.0, 1), (60.0, 1), (58.0, 3),
                               (57.0, 3), (56.0, 3)):  # fmt: skip
            if not skip:
                desk.exits._all_quiet = None
            quiet_seen |= desk.exits._all_quiet is not None  # this pass may be skipped
            await desk.price(OPT, price, seconds=seconds)
            assert rule_11(desk.trader) == []
        assert quiet_seen == skip
        terms = attrgetter(
            "purpose", "order_type", "status", "price", "trigger_price", "quantity", "filled_qty"
        )
        orders = [terms(o) for o in desk.trader.orders.values()]
        return [*orders, ("position", desk.trader.position_qty(OPT))]
    finally:
        await desk.close()


async def test_timer_skipping_a_pass_found_all_quiet_changes_nothing(tmp_path: Path) -> None:
    """The timer skips its whole pass while no order or position has moved since a pass
    found every symbol quiet: the same market with and without the skip must end with
    the same orders (the stop that triggers and rests is an order change, re-priced as
    before)."""
    with_skip = await _option_stop_gapped_through(tmp_path / "skip", skip=True)
    without = await _option_stop_gapped_through(tmp_path / "full", skip=False)
    assert with_skip == without
    assert any(row[1] is OrderType.LIMIT for row in with_skip[:-1])  # it was re-priced


async def test_resting_close_past_the_modification_cap_is_replaced(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=1.0, max_modifications=1))
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        # a resting close: the stop turned into a LIMIT far from the market by hand
        await desk.trader.modify(stop.tag, order_type=OrderType.LIMIT, price=19_900.0,
                                 purpose=OrderPurpose.EXIT, why="resting")  # fmt: skip
        await desk.price(FUT, 19_500.0, seconds=2.0)  # resting 2 s: re-priced to 19,305
        assert desk.trader.orders[stop.tag].price == 19_305.0
        await desk.price(FUT, 19_000.0, seconds=2.0)  # the market falls away: no fill, and
        # the one modification allowed is spent: cancelled, replaced under a new tag
        assert desk.trader.orders[stop.tag].status is OrderStatus.CANCELLED
        [replacement] = working(desk.trader, FUT)
        assert replacement.tag != stop.tag and replacement.order_type is OrderType.MARKET
        assert replacement.quantity == desk.trader.position_qty(FUT)
        assert rule_11(desk.trader) == []
        await desk.price(FUT, 19_000.0)
        assert desk.trader.position_qty(FUT) == 0 and rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_every_tag_fits_kite(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, freeze=50)
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader._place_entry(
            desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0), FUT, Side.BUY, 600,
            19_300.0, 19_500.0, "",
        )  # fmt: skip
        await desk.price(FUT, 19_500.0)
        await desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "test")
        await desk.price(FUT, 19_500.0)
        assert len(desk.trader.orders) >= 24  # 12 entry slices, 12 stop slices
        assert all(len(t) <= 20 and t.isalnum() for t in desk.trader.orders)
    finally:
        await desk.close()


async def test_cover_is_rebuilt_after_a_restart(tmp_path: Path) -> None:
    """A crash between the entry fill and its stop: the restarted desk places it."""
    desk = await _desk(tmp_path)
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0))
        fills = desk.trader.broker.on_price(FUT, desk.advance(), 19_500.0)
        [(entry, fill)] = fills
        # the fill is journaled and applied; the process "dies" before the stop goes out
        await desk.trader.journal.write_fill(fill, entry, None, desk.clock.now_ns)
        desk.trader.portfolio.apply_fill(fill)
        desk.trader.track(entry)
        await desk.trader.journal.flush()
        assert desk.exits.protection(FUT).state == "NAKED"
        desk.exits.rebuild({FUT: entry})
        await desk.exits.settle(FUT, cause=fill.fill_id)
        assert desk.exits.protection(FUT).state == "PROTECTED"
        assert rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_stop_found_refused_after_a_restart_is_a_refused_stop(tmp_path: Path) -> None:
    """A stop journaled NEW that the exchange's RMS refused while the desk was down:
    the restart reads it back REJECTED, and it is handled as a refused stop (the event,
    then ``on_stop_rejected: exit``), not silently replaced by a fresh one."""
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        desk.trader.track(replace(stop, status=OrderStatus.NEW))  # as the journal has it
        refused = replace(stop, status=OrderStatus.REJECTED, reason="RMS: order refused")

        async def lookup(tag: str) -> Order | None:
            return refused if tag == stop.tag else None

        desk.trader.broker.lookup = lookup  # type: ignore[method-assign]
        await desk.trader.recover_new_orders()
        await desk.exits.settle(FUT, cause="restart")
        await desk.trader.journal.flush()
        [message] = _events(desk, "StopRejected")
        assert stop.tag in message and "closing the position" in message
        assert desk.exits.protection(FUT).state == "EXITING"
        assert rule_11(desk.trader) == []
    finally:
        await desk.close()


def test_exit_config_refuses_what_kite_would_not_take() -> None:
    with pytest.raises(ValueError):
        ExitConfig(max_modifications=25)  # Kite caps modifications at 25 per order
    with pytest.raises(ValueError):
        ExitConfig(on_stop_rejected="ignore")


async def test_entry_decided_again_after_a_restart_is_counted_once(tmp_path: Path) -> None:
    """A resumed run re-decides the signal whose entry was placed just before the crash:
    the restored risk state already counts that entry, so it must not count it again
    (found by a SIGKILL chain: a later entry was refused at 4 of 4 when 3 were made)."""
    desk = await _desk(tmp_path)
    try:
        await desk.price(FUT, 19_500.0)
        signal = desk.signal(SignalKind.LONG, FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, signal)
        assert desk.trader.risk.trades_today(FUT) == 1
        [entry] = desk.trader.orders.values()
        # after the restart its placement was found never to have happened: not working
        desk.trader.track(replace(entry, status=OrderStatus.CANCELLED))
        await desk.trader.on_signal(desk.engine, signal)  # the same signal, decided again
        assert desk.trader.risk.trades_today(FUT) == 1
        assert list(desk.trader.orders) == [entry.tag]  # and never placed twice
    finally:
        await desk.close()


async def test_an_entry_rejected_in_an_update_after_its_placement_is_an_event(
    tmp_path: Path,
) -> None:
    """How Kite's RMS usually refuses: place_order returns an id, REJECTED comes in an
    order update. It was journaled as the order's state and nothing else: no event, no
    log line, no alert."""
    desk = await _desk(tmp_path)
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0))
        [entry] = working(desk.trader, FUT, OrderPurpose.ENTRY)
        rejected = replace(entry, status=OrderStatus.REJECTED, reason="RMS:Margin Exceeds")
        await desk.trader.on_order_state(rejected)
        await desk.trader.on_order_state(rejected)  # heard twice: said once
        await desk.trader.journal.flush()
        assert _events(desk, "OrderRejected") == [f"BUY {entry.quantity} {FUT}: RMS:Margin Exceeds"]
    finally:
        await desk.close()


async def test_a_stop_that_fills_while_its_position_is_being_closed_is_no_stop_alarm(
    tmp_path: Path,
) -> None:
    """A flatten (or the kill switch) turns the stop into the close; on a live exchange
    its fill can arrive still marked STOP, and 'protective stop filled' rang the bell
    and the hook for a close the trader asked for."""
    desk, broker = await _refusing_desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        broker.fail("modify", BrokerUnavailable("slow exchange"))  # the stop stays a stop
        await desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "a person pressed f")
        assert desk.exits.is_closing(FUT)
        await desk.price(FUT, stop.trigger_price - 50)  # and fills, as a stop
        await desk.trader.journal.flush()
        assert desk.trader.position_qty(FUT) == 0
        assert _events(desk, "StopFilled") == []
    finally:
        await desk.close()


class FillsOnlyWhenReadBack(Refusing):
    """Kite after the desk's feed has stopped: a close fills at the exchange, and only a
    read of the order book (``refresh``) brings the fill."""

    def __init__(self, paper: PaperBroker, symbol: str, price: float) -> None:
        super().__init__(paper)
        self.symbol, self.price, self.reads = symbol, price, 0

    async def refresh(self, tag: str):
        self.reads += 1
        filled = self.paper.on_price(self.symbol, 2 * 10**18, self.price)  # after any order
        order, _ = await self.paper.refresh(tag)
        return order, [fill for done, fill in filled if done.tag == tag]


async def test_a_live_desk_stopping_reads_its_closes_back_until_the_journal_is_flat(
    tmp_path: Path,
) -> None:
    """SIGTERM with on_stop: square_off on a slow exchange ended with the square-off
    journaled OPEN and the summary 'open -50' of a position Kite had closed."""
    from kitetui.supervisor.gate import read_back_closes

    paper = PaperBroker(slippage_bps=0, tick_sizes=_ticks())
    broker = FillsOnlyWhenReadBack(paper, FUT, 19_490.0)
    desk = await _desk(tmp_path, broker=broker)
    try:
        await _long(desk)
        await desk.trader.flatten_all(OrderPurpose.SQUARE_OFF, "stopping: on_stop is square_off")
        assert desk.trader.position_qty(FUT) > 0  # the feed has stopped: nothing fills it
        await read_back_closes(desk.trader, 5.0, every_s=0.01)
        assert desk.trader.position_qty(FUT) == 0 and broker.reads >= 1
        assert not [o for o in desk.trader.open_orders() if o.symbol == FUT]
    finally:
        await desk.close()


async def test_a_close_still_working_when_the_read_back_gives_up_is_an_error_event(
    tmp_path: Path,
) -> None:
    from kitetui.supervisor.gate import read_back_closes

    desk = await _desk(tmp_path)  # the paper book: nothing fills without a price
    try:
        await _long(desk)
        await desk.trader.flatten_all(OrderPurpose.SQUARE_OFF, "stopping: on_stop is square_off")
        await read_back_closes(desk.trader, 0.05, every_s=0.01)
        await desk.trader.journal.flush()
        [said] = _events(desk, "SquaredOffOnStop")
        assert said.startswith("1 close(s) still working at Kite after 0.05 s")
    finally:
        await desk.close()


def _split_now(trader, symbol: str) -> tuple[list[Order], list[Order], list[Order]]:
    """The working orders of ``symbol`` split as the exit manager reads them, afresh."""
    orders = trader.open_orders(symbol)
    closing = {OrderPurpose.EXIT, OrderPurpose.SQUARE_OFF, OrderPurpose.FLATTEN}
    return (
        [o for o in orders if o.purpose is OrderPurpose.STOP],
        [o for o in orders if o.purpose in closing],
        [o for o in orders if o.purpose is not OrderPurpose.STOP and o.purpose not in closing],
    )


async def test_working_split_kept_by_the_manager_follows_every_order_change(
    tmp_path: Path,
) -> None:
    """The exit manager keeps a symbol's split of working orders until the symbol's
    orders change: after each change (entry, stop, the stop turned into the close, its
    fill) it is what a fresh read of the book gives."""
    desk = await _desk(tmp_path)
    try:
        exits, trader = desk.exits, desk.trader
        assert exits._working(FUT) == _split_now(trader, FUT) == ([], [], [])
        await _long(desk)
        stops, closing, entries = exits._working(FUT)
        assert (stops, closing, entries) == _split_now(trader, FUT)
        assert len(stops) == 1 and not closing and not entries
        assert await trader.on_signal(desk.engine, desk.signal(SignalKind.EXIT, FUT, 19_520.0))
        stops, closing, _ = exits._working(FUT)
        assert (stops, closing, _) == _split_now(trader, FUT)
        assert not stops and [o.purpose for o in closing] == [OrderPurpose.EXIT]
        await desk.price(FUT, 19_520.0)
        assert exits._working(FUT) == _split_now(trader, FUT) == ([], [], [])
    finally:
        await desk.close()


async def test_timer_skips_a_protected_symbol_without_settling_it_again(tmp_path: Path) -> None:
    """A protected position (its stop covering exactly it, waiting for its trigger) is
    one a timer pass would find quiet: the pass marks it so without settling it, and a
    close under way or a stop that no longer covers the position is settled."""
    desk = await _desk(tmp_path)
    try:
        exits, trader = desk.exits, desk.trader
        await _long(desk)
        assert exits._holds(FUT)
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        await trader.modify(stop.tag, quantity=stop.quantity + 1, why="test: too large")
        assert not exits._holds(FUT)  # a pass trims it back to the position
        await exits.service()
        assert cover_of(trader, FUT)[0] == cover_of(trader, FUT)[1]
        assert exits._holds(FUT)
        assert await trader.on_signal(desk.engine, desk.signal(SignalKind.EXIT, FUT, 19_520.0))
        assert not exits._holds(FUT)  # closing: the timer works it
        assert rule_11(trader) == []
    finally:
        await desk.close()


async def test_a_quiet_symbol_is_not_skipped_once_a_refusal_is_read_back(tmp_path: Path) -> None:
    """The timer's pass skips a symbol found quiet at the same orders and position only
    while nothing else is kept for it: a stop read back REJECTED (``read_back``, its
    order count not moved) is handled at the next pass, not skipped as quiet."""
    desk = await _desk(tmp_path)
    try:
        exits, trader = desk.exits, desk.trader
        await _long(desk)
        await exits.service()
        assert FUT in exits._quiet  # found quiet: the next passes would skip it
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        exits.read_back(stop, replace(stop, status=OrderStatus.REJECTED, reason="RMS: refused"))
        await exits.service()
        assert FUT not in exits._unheard_refusals
        assert working(trader, FUT, OrderPurpose.FLATTEN), "a refused stop means exit now"
        await trader.journal.flush()
        assert _events(desk, "StopRejected")
    finally:
        await desk.close()


async def test_timer_does_not_ask_after_a_quiet_symbol_nothing_touched(tmp_path: Path) -> None:
    """A pass that must look (a stop rests to be re-priced) skips a symbol it found quiet
    without asking for its orders or position while neither moved (``WorkingOrders.
    touched``, ``Portfolio.filled``), and looks at it again once either does."""
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=2.0, max_modifications=3))
    try:
        exits, trader = desk.exits, desk.trader
        await _long(desk)
        await _long_option(desk)
        await desk.price(OPT, 100.0)  # the option's entry fills; its stop waits at 70
        await desk.price(OPT, 60.0)  # gapped through: the stop rests, to be re-priced
        assert FUT in exits._quiet and OPT not in exits._quiet
        asked: list[str] = []
        order_changes = trader.order_changes

        def counting(symbol: str) -> int:
            asked.append(symbol)
            return order_changes(symbol)

        trader.order_changes = counting  # type: ignore[method-assign]
        await desk.price(OPT, 58.0, seconds=3)  # a pass: the option is re-priced
        assert OPT in asked and FUT not in asked
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        await trader.modify(stop.tag, quantity=stop.quantity + 1, why="test: too large")
        asked.clear()
        await desk.price(OPT, 57.0, seconds=3)
        assert FUT in asked  # touched: looked at, and trimmed back to the position
        assert cover_of(trader, FUT)[0] == cover_of(trader, FUT)[1]
        assert rule_11(trader) == []
    finally:
        await desk.close()


async def test_a_touched_symbol_passed_over_while_locked_is_looked_at_next_pass(
    tmp_path: Path,
) -> None:
    """A pass that finds a symbol's lock held (something acts on it) leaves it for the
    next pass: it stays among the symbols to look at, though its quiet mark is old."""
    desk = await _desk(tmp_path)
    try:
        exits, trader = desk.exits, desk.trader
        await _long(desk)
        await exits.service()
        assert FUT in exits._quiet
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        await trader.modify(stop.tag, quantity=stop.quantity + 1, why="test: too large")
        async with exits._lock(FUT):
            await exits.service()  # passed over: locked
        assert cover_of(trader, FUT)[1] > cover_of(trader, FUT)[0]
        await exits.service()
        assert cover_of(trader, FUT)[0] == cover_of(trader, FUT)[1]
        assert rule_11(trader) == []
    finally:
        await desk.close()


def _holds_reference(exits, symbol: str) -> bool:
    """``_holds`` as first written: ``_timeless`` (nothing kept for the symbol, a
    position, every working order a stop waiting for its trigger), no closing order,
    every stop on the closing side and their pending quantity the position's."""
    trader = exits.trader
    qty = trader.position_qty(symbol)
    if not (
        exits._may_skip(symbol)
        and qty != 0
        and all(o.status is OrderStatus.TRIGGER_PENDING for o in trader.open_orders(symbol))
    ):
        return False
    stops, closing, _ = exits._working(symbol)
    side = Side.SELL if qty > 0 else Side.BUY
    return not closing and all(o.side is side for o in stops) and exits._pending(stops) == abs(qty)


_a_stop = Order("s", "e", FUT, Exchange.NFO, Side.SELL, 1, OrderType.SL_M, Product.NRML,
                OrderPurpose.STOP, OrderStatus.TRIGGER_PENDING, 0)  # fmt: skip
_PURPOSES = (OrderPurpose.STOP, OrderPurpose.STOP, OrderPurpose.EXIT, OrderPurpose.ENTRY)
_STATUSES = (OrderStatus.TRIGGER_PENDING, OrderStatus.TRIGGER_PENDING, OrderStatus.OPEN)


_COVERED = (OrderPurpose.STOP, Side.SELL, OrderStatus.TRIGGER_PENDING, 2, 0)


@settings(max_examples=400, deadline=None)
@example(qty=2, orders=[_COVERED], kept="")  # holds
@example(qty=2, orders=[_COVERED, (OrderPurpose.ENTRY, Side.BUY, OrderStatus.OPEN, 1, 0)], kept="")
@example(
    qty=2,
    orders=[_COVERED, (OrderPurpose.ENTRY, Side.BUY, OrderStatus.TRIGGER_PENDING, 1, 0)],
    kept="",
)  # holds: an entry waiting for its trigger
@example(qty=-2, orders=[_COVERED], kept="")  # a stop on the opening side
@given(
    qty=st.integers(-3, 3),
    orders=st.lists(
        st.tuples(
            st.sampled_from(_PURPOSES),
            st.sampled_from((Side.BUY, Side.SELL)),
            st.sampled_from(_STATUSES),
            st.integers(1, 3),
            st.integers(0, 1),
        ),
        max_size=4,
    ),
    kept=st.sampled_from(("", "closing", "naked", "retry", "unheard", "closed")),
)
def test_holds_in_one_walk_answers_as_the_timeless_look_and_the_cover(qty, orders, kept) -> None:
    """The timer's ``_holds`` reads the symbol's split of working orders once (a pass
    asks it after every order change of a held symbol) and must answer as its first
    form did for any position, orders and state kept: a stop triggered or on the
    opening side, a closing order, an entry not waiting for a trigger, a cover short
    or long, a close or alarm kept, the market closed."""
    symbol = FUT
    working_orders = [
        Order(
            f"t{n}",
            "e",
            symbol,
            Exchange.NFO,
            side,
            quantity,
            OrderType.SL_M,
            Product.NRML,
            purpose,
            status,
            n,
            filled_qty=min(filled, quantity - 1),
        )
        for n, (purpose, side, status, quantity, filled) in enumerate(orders)
    ]
    trader = SimpleNamespace(
        position_qty=lambda s: qty,
        order_changes=lambda s: 1,
        open_orders=lambda s=None: list(working_orders),
    )
    exits = ExitManager(trader, ExitConfig(), lambda: 0)  # type: ignore[arg-type]
    if kept == "closing":
        exits._closing[symbol] = SimpleNamespace(total=abs(qty))  # type: ignore[assignment]
    elif kept == "naked":
        exits._naked[symbol] = "test"
    elif kept == "retry":
        exits._stop_retry[symbol] = (1, 0)
    elif kept == "unheard":
        exits._unheard_refusals[symbol] = replace(_a_stop, status=OrderStatus.REJECTED)
    elif kept == "closed":
        exits.market_open = False
    assert exits._holds(symbol) == _holds_reference(exits, symbol)
    if (qty, orders, kept) == (2, [_COVERED], ""):
        assert exits._holds(symbol)  # the reference is not false throughout


async def test_a_stop_turned_close_is_journaled_with_its_new_identity_at_the_time(
    tmp_path: Path,
) -> None:
    """The modify that turns a stop into the close keeps the order's fills and terms from
    the book, takes the close's purpose, signal and reason, and is stamped, with its
    ``OrderModified`` event, at the data clock's time of the modify (the event is
    stamped by ``Trader.modify`` itself, not copied to be stamped)."""
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        at = desk.advance(7.0)
        signal = desk.signal(SignalKind.EXIT, FUT, 19_510.0)
        assert await desk.trader.on_signal(desk.engine, signal)
        close = desk.trader.orders[stop.tag]
        assert (close.purpose, close.order_type, close.ts_ns) == (
            OrderPurpose.EXIT, OrderType.MARKET, at,
        )  # fmt: skip
        assert close.signal_id == signal.signal_id and close.reason != stop.reason
        assert (close.quantity, close.filled_qty, close.side) == (
            stop.quantity, 0, stop.side,
        )  # fmt: skip
        await desk.trader.journal.flush()
        rows = sqlite3.connect(desk.db_path).execute(
            "SELECT ts_ns, message FROM events WHERE kind = 'OrderModified'"
        )
        assert [(ts, message.split(":")[0]) for ts, message in rows] == [(at, stop.tag)]
    finally:
        await desk.close()


def _kite_app_close(stop: Order, n: int, ts_ns: int, **changes: object) -> Order:
    """A sell limit at 19,900 a person placed in Kite's own app to close the position
    ``stop`` protects (untagged by kitetui: ``KITEAPP<n>``), as Kite reports it."""
    return replace(
        stop,
        tag=f"KITEAPP{n}",
        broker_order_id=f"25010100000000{n}",
        order_type=OrderType.LIMIT,
        price=19_900.0,
        trigger_price=0.0,
        status=OrderStatus.OPEN,
        purpose=OrderPurpose.EXIT,
        ts_ns=ts_ns,
        **changes,  # type: ignore[arg-type]
    )


async def test_a_close_placed_outside_kitetui_leaves_the_stop_the_rest(tmp_path: Path) -> None:
    """A person closes part of a protected long from Kite's own app (a sell limit resting,
    not kitetui's): it is taken as a close of the position (``Trader._foreign``), and the
    stop is cut to what it leaves, so the two never cover more than the position; once it
    is gone, the stop covers the whole position again."""
    desk = await _desk(tmp_path)
    try:
        trader = desk.trader
        await _long(desk)
        qty = trader.position_qty(FUT)
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        theirs = _kite_app_close(stop, 1, desk.advance(1.0), quantity=qty // 2)
        await trader._foreign(theirs, [])
        assert trader.not_ours("KITEAPP1") and FUT not in desk.exits._closing
        assert cover_of(trader, FUT) == (qty, qty - qty // 2, qty // 2)
        assert rule_11(trader) == []
        gone = replace(trader.orders["KITEAPP1"], status=OrderStatus.CANCELLED)
        await trader.on_order_state(gone)  # the person cancelled it in the app
        assert cover_of(trader, FUT) == (qty, qty, 0) and rule_11(trader) == []
    finally:
        await desk.close()


async def test_a_close_outside_kitetui_of_all_of_it_is_not_doubled_by_turning_the_stop(
    tmp_path: Path,
) -> None:
    """A person closes the whole long from Kite's app while its stop could not be taken
    off (the cancel failed): when a close of ours then begins, the broker's order closes
    all of it, so the stop is cancelled as the stop it is, never turned into a second
    close beside the broker's."""
    desk, broker = await _refusing_desk(tmp_path)
    try:
        trader = desk.trader
        await _long(desk)
        qty = trader.position_qty(FUT)
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        theirs = _kite_app_close(stop, 2, desk.advance(1.0))
        broker.fail("cancel", BrokerUnavailable("503 Service unavailable"))
        await trader._foreign(theirs, [])
        assert cover_of(trader, FUT) == (qty, qty, qty)  # the stop could not be taken off
        assert await desk.exits.close(FUT, OrderPurpose.FLATTEN, "test", "c1")
        ended = trader.orders[stop.tag]
        assert (ended.status, ended.purpose, ended.order_type) == (
            OrderStatus.CANCELLED, OrderPurpose.STOP, stop.order_type,
        )  # fmt: skip
        assert cover_of(trader, FUT) == (qty, 0, qty) and rule_11(trader) == []
        await trader.journal.flush()
        assert _events(desk, "OrderModified") == []
    finally:
        await desk.close()


async def test_a_stop_on_the_wrong_side_is_cancelled_and_the_position_covered(
    tmp_path: Path,
) -> None:
    """A stop that would add to the position (a buy stop under a long) is never kept nor
    counted as cover: the settle cancels it and places the sell stop the long needs."""
    desk = await _desk(tmp_path)
    try:
        trader, exits = desk.trader, desk.exits
        await _long(desk)
        qty = trader.position_qty(FUT)
        [stop] = working(trader, FUT, OrderPurpose.STOP)
        await trader.cancel(stop.tag, "test: a wrong one instead")
        await exits._add_stop(FUT, Side.BUY, qty, [], "test: wrong side", None)
        [wrong] = working(trader, FUT, OrderPurpose.STOP)
        assert wrong.side is Side.BUY
        await exits.settle(FUT, "test")
        assert trader.orders[wrong.tag].status is OrderStatus.CANCELLED
        [right] = working(trader, FUT, OrderPurpose.STOP)
        assert (right.side, right.quantity) == (Side.SELL, qty) and rule_11(trader) == []
    finally:
        await desk.close()
