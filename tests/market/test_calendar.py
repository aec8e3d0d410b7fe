"""NSE trading calendar: shipped lists checked against the real data, and the rules."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from kitetui.clock import IST
from kitetui.market.calendar import NORMAL_SESSION, TradingCalendar, nse


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return nse()


def _ts(d: date, hh: int, mm: int, ss: int = 0) -> int:
    return int(datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=IST).timestamp()) * 10**9


def _kite_daily_days(shared_data: Path) -> set[date]:
    days: set[date] = set()
    files = sorted((shared_data / "daily" / "kite_nifty50_day_addyfu").glob("*_day_2000d.csv.gz"))
    assert files, "no Kite daily files"
    for path in files:
        with gzip.open(path, "rt") as fh:
            next(fh)
            days.update(date.fromisoformat(line[:10]) for line in fh if line.strip())
    return days


@pytest.fixture(scope="module")
def kite_days(shared_data: Path) -> set[date]:
    return _kite_daily_days(shared_data)


# -- against the real data ------------------------------------------------------------
def test_calendar_with_kite_daily_data_matches_every_day(cal, kite_days):
    first, last = date(2020, 7, 14), date(2026, 1, 9)
    day, mismatches = first, []
    while day <= last:
        if cal.is_trading_day(day) != (day in kite_days):
            mismatches.append((day.isoformat(), cal.is_trading_day(day), day in kite_days))
        day += timedelta(days=1)
    assert mismatches == []


def test_calendar_with_weekday_gaps_2021_2025_lists_each_as_holiday(cal, kite_days):
    day, missing = date(2021, 1, 1), []
    while day <= date(2025, 12, 31):
        if day.weekday() < 5 and day not in kite_days:
            missing.append(day)
        day += timedelta(days=1)
    assert missing, "expected some weekday holidays"
    assert [d for d in missing if d not in cal.holidays] == []


def test_calendar_with_listed_holidays_have_no_data(cal, kite_days):
    in_data_range = [h for h in cal.holidays if date(2020, 7, 14) <= h <= date(2026, 1, 9)]
    assert len(in_data_range) > 60
    assert sorted(h for h in in_data_range if h in kite_days) == []


def test_calendar_with_2016_and_2023_and_2024_minute_files_agrees(cal, shared_data):
    base = shared_data / "intraday_1min"
    checks = [
        (
            base / "kite_fno_stocks_2016_kuldeeptp" / "ACC.csv.gz",
            1,
            date(2016, 8, 16),
            date(2016, 9, 9),
        ),
        (
            base / "kite_bank_stocks_2023_lullaharsh1" / "SBIN.csv.gz",
            0,
            date(2023, 4, 3),
            date(2023, 6, 1),
        ),
    ]
    for path, col, first, last in checks:
        with gzip.open(path, "rt") as fh:
            next(fh)
            days = {date.fromisoformat(line.split(",")[col].strip()[:10]) for line in fh}
        assert set(cal.trading_days(first, last)) == days, path.name
    # NIFTY_2024 has vendor gaps (missing sessions), so only check one direction there
    with gzip.open(base / "nifty50_index_2024_sainipankaj15" / "NIFTY_2024.csv.gz", "rt") as fh:
        next(fh)
        nifty_days = {datetime.strptime(line.split(",")[1], "%Y%m%d").date() for line in fh}
    assert all(cal.is_trading_day(d) for d in nifty_days)
    assert {date(2024, 1, 20), date(2024, 3, 2), date(2024, 5, 18)} <= nifty_days


# -- known dates ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2023, 4, 4), False),  # Mahavir Jayanti
        (date(2023, 4, 5), True),
        (date(2023, 4, 7), False),  # Good Friday
        (date(2023, 4, 8), False),  # Saturday
        (date(2023, 4, 9), False),  # Sunday
        (date(2016, 9, 5), False),  # Ganesh Chaturthi (seen in 2016 data)
        (date(2020, 5, 25), False),  # Id-ul-Fitr (published list only)
        (date(2024, 1, 22), False),  # special holiday
        (date(2024, 1, 20), True),  # Saturday full session
        (date(2024, 3, 2), True),  # Saturday DR session
        (date(2025, 2, 1), True),  # Saturday budget
        (date(2026, 2, 1), True),  # Sunday budget
        (date(2026, 1, 15), False),  # Maharashtra civic polls
        (date(2023, 11, 12), True),  # Sunday Muhurat
        (date(2024, 11, 1), True),  # weekday Muhurat
    ],
)
def test_is_trading_day_with_known_date(cal, day, open_):
    assert cal.is_trading_day(day) is open_


def test_session_times_with_muhurat_and_normal_and_closed(cal):
    assert cal.session_times(date(2024, 11, 1)) == (time(18, 0), time(19, 0))
    assert cal.session_times(date(2025, 10, 21)) == (time(13, 45), time(14, 45))
    assert cal.session_times(date(2023, 4, 5)) == NORMAL_SESSION
    assert cal.session_times(date(2023, 4, 7)) is None
    assert cal.session_times(date(2024, 3, 2)) == (time(9, 15), time(12, 30))
    assert cal.session_windows(date(2024, 3, 2)) == (
        (time(9, 15), time(10, 0)),
        (time(11, 30), time(12, 30)),
    )


def test_next_and_previous_with_holiday_cluster_skip(cal):
    # 2023-04-04 Tue holiday, 04-07 Fri holiday, weekend after
    assert cal.next_trading_day(date(2023, 4, 3)) == date(2023, 4, 5)
    assert cal.next_trading_day(date(2023, 4, 6)) == date(2023, 4, 10)
    assert cal.previous_trading_day(date(2023, 4, 10)) == date(2023, 4, 6)
    assert cal.previous_trading_day(date(2023, 4, 5)) == date(2023, 4, 3)
    assert cal.next_trading_day(date(2024, 1, 19)) == date(2024, 1, 20)  # Saturday session


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        (date(2023, 4, 3), date(2023, 4, 10), 3),  # 5th, 6th, 10th
        (date(2023, 4, 3), date(2023, 4, 3), 0),
        (date(2023, 4, 10), date(2023, 4, 3), 0),
        (date(2023, 4, 6), date(2023, 4, 7), 0),  # only a holiday in between
        (date(2024, 1, 19), date(2024, 1, 23), 2),  # Sat 20th trades, Mon 22nd closed
    ],
)
def test_sessions_between_with_holidays(cal, a, b, count):
    assert cal.sessions_between(a, b) == count


def test_trading_days_inclusive(cal):
    assert cal.trading_days(date(2023, 4, 3), date(2023, 4, 10)) == [
        date(2023, 4, 3),
        date(2023, 4, 5),
        date(2023, 4, 6),
        date(2023, 4, 10),
    ]


# -- phases ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hh", "mm", "ss", "phase"),
    [
        (8, 59, 59, "CLOSED"),
        (9, 0, 0, "PRE_OPEN"),
        (9, 14, 59, "PRE_OPEN"),
        (9, 15, 0, "OPEN"),
        (15, 29, 59, "OPEN"),
        (15, 30, 0, "POST_CLOSE"),
        (15, 59, 59, "POST_CLOSE"),
        (16, 0, 0, "CLOSED"),
    ],
)
def test_phase_with_boundaries_on_normal_day(cal, hh, mm, ss, phase):
    assert cal.phase(_ts(date(2023, 4, 5), hh, mm, ss)) == phase


@pytest.mark.parametrize(
    ("day", "hh", "mm", "phase"),
    [
        (date(2023, 4, 7), 10, 0, "CLOSED"),  # holiday
        (date(2023, 4, 8), 10, 0, "CLOSED"),  # Saturday
        (date(2024, 11, 1), 10, 0, "CLOSED"),  # Muhurat day, morning
        (date(2024, 11, 1), 17, 45, "PRE_OPEN"),
        (date(2024, 11, 1), 18, 0, "OPEN"),
        (date(2024, 11, 1), 19, 0, "POST_CLOSE"),
        (date(2024, 3, 2), 10, 15, "POST_CLOSE"),  # between the DR sessions
        (date(2024, 3, 2), 10, 45, "CLOSED"),
        (date(2024, 3, 2), 11, 20, "PRE_OPEN"),
        (date(2024, 3, 2), 11, 30, "OPEN"),
    ],
)
def test_phase_with_special_days(cal, day, hh, mm, phase):
    assert cal.phase(_ts(day, hh, mm)) == phase


def test_phase_reads_ist_not_utc(cal):
    at_0345_utc = int(datetime(2023, 4, 5, 3, 45, tzinfo=UTC).timestamp()) * 10**9
    assert cal.phase(at_0345_utc) == "OPEN"  # 09:15 IST


# -- override, coverage, construction -------------------------------------------------
def test_override_with_holiday_and_session_rows(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text(
        "date,open,close,description\n"
        "2026-11-08,13:45,14:45,Muhurat (announced later)\n"
        "2026-12-31,,,ad hoc closure\n"
    )
    cal = nse(path)
    assert cal.is_trading_day(date(2026, 11, 8))
    assert cal.session_times(date(2026, 11, 8)) == (time(13, 45), time(14, 45))
    assert not cal.is_trading_day(date(2026, 12, 31))
    assert not nse().is_trading_day(date(2026, 11, 8))


def test_override_with_description_only_file(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("date,description\n2026-12-30,ad hoc\n")
    assert not nse(path).is_trading_day(date(2026, 12, 30))


def test_covers_with_listed_and_unlisted_years(cal):
    assert cal.covers(date(2016, 5, 1))
    assert cal.covers(date(2026, 12, 31))
    assert not cal.covers(date(2019, 6, 1))
    assert not cal.covers(date(2027, 1, 4))
    assert "Muhurat" in cal.coverage_note(2026)
    assert "not covered" in cal.coverage_note(2019)


def test_trading_calendar_with_plain_arguments():
    cal = TradingCalendar(
        [date(2030, 1, 1)], {date(2030, 1, 5): (time(10, 0), time(11, 0))}, covered_years=[2030]
    )
    assert not cal.is_trading_day(date(2030, 1, 1))
    assert cal.is_trading_day(date(2030, 1, 5))  # Saturday special
    assert cal.session_times(date(2030, 1, 2)) == NORMAL_SESSION
    assert cal.covers(date(2030, 6, 1))
    with pytest.raises(ValueError):
        TradingCalendar([], {date(2030, 1, 5): (time(11, 0), time(10, 0))})


def test_shipped_files_are_sorted_and_weekday_holidays():
    cal = nse()
    assert all(h.weekday() < 5 for h in cal.holidays)
    assert not set(cal.holidays) & set(cal.special_sessions)
    assert {h.year for h in cal.holidays} == set(cal.covered_years)
