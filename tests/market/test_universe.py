"""Index membership lists (checked against each other and the data) and selection rules."""

from __future__ import annotations

import csv
import math
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest

import kitetui.market.universe as universe_module
from kitetui.market.universe import (
    KNOWN_INDICES,
    UniverseChoice,
    current_symbol,
    load_index_members,
    select_universe,
)

_DATA = Path(universe_module.__file__).resolve().parent.parent / "data" / "universe"
DEMO_BANKS = {"HDFCBANK", "ICICIBANK", "SBIN", "KOTAKBANK", "AXISBANK"}

# Documented NIFTY 50 changes between the shipped periods (removed, added); renames too.
_CHANGES = {
    date(2022, 9, 30): ({"SHREECEM"}, {"ADANIENT"}),
    date(2023, 7, 13): ({"HDFC"}, {"LTIM"}),
    date(2024, 3, 28): ({"UPL"}, {"SHRIRAMFIN"}),
    date(2024, 9, 30): ({"DIVISLAB", "LTIM"}, {"TRENT", "BEL"}),
    date(2025, 3, 28): ({"BPCL", "BRITANNIA"}, {"ETERNAL", "JIOFIN"}),
    date(2025, 9, 30): (
        {"HEROMOTOCO", "INDUSINDBK", "TATAMOTORS"},
        {"INDIGO", "MAXHEALTH", "TMPV"},
    ),
}


# -- the lists ------------------------------------------------------------------------
def test_current_lists_have_expected_sizes_and_nesting():
    n50 = load_index_members("NIFTY 50")
    n100 = load_index_members("NIFTY 100")
    assert len(n50) == len(set(n50)) == 50
    assert len(n100) == len(set(n100)) == 100
    assert set(n50) <= set(n100)
    assert list(n50) == sorted(n50)


def test_csv_files_have_symbol_company_industry():
    for name in ("nifty50.csv", "nifty100.csv"):
        with (_DATA / name).open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert {"symbol", "company", "industry"} <= set(rows[0])
        assert all(r["symbol"] and r["symbol"] == r["symbol"].strip().upper() for r in rows)


@pytest.mark.parametrize("name", ["NIFTY 50", "nifty50", "Nifty 50", "NIFTY100"])
def test_load_index_members_with_spelling_variants(name):
    assert load_index_members(name)


def test_load_index_members_with_unknown_index_lists_known():
    with pytest.raises(ValueError, match="NIFTY 50, NIFTY 100"):
        load_index_members("NIFTY BANK")
    assert KNOWN_INDICES == ("NIFTY 50", "NIFTY 100")


@pytest.mark.parametrize(
    ("as_of", "present", "absent"),
    [
        (date(2022, 6, 1), {"HDFC", "SHREECEM", "UPL"}, {"ADANIENT", "LTIM"}),
        (date(2023, 4, 3), {"HDFC", "UPL", "ADANIENT"} | DEMO_BANKS, {"LTIM", "SHREECEM"}),
        (date(2023, 7, 13), {"LTIM", "UPL"}, {"HDFC", "SHRIRAMFIN"}),
        (date(2024, 6, 3), {"SHRIRAMFIN", "DIVISLAB"}, {"UPL", "TRENT"}),
        (date(2025, 1, 15), {"TRENT", "BEL", "BPCL"}, {"DIVISLAB", "ETERNAL"}),
        (date(2025, 6, 2), {"ETERNAL", "JIOFIN", "INDUSINDBK"}, {"BPCL", "INDIGO"}),
        (date(2026, 1, 9), {"INDIGO", "MAXHEALTH", "TMPV"}, {"INDUSINDBK", "TATAMOTORS"}),
    ],
)
def test_nifty50_as_of_with_rebalance_periods(as_of, present, absent):
    members = set(load_index_members("NIFTY 50", as_of))
    assert len(members) == 50
    assert present <= members
    assert not absent & members


def test_nifty50_history_periods_differ_only_by_documented_changes():
    history = universe_module._history("nifty50_history.csv")
    for (_, before), (start, after) in pairwise(history):
        removed, added = _CHANGES[start]
        assert set(before) - set(after) == removed, start
        assert set(after) - set(before) == added, start
    assert history[-1][1] == load_index_members("NIFTY 50")


def test_load_index_members_before_sources_raises():
    with pytest.raises(ValueError, match="known from 2022-03-31"):
        load_index_members("NIFTY 50", date(2016, 8, 16))
    with pytest.raises(ValueError, match="NIFTY 100"):
        load_index_members("NIFTY 100", date(2025, 1, 1))
    assert load_index_members("NIFTY 100", date(2026, 8, 1)) == load_index_members("NIFTY 100")


def test_lists_with_kite_daily_symbols_cross_check(shared_data):
    """The 36 Kite daily stocks: all NIFTY 50 members in mid-2024, the data's own vintage.

    They are not all current members (DIVISLAB, BPCL, INDUSINDBK left; TATAMOTORS is now
    TMPV), so against today's lists the exceptions are spelled out rather than ignored.
    """
    folder = shared_data / "daily" / "kite_nifty50_day_addyfu"
    symbols = {p.name.split("_day_")[0] for p in folder.glob("*_day_2000d.csv.gz")}
    assert len(symbols) == 36
    assert symbols <= set(load_index_members("NIFTY 50", date(2024, 6, 3)))
    current50 = set(load_index_members("NIFTY 50"))
    renamed = {current_symbol(s) for s in symbols}
    assert renamed - current50 == {"BPCL", "DIVISLAB", "INDUSINDBK"}
    assert renamed - set(load_index_members("NIFTY 100")) == {"INDUSINDBK"}


def test_demo_banks_with_2023_replay_window_are_members(shared_data):
    folder = shared_data / "intraday_1min" / "kite_bank_stocks_2023_lullaharsh1"
    stocks = {p.name.removesuffix(".csv.gz") for p in folder.glob("*.csv.gz")}
    assert stocks >= DEMO_BANKS
    for day in (date(2023, 4, 3), date(2023, 6, 1)):
        assert set(load_index_members("NIFTY 50", day)) >= DEMO_BANKS


def test_current_symbol_follows_renames():
    assert current_symbol("TATAMOTORS") == "TMPV"
    assert current_symbol("LTIM") == "LTM"
    assert current_symbol("SBIN") == "SBIN"


# -- selection ------------------------------------------------------------------------
DAY = date(2023, 4, 5)

SELECTION_CASES = [
    pytest.param(
        dict(members=["A", "B"], available=["A", "B"], prices={"A": 10.0, "B": 20.0}),
        ("A", "B"),
        (),
        id="all-pass",
    ),
    pytest.param(
        dict(members=["A", "B"], available=["A"], prices={"A": 10.0, "B": 20.0}),
        ("A",),
        (("B", "no data"),),
        id="member-without-data",
    ),
    pytest.param(
        dict(members=["A"], available=["A", "Z"], prices={"A": 1.0, "Z": 1.0}),
        ("A",),
        (),
        id="available-non-member-ignored",
    ),
    pytest.param(
        dict(
            members=["A", "B", "C"],
            available=["A", "B", "C"],
            prices={"A": math.nan, "B": math.inf},
        ),
        (),
        (("A", "no price"), ("B", "no price"), ("C", "no price")),
        id="missing-or-non-finite-price",
    ),
    pytest.param(
        dict(
            members=["A", "B"], available=["A", "B"], prices={"A": 99.5, "B": 100.0}, min_price=100
        ),
        ("B",),
        (("A", "price 99.5 below min"),),
        id="min-price-inclusive",
    ),
    pytest.param(
        dict(
            members=["A", "B", "C", "D"],
            available=["A", "B", "C", "D"],
            prices={"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0},
            max_count=2,
            ranking={"A": 5.0, "B": 9.0, "C": 9.0, "D": 1.0},
        ),
        ("B", "C"),
        (("A", "beyond max_count"), ("D", "beyond max_count")),
        id="ranking-ties-by-symbol",
    ),
    pytest.param(
        dict(
            members=["A", "B", "C"],
            available=["A", "B", "C"],
            prices={"A": 1.0, "B": 1.0, "C": 1.0},
            max_count=2,
            ranking={"C": 3.0},
        ),
        ("C", "A"),
        (("B", "beyond max_count"),),
        id="unranked-last-by-symbol",
    ),
    pytest.param(
        dict(
            members=["B", "A", "C"],
            available=["A", "B", "C"],
            prices={"A": 1.0, "B": 1.0, "C": 1.0},
            max_count=1,
        ),
        ("A",),
        (("B", "beyond max_count"), ("C", "beyond max_count")),
        id="max-count-without-ranking",
    ),
    pytest.param(
        dict(members=["A", "A"], available=["A"], prices={"A": 1.0}, max_count=0),
        (),
        (("A", "beyond max_count"),),
        id="duplicates-and-zero-count",
    ),
    pytest.param(
        dict(
            members=["A", "B", "C", "D"],
            available=["A", "B", "C"],
            prices={"A": 50.0, "B": 500.0, "C": 600.0},
            min_price=100,
            max_count=1,
            ranking={"A": 100.0, "B": 1.0, "C": 2.0},
        ),
        ("C",),
        (("A", "price 50 below min"), ("B", "beyond max_count"), ("D", "no data")),
        id="rules-apply-in-order",
    ),
]


@pytest.mark.parametrize(("kwargs", "selected", "rejected"), SELECTION_CASES)
def test_select_universe_with_rules_table(kwargs, selected, rejected):
    kwargs = dict(kwargs)
    choice = select_universe(
        DAY, kwargs.pop("members"), kwargs.pop("available"), kwargs.pop("prices"), **kwargs
    )
    assert choice == UniverseChoice(day=DAY, selected=selected, rejected=rejected)


def test_select_universe_is_deterministic_and_frozen():
    args = (DAY, ["C", "A", "B"], {"B", "A", "C"}, {"A": 1.0, "B": 2.0, "C": 3.0})
    first = select_universe(*args, max_count=2, ranking={"A": 1.0, "B": 1.0, "C": 1.0})
    again = select_universe(*args, max_count=2, ranking={"A": 1.0, "B": 1.0, "C": 1.0})
    assert first == again and first.selected == ("A", "B")
    with pytest.raises(AttributeError):
        first.day = date(2020, 1, 1)  # type: ignore[misc]


def test_select_universe_with_negative_max_count_raises():
    with pytest.raises(ValueError):
        select_universe(DAY, ["A"], ["A"], {"A": 1.0}, max_count=-1)


def test_select_universe_with_real_members_and_demo_data():
    members = load_index_members("NIFTY 50", date(2023, 4, 3))
    available = sorted(DEMO_BANKS)
    prices = {
        "HDFCBANK": 1600.0,
        "ICICIBANK": 880.0,
        "SBIN": 524.0,
        "KOTAKBANK": 1730.0,
        "AXISBANK": 850.0,
    }
    turnover = {"HDFCBANK": 5.0, "ICICIBANK": 4.0, "SBIN": 3.0, "KOTAKBANK": 2.0, "AXISBANK": 1.0}
    choice = select_universe(
        date(2023, 4, 3), members, available, prices, min_price=600, max_count=3, ranking=turnover
    )
    assert choice.selected == ("HDFCBANK", "ICICIBANK", "KOTAKBANK")
    reasons = dict(choice.rejected)
    assert reasons["SBIN"] == "price 524 below min"
    assert reasons["AXISBANK"] == "beyond max_count"
    assert reasons["RELIANCE"] == "no data"
    assert len(choice.rejected) == 47
