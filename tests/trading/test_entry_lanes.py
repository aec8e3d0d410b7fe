"""Live, a strategy's entry is placed in its symbol's lane, not on the batch path.

The batch path (ticks, bars, engines, ``Engine.act``, the trader) awaited Kite for every
entry it placed: one placement that hung held every other symbol's marks and signals
for Kite's timeout (7 s). Here the desk runs against the strict exchange in process
(``kite_rig``) with one symbol's placement held at the exchange's door, and the
supervisor's lanes (``UpdateLanes``) as the trader's ``place_later``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kitetui.domain import OrderPurpose, OrderStatus, SignalKind
from kitetui.supervisor.update_lanes import UpdateLanes

from .desk import rule_11
from .kite_rig import OPTION, SYMBOL, Rig, drawn_signal

SOON_S = 1.0  # what "at once" may take on a loaded CI machine


class _Held:
    """A held placement: ``arrived`` once one reached the exchange's door, ``release``
    lets its answer (or its order) through."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def is_set(self) -> bool:
        return self.release.is_set()

    def set(self) -> None:
        self.release.set()


@contextmanager
def _held(rig: Rig, symbol: str) -> Iterator[_Held]:
    """Placements in ``symbol`` wait at the exchange's door until released (a Kite that
    takes its time); the others go through. Released on the way out."""
    held = _Held()
    place = rig.kite._routes_in["order.place"]

    def slow_place(url_args: dict, params: dict) -> dict:
        if params.get("tradingsymbol") == symbol:
            held.arrived.set()
            held.release.wait(30)
        return place(url_args, params)

    rig.kite._routes_in["order.place"] = slow_place
    try:
        yield held
    finally:
        held.release.set()


async def _arrived(held: _Held) -> None:
    """Until a held placement is at the exchange's door (bounded by ``SOON_S``)."""

    async def until() -> None:
        while not held.arrived.is_set():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(until(), SOON_S)


async def _live(folder: Path) -> tuple[Rig, UpdateLanes]:
    rig = Rig(folder)
    await rig.tick(0, 1000)
    await rig.start()
    await rig.option_tick(0, 1000)
    return rig, rig.lanes  # the trader's ``place_later``, as the live desk's


def _at_exchange(rig: Rig, symbol: str) -> list[dict]:
    return [o for o in rig.exchange.orders(rig.account) if o["tradingsymbol"] == symbol]


def test_a_hung_entry_holds_no_other_symbols_signal(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig, lanes = await _live(tmp_path)
        trader, engine = rig.trader, rig.engine
        with _held(rig, SYMBOL) as release:
            entered = trader.on_signal(engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
            assert await asyncio.wait_for(entered, SOON_S) == 1
            entries = trader.open_orders(SYMBOL)  # sliced at the freeze quantity
            # written ahead, working, not yet at Kite
            assert entries and {o.status for o in entries} == {OrderStatus.NEW}
            # the symbol's next signal sees it working: never a second entry
            again = trader.on_signal(engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
            assert await asyncio.wait_for(again, SOON_S) == 0
            # the risk limits count it (max_open_positions, max_gross_exposure)
            assert trader._exposure(OPTION).entries_working == 1
            # the other symbol trades at once, its placement and fill not behind the hang
            await asyncio.wait_for(rig.buy_option(), SOON_S)
            await asyncio.sleep(0.05)
            await rig.deliver(settled=False)  # (the lanes hold the hung entry)
            assert {o["transaction_type"]: o["status"] for o in _at_exchange(rig, OPTION)} == {
                "BUY": "COMPLETE",  # the entry, filled
                "SELL": "TRIGGER PENDING",  # its stop, working
            }
            assert trader.position_qty(OPTION) > 0 and not rule_11(trader)
            assert _at_exchange(rig, SYMBOL) == []
            release.set()
            await asyncio.wait_for(lanes.drain(), 10)
        await rig.deliver()
        await lanes.drain()
        placed = [o["tag"] for o in _at_exchange(rig, SYMBOL) if o["transaction_type"] == "BUY"]
        assert sorted(placed) == sorted(o.tag for o in entries)  # each slice once
        assert trader.position_qty(SYMBOL) > 0 and not rule_11(trader)
        await rig.journal.close()
        await rig.db.close()

    asyncio.run(scenario())


def test_a_kill_switch_during_a_hung_entry_ends_flat(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig, lanes = await _live(tmp_path)
        trader = rig.trader
        with _held(rig, SYMBOL) as release:
            entered = trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
            assert await asyncio.wait_for(entered, SOON_S) == 1
            await _arrived(release)  # its placement is at the exchange's door
            trader.risk.trigger_kill("test")
            await trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test")
            entries = [o for o in trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
            assert entries[0].status is OrderStatus.NEW  # in flight, not at Kite yet
            # the slices queued behind it are cancelled at once: never sent
            assert {o.status for o in entries[1:]} == {OrderStatus.CANCELLED}
            assert trader.open_orders(SYMBOL) == entries[:1]
            said = [e.message for e in trader.events if e.kind == "CancelDeferred"]
            assert len(said) == len(entries) and entries[0].tag in said[0]
            release.set()  # Kite takes the entry after all, after the kill switch
            await asyncio.wait_for(lanes.drain(), 10)
        for _ in range(3):
            await rig.deliver()
            await lanes.drain()
            await trader.exits.service()
        # Kite filled the first slice before the cancel reached it: closed at once (the
        # kill switch is on), the other slices never sent; flat here and at Kite
        assert not rule_11(trader)
        assert trader.open_orders(SYMBOL) == []
        assert rig.exchange_position() == trader.position_qty(SYMBOL) == 0
        sent = {o["tag"] for o in _at_exchange(rig, SYMBOL) if o["transaction_type"] == "BUY"}
        assert sent == {entries[0].tag}, sent
        await rig.journal.close()
        await rig.db.close()

    asyncio.run(scenario())
