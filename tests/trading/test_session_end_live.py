"""A live desk across the session's end, against the strict exchange (``sim.day_end``).

Kite cancels what is unmatched after the close and lists only the day's orders the next
morning. A desk that missed that update (its websocket down for the night, a restart)
must not go on counting yesterday's stop as cover.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from kitetui.clock import ist_date
from kitetui.domain import OrderPurpose, OrderStatus, Product, SignalKind
from kitetui.market.feeds import LiveFeed
from kitetui.supervisor.command_handler import CommandHandler
from kitetui.venues.reconciler import Reconciler

from .desk import rule_11
from .kite_rig import KEY, SYMBOL, Rig, drawn_signal

NS = 1_000_000_000
NEXT_MORNING_S = (24 * 60 - 15) * 60  # 09:30 today -> 09:15 tomorrow


def _exchange_stops(rig: Rig) -> list[dict]:
    return [
        o
        for o in rig.exchange.orders(rig.account)
        if o["tradingsymbol"] == SYMBOL and o["status"] == "TRIGGER PENDING"
    ]


async def _long(folder: Path, product: Product = Product.MIS) -> Rig:
    """A desk on the exchange that has just gone long the future (its stop working)."""
    rig = Rig(folder)
    await rig.tick(0, 1000)
    await rig.start()
    rig.engine.product = product
    await rig.trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
    await rig.deliver()
    assert rig.trader.position_qty(SYMBOL) > 0
    return rig


def _trade_at_cut_off(rig: Rig, quantity: int) -> int:
    """A trade at the exchange at 15:25 IST, NFO's cut-off (the day is T0's); its time."""
    cut_off = rig.market.now_ns + (5 * 3600 + 55 * 60) * NS
    rig.market.inject_tick(KEY, rig.price, quantity, ts_ns=cut_off)
    return cut_off


def _by_hand(rig: Rig, **fields: object) -> None:
    """A sell of 100 of the future placed in Kite's own app: MIS, untagged."""
    rig.exchange.place_order(
        rig.account,
        "regular",
        {
            "exchange": "NFO",
            "tradingsymbol": SYMBOL,
            "transaction_type": "SELL",
            "quantity": 100,
            "product": "MIS",
            "market_protection": -1,
            **fields,
        },
    )


async def _settle(rig: Rig, rounds: int, quantity: int) -> None:
    """The desk hears, serves and polls, a trade every 3 s, ``rounds`` times."""
    for _ in range(rounds):
        await rig.deliver()
        await rig.trader.exits.service()
        await rig.poll()
        rig.wall.ns += 3 * NS
        await rig.tick(0, quantity)


async def _carry_overnight(folder: Path) -> Rig:
    """An NRML long and its stop at the exchange; the night passes, its updates lost."""
    rig = await _long(folder, Product.NRML)  # carried overnight, as a positional future is
    held = rig.trader.position_qty(SYMBOL)
    assert sum(s["quantity"] for s in _exchange_stops(rig)) == held  # in freeze-sized slices
    morning = rig.market.now_ns + NEXT_MORNING_S * NS
    rig.price = round(rig.price + 10, 2)
    rig.market.inject_tick(KEY, rig.price, 1000, ts_ns=morning)  # the exchange's new day
    rig.clock.now_ns = morning
    assert _exchange_stops(rig) == []  # lapsed at the close, as Kite's are
    await rig.restart()  # ... and the desk never heard of it
    stale = [o for o in rig.trader.open_orders(SYMBOL) if o.purpose is OrderPurpose.STOP]
    assert sum(o.quantity for o in stale) == held  # what the desk believes
    assert not rule_11(rig.trader)
    return rig


def test_a_stop_that_lapsed_unheard_overnight_is_written_off_and_placed_again(tmp_path):
    async def scenario() -> None:
        rig = await _carry_overnight(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            stale = [o for o in rig.trader.open_orders(SYMBOL) if o.purpose is OrderPurpose.STOP]
            await rig.poll()  # the reconciler's poll cannot bring it: the book is today's
            assert all(rig.trader.orders[o.tag].status is o.status for o in stale)
            today = ist_date(rig.clock.now_ns)
            await rig.trader.lapse_unlisted(today)
            await rig.deliver()
            assert all(rig.trader.orders[o.tag].status is OrderStatus.CANCELLED for o in stale)
            stops = _exchange_stops(rig)
            assert sum(s["quantity"] for s in stops) == held
            assert {s["transaction_type"] for s in stops} == {"SELL"}
            assert not rule_11(rig.trader)
            assert await rig.trader.lapse_earlier_orders(today, set()) == 0  # today's stay
            await rig.journal.flush()
            kinds = [
                row[0]
                for row in await (
                    await rig.db.execute("SELECT kind FROM events WHERE kind = 'OrderLapsed'")
                ).fetchall()
            ]
            assert kinds == ["OrderLapsed"] * len(stale)
            for order in stale:
                rows = await (
                    await rig.db.execute("SELECT status FROM orders WHERE tag = ?", (order.tag,))
                ).fetchall()
                assert [r[0] for r in rows] == ["CANCELLED"]
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_position_the_rms_squares_off_is_taken_down_not_covered_again(tmp_path):
    """Zerodha's RMS cancels the stop and closes the MIS position with its own order at
    the cut-off. The desk takes the position down by that order's fills rather than
    place stop after refused stop for a position that is gone."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            assert held > 0
            rig.clock.now_ns = _trade_at_cut_off(rig, 1000)
            await _settle(rig, rounds=8, quantity=1000)
            assert rig.exchange_position() == 0
            assert rig.trader.position_qty(SYMBOL) == 0
            assert rig.trader.open_orders() == []
            assert not rule_11(rig.trader)
            await rig.journal.flush()
            kinds = [
                row[0] for row in await (await rig.db.execute("SELECT kind FROM events")).fetchall()
            ]
            rms = [o for o in rig.exchange.orders(rig.account) if not o["tag"]]
            assert len(rms) == held // 100  # in orders of the freeze quantity (100)
            assert kinds.count("ForeignOrder") == len(rms)  # each once, not on every poll
            assert kinds.count("AutoSquaredOff") >= len(rms)
            adopted = await (
                await rig.db.execute(
                    "SELECT purpose, SUM(f.quantity) FROM orders o JOIN fills f ON f.tag = o.tag "
                    "WHERE o.tag LIKE 'kite-%' GROUP BY purpose"
                )
            ).fetchall()
            assert [tuple(r) for r in adopted] == [("SQUARE_OFF", held)]
            book = {o["order_id"]: o for o in rig.exchange.orders(rig.account)}
            rows = await (
                await rig.db.execute(
                    "SELECT tag, quantity, filled_qty FROM orders WHERE tag LIKE 'kite-%'"
                )
            ).fetchall()
            for tag, quantity, filled in rows:  # as the exchange's book has them
                theirs = book[tag.removeprefix("kite-")]
                assert (quantity, filled) == (theirs["quantity"], theirs["filled_quantity"])
            refused = [o for o in book.values() if o["tag"] and o["status"] == "REJECTED"]
            assert refused == []  # the desk sent no stop or close past the cut-off
            # each broker's order charged as Zerodha charges it: ₹50 + GST on top, once
            fees = await (
                await rig.db.execute(
                    "SELECT o.reason, SUM(CAST(f.charge_brokerage AS REAL)) FROM fills f "
                    "JOIN orders o ON o.tag = f.tag WHERE o.tag LIKE 'kite-%' GROUP BY o.tag"
                )
            ).fetchall()
            assert len(fees) == len(rms)
            for reason, fee in fees:
                assert reason.startswith("auto square-off by the broker")
                assert 50 < fee <= 70
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_person_closing_in_kites_app_takes_the_position_down_never_beyond_flat(tmp_path):
    """A sell placed in Kite's own app for twice the desk's long: the desk's position
    goes to flat by it (its stop then cancelled), not short; the rest is not its own.
    Before the cut-off it is no auto square-off, and pays no square-off fee."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            for _ in range(2 * held // 100):  # in freeze-sized orders
                _by_hand(rig, order_type="MARKET")
            await _settle(rig, rounds=6, quantity=5000)
            assert rig.exchange_position() == -held  # the person's short is theirs
            assert rig.trader.position_qty(SYMBOL) == 0
            assert rig.trader.open_orders() == []  # our stops cancelled: flat
            assert not rule_11(rig.trader)
            await rig.journal.flush()
            adopted = await (
                await rig.db.execute(
                    "SELECT o.reason, SUM(f.quantity), SUM(CAST(f.charge_brokerage AS REAL)) "
                    "FROM orders o JOIN fills f ON f.tag = o.tag WHERE o.tag LIKE 'kite-%' "
                    "GROUP BY o.tag"
                )
            ).fetchall()
            assert sum(qty for _, qty, _ in adopted) == held
            for reason, _, brokerage in adopted:
                assert reason.startswith("closed outside kitetui")
                assert brokerage <= 20  # no square-off fee
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_while_the_rms_orders_rest_unfilled_the_desk_counts_them_and_sends_nothing(tmp_path):
    """An illiquid contract: the RMS's square-off orders rest. They are the position's
    close from the moment they are seen; the desk places nothing beside them (Kite would
    refuse it, round after round), and the position shows as exiting, not naked."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            rig.clock.now_ns = _trade_at_cut_off(rig, 150)  # too thin to fill a lot
            await _settle(rig, rounds=8, quantity=150)
            book = rig.exchange.orders(rig.account)
            rms = [o for o in book if not o["tag"]]
            assert sum(o["quantity"] for o in rms) == held
            assert all(o["status"] == "OPEN" and o["filled_quantity"] == 0 for o in rms)
            assert [o for o in book if o["tag"] and o["status"] == "REJECTED"] == []
            assert rig.trader.position_qty(SYMBOL) == held == rig.exchange_position()
            assert rig.trader.exits.protection(SYMBOL).state == "EXITING"
            assert not rule_11(rig.trader)
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_stop_stamped_yesterday_that_kite_lists_today_is_not_written_off(tmp_path):
    """A stop the desk placed while its clock still read yesterday (the day's first tick
    not in yet), which reached the exchange today: it is in today's book, so it is no
    lapsed order, and it is not covered twice."""

    async def scenario() -> None:
        rig = await _long(tmp_path, Product.NRML)
        try:
            stops = [o for o in rig.trader.open_orders(SYMBOL) if o.purpose is OrderPurpose.STOP]
            tomorrow = ist_date(rig.clock.now_ns + 24 * 3600 * NS)
            assert await rig.trader.lapse_earlier_orders(tomorrow, {o.tag for o in stops}) == 0
            assert all(rig.trader.orders[o.tag].status is o.status for o in stops)
            assert await rig.trader.lapse_earlier_orders(tomorrow, set()) == len(stops)
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_desk_restarted_next_morning_has_its_reconciler_write_off_yesterdays_stop(tmp_path):
    """The restart path: the run resumes (no new session starts), and the reconciler's
    first pass finds yesterday's stop gone from Kite's book: written off, covered again."""

    async def scenario() -> None:
        rig = await _carry_overnight(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            reconciler = Reconciler(rig.broker, rig.trader, LiveFeed(), rig.clock, lambda: None)
            await reconciler.reconcile()
            await rig.deliver()
            stops = _exchange_stops(rig)
            assert sum(s["quantity"] for s in stops) == held
            assert not rule_11(rig.trader)
            await reconciler.reconcile()  # and once only
            assert sum(s["quantity"] for s in _exchange_stops(rig)) == held
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_the_rms_is_known_by_the_exchanges_clock_when_our_ticks_lag_it(tmp_path):
    """Our data clock is the last tick's; the RMS's cancels and orders can reach us
    first. The exchange's time in the updates says the cut-off has passed: no stop of
    ours goes out after the RMS cancelled it, and its orders pay the square-off fee."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            cut_off = _trade_at_cut_off(rig, 1000)
            rig.clock.now_ns = cut_off - 10 * NS  # our last tick: 15:24:50
            updates, rig.updates[:] = list(rig.updates), []
            for data in updates:  # as the websocket brings them: the raw dicts
                await rig.trader.on_update(data)
            assert rig.trader.now_at_exchange() >= cut_off
            await _settle(rig, rounds=3, quantity=1000)
            book = rig.exchange.orders(rig.account)
            assert [o for o in book if o["tag"] and o["status"] == "REJECTED"] == []
            assert rig.trader.position_qty(SYMBOL) == 0 == rig.exchange_position()
            reasons = {
                o.reason.split(" (")[0]
                for o in rig.trader.orders.values()
                if o.tag.startswith("kite-")
            }
            assert reasons == {"auto square-off by the broker"}
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_restarted_desk_knows_the_exchanges_clock_from_its_first_read_of_the_book(tmp_path):
    """The exchange's time came from order updates only, so a desk restarted after the
    RMS's square-off judged the cut-off by its lagging ticks until the next update."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            cut_off = _trade_at_cut_off(rig, 1000)
            await rig.restart()  # the RMS's updates die with the process
            rig.clock.now_ns = cut_off - 10 * NS  # our last tick: 15:24:50
            assert rig.trader.now_at_exchange() < cut_off
            reconciler = Reconciler(rig.broker, rig.trader, LiveFeed(), rig.clock, lambda: None)
            await reconciler.reconcile()
            assert rig.trader.now_at_exchange() >= cut_off
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_persons_stop_in_kite_is_no_close_until_it_trades(tmp_path):
    """A stop-loss placed by hand in Kite's app for the desk's long rests untriggered:
    it closes nothing yet, so it is not taken as the position's close (the desk's own
    stop stays whole); it is said once, as any order not ours."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            _by_hand(rig, order_type="SL-M", trigger_price=round(rig.price * 0.9, 1))
            await _settle(rig, rounds=2, quantity=1000)
            ours = [o for o in rig.trader.open_orders(SYMBOL) if o.purpose is OrderPurpose.STOP]
            assert sum(o.pending_qty for o in ours) == held
            assert rig.trader.exits.protection(SYMBOL).state == "PROTECTED"
            assert not [o for o in rig.trader.orders.values() if o.tag.startswith("kite-")]
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_cancelling_the_brokers_order_by_hand_is_refused_in_words(tmp_path):
    """The desk never touches an order it did not place; a person asking it to is told
    where to do it, not that the order "is not open"."""

    async def scenario() -> None:
        rig = await _long(tmp_path)
        try:
            rig.clock.now_ns = _trade_at_cut_off(rig, 150)  # the RMS's orders rest
            await _settle(rig, rounds=1, quantity=150)
            tag = next(o.tag for o in rig.trader.open_orders(SYMBOL) if rig.trader.not_ours(o.tag))
            handler = CommandHandler(SimpleNamespace(trader=rig.trader))  # type: ignore[arg-type]
            result = await handler._cancel(tag)
            assert not result.ok and "not placed by kitetui" in result.message
            assert rig.trader.orders[tag].status is OrderStatus.OPEN
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())
