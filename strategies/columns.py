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
* ``FIRST_HOLD + k``: a HOLD for ``reasons[k]`` whatever the position, or, when
  ``flat_only[k]``, while flat (holding a position, the engine asks for the decision:
  a strategy whose exits are states decides on every bar it holds).

Every answer equals, field for field, the ``Decision`` ``on_bar`` gives for the same bar
after the same bars (a property test per strategy holds them to it), and
``Chunk.strategy_after`` hands back the bar-by-bar strategy in the state ``on_bar``
would have reached, for the engine to go on with when the bars it is handed stop being
the column's (a bar the price validator refused, a day the symbol was not traded).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from strategies.base import Decision, Strategy

__all__ = ["DECIDE", "FIRST_HOLD", "NOT_READY", "Chunk", "ChunkPrices", "ColumnDecider"]

DECIDE = 0
NOT_READY = 1
FIRST_HOLD = 2


class ChunkPrices:
    """A chunk's prices as float64 arrays: ``.tolist()`` gives the very Python floats a
    ``Bar`` of the chunk holds (``kitetui.market.packed.price_values``)."""

    __slots__ = ("close", "finite", "high", "low", "open")

    def __init__(self, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray):
        self.open, self.high, self.low, self.close = open_, high, low, close
        # ``strategies.base.bar_is_finite``: a bar with a non-finite price is refused
        # before any indicator sees it.
        self.finite = np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)

    @classmethod
    def of(cls, opens: list[float], highs: list[float], lows: list[float], closes: list[float]):
        return cls(*(np.array(values, dtype=np.float64) for values in (opens, highs, lows, closes)))

    def __len__(self) -> int:
        return len(self.close)


class Chunk(ABC):
    """The decisions on one chunk of bars: ``codes`` (module docstring), and what a code
    stands for when somebody needs the whole ``Decision``."""

    __slots__ = ("codes",)
    codes: bytes

    @abstractmethod
    def indicators(self, offset: int) -> dict[str, float]:
        """``on_bar``'s ``indicators`` on bar ``offset`` (the price chart's values)."""

    @abstractmethod
    def decision(self, offset: int, position_qty: int) -> Decision:
        """``on_bar``'s decision on bar ``offset`` of the chunk, holding ``position_qty``."""

    @abstractmethod
    def strategy_after(self, offset: int) -> Strategy:
        """A bar-by-bar strategy that has seen every bar up to and including ``offset``
        (``-1``: up to the chunk's first, excluded)."""


class ColumnDecider(ABC):
    """A strategy's column form; it starts where a fresh strategy starts."""

    __slots__ = ("flat_only", "reasons")
    #: The HOLD reasons, in code order (``FIRST_HOLD + k`` is ``reasons[k]``).
    reasons: tuple[str, ...]
    #: Per reason: a HOLD only while flat (module docstring).
    flat_only: tuple[bool, ...]

    @abstractmethod
    def decide(self, prices: ChunkPrices) -> Chunk:
        """Advance over the chunk's bars (the ones after the previous chunk's)."""
