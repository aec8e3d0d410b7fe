"""What the trader records of a signal: a HOLD that changed nothing is only counted.

Counted per day, engine, symbol and reason (kitetui/store/holds.py) and in the desk's
totals; every other signal is a journal row and a line on the Signals tab.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from kitetui.domain import SignalKind

from .desk import FUTURE, make_desk

SYMBOL = FUTURE.tradingsymbol


async def test_a_hold_is_counted_and_other_signals_are_rows_and_shown(tmp_path: Path) -> None:
    desk = await make_desk(tmp_path)
    try:
        trader = desk.trader
        for _ in range(3):
            desk.advance(60)
            assert (
                await trader.on_signal(desk.engine, desk.signal(SignalKind.HOLD, SYMBOL, 100.0))
                == 0
            )
        desk.advance(60)
        await trader.on_signal(desk.engine, desk.signal(SignalKind.EXIT, SYMBOL, 100.0))  # flat
        assert trader.counts["signals"] == 4
        assert [s.kind for s in trader.signals] == ["EXIT"]  # the Signals tab's rows
        trader.journal.set_cursor(desk.clock.now_ns)
        await asyncio.wait_for(trader.journal.flush(), 10)
    finally:
        await desk.close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        assert conn.execute("SELECT kind FROM signals").fetchall() == [("EXIT",)]
        assert conn.execute("SELECT engine, symbol, reason, holds FROM hold_counts").fetchall() == [
            ("fno", SYMBOL, "test hold", 3)
        ]
