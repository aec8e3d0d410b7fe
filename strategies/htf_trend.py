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
1-, 3- or 5-minute bars; 60-minute over those or 10/15/30). The config check refuses
a mismatch (``timeframe_problem``: ``engines[N].timeframe: …``); a strategy built by
hand and fed such bars raises ``ValueError`` naming both on the first bar.

Entry confidence is how far the close has moved past the slow lower-timeframe EMA, in
ATRs (capped at 1). Exits have confidence 1.
"""

from __future__ import annotations

from copy import deepcopy
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.bars import BarResampler
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
    HELD_LONG,
    HELD_SHORT,
    ChunkPrices,
    ColumnDecider,
    CrossChunk,
    Finite,
    signs_before,
)
from strategies.columns import NOT_READY as NOT_READY_CODE
from strategies.registry import register
from strategies.rules import SignChange, clamp01, close_position, go

__all__ = ["HtfTrendStrategy"]

_HOLD = SignalKind.HOLD
_NO_CROSS = "no cross"


def _timeframe_message(htf_minutes: int, timeframe_s: int) -> str:
    return (
        f"htf_trend: the {htf_minutes}-minute trend needs bars whose "
        f"timeframe divides it, got {timeframe_s} s bars"
    )


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
            must_be_below(self, "htf_fast", "htf_slow")
            must_be_below(self, "fast", "slow")
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

    @classmethod
    def timeframe_problem(cls, params: Strategy.Params, timeframe_s: int) -> str | None:
        """The higher timeframe must be a whole number of the engine's bars."""
        if not isinstance(params, cls.Params):
            raise TypeError(f"htf_trend needs its own Params, got {type(params).__qualname__}")
        if (params.htf_minutes * 60) % timeframe_s == 0:
            return None
        return _timeframe_message(params.htf_minutes, timeframe_s)

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
                raise ValueError(_timeframe_message(self.params.htf_minutes, bar.timeframe_s))
            resampler = self._resampler = BarResampler(bar.symbol, bar.timeframe_s, self._htf_s)
        return resampler.on_bar(bar)

    def _follow_higher(self, bar: Bar) -> None:
        """The higher timeframe's averages and trend, after the higher bar ``bar``
        completes, if it completes one."""
        higher = self._higher_bar(bar)
        if higher is not None:
            htf_fast = self._htf_fast.update(higher.close)
            htf_slow = self._htf_slow.update(higher.close)
            if self._htf_slow.ready:
                gap = htf_fast - htf_slow
                self._htf_trend = 1 if gap > 0.0 else -1 if gap < 0.0 else 0

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        self._follow_higher(bar)
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
        return self._decide(indicators, close, cross, position_qty)

    def _decide(
        self, indicators: dict[str, float], close: float, cross: int, position_qty: int
    ) -> Decision:
        """The decision on a ready bar, ``cross`` the EMAs' (``SignChange``) on it."""
        trend = int(indicators["htf_trend"])
        atr, slow = indicators["atr"], indicators["ema_slow"]
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
        return Decision(_HOLD, _NO_CROSS, 0.0, indicators)

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD codes of the column form (``strategies.columns``), "no cross" for each
# higher trend: with none, whatever the position; up (down), also while long (short):
# a position against the trend is closed.
_NO_TREND, _TREND_UP, _TREND_DOWN = range(BAD + 1, BAD + 4)


class _Columns(ColumnDecider):
    """``htf_trend`` a chunk at a time: the higher timeframe follows the chunk's finite
    bars one by one (``_follow_higher``, as ``on_bar``), the trigger averages advance
    with ``map``, numpy finds the crosses (``signs_before``), which are decided with
    the position; any other ready bar is a HOLD, but for a position against the
    higher trend (the engine asks: it is closed)."""

    def __init__(self, strategy: HtfTrendStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (BAD_BAR_REASON, _NO_CROSS, _NO_CROSS, _NO_CROSS)
        self.held = (ALWAYS, ALWAYS, HELD_LONG, HELD_SHORT)

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        start = deepcopy(
            (s._resampler, s._htf_fast, s._htf_slow, s._htf_trend, s._fast, s._slow, s._atr)
        )
        start_sign = s._cross.sign
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        symbol, timeframe_s = prices.symbol, prices.timeframe_s
        columns = (prices.ts_ns, prices.open, prices.high, prices.low, prices.close, prices.volume)
        htf_fast, htf_slow, follow = s._htf_fast, s._htf_slow, s._follow_higher
        higher = []
        for ts, o, h, lo, c, v in zip(*map(finite.take, columns), strict=True):
            follow(Bar(symbol, ts, timeframe_s, o, h, lo, c, v))
            higher.append((htf_fast.value, htf_slow.value, s._htf_trend, htf_slow.ready))
        fast = s._fast.update_many(closes)
        slow = s._slow.update_many(closes)
        atr = s._atr.update_many(highs, lows, closes)
        taken = len(closes)
        values = np.empty((taken, 7))  # fast, slow, htf fast, htf slow, trend, atr, ready
        values[:, 0], values[:, 1], values[:, 5] = fast, slow, atr
        if taken:
            values[:, 2:5] = [row[:3] for row in higher]
            values[:, 6] = [row[3] for row in higher]
        ready = self.warmed(taken, s.warmup_bars) & (values[:, 6] > 0)
        sign = np.sign(np.where(ready, values[:, 0] - values[:, 1], 0.0)).astype(np.int8)
        previous, s._cross.sign = signs_before(sign, start_sign)
        cross = np.where((previous != 0) & (previous != sign), sign, 0)
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        trend = values[:, 4]
        codes[ready] = _NO_TREND
        codes[ready & (trend > 0)] = _TREND_UP
        codes[ready & (trend < 0)] = _TREND_DOWN
        codes[ready & (cross != 0)] = DECIDE
        return _Chunk(codes, self, prices, finite, (*start, start_sign), (values, cross))


class _Chunk(CrossChunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        fast, slow, htf_fast, htf_slow, trend, atr, _ = self._columns[0][at].tolist()
        return {
            "ema_fast": fast,
            "ema_slow": slow,
            "htf_ema_fast": htf_fast,
            "htf_ema_slow": htf_slow,
            "htf_trend": trend,
            "atr": atr,
        }

    def _at_start(self) -> HtfTrendStrategy:
        strategy = HtfTrendStrategy(self._decider.strategy.params)
        resampler, htf_fast, htf_slow, trend, fast, slow, atr, sign = deepcopy(self._start)
        strategy._resampler, strategy._htf_fast, strategy._htf_slow = resampler, htf_fast, htf_slow
        strategy._htf_trend = trend
        strategy._fast, strategy._slow, strategy._atr = fast, slow, atr
        strategy._cross.sign = sign
        return strategy
