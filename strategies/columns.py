"""A strategy's decisions a column of bars at a time: a backtest's fast path.

A strategy decides on one bar at a time (``Strategy.on_bar``): that is the reference,
and what paper, live and paced runs use. Most of its answers in a backtest are HOLDs
that depend only on the prices (``ema_cross`` holds on every bar but a cross), and a
call per bar on a ``Bar`` object costs more than the pipeline's whole budget for it
(docs/architecture.md, "Backtest speed"). So a strategy may also offer a
``ColumnDecider``: it takes a chunk of a symbol's bars as columns, advances its
indicators over them in one pass, and answers each bar with a one-byte code:

* ``DECIDE``: the decision depends on the position (a cross: enter, or hold because
  already in); the engine asks ``Chunk.decision(offset, position_qty)`` for it;
* ``NOT_READY``: a warming-up bar (``strategies.base.NOT_READY``);
* ``FIRST_HOLD + k``: a HOLD for ``reasons[k]`` while flat, and while holding a position
  on the sides ``held[k]`` names (``ALWAYS``, ``HELD_LONG``, ``HELD_SHORT`` or
  ``FLAT_ONLY``); holding on another side, the engine asks for the decision: a strategy
  whose exits are states decides on every bar it holds, unless its HOLD on that bar is
  the same holding or not (``supertrend`` long in an uptrend).

Every answer equals, field for field, the ``Decision`` ``on_bar`` gives for the same bar
after the same bars (a property test per strategy holds them to it), and
``Chunk.strategy_after`` hands back the bar-by-bar strategy in the state ``on_bar``
would have reached, for the engine to go on with when the bars it is handed stop being
the column's (a bar the price validator refused, a day the symbol was not traded).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from kitetui.domain import Bar
from strategies.base import BAD_BAR as BAD_BAR_DECISION
from strategies.base import NOT_READY as NOT_READY_DECISION

if TYPE_CHECKING:
    from strategies.base import Decision, Strategy

S = TypeVar("S", bound="Strategy")

__all__ = [
    "ALWAYS",
    "BAD",
    "DECIDE",
    "FIRST_HOLD",
    "FLAT_ONLY",
    "HELD_LONG",
    "HELD_SHORT",
    "NOT_READY",
    "Chunk",
    "ChunkPrices",
    "ColumnDecider",
    "CrossChunk",
    "Finite",
    "replayed",
    "signs_before",
]

DECIDE = 0
NOT_READY = 1
FIRST_HOLD = 2
BAD = FIRST_HOLD  # every column form's first reason is the bad bar's (``BAD_BAR_REASON``)

# The positions a HOLD code holds for besides flat (``ColumnDecider.held``), as bits.
HELD_LONG, HELD_SHORT = 1, 2
FLAT_ONLY, ALWAYS = 0, HELD_LONG | HELD_SHORT


class ChunkPrices:
    """A chunk's bars as columns: prices as float64 arrays (``.tolist()`` gives the very
    Python floats a ``Bar`` of the chunk holds, ``kitetui.market.packed.price_values``),
    start times and volumes as integers, the bars' length and their symbol."""

    __slots__ = (
        "close",
        "finite",
        "high",
        "low",
        "open",
        "symbol",
        "timeframe_s",
        "ts_ns",
        "volume",
    )

    def __init__(
        self,
        symbol: str,
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        ts_ns: np.ndarray,
        volume: np.ndarray,
        timeframe_s: int,
    ):
        self.open, self.high, self.low, self.close = open_, high, low, close
        self.ts_ns, self.volume, self.timeframe_s = ts_ns, volume, timeframe_s
        self.symbol = symbol
        # ``strategies.base.bar_is_finite``: a bar with a non-finite price is refused
        # before any indicator sees it.
        self.finite = np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)

    def __len__(self) -> int:
        return len(self.close)


class Finite:
    """The chunk's bars ``on_bar`` lets its indicators see (``bar_is_finite``): their
    prices as the floats a ``Bar`` holds, and where they are in the chunk. The highs
    and lows are made into lists when first read: a column form whose indicators take
    arrays (``array``) never pays for them."""

    __slots__ = ("_highs", "_lows", "_prices", "closes", "where")

    def __init__(self, where: np.ndarray | None, closes: list[float], prices: ChunkPrices) -> None:
        self.where = where  # their offsets; None when every bar is finite
        self.closes = closes
        self._prices = prices
        self._highs: list[float] | None = None
        self._lows: list[float] | None = None

    @classmethod
    def of(cls, prices: ChunkPrices) -> Finite:
        if prices.finite.all():
            return cls(None, prices.close.tolist(), prices)
        where = np.flatnonzero(prices.finite)
        return cls(where, prices.close[where].tolist(), prices)

    @property
    def highs(self) -> list[float]:
        if self._highs is None:
            self._highs = self.take(self._prices.high)
        return self._highs

    @property
    def lows(self) -> list[float]:
        if self._lows is None:
            self._lows = self.take(self._prices.low)
        return self._lows

    def take(self, column: np.ndarray) -> list:
        """A column's values on the finite bars, as the Python numbers a ``Bar`` holds."""
        return column.tolist() if self.where is None else column[self.where].tolist()

    def array(self, column: np.ndarray) -> np.ndarray:
        """A column's values on the finite bars, as the array itself (no copy when all
        are finite): what an indicator that works on arrays takes (``ATR.update_many``)."""
        return column if self.where is None else column[self.where]

    def at(self, offset: int) -> int:
        """A finite bar's place among the finite ones."""
        return offset if self.where is None else int(np.searchsorted(self.where, offset))

    def codes(self, codes: np.ndarray, size: int) -> bytes:
        """The finite bars' codes spread over the chunk's ``size`` bars, ``BAD`` between."""
        if self.where is not None:
            every = np.full(size, BAD, dtype=np.uint8)
            every[self.where] = codes
            codes = every
        return codes.tobytes()


def replayed(strategy: S, prices: ChunkPrices, offset: int) -> S:
    """``strategy`` after ``on_bar`` on the chunk's bars up to ``offset`` (included),
    flat: what ``Chunk.strategy_after`` hands back, for a strategy whose state does not
    depend on the position."""
    stop = offset + 1
    columns = (prices.ts_ns, prices.open, prices.high, prices.low, prices.close, prices.volume)
    symbol, timeframe_s = prices.symbol, prices.timeframe_s
    for ts, o, h, lo, c, v in zip(*(a[:stop].tolist() for a in columns), strict=True):
        strategy.on_bar(Bar(symbol, ts, timeframe_s, o, h, lo, c, v), 0)
    return strategy


def signs_before(sign: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """For each bar, the last non-zero ``sign`` before it (``start``: the last one
    before the chunk), and the chunk's own last non-zero sign (``start`` if none): a
    cross is a bar whose sign is neither 0 nor the one before it (``rules.SignChange``
    over the chunk, a bar at a time)."""
    taken = len(sign)
    had = np.flatnonzero(sign)
    last = np.full(taken, -1, dtype=np.int64)
    last[had] = had
    last = np.maximum.accumulate(last)
    before = np.empty(taken, dtype=np.int64)
    before[:1] = -1
    before[1:] = last[:-1]
    previous = np.where(before >= 0, sign[np.maximum(before, 0)], start)
    return previous, int(sign[had[-1]]) if len(had) else start


class Chunk(ABC):
    """The decisions on one chunk of bars: ``codes`` (module docstring), and what a code
    stands for when somebody needs the whole ``Decision``. A strategy's chunk says what
    its values were on a bar its indicators saw (``_indicators``, ``_decision``) and
    what it was before the chunk (``_at_start``); the rest is the same for all."""

    __slots__ = ("_columns", "_decider", "_finite", "_prices", "_start", "codes")

    def __init__(
        self,
        codes: np.ndarray,
        decider: ColumnDecider,
        prices: ChunkPrices,
        finite: Finite,
        start: tuple,
        columns: tuple[np.ndarray, ...],
    ) -> None:
        self.codes = finite.codes(codes, len(prices))
        self._decider = decider
        self._prices = prices
        self._finite = finite
        self._start = start  # the strategy's state before the chunk (``_at_start``)
        self._columns = columns  # the strategy's values, a row per finite bar

    def indicators(self, offset: int) -> dict[str, float]:
        """``on_bar``'s ``indicators`` on bar ``offset`` (the price chart's values)."""
        if self.codes[offset] in (NOT_READY, BAD):
            return {}
        return self._indicators(self._finite.at(offset))

    def decision(self, offset: int, position_qty: int) -> Decision:
        """``on_bar``'s decision on bar ``offset`` of the chunk, holding ``position_qty``."""
        code = self.codes[offset]
        if code == BAD:
            return BAD_BAR_DECISION
        if code == NOT_READY:
            return NOT_READY_DECISION
        return self._decision(offset, self._finite.at(offset), code, position_qty)

    def strategy_after(self, offset: int) -> Strategy:
        """A bar-by-bar strategy that has seen every bar up to and including ``offset``
        (``-1``: up to the chunk's first, excluded)."""
        return replayed(self._at_start(), self._prices, offset)

    @abstractmethod
    def _indicators(self, at: int) -> dict[str, float]:
        """The indicators on the ``at``-th bar the indicators saw."""

    @abstractmethod
    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        """The decision on bar ``offset``, the ``at``-th the indicators saw, ready."""

    @abstractmethod
    def _at_start(self) -> Strategy:
        """A new bar-by-bar strategy in the state the chunk started from."""


class CrossChunk(Chunk):
    """The chunk of a strategy whose rules after its indicators are
    ``_decide(indicators, close, cross, position_qty)`` (``cross``: ``rules.SignChange``
    on the bar), with the crosses as its last column."""

    __slots__ = ()

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        cross = int(self._columns[-1][at])
        close = self._finite.closes[at]
        strategy = self._decider.strategy
        return strategy._decide(self._indicators(at), close, cross, position_qty)


class ColumnDecider(ABC):
    """A strategy's column form; it starts where a fresh strategy starts: ``strategy``,
    whose own indicators it advances chunk by chunk."""

    __slots__ = ("_seen", "held", "reasons", "strategy")
    #: The HOLD reasons, in code order (``FIRST_HOLD + k`` is ``reasons[k]``; a reason
    #: may stand for two codes that hold for different positions).
    reasons: tuple[str, ...]
    #: Per code: the held positions it is a HOLD for too (module docstring).
    held: tuple[int, ...]

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self._seen = 0  # finite bars its indicators have taken

    def warmed(self, taken: int, bars: int) -> np.ndarray:
        """Of the next ``taken`` finite bars, those after ``bars`` finite bars in all
        (where indicators that need that many are ready); counts them as taken."""
        ready = self._seen + np.arange(1, taken + 1) >= bars
        self._seen += taken
        return ready

    @abstractmethod
    def decide(self, prices: ChunkPrices) -> Chunk:
        """Advance over the chunk's bars (the ones after the previous chunk's)."""
