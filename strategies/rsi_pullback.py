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

from copy import copy
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.indicators import ATR, EMA, RSI
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
    Chunk,
    ChunkPrices,
    ColumnDecider,
    Finite,
)
from strategies.columns import NOT_READY as NOT_READY_CODE
from strategies.registry import register
from strategies.rules import clamp01, close_position, go

__all__ = ["RsiPullbackStrategy"]

_HOLD = SignalKind.HOLD
_FULL_DIP = 20.0  # RSI points below the dip level that count as a full-confidence dip
_DIPPING = "flat: rsi dipping, waiting for the turn"
_SPIKING = "flat: rsi spiking, waiting for the turn"
_NO_PULLBACK = "flat: no pullback"


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
            must_be_below(self, "fast", "slow")
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
        return self._decide(
            indicators,
            lowest,
            highest,
            turned_up,
            turned_down,
            self._flat_reason(self._lowest, self._highest),
            position_qty,
        )

    def _decide(
        self,
        indicators: dict[str, float],
        lowest: float,
        highest: float,
        turned_up: bool,
        turned_down: bool,
        flat_reason: str,
        position_qty: int,
    ) -> Decision:
        """The decision on a ready bar: ``lowest``/``highest`` as they stood before it,
        whether it turned up or down out of a pullback, the HOLD reason if flat."""
        fast, slow = indicators["ema_fast"], indicators["ema_slow"]
        rsi, atr = indicators["rsi"], indicators["atr"]
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
        return Decision(_HOLD, flat_reason, 0.0, indicators)

    def _flat_reason(self, lowest: float, highest: float) -> str:
        """Why a flat strategy holds, with the pullback where it stands after the bar."""
        if lowest < self._dip:
            return _DIPPING
        if highest > self._spike:
            return _SPIKING
        return _NO_PULLBACK

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

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD reasons of the column form, in code order (``strategies.columns``): the bad
# bar's whatever the position, the others only while flat.
_DIP, _SPIKE, _NONE = range(BAD + 1, BAD + 4)


class _Columns(ColumnDecider):
    """``rsi_pullback`` a chunk at a time: its own indicator objects advance over the
    chunk's finite bars; the pullback's lowest and highest RSI are followed bar by bar
    over the ready ones (``_track_pullback`` itself); numpy sorts the bars into turns in
    a trend (decided with the position) and flat HOLDs by where the pullback stands."""

    def __init__(self, strategy: RsiPullbackStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (BAD_BAR_REASON, _DIPPING, _SPIKING, _NO_PULLBACK)
        self.held = (ALWAYS, FLAT_ONLY, FLAT_ONLY, FLAT_ONLY)

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        start = (copy(s._fast), copy(s._slow), copy(s._rsi), copy(s._atr), s._lowest, s._highest)
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        fast = np.array(s._fast.update_many(closes))
        slow = np.array(s._slow.update_many(closes))
        rsi = np.array(list(map(s._rsi.update, closes)))
        atr = np.array(s._atr.update_many(highs, lows, closes))
        taken = len(closes)
        base = max(s.params.slow, ATR_PERIOD + 1)  # the EMAs' and the ATR's readiness
        ready = self.warmed(taken, base) & ~np.isnan(rsi)
        state = np.zeros((taken, 4))  # lowest and highest before the bar, then after it
        turned = np.zeros((taken, 2), dtype=bool)  # up, down
        for k in np.flatnonzero(ready).tolist():
            state[k, 0], state[k, 1] = s._lowest, s._highest
            turned[k] = s._track_pullback(float(rsi[k]))
            state[k, 2], state[k, 3] = s._lowest, s._highest
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready] = _NONE
        codes[ready & (state[:, 3] > s._spike)] = _SPIKE
        codes[ready & (state[:, 2] < s._dip)] = _DIP
        entry = (turned[:, 0] & (fast > slow)) | (turned[:, 1] & (fast < slow))
        codes[ready & entry] = DECIDE
        columns = (fast, slow, rsi, atr, state, turned)
        return _Chunk(codes, self, prices, finite, start, columns)


class _Chunk(Chunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        fast, slow, rsi, atr = (float(column[at]) for column in self._columns[:4])
        return {"ema_fast": fast, "ema_slow": slow, "rsi": rsi, "atr": atr}

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        state, turned = self._columns[4:]
        lowest, highest, lowest_after, highest_after = state[at].tolist()
        up, down = turned[at].tolist()
        strategy = self._decider.strategy
        return strategy._decide(
            self._indicators(at),
            lowest,
            highest,
            up,
            down,
            strategy._flat_reason(lowest_after, highest_after),
            position_qty,
        )

    def _at_start(self) -> RsiPullbackStrategy:
        strategy = RsiPullbackStrategy(self._decider.strategy.params)
        fast, slow, rsi, atr, lowest, highest = self._start
        strategy._fast, strategy._slow = copy(fast), copy(slow)
        strategy._rsi, strategy._atr = copy(rsi), copy(atr)
        strategy._lowest, strategy._highest = lowest, highest
        return strategy
