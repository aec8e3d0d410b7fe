"""F&O intraday trend: the seeds' ``fno_intraday_trend``, breakouts in a strong trend.

Meant for 5-minute bars of index futures (NIFTY, BANKNIFTY near month), whose intraday
moves either trend for hours or chop around a level. Three things must agree before it
enters, because each one alone whipsaws in a range:

* direction: the fast EMA is above the slow EMA (below, for a short);
* strength: ADX is at least ``adx_min`` and the directional index of the same side
  leads (+DI > -DI for a long);
* timing: the close breaks out of the channel of the ``breakout`` bars before it
  (above their highest high for a long, below their lowest low for a short).

Exits are turtle-style and state-based (they fire on every bar while true, so an exit
that could not be placed is asked for again): a long is closed when the close falls
below the lowest low of the ``exit_period`` bars before it, or when the fast EMA is no
longer above the slow one; a short mirrors that. A breakout the other way while in a
position reverses it (or only exits a long when shorts are disabled).

Entry confidence is half trend strength (ADX / 50, capped at 1) and half how far the
close cleared the channel, in ATRs (capped at 1). Exits have confidence 1.
"""

from __future__ import annotations

from copy import deepcopy
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.channels import Donchian
from kitetui.market.indicators import ADX, ATR, EMA
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

__all__ = ["FnoIntradayTrendStrategy"]

_HOLD = SignalKind.HOLD
_FLAT = "flat: no breakout in a strong trend"
# ``on_bar``'s indicators, in its order (a signal row's JSON keeps it).
_INDICATORS = (
    "ema_fast",
    "ema_slow",
    "adx",
    "plus_di",
    "minus_di",
    "channel_high",
    "channel_low",
    "exit_high",
    "exit_low",
    "atr",
)


@register
class FnoIntradayTrendStrategy(Strategy):
    """LONG/SHORT on a channel breakout when EMAs and ADX agree; EXIT on the exit
    channel or when the EMAs stop agreeing."""

    name: ClassVar[str] = "fno_intraday_trend"
    # The exit channel is listed with the other values: six lines hide the candles.
    chart_overlays: ClassVar[tuple[str, ...]] = (
        "ema_fast",
        "ema_slow",
        "channel_high",
        "channel_low",
    )

    class Params(Strategy.Params):
        fast: int = Field(20, ge=1, le=MAX_PERIOD - 1, description="fast EMA period (bars)")
        slow: int = Field(50, ge=2, le=MAX_PERIOD, description="slow EMA period (bars)")
        adx_period: int = Field(14, ge=2, le=200, description="ADX / DI period (Wilder)")
        adx_min: float = Field(
            20.0, ge=0, lt=100, allow_inf_nan=False, description="least ADX to enter"
        )
        breakout: int = Field(
            20, ge=1, le=MAX_PERIOD, description="entry channel: bars before the close"
        )
        exit_period: int = Field(
            10, ge=1, le=MAX_PERIOD, description="exit channel: bars before the close"
        )
        allow_short: bool = Field(True, description="a downside breakout goes SHORT")

        @model_validator(mode="after")
        def _fast_below_slow(self) -> FnoIntradayTrendStrategy.Params:
            must_be_below(self, "fast", "slow")
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._fast = EMA(p.fast)
        self._slow = EMA(p.slow)
        self._adx = ADX(p.adx_period)
        self._atr = ATR(ATR_PERIOD)
        self._entry = Donchian(p.breakout)
        self._exit = Donchian(p.exit_period)
        self._adx_min = p.adx_min
        self._up = f"ema{p.fast}>ema{p.slow}, adx>={p.adx_min:g}, close>high{p.breakout}"
        self._down = f"ema{p.fast}<ema{p.slow}, adx>={p.adx_min:g}, close<low{p.breakout}"
        self._long_stop = f"long: close<low{p.exit_period}"
        self._short_stop = f"short: close>high{p.exit_period}"
        self._long_trend = f"long: ema{p.fast}<=ema{p.slow}"
        self._short_trend = f"short: ema{p.fast}>=ema{p.slow}"

    @property
    def warmup_bars(self) -> int:
        p = self.params
        # the channels are those of the bars *before* the close: one bar more
        return max(p.slow, 2 * p.adx_period, p.breakout + 1, p.exit_period + 1, ATR_PERIOD + 1)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        entry, exit_ = self._entry, self._exit
        # the channels before this bar: a breakout is a close beyond them
        ready = entry.ready and exit_.ready
        channel_high, channel_low = entry.upper, entry.lower
        exit_high, exit_low = exit_.upper, exit_.lower
        high, low, close = bar.high, bar.low, bar.close
        entry.update(high, low)
        exit_.update(high, low)
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        adx_ind = self._adx
        adx = adx_ind.update(high, low, close)
        atr = self._atr.update(high, low, close)
        if not (ready and self._slow.ready and adx_ind.ready and self._atr.ready):
            return NOT_READY
        plus_di, minus_di = adx_ind.plus_di, adx_ind.minus_di
        indicators = {
            "ema_fast": fast,
            "ema_slow": slow,
            "adx": adx,
            "plus_di": plus_di,
            "minus_di": minus_di,
            "channel_high": channel_high,
            "channel_low": channel_low,
            "exit_high": exit_high,
            "exit_low": exit_low,
            "atr": atr,
        }
        return self._decide(indicators, close, position_qty)

    def _decide(self, indicators: dict[str, float], close: float, position_qty: int) -> Decision:
        """The decision on a ready bar (its indicators as ``on_bar`` reports them)."""
        adx, atr = indicators["adx"], indicators["atr"]
        fast, slow = indicators["ema_fast"], indicators["ema_slow"]
        plus_di, minus_di = indicators["plus_di"], indicators["minus_di"]
        channel_high, channel_low = indicators["channel_high"], indicators["channel_low"]
        strong = adx >= self._adx_min  # False on a nan ADX (no movement at all)
        if strong and fast > slow and plus_di > minus_di and close > channel_high:
            setup, push, reason = 1, close - channel_high, self._up
        elif strong and fast < slow and minus_di > plus_di and close < channel_low:
            setup, push, reason = -1, channel_low - close, self._down
        else:
            setup, push, reason = 0, 0.0, ""
        if setup and setup * position_qty <= 0:  # not already on that side
            confidence = 0.5 * clamp01(adx / 50.0) + 0.5 * clamp01(push / atr)
            return go(setup, position_qty, self.params.allow_short, reason, confidence, indicators)
        if position_qty:
            return self._hold_or_close(position_qty, close, fast, slow, indicators)
        return Decision(_HOLD, _FLAT, 0.0, indicators)

    def _hold_or_close(
        self, position_qty: int, close: float, fast: float, slow: float, indicators: dict
    ) -> Decision:
        """An open position closes on the exit channel (the bars before this one) or
        when the trend ends."""
        if position_qty > 0:
            if close < indicators["exit_low"]:
                return close_position(self._long_stop, indicators)
            if not fast > slow:
                return close_position(self._long_trend, indicators)
            return Decision(_HOLD, "long: trend holds", 0.0, indicators)
        if close > indicators["exit_high"]:
            return close_position(self._short_stop, indicators)
        if not fast < slow:
            return close_position(self._short_trend, indicators)
        return Decision(_HOLD, "short: trend holds", 0.0, indicators)

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


_FLAT_CODE = BAD + 1  # the one HOLD reason after the bad bar's: while flat


class _Columns(ColumnDecider):
    """``fno_intraday_trend`` a chunk at a time: its own channels, averages and ADX
    advance over the chunk's finite bars (the channels read before each bar, as
    ``on_bar`` does), numpy finds the breakouts in a strong trend, which are decided
    with the position; any other ready bar is a HOLD while flat (holding, the exits
    are states: the engine asks)."""

    def __init__(self, strategy: FnoIntradayTrendStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (BAD_BAR_REASON, _FLAT)
        self.held = (ALWAYS, FLAT_ONLY)

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        entry, exit_, adx_indicator = s._entry, s._exit, s._adx
        start = deepcopy((entry, exit_, s._fast, s._slow, adx_indicator, s._atr))
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        fast = s._fast.update_many(closes)
        slow = s._slow.update_many(closes)
        atr = s._atr.update_many(highs, lows, closes)
        entry_update, exit_update, adx_update = entry.update, exit_.update, adx_indicator.update
        rows = []
        for high, low, close in zip(highs, lows, closes, strict=True):
            channels = (entry._upper, entry._lower, exit_._upper, exit_._lower)
            entry_update(high, low)
            exit_update(high, low)
            adx = adx_update(high, low, close)
            rows.append((adx, adx_indicator._plus_di, adx_indicator._minus_di, *channels))
        taken = len(closes)
        values = np.empty((taken, len(_INDICATORS)))
        values[:, 0], values[:, 1], values[:, 9] = fast, slow, atr
        if taken:
            values[:, 2:9] = rows
        adx, plus_di, minus_di = values[:, 2], values[:, 3], values[:, 4]
        ready = self.warmed(taken, s.warmup_bars) & ~np.isnan(adx)  # nan DX delay the ADX
        close = np.array(closes)
        fast_, slow_ = values[:, 0], values[:, 1]
        strong = ready & (adx >= s._adx_min)
        up = strong & (fast_ > slow_) & (plus_di > minus_di) & (close > values[:, 5])
        down = strong & (fast_ < slow_) & (minus_di > plus_di) & (close < values[:, 6])
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready] = _FLAT_CODE
        codes[up | down] = DECIDE
        return _Chunk(codes, self, prices, finite, start, (values,))


class _Chunk(Chunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        return dict(zip(_INDICATORS, self._columns[0][at].tolist(), strict=True))

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        close = self._finite.closes[at]
        return self._decider.strategy._decide(self._indicators(at), close, position_qty)

    def _at_start(self) -> FnoIntradayTrendStrategy:
        strategy = FnoIntradayTrendStrategy(self._decider.strategy.params)
        entry, exit_, fast, slow, adx, atr = deepcopy(self._start)
        strategy._entry, strategy._exit = entry, exit_
        strategy._fast, strategy._slow, strategy._adx, strategy._atr = fast, slow, adx, atr
        return strategy
