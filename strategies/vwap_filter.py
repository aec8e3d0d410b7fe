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

import math
from copy import copy
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.bars import DAY_NS, IST_OFFSET_NS
from kitetui.market.indicators import ATR, EMA, VWAP
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

__all__ = ["VwapFilterStrategy"]

_HOLD = SignalKind.HOLD
_OPENING = "flat: session opening, no entries yet"
_NOT_NEW = "flat: agreement not new"
_DISAGREE = "flat: trend and vwap side disagree"


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
            must_be_below(self, "fast", "slow")
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
        self._count_session_bar(ts)
        vwap = self._vwap.update(high, low, close, bar.volume, ts)
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        atr = self._atr.update(high, low, close)
        if not (self._vwap.ready and self._slow.ready and self._atr.ready):
            return NOT_READY
        indicators = {"ema_fast": fast, "ema_slow": slow, "vwap": vwap, "atr": atr}

        side = self._agreement(close, vwap, fast, slow)
        previous, self._side = self._side, side
        opening = self._session_bar <= self.params.session_bars
        return self._decide(indicators, close, side, previous, opening, position_qty)

    def _count_session_bar(self, ts_ns: int) -> None:
        """A finite bar starting at ``ts_ns``: the session's bar count, anew each IST day."""
        day = (ts_ns + IST_OFFSET_NS) // DAY_NS
        if day != self._day:
            self._day = day
            self._session_bar = 0
        self._session_bar += 1

    def _decide(
        self,
        indicators: dict[str, float],
        close: float,
        side: int,
        previous: int,
        opening: bool,
        position_qty: int,
    ) -> Decision:
        """The decision on a ready bar: ``side`` the agreement on it, ``previous`` on
        the ready bar before, ``opening`` while the session's first bars last."""
        fast, slow = indicators["ema_fast"], indicators["ema_slow"]
        vwap, atr = indicators["vwap"], indicators["atr"]
        if side and side != previous and side * position_qty <= 0:
            confidence = 0.5 * clamp01(abs(close - vwap) / atr) + 0.5 * clamp01(
                abs(fast - slow) / atr
            )
            reason = self._long_reason if side > 0 else self._short_reason
            return go(side, position_qty, self.params.allow_short, reason, confidence, indicators)
        if position_qty:
            return self._hold_or_close(position_qty, close, vwap, fast, slow, indicators)
        if opening:
            return Decision(_HOLD, _OPENING, 0.0, indicators)
        if side:
            return Decision(_HOLD, _NOT_NEW, 0.0, indicators)
        return Decision(_HOLD, _DISAGREE, 0.0, indicators)

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

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD reasons of the column form, in code order (``strategies.columns``): after
# the bad bar's, the flat ones (holding, the exits are states: the engine asks).
_OPENING_CODE, _NOT_NEW_CODE, _DISAGREE_CODE = range(BAD + 1, BAD + 4)


class _Columns(ColumnDecider):
    """``vwap_filter`` a chunk at a time: the session count and the VWAP follow the
    chunk's finite bars one by one (as ``on_bar``), the averages advance with ``map``,
    and numpy finds where trend and VWAP side come to agree, which is decided with the
    position; any other ready bar is a HOLD while flat."""

    def __init__(self, strategy: VwapFilterStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (BAD_BAR_REASON, _OPENING, _NOT_NEW, _DISAGREE)
        self.held = (ALWAYS, FLAT_ONLY, FLAT_ONLY, FLAT_ONLY)

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        vwap_indicator = s._vwap
        start = (copy(s._fast), copy(s._slow), copy(vwap_indicator), copy(s._atr))
        start_session = (s._day, s._session_bar, s._side)
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        count, vwap_update = s._count_session_bar, vwap_indicator.update
        sessions = []
        vwaps = []
        for ts, high, low, close, volume in zip(
            finite.take(prices.ts_ns), highs, lows, closes, finite.take(prices.volume), strict=True
        ):
            count(ts)
            vwap = vwap_update(high, low, close, volume, ts)
            sessions.append(s._session_bar)
            vwaps.append(vwap if vwap_indicator.ready else math.nan)
        fast = np.array(s._fast.update_many(closes))
        slow = np.array(s._slow.update_many(closes))
        atr = np.array(s._atr.update_many(highs, lows, closes))
        vwap = np.array(vwaps)
        taken = len(closes)
        ready = self.warmed(taken, s.warmup_bars) & ~np.isnan(vwap)
        opening = np.array(sessions) <= s.params.session_bars
        close = np.array(closes)
        up = ~opening & (fast > slow) & (close > vwap)
        down = ~opening & (fast < slow) & (close < vwap)
        side = up.astype(np.int8) - down.astype(np.int8)
        # The side on the ready bar before each ready bar.
        previous = np.zeros(taken, dtype=np.int8)
        where = np.flatnonzero(ready)
        if len(where):
            previous[where[0]] = s._side
            previous[where[1:]] = side[where[:-1]]
            s._side = int(side[where[-1]])
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready] = _DISAGREE_CODE
        codes[ready & (side != 0)] = _NOT_NEW_CODE
        codes[ready & opening] = _OPENING_CODE
        codes[ready & (side != 0) & (side != previous)] = DECIDE
        start = (*start, *start_session)
        return _Chunk(
            codes, self, prices, finite, start, (fast, slow, vwap, atr, side, previous, opening)
        )


class _Chunk(Chunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        fast, slow, vwap, atr = (float(column[at]) for column in self._columns[:4])
        return {"ema_fast": fast, "ema_slow": slow, "vwap": vwap, "atr": atr}

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        side, previous, opening = (column[at] for column in self._columns[4:])
        close = self._finite.closes[at]
        strategy = self._decider.strategy
        indicators = self._indicators(at)
        return strategy._decide(
            indicators, close, int(side), int(previous), bool(opening), position_qty
        )

    def _at_start(self) -> VwapFilterStrategy:
        strategy = VwapFilterStrategy(self._decider.strategy.params)
        fast, slow, vwap, atr, day, session_bar, side = self._start
        strategy._fast, strategy._slow = copy(fast), copy(slow)
        strategy._vwap, strategy._atr = copy(vwap), copy(atr)
        strategy._day, strategy._session_bar, strategy._side = day, session_bar, side
        return strategy
