"""``--walk-forward IN:OUT`` folds: out-of-sample stretches tile the days after the
first IN, each right after its fold's in-sample days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.config import ConfigError
from kitetui.sweep.windows import WalkForward, folds, parse_walk_forward


@pytest.mark.parametrize(
    ("text", "spec"),
    [("60d:20d", (60, 20)), ("60:20", (60, 20)), (" 5d : 1 ", (5, 1)), ("60D:20D", (60, 20))],
)
def test_parse_walk_forward_with_days(text, spec) -> None:
    assert parse_walk_forward(text) == WalkForward(*spec)


@pytest.mark.parametrize("text", ["60", "60d", "60w:20d", "a:b", "0:5", "5:0", "-1:2", "", "٤:٢"])
def test_parse_walk_forward_with_bad_text_is_one_line(text) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_walk_forward(text)
    assert str(caught.value).startswith(f"--walk-forward {text}: ")


def _days(n: int) -> list[date]:
    return [date(2024, 1, 1) + timedelta(days=i) for i in range(n)]


def test_folds_with_a_short_last_stretch_still_judge_it() -> None:
    found = folds(_days(10), WalkForward(4, 3))
    assert [(f.in_sample.first.day, f.in_sample.last.day) for f in found] == [(1, 4), (4, 7)]
    assert [(f.out_sample.first.day, f.out_sample.last.day, f.out_days) for f in found] == [
        (5, 7, 3),
        (8, 10, 3),
    ]
    assert folds(_days(4), WalkForward(4, 3)) == []


@given(n=st.integers(0, 80), in_days=st.integers(1, 20), out_days=st.integers(1, 20))
def test_out_of_sample_days_tile_the_rest_once_each(n, in_days, out_days) -> None:
    days = _days(n)
    found = folds(days, WalkForward(in_days, out_days))
    judged = [d for f in found for d in days if f.out_sample.first <= d <= f.out_sample.last]
    assert judged == days[in_days:]  # every later day once, in order
    for fold in found:
        inside = [d for d in days if fold.in_sample.first <= d <= fold.in_sample.last]
        assert len(inside) == in_days
        assert days.index(fold.out_sample.first) == days.index(fold.in_sample.last) + 1
