"""A backtest's date window cut from loaded replay data (``DateWindow``, ``clip_sources``)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kitetui.clock import IST
from kitetui.domain import Bar, Tick
from kitetui.market.replay import DateWindow, ReplaySources, clip_sources


def _ns(day: str, clock: str) -> int:
    return int(datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=IST).timestamp()) * 10**9


def _sources() -> ReplaySources:
    bars = tuple(
        Bar("A", _ns(day, clock), 60, 1, 1, 1, 1)
        for day in ("2024-01-01", "2024-01-02", "2024-01-03")
        for clock in ("09:15:00", "15:29:00")
    )
    ticks = tuple(Tick("B", _ns("2024-01-03", "10:00:00"), 5.0) for _ in range(2))
    days = (date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3))
    return ReplaySources((bars, ticks), (), days)


def test_clip_keeps_whole_ist_days_of_the_window() -> None:
    clipped = clip_sources(_sources(), DateWindow(date(2024, 1, 2), date(2024, 1, 2)))
    (bars,) = clipped.streams  # B has nothing that day: its stream is dropped
    assert [b.ts_ns for b in bars] == [_ns("2024-01-02", "09:15:00"), _ns("2024-01-02", "15:29:00")]
    assert clipped.days == (date(2024, 1, 2),)


@pytest.mark.parametrize(
    ("first", "last", "bars", "ticks"),
    [(None, None, 6, 2), (date(2024, 1, 3), None, 2, 2), (None, date(2024, 1, 1), 2, 0)],
)
def test_clip_with_open_ends(first, last, bars, ticks) -> None:
    clipped = clip_sources(_sources(), DateWindow(first, last))
    counts = {s[0].symbol: len(s) for s in clipped.streams}
    assert counts.get("A", 0) == bars and counts.get("B", 0) == ticks


def test_window_refuses_an_end_before_its_start() -> None:
    with pytest.raises(ValueError, match="ends"):
        DateWindow(date(2024, 1, 3), date(2024, 1, 2))
    assert DateWindow(date(2024, 1, 2), None).describe() == "2024-01-02 … the end"
