#!/usr/bin/env python3
"""A backtest dataset for 2024 from ../shared/data's NIFTY 50 index minutes: the index
stands in for the NIFTY near-month future, so a year of F&O strategy runs on real moves.

The shared set has no NIFTY futures minutes for 2024, only the index's (Jan 1 – Aug 23,
156 sessions). The near-month future tracks the index within its basis (a few tenths
of a percent, shrinking to zero at expiry), so its intraday moves are the index's; what
this proxy leaves out is the basis itself and the roll cost. Each monthly contract gets
the index's 1-minute bars from a week before the previous contract's expiry to its own
expiry (the fno engine rolls on the expiry day), written as Kite candles
(``date,open,high,low,close,volume``, volume 0 like an index); the master lists the
contracts with the lot sizes they had: 50 up to the April 2024 series, 25 from the May
series (NSE, effective 26 April 2024; Zerodha bulletin "Revision in lot size of Index
derivative contracts from April 26, 2024", 02 Apr 2024). Expiry is the month's last
Thursday, or the trading day before it when that Thursday is an NSE holiday.

    python scripts/make_nifty_2024_backtest.py --out DIR [--source ../shared/data]
    kitetui backtest --config DIR/backtest.yaml

Writes DIR/NIFTY24<MON>FUT.csv.gz, DIR/instruments.csv and DIR/backtest.yaml.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kitetui.market.calendar import nse  # noqa: E402

DEFAULT_SOURCE = Path(os.environ.get("KITETUI_SHARED_DATA", ROOT.parent / "shared" / "data"))
INDEX_FILE = "intraday_1min/nifty50_index_2024_sainipankaj15/NIFTY_2024.csv.gz"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
LOT_CHANGE = date(2024, 5, 1)  # the May 2024 series was the first with lot 25
LEAD_DAYS = 7  # a contract's data start this many days before the previous expiry
KITE_COLUMNS = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
    "lot_size,instrument_type,segment,exchange"
)

CONFIG = """\
# NIFTY near-month futures, 2024, priced off the NIFTY 50 index minutes (see
# scripts/make_nifty_2024_backtest.py for what that proxy leaves out).
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
{sources}
instruments:
  - "{master}"
risk:
  max_daily_loss: 25000
  max_symbol_loss: 15000
  max_trades_per_symbol_per_day: 6
  max_gross_exposure: 6000000
  max_order_value: 3000000
engines:
  - name: fno
    kind: fno
    underlyings: [NIFTY]
    roll_sessions: 1
    margin_rate: 0.12
    product: MIS
    timeframe: 5m
    strategy: fno_intraday_trend
    params: {{}}
"""


def monthly_expiry(year: int, month: int, is_trading_day) -> date:
    """The month's last Thursday, moved back to a trading day if it is a holiday."""
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    day = last - timedelta(days=(last.weekday() - 3) % 7)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def read_index(path: Path) -> list[tuple[date, str, list[str]]]:
    """(day, 'HH:MM', [open, high, low, close]) rows of the vendor file, in file order."""
    rows = []
    with gzip.open(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if header[:3] != ["Instrument", "Date", "Time"]:
            raise SystemExit(f"{path}: unexpected header {header}")
        for row in reader:
            day = date(int(row[1][:4]), int(row[1][4:6]), int(row[1][6:8]))
            rows.append((day, row[2], row[3:7]))
    return rows


def contracts(first: date, last: date, is_trading_day) -> list[tuple[str, date, int]]:
    """(tradingsymbol, expiry, lot) of every monthly contract the data span needs."""
    out = []
    year, month = first.year, first.month
    while True:
        expiry = monthly_expiry(year, month, is_trading_day)
        if expiry >= first:
            lot = 50 if expiry < LOT_CHANGE else 25
            out.append((f"NIFTY{year % 100:02d}{MONTHS[month - 1]}FUT", expiry, lot))
            if expiry >= last:
                return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def build(source: Path, out: Path) -> dict[str, int]:
    """Write the dataset into ``out``; the number of bars per contract."""
    rows = read_index(source / INDEX_FILE)
    calendar = nse()
    listed = contracts(rows[0][0], rows[-1][0], calendar.is_trading_day)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    previous: date | None = None
    for symbol, expiry, _lot in listed:
        start = previous - timedelta(days=LEAD_DAYS) if previous else date.min
        text = io.StringIO()
        text.write("date,open,high,low,close,volume\n")
        n = 0
        for day, clock, (o, h, low, c) in rows:
            if start <= day <= expiry:
                text.write(f"{day.isoformat()} {clock}:00+05:30,{o},{h},{low},{c},0\n")
                n += 1
        with gzip.GzipFile(out / f"{symbol}.csv.gz", "wb", mtime=0) as fh:
            fh.write(text.getvalue().encode())
        counts[symbol] = n
        previous = expiry
    master = [KITE_COLUMNS, "256265,1001,NIFTY 50,NIFTY 50,0.0,,0.0,0.0,0,EQ,INDICES,NSE"]
    for token, (symbol, expiry, lot) in enumerate(listed, start=900001):
        master.append(
            f"{token},{token % 100000},{symbol},NIFTY,0.0,{expiry.isoformat()},0.0,0.05,{lot},"
            "FUT,NFO-FUT,NFO"
        )
    (out / "instruments.csv").write_text("\n".join(master) + "\n")
    sources = "\n".join(
        f'    - {{symbol: {symbol}, exchange: NFO, path: "{(out / f"{symbol}.csv.gz").resolve()}"}}'
        for symbol, _expiry, _lot in listed
    )
    (out / "backtest.yaml").write_text(
        CONFIG.format(sources=sources, master=(out / "instruments.csv").resolve())
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    index = args.source / INDEX_FILE
    if not index.is_file():  # a worktree or a clone elsewhere has no ../shared/data
        parser.error(f"{index}: not found; give the shared data folder with --source DIR")
    counts = build(args.source, args.out)
    for symbol, n in counts.items():
        print(f"{symbol}: {n:,} bars")
    print(f"config: {args.out / 'backtest.yaml'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
