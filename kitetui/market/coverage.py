"""Which sessions a replay's data lack: said once at load, never looked for per bar.

A vendor's file can skip whole sessions (a weekday the exchange traded, between the
file's first and last day, with no row) or stop early in one (only 09:15-09:19 of a
day). Either way a backtest's "trading days" and signals silently mean less than they
say; these checks name the days, per symbol (``SessionMissing``, ``SessionShort``,
WARNING: the report lists them).

Per stream the work is per day: a lazy stream's ``ts_ns`` column is read at once, any
other stream is walked a day at a time by binary search (streams are in time order).
Days of a year the calendar does not cover are not judged (``CalendarNotCovered``
already says so: every weekday would be taken for a session), nor are options: a strike
trades when someone trades it, and a complete file of a deep one ends at its last trade
(a day's chain gave 31 false ``SessionShort`` lines).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from datetime import date, timedelta

import numpy as np

from kitetui.clock import minute_of
from kitetui.domain import NS_PER_SECOND, Bar, Event, Tick
from kitetui.events import EventKind
from kitetui.market.calendar import TradingCalendar
from kitetui.market.lazy_items import LazyItems

SHORT_BY_MINUTES = 60  # data that ends this long before its session's close is short
LISTED_AT_MOST = 12  # days named in one event; the rest are counted

_DAY_NS = 86_400 * NS_PER_SECOND
_IST_NS = 19_800 * NS_PER_SECOND
_EPOCH = date(1970, 1, 1)

Item = Tick | Bar


def session_coverage(
    streams: Sequence[Sequence[Item]],
    calendar: TradingCalendar,
    unjudged: Collection[str] = (),
) -> tuple[Event, ...]:
    """``SessionMissing`` and ``SessionShort`` events for the streams (one symbol each),
    one event per symbol and kind, naming the days; ``unjudged`` symbols (options) are
    left out."""
    events: list[Event] = []
    for stream in streams:
        if not stream:
            continue
        symbol = stream[0].symbol
        if symbol in unjudged:
            continue
        ends = _day_ends(stream)
        days = {number: _EPOCH + timedelta(days=number) for number in ends}
        missing = _missing(sorted(days.values()), calendar)
        if missing:
            events.append(_said(EventKind.SESSION_MISSING, symbol, missing, "has no data on"))
        short = [
            day
            for number, day in days.items()
            if calendar.covers(day) and _ends_early(ends[number], number, day, calendar)
        ]
        if short:
            what = f"has data ending over {SHORT_BY_MINUTES} min before the session's close on"
            events.append(_said(EventKind.SESSION_SHORT, symbol, sorted(short), what))
    return tuple(events)


def _missing(days: list[date], calendar: TradingCalendar) -> list[date]:
    """Sessions of the calendar between the first and the last day with no data."""
    present = set(days)
    return [
        day
        for day in calendar.trading_days(days[0], days[-1])
        if day not in present and calendar.covers(day)
    ]


def _ends_early(end_ns: int, number: int, day: date, calendar: TradingCalendar) -> bool:
    times = calendar.session_times(day)
    if times is None:
        return False  # data on a holiday: DataOnHoliday says that
    close_ns = number * _DAY_NS - _IST_NS + minute_of(times[1]) * 60 * NS_PER_SECOND
    return end_ns < close_ns - SHORT_BY_MINUTES * 60 * NS_PER_SECOND


def _day_ends(stream: Sequence[Item]) -> dict[int, int]:
    """IST day number -> the end of the day's last item (a bar's end, a tick's time)."""
    first = stream[0]
    span_ns = first.timeframe_s * NS_PER_SECOND if isinstance(first, Bar) else 0
    if isinstance(stream, LazyItems):
        ts = stream.columns()["ts_ns"]
        numbers = (ts + _IST_NS) // _DAY_NS
        lasts = np.append(np.flatnonzero(np.diff(numbers)), len(ts) - 1)
        return {int(numbers[i]): int(ts[i]) + span_ns for i in lasts}
    ends: dict[int, int] = {}
    index, size = 0, len(stream)
    while index < size:
        number = (stream[index].ts_ns + _IST_NS) // _DAY_NS
        index = bisect_left(stream, (number + 1) * _DAY_NS - _IST_NS, index + 1, key=_ts)
        ends[number] = stream[index - 1].ts_ns + span_ns
    return ends


def _ts(item: Item) -> int:
    return item.ts_ns


def _said(kind: EventKind, symbol: str, days: list[date], what: str) -> Event:
    named = ", ".join(day.isoformat() for day in days[:LISTED_AT_MOST])
    more = f" and {len(days) - LISTED_AT_MOST} more" if len(days) > LISTED_AT_MOST else ""
    return Event(
        ts_ns=0,
        kind=kind,
        level="WARNING",
        symbol=symbol,
        message=f"{symbol} {what} {len(days)} session(s): {named}{more}",
        data={"days": [day.isoformat() for day in days]},
    )
