"""The newest bars of each symbol an engine decided on, with its indicators' values.

The price chart needs the candles of the engine's own timeframe and the numbers its
strategy computed on each of them; both exist already on the hot path (the ``Bar`` the
engine was handed and the ``indicators`` dict of the strategy's ``Decision``). Keeping
them costs one small tuple and a bounded ``deque.append`` per bar: O(1), no copy, no
per-bar object beyond that tuple, and the oldest bar falls off by itself. The chart
read (``kitetui.supervisor.charts``) copies a symbol's bars out on the desk's loop, so
nothing here is shared across threads.

A strategy hands a new ``indicators`` dict with every decision (``strategies.base``);
the history keeps that reference, not a copy. A symbol an engine decides a column at a
time (``engines.column_cursor``) keeps nothing per bar: the history *follows* the
cursor, which builds the newest bars from its columns when the chart asks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Protocol

from kitetui.domain import Bar

#: Bars kept per symbol: wider than a 160-column chart, a whole session of 5-minute
#: bars (75) several times over.
CHART_BARS = 300

Entry = tuple[Bar, Mapping[str, float]]


class Followed(Protocol):
    """What keeps a symbol's bars elsewhere (``engines.column_cursor.ColumnCursor``)."""

    def recent(self, size: int) -> tuple[Entry, ...]: ...

    def last_ts(self) -> int: ...


class BarHistory:
    """Per symbol, the newest ``size`` bars and the indicator values decided on each.

    ``overlays`` are the strategy's indicators in price units (moving averages, bands,
    channels), which the chart draws over the candles; the others (RSI, ATR, ADX…) are
    on their own scales.
    """

    __slots__ = ("_bars", "_followed", "overlays", "size")

    def __init__(self, size: int = CHART_BARS, overlays: tuple[str, ...] = ()) -> None:
        if size < 1:
            raise ValueError(f"a bar history keeps at least one bar, got {size}")
        self.size = size
        self.overlays = overlays
        self._bars: dict[str, deque[Entry]] = {}
        self._followed: dict[str, Followed] = {}

    def add(self, bar: Bar, indicators: Mapping[str, float]) -> None:
        """Keep ``bar`` and the values decided on it; the symbol's oldest falls off."""
        ring = self._bars.get(bar.symbol)
        if ring is None:
            ring = self._bars[bar.symbol] = deque(maxlen=self.size)
        ring.append((bar, indicators))

    def follow(self, symbol: str, source: Followed) -> None:
        """``symbol``'s bars are kept by ``source`` from now on."""
        self._followed[symbol] = source

    def unfollow(self, symbol: str) -> None:
        """``symbol``'s bars are added one by one again, after the ones ``source`` had."""
        source = self._followed.pop(symbol, None)
        if source is not None and source.last_ts():
            self._bars[symbol] = deque(source.recent(self.size), maxlen=self.size)

    def recent(self, symbol: str) -> tuple[Entry, ...]:
        """The symbol's kept bars with their indicators, oldest first (a copy)."""
        source = self._followed.get(symbol)
        if source is not None:
            return source.recent(self.size)
        ring = self._bars.get(symbol)
        return () if ring is None else tuple(ring)

    def last_ts(self, symbol: str) -> int:
        """The start of the symbol's newest kept bar, 0 when it has none."""
        source = self._followed.get(symbol)
        if source is not None:
            return source.last_ts()
        ring = self._bars.get(symbol)
        return ring[-1][0].ts_ns if ring else 0

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._bars or bool(
            isinstance(symbol, str) and symbol in self._followed and self.last_ts(symbol)
        )

    def symbols(self) -> tuple[str, ...]:
        followed = tuple(s for s in self._followed if self._followed[s].last_ts())
        return tuple(self._bars) + followed
