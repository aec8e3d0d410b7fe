"""Helpers for the store tests: a small journal written through the real store API.

``write_journal`` leaves a database as kitetui leaves one: opened with
``open_database``, a run created, then orders placed, updated and filled, risk state
and the kill switch set, signals and events flushed, and closed (which seals the
file). Every chained table has rows.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from kitetui.domain import (
    Event,
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
)
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run
from kitetui.trading.risk import RiskEngine, RiskLimits

RUN = "20221118T034500-a1b2c3"
TIMEOUT_S = 20.0


def order(tag: str, status: OrderStatus = OrderStatus.NEW, **changes) -> Order:
    fields = {
        "tag": tag,
        "engine": "fno",
        "symbol": "NIFTY22NOVFUT",
        "exchange": Exchange.NFO,
        "side": Side.BUY,
        "quantity": 50,
        "order_type": OrderType.MARKET,
        "product": Product.MIS,
        "purpose": OrderPurpose.ENTRY,
        "status": status,
        "ts_ns": 1_668_742_500_000_000_000,
        "signal_id": f"sig-{tag}",
    }
    fields.update(changes)
    return Order(**fields)


def fill(fill_id: str, tag: str, qty: int = 50, price: float = 18_305.05) -> Fill:
    return Fill(
        fill_id=fill_id,
        tag=tag,
        symbol="NIFTY22NOVFUT",
        side=Side.BUY,
        quantity=qty,
        price=price,
        ts_ns=1_668_742_560_000_000_000,
        engine="fno",
        product=Product.MIS,
    )


def risk_state() -> dict:
    risk = RiskEngine(RiskLimits(25_000, 10_000, 5, 4, 6_000_000, 3_000_000, 10_000))
    risk.entries_today["NIFTY22NOVFUT"] = 1
    return risk.to_state()


async def write_journal(path: Path, *, orders: int = 6) -> None:
    """Orders through their lifecycle, fills, risk state, the kill switch; then close."""
    db = await open_database(path)
    try:
        await create_run(db, RUN, "replay", "cfg.yaml", "hash")
        journal = Journal(db, RUN, flush_interval_s=60.0)
        for i in range(orders):
            tag = f"T{i:02d}"
            journal.add_signal(
                Signal(
                    signal_id=f"sig-{tag}",
                    ts_ns=1_668_742_500_000_000_000 + i,
                    engine="fno",
                    strategy="ema_cross",
                    symbol="NIFTY22NOVFUT",
                    timeframe_s=60,
                    kind=SignalKind.LONG,
                    price=18_300.0 + i,
                    reason="fast above slow",
                    confidence=0.7,
                    indicators={"ema_fast": 18_301.5},
                )
            )
            placed = order(tag)
            await journal.write_order(placed)
            opened = order(tag, OrderStatus.OPEN, broker_order_id=f"B{i}")
            journal.update_order(opened, 1_668_742_501_000_000_000 + i)
            if i % 2 == 0:
                done = order(
                    tag,
                    OrderStatus.COMPLETE,
                    broker_order_id=f"B{i}",
                    filled_qty=50,
                    avg_price=18_305.05,
                )
                await journal.write_fill(fill(f"{tag}-1", tag), done, None, 1_000 + i)
            else:
                gone = order(tag, OrderStatus.CANCELLED, broker_order_id=f"B{i}", reason="cut")
                await journal.write_order_state(gone, 1_668_742_502_000_000_000 + i)
            journal.add_event(Event(ts_ns=i, kind="TickSkipped", message="m", data={"n": i}))
        journal.set_cursor(1_668_742_600_000_000_000)
        journal.set_risk_state(risk_state())
        await journal.flush()
        await journal.set_desk_state("kill_switch", {"on": True, "reason": "test"})
        await journal.set_desk_state("kill_switch", {"on": False, "reason": ""})
        journal.set_risk_state(risk_state())
        await journal.close()
    finally:
        await db.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit(path: Path, *statements: str) -> None:
    """Change the file as someone with the sqlite3 shell would (then close it)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def sidecars(path: Path) -> list[str]:
    names = (path.name + s for s in ("-wal", "-shm", "-journal"))
    return sorted(name for name in names if path.with_name(name).exists())


def pages_a_vacuum_saves(path: Path) -> int:
    """Pages a ``VACUUM INTO`` copy of ``path`` saves: 0 once the file is compacted."""
    copy = path.with_name(path.name + ".packed")
    con = sqlite3.connect(path)
    try:
        con.execute("VACUUM INTO ?", (str(copy),))
        (pages,) = con.execute("PRAGMA page_count").fetchone()
    finally:
        con.close()
    con = sqlite3.connect(copy)
    try:
        (packed,) = con.execute("PRAGMA page_count").fetchone()
    finally:
        con.close()
    copy.unlink()
    return pages - packed
