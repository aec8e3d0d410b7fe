"""``Charges`` arithmetic: every component, exactly (``__add__``/``__sub__`` spell the
fields out for speed, so a component added later must be added there too)."""

from __future__ import annotations

import math
from dataclasses import fields
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.money import EXACT, NO_CHARGES, Charges, ChargesSum, exact_fraction, exact_ratio

_AMOUNTS = st.decimals(min_value=-(10**9), max_value=10**9, places=12, allow_nan=False)
_CHARGES = st.builds(Charges, **{f.name: _AMOUNTS for f in fields(Charges)})


@given(_CHARGES, _CHARGES)
def test_add_and_sub_act_on_every_component_exactly(a: Charges, b: Charges) -> None:
    for name in (f.name for f in fields(Charges)):
        x: Decimal = getattr(a, name)
        y: Decimal = getattr(b, name)
        assert getattr(a + b, name) == x + y  # places=12: exact at Decimal's precision
        assert getattr(a - b, name) == x - y
    assert (a + b) - b == a


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_exact_ratio_is_the_decimal_a_float_prints_as(value: float) -> None:
    """Sizing and paper prices read a float as the decimal it prints as (0.05 is 1/20):
    the integer pair is that decimal exactly, in lowest terms, as ``Fraction(repr)``."""
    numerator, denominator = exact_ratio(value)
    assert Fraction(numerator, denominator) == Fraction(repr(value)) == exact_fraction(value)
    assert denominator > 0 and math.gcd(numerator, denominator) == 1


def test_exact_ratio_of_a_tick_and_a_price() -> None:
    assert exact_ratio(0.05) == (1, 20)
    assert exact_ratio(19_500.7) == (195_007, 10)
    assert exact_ratio(1e-05) == (1, 100_000)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_exact_ratio_of_a_non_finite_value_is_a_value_error(value: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        exact_ratio(value)


def test_charges_sum_reads_as_adding_each_as_it_came_and_a_copy_is_its_own() -> None:
    """Past ``KEEP`` addends (summed on the way) and at any read between, ``total`` is the
    component sums added one at a time; a copy and its original add apart."""
    parts = [
        Charges(brokerage=Decimal(i % 7) / 3, stt=Decimal(i) / 1000, gst=Decimal("0.18") * i)
        for i in range(ChargesSum.KEEP * 2 + 5)
    ]
    summed, expected = ChargesSum(), NO_CHARGES
    for i, part in enumerate(parts):
        summed.add(part)
        with localcontext(EXACT):
            expected = expected + part
        if i % 97 == 0 or i == len(parts) - 1:
            assert summed.total == expected
    other = summed.copy()
    other.add(parts[1])
    assert summed.total == expected
    with localcontext(EXACT):
        assert other.total == expected + parts[1]
