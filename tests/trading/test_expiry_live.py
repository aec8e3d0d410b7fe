"""A live desk holding a contract into its expiry, against the strict exchange.

Kite settles an expired contract itself: no order, no trade, no order update; it lists
the position until its day ends and not the next morning (``sim.day_end``). The desk
books the same settlement in its own books (``kitetui.supervisor.expiry``,
``kitetui.trading.expiry_booking``): at the bell of the expiry day, or at the next
session's start when it was not running then; its resting stop cancelled at Kite or
marked ended, never an order sent for the dead contract, and the reconcile agrees with
Kite before and after Kite drops the position.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from kitetui.config import SessionConfig
from kitetui.domain import OrderPurpose, OrderStatus, Product
from kitetui.market.calendar import nse as nse_calendar
from kitetui.market.feeds import LiveFeed
from kitetui.market.instruments import Instrument, InstrumentMaster
from kitetui.sim.exchange import SimExchange
from kitetui.sim.market import SimMarket
from kitetui.supervisor.session_keeper import SessionKeeper
from kitetui.venues.reconciler import Reconciler

from .desk import CALL, FUTURE
from .kite_rig import OPTION, T0, Rig

NS = 1_000_000_000
INDEX = Instrument(4, 4, "NIFTY 50", "NIFTY 50", 0.0, None, 0.0, 0.0, 0, "EQ", "INDICES", "NSE")
EXPIRY_DAY = T0 + 15 * 24 * 3600 * NS  # 2023-11-30 09:30 IST, the NOV contracts' expiry
BELL = EXPIRY_DAY + 6 * 3600 * NS  # 15:30 IST
NEXT_MORNING = EXPIRY_DAY + (24 * 60 - 15) * 60 * NS  # 2023-12-01 09:15 IST


class _Engine:
    """An options engine as the settlement asks of one: its index's feed."""

    config = SimpleNamespace(underlying="NIFTY", underlying_symbol="NIFTY 50")

    async def start_session(self, *_args: object) -> None:
        return None


def _rig(folder: Path) -> Rig:
    """The kite rig, its market listing NIFTY 50 too (the index the options settle on)."""
    rig = Rig(folder)
    rig.market = SimMarket([], InstrumentMaster([FUTURE, CALL, INDEX]))
    rig.exchange = SimExchange(
        rig.market, [rig.account], freeze_limits={"NIFTY": 100}, enforce_margins=False
    )
    rig.exchange.on_order_update(rig.updates.append)
    return rig


def _desk(rig: Rig) -> SimpleNamespace:
    """What the session keeper and the settlement ask of the live desk."""
    trader = rig.trader
    return SimpleNamespace(
        trader=trader,
        venue=SimpleNamespace(simulated=False),
        calendar=nse_calendar(),
        config=SimpleNamespace(session=SessionConfig()),
        warmup=trader.warmup,
        journal=rig.journal,
        master=[],
        engines=[_Engine()],
        contracts={i.tradingsymbol: i for i in (FUTURE, CALL, INDEX)},
        last_prices=trader.last_prices,
        prev_turnover={},
        portfolio=trader.portfolio,
        broker=rig.broker,
        equity_point=lambda ts: None,
    )


def _at(rig: Rig, ts: int, key: str, price: float) -> None:
    """A trade at the exchange at ``ts``; the desk sees it as its feed would."""
    rig.market.inject_tick(key, price, 1000, ts_ns=ts)
    if not hasattr(rig, "trader"):
        return  # the desk is not started yet
    rig.clock.now_ns = ts
    symbol = key.split(":", 1)[1]
    rig.trader.last_prices[symbol] = price
    rig.trader.portfolio.mark(symbol, price)


async def _long_call(rig: Rig) -> int:
    """On the expiry day's morning: an NRML call bought, its SL stop resting at Kite."""
    _at(rig, EXPIRY_DAY, "NSE:NIFTY 50", 19_560.0)
    _at(rig, EXPIRY_DAY + NS, f"NFO:{OPTION}", 100.0)
    await rig.start()
    rig.engine.product = Product.NRML
    await rig.buy_option()
    await rig.deliver()
    held = rig.trader.position_qty(OPTION)
    assert held > 0
    assert sum(s["quantity"] for s in _kite_orders(rig, "TRIGGER PENDING")) == held
    return held


def _kite_orders(rig: Rig, status: str | None = None) -> list[dict]:
    return [
        o
        for o in rig.exchange.orders(rig.account)
        if o["tradingsymbol"] == OPTION and status in (None, o["status"])
    ]


def _placements(rig: Rig) -> list[dict]:
    """Every placement the desk sends to Kite from now on (refused at the gate or not)."""
    sent: list[dict] = []
    place = rig.kite.place_order

    def spy(**params: object) -> object:
        sent.append(params)
        return place(**params)

    rig.kite.place_order = spy  # type: ignore[method-assign]
    return sent


def _reconciler(rig: Rig) -> Reconciler:
    return Reconciler(rig.broker, rig.trader, LiveFeed(), rig.clock, lambda: None)


async def _drift(reconciler: Reconciler) -> list[str]:
    """A difference counts when seen twice in a row: two passes."""
    await reconciler.reconcile()
    return await reconciler.reconcile()


async def _rows(rig: Rig, sql: str) -> list[tuple]:
    await rig.journal.flush()
    return [tuple(r) for r in await (await rig.db.execute(sql)).fetchall()]


def test_a_call_held_into_its_expiry_is_booked_settled_at_the_bell_and_agrees_with_kite(
    tmp_path: Path,
) -> None:
    """NIFTY closes at 19,450: the 19500 call lapses. At the bell the desk cancels its
    stop at Kite, books the lapse at zero (the index's last price as the desk saw it,
    said provisional) and sends no order; the reconcile agrees while Kite still lists
    the position that evening, and after Kite drops it the next morning. Before, the
    desk kept the position (its stop, its P&L, its exposure) and the next start's
    reconcile found Kite flat and the desk long."""

    async def scenario() -> None:
        rig = _rig(tmp_path)
        held = await _long_call(rig)
        try:
            desk = _desk(rig)
            keeper = SessionKeeper(desk, EXPIRY_DAY)  # type: ignore[arg-type]
            _at(rig, BELL - 60 * NS, "NSE:NIFTY 50", 19_450.0)  # 15:29: out of the money
            placed = _placements(rig)
            rig.clock.now_ns = BELL
            await asyncio.wait_for(keeper.close(BELL), 10)
            await rig.deliver()
            # booked flat; nothing left working; no order sent, the stop cancelled at Kite
            assert rig.trader.position_qty(OPTION) == 0
            assert rig.trader.open_orders(OPTION) == []
            assert placed == []
            assert _kite_orders(rig, "TRIGGER PENDING") == []
            assert _kite_orders(rig, "CANCELLED")  # by the desk, before Kite's mass cancel
            booked = await _rows(
                rig,
                "SELECT o.status, o.broker_order_id, o.purpose, o.reason, f.side, f.quantity, "
                "f.price, f.charges_paise FROM orders o JOIN fills f ON f.tag = o.tag "
                f"WHERE o.symbol = '{OPTION}' AND o.purpose = 'SQUARE_OFF'",
            )
            ((status, broker_id, _purpose, reason, side, quantity, price, paise),) = booked
            assert (status, broker_id, side, quantity, price, paise) == (
                "COMPLETE", "", "SELL", held, 0.0, 0
            )  # fmt: skip
            assert reason.startswith("expiry settlement (lapse) at intrinsic value 0.00")
            assert "provisional" in reason and "booked by kitetui, not sent" in reason
            stops = await _rows(
                rig, f"SELECT status FROM orders WHERE symbol = '{OPTION}' AND purpose = 'STOP'"
            )
            assert stops and {s for (s,) in stops} == {"CANCELLED"}
            position = rig.trader.portfolio.position(OPTION)
            assert position is not None
            assert position.realized_paise == -100 * 100 * held  # the premium paid, lost
            ((level, message),) = await _rows(
                rig, "SELECT level, message FROM events WHERE kind = 'ExpirySettled'"
            )
            assert level == "WARNING" and OPTION in message, message
            assert f"booked here +{held} at 0.00" in message and "provisional" in message
            assert f"P&L {-100.0 * held:+.2f}" in message and "no order was sent" in message
            # that evening Kite still lists the position: the settlement, not drift
            assert rig.exchange_position(OPTION) == held
            assert await _drift(_reconciler(rig)) == []
            await rig.restart()  # a desk started again that evening knows it too
            assert rig.trader.position_qty(OPTION) == 0
            reconciler = _reconciler(rig)
            assert await _drift(reconciler) == []
            # the next morning Kite has settled it too: gone, its P&L in the cash
            cash = rig.account.cash
            _at(rig, NEXT_MORNING, "NSE:NIFTY 50", 19_470.0)
            assert rig.exchange_position(OPTION) == 0
            (settled,) = rig.exchange.book(rig.account).settlements
            assert (settled["quantity"], settled["price"]) == (held, 0.0)
            assert rig.account.cash == cash + settled["pnl"]
            assert settled["pnl"] * 100 == position.realized_paise  # the desk's P&L, Kite's
            assert await _drift(reconciler) == []
            await rig.restart()  # and a desk started again agrees with it
            assert rig.trader.position_qty(OPTION) == 0
            assert await _drift(_reconciler(rig)) == []
            await rig.journal.flush()
            assert not await _rows(rig, "SELECT 1 FROM events WHERE kind = 'ReconcileDrift'")
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())


def test_a_desk_that_missed_the_expiry_books_the_settlement_at_the_next_start(
    tmp_path: Path,
) -> None:
    """The desk stops on the expiry day before the close, with an NRML call in the money
    and its stop; Kite mass-cancels the stop and settles the call overnight. Started the
    next morning, the desk sends nothing for the dead contract (no stop placed again at
    the open), writes the stop off as lapsed, books the exercise at the index price it
    has (provisional) and agrees with Kite."""

    async def scenario() -> None:
        rig = _rig(tmp_path)
        held = await _long_call(rig)
        try:
            _at(rig, BELL - 60 * NS, "NSE:NIFTY 50", 19_620.0)  # in the money: 120
            rig.market.inject_tick(f"NFO:{OPTION}", 121.0, 1000, ts_ns=BELL - 30 * NS)
            _at(rig, NEXT_MORNING - 600 * NS, "NSE:NIFTY 50", 19_620.0)  # 09:05: its close
            assert rig.exchange_position(OPTION) == 0  # Kite settled it overnight
            await rig.restart()  # the rig re-covers every position, as recovery does
            placed = _placements(rig)
            assert rig.trader.position_qty(OPTION) == held  # what the journal says
            desk = _desk(rig)
            desk.last_prices.pop("NIFTY 50", None)  # no print of it yet: read from Kite
            keeper = SessionKeeper(desk, NEXT_MORNING)  # type: ignore[arg-type]
            await asyncio.wait_for(keeper.start(NEXT_MORNING), 10)
            await rig.deliver()
            assert placed == []  # no stop placed again at the open, no close
            assert rig.trader.position_qty(OPTION) == 0
            assert rig.trader.open_orders(OPTION) == []
            booked = await _rows(
                rig,
                "SELECT f.price, f.quantity, o.reason, o.broker_order_id FROM orders o "
                f"JOIN fills f ON f.tag = o.tag WHERE o.symbol = '{OPTION}' "
                "AND o.purpose = 'SQUARE_OFF'",
            )
            ((price, quantity, reason, broker_id),) = booked
            assert (price, quantity, broker_id) == (120.0, held, "")
            assert reason.startswith("expiry settlement (exercise) at intrinsic value 120.00")
            lapsed = await _rows(rig, "SELECT message FROM events WHERE kind = 'OrderLapsed'")
            assert lapsed and all(OPTION in m for (m,) in lapsed)
            ((message,),) = await _rows(
                rig, "SELECT message FROM events WHERE kind = 'ExpirySettled'"
            )
            assert "expired before this session" in message and "provisional" in message
            assert "NIFTY 50 last at 19620.00" in message, message
            assert "Kite's last price of it read now" in message, message
            refused = await _rows(
                rig, "SELECT message FROM events WHERE kind IN ('OrderRejected', 'StopRejected')"
            )
            assert refused == []
            assert await _drift(_reconciler(rig)) == []
            (settled,) = rig.exchange.book(rig.account).settlements  # Kite's, at 19,620
            position = rig.trader.portfolio.position(OPTION)
            assert position is not None and settled["price"] == 120.0
            assert round(settled["pnl"] * 100) == position.realized_paise  # the same P&L
            stops = [o for o in rig.trader.orders.values() if o.purpose is OrderPurpose.STOP]
            assert stops and all(o.status is OrderStatus.CANCELLED for o in stops)
        finally:
            await rig.journal.close()
            await rig.db.close()

    asyncio.run(scenario())
