"""A restart knows a held contract that today's master no longer lists.

Kite's instrument dump of the day after a contract's expiry does not list it, so a
live desk restarted that morning would not know that the contract it holds has
expired: it would not settle it, and would place its stop again at Kite. Recovery
reads the contract back from the masters the run journaled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

from kitetui.clock import ist_date
from kitetui.domain import Exchange, OrderIntent, OrderPurpose, Product, Side
from kitetui.store.runs import load_fills
from kitetui.supervisor.recovery import Recovery

from .desk import CALL, NS, StubEngine, make_desk

NEXT_DAY = 1_701_402_300 * NS  # 2023-12-01 09:15 IST: the NOV call expired yesterday


async def test_a_held_contract_missing_from_todays_master_comes_back_from_the_journal(
    tmp_path: Path,
) -> None:
    desk = await make_desk(tmp_path, engine=StubEngine(instruments={CALL.tradingsymbol: CALL}))
    try:
        trader = desk.trader
        older = dataclasses.replace(CALL, lot_size=25)  # an earlier day's row: not this one
        trader.journal.add_instruments("2023-11-01", [older.journal_row()])
        trader.journal.add_instruments("2023-11-30", [CALL.journal_row()])
        intent = OrderIntent(
            engine="fno",
            symbol=CALL.tradingsymbol,
            exchange=Exchange.NFO,
            side=Side.BUY,
            quantity=50,
            purpose=OrderPurpose.ENTRY,
            product=Product.NRML,
        )
        await trader.submit(intent, "buycall")
        await desk.price(CALL.tradingsymbol, 100.0)
        assert trader.position_qty(CALL.tradingsymbol) == 50
        await trader.journal.flush()
        today: dict = {}  # the morning's master: the NOV call is not in it
        recovery = Recovery(SimpleNamespace(db=desk.db, contracts=today))  # type: ignore[arg-type]
        recovery.fills = await load_fills(desk.db, "run1")
        await recovery._known_contracts()
        assert today == {CALL.tradingsymbol: CALL}
        # the trader's map is the desk's: it now knows the contract has expired
        trader.charger.instruments = today
        trader.clock.now_ns = NEXT_DAY
        assert ist_date(NEXT_DAY) > CALL.expiry  # type: ignore[operator]
        assert trader.contract_expired(CALL.tradingsymbol)
    finally:
        await desk.close()
