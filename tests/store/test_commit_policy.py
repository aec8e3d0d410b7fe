"""The journal's two commit policies for money rows (kitetui/store/commit_policy.py).

``DURABLE_EACH`` commits each order, fill and order change before the call returns;
``BATCH`` queues them, in order, into the next flush. Either way the rows that reach
the database are the same rows — checked as a property over random sequences of
journal calls — and every chain verifies afterwards.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import parse_config
from kitetui.domain import OrderStatus, Product
from kitetui.store import errors
from kitetui.store.commit_policy import CommitPolicy
from kitetui.store.database import open_database
from kitetui.store.errors import DiskFull
from kitetui.store.journal import Journal
from kitetui.store.rows import FILL_COLUMNS, ORDER_COLUMNS
from kitetui.store.runs import create_run, load_fills, load_orders
from kitetui.store.verify import verify_database
from kitetui.venues import build_venue

from .journal_support import RUN, TIMEOUT_S, fill, order

BATCH, DURABLE = CommitPolicy.BATCH, CommitPolicy.DURABLE_EACH


async def bounded(awaitable):
    return await asyncio.wait_for(awaitable, TIMEOUT_S)


def committed(path: Path, table: str) -> int:
    """Rows another connection sees: what a crash now would leave."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def order_events(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT tag, status FROM order_events ORDER BY id").fetchall()


async def test_durable_each_commits_every_money_row_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = await bounded(open_database(path))
    try:
        await create_run(db, RUN, "live", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, commits=DURABLE)
        await bounded(journal.write_order(order("T00")))
        assert committed(path, "orders") == 1
        done = order("T00", OrderStatus.COMPLETE, filled_qty=50, avg_price=18_305.05)
        assert await bounded(journal.write_fill(fill("T00-1", "T00"), done, None, 7))
        assert committed(path, "fills") == 1
        await bounded(journal.write_order_state(order("T00", OrderStatus.CANCELLED), 9))
        assert committed(path, "order_events") == 3
        await bounded(journal.close())
    finally:
        await db.close()


async def test_batch_queues_money_rows_in_order_until_a_flush_commits_them_together(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    db = await bounded(open_database(path))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, commits=BATCH)
        await bounded(journal.write_order(order("T00")))
        journal.update_order(order("T00", OrderStatus.OPEN, broker_order_id="B0"), 2)
        done = order("T00", OrderStatus.COMPLETE, broker_order_id="B0", filled_qty=50,
                     avg_price=18_305.05)  # fmt: skip
        assert await bounded(journal.write_fill(fill("T00-1", "T00"), done, None, 7))
        assert not await bounded(journal.write_fill(fill("T00-1", "T00"), done, None, 7))
        await bounded(journal.write_order(order("T01")))
        await bounded(journal.write_order_state(order("T01", OrderStatus.CANCELLED), 9))
        journal.set_cursor(10)
        assert [committed(path, t) for t in ("orders", "fills", "order_events")] == [0, 0, 0]

        await bounded(journal.flush())  # one transaction: everything, or (a crash) nothing
        orders = await load_orders(db, RUN)
        assert [(o.tag, o.status) for o in orders] == [
            ("T00", OrderStatus.COMPLETE),
            ("T01", OrderStatus.CANCELLED),
        ]
        assert [(clock, f.fill_id) for clock, f in await load_fills(db, RUN)] == [(7, "T00-1")]
        assert order_events(path) == [
            ("T00", "NEW"),
            ("T00", "OPEN"),
            ("T00", "COMPLETE"),
            ("T01", "NEW"),
            ("T01", "CANCELLED"),
        ]
        # a resumed journal knows the fill: a second delivery is not journaled again
        resumed = Journal(db, RUN, commits=BATCH)
        await bounded(resumed.load_sequences())
        assert not await bounded(resumed.write_fill(fill("T00-1", "T00"), done, None, 7))
        await bounded(journal.close())
    finally:
        await db.close()
    assert verify_database(path).rows["orders"] == 2  # every row sealed in its chain


async def test_batch_writes_inline_when_the_flush_task_gets_no_turn(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = await bounded(open_database(path))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, flush_rows=2, commits=BATCH)
        for i in range(3):
            await bounded(journal.write_order(order(f"T{i:02d}")))
        assert committed(path, "orders") == 0
        await bounded(journal.write_order(order("T03")))  # 8 rows waiting: 4 flushes' worth
        assert committed(path, "orders") == 4
        await bounded(journal.close())
    finally:
        await db.close()


async def test_batch_writes_a_fill_inline_when_the_flush_task_gets_no_turn(
    tmp_path: Path,
) -> None:
    """The same backpressure on the fill path (``write_fill`` checks it inline)."""
    path = tmp_path / "state.db"
    db = await bounded(open_database(path))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, flush_rows=2, commits=BATCH)
        await bounded(journal.write_order(order("T00")))  # 2 rows waiting
        for i in (1, 2):
            part = order("T00", OrderStatus.OPEN, filled_qty=i, avg_price=18_305.05)
            assert await bounded(journal.write_fill(fill(f"T00-{i}", "T00"), part, None, i))
        assert committed(path, "fills") == 0  # 6 rows: under 4 flushes' worth
        done = order("T00", OrderStatus.COMPLETE, filled_qty=3, avg_price=18_305.05)
        assert await bounded(journal.write_fill(fill("T00-3", "T00"), done, None, 3))
        assert committed(path, "fills") == 3  # the 8th row: written before it returned
        await bounded(journal.close())
    finally:
        await db.close()


async def test_batch_on_a_full_disk_keeps_every_queued_row_for_the_next_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "_disk_full_seen", False)
    path = tmp_path / "state.db"
    db = await bounded(open_database(path))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, commits=BATCH)
        await bounded(journal.flush())
        pages = (await (await db.execute("PRAGMA page_count")).fetchone())[0]
        await db.execute(f"PRAGMA max_page_count = {pages}")
        for i in range(40):
            await bounded(journal.write_order(order(f"T{i:02d}", reason="r" * 400)))
        with pytest.raises(DiskFull):
            await bounded(journal.flush())
        assert committed(path, "orders") == 0
        with pytest.raises(DiskFull):  # later writes refuse at once
            await bounded(journal.write_order(order("T99")))
        await db.execute("PRAGMA max_page_count = 1073741823")
        with pytest.raises(DiskFull):  # close drains, then says the run did not end well
            await bounded(journal.close())
        assert [o.tag for o in await load_orders(db, RUN)] == [f"T{i:02d}" for i in range(40)]
    finally:
        await db.close()


# A sequence of journal calls on orders T00..T03: place, acknowledge, fill, cancel, flush.
CALLS = st.lists(
    st.tuples(st.sampled_from(["place", "ack", "fill", "cancel", "flush"]), st.integers(0, 3)),
    max_size=30,
)


def _later(step: int) -> dict[str, object]:
    """A later state's terms: some an order's UPDATE writes (price, broker id, reason),
    some it never does (stop level, engine, product), which stay as first written."""
    return {
        "price": 100.0 + step,
        "broker_order_id": f"B{step}",
        "reason": f"r{step}",
        "stop_price": 90.0 + step,
        "engine": f"e{step}",
        "product": Product.NRML if step % 2 else Product.CNC,
    }


async def _replay_calls(path: Path, policy: CommitPolicy, calls: list[tuple[str, int]]) -> None:
    db = await open_database(path)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, commits=policy)
        placed: set[str] = set()
        fills: dict[str, int] = {}
        for step, (call, n) in enumerate(calls):
            tag = f"T{n:02d}"
            if call == "flush":
                await journal.flush()
            elif call == "place":
                if tag not in placed:
                    placed.add(tag)
                    await journal.write_order(order(tag))
            elif tag in placed and call == "ack":
                journal.update_order(order(tag, OrderStatus.OPEN, **_later(step)), step)
            elif tag in placed and call == "fill":
                fills[tag] = fills.get(tag, 0) + 1
                done = order(tag, OrderStatus.OPEN, filled_qty=fills[tag] * 10, **_later(step))
                await journal.write_fill(fill(f"{tag}-{fills[tag]}", tag, qty=10), done, None, step)
            elif tag in placed and call == "cancel":
                await journal.write_order_state(
                    order(tag, OrderStatus.CANCELLED, **_later(step)), step
                )
            journal.set_cursor(step)
        await journal.close()
    finally:
        await db.close()


# the data columns (the chain's hash each file's own identity)
ORDER_DATA = ", ".join((*ORDER_COLUMNS, "seq", "run_id"))
FILL_DATA = ", ".join((*FILL_COLUMNS, "seq", "run_id"))


def _dump(path: Path) -> tuple[list, list, list, tuple]:
    with sqlite3.connect(path) as conn:
        return (
            conn.execute(f"SELECT {ORDER_DATA} FROM orders ORDER BY seq").fetchall(),
            conn.execute(f"SELECT {FILL_DATA} FROM fills ORDER BY seq").fetchall(),
            # per order, its history in order (ids interleave differently across orders)
            conn.execute(
                "SELECT tag, ts_ns, status, reason FROM order_events ORDER BY tag, id"
            ).fetchall(),
            conn.execute("SELECT cursor_ns FROM runs").fetchone(),
        )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=CALLS)
def test_batch_and_durable_each_leave_the_same_ledger(
    tmp_path_factory, calls: list[tuple[str, int]]
) -> None:
    folder = tmp_path_factory.mktemp("policies")
    batch, durable = folder / "batch.db", folder / "durable.db"
    asyncio.run(asyncio.wait_for(_replay_calls(batch, BATCH, calls), 60))
    asyncio.run(asyncio.wait_for(_replay_calls(durable, DURABLE, calls), 60))
    assert _dump(batch) == _dump(durable)
    verify_database(batch)


def test_batch_with_an_order_changed_before_its_commit_stores_what_its_update_would(
    tmp_path: Path,
) -> None:
    """BATCH inserts an order placed and changed since the last transaction as its
    UPDATE would leave it (``journal._inserted_as_updated``): the same row as the
    durable path's INSERT then UPDATEs, the terms an UPDATE never writes as first
    written, and every chain sealed."""
    calls = [("place", 0), ("ack", 0), ("place", 1), ("fill", 0), ("flush", 0), ("ack", 1)]
    calls += [("place", 2), ("cancel", 2), ("fill", 1)]
    batch, durable = tmp_path / "batch.db", tmp_path / "durable.db"
    asyncio.run(asyncio.wait_for(_replay_calls(batch, BATCH, calls), 60))
    asyncio.run(asyncio.wait_for(_replay_calls(durable, DURABLE, calls), 60))
    assert _dump(batch) == _dump(durable)
    first_written = [row[1:3] for row in _dump(batch)[0]]  # engine, symbol
    assert first_written == [("fno", "NIFTY22NOVFUT")] * 3
    verify_database(batch)


@pytest.mark.parametrize(
    ("mode", "policy"), [("replay", BATCH), ("paper", DURABLE), ("live", DURABLE)]
)
def test_the_venue_chooses_the_policy_the_in_process_paper_book_batches(
    mode: str, policy: CommitPolicy
) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["mode"] = mode
    if mode != "replay":
        data["kite"] = {}
    assert build_venue(parse_config(data, "t.yaml"), speed=None).commits is policy
