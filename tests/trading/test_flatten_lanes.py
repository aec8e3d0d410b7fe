"""Live, the flattens the batch path starts go on in their symbol's lane.

A loss halt, a symbol block and the session's square-off awaited each close at Kite on
the batch path: one close placement that hung held every other symbol's close (and its
prices and signals) for Kite's timeout. Here the desk runs against the strict exchange
in process (``kite_rig``) with the option's placements held at the exchange's door, and
the supervisor's own ``_risk_checks`` and ``SessionKeeper.square_off`` over the rig.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from kitetui.clock import ist_date, ist_minute_of_day
from kitetui.domain import SignalKind
from kitetui.supervisor.gate import Supervisor
from kitetui.supervisor.session_keeper import SessionKeeper
from kitetui.trading.session import SessionPlan

from .desk import rule_11
from .kite_rig import OPTION, SYMBOL, Rig, drawn_signal
from .test_entry_lanes import SOON_S, _at_exchange, _live


@contextmanager
def _held(rig: Rig, symbol: str) -> Iterator[threading.Event]:
    """Every order ``symbol`` sends (a placement, the stop turned into its close, a
    cancel) waits at the exchange's door until the event is set; the others go through."""
    release = threading.Event()
    routes = rig.kite._routes_in
    real = {name: routes[name] for name in ("order.place", "order.modify", "order.cancel")}

    def ours(url_args: dict, params: dict) -> bool:
        if "tradingsymbol" in params:
            return params["tradingsymbol"] == symbol
        order_id = url_args.get("order_id")
        return any(o["order_id"] == order_id for o in _at_exchange(rig, symbol))

    def hold(name: str):
        def route(url_args: dict, params: dict):
            if ours(url_args, params):
                release.wait(30)
            return real[name](url_args, params)

        return route

    for name in real:
        routes[name] = hold(name)
    try:
        yield release
    finally:
        release.set()
        routes.update(real)


async def _both_held(folder: Path) -> Rig:
    """A live desk long the future and the option, each with its stop at Kite."""
    rig, _lanes = await _live(folder)
    await rig.trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
    await rig.buy_option()
    await rig.deliver()
    assert rig.trader.position_qty(SYMBOL) > 0 and rig.trader.position_qty(OPTION) > 0
    assert not rule_11(rig.trader)
    return rig


def _desk(rig: Rig) -> SimpleNamespace:
    trader = rig.trader
    return SimpleNamespace(
        trader=trader, risk=trader.risk, portfolio=trader.portfolio, journal=rig.journal
    )


async def _close_sent(rig: Rig, symbol: str) -> None:
    """Wait (briefly) until the exchange has a close of ``symbol`` that is not its stop."""
    while True:
        orders = [o for o in _at_exchange(rig, symbol) if o["transaction_type"] == "SELL"]
        if orders and all(o["order_type"] in ("MARKET", "LIMIT") for o in orders):
            return  # every stop slice is now its close
        await asyncio.sleep(0.01)


async def _settle(rig: Rig) -> None:
    """Kite's fills come in; each symbol ends flat, here and at Kite: one close of the
    whole position (a second would have left it short at Kite)."""
    for _ in range(3):
        await rig.tick(0, 1000)
        await rig.option_tick(0, 1000)
        await rig.deliver()
        await rig.trader.exits.service()
    assert not rule_11(rig.trader)
    for symbol in (SYMBOL, OPTION):
        assert rig.exchange_position(symbol) == rig.trader.position_qty(symbol) == 0
    await rig.journal.close()
    await rig.db.close()


def test_a_hung_close_in_a_loss_halt_holds_no_other_symbols_close(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = await _both_held(tmp_path)
        trader, desk = rig.trader, _desk(rig)
        trader.risk.limits = dataclasses.replace(trader.risk.limits, max_daily_loss=1.0)
        await rig.tick(-1, 100)  # the future dips: the day's loss passes the limit (₹1)
        with _held(rig, OPTION) as release:
            await asyncio.wait_for(Supervisor._risk_checks(desk, rig.clock.now_ns), SOON_S)  # type: ignore[arg-type]
            await asyncio.wait_for(_close_sent(rig, SYMBOL), SOON_S)
            assert trader.is_flattening(OPTION)  # its close waits at Kite's door
            # the next batch: the future's close fills; neither a second halt nor close
            await rig.tick(0, 1000)
            await asyncio.wait_for(Supervisor._risk_checks(desk, rig.clock.now_ns), SOON_S)  # type: ignore[arg-type]
            await rig.deliver(settled=False)
            assert trader.is_flattening(OPTION) and not rule_11(trader)
            release.set()
            await asyncio.wait_for(rig.lanes.drain(), 10)
        assert not trader.is_flattening(OPTION)
        assert [e.kind for e in trader.events].count("TradingHalted") == 1
        await _settle(rig)

    asyncio.run(scenario())


def test_a_hung_square_off_is_said_and_placed_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = await _both_held(tmp_path)
        trader = rig.trader
        day = ist_date(rig.clock.now_ns)
        keeper = SessionKeeper.__new__(SessionKeeper)
        keeper.desk = _desk(rig)  # type: ignore[assignment]
        keeper.plan = SessionPlan(day, 555, 930, 900, 920, 925, False)
        keeper.closed = False
        now = rig.clock.now_ns
        at = now + (925 - ist_minute_of_day(now)) * 60 * 10**9  # 15:25 IST, the F&O square-off
        with _held(rig, OPTION) as release:
            await asyncio.wait_for(keeper.square_off(at), SOON_S)
            await asyncio.wait_for(_close_sent(rig, SYMBOL), SOON_S)
            await rig.tick(0, 1000)  # the future's close fills
            await rig.deliver(settled=False)
            assert trader.is_flattening(OPTION) and not rule_11(trader)
            for later in (1, 2):  # the next batches: the option is still not closing
                await asyncio.wait_for(keeper.square_off(at + later * 10**9), SOON_S)
            release.set()
            await asyncio.wait_for(rig.lanes.drain(), 10)
        said = [e.message for e in trader.events if e.kind == "SquaredOff"]
        assert len(said) == 1 and SYMBOL in said[0] and OPTION in said[0], said
        await _settle(rig)

    asyncio.run(scenario())
