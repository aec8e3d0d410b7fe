"""The entries still working count toward ``max_open_positions`` and
``max_gross_exposure`` (probe B, finding 1).

A bar of many symbols places each signal's entry before any of them fills (market
orders fill at the next print, and at Kite they are open until the exchange trades
them). Counting only the filled positions let a limit of 1 open 2 positions on one
bar, and a year's replay held 17 against a limit of 5.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kitetui.brokers.paper import PaperBroker
from kitetui.config import RiskConfig
from kitetui.domain import Exchange, OrderPurpose, OrderStatus, SignalKind, evolve
from kitetui.market.instruments import Instrument

from .desk import STOCK, StubEngine, TraderDesk, make_desk

T = 10.0  # seconds: every await below is bounded
INFY = Instrument(4, 4, "INFY", "INFY", 0.0, None, 0.0, 0.05, 1, "EQ", "NSE", "NSE")
SBIN = STOCK.tradingsymbol


async def _desk(tmp_path: Path, **limits: float) -> TraderDesk:
    risk = RiskConfig(max_order_value=1e9, max_order_quantity=1_000_000, **limits)
    engine = StubEngine(
        name="eq",
        kind="equity",
        exchange=Exchange.NSE,
        instruments={SBIN: STOCK, "INFY": INFY},
    )
    broker = PaperBroker(slippage_bps=0, tick_size=0.05)
    return await asyncio.wait_for(make_desk(tmp_path, engine=engine, risk=risk, broker=broker), T)


async def _long(desk: TraderDesk, symbol: str, price: float) -> int:
    desk.trader.last_prices[symbol] = price  # the bar's close, before the engines hear it
    signal = desk.signal(SignalKind.LONG, symbol, price, atr=5.0)
    return await asyncio.wait_for(desk.trader.on_signal(desk.engine, signal), T)


def _entries(desk: TraderDesk) -> list[str]:
    return [o.symbol for o in desk.trader.open_orders() if o.purpose is OrderPurpose.ENTRY]


async def test_a_working_entry_counts_as_an_open_position(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, max_open_positions=1)
    try:
        assert await _long(desk, SBIN, 500.0) == 1
        assert await _long(desk, "INFY", 1500.0) == 0  # the same bar: SBIN's still works
        assert _entries(desk) == [SBIN]
        blocked = desk.trader.blocked[("eq", "max_open_positions", "BLOCK")]
        assert blocked.last_symbol == "INFY"
        assert blocked.last_reason == "0 positions open and 1 more with an entry working, limit 1"
        await desk.price(SBIN, 500.0)  # SBIN fills: now its position is the one counted
        assert desk.trader.position_qty(SBIN) > 0
        assert await _long(desk, "INFY", 1500.0) == 0
        reason = desk.trader.blocked[("eq", "max_open_positions", "BLOCK")].last_reason
        assert reason == "1 positions open, limit 1"
    finally:
        await desk.close()


async def test_an_entry_that_ended_unfilled_frees_its_place(tmp_path: Path) -> None:
    desk = await _desk(tmp_path, max_open_positions=1)
    try:
        assert await _long(desk, SBIN, 500.0) == 1
        await desk.trader.cancel_entries("a person cancelled it")
        assert not _entries(desk)
        assert await _long(desk, "INFY", 1500.0) == 1
        assert _entries(desk) == ["INFY"]
    finally:
        await desk.close()


async def test_a_working_entry_counts_toward_the_gross_exposure(tmp_path: Path) -> None:
    """Its unfilled quantity at the price that valued it (the last price of a market
    entry) leaves only the rest of the limit to the next entry."""
    desk = await _desk(tmp_path, max_open_positions=10, max_gross_exposure=4_000_000)
    try:
        assert await _long(desk, SBIN, 500.0) == 1
        (sbin,) = desk.trader.open_orders(SBIN)
        view = desk.trader._exposure("INFY")
        assert (view.entries_working, view.entries_working_paise) == (1, sbin.quantity * 50_000)
        assert await _long(desk, "INFY", 1000.0) == 1
        (infy,) = desk.trader.open_orders("INFY")
        room = 4_000_000 - sbin.quantity * 500
        assert infy.quantity == room // 1000  # reduced to what the limit leaves
        decision = desk.trader.blocked[("eq", "max_gross_exposure", "REDUCE")]
        assert "of it in working entries" in decision.last_reason
    finally:
        await desk.close()


async def test_a_partly_filled_entry_counts_once_and_its_rest_by_value(
    tmp_path: Path,
) -> None:
    desk = await _desk(tmp_path)
    try:
        assert await _long(desk, SBIN, 500.0) == 1
        (entry,) = desk.trader.open_orders(SBIN)
        half = entry.quantity // 2
        desk.trader.track(evolve(entry, status=OrderStatus.OPEN, filled_qty=half))
        view = desk.trader._exposure("INFY")
        assert view.entries_working_paise == (entry.quantity - half) * 50_000
        assert view.entries_working == 1  # no position yet in the book: one to come
    finally:
        await desk.close()


async def test_live_an_entry_open_at_kite_counts_also_after_a_restart(tmp_path: Path) -> None:
    """At Kite (the strict local exchange) a market entry rests OPEN until it trades:
    its freeze slices count as the one position they open, and a restarted desk,
    which tracks the orders it reads back, counts them the same."""
    from .kite_rig import FUTURE as FUT
    from .kite_rig import OPTION, Rig

    rig = Rig(tmp_path)
    await asyncio.wait_for(rig.start(), T)
    try:
        for restart in (False, True):
            if restart:
                await asyncio.wait_for(rig.restart(), T)
            rig.trader.risk.set_limit("max_open_positions", 1)  # not journaled by the rig
            if not restart:
                await asyncio.wait_for(rig.run(("tick", 0, 10)), T)  # the contract has traded
                await asyncio.wait_for(rig.run(("signal", "LONG")), T)
                # the slices' placements answered (they go on in their lanes beside the
                # next step, as live; a loaded machine once asked before all were)
                await asyncio.wait_for(rig.run(("deliver",)), T)
            entries = [o for o in rig.trader.open_orders() if o.purpose is OrderPurpose.ENTRY]
            assert len(entries) > 1 and {o.symbol for o in entries} == {FUT.tradingsymbol}
            assert all(o.status is OrderStatus.OPEN for o in entries)
            await asyncio.wait_for(rig.run(("buy_option",)), T)
            assert not rig.trader.open_orders(OPTION)
            blocked = rig.trader.blocked[("fno", "max_open_positions", "BLOCK")]
            assert blocked.last_symbol == OPTION
            assert blocked.last_reason.endswith("1 more with an entry working, limit 1")
    finally:  # an open database keeps its thread, and pytest, alive
        await rig.journal.close()
        await rig.db.close()
