"""The equity curve in chunks (schema 7): exact round trips, the view readers query, the
chain over the chunks and the replayed minutes (the migration: test_schema.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.store import schema
from kitetui.store.database import open_database
from kitetui.store.equity_chunks import chunk_points, chunk_row
from kitetui.store.errors import DatabaseRefused
from kitetui.store.journal import Journal
from kitetui.store.runs import count_rows, create_run
from kitetui.store.verify import verify_database

from .journal_support import RUN, TIMEOUT_S

NS = 1_000_000_000
MINUTE = 60 * NS
MORNING = 1_672_631_100 * NS  # 2023-01-02 09:15 IST

points_st = st.lists(
    st.tuples(st.integers(0, 10**15), st.integers(-(2**62), 2**62)),
    min_size=1,
    max_size=40,
    unique_by=lambda p: p[0],
).map(sorted)


@given(points_st)
def test_chunk_row_with_any_ascending_points_reads_back_exactly(
    points: list[tuple[int, int]],
) -> None:
    run_id, first, last, step, body = chunk_row(RUN, points)
    assert (run_id, first, last) == (RUN, points[0][0], points[-1][0])
    assert chunk_points(first, step, body) == points


@given(points_st)
def test_view_with_any_chunk_returns_the_rows_of_schema_5(points: list[tuple[int, int]]) -> None:
    con = sqlite3.connect(":memory:")
    for script in schema.MIGRATIONS:
        con.executescript(script)
    con.execute(
        "INSERT INTO equity_chunks (run_id, first_ts_ns, last_ts_ns, step_ns, points) "
        "VALUES (?, ?, ?, ?, ?)",
        chunk_row(RUN, points),
    )
    rows = con.execute("SELECT run_id, ts_ns, equity_paise FROM equity_curve ORDER BY ts_ns")
    assert rows.fetchall() == [(RUN, ts, paise) for ts, paise in points]


def test_chunk_row_with_minute_points_stores_minutes_not_nanoseconds() -> None:
    points = [(MORNING, 100), (MORNING + MINUTE, 101), (MORNING + 3 * MINUTE, 99)]
    assert chunk_row(RUN, points)[3:] == (MINUTE, "[[0,100],[1,101],[3,99]]")
    assert chunk_row(RUN, points[:1])[3:] == (1, "[[0,100]]")


async def _journal(path: Path, points: list[tuple[int, int]], *, load: bool = False) -> None:
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        if not load:
            await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN)
        if load:
            await journal.load_sequences()
        for n, (ts, paise) in enumerate(points):
            journal.add_equity_point(ts, paise)
            if n % 3 == 2:  # several transactions: several chunks
                await asyncio.wait_for(journal.flush(), TIMEOUT_S)
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
    finally:
        await db.close()


def _curve(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT run_id, ts_ns, equity_paise FROM equity_curve ORDER BY ts_ns"
        ).fetchall()


async def test_journal_with_points_over_several_flushes_writes_chained_chunks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    points = [(MORNING + n * MINUTE, 1_000_000 + n) for n in range(8)]
    await _journal(path, points)
    assert _curve(path) == [(RUN, ts, p) for ts, p in points]
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM equity_chunks").fetchone()[0] == 3
    assert verify_database(path, trust_seal=False).rows["equity_chunks"] == 3
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        assert await count_rows(db, "equity_curve", RUN) == 8
    finally:
        await db.close()


async def test_resumed_journal_with_replayed_minutes_keeps_the_points_first_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    first = [(MORNING + n * MINUTE, 100 + n) for n in range(5)]
    await _journal(path, first)
    # the resumed run replays minutes 3 and 4 (another mark) and goes on
    again = [(MORNING + n * MINUTE, 900 + n) for n in range(3, 7)]
    await _journal(path, again, load=True)
    assert [p for _, _, p in _curve(path)] == [100, 101, 102, 103, 104, 905, 906]
    verify_database(path, trust_seal=False)


async def test_journal_with_a_point_not_after_the_last_drops_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await _journal(path, [(MORNING, 1), (MORNING + MINUTE, 2), (MORNING + MINUTE, 3), (MORNING, 4)])
    assert [p for _, _, p in _curve(path)] == [1, 2]


@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("UPDATE equity_chunks SET points = '[[0,1000001]]' WHERE id = 1", "equity_chunks, row 1"),
        ("DELETE FROM equity_chunks WHERE id = 1", "equity_chunks"),
        (
            "DROP VIEW equity_curve; CREATE VIEW equity_curve (run_id, ts_ns, equity_paise) "
            "AS SELECT run_id, first_ts_ns, 0 FROM equity_chunks",
            "view equity_curve is missing or changed",
        ),
    ],
)
async def test_a_changed_curve_is_refused_untouched(
    tmp_path: Path, statement: str, says: str
) -> None:
    path = tmp_path / "state.db"
    await _journal(path, [(MORNING, 1_000_000), (MORNING + MINUTE, 1_000_002)])
    with sqlite3.connect(path) as con:
        con.executescript(statement)
    before = path.read_bytes()
    with pytest.raises(DatabaseRefused, match=says):
        await asyncio.wait_for(open_database(path), TIMEOUT_S)
    assert path.read_bytes() == before
