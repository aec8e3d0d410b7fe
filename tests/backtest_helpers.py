"""A backtest config small enough that a run takes about a second: two equities of the
bundled demo week and the F&O day's future (whose engine trades only on that day,
outside ``WINDOW``). Shared by the backtest runner's tests and the sweep's."""

from __future__ import annotations

SMALL = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - symbol: NIFTY22NOVFUT
      exchange: NFO
      kind: ticks
      path: "pkg:replay/NIFTY-I_20221118.csv.gz"
    - {symbol: HDFCBANK, path: "pkg:replay/HDFCBANK.csv.gz"}
    - {symbol: SBIN, path: "pkg:replay/SBIN.csv.gz"}
instruments:
  - "pkg:replay/nfo_20221118/instruments.csv"
  - "pkg:replay/nse_instruments.csv"
engines:
  - name: fno
    kind: fno
    underlyings: [NIFTY]
    margin_rate: 0.12
    timeframe: 1m
    strategy: ema_cross
    params: {fast: 9, slow: 21}
  - name: equity
    kind: equity
    symbols: [HDFCBANK, SBIN]
    margin_rate: 0.2
    timeframe: 3m
    strategy: mean_reversion
"""

WINDOW = ("--from", "2023-04-05", "--to", "2023-04-06")
