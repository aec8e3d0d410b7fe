"""VWAP filter: entries only where the EMA trend and the session VWAP side agree.

Crafted on 5-minute bars with fast 2, slow 4 and 3 opening bars without entries.
``TWO_SESSIONS``: day 1 is flat at 100 for 20 bars (EMAs equal: no trend), rises to
103 (bar 20 closes 101 above a VWAP of 100.05 with EMA2 > EMA4: LONG), turns (bar 24:
EMA2 < EMA4, EXIT; bar 25: below the VWAP too, SHORT); day 2 starts at bar 28 with a
fresh VWAP: bar 29 closes above it, which closes the short although the session is
opening, and bar 31, the first bar after the opening three, goes LONG.
"""

from __future__ import annotations

import pytest
from strategy_support import (
    DAY_NS,
    EXIT,
    LONG,
    SHORT,
    T0,
    follow,
    make_bars,
    run,
    signals,
    trade_on_real_bars,
)

from strategies.base import NOT_READY_REASON
from strategies.vwap_filter import VwapFilterStrategy

DAY1 = [100.0] * 20 + [101.0, 102.0, 103.0, 102.6, 101.0, 100.0, 99.0, 98.0]  # bars 0..27
DAY2 = [99.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0]  # bars 28..34
TWO_SESSIONS = make_bars(DAY1, timeframe_s=300) + make_bars(
    DAY2, timeframe_s=300, start_ns=T0 + DAY_NS
)
# below a VWAP of ~110, the EMAs cross up at bar 21 (close 105) but the close only gets
# above the VWAP at bar 23 (109 > 107.9)
RECLAIM = [110.0] * 16 + [104.0, 100.0, 100.0] + [101.0 + 2 * i for i in range(8)]


def _strategy(**overrides) -> VwapFilterStrategy:
    return VwapFilterStrategy.from_mapping({"fast": 2, "slow": 4, **overrides})


def test_vwap_filter_following_signals_trades_with_trend_and_vwap_side():
    decisions = follow(_strategy(), TWO_SESSIONS)
    assert signals(decisions) == [(20, LONG), (24, EXIT), (25, SHORT), (29, EXIT), (31, LONG)]
    long = decisions[20]
    assert long.reason == "ema2>ema4, close>vwap"
    ind = long.indicators
    assert set(ind) == {"ema_fast", "ema_slow", "vwap", "atr"}
    assert ind["vwap"] == pytest.approx((100.0 * 20 + 101.0) / 21)
    expected = 0.5 * (101.0 - ind["vwap"]) / ind["atr"] + 0.5 * min(
        1.0, (ind["ema_fast"] - ind["ema_slow"]) / ind["atr"]
    )
    assert long.confidence == pytest.approx(expected)
    assert decisions[24].reason == "long: ema2<=ema4"
    assert decisions[25].reason == "ema2<ema4, close<vwap"
    assert decisions[29].reason == "short: close>vwap"
    assert decisions[30].reason == "flat: session opening, no entries yet"


def test_vwap_filter_resets_vwap_at_the_session_start():
    decisions = run(_strategy(), TWO_SESSIONS)
    assert decisions[28].indicators["vwap"] == 99.0  # day 2's first bar alone
    assert decisions[29].indicators["vwap"] == pytest.approx(99.5)


def test_vwap_filter_with_ema_cross_below_vwap_waits_for_the_reclaim():
    decisions = follow(_strategy(allow_short=False), make_bars(RECLAIM, timeframe_s=300))
    assert signals(decisions) == [(23, LONG)]
    cross = decisions[21].indicators
    assert cross["ema_fast"] > cross["ema_slow"] and cross["vwap"] > 105.0
    assert decisions[21].reason == "flat: trend and vwap side disagree"
    assert decisions[16].reason == "ema2<ema4, close<vwap, shorts disabled"


def test_vwap_filter_without_opening_bars_reverses_on_day_two_at_once():
    decisions = follow(_strategy(session_bars=0), TWO_SESSIONS)
    assert signals(decisions) == [(20, LONG), (24, EXIT), (25, SHORT), (29, LONG)]


def test_vwap_filter_holding_a_long_exits_on_every_bar_against_it():
    decisions = run(_strategy(), TWO_SESSIONS, position_qty=1)
    expected = [(i, EXIT) for i in range(14, 20)]  # EMAs equal: the trend is not up
    expected += [(24, EXIT), (25, SHORT), (26, EXIT), (27, EXIT), (28, EXIT)]
    assert signals(decisions) == expected
    assert decisions[26].reason == "long: close<vwap"


def test_vwap_filter_on_an_index_feed_is_never_ready():
    bars = make_bars([100.0 + i for i in range(40)], volume=0, timeframe_s=300)
    assert all(d.reason == NOT_READY_REASON for d in run(VwapFilterStrategy(), bars))


@pytest.mark.parametrize("timeframe_s", [60, 300])
def test_vwap_filter_with_real_equity_bars_trades(real_bars, timeframe_s):
    counts = trade_on_real_bars(VwapFilterStrategy(), real_bars("HDFCBANK", timeframe_s))
    assert counts["long"] >= 50 and counts["short"] >= 50 and counts["exit"] >= 100, counts


def test_vwap_filter_with_real_index_bars_never_trades(real_bars):
    decisions = run(VwapFilterStrategy(), real_bars("BANKNIFTY", 300))
    assert {d.reason for d in decisions} == {NOT_READY_REASON}  # volume 0: no VWAP
