"""Incremental indicators against the pandas-ta-classic oracle, on real NSE bars.

Every instrument is fed bar by bar through every indicator once (module-scoped
fixture); each test then compares one output column with pandas-ta-classic:

* the warm-up is identical: our value is nan exactly where pandas' is;
* after warm-up the values agree to 1e-9. Price-level outputs (EMA, SMA, VWAP,
  Bollinger bands, SuperTrend, Donchian) use a relative tolerance of 1e-9; bounded
  oscillators (RSI, ADX, +DI, -DI), the SuperTrend direction (+1/-1) and outputs that
  hover around zero (ATR, MACD line/signal/histogram, where a relative error is
  meaningless) use an absolute tolerance of 1e-9.

In practice EMA, RSI, ATR, ADX, the DIs, SuperTrend and Donchian are bit-identical and
the rest differ by a few ulps (the oracle sums its seeds pairwise with numpy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta_classic as ta
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from kitetui.market.channels import Donchian, SuperTrend
from kitetui.market.indicators import (
    ADX,
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    VWAP,
    BollingerBands,
)

NS_PER_MINUTE = 60 * 1_000_000_000
IST = "Asia/Kolkata"
KITE_2023 = "intraday_1min/kite_bank_stocks_2023_lullaharsh1"
NIFTY_2024 = "intraday_1min/nifty50_index_2024_sainipankaj15/NIFTY_2024.csv.gz"

# instrument -> loader; NIFTY 2024 includes the 2024-01-20 run of 167 flat bars.
INSTRUMENTS = ["HDFCBANK", "BANKNIFTY", "NIFTY"]


@dataclass(frozen=True)
class Frame:
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    ts_ns: np.ndarray  # epoch ns, UTC
    index_ist: pd.DatetimeIndex  # naive IST wall time, for the oracle's daily anchor


def _load(shared_data: Path, name: str) -> Frame:
    if name == "NIFTY":
        df = pd.read_csv(shared_data / NIFTY_2024, nrows=20_000, dtype={"Date": str})
        local = pd.to_datetime(df["Date"] + " " + df["Time"], format="%Y%m%d %H:%M")
        index_ist = pd.DatetimeIndex(local)
        ts_ns = index_ist.tz_localize(IST).as_unit("ns").asi8
        high, low, close = (df[c].to_numpy(float) for c in ("High", "Low", "Close"))
        volume = np.zeros(len(df))
    else:
        df = pd.read_csv(shared_data / KITE_2023 / f"{name}.csv.gz")
        aware = pd.DatetimeIndex(pd.to_datetime(df["Date"]))  # +05:30 offsets
        ts_ns = aware.as_unit("ns").asi8
        index_ist = aware.tz_localize(None)
        high, low, close = (df[c].to_numpy(float) for c in ("high", "low", "close"))
        volume = df["volume"].to_numpy(float)
    return Frame(high, low, close, volume, np.asarray(ts_ns), index_ist)


def _run_incremental(f: Frame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Feed every bar through every indicator; return values and ``ready`` flags."""
    ema, sma, rsi, atr, adx = EMA(20), SMA(20), RSI(14), ATR(14), ADX(14)
    vwap, bb, macd = VWAP(), BollingerBands(20, 2.0), MACD(12, 26, 9)
    st, st10, dc = SuperTrend(7, 3.0), SuperTrend(10, 2.0), Donchian(20)
    out: dict[str, list[float]] = {column: [] for column, _ in COLUMNS}
    ready: dict[str, list[bool]] = {column: [] for column in READY_COLUMNS}
    columns = (f.high, f.low, f.close, f.volume, f.ts_ns)
    rows = zip(*(c.tolist() for c in columns), strict=True)
    for high, low, close, volume, ts_ns in rows:
        out["ema"].append(ema.update(close))
        out["sma"].append(sma.update(close))
        out["rsi"].append(rsi.update(close))
        out["atr"].append(atr.update(high, low, close))
        out["adx"].append(adx.update(high, low, close))
        out["dmp"].append(adx.plus_di)
        out["dmn"].append(adx.minus_di)
        out["vwap"].append(vwap.update(high, low, close, volume, ts_ns))
        out["bbm"].append(bb.update(close))
        out["bbl"].append(bb.lower)
        out["bbu"].append(bb.upper)
        macd.update(close)
        out["macd"].append(macd.macd)
        out["macds"].append(macd.signal)
        out["macdh"].append(macd.hist)
        out["supert"].append(st.update(high, low, close))
        out["supertd"].append(float(st.direction) if st.direction else math.nan)
        out["supert10"].append(st10.update(high, low, close))
        out["supertd10"].append(float(st10.direction) if st10.direction else math.nan)
        out["dcm"].append(dc.update(high, low))
        out["dcl"].append(dc.lower)
        out["dcu"].append(dc.upper)
        for key, ind in (
            ("ema", ema),
            ("sma", sma),
            ("rsi", rsi),
            ("atr", atr),
            ("adx", adx),
            ("vwap", vwap),
            ("bbm", bb),
            ("macds", macd),
            ("supert", st),
            ("dcm", dc),
        ):
            ready[key].append(ind.ready)
    return (
        {k: np.asarray(v, dtype=float) for k, v in out.items()},
        {k: np.asarray(v, dtype=bool) for k, v in ready.items()},
    )


def _run_oracle(f: Frame) -> dict[str, np.ndarray]:
    idx = f.index_ist
    high, low, close = (pd.Series(a, index=idx) for a in (f.high, f.low, f.close))
    volume = pd.Series(f.volume, index=idx)
    adx = ta.adx(high, low, close, length=14)
    bb = ta.bbands(close, length=20, std=2.0)
    macd = ta.macd(close, fast=12, slow=26, signal=9)
    dc = ta.donchian(high, low, lower_length=20, upper_length=20)
    ref = {
        "ema": ta.ema(close, length=20),
        "sma": ta.sma(close, length=20),
        "rsi": ta.rsi(close, length=14),
        "atr": ta.atr(high, low, close, length=14),
        "adx": adx["ADX_14"],
        "dmp": adx["DMP_14"],
        "dmn": adx["DMN_14"],
        "vwap": ta.vwap(high, low, close, volume, anchor="D"),
        "bbl": bb["BBL_20_2.0"],
        "bbm": bb["BBM_20_2.0"],
        "bbu": bb["BBU_20_2.0"],
        "macd": macd["MACD_12_26_9"],
        "macds": macd["MACDs_12_26_9"],
        "macdh": macd["MACDh_12_26_9"],
        "dcl": dc["DCL_20_20"],
        "dcm": dc["DCM_20_20"],
        "dcu": dc["DCU_20_20"],
    }
    out = {k: v.to_numpy(dtype=float) for k, v in ref.items()}
    for suffix, (length, multiplier) in (("", (7, 3.0)), ("10", (10, 2.0))):
        line, direction = _supertrend_oracle(high, low, close, length, multiplier)
        out[f"supert{suffix}"], out[f"supertd{suffix}"] = line, direction
    return out


def _supertrend_oracle(high, low, close, length: int, multiplier: float):
    """pandas' SuperTrend line and direction where it has a value.

    pandas fills the line with 0.0 on the first bar and the direction with +1 through
    the warm-up; its long/short columns are nan there, so their union marks the bars
    that carry a value (``test_supertrend_oracle_warmup_is_what_we_mask`` checks it).
    """
    frame = ta.supertrend(high, low, close, length=length, multiplier=multiplier)
    name = f"_{length}_{float(multiplier)}"
    long, short = (frame[f"SUPERT{k}{name}"].to_numpy(dtype=float) for k in "ls")
    has_value = ~(np.isnan(long) & np.isnan(short))
    line = np.where(has_value, frame[f"SUPERT{name}"].to_numpy(dtype=float), np.nan)
    direction = np.where(has_value, frame[f"SUPERTd{name}"].to_numpy(dtype=float), np.nan)
    return line, direction


@pytest.fixture(scope="module", params=INSTRUMENTS)
def computed(request, shared_data):
    frame = _load(shared_data, request.param)
    ours, ready = _run_incremental(frame)
    return request.param, ours, ready, _run_oracle(frame)


REL, ABS = "relative", "absolute"
COLUMNS = [
    ("ema", REL),
    ("sma", REL),
    ("rsi", ABS),
    ("atr", ABS),
    ("adx", ABS),
    ("dmp", ABS),
    ("dmn", ABS),
    ("vwap", REL),
    ("bbl", REL),
    ("bbm", REL),
    ("bbu", REL),
    ("macd", ABS),
    ("macds", ABS),
    ("macdh", ABS),
    ("supert", REL),
    ("supertd", ABS),
    ("supert10", REL),
    ("supertd10", ABS),
    ("dcl", REL),
    ("dcm", REL),
    ("dcu", REL),
]


@pytest.mark.parametrize(("column", "kind"), COLUMNS)
def test_indicator_with_real_bars_matches_pandas_ta(computed, column, kind):
    name, ours, _, ref = computed
    mine, oracle = ours[column], ref[column]
    assert np.array_equal(np.isnan(mine), np.isnan(oracle)), f"{name} {column}: warm-up differs"
    valid = ~np.isnan(oracle)
    if kind == REL:
        np.testing.assert_allclose(mine[valid], oracle[valid], rtol=1e-9, atol=0)
    else:
        np.testing.assert_allclose(mine[valid], oracle[valid], rtol=0, atol=1e-9)


# the column whose first value marks each indicator's ``ready`` (MACD: the signal line)
READY_COLUMNS = ["ema", "sma", "rsi", "atr", "adx", "vwap", "bbm", "macds", "supert", "dcm"]


@pytest.mark.parametrize("column", READY_COLUMNS)
def test_indicator_with_real_bars_ready_exactly_when_pandas_has_a_value(computed, column):
    _, _, ready, ref = computed
    assert np.array_equal(ready[column], ~np.isnan(ref[column]))


def test_indicator_with_real_bars_compares_enough_values(computed):
    name, ours, _, ref = computed
    assert len(ref["ema"]) >= 15_000
    if name == "BANKNIFTY":
        # an index has volume 0: VWAP undefined all along, for pandas and for us
        assert np.isnan(ours["vwap"]).all() and np.isnan(ref["vwap"]).all()
    elif name == "HDFCBANK":
        assert np.isfinite(ref["vwap"]).mean() > 0.99
    for column in ("supertd", "supertd10"):  # both trends, and many flips between them
        flips = np.count_nonzero(np.diff(ref[column][np.isfinite(ref[column])]))
        assert flips > 100, (name, column, flips)


# --- unit tests --------------------------------------------------------------------


def _bars(n: int, start: float = 100.0) -> list[tuple[float, float, float]]:
    """A deterministic zig-zag walk of (high, low, close)."""
    bars, close = [], start
    for i in range(n):
        close += (1.5 if i % 3 else -1.0) * (1 + (i % 5) / 10)
        bars.append((close + 0.7, close - 0.6, close))
    return bars


def _feed(ind, bar: tuple[float, float, float], i: int = 0) -> float:
    high, low, close = bar
    if isinstance(ind, (ATR, ADX, SuperTrend)):
        return ind.update(high, low, close)
    if isinstance(ind, Donchian):  # reads no close: a bad price goes where it looks
        return ind.update(high if math.isfinite(close) else close, low)
    if isinstance(ind, VWAP):
        return ind.update(high, low, close, 1_000, 1_680_493_500_000_000_000 + i * NS_PER_MINUTE)
    return ind.update(close)


# (factory, bars needed before the first value)
WARMUPS = [
    (lambda: EMA(20), 20),
    (lambda: SMA(20), 20),
    (lambda: RSI(14), 15),
    (lambda: ATR(14), 15),
    (lambda: ADX(14), 28),
    (lambda: VWAP(), 1),
    (lambda: BollingerBands(20, 2.0), 20),
    (lambda: MACD(12, 26, 9), 34),
    (lambda: EMA(1), 1),
    (lambda: RSI(2), 3),
    (lambda: SuperTrend(7, 3.0), 8),
    (lambda: SuperTrend(1, 1.5), 2),
    (lambda: Donchian(20), 20),
    (lambda: Donchian(1), 1),
]


@pytest.mark.parametrize(("factory", "warmup"), WARMUPS)
def test_indicator_with_warmup_minus_one_bar_not_ready(factory, warmup):
    ind = factory()
    bars = _bars(warmup)
    for i, bar in enumerate(bars[:-1]):
        assert math.isnan(_feed(ind, bar, i))
        assert not ind.ready
    assert math.isfinite(_feed(ind, bars[-1], warmup - 1))
    assert ind.ready


@pytest.mark.parametrize(("factory", "warmup"), WARMUPS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_indicator_with_non_finite_price_skips_the_bar(factory, warmup, bad):
    bars = _bars(warmup + 30)
    clean, dirty = factory(), factory()
    expected = [_feed(clean, bar, i) for i, bar in enumerate(bars)]
    got, previous = [], math.nan
    for i, bar in enumerate(bars):
        if i in (3, warmup + 5):  # once during warm-up, once after
            skipped = _feed(dirty, (bar[0], bar[1], bad), i)
            assert skipped == previous or (math.isnan(skipped) and math.isnan(previous))
        previous = _feed(dirty, bar, i)
        got.append(previous)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


@pytest.mark.parametrize(
    "factory",
    [
        lambda: EMA(0),
        lambda: SMA(-1),
        lambda: RSI(1.5),
        lambda: ATR(True),
        lambda: ADX(1),
        lambda: BollingerBands(20, 0.0),
        lambda: BollingerBands(20, 2.0, ddof=20),
        lambda: MACD(26, 12, 9),
        lambda: MACD(12, 26, 0),
        lambda: SuperTrend(0, 3.0),
        lambda: SuperTrend(7, 0.0),
        lambda: SuperTrend(7, -1.0),
        lambda: SuperTrend(7, math.nan),
        lambda: SuperTrend(7, math.inf),
        lambda: SuperTrend(7, True),
        lambda: Donchian(0),
        lambda: Donchian(2.5),
    ],
)
def test_indicator_with_bad_parameters_raises_value_error(factory):
    with pytest.raises(ValueError):
        factory()


def test_rsi_with_no_price_change_is_ready_but_nan():
    rsi = RSI(14)
    for _ in range(20):
        value = rsi.update(100.0)
    assert rsi.ready and math.isnan(value)
    assert rsi.update(101.0) == 100.0


def test_bollinger_with_flat_window_has_zero_width():
    bb = BollingerBands(20, 2.0)
    for _ in range(45):  # past a resync too
        bb.update(1607.35)
    assert bb.lower == bb.mid == bb.upper == pytest.approx(1607.35, rel=1e-15)


def test_sma_with_long_run_matches_exact_window_mean():
    sma = SMA(7)
    closes = [40_000.0 + ((i * 7919) % 1000) * 0.05 for i in range(5_000)]
    for close in closes:
        value = sma.update(close)
    assert value == pytest.approx(math.fsum(closes[-7:]) / 7, rel=1e-15)


def test_macd_with_fewer_bars_than_signal_exposes_line_only():
    macd = MACD(3, 5, 4)
    values = [macd.update(float(c)) for c in (10, 11, 13, 12, 14, 15, 17)]
    assert all(math.isnan(v) for v in values)
    assert math.isfinite(macd.macd) and math.isnan(macd.signal) and not macd.ready
    assert math.isfinite(macd.update(16.0)) and not math.isnan(macd.signal)
    assert macd.hist == pytest.approx(macd.macd - macd.signal)


def _ist_ns(text: str) -> int:
    return pd.Timestamp(text, tz=IST).as_unit("ns").value


@pytest.mark.parametrize(
    ("first", "second", "resets"),
    [
        ("2023-04-03 15:29", "2023-04-04 09:15", True),
        ("2023-04-03 23:55", "2023-04-04 00:05", True),  # IST midnight, same UTC date
        ("2023-04-04 05:25", "2023-04-04 05:35", False),  # UTC midnight, same IST date
        ("2023-04-03 09:15", "2023-04-03 09:16", False),
    ],
)
def test_vwap_with_ist_date_change_resets_session(first, second, resets):
    vwap = VWAP()
    vwap.update(101.0, 99.0, 100.0, 1_000, _ist_ns(first))
    value = vwap.update(211.0, 209.0, 210.0, 1_000, _ist_ns(second))
    assert value == pytest.approx(210.0 if resets else 155.0)


def test_vwap_with_zero_volume_is_nan_until_volume_trades():
    vwap = VWAP()
    t0 = _ist_ns("2023-04-03 09:15")
    assert math.isnan(vwap.update(101.0, 99.0, 100.0, 0, t0))
    assert not vwap.ready
    assert vwap.update(102.0, 100.0, 101.0, 500, t0 + NS_PER_MINUTE) == pytest.approx(101.0)
    assert vwap.ready
    assert vwap.update(150.0, 150.0, 150.0, 0, t0 + 2 * NS_PER_MINUTE) == pytest.approx(101.0)


def test_vwap_with_negative_volume_skips_the_bar():
    vwap = VWAP()
    t0 = _ist_ns("2023-04-03 09:15")
    vwap.update(101.0, 99.0, 100.0, 100, t0)
    assert vwap.update(300.0, 300.0, 300.0, -5, t0 + NS_PER_MINUTE) == pytest.approx(100.0)


def test_adx_and_rsi_with_flat_start_match_pandas_ta():
    """A flat opening makes DX 0/0 (nan) in pandas: the ADX seed must skip it."""
    rng = np.random.default_rng(7)
    n_flat, n_move = 40, 160
    close = np.concatenate([np.full(n_flat, 250.0), 250 + np.cumsum(rng.normal(0, 0.4, n_move))])
    spread = np.concatenate([np.zeros(n_flat), rng.uniform(0.05, 0.5, n_move)])
    high, low = close + spread, close - spread
    adx, rsi = ADX(14), RSI(14)
    got_adx, got_rsi = [], []
    for h, lo, c in zip(high.tolist(), low.tolist(), close.tolist(), strict=True):
        got_adx.append(adx.update(h, lo, c))
        got_rsi.append(rsi.update(c))
    frame = ta.adx(pd.Series(high), pd.Series(low), pd.Series(close), length=14)
    np.testing.assert_allclose(got_adx, frame["ADX_14"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(got_rsi, ta.rsi(pd.Series(close), 14).to_numpy(), atol=1e-9)
    assert math.isnan(got_adx[n_flat]) and math.isfinite(got_adx[-1])


def test_supertrend_oracle_warmup_is_what_we_mask():
    """pandas' SuperTrend says 0.0 and +1 during the warm-up; we say nan and 0."""
    bars = _bars(30)
    high, low, close = (pd.Series([b[k] for b in bars]) for k in range(3))
    frame = ta.supertrend(high, low, close, length=7, multiplier=3.0)
    line, direction = frame["SUPERT_7_3.0"].to_numpy(), frame["SUPERTd_7_3.0"].to_numpy()
    long, short = frame["SUPERTl_7_3.0"].to_numpy(), frame["SUPERTs_7_3.0"].to_numpy()
    assert line[0] == 0.0 and np.isnan(line[1:7]).all() and (direction[:7] == 1).all()
    assert (np.isnan(long) & np.isnan(short))[:7].all()
    assert (np.isfinite(long) | np.isfinite(short))[7:].all()
    st = SuperTrend(7, 3.0)
    for i, bar in enumerate(bars):
        value = st.update(*bar)
        if i < 7:
            assert math.isnan(value) and st.direction == 0 and not st.ready
        else:
            assert value == line[i] and st.direction == direction[i]


def test_supertrend_with_break_below_lower_band_flips_down_on_that_bar():
    st = SuperTrend(3, 1.0)
    rising = [(100.0 + i + 0.5, 100.0 + i - 0.5, 100.0 + i) for i in range(10)]
    for bar in rising:
        st.update(*bar)
    assert st.direction == 1
    lower = st.lower  # the trailing stop the next close is compared with
    assert st.value == lower
    st.update(lower + 0.6, lower - 0.4, lower + 0.01)  # closes just above: holds
    assert st.direction == 1 and st.lower >= lower
    lower = st.lower
    st.update(lower + 0.5, lower - 1.5, lower - 0.01)  # closes just below: flips
    assert st.direction == -1 and st.value == st.upper


def test_donchian_with_extreme_leaving_window_falls_back_to_next_extreme():
    dc = Donchian(3)
    highs = [5.0, 9.0, 7.0, 6.0, 8.0, 1.0, 1.0, 1.0]
    uppers = []
    for h in highs:
        dc.update(h, h - 1.0)
        uppers.append(dc.upper)
    assert uppers[2:] == [9.0, 9.0, 8.0, 8.0, 8.0, 1.0]
    assert dc.lower == 0.0 and dc.mid == 0.5


def _ohlc_walk(steps: list[float], spreads: list[float]) -> tuple[pd.Series, ...]:
    close = 1000.0 + np.cumsum(np.asarray(steps))
    spread = np.asarray(spreads)
    return pd.Series(close + spread), pd.Series(close - spread * 0.5), pd.Series(close)


@settings(max_examples=60, deadline=None)
@given(
    data=hs.integers(min_value=12, max_value=120).flatmap(
        lambda n: hs.tuples(
            hs.lists(
                hs.sampled_from([-3.0, -1.0, -0.05, 0.0, 0.05, 1.0, 3.0]), min_size=n, max_size=n
            ),
            hs.lists(hs.sampled_from([0.0, 0.1, 1.0, 4.0]), min_size=n, max_size=n),
        )
    ),
    length=hs.integers(min_value=1, max_value=10),
    multiplier=hs.sampled_from([0.5, 1.0, 2.0, 3.0]),
)
def test_supertrend_and_donchian_with_any_walk_match_pandas_ta(data, length, multiplier):
    high, low, close = _ohlc_walk(*data)
    st_ind, dc = SuperTrend(length, multiplier), Donchian(length)
    line, direction, upper, lower = [], [], [], []
    for h, lo, c in zip(high.tolist(), low.tolist(), close.tolist(), strict=True):
        line.append(st_ind.update(h, lo, c))
        direction.append(float(st_ind.direction) if st_ind.direction else math.nan)
        dc.update(h, lo)
        upper.append(dc.upper)
        lower.append(dc.lower)
    ref_line, ref_direction = _supertrend_oracle(high, low, close, length, multiplier)
    np.testing.assert_allclose(line, ref_line, rtol=1e-9, atol=0)  # nan where pandas is
    np.testing.assert_array_equal(direction, ref_direction)
    ref = ta.donchian(high, low, lower_length=length, upper_length=length)
    np.testing.assert_array_equal(upper, ref[f"DCU_{length}_{length}"].to_numpy())
    np.testing.assert_array_equal(lower, ref[f"DCL_{length}_{length}"].to_numpy())
