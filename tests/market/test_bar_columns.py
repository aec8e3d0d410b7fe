"""Which replayed symbols an engine may read ahead as columns (``market/bar_columns.py``):
only a symbol whose every stream is a lazy bar stream of one timeframe, in time order
without overlap, so that the columns are exactly the bars the merge hands over."""

from __future__ import annotations

from functools import partial

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import NS_PER_SECOND, Bar, Tick
from kitetui.market.bar_columns import BarColumns, bar_columns
from kitetui.market.bars import BarResampler, SessionBuckets, bucket_starts
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


# Minutes of a few IST days: pre-open, the session, after the close, gaps of any size.
MINUTE_STEPS = st.lists(st.sampled_from([1, 1, 1, 2, 7, 45, 600, 1440]), min_size=1, max_size=400)
DAY0 = 1_672_626_600 * NS_PER_SECOND  # 2023-01-02 08:00 IST


@settings(max_examples=200, deadline=None)
@given(MINUTE_STEPS, st.sampled_from([180, 300, 900, 1800, 3600, 86_400]), st.randoms())
def test_resampled_ahead_the_columns_are_the_bars_bar_resampler_builds(
    steps: list[int], timeframe_s: int, rng
) -> None:
    """``bucket_starts`` is ``SessionBuckets`` for a whole array, and a resampled column
    holds exactly the bars ``BarResampler`` hands an engine over the same 1-minute bars
    (in order: completed buckets, then what ``flush`` closes)."""
    ts = DAY0 + np.cumsum(steps).astype(np.int64) * 60 * NS_PER_SECOND
    buckets = SessionBuckets(timeframe_s)
    assert bucket_starts(ts, timeframe_s).tolist() == [buckets.bucket(t)[0] for t in ts.tolist()]
    paise = np.array([rng.randrange(90_000, 110_000) for _ in ts], dtype=np.int32)
    spread = np.array([rng.randrange(0, 500) for _ in ts], dtype=np.int32)
    columns = {
        "ts_ns": ts,
        "open": paise,
        "high": paise + spread,
        "low": paise - spread,
        "close": paise + spread // 2,
        "volume": np.array([rng.randrange(0, 30_000) for _ in ts], dtype=np.int16),
        "oi": np.zeros(len(ts), dtype=np.int8),
    }
    source = BarColumns("A", 60, (columns,))
    resampler = BarResampler("A", 60, timeframe_s)
    built = [bar for bar in map(resampler.on_bar, source.bars(0, 0, len(ts))) if bar]
    last = resampler.flush()
    built.extend([last] if last else [])
    resampled = source.resampled(timeframe_s)
    assert resampled.timeframe_s == timeframe_s
    assert resampled.bars(0, 0, len(resampled.segments[0]["ts_ns"])) == built
