"""Ledger parity: a backtest at full speed and the same replay paced decide the same.

At full speed the engines run inline in the supervisor's task and nothing sleeps; a
paced replay keeps an engine task each and sleeps between batches (``Pacer``). Batch
boundaries are data time, so both must place the same orders, get the same fills and
journal the same risk decisions and signals. Compared without the tags and fill ids,
which derive from the run id (a fresh one per run).

Sizes (so each test stays under ~20 s on an idle 2-core machine): the bundled demo
(one day of NIFTY futures and options ticks, five days of five bank stocks' 1-minute
candles) paced at 100,000x; and a generated year, 2 symbols x 250 NSE days of 25
1-minute bars each, 09:15 to 09:39 (12,500 bars; bars 15 minutes apart would be
refused as not 1-minute candles), paced at 130,000x (0.45 ms a bar interval: about as
fast as the pipeline, so the pacer sleeps between some batches and not others). The same
check on 1-minute bars of more symbols is ``scripts/ledger_parity.py``.
"""

from __future__ import annotations

import asyncio
import csv
import math
import random
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

import kitetui.market.replay as replay_module
from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import AppConfig, parse_config
from kitetui.market.calendar import nse
from kitetui.supervisor import Supervisor
from tests.demo_session import LEDGER, read_ledger

IST = timezone(timedelta(hours=5, minutes=30))
BARS_A_DAY = 25  # 15-minute bars, 09:15 .. 15:15


class _Sleeps:
    """Counts the pacer's real sleeps (a delay > 0), so a test knows it paced."""

    def __init__(self) -> None:
        self.count = 0

    async def sleep(self, delay: float) -> None:
        if delay > 0:
            self.count += 1
        await asyncio.sleep(delay)


# The HOLDs counted (a backtest decides most bars from its columns, a paced replay bar
# by bar: both must count the same HOLDs, for the same reasons, on the same days).
HOLDS = (
    "SELECT trading_day, engine, symbol, reason, holds, first_ts_ns, last_ts_ns "
    "FROM hold_counts ORDER BY trading_day, engine, symbol, reason"
)
# Symbol -> whether the run's engines still decided it from its columns at the end.
COLUMNS: dict[Path, dict[str, bool]] = {}
# Symbol -> the price chart's bars and indicators at the end of the run.
CHARTS: dict[Path, dict[str, tuple]] = {}


async def _ledger(config: AppConfig, db: Path, speed: float | None) -> dict[str, list[tuple]]:
    supervisor = Supervisor(config, "parity.yaml", database=db, speed=speed)
    await asyncio.wait_for(supervisor.open(), 60)
    try:
        await asyncio.wait_for(supervisor.run(), 300)
        assert supervisor.feed_state == "FINISHED"
        assert all(engine.inline is (speed is None) for engine in supervisor.engines)
        COLUMNS[db] = {
            symbol: cursor is not None
            for engine in supervisor.engines
            for symbol, cursor in engine._columns.items()
        }
        CHARTS[db] = {
            symbol: engine.history.recent(symbol)
            for engine in supervisor.engines
            for symbol in engine.history.symbols()
        }
    finally:
        await asyncio.wait_for(supervisor.close(), 60)
    ledger = read_ledger(db)
    with sqlite3.connect(db) as conn:
        ledger["holds"] = conn.execute(HOLDS).fetchall()
    # What the Engines tab shows: a backtest tallies a run of HOLDs and sets them at once.
    ledger["engines"] = [
        (e.name, e.bars_seen, e.signals_emitted, e.heartbeat_ns) for e in supervisor.engines
    ]
    return ledger


async def _fast_and_paced(
    config: AppConfig, folder: Path, speed: float, monkeypatch
) -> tuple[dict, dict, int]:
    fast = await _ledger(config, folder / "fast.db", None)
    sleeps = _Sleeps()
    monkeypatch.setattr(replay_module, "asyncio", sleeps)  # Pacer's only use of asyncio
    paced = await _ledger(config, folder / "paced.db", speed)
    return fast, paced, sleeps.count


def _assert_same(fast: dict, paced: dict) -> None:
    for table in [*LEDGER, "holds", "engines"]:
        assert len(fast[table]) == len(paced[table]), table
        for a, b in zip(fast[table], paced[table], strict=True):
            assert a == b, f"{table}: {a} != {b}"


async def test_bundled_demo_at_full_speed_and_paced_has_the_same_ledger(
    tmp_path: Path, monkeypatch
) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["replay"]["max_gap_seconds"] = 0.05  # nights and the months between the data sets
    config = parse_config(data, "parity.yaml")
    fast, paced, sleeps = await _fast_and_paced(config, tmp_path, 100_000.0, monkeypatch)
    assert sleeps > 0  # it did pace
    assert len(fast["fills"]) >= 20 and len(fast["decisions"]) >= 20  # it did trade
    _assert_same(fast, paced)


def _write_year(
    folder: Path,
    symbols: list[str],
    days: int,
    seed: int,
    spike: tuple[str, int, int] | None = None,
    minutes: int = 15,
) -> None:
    """Seeded GBM 1-minute bars from 09:15, ``375 / minutes`` of them a day (25 at 15: a
    day's data ends at 09:39, the session with it), on ``days`` NSE trading days of
    2023, and an instrument master with their EQ rows. ``spike`` (symbol, day, bar): that
    bar closes half as high again and the next one back where it was, a print the
    validator drops."""
    calendar = nse()
    day = date(2023, 1, 2)
    trading: list[date] = []
    while len(trading) < days:
        if calendar.is_trading_day(day):
            trading.append(day)
        day += timedelta(days=1)
    rng = random.Random(seed)
    sigma = 0.30 / math.sqrt(252 * BARS_A_DAY)
    for symbol in symbols:
        price = rng.uniform(200.0, 2000.0)
        with (folder / f"{symbol}.csv").open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["Date", "open", "high", "low", "close", "volume"])
            for day_index, d in enumerate(trading):
                start = datetime(d.year, d.month, d.day, 9, 15, tzinfo=IST)
                price *= math.exp(3 * sigma * rng.gauss(0.0, 1.0))
                for n in range(BARS_A_DAY * 15 // minutes):
                    o = round(round(price / 0.05) * 0.05, 2)
                    price *= math.exp(sigma * rng.gauss(0.0, 1.0) - sigma * sigma / 2)
                    c = round(round(price / 0.05) * 0.05, 2)
                    if spike == (symbol, day_index, n):
                        c = round(round(price * 1.5 / 0.05) * 0.05, 2)
                    h = round(max(o, c) + 0.05 * rng.randint(0, 20), 2)
                    lo = round(min(o, c) - 0.05 * rng.randint(0, 20), 2)
                    when = (start + timedelta(minutes=n)).isoformat(sep=" ")
                    out.writerow([when, o, h, lo, c, rng.randint(1_000, 50_000)])
    with (folder / "instruments.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "instrument_token",
                "exchange_token",
                "tradingsymbol",
                "name",
                "last_price",
                "expiry",
                "strike",
                "tick_size",
                "lot_size",
                "instrument_type",
                "segment",
                "exchange",
            ]
        )
        for i, symbol in enumerate(symbols):
            token = 900_001 + i
            out.writerow(
                [token * 256 + 1, token, symbol, symbol, 0, "", 0, 0.05, 1, "EQ", "NSE", "NSE"]
            )


GENERATED = ["GENA", "GENB"]


def _generated_config(
    bars: Path, timeframe: str, params: dict, strategy: str = "ema_cross"
) -> dict:
    """The demo's config replaying the generated files with one equity engine on them."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["replay"] = {
        "speed": "max",
        "max_gap_seconds": 0.001,
        "sources": [{"exchange": "NSE", "path": f"{bars}/GEN*.csv"}],
    }
    data["instruments"] = [str(bars / "instruments.csv")]
    data["engines"] = [
        {
            "name": "eq",
            "kind": "equity",
            "symbols": GENERATED,
            "product": "MIS",
            "timeframe": timeframe,
            "margin_rate": 0.2,
            "strategy": strategy,
            "params": params,
        }
    ]
    return data


async def test_a_generated_year_at_full_speed_and_paced_has_the_same_ledger(
    tmp_path: Path, monkeypatch
) -> None:
    bars = tmp_path / "bars"
    bars.mkdir()
    _write_year(bars, GENERATED, days=250, seed=13)
    data = _generated_config(bars, "1m", {"fast": 5, "slow": 12, "allow_short": True})
    data["risk"]["max_trades_per_symbol_per_day"] = 20
    config = parse_config(data, "parity.yaml")
    fast, paced, sleeps = await _fast_and_paced(config, tmp_path, 130_000.0, monkeypatch)
    assert sleeps > 0
    days = {ts // (86_400 * 10**9) for *_, ts, _ in fast["fills"]}
    assert len(fast["fills"]) > 300 and len(days) > 150  # traded through the year
    _assert_same(fast, paced)


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("ema_cross", {"fast": 3, "slow": 8, "allow_short": True}),
        ("rsi_pullback", {"fast": 3, "slow": 8, "rsi_period": 5, "rsi_dip": 45.0}),
        ("supertrend", {"period": 5, "multiplier": 1.5}),
        ("mean_reversion", {"rsi_period": 5, "bb_period": 10, "bb_std": 1.5}),
        ("vol_regime", {"fast": 3, "slow": 8, "atr_slow": 20, "min_ratio": 0.5}),
        ("fno_intraday_trend", {"fast": 3, "slow": 8, "adx_period": 5, "breakout": 5}),
        ("htf_trend", {"htf_minutes": 60, "htf_fast": 2, "htf_slow": 4, "fast": 3, "slow": 8}),
        ("vwap_filter", {"fast": 3, "slow": 8, "session_bars": 2}),
    ],
)
async def test_a_print_refused_in_the_middle_of_a_column_keeps_the_ledger(
    tmp_path: Path, monkeypatch, strategy: str, params: dict
) -> None:
    """The validator drops a spike of GENA's: the engine, deciding GENA from its columns,
    sees a bar that is not the column's next, and goes on bar by bar from the state the
    bars it saw left; GENB stays on its columns. Both ledgers are the paced run's."""
    bars = tmp_path / "bars"
    bars.mkdir()
    _write_year(bars, GENERATED, days=40, seed=5, spike=("GENA", 20, 10))
    # 1m: the files' rows are the engine's bars, decided from the columns
    data = _generated_config(bars, "1m", params, strategy)
    config = parse_config(data, "parity.yaml")
    fast, paced, _ = await _fast_and_paced(config, tmp_path, 2_000_000.0, monkeypatch)
    _assert_spike_left_the_columns(tmp_path)
    charts = CHARTS[tmp_path / "fast.db"]
    assert {len(entries) for entries in charts.values()} == {300}
    assert len(fast["fills"]) > 50
    _assert_same(fast, paced)


def _assert_spike_left_the_columns(folder: Path) -> None:
    """GENA's spike was dropped once, GENA left its columns and GENB kept them, and the
    chart's bars are the paced run's, built either way."""
    with sqlite3.connect(folder / "fast.db") as conn:
        # held, then rejected when the next print came back (SpikeRejected)
        (dropped,) = conn.execute(
            "SELECT count(*) FROM events WHERE symbol = 'GENA' AND kind = 'SpikeRejected'"
        ).fetchone()
    assert dropped == 1
    assert COLUMNS[folder / "fast.db"] == {"GENA": False, "GENB": True}
    assert CHARTS[folder / "fast.db"] == CHARTS[folder / "paced.db"]


@pytest.mark.parametrize(
    ("strategy", "params", "timeframe"),
    [
        ("ema_cross", {"fast": 3, "slow": 8, "allow_short": True}, "3m"),
        ("vwap_filter", {"fast": 3, "slow": 8, "session_bars": 2}, "5m"),
        (
            "htf_trend",
            {"htf_minutes": 15, "htf_fast": 2, "htf_slow": 4, "fast": 3, "slow": 8},
            "5m",
        ),
    ],
)
async def test_an_engine_on_resampled_bars_decides_from_columns_with_the_paced_ledger(
    tmp_path: Path, monkeypatch, strategy: str, params: dict, timeframe: str
) -> None:
    """1-minute files, an engine on 3- or 5-minute bars: its bars are resampled from the
    columns ahead and each one the engine builds is checked against them whole. GENA's
    spike, in the middle of a bucket, is dropped by the validator: the bar the engine
    builds without it is not the column's, and GENA goes on bar by bar; GENB stays on
    its columns to the end. Both ledgers are the paced run's."""
    bars = tmp_path / "bars"
    bars.mkdir()
    _write_year(bars, GENERATED, days=8, seed=7, spike=("GENA", 3, 101), minutes=1)
    data = _generated_config(bars, timeframe, params, strategy)
    config = parse_config(data, "parity.yaml")
    fast, paced, _ = await _fast_and_paced(config, tmp_path, 5_000_000.0, monkeypatch)
    _assert_spike_left_the_columns(tmp_path)
    assert len(fast["fills"]) > 20
    _assert_same(fast, paced)
