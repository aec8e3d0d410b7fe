"""The seal (chain.seal_sync / seal_rows) writes exactly what the seal before stop 38 wrote.

Stop 38 made sealing cheaper: the read-back selects every column but ``chk`` (which
its WHERE makes x''), the loops spell out ``digest`` and ``canonical``, and the
checksums are bound as ``bytearray`` (sqlite3 sends every ``bytes`` parameter through
its adapter look-up first). The bytes a file holds must not move. ``_reference_seal``
below is the code as it was (01397dd), kept verbatim as the oracle: two databases get
the same writes, one sealed by each, and every row of every chained table (checksums
and links included) and every chain head must come out the same, batch after batch.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter

from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.store import chain
from kitetui.store.chain import BY_NAME, ChainHead, seal_rows
from kitetui.store.schema import MIGRATIONS

ID = "0123456789abcdef0123456789abcdef"
TABLES = ("orders", "order_events", "fills", "desk_state")


# -- the seal as it was ----------------------------------------------------------------------


def _reference_seal_rows(table, head, names, rows):  # type: ignore[no-untyped-def]
    def dig(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    keep = [i for i, name in enumerate(names) if name not in ("link", "chk")]
    hashed = itemgetter(*keep) if len(keep) > 1 else (lambda v: tuple(v[i] for i in keep))
    link_at = names.index("link") if "link" in names else -1
    key_at = names.index(table.key) if table.key is not None else -1
    count, chain_, last = head.rows, head.head, head.last_rowid
    updates = []
    for row in rows:
        rowid, values = row[0], row[1:]
        data = marshal.dumps(hashed(values), 2)
        if table.append_only:
            assert rowid > last
            chain_ = dig(chain_ + data)
            count, last = count + 1, rowid
            updates.append((chain_, rowid))
            continue
        link = values[link_at]
        if link == b"":
            assert rowid > last
            link = dig(chain_ + marshal.dumps(values[key_at], 2))
            chain_, count, last = link, count + 1, rowid
        updates.append((link, dig(link + data), rowid))
    return updates, ChainHead(count, chain_, last)


def _reference_seal(con: sqlite3.Connection, names: list[str]) -> int:
    (identity,) = con.execute("SELECT db_id FROM kitetui_identity").fetchone()
    heads = {
        r[0]: ChainHead(r[1], r[2], r[3])
        for r in con.execute("SELECT tbl, rows, head, last_rowid FROM chain_heads")
    }
    moved, sealed = [], 0
    for name in names:
        table = BY_NAME[name]
        cursor = con.execute(f"SELECT rowid, * FROM {name} WHERE chk = x'' ORDER BY rowid")
        rows = cursor.fetchall()
        if not rows:
            continue
        columns = [d[0] for d in cursor.description][1:]
        head = heads.get(name) or ChainHead.empty(name, identity)
        updates, new_head = _reference_seal_rows(table, head, columns, rows)
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


# -- two databases, the same writes ------------------------------------------------------------


@contextmanager
def memory_db() -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for script in MIGRATIONS:
            con.executescript(script)
        con.execute("UPDATE kitetui_identity SET db_id = ?", (ID,))
        yield con
    finally:
        con.close()


def _dump(con: sqlite3.Connection) -> dict[str, list[tuple]]:
    tables = {
        name: con.execute(f"SELECT rowid, * FROM {name} ORDER BY rowid").fetchall()
        for name in TABLES
    }
    tables["chain_heads"] = con.execute("SELECT * FROM chain_heads ORDER BY tbl").fetchall()
    return tables


_ORDER_INSERT = (
    "INSERT INTO orders (tag, run_id, engine, symbol, exchange, side, quantity, order_type, "
    "product, purpose, status, ts_ns, price, trigger_price, stop_price, filled_qty, "
    "avg_price, broker_order_id, signal_id, reason, validity, variety, seq) VALUES "
    "(?, 'r', 'eng', ?, 'NSE', 'BUY', ?, 'MARKET', 'MIS', 'ENTRY', 'NEW', ?, ?, "
    "0.0, 0.0, 0, 0.0, '', ?, ?, 'DAY', 'regular', ?)"
)
_ORDER_UPDATE = (
    "UPDATE orders SET status = ?, filled_qty = ?, avg_price = ?, reason = ?, chk = x'' "
    "WHERE tag = ?"
)
_FILL_INSERT = (
    "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, price, "
    "product, ts_ns, clock_ns, charge_brokerage, charges_paise) "
    "VALUES (?, ?, 'r', ?, 'eng', ?, 'SELL', ?, ?, 'MIS', ?, ?, ?, ?)"
)

text = st.text(max_size=12)
maybe_text = st.none() | text
price = st.floats(allow_nan=False, allow_infinity=False, width=64)

batch = st.fixed_dictionaries(
    {
        "orders": st.lists(st.tuples(text, st.integers(1, 10**6), price, text), max_size=4),
        "updates": st.lists(
            st.tuples(st.integers(0, 50), st.integers(0, 10**6), price, text), max_size=4
        ),
        "events": st.lists(st.tuples(st.integers(0, 50), maybe_text), max_size=5),
        "fills": st.lists(
            st.tuples(st.integers(-(2**63), 2**63 - 1), price, maybe_text, st.none() | price),
            max_size=4,
        ),
        "desk": st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), text), max_size=2),
    }
)


def _write(con: sqlite3.Connection, step: dict, state: dict[str, int]) -> None:
    """One transaction's writes: new orders, changed orders, their events, fills, desk keys."""
    for symbol, quantity, px, reason in step["orders"]:
        state["orders"] += 1
        n = state["orders"]
        con.execute(_ORDER_INSERT, (f"T{n}", symbol, quantity, n, px, f"S{n}", reason, n))
    for pick, filled, avg, reason in step["updates"]:
        if state["orders"]:
            tag = f"T{pick % state['orders'] + 1}"
            con.execute(_ORDER_UPDATE, ("COMPLETE", filled, avg, reason, tag))
    for pick, reason in step["events"]:
        tag = f"T{pick % max(state['orders'], 1) + 1}"
        con.execute(
            "INSERT INTO order_events (tag, ts_ns, status, reason) VALUES (?, ?, 'OPEN', ?)",
            (tag, pick, reason),
        )
    for qty, px, brokerage, paise in step["fills"]:
        state["fills"] += 1
        n = state["fills"]
        con.execute(_FILL_INSERT, (f"F{n}", n, f"T{n}", "INFY", qty, px, n, n, brokerage, paise))
    for key, value in step["desk"]:
        con.execute(
            "INSERT INTO desk_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, chk = x''",
            (key, value),
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(batch, min_size=1, max_size=5))
def test_seal_with_any_batches_stores_what_the_seal_before_stored(batches: list[dict]) -> None:
    with memory_db() as new, memory_db() as old:
        states = ({"orders": 0, "fills": 0}, {"orders": 0, "fills": 0})
        for step in batches:
            for con, state in zip((new, old), states, strict=True):
                con.execute("BEGIN")
                _write(con, step, state)
            assert chain.seal_sync(new, list(TABLES)) == _reference_seal(old, list(TABLES))
            new.execute("COMMIT")
            old.execute("COMMIT")
            assert _dump(new) == _dump(old)
        stored = new.execute("SELECT typeof(chk), count(*) FROM fills GROUP BY 1").fetchall()
        assert all(kind == "blob" for kind, _ in stored)


def test_seal_rows_gives_its_checksums_as_bytearrays_equal_to_the_digests() -> None:
    names = ["id", "tag", "ts_ns", "status", "reason"]
    rows = [(1, 1, "T1", 5, "NEW", None), (2, 2, "T1", 6, "OPEN", "")]
    head = ChainHead.empty("order_events", ID)
    updates, new_head = seal_rows(BY_NAME["order_events"], head, names, rows)
    expected, _ = _reference_seal_rows(BY_NAME["order_events"], head, names, rows)
    assert updates == expected
    assert all(type(chk) is bytearray for chk, _ in updates)  # bound without the adapter
    assert type(new_head.head) is bytes and new_head.head == updates[-1][0]


def test_bytearray_and_bytes_parameters_store_the_same_blob() -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (b BLOB)")
    value = hashlib.blake2b(b"x", digest_size=16).digest()
    con.executemany("INSERT INTO t VALUES (?)", [(value,), (bytearray(value),)])
    stored = con.execute("SELECT typeof(b), b, quote(b) FROM t").fetchall()
    assert stored[0] == stored[1] == ("blob", value, f"X'{value.hex().upper()}'")
