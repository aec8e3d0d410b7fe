"""Live, an order whose placement is unknown, and what happens while it is.

``PlacementUnknown``: the order was sent to Kite and the order book could not be read to
say whether Kite has it. It stays NEW behind a ``placement_unknown:<tag>`` block until the
reconciler finds it by tag (or sees it absent). Here the desk runs against the strict
exchange in process (``kite_rig``): Kite takes the order, the answer is lost, and the
book stays unreadable while the kill switch, a loss halt, a symbol block or a close
comes; then the reconciler's own pass (``Reconciler.poll_orders``) finds the order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from kitetui.domain import OrderPurpose, OrderStatus
from kitetui.sim.inproc import ClientFault
from kitetui.trading.risk import PLACEMENT_UNKNOWN
from kitetui.trading.trader import Trader
from kitetui.venues.reconciler import Reconciler

from .desk import rule_11
from .kite_rig import OPTION, Rig
from .test_entry_lanes import _arrived, _held

WORKING = ("OPEN", "TRIGGER PENDING", "OPEN PENDING", "VALIDATION PENDING")


async def _desk(folder: Path) -> Rig:
    rig = Rig(folder)
    await rig.tick(0, 1000)
    await rig.start()
    await rig.option_tick(0, 1000)
    return rig


@contextmanager
def _book_unreadable(rig: Rig) -> Iterator[None]:
    """Kite's order book answers 503 to every read (the placement's lookup, a cancel's)."""
    rig.kite.fail("orders", *[ClientFault("refuse", 503)] * 1000)
    try:
        yield
    finally:
        rig.kite.faults.pop("orders", None)


def _kite_orders(rig: Rig, symbol: str = OPTION) -> list[dict]:
    return [o for o in rig.exchange.orders(rig.account) if o["tradingsymbol"] == symbol]


def _resting_at_kite(rig: Rig, symbol: str = OPTION) -> list[dict]:
    return [o for o in _kite_orders(rig, symbol) if o["status"] in WORKING]


def _kinds(rig: Rig) -> list[str]:
    return [e.kind for e in rig.trader.events]


async def _unknown_entry(rig: Rig, *, resting: bool, liquidity: int = 1000):
    """An option entry Kite takes (filling ``liquidity`` of it at once unless ``resting``)
    while its answer is lost and the book cannot be read: NEW, placement unknown."""
    await rig.option_tick(0, liquidity)
    rig.exchange._desk.fill_on_placement = not resting
    rig.kite.fail("order.place", ClientFault("lose"))
    await rig.buy_option()
    await rig.lanes.drain()
    rig.exchange._desk.fill_on_placement = True
    rig.updates.clear()  # the websocket lost Kite's updates: only the reconciler finds it
    (entry,) = [o for o in rig.trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
    assert entry.status is OrderStatus.NEW
    assert f"{PLACEMENT_UNKNOWN}:{entry.tag}" in rig.trader.risk.blocks
    assert [o["tag"] for o in _kite_orders(rig)] == [entry.tag]  # Kite has it
    return entry


async def _reconcile(rig: Rig) -> None:
    """One pass of the live reconciler's order poll; the updates it pushes into the feed
    go through the trader as the supervisor's lanes would carry them."""
    pushed: list[dict] = []
    feed = SimpleNamespace(push_order_update=pushed.append)
    reconciler = Reconciler(rig.broker, rig.trader, feed, rig.clock, lambda: None)  # type: ignore[arg-type]
    await reconciler.poll_orders()
    for data in pushed:
        await rig.trader.on_update(data)
    await rig.deliver()  # what the exchange sent meanwhile (the cancels' updates)
    await rig.trader.exits.service()


async def _close(rig: Rig) -> None:
    await rig.journal.close()
    await rig.db.close()


def test_kill_switch_while_an_entry_is_unknown_cancels_it_once_found(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        with _book_unreadable(rig):
            entry = await _unknown_entry(rig, resting=True)
            trader.risk.trigger_kill("test")
            await trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test")
            assert trader.orders[entry.tag].status is OrderStatus.NEW  # could not reach it
        await _reconcile(rig)
        assert _resting_at_kite(rig) == []  # the kill switch's cancel reached it
        assert trader.orders[entry.tag].status is OrderStatus.CANCELLED
        assert trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        assert f"{PLACEMENT_UNKNOWN}:{entry.tag}" not in trader.risk.blocks
        kinds = _kinds(rig)
        assert "PlacementUnknown" in kinds and "PlacementResolved" in kinds
        assert "CancelDeferred" in kinds  # the cancel asked while unknown was said
        await _close(rig)

    asyncio.run(scenario())


def test_kill_switch_while_a_part_filled_entry_is_unknown_ends_flat(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        with _book_unreadable(rig):
            entry = await _unknown_entry(rig, resting=False, liquidity=200)
            assert _kite_orders(rig)[0]["filled_quantity"] == 50  # a lot of 100 filled at Kite
            trader.risk.trigger_kill("test")
            await trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test")
        await _reconcile(rig)  # found: its rest cancelled (or filled first, at Kite)
        assert trader.orders[entry.tag].status.is_terminal
        assert [o for o in _resting_at_kite(rig) if o["transaction_type"] == "BUY"] == []
        assert not rule_11(trader)
        for _ in range(3):  # the kill switch's close of the 50 that did fill trades
            await rig.option_tick(0, 1000)
            await _reconcile(rig)
            assert not rule_11(trader)
        assert trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        assert _resting_at_kite(rig) == []
        await _close(rig)

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["loss halt", "symbol block"])
def test_a_halt_or_block_while_an_entry_is_unknown_ends_flat_once_found(
    tmp_path: Path, how: str
) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        with _book_unreadable(rig):
            entry = await _unknown_entry(rig, resting=False, liquidity=200)
            if how == "loss halt":  # as ``Supervisor._risk_checks`` does on the halt
                trader.risk.loss_halt_reason = "max daily loss"
                await trader.flatten_all_soon(OrderPurpose.FLATTEN, "max daily loss")
            else:
                trader.risk.block_symbol(OPTION, "symbol loss limit")
                await trader.flatten_soon(OPTION, OrderPurpose.FLATTEN, "symbol loss limit")
            await rig.lanes.drain()
            assert trader.orders[entry.tag].status is OrderStatus.NEW
        await _reconcile(rig)
        assert trader.orders[entry.tag].status.is_terminal
        assert [o for o in _resting_at_kite(rig) if o["transaction_type"] == "BUY"] == []
        assert "CancelDeferred" in _kinds(rig)
        for _ in range(3):
            await rig.option_tick(0, 1000)
            await _reconcile(rig)
            assert not rule_11(trader)
        assert trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        assert _resting_at_kite(rig) == []
        await _close(rig)

    asyncio.run(scenario())


def test_a_cancel_asked_in_flight_is_kept_when_the_placement_ends_unknown(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        rig.exchange._desk.fill_on_placement = False  # it rests at Kite
        rig.kite.fail("order.place", ClientFault("lose"))
        with _book_unreadable(rig), _held(rig, OPTION) as release:
            await rig.buy_option()
            await _arrived(release)  # its placement is at the exchange's door
            (entry,) = trader.open_orders(OPTION)
            await trader.cancel_entries("stale entry", OPTION)  # no halt: a plain cancel
            release.set()
            await asyncio.wait_for(rig.lanes.drain(), 10)
            assert trader.orders[entry.tag].status is OrderStatus.NEW  # unknown
        rig.exchange._desk.fill_on_placement = True
        rig.updates.clear()
        assert [o["status"] for o in _kite_orders(rig)] == ["OPEN"]
        await _reconcile(rig)
        assert _resting_at_kite(rig) == []
        assert trader.orders[entry.tag].status is OrderStatus.CANCELLED
        assert f"{PLACEMENT_UNKNOWN}:{entry.tag}" not in trader.risk.blocks
        await _close(rig)

    asyncio.run(scenario())


def test_a_kill_switch_cancel_that_finds_the_unknown_entry_lifts_its_block(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        with _book_unreadable(rig):
            entry = await _unknown_entry(rig, resting=True)
        trader.risk.trigger_kill("test")  # the book answers again: the cancel finds it
        await trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test")
        assert trader.orders[entry.tag].status is OrderStatus.CANCELLED
        assert _resting_at_kite(rig) == []
        assert f"{PLACEMENT_UNKNOWN}:{entry.tag}" not in trader.risk.blocks
        assert "PlacementResolved" in _kinds(rig)
        await _close(rig)

    asyncio.run(scenario())


def test_an_unknown_close_kite_filled_is_never_sent_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        # the entry fills; Kite's RMS refuses its stop: the exit manager closes at once,
        # and that close's answer is lost while the book cannot be read
        faults = (ClientFault("pass"), ClientFault("reject"), ClientFault("lose"))
        rig.kite.fail("order.place", *faults)
        await rig.buy_option()
        with _book_unreadable(rig):
            await rig.deliver()  # the entry's fill: its stop goes out, Kite refuses it
            await rig.deliver()  # the refusal: the close goes out
            rig.updates.clear()  # the close's updates lost: only the reconciler finds it
            closes = [o for o in trader.orders.values() if o.purpose is OrderPurpose.FLATTEN]
            assert [o.status for o in closes] == [OrderStatus.NEW]
            assert f"{PLACEMENT_UNKNOWN}:{closes[0].tag}" in trader.risk.blocks
            assert rig.exchange_position(OPTION) == 0  # Kite took the close and filled it
            for _ in range(3):  # the exit manager's timer: the unknown close counts
                rig.wall.ns += 2 * 10**9
                await rig.option_tick(0, 1000)
                await trader.exits.service()
                assert not rule_11(trader)
        await _reconcile(rig)
        assert trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        sells = [o for o in _kite_orders(rig) if o["transaction_type"] == "SELL"]
        assert [o["status"] for o in sells] == ["REJECTED", "COMPLETE"]  # the stop, one close
        assert _resting_at_kite(rig) == [] and not rule_11(trader)
        assert f"{PLACEMENT_UNKNOWN}:{closes[0].tag}" not in trader.risk.blocks
        await _close(rig)

    asyncio.run(scenario())


def test_kill_switch_while_the_stop_is_unknown_closes_through_it_once_found(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        rig.kite.fail("order.place", ClientFault("pass"), ClientFault("lose"))
        await rig.buy_option()
        with _book_unreadable(rig):
            await rig.deliver()  # the entry's fill: its stop goes out, its answer lost
            rig.updates.clear()  # and its updates: only the reconciler finds it
            (stop,) = [o for o in trader.open_orders(OPTION) if o.purpose is OrderPurpose.STOP]
            assert stop.status is OrderStatus.NEW  # at Kite, unknown here
            trader.risk.trigger_kill("test")
            await trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test")
            assert not rule_11(trader)  # closing: the stop is turned when it is found
        for _ in range(4):
            rig.wall.ns += 2 * 10**9
            await rig.option_tick(0, 1000)
            await _reconcile(rig)
            assert not rule_11(trader)
        assert trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        assert _resting_at_kite(rig) == []
        sells = [o for o in _kite_orders(rig) if o["transaction_type"] == "SELL"]
        assert [o["tag"] for o in sells] == [stop.tag]  # the stop became the close: one
        assert f"{PLACEMENT_UNKNOWN}:{stop.tag}" not in trader.risk.blocks
        await _close(rig)

    asyncio.run(scenario())


def _halted_when_restored(monkeypatch: pytest.MonkeyPatch, reason: str) -> None:
    """The restart restores the kill switch before it looks for its NEW orders (the
    supervisor's recovery restores risk first; the rig starts a fresh risk engine)."""
    recover = Trader.recover_new_orders

    async def restored_first(self: Trader) -> None:
        self.risk.trigger_kill(reason)
        await recover(self)

    monkeypatch.setattr(Trader, "recover_new_orders", restored_first)


def test_a_restart_under_the_kill_switch_never_sends_an_entry_written_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process died between an entry's write-ahead and its placement, the kill
    switch on: the restart placed it at once (a marketable limit could fill before the
    kill switch's cancel came after it)."""

    async def scenario() -> None:
        rig = await _desk(tmp_path)
        rig.trader.place_later = lambda symbol, job, tag: True  # queued; the process dies
        await rig.buy_option()
        (entry,) = [o for o in rig.trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
        assert entry.status is OrderStatus.NEW and _kite_orders(rig) == []
        _halted_when_restored(monkeypatch, "test")
        await rig.restart()
        assert _kite_orders(rig) == []  # never sent
        assert rig.trader.orders[entry.tag].status is OrderStatus.REJECTED
        assert "not placed after a restart: trading halted" in rig.trader.orders[entry.tag].reason
        assert "OrderRejected" in _kinds(rig)
        await _close(rig)

    asyncio.run(scenario())


def test_a_restart_under_the_kill_switch_cancels_an_entry_it_finds_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        rig = await _desk(tmp_path)
        with _book_unreadable(rig):
            entry = await _unknown_entry(rig, resting=True)
        _halted_when_restored(monkeypatch, "test")
        await rig.restart()  # the restart's look-up finds it resting at Kite
        assert _resting_at_kite(rig) == []
        assert rig.trader.orders[entry.tag].status is OrderStatus.CANCELLED
        assert rig.trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        await _close(rig)

    asyncio.run(scenario())


async def _asked_events(rig: Rig, tag: str) -> list[str]:
    await rig.journal.flush()
    rows = await (
        await rig.db.execute(
            "SELECT message FROM events WHERE run_id = 'run1' AND kind = 'CancelDeferred' "
            "ORDER BY id"
        )
    ).fetchall()
    return [m for (m,) in rows if tag in m]


@pytest.mark.parametrize("resting", [True, False], ids=["resting", "filled"])
def test_a_cancel_asked_of_an_unknown_entry_is_kept_across_a_restart(
    tmp_path: Path, resting: bool
) -> None:
    """A flatten asked to cancel an entry whose placement was unknown; the desk died
    before the order book could say where it stood. After the restart (no kill switch,
    no halt: nothing else would cancel it) the entry Kite has is cancelled, and what it
    filled is closed, not only covered; the journal says so."""

    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        with _book_unreadable(rig):
            entry = await _unknown_entry(rig, resting=resting)
            await trader.flatten(OPTION, OrderPurpose.FLATTEN, "manual flatten")
            assert trader.orders[entry.tag].status is OrderStatus.NEW  # could not reach it
        assert len(_kite_orders(rig)) == 1  # at Kite: resting, or filled
        await rig.restart()  # the process dies; Kite's book answers again
        trader = rig.trader
        for _ in range(3):
            await rig.option_tick(0, 1000)
            await _reconcile(rig)
            assert not rule_11(trader)
        assert trader.orders[entry.tag].status.is_terminal
        assert [o for o in _resting_at_kite(rig) if o["transaction_type"] == "BUY"] == []
        assert trader.position_qty(OPTION) == rig.exchange_position(OPTION) == 0
        assert _resting_at_kite(rig) == []
        sold = sum(
            o["filled_quantity"] for o in _kite_orders(rig) if o["transaction_type"] == "SELL"
        )
        assert sold == (0 if resting else 100)  # what filled closed, once
        said = await _asked_events(rig, entry.tag)
        assert any("before the restart" in m for m in said), said
        done = "cancelled now" if resting else "closed"
        assert any(done in m for m in said), said
        await _close(rig)

    asyncio.run(scenario())


def test_an_entry_whose_cancel_was_asked_is_not_placed_after_a_restart(
    tmp_path: Path,
) -> None:
    """The cancel was asked while the placement was in flight and the process died
    before it went out: the restart finds no such order at Kite and does not send it."""

    async def scenario() -> None:
        rig = await _desk(tmp_path)
        trader = rig.trader
        started: list = []
        trader.place_later = lambda symbol, job, tag: started.append(job) or True  # never runs
        await rig.buy_option()
        (entry,) = [o for o in trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
        trader._queued.discard(entry.tag)  # its placement was under way as the cancel came
        await trader.flatten(OPTION, OrderPurpose.FLATTEN, "manual flatten")
        assert trader.orders[entry.tag].status is OrderStatus.NEW
        await rig.restart()
        assert _kite_orders(rig) == []  # never sent
        order = rig.trader.orders[entry.tag]
        assert order.status is OrderStatus.REJECTED and "manual flatten" in order.reason
        await _close(rig)

    asyncio.run(scenario())
