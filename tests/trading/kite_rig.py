"""A desk on the strict exchange, in process: the real trader, exit manager, journal and
``KiteBroker`` over kiteconnect's own client, answered by the local exchange
(``kitetui.sim.inproc``), and a desk that can be killed and started again.

Shared by the exit invariant's property test, the tests of the session's end and of entries
placed in their lanes (the rig places entries in lanes, as the live desk does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from kitetui.brokers.kite import KiteBroker
from kitetui.brokers.ratelimit import KiteRateLimits
from kitetui.clock import DataClock, ist_date
from kitetui.config import ExitConfig, RiskConfig, SizingConfig
from kitetui.domain import OrderPurpose, Side, SignalKind
from kitetui.market.instruments import InstrumentMaster
from kitetui.sim.exchange import SimAccount, SimExchange
from kitetui.sim.inproc import InProcessKite
from kitetui.sim.market import SimMarket
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run, load_fills, load_orders
from kitetui.supervisor.update_lanes import UpdateLanes
from kitetui.trading import expiry_booking
from kitetui.trading.charges import default_calculator
from kitetui.trading.fill_charges import FillCharger
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import RiskEngine, RiskLimits
from kitetui.trading.trader import Trader

from .desk import CALL, FUTURE, StubEngine

SYMBOL = FUTURE.tradingsymbol
KEY = f"NFO:{SYMBOL}"
OPTION = CALL.tradingsymbol  # protected by SL limits; NSE's price band can cancel them
T0 = 1_700_020_800 * 1_000_000_000  # 2023-11-15 09:30 IST


@dataclass
class WallClock:
    """The desk's wall clock in this test: it moves only when the test says."""

    ns: int = T0

    def __call__(self) -> int:
        return self.ns

    async def sleep(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


class Rig:
    """The exchange, and a desk on it that can be killed and started again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.market = SimMarket([], InstrumentMaster([FUTURE, CALL]))
        self.account = SimAccount("key", "secret", "AB0001", cash=1e12)
        self.exchange = SimExchange(
            self.market, [self.account], freeze_limits={"NIFTY": 100}, enforce_margins=False
        )
        self.updates: list[dict] = []
        self.exchange.on_order_update(self.updates.append)
        self.price = 19_500.0
        self.premium = 100.0
        self.wall = WallClock()
        self.sent_tags: list[str] = []
        self.restarts = 0
        self.steps = 0

    async def start(self, lapse: bool = False) -> None:
        """The desk (again, after a restart). ``lapse``: a restarted desk writes off the
        earlier day's orders Kite no longer lists before it covers its positions, in
        ``Recovery.finish``'s order."""
        self.db = await asyncio.wait_for(open_database(self.folder / "state.db"), 10)
        if not self.restarts:
            await create_run(self.db, "run1", "live", "t.yaml", "h")
        self.journal = Journal(self.db, "run1")
        await self.journal.load_sequences()
        self.kite = InProcessKite(self.exchange, self.account)
        self.broker = KiteBroker(
            self.kite,
            limits=KiteRateLimits(clock=lambda: self.wall() / 1e9, sleep=self.wall.sleep),
            backoff_s=0.05,
            unknown_lookups=2,
            unknown_lookup_delay_s=0.0,
            cancel_polls=2,
            cancel_poll_s=0.0,
            sleep=self.wall.sleep,
        )
        clock = DataClock()
        clock.now_ns = self.market.now_ns
        self.clock = clock
        roomy = RiskConfig(max_order_value=1e9, max_gross_exposure=1e10)
        self.trader = Trader(
            journal=self.journal,
            broker=self.broker,
            portfolio=Portfolio(10_000_000),
            risk=RiskEngine(RiskLimits(**roomy.model_dump())),
            clock=clock,
            sizing=SizingConfig(risk_per_trade_pct=2.0, max_capital_fraction=1.0),
            exits=ExitConfig(retry_backoff_s=0.5, reprice_after_s=1.0),
            tick_size=0.05,
            run_id="run1",
            timer_ns=self.wall,
            # the day's master, as the live desk gives it (the charges, and the expiries)
            charger=FillCharger(default_calculator(), {i.tradingsymbol: i for i in (FUTURE, CALL)}),
        )
        self.trader.exits.broker_squares_off = True  # live at Kite: the RMS's cut-off
        # live, a strategy's entry is placed in its symbol's lane (the supervisor's)
        self.lanes = UpdateLanes(self.trader.on_update, owner=self.trader.order_tag_of)
        self.trader.place_later = self.lanes.queue
        self.trader.act_now = self.lanes.beside  # and a flatten runs beside its lane
        self.engine = StubEngine(instruments={SYMBOL: FUTURE, OPTION: CALL}, freeze=100)
        self.trader.engines[self.engine.name] = self.engine  # type: ignore[assignment]
        # what a restarted desk reads back: its orders, its fills, then the exchange's
        orders = await load_orders(self.db, "run1")
        for order in orders:
            self.trader.track(order)
            expiry_booking.remember(self.trader, order)  # as ``Recovery.load`` does
        self.broker.restore(orders)
        for _, fill in await load_fills(self.db, "run1"):
            self.trader.replay_fill(fill)
        for symbol, price in ((SYMBOL, self.price), (OPTION, self.premium)):
            self.trader.last_prices[symbol] = price
            self.trader.portfolio.mark(symbol, price)
        if self.restarts:
            await self.trader.recover_new_orders()
            last = {o.symbol: o for o in orders if o.purpose is OrderPurpose.ENTRY and o.filled_qty}
            self.trader.exits.rebuild(last)
            await self.poll()
            await self.deliver()
            if lapse:
                await self.trader.lapse_unlisted(ist_date(self.clock.now_ns))
            for symbol in (SYMBOL, OPTION):
                await self.trader.exits.settle(symbol, cause=f"restart{self.restarts}")

    async def restart(self, lapse: bool = False) -> None:
        """The process dies: what was not journaled is gone, the exchange goes on
        (``lapse``: as ``start``'s)."""
        await self.lanes.drain()  # (a placement under way is not cut in half here)
        self.updates.clear()  # the websocket's undelivered updates die with it
        await self.journal.close()
        await self.db.close()
        self.restarts += 1
        await self.start(lapse)

    async def deliver(self, settled: bool = True) -> None:
        """The exchange's updates so far; ``settled``: after the entries still being
        placed in their lanes (else those go on beside the next step, as live)."""
        if settled:
            await self.lanes.drain()
        updates, self.updates[:] = list(self.updates), []
        for data in updates:
            order, fills = self.broker.apply_update(data)
            await self.trader.on_broker_update(order, fills)

    async def poll(self) -> None:
        try:
            rows = await self.broker.orders()
        except Exception:
            return  # a failed poll is tried again next time
        seen = set()
        for row in rows:
            order, fills = self.broker.apply_update(row)
            seen.add(order.tag)
            await self.trader.on_broker_update(order, fills)
        await self.trader.settle_unknown(seen)

    async def tick(self, move: int, qty: int) -> None:
        """A trade at the exchange one second on; the desk sees it as its feed would."""
        # the market stays inside the day's circuit (futures: 10 % either side), as NSE's does
        moved = min(max(self.price * (1 + move / 1000), 19_500 * 0.91), 19_500 * 1.09)
        self.price = round(round(moved / 0.05) * 0.05, 2)
        ts = self.market.inject_tick(
            KEY, self.price, qty, ts_ns=max(T0, self.market.now_ns + 10**9)
        )
        self.wall.ns += 10**9
        if hasattr(self, "trader"):
            self.clock.now_ns = ts
            self.trader.last_prices[SYMBOL] = self.price
            self.trader.portfolio.mark(SYMBOL, self.price)

    async def option_tick(self, move: int, qty: int) -> None:
        """A trade in the option: premiums jump (a gap through a stop's limit)."""
        moved = min(max(self.premium * (1 + move / 1000), 0.5), 350.0)  # inside its circuit
        self.premium = round(round(moved / 0.05) * 0.05, 2)
        at = max(T0, self.market.now_ns + 10**9)
        ts = self.market.inject_tick(f"NFO:{OPTION}", self.premium, qty, ts_ns=at)
        self.wall.ns += 10**9
        self.clock.now_ns = ts
        self.trader.last_prices[OPTION] = self.premium
        self.trader.portfolio.mark(OPTION, self.premium)

    async def buy_option(self) -> None:
        signal = drawn_signal(self, SignalKind.LONG)
        stop = round(round(self.premium * 0.7 / 0.05) * 0.05, 2)
        await self.trader._place_entry(
            self.engine,  # type: ignore[arg-type]
            signal,
            OPTION,
            Side.BUY,
            100,
            stop,
            self.premium,
            "",
        )

    async def run(self, action: tuple) -> None:
        kind = action[0]
        trader = self.trader
        if kind == "tick":
            await self.tick(action[1], action[2])
        elif kind == "otick":
            await self.option_tick(action[1], action[2])
        elif kind == "buy_option":
            await self.buy_option()
        elif kind == "signal":
            signal = drawn_signal(self, SignalKind(action[1]))
            await trader.on_signal(self.engine, signal)  # type: ignore[arg-type]
        elif kind == "flatten":
            await trader.flatten(SYMBOL, OrderPurpose.FLATTEN, "test flatten")
        elif kind == "kill":
            await trader.flatten_all(OrderPurpose.FLATTEN, "kill switch: test")
        elif kind == "wait":
            self.wall.ns += int(action[1] * 1e9)
        elif kind == "deliver":
            await self.deliver()
        elif kind == "poll":
            await self.poll()
        elif kind == "restart":
            await self.restart()
        if kind != "restart":
            await self.deliver(settled=kind in ("deliver", "poll", "wait"))
            await trader.exits.service()

    def exchange_position(self, symbol: str = SYMBOL) -> int:
        rows = self.exchange.positions(self.account)["net"]
        return sum(r["quantity"] for r in rows if r["tradingsymbol"] == symbol)


def drawn_signal(rig: Rig, kind: SignalKind):
    from kitetui.domain import Signal

    rig.steps += 1
    return Signal(
        signal_id=f"s{rig.restarts}x{rig.steps}",
        ts_ns=rig.clock.now_ns,
        engine="fno",
        strategy="test",
        symbol=SYMBOL,
        timeframe_s=60,
        kind=kind,
        price=rig.price,
        reason="drawn",
        indicators={"atr": 15.0},
    )
