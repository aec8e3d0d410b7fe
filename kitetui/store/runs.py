"""Reading the journal back: runs to resume, and the ledger that rebuilds state.

Recovery trusts only what was committed: positions and P&L are rebuilt by replaying
fills in their commit order, open orders come from the order rows, risk state from its
last committed snapshot, and the kill switch from ``desk_state``.

Start-up has already verified every one of these rows (verify.py); the loaders decode
strictly anyway (rows.py), and a row that does not decode is the same one-line
``DatabaseRefused`` naming its table and row, never a traceback. Writes to ``runs``
seal the row (chain.py) in their transaction; a full disk is a ``DiskFull``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiosqlite

from kitetui.domain import Fill, Order, Signal, SignalKind
from kitetui.events import EventKind
from kitetui.secret_values import scrub
from kitetui.store import rows as decode
from kitetui.store.chain import note_committed, seal
from kitetui.store.database import database_path
from kitetui.store.errors import (
    DatabaseRefused,
    RowError,
    disk_full,
    disk_full_seen,
    is_disk_full,
    one_line,
    row_refusal,
)
from kitetui.views import FillView, OrderDetail, OrderEventView

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    mode: str
    config_hash: str
    status: str
    cursor_ns: int
    restarts: int


#: Modes whose positions are an account's (at Kite), not only the run's journal.
ACCOUNT_MODES = ("paper", "live")


class RunStillHolds(Exception):
    """A live start would begin a new run while the last one, which it cannot resume
    (its config changed), still holds positions or working orders at Kite."""


async def _newest_run(db: aiosqlite.Connection, mode: str) -> RunRow | None:
    row = await (
        await db.execute(
            "SELECT run_id, mode, config_hash, status, cursor_ns, restarts FROM runs "
            "WHERE mode = ? ORDER BY started_wall_ns DESC LIMIT 1",
            (mode,),
        )
    ).fetchone()
    return None if row is None else RunRow(*row)


def _unfinished(mode: str) -> tuple[str, ...]:
    """A run in one of these states did not reach its end (crash or stop; in paper and
    live a failure too: its positions are at Kite whatever failed)."""
    return ("RUNNING", "STOPPED", "FAILED") if mode in ACCOUNT_MODES else ("RUNNING", "STOPPED")


async def find_resumable_run(
    db: aiosqlite.Connection, mode: str, config_hash: str
) -> RunRow | None:
    """The newest run of this mode and config if it did not reach its end."""
    run = await _newest_run(db, mode)
    if run is None or run.status not in _unfinished(mode) or run.config_hash != config_hash:
        return None
    return run


async def unfinished_run(db: aiosqlite.Connection, mode: str) -> RunRow | None:
    """The newest run of this mode if it did not reach its end, whatever its config: read
    before a run begins, it is the one a new run leaves unresumable for good (only the
    newest run of a mode is ever resumed)."""
    run = await _newest_run(db, mode)
    return run if run is not None and run.status in _unfinished(mode) else None


async def held_by_run(db: aiosqlite.Connection, run_id: str) -> list[str]:
    """What the run's journal says it still holds: open positions and working orders."""
    positions = await (
        await db.execute(
            "SELECT symbol, quantity FROM positions WHERE run_id = ? AND quantity != 0 "
            "ORDER BY symbol",
            (run_id,),
        )
    ).fetchall()
    orders = await (
        await db.execute(
            "SELECT tag, symbol, status FROM orders WHERE run_id = ? "
            "AND status IN ('NEW', 'OPEN', 'TRIGGER PENDING') ORDER BY seq",
            (run_id,),
        )
    ).fetchall()
    return [f"{symbol} {quantity:+d}" for symbol, quantity in positions] + [
        f"order {tag} ({symbol}, {status})" for tag, symbol, status in orders
    ]


async def _write_run(db: aiosqlite.Connection, what: str, sql: str, args: tuple) -> None:
    """One statement on ``runs`` in its own transaction, sealed before the commit."""
    try:
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute(sql, args)
            await seal(db, ("runs",))
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
        await note_committed(db)
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full(f"{database_path(db) or 'database'}: {what}", exc) from None
        raise


async def create_run(
    db: aiosqlite.Connection, run_id: str, mode: str, config_path: str, config_hash: str
) -> None:
    await _write_run(
        db,
        "starting a run",
        "INSERT INTO runs (run_id, mode, config_path, config_hash, status, started_wall_ns) "
        "VALUES (?, ?, ?, ?, 'RUNNING', ?)",
        (run_id, mode, config_path, config_hash, time.time_ns()),
    )


async def mark_restarted(db: aiosqlite.Connection, run_id: str) -> None:
    """A resumed run is RUNNING again (it said STOPPED, or still RUNNING after a crash)
    until ``finish_run`` records how this session of it ended."""
    await _write_run(
        db,
        "resuming a run",
        "UPDATE runs SET restarts = restarts + 1, status = 'RUNNING', ended_wall_ns = NULL, "
        "chk = x'' WHERE run_id = ?",
        (run_id,),
    )


async def signals_by_engine(db: aiosqlite.Connection, run_id: str) -> dict[str, int]:
    """How many signals each engine of the run has journaled (HOLD decisions included,
    as an engine counts them: the rows, and the HOLDs counted without one)."""
    cursor = await db.execute(
        "SELECT engine, sum(n) FROM ("
        "SELECT engine, count(*) AS n FROM signals WHERE run_id = ? GROUP BY engine "
        "UNION ALL SELECT engine, sum(holds) FROM hold_counts WHERE run_id = ? GROUP BY engine"
        ") GROUP BY engine",
        (run_id, run_id),
    )
    return {engine: count for engine, count in await cursor.fetchall()}


async def count_signals(db: aiosqlite.Connection, run_id: str) -> int:
    """Every signal of the run: its signal rows and its counted HOLDs (holds.py)."""
    row = await (
        await db.execute(
            "SELECT (SELECT count(*) FROM signals WHERE run_id = ?) + "
            "(SELECT COALESCE(sum(holds), 0) FROM hold_counts WHERE run_id = ?)",
            (run_id, run_id),
        )
    ).fetchone()
    return row[0]


async def note_refusal(db: aiosqlite.Connection, run_id: str, reason: str) -> None:
    """Journal why a run failed before its market opened (``SupervisorFailed``, ERROR,
    at ts 0): ``kitetui runs`` and the run's report say it, where a FAILED run with no
    event said nothing."""
    await _write_run(
        db,
        "noting why a run failed",
        "INSERT INTO events (run_id, ts_ns, kind, level, symbol, engine, message, data) "
        "VALUES (?, 0, ?, 'ERROR', '', '', ?, '{}')",
        (run_id, EventKind.SUPERVISOR_FAILED, scrub(reason)),
    )


async def journaled_events(
    db: aiosqlite.Connection, run_id: str, kinds: set[str]
) -> set[tuple[str, str]]:
    """The (kind, message) of the run's journaled events of ``kinds``: a resumed run
    loads its data again, and the loader's warnings were journaled on its first start
    (they repeated in the report once per restart, probe C 6)."""
    if not kinds:
        return set()
    cursor = await db.execute(
        f"SELECT DISTINCT kind, message FROM events WHERE run_id = ? AND kind IN "
        f"({', '.join('?' * len(kinds))})",
        (run_id, *sorted(kinds)),
    )
    return {(kind, message) for kind, message in await cursor.fetchall()}


async def finish_run(db: aiosqlite.Connection, run_id: str, status: str) -> None:
    """Record how the run ended. A run that failed because the disk was full is recorded
    as STOPPED, not FAILED: it did nothing wrong, and it must resume once there is space."""
    if status == "FAILED" and disk_full_seen():
        status = "STOPPED"
    await _write_run(
        db,
        "finishing a run",
        "UPDATE runs SET status = ?, ended_wall_ns = ?, chk = x'' WHERE run_id = ?",
        (status, time.time_ns(), run_id),
    )


async def _decoded(
    db: aiosqlite.Connection,
    table: str,
    label: str,
    sql: str,
    args: tuple,
    convert: Callable[[Sequence[Any]], T],
) -> list[T]:
    """Rows of ``sql`` (``rowid`` first, then the columns ``convert`` takes), decoded;
    a row that does not decode is a refusal naming its table and row."""
    where = str(database_path(db) or "database")
    try:
        cursor = await db.execute(sql, args)
        rows = await cursor.fetchall()
    except sqlite3.OperationalError as exc:  # text that is no longer UTF-8, say
        raise DatabaseRefused(
            f"{where}: table {table} cannot be read ({one_line(str(exc), 100)}); the database "
            "was left untouched. Restore it from a backup or move it aside."
        ) from None
    out = []
    for row in rows:
        try:
            out.append(convert(row[1:]))
        except RowError as exc:
            raise row_refusal(where, table, row[0], label, row[1], str(exc)) from None
    return out


async def load_fills(db: aiosqlite.Connection, run_id: str) -> list[tuple[int, Fill]]:
    """Every fill of the run in commit order, with the data clock it was processed at."""
    return await _decoded(
        db,
        "fills",
        "fill_id",
        f"SELECT rowid, {', '.join(decode.FILL_COLUMNS)} FROM fills WHERE run_id = ? ORDER BY seq",
        (run_id,),
        decode.decode_fill,
    )


async def load_orders(db: aiosqlite.Connection, run_id: str) -> list[Order]:
    return await _decoded(
        db,
        "orders",
        "tag",
        f"SELECT rowid, {', '.join(decode.ORDER_COLUMNS)} FROM orders WHERE run_id = ? "
        "ORDER BY seq",
        (run_id,),
        decode.decode_order,
    )


async def journaled_instruments(db: aiosqlite.Connection, symbols: Sequence[str]) -> list[tuple]:
    """The newest journaled master row of each of ``symbols`` (any exchange): Kite's
    columns, from ``instrument_token`` to ``exchange``, ``expiry`` ISO or "". A contract
    past its expiry is in no later day's master: a restart finds it here. One read."""
    wanted = sorted(set(symbols))
    if not wanted:
        return []
    newest: dict[str, tuple[str, tuple]] = {}
    marks = ", ".join("?" * len(wanted))
    async with db.execute(
        "SELECT trading_day, instrument_token, exchange_token, tradingsymbol, name, "
        "last_price, expiry, strike, tick_size, lot_size, instrument_type, segment, exchange "
        f"FROM instruments WHERE tradingsymbol IN ({marks})",
        wanted,
    ) as cursor:
        async for row in cursor:
            day, symbol = row[0], row[3]
            if symbol not in newest or day > newest[symbol][0]:
                newest[symbol] = (day, tuple(row[1:]))
    return [newest[symbol][1] for symbol in sorted(newest)]


async def load_risk_state(db: aiosqlite.Connection, run_id: str) -> dict[str, Any] | None:
    found = await _decoded(
        db,
        "risk_state",
        "run_id",
        "SELECT rowid, run_id, state FROM risk_state WHERE run_id = ?",
        (run_id,),
        lambda r: decode.decode_risk_state(r[1]),
    )
    return found[0] if found else None


async def load_desk_state(db: aiosqlite.Connection, key: str) -> Any:
    found = await _decoded(
        db,
        "desk_state",
        "key",
        "SELECT rowid, key, value FROM desk_state WHERE key = ?",
        (key,),
        lambda r: (decode.decode_desk_state(r[0], r[1]),),
    )
    return found[0][0] if found else None


async def count_rows(db: aiosqlite.Connection, table: str, run_id: str) -> int:
    if table not in {"signals", "orders", "fills", "events", "risk_decisions", "equity_curve"}:
        raise ValueError(table)
    row = await (
        await db.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", (run_id,))
    ).fetchone()
    return row[0]


async def events_by_kind(db: aiosqlite.Connection, run_id: str) -> dict[str, int]:
    cursor = await db.execute(
        "SELECT kind, count(*) FROM events WHERE run_id = ? GROUP BY kind ORDER BY 2 DESC",
        (run_id,),
    )
    return {kind: n for kind, n in await cursor.fetchall()}


class AmbiguousTag(ValueError):
    """A tag prefix that more than one order's tag starts with."""


#: How many of the orders an ambiguous prefix matches are named in the refusal.
AMBIGUOUS_SHOWN = 5


async def resolve_tag(db: aiosqlite.Connection, tag: str) -> str | None:
    """The order tag ``tag`` names: itself, or the one tag it is a prefix of (tags are 16
    random characters; a person types the first few). None when nothing matches;
    ``AmbiguousTag`` (naming some of the matches) when several do."""
    cursor = await db.execute("SELECT 1 FROM orders WHERE tag = ?", (tag,))
    if await cursor.fetchone() is not None:
        return tag
    if not tag:
        return None
    cursor = await db.execute(
        "SELECT DISTINCT tag FROM orders WHERE substr(tag, 1, ?) = ? ORDER BY tag LIMIT ?",
        (len(tag), tag, AMBIGUOUS_SHOWN + 1),
    )
    found = [row[0] for row in await cursor.fetchall()]
    if len(found) > 1:
        more = ", …" if len(found) > AMBIGUOUS_SHOWN else ""
        raise AmbiguousTag(
            f"{tag!r} is the start of several orders' tags "
            f"({', '.join(found[:AMBIGUOUS_SHOWN])}{more}): give more of it"
        )
    return found[0] if found else None


async def load_order_detail(db: aiosqlite.Connection, tag: str) -> OrderDetail | None:
    """An order's journaled state changes and fills, oldest first; None for an unknown tag.
    ``tag`` may be any unique prefix of the order's tag (``resolve_tag``)."""
    resolved = await resolve_tag(db, tag)
    if resolved is None:
        return None
    tag = resolved
    cursor = await db.execute(
        "SELECT ts_ns, status, reason FROM order_events WHERE tag = ? ORDER BY id", (tag,)
    )
    history = []
    reason = ""
    for ts_ns, status, stored in await cursor.fetchall():
        reason = reason if stored is None else stored  # NULL: the previous event's (schema 7)
        history.append(OrderEventView(ts_ns, status, reason))
    cursor = await db.execute(
        "SELECT fill_id, ts_ns, side, quantity, price FROM fills WHERE tag = ? ORDER BY seq",
        (tag,),
    )
    fills = tuple(FillView(*r) for r in await cursor.fetchall())
    return OrderDetail(tag=tag, history=tuple(history), fills=fills)


async def load_signal(db: aiosqlite.Connection, signal_id: str) -> Signal | None:
    """One journaled signal (a stop-and-reverse waiting for its close, after a restart)."""
    row = await (
        await db.execute(
            "SELECT signal_id, ts_ns, engine, strategy, symbol, timeframe_s, kind, price, "
            "reason, confidence, indicators FROM signals WHERE signal_id = ?",
            (signal_id,),
        )
    ).fetchone()
    if row is None:
        return None
    try:
        indicators = {k: float(v) for k, v in json.loads(row[10]).items() if v is not None}
        kind = SignalKind(row[6])
    except (ValueError, TypeError, AttributeError) as exc:
        raise row_refusal(
            str(database_path(db) or "database"),
            "signals",
            None,
            "signal_id",
            signal_id,
            one_line(str(exc)),
        ) from None
    return Signal(
        signal_id=row[0],
        ts_ns=row[1],
        engine=row[2],
        strategy=row[3],
        symbol=row[4],
        timeframe_s=row[5],
        kind=kind,
        price=row[7],
        reason=row[8],
        confidence=row[9],
        indicators=indicators,
    )


async def entry_tried(db: aiosqlite.Connection, run_id: str, signal_id: str) -> bool:
    """Whether a signal's entry was sent or refused. An allowing decision with no order
    behind it was cut off by a crash before the order was written (the order row comes
    before the broker sees it), so that entry was never sent and is still owed."""
    row = await (
        await db.execute(
            "SELECT 1 FROM orders WHERE run_id = ? AND signal_id = ? AND purpose = 'ENTRY' "
            "UNION ALL SELECT 1 FROM risk_decisions WHERE run_id = ? AND signal_id = ? "
            "AND purpose = 'ENTRY' AND verdict NOT IN ('ALLOW', 'REDUCE') LIMIT 1",
            (run_id, signal_id, run_id, signal_id),
        )
    ).fetchone()
    return row is not None


async def load_blocked(
    db: aiosqlite.Connection, run_id: str
) -> list[tuple[str, str, str, int, int, str, str]]:
    """Risk refusals of a run per (engine, rule, verdict): the count, and the time,
    symbol and reason of the last one (the Blocked tab after a restart)."""
    rows = await (
        await db.execute(
            "SELECT g.engine, g.rule, g.verdict, g.n, d.ts_ns, d.symbol, d.reason FROM "
            "(SELECT engine, rule, verdict, COUNT(*) AS n, MAX(id) AS last FROM risk_decisions "
            "WHERE run_id = ? AND verdict != 'ALLOW' GROUP BY engine, rule, verdict) AS g "
            "JOIN risk_decisions AS d ON d.id = g.last ORDER BY g.engine, g.rule",
            (run_id,),
        )
    ).fetchall()
    return [
        (str(e), str(r), str(v), int(n), int(ts), str(sym), str(why))
        for e, r, v, n, ts, sym, why in rows
    ]


#: In a ``CancelDeferred`` event's data: the entry whose cancel was asked while Kite had
#: not answered for it (``Trader._remember_cancel``); a restart carries it out.
ASKED_CANCEL = "asked_cancel"


async def load_asked_cancels(db: aiosqlite.Connection, run_id: str) -> dict[str, tuple[str, bool]]:
    """The run's cancels asked of entries Kite had not answered for: tag -> (the reason
    first asked, whether a flatten asked it, so that what the entry filled is closed)."""
    rows = await (
        await db.execute(
            "SELECT data FROM events WHERE run_id = ? AND kind = ? ORDER BY id",
            (run_id, EventKind.CANCEL_DEFERRED),
        )
    ).fetchall()
    asked: dict[str, tuple[str, bool]] = {}
    for (text,) in rows:
        try:
            data = json.loads(text)
        except ValueError:
            continue  # (every row kitetui writes is JSON; one that is not names no entry)
        tag = data.get(ASKED_CANCEL) if isinstance(data, dict) else None
        if not isinstance(tag, str) or not tag:
            continue
        reason, close = asked.get(tag, (str(data.get("reason") or "cancel asked"), False))
        asked[tag] = (reason, close or bool(data.get("close")))
    return asked


async def count_orders_since(db: aiosqlite.Connection, since_ns: int, mode: str) -> int:
    """Orders journaled by runs of ``mode`` from ``since_ns`` on: after a restart, the
    day's count Kite holds us to (5,000 a day) goes on from here, not from zero."""
    row = await (
        await db.execute(
            "SELECT COUNT(*) FROM orders JOIN runs USING (run_id) "
            "WHERE runs.mode = ? AND orders.ts_ns >= ?",
            (mode, since_ns),
        )
    ).fetchone()
    return int(row[0]) if row else 0


async def begin_run(
    db: aiosqlite.Connection,
    mode: str,
    config_hash: str,
    config_path: str,
    *,
    new_run: bool = False,
) -> tuple[str, int, bool, list[str]]:
    """Resume the unfinished run of this config, or begin a new one: (run id, cursor to
    resume after, resumed?, what the last run left held when ``new_run`` begins anyway).

    In live mode a new run never silently leaves the last one's positions and working
    orders unmanaged at Kite (a config edited while they were open did): it is refused
    with ``RunStillHolds`` unless ``new_run`` (``kitetui run --new-run``) says so. That
    flag also begins a new run where the last one would resume: a person's way out of
    a run whose every resume fails."""
    resumable = None if new_run else await find_resumable_run(db, mode, config_hash)
    if resumable is not None:
        await mark_restarted(db, resumable.run_id)
        return resumable.run_id, resumable.cursor_ns, True, []
    left: list[str] = []
    last = await _newest_run(db, mode) if mode == "live" else None  # paper's are simulated
    if last is not None and last.status != "FINISHED":
        left = [f"run {last.run_id}: {held}" for held in await held_by_run(db, last.run_id)]
        if left and not new_run:
            shown = ", ".join(h.split(": ", 1)[1] for h in left[:4])
            more = f" and {len(left) - 4} more" if len(left) > 4 else ""
            raise RunStillHolds(
                f"run {last.run_id} ({last.status}, started with another config) still holds "
                f"{shown}{more}: a new run would leave them unmanaged at Kite. Start it with "
                "the config it ran with to resume it, or once they are closed at Kite, "
                "start with --new-run"
            )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_id = f"{stamp}-{secrets.token_hex(3)}"
    await create_run(db, run_id, mode, config_path, config_hash)
    return run_id, 0, False, left
