"""VWAP filter: trade an EMA trend only on the right side of the session VWAP.

The seeds' ``vwap_filter``. The session VWAP (typical price weighted by volume, reset
at the start of each IST day) is the average price everyone paid today; intraday
desks treat a market above it as held by buyers and below it as held by sellers. So a
long needs both the short-term trend up (fast EMA above slow EMA) and the close above
the VWAP; a short needs both down. The signal fires on the bar where the two come to
agree, whichever moved last: an EMA up-cross while above the VWAP, or a close that
reclaims the VWAP while the EMAs point up.

The first ``session_bars`` bars of each session make no entries: the VWAP of two bars
is not yet an average worth trading against. After them, an agreement already in
place counts as new, so a trend that ran from the open is entered once they are over.

Exits are state-based and run all session: a long is closed when the close is below
the VWAP or the fast EMA is no longer above the slow one; a short mirrors that.

The VWAP needs traded volume: on an index feed (volume 0) it never becomes ready and
the strategy only ever says "indicators not ready". Trade futures or stocks with it.

Entry confidence is half the distance of the close from the VWAP and half the EMA
gap, each in ATRs and capped at 1. Exits have confidence 1.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.bars import DAY_NS, IST_OFFSET_NS
from kitetui.market.indicators import ATR, EMA, VWAP
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

__all__ = ["VwapFilterStrategy"]

_HOLD = SignalKind.HOLD


@register
class VwapFilterStrategy(Strategy):
    """LONG when EMA trend and VWAP side come to agree on up, SHORT on down; EXIT a
    position on the wrong side of the VWAP or against the EMAs."""

    name: ClassVar[str] = "vwap_filter"
    chart_overlays: ClassVar[tuple[str, ...]] = ("ema_fast", "ema_slow", "vwap")

    class Params(Strategy.Params):
        fast: int = Field(9, ge=1, le=MAX_PERIOD - 1, description="fast EMA period (bars)")
        slow: int = Field(21, ge=2, le=MAX_PERIOD, description="slow EMA period (bars)")
        session_bars: int = Field(
            3, ge=0, le=375, description="bars at each session start with no entries"
        )
        allow_short: bool = Field(True, description="below the VWAP in a downtrend: SHORT")

        @model_validator(mode="after")
        def _fast_below_slow(self) -> VwapFilterStrategy.Params:
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._fast = EMA(p.fast)
        self._slow = EMA(p.slow)
        self._vwap = VWAP()
        self._atr = ATR(ATR_PERIOD)
        self._day = -1
        self._session_bar = 0  # bars of the current session seen so far
        self._side = 0  # +1 trend and VWAP agree on up, -1 on down, 0 they disagree
        up, down = f"ema{p.fast}>ema{p.slow}", f"ema{p.fast}<ema{p.slow}"
        self._long_reason = f"{up}, close>vwap"
        self._short_reason = f"{down}, close<vwap"
        self._long_vwap = "long: close<vwap"
        self._short_vwap = "short: close>vwap"
        self._long_trend = f"long: ema{p.fast}<=ema{p.slow}"
        self._short_trend = f"short: ema{p.fast}>=ema{p.slow}"

    @property
    def warmup_bars(self) -> int:
        return max(self.params.slow, ATR_PERIOD + 1)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        high, low, close, ts = bar.high, bar.low, bar.close, bar.ts_ns
        day = (ts + IST_OFFSET_NS) // DAY_NS
        if day != self._day:
            self._day = day
            self._session_bar = 0
        self._session_bar += 1
        vwap = self._vwap.update(high, low, close, bar.volume, ts)
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        atr = self._atr.update(high, low, close)
        if not (self._vwap.ready and self._slow.ready and self._atr.ready):
            return NOT_READY
        indicators = {"ema_fast": fast, "ema_slow": slow, "vwap": vwap, "atr": atr}

        side = self._agreement(close, vwap, fast, slow)
        previous, self._side = self._side, side

        if side and side != previous and side * position_qty <= 0:
            confidence = 0.5 * clamp01(abs(close - vwap) / atr) + 0.5 * clamp01(
                abs(fast - slow) / atr
            )
            reason = self._long_reason if side > 0 else self._short_reason
            return go(side, position_qty, self.params.allow_short, reason, confidence, indicators)
        if position_qty:
            return self._hold_or_close(position_qty, close, vwap, fast, slow, indicators)
        if self._session_bar <= self.params.session_bars:
            return Decision(_HOLD, "flat: session opening, no entries yet", 0.0, indicators)
        if side:
            return Decision(_HOLD, "flat: agreement not new", 0.0, indicators)
        return Decision(_HOLD, "flat: trend and vwap side disagree", 0.0, indicators)

    def _agreement(self, close: float, vwap: float, fast: float, slow: float) -> int:
        """+1 when trend and VWAP side agree up, -1 down, 0 otherwise or while the
        session's opening bars last (an agreement at the end of them counts as new)."""
        if self._session_bar <= self.params.session_bars:
            return 0
        if fast > slow and close > vwap:
            return 1
        if fast < slow and close < vwap:
            return -1
        return 0

    def _hold_or_close(
        self,
        position_qty: int,
        close: float,
        vwap: float,
        fast: float,
        slow: float,
        indicators: dict,
    ) -> Decision:
        """An open position closes when price crosses VWAP against it or the trend ends."""
        if position_qty > 0:
            if close < vwap:
                return close_position(self._long_vwap, indicators)
            if not fast > slow:
                return close_position(self._long_trend, indicators)
            return Decision(_HOLD, "long: above vwap, trend up", 0.0, indicators)
        if close > vwap:
            return close_position(self._short_vwap, indicators)
        if not fast < slow:
            return close_position(self._short_trend, indicators)
        return Decision(_HOLD, "short: below vwap, trend down", 0.0, indicators)
