"""kitetui.sim.margins: Kite's buckets, approximated, and the segment answer."""

from __future__ import annotations

import pytest
from sim_units import CALL, FUT_KEY, FUTURE, STOCK, STOCK_KEY, limit, new_account, refused, rig

from kitetui.sim.margins import Margins, rates, value_margin


@pytest.mark.parametrize(
    ("instrument", "product", "expected"),
    [
        (FUTURE, "NRML", ("span", 0.12)),
        (FUTURE, "MIS", ("span", 0.12)),
        (CALL, "NRML", ("option", 1.0)),
        (STOCK, "CNC", ("delivery", 1.0)),
        (STOCK, "MIS", ("exposure", 0.2)),
    ],
)
def test_rates_with_instrument_and_product_pick_the_bucket(instrument, product, expected):
    assert rates(instrument, product) == expected


@pytest.mark.parametrize(
    ("instrument", "side", "expected"),
    [
        (CALL, 1, ("option_premium", 50 * 100.0)),  # bought: the premium
        (CALL, -1, ("span", 50 * 19_500.0 * 0.12)),  # sold: 12 % of the strike value
        (FUTURE, -1, ("span", 50 * 100.0 * 0.12)),
        (STOCK, 1, ("exposure", 50 * 100.0 * 0.2)),
    ],
)
def test_value_margin_with_side_prices_options_by_who_holds_the_risk(instrument, side, expected):
    bucket, amount = value_margin(instrument, "MIS", side, 50, 100.0)
    assert (bucket, amount) == pytest.approx(expected)


def test_order_margin_with_reducing_order_needs_none():
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    made.place(**limit(price=500.0, quantity=10, product="CNC"))
    made.tick(STOCK_KEY, 500.0)  # filled: long 10
    margins = Margins(made.market)
    reduce = made.place(**limit(side="SELL", price=520.0, quantity=10, product="CNC"))
    flip = made.place(**limit(side="SELL", price=520.0, quantity=11, product="CNC"))
    assert margins.order_margin(made.book, reduce) == 0.0
    assert margins.order_bucket(made.book, flip) == ("delivery", 11 * 520.0)


def test_summary_with_position_and_working_orders_counts_both_and_can_exclude_one():
    made = rig(account=new_account(cash=1_000_000.0))
    made.tick(FUT_KEY, 19_500.0)
    made.place(**limit("NIFTY23NOVFUT", price=19_500.0, product="NRML"))
    made.tick(FUT_KEY, 19_500.0)  # long 50
    working = made.place(**limit("NIFTY23NOVFUT", price=19_000.0, product="NRML"))
    margins = Margins(made.market)
    summary = margins.summary(made.book)
    position, order = 50 * 19_500 * 0.12, 50 * 19_000 * 0.12
    assert summary["span"] == pytest.approx(position + order)
    assert summary["net"] == pytest.approx(1_000_000.0 - position - order)
    assert margins.summary(made.book, exclude=working.order_id)["span"] == pytest.approx(position)


def test_margins_with_segment_answers_that_segment_or_refuses():
    made = rig(account=new_account(cash=250_000.0, commodity_cash=10.0))
    margins = Margins(made.market)
    both = margins.margins(made.account, made.book)
    assert set(both) == {"equity", "commodity"}
    equity = margins.margins(made.account, made.book, "equity")
    assert equity == both["equity"]
    assert (equity["net"], equity["available"]["cash"], equity["utilised"]["debits"]) == (
        250_000.0,
        250_000,
        0,
    )
    assert margins.margins(made.account, made.book, "commodity")["net"] == 10.0
    with refused("Invalid segment. Use `equity` or `commodity`."):
        margins.margins(made.account, made.book, "fno")
