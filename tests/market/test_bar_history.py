"""The engine's bounded history of bars and indicator values (the price chart's source)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.domain import Bar
from kitetui.market.bar_history import CHART_BARS, BarHistory


def _bar(symbol: str, i: int) -> Bar:
    return Bar(symbol, i * 60_000_000_000, 60, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i)


def test_history_keeps_each_symbols_newest_bars_with_their_indicators() -> None:
    history = BarHistory(size=3, overlays=("ema",))
    for i in range(5):
        history.add(_bar("SBIN", i), {"ema": float(i)})
    history.add(_bar("INFY", 9), {})
    sbin = history.recent("SBIN")
    assert [bar.ts_ns for bar, _ in sbin] == [
        2 * 60_000_000_000,
        3 * 60_000_000_000,
        4 * 60_000_000_000,
    ]
    assert [indicators["ema"] for _, indicators in sbin] == [2.0, 3.0, 4.0]
    assert [bar.symbol for bar, _ in history.recent("INFY")] == ["INFY"]
    assert history.recent("TCS") == ()
    assert "SBIN" in history and "TCS" not in history
    assert history.symbols() == ("SBIN", "INFY")
    assert history.last_ts("SBIN") == 4 * 60_000_000_000 and history.last_ts("TCS") == 0
    assert history.overlays == ("ema",)


def test_history_keeps_the_strategys_dict_not_a_copy() -> None:
    history = BarHistory()
    indicators = {"atr": 1.5}
    history.add(_bar("SBIN", 0), indicators)
    assert history.recent("SBIN")[0][1] is indicators
    assert history.size == CHART_BARS


def test_recent_is_a_snapshot_that_later_bars_do_not_change() -> None:
    history = BarHistory(size=2)
    history.add(_bar("SBIN", 0), {})
    before = history.recent("SBIN")
    history.add(_bar("SBIN", 1), {})
    history.add(_bar("SBIN", 2), {})
    assert [bar.ts_ns for bar, _ in before] == [0]


def test_history_of_no_bars_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bar"):
        BarHistory(size=0)


@given(
    size=st.integers(1, 20),
    symbols=st.lists(st.sampled_from(["A", "B", "C"]), max_size=80),
)
def test_history_is_bounded_and_keeps_the_newest_in_order(size: int, symbols: list[str]) -> None:
    history = BarHistory(size=size)
    fed: dict[str, list[int]] = {}
    for i, symbol in enumerate(symbols):
        history.add(_bar(symbol, i), {"i": float(i)})
        fed.setdefault(symbol, []).append(i)
    for symbol, indices in fed.items():
        kept = history.recent(symbol)
        assert len(kept) == min(size, len(indices))
        assert [int(ind["i"]) for _, ind in kept] == indices[-size:]
        assert all(bar.symbol == symbol for bar, _ in kept)
