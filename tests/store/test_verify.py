"""Start-up verification (kitetui/store/verify.py) on a journal the store really wrote.

Each damage is made the way a person or a fault would make it (the sqlite3 module, or
bytes in the file); each refusal must name the table and the row (rowid and the
column that names it) and why, in one line, and leave the file's bytes and its
directory exactly as they were.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from kitetui.store.database import open_database
from kitetui.store.errors import DatabaseRefused
from kitetui.store.runs import load_desk_state, load_fills, load_orders, load_risk_state
from kitetui.store.schema import MIGRATIONS
from kitetui.store.seal import is_sealed, seal_path
from kitetui.store.verify import verify_database

from .journal_support import RUN, edit, sha256, sidecars

TIMEOUT_S = 20.0


def test_verify_database_with_journal_as_written_passes_every_chain(journal_db: Path) -> None:
    full = verify_database(journal_db, trust_seal=False)
    assert not full.sealed
    assert full.rows == {
        "runs": 1,
        "orders": 6,
        "order_events": 6 * 3,
        "fills": 3,
        "risk_state": 1,
        "desk_state": 1,
        "risk_decisions": 0,
        "equity_chunks": 0,
    }


def test_verify_database_with_clean_close_seal_skips_the_chains(journal_db: Path) -> None:
    assert is_sealed(journal_db)
    quick = verify_database(journal_db)
    assert quick.sealed and quick.rows == {}


def test_verify_database_with_one_byte_changed_after_the_seal_verifies_in_full(
    journal_db: Path,
) -> None:
    edit(journal_db, "UPDATE fills SET price = price + 0.05 WHERE fill_id = 'T02-1'")
    assert not is_sealed(journal_db)
    with pytest.raises(DatabaseRefused, match=r"table fills, row 2 \(fill_id 'T02-1'\)"):
        verify_database(journal_db)


DAMAGES = [
    # (statements, what the one line must say)
    (["UPDATE orders SET quantity = 5000 WHERE tag = 'T03'"], r"table orders, row 4 \(tag 'T03'\)"),
    (["UPDATE orders SET status = 'FILLED' WHERE tag = 'T01'"], r"status 'FILLED' is not one of"),
    (
        ["UPDATE orders SET quantity = 'fifty' WHERE tag = 'T01'"],
        r"quantity 'fifty' is not an integer",
    ),
    (
        ["UPDATE order_events SET status = 'OPEN' WHERE id = 3"],
        r"table order_events, row 3 \(id 3\)",
    ),
    (
        ["DELETE FROM order_events WHERE id = 5"],
        r"row 6 \(id 6\): the row before it .*\(id 5 is gone\)",
    ),
    (
        ["UPDATE fills SET quantity = 500 WHERE fill_id = 'T04-1'"],
        r"table fills, row 3 \(fill_id 'T04-1'\)",
    ),
    (["DELETE FROM fills WHERE fill_id = 'T02-1'"], r"table fills, row 3 \(fill_id 'T04-1'\)"),
    (["DELETE FROM fills WHERE fill_id = 'T04-1'"], r"table fills: the chain ends after 2 rows"),
    (["UPDATE risk_state SET state = '{\"version\": 1'"], r"table risk_state, row 1 .*not JSON"),
    (["UPDATE risk_state SET state = '[]'"], r"risk_state, row 1 .*not an object"),
    (
        ["UPDATE desk_state SET value = '{\"on\": true'"],
        r"table desk_state, row 1 \(key 'kill_switch'\)",
    ),
    (["DELETE FROM desk_state"], r"table desk_state: the chain ends after 0 rows but 1"),
    (
        ["INSERT INTO desk_state (key, value) VALUES ('paused', 'true')"],
        r"desk_state, row 2 \(key 'paused'\): it has no checksum",
    ),
    (["UPDATE runs SET cursor_ns = 0"], r"table runs, row 1 \(run_id '" + RUN + r"'\)"),
    (["UPDATE runs SET status = 'RUNNING', chk = x''"], r"table runs, row 1"),
    (["DELETE FROM chain_heads WHERE tbl = 'fills'"], r"table fills: it holds 3 rows but only 0"),
    (["DROP TABLE fills"], r"table fills is missing"),
    (["ALTER TABLE orders DROP COLUMN reason"], r"table orders: column reason is missing"),
    (["ALTER TABLE fills ADD COLUMN note TEXT"], r"column note is not one kitetui created"),
    (["DROP INDEX fills_run"], r"index fills_run is missing"),
    (["CREATE INDEX sneaky ON orders(symbol)"], r"index kitetui did not create \(sneaky\)"),
    (
        ["CREATE TRIGGER t AFTER INSERT ON fills BEGIN DELETE FROM fills; END"],
        r"trigger kitetui did not create \(t\)",
    ),
    (
        [f"PRAGMA user_version = {len(MIGRATIONS) + 1}"],
        rf"schema version {len(MIGRATIONS) + 1}, newer than this kitetui",
    ),
    (["PRAGMA user_version = 0"], r"SQLite database of another program"),
]


@pytest.mark.parametrize(
    ("statements", "says"), DAMAGES, ids=[" ".join(s[0].split()[:4]) for s, _ in DAMAGES]
)
def test_verify_database_with_damage_refuses_in_one_line_and_touches_nothing(
    journal_db: Path, statements: list[str], says: str
) -> None:
    edit(journal_db, *statements)
    before = sha256(journal_db)
    before_dir = sorted(p.name for p in journal_db.parent.iterdir())
    with pytest.raises(DatabaseRefused, match=says) as refused:
        verify_database(journal_db)
    message = str(refused.value)
    assert "\n" not in message
    assert "untouched" in message
    assert sha256(journal_db) == before
    assert sorted(p.name for p in journal_db.parent.iterdir()) == before_dir


def test_verify_database_with_rows_swapped_names_the_first_of_them(journal_db: Path) -> None:
    # Swap every column of two fills (their checksums go with them): the set is the same,
    # the order is not, and each row's checksum was chained on its old predecessor.
    con = sqlite3.connect(journal_db)
    a, b = con.execute("SELECT * FROM fills WHERE rowid IN (1, 2) ORDER BY rowid").fetchall()
    with con:
        con.execute("DELETE FROM fills WHERE rowid IN (1, 2)")
        con.execute(f"INSERT INTO fills (rowid, {_cols(con)}) VALUES (1, {_q(b)})", b)
        con.execute(f"INSERT INTO fills (rowid, {_cols(con)}) VALUES (2, {_q(a)})", a)
    con.close()
    with pytest.raises(DatabaseRefused, match=r"table fills, row 1 \(fill_id 'T02-1'\)"):
        verify_database(journal_db)


def _cols(con: sqlite3.Connection) -> str:
    return ", ".join(r[1] for r in con.execute("PRAGMA table_info(fills)"))


def _q(row: tuple) -> str:
    return ", ".join("?" * len(row))


def test_verify_database_with_wal_holding_the_damage_sees_it(journal_db: Path) -> None:
    # The edit stays in the WAL (a connection holds it open, as a crashed writer would):
    # the read-only check must read through the WAL, and must not fold it into the file.
    holder = sqlite3.connect(journal_db, isolation_level=None)
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("UPDATE orders SET price = 1.0 WHERE tag = 'T00'")
    try:
        wal = journal_db.with_name(journal_db.name + "-wal")
        before, wal_before = sha256(journal_db), sha256(wal)
        with pytest.raises(DatabaseRefused, match=r"table orders, row 1 \(tag 'T00'\)"):
            verify_database(journal_db)
        assert (sha256(journal_db), sha256(wal)) == (before, wal_before)
    finally:
        holder.close()


# -- a database from before the chains ---------------------------------------------------------


def _version_two(path: Path, *, status: str = "COMPLETE", state: str | None = None) -> None:
    """A database as kitetui wrote it before schema 3, with one order, event and fill."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    for script in MIGRATIONS[:2]:
        con.executescript(script)
    con.execute(
        "INSERT INTO runs (run_id, mode, config_path, config_hash, status, started_wall_ns) "
        "VALUES ('old', 'replay', 'c.yaml', 'h', 'RUNNING', 1)"
    )
    con.execute(
        "INSERT INTO orders VALUES ('A1', 'old', 'fno', 'NIFTY22NOVFUT', 'NFO', 'BUY', 50, "
        "'MARKET', 'MIS', 'ENTRY', ?, 5, 0, 0, 0, 50, 18300.5, 'B1', 's1', '', 'DAY', "
        "'regular', 1)",
        (status,),
    )
    con.execute("INSERT INTO order_events (tag, ts_ns, status, reason) VALUES ('A1', 5, 'NEW', '')")
    con.execute(
        "INSERT INTO fills VALUES ('A1-1', 1, 'old', 'A1', 'fno', 'NIFTY22NOVFUT', 'BUY', 50, "
        "18300.5, 'MIS', 6, 6)"
    )
    if state is not None:
        con.execute("INSERT INTO risk_state VALUES ('old', ?, 7)", (state,))
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()


async def test_open_database_with_version_two_rows_chains_them_in_the_migration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _version_two(path)
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        assert [o.tag for o in await load_orders(db, "old")] == ["A1"]
        assert [f.fill_id for _, f in await load_fills(db, "old")] == ["A1-1"]
    finally:
        await db.close()
    verified = verify_database(path, trust_seal=False)
    assert verified.version == len(MIGRATIONS)
    assert verified.rows["orders"] == verified.rows["fills"] == verified.rows["order_events"] == 1


@pytest.mark.parametrize(
    ("build", "says"),
    [
        ({"status": "DONE"}, r"table orders, row 1 \(tag 'A1'\): status 'DONE' is not one of"),
        ({"state": "{oops"}, r"table risk_state, row 1 \(run_id 'old'\): state is not JSON"),
        ({"state": '{"version": 1}'}, r"risk_state, row 1 .*not a risk state"),
    ],
    ids=["unknown-status", "bad-json", "not-a-risk-state"],
)
async def test_open_database_with_bad_version_two_row_refuses_before_migrating(
    tmp_path: Path, build: dict, says: str
) -> None:
    path = tmp_path / "old.db"
    _version_two(path, **build)
    before = sha256(path)
    with pytest.raises(DatabaseRefused, match=says):
        await asyncio.wait_for(open_database(path), TIMEOUT_S)
    assert sha256(path) == before
    assert sidecars(path) == []
    assert not seal_path(path).exists()


async def test_loaders_with_verified_journal_read_it_back(journal_db: Path) -> None:
    db = await asyncio.wait_for(open_database(journal_db), TIMEOUT_S)
    try:
        orders = await load_orders(db, RUN)
        assert [o.status.value for o in orders] == ["COMPLETE", "CANCELLED"] * 3
        assert len(await load_fills(db, RUN)) == 3
        assert (await load_risk_state(db, RUN))["entries_today"] == {"NIFTY22NOVFUT": 1}
        assert await load_desk_state(db, "kill_switch") == {"on": False, "reason": ""}
    finally:
        await db.close()
