"""Reading the journal back (kitetui/store/runs.py): a bad row is a refusal, not a crash.

Start-up verification normally stops such a row first; these tests reach the loaders
with a raw connection (as a reader that skipped verification would) to prove the
loaders themselves never hand recovery a half-decoded row or raise a traceback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from kitetui.domain import OrderStatus, evolve
from kitetui.store.database import open_database
from kitetui.store.errors import DatabaseRefused
from kitetui.store.journal import Journal, _state_of
from kitetui.store.runs import (
    AmbiguousTag,
    create_run,
    entry_tried,
    load_blocked,
    load_desk_state,
    load_fills,
    load_order_detail,
    load_orders,
    load_risk_state,
    resolve_tag,
)

from .journal_support import RUN, edit, order

TIMEOUT_S = 20.0


@pytest.mark.parametrize(
    ("damage", "load", "says"),
    [
        (
            "UPDATE orders SET status = 'PARTIAL' WHERE tag = 'T02'",
            lambda db: load_orders(db, RUN),
            r"table orders, row 3 \(tag 'T02'\): status 'PARTIAL' is not one of NEW, OPEN",
        ),
        (
            "UPDATE orders SET exchange = X'4e4645' WHERE tag = 'T00'",
            lambda db: load_orders(db, RUN),
            r"table orders, row 1 \(tag 'T00'\): exchange b'NFE' is not one of",
        ),
        (
            "UPDATE orders SET price = 'cheap' WHERE tag = 'T01'",
            lambda db: load_orders(db, RUN),
            r"table orders, row 2 \(tag 'T01'\): price 'cheap' is not a number",
        ),
        (
            "UPDATE fills SET side = 'B' WHERE fill_id = 'T02-1'",
            lambda db: load_fills(db, RUN),
            r"table fills, row 2 \(fill_id 'T02-1'\): side 'B' is not one of BUY, SELL",
        ),
        (
            "UPDATE fills SET quantity = 1.5 WHERE fill_id = 'T00-1'",
            lambda db: load_fills(db, RUN),
            r"table fills, row 1 \(fill_id 'T00-1'\): quantity 1.5 is not an integer",
        ),
        (
            "UPDATE risk_state SET state = 'not json'",
            lambda db: load_risk_state(db, RUN),
            r"table risk_state, row 1 \(run_id '" + RUN + r"'\): state is not JSON",
        ),
        (
            'UPDATE risk_state SET state = \'{"version": 1, "trading_day": 5}\'',
            lambda db: load_risk_state(db, RUN),
            r"risk_state, row 1 .*: state is not a risk state: .*trading_day",
        ),
        (
            'UPDATE desk_state SET value = \'{"on": "yes"}\'',
            lambda db: load_desk_state(db, "kill_switch"),
            r"table desk_state, row 1 \(key 'kill_switch'\): kill_switch value .* is not",
        ),
        (
            "UPDATE desk_state SET value = '{on: true}'",
            lambda db: load_desk_state(db, "kill_switch"),
            r"desk_state, row 1 \(key 'kill_switch'\): value is not JSON",
        ),
    ],
    ids=[
        "order-status",
        "order-exchange-blob",
        "order-price-text",
        "fill-side",
        "fill-quantity-real",
        "risk-json",
        "risk-shape",
        "kill-switch-shape",
        "kill-switch-json",
    ],
)
async def test_loader_with_undecodable_row_refuses_naming_table_and_row(
    journal_db: Path, damage: str, load, says: str
) -> None:
    edit(journal_db, damage)
    db = await aiosqlite.connect(journal_db)
    try:
        with pytest.raises(DatabaseRefused, match=says) as refused:
            await asyncio.wait_for(load(db), TIMEOUT_S)
        assert "\n" not in str(refused.value)
    finally:
        await db.close()


async def test_loaders_with_no_rows_return_nothing(journal_db: Path) -> None:
    db = await aiosqlite.connect(journal_db)
    try:
        assert await load_orders(db, "nobody") == []
        assert await load_fills(db, "nobody") == []
        assert await load_risk_state(db, "nobody") is None
        assert await load_desk_state(db, "no such key") is None
    finally:
        await db.close()


def _decide(signal_id: str, verdict: str) -> str:
    return (
        "INSERT INTO risk_decisions (run_id, ts_ns, signal_id, engine, symbol, purpose, side, "
        f"requested_qty, verdict, quantity, rule, reason) VALUES ('{RUN}', 1, '{signal_id}', "
        f"'fno', 'NIFTY22NOVFUT', 'ENTRY', 'BUY', 50, '{verdict}', 50, 'entry', 'test')"
    )


async def test_an_allowed_entry_with_no_order_is_still_owed(journal_db: Path) -> None:
    """A crash between the risk decision and the order row leaves an entry that was
    never sent: recovery must send it (seen as a lost stop-and-reverse under SIGKILL)."""
    edit(
        journal_db,
        _decide("sig-cut", "ALLOW"),
        _decide("sig-halved", "REDUCE"),
        _decide("sig-refused", "BLOCK"),
        _decide("sig-halted", "HALT"),
    )
    db = await aiosqlite.connect(journal_db)
    try:
        assert await entry_tried(db, RUN, "sig-T00")  # its order is journaled
        assert not await entry_tried(db, RUN, "sig-cut")
        assert not await entry_tried(db, RUN, "sig-halved")
        assert await entry_tried(db, RUN, "sig-refused")
        assert await entry_tried(db, RUN, "sig-halted")
        assert not await entry_tried(db, "another run", "sig-T00")
    finally:
        await db.close()


async def test_resolve_tag_with_unique_prefix_finds_the_order_and_refuses_ambiguity(
    journal_db: Path,
) -> None:
    edit(journal_db, "UPDATE orders SET tag = 'CBGW3X7UUMY74M5X' WHERE tag = 'T05'")
    db = await aiosqlite.connect(journal_db)
    try:
        assert await resolve_tag(db, "T02") == "T02"  # a whole tag is itself
        assert await resolve_tag(db, "CBG") == "CBGW3X7UUMY74M5X"
        assert await resolve_tag(db, "C") == "CBGW3X7UUMY74M5X"
        assert await resolve_tag(db, "CBGX") is None
        assert await resolve_tag(db, "%") is None  # no LIKE wildcards
        assert await resolve_tag(db, "") is None
        with pytest.raises(AmbiguousTag, match=r"'T0' is the start of .*T00, T01, .*more of it"):
            await resolve_tag(db, "T0")
        detail = await load_order_detail(db, "CBGW")
        assert detail is not None and detail.tag == "CBGW3X7UUMY74M5X"
        assert await load_order_detail(db, "nope") is None
    finally:
        await db.close()


async def test_blocked_counts_per_engine_rule_and_verdict_with_the_last_reason(
    journal_db: Path,
) -> None:
    """The Blocked tab after a restart: refusals counted from the journal, allows not."""
    edit(
        journal_db,
        _decide("s1", "BLOCK"),
        _decide("s2", "BLOCK").replace("'test')", "'the last one')"),
        _decide("s3", "HALT"),
        _decide("s4", "ALLOW"),
    )
    db = await aiosqlite.connect(journal_db)
    try:
        rows = await load_blocked(db, RUN)
    finally:
        await db.close()
    assert [(e, r, v, n, why) for e, r, v, n, _ts, _sym, why in rows] == [
        ("fno", "entry", "BLOCK", 2, "the last one"),
        ("fno", "entry", "HALT", 1, "test"),
    ]


async def test_order_detail_with_repeated_reasons_stored_once_carries_them_forward(
    tmp_path: Path,
) -> None:
    """Schema 7: an event's reason is NULL when it repeats the order's previous event's;
    the order's detail reads as if every event said it."""
    path = tmp_path / "state.db"
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN)
        why = "LONG: fast above slow"
        await journal.write_order(order("A", reason=why))
        journal.update_order(order("A", OrderStatus.OPEN, reason=why), 2)
        await journal.write_order_state(order("A", OrderStatus.COMPLETE, reason=why), 3)
        journal.update_order(order("A", OrderStatus.COMPLETE, reason=why), 4)  # a repeat
        journal.update_order(order("A", OrderStatus.OPEN, reason=why), 5)  # after the end
        await journal.write_order(order("B", reason=why))
        await journal.write_order_state(order("B", OrderStatus.REJECTED, reason="margin"), 5)
        journal.update_order(order("B", OrderStatus.REJECTED, reason="margin"), 6)  # a repeat
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
        stored = await (
            await db.execute("SELECT tag, status, reason FROM order_events ORDER BY tag, id")
        ).fetchall()
        assert stored == [
            ("A", "NEW", why),
            ("A", "OPEN", None),
            ("A", "COMPLETE", None),  # its repeat at 4 is no change: no row (probe C 4)
            ("A", "OPEN", why),  # no open order to repeat: written in full
            ("B", "NEW", why),
            ("B", "REJECTED", "margin"),
        ]
        a = await load_order_detail(db, "A")
        b = await load_order_detail(db, "B")
    finally:
        await db.close()
    assert a is not None and [e.reason for e in a.history] == [why] * 4
    assert b is not None and [(e.status, e.reason) for e in b.history] == [
        ("NEW", why),
        ("REJECTED", "margin"),
    ]


async def test_an_orders_first_event_keeps_its_reason_whatever_came_before(
    tmp_path: Path,
) -> None:
    """A NEW event is the first of its order: written in full even when an earlier try
    to journal the same order (rolled back) left its reason behind in the journal."""
    db = await asyncio.wait_for(open_database(tmp_path / "state.db"), TIMEOUT_S)
    try:
        journal = Journal(db, RUN)
        placed = order("A", reason="why")
        state = _state_of(placed)
        assert journal._event_row(placed, state, 1, True)[3] == "why"
        assert journal._event_row(placed, state, 2, True)[3] == "why"  # the retry
        assert journal._event_row(placed, state, 3, False)[3] is None
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("change", "writes"),
    [
        ({"reason": "moved"}, True),
        ({"quantity": 75}, True),
        ({"price": 18_300.0}, True),
        ({"trigger_price": 18_250.0}, True),
        ({"status": OrderStatus.TRIGGER_PENDING}, True),
        ({"filled_qty": 25, "avg_price": 18_301.0}, False),  # a fill's, in ``fills``
        ({"broker_order_id": "X1", "ts_ns": 7}, False),
    ],
)
async def test_order_state_with_one_term_changed_writes_an_event_only_for_its_state(
    tmp_path: Path, change: dict[str, object], writes: bool
) -> None:
    """An ``order_events`` row is one change of ``_state_of``'s terms (status, reason,
    quantity, price, trigger price), which ``_add_order_event`` spells inline: a term
    left out there (or one added) shows here as a row missing (or one too many)."""
    db = await asyncio.wait_for(open_database(tmp_path / "state.db"), TIMEOUT_S)
    try:
        journal = Journal(db, RUN)
        working = order("A", OrderStatus.OPEN, reason="why")
        journal.update_order(working, 1)
        journal.update_order(working, 2)  # a repeat: no row
        journal.update_order(evolve(working, **change), 3)
        rows = [row[1] for row in journal._order_events]
    finally:
        await db.close()
    assert rows == ([1, 3] if writes else [1])
