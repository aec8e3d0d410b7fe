"""The pure maths of ``kitetui.sim.rules``: protection bands, LPP bands, references."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.sim.market import parse_ist
from kitetui.sim.rules import (
    ReferencePrices,
    SimRules,
    amo_blocked,
    auto_protection_percent,
    freeze_message,
    lpp_band,
    protection_price,
)


@pytest.mark.parametrize(
    ("option", "ltp", "percent"),
    [
        (False, 99.95, 2.0),
        (False, 100.0, 1.0),
        (False, 499.95, 1.0),
        (False, 500.0, 0.5),
        (True, 9.95, 5.0),
        (True, 10.0, 3.0),
        (True, 99.95, 3.0),
        (True, 100.0, 2.0),
        (True, 500.0, 1.0),
    ],
)
def test_auto_protection_percent_follows_zerodhas_table(option, ltp, percent):
    """Zerodha support, "Market price protection in ATO": EQ/FUT 2 / 1 / 0.5 %, OPT
    5 / 3 / 2 / 1 % by LTP."""
    assert auto_protection_percent(option, ltp) == percent


@pytest.mark.parametrize(
    ("ltp", "percent", "buy", "expected"),
    [
        (520.0, 1.0, True, 525.2),
        (520.0, 2.5, True, 533.0),
        (514.0, 0.5, False, 511.45),  # 511.43 rounds up, toward the LTP
        (469.0, 1.0, False, 464.35),  # 464.31 rounds up
        (0.1, 50.0, False, 0.05),  # never below one tick
    ],
)
def test_protection_price_examples(ltp, percent, buy, expected):
    assert protection_price(ltp, percent, buy, 0.05) == expected


@settings(deadline=None)  # no wall-clock limit per example: a loaded machine is not a bug
@given(
    ticks=st.integers(min_value=1, max_value=2_000_000),
    percent=st.sampled_from([0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0, 100.0]),
    buy=st.booleans(),
)
def test_protection_price_stays_inside_the_band_on_the_tick(ticks, percent, buy):
    tick = Fraction(5, 100)
    ltp = float(ticks * tick)
    price = Fraction(repr(protection_price(ltp, percent, buy, 0.05)))
    exact = Fraction(repr(ltp))
    band = exact * Fraction(repr(percent)) / 100
    assert price % tick == 0
    if buy:
        assert exact <= price <= exact + band
    else:
        assert max(tick, exact - band) <= price <= exact


def test_lpp_band_is_20_rupees_up_to_50_then_40_percent():
    """NSE circular of 28 Oct 2022 (via sasonline bulletin 455, Alice Blue)."""
    assert lpp_band(30.0) == (10.0, 50.0)
    assert lpp_band(10.0) == (0.0, 30.0)
    low, high = lpp_band(100.0)
    assert (low, high) == pytest.approx((60.0, 140.0))


def test_reference_price_is_the_last_30_seconds_average():
    refs = ReferencePrices()
    s = 1_000_000_000
    assert refs.reference("k") is None
    refs.add("k", 0, 100.0)
    refs.add("k", 10 * s, 110.0)
    assert refs.reference("k") == pytest.approx(105.0)
    refs.add("k", 35 * s, 90.0)  # the trade at 0 s has left the window
    assert refs.reference("k") == pytest.approx(100.0)
    refs.add("k", 100 * s, 80.0)
    assert refs.reference("k") == pytest.approx(80.0)
    assert refs.reference("other") is None


def test_sim_rules_refuse_a_bad_fraction():
    with pytest.raises(ValueError):
        SimRules(liquidity_fraction=0.0)
    with pytest.raises(ValueError):
        SimRules(liquidity_fraction=1.5)
    assert SimRules(liquidity_fraction=None).liquidity_fraction is None


def test_freeze_message_counts_lots():
    text = freeze_message(1000, 900, 25)
    assert text.startswith("The order quantity 1000 (40 lots) is higher than the maximum")
    assert "of 900 (36 lots) allowed by the exchanges." in text


@pytest.mark.parametrize(
    ("exchange", "when", "blocked"),
    [
        ("NSE", "2023-11-15 08:59:59", False),
        ("NSE", "2023-11-15 09:00:00", True),
        ("NFO", "2023-11-15 09:09:59", False),
        ("NFO", "2023-11-15 09:10:00", True),
        ("BSE", "2023-11-15 15:44:59", True),
        ("BFO", "2023-11-15 15:45:00", False),
        ("NSE", "2023-11-18 11:00:00", False),  # a Saturday
    ],
)
def test_amo_blocked_follows_zerodhas_windows(exchange: str, when: str, blocked: bool) -> None:
    """AMOs blocked 9:00 AM-3:45 PM (equity), 9:10 AM-3:45 PM (F&O) on weekdays (Zerodha
    support: "Why is the rejected order not displayed in the order book?")."""
    assert amo_blocked(exchange, parse_ist(when)) is blocked
