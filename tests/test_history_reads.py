"""The database's history for a screen (kitetui/history_reads.py): pages, filters, runs,
reports and exports of a real journal, read without changing it."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from kitetui.backtest.build import build_report
from kitetui.backtest.ledger import load_ledger
from kitetui.control.reads import HistoryError
from kitetui.history_reads import (
    SEARCHED,
    TABLES,
    DatabaseReads,
    export_path,
    read_page,
    read_report,
    read_runs,
    write_export,
)
from kitetui.runs_listing import list_runs
from tests.history_helpers import journal_db, kitetui


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return journal_db(tmp_path_factory.mktemp("history"), runs=2)


def _fingerprint(db: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.parent.iterdir()}


def _sql(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql, args).fetchall()


def _runs(db: Path) -> list[str]:
    return [r for (r,) in _sql(db, "SELECT run_id FROM runs ORDER BY started_wall_ns")]


@pytest.mark.parametrize("table", TABLES)
def test_pages_cover_the_run_newest_first_without_overlap(db: Path, table: str) -> None:
    run = _runs(db)[0]
    (total,) = _sql(db, f"SELECT count(*) FROM {table} WHERE run_id = ?", run)[0]
    assert total > 20
    seen: list[int] = []
    offset = 0
    while True:
        page = read_page(db, run, table, offset=offset, limit=20)
        assert page.run_id == run and page.table == table and page.total == total
        views = getattr(page, table)
        assert page.count == len(views) <= 20
        if not views:
            break
        seen += [v.ts_ns for v in views]
        offset += 20
    assert len(seen) == total
    assert seen == sorted(seen, reverse=True)  # newest first, across pages
    assert read_page(db, run, table, offset=total, limit=20).count == 0


def test_a_filter_keeps_the_rows_with_every_word_and_counts_them_all(db: Path) -> None:
    run = _runs(db)[0]
    columns = ", ".join(SEARCHED["events"])
    everything = _sql(db, f"SELECT {columns} FROM events WHERE run_id = ?", run)
    words = ("bar", "SKIPPED")
    expected = [
        row for row in everything if all(any(w.lower() in c.lower() for c in row) for w in words)
    ]
    assert 0 < len(expected) < len(everything)
    page = read_page(db, run, "events", "  bar   SKIPPED ", limit=1000)
    assert page.total == page.count == len(expected)
    assert page.filter == "bar SKIPPED"
    assert all("barskipped" in v.kind.lower() + v.message.lower() for v in page.events)


def test_a_filter_word_is_text_not_a_pattern(db: Path) -> None:
    run = _runs(db)[0]
    columns = ", ".join(SEARCHED["orders"])
    everything = _sql(db, f"SELECT {columns} FROM orders WHERE run_id = ?", run)
    for word in ("%", "_", "\\"):
        literal = [row for row in everything if any(word in c for c in row)]
        assert read_page(db, run, "orders", word).total == len(literal) < len(everything)


def test_signals_carry_their_risk_verdict(db: Path) -> None:
    run = _runs(db)[0]
    page = read_page(db, run, "signals", limit=1000)
    decided = {
        sid for (sid,) in _sql(db, "SELECT signal_id FROM risk_decisions WHERE run_id=?", run)
    }
    with_verdict = {s.signal_id for s in page.signals if s.risk_verdict}
    assert with_verdict and with_verdict <= decided
    assert all(s.indicators for s in page.signals)


def test_a_run_by_prefix_or_latest(db: Path) -> None:
    first, second = _runs(db)
    assert read_page(db, first[:-2], "fills").run_id == first
    assert read_page(db, "latest", "fills").run_id == second


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nosuchrun", "orders"), "no run 'nosuchrun'"),
        (("latest", "positions"), "no history table 'positions'"),
        (("latest", "orders", "", -1), "offset must be >= 0"),
        (("latest", "orders", "", 0, 0), "limit 1..1000"),
    ],
    ids=["unknown-run", "unknown-table", "negative-offset", "no-limit"],
)
def test_refusals_are_one_line(db: Path, args: tuple, says: str) -> None:
    with pytest.raises(HistoryError) as caught:
        read_page(db, *args)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no such database"):
        read_page(tmp_path / "none.db", "latest", "orders")
    with pytest.raises(HistoryError, match="no such database"):
        read_runs(tmp_path / "none.db")


def test_runs_are_kitetui_runs_own_lines(db: Path) -> None:
    runs = read_runs(db)
    assert [r.run_id for r in runs] == [line.run_id for line in list_runs(db)]
    assert [r.realized_pnl for r in runs] == [line.realized_pnl for line in list_runs(db)]


def test_the_report_headline_is_the_reports(db: Path) -> None:
    run = _runs(db)[1]
    view = read_report(db, run[:-2])
    report = build_report(load_ledger(db, run))
    assert view.run.run_id == run
    assert view.headline.gross == float(report.total.gross_pnl)
    assert view.headline.charges == float(report.total.charges.total) > 0
    assert view.headline.net == pytest.approx(float(report.total.net_pnl), abs=0.005)
    (orders,) = _sql(db, "SELECT count(*) FROM orders WHERE run_id = ?", run)[0]
    assert view.headline.orders == orders and view.headline.trades == report.total.trades
    with pytest.raises(HistoryError, match="no run 'zzz'"):
        read_report(db, "zzz")


@pytest.mark.parametrize("what", ["orders", "trades", "events"])
def test_an_export_is_the_command_lines_file(db: Path, tmp_path: Path, what: str) -> None:
    run = _runs(db)[0]
    cli_out = tmp_path / f"cli-{what}.csv"
    proc = kitetui("export", "--db", str(db), "--run", run, "--what", what, "--out", str(cli_out))
    assert proc.returncode == 0, proc.stderr
    done = write_export(db, run, what, str(tmp_path / f"tui-{what}.csv"))
    written = Path(done.path)
    assert written.read_bytes() == cli_out.read_bytes()
    assert written.stat().st_mode & 0o777 == 0o600
    assert done.run_id == run and done.what == what
    assert done.rows == len(cli_out.read_text().splitlines()) - 1 > 0


def test_a_relative_export_lands_beside_the_database(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    assert export_path(copy, "x.csv") == tmp_path.resolve() / "x.csv"
    done = write_export(copy, "latest", "fills", "fills.csv")
    assert Path(done.path) == tmp_path.resolve() / "fills.csv" and done.rows > 0


@pytest.mark.parametrize(
    ("what", "out", "says"),
    [
        ("positions", "x.csv", "cannot export 'positions'"),
        ("fills", "", "give the export a file name"),
        ("fills", "/nonexistent-dir/x.csv", "cannot write the export"),
        ("fills", "../x.csv", "a relative export stays inside the database's folder"),
        ("fills", "/dev/stderr", "is a symbolic link"),
    ],
)
def test_export_refusals_are_one_line(db: Path, what: str, out: str, says: str) -> None:
    with pytest.raises(HistoryError) as caught:
        write_export(db, "latest", what, out)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_desk_never_exports_through_a_link_nor_into_a_fifo(db: Path, tmp_path: Path) -> None:
    """A socket request for a FIFO held a desk worker thread for good (six of them and
    no read answered, and SIGTERM no longer ended the desk); one for a symlink replaced
    its target."""
    import os
    import threading

    copy = tmp_path / "state.db"
    copy.write_bytes(db.read_bytes())
    victim = tmp_path / "victim.yaml"
    victim.write_text("mine")
    (tmp_path / "link.csv").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo")
    outcomes: dict[str, str] = {}

    def attempt(out: str) -> None:
        try:
            write_export(copy, "latest", "fills", out)
            outcomes[out] = "written"
        except HistoryError as exc:
            outcomes[out] = str(exc)

    for out in ("link.csv", "fifo"):
        worker = threading.Thread(target=attempt, args=(out,), daemon=True)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), f"an export to {out} blocked"
    assert "is a symbolic link" in outcomes["link.csv"]
    assert "is not a regular file" in outcomes["fifo"]
    assert victim.read_text() == "mine"


def test_an_export_never_replaces_a_database(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "state.db"
    copy.write_bytes(db.read_bytes())
    other = tmp_path / "other.db"
    other.write_bytes(db.read_bytes())
    before = _fingerprint(copy)
    for out in ("state.db", "state.db-wal", str(other)):
        with pytest.raises(HistoryError, match="is a database"):
            write_export(copy, "latest", "fills", out)
    assert _fingerprint(copy) == before


def test_reads_change_nothing(db: Path, tmp_path: Path) -> None:
    before = _fingerprint(db)
    for table in TABLES:
        read_page(db, "latest", table, "sbin")
    read_runs(db)
    read_report(db, "latest")
    write_export(db, "latest", "signals", str(tmp_path / "s.csv"))
    assert _fingerprint(db) == before


async def test_the_desks_reads_flush_first_and_default_to_its_run(db: Path) -> None:
    first, _second = _runs(db)
    flushed: list[int] = []

    async def flush() -> None:
        flushed.append(1)

    reads = DatabaseReads(db, current_run=lambda: first, flush=flush)
    page = await asyncio.wait_for(reads.history("orders", limit=5), 30)
    assert page.run_id == first and page.count == 5
    assert (await asyncio.wait_for(reads.run_report(), 30)).run.run_id == first
    assert len(await asyncio.wait_for(reads.runs(), 30)) == 2
    assert len(flushed) == 3


def test_the_desk_never_exports_through_a_link_planted_after_its_check(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export is built between the path's check and the write (a report of the whole
    run): a link planted in that time had the write follow it and replace its target."""
    from kitetui import history_reads

    copy = tmp_path / "state.db"
    copy.write_bytes(db.read_bytes())
    victim = tmp_path / "victim.yaml"
    victim.write_text("mine")
    checked = history_reads.export_path

    def check_then_plant(database: Path, out: str) -> Path:
        path = checked(database, out)
        path.symlink_to(victim)  # the race, won by whoever plants the link
        return path

    monkeypatch.setattr(history_reads, "export_path", check_then_plant)
    with pytest.raises(HistoryError, match="is a symbolic link"):
        write_export(copy, "latest", "fills", "fills.csv")
    assert victim.read_text() == "mine"
