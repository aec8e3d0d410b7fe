"""Channels that trail the price: SuperTrend and Donchian.

Same contract as ``indicators.py`` (O(1) ``update`` per bar, ``ready``, bad data
skipped, pandas-ta-classic as the oracle, seeding in that module's table); a module of
their own because they are the indicators a breakout or trailing-stop strategy reads
as levels, not as values of one series.
"""

from __future__ import annotations

from collections import deque

from kitetui.market.indicators import ATR, _check_period, _Indicator, _isfinite, _nan

__all__ = ["Donchian", "SuperTrend"]


class SuperTrend(_Indicator):
    """SuperTrend, as ``pandas_ta_classic.supertrend(high, low, close, length, multiplier)``.

    The raw bands are ``(high + low) / 2 +/- multiplier * ATR(period)`` (the ATR above,
    so the first value is on bar ``period + 1``). The direction flips up when the close
    is above the previous bar's upper band and down when it is below the previous
    lower band; otherwise it holds, and the band on the trend's side ratchets: the
    lower band never falls during an uptrend, the upper band never rises during a
    downtrend. The line (``update``'s result) is the lower band in an uptrend and the
    upper band in a downtrend: a trailing stop that only moves with the trend.

    pandas-ta-classic's own rules are reproduced because they decide the values: only
    the active band ratchets (the other one stays raw), nothing ratchets on a bar
    whose direction came from a break (even a break in the direction the trend already
    had), and the direction starts up, so the first value is an uptrend's lower band.
    pandas reports the line as 0.0 on the first bar and the direction as +1 during the
    warm-up; here both are undefined until ``ready``: the line ``nan``, ``direction`` 0.
    """

    __slots__ = ("_atr", "_dir", "_lower", "_upper", "_value", "multiplier", "period")

    def __init__(self, period: int = 7, multiplier: float = 3.0) -> None:
        self.period = _check_period(period)
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, (int, float))
            or not (_isfinite(multiplier) and multiplier > 0)
        ):
            raise ValueError(f"multiplier must be a positive number, got {multiplier!r}")
        self.multiplier = float(multiplier)
        self._atr = ATR(period)
        self._dir = 1  # pandas starts every series as an uptrend
        self._upper = _nan  # the final (ratcheted) bands of the last bar
        self._lower = _nan
        self._value = _nan

    @property
    def ready(self) -> bool:
        return self._atr.ready

    @property
    def direction(self) -> int:
        """+1 uptrend, -1 downtrend, 0 while warming up."""
        return self._dir if self._atr.ready else 0

    @property
    def upper(self) -> float:
        return self._upper

    @property
    def lower(self) -> float:
        return self._lower

    @property
    def atr(self) -> float:
        return self._atr._value

    def update(self, high: float, low: float, close: float) -> float:
        if not (_isfinite(high) and _isfinite(low) and _isfinite(close)):
            return self._value
        atr = self._atr.update(high, low, close)
        if atr != atr:  # warm-up: no bands, the direction stays +1
            return self._value
        offset = self.multiplier * atr
        mid = 0.5 * (high + low)
        upper = mid + offset
        lower = mid - offset
        # the previous bands are nan on the first ready bar: no break, no ratchet
        if close > self._upper:
            direction = 1
        elif close < self._lower:
            direction = -1
        else:
            direction = self._dir
            if direction > 0:
                if lower < self._lower:
                    lower = self._lower
            elif upper > self._upper:
                upper = self._upper
        self._dir = direction
        self._upper = upper
        self._lower = lower
        self._value = lower if direction > 0 else upper
        return self._value


class Donchian(_Indicator):
    """Donchian channel: the highest high and lowest low of the last ``period`` bars, as
    ``pandas_ta_classic.donchian(high, low, lower_length=period, upper_length=period)``.

    Each side is a monotonic deque of bar numbers over a ring buffer of prices, so an
    update is amortized O(1) whatever the period (a bar enters and leaves each deque
    once), with no arithmetic on the prices: the values are the exact window extremes.
    ``update(high, low)`` returns the mid ``(upper + lower) / 2``; read ``upper`` and
    ``lower``. A breakout rule compares a close with the channel of the bars *before*
    it: read ``upper``/``lower`` first, then update with the new bar.
    """

    __slots__ = (
        "_count",
        "_high_idx",
        "_highs",
        "_low_idx",
        "_lower",
        "_lows",
        "_mid",
        "_upper",
        "period",
    )

    def __init__(self, period: int = 20) -> None:
        self.period = _check_period(period)
        self._highs = [0.0] * period
        self._lows = [0.0] * period
        self._high_idx: deque[int] = deque()  # bar numbers, highs strictly decreasing
        self._low_idx: deque[int] = deque()  # bar numbers, lows strictly increasing
        self._count = 0
        self._upper = _nan
        self._lower = _nan
        self._mid = _nan

    @property
    def value(self) -> float:
        return self._mid

    @property
    def upper(self) -> float:
        return self._upper

    @property
    def lower(self) -> float:
        return self._lower

    @property
    def mid(self) -> float:
        return self._mid

    def update(self, high: float, low: float) -> float:
        if not (_isfinite(high) and _isfinite(low)):
            return self._mid
        n = self.period
        i = self._count
        self._count = i + 1
        oldest = i - n  # bar numbers <= oldest have left the window
        highs, lows = self._highs, self._lows
        high_idx, low_idx = self._high_idx, self._low_idx
        if high_idx and high_idx[0] <= oldest:
            high_idx.popleft()
        if low_idx and low_idx[0] <= oldest:
            low_idx.popleft()
        slot = i % n
        highs[slot] = high
        lows[slot] = low
        while high_idx and highs[high_idx[-1] % n] <= high:
            high_idx.pop()
        high_idx.append(i)
        while low_idx and lows[low_idx[-1] % n] >= low:
            low_idx.pop()
        low_idx.append(i)
        if i + 1 < n:
            return self._mid
        upper = self._upper = highs[high_idx[0] % n]
        lower = self._lower = lows[low_idx[0] % n]
        self._mid = 0.5 * (lower + upper)
        return self._mid
