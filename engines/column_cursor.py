"""An engine's place in one symbol's columns: a backtest's decisions a chunk at a time.

At full speed over recorded bars an engine whose strategy has a column form
(``strategies.columns``) does not call ``on_bar`` on each bar: the ``ColumnCursor`` of
the symbol hands the strategy's decider the next ``CHUNK`` bars of the symbol's columns
(``kitetui.market.bar_columns``) and answers each bar the merge delivers with its code
(a HOLD for a reason, not ready, or "ask with the position"). A bar is the column's
next one when it starts at the next row's time (and, for an engine on a longer
timeframe than its files, whose bars are resampled ahead, when it equals that row
whole): anything else (a refused print, a day off the universe) ends the cursor, and
the engine goes on bar by bar with the strategy ``strategy_now`` hands back, in the
state the bars it saw left it in.

The cursor also answers the price chart (``BarHistory.follow``): the newest bars it
stepped over and their indicators, built from the columns when the chart asks.
"""

from __future__ import annotations

from kitetui.domain import Bar
from kitetui.market.bar_columns import BarColumns
from kitetui.market.bar_history import CHART_BARS, Entry
from kitetui.market.packed import price_array
from strategies.base import Decision, Strategy
from strategies.columns import ALWAYS, FIRST_HOLD, Chunk, ChunkPrices, ColumnDecider

__all__ = ["CHUNK", "ColumnCursor"]

# Bars decided at a time: the chart's bars fit in the chunk before the current one.
CHUNK = 1024
assert CHUNK >= CHART_BARS

_PRICES = ("open", "high", "low", "close")

# A chunk and where its rows are: (chunk, segment, first row, rows).
_Part = tuple[Chunk, int, int, int]


class ColumnCursor:
    """The decisions on one symbol's bars, read ahead from its columns."""

    __slots__ = (
        "_built",
        "_columns",
        "_current",
        "_decider",
        "_n",
        "_previous",
        "_row",
        "_rows",
        "_segment",
        "always",
        "chunk",
        "codes",
        "held",
        "hold_keys",
        "keys",
        "offset",
        "reasons",
        "starts",
    )

    def __init__(
        self, columns: BarColumns, decider: ColumnDecider, *, built: bool = False, engine: str = ""
    ) -> None:
        self._columns = columns
        self._built = built  # the engine builds its bars (resampled): check them whole
        self._rows: list[tuple[float, float, float, float, int]] = []
        self._decider = decider
        self.reasons = decider.reasons
        self.held = decider.held
        # Per code (a byte), its reason if it is a HOLD whatever the position, else None;
        # one entry more, read for -1 (a bar not the column's next): the engine counts
        # such a HOLD with one look (``Engine.process``), not a sum and two.
        self.always: tuple[str | None, ...] = (
            *(
                self.reasons[code - FIRST_HOLD]
                if FIRST_HOLD <= code < FIRST_HOLD + len(self.held)
                and self.held[code - FIRST_HOLD] == ALWAYS
                else None
                for code in range(256)
            ),
            None,
        )
        # The same per code, as the key the HOLD counter counts it under (``engine``,
        # symbol, reason): one tuple per reason, not one per HOLD (``Engine.process``).
        self.hold_keys: tuple[tuple[str, str, str] | None, ...] = tuple(
            None if reason is None else (engine, columns.symbol, reason) for reason in self.always
        )
        self._segment = 0
        self._row = 0  # the segment's next row to decide
        self._current: _Part | None = None
        self._previous: _Part | None = None
        # The current chunk's codes and its rows' start times. Public for
        # ``Engine.process``, which takes the common step of a cursor over the files' own
        # bars (not ``built``) itself (the next row of the chunk, starting at the bar's
        # time) without a call: ``step``'s first case, for the bulk of a backtest's bars.
        self.codes = b""
        # Per row of the chunk, its code's ``hold_keys`` entry, made with the chunk (a
        # C loop over its codes): ``Engine.process`` reads a row's key in one look.
        self.keys: list[tuple[str, str, str] | None] = []
        # ``starts`` ends with a None past the chunk's rows, which no bar starts at: the
        # engine's step (over the files' own bars only) needs no bound check.
        self.starts: list[int | None] = [None]
        self._n = 0  # rows in the current chunk
        # The bar just stepped over: its chunk and its row there (-1: none stepped into
        # yet). Attributes, not a method: the engine reads them for every HOLD it counts.
        self.chunk: Chunk | None = None
        self.offset = -1

    @property
    def built(self) -> bool:
        """Whether the engine builds the bars it steps with (resampled ahead)."""
        return self._built

    def step(self, bar: Bar) -> int:
        """The code of ``bar`` if it is the column's next bar; -1 if it is not (the
        cursor is then done with). A bar of the files' own is the next one when it
        starts at the next row's time (the merge hands over the rows themselves); a bar
        the engine built from shorter ones must equal the next row whole."""
        i = self.offset + 1
        if i == self._n:
            if not self._advance():
                return -1
            i = 0
        if self.starts[i] != bar.ts_ns:
            return -1
        if self._built and self._rows[i] != (bar.open, bar.high, bar.low, bar.close, bar.volume):
            return -1
        self.offset = i
        return self.codes[i]

    def _advance(self) -> bool:
        segments = self._columns.segments
        while self._segment < len(segments):
            size = len(segments[self._segment]["ts_ns"])
            if self._row < size:
                break
            self._segment += 1
            self._row = 0
        else:
            return False
        part = segments[self._segment]
        start, stop = self._row, min(self._row + CHUNK, size)
        ts_ns = part["ts_ns"][start:stop]
        prices = [price_array(part[name][start:stop]) for name in _PRICES]
        volume = part["volume"][start:stop]
        columns = self._columns
        chunk = self._decider.decide(
            ChunkPrices(columns.symbol, *prices, ts_ns, volume, columns.timeframe_s)
        )
        self._previous, self._current = self._current, (chunk, self._segment, start, stop - start)
        self.chunk = chunk
        self.codes = chunk.codes
        self.keys = list(map(self.hold_keys.__getitem__, chunk.codes))
        self.starts = ts_ns.tolist()
        self.starts.append(None)
        if self._built:
            values = [column.tolist() for column in prices]  # the floats a Bar holds
            self._rows = list(zip(*values, volume.tolist(), strict=True))
        self.offset, self._n = -1, stop - start
        self._row = stop
        return True

    def where(self) -> tuple[Chunk, int]:
        """The chunk and offset of the bar just stepped over."""
        assert self.chunk is not None
        return self.chunk, self.offset

    def decision(self, position_qty: int) -> Decision:
        """The whole decision on the bar just stepped over, holding ``position_qty``."""
        chunk, offset = self.where()
        return chunk.decision(offset, position_qty)

    def strategy_now(self, fresh: Strategy) -> Strategy:
        """The bar-by-bar strategy after every bar stepped over (``fresh`` if none)."""
        if self._current is None:
            return fresh
        chunk, offset = self.where()  # -1: a new chunk not stepped into yet
        return chunk.strategy_after(offset)

    # -- the price chart (``BarHistory.follow``) ------------------------------------------

    def recent(self, size: int) -> tuple[Entry, ...]:
        """The newest ``size`` bars stepped over, with their indicators, oldest first."""
        entries: list[Entry] = []
        for part, taken in ((self._previous, None), (self._current, self.offset + 1)):
            if part is None:
                continue
            chunk, segment, start, rows = part
            rows = rows if taken is None else taken
            bars = self._columns.bars(segment, start, start + rows)
            entries.extend((bar, chunk.indicators(k)) for k, bar in enumerate(bars))
        return tuple(entries[-size:])

    def last_ts(self) -> int:
        """The start of the newest bar stepped over, 0 before the first."""
        if self.offset >= 0:
            return self.starts[self.offset]
        if self._previous is not None:
            _, segment, start, rows = self._previous
            return int(self._columns.segments[segment]["ts_ns"][start + rows - 1])
        return 0
