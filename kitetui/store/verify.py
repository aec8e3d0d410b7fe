"""The start-up check: read the whole database read-only, and refuse before any write.

Everything kitetui will trust is checked on a ``mode=ro`` connection (``immutable=1``
when no WAL is beside the file, so not even ``-shm``/``-wal`` files appear) before the
writer's connection exists: SQLite's own structure check, the schema against what the
migrations build, every run row, and every checksum chain (chain.py) — or, for a
database written before chains existed, every money row decoded. The first failure is
one ``DatabaseRefused`` line naming the table, the row and the reason, and the file was
never opened for writing, so a refused database is byte-for-byte what it was.

A file that still matches the seal kitetui wrote when it last closed it cleanly
(seal.py) skips the structure check and the chains: it is byte-for-byte a file that
passed them. The schema and the run rows are checked either way (they cost nothing).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitetui.store import rows as decode
from kitetui.store import schema
from kitetui.store.chain import (
    BY_NAME,
    ChainedTable,
    ChainHead,
    ChainMismatch,
    chained_at,
    data_columns,
)
from kitetui.store.errors import DatabaseRefused, RowError, one_line, row_refusal
from kitetui.store.parallel import ChainCheck, ChainFailure, workers_for
from kitetui.store.seal import seal_state

CHAINS_SINCE = 3  # the schema version that added the checksum chains
_UNTOUCHED = "it was left untouched"


@dataclass(frozen=True, slots=True)
class Verified:
    """What the check found: the schema version and the chained rows per table."""

    version: int
    fresh: bool  # a SQLite file with nothing in it: it becomes a kitetui database
    rows: dict[str, int]
    seconds: float
    sealed: bool = False  # matched its clean-close seal: chains not recomputed
    changed_since_seal: bool = False  # sealed at a clean close, changed since, chains fine

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def file_alone_uri(path: Path) -> str:
    """The main file read by itself: ``immutable=1`` ignores any WAL and writes nothing."""
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def read_only_uri(path: Path) -> str:
    """``mode=ro``; ``immutable=1`` too when no WAL exists, so nothing is created beside it."""
    wal = path.with_name(path.name + "-wal")
    return f"{path.resolve().as_uri()}?mode=ro" if wal.exists() else file_alone_uri(path)


def verify_closed(path: Path) -> None:
    """The check ``report``, ``export`` and ``runs`` make before they read: a database no
    desk has open (no WAL beside it) must verify as a desk's own start would, so a row
    changed outside kitetui or a newer schema is refused (``DatabaseRefused``, exit 3)
    rather than reported as if it were the journal. A clean close's seal makes this a
    few reads (0.06 s on a year's 45 MB backtest; 0.5 s to recompute every chain). With
    a WAL a desk may be writing: it verified the file when it opened it and holds it, and
    a check racing its commits could refuse a sound file, so the snapshot is read as is.
    A missing path is left to the command's own message."""
    if path.is_file() and not path.with_name(path.name + "-wal").exists():
        verify_database(path)


def verify_database(
    path: Path,
    *,
    integrity: str = "quick_check",
    trust_seal: bool = True,
    workers: int | None = None,
) -> Verified:
    """Check the database at ``path`` without writing; raise ``DatabaseRefused`` if bad.

    ``integrity`` is the SQLite pragma for the structure check (``quick_check``, or
    ``integrity_check`` to also compare every index with its table); ``trust_seal=False``
    recomputes every chain even for a file that matches its clean-close seal;
    ``workers`` sets the processes that share the chains (default: one below
    ``parallel.PARALLEL_FROM_ROWS`` chained rows, else every core up to eight).
    """
    started = time.perf_counter()
    where = str(path)
    state = seal_state(path) if trust_seal else "none"
    sealed = state == "match"
    try:
        uri = read_only_uri(path)
        con = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise DatabaseRefused(
            f"{where} cannot be opened ({one_line(str(exc))}); {_UNTOUCHED}."
        ) from None
    try:
        version, fresh, rows = _verify(con, uri, path, None if sealed else integrity, workers)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        con.close()
        sound_alone = _sound_without_wal(path)
        if sound_alone is not None:
            wal = path.with_name(path.name + "-wal").name
            raise DatabaseRefused(
                f"{where} cannot be read through the WAL file beside it ({wal}: "
                f"{one_line(str(exc))}), though the file alone is a sound kitetui database "
                f"(id {sound_alone[:8]}…): that WAL belongs to another database or was "
                f"damaged; {_UNTOUCHED}. Move {wal} aside if it was copied here by mistake."
            ) from None
        raise DatabaseRefused(
            f"{where} cannot be read as a database ({one_line(str(exc))}); {_UNTOUCHED}. "
            "Restore it from a backup or move it aside."
        ) from None
    finally:
        con.close()
    return Verified(version, fresh, rows, time.perf_counter() - started, sealed, state == "changed")


def _sound_without_wal(path: Path) -> str | None:
    """The file's kitetui id when a non-empty WAL lies beside it and the file read alone
    (``immutable=1``: the WAL ignored, nothing written) passes ``quick_check``; else
    None. A WAL copied from another database can make a sound file unreadable (its frames
    land on pages laid out otherwise), and then the WAL is what to name."""
    wal = path.with_name(path.name + "-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return None
    try:
        alone = sqlite3.connect(file_alone_uri(path), uri=True)
    except sqlite3.Error:
        return None
    try:
        if alone.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
            return None
        ids = alone.execute("SELECT db_id FROM kitetui_identity").fetchall()
    except sqlite3.Error:
        return None
    finally:
        alone.close()
    return ids[0][0] if len(ids) == 1 and isinstance(ids[0][0], str) else None


def _verify(
    con: sqlite3.Connection, uri: str, path: Path, integrity: str | None, workers: int | None
) -> tuple[int, bool, dict]:
    """``integrity`` None: the file matched its seal, so structure and chains are known.

    The chains' child processes (parallel.py) start before SQLite's structure check, so
    the two run side by side; a structure failure still speaks first.
    """
    where = str(path)
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > schema.SCHEMA_VERSION:
        raise DatabaseRefused(
            f"{where} has schema version {version}, newer than this kitetui understands "
            f"({schema.SCHEMA_VERSION}); {_UNTOUCHED}. Upgrade kitetui."
        )
    objects = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if version == 0:
        if objects:
            raise DatabaseRefused(f"{where} is a SQLite database of another program; {_UNTOUCHED}.")
        _check_structure(con, where, integrity)
        return 0, True, {}
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone() is None:
        raise DatabaseRefused(
            f"{where} has user_version {version} but no kitetui tables: it belongs to "
            f"something else and {_UNTOUCHED}."
        )
    _check_schema(con, where, version)
    if version < CHAINS_SINCE:
        _check_structure(con, where, integrity)
        _check_rows(con, where, "runs", decode.RUN_COLUMNS, decode.decode_run)
        _check_unchained(con, where)
        return version, False, {}
    identity = _check_identity(con, path)
    if integrity is None:
        _check_rows(con, where, "runs", decode.RUN_COLUMNS, decode.decode_run)
        return version, False, {}
    heads = {
        r[0]: ChainHead(r[1], r[2], r[3])
        for r in con.execute("SELECT tbl, rows, head, last_rowid FROM chain_heads")
    }
    tables = [(table, _columns(con, table.name)) for table in chained_at(version)]
    chains = ChainCheck(
        uri, con, tables, heads, identity, workers_for(sum(h.rows for h in heads.values()), workers)
    )
    try:
        _check_structure(con, where, integrity)
        _check_rows(con, where, "runs", decode.RUN_COLUMNS, decode.decode_run)
        counted = chains.result()
    except ChainFailure as failure:
        columns = dict((t.name, c) for t, c in tables)[failure.table.name]
        raise _chain_refusal(con, where, failure.table, columns, failure.mismatch) from None
    finally:
        chains.cancel()
    return version, False, counted


def _check_structure(con: sqlite3.Connection, where: str, integrity: str | None) -> None:
    """SQLite's own check of every page (``quick_check``, or ``integrity_check``)."""
    if integrity is None:
        return
    con.text_factory = bytes  # SQLite's report quotes damaged bytes as they are
    try:
        result = con.execute(f"PRAGMA {integrity}").fetchone()
    finally:
        con.text_factory = str
    report = result[0].decode("utf-8", "replace") if result else "no answer"
    if report != "ok":
        report = report.removeprefix("*** in database main ***")
        raise DatabaseRefused(
            f"{where} failed its integrity check ({one_line(report, 120)}); {_UNTOUCHED}. "
            "Restore it from a backup or move it aside."
        )


# -- identity ----------------------------------------------------------------------------


def _check_identity(con: sqlite3.Connection, path: Path) -> str:
    """One random id per file, and a WAL beside it must not carry another file's id.

    SQLite cannot tell a WAL copied from another database: its frames are valid on their
    own, and read through, they can turn this file into that one (a run resumed from the
    wrong journal, then written into this file). The main file read without its WAL
    (``immutable=1``) and read through it must name the same id; and since every chain
    is seeded with the id, a WAL that brings another file's rows but not its id fails
    the chains instead.
    """
    where = str(path)
    ids = con.execute("SELECT db_id FROM kitetui_identity").fetchall()
    if len(ids) != 1 or not isinstance(ids[0][0], str) or len(ids[0][0]) != 32:
        raise DatabaseRefused(
            f"{where}: table kitetui_identity must hold exactly one id, it holds "
            f"{len(ids)} row(s); {_UNTOUCHED}. Restore it from a backup or move it aside."
        )
    identity = ids[0][0]
    wal = path.with_name(path.name + "-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return identity
    main = sqlite3.connect(file_alone_uri(path), uri=True)
    try:
        found = main.execute("SELECT db_id FROM kitetui_identity").fetchall()
    except sqlite3.Error:
        return identity  # the file alone predates its identity (still in the WAL): no claim
    finally:
        main.close()
    if found and found[0][0] != ids[0][0]:
        raise DatabaseRefused(
            f"{where}: the WAL file beside it ({wal.name}) belongs to another database "
            f"(read through it the id is {ids[0][0][:8]}…, the file alone says "
            f"{found[0][0][:8]}…); "
            f"{_UNTOUCHED}. Move {wal.name} aside if it was copied here by mistake."
        )
    return identity


# -- schema ------------------------------------------------------------------------------


def _built(version: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The tables (``_schema``) and views (name: SQL) migrations 1..version build."""
    mem = sqlite3.connect(":memory:")
    try:
        for script in schema.MIGRATIONS[:version]:
            mem.executescript(script)
        return _schema(mem), _views(mem)
    finally:
        mem.close()


def _views(con: sqlite3.Connection) -> dict[str, str]:
    return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))


def _schema(con: sqlite3.Connection) -> dict[str, Any]:
    tables = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found: dict[str, Any] = {}
    for table in tables:
        columns = tuple(
            tuple(r[1:]) for r in con.execute(f"PRAGMA table_info({_quote(table)})")
        )  # name, type, notnull, default, pk
        indexes = {}
        for r in con.execute(f"PRAGMA index_list({_quote(table)})"):
            name, unique, partial = r[1], r[2], r[4]
            cols = tuple(c[2] for c in con.execute(f"PRAGMA index_info({_quote(name)})"))
            indexes[name] = (unique, partial, cols)
        found[table] = (columns, indexes)
    return found


def _check_schema(con: sqlite3.Connection, where: str, version: int) -> None:
    want, want_views = _built(version)
    have = _schema(con)
    for table, (columns, indexes) in want.items():
        if table not in have:
            raise DatabaseRefused(f"{where}: table {table} is missing; {_UNTOUCHED}.")
        got_columns, got_indexes = have[table]
        if got_columns != columns:
            raise DatabaseRefused(
                f"{where}: table {table}: {_column_difference(columns, got_columns)}; {_UNTOUCHED}."
            )
        for name, shape in indexes.items():
            if got_indexes.get(name) != shape:
                raise DatabaseRefused(
                    f"{where}: table {table}: index {name} is missing or changed; {_UNTOUCHED}."
                )
        for name in got_indexes.keys() - indexes.keys():
            raise DatabaseRefused(
                f"{where}: table {table} has an index kitetui did not create ({name}); "
                f"{_UNTOUCHED}."
            )
    have_views = _views(con)
    for name, sql in want_views.items():  # what readers see through it: it must be ours
        if have_views.get(name) != sql:
            raise DatabaseRefused(f"{where}: view {name} is missing or changed; {_UNTOUCHED}.")
    trigger = con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchone()
    if trigger is not None:
        raise DatabaseRefused(
            f"{where} has a trigger kitetui did not create ({trigger[0]}): it could change "
            f"what is written; {_UNTOUCHED}."
        )


def _column_difference(want: Sequence[tuple], got: Sequence[tuple]) -> str:
    want_names = [c[0] for c in want]
    got_names = [c[0] for c in got]
    for name in want_names:
        if name not in got_names:
            return f"column {name} is missing"
    for name in got_names:
        if name not in want_names:
            return f"column {name} is not one kitetui created"
    for w, g in zip(want, got, strict=False):
        if w != g:
            return f"column {w[0]} was redefined ({g[1]} {'NOT NULL' if g[2] else 'NULL'})"
    return "its columns are in another order"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({_quote(table)})")]


# -- rows --------------------------------------------------------------------------------


def _check_rows(
    con: sqlite3.Connection,
    where: str,
    table: str,
    columns: Sequence[str],
    check: Callable[[Sequence[Any]], object],
) -> None:
    label = BY_NAME[table].label
    at = columns.index(label) if label in columns else 0
    cursor = con.execute(f"SELECT rowid, {', '.join(columns)} FROM {table} ORDER BY rowid")
    last = 0
    try:
        for row in cursor:
            try:
                check(row[1:])
            except RowError as exc:
                raise row_refusal(where, table, row[0], label, row[1 + at], str(exc)) from None
            last = row[0]
    except sqlite3.Error as exc:  # text that is no longer UTF-8, say
        raise DatabaseRefused(
            f"{where}: table {table}, the row after rowid {last} cannot be read "
            f"({one_line(str(exc), 100)}); {_UNTOUCHED}. Restore it from a backup or move "
            "it aside."
        ) from None
    finally:
        cursor.close()


def _check_unchained(con: sqlite3.Connection, where: str) -> None:
    """A database from before the chains: decode every money row before it is sealed."""
    _check_rows(con, where, "orders", decode.ORDER_COLUMNS, decode.decode_order)
    _check_rows(con, where, "fills", decode.FILL_BASE_COLUMNS, decode.decode_fill)
    _check_rows(con, where, "order_events", decode.ORDER_EVENT_COLUMNS, decode.decode_order_event)
    _check_rows(
        con, where, "risk_state", ("run_id", "state"), lambda r: decode.decode_risk_state(r[1])
    )
    _check_rows(con, where, "desk_state", ("key", "value"), lambda r: decode.decode_desk_state(*r))


_DECODERS: dict[str, tuple[Sequence[str], Callable[[Sequence[Any]], object]]] = {
    "runs": (decode.RUN_COLUMNS, decode.decode_run),
    "orders": (decode.ORDER_COLUMNS, decode.decode_order),
    "fills": (decode.FILL_COLUMNS, decode.decode_fill),
    "order_events": (decode.ORDER_EVENT_COLUMNS, decode.decode_order_event),
    "risk_state": (("state",), lambda r: decode.decode_risk_state(r[0])),
    "desk_state": (("key", "value"), lambda r: decode.decode_desk_state(*r)),
}


def _chain_refusal(
    con: sqlite3.Connection,
    where: str,
    table: ChainedTable,
    columns: Sequence[str],
    mismatch: ChainMismatch,
) -> DatabaseRefused:
    """The refusal for a broken chain, naming the row and, if it can tell, what changed."""
    if mismatch.at_end:
        return DatabaseRefused(
            f"{where}: table {table.name}: {mismatch.reason}: rows were removed from or "
            f"added to its end; {_UNTOUCHED}. Restore it from a backup or move it aside."
        )
    found = con.execute(
        f"SELECT rowid FROM {table.name} ORDER BY rowid LIMIT 1 OFFSET ?", (mismatch.position,)
    ).fetchone()
    rowid = found[0] if found else None
    if mismatch.row is None:  # not even readable: name it by rowid alone
        return DatabaseRefused(
            f"{where}: table {table.name}, row {rowid}: {mismatch.reason}; {_UNTOUCHED}. "
            "Restore it from a backup or move it aside."
        )
    data = data_columns(columns)
    values = dict(zip(data, mismatch.row, strict=True))
    reason = mismatch.reason
    decoder = _DECODERS.get(table.name)  # risk_decisions and equity_chunks have none
    try:
        if decoder is not None:
            names, check = decoder
            check(tuple(values.get(n) for n in names))
    except RowError as exc:
        reason = f"{exc}, and {reason}"
    else:
        reason = _gap_hint(con, table, mismatch.position, values) or reason
    wal = Path(where + "-wal")
    if mismatch.position == 0 and wal.exists() and wal.stat().st_size:
        reason += f" (or {wal.name} was copied here from another database)"
    return row_refusal(where, table.name, rowid, table.label, values.get(table.label), reason)


def _gap_hint(
    con: sqlite3.Connection, table: ChainedTable, position: int, values: dict[str, Any]
) -> str | None:
    """For an append-only row that decodes: a missing predecessor, if its numbering shows."""
    if position == 0 or table.name not in ("order_events", "fills"):
        return None
    column = "id" if table.name == "order_events" else "seq"
    before = con.execute(
        f"SELECT {column}{', run_id' if column == 'seq' else ''} FROM {table.name} "
        "ORDER BY rowid LIMIT 1 OFFSET ?",
        (position - 1,),
    ).fetchone()
    this = values.get(column)
    if before is None or not isinstance(this, int) or not isinstance(before[0], int):
        return None
    if column == "seq" and before[1] != values.get("run_id"):
        return None
    if this > before[0] + 1:
        return (
            f"the row before it in the chain is missing ({column} {before[0] + 1}"
            f"{'' if this == before[0] + 2 else f'..{this - 1}'} is gone)"
        )
    return None
