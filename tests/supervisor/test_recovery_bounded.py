"""A resumed run over the paper broker, with a trader that forgets old finished orders.

Recovery reads every reloaded order (the fills replayed, the cover of each open
position, a stop-and-reverse still waiting); the trader keeps them all until recovery
has finished, then forgets the old ones. With a window of two finished orders (so
forgetting happens all the time), a run stopped and resumed must leave the same ledger
as one that ran through, and both the same as a trader that keeps every order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import parse_config
from kitetui.supervisor import Supervisor, assembly

LEDGER = {
    "orders": "SELECT symbol, side, quantity, order_type, purpose, status, filled_qty, "
    "avg_price, price, trigger_price, stop_price, ts_ns FROM orders "
    "ORDER BY ts_ns, symbol, purpose, side, quantity, status",
    "fills": "SELECT symbol, side, quantity, price, ts_ns, charges_paise FROM fills "
    "ORDER BY ts_ns, symbol, side, quantity, price",
}


async def _session(
    db: Path, stop_after: int | None = None, warm: list[bool] | None = None
) -> Supervisor:
    """One run of the demo config; ``stop_after`` orders it stops; ``warm`` notes, for
    each batch of a resumed run's warm-up, whether every reloaded order is still kept."""
    config = parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), "test.yaml")
    supervisor = Supervisor(config, "test.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 60)
    process = supervisor._process

    async def hooked(ts: int, batch: list, warming: bool) -> None:
        await process(ts, batch, warming)
        if warming and warm is not None:
            warm.append(len(supervisor.trader.orders) == supervisor.trader.placed)
        if stop_after is not None and supervisor.trader.placed >= stop_after:
            supervisor.request_stop()

    supervisor._process = hooked  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(supervisor.run(), 180)
    finally:
        await asyncio.wait_for(supervisor.close(), 30)
    return supervisor


def _ledger(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in LEDGER.items()}


async def test_a_bounded_run_stopped_and_resumed_leaves_the_ledger_of_one_that_ran_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assembly, "KEEP_FINISHED", None)
    kept_all = await _session(tmp_path / "all.db")
    monkeypatch.setattr(assembly, "KEEP_FINISHED", 2)
    through = await _session(tmp_path / "through.db")
    assert len(through.trader.orders) <= 4 + len(through.trader.open_orders())
    assert through.trader.placed == kept_all.trader.placed >= 10
    assert through.trader.filled_entries() == kept_all.trader.filled_entries()
    first = await _session(tmp_path / "resumed.db", stop_after=through.trader.placed // 2)
    assert first.trader.placed < through.trader.placed
    warm: list[bool] = []
    second = await _session(tmp_path / "resumed.db", warm=warm)
    assert warm and all(warm)  # recovery kept every order until it finished
    assert second.resumed and second.run_id == first.run_id
    assert second.trader.placed == through.trader.placed
    assert second.summary.entries == through.summary.entries
    assert len(second.trader.orders) <= 4 + len(second.trader.open_orders())
    expected = _ledger(tmp_path / "all.db")
    assert _ledger(tmp_path / "through.db") == expected
    assert _ledger(tmp_path / "resumed.db") == expected
