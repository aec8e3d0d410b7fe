"""The bundled demo config run through a real ``Supervisor`` at full speed, with a hook
after every batch, and the ledger a run leaves: what the resume and parity tests share.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import AppConfig, parse_config
from kitetui.supervisor import Supervisor

# The money a run leaves, in an order that does not depend on row ids or run ids.
LEDGER = {
    "orders": "SELECT symbol, side, quantity, order_type, purpose, status, filled_qty, "
    "avg_price, price, trigger_price, stop_price, ts_ns, signal_id != '' FROM orders "
    "ORDER BY ts_ns, symbol, purpose, side, quantity, status",
    "fills": "SELECT symbol, side, quantity, price, ts_ns, charges_paise FROM fills "
    "ORDER BY ts_ns, symbol, side, quantity, price",
    "decisions": "SELECT ts_ns, engine, symbol, purpose, side, requested_qty, verdict, "
    "quantity, rule, reason FROM risk_decisions ORDER BY ts_ns, engine, symbol, purpose, id",
    "signals": "SELECT ts_ns, engine, symbol, kind, price, reason, confidence, indicators "
    "FROM signals ORDER BY ts_ns, engine, symbol",
    "equity": "SELECT ts_ns, equity_paise FROM equity_curve ORDER BY ts_ns",
}

Hook = Callable[[Supervisor, bool], Awaitable[None]]
BatchHook = Callable[[Supervisor, int, bool], Awaitable[None]]


def read_ledger(db: Path, tables: tuple[str, ...] = tuple(LEDGER)) -> dict[str, list[tuple]]:
    """The ``tables`` of ``LEDGER`` as ``db`` holds them."""
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(LEDGER[table]).fetchall() for table in tables}


def demo_config() -> AppConfig:
    return parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), "test.yaml")


async def run_hooked(config: AppConfig, db: Path, hook: BatchHook | None = None) -> Supervisor:
    """One run of ``config`` at full speed on ``db`` (a resumed one if ``db`` holds an
    unfinished run); ``hook(supervisor, ts, warm)`` after each batch (it may
    ``request_stop``)."""
    supervisor = Supervisor(config, "test.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 60)
    if hook is not None:
        process = supervisor._process

        async def hooked(ts: int, batch: list, warm: bool) -> None:
            await process(ts, batch, warm)
            await hook(supervisor, ts, warm)

        supervisor._process = hooked  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(supervisor.run(), 180)
    finally:
        await asyncio.wait_for(supervisor.close(), 30)
    return supervisor


async def run_demo(db: Path, hook: Hook | None = None) -> Supervisor:
    """The demo config through ``run_hooked``; ``hook(supervisor, warm)`` per batch."""

    async def each(supervisor: Supervisor, ts: int, warm: bool) -> None:
        if hook is not None:
            await hook(supervisor, warm)

    return await run_hooked(demo_config(), db, each)
