"""A config small enough that a sweep point runs in about a second: two equities of
the bundled demo week and the F&O day's future (whose engine trades only on that day,
outside the window the sweep tests use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitetui.config import load_config

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


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweepcfg") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def small(small_config: Path):
    return load_config(small_config)
