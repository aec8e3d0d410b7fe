"""Higher-timeframe trend: lower-timeframe crosses traded only with the 15/60m trend.

Crafted on 1-minute bars from 09:15 with a 15-minute trend of EMA 2/3 and a trigger of
EMA 2/4. ``UP_THEN_DOWN`` rises 1 a bar to 144 (bars 0-44: the third 15-minute bar
completes with the 09:59 bar, index 44, and the trend is up), then:

* 45 (138): a down-cross against the uptrend: skipped;
* 46 (146): an up-cross with it: LONG; 47 (140): a down-cross, which ends the long
  although it cannot go short against the trend: EXIT; 48 (148): LONG again;
* falls 2 a bar: the down-cross comes at 51 (EXIT); the 15-minute trend turns down
  only when the 10:15 bar completes, at the 10:29 bar (index 74);
* 84: a bounce (up-cross against the downtrend, skipped), 85: the drop: SHORT.

On real bars the higher-timeframe EMAs are compared with pandas: the closes resampled
at 09:15 + n * timeframe (cut at 15:30) and ``pandas_ta_classic.ema``, each value
visible from the bar that completes its bucket, never earlier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas_ta_classic as ta
import pytest
from strategy_support import (
    EXIT,
    HOLD,
    LONG,
    SHORT,
    first_ready,
    follow,
    make_bars,
    run,
    signals,
    trade_on_real_bars,
)

from kitetui.domain import Bar
from strategies.htf_trend import HtfTrendStrategy

_FALL = [148.0 - 2 * i for i in range(1, 36)]  # bars 49..83
_RISE = [100.0 + i for i in range(45)]  # bars 0..44
UP_THEN_DOWN = [*_RISE, 138.0, 146.0, 140.0, 148.0, *_FALL, _FALL[-1] + 6, _FALL[-1] - 2]


def _strategy(**overrides) -> HtfTrendStrategy:
    params = {"htf_minutes": 15, "htf_fast": 2, "htf_slow": 3, "fast": 2, "slow": 4}
    return HtfTrendStrategy.from_mapping({**params, **overrides})


def test_htf_trend_following_signals_trades_crosses_with_the_trend_only():
    decisions = follow(_strategy(), make_bars(UP_THEN_DOWN))
    assert signals(decisions) == [(46, LONG), (47, EXIT), (48, LONG), (51, EXIT), (85, SHORT)]
    assert decisions[45].kind is HOLD
    assert decisions[45].reason == "ema2 crossed below ema4 against the 15m trend"
    assert decisions[46].reason == "ema2 crossed above ema4, 15m trend up"
    assert decisions[47].reason == "ema2 crossed below ema4 against the 15m trend"
    assert decisions[84].reason == "ema2 crossed above ema4 against the 15m trend"
    assert decisions[85].reason == "ema2 crossed below ema4, 15m trend down"
    ind = decisions[46].indicators
    assert set(ind) == {"ema_fast", "ema_slow", "htf_ema_fast", "htf_ema_slow", "htf_trend", "atr"}
    assert decisions[46].confidence == min(1.0, (146.0 - ind["ema_slow"]) / ind["atr"])


def test_htf_trend_changes_only_when_a_higher_bar_completes():
    decisions = run(_strategy(), make_bars(UP_THEN_DOWN))
    assert first_ready(decisions) == 44  # 3 complete 15-minute bars: 09:15, 09:30, 09:45
    trend = [d.indicators["htf_trend"] for d in decisions[44:]]
    changes = [44 + i for i in range(1, len(trend)) if trend[i] != trend[i - 1]]
    assert changes == [74]
    slow = [d.indicators["htf_ema_slow"] for d in decisions[44:]]
    moves = [44 + i for i in range(1, len(slow)) if slow[i] != slow[i - 1]]
    assert moves == [59, 74]  # the 10:00 and 10:15 bars complete with bars 59 and 74
    # EMA 3 of the 15-minute closes 114, 129, 144 (SMA seed), then bar 59's 126
    assert decisions[44].indicators["htf_ema_slow"] == 129.0
    assert decisions[59].indicators["htf_ema_slow"] == (129.0 + 126.0) / 2


def test_htf_trend_holding_a_long_exits_every_bar_while_the_trend_is_down():
    decisions = run(_strategy(), make_bars(UP_THEN_DOWN), position_qty=1)
    exits = [i for i, kind in signals(decisions) if kind is EXIT]
    assert exits == [45, 47, 51, *range(74, 85)]
    assert decisions[74].reason == "long: 15m trend down"
    assert signals(decisions)[-1] == (85, SHORT)  # the down-cross with the trend reverses


def test_htf_trend_without_shorts_holds_on_the_down_cross():
    decisions = follow(_strategy(allow_short=False), make_bars(UP_THEN_DOWN))
    assert signals(decisions) == [(46, LONG), (47, EXIT), (48, LONG), (51, EXIT)]
    assert decisions[85].reason.endswith("shorts disabled")


@pytest.mark.parametrize(("htf_minutes", "bar_s"), [(15, 600), (30, 3600), (60, 2400)])
def test_htf_trend_with_bars_not_dividing_the_higher_timeframe_raises(htf_minutes, bar_s):
    strategy = _strategy(htf_minutes=htf_minutes)
    with pytest.raises(ValueError, match=f"{htf_minutes}-minute trend needs bars"):
        strategy.on_bar(make_bars([100.0], timeframe_s=bar_s)[0], 0)


@pytest.mark.parametrize(
    ("htf_minutes", "bar_s", "ready_at"),
    [
        (15, 300, 14),  # 3 higher bars by bar 8; ATR 14 (sizing) waits for bar 14
        (60, 600, 17),  # 09:15, 10:15, 11:15: the third completes with the 12:05 bar
        (30, 60, 89),  # 09:15, 09:45, 10:15: the third completes with the 10:44 bar
    ],
)
def test_htf_trend_with_dividing_bars_is_ready_after_the_third_higher_bar(
    htf_minutes, bar_s, ready_at
):
    bars = make_bars([100.0 + i for i in range(120)], timeframe_s=bar_s)
    assert first_ready(run(_strategy(htf_minutes=htf_minutes), bars)) == ready_at


def test_htf_trend_params_accept_only_15_30_60_minutes():
    for bad in (5, 45, "15", 15.0, True):
        with pytest.raises(ValueError):
            HtfTrendStrategy.Params.model_validate({"htf_minutes": bad})


def _regular_session(bars: list[Bar]) -> list[Bar]:
    """Bars starting 09:15-15:29 IST (drops vendor after-hours rows and Kite's 15:30)."""
    start = pd.DatetimeIndex(pd.to_datetime([b.ts_ns for b in bars], utc=True))
    minute = start.tz_convert("Asia/Kolkata").hour * 60 + start.tz_convert("Asia/Kolkata").minute
    keep = (minute >= 555) & (minute < 930)
    return [b for b, k in zip(bars, keep, strict=True) if k]


def _pandas_htf_emas(bars: list[Bar], htf_minutes: int, fast: int, slow: int):
    """pandas' HTF EMAs as seen at each bar's end: from the bar completing the bucket."""
    start = pd.DatetimeIndex(pd.to_datetime([b.ts_ns for b in bars], utc=True))
    local = start.tz_convert("Asia/Kolkata").tz_localize(None)
    close = pd.Series([b.close for b in bars], index=local)
    htf = close.resample(f"{htf_minutes}min", offset="15min").last().dropna()
    cut = htf.index.normalize() + pd.Timedelta(hours=15, minutes=30)
    visible = np.minimum(htf.index + pd.Timedelta(minutes=htf_minutes), cut)  # bucket end
    bar_end = local + pd.Timedelta(seconds=bars[0].timeframe_s)
    at = np.searchsorted(visible.to_numpy(), bar_end.to_numpy(), side="right") - 1
    out = []
    for period in (fast, slow):
        ema = ta.ema(htf.reset_index(drop=True), length=period).to_numpy()
        out.append(np.where(at >= 0, ema[np.maximum(at, 0)], np.nan))
    return out


@pytest.mark.parametrize(
    ("name", "timeframe_s", "htf_minutes"),
    [("HDFCBANK", 60, 60), ("HDFCBANK", 60, 15), ("NIFTY", 300, 60), ("NIFTY", 300, 30)],
)
def test_htf_trend_with_real_bars_sees_pandas_htf_emas_and_trades(
    real_bars, name, timeframe_s, htf_minutes
):
    bars = _regular_session(real_bars(name, timeframe_s))
    params = HtfTrendStrategy.Params(htf_minutes=htf_minutes)
    decisions = run(HtfTrendStrategy(params), bars)
    ready = first_ready(decisions)
    fast, slow = _pandas_htf_emas(bars, htf_minutes, params.htf_fast, params.htf_slow)
    assert np.isnan(slow[ready - 1]) and not np.isnan(slow[ready])  # ready when pandas is
    seen_fast = [d.indicators["htf_ema_fast"] for d in decisions[ready:]]
    seen_slow = [d.indicators["htf_ema_slow"] for d in decisions[ready:]]
    np.testing.assert_allclose(seen_fast, fast[ready:], rtol=1e-12)
    np.testing.assert_allclose(seen_slow, slow[ready:], rtol=1e-12)

    counts = trade_on_real_bars(HtfTrendStrategy(params), bars)
    assert counts["long"] >= 10 and counts["short"] >= 10 and counts["exit"] >= 20, counts


@pytest.mark.parametrize(
    ("htf_minutes", "timeframe_s", "refused"),
    [(15, 600, True), (15, 3600, True), (60, 2400, True), (15, 300, False), (60, 600, False)],
)
def test_htf_trend_names_a_timeframe_that_does_not_divide_the_higher_one(
    htf_minutes, timeframe_s, refused
):
    params = HtfTrendStrategy.Params(htf_minutes=htf_minutes)
    problem = HtfTrendStrategy.timeframe_problem(params, timeframe_s)
    assert (problem is not None) is refused
