"""A replayed symbol's bars as the loader's columns, for an engine that decides a
column at a time (``strategies.columns``).

The merge hands an engine each symbol's bars in their streams' order; an engine whose
strategy has a column form reads the same bars, ahead, as columns. That holds only
when the columns are exactly the bars the merge will hand over: so a symbol has
columns only if every stream of it is a lazily loaded bar stream (``LazyItems``) of one
timeframe, and its streams follow each other in time without overlapping (two files of
one symbol's same minutes would both reach the engine). Whatever else happens on the
way (a print the validator refuses, a day the symbol is not traded), the engine sees
it as a bar that is not the column's next one and goes on bar by bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from kitetui.domain import Bar
from kitetui.market.bars import bucket_starts
from kitetui.market.lazy_items import Columns, LazyItems
from kitetui.market.packed import price_values

__all__ = ["BarColumns", "bar_columns"]


@dataclass(frozen=True, slots=True)
class BarColumns:
    """One symbol's bars: its streams' columns (``ts_ns``, ``open`` … ``oi``, packed as
    the loader keeps them), in time order."""

    symbol: str
    timeframe_s: int
    segments: tuple[Columns, ...]

    def bars(self, segment: int, start: int, stop: int) -> list[Bar]:
        """The ``Bar``s of rows ``[start, stop)`` of a segment, as the loader builds them."""
        part = self.segments[segment]
        values = [
            price_values(part[name][start:stop])
            if name in ("open", "high", "low", "close")
            else part[name][start:stop].tolist()
            for name in ("ts_ns", "open", "high", "low", "close", "volume", "oi")
        ]
        return [
            Bar(self.symbol, ts, self.timeframe_s, o, h, lo, c, v, oi)
            for ts, o, h, lo, c, v, oi in zip(*values, strict=True)
        ]

    def resampled(self, timeframe_s: int) -> BarColumns:
        """The bars ``BarResampler`` builds of these for a ``timeframe_s`` engine, ahead:
        per segment, each session bucket's first open, highest high, lowest low, last
        close, summed volume and last open interest. An engine checks each bar it
        builds against them whole (``ColumnCursor``): a print the validator refused
        inside a bucket makes another bar, and ends the columns there."""
        return BarColumns(
            self.symbol,
            timeframe_s,
            tuple(_resampled(part, timeframe_s) for part in self.segments),
        )


def _resampled(part: Columns, timeframe_s: int) -> Columns:
    starts = bucket_starts(part["ts_ns"], timeframe_s)
    if not len(starts):
        return part
    first = np.flatnonzero(np.diff(starts, prepend=starts[0] - 1))  # rows in time order
    last = np.append(first[1:], len(starts)) - 1
    return {
        "ts_ns": starts[first],
        "open": part["open"][first],
        "high": np.maximum.reduceat(part["high"], first),
        "low": np.minimum.reduceat(part["low"], first),
        "close": part["close"][last],
        "volume": np.add.reduceat(part["volume"].astype(np.int64), first),
        "oi": part["oi"][last],
    }


def bar_columns(streams: Iterable[Sequence[object]]) -> dict[str, BarColumns]:
    """Per symbol, its bars as columns, for the symbols whose streams allow it (module
    docstring)."""
    parts: dict[str, list[tuple[Bar, Bar, LazyItems]]] = {}
    refused: set[str] = set()
    for stream in streams:
        if not stream:
            continue
        first = stream[0]
        symbol = first.symbol  # type: ignore[attr-defined]
        if type(first) is not Bar or not isinstance(stream, LazyItems):
            refused.add(symbol)
            continue
        parts.setdefault(symbol, []).append((first, stream[-1], stream))
    out: dict[str, BarColumns] = {}
    for symbol, found in parts.items():
        if symbol in refused:
            continue
        found.sort(key=lambda part: part[0].ts_ns)
        timeframe = found[0][0].timeframe_s
        if any(first.timeframe_s != timeframe for first, _, _ in found):
            continue
        if any(a[1].ts_ns >= b[0].ts_ns for a, b in pairwise(found)):
            continue
        out[symbol] = BarColumns(symbol, timeframe, tuple(s.columns() for _, _, s in found))
    return out
