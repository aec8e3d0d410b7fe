"""Storage tests on temporary SQLite files: opening, refusals, migrations, the journal's
batched and durable paths, a WAL reader beside a busy writer, and reading runs back.

Every await that could hang is bounded by ``asyncio.wait_for``; "committed" is always
proved through a second, separately opened connection, never the writer's own view.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import math
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import pytest

from kitetui.domain import (
    Event,
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    Product,
    RiskDecision,
    RiskVerdict,
    Side,
    Signal,
    SignalKind,
    Validity,
    Variety,
)
from kitetui.store import database, schema
from kitetui.store.database import DatabaseRefused, open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import (
    count_rows,
    create_run,
    events_by_kind,
    find_resumable_run,
    finish_run,
    load_desk_state,
    load_fills,
    load_orders,
    load_risk_state,
    mark_restarted,
)
from kitetui.store.schema import MIGRATIONS, SCHEMA_VERSION
from kitetui.trading.risk import RiskEngine, RiskLimits

T = TypeVar("T")

TIMEOUT_S = 10.0
RUN = "run-1"
MODE = "replay"
HASH = "h1"
TABLES = {
    "runs",
    "orders",
    "order_events",
    "fills",
    "signals",
    "risk_decisions",
    "risk_state",
    "desk_state",
    "events",
    "positions",
    "equity_chunks",
}


async def bounded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, TIMEOUT_S)


async def eventually(predicate: Callable[[], bool], within_s: float = 2.0) -> None:
    """Poll ``predicate`` until true; fails (TimeoutError) after ``within_s``."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), within_s)


# -- builders -----------------------------------------------------------------------------


def make_order(tag: str = "T1", status: OrderStatus = OrderStatus.NEW, **kw: Any) -> Order:
    base: dict[str, Any] = {
        "tag": tag,
        "engine": "eng",
        "symbol": "INFY",
        "exchange": Exchange.NSE,
        "side": Side.BUY,
        "quantity": 10,
        "order_type": OrderType.MARKET,
        "product": Product.MIS,
        "purpose": OrderPurpose.ENTRY,
        "status": status,
        "ts_ns": 1_000,
    }
    base.update(kw)
    return Order(**base)


def make_fill(fill_id: str, tag: str = "T1", ts_ns: int = 2_000, qty: int = 10) -> Fill:
    return Fill(
        fill_id=fill_id,
        tag=tag,
        symbol="INFY",
        side=Side.BUY,
        quantity=qty,
        price=1500.5,
        ts_ns=ts_ns,
        engine="eng",
        product=Product.MIS,
    )


def make_signal(signal_id: str = "S1", indicators: dict[str, float] | None = None) -> Signal:
    return Signal(
        signal_id=signal_id,
        ts_ns=900,
        engine="eng",
        strategy="ema_cross",
        symbol="INFY",
        timeframe_s=60,
        kind=SignalKind.LONG,
        price=1500.0,
        reason="fast above slow",
        confidence=0.7,
        indicators=indicators if indicators is not None else {"ema_fast": 1501.0},
    )


def make_event(kind: str = "TickSkipped", ts_ns: int = 950) -> Event:
    return Event(ts_ns=ts_ns, kind=kind, message="m", symbol="INFY", data={"n": 1})


def add_decision(journal: Journal, signal_id: str = "S1") -> None:
    journal.add_risk_decision(
        950,
        signal_id,
        "eng",
        "INFY",
        "ENTRY",
        "BUY",
        10,
        RiskDecision(RiskVerdict.ALLOW, 10, "ok", rule="none"),
    )


# -- file helpers --------------------------------------------------------------------------


def digest(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def sidecars(path: Path) -> list[str]:
    return [
        p.name
        for s in ("-wal", "-shm", "-journal")
        if (p := path.with_name(path.name + s)).exists()
    ]


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection, opened separately: it sees only what was committed."""
    con = sqlite3.connect(path, timeout=5)
    try:
        yield con
    finally:
        con.close()


def scalar(con: sqlite3.Connection, sql: str, *args: Any) -> Any:
    return con.execute(sql, args).fetchone()[0]


def quick_check_fails(path: Path) -> bool:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    except sqlite3.DatabaseError:
        return True
    finally:
        con.close()


def build_kitetui_db(path: Path, *, events: int = 0, user_version: int = SCHEMA_VERSION) -> None:
    """A database as kitetui writes it (WAL, full schema), built with plain sqlite3."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS:
        con.executescript(migration)
    con.executemany(
        "INSERT INTO events (run_id, ts_ns, kind, level, symbol, engine, message, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(RUN, i, "K", "INFO", "INFY", "eng", "m" * 50, "{}") for i in range(events)],
    )
    con.execute(f"PRAGMA user_version = {user_version}")
    con.commit()
    con.close()


def build_text_file(path: Path) -> None:
    path.write_text("positions:\n  INFY: 10\n# not a database\n" * 20)


def build_random_bytes(path: Path) -> None:
    path.write_bytes(bytes(((i * 7919 + 13) * 2654435761 >> 7) & 0xFF for i in range(8192)))


def build_corrupted_pages(path: Path) -> None:
    build_kitetui_db(path, events=3000)
    data = bytearray(path.read_bytes())
    page = 4096
    # Inside the cell area of a page in the middle: the header stays valid, a b-tree does not.
    offset = (len(data) // 2) // page * page + 2000
    data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    assert data[:16] == b"SQLite format 3\x00"
    assert quick_check_fails(path), "the corruption must be one quick_check detects"


def build_future_version(path: Path) -> None:
    build_kitetui_db(path, events=3, user_version=SCHEMA_VERSION + 1)


def build_other_program(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO notes (body) VALUES (?)", [("a",), ("b",)])
    con.commit()
    con.close()


def build_version_one_without_runs(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


def build_empty_sqlite(path: Path) -> None:
    """A valid SQLite file at user_version 0 with nothing in it."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE scratch (x)")
    con.execute("DROP TABLE scratch")
    con.commit()
    con.close()
    assert path.stat().st_size > 0


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    conn = await bounded(open_database(db_path))
    try:
        yield conn
    finally:
        await bounded(conn.close())


@pytest.fixture
async def journal(db: aiosqlite.Connection) -> AsyncIterator[Journal]:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    j = Journal(db, RUN, flush_interval_s=60.0)
    try:
        yield j
    finally:
        await bounded(j.close())


# -- open_database ---------------------------------------------------------------------------


async def test_open_database_with_new_path_creates_schema_in_wal(db_path: Path) -> None:
    conn = await bounded(open_database(db_path.parent / "nested" / "state.db"))
    await bounded(conn.close())
    conn = await bounded(open_database(db_path))
    try:
        mode = (await (await conn.execute("PRAGMA journal_mode")).fetchone())[0]
        assert mode == "wal"
    finally:
        await bounded(conn.close())
    with reader(db_path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert scalar(con, "PRAGMA user_version") == SCHEMA_VERSION
        assert scalar(con, "PRAGMA journal_mode") == "wal"
    assert tables >= TABLES
    assert (db_path.parent / "nested" / "state.db").is_file()


async def test_open_database_with_existing_current_db_is_idempotent(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await bounded(open_database(db_path))
    await bounded(create_run(conn, RUN, MODE, "cfg.toml", HASH))
    await bounded(conn.close())

    class NoMigrationAllowed(tuple):
        def __getitem__(self, index: Any) -> Any:
            raise AssertionError(f"migration {index} re-run on a current database")

    monkeypatch.setattr(database, "MIGRATIONS", NoMigrationAllowed(MIGRATIONS))
    for _ in range(2):
        conn = await bounded(open_database(db_path))
        await bounded(conn.close())
    with reader(db_path) as con:
        assert scalar(con, "PRAGMA user_version") == SCHEMA_VERSION
        assert scalar(con, "SELECT count(*) FROM runs") == 1


FUTURE_MIGRATION = """
    CREATE TABLE watchlist (symbol TEXT PRIMARY KEY, note TEXT NOT NULL DEFAULT '');
    ALTER TABLE runs ADD COLUMN label TEXT NOT NULL DEFAULT 'legacy'
"""


def install_migrations(monkeypatch: pytest.MonkeyPatch, migrations: tuple[str, ...]) -> None:
    # database.py imported the names, so both modules must see the new list.
    for module in (schema, database):
        monkeypatch.setattr(module, "MIGRATIONS", migrations)
        monkeypatch.setattr(module, "SCHEMA_VERSION", len(migrations))


async def test_open_database_with_empty_version_zero_file_migrates_to_current(
    db_path: Path,
) -> None:
    build_empty_sqlite(db_path)
    conn = await bounded(open_database(db_path))
    await bounded(conn.close())
    with reader(db_path) as con:
        assert scalar(con, "PRAGMA user_version") == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= TABLES


async def test_open_database_with_older_version_migrates_in_place_keeping_rows(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await bounded(open_database(db_path))
    await bounded(create_run(conn, RUN, MODE, "cfg.toml", HASH))
    j = Journal(conn, RUN)
    await bounded(j.write_order(make_order("T1")))
    await bounded(conn.close())

    install_migrations(monkeypatch, (*MIGRATIONS, FUTURE_MIGRATION))
    conn = await bounded(open_database(db_path))
    try:
        await conn.execute("INSERT INTO watchlist (symbol) VALUES ('TCS')")
        assert await load_orders(conn, RUN) == [make_order("T1")]
    finally:
        await bounded(conn.close())
    with reader(db_path) as con:
        assert scalar(con, "PRAGMA user_version") == SCHEMA_VERSION + 1
        assert con.execute("SELECT run_id, label FROM runs").fetchall() == [(RUN, "legacy")]
        assert scalar(con, "SELECT count(*) FROM watchlist") == 1


async def test_open_database_with_failing_migration_rolls_back_whole_step(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await bounded(open_database(db_path))
    await bounded(create_run(conn, RUN, MODE, "cfg.toml", HASH))
    await bounded(conn.close())

    broken = "CREATE TABLE watchlist (symbol TEXT); INSERT INTO no_such_table VALUES (1)"
    install_migrations(monkeypatch, (*MIGRATIONS, broken))
    with pytest.raises(sqlite3.OperationalError):
        await bounded(open_database(db_path))
    with reader(db_path) as con:
        assert scalar(con, "PRAGMA user_version") == SCHEMA_VERSION
        assert scalar(con, "SELECT count(*) FROM sqlite_master WHERE name='watchlist'") == 0
        assert scalar(con, "SELECT count(*) FROM runs") == 1


@pytest.mark.parametrize(
    ("build", "why"),
    [
        (build_text_file, "not a SQLite database"),
        (build_random_bytes, "not a SQLite database"),
        (build_corrupted_pages, "database"),
        (build_future_version, "newer than this kitetui"),
        (build_other_program, "another program"),
        (build_version_one_without_runs, "no kitetui tables"),
    ],
    ids=["text", "random", "corrupt", "future", "other-program", "v1-no-runs"],
)
async def test_open_database_with_foreign_file_refuses_and_leaves_bytes(
    db_path: Path, build: Callable[[Path], None], why: str
) -> None:
    build(db_path)
    before = digest(db_path)
    with pytest.raises(DatabaseRefused, match=why) as refused:
        await bounded(open_database(db_path))
    assert "untouched" in str(refused.value)
    assert digest(db_path) == before
    assert sidecars(db_path) == []
    # And a second attempt is refused the same way: nothing was half-repaired.
    with pytest.raises(DatabaseRefused, match=why):
        await bounded(open_database(db_path))
    assert digest(db_path) == before


# -- journal: durable paths ---------------------------------------------------------------


async def test_write_order_with_buffered_records_commits_them_together(
    journal: Journal, db_path: Path
) -> None:
    with reader(db_path) as con:
        journal.add_signal(make_signal("S1"))
        add_decision(journal, "S1")
        journal.add_event(make_event())
        journal.add_equity_point(990, 1_000_000)
        for table in ("signals", "risk_decisions", "events", "equity_curve", "orders"):
            assert scalar(con, f"SELECT count(*) FROM {table}") == 0, table

        await bounded(journal.write_order(make_order("T1", signal_id="S1")))

        for table in ("signals", "risk_decisions", "events", "equity_curve", "orders"):
            assert scalar(con, f"SELECT count(*) FROM {table}") == 1, table
        assert con.execute("SELECT tag, status, signal_id, seq FROM orders").fetchall() == [
            ("T1", "NEW", "S1", 1)
        ]
        assert con.execute("SELECT tag, status FROM order_events").fetchall() == [("T1", "NEW")]
    assert journal.flushes == 1


async def test_write_fill_with_same_fill_id_is_idempotent(journal: Journal, db_path: Path) -> None:
    await bounded(journal.write_order(make_order("T1")))
    done = make_order("T1", OrderStatus.COMPLETE, filled_qty=10, avg_price=1500.5)
    position = Position("INFY", "eng", Product.MIS, 10, 1500.5, 1501.0, 0, 500)

    assert await bounded(journal.write_fill(make_fill("F1"), done, position, 5_000)) is True
    assert await bounded(journal.write_fill(make_fill("F1"), done, position, 6_000)) is False

    with reader(db_path) as con:
        assert con.execute("SELECT fill_id, seq, clock_ns FROM fills").fetchall() == [
            ("F1", 1, 5_000)
        ]
        assert con.execute("SELECT status, filled_qty, avg_price FROM orders").fetchall() == [
            ("COMPLETE", 10, 1500.5)
        ]
        assert con.execute(
            "SELECT symbol, quantity, unrealized_paise FROM positions"
        ).fetchall() == [("INFY", 10, 500)]
        assert scalar(con, "SELECT count(*) FROM order_events") == 2


async def test_write_fill_with_concurrent_duplicates_commits_one(
    journal: Journal, db_path: Path
) -> None:
    await bounded(journal.write_order(make_order("T1")))
    done = make_order("T1", OrderStatus.COMPLETE, filled_qty=10, avg_price=1500.5)
    journal.add_event(make_event())  # buffered: must survive whichever call loses the race

    results = await bounded(
        asyncio.gather(*(journal.write_fill(make_fill("F1"), done, None, 5_000) for _ in range(3)))
    )

    assert sorted(results) == [False, False, True]
    with reader(db_path) as con:
        assert scalar(con, "SELECT count(*) FROM fills") == 1
        assert scalar(con, "SELECT count(*) FROM events") == 1


async def test_update_order_with_no_flush_is_invisible_until_flush(
    journal: Journal, db_path: Path
) -> None:
    await bounded(journal.write_order(make_order("T1")))
    journal.update_order(make_order("T1", OrderStatus.OPEN, broker_order_id="B1"), 1_100)
    with reader(db_path) as con:
        assert con.execute("SELECT status, broker_order_id FROM orders").fetchall() == [("NEW", "")]
        assert scalar(con, "SELECT count(*) FROM order_events") == 1

        await bounded(journal.flush())

        assert con.execute("SELECT status, broker_order_id FROM orders").fetchall() == [
            ("OPEN", "B1")
        ]
        assert con.execute("SELECT status, ts_ns FROM order_events ORDER BY id").fetchall() == [
            ("NEW", 1_000),
            ("OPEN", 1_100),
        ]


async def test_write_order_state_with_no_flush_is_durable_at_once(
    journal: Journal, db_path: Path
) -> None:
    await bounded(journal.write_order(make_order("T1")))
    cancelled = make_order("T1", OrderStatus.CANCELLED, reason="user cancel")
    await bounded(journal.write_order_state(cancelled, 1_200))
    with reader(db_path) as con:
        assert con.execute("SELECT status, reason FROM orders").fetchall() == [
            ("CANCELLED", "user cancel")
        ]
        assert scalar(con, "SELECT count(*) FROM order_events WHERE status='CANCELLED'") == 1


async def test_set_cursor_and_risk_state_with_next_flush_land_together(
    journal: Journal, db: aiosqlite.Connection, db_path: Path
) -> None:
    # load_risk_state reads strictly: the state must be what RiskEngine.to_state() writes.
    risk = RiskEngine(RiskLimits(25_000, 10_000, 5, 4, 6_000_000, 3_000_000, 10_000))
    risk.entries_today["INFY"] = 2
    state = risk.to_state()
    journal.set_cursor(123_456)
    journal.set_risk_state(state)
    with reader(db_path) as con:
        assert scalar(con, "SELECT cursor_ns FROM runs") == 0
        assert scalar(con, "SELECT count(*) FROM risk_state") == 0

        await bounded(journal.flush())

        assert scalar(con, "SELECT cursor_ns FROM runs") == 123_456
        assert json.loads(scalar(con, "SELECT state FROM risk_state")) == state
    assert await bounded(load_risk_state(db, RUN)) == state
    assert await bounded(load_risk_state(db, "other-run")) is None


async def test_flush_with_nothing_buffered_writes_no_transaction(journal: Journal) -> None:
    await bounded(journal.flush())
    assert journal.flushes == 0


# -- journal: batching, the flush loop and close -----------------------------------------


async def test_flush_loop_with_started_journal_flushes_within_interval(
    db: aiosqlite.Connection, db_path: Path
) -> None:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    j = Journal(db, RUN, flush_interval_s=0.05)
    j.start()
    try:
        with reader(db_path) as con:
            j.add_event(make_event())
            await eventually(lambda: scalar(con, "SELECT count(*) FROM events") == 1)
            j.add_event(make_event("BarClosed"))
            await eventually(lambda: scalar(con, "SELECT count(*) FROM events") == 2)
    finally:
        await bounded(j.close())
    assert j.rows_written == 2


@pytest.mark.parametrize("started", [True, False], ids=["started", "never-started"])
async def test_close_with_everything_buffered_drains_all(
    db: aiosqlite.Connection, db_path: Path, started: bool
) -> None:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    j = Journal(db, RUN, flush_interval_s=60.0)
    if started:
        j.start()
    await bounded(j.write_order(make_order("T1")))
    j.add_signal(make_signal("S2"))
    add_decision(j, "S2")
    j.add_event(make_event())
    j.add_equity_point(3_000, 99)
    j.update_order(make_order("T1", OrderStatus.OPEN), 3_000)
    j.set_cursor(3_000)
    j.set_risk_state({"k": 1})

    await bounded(j.close())

    with reader(db_path) as con:
        for table in ("signals", "risk_decisions", "events", "equity_curve", "risk_state"):
            assert scalar(con, f"SELECT count(*) FROM {table}") == 1, table
        assert scalar(con, "SELECT status FROM orders") == "OPEN"
        assert scalar(con, "SELECT count(*) FROM order_events") == 2
        assert scalar(con, "SELECT cursor_ns FROM runs") == 3_000


async def test_close_with_rows_added_while_loop_flushes_loses_none(
    db: aiosqlite.Connection, db_path: Path
) -> None:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    j = Journal(db, RUN, flush_interval_s=0.001, flush_rows=5)
    j.start()
    rounds, per_round = 60, 7
    for r in range(rounds):
        for i in range(per_round):
            j.add_event(make_event(ts_ns=r * 100 + i))
        await asyncio.sleep(0)
        if r % 3 == 0:
            await asyncio.sleep(0.002)  # let the loop be mid-transaction sometimes
    await bounded(j.close())

    assert j.flushes > 1
    assert j.rows_written == rounds * per_round
    with reader(db_path) as con:
        assert scalar(con, "SELECT count(*) FROM events") == rounds * per_round
        assert scalar(con, "SELECT count(DISTINCT ts_ns) FROM events") == rounds * per_round


async def test_flush_rows_with_threshold_reached_wakes_loop_early(
    db: aiosqlite.Connection, db_path: Path
) -> None:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    j = Journal(db, RUN, flush_interval_s=60.0, flush_rows=5)
    j.start()
    try:
        with reader(db_path) as con:
            for _ in range(4):
                j.add_event(make_event())
            await asyncio.sleep(0.05)
            assert j.flushes == 0
            assert scalar(con, "SELECT count(*) FROM events") == 0

            j.add_event(make_event())
            await eventually(lambda: scalar(con, "SELECT count(*) FROM events") == 5)
            assert j.flushes == 1
    finally:
        await bounded(j.close())


async def test_add_signal_with_nan_indicators_stores_null_json(
    journal: Journal, db_path: Path
) -> None:
    indicators = {"rsi": math.nan, "ema": 101.5, "up": math.inf, "down": -math.inf}
    journal.add_signal(make_signal("S1", indicators))
    await bounded(journal.flush())

    def no_constants(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name}")

    with reader(db_path) as con:
        raw, valid = con.execute(
            "SELECT indicators, json_valid(indicators) FROM signals"
        ).fetchone()
    assert valid == 1
    assert json.loads(raw, parse_constant=no_constants) == {
        "rsi": None,
        "ema": 101.5,
        "up": None,
        "down": None,
    }


# -- a WAL reader beside a busy writer ---------------------------------------------------


async def test_wal_reader_with_writer_committing_batches_sees_growing_counts(
    journal: Journal, db_path: Path
) -> None:
    batches, per_batch = 20, 25
    writer_done = asyncio.Event()
    seen: list[int] = []

    async def write() -> None:
        with reader(db_path) as sync_reader:
            for b in range(batches):
                for i in range(per_batch):
                    journal.add_event(make_event(ts_ns=b * 1_000 + i))
                await journal.flush()
                # Committed means another connection sees it, right after the await.
                assert scalar(sync_reader, "SELECT count(*) FROM events") == (b + 1) * per_batch
                await asyncio.sleep(0.001)
        writer_done.set()

    async def read() -> None:
        async with aiosqlite.connect(db_path) as other:
            # Until the writer is done (``bounded`` fails a hang), not a fixed number of
            # reads: on a loaded machine 10,000 reads ended before the 20 commits did.
            while True:
                finished = writer_done.is_set()  # read once more after the last commit
                # Each cursor is closed: a statement left open would keep its read
                # transaction, and so its snapshot.
                async with other.execute("SELECT count(*) FROM events") as cursor:
                    row = await cursor.fetchone()
                seen.append(row[0])
                if finished:
                    break

    await bounded(asyncio.gather(write(), read()))

    assert seen == sorted(seen), "counts went backwards"
    assert all(n % per_batch == 0 for n in seen), "a reader saw half a batch"
    assert seen[-1] == batches * per_batch
    assert len(set(seen)) > 2, "the reader should have seen the writer in progress"


# -- runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "mode", "config_hash", "resumable"),
    [
        ("RUNNING", MODE, HASH, True),
        ("STOPPED", MODE, HASH, True),
        ("FINISHED", MODE, HASH, False),
        ("FAILED", MODE, HASH, False),
        ("RUNNING", MODE, "h2", False),
        ("STOPPED", MODE, "h2", False),
        ("RUNNING", "paper", HASH, False),
    ],
)
async def test_find_resumable_run_with_status_and_config_decides_resume(
    db: aiosqlite.Connection, status: str, mode: str, config_hash: str, resumable: bool
) -> None:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    if status != "RUNNING":
        await bounded(finish_run(db, RUN, status))

    found = await bounded(find_resumable_run(db, mode, config_hash))

    if resumable:
        assert found is not None
        assert (found.run_id, found.mode, found.config_hash, found.status) == (
            RUN,
            MODE,
            HASH,
            status,
        )
        assert (found.cursor_ns, found.restarts) == (0, 0)
    else:
        assert found is None


async def test_find_resumable_run_with_empty_database_finds_none(
    db: aiosqlite.Connection,
) -> None:
    assert await bounded(find_resumable_run(db, MODE, HASH)) is None


async def test_mark_restarted_with_each_call_increments(db: aiosqlite.Connection) -> None:
    await bounded(create_run(db, RUN, MODE, "cfg.toml", HASH))
    for expected in (1, 2, 3):
        await bounded(mark_restarted(db, RUN))
        found = await bounded(find_resumable_run(db, MODE, HASH))
        assert found is not None
        assert found.restarts == expected


async def test_load_fills_with_several_journals_returns_commit_order(
    journal: Journal, db: aiosqlite.Connection
) -> None:
    await bounded(journal.write_order(make_order("T1", quantity=30)))
    # fill ids and exchange timestamps deliberately out of order: only commit order counts
    await bounded(journal.write_fill(make_fill("F-z", ts_ns=9_000, qty=10), make_order(), None, 11))
    await bounded(journal.write_fill(make_fill("F-a", ts_ns=7_000, qty=10), make_order(), None, 12))

    resumed = Journal(db, RUN)
    await bounded(resumed.load_sequences())
    await bounded(resumed.write_fill(make_fill("F-m", ts_ns=8_000, qty=10), make_order(), None, 13))
    await bounded(resumed.write_order(make_order("T2")))

    fills = await bounded(load_fills(db, RUN))
    assert [(clock, f.fill_id) for clock, f in fills] == [(11, "F-z"), (12, "F-a"), (13, "F-m")]
    assert fills[0][1] == make_fill("F-z", ts_ns=9_000, qty=10)
    assert [o.tag for o in await bounded(load_orders(db, RUN))] == ["T1", "T2"]
    assert await bounded(load_fills(db, "other-run")) == []


FULL_ORDER = Order(
    tag="kt-0001-x",
    engine="breakout",
    symbol="NIFTY24DECFUT",
    exchange=Exchange.NFO,
    side=Side.SELL,
    quantity=75,
    order_type=OrderType.SL_M,
    product=Product.NRML,
    purpose=OrderPurpose.STOP,
    status=OrderStatus.TRIGGER_PENDING,
    ts_ns=1_733_000_000_123_456_789,
    price=24_101.05,
    trigger_price=24_099.95,
    stop_price=24_050.15,
    filled_qty=25,
    avg_price=24_100.333333333332,
    broker_order_id="241201000123456",
    signal_id="sig-42",
    reason="protective stop, ünïcode ₹",
    validity=Validity.IOC,
    variety=Variety.AMO,
)


def test_order_fixture_with_every_field_set_differs_from_defaults() -> None:
    order = FULL_ORDER
    minimal = make_order()
    for f in dataclasses.fields(Order):
        if f.name != "tag":
            assert getattr(order, f.name) != getattr(minimal, f.name), f.name


async def test_load_orders_with_every_field_set_round_trips_exactly(
    journal: Journal, db: aiosqlite.Connection
) -> None:
    await bounded(journal.write_order(FULL_ORDER))
    assert await bounded(load_orders(db, RUN)) == [FULL_ORDER]

    updated = dataclasses.replace(
        FULL_ORDER,
        status=OrderStatus.COMPLETE,
        filled_qty=75,
        avg_price=24_098.7,
        broker_order_id="B-2",
        reason="stop hit",
    )
    await bounded(journal.write_order_state(updated, 2))
    assert await bounded(load_orders(db, RUN)) == [updated]


@pytest.mark.parametrize(
    "value",
    [True, False, 0, 3.25, "halted by user", ["INFY", "TCS"], {"on": True, "since_ns": 17}],
    ids=["true", "false", "zero", "float", "str", "list", "dict"],
)
async def test_desk_state_with_json_value_round_trips(
    journal: Journal, db: aiosqlite.Connection, db_path: Path, value: Any
) -> None:
    # Any JSON round-trips under a free key; "kill_switch" itself must be {on, reason}
    # (tests/store/test_runs.py), since recovery reads its fields.
    assert await bounded(load_desk_state(db, "desk_note")) is None
    await bounded(journal.set_desk_state("desk_note", {"stale": 1}))
    await bounded(journal.set_desk_state("desk_note", value))
    assert await bounded(load_desk_state(db, "desk_note")) == value
    with reader(db_path) as con:
        assert json.loads(scalar(con, "SELECT value FROM desk_state")) == value


@pytest.mark.parametrize(
    "table",
    ["runs", "desk_state", "positions", "sqlite_master", "orders; DROP TABLE runs", ""],
)
async def test_count_rows_with_unknown_table_refuses(
    db: aiosqlite.Connection, db_path: Path, table: str
) -> None:
    with pytest.raises(ValueError):
        await bounded(count_rows(db, table, RUN))
    with reader(db_path) as con:
        assert scalar(con, "SELECT count(*) FROM sqlite_master WHERE name='runs'") == 1


async def test_count_rows_with_known_tables_counts_this_run_only(
    journal: Journal, db: aiosqlite.Connection
) -> None:
    other = Journal(db, "run-2")
    journal.add_signal(make_signal("S1"))
    add_decision(journal, "S1")
    journal.add_equity_point(1, 10)
    journal.add_event(make_event())
    other.add_event(make_event())
    await bounded(journal.write_order(make_order("T1")))
    await bounded(journal.write_fill(make_fill("F1"), make_order(), None, 1))
    await bounded(other.flush())

    counts = {
        t: await bounded(count_rows(db, t, RUN))
        for t in ("signals", "orders", "fills", "events", "risk_decisions", "equity_curve")
    }
    assert counts == dict.fromkeys(counts, 1)
    assert await bounded(count_rows(db, "events", "run-2")) == 1
    assert await bounded(count_rows(db, "events", "nobody")) == 0


async def test_events_by_kind_with_mixed_runs_counts_this_run_descending(
    journal: Journal, db: aiosqlite.Connection
) -> None:
    other = Journal(db, "run-2")
    for kind, n in (("TickSkipped", 1), ("OrderRejected", 3), ("StopFilled", 2)):
        for _ in range(n):
            journal.add_event(make_event(kind))
    for _ in range(5):
        other.add_event(make_event("Noise"))
    await bounded(journal.flush())
    await bounded(other.flush())

    by_kind = await bounded(events_by_kind(db, RUN))
    assert list(by_kind.items()) == [("OrderRejected", 3), ("StopFilled", 2), ("TickSkipped", 1)]
    assert await bounded(events_by_kind(db, "nobody")) == {}


def test_sidecars_helper_with_wal_file_present_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"")
    (tmp_path / "x.db-wal").write_bytes(b"")
    assert sidecars(path) == ["x.db-wal"]


async def test_a_failed_paper_or_live_run_resumes_its_positions_are_at_kite(
    db: aiosqlite.Connection,
) -> None:
    await bounded(create_run(db, RUN, "live", "cfg.yaml", HASH))
    await bounded(finish_run(db, RUN, "FAILED"))
    found = await bounded(find_resumable_run(db, "live", HASH))
    assert found is not None and found.run_id == RUN


async def test_a_new_live_run_is_refused_while_the_last_one_still_holds_a_position(
    db: aiosqlite.Connection,
) -> None:
    """The config edited while a position was open began a new run with none: the live
    position and its stop went unmanaged, and the old run was never found again."""
    from kitetui.store.runs import RunStillHolds, begin_run

    await bounded(create_run(db, RUN, "live", "cfg.yaml", HASH))
    await db.execute(
        "INSERT INTO positions VALUES (?, 'NIFTY22NOVFUT', 'fno', 'MIS', 50, 18300, 18310, 0, 0)",
        (RUN,),
    )
    await db.commit()
    await bounded(finish_run(db, RUN, "STOPPED"))
    with pytest.raises(RunStillHolds, match=r"still holds NIFTY22NOVFUT \+50.*--new-run"):
        await bounded(begin_run(db, "live", "edited", "cfg.yaml"))
    assert (await (await db.execute("SELECT count(*) FROM runs")).fetchone())[0] == 1
    run_id, _cursor, resumed, left = await bounded(
        begin_run(db, "live", "edited", "cfg.yaml", new_run=True)
    )
    assert not resumed and run_id != RUN
    assert left == [f"run {RUN}: NIFTY22NOVFUT +50"]
    # --new-run where the run would resume: a new one all the same (a resume that fails)
    resumed_id, _c, resumed, _l = await bounded(begin_run(db, "live", "edited", "cfg.yaml"))
    assert resumed and resumed_id == run_id
    fresh_id, _c, resumed, _l = await bounded(
        begin_run(db, "live", "edited", "cfg.yaml", new_run=True)
    )
    assert not resumed and fresh_id not in (run_id, RUN)
    # paper's positions are simulated, a replay's its own: a new run of either never asks
    await bounded(create_run(db, "p1", "paper", "cfg.yaml", HASH))
    await db.execute("INSERT INTO positions VALUES ('p1', 'SBIN', 'eq', 'MIS', 10, 500, 501, 0, 0)")
    await db.commit()
    assert (await bounded(begin_run(db, "paper", "edited", "cfg.yaml")))[2] is False
    await bounded(create_run(db, "r1", "replay", "cfg.yaml", HASH))
    assert (await bounded(begin_run(db, "replay", "edited", "cfg.yaml")))[2] is False
