"""A symbol's order states are taken one at a time (``Trader._order_lock``).

A fill is journaled (awaited) before it is tracked. Live, other paths read the same
order back meanwhile: the kill switch's cancel and a cancel deferred for an entry in
flight each refresh it, the reconciler polls it, a placement is answered. One that
merged the broker's view into the state from before the fill journaled that state
after the fill's: the desk was right in memory, but the journal's last row said OPEN
and unfilled after COMPLETE, and a restart brought back a working entry the exchange
had filled (found by the exit invariant's property test under load).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kitetui.domain import OrderPurpose, OrderStatus
from kitetui.store.runs import load_orders

from .kite_rig import OPTION, Rig


async def _filled_entry(rig: Rig) -> str:
    """An option entry the exchange has filled, the update not yet heard."""
    await rig.tick(0, 1000)
    await rig.start()
    await rig.option_tick(0, 1000)
    await rig.buy_option()
    await rig.lanes.drain()
    (entry,) = [o for o in rig.trader.orders.values() if o.purpose is OrderPurpose.ENTRY]
    assert entry.status is OrderStatus.OPEN and entry.filled_qty == 0  # as the desk knows
    rig.updates.clear()  # the websocket's news of the fill is lost: a read brings it
    return entry.tag


async def _race(rig: Rig) -> None:
    tag = await _filled_entry(rig)
    journal, trader = rig.journal, rig.trader
    committed, go_on = asyncio.Event(), asyncio.Event()
    write_fill = journal.write_fill

    async def slow_write_fill(*args, **kwargs):  # committed; the desk not told yet
        written = await write_fill(*args, **kwargs)
        committed.set()
        await go_on.wait()
        return written

    journal.write_fill = slow_write_fill  # type: ignore[method-assign]
    first = asyncio.create_task(trader.refresh(tag))  # brings the fill
    await asyncio.wait_for(committed.wait(), 5)
    second = asyncio.create_task(trader.refresh(tag))  # the fill already handed over
    for _ in range(20):  # let it run as far as it can
        await asyncio.sleep(0)
    go_on.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    await journal.flush()
    assert trader.orders[tag].status is OrderStatus.COMPLETE
    (journaled,) = [o for o in await load_orders(rig.db, "run1") if o.tag == tag]
    assert (journaled.status, journaled.filled_qty) == (OrderStatus.COMPLETE, 100)
    rows = await (
        await rig.db.execute("SELECT status FROM order_events WHERE tag = ? ORDER BY id", (tag,))
    ).fetchall()
    assert rows[-1][0] == "COMPLETE", rows
    await rig.restart()  # what a restarted desk believes: no working entry
    assert rig.trader.orders[tag].status is OrderStatus.COMPLETE
    assert not [o for o in rig.trader.open_orders(OPTION) if o.purpose is OrderPurpose.ENTRY]


def test_a_read_back_racing_a_fill_being_journaled_never_journals_the_older_state(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        rig = Rig(tmp_path)
        try:
            await _race(rig)
        finally:  # a failed check must not leave the database's thread behind
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())
