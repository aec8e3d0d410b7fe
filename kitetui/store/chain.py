"""Tamper-evident money rows: one checksum chain per table, sealed in the writing transaction.

``PRAGMA quick_check`` sees a broken b-tree, not an edited value: a price changed with
the sqlite3 shell, or random bytes that land inside a row, pass it, and kitetui would
rebuild positions from them. So every row that recovery trusts carries a checksum
chained to the row before it, and start-up recomputes every chain before anything is
written (``verify_chain``).

Two shapes, because some rows change and some never do:

* append-only tables (``order_events``, ``fills``, ``risk_decisions``, ``equity_chunks``):
  ``chk[n] = H(chk[n-1] + C(row[n]))``
  with ``chk[-1]`` a seed made of the file's random id and the table's name: the last
  ``chk`` commits to the whole table, and an edited, removed or reordered row breaks
  every checksum after it.
* tables whose rows change (``runs``, ``orders``, ``risk_state``, ``desk_state``):
  ``link[n] = H(link[n-1] + C(key[n]))`` chains the rows' keys in insertion order (so a
  removed, added or reordered row breaks it) and ``chk[n] = H(link[n] + C(row[n]))``
  binds the row's current content to its place.

``H`` is BLAKE2b-128. ``C`` is ``marshal.dumps(values, 2)`` of every column but link and
chk, in the table's column order, exactly as SQLite returns them: type-tagged (text,
integer, real and blob differ), length-prefixed, floats as their IEEE bytes, and fixed
by version 2 of the format (no back-references; tests pin its bytes). ``chain_heads``
keeps each chain's row count, last checksum and last rowid, so rows cut from the end
are seen too.

Writers never compute a checksum from their own Python values: a row is written with
``chk = x''`` (the column default; every UPDATE of a chained table sets it too) and
``seal`` reads back each row whose ``chk`` is empty (a partial index finds them) and
chains it as SQLite stored it, inside the same transaction. A writer that forgets to
seal leaves an empty checksum, which the next start refuses: loud, never silent.

Limits, said plainly: there is no secret key, so someone who knows this scheme and can
write the file can recompute every chain; and an old copy of a row that later changed
(an order's earlier state, with its earlier checksum) still verifies. The chain
catches damage and edits made with ordinary tools; it is not a signature.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import aiosqlite

from kitetui.store.errors import DatabaseRefused, one_line

_CHAIN_COLUMNS = ("link", "chk")
_EMPTY = b""


@dataclass(frozen=True, slots=True)
class ChainedTable:
    name: str
    key: str | None  # the column whose values are linked (rows that change); None: append-only
    label: str  # the column that names a row in messages
    since: int = 3  # the schema version that chained it
    until: int | None = None  # the last schema version that has it (None: still current)

    @property
    def append_only(self) -> bool:
        return self.key is None


CHAINED: tuple[ChainedTable, ...] = (
    ChainedTable("runs", "run_id", "run_id"),
    ChainedTable("orders", "tag", "tag"),
    ChainedTable("order_events", None, "id"),
    ChainedTable("fills", None, "fill_id"),
    ChainedTable("risk_state", "run_id", "run_id"),
    ChainedTable("desk_state", "key", "key"),
    ChainedTable("risk_decisions", None, "id", since=5),
    ChainedTable("equity_curve", None, "ts_ns", since=5, until=6),  # a view from 7 on
    ChainedTable("equity_chunks", None, "first_ts_ns", since=7),
)
BY_NAME: dict[str, ChainedTable] = {t.name: t for t in CHAINED}


def chained_at(version: int) -> tuple[ChainedTable, ...]:
    """The tables a database of schema ``version`` keeps chains for."""
    return tuple(
        t for t in CHAINED if t.since <= version and (t.until is None or version <= t.until)
    )


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def canonical(values: Any) -> bytes:
    """The bytes a row (a tuple) or a key (one value) is hashed as."""
    return marshal.dumps(values, 2)


def seed(table: str, identity: str) -> bytes:
    """Where a table's chain starts: distinct per file and per table, so rows cannot move
    between tables, and pages of another kitetui database (its WAL copied beside this
    file, say) do not verify here even when their rows are intact."""
    return digest(b"kitetui journal chain v1\x00" + identity.encode() + b"\x00" + table.encode())


@dataclass(frozen=True, slots=True)
class ChainHead:
    rows: int
    head: bytes
    last_rowid: int

    @classmethod
    def empty(cls, table: str, identity: str) -> ChainHead:
        return cls(0, seed(table, identity), 0)


def data_columns(columns: Iterable[str]) -> tuple[str, ...]:
    """The hashed columns: every column but the chain's own, in table order."""
    return tuple(c for c in columns if c not in _CHAIN_COLUMNS)


class ChainBroken(DatabaseRefused):
    """Sealing found a chained row changed in a way kitetui never writes."""


def seal_rows(
    table: ChainedTable,
    head: ChainHead,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> tuple[list[tuple], ChainHead]:
    """Checksums for unsealed rows ``(rowid, *columns named by names)``, in rowid order.

    Returns the ``UPDATE`` parameters (``(chk, rowid)``, or ``(link, chk, rowid)`` for
    a table whose rows change) and the chain's new head. Pure: no SQL, so the same
    code seals in the journal, in a migration and in tests.

    The checksums in the parameters are ``bytearray``s, equal to the ``bytes`` digests:
    SQLite stores either as the same blob, but Python's sqlite3 passes every ``bytes``
    (and ``None``) parameter through its adapter registry first (a failed attribute
    look-up, its error message formatted and dropped: ~3k instructions a value), and a
    ``bytearray`` straight to ``sqlite3_bind_blob``. The loops spell out ``digest`` and
    ``canonical`` (one BLAKE2b and one ``marshal.dumps`` a checksum) and pick the hashed
    columns from the row itself: every row a journal transaction writes to a chained
    table comes through here.
    """
    keep = [i + 1 for i, name in enumerate(names) if name not in _CHAIN_COLUMNS]
    hashed = _picker(keep)  # the row's hashed columns, rowid skipped
    b2 = hashlib.blake2b
    dumps = marshal.dumps
    count, chain, last = head.rows, head.head, head.last_rowid
    updates: list[tuple] = []
    if table.append_only:
        for row in rows:
            rowid = row[0]
            if rowid <= last:
                raise ChainBroken(
                    f"table {table.name}, row {rowid}: an append-only row was changed after "
                    "it was journaled; kitetui never does that, so something else wrote it"
                )
            chain = b2(chain + dumps(hashed(row), 2), digest_size=16).digest()
            last = rowid
            updates.append((bytearray(chain), rowid))
        return updates, ChainHead(count + len(updates), chain, last)
    link_at = names.index("link") + 1 if "link" in names else -1
    key_at = names.index(table.key) + 1  # type: ignore[arg-type]
    for row in rows:
        rowid, link = row[0], row[link_at]
        if link == _EMPTY:  # a new row: it joins the end of the key chain
            if rowid <= last:
                raise ChainBroken(
                    f"table {table.name}, row {rowid}: a new row landed before the end of "
                    "its chain; kitetui only appends, so something else wrote it"
                )
            link = b2(chain + dumps(row[key_at], 2), digest_size=16).digest()
            chain, count, last = link, count + 1, rowid
        chk = b2(link + dumps(hashed(row), 2), digest_size=16).digest()
        updates.append((bytearray(link), bytearray(chk), rowid))
    return updates, ChainHead(count, chain, last)


def _picker(keep: list[int]) -> Callable[[Sequence[Any]], tuple]:
    """``lambda values: tuple(values[i] for i in keep)``: in C (``itemgetter``) where it
    gives that tuple, which is for two columns or more (every row of a journal's
    transaction is sealed through it)."""
    if len(keep) > 1:
        return itemgetter(*keep)
    return lambda values: tuple(values[i] for i in keep)


# -- sealing on the writer's connection ----------------------------------------------------


def seal_sync(con: sqlite3.Connection, tables: Iterable[str]) -> int:
    """Chain every unsealed row of ``tables`` on a plain sqlite3 connection, inside the
    caller's transaction. Returns the rows sealed.

    Costs one indexed query per table when nothing is unsealed, and a read-back plus
    one ``UPDATE`` batch per table that has rows.
    """
    names = list(dict.fromkeys(tables))
    if not names:
        return 0
    (identity,) = con.execute("SELECT db_id FROM kitetui_identity").fetchone()
    heads = {
        r[0]: ChainHead(r[1], r[2], r[3])
        for r in con.execute("SELECT tbl, rows, head, last_rowid FROM chain_heads")
    }
    moved: list[tuple] = []
    sealed = 0
    for name in names:
        table = BY_NAME[name]
        # Every column but ``chk``, which the WHERE makes x'' (one column fewer to fetch
        # a row: the sqlite3 module releases the GIL around each column it reads).
        columns = [
            d[0] for d in con.execute(f"SELECT * FROM {name} LIMIT 0").description if d[0] != "chk"
        ]
        rows = con.execute(
            f"SELECT rowid, {', '.join(columns)} FROM {name} WHERE chk = x'' ORDER BY rowid"
        ).fetchall()
        if not rows:
            continue
        head = heads.get(name) or ChainHead.empty(name, identity)
        updates, new_head = seal_rows(table, head, columns, rows)
        if table.append_only:
            con.executemany(f"UPDATE {name} SET chk = ? WHERE rowid = ?", updates)
        else:
            con.executemany(f"UPDATE {name} SET link = ?, chk = ? WHERE rowid = ?", updates)
        if new_head != head:
            moved.append((name, new_head.rows, new_head.head, new_head.last_rowid))
        sealed += len(updates)
    if moved:
        con.executemany(
            "INSERT INTO chain_heads (tbl, rows, head, last_rowid) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(tbl) DO UPDATE SET rows = excluded.rows, head = excluded.head, "
            "last_rowid = excluded.last_rowid",
            moved,
        )
    return sealed


def chained_rows(con: sqlite3.Connection) -> int:
    """The money rows the file's chains hold, all tables together: what the desk lock's
    marker compares after a death (lock.py). 0 for a file without chains yet."""
    try:
        (rows,) = con.execute("SELECT coalesce(sum(rows), 0) FROM chain_heads").fetchone()
    except sqlite3.OperationalError:  # no chain_heads: a schema before the chains
        return 0
    return int(rows)


def reseal_all_sync(con: sqlite3.Connection, tables: Iterable[str] | None = None) -> int:
    """Rebuild the chains of ``tables`` (all by default) from their current rows.

    For a migration only, after start-up verified the rows: the first chaining of an
    older database, or a migration that changed a chained table's columns (the hashed
    bytes of every row change with them).
    """
    if tables is None:  # every chained table the file's schema has chains for
        (version,) = con.execute("PRAGMA user_version").fetchone()
        tables = [t.name for t in chained_at(max(version, 3))]
    names = list(tables)
    for name in names:
        link = ", link = x''" if not BY_NAME[name].append_only else ""
        con.execute(f"UPDATE {name} SET chk = x''{link}")
        con.execute("DELETE FROM chain_heads WHERE tbl = ?", (name,))
    return seal_sync(con, names)


async def seal(db: aiosqlite.Connection, tables: Iterable[str]) -> int:
    """``seal_sync`` on the writer's connection, in one hop to aiosqlite's thread (not
    one per statement: this sits on the write-ahead path of every order)."""
    names = list(dict.fromkeys(tables))
    if not names:
        return 0
    return await on_connection_thread(db, seal_sync, names)


async def note_committed(db: aiosqlite.Connection) -> None:
    """After a commit outside the journal (a run's row): the writer's desk lock notes the
    money rows the file now holds (lock.py)."""
    lock = getattr(db, "lock", None)
    if lock is not None:
        lock.note_rows(await on_connection_thread(db, chained_rows))


async def reseal_all(db: aiosqlite.Connection, tables: Iterable[str] | None = None) -> int:
    return await on_connection_thread(db, reseal_all_sync, tables)


async def on_connection_thread(db: aiosqlite.Connection, fn: Any, *args: Any) -> Any:
    """Run ``fn(sqlite3_connection, *args)`` on aiosqlite's own thread.

    aiosqlite has no public call for this; ``_execute`` (queue a callable for the
    connection's thread) and ``_conn`` have been its internals since 0.17, and
    tests/store/test_journal.py fails at once if they change.
    """
    return await db._execute(lambda: fn(db._conn, *args))


# -- verifying on a read-only connection ---------------------------------------------------


class ChainMismatch(Exception):
    """Where a chain first fails: the row's position in rowid order, its columns, and why."""

    def __init__(
        self, position: int, row: tuple | None, reason: str, *, at_end: bool = False
    ) -> None:
        super().__init__(reason)
        self.position = position  # 0-based in rowid order; == the row count when at_end
        self.row = row  # the row's hashed columns; None if it could not be read or at_end
        self.reason = reason
        self.at_end = at_end  # the rows are fine but the chain's recorded end is not


def verify_chain(
    con: Any, table: ChainedTable, columns: Sequence[str], head: ChainHead, identity: str
) -> int:
    """Recompute one table's chain in one streaming pass; raise ``ChainMismatch`` at the
    first row that fails. Returns the rows verified.

    The loops are written for speed (local names, one ``marshal.dumps`` and one BLAKE2b
    per checksum, no per-row objects but the row itself): this is what start-up pays
    for every money row ever journaled.
    """
    n, chain = stream(con, table, data_columns(columns), seed(table.name, identity))
    end_check(n, chain, head)
    return n


def stream(
    con: Any,
    table: ChainedTable,
    data: Sequence[str],
    chain: bytes,
    rowids: tuple[int, int | None] | None = None,
) -> tuple[int, bytes]:
    """The pass itself from ``chain`` (the seed, or the stored value of the row before
    ``rowids[0]``): (rows, last checksum or link), or ``ChainMismatch`` at a row.

    ``rowids`` (from, to-or-None) streams one slice of the table, so slices can be
    verified on several cores: each starts from the value stored in the row before it,
    which the slice before verifies as the one it computes (see verify_chains).
    """
    select = ", ".join(data)
    where, args = "", ()
    if rowids is not None:
        where, args = "WHERE rowid >= ?", (rowids[0],)
        if rowids[1] is not None:
            where, args = "WHERE rowid >= ? AND rowid < ?", rowids
    b2 = hashlib.blake2b
    dumps = marshal.dumps
    n = 0
    try:
        if table.append_only:
            cursor = con.execute(
                f"SELECT chk, {select} FROM {table.name} {where} ORDER BY rowid", args
            )
            for row in cursor:
                chk = b2(chain + dumps(row[1:], 2), digest_size=16).digest()
                if chk != row[0]:
                    raise ChainMismatch(n, row[1:], _content_reason(row[0]))
                chain = chk
                n += 1
            return n, chain
        key_at = 2 + list(data).index(table.key)  # type: ignore[arg-type]
        cursor = con.execute(
            f"SELECT link, chk, {select} FROM {table.name} {where} ORDER BY rowid", args
        )
        for row in cursor:
            link = b2(chain + dumps(row[key_at], 2), digest_size=16).digest()
            if link != row[0]:
                reason = (
                    "it has no checksum: it was written outside kitetui"
                    if row[0] == _EMPTY
                    else "its place in the chain does not match: a row before it was "
                    "removed, added or reordered, or its key was changed"
                )
                raise ChainMismatch(n, row[2:], reason)
            if b2(link + dumps(row[2:], 2), digest_size=16).digest() != row[1]:
                raise ChainMismatch(n, row[2:], _content_reason(row[1]))
            chain = link
            n += 1
        return n, chain
    except sqlite3.Error as exc:  # e.g. text that is no longer UTF-8: this row is damaged
        raise ChainMismatch(n, None, f"it cannot be read ({one_line(str(exc), 100)})") from None


def end_check(n: int, chain: bytes, head: ChainHead) -> None:
    """The chain's recorded end must be where the rows end: nothing cut, nothing added."""
    if n != head.rows or chain != head.head:
        if n < head.rows:
            reason = f"the chain ends after {n} rows but {head.rows} were journaled"
        elif n > head.rows:
            reason = f"it holds {n} rows but only {head.rows} were journaled"
        else:
            reason = "its last checksum does not match the chain's recorded end"
        raise ChainMismatch(n, None, reason, at_end=True)


def _content_reason(stored: bytes) -> str:
    if stored == _EMPTY:
        return "it has no checksum: it was written outside kitetui"
    return (
        "it does not match its checksum: it was changed outside kitetui, "
        "or a row before it was removed or reordered"
    )
