"""PaperPricing: exact tick rounding against the order, slippage, limit fills, and the
exchange's checks in their fixed order."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.brokers.paper_pricing import PaperPricing, exact
from kitetui.domain import Order, OrderType, Side, evolve

from .paper_orders import LMT, MKT, SL, SLM, B, S
from .paper_orders import order as _order


def order(
    side: Side = B,
    kind: OrderType = LMT,
    price: float = 100.0,
    trigger: float = 0.0,
    qty: int = 10,
    tag: str = "t1",
    symbol: str = "INFY",
) -> Order:
    """This file's defaults: a LIMIT buy at 100."""
    return _order(side, kind, price, trigger, qty, tag, 0, symbol)


def test_exact_with_decimal_float_is_the_decimal_it_was_written_as():
    assert exact(0.05) == Fraction(1, 20)
    assert exact(100.1) == Fraction(1001, 10)


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        (Fraction(10002, 100), B, 100.05),
        (Fraction(10002, 100), S, 100.0),
        (Fraction(100), B, 100.0),
        (Fraction(100), S, 100.0),
        (Fraction(1, 100), S, 0.05),  # never below one tick
    ],
)
def test_round_against_with_off_tick_price_rounds_the_wrong_way(price, side, expected):
    assert PaperPricing().round_against(price, side, "INFY") == expected


def test_slipped_with_symbol_tick_moves_against_the_order_on_that_tick():
    pricing = PaperPricing(slippage_bps=2.0, tick_sizes={"NIFTY": 0.1})
    assert pricing.slipped(24_512.0, order(B, MKT, symbol="NIFTY")) == 24_517.0
    assert pricing.slipped(24_512.0, order(S, MKT, symbol="NIFTY")) == 24_507.0
    assert pricing.slipped(512.0, order(B, MKT)) == 512.15
    assert PaperPricing(slippage_bps=0.0).slipped(512.0, order(S, MKT)) == 512.0


@pytest.mark.parametrize(
    ("side", "limit", "price", "expected"),
    [
        (B, 100.0, 100.05, None),
        (B, 100.0, 99.5, 99.5),
        (B, 100.0, 99.97, 100.0),  # rounded up, but never through the limit
        (S, 100.0, 99.95, None),
        (S, 100.0, 101.0, 101.0),
        (S, 100.0, 100.03, 100.0),
    ],
)
def test_limit_fill_with_price_fills_at_or_better_than_the_limit(side, limit, price, expected):
    assert PaperPricing().limit_fill(order(side, LMT, price=limit), price) == expected


@pytest.mark.parametrize(
    ("o", "reason"),
    [
        (order(tag="", qty=0, price=float("nan")), "order has no tag"),
        (order(qty=0, price=float("nan")), "quantity 0 must be positive"),
        (order(qty=True), "quantity True is not a whole number"),
        (order(price=float("nan"), trigger=float("inf")), "price nan is not a finite number"),
        (order(kind=MKT, price=0.0, trigger=float("-inf")), "trigger_price -inf is not a finite"),
        (evolve(order(), stop_price=float("nan")), "stop_price nan is not a finite number"),
        (order(kind=SL, price=0.0, trigger=0.03), "SL order needs a positive price, got 0.0"),
        (order(kind=SL, price=100.0, trigger=0.03), "trigger price 0.03 is not a multiple"),
        (order(B, SL, price=100.0, trigger=100.5), "SL buy trigger 100.5 is above its price"),
        (order(S, SL, price=100.0, trigger=99.5), "SL sell trigger 99.5 is below its price"),
        (order(kind=SLM, price=100.03, trigger=99.0), ""),  # an SL-M's price is not checked
        (order(kind=MKT, price=0.0), ""),
    ],
)
def test_rejection_with_several_problems_names_the_first_in_order(o, reason):
    found = PaperPricing().rejection(o)
    assert found.startswith(reason) if reason else found == ""


def test_price_problem_with_off_tick_price_names_the_symbols_tick():
    pricing = PaperPricing(tick_sizes={"NIFTY": 0.1})
    o = order(symbol="NIFTY", price=24_500.05)
    assert pricing.price_problem(o, "price", o.price) == (
        "price 24500.05 is not a multiple of the tick 0.1"
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"slippage_bps": -0.1}, {"slippage_bps": float("inf")}, {"tick_size": -0.05}],
)
def test_pricing_with_bad_arguments_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        PaperPricing(**kwargs)


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=5, max_value=10_000_000),
    tick=st.sampled_from([0.05, 0.1, 0.01, 1.0]),
)
def test_property_with_any_price_rounding_is_within_one_tick_against_the_order(cents, tick):
    pricing = PaperPricing(tick_size=tick)
    price = Fraction(cents, 100)
    step = exact(tick)
    up = Fraction(repr(pricing.round_against(price, B, "X")))
    down = Fraction(repr(pricing.round_against(price, S, "X")))
    assert price <= up < price + step and up % step == 0
    assert down % step == 0 and down >= step
    if price >= step:
        assert price - step < down <= price
