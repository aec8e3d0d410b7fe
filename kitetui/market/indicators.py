"""Incremental technical indicators: O(1) work per bar, plain Python floats.

Why this shape: the hot path (design rule 8) feeds one bar at a time to every
strategy, and recomputing an indicator over a window with pandas costs thousands of
times more than carrying its state forward. So each indicator here is a small slotted
object with an ``update(...)`` that takes the new bar's fields and returns the current
primary value, plus a ``ready`` flag. No numpy, no pandas, no allocation per update.

pandas-ta-classic is the oracle: every value after warm-up agrees with
``pandas_ta_classic`` (default arguments) to 1e-9 on real NSE bars
(``tests/market/test_indicators.py``). Its seeding rules, which decide the warm-up length
and the early values, are reproduced exactly:

===============  ========================================  ==================
indicator        pandas-ta-classic seeding                  first value at bar
===============  ========================================  ==================
EMA(n)           SMA of the first n closes, then alpha       n
                 2/(n+1) (``ema(sma=True)``)
SMA(n)           rolling mean                               n
RSI(n)           diff (bar 1 has none); SMA of the first     n + 1
                 n gains/losses, then Wilder alpha 1/n
ATR(n)           true range (bar 1 has none); SMA of the     n + 1
                 first n TRs, then Wilder alpha 1/n (rma)
ADX(n)           +DM/-DM/TR summed over bars 2..n            +DI/-DI: n + 1,
                 (TA-Lib seed), Wilder-smoothed; DX is       ADX: 2n
                 SMA-seeded rma
VWAP             cumulative per IST calendar day            first bar with
                                                            volume
BollingerBands   SMA mid, population std (ddof=0)           n
MACD(f, s, g)    SMA-seeded EMAs (fast at bar f, slow at     MACD: s,
                 bar s), signal SMA-seeded over the MACD     signal/hist:
                 line                                        s + g - 1
SuperTrend(n, m) ATR(n) bands around (h+l)/2; direction      n + 1
                 starts up (+1), bands ratchet (see class)
                 (``channels.py``)
Donchian(n)      rolling max high / min low                 n
                 (``channels.py``)
===============  ========================================  ==================

Bad data (design rule 7): a non-finite price (or a negative/non-finite volume) is
ignored: the bar is skipped as if it never arrived, the state is unchanged and
``update`` returns the current value. pandas would instead treat it as a missing
observation at that position; we choose "skip", since a bad tick should not poison a
smoothed average. Values that are mathematically undefined are ``nan`` as in pandas,
e.g. RSI and the DX inside ADX on a window with no price change at all (0/0).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

import numpy as np

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "VWAP",
    "BollingerBands",
]

_isfinite = math.isfinite
_sqrt = math.sqrt
_fsum = math.fsum
_nan = math.nan
# pandas-ta replaces a zero high-low range with machine epsilon (``non_zero_range``)
# and rounds |DM| < epsilon down to zero (``zero``); we do the same to stay exact.
_EPSILON = sys.float_info.epsilon

_IST_OFFSET_NS = (5 * 3600 + 30 * 60) * 1_000_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000


def _check_period(value: int, name: str = "period", minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _true_range(high: float, low: float, prev_close: float) -> float:
    """pandas-ta's true range: a zero high-low range counts as epsilon, not zero."""
    hl = high - low
    if hl == 0.0:
        hl = _EPSILON
    elif hl < 0.0:
        hl = -hl
    hc = high - prev_close
    if hc < 0.0:
        hc = -hc
    lc = prev_close - low
    if lc < 0.0:
        lc = -lc
    if hc > hl:
        hl = hc
    return lc if lc > hl else hl


class _Indicator:
    """What every indicator answers: its current value, and whether it has warmed up.

    Subclasses keep ``_value`` (nan until ready) and, for windowed ones, ``_count`` and
    ``period``; those with another notion of readiness override ``ready``.
    """

    __slots__ = ()
    _value: float
    _count: int
    period: int

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    @property
    def value(self) -> float:
        return self._value


class _SeededAverage(_Indicator):
    """An exponential average seeded with the SMA of its first ``period`` inputs.

    pandas ewm(adjust=False) computes ((1-a)*avg + a*x) / ((1-a) + a); the divisor is
    exactly 1.0 for the alphas used here (2/(n+1) for EMA, 1/n for Wilder's RMA).
    """

    __slots__ = ()
    _alpha: float
    _beta: float
    _seed_sum: float

    def _smooth(self, x: float) -> float:
        if self._count >= self.period:
            self._value = self._beta * self._value + self._alpha * x
            return self._value
        self._count += 1
        self._seed_sum += x
        if self._count == self.period:
            self._value = self._seed_sum / self.period
        return self._value

    def _smooth_all(self, inputs: list[float], out: list[float]) -> list[float]:
        """``out`` extended by ``_smooth`` of each of ``inputs`` (all finite), in locals:
        the seed's terms one by one, then the seeded average as one comprehension
        (``_smoothed``). The same arithmetic in the same order, so the same floats."""
        period, count, seeded = self.period, self._count, 0
        while count < period and seeded < len(inputs):  # the first ``period``: the seed
            count += 1
            self._seed_sum += inputs[seeded]
            seeded += 1
            if count == period:
                self._value = self._seed_sum / period
            out.append(self._value)
        self._count = count
        if seeded < len(inputs):
            rest = inputs[seeded:] if seeded else inputs
            smoothed = _smoothed(self._beta, self._alpha, self._value, rest)
            self._value = smoothed[-1]
            out += smoothed
        return out


class EMA(_SeededAverage):
    """Exponential moving average, alpha ``2/(period+1)``, seeded with the SMA of the
    first ``period`` closes (pandas-ta's default ``sma=True``).

    ``update(close)`` returns the EMA, ``nan`` until ``period`` closes were seen.
    """

    __slots__ = ("_alpha", "_beta", "_count", "_seed_sum", "_value", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._alpha = 2.0 / (period + 1)
        self._beta = 1.0 - self._alpha
        self._count = 0
        self._seed_sum = 0.0
        self._value = _nan

    def update(self, close: float) -> float:
        if not _isfinite(close):
            return self._value
        return self._smooth(close)

    def update_many(self, closes: Iterable[float]) -> list[float]:
        """``[self.update(close) for close in closes]``, with the state in locals: a
        backtest's column form advances its averages a chunk at a time, and two calls a
        bar were most of that. Same arithmetic in the same order, so the same floats.

        A chunk with no non-finite close (its sum is finite: a nan or an infinity in it
        makes the sum one) skips the per-close check, and once seeded the average is
        one comprehension (``_smoothed``)."""
        closes = closes if type(closes) is list else list(closes)
        if not _isfinite(sum(closes)):
            return self._update_each(closes)
        return self._smooth_all(closes, [])

    def _update_each(self, closes: list[float]) -> list[float]:
        """``update_many`` close by close, skipping the non-finite ones."""
        alpha, beta, period = self._alpha, self._beta, self.period
        value, count = self._value, self._count
        out: list[float] = []
        append = out.append
        for close in closes:
            if _isfinite(close):
                if count >= period:
                    value = beta * value + alpha * close
                else:
                    count += 1
                    self._seed_sum += close
                    if count == period:
                        value = self._seed_sum / period
            append(value)
        self._value, self._count = value, count
        return out


def _smoothed(beta: float, alpha: float, value: float, inputs: list[float]) -> list[float]:
    """The seeded average after each of ``inputs``: ``value = beta * value + alpha * x``,
    ``_SeededAverage._smooth``'s very expression, so the very floats. One comprehension
    (the running value rebinds through ``:=``): about half the instructions of the loop
    with its appends and checks, for the bulk of a backtest's indicator values."""
    return [value := beta * value + alpha * x for x in inputs]


class SMA(_Indicator):
    """Simple moving average over a ring buffer, O(1) per update.

    The running sum is kept relative to a recent price (so its terms are small) and
    re-summed exactly with ``math.fsum`` once every ``period`` updates, so float drift
    cannot build up: the amortized cost stays O(1) and the value matches pandas'
    ``rolling(period).mean()`` to ~1e-13 relative.
    """

    __slots__ = ("_buf", "_count", "_index", "_shift", "_since_resync", "_sum", "_value", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._buf = [0.0] * period
        self._index = 0
        self._count = 0
        self._shift = 0.0
        self._sum = 0.0  # sum of (x - shift) over the window
        self._since_resync = 0
        self._value = _nan

    def update(self, close: float) -> float:
        if not _isfinite(close):
            return self._value
        n = self.period
        buf = self._buf
        i = self._index
        if self._count < n:
            if self._count == 0:
                self._shift = close
            self._count += 1
            self._sum += close - self._shift
        else:
            self._sum += close - buf[i]
        buf[i] = close
        self._index = i + 1 if i + 1 < n else 0
        if self._count < n:
            return self._value
        self._since_resync += 1
        if self._since_resync >= n:
            self._since_resync = 0
            shift = close
            self._shift = shift
            self._sum = _fsum([x - shift for x in buf])
        self._value = self._shift + self._sum / n
        return self._value


class RSI(_Indicator):
    """Relative strength index with Wilder smoothing, as ``pandas_ta_classic.rsi``.

    Gains and losses are the positive/negative parts of close-to-close changes; each
    is averaged with pandas-ta's ``rma``: the SMA of the first ``period`` changes, then
    ``ewm(alpha=1/period, adjust=False)``. The first value appears on bar
    ``period + 1``. On a window with no change at all (avg gain = avg loss = 0) the
    RSI is ``nan``, as in pandas (0/0), although ``ready`` is True.
    """

    __slots__ = ("_alpha", "_beta", "_count", "_gain", "_loss", "_prev", "_value", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(period)
        self._alpha = 1.0 / period
        self._beta = 1.0 - self._alpha
        self._prev = _nan
        self._count = 0  # number of changes seen, capped at period
        self._gain = 0.0
        self._loss = 0.0
        self._value = _nan

    def update(self, close: float) -> float:
        if not _isfinite(close):
            return self._value
        prev = self._prev
        self._prev = close
        if prev != prev:  # first close: no change yet
            return self._value
        change = close - prev
        if self._count >= self.period:
            if change > 0.0:
                gain = self._beta * self._gain + self._alpha * change
                loss = self._beta * self._loss
            else:
                gain = self._beta * self._gain
                loss = self._beta * self._loss - self._alpha * change
            self._gain = gain
            self._loss = loss
        else:
            self._count += 1
            if change > 0.0:
                self._gain += change
            else:
                self._loss -= change
            if self._count < self.period:
                return self._value
            gain = self._gain = self._gain / self.period
            loss = self._loss = self._loss / self.period
        total = gain + loss
        self._value = 100.0 * gain / total if total != 0.0 else _nan
        return self._value


class ATR(_SeededAverage):
    """Average true range, pandas-ta default (``mamode="rma"``).

    The first bar has no previous close, so no true range (pandas-ta blanks it); the
    ATR is the SMA of the next ``period`` true ranges, then Wilder-smoothed with
    ``alpha = 1/period``. First value on bar ``period + 1``.
    """

    __slots__ = ("_alpha", "_beta", "_count", "_prev_close", "_seed_sum", "_value", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(period)
        self._alpha = 1.0 / period
        self._beta = 1.0 - self._alpha
        self._prev_close = _nan
        self._count = 0
        self._seed_sum = 0.0
        self._value = _nan

    def update(self, high: float, low: float, close: float) -> float:
        if not (_isfinite(high) and _isfinite(low) and _isfinite(close)):
            return self._value
        prev_close = self._prev_close
        self._prev_close = close
        if prev_close != prev_close:
            return self._value
        tr = _true_range(high, low, prev_close)
        return self._smooth(tr)

    def update_many(
        self,
        highs: Iterable[float] | np.ndarray,
        lows: Iterable[float] | np.ndarray,
        closes: Iterable[float] | np.ndarray,
    ) -> list[float]:
        """``list(map(self.update, highs, lows, closes))`` with the state in locals
        (``EMA.update_many``): the same floats, without three calls a bar.

        Columns of finite prices (a column form's, best as float64 arrays) take their
        true ranges from numpy: differences, absolute values, the epsilon for a zero
        range and the largest of three are exact operations, so each is the float
        ``_true_range`` returns; then the seed and ``_smoothed``, as ``EMA``."""
        h, lo, c = (_float_array(column) for column in (highs, lows, closes))
        if not (len(h) == len(lo) == len(c)):
            raise ValueError("highs, lows and closes differ in length")
        if not (np.isfinite(h).all() and np.isfinite(lo).all() and np.isfinite(c).all()):
            return self._update_each(h.tolist(), lo.tolist(), c.tolist())
        size = len(c)
        if not size:
            return []
        prev_close = self._prev_close
        self._prev_close = float(c[-1])
        previous = np.empty(size)
        previous[0] = prev_close
        previous[1:] = c[:-1]
        ranges = np.abs(h - lo)
        ranges[ranges == 0.0] = _EPSILON
        ranges = np.maximum(np.maximum(ranges, np.abs(h - previous)), np.abs(previous - lo))
        out: list[float] = []
        trs = ranges.tolist()
        if prev_close != prev_close:  # the first bar ever: no true range
            out.append(self._value)
            trs = trs[1:]
        return self._smooth_all(trs, out)

    def _update_each(
        self, highs: list[float], lows: list[float], closes: list[float]
    ) -> list[float]:
        """``update_many`` bar by bar, skipping the bars with a non-finite price."""
        alpha, beta, period = self._alpha, self._beta, self.period
        value, count, prev_close = self._value, self._count, self._prev_close
        out: list[float] = []
        append = out.append
        for high, low, close in zip(highs, lows, closes, strict=True):
            if _isfinite(high) and _isfinite(low) and _isfinite(close):
                if prev_close == prev_close:  # not the first bar: a true range
                    tr = _true_range(high, low, prev_close)
                    if count >= period:
                        value = beta * value + alpha * tr
                    else:
                        count += 1
                        self._seed_sum += tr
                        if count == period:
                            value = self._seed_sum / period
                prev_close = close
            append(value)
        self._value, self._count, self._prev_close = value, count, prev_close
        return out


def _float_array(column: Iterable[float] | np.ndarray) -> np.ndarray:
    """A column as float64: an array as it is, a list (or any iterable, listed) copied."""
    if isinstance(column, np.ndarray):
        return column.astype(np.float64, copy=False)
    return np.array(column if isinstance(column, list) else list(column), dtype=np.float64)


class ADX(_Indicator):
    """Average directional index with +DI/-DI, as ``pandas_ta_classic.adx`` (rma).

    pandas-ta-classic seeds +DM, -DM and TR the TA-Lib way: the sum of bars
    2..``period`` (``period - 1`` values), then ``s = s - s/period + x``. +DI/-DI are
    reported from bar ``period + 1`` (not on the seed bar). DX is then smoothed with
    the SMA-seeded ``rma``, so ADX starts on bar ``2 * period``.

    ``update(high, low, close)`` returns ADX; ``plus_di``/``minus_di`` are available
    (as in pandas) ``period - 1`` bars before ``ready``.
    """

    __slots__ = (
        "_adx_wt",
        "_alpha",
        "_bars",
        "_beta",
        "_dx_count",
        "_dx_finite",
        "_dx_sum",
        "_minus_di",
        "_plus_di",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_sm_neg",
        "_sm_pos",
        "_sm_tr",
        "_value",
        "period",
    )

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(period, minimum=2)
        self._alpha = 1.0 / period
        self._beta = 1.0 - self._alpha
        self._prev_high = _nan
        self._prev_low = _nan
        self._prev_close = _nan
        self._bars = 0  # bars with a previous bar, capped once smoothing runs
        self._sm_pos = 0.0
        self._sm_neg = 0.0
        self._sm_tr = 0.0
        self._plus_di = _nan
        self._minus_di = _nan
        self._dx_count = 0  # DX values seen since the first finite one (seed window)
        self._dx_finite = 0
        self._dx_sum = 0.0
        self._adx_wt = 1.0  # pandas ewm's old weight: decays across a nan DX
        self._value = _nan

    @property
    def ready(self) -> bool:
        return self._value == self._value

    @property
    def plus_di(self) -> float:
        return self._plus_di

    @property
    def minus_di(self) -> float:
        return self._minus_di

    def update(self, high: float, low: float, close: float) -> float:
        if not (_isfinite(high) and _isfinite(low) and _isfinite(close)):
            return self._value
        prev_high = self._prev_high
        prev_low = self._prev_low
        prev_close = self._prev_close
        self._prev_high = high
        self._prev_low = low
        self._prev_close = close
        if prev_close != prev_close:
            return self._value

        up = high - prev_high
        down = prev_low - low
        pos = up if (up > down and up >= _EPSILON) else 0.0
        neg = down if (down > up and down >= _EPSILON) else 0.0
        tr = _true_range(high, low, prev_close)

        n = self.period
        if self._bars < n:
            self._bars += 1
            if self._bars < n:  # bars 2..n: the TA-Lib seed sums
                self._sm_pos += pos
                self._sm_neg += neg
                self._sm_tr += tr
                return self._value
        sm_pos = self._sm_pos = self._sm_pos - self._sm_pos / n + pos
        sm_neg = self._sm_neg = self._sm_neg - self._sm_neg / n + neg
        sm_tr = self._sm_tr = self._sm_tr - self._sm_tr / n + tr
        plus_di = self._plus_di = 100.0 * sm_pos / sm_tr
        minus_di = self._minus_di = 100.0 * sm_neg / sm_tr
        total = plus_di + minus_di
        if total != 0.0:
            diff = plus_di - minus_di
            dx = 100.0 * (diff if diff >= 0.0 else -diff) / total
        else:
            dx = _nan  # no directional movement at all: 0/0 in pandas too
        return self._smooth_dx(dx, n)

    def _smooth_dx(self, dx: float, n: int) -> float:
        """The ADX: DX smoothed by an RMA that skips nan DX, seeded like pandas."""
        if self._dx_count >= n:  # rma: pandas ewm(alpha=1/n, adjust=False)
            if dx == dx:
                wt = self._adx_wt * self._beta
                self._value = (wt * self._value + self._alpha * dx) / (wt + self._alpha)
                self._adx_wt = 1.0
            else:
                self._adx_wt *= self._beta
            return self._value
        # rma seed: skip leading nan DX, then the (nan-skipping) mean of n values.
        if dx == dx:
            self._dx_sum += dx
            self._dx_finite += 1
        if self._dx_finite:
            self._dx_count += 1
            if self._dx_count == n:
                self._value = self._dx_sum / self._dx_finite
        return self._value


class VWAP(_Indicator):
    """Volume-weighted average price of the typical price (h+l+c)/3, reset at the
    start of each IST calendar day (``pandas_ta_classic.vwap(anchor="D")`` on an
    IST-indexed series).

    ``update(high, low, close, volume, ts_ns)`` with ``ts_ns`` the bar's epoch
    nanoseconds (UTC). Until the session has traded some volume the VWAP is undefined
    and ``nan`` (pandas: 0/0), so an index feed, whose bars carry volume 0, never
    becomes ``ready``: use a price average for indices instead. A new session starts
    whenever the IST date differs from the previous bar's (bars are assumed to come
    in time order, as pandas also assumes).
    """

    __slots__ = ("_day", "_pv", "_value", "_volume")

    def __init__(self) -> None:
        self._day = -1
        self._pv = 0.0
        self._volume = 0.0
        self._value = _nan

    @property
    def ready(self) -> bool:
        return self._volume > 0.0

    def update(self, high: float, low: float, close: float, volume: float, ts_ns: int) -> float:
        day = (ts_ns + _IST_OFFSET_NS) // _NS_PER_DAY
        if day != self._day:
            self._day = day
            self._pv = 0.0
            self._volume = 0.0
            self._value = _nan
        if not (
            _isfinite(high)
            and _isfinite(low)
            and _isfinite(close)
            and _isfinite(volume)
            and volume >= 0
        ):
            return self._value
        self._pv += (high + low + close) / 3.0 * volume
        self._volume += volume
        if self._volume > 0.0:
            self._value = self._pv / self._volume
        return self._value


class BollingerBands(_Indicator):
    """Bollinger bands: SMA mid +/- ``std`` population standard deviations (pandas-ta
    uses ``ddof=0``), as ``pandas_ta_classic.bbands(length, std)``.

    The window's sum and sum of squares are kept relative to a recent price, so
    they hold small numbers and the variance suffers no catastrophic cancellation;
    they are re-summed exactly every ``period`` updates (amortized O(1)).
    ``update(close)`` returns the mid band; read ``lower``/``mid``/``upper``.
    """

    __slots__ = (
        "_buf",
        "_count",
        "_index",
        "_lower",
        "_mid",
        "_shift",
        "_since_resync",
        "_sum",
        "_sum_sq",
        "_upper",
        "ddof",
        "period",
        "std",
    )

    def __init__(self, period: int = 20, std: float = 2.0, ddof: int = 0) -> None:
        self.period = _check_period(period)
        if not (_isfinite(std) and std > 0):
            raise ValueError(f"std must be a positive number, got {std!r}")
        if isinstance(ddof, bool) or not isinstance(ddof, int) or not 0 <= ddof < period:
            raise ValueError(f"ddof must be an integer in [0, period), got {ddof!r}")
        self.std = float(std)
        self.ddof = ddof
        self._buf = [0.0] * period
        self._index = 0
        self._count = 0
        self._shift = 0.0
        self._sum = 0.0
        self._sum_sq = 0.0
        self._since_resync = 0
        self._lower = _nan
        self._mid = _nan
        self._upper = _nan

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    @property
    def value(self) -> float:
        return self._mid

    @property
    def lower(self) -> float:
        return self._lower

    @property
    def mid(self) -> float:
        return self._mid

    @property
    def upper(self) -> float:
        return self._upper

    def update(self, close: float) -> float:
        if not _isfinite(close):
            return self._mid
        n = self.period
        buf = self._buf
        i = self._index
        if self._count < n:
            if self._count == 0:
                self._shift = close
            self._count += 1
            d = close - self._shift
            self._sum += d
            self._sum_sq += d * d
        else:
            shift = self._shift
            d_new = close - shift
            d_old = buf[i] - shift
            self._sum += d_new - d_old
            self._sum_sq += d_new * d_new - d_old * d_old
        buf[i] = close
        self._index = i + 1 if i + 1 < n else 0
        if self._count < n:
            return self._mid
        self._since_resync += 1
        if self._since_resync >= n:
            self._resync()
        mean_d = self._sum / n
        var = (self._sum_sq - self._sum * mean_d) / (n - self.ddof)
        width = self.std * _sqrt(var) if var > 0.0 else 0.0
        mid = self._mid = self._shift + mean_d
        self._lower = mid - width
        self._upper = mid + width
        return mid

    def _resync(self) -> None:
        self._since_resync = 0
        buf = self._buf
        shift = _fsum(buf) / self.period
        self._shift = shift
        deltas = [x - shift for x in buf]
        self._sum = _fsum(deltas)
        self._sum_sq = _fsum([d * d for d in deltas])


class MACD(_Indicator):
    """MACD line, signal line and histogram, as ``pandas_ta_classic.macd``.

    The fast and slow EMAs are SMA-seeded at bars ``fast`` and ``slow``; the MACD
    line exists from bar ``slow``; the signal EMA is seeded with the SMA of the first
    ``signal`` MACD values, so ``signal`` and ``hist`` exist from bar
    ``slow + signal - 1``. ``ready`` (and a non-nan ``update`` result, the MACD line)
    waits for all three; the ``macd`` property follows pandas and is available
    earlier. pandas-ta swaps ``fast`` and ``slow`` if given in the wrong order; we
    refuse them instead. The periods are ``fast_period``/``slow_period``/
    ``signal_period``, since ``signal`` is the signal line's value.
    """

    __slots__ = (
        "_fast",
        "_macd",
        "_signal",
        "_slow",
        "fast_period",
        "signal_period",
        "slow_period",
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast_period = _check_period(fast, "fast")
        self.slow_period = _check_period(slow, "slow")
        self.signal_period = _check_period(signal, "signal")
        if fast >= slow:
            raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal)
        self._macd = _nan

    @property
    def period(self) -> int:
        """Bars needed before ``ready``."""
        return self.slow_period + self.signal_period - 1

    @property
    def ready(self) -> bool:
        return self._signal.ready

    @property
    def value(self) -> float:
        return self._macd if self._signal.ready else _nan

    @property
    def macd(self) -> float:
        return self._macd

    @property
    def signal(self) -> float:
        return self._signal._value

    @property
    def hist(self) -> float:
        return self._macd - self._signal._value

    def update(self, close: float) -> float:
        if not _isfinite(close):
            return self.value
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        if slow != slow:
            return _nan
        macd = self._macd = fast - slow
        self._signal.update(macd)
        return macd if self._signal.ready else _nan
