"""A carried position whose stop filled at Kite unheard, just before the close.

The desk never heard the fill (its websocket down, the desk stopped); the next morning
Kite lists only that day's orders, so the stop is gone from its book as an unfilled one
would be. Written off as lapsed and placed again, the stop would protect a position Kite
no longer holds, and once triggered open the other side: real money, unprotected. Each
test runs the real ``kiteconnect`` client against the strict exchange (``kite_rig``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from kitetui.brokers.base import BrokerUnavailable
from kitetui.clock import ist_date
from kitetui.domain import OrderIntent, OrderPurpose, Product, RiskVerdict, Side
from kitetui.market.feeds import LiveFeed
from kitetui.supervisor.command_handler import CommandHandler
from kitetui.trading.trader import UNCONFIRMED_BLOCK
from kitetui.venues.reconciler import Reconciler

from .desk import rule_11
from .kite_rig import KEY, SYMBOL, Rig
from .test_session_end_live import NEXT_MORNING_S, NS, _carry_overnight, _exchange_stops, _long


async def _filled_before_the_close(folder: Path, filled: int | None = None) -> Rig:
    """An NRML long whose stops trigger and fill (``filled`` of it; all by default) at the
    exchange while the desk hears nothing; the rest lapses at the close. The desk is
    restarted the next morning, the stops still working in its books."""
    rig = await _long(folder, Product.NRML)
    held = rig.trader.position_qty(SYMBOL)
    filled = held if filled is None else filled
    trigger = _exchange_stops(rig)[0]["trigger_price"]
    at = rig.market.now_ns + NS
    rig.market.inject_tick(KEY, trigger - 5, 50, ts_ns=at)  # triggers them, fills none
    rig.market.inject_tick(KEY, trigger - 5, 4 * filled, ts_ns=at + NS)  # a quarter trades
    assert rig.exchange_position() == held - filled
    rig.price = trigger + 30  # the next morning's market, above the stop's level again
    morning = rig.market.now_ns + NEXT_MORNING_S * NS
    rig.market.inject_tick(KEY, rig.price, 1000, ts_ns=morning)  # the exchange's new day
    rig.clock.now_ns = morning
    assert _exchange_stops(rig) == []
    await rig.restart()  # the fills' updates died with the desk
    assert rig.trader.position_qty(SYMBOL) == held  # what the desk believes
    return rig


async def _kinds(rig: Rig) -> list[str]:
    await rig.journal.flush()
    rows = await (await rig.db.execute("SELECT kind FROM events ORDER BY rowid")).fetchall()
    return [row[0] for row in rows]


async def _fills(rig: Rig) -> int:
    await rig.journal.flush()
    return (await (await rig.db.execute("SELECT COUNT(*) FROM fills")).fetchone())[0]


def _ours_today(rig: Rig) -> list[dict]:
    """The orders of ours in the exchange's book (today's only)."""
    return [o for o in rig.exchange.orders(rig.account) if o["tag"]]


def _entry_rule(rig: Rig) -> str:
    """The rule that stops a fresh entry in the symbol ("" when it would pass)."""
    intent = OrderIntent(
        engine=rig.engine.name,
        symbol=SYMBOL,
        exchange=rig.engine.exchange,
        side=Side.BUY,
        quantity=100,
        purpose=OrderPurpose.ENTRY,
        product=Product.NRML,
    )
    exposure = rig.trader._exposure(SYMBOL, rig.engine)  # type: ignore[arg-type]
    decision = rig.trader.risk.check(intent, rig.price, exposure)
    return decision.rule if decision.verdict is RiskVerdict.BLOCK else ""


async def _write_off(rig: Rig, door: str) -> Reconciler:
    """The morning's first look at Kite's book: a session's start, or the reconciler's
    first pass on a resumed run."""
    reconciler = Reconciler(rig.broker, rig.trader, LiveFeed(), rig.clock, lambda: None)
    if door == "session":
        await rig.trader.lapse_unlisted(ist_date(rig.clock.now_ns))
    else:
        await reconciler.reconcile()
    await rig.deliver()
    await rig.trader.exits.service()
    return reconciler


@pytest.mark.parametrize("door", ["session", "reconciler"])
def test_a_stop_that_filled_unheard_is_not_placed_again_for_a_position_kite_no_longer_holds(
    tmp_path, door
):
    async def scenario() -> None:
        rig = await _filled_before_the_close(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            fills = await _fills(rig)
            reconciler = await _write_off(rig, door)
            assert _ours_today(rig) == []  # no stop, no close sent
            assert rig.exchange_position() == 0  # flat at Kite, and flat it stays
            assert rig.trader.position_qty(SYMBOL) == held  # no fill price guessed...
            assert await _fills(rig) == fills  # ...into the ledger
            kinds = await _kinds(rig)
            assert kinds.count("PositionUnconfirmed") == 1
            why = rig.trader.exits.naked()[SYMBOL]  # the alarm line: NAKED: SYMBOL
            assert f"Kite holds +0 NRML, kitetui {held:+d}" in why
            assert "PositionNaked" in kinds
            assert rig.trader.exits.protection(SYMBOL).text.startswith("NAKED Kite holds 0/")
            assert rig.trader.risk.blocked_symbols[SYMBOL].startswith(UNCONFIRMED_BLOCK)
            assert _entry_rule(rig) == "symbol_blocked"
            for _ in range(2):  # the reconciler's next passes: the same, said once
                await reconciler.reconcile()
                await rig.deliver()
                await rig.trader.exits.service()
            assert _ours_today(rig) == []
            assert (await _kinds(rig)).count("PositionUnconfirmed") == 1
            assert "ReconcileDrift" in await _kinds(rig)
            # A flatten (the kill switch, the square-off) closes what Kite holds: nothing.
            handler = CommandHandler(SimpleNamespace(trader=rig.trader))  # type: ignore[arg-type]
            result = await handler._flatten(SYMBOL)
            assert "closing at most what Kite holds" in result.message
            assert rig.trader.exits.unsent_closes() == []  # no close is due: none "retrying"
            await rig.deliver()
            await rig.trader.exits.service()
            assert _ours_today(rig) == []
            assert rig.exchange_position() == 0
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_kite_holding_part_of_it_is_covered_and_closed_for_that_part_only(tmp_path):
    async def scenario() -> None:
        rig = await _filled_before_the_close(tmp_path, filled=300)
        try:
            held = rig.trader.position_qty(SYMBOL)
            theirs = held - 300
            await _write_off(rig, "session")
            stops = _exchange_stops(rig)
            assert sum(s["quantity"] for s in stops) == theirs
            assert {s["transaction_type"] for s in stops} == {"SELL"}
            assert rig.exchange_position() == theirs
            assert "PositionUnconfirmed" in await _kinds(rig)
            assert f"Kite holds {theirs:+d} NRML" in rig.trader.exits.naked()[SYMBOL]
            assert rig.trader.risk.blocked_symbols[SYMBOL].startswith(UNCONFIRMED_BLOCK)
            await rig.trader.flatten(SYMBOL, OrderPurpose.FLATTEN, "test flatten")
            for _ in range(3):
                await rig.deliver()
                await rig.trader.exits.service()
                await rig.tick(0, 2000)
            assert rig.exchange_position() == 0  # never beyond flat, the other way
            assert rig.trader.position_qty(SYMBOL) == held - theirs  # what Kite never held
            sold = sum(o["filled_quantity"] for o in _ours_today(rig))
            assert sold == theirs
            finished = ("COMPLETE", "CANCELLED")
            assert [o for o in _ours_today(rig) if o["status"] not in finished] == []
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_positions_unread_hold_the_cover_until_the_reconciler_reads_them(tmp_path):
    """The ordinary lapse (the stop expired unfilled, Kite holds the position): with
    Kite's positions unreadable nothing is placed on a guess; the reconciler's next
    pass reads them and covers the position at once."""

    async def scenario() -> None:
        rig = await _carry_overnight(tmp_path)
        try:
            held = rig.trader.position_qty(SYMBOL)
            positions = rig.broker.positions

            async def down() -> list:
                raise BrokerUnavailable("positions: 503 after every retry")

            rig.broker.positions = down  # type: ignore[method-assign]
            await _write_off(rig, "session")
            assert _exchange_stops(rig) == []  # not covered on a guess
            stale = [o for o in rig.trader.orders.values() if o.purpose is OrderPurpose.STOP]
            assert all(o.status.is_terminal for o in stale)  # the book said they are gone
            assert SYMBOL in rig.trader.exits.naked()  # said: NAKED, and why
            assert "positions not read" in rig.trader.exits.naked()[SYMBOL]
            await rig.journal.flush()
            failed = await (
                await rig.db.execute("SELECT message FROM events WHERE kind = 'ReconcileFailed'")
            ).fetchall()
            assert any("positions could not be read" in row[0] for row in failed)
            assert _entry_rule(rig) == "symbol_blocked"
            rig.broker.positions = positions  # type: ignore[method-assign]
            reconciler = Reconciler(rig.broker, rig.trader, LiveFeed(), rig.clock, lambda: None)
            await reconciler.reconcile()  # the next pass
            await rig.deliver()
            assert sum(s["quantity"] for s in _exchange_stops(rig)) == held
            assert not rule_11(rig.trader)
            assert SYMBOL not in rig.trader.exits.naked()
            assert SYMBOL not in rig.trader.risk.blocked_symbols
            kinds = await _kinds(rig)
            assert "PositionConfirmed" in kinds and "PositionUnconfirmed" not in kinds
            await reconciler.reconcile()  # and once only
            assert sum(s["quantity"] for s in _exchange_stops(rig)) == held
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_positions_unread_then_read_flat_place_nothing(tmp_path):
    async def scenario() -> None:
        rig = await _filled_before_the_close(tmp_path)
        try:
            positions = rig.broker.positions

            async def down() -> list:
                raise BrokerUnavailable("positions: 503 after every retry")

            rig.broker.positions = down  # type: ignore[method-assign]
            await _write_off(rig, "session")
            assert _ours_today(rig) == []
            rig.broker.positions = positions  # type: ignore[method-assign]
            await _write_off(rig, "reconciler")
            assert _ours_today(rig) == []
            assert rig.exchange_position() == 0
            assert "PositionUnconfirmed" in await _kinds(rig)
            assert _entry_rule(rig) == "symbol_blocked"
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_desk_restarted_again_still_covers_no_more_than_kite_holds(tmp_path):
    """The hold lives in memory; a restart finds the lapsed stop in the journal and
    holds the position to Kite's positions again before it covers anything."""

    async def scenario() -> None:
        rig = await _filled_before_the_close(tmp_path)
        try:
            await _write_off(rig, "session")
            assert _ours_today(rig) == []
            await rig.restart(lapse=True)  # as ``Recovery.finish``: lapse, then cover
            await rig.deliver()
            await rig.trader.exits.service()
            assert _ours_today(rig) == []
            assert rig.exchange_position() == 0
            assert SYMBOL in rig.trader.exits.unconfirmed()
            assert _entry_rule(rig) == "symbol_blocked"
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())
