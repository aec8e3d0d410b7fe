"""Live, a flatten acts at once, however long its symbol's entry placement hangs.

A strategy's entry is placed in its symbol's lane (``UpdateLanes``), and that lane also
carries the symbol's order updates. The flattens the batch path starts (a loss halt, a
symbol block, the session's square-off) were queued in the same lane, behind the hung
placement: neither the entry's cancel nor the close of what the symbol already held went
out until Kite answered (up to its 7 s timeout, then the unknown placement's look-ups).
And the slices of a sliced entry not yet sent went out after the flatten (only a halt
stopped them), each filled and then closed.

Here the desk runs against the strict exchange in process (``kite_rig``); the order
updates go through the lanes, as live, so the news of the hung entry's own fill waits
for its answer (the news of the symbol's other orders does not: test_updates_beside_entry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kitetui.domain import OrderPurpose, OrderStatus, SignalKind
from kitetui.store.runs import load_orders

from .desk import rule_11
from .kite_rig import OPTION, SYMBOL, Rig, drawn_signal
from .test_entry_lanes import SOON_S, _at_exchange, _Held

HANG_S = 30  # how long the held answer would wait: far beyond every assertion below


@contextmanager
def _answer_held(rig: Rig, which: Callable[[dict], bool], *, acted: bool) -> Iterator[_Held]:
    """Placements ``which`` picks hang until released: ``acted``, the exchange takes the
    order at once and only its answer is late (Kite slow to answer); else the order
    waits at the exchange's door (Kite slow to take it)."""
    held = _Held()
    place = rig.kite._routes_in["order.place"]

    def slow_place(url_args: dict, params: dict) -> dict:
        if not which(params):
            return place(url_args, params)
        if acted:
            answer = place(url_args, params)
            held.arrived.set()
            held.release.wait(HANG_S)
            return answer
        held.arrived.set()
        held.release.wait(HANG_S)
        return place(url_args, params)

    rig.kite._routes_in["order.place"] = slow_place
    try:
        yield held
    finally:
        held.release.set()
        rig.kite._routes_in["order.place"] = place


def _through_lanes(rig: Rig) -> None:
    """The exchange's updates so far go to their symbols' lanes, as the live desk's do:
    one behind a hung placement waits there."""
    for data in rig.updates:
        rig.lanes.dispatch(data)
    rig.updates.clear()


async def _soon(check: Callable[[], bool]) -> None:
    """Wait up to ``SOON_S`` for ``check`` (the desk acts in tasks beside the test)."""

    async def until() -> None:
        while not check():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until(), SOON_S)


def _sells(rig: Rig, symbol: str) -> list[dict]:
    return [o for o in _at_exchange(rig, symbol) if o["transaction_type"] == "SELL"]


def _sold(rig: Rig, symbol: str) -> int:
    return sum(o["filled_quantity"] for o in _sells(rig, symbol))


async def _journal_agrees(rig: Rig) -> None:
    """Every order's last journaled state is the desk's (never a stale one after it)."""
    await rig.journal.flush()
    journaled = {o.tag: o for o in await load_orders(rig.db, "run1")}
    for tag, order in rig.trader.orders.items():
        row = await (
            await rig.db.execute(
                "SELECT status FROM order_events WHERE tag = ? ORDER BY id DESC LIMIT 1", (tag,)
            )
        ).fetchone()
        assert row[0] == order.status.value, (tag, row[0], order.status)
        assert journaled[tag].filled_qty == order.filled_qty, tag


async def _settle(rig: Rig, symbols: tuple[str, ...]) -> None:
    """Kite's fills come in (through the lanes); each symbol ends flat, here and at Kite."""
    for _ in range(4):
        await rig.tick(0, 1000)
        await rig.option_tick(0, 1000)
        _through_lanes(rig)
        await asyncio.wait_for(rig.lanes.drain(), 10)
        await rig.trader.exits.service()
        assert not rule_11(rig.trader)
    for symbol in symbols:
        assert rig.exchange_position(symbol) == rig.trader.position_qty(symbol) == 0, symbol
        working = [
            o for o in _at_exchange(rig, symbol) if o["status"] in ("OPEN", "TRIGGER PENDING")
        ]
        assert working == [], working
    assert rig.trader.open_orders() == []
    await _journal_agrees(rig)


async def _desk(folder: Path) -> Rig:
    rig = Rig(folder)
    await rig.tick(0, 1000)
    await rig.start()
    await rig.option_tick(0, 1000)
    return rig


def _kinds(rig: Rig) -> list[str]:
    return [e.kind for e in rig.trader.events]


def test_a_loss_halt_closes_what_a_hung_entry_filled_at_once(tmp_path: Path) -> None:
    """Kite took and filled the entry; its answer hangs. The halt's flatten finds the
    fill by the entry's tag and closes it now, not once the answer comes."""

    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        option = lambda p: p.get("tradingsymbol") == OPTION  # noqa: E731
        with _answer_held(rig, option, acted=True) as release:
            await rig.buy_option()
            await _soon(lambda: bool(_at_exchange(rig, OPTION)))  # at Kite, filled
            (entry,) = trader.open_orders(OPTION)
            assert entry.status is OrderStatus.NEW  # the desk still waits for the answer
            _through_lanes(rig)  # the entry's fill: its update waits for its answer
            trader.risk.loss_halt_reason = "max daily loss"
            await asyncio.wait_for(
                trader.flatten_all_soon(OrderPurpose.FLATTEN, "max daily loss"), SOON_S
            )
            await _soon(lambda: _sold(rig, OPTION) == 100)  # closed, the answer still held
            assert not release.is_set()
            assert rig.exchange_position(OPTION) == 0  # flat at Kite; the desk hears of
            assert not rule_11(trader)  # the close's fill in the close's own lane
            assert "CancelDeferred" in _kinds(rig)
            release.set()
            await asyncio.wait_for(rig.lanes.drain(), 10)
        await _settle(rig, (OPTION,))
        assert _sold(rig, OPTION) == 100  # one close: never a second exit of it
        assert trader.orders[entry.tag].status is OrderStatus.COMPLETE
        await rig.journal.close()
        await rig.db.close()

    asyncio.run(scenario())


def test_a_symbol_block_cancels_a_resting_hung_entry_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        rig.exchange._desk.fill_on_placement = False  # it rests at Kite
        option = lambda p: p.get("tradingsymbol") == OPTION  # noqa: E731
        with _answer_held(rig, option, acted=True) as release:
            await rig.buy_option()
            await _soon(lambda: bool(_at_exchange(rig, OPTION)))
            (entry,) = trader.open_orders(OPTION)
            trader.risk.block_symbol(OPTION, "symbol loss limit")
            await asyncio.wait_for(
                trader.flatten_soon(OPTION, OrderPurpose.FLATTEN, "symbol loss limit"), SOON_S
            )
            # Cancelled at Kite, and the desk has its answer (it arrives a moment after
            # the exchange acts): both within "at once", the entry's answer still held.
            await _soon(
                lambda: (
                    _at_exchange(rig, OPTION)[0]["status"] == "CANCELLED"
                    and trader.orders[entry.tag].status is OrderStatus.CANCELLED
                )
            )
            assert not release.is_set()
            release.set()
            await asyncio.wait_for(rig.lanes.drain(), 10)
        rig.exchange._desk.fill_on_placement = True
        await _settle(rig, (OPTION,))
        assert trader.orders[entry.tag].status is OrderStatus.CANCELLED  # never reopened
        assert _sells(rig, OPTION) == []
        await rig.journal.close()
        await rig.db.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["symbol block", "manual flatten"])
def test_a_flatten_beside_a_hung_slice_closes_now_and_sends_no_more_slices(
    tmp_path: Path, how: str
) -> None:
    """A sliced entry: the first slice filled, the second waits at Kite's door, the rest
    are queued behind it. The flatten closes the first slice's fill now; the slices not
    yet sent are never sent; the second, filled once Kite takes it, is closed."""

    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        second = lambda p: p.get("tradingsymbol") == SYMBOL and p["tag"].endswith("2")  # noqa: E731
        with _answer_held(rig, second, acted=False) as release:
            await trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
            await _soon(lambda: bool(_at_exchange(rig, SYMBOL)))
            slices = [o.tag for o in trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
            assert len(slices) == 5
            await _soon(release.arrived.is_set)  # the second slice is at the exchange's door
            _through_lanes(rig)  # the first slice's fill: heard in its own lane, not behind it
            if how == "symbol block":
                trader.risk.block_symbol(SYMBOL, "symbol loss limit")
                flatten = trader.flatten_soon(SYMBOL, OrderPurpose.FLATTEN, "symbol loss limit")
            else:
                flatten = trader.flatten(SYMBOL, OrderPurpose.FLATTEN, "manual flatten")
            await asyncio.wait_for(flatten, SOON_S)
            await _soon(lambda: _sold(rig, SYMBOL) == 100)  # the first slice, closed now
            assert not release.is_set()
            release.set()
            await asyncio.wait_for(rig.lanes.drain(), 10)
        await _settle(rig, (SYMBOL,))
        bought = {o["tag"] for o in _at_exchange(rig, SYMBOL) if o["transaction_type"] == "BUY"}
        assert bought == set(slices[:2]), bought  # the queued slices never went out
        assert _sold(rig, SYMBOL) == 200  # each filled slice closed once
        for tag in slices[2:]:
            unsent = trader.orders[tag]
            assert unsent.status is OrderStatus.CANCELLED, unsent
            assert "never sent" in unsent.reason, unsent.reason
        said = [e.message for e in trader.events if e.kind == "CancelDeferred"]
        assert any(slices[2] in m and "never sent" in m for m in said), said
        await rig.journal.close()
        await rig.db.close()

    asyncio.run(scenario())
