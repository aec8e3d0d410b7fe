"""The trader writes every order before the broker sees it (design rule 2).

A broker that, at the moment ``place`` is called, reads the database through a
connection of its own: the order's row must already be committed there, with its tag,
terms and status NEW. Entries, their protective stops, freeze slices, closes and
flattens all go through the one door, so each of them is checked; and a tag the
journal already holds is never sent again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitetui.brokers.paper import PaperBroker
from kitetui.config import RiskConfig
from kitetui.domain import (
    Exchange,
    Order,
    OrderIntent,
    OrderPurpose,
    Product,
    Side,
    SignalKind,
)

from .desk import FUTURE, StubEngine, make_desk

FUT = FUTURE.tradingsymbol
T = 10.0  # seconds: every await below is bounded; a hang fails, never waits forever


class WriteAheadProbe(PaperBroker):
    """The paper broker, noting for each order placed what the database held for its
    tag at that instant (read on a separate connection: committed rows only)."""

    def __init__(self, database: Path) -> None:
        super().__init__(slippage_bps=0, tick_size=0.05)
        self.database = database
        self.seen: list[tuple[Order, tuple | None]] = []  # (order sent, its row then)

    async def place(self, order: Order) -> Order:
        with sqlite3.connect(self.database) as reader:
            row = reader.execute(
                "SELECT symbol, side, quantity, order_type, purpose, status FROM orders "
                "WHERE tag = ?",
                (order.tag,),
            ).fetchone()
        self.seen.append((order, row))
        return await super().place(order)


def _expected_row(order: Order) -> tuple:
    return (
        order.symbol,
        order.side.value,
        order.quantity,
        order.order_type.value,
        order.purpose.value,
        "NEW",
    )


async def _desk(tmp_path: Path, freeze: int | None = None):
    probe = WriteAheadProbe(tmp_path / "state.db")
    roomy = RiskConfig(max_order_value=1e9, max_gross_exposure=1e10, max_order_quantity=10_000)
    engine = StubEngine(instruments={FUT: FUTURE}, freeze=freeze)
    desk = await make_desk(tmp_path, broker=probe, engine=engine, risk=roomy)
    return desk, probe


def _check_every_placement_was_journaled_first(probe: WriteAheadProbe) -> None:
    """Each order the broker saw had its row committed already, with the very terms
    sent and status NEW (the acknowledgement comes after)."""
    assert probe.seen, "nothing was placed"
    for order, row in probe.seen:
        assert row is not None, f"{order.tag} reached the broker before its order row"
        assert row == _expected_row(order), f"{order.tag}: the broker could see {row}"


async def test_entry_stop_and_close_are_each_journaled_before_the_broker_sees_them(
    tmp_path: Path,
) -> None:
    desk, probe = await asyncio.wait_for(_desk(tmp_path), T)
    try:
        await desk.price(FUT, 19_500.0)
        placed = await asyncio.wait_for(
            desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0)), T
        )
        assert placed == 1
        await desk.price(FUT, 19_500.0)  # the entry fills; its protective stop is placed
        await asyncio.wait_for(
            desk.trader.on_signal(desk.engine, desk.signal(SignalKind.EXIT, FUT, 19_520.0)), T
        )
        await desk.price(FUT, 19_520.0)  # the close fills
        purposes = [order.purpose for order, _row in probe.seen]
        assert OrderPurpose.ENTRY in purposes and OrderPurpose.STOP in purposes
        assert desk.trader.position_qty(FUT) == 0
        _check_every_placement_was_journaled_first(probe)
    finally:
        await desk.close()


async def test_flatten_is_journaled_before_the_broker_sees_it(tmp_path: Path) -> None:
    desk, probe = await asyncio.wait_for(_desk(tmp_path), T)
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.SHORT, FUT, 19_500.0))
        await desk.price(FUT, 19_500.0)
        assert desk.trader.position_qty(FUT) < 0
        assert await asyncio.wait_for(
            desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "a person pressed f"), T
        )
        await desk.price(FUT, 19_490.0)
        assert desk.trader.position_qty(FUT) == 0
        _check_every_placement_was_journaled_first(probe)
    finally:
        await desk.close()


async def test_flatten_while_flat_cancels_the_symbols_working_entry(tmp_path: Path) -> None:
    """A symbol loss limit crossed by the close of a stop-and-reverse: the other side's
    entry was placed the same instant, and the block's flatten must cancel it."""
    desk, _probe = await asyncio.wait_for(_desk(tmp_path), T)
    try:
        await desk.price(FUT, 19_500.0)
        await desk.trader.on_signal(desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0))
        (entry,) = [o for o in desk.trader.open_orders() if o.purpose is OrderPurpose.ENTRY]
        flattened = await asyncio.wait_for(
            desk.trader.flatten(FUT, OrderPurpose.FLATTEN, "symbol loss limit"), T
        )
        assert not flattened  # nothing to close
        assert desk.trader.orders[entry.tag].status.is_terminal
        await desk.price(FUT, 19_500.0)
        assert desk.trader.position_qty(FUT) == 0
    finally:
        await desk.close()


async def test_an_engine_never_enters_a_symbol_it_only_holds_from_an_earlier_session(
    tmp_path: Path,
) -> None:
    desk, probe = await asyncio.wait_for(_desk(tmp_path), T)
    try:
        desk.engine.exits_only = frozenset({FUT})
        await desk.price(FUT, 19_500.0)
        placed = await desk.trader.on_signal(
            desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0)
        )
        assert placed == 0 and not probe.seen
        assert [rule for _engine, rule, _verdict in desk.trader.blocked] == ["exits_only"]
    finally:
        await desk.close()


def _intent(quantity: int) -> OrderIntent:
    return OrderIntent(
        engine="fno",
        symbol=FUT,
        exchange=Exchange.NFO,
        side=Side.BUY,
        quantity=quantity,
        purpose=OrderPurpose.ENTRY,
        product=Product.MIS,
        reason="test",
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lots=st.integers(1, 40), freeze_lots=st.integers(1, 12))
def test_every_freeze_slice_is_journaled_before_it_is_sent(
    tmp_path_factory, lots: int, freeze_lots: int
) -> None:
    lot = FUTURE.lot_size

    async def scenario() -> None:
        desk, probe = await _desk(tmp_path_factory.mktemp("slices"), freeze=freeze_lots * lot)
        try:
            orders = await desk.trader.submit(_intent(lots * lot), "SLICED", desk.engine)
            assert sum(order.quantity for order in orders) == lots * lot
            assert [sent.tag for sent, _row in probe.seen] == [order.tag for order in orders]
            _check_every_placement_was_journaled_first(probe)
        finally:
            await desk.close()

    asyncio.run(asyncio.wait_for(scenario(), T))


async def test_a_tag_already_journaled_is_never_sent_again(tmp_path: Path) -> None:
    desk, probe = await asyncio.wait_for(_desk(tmp_path), T)
    try:
        first = await desk.trader.submit(_intent(FUTURE.lot_size), "ONCE", desk.engine)
        again = await desk.trader.submit(_intent(FUTURE.lot_size), "ONCE", desk.engine)
        assert len(first) == 1 and again == []
        assert [order.tag for order, _row in probe.seen] == ["ONCE"]
    finally:
        await desk.close()


async def test_an_entry_sized_to_nothing_journals_why_with_its_atr_and_price(
    tmp_path: Path,
) -> None:
    """A signal whose ATR sizes it to zero is blocked by the ``sizing`` rule, its
    decision saying the ATR and the price (``_enter`` makes that text only then)."""
    desk = await make_desk(tmp_path)
    try:
        placed = await desk.trader.on_signal(
            desk.engine, desk.signal(SignalKind.LONG, FUT, 19_500.0, atr=float("nan"))
        )
        assert placed == 0
        await asyncio.wait_for(desk.trader.journal.flush(), T)
        rows = await (
            await desk.db.execute("SELECT verdict, rule, reason FROM risk_decisions")
        ).fetchall()
        assert rows == [("BLOCK", "sizing", "sizing gave 0 (atr=nan, price=19500.0)")]
    finally:
        await desk.close()
