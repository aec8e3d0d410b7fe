"""The journal on a full disk, and the seal of every chained row it writes.

A full database is made with SQLite's own ``PRAGMA max_page_count`` on the journal's
connection (no root, no loop device): the write fails with SQLITE_FULL exactly as on a
full filesystem. An ``OSError(ENOSPC)`` is injected where the writer commits. Either
way: a ``DiskFull`` with one line, nothing committed lost, nothing buffered dropped,
every later write refused, and the file verifies afterwards.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from kitetui.cli import EXIT_DISK_FULL, _classify
from kitetui.domain import Event, OrderStatus
from kitetui.store import errors
from kitetui.store import journal as journal_module
from kitetui.store.commit_policy import CommitPolicy
from kitetui.store.database import open_database
from kitetui.store.errors import DiskFull
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run, find_resumable_run, finish_run, load_orders
from kitetui.store.verify import verify_database

from .journal_support import RUN, fill, order, risk_state

TIMEOUT_S = 20.0


async def bounded(awaitable):
    return await asyncio.wait_for(awaitable, TIMEOUT_S)


@pytest.fixture
def forget_disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process-wide memory of a full disk starts clean in each test."""
    monkeypatch.setattr(errors, "_disk_full_seen", False)


async def scalar(db: aiosqlite.Connection, sql: str) -> int:
    return (await (await db.execute(sql)).fetchone())[0]


class _NoSpaceOnCommit:
    """A sqlite3 connection whose commit fails as a full filesystem makes it fail."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def commit(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def no_space_at_commit(commit: Callable[..., None]) -> Callable[..., None]:
    """The journal's one transaction (``journal._commit``), failing at its commit."""
    return lambda con, *args: commit(_NoSpaceOnCommit(con), *args)


def event(i: int) -> Event:
    return Event(ts_ns=i, kind="TickSkipped", message="m" * 300, data={"i": i})


async def test_flush_with_database_full_raises_disk_full_and_loses_nothing(
    tmp_path: Path, forget_disk_full: None
) -> None:
    path = tmp_path / "state.db"
    db = await bounded(open_database(path))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0)
        await bounded(journal.write_order(order("T00")))  # committed before the disk fills
        pages = await scalar(db, "PRAGMA page_count")
        await db.execute(f"PRAGMA max_page_count = {pages + 2}")
        for i in range(2_000):
            journal.add_event(event(i))
        with pytest.raises(DiskFull, match="no space left") as full:
            await bounded(journal.flush())
        assert "\n" not in str(full.value)
        assert len(journal._events) == 2_000  # put back, not dropped
        # From now on every write refuses at once, the durable ones too.
        with pytest.raises(DiskFull):
            journal.add_event(event(-1))
        with pytest.raises(DiskFull):
            await bounded(journal.write_order(order("T01")))
        # Space comes back: close still drains what was buffered, then says what happened.
        await db.execute("PRAGMA max_page_count = 1073741823")
        with pytest.raises(DiskFull):
            await bounded(journal.close())
        assert await scalar(db, "SELECT count(*) FROM events") == 2_001
        assert [o.tag for o in await load_orders(db, RUN)] == ["T00"]
    finally:
        await db.close()
    verified = verify_database(path, trust_seal=False)
    assert verified.rows["orders"] == 1 and verified.rows["order_events"] == 1


async def test_write_fill_with_enospc_at_commit_raises_disk_full_and_rolls_back(
    journal_db: Path, monkeypatch: pytest.MonkeyPatch, forget_disk_full: None
) -> None:
    db = await bounded(open_database(journal_db))
    try:
        journal = Journal(db, RUN, flush_interval_s=60.0)
        await journal.load_sequences()
        await bounded(journal.write_order(order("T99")))

        done = order("T99", OrderStatus.COMPLETE, filled_qty=50, avg_price=18_305.05)
        with monkeypatch.context() as patch:
            patch.setattr(journal_module, "_commit", no_space_at_commit(journal_module._commit))
            with pytest.raises(DiskFull, match="No space left on device"):
                await bounded(journal.write_fill(fill("T99-1", "T99"), done, None, 5))
        assert await scalar(db, "SELECT count(*) FROM fills WHERE tag = 'T99'") == 0
        assert journal._fill_seq == 3  # the failed fill's number is not used up
        assert errors.disk_full_seen()
    finally:
        await db.close()
    verify_database(journal_db, trust_seal=False)


def test_classify_with_disk_full_anywhere_in_the_chain_is_exit_six() -> None:
    full = DiskFull("state.db: journal: no space left")
    assert _classify(full) == (EXIT_DISK_FULL, full)
    try:
        try:
            raise full
        except DiskFull:
            raise ValueError("no active connection") from None  # shutdown failing after it
    except ValueError as later:
        later.__context__ = full
        assert _classify(later) == (EXIT_DISK_FULL, full)
    raw = OSError(errno.ENOSPC, "No space left on device")
    assert _classify(raw)[0] == EXIT_DISK_FULL


def test_classify_a_run_that_still_holds_at_kite_is_exit_two() -> None:
    # cli.py does not import kitetui.store.runs at its top (every command paid for it):
    # the error is still told apart once the desk's start has raised it.
    from kitetui.cli import EXIT_CONFIG
    from kitetui.store.runs import RunStillHolds

    held = RunStillHolds("state.db: the last run still holds NIFTY22NOVFUT +50")
    assert _classify(held) == (EXIT_CONFIG, held)


async def test_finish_run_after_disk_full_keeps_the_run_resumable(
    tmp_path: Path, forget_disk_full: None
) -> None:
    db = await bounded(open_database(tmp_path / "state.db"))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        errors.disk_full("somewhere", OSError(errno.ENOSPC, "No space left on device"))
        await finish_run(db, RUN, "FAILED")
        assert (await scalar(db, "SELECT status = 'STOPPED' FROM runs")) == 1
        assert (await find_resumable_run(db, "replay", "h")).run_id == RUN
    finally:
        await db.close()


async def test_finish_run_without_disk_full_records_failed(
    tmp_path: Path, forget_disk_full: None
) -> None:
    db = await bounded(open_database(tmp_path / "state.db"))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        await finish_run(db, RUN, "FAILED")
        assert await find_resumable_run(db, "replay", "h") is None
    finally:
        await db.close()


async def test_journal_writes_with_every_path_leave_every_chain_sealed(journal_db: Path) -> None:
    # Every public write of the journal, once more on top of the fixture's: the file
    # must verify in full after each commit, not only at the end.
    db = await bounded(open_database(journal_db))
    try:
        journal = Journal(db, RUN, flush_interval_s=60.0)
        await journal.load_sequences()
        steps = [
            lambda: journal.write_order(order("N1")),
            lambda: journal.write_order_state(order("N1", OrderStatus.OPEN), 9),
            lambda: journal.write_fill(
                fill("N1-1", "N1", qty=20),
                order("N1", OrderStatus.OPEN, filled_qty=20, avg_price=18_305.05),
                None,
                9,
            ),
            lambda: journal.set_desk_state("kill_switch", {"on": True, "reason": "x"}),
            lambda: journal.set_desk_state("note", [1, 2]),
        ]
        for step in steps:
            await bounded(step())
            verify_database(journal_db, trust_seal=False)
        journal.update_order(order("N1", OrderStatus.CANCELLED, filled_qty=20), 10)
        journal.set_cursor(12_345)
        journal.set_risk_state({**risk_state(), "entries_paused": True})
        await bounded(journal.flush())
        verified = verify_database(journal_db, trust_seal=False)
        assert verified.rows["desk_state"] == 2
        assert verified.rows["orders"] == 7
    finally:
        await db.close()


async def test_instruments_of_a_day_go_with_the_next_transaction_and_keep_what_it_has(
    tmp_path: Path, forget_disk_full: None
) -> None:
    """A day's master waits for the next transaction (the day's first batch does not wait
    on a commit of its own); a second run of the day keeps the rows the day has and adds
    the instruments listed since; a failed transaction gives them back for the next."""
    db = await bounded(open_database(tmp_path / "state.db"))
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        journal = Journal(db, RUN, flush_interval_s=60.0)

        def row(token: int, symbol: str, price: float) -> tuple:
            return (token, token, symbol, symbol, price, "", 0.0, 0.05, 1, "EQ", "NSE", "NSE")

        journal.add_instruments("2024-01-15", [row(1, "SBIN", 600.0), row(2, "INFY", 1500.0)])
        assert await scalar(db, "SELECT count(*) FROM instruments") == 0  # not yet
        await bounded(journal.flush())
        assert await scalar(db, "SELECT count(*) FROM instruments") == 2
        journal.add_instruments("2024-01-15", [row(1, "SBIN", 999.0), row(3, "TCS", 3500.0)])
        await db.execute("CREATE TEMP TRIGGER refuse BEFORE INSERT ON instruments "
                         "BEGIN SELECT RAISE(ABORT, 'refused'); END")  # fmt: skip
        with pytest.raises(errors.WriteFailed, match="refused"):
            await bounded(journal.flush())
        await db.execute("DROP TRIGGER refuse")
        # A failed write stops the journal (the desk must not trade on unjournaled);
        # closing drains what was given back once more, and still says it failed.
        with pytest.raises(errors.WriteFailed):
            await bounded(journal.close())
        rows = await (
            await db.execute("SELECT tradingsymbol, last_price FROM instruments ORDER BY 1")
        ).fetchall()
        assert [tuple(r) for r in rows] == [("INFY", 1500.0), ("SBIN", 600.0), ("TCS", 3500.0)]
    finally:
        await db.close()


async def test_inline_journal_under_a_loop_that_never_idles_commits_on_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay at full speed keeps the loop busy, yielding only now and then: the
    journal then writes on the loop's own thread, so its timer's flushes commit while
    the run goes on (on aiosqlite's thread they waited for the GIL until the end)."""
    db = await bounded(open_database(tmp_path / "state.db"))
    threads: list[int] = []
    commit = journal_module._commit

    def on_which_thread(con: sqlite3.Connection, *args: Any) -> None:
        threads.append(threading.get_ident())
        commit(con, *args)

    monkeypatch.setattr(journal_module, "_commit", on_which_thread)
    try:
        await create_run(db, RUN, "replay", "c.yaml", "h")
        # Only the timer wakes a flush here (no row count reaches flush_rows).
        journal = Journal(
            db, RUN, flush_interval_s=0.05, flush_rows=10**9, commits=CommitPolicy.BATCH
        )
        journal.inline = True
        journal.start()
        ends = time.monotonic() + 1.0
        i = spins = 0
        while time.monotonic() < ends:  # busy, as the replay is between its yields
            spins += 1
            if spins % 64 == 0:  # a batch's rows, then the replay's yield to the loop
                journal.add_event(event(i))
                i += 1
                await asyncio.sleep(0)
        during = journal.flushes
        await bounded(journal.close())
        assert during >= 5, f"{during} flushes in a second of 0.05 s intervals"
        assert set(threads) == {threading.get_ident()}
        assert await scalar(db, "SELECT count(*) FROM events") == i
    finally:
        await db.close()


class _IoErrorOnCommit(_NoSpaceOnCommit):
    """What a file size limit (``ulimit -f``) or a failing disk makes SQLite raise."""

    def commit(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")


async def test_an_io_error_in_the_flush_task_stops_every_later_write_not_just_the_task(
    journal_db: Path, monkeypatch: pytest.MonkeyPatch, forget_disk_full: None
) -> None:
    """The flush task caught only a full disk: an I/O error ended it in silence, and the
    desk traded on for days with nothing journaled (54 fills of 86 kept, no alarm)."""
    db = await bounded(open_database(journal_db))
    try:
        journal = Journal(db, RUN, flush_interval_s=0.01)
        await journal.load_sequences()
        journal.start()
        commit = journal_module._commit
        with monkeypatch.context() as patch:
            failing = lambda con, *args: commit(_IoErrorOnCommit(con), *args)  # noqa: E731
            patch.setattr(journal_module, "_commit", failing)
            journal.add_event(event(1))
            for _ in range(200):
                await asyncio.sleep(0.01)
                if journal.failure is not None:
                    break
        assert isinstance(journal.failure, errors.WriteFailed)
        assert "cannot write (disk I/O error)" in str(journal.failure)
        with pytest.raises(errors.WriteFailed):
            journal.add_event(event(2))
        with pytest.raises(errors.WriteFailed):
            await bounded(journal.write_order(order("T98")))
        assert _classify(journal.failure)[0] == EXIT_DISK_FULL
        assert errors.disk_full_seen()  # the run stays resumable
        with pytest.raises(errors.WriteFailed):
            await bounded(journal.close())  # drained once more, and says what happened
    finally:
        await db.close()
