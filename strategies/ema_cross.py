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

from typing import ClassVar

from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.indicators import ATR, EMA
from strategies.base import (
    ATR_PERIOD,
    BAD_BAR,
    MAX_PERIOD,
    NOT_READY,
    Decision,
    Strategy,
    bar_is_finite,
)
from strategies.registry import register

__all__ = ["EmaCrossStrategy"]


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
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
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

        confidence = min(1.0, abs(gap) / atr) if atr > 0.0 else 1.0
        if sign > 0:
            if position_qty > 0:
                reason = f"{self._reason_up}, already long"
                return Decision(SignalKind.HOLD, reason, 0.0, indicators)
            return Decision(SignalKind.LONG, self._reason_up, confidence, indicators)
        if position_qty < 0:
            reason = f"{self._reason_down}, already short"
            return Decision(SignalKind.HOLD, reason, 0.0, indicators)
        if self.params.allow_short:
            return Decision(SignalKind.SHORT, self._reason_down, confidence, indicators)
        if position_qty > 0:
            return Decision(SignalKind.EXIT, self._reason_down, confidence, indicators)
        return Decision(SignalKind.HOLD, f"{self._reason_down}, shorts disabled", 0.0, indicators)
