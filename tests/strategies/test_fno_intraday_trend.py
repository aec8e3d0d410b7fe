"""F&O intraday trend: a breakout enters only when EMAs, ADX and the DIs agree.

The crafted sequence (params fast 2, slow 4, ADX 3, breakout 5, exit 3) is a range
that alternates 100/101 (highs reach 101.5, so the 5-bar channel high is 101.5), then
a climb of 1.5 a bar from 102.5, then a fall of 2 a bar from 113:

* bar 20 (102.5) is the first close above 101.5, with EMA2 > EMA4, ADX 31 and
  +DI 54 > -DI 16: LONG;
* bar 29 (109) closes below 110.5, the lowest low of bars 26-28: EXIT;
* bar 30 (107) closes below 108.5, the 5-bar channel low, EMA2 < EMA4, ADX 53,
  -DI 60 > +DI 19: SHORT.
"""

from __future__ import annotations

import pytest
from strategy_support import (
    EXIT,
    LONG,
    SHORT,
    first_ready,
    follow,
    make_bars,
    run,
    signals,
    trade_on_real_bars,
)

from strategies.fno_intraday_trend import FnoIntradayTrendStrategy

RANGE_UP_DOWN = (
    [100.0, 101.0] * 10  # 0..19
    + [101.0 + 1.5 * i for i in range(1, 9)]  # 20..27: 102.5 .. 113
    + [113.0 - 2.0 * i for i in range(1, 12)]  # 28..38: 111 .. 91
)


def _strategy(**overrides) -> FnoIntradayTrendStrategy:
    params = {"fast": 2, "slow": 4, "adx_period": 3, "breakout": 5, "exit_period": 3}
    return FnoIntradayTrendStrategy.from_mapping({**params, **overrides})


def test_fno_trend_following_signals_enters_on_breakout_exits_on_channel():
    decisions = follow(_strategy(), make_bars(RANGE_UP_DOWN))
    assert signals(decisions) == [(20, LONG), (29, EXIT), (30, SHORT)]
    long, exit_, short = decisions[20], decisions[29], decisions[30]
    assert long.reason == "ema2>ema4, adx>=20, close>high5"
    assert long.indicators["channel_high"] == 101.5
    assert long.indicators["adx"] >= 20 and long.indicators["plus_di"] > 50
    # half ADX/50, half the 1.0 breakout over an ATR of ~1.5
    adx, atr = long.indicators["adx"], long.indicators["atr"]
    assert long.confidence == pytest.approx(0.5 * adx / 50 + 0.5 * 1.0 / atr)
    assert exit_.reason == "long: close<low3" and exit_.confidence == 1.0
    assert exit_.indicators["exit_low"] == 110.5
    assert short.reason == "ema2<ema4, adx>=20, close<low5"
    assert short.indicators["channel_low"] == 108.5


def test_fno_trend_with_adx_below_minimum_waits_for_strength():
    decisions = follow(_strategy(adx_min=35.0), make_bars(RANGE_UP_DOWN))
    # bar 20's ADX is 31: no entry; bar 21 (ADX 45) breaks bar 16-20's 103.0 high
    assert decisions[20].indicators["adx"] < 35 < decisions[21].indicators["adx"]
    assert signals(decisions)[0] == (21, LONG)


def test_fno_trend_with_long_exit_channel_exits_when_emas_turn():
    decisions = follow(_strategy(exit_period=10), make_bars(RANGE_UP_DOWN))
    assert signals(decisions) == [(20, LONG), (29, EXIT), (30, SHORT)]
    assert decisions[29].reason == "long: ema2<=ema4"  # 109 is far above the 10-bar low


def test_fno_trend_without_shorts_only_longs():
    decisions = follow(_strategy(allow_short=False), make_bars(RANGE_UP_DOWN))
    assert signals(decisions) == [(20, LONG), (29, EXIT)]
    assert decisions[30].reason.endswith("shorts disabled")


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        # in the range EMA2 > EMA4 on every up bar: a short is closed there (and asked
        # again while it is not); the upside breakout then reverses it
        (-1, [(15, EXIT), (17, EXIT), (19, EXIT), (20, LONG)]),
        # a long is closed on the range's down bars, stopped at 29, reversed at 30
        (1, [(14, EXIT), (16, EXIT), (18, EXIT), (29, EXIT), (30, SHORT)]),
    ],
)
def test_fno_trend_with_constant_position_exits_until_flat_and_reverses(position, expected):
    decisions = run(_strategy(), make_bars(RANGE_UP_DOWN), position)
    assert signals(decisions)[: len(expected)] == expected
    first_exit = decisions[expected[0][0]].reason
    assert first_exit == ("short: ema2>=ema4" if position < 0 else "long: ema2<=ema4")


def test_fno_trend_in_a_range_never_trades():
    decisions = follow(_strategy(), make_bars([100.0, 101.0] * 40))
    assert signals(decisions) == []
    assert decisions[-1].reason == "flat: no breakout in a strong trend"


def test_fno_trend_warmup_counts_the_slowest_indicator():
    assert FnoIntradayTrendStrategy().warmup_bars == 50
    assert _strategy().warmup_bars == 15  # ATR 14 for sizing
    assert _strategy(adx_period=10).warmup_bars == 20  # ADX needs 2 * period
    assert _strategy(breakout=30).warmup_bars == 31  # the channel of the bars before
    decisions = run(_strategy(breakout=30), make_bars(RANGE_UP_DOWN))
    assert first_ready(decisions) == 30


@pytest.mark.parametrize("name", ["NIFTY", "BANKNIFTY"])
def test_fno_trend_with_real_5_minute_index_bars_trades(real_bars, name):
    counts = trade_on_real_bars(FnoIntradayTrendStrategy(), real_bars(name, 300))
    assert counts["long"] >= 15 and counts["short"] >= 10 and counts["exit"] >= 25, counts
