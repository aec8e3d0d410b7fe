"""Real NSE bars for the strategy tests, loaded once per session via ``shared_data``.

``real_bars(name, timeframe_s)`` gives one instrument's 1-minute bars, or bars
resampled from them by the project's own ``BarResampler`` (09:15-anchored, as the
engine does). Names: the 2023 Kite exports ``HDFCBANK`` (equity, with volume) and
``BANKNIFTY`` (index, volume 0), 40 sessions each; ``NIFTY`` is the NIFTY 50 index in
2024, 156 sessions (no volume). Indices stand in for index futures: the same moves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from kitetui.domain import Bar
from kitetui.market.bars import BarResampler

KITE_2023 = "intraday_1min/kite_bank_stocks_2023_lullaharsh1"
NIFTY_2024 = "intraday_1min/nifty50_index_2024_sainipankaj15/NIFTY_2024.csv.gz"


def _load_minutes(shared_data: Path, name: str) -> list[Bar]:
    if name == "NIFTY":
        df = pd.read_csv(shared_data / NIFTY_2024, dtype={"Date": str})
        local = pd.to_datetime(df["Date"] + " " + df["Time"], format="%Y%m%d %H:%M")
        ts = pd.DatetimeIndex(local).tz_localize("Asia/Kolkata").as_unit("ns").asi8.tolist()
        cols = (df[c].tolist() for c in ("Open", "High", "Low", "Close"))
        return [Bar(name, t, 60, o, h, lo, c, 0) for t, o, h, lo, c in zip(ts, *cols, strict=True)]
    df = pd.read_csv(shared_data / KITE_2023 / f"{name}.csv.gz")
    ts = pd.DatetimeIndex(pd.to_datetime(df["Date"])).as_unit("ns").asi8.tolist()
    cols = (df[c].tolist() for c in ("open", "high", "low", "close", "volume"))
    return [
        Bar(name, t, 60, o, h, lo, c, int(v)) for t, o, h, lo, c, v in zip(ts, *cols, strict=True)
    ]


def _resample(bars: list[Bar], timeframe_s: int) -> list[Bar]:
    resampler = BarResampler(bars[0].symbol, 60, timeframe_s)
    out = [b for b in map(resampler.on_bar, bars) if b is not None]
    last = resampler.flush()
    return out if last is None else [*out, last]


@pytest.fixture(scope="session")
def real_bars(shared_data: Path) -> Callable[[str, int], list[Bar]]:
    cache: dict[tuple[str, int], list[Bar]] = {}

    def load(name: str, timeframe_s: int = 60) -> list[Bar]:
        key = (name, timeframe_s)
        if key not in cache:
            minutes = cache.get((name, 60)) or _load_minutes(shared_data, name)
            cache[(name, 60)] = minutes
            cache[key] = minutes if timeframe_s == 60 else _resample(minutes, timeframe_s)
        return cache[key]

    return load
