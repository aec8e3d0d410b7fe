"""The trader's events and checks that read enum members bound as module constants.

The hot paths read ``EventKind.STOP_FILLED``, ``OrderStatus``'s terminal set and the like
once, at import (a member read through its class costs ~ten globals in Python 3.11): a
constant bound to the wrong member would journal the wrong kind or let a finished order
be changed, and the broader tests only count such events. These pin each one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kitetui.brokers.paper import PaperBroker
from kitetui.domain import Bar, Order, OrderPurpose, OrderStatus, SignalKind

from .desk import FUTURE, make_desk, working

FUT = FUTURE.tradingsymbol
T = 10.0  # seconds: every await below is bounded; a hang fails, never waits forever


async def test_a_stop_fill_says_stop_filled_and_a_modify_order_modified(tmp_path: Path) -> None:
    desk = await asyncio.wait_for(make_desk(tmp_path), T)
    try:
        await desk.price(FUT, 19_500.0)
        signal = desk.signal(SignalKind.LONG, FUT, 19_500.0)
        assert await asyncio.wait_for(desk.trader.on_signal(desk.engine, signal), T) == 1
        await desk.price(FUT, 19_500.0)  # the entry fills; its protective stop is placed
        (stop,) = working(desk.trader, FUT, OrderPurpose.STOP)
        moved = await asyncio.wait_for(
            desk.trader.modify(stop.tag, trigger_price=stop.trigger_price + 5.0, why="trail"),
            T,
        )
        assert moved is not None
        modified = [e for e in desk.trader.events if e.message == f"{stop.tag}: trail"]
        assert [e.kind for e in modified] == ["OrderModified"]
        await desk.price(FUT, 19_000.0)  # through the stop: it fills
        assert desk.trader.position_qty(FUT) == 0
        filled = [e for e in desk.trader.events if "protective stop filled" in e.message]
        assert [e.kind for e in filled] == ["StopFilled"]
    finally:
        await desk.close()


class ModifyProbe(PaperBroker):
    """The paper broker, noting every tag it was asked to modify."""

    def __init__(self) -> None:
        super().__init__(slippage_bps=0, tick_size=0.05)
        self.asked: list[str] = []

    async def modify(self, tag: str, **terms: object) -> Order | None:
        self.asked.append(tag)
        return await super().modify(tag, **terms)  # type: ignore[arg-type]


async def test_a_filled_order_is_never_sent_to_be_modified(tmp_path: Path) -> None:
    probe = ModifyProbe()
    desk = await asyncio.wait_for(make_desk(tmp_path, broker=probe), T)
    try:
        await desk.price(FUT, 19_500.0)
        signal = desk.signal(SignalKind.LONG, FUT, 19_500.0)
        assert await asyncio.wait_for(desk.trader.on_signal(desk.engine, signal), T) == 1
        await desk.price(FUT, 19_500.0)  # the entry fills
        (entry,) = [o for o in desk.trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
        assert entry.status is OrderStatus.COMPLETE
        assert await asyncio.wait_for(desk.trader.modify(entry.tag, price=19_400.0), T) is None
        assert desk.trader.orders[entry.tag] == entry
        assert probe.asked == []  # (the paper book would answer None: it is never asked)
        assert not [e for e in desk.trader.events if e.kind == "OrderModified"]
    finally:
        await desk.close()


async def test_a_bar_before_the_indicators_are_ready_is_journaled_as_bar_skipped(
    tmp_path: Path,
) -> None:
    desk = await asyncio.wait_for(make_desk(tmp_path), T)
    try:
        bar = Bar(FUT, desk.clock.now_ns, 60, 1.0, 1.0, 1.0, 1.0)
        desk.trader.skip_not_ready(desk.engine, bar)
        (event,) = [e for e in desk.trader.events if e.symbol == FUT]
        assert (event.kind, event.message) == ("BarSkipped", "indicators not ready")
    finally:
        await desk.close()
