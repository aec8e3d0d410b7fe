"""backtrader on the benchmark's bars: EMA 20/50 crossover, long only, fixed quantity.

``python backtrader_ema.py DATA_DIR`` in the benchmark's venv. The CSVs are parsed
first (timed apart as ``load_s``); the timed run is ``cerebro.run()``, which includes
backtrader's own preload of the feeds from those in-memory lists (a "list feed": no
pandas, no file reading inside the run), the indicators, the strategy and the broker.
Prints one JSON line: bars, the timings, orders filled and round trips closed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import backtrader as bt
from peer_common import FAST, QUANTITY, SLOW, CrossRule, answer, read_bars


class ListFeed(bt.feed.DataBase):
    """Bars from a Python list of (datetime, o, h, l, c, v); IST wall-clock times."""

    params = (("rows", None),)

    def start(self) -> None:
        super().start()
        self._rows = iter(self.p.rows)

    def _load(self) -> bool:
        try:
            when, o, h, lo, c, v = next(self._rows)
        except StopIteration:
            return False
        lines = self.lines
        lines.datetime[0] = bt.date2num(when)
        lines.open[0] = o
        lines.high[0] = h
        lines.low[0] = lo
        lines.close[0] = c
        lines.volume[0] = v
        lines.openinterest[0] = 0.0
        return True


class EmaCross(bt.Strategy):
    """Per data: buy QUANTITY on an up-cross when flat, close on a down-cross when long."""

    def __init__(self) -> None:
        self.legs = [
            (d, bt.ind.EMA(d.close, period=FAST), bt.ind.EMA(d.close, period=SLOW), CrossRule())
            for d in self.datas
        ]
        self.buys = 0
        self.sells = 0
        self.closed_trades = 0

    def next(self) -> None:
        for data, fast, slow, rule in self.legs:
            cross = rule.step(fast[0], slow[0])
            if cross == 0:
                continue
            held = self.getposition(data).size
            if cross > 0 and held == 0:
                self.buy(data=data, size=QUANTITY)
            elif cross < 0 and held > 0:
                self.close(data=data)

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            if order.isbuy():
                self.buys += 1
            else:
                self.sells += 1

    def notify_trade(self, trade: bt.Trade) -> None:
        if trade.isclosed:
            self.closed_trades += 1


def main(folder: str) -> None:
    t0 = time.perf_counter()
    bars = read_bars(Path(folder))
    load_s = time.perf_counter() - t0
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(1e12)
    for symbol, rows in bars.items():
        naive = [(d.replace(tzinfo=None), o, h, lo, c, v) for d, o, h, lo, c, v in rows]
        cerebro.adddata(ListFeed(rows=naive), name=symbol)
    cerebro.addstrategy(EmaCross)
    t1 = time.perf_counter()
    (strategy,) = cerebro.run()
    run_s = time.perf_counter() - t1
    answer(
        {
            "tool": "backtrader",
            "version": bt.__version__,
            "bars": sum(len(rows) for rows in bars.values()),
            "load_s": load_s,
            "run_s": run_s,
            "buys_filled": strategy.buys,
            "sells_filled": strategy.sells,
            "round_trips": strategy.closed_trades,
        }
    )


if __name__ == "__main__":
    main(sys.argv[1])
