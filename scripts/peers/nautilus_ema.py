"""nautilus_trader on the benchmark's bars: EMA 20/50 crossover, long only, fixed quantity.

``python nautilus_ema.py DATA_DIR`` in the benchmark's venv. The CSVs are parsed and
turned into nautilus ``Bar`` objects first (``BarDataWrangler``; timed apart as
``load_s``, with ``add_data``); the timed run is ``BacktestEngine.run()``: the data
iterator, the message bus, one strategy per symbol with nautilus' own EMAs, the
simulated NSE exchange (bar execution, a cash account in INR), the portfolio and the
order/position cache. Logging is at ERROR. Prints one JSON line: bars, the timings,
orders filled and positions closed.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

import nautilus_trader
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.currencies import INR
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TimeInForce
from nautilus_trader.model.events import OrderFilled, PositionClosed
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import Equity
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.trading.strategy import Strategy
from peer_common import FAST, QUANTITY, SLOW, CrossRule, answer, read_bars

NSE = Venue("NSE")


class EmaCrossConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    bar_type: BarType


class EmaCrossLong(Strategy):
    """One symbol: buy QUANTITY on an up-cross when flat, close on a down-cross when long."""

    def __init__(self, config: EmaCrossConfig) -> None:
        super().__init__(config)
        self.fast = ExponentialMovingAverage(FAST)
        self.slow = ExponentialMovingAverage(SLOW)
        self.rule = CrossRule()
        self.quantity = Quantity.from_int(QUANTITY)
        self.buys = 0
        self.sells = 0
        self.closed = 0

    def on_start(self) -> None:
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        cross = self.rule.step(self.fast.value, self.slow.value)
        if cross == 0:
            return
        instrument_id = self.config.instrument_id
        if cross > 0 and self.portfolio.is_flat(instrument_id):
            order = self.order_factory.market(
                instrument_id=instrument_id,
                order_side=OrderSide.BUY,
                quantity=self.quantity,
                time_in_force=TimeInForce.GTC,
            )
            self.submit_order(order)
        elif cross < 0 and self.portfolio.is_net_long(instrument_id):
            self.close_all_positions(instrument_id)

    def on_event(self, event) -> None:
        if isinstance(event, OrderFilled):
            if event.order_side == OrderSide.BUY:
                self.buys += 1
            else:
                self.sells += 1
        elif isinstance(event, PositionClosed):
            self.closed += 1


def equity(symbol: str) -> Equity:
    return Equity(
        instrument_id=InstrumentId(Symbol(symbol), NSE),
        raw_symbol=Symbol(symbol),
        currency=INR,
        price_precision=2,
        price_increment=Price.from_str("0.05"),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )


def main(folder: str) -> None:
    t0 = time.perf_counter()
    bars = read_bars(Path(folder))
    engine = BacktestEngine(
        config=BacktestEngineConfig(
            trader_id=TraderId("BENCH-001"), logging=LoggingConfig(log_level="ERROR")
        )
    )
    engine.add_venue(
        venue=NSE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=INR,
        starting_balances=[Money(Decimal("1000000000000"), INR)],
    )
    strategies = []
    count = 0
    for i, (symbol, rows) in enumerate(bars.items()):
        instrument = equity(symbol)
        engine.add_instrument(instrument)
        bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
        frame = pd.DataFrame(
            [r[1:] for r in rows],
            columns=["open", "high", "low", "close", "volume"],
            index=pd.DatetimeIndex([r[0] for r in rows]).tz_convert("UTC"),
        )
        engine.add_data(BarDataWrangler(bar_type, instrument).process(frame))
        count += len(rows)
        strategy = EmaCrossLong(
            EmaCrossConfig(instrument_id=instrument.id, bar_type=bar_type, order_id_tag=f"{i:03d}")
        )
        engine.add_strategy(strategy)
        strategies.append(strategy)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    engine.run()
    run_s = time.perf_counter() - t1
    answer(
        {
            "tool": "nautilus_trader",
            "version": nautilus_trader.__version__,
            "bars": count,
            "load_s": load_s,
            "run_s": run_s,
            "buys_filled": sum(s.buys for s in strategies),
            "sells_filled": sum(s.sells for s in strategies),
            "round_trips": sum(s.closed for s in strategies),
        }
    )
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
