"""Which IST times of which days a data file's rows are kept for: the loaders' filter.

Most days trade 09:15-15:30, and a row outside that (a pre-open value, Kite's 15:30
closing candle, a vendor's after-hours filler) is dropped. A special session is its own
windows instead: a Muhurat evening (18:15-19:15 on a Sunday), a DR drill's two short
windows. Filtering every day by the regular hours dropped a Muhurat session's data
whole, so it never reached a replay, with only an INFO note about rows "outside
session". ``SessionHours.of(calendar.special_sessions)`` keeps a special day's rows
inside its own windows as well as inside the regular hours: a file with regular-hours
rows on such a day (a synthetic year, a vendor's odd day) loads as it always did, and
what the day trades is the session plan's to decide, from the same calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time

import numpy as np

from kitetui.market.bars import DAY_S, IST_OFFSET_S, SESSION_CLOSE_S, SESSION_OPEN_S

_NS = 1_000_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Window = tuple[int, int]  # seconds after IST midnight: [open, close)


@dataclass(frozen=True, slots=True)
class SessionHours:
    """``special``: (IST day number, its windows) for the days that are not regular;
    part of the load cache's key (a file loaded under other hours is parsed again)."""

    special: tuple[tuple[int, tuple[Window, ...]], ...] = ()
    _by_day: dict[int, tuple[Window, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_day", dict(self.special))

    @classmethod
    def of(cls, special_sessions: Mapping[date, Sequence[tuple[time, time]]]) -> SessionHours:
        """From a calendar's special sessions (``TradingCalendar.special_sessions``)."""
        return cls(
            tuple(
                (day.toordinal() - _EPOCH_ORDINAL, tuple(_seconds(w) for w in windows))
                for day, windows in sorted(special_sessions.items())
            )
        )

    def windows_of(self, day_number: int) -> tuple[Window, ...] | None:
        """The windows of a special day (IST day number), None for a regular one."""
        return self._by_day.get(day_number)

    def inside(self, ts_ns: int) -> bool:
        day, tod = divmod(ts_ns // _NS + IST_OFFSET_S, DAY_S)
        if SESSION_OPEN_S <= tod < SESSION_CLOSE_S:
            return True
        windows = self._by_day.get(day)
        return windows is not None and any(start <= tod < end for start, end in windows)

    def inside_mask(self, ts_ns: np.ndarray) -> np.ndarray:
        """``inside`` for a column of timestamps."""
        day, tod = np.divmod(ts_ns // _NS + IST_OFFSET_S, DAY_S)
        inside = (tod >= SESSION_OPEN_S) & (tod < SESSION_CLOSE_S)
        for number, windows in self.special:
            on = day == number
            if on.any():
                for start, end in windows:
                    inside |= on & (tod >= start) & (tod < end)
        return inside


def _seconds(window: tuple[time, time]) -> Window:
    start, end = window
    return (
        start.hour * 3600 + start.minute * 60 + start.second,
        end.hour * 3600 + end.minute * 60 + end.second,
    )


#: Every day regular: what the loaders apply when no calendar is given.
REGULAR = SessionHours()
