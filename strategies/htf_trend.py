"""Higher-timeframe trend: trade lower-timeframe EMA crosses only with the bigger trend.

The seeds' ``htf_trend``. A 5-minute EMA cross fires many times a day, half of them
against the hour's direction; filtering them by a 15- or 60-minute trend keeps the
ones that go with it. The strategy builds the higher-timeframe bars itself from the
bars it is fed, with the project's ``BarResampler``: buckets anchored at 09:15 IST and
cut at 15:30, exactly like Kite's candles (``kitetui.market.bars``). A higher bar is
used only once complete (the 5-minute 09:25 bar completes the 15-minute 09:15 bar, and
both end at 09:30), so there is no look-ahead.

* HTF trend: up while the fast EMA of the higher bars' closes is above the slow one,
  down while below (unknown until both are ready).
* Trigger: an up-cross of the fast over the slow EMA on the bars fed in goes LONG if
  the HTF trend is up; a down-cross goes SHORT if it is down (or only exits a long when
  shorts are disabled). A cross against the HTF trend is skipped, but still closes a
  position against the cross.
* Exit (state-based): a long is closed while the HTF trend is down, a short while it
  is up.

The higher timeframe must be a multiple of the bars' timeframe (15-minute trend over
1-, 3- or 5-minute bars; 60-minute over those or 10/15/30); otherwise the first bar
raises ``ValueError`` naming both, since the config cannot know the engine's bars.

Entry confidence is how far the close has moved past the slow lower-timeframe EMA, in
ATRs (capped at 1). Exits have confidence 1.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.bars import BarResampler
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
from strategies.rules import SignChange, clamp01, close_position, go

__all__ = ["HtfTrendStrategy"]

_HOLD = SignalKind.HOLD


@register
class HtfTrendStrategy(Strategy):
    """LONG/SHORT on a lower-timeframe EMA cross in the direction of the higher
    timeframe's EMA trend; EXIT while the higher trend is against the position."""

    name: ClassVar[str] = "htf_trend"
    chart_overlays: ClassVar[tuple[str, ...]] = (
        "ema_fast",
        "ema_slow",
        "htf_ema_fast",
        "htf_ema_slow",
    )

    class Params(Strategy.Params):
        htf_minutes: Literal[15, 30, 60] = Field(15, description="higher timeframe (minutes)")
        htf_fast: int = Field(10, ge=1, le=MAX_PERIOD - 1, description="fast EMA (HTF bars)")
        htf_slow: int = Field(30, ge=2, le=MAX_PERIOD, description="slow EMA (HTF bars)")
        fast: int = Field(9, ge=1, le=MAX_PERIOD - 1, description="fast trigger EMA (bars)")
        slow: int = Field(21, ge=2, le=MAX_PERIOD, description="slow trigger EMA (bars)")
        allow_short: bool = Field(True, description="a down-cross in a downtrend goes SHORT")

        @field_validator("htf_minutes", mode="before")
        @classmethod
        def _whole_minutes(cls, value: object) -> object:
            if type(value) is not int:  # a Literal would take 15.0 as 15
                raise ValueError(f"htf_minutes must be the integer 15, 30 or 60, got {value!r}")
            return value

        @model_validator(mode="after")
        def _fast_below_slow(self) -> HtfTrendStrategy.Params:
            if self.htf_fast >= self.htf_slow:
                raise ValueError(
                    f"htf_fast ({self.htf_fast}) must be less than htf_slow ({self.htf_slow})"
                )
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._htf_s = p.htf_minutes * 60
        self._resampler: BarResampler | None = None  # made by the first bar (its timeframe)
        self._htf_fast = EMA(p.htf_fast)
        self._htf_slow = EMA(p.htf_slow)
        self._htf_trend = 0  # +1 up, -1 down, 0 unknown or flat
        self._fast = EMA(p.fast)
        self._slow = EMA(p.slow)
        self._atr = ATR(ATR_PERIOD)
        self._cross = SignChange()
        htf = f"{p.htf_minutes}m"
        fast_name, slow_name = f"ema{p.fast}", f"ema{p.slow}"
        self._up = f"{fast_name} crossed above {slow_name}, {htf} trend up"
        self._down = f"{fast_name} crossed below {slow_name}, {htf} trend down"
        self._up_against = f"{fast_name} crossed above {slow_name} against the {htf} trend"
        self._down_against = f"{fast_name} crossed below {slow_name} against the {htf} trend"
        self._long_exit = f"long: {htf} trend down"
        self._short_exit = f"short: {htf} trend up"

    @property
    def warmup_bars(self) -> int:
        """A lower bound: the higher timeframe needs ``htf_slow`` complete higher bars,
        several input bars each (how many depends on the input timeframe)."""
        p = self.params
        return max(p.slow, ATR_PERIOD + 1, p.htf_slow)

    def _higher_bar(self, bar: Bar) -> Bar | None:
        resampler = self._resampler
        if resampler is None:
            if self._htf_s % bar.timeframe_s:
                raise ValueError(
                    f"htf_trend: the {self.params.htf_minutes}-minute trend needs bars whose "
                    f"timeframe divides it, got {bar.timeframe_s} s bars"
                )
            resampler = self._resampler = BarResampler(bar.symbol, bar.timeframe_s, self._htf_s)
        return resampler.on_bar(bar)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        higher = self._higher_bar(bar)
        if higher is not None:
            htf_fast = self._htf_fast.update(higher.close)
            htf_slow = self._htf_slow.update(higher.close)
            if self._htf_slow.ready:
                gap = htf_fast - htf_slow
                self._htf_trend = 1 if gap > 0.0 else -1 if gap < 0.0 else 0
        close = bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        atr = self._atr.update(bar.high, bar.low, close)
        if not (self._htf_slow.ready and self._slow.ready and self._atr.ready):
            return NOT_READY
        trend = self._htf_trend
        indicators = {
            "ema_fast": fast,
            "ema_slow": slow,
            "htf_ema_fast": self._htf_fast.value,
            "htf_ema_slow": self._htf_slow.value,
            "htf_trend": float(trend),
            "atr": atr,
        }
        cross = self._cross.update(fast - slow)

        if cross and cross == trend:
            confidence = clamp01(abs(close - slow) / atr)
            reason = self._up if cross > 0 else self._down
            return go(cross, position_qty, self.params.allow_short, reason, confidence, indicators)
        if cross and cross * position_qty < 0:  # against the trend, still ends a position
            return close_position(self._up_against if cross > 0 else self._down_against, indicators)
        if position_qty > 0 and trend < 0:
            return close_position(self._long_exit, indicators)
        if position_qty < 0 and trend > 0:
            return close_position(self._short_exit, indicators)
        if cross:
            reason = self._up_against if cross > 0 else self._down_against
            return Decision(_HOLD, reason, 0.0, indicators)
        return Decision(_HOLD, "no cross", 0.0, indicators)
