"""SuperTrend: always on the side of the SuperTrend line, reversing when it flips.

The SuperTrend (``kitetui.market.indicators.SuperTrend``, pandas-ta-classic's rules)
is an ATR band that trails price and flips when a close breaks through it: below
price in an uptrend, above it in a downtrend. It is the most common trend tool on
Indian index charts (10, 3 on 5-minute bars), and its line doubles as a trailing stop.

* A flip up goes LONG (closing a short); a flip down goes SHORT (closing a long), or
  only EXITs the long when shorts are disabled. The direction the indicator starts
  with is not a flip: a trend already in place at start-up is not traded.
* A position against the current direction on any other bar (say its exit could not
  be placed at the flip) is closed: EXIT, state-based, until it is flat.

``indicators["atr"]`` is ATR 14 as for every strategy (sizing); the SuperTrend's own
ATR (``period``) only builds the bands. Entry confidence is how far the close broke
through the band it flipped on, in ATRs (capped at 1). Exits have confidence 1.
"""

from __future__ import annotations

from copy import copy
from typing import ClassVar

import numpy as np
from pydantic import Field

from kitetui.domain import Bar, SignalKind
from kitetui.market.channels import SuperTrend
from kitetui.market.indicators import ATR
from strategies.base import (
    ATR_PERIOD,
    BAD_BAR,
    BAD_BAR_REASON,
    MAX_PERIOD,
    NOT_READY,
    Decision,
    Strategy,
    bar_is_finite,
)
from strategies.columns import (
    ALWAYS,
    BAD,
    DECIDE,
    HELD_LONG,
    HELD_SHORT,
    Chunk,
    ChunkPrices,
    ColumnDecider,
    Finite,
)
from strategies.columns import NOT_READY as NOT_READY_CODE
from strategies.registry import register
from strategies.rules import clamp01, close_position, go

__all__ = ["SuperTrendStrategy"]

_HOLD = SignalKind.HOLD


@register
class SuperTrendStrategy(Strategy):
    """LONG on a SuperTrend flip up, SHORT (or EXIT) on a flip down; EXIT a position
    left against the direction."""

    name: ClassVar[str] = "supertrend"
    chart_overlays: ClassVar[tuple[str, ...]] = ("supertrend",)

    class Params(Strategy.Params):
        period: int = Field(10, ge=1, le=MAX_PERIOD, description="ATR period of the bands")
        multiplier: float = Field(
            3.0, gt=0, le=20, allow_inf_nan=False, description="band width in ATRs"
        )
        allow_short: bool = Field(True, description="a flip down goes SHORT, else only EXITs")

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._supertrend = SuperTrend(p.period, p.multiplier)
        self._atr = ATR(ATR_PERIOD)
        self._direction = 0  # on the last ready bar
        name = f"supertrend({p.period},{p.multiplier:g})"
        self._up = f"{name} flipped up"
        self._down = f"{name} flipped down"
        self._hold_up = f"{name} up"
        self._hold_down = f"{name} down"
        self._long_against = f"long: {name} down"
        self._short_against = f"short: {name} up"

    @property
    def warmup_bars(self) -> int:
        return max(self.params.period, ATR_PERIOD) + 1

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        supertrend = self._supertrend
        upper, lower = supertrend.upper, supertrend.lower  # the bands a close breaks
        high, low, close = bar.high, bar.low, bar.close
        line = supertrend.update(high, low, close)
        atr = self._atr.update(high, low, close)
        if not (supertrend.ready and self._atr.ready):
            return NOT_READY
        direction = supertrend.direction
        previous, self._direction = self._direction, direction
        indicators = {"supertrend": line, "direction": float(direction), "atr": atr}
        return self._decide(indicators, close, upper, lower, previous, position_qty)

    def _decide(
        self,
        indicators: dict[str, float],
        close: float,
        upper: float,
        lower: float,
        previous: int,
        position_qty: int,
    ) -> Decision:
        """The decision on a ready bar: ``upper``/``lower`` the bands before it,
        ``previous`` the direction on the ready bar before it."""
        direction = int(indicators["direction"])
        atr = indicators["atr"]
        if previous and direction != previous:
            if direction > 0:
                confidence, reason = clamp01((close - upper) / atr), self._up
            else:
                confidence, reason = clamp01((lower - close) / atr), self._down
            allow_short = self.params.allow_short
            return go(direction, position_qty, allow_short, reason, confidence, indicators)
        if direction * position_qty < 0:
            reason = self._long_against if position_qty > 0 else self._short_against
            return close_position(reason, indicators)
        reason = self._hold_up if direction > 0 else self._hold_down
        return Decision(_HOLD, reason, 0.0, indicators)

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD reasons of the column form, in code order (``strategies.columns``): the bad
# bar's whatever the position, the trend's only while flat.
_UP, _DOWN = range(BAD + 1, BAD + 3)


class _Columns(ColumnDecider):
    """``supertrend`` a chunk at a time: its own SuperTrend and ATR advance over the
    chunk's finite bars, the bands before each bar and the direction after it read off
    the SuperTrend as it goes; a flip is decided with the position, any other bar is
    its trend's HOLD while flat."""

    def __init__(self, strategy: SuperTrendStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (BAD_BAR_REASON, strategy._hold_up, strategy._hold_down)
        self.held = (ALWAYS, HELD_LONG, HELD_SHORT)  # a position against the trend: EXIT

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        supertrend, atr_indicator = s._supertrend, s._atr
        start = (copy(supertrend), copy(supertrend._atr), copy(atr_indicator), s._direction)
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        taken = len(closes)
        values = np.empty((taken, 5))  # line, direction, atr, upper and lower before
        update, atr_update = supertrend.update, atr_indicator.update
        for k, (high, low, close) in enumerate(zip(highs, lows, closes, strict=True)):
            values[k, 3], values[k, 4] = supertrend._upper, supertrend._lower
            values[k, 0] = update(high, low, close)
            values[k, 1] = supertrend.direction
            values[k, 2] = atr_update(high, low, close)
        ready = self.warmed(taken, s.warmup_bars)
        direction = np.where(ready, values[:, 1], 0.0)
        # The direction on the ready bar before each bar.
        previous = np.empty(taken)
        previous[:1] = s._direction
        previous[1:] = direction[:-1]
        first_ready = np.flatnonzero(ready)
        if len(first_ready) and first_ready[0] > 0:
            previous[first_ready[0]] = s._direction  # the bars before it were not ready
        if len(first_ready):
            s._direction = int(direction[first_ready[-1]])
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready & (direction > 0)] = _UP
        codes[ready & (direction < 0)] = _DOWN
        codes[ready & (previous != 0) & (direction != previous)] = DECIDE
        return _Chunk(codes, self, prices, finite, start, (values, previous))


class _Chunk(Chunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        line, direction, atr, _, _ = self._columns[0][at].tolist()
        return {"supertrend": line, "direction": direction, "atr": atr}

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        _, _, _, upper, lower = self._columns[0][at].tolist()
        close = self._finite.closes[at]
        previous = int(self._columns[1][at])
        strategy = self._decider.strategy
        indicators = self._indicators(at)
        return strategy._decide(indicators, close, upper, lower, previous, position_qty)

    def _at_start(self) -> SuperTrendStrategy:
        strategy = SuperTrendStrategy(self._decider.strategy.params)
        supertrend, inner_atr, atr, direction = self._start
        strategy._supertrend = copy(supertrend)
        strategy._supertrend._atr = copy(inner_atr)
        strategy._atr = copy(atr)
        strategy._direction = direction
        return strategy
