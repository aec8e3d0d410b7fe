"""Margin used and available computed from the engines' margin rates (replay)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kitetui.trading.margins import Margins, computed, margin_used_paise


def test_margin_used_with_positions_is_value_times_rate_in_paise() -> None:
    # NIFTY future: 50 × 18,250.50 × 0.12; short SBIN MIS: 100 × 560.05 × 0.2
    exposures = [(50, 18250.5, 0.12), (-100, 560.05, 0.2), (0, 999.0, 1.0), (5, 0.0, 1.0)]
    assert margin_used_paise(exposures) == 10_950_300 + 1_120_100
    assert computed(exposures, 1_000_000_00) == Margins(120_704.0, 879_296.0, "rates")


def test_computed_with_nothing_open_has_the_whole_equity_available() -> None:
    assert computed([], 12_345_67) == Margins(0.0, 12_345.67, "rates")


@given(
    st.lists(
        st.tuples(
            st.integers(-10_000, 10_000),
            st.integers(5, 10**7).map(lambda t: t * 0.05),
            st.sampled_from([0.12, 0.2, 1.0]),
        ),
        max_size=20,
    ),
    st.integers(0, 10**12),
)
def test_computed_with_any_book_used_plus_available_is_the_equity(exposures, equity) -> None:
    margins = computed(exposures, equity)
    assert margins.used >= 0
    assert round((margins.used + margins.available) * 100) == equity
    assert margin_used_paise(exposures) == margin_used_paise([(-q, p, r) for q, p, r in exposures])
