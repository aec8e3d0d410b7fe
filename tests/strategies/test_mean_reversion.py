"""Mean reversion on real bars, followed as the engine would: it fades band breaks
and exits at the mid band (the exact-bar tests are in ``tests/test_strategies.py``,
against pandas-ta-classic's RSI and bands)."""

from __future__ import annotations

import pytest
from strategy_support import trade_on_real_bars

from strategies.mean_reversion import MeanReversionStrategy


@pytest.mark.parametrize(
    ("name", "timeframe_s"), [("HDFCBANK", 60), ("HDFCBANK", 300), ("NIFTY", 300)]
)
def test_mean_reversion_with_real_bars_enters_and_exits(real_bars, name, timeframe_s):
    counts = trade_on_real_bars(MeanReversionStrategy(), real_bars(name, timeframe_s))
    assert counts["long"] >= 10 and counts["short"] >= 10, counts
    assert counts["exit"] == counts["long"] + counts["short"] - 1 or counts["exit"] == (
        counts["long"] + counts["short"]
    )  # every entry is closed by an EXIT (the last one may still be open)
