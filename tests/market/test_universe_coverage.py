"""Which dates an index's membership covers: a replay before it is refused up front."""

from __future__ import annotations

from datetime import date

import pytest

from kitetui.market.universe import UniverseError, first_known_date, load_index_members


@pytest.mark.parametrize("index", ["NIFTY 50", "NIFTY 100"])
def test_first_known_date_with_each_index_is_the_first_date_members_load(index: str) -> None:
    first = first_known_date(index)
    assert load_index_members(index, as_of=first)
    with pytest.raises(UniverseError, match=f"known from {first.isoformat()}"):
        load_index_members(index, as_of=date.fromordinal(first.toordinal() - 1))


def test_first_known_date_with_unknown_index_raises() -> None:
    with pytest.raises(UniverseError, match="unknown index"):
        first_known_date("SENSEX")


def test_universe_error_with_old_callers_is_still_a_value_error() -> None:
    with pytest.raises(ValueError):
        load_index_members("NIFTY 100", as_of=date(2023, 4, 3))
