"""Incremental bar building: ticks -> bars and bars -> longer bars, O(1) per input.

Both builders share one bucketing rule so that every timeframe lines up with Kite's:

* Buckets are anchored to the NSE session open (09:15 IST), not to midnight or the
  epoch, so 15/30/60-minute bars start 09:15, 09:45/10:15, ... exactly like Kite's
  historical candles. For 1/3/5/15-minute bars the two anchors coincide anyway.
* The bucket that straddles the close is cut at 15:30 (Kite's 60-minute 15:15 bar is
  15 minutes long), so it is complete as soon as its 15:29 source bar arrives.
  Anything at or after 15:30 (vendor after-hours rows, a Muhurat session) is bucketed
  from 15:30 onwards, anything before 09:15 backwards from 09:15: such data never
  lands in a regular-session bar.
* A bucket never spans two IST calendar days. A one-day timeframe (86,400 s) is the
  whole IST day, stamped 00:00 IST like Kite's ``day`` candles.

A bar's ``ts_ns`` is its bucket start and ``timeframe_s`` the nominal timeframe, even
for the shortened 15:15 bar (as in Kite). Builders keep their state in slots and only
recompute day boundaries when the day changes, so the per-input cost is a couple of
comparisons. Late input (older than the open bucket, or than a bar already emitted) is
ignored and counted; it can never alter a bar that has been handed out.
"""

from __future__ import annotations

import numpy as np

from kitetui.domain import NS_PER_SECOND, Bar, Tick

IST_OFFSET_S = 5 * 3600 + 30 * 60
IST_OFFSET_NS = IST_OFFSET_S * NS_PER_SECOND
DAY_S = 86_400
DAY_NS = DAY_S * NS_PER_SECOND
SESSION_OPEN_S = 9 * 3600 + 15 * 60  # 09:15 IST, seconds after IST midnight
SESSION_CLOSE_S = 15 * 3600 + 30 * 60  # 15:30 IST
SESSION_LENGTH_S = SESSION_CLOSE_S - SESSION_OPEN_S

_INF = float("inf")
_NEVER = -(1 << 62)  # "no bucket yet": every real timestamp is later


def _check_timeframe(timeframe_s: int) -> None:
    if not isinstance(timeframe_s, int) or isinstance(timeframe_s, bool):
        raise TypeError(f"timeframe_s must be an int, got {timeframe_s!r}")
    if timeframe_s <= 0 or (timeframe_s > SESSION_LENGTH_S and timeframe_s != DAY_S):
        raise ValueError(
            f"timeframe_s must be between 1 and {SESSION_LENGTH_S} s (one session) "
            f"or exactly {DAY_S} (one day), got {timeframe_s}"
        )


class SessionBuckets:
    """Maps a timestamp to its ``[start, end)`` bucket, anchored at 09:15 IST per day."""

    __slots__ = ("_close", "_day_end", "_day_start", "_open", "_tf_ns", "timeframe_s")

    def __init__(self, timeframe_s: int) -> None:
        _check_timeframe(timeframe_s)
        self.timeframe_s = timeframe_s
        self._tf_ns = timeframe_s * NS_PER_SECOND
        self._day_start = self._day_end = self._open = self._close = 0

    def bucket(self, ts_ns: int) -> tuple[int, int]:
        """Return ``(start_ns, end_ns)`` of the bucket holding ``ts_ns``."""
        if not self._day_start <= ts_ns < self._day_end:
            day_start = (ts_ns + IST_OFFSET_NS) // DAY_NS * DAY_NS - IST_OFFSET_NS
            self._day_start = day_start
            self._day_end = day_start + DAY_NS
            self._open = day_start + SESSION_OPEN_S * NS_PER_SECOND
            self._close = day_start + SESSION_CLOSE_S * NS_PER_SECOND
        tf = self._tf_ns
        if tf >= DAY_NS:
            return self._day_start, self._day_end
        if ts_ns < self._open:  # pre-open: anchored backwards from 09:15
            start = self._open + (ts_ns - self._open) // tf * tf
            return max(start, self._day_start), min(start + tf, self._open)
        if ts_ns < self._close:  # the regular session
            start = self._open + (ts_ns - self._open) // tf * tf
            return start, min(start + tf, self._close)
        start = self._close + (ts_ns - self._close) // tf * tf  # after the close
        return start, min(start + tf, self._day_end)


def bucket_starts(ts_ns: np.ndarray, timeframe_s: int) -> np.ndarray:
    """``SessionBuckets.bucket(ts)[0]`` for every ``ts`` of an int64 array at once (for
    a replayed column resampled ahead, ``kitetui.market.bar_columns``)."""
    _check_timeframe(timeframe_s)
    tf = timeframe_s * NS_PER_SECOND
    day_start = (ts_ns + IST_OFFSET_NS) // DAY_NS * DAY_NS - IST_OFFSET_NS
    if tf >= DAY_NS:
        return day_start
    open_ = day_start + SESSION_OPEN_S * NS_PER_SECOND
    close = day_start + SESSION_CLOSE_S * NS_PER_SECOND
    from_open = open_ + (ts_ns - open_) // tf * tf
    pre_open = np.maximum(from_open, day_start)
    after_close = close + (ts_ns - close) // tf * tf
    return np.where(ts_ns < open_, pre_open, np.where(ts_ns < close, from_open, after_close))


def session_bucket(ts_ns: int, timeframe_s: int) -> tuple[int, int]:
    """The ``[start, end)`` bucket of ``ts_ns`` for ``timeframe_s`` (see module docstring)."""
    return SessionBuckets(timeframe_s).bucket(ts_ns)


class _OpenBar:
    """The bar being built, shared by the tick aggregator and the resampler.

    No open bar <=> ``_start == _end``. ``_tf_s`` is the timeframe of the bars it emits.
    """

    __slots__ = (
        "_close",
        "_end",
        "_high",
        "_low",
        "_oi",
        "_open",
        "_start",
        "_tf_s",
        "_volume",
        "symbol",
    )

    def flush(self) -> Bar | None:
        """Close and return the open bar, if any; later input starts a new bar."""
        if self._start == self._end:
            return None
        done = self._bar()
        self._start = self._end
        return done

    def partial(self) -> Bar | None:
        """The bar being built (for display); ``None`` when no bar is open."""
        return self._bar() if self._start != self._end else None

    def _bar(self) -> Bar:
        return Bar(
            self.symbol,
            self._start,
            self._tf_s,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            self._oi,
        )


class TickBarAggregator(_OpenBar):
    """Builds ``timeframe_s`` bars from one symbol's ticks.

    ``on_tick`` returns the previous bar when a tick opens a later bucket (so a bar is
    only known complete when the next tick arrives, or at ``flush()``: call it at the
    session end and at the end of data). Volume is the sum of tick quantities, ``oi``
    the last tick's. Ticks of the same timestamp are taken in arrival order.
    ``late_ticks`` counts ticks older than the open bucket (ignored); ``bad_ticks``
    counts ticks with a non-finite or non-positive price (ignored).
    """

    __slots__ = (
        "_buckets",
        "bad_ticks",
        "late_ticks",
        "timeframe_s",
    )

    def __init__(self, symbol: str, timeframe_s: int = 60) -> None:
        self._buckets = SessionBuckets(timeframe_s)
        self.symbol = symbol
        self.timeframe_s = self._tf_s = timeframe_s
        self.late_ticks = 0
        self.bad_ticks = 0
        # No open bar <=> _start == _end; ticks before _end are then late.
        self._start = self._end = _NEVER
        self._open = self._high = self._low = self._close = 0.0
        self._volume = self._oi = 0

    def on_tick(self, tick: Tick) -> Bar | None:
        ts = tick.ts_ns
        price = tick.price
        if not 0.0 < price < _INF:  # also false for NaN
            self.bad_ticks += 1
            return None
        if self._start <= ts < self._end:
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume += tick.qty
            self._oi = tick.oi
            return None
        if ts < self._end:
            self.late_ticks += 1
            return None
        done = self._bar() if self._start != self._end else None
        self._start, self._end = self._buckets.bucket(ts)
        self._open = self._high = self._low = self._close = price
        self._volume = tick.qty
        self._oi = tick.oi
        return done


class BarResampler(_OpenBar):
    """Builds ``target_tf_s`` bars from one symbol's ``source_tf_s`` bars.

    A target bar is returned by the ``on_bar`` call whose source bar ends its bucket
    (for 1m -> 5m the 09:19 bar completes 09:15-09:20; for 60m the 15:29 bar completes
    the 15:15 bar, which the close cuts short). When source bars are missing at the end
    of a bucket, the bucket is returned when a bar of a later bucket arrives, or by
    ``flush()``. In the rare case where that later bar also completes its own bucket
    at once (a lone last bar after a gap), the older bar is returned and the newer one
    follows with the next call or ``flush()``, so ``on_bar`` never has to return two.

    Source bars with another timeframe are ignored (``rejected_bars``); bars older than
    the open bucket, or than a bucket already returned, are ignored (``late_bars``).
    """

    __slots__ = (
        "_buckets",
        "_source_ns",
        "late_bars",
        "rejected_bars",
        "source_tf_s",
        "target_tf_s",
    )

    def __init__(self, symbol: str, source_tf_s: int, target_tf_s: int) -> None:
        _check_timeframe(source_tf_s)
        self._buckets = SessionBuckets(target_tf_s)
        if target_tf_s % source_tf_s:
            raise ValueError(
                f"target timeframe {target_tf_s} s is not a multiple of the source "
                f"timeframe {source_tf_s} s"
            )
        self.symbol = symbol
        self.source_tf_s = source_tf_s
        self.target_tf_s = self._tf_s = target_tf_s
        self._source_ns = source_tf_s * NS_PER_SECOND
        self.late_bars = 0
        self.rejected_bars = 0
        self._start = self._end = _NEVER
        self._open = self._high = self._low = self._close = 0.0
        self._volume = self._oi = 0

    def on_bar(self, bar: Bar) -> Bar | None:
        if bar.timeframe_s != self.source_tf_s:
            self.rejected_bars += 1
            return None
        ts = bar.ts_ns
        if self._start <= ts < self._end:
            if bar.high > self._high:
                self._high = bar.high
            if bar.low < self._low:
                self._low = bar.low
            self._close = bar.close
            self._volume += bar.volume
            self._oi = bar.oi
            if ts + self._source_ns >= self._end:
                done = self._bar()
                self._start = self._end
                return done
            return None
        if ts < self._end:
            self.late_bars += 1
            return None
        done = self._bar() if self._start != self._end else None
        self._start, self._end = self._buckets.bucket(ts)
        self._open, self._high, self._low, self._close = bar.open, bar.high, bar.low, bar.close
        self._volume = bar.volume
        self._oi = bar.oi
        if ts + self._source_ns >= self._end and done is None:
            done = self._bar()
            self._start = self._end
        return done
