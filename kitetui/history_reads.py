"""The database's history for a screen: the runs, any run's report and tables, exports.

The desk keeps only the newest few hundred orders, signals and events in its snapshot;
a trader looking for Tuesday's rejected order needs the whole journal. These reads
answer the control socket's ``runs``, ``history``, ``run-report`` and ``export``
requests (and the local TUI's same calls) from the desk's database file, opened
read-only (``mode=ro``, as ``kitetui runs`` and ``kitetui export`` open it) in a worker
thread: a search over 100,000 events never runs on the trading loop, and a read can
never change, lock or block the journal.

``kitetui runs`` (``runs_listing``), ``kitetui report`` (``backtest.build``) and
``kitetui export`` (``export``) are reused as they are, so the screen, the command
line and the file agree row for row. Every refusal is a ``HistoryError`` of one line.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from kitetui.backtest.errors import OutputError, RunNotFound
from kitetui.clock import ist_date
from kitetui.control.reads import HistoryError
from kitetui.store.errors import DatabasePathError, DatabaseRefused, RowError
from kitetui.views import (
    EventView,
    ExportResult,
    HeadlineView,
    HistoryFillView,
    HistoryPage,
    OrderView,
    RunReportView,
    RunView,
    SignalView,
)

#: The journal tables a history page can list.
TABLES = ("orders", "fills", "signals", "events")
#: The most rows one page may ask for (a screen shows a few dozen).
MAX_LIMIT = 1000

# ``kitetui report``'s, ``runs``' and ``export``'s modules (the ledger, the report's
# figures: ~10 ms of CPU) are imported by the read that uses them: every desk builds a
# DatabaseReads at start, most are never asked for history, and a crash test restarts
# the desk a hundred times.

_REFUSALS = (RunNotFound, OutputError, DatabasePathError, DatabaseRefused, RowError, OSError)


# -- what each table lists and where its filter looks --------------------------------------

_COLUMNS = {
    "orders": "tag, ts_ns, engine, symbol, side, quantity, order_type, purpose, status, "
    "price, trigger_price, filled_qty, avg_price, reason",
    "fills": "fill_id, ts_ns, tag, engine, symbol, side, quantity, price",
    "signals": "rowid, signal_id, ts_ns, engine, strategy, symbol, kind, price, reason, "
    "confidence, indicators, (SELECT d.verdict || char(31) || d.reason FROM risk_decisions d "
    "WHERE d.run_id = signals.run_id AND d.signal_id = signals.signal_id ORDER BY d.id LIMIT 1)",
    "events": "id, ts_ns, kind, level, message, symbol, engine",
}
#: The text columns a filter word may match (case-insensitive, anywhere in the text).
SEARCHED = {
    "orders": ("tag", "symbol", "engine", "side", "order_type", "purpose", "status", "reason"),
    "fills": ("fill_id", "tag", "symbol", "engine", "side"),
    "signals": ("symbol", "engine", "strategy", "kind", "reason", "signal_id"),
    "events": ("kind", "level", "symbol", "engine", "message"),
}
_NEWEST_FIRST = {
    "orders": "ts_ns DESC, seq DESC",
    "fills": "ts_ns DESC, seq DESC",
    "signals": "ts_ns DESC, rowid DESC",
    "events": "ts_ns DESC, id DESC",
}


def _order(r: Sequence[Any]) -> OrderView:
    return OrderView(
        tag=r[0], ts_ns=r[1], engine=r[2], symbol=r[3], side=r[4], quantity=r[5],
        order_type=r[6], purpose=r[7], status=r[8], price=r[9], trigger_price=r[10],
        filled_qty=r[11], avg_price=r[12], reason=r[13],
    )  # fmt: skip


def _fill(r: Sequence[Any]) -> HistoryFillView:
    return HistoryFillView(*r[:7], price=float(r[7]))


def _signal(r: Sequence[Any]) -> SignalView:
    verdict, _, why = (r[11] or "").partition("\x1f")
    return SignalView(
        seq=r[0], signal_id=r[1], ts_ns=r[2], engine=r[3], strategy=r[4], symbol=r[5],
        kind=r[6], price=float(r[7]), reason=r[8], confidence=float(r[9]),
        indicators=_indicators(r[10]), risk_verdict=verdict, risk_reason=why,
    )  # fmt: skip


def _event(r: Sequence[Any]) -> EventView:
    return EventView(
        seq=r[0], ts_ns=r[1], kind=r[2], level=r[3], message=r[4], symbol=r[5], engine=r[6]
    )


def _indicators(text: str) -> tuple[tuple[str, float], ...]:
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(data, dict):
        return ()
    return tuple(
        (str(k), float(v))
        for k, v in data.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    )


_VIEWS: dict[str, Callable[[Sequence[Any]], Any]] = {
    "orders": _order,
    "fills": _fill,
    "signals": _signal,
    "events": _event,
}


def filter_clause(table: str, text: str) -> tuple[str, list[str]]:
    """SQL that keeps the rows where every word of ``text`` appears in one of the table's
    searched columns (case-insensitive, as the desk's own filter), and its parameters."""
    words = text.lower().split()
    clauses, params = [], []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(" + " OR ".join(f"lower({c}) LIKE ? ESCAPE '\\'" for c in SEARCHED[table]) + ")"
        )
        params.extend([pattern] * len(SEARCHED[table]))
    return "".join(f" AND {c}" for c in clauses), params


# -- the reads (blocking: run them in a thread) ------------------------------------------


def _connect(database: Path) -> sqlite3.Connection:
    from kitetui.backtest.ledger import open_read_only

    try:
        return open_read_only(database)
    except (DatabasePathError, DatabaseRefused) as exc:
        raise HistoryError(str(exc)) from None


def resolve_run(database: Path, wanted: str) -> str:
    """The id of the run ``wanted`` names (an id, a unique prefix or ``latest``)."""
    from kitetui.backtest.ledger import find_run

    conn = _connect(database)
    try:
        return find_run(conn, wanted).run_id
    except RunNotFound as exc:
        raise HistoryError(str(exc)) from None
    finally:
        conn.close()


def read_page(
    database: Path, run: str, table: str, text: str = "", offset: int = 0, limit: int = 100
) -> HistoryPage:
    """Rows ``offset`` … ``offset + limit`` (newest first) of ``table`` in ``run`` that
    match the filter ``text``, and how many match in all."""
    if table not in TABLES:
        raise HistoryError(f"no history table {table!r}; one of: {', '.join(TABLES)}")
    if offset < 0 or not 0 < limit <= MAX_LIMIT:
        raise HistoryError(f"offset must be >= 0 and limit 1..{MAX_LIMIT}")
    from kitetui.backtest.ledger import find_run

    conn = _connect(database)
    try:
        run_id = find_run(conn, run).run_id
        where, params = filter_clause(table, text)
        (total,) = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE run_id = ?{where}", (run_id, *params)
        ).fetchone()
        rows = conn.execute(
            f"SELECT {_COLUMNS[table]} FROM {table} WHERE run_id = ?{where} "
            f"ORDER BY {_NEWEST_FIRST[table]} LIMIT ? OFFSET ?",
            (run_id, *params, limit, offset),
        ).fetchall()
        first, last = conn.execute(
            f"SELECT MIN(ts_ns), MAX(ts_ns) FROM {table} WHERE run_id = ? AND ts_ns > 0",
            (run_id,),
        ).fetchone()
    except RunNotFound as exc:
        raise HistoryError(str(exc)) from None
    except sqlite3.Error as exc:
        raise HistoryError(f"{database}: cannot read {table}: {exc}") from None
    finally:
        conn.close()
    views = tuple(_VIEWS[table](row) for row in rows)
    dated = first is not None and ist_date(first) != ist_date(last)
    return HistoryPage(
        run_id=run_id,
        table=table,
        filter=" ".join(text.split()),
        offset=offset,
        total=total,
        dated=dated,
        **{table: views},
    )


def read_runs(database: Path) -> tuple[RunView, ...]:
    """Every run of the database, oldest first, as ``kitetui runs`` lists them."""
    from kitetui.runs_listing import list_runs

    try:
        lines = list_runs(database)
    except (DatabasePathError, DatabaseRefused) as exc:
        raise HistoryError(str(exc)) from None
    return tuple(
        RunView(**{f.name: getattr(line, f.name) for f in dataclasses.fields(RunView)})
        for line in lines
    )


def read_report(database: Path, run: str) -> RunReportView:
    """The report's headline figures of ``run`` (``kitetui report``'s own computation)."""
    from kitetui.backtest.build import build_report
    from kitetui.backtest.ledger import load_ledger

    try:
        report = build_report(load_ledger(database, run))
    except _REFUSALS as exc:
        raise HistoryError(str(exc)) from None
    ledger, total = report.ledger, report.total
    line = next((r for r in read_runs(database) if r.run_id == ledger.run.run_id), None)
    if line is None:
        raise HistoryError(f"no run {run!r} in {database}")
    headline = HeadlineView(
        gross=float(total.gross_pnl),
        charges=float(total.charges.total),
        trades=total.trades,
        won=total.wins,
        max_drawdown=float(report.mtm_drawdown.amount),
        orders=len(ledger.orders),
        fills=len(ledger.fills),
        days=len(ledger.days),
        open_positions=total.open_trades,
        note="; ".join(ledger.warnings),
    )
    return RunReportView(run=line, headline=headline)


def export_path(database: Path, out: str) -> Path:
    """Where an export asked for as ``out`` goes: a relative path is beside the database
    (the desk's directory, wherever the screen that asked runs).

    A relative path stays inside that folder, and the desk never writes through a
    symlink: a request on its socket naming ``../notes.yaml``, a link or ``/dev/stderr``
    had it replace the file (its own log, once). An absolute path is the trader's own
    choice, as ``kitetui export --out`` is."""
    folder = database.resolve().parent
    path = Path(out).expanduser()
    if not path.is_absolute():
        path = folder / path
        parent = path.parent.resolve()
        if parent != folder and folder not in parent.parents:
            raise HistoryError(
                f"{path}: a relative export stays inside the database's folder ({folder}); "
                "give an absolute path to write elsewhere"
            )
    if path.is_symlink():
        raise HistoryError(f"{path}: is a symbolic link; the desk never writes through one")
    return path.parent.resolve() / path.name if path.parent.exists() else path


def write_export(database: Path, run: str, what: str, out: str) -> ExportResult:
    """``kitetui export --what WHAT --run RUN --out OUT``, and how many rows it wrote."""
    from kitetui.export import WHATS, export

    if what not in WHATS:
        raise HistoryError(f"cannot export {what!r}; one of: {', '.join(WHATS)}")
    if not out.strip() or out.strip() == "-":
        raise HistoryError("give the export a file name")
    path = export_path(database, out.strip())
    if path.is_dir():
        raise HistoryError(f"{path}: is a directory; give a file name")
    try:
        run_id = export(database, run, what, str(path))
        with path.open(newline="", encoding="utf-8") as fh:
            rows = max(0, sum(1 for _ in csv.reader(fh)) - 1)
    except _REFUSALS as exc:
        raise HistoryError(str(exc)) from None
    return ExportResult(path=str(path), run_id=run_id, what=what, rows=rows)


# -- the desk's side ----------------------------------------------------------------------


class DatabaseReads:
    """The history reads of one desk's database, for its control server and local link.

    ``current_run`` names the desk's own run (the default of every read); ``flush``
    drains the journal first, so the newest fill is in the file a reader opens. Each
    read runs in a worker thread on its own read-only connection.
    """

    def __init__(
        self,
        database: str | Path,
        *,
        current_run: Callable[[], str] = lambda: "latest",
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.database = Path(database)
        self._current_run = current_run
        self._flush = flush

    def _run(self, run: str) -> str:
        return run or self._current_run() or "latest"

    async def _fresh(self) -> None:
        if self._flush is not None:
            await self._flush()

    async def runs(self) -> tuple[RunView, ...]:
        await self._fresh()
        return await asyncio.to_thread(read_runs, self.database)

    async def history(
        self, table: str, run: str = "", text: str = "", offset: int = 0, limit: int = 100
    ) -> HistoryPage:
        await self._fresh()
        return await asyncio.to_thread(
            read_page, self.database, self._run(run), table, text, offset, limit
        )

    async def run_report(self, run: str = "") -> RunReportView:
        await self._fresh()
        return await asyncio.to_thread(read_report, self.database, self._run(run))

    async def export(self, what: str, run: str = "", path: str = "") -> ExportResult:
        await self._fresh()
        return await asyncio.to_thread(write_export, self.database, self._run(run), what, path)
