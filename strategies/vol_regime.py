"""Volatility regime: an EMA-cross trend follower that only trades a normal market.

The seeds' ``vol_regime``. The regime is the ratio of the recent ATR (14 bars) to a
baseline ATR (``atr_slow`` bars, a session of 5-minute bars by default):

* below ``min_ratio`` the market is compressed: crosses there are mostly noise, and
  are not traded;
* above ``max_ratio`` it is in shock (news, a gap, an expiry squeeze): stops slip and
  reversals are violent, so crosses are not traded either;
* in between (NORMAL) an EMA up-cross goes LONG and a down-cross goes SHORT (or only
  exits a long when shorts are disabled), as ``ema_cross`` does.

A cross in the wrong regime is skipped, not remembered for later; a cross against an
open position still closes it. Any position is closed while the ratio is above
``exit_ratio``: the regime that justified it is gone.

Sizing: the trader sizes entries by ATR, which already keeps the risk to the stop
constant; but gaps and slippage through a stop grow faster than ATR when volatility
is above its baseline. So every decision carries ``indicators["size_scale"] =
min(1, 1 / vol_ratio)``: full size up to the baseline, half size at twice it. It is in
(0, 1] because entries need ``vol_ratio <= max_ratio <= 10``; the trader multiplies
the risk-based quantity by it (rounded down to the lot).

Entry confidence is how far the close has moved past the slow EMA, in ATRs (capped at
1). Exits have confidence 1.
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
    FLAT_ONLY,
    ChunkPrices,
    ColumnDecider,
    CrossChunk,
    Finite,
    signs_before,
)
from strategies.columns import NOT_READY as NOT_READY_CODE
from strategies.registry import register
from strategies.rules import SignChange, clamp01, close_position, go

__all__ = ["VolRegimeStrategy"]

_HOLD = SignalKind.HOLD
_NO_CROSS_COMPRESSED = "no cross, regime compressed"
_NO_CROSS_SHOCK = "no cross, regime shock"
_NO_CROSS_NORMAL = "no cross, regime normal"


@register
class VolRegimeStrategy(Strategy):
    """LONG/SHORT on an EMA cross when ATR / baseline ATR is NORMAL; EXIT on an opposite
    cross or a volatility shock; ``size_scale`` shrinks entries above the baseline."""

    name: ClassVar[str] = "vol_regime"
    chart_overlays: ClassVar[tuple[str, ...]] = ("ema_fast", "ema_slow")

    class Params(Strategy.Params):
        fast: int = Field(9, ge=1, le=MAX_PERIOD - 1, description="fast EMA period (bars)")
        slow: int = Field(21, ge=2, le=MAX_PERIOD, description="slow EMA period (bars)")
        atr_slow: int = Field(
            75,
            ge=ATR_PERIOD + 1,
            le=MAX_PERIOD,
            description=f"baseline ATR period (bars); the recent ATR is {ATR_PERIOD}",
        )
        min_ratio: float = Field(
            0.8, gt=0, le=10, allow_inf_nan=False, description="below: compressed, no entries"
        )
        max_ratio: float = Field(
            2.0, gt=0, le=10, allow_inf_nan=False, description="above: shock, no entries"
        )
        exit_ratio: float = Field(
            3.0, gt=0, le=20, allow_inf_nan=False, description="above: close any position"
        )
        allow_short: bool = Field(True, description="a down-cross goes SHORT, else only EXITs")

        @model_validator(mode="after")
        def _ordered(self) -> VolRegimeStrategy.Params:
            must_be_below(self, "fast", "slow")
            if not self.min_ratio < self.max_ratio <= self.exit_ratio:
                raise ValueError(
                    f"need min_ratio < max_ratio <= exit_ratio, got {self.min_ratio:g}, "
                    f"{self.max_ratio:g}, {self.exit_ratio:g}"
                )
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._fast = EMA(p.fast)
        self._slow = EMA(p.slow)
        self._atr = ATR(ATR_PERIOD)
        self._baseline = ATR(p.atr_slow)
        self._cross = SignChange()
        fast_name, slow_name = f"ema{p.fast}", f"ema{p.slow}"
        self._up = f"{fast_name} crossed above {slow_name}, regime normal"
        self._down = f"{fast_name} crossed below {slow_name}, regime normal"
        self._up_skipped = f"{fast_name} crossed above {slow_name}, skipped:"
        self._down_skipped = f"{fast_name} crossed below {slow_name}, skipped:"
        self._shock = f"volatility shock: atr/baseline>{p.exit_ratio:g}"

    @property
    def warmup_bars(self) -> int:
        p = self.params
        return max(p.slow, p.atr_slow + 1)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        high, low, close = bar.high, bar.low, bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        atr = self._atr.update(high, low, close)
        baseline = self._baseline.update(high, low, close)
        if not (self._slow.ready and self._baseline.ready):
            return NOT_READY
        ratio = atr / baseline  # true ranges are at least epsilon: never 0/0
        size_scale = 1.0 if ratio <= 1.0 else 1.0 / ratio
        indicators = {
            "ema_fast": fast,
            "ema_slow": slow,
            "atr": atr,
            "atr_baseline": baseline,
            "vol_ratio": ratio,
            "size_scale": size_scale,
        }
        cross = self._cross.update(fast - slow)
        return self._decide(indicators, close, cross, position_qty)

    def _decide(
        self, indicators: dict[str, float], close: float, cross: int, position_qty: int
    ) -> Decision:
        """The decision on a ready bar, ``cross`` the EMAs' (``SignChange``) on it."""
        p = self.params
        ratio, atr, slow = indicators["vol_ratio"], indicators["atr"], indicators["ema_slow"]
        if position_qty != 0 and ratio > p.exit_ratio:
            return close_position(self._shock, indicators)
        if cross:
            if p.min_ratio <= ratio <= p.max_ratio:
                confidence = clamp01(abs(close - slow) / atr)
                reason = self._up if cross > 0 else self._down
                return go(cross, position_qty, p.allow_short, reason, confidence, indicators)
            regime = "compressed" if ratio < p.min_ratio else "shock"
            skipped = self._up_skipped if cross > 0 else self._down_skipped
            reason = f"{skipped} regime {regime} ({ratio:.2f})"
            if cross * position_qty < 0:  # the cross still ends a position against it
                return close_position(reason, indicators)
            return Decision(_HOLD, reason, 0.0, indicators)
        if ratio < p.min_ratio:
            return Decision(_HOLD, _NO_CROSS_COMPRESSED, 0.0, indicators)
        if ratio > p.max_ratio:
            return Decision(_HOLD, _NO_CROSS_SHOCK, 0.0, indicators)
        return Decision(_HOLD, _NO_CROSS_NORMAL, 0.0, indicators)

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD codes of the column form (``strategies.columns``): the bad bar's, a calm
# regime's and a shock's up to ``exit_ratio`` whatever the position; a shock past
# ``exit_ratio`` only while flat (holding, it closes the position).
_COMPRESSED, _SHOCK_PAST_EXIT, _SHOCK, _NORMAL = range(BAD + 1, BAD + 5)


class _Columns(ColumnDecider):
    """``vol_regime`` a chunk at a time: its own averages advance over the chunk's
    finite bars (``map``: the same arithmetic as ``on_bar``), numpy finds the crosses
    (``signs_before``) and the regime; a cross is decided with the position."""

    def __init__(self, strategy: VolRegimeStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (
            BAD_BAR_REASON,
            _NO_CROSS_COMPRESSED,
            _NO_CROSS_SHOCK,
            _NO_CROSS_SHOCK,
            _NO_CROSS_NORMAL,
        )
        self.held = (ALWAYS, ALWAYS, FLAT_ONLY, ALWAYS, ALWAYS)

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        start = (copy(s._fast), copy(s._slow), copy(s._atr), copy(s._baseline), s._cross.sign)
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        fast = np.array(s._fast.update_many(closes))
        slow = np.array(s._slow.update_many(closes))
        atr = np.array(s._atr.update_many(highs, lows, closes))
        baseline = np.array(s._baseline.update_many(highs, lows, closes))
        taken = len(closes)
        ready = self.warmed(taken, s.warmup_bars)
        with np.errstate(invalid="ignore", divide="ignore"):  # nan while warming up
            ratio = atr / baseline
        sign = np.sign(np.where(ready, fast - slow, 0.0)).astype(np.int8)
        previous, s._cross.sign = signs_before(sign, s._cross.sign)
        cross = np.where((previous != 0) & (previous != sign), sign, 0)
        p = s.params
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready] = _NORMAL
        codes[ready & (ratio < p.min_ratio)] = _COMPRESSED
        codes[ready & (ratio > p.max_ratio)] = _SHOCK
        codes[ready & (ratio > p.exit_ratio)] = _SHOCK_PAST_EXIT
        codes[ready & (cross != 0)] = DECIDE
        return _Chunk(codes, self, prices, finite, start, (fast, slow, atr, baseline, cross))


class _Chunk(CrossChunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        fast, slow, atr, baseline = (float(column[at]) for column in self._columns[:4])
        ratio = atr / baseline
        return {
            "ema_fast": fast,
            "ema_slow": slow,
            "atr": atr,
            "atr_baseline": baseline,
            "vol_ratio": ratio,
            "size_scale": 1.0 if ratio <= 1.0 else 1.0 / ratio,
        }

    def _at_start(self) -> VolRegimeStrategy:
        strategy = VolRegimeStrategy(self._decider.strategy.params)
        fast, slow, atr, baseline, sign = self._start
        strategy._fast, strategy._slow = copy(fast), copy(slow)
        strategy._atr, strategy._baseline = copy(atr), copy(baseline)
        strategy._cross.sign = sign
        return strategy
