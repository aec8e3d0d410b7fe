"""EMA crossover on closes: the seeds' "EMA 20/50 intraday", with an ATR for sizing.

The defaults are the seed system's 20/50 pair, so ``strategy: ema_cross`` with
``params: {}`` is that strategy; other pairs (9/21 on 1-minute bars) are params.

A cross is a change of the sign of ``ema_fast - ema_slow`` between two ready bars.
A bar where the EMAs are exactly equal has no sign: the next bar with a sign is
compared with the last bar that had one, so touching and turning back is not a cross,
and a cross through equality fires once, on the bar that leaves it. The first ready
bar has nothing to compare with, so a trend already in place at start-up never fires.
"""

from __future__ import annotations

from copy import copy
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.indicators import ATR, EMA
from strategies.base import (
    ATR_PERIOD,
    BAD_BAR,
    BAD_BAR_REASON,
    MAX_PERIOD,
    NOT_READY,
    Decision,
    Strategy,
    bar_is_finite,
    must_be_below,
)
from strategies.columns import (
    ALWAYS,
    BAD,
    DECIDE,
    FIRST_HOLD,
    Chunk,
    ChunkPrices,
    ColumnDecider,
    Finite,
    signs_before,
)
from strategies.columns import NOT_READY as NOT_READY_CODE
from strategies.registry import register

__all__ = ["EmaCrossStrategy"]

# The decisions of a bar where the averages crossed, bound once
# (why: ``kitetui/domain.py``, "Bound members").
_HOLD, _LONG = SignalKind.HOLD, SignalKind.LONG
_SHORT, _EXIT = SignalKind.SHORT, SignalKind.EXIT


@register
class EmaCrossStrategy(Strategy):
    """LONG on an up-cross, SHORT on a down-cross (or EXIT a long if shorts are off).

    Confidence is ``min(1, |ema_fast - ema_slow| / atr)``: how decisively the fast
    average has cleared the slow one, in units of the bar's typical range.
    """

    name: ClassVar[str] = "ema_cross"
    chart_overlays: ClassVar[tuple[str, ...]] = ("ema_fast", "ema_slow")

    class Params(Strategy.Params):
        fast: int = Field(20, ge=1, le=MAX_PERIOD - 1, description="fast EMA period (bars)")
        slow: int = Field(50, ge=2, le=MAX_PERIOD, description="slow EMA period (bars)")
        allow_short: bool = Field(True, description="down-cross goes SHORT, else only EXITs")

        @model_validator(mode="after")
        def _fast_below_slow(self) -> EmaCrossStrategy.Params:
            must_be_below(self, "fast", "slow")
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._fast = EMA(p.fast)
        self._slow = EMA(p.slow)
        self._atr = ATR(ATR_PERIOD)
        self._last_sign = 0  # sign of fast - slow on the last ready bar that had one
        fast_name, slow_name = f"ema{p.fast}", f"ema{p.slow}"
        self._reason_above = f"{fast_name}>{slow_name}, no cross"
        self._reason_below = f"{fast_name}<{slow_name}, no cross"
        self._reason_equal = f"{fast_name}={slow_name}, no cross"
        self._reason_up = f"{fast_name} crossed above {slow_name}"
        self._reason_down = f"{fast_name} crossed below {slow_name}"

    @property
    def warmup_bars(self) -> int:
        return max(self.params.slow, ATR_PERIOD + 1)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        close = bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        atr = self._atr.update(bar.high, bar.low, close)
        if not (self._slow.ready and self._atr.ready):
            return NOT_READY
        indicators = {"ema_fast": fast, "ema_slow": slow, "atr": atr}
        gap = fast - slow
        sign = 1 if gap > 0.0 else -1 if gap < 0.0 else 0
        if sign == 0:
            return Decision(SignalKind.HOLD, self._reason_equal, 0.0, indicators)
        previous, self._last_sign = self._last_sign, sign
        if previous == 0 or previous == sign:
            reason = self._reason_above if sign > 0 else self._reason_below
            return Decision(SignalKind.HOLD, reason, 0.0, indicators)

        return self._crossed(sign, gap, atr, position_qty, indicators)

    def _crossed(
        self, sign: int, gap: float, atr: float, position_qty: int, indicators: dict[str, float]
    ) -> Decision:
        """The decision on a bar where the averages crossed (``sign``: the new side)."""
        confidence = min(1.0, abs(gap) / atr) if atr > 0.0 else 1.0
        if sign > 0:
            if position_qty > 0:
                reason = f"{self._reason_up}, already long"
                return Decision(_HOLD, reason, 0.0, indicators)
            return Decision(_LONG, self._reason_up, confidence, indicators)
        if position_qty < 0:
            reason = f"{self._reason_down}, already short"
            return Decision(_HOLD, reason, 0.0, indicators)
        if self.params.allow_short:
            return Decision(_SHORT, self._reason_down, confidence, indicators)
        if position_qty > 0:
            return Decision(_EXIT, self._reason_down, confidence, indicators)
        return Decision(_HOLD, f"{self._reason_down}, shorts disabled", 0.0, indicators)

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD reasons of the column form, in code order (``strategies.columns``).
_EQUAL, _ABOVE, _BELOW = range(BAD + 1, BAD + 4)


class _Columns(ColumnDecider):
    """``ema_cross`` a chunk at a time: its own indicator objects advance over the
    chunk's finite bars (so every value is the one ``on_bar`` computes, by the same
    arithmetic), and numpy finds, from the averages, which bars are crosses."""

    def __init__(self, strategy: EmaCrossStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (
            BAD_BAR_REASON,
            strategy._reason_equal,
            strategy._reason_above,
            strategy._reason_below,
        )
        self.held = (ALWAYS,) * len(self.reasons)  # the same HOLD holding or not

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        start = (copy(s._fast), copy(s._slow), copy(s._atr), s._last_sign)
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes = finite.closes
        taken = len(closes)
        # The ATR takes the price arrays (its true ranges in numpy); each list of
        # values becomes an array by ``fromiter``, which need not discover its type.
        fast = np.fromiter(s._fast.update_many(closes), np.float64, taken)
        slow = np.fromiter(s._slow.update_many(closes), np.float64, taken)
        highs, lows = finite.array(prices.high), finite.array(prices.low)
        atr_values = s._atr.update_many(highs, lows, finite.array(prices.close))
        atr = np.fromiter(atr_values, np.float64, taken)
        ready = self.warmed(taken, s.warmup_bars)
        gap = fast - slow
        sign = np.sign(np.where(ready, gap, 0.0)).astype(np.int8)  # 0 while warming up
        previous, s._last_sign = signs_before(sign, s._last_sign)
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready & (sign == 0)] = _EQUAL
        no_cross = (previous == 0) | (previous == sign)
        codes[(sign > 0) & no_cross] = _ABOVE
        codes[(sign < 0) & no_cross] = _BELOW
        codes[(sign != 0) & ~no_cross] = DECIDE
        return _Chunk(codes, self, prices, finite, start, (fast, slow, atr))


class _Chunk(Chunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        fast, slow, atr = (float(column[at]) for column in self._columns)
        return {"ema_fast": fast, "ema_slow": slow, "atr": atr}

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        indicators = self._indicators(at)
        if code == DECIDE:
            gap = indicators["ema_fast"] - indicators["ema_slow"]
            sign = 1 if gap > 0.0 else -1
            strategy = self._decider.strategy
            return strategy._crossed(sign, gap, indicators["atr"], position_qty, indicators)
        reason = self._decider.reasons[code - FIRST_HOLD]
        return Decision(SignalKind.HOLD, reason, 0.0, indicators)

    def _at_start(self) -> EmaCrossStrategy:
        strategy = EmaCrossStrategy(self._decider.strategy.params)
        fast, slow, atr, last_sign = self._start
        strategy._fast, strategy._slow, strategy._atr = copy(fast), copy(slow), copy(atr)
        strategy._last_sign = last_sign
        return strategy
