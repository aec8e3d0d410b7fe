"""Sessions the data lack or cut short are said at load (``SessionMissing``,
``SessionShort``), per symbol and naming the days; the calendar's closed days are not."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from kitetui.clock import IST
from kitetui.domain import NS_PER_SECOND, Bar
from kitetui.market.calendar import nse
from kitetui.market.coverage import session_coverage
from kitetui.market.loaders import load_candles


def minutes(day: date, first: str = "09:15", last: str = "15:29") -> list[Bar]:
    start = datetime.combine(day, datetime.strptime(first, "%H:%M").time(), IST)
    stop = datetime.combine(day, datetime.strptime(last, "%H:%M").time(), IST)
    out = []
    while start <= stop:
        out.append(Bar("SBIN", int(start.timestamp()) * NS_PER_SECOND, 60, 1, 1, 1, 1, 1))
        start += timedelta(minutes=1)
    return out


def test_coverage_with_weekdays_missing_names_them_and_not_the_weekend() -> None:
    """2023-04-06 (Thu) .. 2023-04-17 (Mon); 04-07 is Good Friday, 04-14 Ambedkar
    Jayanti: closed. 04-10..04-12 are ordinary sessions the file lacks."""
    days = [date(2023, 4, 6), date(2023, 4, 13), date(2023, 4, 17)]
    events = session_coverage([[b for d in days for b in minutes(d)]], nse())
    assert [(e.kind, e.level, e.symbol) for e in events] == [("SessionMissing", "WARNING", "SBIN")]
    assert events[0].message == (
        "SBIN has no data on 3 session(s): 2023-04-10, 2023-04-11, 2023-04-12"
    )


def test_coverage_with_a_day_cut_short_says_it() -> None:
    bars = minutes(date(2023, 4, 5)) + minutes(date(2023, 4, 6), last="09:19")
    events = session_coverage([bars], nse())
    assert [e.kind for e in events] == ["SessionShort"]
    assert events[0].data == {"days": ["2023-04-06"]}


def test_coverage_leaves_options_unjudged() -> None:
    """Probe E: a deep strike's complete file ends at its last trade (13:33): a day's
    chain gave 31 false SessionShort lines. The caller names its options."""
    bars = minutes(date(2023, 4, 5)) + minutes(date(2023, 4, 6), last="13:33")
    assert [e.kind for e in session_coverage([bars], nse())] == ["SessionShort"]
    assert session_coverage([bars], nse(), unjudged={"SBIN"}) == ()


def test_coverage_with_full_days_and_a_split_special_session_says_nothing() -> None:
    drill = minutes(date(2024, 3, 2), last="09:59") + minutes(date(2024, 3, 2), "11:30", "12:29")
    bars = minutes(date(2024, 3, 1)) + drill + minutes(date(2024, 3, 4))
    assert session_coverage([bars], nse()) == ()


def test_coverage_with_real_nifty_2024_names_its_five_missing_sessions(
    shared_data: Path,
) -> None:
    path = shared_data / "intraday_1min/nifty50_index_2024_sainipankaj15/NIFTY_2024.csv.gz"
    bars = load_candles(path, "NIFTY", lazy=True).bars
    events = session_coverage([bars], nse())
    missing = [e for e in events if e.kind == "SessionMissing"]
    assert missing[0].data["days"] == [
        "2024-02-01", "2024-03-04", "2024-04-05", "2024-05-07", "2024-07-10"
    ]  # fmt: skip
