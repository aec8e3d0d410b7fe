"""Schema 7 (kitetui/store/schema.py): a database of schema 6 migrates in place, its
chains resealed, and every reader sees what it saw before."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from kitetui.store import database, schema
from kitetui.store.chain import seal_sync
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run, load_order_detail
from kitetui.store.verify import verify_database

from .journal_support import RUN, TIMEOUT_S, order

NS = 1_000_000_000
MINUTE = 60 * NS
MORNING = 1_672_631_100 * NS  # 2023-01-02 09:15 IST
# (tag, status, reason) as kitetui 6 journaled them after each order's NEW, interleaved
EVENTS = [
    ("A", "OPEN", "why"),
    ("A", "CANCELLED", "cut"),
    ("B", "OPEN", ""),
    ("B", "TRIGGER PENDING", ""),
    ("B", "OPEN", "why"),
    ("B", "COMPLETE", "other"),
]


def _curve(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT run_id, ts_ns, equity_paise FROM equity_curve ORDER BY ts_ns"
        ).fetchall()


def _events(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT tag, ts_ns, status, reason FROM order_events ORDER BY tag, id"
        ).fetchall()


async def _details(db: aiosqlite.Connection) -> list[tuple]:
    """Every order's history as the order detail shows it."""
    found = []
    for tag in ("A", "B"):
        detail = await load_order_detail(db, tag)
        assert detail is not None
        found += [(tag, e.ts_ns, e.status, e.reason) for e in detail.history]
    return found


def _sql(con: sqlite3.Connection, name: str) -> str:
    return con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]


def _pin_schema(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    for module in (schema, database):
        monkeypatch.setattr(module, "MIGRATIONS", schema.MIGRATIONS[:version])
        monkeypatch.setattr(module, "SCHEMA_VERSION", version)


async def test_a_schema_6_database_migrates_to_7_and_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    two_days = [(MORNING + n * MINUTE, 1_000_000 - 7 * n) for n in range(4)] + [
        (MORNING + 86_400 * NS + n * 30 * NS, 2_000_000 + n) for n in range(3)
    ]
    _pin_schema(monkeypatch, 6)
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        await create_run(db, "other-run", "replay", "c.yaml", "h2")
        journal = Journal(db, RUN)
        await journal.write_order(order("A", reason="why"))
        await journal.write_order(order("B", reason="why"))
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
    finally:
        await db.close()
    with sqlite3.connect(path, isolation_level=None) as con:  # as kitetui 6 wrote them
        con.execute("BEGIN")
        for ts, paise in two_days:
            con.execute("INSERT INTO equity_curve VALUES (?, ?, ?, x'')", (RUN, ts, paise))
            con.execute(  # not on a whole second
                "INSERT INTO equity_curve VALUES (?, ?, ?, x'')",
                ("other-run", ts + NS // 2, -paise),
            )
        for n, (tag, status, reason) in enumerate(EVENTS):
            con.execute(
                "INSERT INTO order_events (tag, ts_ns, status, reason) VALUES (?, ?, ?, ?)",
                (tag, MORNING + n, status, reason),
            )
        for day, symbol, selected in (("2023-01-02", "A", 1), ("2023-01-02", "B", 0)):
            con.execute(
                "INSERT INTO universe VALUES (?, ?, 'eq', ?, ?, ?)",
                (RUN, day, symbol, selected, "" if selected else "thin"),
            )
        assert seal_sync(con, ["equity_curve", "order_events"]) == 14 + len(EVENTS)
        con.execute("COMMIT")
    monkeypatch.undo()
    before = _curve(path)
    assert len(before) == 14
    events = _events(path)
    with sqlite3.connect(path) as con:
        universe = con.execute("SELECT * FROM universe ORDER BY symbol").fetchall()
        assert con.execute("PRAGMA user_version").fetchone()[0] == 6
        assert "orders_open" in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}

    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        assert await _details(db) == events
        (notice,) = database.take_notices(db)  # said once, journaled by the next run
        assert notice[0] == "DatabaseMigrated" and "schema 6 -> 8" in notice[1]
    finally:
        await db.close()

    assert _curve(path) == before
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        kinds = dict(con.execute("SELECT name, type FROM sqlite_master"))
        chunks = con.execute(
            "SELECT run_id, step_ns FROM equity_chunks ORDER BY run_id, first_ts_ns"
        ).fetchall()
        heads = {r[0] for r in con.execute("SELECT tbl FROM chain_heads")}
        reasons = [r[0] for r in con.execute("SELECT reason FROM order_events ORDER BY id")]
        assert con.execute("SELECT * FROM universe ORDER BY symbol").fetchall() == universe
        assert len(universe) == 2
        assert "WITHOUT ROWID" in _sql(con, "universe")
    assert kinds["equity_curve"] == "view" and "orders_open" not in kinds
    assert chunks == [
        ("20221118T034500-a1b2c3", MINUTE),
        ("20221118T034500-a1b2c3", NS),  # the migration steps by minute, second or 1 ns
        ("other-run", 1),
        ("other-run", 1),
    ]
    assert "equity_curve" not in heads and "equity_chunks" in heads
    assert reasons == ["why", "why", None, "cut", "", None, "why", "other"]
    rows = verify_database(path, trust_seal=False).rows
    assert (rows["equity_chunks"], rows["order_events"]) == (4, 2 + len(EVENTS))
