"""HOLDs counted per trading day, engine, symbol and reason, written with the cursor.

The counter alone (days in IST, the reason cap, batches handed over whole), then the
journal around it: counts reach the database only with the cursor of their batch, so
a process killed anywhere and resumed from the journaled cursor ends with the counts of
a run that was never interrupted (a property over random runs and kill points).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitetui.clock import date_of_day_number, ist_day_number, ist_day_start_ns
from kitetui.domain import Signal, SignalKind
from kitetui.store import database, schema
from kitetui.store.database import open_database
from kitetui.store.holds import MAX_REASONS, OTHER_REASONS, Hold, HoldCounter, Run, day_text
from kitetui.store.journal import Journal
from kitetui.store.runs import count_signals, create_run, signals_by_engine
from tests.attacks.sigkill_corpus import holds as _rows

from .journal_support import RUN, TIMEOUT_S

NS = 1_000_000_000
# 2023-01-02 09:15 IST; 18:30 UTC is IST midnight
MORNING = 1_672_631_100 * NS
IST_MIDNIGHT = 1_672_684_200 * NS  # 2023-01-03 00:00 IST = 2023-01-02 18:30 UTC


def hold(n: int, symbol: str = "GBMA", reason: str = "no cross", engine: str = "eq") -> Signal:
    return Signal(
        signal_id=f"{RUN}-{engine}-{symbol}-{n}",
        ts_ns=MORNING + n * 60 * NS,
        engine=engine,
        strategy="ema_cross",
        symbol=symbol,
        timeframe_s=60,
        kind=SignalKind.HOLD,
        price=100.0,
        reason=reason,
        indicators={"ema_fast": 100.0},
    )


def add_hold(journal: Journal, signal: Signal) -> None:
    journal.add_hold(signal.engine, signal.symbol, signal.reason, signal.ts_ns, lambda: signal)


# -- the counter ------------------------------------------------------------------------------


def test_count_keys_by_ist_day_engine_symbol_and_reason_with_first_and_last_bar() -> None:
    counter = HoldCounter()
    counter.count("eq", "A", "r1", MORNING)
    counter.count("eq", "A", "r1", MORNING + 60 * NS)
    counter.count("eq", "B", "r1", MORNING)
    counter.count("eq", "A", "r2", MORNING)
    counter.count("eq", "A", "r1", IST_MIDNIGHT - 1)  # still 2 January in IST
    counter.count("eq", "A", "r1", IST_MIDNIGHT)  # 3 January
    assert counter.ready == {}  # nothing before the batch is finished
    counter.close_batch()
    ready = counter.take()
    by_day = {(day_text(k[0]), *k[1:]): tuple(v) for k, v in ready.items()}
    assert by_day == {
        ("2023-01-02", "eq", "A", "r1"): (3, MORNING, IST_MIDNIGHT - 1),
        ("2023-01-02", "eq", "B", "r1"): (1, MORNING, MORNING),
        ("2023-01-02", "eq", "A", "r2"): (1, MORNING, MORNING),
        ("2023-01-03", "eq", "A", "r1"): (1, IST_MIDNIGHT, IST_MIDNIGHT),
    }
    assert counter.take() == {}


def test_finished_batches_merge_and_a_failed_write_gives_them_back() -> None:
    counter = HoldCounter()
    counter.count("eq", "A", "r", MORNING)
    counter.close_batch()
    counter.count("eq", "A", "r", MORNING + 60 * NS)
    counter.close_batch()
    taken = counter.take()
    assert list(taken.values()) == [[2, MORNING, MORNING + 60 * NS]]
    counter.count("eq", "A", "r", MORNING + 120 * NS)
    counter.close_batch()
    counter.give_back(taken)  # that transaction rolled back: written with the next one
    assert list(counter.take().values()) == [[3, MORNING, MORNING + 120 * NS]]


def test_reasons_past_the_cap_are_counted_under_other_reasons_also_after_a_restart() -> None:
    counter = HoldCounter()
    for n in range(MAX_REASONS + 5):
        counter.count("eq", "A", f"rsi {n}", MORNING + n)
    counter.count("other-engine", "A", "rsi 999", MORNING)  # the cap is per engine
    counter.close_batch()
    reasons = {k[3]: v[0] for k, v in counter.take().items() if k[1] == "eq"}
    assert len(reasons) == MAX_REASONS + 1
    assert reasons[OTHER_REASONS] == 5
    assert "rsi 0" in reasons and f"rsi {MAX_REASONS}" not in reasons

    resumed = HoldCounter()  # what a resumed journal learns from hold_counts
    resumed.know("eq", [*(f"rsi {n}" for n in range(MAX_REASONS)), OTHER_REASONS])
    resumed.count("eq", "A", "rsi 3", MORNING)
    resumed.count("eq", "A", "rsi 1000", MORNING)
    resumed.close_batch()
    assert {k[3] for k in resumed.take()} == {"rsi 3", OTHER_REASONS}


# An engine's HOLDs of a batch, in the order it decided them: runs handed over at once
# (``count_runs``) or one by one (``count``) must count the same, a time going back too.
_HOLD_RUNS = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["eq", "fno"]),
            st.sampled_from(["A", "B"]),
            st.sampled_from(["r1", "r2"]),
            st.sampled_from([MORNING, MORNING + 60 * NS, IST_MIDNIGHT - 1, IST_MIDNIGHT]),
        ),
        max_size=6,
    ),
    max_size=5,
)


def as_runs(holds: list[Hold]) -> list[Run]:
    """``holds`` as an engine hands them over: a run for each stretch of one time and one
    ``make``, each HOLD its key and ``make``'s arguments."""
    runs: list[Run] = []
    for engine, symbol, reason, ts_ns, make, args in holds:
        if not runs or runs[-1][0] != ts_ns or runs[-1][1] is not make:
            runs.append((ts_ns, make, []))
        runs[-1][2].append(((engine, symbol, reason), *args))
    return runs


@given(batches=st.lists(_HOLD_RUNS, min_size=1, max_size=4))
def test_count_runs_counts_runs_of_holds_as_count_does_one_by_one(batches) -> None:
    one_by_one, in_runs = HoldCounter(), HoldCounter()
    for runs in batches:
        for run in runs:
            for engine, symbol, reason, ts_ns in run:
                one_by_one.count(engine, symbol, reason, ts_ns)
            in_runs.count_runs(as_runs([(*hold, None, ()) for hold in run]))
        one_by_one.close_batch()
        in_runs.close_batch()
        assert in_runs.ready == one_by_one.ready  # (first and last times kept apart)
    assert in_runs.take() == one_by_one.take()


def test_a_dropped_batch_hands_back_its_holds_in_the_order_counted() -> None:
    counter = HoldCounter()
    counter.count("eq", "A", "r", MORNING, hold, (1,))
    counter.count_runs(
        as_runs([("eq", "B", "r", MORNING, hold, (2,)), ("eq", "C", "r", MORNING, None, ())])
    )
    dropped = counter.drop_batch()
    assert [(h[1], h[4], h[5]) for h in dropped] == [
        ("A", hold, (1,)),
        ("B", hold, (2,)),
        ("C", None, ()),
    ]
    counter.close_batch()
    assert counter.take() == {} and counter.drop_batch() == []


# -- in the journal ---------------------------------------------------------------------------


async def test_counts_are_written_only_with_the_cursor_of_their_batch(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0)
        add_hold(journal, hold(0))
        add_hold(journal, hold(1, "GBMB"))
        await asyncio.wait_for(journal.flush(), TIMEOUT_S)
        assert _rows(path) == []  # the batch is not finished: a restart processes it again
        journal.set_cursor(MORNING + 60 * NS)
        add_hold(journal, hold(2))  # the next batch, unfinished
        await asyncio.wait_for(journal.flush(), TIMEOUT_S)
        assert [r[2:5] for r in _rows(path)] == [("GBMA", "no cross", 1), ("GBMB", "no cross", 1)]
        assert await count_signals(db, RUN) == 2
        # after the last cursor (the end of the data): a row, which a resumed run
        # deciding it again cannot count twice
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
        assert [r[4] for r in _rows(path)] == [1, 1]
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT signal_id FROM signals").fetchall() == [
                (hold(2).signal_id,)
            ]
        assert await count_signals(db, RUN) == 3
        journal.add_signal(hold(7, "GBMC"))  # a row (an older kitetui's, or hold_rows)
        await asyncio.wait_for(journal.flush(), TIMEOUT_S)
        assert await signals_by_engine(db, RUN) == {"eq": 4}
        resumed = Journal(db, RUN)
        await asyncio.wait_for(resumed.load_sequences(), TIMEOUT_S)
        assert resumed.journaled["signals"] == 4
    finally:
        await db.close()


@pytest.mark.parametrize("hold_rows", [False, True])
async def test_a_holds_signal_is_built_only_for_a_row(tmp_path: Path, hold_rows: bool) -> None:
    """The engines hand a HOLD over with a factory of its ``Signal`` (one, or a run of
    them with ``add_holds``): counted, it is never called; with ``hold_rows`` at once;
    after the last cursor, once at close, in the order handed over."""
    db = await asyncio.wait_for(open_database(tmp_path / "state.db"), TIMEOUT_S)
    built: list[int] = []

    def factory(n: int) -> tuple[Signal, Callable[[], Signal]]:
        signal = hold(n)

        def make() -> Signal:
            built.append(n)
            return signal

        return signal, make

    def lazy(n: int) -> None:
        signal, make = factory(n)
        journal.add_hold(signal.engine, signal.symbol, signal.reason, signal.ts_ns, make)

    def lazy_run(*numbers: int) -> None:
        run = [factory(n) for n in numbers]
        journal.add_holds(
            as_runs([(s.engine, s.symbol, s.reason, s.ts_ns, make, ()) for s, make in run])
        )

    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0, hold_rows=hold_rows)
        lazy(0)
        lazy_run(1, 2)
        journal.set_cursor(MORNING + 60 * NS)
        assert built == ([0, 1, 2] if hold_rows else [])
        lazy_run(3, 4)  # after the last cursor
        lazy(5)
        assert built == ([0, 1, 2, 3, 4, 5] if hold_rows else [])
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
        assert built == [0, 1, 2, 3, 4, 5] if hold_rows else [3, 4, 5]
        assert await count_signals(db, RUN) == 6
    finally:
        await db.close()


async def test_hold_rows_keeps_a_signal_row_per_hold(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, hold_rows=True)
        for n in range(3):
            add_hold(journal, hold(n))
        journal.set_cursor(MORNING)
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
        with sqlite3.connect(path) as conn:
            kinds = conn.execute("SELECT kind, indicators FROM signals").fetchall()
        assert kinds == [("HOLD", '{"ema_fast":100.0}')] * 3
        assert _rows(path) == []
    finally:
        await db.close()


# A run: batches of HOLDs (symbol index, reason index) for two symbols.
RUNS = st.lists(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2)), min_size=0, max_size=4),
    min_size=1,
    max_size=12,
)


async def _play(
    path: Path, batches: list[list[tuple[int, int]]], kill_at: int | None, flushes: set[int]
) -> None:
    """Process the batches after the journaled cursor, then the end of the data (HOLDs
    after the last batch, decided again by every process that gets there, as a resumed
    run replays to the end); with ``kill_at``, stop dead (no close, no drain) after that
    many items, as SIGKILL would."""
    db = await open_database(path)
    try:
        run = await db.execute("SELECT cursor_ns FROM runs WHERE run_id = ?", (RUN,))
        row = await run.fetchone()
        if row is None:
            await create_run(db, RUN, "replay", "c.yaml", "h")
        finished = 0 if row is None else row[0]  # batches up to the cursor
        journal = Journal(db, RUN, flush_interval_s=60.0)
        await journal.load_sequences()
        done = 0
        for index, batch in enumerate(batches):
            if index < finished:
                continue  # the warm-up: replayed silently
            for symbol, reason in batch:
                if kill_at is not None and done == kill_at:
                    return
                done += 1
                add_hold(journal, hold(index, f"S{symbol}", f"r{reason}"))
                if done in flushes:
                    await journal.flush()  # a flush mid-batch (an order, a timer)
            journal.set_cursor(index + 1)  # cursor_ns: the batch index + 1
            if index in flushes:
                await journal.flush()
        for symbol in (0, 1):  # the end of the data flushes partial bars
            if kill_at is not None and done == kill_at:
                return
            done += 1
            add_hold(journal, hold(len(batches), f"S{symbol}", "end"))
        await journal.close()
    finally:
        await db.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=RUNS,
    kills=st.lists(st.integers(0, 20), max_size=3),
    flushes=st.sets(st.integers(0, 30), max_size=8),
)
def test_a_run_killed_anywhere_and_resumed_counts_what_a_clean_run_counts(
    tmp_path_factory, batches: list[list[tuple[int, int]]], kills: list[int], flushes: set[int]
) -> None:
    folder = tmp_path_factory.mktemp("holds")
    clean, crashed = folder / "clean.db", folder / "crashed.db"

    async def scenario() -> None:
        await _play(clean, batches, None, flushes)
        for kill_at in kills:
            await _play(crashed, batches, kill_at, flushes)
        await _play(crashed, batches, None, flushes)

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert _rows(crashed) == _rows(clean)
    assert sum(r[4] for r in _rows(clean)) == sum(len(b) for b in batches)
    with sqlite3.connect(crashed) as conn:  # the end's, once each
        assert conn.execute("SELECT count(*) FROM signals").fetchone()[0] == 2


async def test_a_schema_5_database_migrates_and_its_hold_rows_still_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    for module in (schema, database):  # the kitetui before hold counts
        monkeypatch.setattr(module, "MIGRATIONS", schema.MIGRATIONS[:5])
        monkeypatch.setattr(module, "SCHEMA_VERSION", 5)
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN)
        for n in range(3):
            journal.add_signal(hold(n))  # how it journaled every HOLD
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
    finally:
        await db.close()
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        assert await count_signals(db, RUN) == 3
        journal = Journal(db, RUN)
        await journal.load_sequences()
        add_hold(journal, hold(3))
        journal.set_cursor(MORNING + 3 * 60 * NS)
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
        assert await count_signals(db, RUN) == 4
        assert await signals_by_engine(db, RUN) == {"eq": 4}
    finally:
        await db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 8


@given(st.lists(st.integers(1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + 5 * 86_400 * 10**9)))
def test_the_counters_day_is_the_ist_day_of_each_time(stamps: list[int]) -> None:
    """``_day_of`` keeps the last day's span and works the day out again only outside
    it: for any times, in any order, across IST midnights, it is ``ist_day_number``."""
    counter = HoldCounter()
    for ts in stamps:
        assert counter._day_of(ts) == ist_day_number(ts)
        midnight = ist_day_start_ns(date_of_day_number(ist_day_number(ts)))
        for edge in (midnight - 1, midnight, midnight + 86_400 * 10**9 - 1):
            assert counter._day_of(edge) == ist_day_number(edge)
