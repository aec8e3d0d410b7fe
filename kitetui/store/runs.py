"""Reading the journal back: runs to resume, and the ledger that rebuilds state.

Recovery trusts only what was committed: positions and P&L are rebuilt by replaying
fills in their commit order, open orders come from the order rows, risk state from its
last committed snapshot, and the kill switch from ``desk_state``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiosqlite

from kitetui.domain import (
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Signal,
    SignalKind,
    Validity,
    Variety,
)
from kitetui.views import FillView, OrderDetail, OrderEventView


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    mode: str
    config_hash: str
    status: str
    cursor_ns: int
    restarts: int


async def find_resumable_run(
    db: aiosqlite.Connection, mode: str, config_hash: str
) -> RunRow | None:
    """The newest run of this mode and config if it did not reach its end (crash or stop)."""
    row = await (
        await db.execute(
            "SELECT run_id, mode, config_hash, status, cursor_ns, restarts FROM runs "
            "WHERE mode = ? ORDER BY started_wall_ns DESC LIMIT 1",
            (mode,),
        )
    ).fetchone()
    if row is None:
        return None
    run = RunRow(*row)
    if run.status not in ("RUNNING", "STOPPED") or run.config_hash != config_hash:
        return None
    return run


async def create_run(
    db: aiosqlite.Connection, run_id: str, mode: str, config_path: str, config_hash: str
) -> None:
    await db.execute("BEGIN IMMEDIATE")
    await db.execute(
        "INSERT INTO runs (run_id, mode, config_path, config_hash, status, started_wall_ns) "
        "VALUES (?, ?, ?, ?, 'RUNNING', ?)",
        (run_id, mode, config_path, config_hash, time.time_ns()),
    )
    await db.commit()


async def mark_restarted(db: aiosqlite.Connection, run_id: str) -> None:
    await db.execute("BEGIN IMMEDIATE")
    await db.execute("UPDATE runs SET restarts = restarts + 1 WHERE run_id = ?", (run_id,))
    await db.commit()


async def finish_run(db: aiosqlite.Connection, run_id: str, status: str) -> None:
    await db.execute("BEGIN IMMEDIATE")
    await db.execute(
        "UPDATE runs SET status = ?, ended_wall_ns = ? WHERE run_id = ?",
        (status, time.time_ns(), run_id),
    )
    await db.commit()


async def load_fills(db: aiosqlite.Connection, run_id: str) -> list[tuple[int, Fill]]:
    """Every fill of the run in commit order, with the data clock it was processed at."""
    cursor = await db.execute(
        "SELECT fill_id, tag, symbol, side, quantity, price, ts_ns, engine, product, clock_ns "
        "FROM fills WHERE run_id = ? ORDER BY seq",
        (run_id,),
    )
    return [
        (
            r[9],
            Fill(
                fill_id=r[0],
                tag=r[1],
                symbol=r[2],
                side=Side(r[3]),
                quantity=r[4],
                price=r[5],
                ts_ns=r[6],
                engine=r[7],
                product=Product(r[8]),
            ),
        )
        for r in await cursor.fetchall()
    ]


_ORDER_SELECT = (
    "SELECT tag, engine, symbol, exchange, side, quantity, order_type, product, purpose, "
    "status, ts_ns, price, trigger_price, stop_price, filled_qty, avg_price, broker_order_id, "
    "signal_id, reason, validity, variety FROM orders"
)


def _order(r: tuple) -> Order:
    return Order(
        tag=r[0],
        engine=r[1],
        symbol=r[2],
        exchange=Exchange(r[3]),
        side=Side(r[4]),
        quantity=r[5],
        order_type=OrderType(r[6]),
        product=Product(r[7]),
        purpose=OrderPurpose(r[8]),
        status=OrderStatus(r[9]),
        ts_ns=r[10],
        price=r[11],
        trigger_price=r[12],
        stop_price=r[13],
        filled_qty=r[14],
        avg_price=r[15],
        broker_order_id=r[16],
        signal_id=r[17],
        reason=r[18],
        validity=Validity(r[19]),
        variety=Variety(r[20]),
    )


async def load_orders(db: aiosqlite.Connection, run_id: str) -> list[Order]:
    cursor = await db.execute(f"{_ORDER_SELECT} WHERE run_id = ? ORDER BY seq", (run_id,))
    return [_order(r) for r in await cursor.fetchall()]


async def load_risk_state(db: aiosqlite.Connection, run_id: str) -> dict[str, Any] | None:
    row = await (
        await db.execute("SELECT state FROM risk_state WHERE run_id = ?", (run_id,))
    ).fetchone()
    return None if row is None else json.loads(row[0])


async def load_desk_state(db: aiosqlite.Connection, key: str) -> Any:
    row = await (await db.execute("SELECT value FROM desk_state WHERE key = ?", (key,))).fetchone()
    return None if row is None else json.loads(row[0])


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


async def load_order_detail(db: aiosqlite.Connection, tag: str) -> OrderDetail | None:
    """An order's journaled state changes and fills, oldest first; None for an unknown tag."""
    cursor = await db.execute("SELECT 1 FROM orders WHERE tag = ?", (tag,))
    if await cursor.fetchone() is None:
        return None
    cursor = await db.execute(
        "SELECT ts_ns, status, reason FROM order_events WHERE tag = ? ORDER BY id", (tag,)
    )
    history = tuple(OrderEventView(r[0], r[1], r[2]) for r in await cursor.fetchall())
    cursor = await db.execute(
        "SELECT fill_id, ts_ns, side, quantity, price FROM fills WHERE tag = ? ORDER BY seq",
        (tag,),
    )
    fills = tuple(FillView(*r) for r in await cursor.fetchall())
    return OrderDetail(tag=tag, history=history, fills=fills)


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
    indicators = {k: float(v) for k, v in json.loads(row[10]).items() if v is not None}
    return Signal(
        signal_id=row[0],
        ts_ns=row[1],
        engine=row[2],
        strategy=row[3],
        symbol=row[4],
        timeframe_s=row[5],
        kind=SignalKind(row[6]),
        price=row[7],
        reason=row[8],
        confidence=row[9],
        indicators=indicators,
    )


async def has_decision(db: aiosqlite.Connection, run_id: str, signal_id: str, purpose: str) -> bool:
    """Whether the risk engine already decided this signal's intent of ``purpose``."""
    row = await (
        await db.execute(
            "SELECT 1 FROM risk_decisions WHERE run_id = ? AND signal_id = ? AND purpose = ?",
            (run_id, signal_id, purpose),
        )
    ).fetchone()
    return row is not None


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
