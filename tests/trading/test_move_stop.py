"""A person moves a position's protective stop through the exit manager (``move_stop``):
the working stop is modified in place (an option's SL keeps its limit offset), the level
moves with it, and every refusal leaves the stop where it was."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kitetui.brokers.base import ModifyRefused
from kitetui.brokers.paper import PaperBroker
from kitetui.config import RiskConfig
from kitetui.domain import OrderPurpose, OrderStatus, OrderType, Side, SignalKind

from .desk import CALL, FUTURE, StubEngine, make_desk, rule_11, working
from .test_exits import Refusing

FUT = FUTURE.tradingsymbol
OPT = CALL.tradingsymbol


async def _desk(tmp_path: Path, broker=None):
    engine = StubEngine(instruments={FUT: FUTURE, OPT: CALL})
    roomy = RiskConfig(max_order_value=1e9, max_gross_exposure=1e10, max_order_quantity=10_000)
    return await make_desk(tmp_path, engine=engine, risk=roomy, broker=broker)


async def _long(desk, price: float = 19_500.0) -> None:
    await desk.price(FUT, price)
    await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, price))
    await desk.price(FUT, price)
    assert desk.trader.position_qty(FUT) > 0


async def test_move_stop_with_valid_trigger_modifies_the_stop_in_place(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        done, message = await desk.exits.move_stop(FUT, 19_480.05)
        assert done, message
        old = f"{stop.trigger_price:.2f}".rstrip("0").rstrip(".")
        assert message == f"{FUT}: stop moved from {old} to 19480.05"
        [moved] = working(desk.trader, FUT, OrderPurpose.STOP)
        assert (moved.tag, moved.trigger_price, moved.quantity) == (
            stop.tag,
            19_480.05,
            stop.quantity,
        )
        assert desk.exits.levels[FUT].trigger == 19_480.05
        assert desk.exits.protection(FUT).text == "STOP @ 19480.05"  # paise kept
        assert rule_11(desk.trader) == []
        # the moved stop is the one that protects: the market falls through it
        await desk.price(FUT, 19_470.0)
        await desk.price(FUT, 19_470.0)
        assert desk.trader.position_qty(FUT) == 0
    finally:
        await desk.close()


@pytest.mark.parametrize(
    ("trigger", "why"),
    [
        (19_500.0, "a long position's stop must be below the market (last 19500)"),
        (19_600.0, "would trigger at once"),
        (19_480.03, "19480.03 is not a multiple of NIFTY23NOVFUT's tick 0.05"),
    ],
)
async def test_move_stop_with_bad_trigger_is_refused_and_the_stop_stays(
    tmp_path: Path, trigger: float, why: str
) -> None:
    desk = await _desk(tmp_path)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        done, message = await desk.exits.move_stop(FUT, trigger)
        assert not done and why in message
        assert working(desk.trader, FUT, OrderPurpose.STOP) == [stop]
        assert desk.exits.levels[FUT].trigger == stop.trigger_price
    finally:
        await desk.close()


async def test_move_stop_without_position_or_while_closing_is_refused(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        assert await desk.exits.move_stop(FUT, 19_000.0) == (False, f"no open position in {FUT}")
        await _long(desk)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.EXIT, FUT, 19_510.0))
        done, message = await desk.exits.move_stop(FUT, 19_450.0)
        assert not done and message == f"{FUT} is being closed: its stop is no longer worked"
    finally:
        await desk.close()


async def test_move_stop_refused_by_the_exchange_keeps_the_level(tmp_path: Path) -> None:
    broker = Refusing(PaperBroker(slippage_bps=0, tick_size=0.05, tick_sizes={FUT: 0.05}))
    desk = await _desk(tmp_path, broker=broker)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        broker.fail("modify", ModifyRefused("trigger too far", "x"))
        done, message = await desk.exits.move_stop(FUT, 19_450.0)
        assert not done and "was not moved (trigger too far)" in message
        assert desk.exits.levels[FUT].trigger == stop.trigger_price
        assert working(desk.trader, FUT, OrderPurpose.STOP)[0].trigger_price == stop.trigger_price
    finally:
        await desk.close()


async def test_move_stop_that_finds_its_stop_refused_says_so_and_exits(tmp_path: Path) -> None:
    """The exchange's RMS refused the stop after taking it, and the news had not come:
    the move finds it gone, says so, and the refusal is handled as one (exit)."""
    broker = Refusing(PaperBroker(slippage_bps=0, tick_size=0.05, tick_sizes={FUT: 0.05}))
    desk = await _desk(tmp_path, broker=broker)
    try:
        await _long(desk)
        [stop] = working(desk.trader, FUT, OrderPurpose.STOP)
        refused = replace(stop, status=OrderStatus.REJECTED, reason="RMS: order refused")
        paper_refresh = broker.refresh

        async def gone(tag: str, **changes: object) -> None:
            return None

        async def read_back(tag: str):
            return (refused, []) if tag == stop.tag else await paper_refresh(tag)

        broker.modify = gone  # type: ignore[method-assign]
        broker.refresh = read_back  # type: ignore[method-assign]
        done, message = await desk.exits.move_stop(FUT, 19_450.0)
        assert not done and f"the stop {stop.tag} was not moved (it is REJECTED)" in message
        assert desk.exits.protection(FUT).state == "EXITING"  # on_stop_rejected: exit
        assert rule_11(desk.trader) == []
    finally:
        await desk.close()


async def test_move_stop_of_an_option_keeps_its_sl_limit_offset(tmp_path: Path) -> None:
    desk = await _desk(tmp_path)
    try:
        await desk.price(OPT, 100.0)
        await desk.trader._place_entry(
            desk.engine,
            desk.signal(SignalKind.LONG, OPT, 100.0),
            OPT,
            side=Side.BUY,
            quantity=50,
            stop=70.0,
            price=100.0,
            why_zero="",
        )
        await desk.price(OPT, 100.0)
        done, message = await desk.exits.move_stop(OPT, 80.0)
        assert done, message
        [stop] = working(desk.trader, OPT, OrderPurpose.STOP)
        assert stop.order_type is OrderType.SL
        assert (stop.trigger_price, stop.price) == (80.0, 76.0)  # 5 % below the trigger
    finally:
        await desk.close()
