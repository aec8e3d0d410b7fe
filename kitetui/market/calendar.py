"""The NSE trading calendar: which days trade, when the bell rings, what phase it is now.

Everything that rolls a day, counts sessions or decides "is the market open?" asks a
``TradingCalendar`` rather than guessing from weekdays. The shipped data
(``kitetui/data/calendar/``) holds two small files:

* ``nse_holidays.csv`` (``date,description``): weekdays on which NSE equity and F&O had
  no session at all.
* ``nse_special_sessions.csv`` (``date,open,close,description``): sessions with their own
  hours, i.e. weekend sessions (budget days, DR-site drills, Muhurat on a weekend), Muhurat
  trading on a weekday whose normal session is closed, and one outage. A date may have
  several rows when the session was split (the 2024 DR drills); the windows are kept.

A special session wins over a holiday and over the weekend. Days outside the covered
years are treated as "weekdays trade", and ``covers()`` says whether the answer is backed
by a list; ``coverage_note()`` says what is known to be missing for a covered year.
Phases are half-open windows around each session: PRE_OPEN is the 15 minutes before an
open (09:00-09:15 on a normal day), OPEN is [open, close), POST_CLOSE is the 30 minutes
after a close (15:30-16:00), everything else is CLOSED.

A calendar file that cannot be used (missing, a directory, not UTF-8, no ``date``
column, a bad date or time, a window that closes before it opens) raises
``CalendarError`` naming the file and line, never a bare ``KeyError``/``ValueError``
traceback: ``calendar.holidays_override`` is the user's file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time, timedelta
from pathlib import Path

from kitetui.clock import ist_date, ist_minute_of_day, minute_of
from kitetui.market.text_limits import TooLarge, read_file

__all__ = [
    "NORMAL_SESSION",
    "NSE_COVERAGE_NOTES",
    "NSE_COVERED_YEARS",
    "CalendarError",
    "TradingCalendar",
    "nse",
]

NORMAL_SESSION: tuple[time, time] = (time(9, 15), time(15, 30))
PRE_OPEN_MINUTES = 15
POST_CLOSE_MINUTES = 30

_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "calendar"
_HOLIDAYS_FILE = _DATA_DIR / "nse_holidays.csv"
_SPECIAL_FILE = _DATA_DIR / "nse_special_sessions.csv"

NSE_COVERED_YEARS: tuple[int, ...] = (2016, 2020, 2021, 2022, 2023, 2024, 2025, 2026)

NSE_COVERAGE_NOTES: Mapping[int, str] = {
    2016: "Holidays from a published list; only Aug 16 - Sep 9 checked against data.",
    2020: "Holidays from a published list; Jul 14 onwards checked against Kite daily data.",
    2021: "Checked against Kite daily data.",
    2022: "Checked against Kite daily data.",
    2023: "Checked against Kite daily data.",
    2024: "Checked against Kite daily data.",
    2025: "Checked against Kite daily data.",
    2026: (
        "Holidays from NSE's 2026 list incl. the added 2026-01-15; only Jan 1-9 checked "
        "against data. Muhurat session (Diwali Laxmi Pujan, Sun 2026-11-08) is not listed: "
        "its timings were not found. Unannounced closures after the list date are unknown."
    ),
}


class CalendarError(ValueError):
    """A calendar file that cannot be used: ``path: line N: reason``."""

    def __init__(self, path: str | Path, reason: str, line: int = 0) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"line {line}: " if line else ""
        super().__init__(f"{self.path}: {where}{reason}")


Window = tuple[time, time]
SessionSpec = Window | Sequence[Window]


def _normalise_windows(spec: SessionSpec) -> tuple[Window, ...]:
    if len(spec) == 2 and all(isinstance(part, time) for part in spec):
        windows: list[Window] = [(spec[0], spec[1])]  # type: ignore[index]
    else:
        windows = [(w[0], w[1]) for w in spec]  # type: ignore[index,union-attr]
    windows.sort()
    for open_, close in windows:
        if not open_ < close:
            raise ValueError(f"session window must open before it closes: {open_}-{close}")
    return tuple(windows)


class TradingCalendar:
    """Trading days and session windows; immutable once built."""

    __slots__ = ("_covered", "_digest", "_holidays", "_notes", "_special")

    def __init__(
        self,
        holidays: Iterable[date],
        special_sessions: Mapping[date, SessionSpec] | None = None,
        covered_years: Iterable[int] = (),
        coverage_notes: Mapping[int, str] | None = None,
    ) -> None:
        self._holidays = frozenset(holidays)
        self._special = {
            day: _normalise_windows(spec) for day, spec in (special_sessions or {}).items()
        }
        self._covered = frozenset(covered_years)
        self._notes = dict(coverage_notes or {})
        self._digest = ""

    def days_digest(self) -> str:
        """A digest of which days trade (the holidays, the special sessions' days): what
        a parsed file's cache key holds of the calendar when the load depends on it (a
        continuous future's series by date, ``kitetui.market.futures_series``), so an
        override that moves an expiry is not answered from a load made without it."""
        if not self._digest:
            days = f"{sorted(self._holidays)}|{sorted(self._special)}"
            self._digest = hashlib.sha256(days.encode()).hexdigest()[:16]
        return self._digest

    # -- days -------------------------------------------------------------------------
    @property
    def holidays(self) -> frozenset[date]:
        return self._holidays

    @property
    def special_sessions(self) -> Mapping[date, tuple[Window, ...]]:
        return dict(self._special)

    @property
    def covered_years(self) -> frozenset[int]:
        return self._covered

    def covers(self, d: date) -> bool:
        """True when ``d``'s year has a holiday list behind it (see ``coverage_note``)."""
        return d.year in self._covered

    def uncovered_years(self, days: Iterable[date]) -> tuple[int, ...]:
        """The years among ``days`` that have no holiday list (sorted, each once)."""
        return tuple(sorted({d.year for d in days} - self._covered))

    def coverage_note(self, year: int) -> str:
        if year not in self._covered:
            return f"{year} is not covered: weekends closed, every weekday assumed open."
        return self._notes.get(year, "")

    def is_trading_day(self, d: date) -> bool:
        if d in self._special:
            return True
        return d.weekday() < 5 and d not in self._holidays

    def next_trading_day(self, d: date) -> date:
        day = d + timedelta(days=1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day

    def previous_trading_day(self, d: date) -> date:
        day = d - timedelta(days=1)
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def trading_days(self, a: date, b: date) -> list[date]:
        """Trading days from ``a`` to ``b``, both inclusive."""
        out: list[date] = []
        day = a
        while day <= b:
            if self.is_trading_day(day):
                out.append(day)
            day += timedelta(days=1)
        return out

    def sessions_between(self, a: date, b: date) -> int:
        """Number of trading days ``d`` with ``a < d <= b`` (0 when ``b <= a``)."""
        if b <= a:
            return 0
        return len(self.trading_days(a + timedelta(days=1), b))

    # -- hours ------------------------------------------------------------------------
    def session_windows(self, d: date) -> tuple[Window, ...]:
        """All trading windows of the day (two for a split session), empty when closed."""
        if d in self._special:
            return self._special[d]
        if self.is_trading_day(d):
            return (NORMAL_SESSION,)
        return ()

    def session_times(self, d: date) -> tuple[time, time] | None:
        """(first open, last close) of the day, or None when the exchange is closed."""
        windows = self.session_windows(d)
        if not windows:
            return None
        return windows[0][0], windows[-1][1]

    def phase(self, ts_ns: int) -> str:
        """CLOSED, PRE_OPEN, OPEN or POST_CLOSE at epoch-ns ``ts_ns`` (read in IST)."""
        windows = self.session_windows(ist_date(ts_ns))
        if not windows:
            return "CLOSED"
        minute = ist_minute_of_day(ts_ns)
        for open_, close in windows:
            if minute_of(open_) <= minute < minute_of(close):
                return "OPEN"
        for open_, close in windows:
            if minute_of(close) <= minute < minute_of(close) + POST_CLOSE_MINUTES:
                return "POST_CLOSE"
            if minute_of(open_) - PRE_OPEN_MINUTES <= minute < minute_of(open_):
                return "PRE_OPEN"
        return "CLOSED"


# -- loading ---------------------------------------------------------------------------
_EARLIEST, _LATEST = date(1990, 1, 1), date(2100, 12, 31)
MAX_CALENDAR_BYTES = 1 << 20  # a century of holidays is ~100 KB


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of every non-blank row; ``CalendarError`` for an unusable file (a
    FIFO or a device is refused before it is opened: ``/dev/zero`` took all memory, a
    FIFO hung the start for good)."""
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise CalendarError(path, "is not a regular file")
        text = read_file(path, MAX_CALENDAR_BYTES).decode("utf-8-sig")
        with io.StringIO(text, newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                raise CalendarError(path, "empty file (expected a date,description header)")
            names = {name.strip() for name in reader.fieldnames if name}
            if "date" not in names:
                shown = ",".join(reader.fieldnames)[:80]
                raise CalendarError(path, f"no 'date' column in the header {shown!r}", 1)
            rows = []
            for row in reader:
                values = {
                    k.strip(): (v if isinstance(v, str) else "").strip()
                    for k, v in row.items()
                    if k
                }
                if any(values.values()):
                    rows.append((reader.line_num, values))
            return rows
    except TooLarge:
        raise CalendarError(path, f"larger than {MAX_CALENDAR_BYTES // 1024} KiB") from None
    except FileNotFoundError:
        raise CalendarError(path, "file not found") from None
    except IsADirectoryError:
        raise CalendarError(path, "is a directory, not a CSV file") from None
    except OSError as exc:
        raise CalendarError(path, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CalendarError(path, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})") from None
    except csv.Error as exc:
        raise CalendarError(path, f"not a CSV file: {exc}") from None


def _parse_day(path: Path, line: int, text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CalendarError(path, f"bad date {text[:40]!r} (expected YYYY-MM-DD)", line) from None
    if not _EARLIEST <= day <= _LATEST:
        raise CalendarError(path, f"date {day} is outside {_EARLIEST.year}-{_LATEST.year}", line)
    return day


def _parse_time(path: Path, line: int, text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise CalendarError(path, f"bad time {text[:40]!r} (expected HH:MM)", line) from None


def _load_into(
    path: Path, holidays: set[date], special: dict[date, list[Window]], *, replace: bool
) -> None:
    """Add a file's rows: rows with an ``open`` value are sessions, the rest holidays.

    With ``replace`` (override files) the file's sessions for a date replace the shipped
    ones instead of adding windows to them.
    """
    replaced: set[date] = set()
    listed: dict[date, tuple[int, bool]] = {}  # the file's line of each date, and a session?
    for line, row in _read_rows(path):
        day = _parse_day(path, line, row.get("date", ""))
        _once_or_sessions(path, line, day, bool(row.get("open")), listed)
        if row.get("open"):
            if not row.get("close"):
                raise CalendarError(path, f"session on {day} has an open but no close", line)
            window = (_parse_time(path, line, row["open"]), _parse_time(path, line, row["close"]))
            if not window[0] < window[1]:
                raise CalendarError(
                    path, f"session on {day} closes ({window[1]}) before it opens", line
                )
            if replace and day not in replaced:
                special.pop(day, None)
                replaced.add(day)
            windows = special.setdefault(day, [])
            for other in windows:
                if window[0] < other[1] and other[0] < window[1]:
                    raise CalendarError(
                        path, f"session on {day} overlaps its session {other[0]}-{other[1]}", line
                    )
            windows.append(window)
        elif row.get("close"):
            raise CalendarError(path, f"session on {day} has a close but no open", line)
        else:
            holidays.add(day)


def _once_or_sessions(
    path: Path, line: int, day: date, session: bool, listed: dict[date, tuple[int, bool]]
) -> None:
    """A date is in a file once as a holiday, or on a row per session window: a date
    twice is most likely a typo for another, which would go unlisted without a word."""
    earlier = listed.get(day)
    listed.setdefault(day, (line, session))
    if earlier is None or (session and earlier[1]):
        return
    raise CalendarError(path, f"date {day} is already listed on line {earlier[0]}", line)


def nse(override: Path | None = None) -> TradingCalendar:
    """The NSE calendar from the shipped files, plus an optional override CSV.

    The override has the columns ``date,description`` (each row adds a holiday), and may
    add ``open,close`` (``HH:MM``): a row with ``open`` filled is a special session on that
    date, replacing any shipped session of that date. Use it for closures or sessions
    announced after the shipped lists (e.g. the 2026 Muhurat hour). An unusable file
    raises ``CalendarError`` (file, line, reason).
    """
    holidays: set[date] = set()
    special: dict[date, list[Window]] = {}
    _load_into(_HOLIDAYS_FILE, holidays, special, replace=False)
    _load_into(_SPECIAL_FILE, holidays, special, replace=False)
    if override is not None:
        _load_into(Path(override), holidays, special, replace=True)
    return TradingCalendar(
        holidays,
        {day: tuple(windows) for day, windows in special.items()},
        covered_years=NSE_COVERED_YEARS,
        coverage_notes=NSE_COVERAGE_NOTES,
    )
