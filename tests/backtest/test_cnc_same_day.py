"""A backtest of an equity engine on ``product: CNC`` whose trades open and close the same
day: the journal charges them as intraday, as Zerodha's contract note bills them.

Before kitetui netted a CNC day (``kitetui.trading.same_day``) this run's one round trip
(SBIN, 481 shares, 2023-04-05) was charged ₹558.41 where its contract note bills ₹137.61:
STT at the delivery 0.1 % on both sides and stamp duty at 0.015 %, where the note bills
0.025 % on the sell, 0.003 % on the buy, and intraday brokerage.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

from kitetui.backtest.build import build_report
from kitetui.backtest.files import trades_csv
from kitetui.backtest.ledger import load_ledger
from kitetui.backtest.runner import BacktestRequest, run_to_end
from kitetui.clock import ist_date
from kitetui.config import load_config
from kitetui.domain import Product, Side
from kitetui.market.replay import DateWindow
from kitetui.store.rows import fill_charges_from_row
from kitetui.trading.charges import ChargeCalculator, OrderSpec, SegmentKind

CNC_DAY = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - {symbol: SBIN, path: "pkg:replay/SBIN.csv.gz"}
instruments:
  - "pkg:replay/nse_instruments.csv"
engines:
  - name: equity
    kind: equity
    symbols: [SBIN]
    product: CNC
    timeframe: 3m
    strategy: mean_reversion
"""


def test_a_cnc_backtest_of_same_day_round_trips_is_charged_at_intraday_rates(
    tmp_path: Path,
) -> None:
    config = tmp_path / "cnc.yaml"
    config.write_text(CNC_DAY)
    db = tmp_path / "bt.db"
    request = BacktestRequest(
        config=load_config(config),
        config_path=str(config),
        database=db,
        out=None,
        window=DateWindow(date(2023, 4, 5), date(2023, 4, 5)),
    )
    ended = run_to_end(request, interactive=False)  # the runner, without its report process
    assert ended.feed_state == "FINISHED"
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM fills ORDER BY seq").fetchall()
    assert [r["product"] for r in rows] == ["CNC"] * len(rows)
    assert [r["side"] for r in rows] == ["BUY", "SELL"]  # one round trip that day
    # Each order priced as Zerodha bills an intraday one (what an MIS order pays).
    calculator = ChargeCalculator()
    orders = []
    for row in rows:
        spec = OrderSpec(SegmentKind.EQUITY, "NSE", Product.MIS, Side(row["side"]),
                         ist_date(row["ts_ns"]))  # fmt: skip
        orders.append(calculator.for_order(spec, [(row["quantity"], row["price"])]))
    journaled = [fill_charges_from_row(row) for row in rows]
    assert sum(cost.paise for cost in journaled) == sum(o.total_paise for o in orders)
    exact = sum((cost.charges.total for cost in journaled), Decimal(0))
    assert exact == sum((o.charges.total for o in orders), Decimal(0))
    sell = orders[1]
    assert sum(c.charges.stt for c in journaled) == sell.turnover * Decimal("0.00025")
    # The report's trade (trades.csv) is charged the same, to the last decimal.
    report = build_report(load_ledger(db, ended.run_id))
    (trade,) = list(csv.DictReader(io.StringIO(trades_csv(report))))
    assert Decimal(trade["charges"]) == exact
