"""``--grid`` axes: ranges counted in exact decimals, lists, names checked against the
strategies' params before anything runs."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.config import ConfigError
from kitetui.sweep.grid import MAX_POINTS, check_axes, check_points, expand, parse_axis


@pytest.mark.parametrize(
    ("text", "name", "values"),
    [
        ("fast=5:9:2", "fast", ("5", "7", "9")),
        ("fast=5:10:2", "fast", ("5", "7", "9")),  # STOP only when a step lands on it
        ("bb_std=0.1:0.5:0.1", "bb_std", ("0.1", "0.2", "0.3", "0.4", "0.5")),
        ("bb_std=1.5:2.5:0.5", "bb_std", ("1.5", "2", "2.5")),
        ("fno.fast=3,5, 8", "fno.fast", ("3", "5", "8")),
        ("allow_short=true,false", "allow_short", ("true", "false")),
        ("slow=7:7:1", "slow", ("7",)),
    ],
)
def test_parse_axis_with_range_or_list_gives_values_as_typed(text, name, values) -> None:
    axis = parse_axis(text)
    assert (axis.name, axis.values) == (name, values)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("fast", "expected NAME=START:STOP:STEP or NAME=a,b,c"),
        ("=1,2", "expected NAME="),
        ("fast=", "expected NAME="),
        ("fast=1:5", "a range is START:STOP:STEP"),
        ("fast=1:5:1:1", "a range is START:STOP:STEP"),
        ("fast=9:5:1", "STOP (5) is below START (9)"),
        ("fast=1:5:0", "STEP must be positive"),
        ("fast=1:5:-1", "STEP must be positive"),
        ("fast=a:5:1", "a range needs numbers"),
        ("fast=1:inf:1", "finite"),
        ("fast=1,,2", "an empty value"),
        ("fast=1,2,1", "a value is repeated"),
        ("fast=1:100000:1", "at most"),
        ("fast=1:10000000:1", "10,000,000 values (at most 10,000"),  # counted, not built
        ("fast=1:1e999999999:1", "too large or too small"),  # overflows the context
        ("fast=1e999999999:1e999999999:1", "too large or too small"),
        ("fast=1:2:1e-999999999", "too large or too small"),
    ],
)
def test_parse_axis_with_bad_text_names_the_flag(text, reason) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_axis(text)
    message = str(caught.value)
    assert message.startswith(f"--grid {text}: ")
    assert reason in message
    assert "\n" not in message


@given(
    start=st.decimals(min_value=-100, max_value=100, places=2),
    span=st.decimals(min_value=0, max_value=50, places=2),
    step=st.decimals(min_value=Decimal("0.01"), max_value=20, places=2),
)
def test_a_range_is_evenly_spaced_from_start_never_past_stop(start, span, step) -> None:
    stop = start + span
    values = [Decimal(v) for v in parse_axis(f"x={start}:{stop}:{step}").values]
    assert values[0] == start
    assert all(b - a == step for a, b in itertools.pairwise(values))
    assert values[-1] <= stop < values[-1] + step


def test_expand_gives_every_combination_first_axis_slowest() -> None:
    points = expand([parse_axis("a=1,2"), parse_axis("b=x,y,z")])
    assert [p.index for p in points] == list(range(6))
    assert [p.label for p in points[:4]] == ["a=1 b=x", "a=1 b=y", "a=1 b=z", "a=2 b=x"]
    assert [(o.name, o.raw) for o in points[5].overrides()] == [("a", "2"), ("b", "z")]


def test_expand_refuses_a_repeated_name_no_axis_or_too_many_points() -> None:
    with pytest.raises(ConfigError, match="the same name in two --grid flags"):
        expand([parse_axis("a=1,2"), parse_axis("a=3")])
    with pytest.raises(ConfigError, match="at least one --grid"):
        expand([])
    big = [parse_axis("a=1:200:1"), parse_axis("b=1:200:1")]
    with pytest.raises(ConfigError, match=f"at most {MAX_POINTS:,}"):
        expand(big)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("nope=1,2", "no engine's strategy has a param 'nope'"),
        ("zz.fast=1,2", "no engine 'zz' (engines: fno, equity)"),
        ("equity.fast=1,2", "no engine's strategy has a param 'fast'"),
        ("fast=5,x", "expected a whole number, got 'x'"),
        ("bb_std=1,nan", "expected a finite number, got 'nan'"),
        ("allow_short=yes", "expected true or false, got 'yes'"),
        ("fast=-5:5:5", "fast=-5: Input should be greater than or equal to 1"),  # own bound
        ("fno.fast=9,100000", "fast=100000: Input should be less than or equal to 999"),
        ("bb_std=1.5,2,1.50", "1.5 and 1.50 are the same value"),  # one backtest, run twice
        ("fast=5,05", "5 and 05 are the same value"),
        ("allow_short=true,True", "true and True are the same value"),
    ],
)
def test_check_axes_refuses_unknown_names_and_values_of_the_wrong_type(small, text, reason) -> None:
    with pytest.raises(ConfigError) as caught:
        check_axes(small, [parse_axis(text)])
    assert str(caught.value) == f"--grid {text}: {reason}"


def test_check_axes_refuses_a_plain_axis_every_engine_sweeps_for_itself(small) -> None:
    """The probe's F4: ``--grid equity.fast=5 --grid fast=50,60,70`` ran three identical
    points (no engine was left for ``fast``), which read as "fast does not matter"."""
    axes = [parse_axis("fno.fast=5"), parse_axis("fast=6,7")]
    with pytest.raises(ConfigError) as caught:
        check_axes(small, axes)
    assert str(caught.value) == (
        "--grid fast=6,7: sweeps nothing: fno.fast wins over it on every engine with it"
    )
    check_axes(small, [parse_axis("fno.fast=5"), parse_axis("bb_std=1.5,2.5")])  # another name


def test_check_axes_leaves_cross_param_rules_to_each_point(small) -> None:
    # fast=30 with slow=21 breaks ema_cross's rule: that point fails, not the sweep
    check_axes(small, [parse_axis("fno.fast=9,30"), parse_axis("bb_std=1.5:2.5:0.5")])


@pytest.mark.parametrize(
    "axes",
    [
        ["fno.fast=30"],  # slow is 21 in the config
        ["fno.fast=30,40", "fno.slow=20,25"],
    ],
)
def test_check_points_refuses_a_grid_with_no_valid_point(small, axes) -> None:
    points = expand([parse_axis(text) for text in axes])
    with pytest.raises(ConfigError) as caught:
        check_points(small, points)
    assert str(caught.value).startswith(
        f"--grid: every point is refused, e.g. {points[0].label}: fno.params: fast (30) "
        "must be less than slow"
    )


def test_check_points_passes_a_grid_with_one_valid_point(small) -> None:
    check_points(small, expand([parse_axis("fno.fast=30,9"), parse_axis("fno.slow=20,21")]))


def test_a_list_of_too_many_values_is_one_short_line() -> None:
    text = "fast=" + ",".join(map(str, range(10_001)))
    with pytest.raises(ConfigError) as caught:
        parse_axis(text)
    message = str(caught.value)
    assert message.endswith(": 10,001 values (at most 10,000 points a sweep)")
    assert len(message) < 300  # the flag's text is cut, not echoed whole
