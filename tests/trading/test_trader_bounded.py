"""A trader that keeps only the newest finished orders (``Trader(keep_finished=)``).

A long backtest over the in-process paper book forgets old finished orders, their
charger state and their exit bookkeeping, so its memory does not grow with its orders.
What read those orders reads a compact record instead, and nothing it decides may
change: the same signals and prices give the same journal, book and counts as a
trader that keeps every order, a tag is still placed once, and the newest orders (the
orders tab) are all still there.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitetui.config import RiskConfig
from kitetui.domain import (
    Exchange,
    OrderIntent,
    OrderPurpose,
    OrderType,
    Product,
    Side,
    SignalKind,
)
from kitetui.supervisor.snapshots import RECENT_ORDERS
from kitetui.trading.trader import KEEP_FINISHED, Trader

from .desk import FUTURE, TraderDesk, make_desk

FUT = FUTURE.tradingsymbol
T = 30.0  # seconds: a hang fails, never waits forever
ROOMY = RiskConfig(
    max_order_value=1e9,
    max_gross_exposure=1e10,
    max_order_quantity=10_000,
    max_trades_per_symbol_per_day=1_000,
    max_daily_loss=1e9,
    max_symbol_loss=1e9,
)


def _ledger(database: Path) -> tuple[list[tuple], list[tuple]]:
    with sqlite3.connect(database) as db:
        orders = db.execute(
            "SELECT tag, symbol, side, quantity, order_type, purpose, status, filled_qty, "
            "avg_price, price, trigger_price, ts_ns FROM orders ORDER BY rowid"
        ).fetchall()
        fills = db.execute(
            "SELECT fill_id, tag, side, quantity, price, ts_ns, charges_paise FROM fills "
            "ORDER BY seq"
        ).fetchall()
    return orders, fills


async def _round_trip(desk: TraderDesk, price: float, stopped: bool) -> None:
    """An entry, its stop, then a close by signal or by the stop."""
    trader, engine = desk.trader, desk.engine
    await desk.price(FUT, price)
    await trader.on_signal(engine, desk.signal(SignalKind.LONG, FUT, price))
    await desk.price(FUT, price)  # the entry fills; its stop is placed
    if stopped:
        await desk.price(FUT, price - 200.0)  # through the stop
    else:
        await trader.on_signal(engine, desk.signal(SignalKind.EXIT, FUT, price + 10.0))
        await desk.price(FUT, price + 10.0)  # the close fills, the stop is cancelled
    await desk.price(FUT, price)


def _facts(trader: Trader) -> tuple:
    return (
        trader.placed,
        trader.filled_entries(),
        dict(trader.orders_by_engine),
        trader.traded_by(FUT),
        trader.counts["orders"],
        trader.counts["fills"],
        trader.position_qty(FUT),
        trader.portfolio.realized_paise,
        trader.portfolio.charges_paise,
        [o.tag for o in trader.open_orders()],
    )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    trips=st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=12),
    keep=st.integers(0, 3),
)
def test_a_bounded_trader_decides_and_journals_as_one_that_keeps_every_order(
    tmp_path_factory, trips: list[tuple[int, bool]], keep: int
) -> None:
    folder = tmp_path_factory.mktemp("bounded")

    async def run(keep_finished: int | None) -> tuple:
        database = folder / f"keep{keep_finished}.db"
        desk = await make_desk(folder, risk=ROOMY, database=database, keep_finished=keep_finished)
        try:
            for step, stopped in trips:
                await asyncio.wait_for(_round_trip(desk, 19_500.0 + step, stopped), T)
            await desk.trader.journal.flush()
            trader = desk.trader
            newest = list(trader.orders.values())[-keep:] if keep else []
            finished = [o for o in trader.orders.values() if o.status.is_terminal]
            charged = {tag for tag in trader.orders if trader.charger.state(tag) is not None}
            return _facts(trader), _ledger(database), newest, len(finished), charged
        finally:
            await desk.close()

    full, bounded = asyncio.run(run(None)), asyncio.run(run(keep))
    assert full[0][0] >= 2 * len(trips) and full[0][1] == len(trips)  # every trip traded
    assert bounded[0] == full[0]  # counts, book, working orders
    assert bounded[1] == full[1]  # the journal: every order and fill, to the paisa
    assert bounded[2] == full[2]  # the newest orders are all kept
    assert bounded[3] <= 2 * keep  # the finished ones kept are bounded
    assert bounded[4] <= full[4]  # a forgotten order's charges went with it


async def test_a_forgotten_tag_is_still_never_placed_again(tmp_path: Path) -> None:
    desk = await make_desk(tmp_path, risk=ROOMY, keep_finished=1)
    trader = desk.trader
    intent = OrderIntent(
        engine="fno",
        symbol=FUT,
        exchange=Exchange.NFO,
        side=Side.BUY,
        quantity=FUTURE.lot_size,
        purpose=OrderPurpose.ENTRY,
        product=Product.MIS,
        reason="test",
    )
    resting = replace(
        intent, symbol="SBIN", exchange=Exchange.NSE, quantity=1, order_type=OrderType.LIMIT,
        price=1.0,
    )  # fmt: skip
    try:
        await desk.price(FUT, 19_500.0)
        assert len(await trader.submit(resting, "REST", desk.engine)) == 1  # never fills
        assert len(await trader.submit(intent, "ONCE", desk.engine)) == 1
        await desk.price(FUT, 19_500.0)  # fills; its stop is placed
        for step in range(4):
            await asyncio.wait_for(_round_trip(desk, 19_600.0 + step, stopped=False), T)
        assert "ONCE" not in trader.orders and trader.charger.state("ONCE") is None
        assert "REST" in trader.orders  # the oldest, and working: never forgotten
        assert [o.tag for o in trader.open_orders("SBIN")] == ["REST"]
        assert await trader.submit(intent, "ONCE", desk.engine) == []
        assert trader.placed == len(trader.placed_tags) == trader.counts["orders"]
        assert trader.traded_by(FUT) == "fno" and trader.traded_by("OTHER") == ""
    finally:
        await desk.close()


async def test_pinned_orders_are_kept_until_released(tmp_path: Path) -> None:
    """Recovery reads every reloaded order: nothing is forgotten while it is pinned."""
    desk = await make_desk(tmp_path, risk=ROOMY, keep_finished=1)
    trader = desk.trader
    try:
        trader.pin_orders(True)
        for step in range(3):
            await asyncio.wait_for(_round_trip(desk, 19_500.0 + step, stopped=True), T)
        assert len(trader.orders) == trader.placed == 6
        trader.pin_orders(False)
        assert len(trader.orders) == 1 + len(trader.open_orders())
        assert trader.filled_entries() == 3
    finally:
        await desk.close()


def test_the_kept_window_covers_the_orders_tab() -> None:
    assert KEEP_FINISHED >= RECENT_ORDERS
