"""``NAME=VALUE`` for a risk limit: parsed once, bounded by the config's own model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kitetui.config import RiskConfig
from kitetui.risk_limits import (
    BOUNDS,
    LIMIT_NAMES,
    LimitChange,
    LimitRefused,
    check_value,
    parse_assignment,
)


def test_limit_names_with_config_are_every_risk_key_in_order() -> None:
    assert LIMIT_NAMES == tuple(RiskConfig.model_fields) == tuple(BOUNDS)
    assert LIMIT_NAMES[0] == "max_daily_loss"


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("max_daily_loss=5000", "max_daily_loss", 5000.0),
        (" max_daily_loss = 5,000.50 ", "max_daily_loss", 5000.5),
        ("max_symbol_loss=₹2_500", "max_symbol_loss", 2500.0),
        ("max_open_positions=3", "max_open_positions", 3),
        ("max_open_positions=3.0", "max_open_positions", 3),
        ("max_order_quantity=10000000", "max_order_quantity", 10_000_000),
        ("max_gross_exposure=1000000000000", "max_gross_exposure", 1e12),
    ],
)
def test_parse_assignment_with_good_text_gives_the_change(text, name, value) -> None:
    change = parse_assignment(text)
    assert change == LimitChange(name, value)
    assert type(change.value) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "max_daily_loss=0",
            "max_daily_loss: 0 is outside its bounds (above 0, at most 100,000,000,000)",
        ),
        (
            "max_daily_loss=-5",
            "max_daily_loss: -5 is outside its bounds (above 0, at most 100,000,000,000)",
        ),
        (
            "max_daily_loss=100000000000.01",
            "max_daily_loss: 100,000,000,000.01 is outside its bounds "
            "(above 0, at most 100,000,000,000)",
        ),
        ("max_open_positions=0", "max_open_positions: 0 is outside its bounds (1 to 1,000)"),
        ("max_open_positions=1001", "max_open_positions: 1,001 is outside its bounds (1 to 1,000)"),
        ("max_open_positions=2.5", "max_open_positions: must be a whole number, not 2.5"),
        ("max_daily_loss=12.345", "max_daily_loss: at most two decimals (paise), not 12.345"),
        ("max_daily_loss=lots", "max_daily_loss: 'lots' is not a number"),
        # past the Decimal context's 28 digits: the bounds, not decimal.InvalidOperation
        *[
            (
                f"max_daily_loss={big}",
                f"max_daily_loss: {shown} is outside its bounds (above 0, at most 100,000,000,000)",
            )
            for big, shown in [
                ("1e28", "1E+28"),
                ("1E29", "1E+29"),
                ("1e30", "1E+30"),
                ("9" * 31, "9.999999E+30"),
                ("-1e28", "-1E+28"),
                ("1e999999999", "1E+999999999"),
            ]
        ],
        ("max_open_positions=1e30", "max_open_positions: 1E+30 is outside its bounds (1 to 1,000)"),
        (
            "max_daily_loss=５０００",
            "max_daily_loss: '５０００' is not a number (write its digits as 0-9)",
        ),
        (
            "max_open_positions=٣",
            "max_open_positions: '٣' is not a number (write its digits as 0-9)",
        ),
        ("max_daily_loss=nan", "max_daily_loss: 'nan' is not a number"),
        # a decimal comma: dropping commas read it as 2,500,000, applied without a prompt
        ("max_daily_loss=25000,00", "max_daily_loss: '25000,00' is not a number"),
        ("max_daily_loss=inf", "max_daily_loss: 'inf' is not a number"),
        (
            "max_daily_loss",
            "a limit change is NAME=VALUE, e.g. max_daily_loss=5000, not 'max_daily_loss'",
        ),
        ("=5", "a limit change is NAME=VALUE, e.g. max_daily_loss=5000, not '=5'"),
        (
            "max_daily_loss=",
            "a limit change is NAME=VALUE, e.g. max_daily_loss=5000, not 'max_daily_loss='",
        ),
    ],
)
def test_parse_assignment_with_bad_text_is_refused_in_one_line(text, message) -> None:
    with pytest.raises(LimitRefused) as refused:
        parse_assignment(text)
    assert str(refused.value) == message
    assert "\n" not in message


def test_parse_assignment_with_unknown_limit_names_the_known_ones() -> None:
    with pytest.raises(LimitRefused, match=r"^no risk limit 'capital'; limits: max_daily_loss, "):
        parse_assignment("capital=5")


def test_assignment_with_change_reads_back_as_the_same_change() -> None:
    for change in (LimitChange("max_daily_loss", 5000.5), LimitChange("max_open_positions", 3)):
        assert parse_assignment(change.assignment) == change
    assert LimitChange("max_gross_exposure", 1e12).assignment == "max_gross_exposure=1000000000000"


@given(
    name=st.sampled_from(LIMIT_NAMES),
    value=st.decimals(min_value=-10, max_value=10**13, places=2, allow_nan=False),
)
def test_check_value_with_any_number_agrees_with_the_config_model(name, value: Decimal) -> None:
    """A value is accepted at run time exactly when the config file would accept it."""
    bounds = BOUNDS[name]
    typed: int | float = int(value) if bounds.integer else float(value)
    if bounds.integer and value != value.to_integral_value():
        with pytest.raises(LimitRefused):
            check_value(name, str(value))
        return
    try:
        RiskConfig(**{name: typed})
        allowed = True
    except ValidationError:
        allowed = False
    if allowed:
        assert check_value(name, str(value)) == LimitChange(name, typed)
    else:
        with pytest.raises(LimitRefused, match=rf"^{name}: .* is outside its bounds \("):
            check_value(name, str(value))


@given(
    name=st.sampled_from(LIMIT_NAMES),
    value=st.decimals(allow_nan=False, allow_infinity=False),
)
def test_check_value_with_any_finite_number_accepts_or_refuses_in_one_line(
    name, value: Decimal
) -> None:
    """However many digits or however large an exponent: a change or one refusal line,
    never the Decimal context's own error."""
    try:
        check_value(name, str(value))
    except LimitRefused as refused:
        assert str(refused).startswith(f"{name}: ")
        assert "\n" not in str(refused) and len(str(refused)) < 200
