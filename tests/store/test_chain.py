"""The checksum chains (kitetui/store/chain.py) as pure logic, on in-memory SQLite.

Rows are sealed with ``seal_rows`` exactly as the journal seals them (read back, then
``UPDATE``) and verified with ``verify_chain`` as start-up verifies them. Properties:
any chain built by sealing verifies; every single-cell edit, removed row, swapped pair,
unsealed row or cut end is caught at (or, for a cut end, after) the damaged row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.store import chain
from kitetui.store.chain import (
    BY_NAME,
    CHAINED,
    ChainBroken,
    ChainHead,
    ChainMismatch,
    canonical,
    digest,
    seal_rows,
    seed,
    verify_chain,
)
from kitetui.store.schema import MIGRATIONS

ID = "0123456789abcdef0123456789abcdef"
FILL_SQL = (
    "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, price, "
    "product, ts_ns, clock_ns) VALUES (?, ?, 'r', ?, 'eng', ?, ?, ?, ?, 'MIS', ?, ?)"
)


@contextmanager
def memory_db() -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for script in MIGRATIONS:
            con.executescript(script)
        yield con
    finally:
        con.close()


def identity(con: sqlite3.Connection) -> str:
    return con.execute("SELECT db_id FROM kitetui_identity").fetchone()[0]


def heads(con: sqlite3.Connection) -> dict[str, ChainHead]:
    return {
        r[0]: ChainHead(r[1], r[2], r[3])
        for r in con.execute("SELECT tbl, rows, head, last_rowid FROM chain_heads")
    }


def seal_sync(con: sqlite3.Connection, name: str) -> int:
    """The journal's own sealing (``chain.seal_sync``), in a transaction as it runs."""
    con.execute("BEGIN")
    try:
        return chain.seal_sync(con, [name])
    finally:
        con.execute("COMMIT")


def verify(con: sqlite3.Connection, name: str) -> int:
    columns = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
    head = heads(con).get(name) or ChainHead.empty(name, identity(con))
    return verify_chain(con, BY_NAME[name], columns, head, identity(con))


def add_fills(con: sqlite3.Connection, n: int, start: int = 0) -> None:
    con.executemany(
        FILL_SQL,
        [
            (f"F{i}", i + 1, f"T{i}", "INFY", "BUY", 10 + i, 1500.25 + i, 1_000 + i, 2_000 + i)
            for i in range(start, start + n)
        ],
    )


def add_orders(con: sqlite3.Connection, tags: list[str]) -> None:
    con.executemany(
        "INSERT INTO orders (tag, run_id, engine, symbol, exchange, side, quantity, order_type, "
        "product, purpose, status, ts_ns, price, trigger_price, stop_price, filled_qty, "
        "avg_price, broker_order_id, signal_id, reason, validity, variety, seq) VALUES "
        "(?, 'r', 'eng', 'INFY', 'NSE', 'BUY', 10, 'MARKET', 'MIS', 'ENTRY', 'NEW', ?, 0.0, "
        "0.0, 0.0, 0, 0.0, '', '', '', 'DAY', 'regular', ?)",
        [(tag, 1_000 + i, i + 1) for i, tag in enumerate(tags)],
    )


# -- the hashed bytes ------------------------------------------------------------------------


def test_canonical_with_each_storage_type_has_pinned_bytes() -> None:
    # marshal version 2: type-tagged, length-prefixed, floats as IEEE bytes, no references.
    # If Python ever changes these bytes, every journal would stop verifying: this says so.
    assert (
        canonical(("ab", 1, 1.5, None, b"x")).hex()
        == (
            "2805000000"  # tuple of 5
            "750200000061" + "62"  # 'ab'
            "6901000000"  # 1
            "67000000000000f83f"  # 1.5
            "4e"  # None
            "730100000078"  # b'x'
        )
    )


def test_canonical_with_same_text_as_text_and_blob_differs() -> None:
    assert canonical(("5",)) != canonical((b"5",)) != canonical((5,)) != canonical((5.0,))


def test_canonical_with_equal_strings_from_different_objects_is_equal() -> None:
    # No back-references in version 2: identity of equal strings must not matter.
    shared = "NIFTY"
    assert canonical((shared, shared)) == canonical(("NIF" + "TY", "".join("NIFTY")))


def test_seed_with_each_table_and_each_file_is_distinct() -> None:
    seeds = {seed(t.name, file) for t in CHAINED for file in ("a" * 32, "b" * 32)}
    assert len(seeds) == 2 * len(CHAINED)


# -- sealing ---------------------------------------------------------------------------------


def test_seal_rows_with_append_only_rows_chains_each_on_the_one_before() -> None:
    table = BY_NAME["order_events"]
    names = ["id", "tag", "ts_ns", "status", "reason", "chk"]
    rows = [(1, 1, "T1", 5, "NEW", "", b""), (2, 2, "T1", 6, "OPEN", "", b"")]
    updates, head = seal_rows(table, ChainHead.empty("order_events", ID), names, rows)
    first = digest(seed("order_events", ID) + canonical((1, "T1", 5, "NEW", "")))
    second = digest(first + canonical((2, "T1", 6, "OPEN", "")))
    assert updates == [(first, 1), (second, 2)]
    assert head == ChainHead(2, second, 2)


def test_seal_rows_with_changed_row_keeps_its_link_and_rechecks_content() -> None:
    table = BY_NAME["desk_state"]
    names = ["key", "value", "link", "chk"]
    updates, head = seal_rows(
        table, ChainHead.empty("desk_state", ID), names, [(1, "kill_switch", "{}", b"", b"")]
    )
    link = digest(seed("desk_state", ID) + canonical("kill_switch"))
    assert updates == [(link, digest(link + canonical(("kill_switch", "{}"))), 1)]
    again, head_after = seal_rows(table, head, names, [(1, "kill_switch", "[]", link, b"")])
    assert again == [(link, digest(link + canonical(("kill_switch", "[]"))), 1)]
    assert head_after == head  # an update does not move the chain's end


def test_seal_rows_with_append_only_row_changed_after_sealing_refuses() -> None:
    names = ["id", "tag", "ts_ns", "status", "reason", "chk"]
    with pytest.raises(ChainBroken, match="order_events, row 1"):
        seal_rows(
            BY_NAME["order_events"],
            ChainHead(1, b"x" * 16, 1),
            names,
            [(1, 1, "T", 1, "NEW", "", b"")],
        )


def test_seal_rows_with_new_row_before_the_chain_end_refuses() -> None:
    names = ["key", "value", "link", "chk"]
    with pytest.raises(ChainBroken, match="desk_state, row 2"):
        seal_rows(
            BY_NAME["desk_state"], ChainHead(3, b"x" * 16, 5), names, [(2, "k", "1", b"", b"")]
        )


# -- verifying --------------------------------------------------------------------------------


def test_verify_chain_with_sealed_rows_and_later_appends_passes() -> None:
    with memory_db() as con:
        add_fills(con, 5)
        assert seal_sync(con, "fills") == 5
        add_fills(con, 3, start=5)
        assert seal_sync(con, "fills") == 3
        assert verify(con, "fills") == 8


def test_verify_chain_with_empty_table_and_no_head_passes() -> None:
    with memory_db() as con:
        assert verify(con, "desk_state") == 0


def test_verify_chain_with_updated_and_resealed_order_passes() -> None:
    with memory_db() as con:
        add_orders(con, ["A", "B", "C"])
        seal_sync(con, "orders")
        con.execute(
            "UPDATE orders SET status = 'COMPLETE', filled_qty = 10, chk = x'' WHERE tag = 'B'"
        )
        assert seal_sync(con, "orders") == 1
        assert verify(con, "orders") == 3


def test_verify_chain_with_update_left_unsealed_names_the_row() -> None:
    with memory_db() as con:
        add_orders(con, ["A", "B"])
        seal_sync(con, "orders")
        con.execute("UPDATE orders SET status = 'OPEN', chk = x'' WHERE tag = 'B'")
        with pytest.raises(ChainMismatch, match="no checksum") as caught:
            verify(con, "orders")
        assert caught.value.position == 1


@pytest.mark.parametrize(
    ("damage", "position"),
    [
        ("UPDATE fills SET price = 1500.26 WHERE fill_id = 'F2'", 2),
        ("UPDATE fills SET quantity = 'twelve' WHERE fill_id = 'F2'", 2),
        ("UPDATE fills SET symbol = CAST(symbol AS BLOB) WHERE fill_id = 'F3'", 3),
        ("DELETE FROM fills WHERE fill_id = 'F1'", 1),
        ("UPDATE fills SET chk = x'00' WHERE fill_id = 'F0'", 0),
        ("DELETE FROM fills WHERE fill_id = 'F4'", 4),  # the last row: the end moved
        (
            "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, price, "
            "product, ts_ns, clock_ns) VALUES ('F9', 9, 'r', 'T9', 'eng', 'INFY', 'BUY', 1, 1.0, "
            "'MIS', 1, 1)",
            5,
        ),
    ],
    ids=[
        "price",
        "quantity-as-text",
        "text-as-same-bytes-blob",
        "middle-row-removed",
        "chk-edited",
        "last-row-removed",
        "row-added",
    ],
)
def test_verify_chain_with_damaged_fills_stops_at_the_damaged_row(
    damage: str, position: int
) -> None:
    with memory_db() as con:
        add_fills(con, 5)
        seal_sync(con, "fills")
        con.execute(damage)
        with pytest.raises(ChainMismatch) as caught:
            verify(con, "fills")
        assert caught.value.position == position


def test_verify_chain_with_two_orders_swapped_names_the_first() -> None:
    with memory_db() as con:
        add_orders(con, ["A", "B", "C"])
        seal_sync(con, "orders")
        con.execute("UPDATE orders SET tag = 'tmp' WHERE tag = 'A'")
        con.execute("UPDATE orders SET tag = 'A' WHERE tag = 'B'")
        con.execute("UPDATE orders SET tag = 'B' WHERE tag = 'tmp'")
        with pytest.raises(ChainMismatch, match="place in the chain") as caught:
            verify(con, "orders")
        assert caught.value.position == 0


# -- properties --------------------------------------------------------------------------------

_FILL = st.tuples(
    st.integers(min_value=1, max_value=10**6),
    st.text(min_size=1, max_size=12),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=10**5),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=0, max_value=2**62),
)


def _insert_fills(con: sqlite3.Connection, fills: list[tuple]) -> None:
    con.executemany(
        FILL_SQL,
        [
            (f"F{i}", seq, f"T{i}", symbol, side, qty, price, ts, ts)
            for i, (seq, symbol, side, qty, price, ts) in enumerate(fills)
        ],
    )


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(_FILL, min_size=1, max_size=6), min_size=1, max_size=4))
def test_property_chain_sealed_in_any_batches_verifies(batches: list[list[tuple]]) -> None:
    with memory_db() as con:
        done = 0
        for batch in batches:
            con.executemany(
                FILL_SQL,
                [
                    (f"F{done + i}", seq, "T", symbol, side, qty, price, ts, ts)
                    for i, (seq, symbol, side, qty, price, ts) in enumerate(batch)
                ],
            )
            done += len(batch)
            seal_sync(con, "fills")
        assert verify(con, "fills") == done


@settings(max_examples=80, deadline=None)
@given(
    fills=st.lists(_FILL, min_size=2, max_size=8),
    data=st.data(),
)
def test_property_any_single_cell_change_is_caught(fills: list[tuple], data: st.DataObject) -> None:
    with memory_db() as con:
        _insert_fills(con, fills)
        seal_sync(con, "fills")
        rowid = data.draw(st.integers(min_value=1, max_value=len(fills)))
        column, value = data.draw(
            st.sampled_from(
                [
                    ("symbol", data.draw(st.text(max_size=12))),
                    ("quantity", data.draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))),
                    ("price", data.draw(st.floats(allow_nan=False))),
                    ("side", data.draw(st.sampled_from(["BUY", "SELL", "BYU"]))),
                    ("ts_ns", data.draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))),
                ]
            )
        )
        before = con.execute(f"SELECT {column} FROM fills WHERE rowid = ?", (rowid,)).fetchone()
        con.execute(f"UPDATE fills SET {column} = ? WHERE rowid = ?", (value, rowid))
        after = con.execute(f"SELECT {column} FROM fills WHERE rowid = ?", (rowid,)).fetchone()
        if canonical(before) == canonical(after):
            assert verify(con, "fills") == len(fills)  # nothing changed: nothing to catch
            return
        with pytest.raises(ChainMismatch) as caught:
            verify(con, "fills")
        assert caught.value.position == rowid - 1


@settings(max_examples=60, deadline=None)
@given(
    tags=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=8, unique=True),
    data=st.data(),
)
def test_property_any_removed_or_moved_order_is_caught(
    tags: list[str], data: st.DataObject
) -> None:
    with memory_db() as con:
        add_orders(con, tags)
        seal_sync(con, "orders")
        victim = data.draw(st.integers(min_value=0, max_value=len(tags) - 1))
        if data.draw(st.booleans()):
            con.execute("DELETE FROM orders WHERE tag = ?", (tags[victim],))
        else:  # move it to the end, exactly as it was (same link and checksum)
            row = con.execute("SELECT * FROM orders WHERE tag = ?", (tags[victim],)).fetchone()
            con.execute("DELETE FROM orders WHERE tag = ?", (tags[victim],))
            con.execute(f"INSERT INTO orders VALUES ({', '.join('?' * len(row))})", row)
        if victim == len(tags) - 1 and con.execute("SELECT count(*) FROM orders").fetchone()[
            0
        ] == len(tags):
            assert verify(con, "orders") == len(tags)  # moved from the end to the end
            return
        with pytest.raises(ChainMismatch):
            verify(con, "orders")
