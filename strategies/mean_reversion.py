"""Intraday mean reversion: fade a close outside the Bollinger bands when RSI agrees.

Entries need both an extreme price (outside the 20-bar, 2-sigma band) and an extreme
momentum reading (RSI 14 below ``rsi_low`` or above ``rsi_high``), so a band break in
a calm trend is not faded. Exits are symmetric: a long is closed once price is back at
the mid band or RSI is above ``rsi_exit``; a short once price is back at the mid band
or RSI is below ``100 - rsi_exit``.
"""

from __future__ import annotations

from copy import deepcopy
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from kitetui.domain import Bar, SignalKind
from kitetui.market.indicators import ATR, RSI, BollingerBands
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

__all__ = ["MeanReversionStrategy"]

_INSIDE = "flat: close inside bands"


@register
class MeanReversionStrategy(Strategy):
    """LONG below the lower band with RSI < ``rsi_low``; SHORT above the upper band with
    RSI > ``rsi_high`` (if ``allow_short``); EXIT back at the mid band.

    Entry confidence averages how far price is outside the band (in ATRs, capped at
    1) and how deep RSI is into its extreme zone; an EXIT has confidence 1.
    """

    name: ClassVar[str] = "mean_reversion"
    chart_overlays: ClassVar[tuple[str, ...]] = ("bb_lower", "bb_mid", "bb_upper")

    class Params(Strategy.Params):
        rsi_period: int = Field(14, ge=2, le=MAX_PERIOD, description="RSI period (Wilder)")
        bb_period: int = Field(20, ge=2, le=MAX_PERIOD, description="Bollinger band period")
        bb_std: float = Field(
            2.0, gt=0, le=10, allow_inf_nan=False, description="band width in sigmas"
        )
        rsi_low: float = Field(
            30.0, gt=0, lt=100, allow_inf_nan=False, description="RSI below this: oversold"
        )
        rsi_high: float = Field(
            70.0, gt=0, lt=100, allow_inf_nan=False, description="RSI above this: overbought"
        )
        rsi_exit: float = Field(
            50.0,
            gt=0,
            lt=100,
            allow_inf_nan=False,
            description="a long exits above this RSI, a short below 100 - rsi_exit",
        )
        allow_short: bool = Field(True, description="fade spikes with a SHORT, else only longs")

        @model_validator(mode="after")
        def _ordered_levels(self) -> MeanReversionStrategy.Params:
            must_be_below(self, "rsi_low", "rsi_high")
            if not self.rsi_low < self.rsi_exit < self.rsi_high:
                raise ValueError(
                    f"rsi_exit ({self.rsi_exit}) must lie between rsi_low and rsi_high"
                )
            if not self.rsi_low < 100.0 - self.rsi_exit < self.rsi_high:
                raise ValueError(
                    f"the short exit level 100 - rsi_exit ({100.0 - self.rsi_exit}) "
                    "must lie between rsi_low and rsi_high"
                )
            return self

    params: Params

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        self._rsi = RSI(p.rsi_period)
        self._bands = BollingerBands(p.bb_period, p.bb_std)
        self._atr = ATR(ATR_PERIOD)
        self._rsi_short_exit = 100.0 - p.rsi_exit

    @property
    def warmup_bars(self) -> int:
        p = self.params
        return max(p.rsi_period + 1, p.bb_period, ATR_PERIOD + 1)

    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        if not bar_is_finite(bar):
            return BAD_BAR
        close = bar.close
        rsi = self._rsi.update(close)
        bands = self._bands
        mid = bands.update(close)
        atr = self._atr.update(bar.high, bar.low, close)
        # RSI is nan on a window without any price change, although "ready"
        if not (rsi == rsi and bands.ready and self._atr.ready):
            return NOT_READY
        indicators = {
            "rsi": rsi,
            "bb_lower": bands.lower,
            "bb_mid": mid,
            "bb_upper": bands.upper,
            "atr": atr,
        }
        return self._decide(close, indicators, position_qty)

    def _decide(self, close: float, indicators: dict[str, float], position_qty: int) -> Decision:
        """The decision on a ready bar closing at ``close``."""
        p = self.params
        rsi, mid, atr = indicators["rsi"], indicators["bb_mid"], indicators["atr"]
        lower, upper = indicators["bb_lower"], indicators["bb_upper"]
        if position_qty:
            return self._hold_or_close(position_qty, close, mid, rsi, indicators)
        if close < lower:
            if rsi < p.rsi_low:
                depth = min(1.0, (lower - close) / atr) if atr > 0.0 else 1.0
                confidence = 0.5 * depth + 0.5 * (p.rsi_low - rsi) / p.rsi_low
                reason = f"close<bb_lower, rsi<{p.rsi_low:g}"
                return Decision(SignalKind.LONG, reason, confidence, indicators)
            reason = f"close<bb_lower but rsi {rsi:.1f}>={p.rsi_low:g}"
            return Decision(SignalKind.HOLD, reason, 0.0, indicators)
        if close > upper:
            if rsi > p.rsi_high:
                if not p.allow_short:
                    reason = f"close>bb_upper, rsi>{p.rsi_high:g}, shorts disabled"
                    return Decision(SignalKind.HOLD, reason, 0.0, indicators)
                depth = min(1.0, (close - upper) / atr) if atr > 0.0 else 1.0
                confidence = 0.5 * depth + 0.5 * (rsi - p.rsi_high) / (100.0 - p.rsi_high)
                reason = f"close>bb_upper, rsi>{p.rsi_high:g}"
                return Decision(SignalKind.SHORT, reason, confidence, indicators)
            reason = f"close>bb_upper but rsi {rsi:.1f}<={p.rsi_high:g}"
            return Decision(SignalKind.HOLD, reason, 0.0, indicators)
        return Decision(SignalKind.HOLD, _INSIDE, 0.0, indicators)

    def _hold_or_close(
        self, position_qty: int, close: float, mid: float, rsi: float, indicators: dict
    ) -> Decision:
        """An open position closes back at the middle band or on its RSI target."""
        p = self.params
        if position_qty > 0:
            if close >= mid:
                return Decision(SignalKind.EXIT, "long: close>=bb_mid", 1.0, indicators)
            if rsi > p.rsi_exit:
                return Decision(SignalKind.EXIT, f"long: rsi>{p.rsi_exit:g}", 1.0, indicators)
            return Decision(SignalKind.HOLD, "long: close<bb_mid, waiting", 0.0, indicators)
        if close <= mid:
            return Decision(SignalKind.EXIT, "short: close<=bb_mid", 1.0, indicators)
        if rsi < self._rsi_short_exit:
            reason = f"short: rsi<{self._rsi_short_exit:g}"
            return Decision(SignalKind.EXIT, reason, 1.0, indicators)
        return Decision(SignalKind.HOLD, "short: close>bb_mid, waiting", 0.0, indicators)

    def column_decider(self) -> ColumnDecider:
        return _Columns(self)


# The HOLD reasons of the column form, in code order (``strategies.columns``). A bar
# closing outside the bands is decided with the position (its HOLD's reason says the
# RSI), one inside them is the flat HOLD.
(_INSIDE_BANDS,) = range(BAD + 1, BAD + 2)


class _Columns(ColumnDecider):
    """``mean_reversion`` a chunk at a time: its own RSI, bands and ATR advance over
    the chunk's finite bars (the bands read as they go); numpy finds the closes outside
    the bands."""

    def __init__(self, strategy: MeanReversionStrategy) -> None:
        super().__init__(strategy)
        self.reasons = (BAD_BAR_REASON, _INSIDE)
        self.held = (ALWAYS, FLAT_ONLY)

    def decide(self, prices: ChunkPrices) -> _Chunk:
        s = self.strategy
        start = deepcopy((s._rsi, s._bands, s._atr))  # the bands keep a window
        finite = Finite.of(prices)  # on_bar refuses the others before its indicators
        closes, highs, lows = finite.closes, finite.highs, finite.lows
        taken = len(closes)
        rsi = np.array(list(map(s._rsi.update, closes)))
        atr = np.array(s._atr.update_many(highs, lows, closes))
        bands = np.empty((taken, 3))  # lower, mid, upper
        update = s._bands.update
        for k, close in enumerate(closes):
            bands[k, 1] = update(close)
            bands[k, 0], bands[k, 2] = s._bands.lower, s._bands.upper
        base = max(s.params.bb_period, ATR_PERIOD + 1)  # the bands' and the ATR's readiness
        ready = self.warmed(taken, base) & ~np.isnan(rsi)
        close = np.array(closes)
        outside = (close < bands[:, 0]) | (close > bands[:, 2])
        codes = np.full(taken, NOT_READY_CODE, dtype=np.uint8)
        codes[ready] = _INSIDE_BANDS
        codes[ready & outside] = DECIDE
        return _Chunk(codes, self, prices, finite, start, (rsi, bands, atr))


class _Chunk(Chunk):
    __slots__ = ()

    def _indicators(self, at: int) -> dict[str, float]:
        rsi_column, bands, atr_column = self._columns
        lower, mid, upper = bands[at].tolist()
        rsi, atr = float(rsi_column[at]), float(atr_column[at])
        return {"rsi": rsi, "bb_lower": lower, "bb_mid": mid, "bb_upper": upper, "atr": atr}

    def _decision(self, offset: int, at: int, code: int, position_qty: int) -> Decision:
        close = self._finite.closes[at]
        return self._decider.strategy._decide(close, self._indicators(at), position_qty)

    def _at_start(self) -> MeanReversionStrategy:
        strategy = MeanReversionStrategy(self._decider.strategy.params)
        strategy._rsi, strategy._bands, strategy._atr = deepcopy(self._start)
        return strategy
