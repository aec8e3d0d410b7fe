"""Older and newer Kite masters: every weekly spelling, futures at strike -0.01, INDICES
rows that must never be traded. Real rows from the 2026 NFO dump, the 2022 demo master
and Kite's own mocks, rewritten the way older dumps write them where noted."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date
from pathlib import Path

import pytest

from kitetui.config import ConfigError, parse_config
from kitetui.market.instruments import (
    KITE_COLUMNS,
    InstrumentMaster,
    parse_contract_symbol,
)
from kitetui.market.loaders import data_path
from kitetui.market.resolve import OptionSelector, nearest_expiry
from kitetui.preflight import check_tradables

DUMP = "instruments/kite_instruments_NFO_BFO_2026-08_nilanjan-guha/instruments.csv.gz"
DEMO_MASTER = data_path("pkg:replay/nfo_20221118/instruments.csv")
NSE_MASTER = data_path("pkg:replay/nse_instruments.csv")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, KITE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def nifty_rows(shared_data: Path) -> list[dict[str, str]]:
    """The 2026 dump's NIFTY options of the first two expiries (weekly and monthly)."""
    with gzip.open(shared_data / DUMP, "rt", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["name"] == "NIFTY" and r["segment"] == "NFO-OPT"]
    expiries = sorted({r["expiry"] for r in rows})[:2]
    return [r for r in rows if r["expiry"] in expiries]


# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize(
    ("symbol", "strike", "expected"),
    [
        ("NIFTY2331617000CE", 17000.0, ("NIFTY", 2023, 3, 16, 17000.0, "CE")),
        ("NIFTY22D0118150CE", 18150.0, ("NIFTY", 2022, 12, 1, 18150.0, "CE")),
        ("NIFTY22O1317000PE", 17000.0, ("NIFTY", 2022, 10, 13, 17000.0, "PE")),
        ("NIFTY16MAR2317000CE", 17000.0, ("NIFTY", 2023, 3, 16, 17000.0, "CE")),
        ("NIFTY22NOV18300CE", 18300.0, ("NIFTY", 2022, 11, None, 18300.0, "CE")),
        ("NIFTY22112418000CE", 18000.0, ("NIFTY", 2022, 11, 24, 18000.0, "CE")),
        ("BANKNIFTY18JAN23500CE", 23500.0, ("BANKNIFTY", 2018, 1, None, 23500.0, "CE")),
        ("NIFTY22NOVFUT", None, ("NIFTY", 2022, 11, None, 0.0, "FUT")),
        ("M&M26AUGFUT", None, ("M&M", 2026, 8, None, 0.0, "FUT")),
        ("BAJAJ-AUTO26AUG9000PE", 9000.0, ("BAJAJ-AUTO", 2026, 8, None, 9000.0, "PE")),
        ("IDEA26AUG7.5CE", 7.5, ("IDEA", 2026, 8, None, 7.5, "CE")),
        ("SENSEX26O0181000CE", 81000.0, ("SENSEX", 2026, 10, 1, 81000.0, "CE")),
    ],
)
def test_parse_contract_symbol_with_each_spelling_reads_underlying_date_strike(
    symbol: str, strike: float | None, expected: tuple
) -> None:
    found = parse_contract_symbol(symbol, strike=strike)
    assert found is not None
    assert (found.underlying, found.year, found.month, found.day, found.strike,
            found.instrument_type) == expected  # fmt: skip


def test_parse_contract_symbol_with_ambiguous_digits_uses_strike_and_expiry() -> None:
    # "16MAR23..." reads as March 2016 with strike 2317000 unless the strike column says
    assert parse_contract_symbol("NIFTY16MAR2317000CE").year == 2016
    assert parse_contract_symbol("NIFTY16MAR2317000CE", strike=17000.0).day == 16
    # an underlying ending in digits: the name column fixes where the date starts
    found = parse_contract_symbol("NIFTYNXT502681824350CE", underlying="NIFTYNXT50")
    assert (found.underlying, found.day) == ("NIFTYNXT50", 18)


@pytest.mark.parametrize("symbol", ["SBIN", "NIFTY 50", "NIFTYCE", "NIFTY99Q0117000CE", "FUT"])
def test_parse_contract_symbol_with_non_contract_gives_none(symbol: str) -> None:
    assert parse_contract_symbol(symbol) is None


# --------------------------------------------------------------------------- the master


def test_master_with_real_dump_weekly_without_name_or_expiry_is_still_nearest(
    nifty_rows: list[dict[str, str]],
) -> None:
    """An older dump: no name column values, no expiry on the weekly rows."""
    weekly, monthly = sorted({r["expiry"] for r in nifty_rows})
    stripped = [{**r, "name": "", "expiry": "" if r["expiry"] == weekly else r["expiry"]}
                for r in nifty_rows]  # fmt: skip
    master, events = InstrumentMaster.from_csv(to_csv(stripped))

    assert nearest_expiry(master, "NIFTY", date(2026, 8, 17)) == date.fromisoformat(weekly)
    assert master.option_expiries("NIFTY") == [date.fromisoformat(e) for e in (weekly, monthly)]
    (event,) = events
    assert event.kind == "ExpiryFromSymbol" and event.level == "INFO"
    assert event.data["count"] == sum(1 for r in nifty_rows if r["expiry"] == weekly)


def test_master_with_day_month_year_weekly_spelling_groups_and_picks_the_weekly(
    nifty_rows: list[dict[str, str]],
) -> None:
    """The same real contracts spelt ``NIFTY18AUG2624350CE``, with no name column."""
    weekly = min(r["expiry"] for r in nifty_rows)
    day = date.fromisoformat(weekly)
    respelt = []
    for r in nifty_rows:
        if r["expiry"] == weekly:
            strike = r["tradingsymbol"].removeprefix(f"NIFTY{day:%y}{day.month}{day:%d}")
            r = {**r, "tradingsymbol": f"NIFTY{day:%d}{day:%b}{day:%y}".upper() + strike}
        respelt.append({**r, "name": ""})
    master, events = InstrumentMaster.from_csv(to_csv(respelt))

    assert events == ()
    assert nearest_expiry(master, "NIFTY", day) == day
    pair, _ = OptionSelector(master, "NIFTY").select(24_300.0, day)
    assert pair.expiry == day and pair.ce.tradingsymbol.startswith(f"NIFTY{day:%d}")


def test_master_with_real_dump_has_no_cross_check_events(shared_data: Path) -> None:
    master, events = InstrumentMaster.from_csv(shared_data / DUMP)
    assert len(master) == 39_941 and events == ()


def test_master_with_kite_mock_without_names_groups_by_parsed_underlying(
    shared_data: Path,
) -> None:
    path = shared_data.parent / "kite-mocks" / "instruments_all.csv"
    if not path.is_file():
        pytest.skip("kite mocks not found")
    master, events = InstrumentMaster.from_csv(path)
    assert events == ()
    assert "BANKNIFTY" in master.underlyings()
    assert nearest_expiry(master, "BANKNIFTY", date(2017, 11, 1)) == date(2017, 11, 30)


def test_master_with_expiry_disagreeing_with_symbol_keeps_the_column_and_says_so() -> None:
    rows = rows_of(DEMO_MASTER.read_text())
    weekly = next(r for r in rows if r["tradingsymbol"] == "NIFTY22D0118300CE")
    wrong = {**weekly, "expiry": "2022-12-08"}  # the symbol says 1 Dec
    master, events = InstrumentMaster.from_csv(to_csv([wrong]))

    assert master.get("NFO", "NIFTY22D0118300CE").expiry == date(2022, 12, 8)
    (event,) = events
    assert event.kind == "ExpiryMismatch" and event.level == "WARNING"
    assert "2022-12-01" in event.message and "2022-12-08" in event.message


def test_master_with_unknown_spelling_keeps_the_row_with_an_event() -> None:
    rows = rows_of(DEMO_MASTER.read_text())
    future = next(r for r in rows if r["tradingsymbol"] == "NIFTY22NOVFUT")
    master, events = InstrumentMaster.from_csv(to_csv([{**future, "tradingsymbol": "NIFTY-I"}]))
    assert len(master) == 1 and [e.kind for e in events] == ["SymbolUnparsed"]


@pytest.mark.parametrize("strike", ["-0.01", "0", "-1", ""])
def test_master_with_future_at_negative_or_zero_strike_keeps_it(strike: str) -> None:
    rows = rows_of(DEMO_MASTER.read_text())
    futures = [{**r, "strike": strike} for r in rows if r["instrument_type"] == "FUT"]
    master, events = InstrumentMaster.from_csv(to_csv(futures))

    assert events == ()
    assert [f.tradingsymbol for f in master.futures("NIFTY")] == [
        "NIFTY22NOVFUT", "NIFTY22DECFUT", "NIFTY23JANFUT"]  # fmt: skip
    assert all(f.strike == 0.0 for f in master.futures("NIFTY"))


def test_master_with_option_at_negative_strike_skips_it() -> None:
    rows = rows_of(DEMO_MASTER.read_text())
    option = next(r for r in rows if r["instrument_type"] == "CE")
    master, events = InstrumentMaster.from_csv(to_csv([{**option, "strike": "-0.01"}]))
    assert len(master) == 0 and events[0].kind == "RowSkipped"


# --------------------------------------------------------------------------- INDICES


def test_master_with_indices_rows_lists_them_as_not_tradable() -> None:
    master, _ = InstrumentMaster.from_csv(NSE_MASTER)
    index = master.get("NSE", "NIFTY 50")
    stock = master.get("NSE", "SBIN")
    assert index is not None and not index.is_tradable
    assert index.untradable_reason == "an index (segment INDICES)"
    assert stock is not None and stock.is_tradable


def test_check_tradables_with_index_in_equity_symbols_refuses_naming_the_key() -> None:
    from kitetui.cli import DEFAULT_CONFIG
    from kitetui.config import read_config_data

    data = read_config_data(DEFAULT_CONFIG)
    data["engines"][2] = {**data["engines"][2], "universe": None, "symbols": ["SBIN", "NIFTY BANK"]}
    config = parse_config(data, "x.yaml")
    master, _ = InstrumentMaster.from_csv(NSE_MASTER)
    with pytest.raises(ConfigError) as caught:
        check_tradables(config, master, "x.yaml")
    assert caught.value.key_path == "engines[2].symbols[1]"
    assert "NIFTY BANK is an index (segment INDICES)" in caught.value.reason


@pytest.mark.parametrize(("tick", "tradable"), [("5", True), ("100", True), ("1000", False)])
def test_a_tick_wider_than_any_real_one_makes_the_row_untradable(tick: str, tradable: bool) -> None:
    """A damaged tick (₹1,000 on SBIN) would round every order far from the market."""
    rows = rows_of(NSE_MASTER.read_text())
    sbin = next(r for r in rows if r["tradingsymbol"] == "SBIN")
    master, _ = InstrumentMaster.from_csv(to_csv([{**sbin, "tick_size": tick}]))
    row = master.get("NSE", "SBIN")
    assert row is not None and row.is_tradable is tradable
    assert tradable or row.untradable_reason == f"listed with tick size {tick}"
