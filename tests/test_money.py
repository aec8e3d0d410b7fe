"""``Charges`` arithmetic: every component, exactly (``__add__``/``__sub__`` spell the
fields out for speed, so a component added later must be added there too)."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kitetui.money import Charges

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
