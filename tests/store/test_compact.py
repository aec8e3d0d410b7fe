"""Compacting a finished backtest's database: done only when the file holds that one
run and its chains' rowids have no gap, and it leaves every chain verifying."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from kitetui.store.compact import compact_single_run
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run
from kitetui.store.verify import verify_database

from .journal_support import RUN, order, pages_a_vacuum_saves


async def _write_orders(path: Path, run_id: str, count: int) -> None:
    db = await open_database(path)
    try:
        await create_run(db, run_id, "replay", "c.yaml", "h")
        journal = Journal(db, run_id)
        # Tags in random order, as kitetui's are: the tag index fills its pages by halves.
        for i in range(count):
            await journal.write_order(order(f"{(i * 7919) % count:06d}{run_id[-3:]}"))
        await journal.close()
    finally:
        await db.close()


async def test_a_database_with_one_run_is_compacted_and_its_chains_still_verify(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    await _write_orders(path, RUN, 1500)
    assert pages_a_vacuum_saves(path) > 0
    before = verify_database(path, trust_seal=False).rows
    db = await open_database(path)
    try:
        assert await compact_single_run(db, RUN, 1) is None
    finally:
        await db.close()
    assert pages_a_vacuum_saves(path) == 0
    assert verify_database(path, trust_seal=False).rows == before
    db = await open_database(path)  # start-up takes the compacted file as kitetui's own
    await db.close()


async def test_a_database_with_two_runs_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await _write_orders(path, RUN, 1500)
    await _write_orders(path, RUN[:-1] + "9", 1500)
    db = await open_database(path)
    try:
        assert await compact_single_run(db, RUN, 1) == "it holds 2 runs"
    finally:
        await db.close()
    assert pages_a_vacuum_saves(path) > 0


@pytest.mark.parametrize("table", ["orders", "order_events"])
async def test_a_chained_table_with_a_rowid_gap_is_never_compacted(
    tmp_path: Path, table: str
) -> None:
    """``VACUUM`` may renumber such rows, and the chains are keyed on rowids. (The
    moved row breaks the chain too: the connection here is a plain one, not kitetui's
    start-up, which would refuse the file.)"""
    path = tmp_path / "state.db"
    await _write_orders(path, RUN, 50)
    con = sqlite3.connect(path)
    con.execute(f"UPDATE {table} SET rowid = rowid + 100 WHERE rowid = 1")
    con.commit()
    con.close()
    assert pages_a_vacuum_saves(path) > 0
    async with aiosqlite.connect(path) as db:
        why = await compact_single_run(db, RUN, 7)
        await db.commit()
    assert why == f"table {table} has gaps in its rowids"
    assert _not_compacted_events(path) == [(RUN, 7, f"the database was not compacted: {why}")]
    assert pages_a_vacuum_saves(path) > 0  # left as it was


async def test_a_compaction_that_fails_changes_nothing_and_is_journaled(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await _write_orders(path, RUN, 1500)
    async with aiosqlite.connect(path) as db:
        await db.execute("BEGIN")  # SQLite refuses a VACUUM inside a transaction
        why = await compact_single_run(db, RUN, 9)
        await db.commit()
    assert why == "cannot VACUUM from within a transaction"
    assert _not_compacted_events(path) == [(RUN, 9, f"the database was not compacted: {why}")]
    assert pages_a_vacuum_saves(path) > 0


def _not_compacted_events(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            "SELECT run_id, ts_ns, message FROM events WHERE kind = 'DatabaseNotCompacted' "
            "AND level = 'WARNING'"
        ).fetchall()
    finally:
        con.close()
