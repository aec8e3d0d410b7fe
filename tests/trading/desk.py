"""A small trading desk for tests of the trader and the exit manager.

The real trader, portfolio, risk engine, exit manager and journal (on a temporary
SQLite file), with a broker of the test's choosing, and a stand-in for an engine that
answers what the trader asks of one (lot, tick, freeze quantity, the instrument).
``rule_11`` checks the exit invariant the way the design states it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from kitetui.brokers.base import Broker
from kitetui.brokers.paper import PaperBroker
from kitetui.clock import DataClock
from kitetui.config import ExitConfig, RiskConfig, SizingConfig
from kitetui.domain import (
    Exchange,
    Order,
    OrderPurpose,
    Product,
    Signal,
    SignalKind,
)
from kitetui.market.instruments import Instrument
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.runs import create_run
from kitetui.trading.exits import CLOSING
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import RiskEngine, RiskLimits
from kitetui.trading.trader import Trader

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13 UTC: any instant works for the desk
NS = 1_000_000_000

FUTURE = Instrument(1, 1, "NIFTY23NOVFUT", "NIFTY", 0.0, date(2023, 11, 30), 0.0, 0.05, 50,
                    "FUT", "NFO-FUT", "NFO")  # fmt: skip
CALL = Instrument(2, 2, "NIFTY23NOV19500CE", "NIFTY", 0.0, date(2023, 11, 30), 19500.0, 0.05,
                  50, "CE", "NFO-OPT", "NFO")  # fmt: skip
STOCK = Instrument(3, 3, "SBIN", "SBIN", 0.0, None, 0.0, 0.05, 1, "EQ", "NSE", "NSE")


@dataclass
class _EngineConfig:
    margin_rate: float = 1.0


@dataclass
class StubEngine:
    """What the trader asks of an engine, over a fixed set of instruments."""

    name: str = "fno"
    kind: str = "fno"
    exchange: Exchange = Exchange.NFO
    product: Product = Product.MIS
    instruments: dict[str, Instrument] = field(default_factory=dict)
    freeze: int | None = None
    config: _EngineConfig = field(default_factory=_EngineConfig)
    entries_paused: bool = False
    trading: bool = True
    orders_placed: int = 0
    exits_only: frozenset[str] = frozenset()

    def instrument(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol)

    def lot_size(self, symbol: str) -> int:
        inst = self.instruments.get(symbol)
        return inst.lot_size if inst else 1

    def tick_size(self, symbol: str) -> float:
        inst = self.instruments.get(symbol)
        return inst.tick_size if inst else 0.05

    def freeze_quantity(self, symbol: str) -> int | None:
        return self.freeze


class TraderDesk:
    """The trader and its collaborators on a temporary database."""

    def __init__(self, trader: Trader, db: Any, engine: StubEngine, clock: DataClock) -> None:
        self.trader = trader
        self.db = db
        self.engine = engine
        self.clock = clock
        self.seq = 0

    @property
    def exits(self):
        return self.trader.exits

    def signal(self, kind: SignalKind, symbol: str, price: float, atr: float = 20.0) -> Signal:
        self.seq += 1
        return Signal(
            signal_id=f"sig{self.seq}",
            ts_ns=self.clock.now_ns,
            engine=self.engine.name,
            strategy="test",
            symbol=symbol,
            timeframe_s=60,
            kind=kind,
            price=price,
            reason=f"test {kind.value.lower()}",
            indicators={"atr": atr},
        )

    def advance(self, seconds: float = 1.0) -> int:
        self.clock.now_ns += int(seconds * NS)
        return self.clock.now_ns

    async def price(self, symbol: str, price: float, seconds: float = 1.0) -> None:
        """A trade at ``price``: marks the book, fills the paper broker's orders."""
        ts = self.advance(seconds)
        self.trader.last_prices[symbol] = price
        self.trader.portfolio.mark(symbol, price)
        broker = self.trader.broker
        paper = broker if isinstance(broker, PaperBroker) else getattr(broker, "paper", None)
        if paper is not None:
            fills = paper.on_price(symbol, ts, price)
            if fills:
                await self.trader.on_fills(fills)
            for order in paper.take_triggered():
                await self.trader.on_order_state(order)
        await self.exits.service()

    async def close(self) -> None:
        await self.trader.journal.close()
        await self.db.close()


async def make_desk(
    tmp_path: Path,
    *,
    broker: Broker | None = None,
    exits: ExitConfig | None = None,
    engine: StubEngine | None = None,
    risk: RiskConfig | None = None,
    run_id: str = "run1",
    database: Path | None = None,
    keep_finished: int | None = None,
) -> TraderDesk:
    db = await asyncio.wait_for(open_database(database or tmp_path / "state.db"), 10)
    await create_run(db, run_id, "replay", "test.yaml", "hash")
    journal = Journal(db, run_id)
    await journal.load_sequences()
    clock = DataClock()
    clock.now_ns = T0
    engine = engine or StubEngine(instruments={FUTURE.tradingsymbol: FUTURE})
    ticks = {i.tradingsymbol: i.tick_size for i in engine.instruments.values()}
    trader = Trader(
        journal=journal,
        broker=broker or PaperBroker(slippage_bps=0, tick_size=0.05, tick_sizes=ticks),
        portfolio=Portfolio(10_000_000),
        risk=RiskEngine(RiskLimits(**(risk or RiskConfig()).model_dump())),
        clock=clock,
        sizing=SizingConfig(),
        exits=exits or ExitConfig(),
        tick_size=0.05,
        run_id=run_id,
        keep_finished=keep_finished,
    )
    trader.engines[engine.name] = engine  # type: ignore[assignment]
    return TraderDesk(trader, db, engine, clock)


def cover_of(trader: Trader, symbol: str) -> tuple[int, int, int]:
    """(|position|, pending quantity of working stops, of working closing orders)."""
    stops = closing = 0
    for order in trader.open_orders(symbol):
        pending = order.quantity - order.filled_qty
        if order.purpose is OrderPurpose.STOP:
            stops += pending
        elif order.purpose in CLOSING:
            closing += pending
    return abs(trader.position_qty(symbol)), stops, closing


def rule_11(trader: Trader) -> list[str]:
    """What breaks the exit invariant now, in words (empty when it holds).

    Every open position is covered by working stops of exactly its size, or is being
    closed (closing orders working, or a close kitetui keeps retrying) with stops plus
    closing orders never above it; a position between the two is allowed only while
    its stop placement is being retried after the exchange did not take it, with the
    NAKED alarm raised (never silent). A flat symbol has nothing working to close it.
    """
    problems = []
    exits = trader.exits
    symbols = {p.symbol for p in trader.portfolio.open_positions()}
    symbols |= {o.symbol for o in trader.open_orders() if o.purpose is not OrderPurpose.ENTRY}
    for symbol in sorted(symbols):
        qty, stops, closing = cover_of(trader, symbol)
        if qty == 0:
            if stops or closing:
                problems.append(f"{symbol}: flat with {stops} stop / {closing} closing working")
            continue
        if stops + closing > qty:
            problems.append(f"{symbol}: {stops}+{closing} closing orders exceed the position {qty}")
        protected = closing == 0 and stops == qty and symbol not in exits._closing
        closing_now = symbol in exits._closing or closing > 0
        retrying_stop = symbol in exits._stop_retry and symbol in exits.naked()
        if not (protected or closing_now or retrying_stop):
            problems.append(f"{symbol}: position {qty} has stops {stops}, closing {closing}")
    return problems


def working(trader: Trader, symbol: str, purpose: OrderPurpose | None = None) -> list[Order]:
    return [o for o in trader.open_orders(symbol) if purpose is None or o.purpose is purpose]
