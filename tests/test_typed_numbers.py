"""A number as a person types it: ASCII digits, and commas only where they group."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.typed_numbers import typed_count, typed_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("25000", "25000"),
        ("25,000", "25000"),  # Western and Indian alike
        ("1,00,000", "100000"),
        ("12,34,567.50", "1234567.50"),
        ("100,000.5", "100000.5"),
        ("₹1,500", "1500"),
        ("1_000", "1000"),
        ("-5", "-5"),
        (" 812.50 ", "812.50"),
    ],
)
def test_a_typed_number_reads_as_a_trader_means_it(text: str, value: str) -> None:
    assert typed_number(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    ["812,50", "25000,00", "18500,5", "1,0000", ",500", "1,,000", "²", "８００", "١٠", "nan", "inf",
     "", "12a"],
)  # fmt: skip
def test_what_python_reads_and_a_trader_does_not_mean_is_no_number(text: str) -> None:
    assert typed_number(text) is None


@given(st.integers(0, 10**12))
def test_every_grouping_of_a_whole_number_reads_back_as_it(n: int) -> None:
    western = f"{n:,}"
    digits = str(n)
    head, tail = digits[:-3], digits[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)][::-1]
    indian = ",".join([*pairs, tail]) if head else tail
    assert typed_number(western) == n and typed_number(indian) == n


def test_a_count_is_ascii_digits_only() -> None:
    assert typed_count("12") == 12
    assert [typed_count(t) for t in ("²", "١٠", "１", "1.0", "-1", "")] == [None] * 6
