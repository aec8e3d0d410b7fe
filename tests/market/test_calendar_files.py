"""An unusable holidays override is a ``CalendarError`` naming file and line, never a
``KeyError`` traceback; coverage of the years a replay spans."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kitetui.market.calendar import CalendarError, nse


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b"", 0, "empty file"),
        (b"day,description\n2026-01-26,x\n", 1, "no 'date' column"),
        (b"date,description\n2026-01-26,ok\n26/01/2026,x\n", 3, "bad date '26/01/2026'"),
        (b"date,description\n1789-07-14,x\n", 2, "outside 1990-2100"),
        (b"date,open,close\n2026-11-08,18:00,\n", 2, "open but no close"),
        (b"date,open,close\n2026-11-08,,19:00\n", 2, "close but no open"),
        (b"date,open,close\n2026-11-08,19:00,18:00\n", 2, "closes (18:00:00) before it opens"),
        (b"date,open,close\n2026-11-08,6pm,7pm\n", 2, "bad time '6pm'"),
        (b"date,description\n2026-01-26,caf\xe9\n", 0, "not UTF-8"),
        (b'date,description\n"2026-01-26,x\n', 2, "bad date '2026-01-26,x'"),  # open quote
        # a date twice is most likely a typo for another (which would go unlisted)
        (b"date,description\n2026-01-26,x\n2026-01-26,y\n", 3, "already listed on line 2"),
        (b"date,open,close\n2026-11-08,,\n2026-11-08,18:00,19:00\n", 3, "already listed"),
        (b"date,open,close\n2026-11-08,18:00,19:00\n2026-11-08,,\n", 3, "already listed"),
        (b"date,open,close\n2026-11-08,18:00,19:00\n2026-11-08,18:30,19:30\n", 3, "overlaps"),
    ],
)
def test_nse_with_bad_override_raises_calendar_error(
    tmp_path: Path, content: bytes, line: int, reason: str
) -> None:
    path = tmp_path / "holidays.csv"
    path.write_bytes(content)
    with pytest.raises(CalendarError) as caught:
        nse(path)
    error = caught.value
    assert error.path == path and reason in error.reason
    if line:
        assert error.line == line and f"line {line}: " in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_nse_with_override_that_is_not_a_file_raises(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "holidays.csv"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(CalendarError, match=r"file not found|is a directory"):
        nse(path)


def test_uncovered_years_with_replay_days_lists_each_year_once() -> None:
    days = [date(2017, 1, 2), date(2017, 6, 1), date(2022, 11, 18), date(2030, 1, 1)]
    assert nse().uncovered_years(days) == (2017, 2030)
    assert nse().uncovered_years([date(2023, 4, 3)]) == ()


def test_an_override_may_give_a_date_two_sessions_that_do_not_overlap(tmp_path: Path) -> None:
    path = tmp_path / "holidays.csv"
    path.write_text("date,open,close\n2026-11-08,09:15,11:00\n2026-11-08,18:00,19:00\n")
    assert len(nse(path).session_windows(date(2026, 11, 8))) == 2


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_an_override_that_is_no_regular_file_or_too_large_is_refused_unread(
    tmp_path: Path, kind: str
) -> None:
    """``/dev/zero`` took all memory (a MemoryError traceback) and a FIFO hung the
    start: each is one line now, without reading it."""
    import os

    if kind == "fifo":
        path = tmp_path / "holidays.csv"
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "holidays.csv"
        path.write_text("date,description\n" + "2026-01-26,x\n" * 100_000)
    with pytest.raises(CalendarError, match=r"not a regular file|larger than 1024 KiB"):
        nse(path)
