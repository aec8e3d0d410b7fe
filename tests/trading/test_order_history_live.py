"""A live desk's order history: one ``order_events`` row per change of an order's state.

Probe C 4: the placement answer, the websocket's update, the order book's read-back and a
poll each journaled the state they brought, so a history read REJECTED → REJECTED, and
COMPLETE twice with the second row earlier than the first.
"""

from __future__ import annotations

import asyncio
import itertools

from kitetui.domain import SignalKind

from .kite_rig import SYMBOL, Rig, drawn_signal


async def _history(rig: Rig) -> dict[str, list[tuple[int, int, str]]]:
    await rig.journal.flush()
    rows = await (
        await rig.db.execute("SELECT tag, id, ts_ns, status FROM order_events ORDER BY id")
    ).fetchall()
    history: dict[str, list[tuple[int, int, str]]] = {}
    for tag, row_id, ts_ns, status in rows:
        history.setdefault(tag, []).append((row_id, ts_ns, status))
    return history


def _repeats(history: dict[str, list[tuple[int, int, str]]]) -> dict[str, list[str]]:
    return {
        tag: [status for _id, _ts, status in rows]
        for tag, rows in history.items()
        if any(a[2] == b[2] for a, b in itertools.pairwise(rows))
    }


def test_a_filled_entry_and_its_stop_journal_each_state_once(tmp_path):
    async def scenario() -> None:
        rig = Rig(tmp_path)
        await rig.tick(0, 1000)
        await rig.start()
        try:
            await rig.trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
            for _ in range(3):
                await rig.deliver()
                await rig.poll()
                await rig.tick(0, 1000)
            assert rig.trader.position_qty(SYMBOL) > 0
            history = await _history(rig)
            print(history)
            assert _repeats(history) == {}
            for rows in history.values():  # ids and times run the same way
                assert [ts for _id, ts, _s in rows] == sorted(ts for _id, ts, _s in rows)
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())
