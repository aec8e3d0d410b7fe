"""Sizing: risk budget, capital cap, whole lots, and ATR stops rounded away from entry."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import Side
from kitetui.trading.sizing import size_by_risk, stop_price_for

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("equity", "pct", "entry", "stop", "lot", "fraction", "capital", "expected"),
    [
        # 1% of 1,00,000 = 1,000 at risk over a 10-rupee stop: 100 units
        (100_000, 1, 100, 10, 1, 1.0, None, 100),
        # decimal inputs are exact: 700 over 0.70 is 1000, not 999
        (70_000, 1, 50, 0.7, 1, 1.0, None, 1000),
        # rounded down to whole lots of 75
        (100_000, 1, 100, 6, 75, 1.0, None, 150),
        # less than one lot fits the risk budget: 0
        (100_000, 1, 100, 20, 75, 1.0, None, 0),
        # capital cap: 50% of 1,00,000 buys 250 at 200
        (100_000, 5, 200, 1, 1, 0.5, None, 250),
        # explicit capital different from equity
        (100_000, 5, 200, 1, 1, 1.0, 10_000, 50),
        # leverage above 1 lets the risk budget bind
        (100_000, 1, 200, 1, 1, 5.0, None, 1000),
    ],
)
def test_size_by_risk_with_valid_inputs_returns_quantity(
    equity, pct, entry, stop, lot, fraction, capital, expected
):
    assert size_by_risk(equity, pct, entry, stop, lot, fraction, capital) == expected


BASE = {"equity_rupees": 100_000, "risk_per_trade_pct": 1, "entry_price": 100, "stop_distance": 10}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("equity_rupees", 0), ("equity_rupees", -1), ("equity_rupees", NAN),
        ("risk_per_trade_pct", 0), ("risk_per_trade_pct", INF),
        ("entry_price", 0), ("entry_price", -5), ("entry_price", NAN),
        ("stop_distance", 0), ("stop_distance", -1), ("stop_distance", INF),
        ("lot_size", 0), ("lot_size", -75), ("lot_size", 1.5),
        ("max_capital_fraction", 0), ("max_capital_fraction", NAN),
        ("capital_rupees", 0), ("capital_rupees", -10), ("capital_rupees", INF),
    ],
)  # fmt: skip
def test_size_by_risk_with_bad_input_returns_zero(field, value):
    assert size_by_risk(**{**BASE, field: value}) == 0


@pytest.mark.parametrize(
    ("side", "entry", "atr", "multiple", "expected"),
    [
        (Side.BUY, 100.0, 1.0, 2.0, 98.0),
        (Side.SELL, 100.0, 1.0, 2.0, 102.0),
        # off-tick stops round away from entry
        (Side.BUY, 100.0, 1.01, 1.0, 98.95),
        (Side.SELL, 100.0, 1.01, 1.0, 101.05),
        # already on tick stays put (no binary fuzz pushing it a tick further)
        (Side.BUY, 100.0, 0.05, 1.0, 99.95),
        (Side.SELL, 99.9, 0.1, 1.0, 100.0),
        # zero ATR: stop at entry
        (Side.BUY, 100.0, 0.0, 2.0, 100.0),
    ],
)
def test_stop_price_for_with_side_rounds_away_from_entry(side, entry, atr, multiple, expected):
    assert stop_price_for(side, entry, atr, multiple) == expected


@pytest.mark.parametrize(
    ("side", "entry", "atr", "multiple", "tick"),
    [
        (Side.BUY, 100.0, 60.0, 2.0, 0.05),  # stop below zero
        (Side.BUY, NAN, 1.0, 1.0, 0.05),
        (Side.BUY, 100.0, -1.0, 1.0, 0.05),
        (Side.SELL, 100.0, 1.0, INF, 0.05),
        (Side.SELL, 100.0, 1.0, 1.0, 0.0),
        (Side.SELL, 0.0, 1.0, 1.0, 0.05),
    ],
)
def test_stop_price_for_with_bad_input_raises(side, entry, atr, multiple, tick):
    with pytest.raises(ValueError):
        stop_price_for(side, entry, atr, multiple, tick)


def _exact(x: float) -> Fraction:
    return Fraction(repr(float(x)))


money = st.floats(min_value=0.01, max_value=1e8, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    equity=money,
    pct=st.floats(min_value=0.01, max_value=100),
    entry=st.floats(min_value=0.05, max_value=1e5),
    stop=st.floats(min_value=0.01, max_value=1e4),
    lot=st.integers(min_value=1, max_value=1800),
    fraction=st.floats(min_value=0.01, max_value=10),
    capital=st.one_of(st.none(), money),
)
def test_property_with_any_inputs_size_respects_budget_capital_and_lots(
    equity, pct, entry, stop, lot, fraction, capital
):
    qty = size_by_risk(equity, pct, entry, stop, lot, fraction, capital)
    cap = equity if capital is None else capital
    assert qty >= 0
    assert qty % lot == 0
    assert _exact(stop) * qty <= _exact(equity) * _exact(pct) / 100
    assert _exact(entry) * qty <= _exact(cap) * _exact(fraction)
    # and it is the largest such whole number of lots
    bigger = qty + lot
    assert _exact(stop) * bigger > _exact(equity) * _exact(pct) / 100 or _exact(
        entry
    ) * bigger > _exact(cap) * _exact(fraction)


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    entry_ticks=st.integers(min_value=3001, max_value=1_000_000),  # entry > 50 * 3
    atr=st.floats(min_value=0, max_value=50),
    multiple=st.floats(min_value=0, max_value=3),
)
def test_property_with_any_atr_stop_is_on_tick_and_at_least_the_distance(
    side, entry_ticks, atr, multiple
):
    entry = entry_ticks / 20
    stop = stop_price_for(side, entry, atr, multiple)
    assert _exact(stop) % Fraction(1, 20) == 0
    distance = (_exact(entry) - _exact(stop)) * side.sign
    assert distance >= _exact(atr) * _exact(multiple)
    assert distance < _exact(atr) * _exact(multiple) + Fraction(1, 20)
    assert math.isfinite(stop) and stop > 0


# ---- options and freeze slicing ------------------------------------------------------

from kitetui.trading.sizing import premium_quantity, premium_stop, slice_quantity  # noqa: E402


@pytest.mark.parametrize(
    ("premium", "pct", "tick", "expected"),
    [
        (100.0, 30, 0.05, 70.0),
        (101.3, 30, 0.05, 70.9),
        (0.1, 60, 0.05, 0.05),
        (12.35, 25, 0.05, 9.25),
    ],
)
def test_premium_stop_with_percent_rounds_down_to_tick(premium, pct, tick, expected) -> None:
    assert premium_stop(premium, pct, tick) == expected


@pytest.mark.parametrize("bad", [(0, 30), (100, 0), (100, 100), (float("nan"), 30)])
def test_premium_stop_with_bad_inputs_raises(bad) -> None:
    with pytest.raises(ValueError):
        premium_stop(*bad)


@pytest.mark.parametrize(
    ("premium", "stop", "lot", "risk", "outlay", "expected"),
    [
        (100.0, 70.0, 50, 10_000, 1_000_000, 300),  # 1,500 risk per lot -> 6 lots
        (100.0, 70.0, 50, 10_000, 20_000, 200),  # 5,000 per lot paid -> outlay caps at 4
        (100.0, 70.0, 50, 1_000, 1_000_000, 0),  # one lot already risks too much
        (100.0, 100.0, 50, 10_000, 1_000_000, 0),  # a stop at the premium is no stop
        (100.0, 70.0, 0, 10_000, 1_000_000, 0),
    ],
)
def test_premium_quantity_with_caps_takes_whole_lots_within_both(
    premium, stop, lot, risk, outlay, expected
) -> None:
    quantity = premium_quantity(premium, stop, lot, risk, outlay)
    assert quantity == expected
    if quantity:
        assert quantity % lot == 0
        assert (premium - stop) * quantity <= risk and premium * quantity <= outlay


@pytest.mark.parametrize(
    ("quantity", "freeze", "lot", "expected"),
    [
        (100, None, 50, [100]),
        (1800, 1800, 50, [1800]),
        (1850, 1800, 50, [1800, 50]),
        (5000, 1800, 50, [1800, 1800, 1400]),
        (4050, 1800, 75, [1800, 1800, 450]),  # 1800 is exactly 24 lots of 75
        (130, 100, 65, [65, 65]),  # the freeze rounds down to whole lots
    ],
)
def test_slice_quantity_with_freeze_splits_into_whole_lots(quantity, freeze, lot, expected):
    slices = slice_quantity(quantity, freeze, lot)
    assert slices == expected
    assert sum(slices) == quantity
    if freeze:
        assert all(s <= freeze for s in slices)


@settings(deadline=None)  # no wall-clock limit per example: a loaded machine is not a bug
@given(
    lots=st.integers(1, 2000),
    lot=st.sampled_from([1, 15, 25, 50, 65, 75]),
    freeze_lots=st.integers(1, 100),
)
def test_slice_quantity_property_children_sum_and_respect_freeze(lots, lot, freeze_lots):
    quantity, freeze = lots * lot, freeze_lots * lot
    slices = slice_quantity(quantity, freeze, lot)
    assert sum(slices) == quantity
    assert all(0 < s <= freeze and s % lot == 0 for s in slices)


def test_an_option_stops_limit_sits_its_offset_beyond_the_trigger_on_the_tick() -> None:
    from kitetui.trading.sizing import stop_limit_price

    assert stop_limit_price(66.3, 5.0, 0.05, sells=True) == 62.95  # 62.985 down to the tick
    assert stop_limit_price(66.3, 5.0, 0.05, sells=False) == 69.65  # 69.615 up
    assert stop_limit_price(0.05, 50.0, 0.05, sells=True) == 0.05  # never below a tick


@settings(max_examples=300, deadline=None)
@given(
    premium=st.integers(2, 200_000).map(lambda n: n * 0.05),
    stop_pct=st.floats(1, 90),
    offset_pct=st.floats(0.5, 50),
    lot=st.sampled_from([1, 15, 25, 50, 75, 1800]),
    cap=st.floats(100, 1_000_000),
)
def test_premium_sizing_keeps_a_stop_filled_at_its_limit_within_the_risk_cap(
    premium: float, stop_pct: float, offset_pct: float, lot: int, cap: float
) -> None:
    """Sized on the trigger, a stop filled at its limit lost more than the cap (350 of
    NIFTY22NOV18250PE at 94.45, trigger 66.3: ₹11,014 against ₹10,000)."""
    from kitetui.trading.sizing import stop_limit_price

    trigger = premium_stop(premium, stop_pct, 0.05)
    worst = stop_limit_price(trigger, offset_pct, 0.05, sells=True)
    quantity = premium_quantity(premium, worst, lot, cap, 10**12)
    assert quantity % lot == 0
    assert quantity * (premium - worst) <= cap + 1e-6


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False) | st.integers(1, 10**6),
        min_size=1,
        max_size=40,
    )
)
def test_remembered_ratio_with_any_values_is_the_decimal_read_afresh(values):
    """Sizing remembers the ratios it read (the config's repeat on every entry): a value
    read again, or read after the memo is full, is the same decimal as a fresh read."""
    from kitetui.money import exact_ratio
    from kitetui.trading import sizing

    for value in values + values:
        assert sizing._ratio(value) == exact_ratio(value)
    assert len(sizing._RATIOS) <= sizing._RATIOS_KEPT
