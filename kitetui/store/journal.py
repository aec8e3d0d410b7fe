"""The journal: a batched writer for the high-volume record and durable paths for money.

Signals, events, risk decisions, order-status changes, equity points and the replay
cursor are appended to in-memory buffers and written in one transaction every few
hundred milliseconds (or when a buffer fills), so a tick never waits on SQLite. A
transaction's parameters are made on the loop's thread and its SQL runs in one call
(``_commit``): on aiosqlite's thread, or, in a replay at full speed (``inline``), on the
loop's own, where the timed flushes then commit on time (``_on_writer`` says why).

Orders and fills take the durable path (rule 2, write ahead), as the venue's
``CommitPolicy`` says (commit_policy.py). ``DURABLE_EACH``: ``write_order`` commits
the order row — together with everything buffered before it, the run cursor and the
risk state — before the caller may hand the order to a broker; ``write_fill`` commits
the fill and the order's new state before the caller may change a position. ``BATCH``
(the in-process paper broker): the same rows join the buffers in the order they are
made and commit with the next flush, so what is on disk is always everything up to
some point of the run. Either way every commit drains all the buffers, so the
database never holds an order without the signal and risk decision that caused it.

A HOLD that changes nothing is counted (holds.py), not written as a row per bar,
unless ``hold_rows`` asks for the rows; the counts commit with the cursor of the batch
they belong to, so a resumed run counts each batch once.

Every transaction that writes a chained table (runs, orders, order_events, fills,
risk_state, desk_state, risk_decisions, equity_chunks) seals those rows before it
commits (chain.py), so a committed money row always carries its checksum. A write that
fails (a full disk: ``DiskFull``; an I/O error or a file size limit: ``WriteFailed``)
rolls back, the drained buffers are put back, and from then on every write raises it,
so the run stops promptly with everything committed before it intact and resumable. An
error of any kind in the flush task is such a failure too: the task never ends silent
while the desk trades on unjournaled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

import aiosqlite

from kitetui.domain import Event, Fill, Order, OrderStatus, Position, RiskDecision, Signal
from kitetui.secret_values import scrub
from kitetui.store.chain import chained_rows, on_connection_thread, seal_sync
from kitetui.store.commit_policy import CommitPolicy
from kitetui.store.database import database_path, take_notices
from kitetui.store.equity_chunks import EQUITY_CHUNK_INSERT, chunk_row
from kitetui.store.errors import WriteFailed, write_failed
from kitetui.store.holds import HOLD_UPSERT, HoldCounter, Run, hold_rows, unrolled
from kitetui.store.rows import FILL_CHARGE_COLUMNS

if TYPE_CHECKING:
    from kitetui.money import FillCost

_ORDER_COLUMNS = (
    "tag, run_id, engine, symbol, exchange, side, quantity, order_type, product, purpose, "
    "status, ts_ns, price, trigger_price, stop_price, filled_qty, avg_price, "
    "broker_order_id, signal_id, reason, validity, variety, seq"
)
# Every UPDATE of a chained table empties ``chk``: the row is resealed before commit.
# An order's terms change too: a stop modified into a closing order, a resting limit
# re-priced, a quantity resized to the position.
_ORDER_UPDATE = (
    "UPDATE orders SET status = ?, filled_qty = ?, avg_price = ?, broker_order_id = ?, "
    "reason = ?, order_type = ?, quantity = ?, price = ?, trigger_price = ?, purpose = ?, "
    "ts_ns = ?, signal_id = ?, chk = x'' WHERE tag = ?"
)
_RISK_STATE_UPSERT = (
    "INSERT INTO risk_state (run_id, state, updated_ns) VALUES (?, ?, ?) "
    "ON CONFLICT(run_id) DO UPDATE SET state = excluded.state, "
    "updated_ns = excluded.updated_ns, chk = x''"
)
_DESK_STATE_UPSERT = (
    "INSERT INTO desk_state (key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, chk = x''"
)

_FILL_CHARGE_NAMES = ", ".join(FILL_CHARGE_COLUMNS)
_INSTRUMENT_INSERT = (
    "INSERT OR IGNORE INTO instruments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ORDER_INSERT = f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES ({', '.join('?' * 23)})"
#: Finished orders whose last journaled state is kept to drop a repeat of it.
_ENDED_KEPT = 1024
# Read on every order state and money row, bound once (why: ``kitetui/domain.py``, "Bound members");
# ``OrderStatus.is_terminal`` is a property (a Python call a read): here a set.
_BATCH = CommitPolicy.BATCH
_TERMINAL = frozenset(status for status in OrderStatus if status.is_terminal)
_ORDER_EVENT_INSERT = "INSERT INTO order_events (tag, ts_ns, status, reason) VALUES (?, ?, ?, ?)"
_FILL_INSERT = (
    "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, "
    f"price, product, ts_ns, clock_ns, {_FILL_CHARGE_NAMES}) VALUES ({', '.join('?' * 21)})"
)
_SIGNAL_INSERT = "INSERT OR IGNORE INTO signals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_DECISION_INSERT = (
    "INSERT OR IGNORE INTO risk_decisions (run_id, ts_ns, signal_id, engine, symbol, purpose, "
    "side, requested_qty, verdict, quantity, rule, reason) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_EVENT_INSERT = (
    "INSERT INTO events (run_id, ts_ns, kind, level, symbol, engine, message, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CURSOR_UPDATE = "UPDATE runs SET cursor_ns = ?, chk = x'' WHERE run_id = ?"
_UNIVERSE_INSERT = "INSERT OR REPLACE INTO universe VALUES (?, ?, ?, ?, ?, ?)"
# BATCH: the buffers are written inline (the caller waits) once they hold this many
# flushes' worth of rows, should the loop not have let the flush task run meanwhile.
_BACKPRESSURE_FLUSHES = 4
# SQLite built serialised: one connection may be used from two threads (``_on_writer``).
_SHAREABLE = sqlite3.threadsafety == 3


def charge_columns(cost: FillCost | None) -> tuple[str | int | None, ...]:
    """A fill's charges as the fills table stores them (rows.py decodes them back):
    each component as exact decimal text, Kite's exchange charge with IPFT in it, then
    the paise share; all NULL when the fill has none recorded."""
    if cost is None:
        return (None,) * len(FILL_CHARGE_COLUMNS)
    c = cost.charges
    # Spelled out, not a generator over the amounts: a fill's row is built on every fill.
    return (
        format(c.brokerage, "f"),
        format(c.stt, "f"),
        format(c.exchange_turnover, "f"),
        format(c.ipft, "f"),
        format(c.sebi, "f"),
        format(c.stamp, "f"),
        format(c.gst, "f"),
        format(c.dp, "f"),
        cost.paise,
    )


_POSITION_UPSERT = (
    "INSERT OR REPLACE INTO positions (run_id, symbol, engine, product, quantity, avg_price, "
    "last_price, realized_paise, unrealized_paise) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# ``._value_``, not ``.value``, on these per-row paths: see the note in ``kitetui.domain``.
def _position_row(run_id: str, p: Position) -> tuple:
    return (
        run_id,
        p.symbol,
        p.engine,
        p.product._value_,
        p.quantity,
        p.avg_price,
        p.last_price,
        p.realized_paise,
        p.unrealized_paise,
    )


def _order_update_row(o: Order) -> tuple:
    return (
        o.status._value_,
        o.filled_qty,
        o.avg_price,
        o.broker_order_id,
        scrub(o.reason),  # a broker's error text may quote a secret (secret_values)
        o.order_type._value_,
        o.quantity,
        o.price,
        o.trigger_price,
        o.purpose._value_,
        o.ts_ns,
        o.signal_id,
        o.tag,
    )


def _inserted_as_updated(row: tuple, o: Order) -> tuple:
    """An order's ``_ORDER_INSERT`` row (``Journal._order_row``) with the columns that
    ``_ORDER_UPDATE`` sets taken from ``o``, its later state: what the row holds once
    the UPDATE has run after the INSERT, the other columns as first written."""
    return (
        *row[:6],  # tag, run_id, engine, symbol, exchange, side
        o.quantity,
        o.order_type._value_,
        row[8],  # product
        o.purpose._value_,
        o.status._value_,
        o.ts_ns,
        o.price,
        o.trigger_price,
        row[14],  # stop_price
        o.filled_qty,
        o.avg_price,
        o.broker_order_id,
        o.signal_id,
        scrub(o.reason),
        *row[20:],  # validity, variety, seq
    )


def _commit(con: sqlite3.Connection, many: list[tuple[str, Any]], chained: list[str]) -> int | None:
    """One transaction: every statement, the seal of the chained tables, the commit; a
    failure anywhere rolls all of it back. The money rows the file then holds, when the
    transaction sealed any (the desk lock's marker notes them: lock.py), else None."""
    con.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in many:
            con.executemany(sql, rows)
        sealed = seal_sync(con, chained)
        total = chained_rows(con) if sealed else None
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return total


# ``json.dumps`` with these options builds this very encoder on every call: a row's JSON
# (a signal's indicators, an event's data) comes out the same from one made once.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False)
# ... and ``_ENCODER.encode`` itself builds, on every call, the C encoder that does the
# work (``JSONEncoder.iterencode``: a circular-check dict, a float closure, then
# ``c_make_encoder`` with these very arguments): about half the cost of a small row's
# JSON. ``_json`` calls one made once, the same text (tests/store/test_row_encoding.py).
# Its circular check records each container while inside it and drops it on the way
# out, so the dict is empty between calls; an error leaves it partway, so it is cleared.
_MARKERS: dict[int, Any] = {}
_C_ENCODE = (
    None
    if c_make_encoder is None
    else c_make_encoder(_MARKERS, str, encode_basestring_ascii, None, ":", ",", False, False, False)
)


def _json(value: Any) -> str:
    if _C_ENCODE is None or isinstance(value, str):  # ``encode``'s own path for a str
        return _ENCODER.encode(value)
    try:
        return "".join(_C_ENCODE(value, 0))
    except BaseException:
        _MARKERS.clear()
        raise


_INFINITIES = (math.inf, -math.inf)


def _finite_snapshot(indicators: dict[str, float]) -> dict[str, float | None]:
    # JSON has no NaN; an indicator that is not ready is recorded as null.
    return {k: (v if v == v and v not in _INFINITIES else None) for k, v in indicators.items()}


class Journal:
    """One writer for one run. Call ``start()`` once and ``close()`` at the end."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        run_id: str,
        *,
        flush_interval_s: float = 0.2,
        flush_rows: int = 2000,
        commits: CommitPolicy = CommitPolicy.DURABLE_EACH,
        hold_rows: bool = False,
    ) -> None:
        """``commits``: the venue's policy for money rows (commit_policy.py);
        ``hold_rows``: journal every HOLD as a signal row instead of counting it."""
        self.db = db
        self.run_id = run_id
        self.commits = commits
        self.hold_rows = hold_rows
        self._flush_interval_s = flush_interval_s
        self._flush_rows = flush_rows
        self._signals: list[tuple] = []
        self._events: list[tuple] = []
        self._decisions: list[tuple] = []
        self._order_events: list[tuple] = []
        self._order_updates: dict[str, Order] = {}
        self._event_reasons: dict[str, str] = {}  # an open order's last journaled reason
        # Each order's last journaled state (``_state_of``): a repeat writes no row. A
        # finished order's is kept for its ``_ENDED_KEPT`` most recent ones only: repeats
        # of a terminal state come within seconds (the update, the read-back, the poll).
        self._last_states: dict[str, tuple] = {}
        self._ended_states: collections.OrderedDict[str, tuple] = collections.OrderedDict()
        self._equity: list[tuple[int, int]] = []
        # The newest equity point journaled or buffered: a replayed minute after a
        # restart marks the same book, and the point first written is kept.
        self._equity_last_ns: int | None = None
        self._pending = 0
        self._cursor_ns: int | None = None
        self._risk_state: dict[str, Any] | None = None
        self._positions: Callable[[], list[Position]] | None = None
        self._universe: list[tuple] = []
        self._instruments: list[tuple] = []
        # BATCH: the money rows waiting for the next transaction, in the order made.
        self._new_orders: list[tuple] = []
        self._fills: list[tuple] = []
        self._fill_positions: list[tuple] = []
        self._fill_ids: set[str] = set()  # the run's journaled fills (BATCH's duplicate check)
        self.holds = HoldCounter()
        # The current batch's HOLDs (their Signal factories), should the run end in it.
        self._lock = asyncio.Lock()
        # A replay at full speed writes on the loop's own thread (``_on_writer``).
        self.inline = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._order_seq = 0
        self._fill_seq = 0
        # What the run had journaled before this process (a resumed run), by record kind:
        # its totals carry on from there (the desk shows "newest 300 of 50,000").
        self.journaled: dict[str, int] = {}
        self.rows_written = 0
        self.flushes = 0
        # A full disk stops every later write (see the module docstring).
        self.failure: WriteFailed | None = None
        for kind, message in take_notices(db):  # what opening the database changed
            self.add_event(Event(ts_ns=0, kind=kind, level="WARNING", message=message))

    # -- run bookkeeping ------------------------------------------------------------

    async def load_sequences(self) -> None:
        """Continue a run's order and fill sequences, and learn what it journaled so far."""
        row = await (
            await self.db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM orders WHERE run_id = ?", (self.run_id,)
            )
        ).fetchone()
        self._order_seq = row[0]
        row = await (
            await self.db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM fills WHERE run_id = ?", (self.run_id,)
            )
        ).fetchone()
        self._fill_seq = row[0]
        # Index-only counts (each table's index starts with run_id): ms for 50,000 rows.
        for kind, table in (
            ("signals", "signals"),
            ("events", "events"),
            ("decisions", "risk_decisions"),
        ):
            row = await (
                await self.db.execute(
                    f"SELECT count(*) FROM {table} WHERE run_id = ?", (self.run_id,)
                )
            ).fetchone()
            self.journaled[kind] = row[0]
        row = await (
            await self.db.execute(
                "SELECT COALESCE(SUM(holds), 0) FROM hold_counts WHERE run_id = ?", (self.run_id,)
            )
        ).fetchone()
        self.journaled["signals"] += row[0]
        row = await (
            await self.db.execute(
                "SELECT MAX(last_ts_ns) FROM equity_chunks WHERE run_id = ?", (self.run_id,)
            )
        ).fetchone()
        self._equity_last_ns = row[0]
        cursor = await self.db.execute(
            "SELECT DISTINCT engine, reason FROM hold_counts WHERE run_id = ?", (self.run_id,)
        )
        reasons: dict[str, list[str]] = {}
        for engine, reason in await cursor.fetchall():
            reasons.setdefault(engine, []).append(reason)
        for engine, known in reasons.items():
            self.holds.know(engine, known)
        if self.commits is _BATCH:
            cursor = await self.db.execute(
                "SELECT fill_id FROM fills WHERE run_id = ?", (self.run_id,)
            )
            self._fill_ids = {fill_id for (fill_id,) in await cursor.fetchall()}

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_loop(), name="journal-flush")

    async def close(self) -> None:
        """Stop the flush loop between transactions (never mid-write), then drain.

        After a failed write the drain is tried once more (space may be back), and the
        ``WriteFailed`` is raised either way: the run did not end normally.
        """
        self._closing = True
        self._holds_after_the_last_batch()
        if self._task is not None:
            self._wake.set()
            await self._task
            self._task = None
        failure, self.failure = self.failure, None
        try:
            await self.flush()
        finally:
            if failure is not None:
                self.failure = failure
        if failure is not None:
            raise failure

    async def _flush_loop(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            try:
                await self.flush()
            except WriteFailed:
                return  # kept in self.failure: the next write raises it where it matters
            except Exception as exc:  # never a flush task that ends in silence
                self.failure = write_failed(f"{self._where()}: journal flush", exc)
                return

    # -- buffered (batched) records -------------------------------------------------

    def _added(self, rows: int = 1) -> None:
        if self.failure is not None:
            raise self.failure
        self._pending += rows
        if self._pending >= self._flush_rows:
            self._wake.set()

    def add_signal(self, signal: Signal) -> None:
        self._signals.append(
            (
                signal.signal_id,
                self.run_id,
                signal.ts_ns,
                signal.engine,
                signal.strategy,
                signal.symbol,
                signal.timeframe_s,
                signal.kind._value_,
                signal.price,
                signal.reason,
                signal.confidence,
                _json(_finite_snapshot(signal.indicators)),
            )
        )
        self._added()

    def add_hold(
        self,
        engine: str,
        symbol: str,
        reason: str,
        ts_ns: int,
        make: Callable[..., Signal],
        args: tuple[Any, ...] = (),
    ) -> None:
        """A HOLD that changed nothing: counted (or a row, with ``hold_rows``).
        ``make(*args)`` builds its ``Signal``, called only when a row must be written:
        most bars are a HOLD, and most HOLDs are only ever counted (the arguments are
        kept in a tuple, half the cost of binding them in a ``partial`` on every bar)."""
        if self.hold_rows:
            self.add_signal(make(*args))
            return
        if self.failure is not None:
            raise self.failure
        self.holds.count(engine, symbol, reason, ts_ns, make, args)

    def add_holds(self, runs: list[Run]) -> None:
        """``add_hold`` for each HOLD of ``runs`` (``HoldCounter.count_runs``), in order."""
        if self.hold_rows:
            for _, _, _, _, make, args in unrolled(runs):
                self.add_signal(make(*args))  # type: ignore[misc]
            return
        if self.failure is not None:
            raise self.failure
        self.holds.count_runs(runs)

    def add_event(self, event: Event) -> None:
        self._events.append(
            (
                self.run_id,
                event.ts_ns,
                # the text SQLite stores for a ``str`` or an ``EventKind`` member, as an
                # exact ``str``: sqlite3 binds a subclass only after its adapter look-up
                str(event.kind),
                event.level,
                event.symbol,
                event.engine,
                scrub(event.message),  # an error's text may quote a secret (secret_values)
                scrub(_json(event.data)),
            )
        )
        self._added()

    def add_risk_decision(
        self,
        ts_ns: int,
        signal_id: str,
        engine: str,
        symbol: str,
        purpose: str,
        side: str,
        requested_qty: int,
        decision: RiskDecision,
    ) -> None:
        self._decisions.append(
            (
                self.run_id,
                ts_ns,
                signal_id,
                engine,
                symbol,
                purpose,
                side,
                requested_qty,
                decision.verdict._value_,
                decision.quantity,
                decision.rule,
                decision.reason,
            )
        )
        self._added()

    def update_order(self, order: Order, ts_ns: int) -> None:
        """A status change that need not be durable at once (e.g. NEW -> OPEN)."""
        self._order_updates[order.tag] = order
        self._add_order_event(order, ts_ns)
        self._added()

    def _add_order_event(self, order: Order, ts_ns: int, *, first: bool = False) -> None:
        """Queue an order's ``order_events`` row unless it repeats the state last
        journaled for it. One change of state reaches the desk by
        several paths (the placement's answer, the websocket's update, the order book read
        back after it, the reconciler's poll, the fill itself), and each journaled it:
        histories read REJECTED → REJECTED and COMPLETE twice, the second row older than
        the first (probe C 4). A row is one change of status, reason or terms; a partial
        fill at an unchanged status is in ``fills``, not here.

        Every order state passes here (twice a placement, once a fill or a modify), so
        the state (``_state_of``) and the look-up of the last one are spelled inline."""
        tag = order.tag
        state = (order.status, order.reason, order.quantity, order.price, order.trigger_price)
        if not first and (self._last_states.get(tag) or self._ended_states.get(tag)) == state:
            return
        self._order_events.append(self._event_row(order, state, ts_ns, first))

    def _event_row(self, order: Order, state: tuple, ts_ns: int, first: bool) -> tuple:
        """``order``'s ``order_events`` row, its ``state`` remembered as the last journaled
        (``_add_order_event`` drops a repeat of it). The row's reason is NULL when it
        repeats the order's previous event's (schema 7). The last reason is kept only
        while the order can still change, so a run holds its open orders' reasons, not
        every order's; an order's ``first`` event, and one with no known predecessor
        (after a restart, after a terminal state), writes its reason in full. A
        finished order's state is kept for its ``_ENDED_KEPT`` most recent ones only:
        repeats of a terminal state come within seconds (the update, the read-back, the
        poll)."""
        tag, status, reason = order.tag, order.status, scrub(order.reason)
        same = not first and self._event_reasons.get(tag) == reason
        if status in _TERMINAL:
            self._last_states.pop(tag, None)
            ended = self._ended_states
            ended[tag] = state
            ended.move_to_end(tag)
            if len(ended) > _ENDED_KEPT:
                ended.popitem(last=False)
            self._event_reasons.pop(tag, None)
        else:
            self._last_states[tag] = state
            self._event_reasons[tag] = reason
        return (tag, ts_ns, status._value_, None if same else reason)

    def add_equity_point(self, ts_ns: int, equity_paise: int) -> None:
        """One point of the curve; one at or before the newest already taken is dropped
        (kept as first written: the chunks are append-only, equity_chunks.py)."""
        if self._equity_last_ns is not None and ts_ns <= self._equity_last_ns:
            return
        self._equity_last_ns = ts_ns
        self._equity.append((ts_ns, equity_paise))
        self._added()

    def set_cursor(self, ts_ns: int) -> None:
        """The batch at ``ts_ns`` is finished: a resumed run starts after it. Its HOLD
        counts are written in the same transaction as this cursor."""
        self._cursor_ns = ts_ns
        self.holds.close_batch()

    def set_risk_state(self, state: dict[str, Any]) -> None:
        self._risk_state = state

    def add_universe(
        self, day: str, engine: str, selected: Iterable[str], rejected: Iterable[tuple[str, str]]
    ) -> None:
        rows = [(self.run_id, day, engine, symbol, 1, "") for symbol in selected]
        rows += [(self.run_id, day, engine, symbol, 0, why) for symbol, why in rejected]
        self._universe.extend(rows)
        self._added(len(rows))

    def add_instruments(self, day: str, rows: list[tuple]) -> None:
        """The day's instrument master, with the next transaction: the first batch of a
        day then goes on at once (a replay waited on its own commit every day). A row
        the day already has is kept (``INSERT OR IGNORE``): a second run of the day adds
        only what the master listed since. Written before any cursor of that day, so a
        resumed run that replays the day silently finds them journaled."""
        self._instruments.extend((day, *row) for row in rows)
        self._added(len(rows))

    def set_positions(self, positions: Callable[[], list[Position]]) -> None:
        """A checkpoint of every position for readers; recovery rebuilds from fills.
        ``positions`` is called when the next transaction is written, not now: a desk
        checkpoints every data minute, a backtest many times between two transactions,
        and only the newest list would be written (a fill writes its position itself)."""
        self._positions = positions

    # -- durable paths ----------------------------------------------------------------

    async def write_order(self, order: Order) -> None:
        """Journal a new order before any broker sees it: committed now (with all that is
        buffered) under ``DURABLE_EACH``, queued behind it under ``BATCH``."""
        if self.commits is _BATCH:
            self._check()
            self._order_seq += 1
            self._new_orders.append(self._order_row(order, self._order_seq))
            self._add_order_event(order, order.ts_ns, first=True)
            self._added(2)
            await self._backpressure()
            return
        async with self._lock:  # the number is taken under the lock, so it can be given back
            self._order_seq += 1
            row = self._order_row(order, self._order_seq)
            event = self._event_row(order, _state_of(order), order.ts_ns, True)
            try:
                await self._transaction(
                    [(_ORDER_INSERT, row), (_ORDER_EVENT_INSERT, event)],
                    ("orders", "order_events"),
                )
            except BaseException:
                self._order_seq -= 1  # not journaled: the next order takes this number
                raise

    async def write_order_state(self, order: Order, ts_ns: int) -> None:
        """An order's new state that must not wait for a flush (cancellations,
        rejections, broker acks): committed now under ``DURABLE_EACH``, queued under
        ``BATCH``."""
        self._order_updates[order.tag] = order
        self._add_order_event(order, ts_ns)
        if self.commits is _BATCH:
            self._added()
            await self._backpressure()
            return
        async with self._lock:
            await self._transaction(None)

    async def write_fill(
        self, fill: Fill, order: Order, position: Position | None, clock_ns: int
    ) -> bool:
        """Journal a fill with its order's new state before the caller moves a position
        (committed now, or queued under ``BATCH``); False if it was already journaled."""
        if self.commits is _BATCH:
            self._check()
            if fill.fill_id in self._fill_ids:
                return False
            self._fill_ids.add(fill.fill_id)
            self._fill_seq += 1
            self._fills.append(self._fill_row(fill, self._fill_seq, clock_ns))
            if position is not None:
                self._fill_positions.append(_position_row(self.run_id, position))
            self._order_updates[order.tag] = order
            self._add_order_event(order, fill.ts_ns)
            self._added(2)
            if self._pending >= self._flush_rows * _BACKPRESSURE_FLUSHES:
                await self.flush()  # ``_backpressure``, without a coroutine a fill
            return True

        # The duplicate check runs under the lock: two deliveries of one fill (postback and
        # poll) racing here must not both pass it and fail the second commit.
        async with self._lock:
            existing = await (
                await self.db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill.fill_id,))
            ).fetchone()
            if existing is not None:
                return False
            self._fill_seq += 1
            seq = self._fill_seq
            self._order_updates[order.tag] = order
            self._add_order_event(order, fill.ts_ns)
            statements = [(_FILL_INSERT, self._fill_row(fill, seq, clock_ns))]
            if position is not None:
                statements.append((_POSITION_UPSERT, _position_row(self.run_id, position)))
            try:
                await self._transaction(statements, ("fills",))
            except BaseException:
                self._fill_seq -= 1
                raise
        return True

    async def set_desk_state(self, key: str, value: Any) -> None:
        async with self._lock:
            await self._transaction([(_DESK_STATE_UPSERT, (key, _json(value)))], ("desk_state",))

    async def flush(self) -> None:
        async with self._lock:
            if (
                self._pending
                or self._cursor_ns is not None
                or self._risk_state is not None
                or self._positions is not None
                or self.holds.ready
            ):
                await self._transaction(None)

    # -- internals --------------------------------------------------------------------

    def _holds_after_the_last_batch(self) -> None:
        """HOLDs decided after the last cursor (the partial bars the end of the data
        flushes) are journaled as signal rows, not counted: a run killed after writing
        them resumes, replays to the end and decides them again, and a row (its id
        derived from its bar) is written once where a count would grow twice."""
        for _, _, _, _, make, args in self.holds.drop_batch():
            self.add_signal(make(*args))  # type: ignore[misc]

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def _backpressure(self) -> None:
        """BATCH: write the buffers here, the caller waiting, once they are far past a
        flush's worth (the flush task gets no turn while the loop never yields)."""
        if self._pending >= self._flush_rows * _BACKPRESSURE_FLUSHES:
            await self.flush()

    def _fill_row(self, fill: Fill, seq: int, clock_ns: int) -> tuple:
        return (
            fill.fill_id,
            seq,
            self.run_id,
            fill.tag,
            fill.engine,
            fill.symbol,
            fill.side._value_,
            fill.quantity,
            fill.price,
            fill.product._value_,
            fill.ts_ns,
            clock_ns,
            *charge_columns(fill.charges),
        )

    def _order_row(self, order: Order, seq: int) -> tuple:
        return (
            order.tag,
            self.run_id,
            order.engine,
            order.symbol,
            order.exchange._value_,
            order.side._value_,
            order.quantity,
            order.order_type._value_,
            order.product._value_,
            order.purpose._value_,
            order.status._value_,
            order.ts_ns,
            order.price,
            order.trigger_price,
            order.stop_price,
            order.filled_qty,
            order.avg_price,
            order.broker_order_id,
            order.signal_id,
            scrub(order.reason),
            order.validity._value_,
            order.variety._value_,
            seq,
        )

    async def _transaction(
        self, extra: list[tuple[str, tuple]] | None, tables: tuple[str, ...] = ()
    ) -> None:
        """Drain every buffer and write it, with the ``extra`` statements, in one
        committed transaction.

        ``tables`` names the chained tables ``extra`` writes; the ones the buffers write
        are known here. All of them are sealed before the commit. Every parameter is
        made here, on the loop's thread; the SQL then runs in one call (``_commit``).
        """
        if self.failure is not None:
            raise self.failure
        signals, self._signals = self._signals, []
        events, self._events = self._events, []
        decisions, self._decisions = self._decisions, []
        order_events, self._order_events = self._order_events, []
        updates, self._order_updates = self._order_updates, {}
        equity, self._equity = self._equity, []
        cursor, self._cursor_ns = self._cursor_ns, None
        risk_state, self._risk_state = self._risk_state, None
        positions, self._positions = self._positions, None
        universe, self._universe = self._universe, []
        instruments, self._instruments = self._instruments, []
        new_orders, self._new_orders = self._new_orders, []
        fills, self._fills = self._fills, []
        fill_positions, self._fill_positions = self._fill_positions, []
        holds = self.holds.take()
        pending, self._pending = self._pending, 0
        chained = list(tables)
        many: list[tuple[str, Any]] = []  # (sql, rows) for executemany, in this order
        updates_left = updates  # the order changes left for ``_ORDER_UPDATE``
        if signals:
            many.append((_SIGNAL_INSERT, signals))
        if decisions:
            chained.append("risk_decisions")
            many.append((_DECISION_INSERT, decisions))
        if new_orders:  # BATCH: the orders first, then their fills, then changes
            chained.append("orders")
            inserted = new_orders
            if updates:
                # An order placed since the last transaction and changed since (its
                # acknowledgement, its fill) is inserted as the UPDATE would leave it:
                # the same row at the commit, one statement (and its index update) less.
                # Its INSERT joined the buffers before the broker saw it (rule 2) and
                # commits in this very transaction either way; its history is in
                # ``order_events``. ``updates`` stays as it was, should this fail.
                updates_left = dict(updates)
                inserted = [
                    row
                    if (later := updates_left.pop(row[0], None)) is None
                    else _inserted_as_updated(row, later)
                    for row in new_orders
                ]
            many.append((_ORDER_INSERT, inserted))
        if fills:
            chained.append("fills")
            many.append((_FILL_INSERT, fills))
        if fill_positions:
            many.append((_POSITION_UPSERT, fill_positions))
        if extra:
            many.extend((sql, [row]) for sql, row in extra)
        if updates_left:
            chained.append("orders")
            many.append((_ORDER_UPDATE, [_order_update_row(o) for o in updates_left.values()]))
        if order_events:
            chained.append("order_events")
            many.append((_ORDER_EVENT_INSERT, order_events))
        if events:
            many.append((_EVENT_INSERT, events))
        if equity:  # the transaction's points as one chunk (equity_chunks.py)
            chained.append("equity_chunks")
            many.append((EQUITY_CHUNK_INSERT, [chunk_row(self.run_id, equity)]))
        if cursor is not None:
            chained.append("runs")
            many.append((_CURSOR_UPDATE, [(cursor, self.run_id)]))
        if universe:
            many.append((_UNIVERSE_INSERT, universe))
        if instruments:
            many.append((_INSTRUMENT_INSERT, instruments))
        if positions is not None:
            many.append((_POSITION_UPSERT, [_position_row(self.run_id, p) for p in positions()]))
        if risk_state is not None:
            chained.append("risk_state")
            many.append((_RISK_STATE_UPSERT, [(self.run_id, _json(risk_state), time.time_ns())]))
        if holds:
            many.append((HOLD_UPSERT, hold_rows(self.run_id, holds)))
        try:
            total = await self._on_writer(_commit, many, chained)
        except BaseException as exc:
            # Nothing of it was committed: put the buffered records back, so a later
            # drain (space freed, or close) writes them and none is lost in between.
            self._signals[:0] = signals
            self._events[:0] = events
            self._decisions[:0] = decisions
            self._order_events[:0] = order_events
            self._order_updates = {**updates, **self._order_updates}
            self._equity[:0] = equity
            self._universe[:0] = universe
            self._instruments[:0] = instruments
            self._new_orders[:0] = new_orders
            self._fills[:0] = fills
            self._fill_positions[:0] = fill_positions
            self.holds.give_back(holds)
            if self._cursor_ns is None:
                self._cursor_ns = cursor
            if self._risk_state is None:
                self._risk_state = risk_state
            if self._positions is None:
                self._positions = positions
            self._pending += pending
            if isinstance(exc, sqlite3.Error | OSError | WriteFailed):
                # a full disk, an I/O error, a file size limit: the desk must stop, not
                # trade on with a journal that no longer keeps anything
                self.failure = write_failed(f"{self._where()}: journal", exc)
                raise self.failure from None
            raise
        lock = getattr(self.db, "lock", None)  # the writer's desk lock (database.py)
        if total is not None and lock is not None:
            lock.note_rows(total)
        self.rows_written += (
            len(signals)
            + len(events)
            + len(decisions)
            + len(order_events)
            + len(equity)
            + len(new_orders)
            + len(fills)
            + len(holds)
        )
        self.flushes += 1

    async def _on_writer(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(sqlite3_connection, *args)`` on the writer's connection.

        Normally on aiosqlite's thread, in one hop. ``inline`` (a replay at full speed):
        here, on the loop's thread. Under a loop that never idles, aiosqlite's thread
        hardly ever gets the GIL: the loop gives it up for a moment at every ``select``,
        which restarts the waiting thread's claim on it, so a hop took seconds and a
        demo run committed nothing before its end. The only other users of the
        connection then are readers (the desk's detail and chart queries), which SQLite
        serialises on a connection ``sqlite3.threadsafety`` 3 says may be shared.
        """
        if self.inline and _SHAREABLE:
            return fn(self.db._conn, *args)
        return await on_connection_thread(self.db, fn, *args)

    def _where(self) -> str:
        return str(database_path(self.db) or "database")


def _state_of(order: Order) -> tuple:
    """What one ``order_events`` row records of an order: its status, reason and terms."""
    return (order.status, order.reason, order.quantity, order.price, order.trigger_price)
