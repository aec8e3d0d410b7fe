"""RSI pullback: buy the end of a dip in an uptrend, sell the end of a spike in a downtrend.

The seeds' ``rsi_pullback``. A trend (fast EMA above the slow one) pauses now and
then; the pause shows as RSI falling below ``rsi_dip`` (40 by default: a dip, not a
crash). Buying while RSI is still falling catches a knife, so the entry waits for the
turn: the first bar whose RSI is back at or above ``rsi_dip`` after being below it,
with the trend still up. A short mirrors it around 50: a downtrend, RSI above
``100 - rsi_dip``, then back at or below it.

Exits are state-based: a long is closed once RSI is above ``rsi_exit`` (the bounce
has run its course) or the fast EMA is no longer above the slow one (the trend it
relied on is gone); a short once RSI is below ``100 - rsi_exit`` or the fast EMA is
no longer below the slow one.

Entry confidence is half the trend's strength (EMA gap in ATRs, capped at 1) and half
the dip's depth (RSI points below ``rsi_dip`` at its lowest, 20 points = 1). Exits
have confidence 1.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.indicators import ATR, EMA, RSI
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
from strategies.rules import clamp01, close_position, go

__all__ = ["RsiPullbackStrategy"]

_HOLD = SignalKind.HOLD
_FULL_DIP = 20.0  # RSI points below the dip level that count as a full-confidence dip


@register
class RsiPullbackStrategy(Strategy):
    """LONG when RSI turns back up through ``rsi_dip`` in an uptrend; SHORT when it
    turns back down through ``100 - rsi_dip`` in a downtrend; EXIT on ``rsi_exit`` or
    when the trend ends."""

    name: ClassVar[str] = "rsi_pullback"
    chart_overlays: ClassVar[tuple[str, ...]] = ("ema_fast", "ema_slow")

    class Params(Strategy.Params):
        fast: int = Field(20, ge=1, le=MAX_PERIOD - 1, description="fast trend EMA (bars)")
        slow: int = Field(50, ge=2, le=MAX_PERIOD, description="slow trend EMA (bars)")
        rsi_period: int = Field(14, ge=2, le=MAX_PERIOD, description="RSI period (Wilder)")
        rsi_dip: float = Field(
            40.0,
            ge=5,
            lt=50,
            allow_inf_nan=False,
            description="a dip is RSI below this; a spike is RSI above 100 - rsi_dip",
        )
        rsi_exit: float = Field(
            70.0,
            gt=50,
            le=95,
            allow_inf_nan=False,
            description="a long exits above this RSI, a short below 100 - rsi_exit",
        )
        allow_short: bool = Field(True, description="trade spikes in a downtrend short")

        @model_validator(mode="after")
        def _fast_below_slow(self) -> RsiPullbackStrategy.Params:
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._fast = EMA(p.fast)
        self._slow = EMA(p.slow)
        self._rsi = RSI(p.rsi_period)
        self._atr = ATR(ATR_PERIOD)
        self._dip = p.rsi_dip
        self._spike = 100.0 - p.rsi_dip
        self._exit_long = p.rsi_exit
        self._exit_short = 100.0 - p.rsi_exit
        self._lowest = 100.0  # lowest RSI of the dip in progress (100: no dip)
        self._highest = 0.0  # highest RSI of the spike in progress (0: no spike)
        trend_up, trend_down = f"ema{p.fast}>ema{p.slow}", f"ema{p.fast}<ema{p.slow}"
        self._long_reason = f"{trend_up}, rsi back above {p.rsi_dip:g} after a dip"
        self._short_reason = f"{trend_down}, rsi back below {self._spike:g} after a spike"
        self._long_rsi = f"long: rsi>{p.rsi_exit:g}"
        self._short_rsi = f"short: rsi<{self._exit_short:g}"
        self._long_trend = f"long: trend ended, ema{p.fast}<=ema{p.slow}"
        self._short_trend = f"short: trend ended, ema{p.fast}>=ema{p.slow}"

    @property
    def warmup_bars(self) -> int:
        p = self.params
        return max(p.slow, p.rsi_period + 1, ATR_PERIOD + 1)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        close = bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        rsi = self._rsi.update(close)
        atr = self._atr.update(bar.high, bar.low, close)
        # RSI is nan on a window without any price change, although "ready"
        if not (rsi == rsi and self._slow.ready and self._atr.ready):
            return NOT_READY
        indicators = {"ema_fast": fast, "ema_slow": slow, "rsi": rsi, "atr": atr}

        lowest, highest = self._lowest, self._highest
        turned_up, turned_down = self._track_pullback(rsi)
        if turned_up and fast > slow and position_qty <= 0:
            depth = (self._dip - lowest) / _FULL_DIP
            confidence = 0.5 * clamp01((fast - slow) / atr) + 0.5 * clamp01(depth)
            return go(1, position_qty, True, self._long_reason, confidence, indicators)
        if turned_down and fast < slow and position_qty >= 0:
            depth = (highest - self._spike) / _FULL_DIP
            confidence = 0.5 * clamp01((slow - fast) / atr) + 0.5 * clamp01(depth)
            allow_short = self.params.allow_short
            return go(-1, position_qty, allow_short, self._short_reason, confidence, indicators)
        if position_qty:
            return self._hold_or_close(position_qty, rsi, fast, slow, indicators)
        if self._lowest < self._dip:
            return Decision(_HOLD, "flat: rsi dipping, waiting for the turn", 0.0, indicators)
        if self._highest > self._spike:
            return Decision(_HOLD, "flat: rsi spiking, waiting for the turn", 0.0, indicators)
        return Decision(_HOLD, "flat: no pullback", 0.0, indicators)

    def _track_pullback(self, rsi: float) -> tuple[bool, bool]:
        """Where the pullback stands: how deep the dip (or high the spike) went, and
        whether this bar is the turn out of it (up, down)."""
        turned_up = turned_down = False
        if rsi < self._dip:
            self._lowest = min(self._lowest, rsi)
        elif self._lowest < self._dip:
            turned_up = True
            self._lowest = 100.0
        if rsi > self._spike:
            self._highest = max(self._highest, rsi)
        elif self._highest > self._spike:
            turned_down = True
            self._highest = 0.0
        return turned_up, turned_down

    def _hold_or_close(
        self, position_qty: int, rsi: float, fast: float, slow: float, indicators: dict
    ) -> Decision:
        """An open position closes on its RSI target or when the trend ends."""
        if position_qty > 0:
            if rsi > self._exit_long:
                return close_position(self._long_rsi, indicators)
            if not fast > slow:
                return close_position(self._long_trend, indicators)
            return Decision(_HOLD, "long: waiting for rsi or trend exit", 0.0, indicators)
        if rsi < self._exit_short:
            return close_position(self._short_rsi, indicators)
        if not fast < slow:
            return close_position(self._short_trend, indicators)
        return Decision(_HOLD, "short: waiting for rsi or trend exit", 0.0, indicators)
