"""Time as the market sees it: IST wall clock helpers and the injectable data clock.

Everything that asks "what time is it?" asks a ``DataClock``. In replay it is moved by
the feed to the data's own timestamps, so square-off, entry cut-off and day rolls
happen exactly when they did in the data, at any replay speed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
_IST_OFFSET_NS = (5 * 3600 + 30 * 60) * 1_000_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000


class DataClock:
    """The current data time in epoch ns; set by the feed, read by everyone else."""

    __slots__ = ("now_ns",)

    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns


def ist_datetime(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(IST)


def ist_day_number(ts_ns: int) -> int:
    """Days since the epoch in IST: a cheap integer key for 'same trading day'."""
    return (ts_ns + _IST_OFFSET_NS) // _NS_PER_DAY


def ist_minute_of_day(ts_ns: int) -> int:
    return ((ts_ns + _IST_OFFSET_NS) % _NS_PER_DAY) // 60_000_000_000


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def ist_date(ts_ns: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + ist_day_number(ts_ns))


def ist_day_start_ns(day: date) -> int:
    """Epoch ns of ``day``'s IST midnight: ``ist_day_number(ts)`` is ``day``'s number
    exactly for ``ts`` in ``[ist_day_start_ns(day), ist_day_start_ns(day) + one day)``."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _NS_PER_DAY - _IST_OFFSET_NS


def date_of_day_number(day: int) -> date:
    """The date of an ``ist_day_number``: many stamps grouped by the integer first
    (cheap) become dates once per day."""
    return date.fromordinal(_EPOCH_ORDINAL + day)


def minute_of(clock_time: time) -> int:
    return clock_time.hour * 60 + clock_time.minute


def format_ist(ts_ns: int) -> str:
    if ts_ns <= 0:
        return "--"
    return ist_datetime(ts_ns).strftime("%Y-%m-%d %H:%M:%S IST")
