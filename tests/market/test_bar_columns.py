"""Which replayed symbols an engine may read ahead as columns (``market/bar_columns.py``):
only a symbol whose every stream is a lazy bar stream of one timeframe, in time order
without overlap, so that the columns are exactly the bars the merge hands over."""

from __future__ import annotations

from functools import partial

import numpy as np

from kitetui.domain import NS_PER_SECOND, Bar, Tick
from kitetui.market.bar_columns import bar_columns
from kitetui.market.lazy_items import LazyItems
from kitetui.market.loaders import _build_bars

T0 = 1_700_000_000 * NS_PER_SECOND


def _stream(symbol: str, start: int, rows: int, timeframe_s: int = 60) -> LazyItems[Bar]:
    ts = T0 + (start + np.arange(rows, dtype=np.int64)) * timeframe_s * NS_PER_SECOND
    close = 1000.0 + np.arange(rows, dtype=np.float64)
    columns = {
        "ts_ns": ts,
        "open": close,
        "high": close + 1,
        "low": close - 1,
        "close": close,
        "volume": np.full(rows, 10, dtype=np.int64),
        "oi": np.zeros(rows, dtype=np.int64),
    }
    build = partial(_build_bars, symbol, timeframe_s)
    return LazyItems(build, columns, lag_ns=timeframe_s * NS_PER_SECOND)


def test_a_symbols_streams_in_order_are_its_segments_and_give_back_its_bars() -> None:
    later, earlier = _stream("A", 100, 5), _stream("A", 0, 3)
    found = bar_columns([later, _stream("B", 0, 4), earlier])
    assert set(found) == {"A", "B"}
    a = found["A"]
    assert a.timeframe_s == 60 and len(a.segments) == 2
    assert a.bars(0, 0, 3) == list(earlier)  # the earlier file first
    assert a.bars(1, 1, 4) == list(later)[1:4]


def test_overlapping_streams_ticks_or_mixed_timeframes_keep_a_symbol_bar_by_bar() -> None:
    tick = Tick("T", T0, 100.0, 1)
    found = bar_columns(
        [
            _stream("OVER", 0, 5),
            _stream("OVER", 4, 5),  # its first minute is the other file's last
            _stream("MIXED", 0, 5),
            _stream("MIXED", 10, 5, timeframe_s=180),
            _stream("T", 0, 5),
            (tick,),  # ticks of the same symbol reach the engine too
            tuple(_stream("EAGER", 0, 5)),  # not lazy: no columns to read
            _stream("OK", 0, 5),
        ]
    )
    assert set(found) == {"OK"}
