"""One trading day's clock: when entries stop, when intraday positions are squared off,
when the session ends — from the calendar's own windows, not fixed times.

The config's session times (``entry_cutoff`` 15:00, ``square_off`` 15:20,
``square_off_fno`` 15:25) are written for a regular 09:15-15:30 session. Read as
distances from the close, they hold for any session: on a Saturday DR drill that closes
at 12:30, entries stop at 12:00 and F&O is squared off at 12:25. A day split into
windows (the 2024 drills) ends at its last window's close. An MIS position must never
outlive its session, and a DAY order never outlives the session it was placed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kitetui.clock import minute_of
from kitetui.config import SessionConfig, parse_clock
from kitetui.market.calendar import NORMAL_SESSION, TradingCalendar


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Minutes of the IST day (0-1439) that matter on ``day``."""

    day: date
    open_minute: int
    close_minute: int
    entry_cutoff_minute: int
    square_off_equity: int
    square_off_fno: int
    special: bool  # hours other than the regular session's
    # (open, close) minutes of each window: a split day (the 2024 DR drills) has two,
    # and its describe names both, not one span over the closed hours between them.
    windows: tuple[tuple[int, int], ...] = ()

    def square_off_minute(self, engine_kind: str) -> int:
        """Equities square off earlier than futures and options, as Zerodha does."""
        return self.square_off_equity if engine_kind == "equity" else self.square_off_fno

    def describe(self) -> str:
        spans = self.windows or ((self.open_minute, self.close_minute),)
        hours = " and ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in spans)
        return (
            f"{self.day}: {hours}, entries until "
            f"{_hhmm(self.entry_cutoff_minute)}, square-off {_hhmm(self.square_off_equity)} "
            f"(equity) / {_hhmm(self.square_off_fno)} (F&O)"
        )


def plan_session(calendar: TradingCalendar, day: date, config: SessionConfig) -> SessionPlan:
    """The day's plan; a day the calendar says is closed (data on a holiday) is planned
    as a regular session, and the caller already says that it is unusual."""
    windows = calendar.session_windows(day) or (NORMAL_SESSION,)
    times = windows[0][0], windows[-1][1]
    open_minute, close_minute = minute_of(times[0]), minute_of(times[1])
    regular_close = minute_of(parse_clock(config.close))

    def before_close(clock: str) -> int:
        return max(open_minute, close_minute - (regular_close - minute_of(parse_clock(clock))))

    return SessionPlan(
        day=day,
        open_minute=open_minute,
        close_minute=close_minute,
        entry_cutoff_minute=before_close(config.entry_cutoff),
        square_off_equity=before_close(config.square_off),
        square_off_fno=before_close(config.square_off_fno),
        special=times != NORMAL_SESSION,
        windows=tuple((minute_of(a), minute_of(b)) for a, b in windows),
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
