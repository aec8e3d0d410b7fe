"""A run as the report sees it, read from its database opened READ-ONLY.

``kitetui report`` may be pointed at a desk's live ``state.db`` or at a backtest file
another process is still writing: opening it with ``mode=ro`` means the report can
never change it, however it fails. Rows are decoded by the store's own strict
decoders, so a damaged row is the same one-line refusal (exit 3) the desk gives.

A backtest journals one ``BacktestStarted`` event with what the report needs and the
journal does not otherwise keep (the capital, each engine's strategy and params, the
date window); a run without it (a desk's run) is reported all the same, its capital
taken from its first equity point.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kitetui.backtest.costs import JournaledFill, fill_charges, segment_from_symbol
from kitetui.backtest.errors import RunNotFound
from kitetui.backtest.run_warnings import run_warnings
from kitetui.clock import date_of_day_number, ist_day_number
from kitetui.domain import Order
from kitetui.events import EventKind
from kitetui.money import NO_CHARGES
from kitetui.performance.trades import FillRecord
from kitetui.store import rows as decode
from kitetui.store.errors import (
    DatabasePathError,
    DatabaseRefused,
    RowError,
    one_line,
    row_refusal,
)

STARTED_KIND = EventKind.BACKTEST_STARTED
_NEEDED = ("runs", "orders", "fills", "equity_curve", "events", "positions", "instruments")


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    mode: str
    status: str
    config_path: str
    started_wall_ns: int
    ended_wall_ns: int | None
    restarts: int


@dataclass(frozen=True, slots=True)
class EngineInfo:
    name: str
    kind: str
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ledger:
    """Everything the report is computed from."""

    database: Path
    run: RunInfo
    capital: Decimal
    engines: tuple[EngineInfo, ...]
    window: tuple[str | None, str | None]
    fills: tuple[FillRecord, ...]
    orders: tuple[Order, ...]
    equity: tuple[tuple[int, int], ...]  # (ts_ns, equity paise, gross of charges)
    marks: dict[str, Decimal]  # last price of each position still open
    warnings: tuple[str, ...] = ()
    backtest: bool = True  # a ``kitetui backtest`` run (its BacktestStarted journaled)

    @property
    def title(self) -> str:
        """What the run was, for the report's heading: a live desk's report was titled
        "Backtest" (probe C)."""
        return "Backtest" if self.backtest else f"{self.run.mode.capitalize()} run"

    @property
    def days(self) -> list[date]:
        """The run's trading days: every IST day with an equity point."""
        return [
            date_of_day_number(n) for n in sorted({ist_day_number(ts) for ts, _ in self.equity})
        ]

    @property
    def unpriced_fills(self) -> int:
        """Fills the rate table could not price: charged nothing, so the run's net P&L
        leaves their charges out (every figure that shows charges says so)."""
        return sum(1 for fill in self.fills if not fill.priced)

    @property
    def minutes(self) -> list[int]:
        return [ts for ts, _ in self.equity]

    def strategy_of(self, engine: str) -> str:
        for info in self.engines:
            if info.name == engine:
                return info.strategy
        return ""


def open_read_only(path: Path) -> sqlite3.Connection:
    """The database at ``path`` for reading only; refused (one line) if it is not one
    of kitetui's."""
    if not path.exists():
        raise DatabasePathError(f"{path}: no such database")
    if not path.is_file():
        raise DatabasePathError(f"{path}: not a database file")
    # A file with no WAL beside it is closed (a writer in WAL mode always has one): read
    # it as immutable, which creates nothing beside it. With a WAL, a desk may be writing:
    # a read-only connection then shares its -shm to see a consistent snapshot.
    wal = path.with_name(path.name + "-wal")
    flags = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?{flags}", uri=True)
        tables = {  # equity_curve is a view from schema 7 on
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        }
    except sqlite3.DatabaseError as exc:
        raise DatabaseRefused(
            f"{path}: cannot be read as a database ({one_line(str(exc), 100)}); "
            "it was left untouched"
        ) from None
    missing = [t for t in _NEEDED if t not in tables]
    if missing:
        conn.close()
        raise DatabaseRefused(
            f"{path}: not a kitetui journal (no table {', '.join(missing)}); it was left untouched"
        )
    return conn


def list_runs(conn: sqlite3.Connection) -> list[RunInfo]:
    """Every run, newest first."""
    rows = conn.execute(
        "SELECT run_id, mode, status, config_path, started_wall_ns, ended_wall_ns, restarts "
        "FROM runs ORDER BY started_wall_ns DESC"
    ).fetchall()
    return [RunInfo(*row) for row in rows]


def find_run(conn: sqlite3.Connection, wanted: str) -> RunInfo:
    """The run whose id is ``wanted`` or starts with it; ``latest`` is the newest."""
    runs = list_runs(conn)
    if not runs:
        raise RunNotFound("the database holds no run")
    if wanted in ("latest", "last"):
        return runs[0]
    exact = [r for r in runs if r.run_id == wanted]
    found = exact or [r for r in runs if r.run_id.startswith(wanted)]
    if len(found) == 1:
        return found[0]
    some = ", ".join(r.run_id for r in (found or runs)[:5])
    if found:
        raise RunNotFound(f"{len(found)} runs start with {wanted!r} ({some}): give more of it")
    raise RunNotFound(f"no run {wanted!r}; the newest: {some}")


def load_ledger(path: Path, wanted: str) -> Ledger:
    conn = open_read_only(path)
    try:
        run = find_run(conn, wanted)
        return _load(conn, path, run)
    finally:
        conn.close()


def _load(conn: sqlite3.Connection, path: Path, run: RunInfo) -> Ledger:
    orders = _decoded(
        conn,
        path,
        "orders",
        "tag",
        f"SELECT rowid, {', '.join(decode.ORDER_COLUMNS)} FROM orders WHERE run_id = ? "
        "ORDER BY seq",
        run.run_id,
        decode.decode_order,
    )
    exchanges = {o.tag: o.exchange.value for o in orders}
    reasons = {o.tag: o.reason for o in orders}
    journaled = _decoded(
        conn,
        path,
        "fills",
        "fill_id",
        f"SELECT rowid, {', '.join(decode.FILL_COLUMNS)}, seq FROM fills WHERE run_id = ? "
        "ORDER BY seq",
        run.run_id,
        lambda r: (*decode.decode_fill(r[:-1]), decode.integer(r[-1], "seq")),
    )
    fills = [
        JournaledFill(
            seq=seq,
            fill_id=f.fill_id,
            tag=f.tag,
            ts_ns=f.ts_ns,
            engine=f.engine,
            exchange=exchanges.get(f.tag, _guess_exchange(f.symbol)),
            symbol=f.symbol,
            product=f.product.value,
            side=f.side,
            quantity=f.quantity,
            price=Decimal(repr(f.price)),
            reason=reasons.get(f.tag, ""),
        )
        for _, f, seq in journaled
    ]
    # Each fill's charges as journaled with it (schema 4); a fill from before that is
    # priced here from the rate table, the same way the desk does.
    unpriced = [fill for fill, (_, f, _) in zip(fills, journaled, strict=True) if f.charges is None]
    computed, problems = fill_charges(unpriced, _instrument_lookup(conn)) if unpriced else ([], [])
    priced = iter(computed)
    costs = [
        (f.charges.charges, f.charges.paise) if f.charges is not None else (next(priced), None)
        for _, f, _ in journaled
    ]  # a None charge: the table could not price it either
    records = tuple(
        FillRecord(
            seq=f.seq,
            fill_id=f.fill_id,
            tag=f.tag,
            ts_ns=f.ts_ns,
            engine=f.engine,
            exchange=f.exchange,
            symbol=f.symbol,
            product=f.product,
            side=f.side,
            quantity=f.quantity,
            price=f.price,
            charges=NO_CHARGES if c is None else c,
            charges_paise=paise,
            clock_ns=clock_ns,
            priced=c is not None,
        )
        for f, (c, paise), (clock_ns, _, _) in zip(fills, costs, journaled, strict=True)
    )
    equity = tuple(
        (int(ts), int(paise))
        for ts, paise in conn.execute(
            "SELECT ts_ns, equity_paise FROM equity_curve WHERE run_id = ? ORDER BY ts_ns",
            (run.run_id,),
        )
    )
    marks = {
        symbol: Decimal(repr(float(last)))
        for symbol, last in conn.execute(
            "SELECT symbol, last_price FROM positions WHERE run_id = ? AND quantity != 0",
            (run.run_id,),
        )
    }
    meta = _started(conn, run.run_id)
    capital = _capital(meta, equity)
    engines = tuple(
        EngineInfo(
            name=str(e.get("name", "")),
            kind=str(e.get("kind", "")),
            strategy=str(e.get("strategy", "")),
            params=dict(e.get("params") or {}),
        )
        for e in meta.get("engines", [])
        if isinstance(e, dict)
    ) or _engines_from_signals(conn, run.run_id)
    window = (meta.get("from"), meta.get("to"))
    return Ledger(
        database=path,
        run=run,
        capital=capital,
        engines=engines,
        window=window,
        fills=records,
        orders=tuple(orders),
        equity=equity,
        marks=marks,
        warnings=(
            *_counted(problems),
            *run_warnings(conn, run.run_id),
            *_data_warnings(conn, run.run_id),
        ),
        backtest=bool(meta),
    )


def _counted(problems: list[str]) -> list[str]:
    """The orders the rate table could not price as one line: a year of data before the
    table's first row is one such order a trade, and a line each pushed what the data
    did to the run (rows skipped, reordered) past the few lines a summary shows.
    fills.csv still names each (its charges blank)."""
    if len(problems) <= 1:
        return problems
    return [f"{problems[0]} (and {len(problems) - 1:,} more orders charged nothing: fills.csv)"]


# What the data itself did to the run, as its journal recorded it: said per file, or
# (the price validator's refusals and the gaps, one per print) counted.
_SAID = (
    EventKind.ROW_SKIPPED,
    EventKind.VOLUME_ROUNDED,
    EventKind.VOLUME_MISSING,  # a stock's or a future's only: an index's is INFO
    EventKind.ROWS_REORDERED,
    EventKind.DUPLICATE_BARS_DROPPED,
    EventKind.BAR_OUTSIDE_SESSION,
    EventKind.TICK_OUTSIDE_SESSION,
    EventKind.NOT_GZIP,
    EventKind.SOURCE_EMPTY,
    EventKind.SOURCE_FILE_EMPTY,
    EventKind.DATA_ON_HOLIDAY,
    EventKind.SESSION_MISSING,
    EventKind.SESSION_SHORT,
    EventKind.OPENING_GAP,
    EventKind.BAND_JUMP,
)
_COUNTED = {  # at WARNING: a BarSkipped at DEBUG is an engine's warm-up, not the data
    EventKind.BAR_SKIPPED: "bar(s) refused by the price validator (BarSkipped)",
    EventKind.TICK_SKIPPED: "tick(s) refused by the price validator (TickSkipped)",
    EventKind.SPIKE_REJECTED: "price spike(s) refused (SpikeRejected)",
    EventKind.HELD_DROPPED: "held jump(s) never confirmed (HeldDropped)",
    EventKind.DATA_GAP: "gap(s) in the data (DataGap)",
}
_SAID_AT_MOST = 50


def _data_warnings(conn: sqlite3.Connection, run_id: str) -> list[str]:
    """The data's warnings for the report: a backtest's numbers are only as good as
    its data, and its terminal lines are gone once the run ends. Each said once: a
    resumed run loads its files again, and their warnings were journaled again."""
    said = [
        one_line(f"{kind}: {message}", 300)
        for kind, message in conn.execute(
            f"SELECT kind, message FROM events WHERE run_id = ? AND kind IN "
            f"({', '.join('?' * len(_SAID))}) AND (kind != ? OR level != 'INFO') "
            "GROUP BY kind, message ORDER BY min(id) LIMIT ?",
            (run_id, *_SAID, EventKind.VOLUME_MISSING, _SAID_AT_MOST + 1),
        )
    ]
    if len(said) > _SAID_AT_MOST:
        said[_SAID_AT_MOST:] = ["… more data warnings in the journal's events"]
    counted = [
        f"{count:,} {_COUNTED[kind]}"
        for kind, count in conn.execute(
            f"SELECT kind, count(*) FROM events WHERE run_id = ? AND kind IN "
            f"({', '.join('?' * len(_COUNTED))}) AND level IN ('WARNING', 'ERROR') "
            "GROUP BY kind ORDER BY kind",
            (run_id, *_COUNTED),
        )
    ]
    return said + counted


def _guess_exchange(symbol: str) -> str:
    """A fill's exchange when its order row is missing (never, with write-ahead)."""
    return "NFO" if segment_from_symbol("NFO", symbol) != "NFO" else "NSE"


def _decoded(
    conn: sqlite3.Connection,
    path: Path,
    table: str,
    label: str,
    sql: str,
    run_id: str,
    convert: Any,
) -> list[Any]:
    out = []
    try:
        rows = conn.execute(sql, (run_id,)).fetchall()
    except sqlite3.DatabaseError as exc:
        raise DatabaseRefused(
            f"{path}: table {table} cannot be read ({one_line(str(exc), 100)}); "
            "it was left untouched"
        ) from None
    for row in rows:
        try:
            out.append(convert(row[1:]))
        except RowError as exc:
            raise row_refusal(str(path), table, row[0], label, row[1], str(exc)) from None
    return out


def _instrument_lookup(conn: sqlite3.Connection):
    cache: dict[tuple[str, str, str], tuple[str, str] | None] = {}

    def lookup(day: str, exchange: str, symbol: str) -> tuple[str, str] | None:
        key = (day, exchange, symbol)
        if key not in cache:
            row = conn.execute(
                "SELECT segment, name FROM instruments WHERE trading_day = ? AND exchange = ? "
                "AND tradingsymbol = ? LIMIT 1",
                key,
            ).fetchone()
            cache[key] = (str(row[0]), str(row[1])) if row else None
        return cache[key]

    return lookup


def _started(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT data FROM events WHERE run_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (run_id, STARTED_KIND),
    ).fetchone()
    if row is None:
        return {}
    try:
        data = json.loads(row[0])
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _engines_from_signals(conn: sqlite3.Connection, run_id: str) -> tuple[EngineInfo, ...]:
    """A desk's run (``kitetui run``, not a backtest) journals no ``BacktestStarted``:
    each engine's strategy is the one its signals name (its params are not journaled),
    or the report's strategy column, trades.csv's and the HTML's were blank."""
    return tuple(
        EngineInfo(name=str(engine), kind="", strategy=str(strategy))
        for engine, strategy in conn.execute(
            "SELECT engine, strategy FROM signals WHERE run_id = ? GROUP BY engine "
            "ORDER BY min(ts_ns), engine",
            (run_id,),
        )
    )


def _capital(meta: dict[str, Any], equity: Sequence[tuple[int, int]]) -> Decimal:
    value = meta.get("capital")
    if isinstance(value, int | float) and value > 0:
        return Decimal(repr(float(value)))
    if equity:
        return Decimal(equity[0][1]) / 100
    return Decimal(0)
