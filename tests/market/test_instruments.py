"""Instrument master and contract resolution: real Kite and NSE files, then edge cases.

Real data: Kite's mock CSVs (kiteconnect-mocks), the Aug-2026 NFO/BFO dump (39,941
rows) and NSE's F&O bhavcopy of 14-Nov-2025, whose OPTIDX/FUTIDX rows are turned into
``Instrument`` values here (synthetic tokens) so resolution is checked against every
expiry and strike that actually traded that day. Expected figures are computed in the
tests from the raw files, independently of the code under test.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from kitetui.domain import Event
from kitetui.market.instruments import (
    Instrument,
    InstrumentError,
    InstrumentMaster,
    load_masters,
)
from kitetui.market.resolve import (
    OptionPair,
    OptionSelector,
    atm_strike,
    near_future,
    nearest_expiry,
    strike_step,
)

HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
    "tick_size,lot_size,instrument_type,segment,exchange"
)
DUMP = "instruments/kite_instruments_NFO_BFO_2026-08_nilanjan-guha/instruments.csv.gz"
BHAV = "options/fo_bhavcopy_20251114_vwebbaker"
INDEX_UNDERLYINGS = ("NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY")


class FakeCalendar:
    """Weekdays minus a holiday set: the ``TradingCalendar`` interface, nothing more."""

    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)

    def is_trading_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self.holidays

    def next_trading_day(self, d: date) -> date:
        d += timedelta(days=1)
        while not self.is_trading_day(d):
            d += timedelta(days=1)
        return d

    def previous_trading_day(self, d: date) -> date:
        d -= timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d

    def sessions_between(self, a: date, b: date) -> int:
        days = (a + timedelta(days=n) for n in range(1, (b - a).days + 1))
        return sum(1 for d in days if self.is_trading_day(d))


def kinds(events: tuple[Event, ...]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for event in events:
        out.setdefault(event.kind, []).append(event)
    return out


# --------------------------------------------------------------------------- builders

_tokens = iter(range(1_000_000, 10_000_000))


def future(underlying: str, expiry: date, exchange: str = "NFO") -> Instrument:
    symbol = f"{underlying}{expiry:%y%m%d}FUT"
    return Instrument(
        next(_tokens), 0, symbol, underlying, 0.0, expiry, 0.0, 0.05, 1, "FUT", f"{exchange}-FUT",
        exchange,
    )  # fmt: skip


def option(
    underlying: str, expiry: date, strike: float, right: str, exchange: str = "NFO"
) -> Instrument:
    symbol = f"{underlying}{expiry:%y%m%d}{strike:g}{right}"
    return Instrument(
        next(_tokens), 0, symbol, underlying, 0.0, expiry, float(strike), 0.05, 1, right,
        f"{exchange}-OPT", exchange,
    )  # fmt: skip


def chain(
    underlying: str,
    expiry: date,
    strikes: Iterable[float],
    *,
    missing: Iterable[tuple[float, str]] = (),
    rights: tuple[str, ...] = ("CE", "PE"),
) -> list[Instrument]:
    skip = set(missing)
    return [option(underlying, expiry, s, r) for s in strikes for r in rights if (s, r) not in skip]


# --------------------------------------------------------------------------- Kite mocks


@pytest.fixture(scope="module")
def mocks(shared_data: Path) -> Path:
    path = shared_data.parent / "kite-mocks"
    if not (path / "instruments_all.csv").is_file():
        pytest.skip(f"kite mocks not found at {path}")
    return path


@pytest.mark.parametrize("name", ["instruments_all.csv", "instruments_nse.csv"])
def test_from_csv_with_kite_mock_file_parses_every_row(mocks: Path, name: str) -> None:
    path = mocks / name
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))

    master, events = InstrumentMaster.from_csv(path)

    assert events == ()
    assert len(master) == len(rows) == 99
    assert [i.instrument_token for i in master] == [int(r["instrument_token"]) for r in rows]
    first = master.lookup("NSE:CENTRALBK-BE")
    assert first is not None
    assert (first.name, first.instrument_type, first.expiry, first.tick_size, first.lot_size) == (
        "CENTRAL BANK OF INDIA", "EQ", None, 0.05, 1,
    )  # fmt: skip
    assert (first.key, first.right, first.is_future, first.is_option) == (
        "NSE:CENTRALBK-BE", "", False, False,
    )  # fmt: skip


def test_from_csv_with_kite_mock_options_without_name_derives_underlying(mocks: Path) -> None:
    master, _ = InstrumentMaster.from_csv(mocks / "instruments_all.csv")
    with (mocks / "instruments_all.csv").open(newline="") as f:
        nfo = [r for r in csv.DictReader(f) if r["exchange"] == "NFO"]
    expected = sorted({r["tradingsymbol"].split("1")[0] for r in nfo})  # BANKNIFTY18JAN..

    assert all(r["name"] == "" for r in nfo)
    assert (
        master.underlyings("NFO") == expected == ["ADANIPORTS", "BANKNIFTY", "INDIACEM", "INDIANB"]
    )
    call = master.option("BANKNIFTY", date(2018, 1, 25), 23500, "CE")
    assert call is not None and call.tradingsymbol == "BANKNIFTY18JAN23500CE"
    assert (call.instrument_token, call.right, call.last_price, call.lot_size) == (
        12073986, "CE", 2528.4, 40,
    )  # fmt: skip
    assert master.option_expiries("INDIACEM") == [date(2017, 12, 28)]
    assert master.strikes("INDIACEM", date(2017, 12, 28), "PE") == [220.0, 225.0, 230.0]
    assert master.strikes("INDIACEM", date(2017, 12, 28), "CE") == [225.0, 230.0]


# --------------------------------------------------------------------------- real dump


@pytest.fixture(scope="module")
def dump_rows(shared_data: Path) -> list[dict[str, str]]:
    with gzip.open(shared_data / DUMP, "rt", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def dump(shared_data: Path) -> InstrumentMaster:
    master, events = InstrumentMaster.from_csv(shared_data / DUMP)
    assert events == ()
    return master


def test_from_csv_with_real_dump_keeps_all_rows_by_segment(
    dump: InstrumentMaster, dump_rows: list[dict[str, str]]
) -> None:
    assert len(dump) == len(dump_rows) == 39_941
    assert Counter(i.segment for i in dump) == Counter(
        {"NFO-OPT": 35_043, "NFO-FUT": 640, "BFO-OPT": 4_246, "BFO-FUT": 12}
    )
    names = {(r["exchange"], r["name"]) for r in dump_rows}
    assert len(names) == 218
    assert set(dump.underlyings("NFO")) | set(dump.underlyings("BFO")) == {n for _, n in names}


@pytest.mark.parametrize("underlying", ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"])
def test_futures_with_real_dump_lists_three_months_in_expiry_order(
    dump: InstrumentMaster, dump_rows: list[dict[str, str]], underlying: str
) -> None:
    expected = sorted(
        (r["expiry"], r["tradingsymbol"], int(r["lot_size"]), float(r["tick_size"]))
        for r in dump_rows
        if r["name"] == underlying and r["instrument_type"] == "FUT" and r["exchange"] == "NFO"
    )
    got = [
        (f.expiry.isoformat(), f.tradingsymbol, f.lot_size, f.tick_size)
        for f in dump.futures(underlying)
        if f.expiry
    ]
    assert got == expected and len(got) == 3
    assert all(f.is_future and not f.is_option and f.right == "" for f in dump.futures(underlying))


def test_futures_with_real_dump_nifty_has_lot_65_and_tick_0_1(dump: InstrumentMaster) -> None:
    nifty = dump.futures("NIFTY")
    assert [f.tradingsymbol for f in nifty] == ["NIFTY26AUGFUT", "NIFTY26SEPFUT", "NIFTY26OCTFUT"]
    assert {(f.lot_size, f.tick_size) for f in nifty} == {(65, 0.1)}
    assert [f.tradingsymbol for f in dump.futures("SENSEX", exchange="BFO")] == [
        "SENSEX26AUGFUT", "SENSEX26SEPFUT", "SENSEX26OCTFUT",
    ]  # fmt: skip
    assert dump.futures("SENSEX") == []  # NFO has none


def test_lookups_with_real_dump_agree_by_token_key_and_contract(dump: InstrumentMaster) -> None:
    fut = dump.by_token(14866434)
    assert fut is not None and fut.key == "NFO:NIFTY26AUGFUT"
    assert dump.lookup("NFO:NIFTY26AUGFUT") is fut
    assert dump.lookup("nfo:nifty26augfut") is fut
    assert dump.get("NFO", "NIFTY26AUGFUT") is fut
    call = dump.option("NIFTY", date(2026, 8, 18), 24350, "CE")
    assert call is not None
    assert (call.instrument_token, call.tradingsymbol, call.right) == (
        11546626, "NIFTY2681824350CE", "CE",
    )  # fmt: skip
    assert dump.by_token(11546626) is call
    assert dump.option("NIFTY", date(2026, 8, 18), 24350.0, "put") is dump.lookup(
        "NFO:NIFTY2681824350PE"
    )
    assert dump.option("NIFTY", date(2026, 8, 18), 24351, "CE") is None
    assert dump.by_token(256265) is None  # the NIFTY 50 index is not in this dump
    assert dump.lookup("NSE:INFY") is None


@pytest.mark.parametrize("key", ["NIFTY26AUGFUT", ":NIFTY26AUGFUT", "NFO:", ""])
def test_lookup_with_malformed_key_raises(dump: InstrumentMaster, key: str) -> None:
    with pytest.raises(InstrumentError, match="NFO:NIFTY22NOVFUT"):
        dump.lookup(key)


def test_option_with_bad_right_raises(dump: InstrumentMaster) -> None:
    with pytest.raises(InstrumentError, match="CE or PE"):
        dump.option("NIFTY", date(2026, 8, 18), 24350, "XX")


def _independent_step(strikes: list[float], around: float) -> float:
    """Smallest gap among the 10 strikes nearest ``around`` (not the code's mode rule)."""
    near = sorted(sorted(strikes, key=lambda s: abs(s - around))[:10])
    return min(b - a for a, b in pairwise(near))


@pytest.mark.parametrize(
    ("underlying", "exchange", "expected"),
    [
        ("NIFTY", "NFO", 50.0),
        ("BANKNIFTY", "NFO", 100.0),
        ("FINNIFTY", "NFO", 50.0),
        ("MIDCPNIFTY", "NFO", 25.0),
        ("NIFTYNXT50", "NFO", 100.0),
        ("RELIANCE", "NFO", 10.0),
        ("SENSEX", "BFO", 100.0),
        ("BANKEX", "BFO", 100.0),
    ],
)
def test_strike_step_with_real_dump_matches_listed_grid_near_the_middle(
    dump: InstrumentMaster,
    dump_rows: list[dict[str, str]],
    underlying: str,
    exchange: str,
    expected: float,
) -> None:
    expiry = min(
        r["expiry"]
        for r in dump_rows
        if r["name"] == underlying and r["exchange"] == exchange and r["instrument_type"] == "CE"
    )
    raw = sorted(
        {
            float(r["strike"])
            for r in dump_rows
            if r["name"] == underlying and r["exchange"] == exchange and r["expiry"] == expiry
            and r["instrument_type"] in ("CE", "PE")
        }
    )  # fmt: skip
    middle = raw[len(raw) // 2]  # the chain is listed around the money of its day

    listed = dump.strikes(underlying, date.fromisoformat(expiry), exchange=exchange)
    assert listed == raw
    assert strike_step(listed, around=middle) == _independent_step(raw, middle) == expected


def test_strike_step_with_real_dump_long_dated_nifty_is_wider(dump: InstrumentMaster) -> None:
    strikes = dump.strikes("NIFTY", date(2026, 12, 29))
    assert strike_step(strikes) == 1000.0  # only round strikes are listed that far out


def test_strikes_with_real_dump_one_right_can_lack_a_strike(dump: InstrumentMaster) -> None:
    expiry = date(2026, 12, 29)
    calls = set(dump.strikes("NIFTY", expiry, "CE"))
    puts = set(dump.strikes("NIFTY", expiry, "PE"))
    both = dump.strikes("NIFTY", expiry)
    assert calls != puts
    assert both == sorted(calls | puts)


# --------------------------------------------------------------------------- search


def test_search_with_exact_tradingsymbol_puts_it_first(dump: InstrumentMaster) -> None:
    found = dump.search("nifty26augfut", limit=5)
    assert found[0].tradingsymbol == "NIFTY26AUGFUT"
    # the rest contain it (BANKNIFTY26AUGFUT ...) but do not start with it
    assert [i.tradingsymbol for i in found[1:]] == [
        "BANKNIFTY26AUGFUT", "FINNIFTY26AUGFUT", "MIDCPNIFTY26AUGFUT",
    ]  # fmt: skip


def test_search_with_prefix_ranks_prefix_before_substring(dump: InstrumentMaster) -> None:
    found = dump.search("NIFTY", limit=200)
    assert [i.tradingsymbol for i in found[:3]] == [
        "NIFTY26AUGFUT", "NIFTY26SEPFUT", "NIFTY26OCTFUT",
    ]  # fmt: skip
    prefix = [i.tradingsymbol.startswith("NIFTY") for i in found]
    assert all(prefix)  # thousands of NIFTY* contracts fill the limit before BANKNIFTY...
    assert dump.search("BANKNIFTY", limit=1)[0].tradingsymbol == "BANKNIFTY26AUGFUT"


def test_search_with_several_terms_requires_all_of_them(dump: InstrumentMaster) -> None:
    found = dump.search("nifty 24350 ce", limit=50)
    matching = [i for i in dump if i.strike == 24350.0 and i.right == "CE" and "NIFTY" in i.name]
    nifty = sorted((i for i in matching if i.name == "NIFTY"), key=lambda i: i.expiry or date.min)
    others = [i for i in matching if i.name != "NIFTY"]  # FINNIFTY: "nifty" inside the symbol
    assert found[: len(nifty)] == nifty and len(nifty) >= 5
    assert sorted(found[len(nifty) :], key=id) == sorted(others, key=id) and others
    assert found[0].tradingsymbol == "NIFTY2681824350CE"
    assert [i.tradingsymbol for i in dump.search("NIFTY 24350 put aug", limit=5)] == [
        "NIFTY2681824350PE", "NIFTY26AUG24350PE", "FINNIFTY26AUG24350PE",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "limit", "count"),
    [("", 20, 0), ("   ", 20, 0), ("zzzznotathing", 20, 0), ("nifty ce pe", 20, 0),
     ("banknifty", 7, 7), ("banknifty aug fut", 20, 1)],
)  # fmt: skip
def test_search_with_edge_queries_returns_expected_count(
    dump: InstrumentMaster, text: str, limit: int, count: int
) -> None:
    assert len(dump.search(text, limit=limit)) == count


# --------------------------------------------------------------------------- bad files


def _csv(*lines: str) -> bytes:
    return ("\n".join((HEADER, *lines)) + "\n").encode()


GOOD_FUT = "14866434,58072,NIFTY26AUGFUT,NIFTY,0.0,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO"
GOOD_CE = "11546626,45104,NIFTY2681824350CE,NIFTY,0.0,2026-08-18,24350.0,0.05,65,CE,NFO-OPT,NFO"
INDEX_ROW = "256265,1001,NIFTY 50,NIFTY 50,0.0,,0.0,0.0,0,EQ,INDICES,NSE"


def test_from_csv_with_bad_rows_skips_them_with_one_event_per_reason() -> None:
    data = _csv(
        GOOD_FUT,
        "x,1,BAD1,NIFTY,0.0,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "5,1,BAD2,NIFTY,abc,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "6,1,BAD3,NIFTY,nan,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "7,1,BAD4,NIFTY,0.0,25-08-2026,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "8,1,BAD5,NIFTY,0.0,,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "9,1,BAD6,NIFTY,0.0,2026-08-25,0.0,0.1,65,CE,NFO-OPT,NFO",
        "10,1,BAD7,NIFTY,0.0",
        GOOD_CE,
        "11,1,NIFTY26AUGFUT,NIFTY,0.0,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "12,1,NIFTY26AUGFUT,NIFTY,0.0,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "14866434,1,OTHER,NIFTY,0.0,2026-08-25,0.0,0.1,65,FUT,NFO-FUT,NFO",
        "13,1,BAD8,NIFTY,0.0,2026-08-25,0.0,-0.1,65,FUT,NFO-FUT,NFO",
        INDEX_ROW,
    )
    master, events = InstrumentMaster.from_csv(data, ts_ns=123)

    assert [i.tradingsymbol for i in master] == ["NIFTY26AUGFUT", "NIFTY2681824350CE", "NIFTY 50"]
    assert master.by_token(14866434).tradingsymbol == "NIFTY26AUGFUT"  # the first one kept
    by_kind = kinds(events)
    skipped = {e.data["reason"]: (e.data["count"], e.data["lines"]) for e in by_kind["RowSkipped"]}
    assert skipped == {
        "unparseable instrument or exchange token": (1, [3]),
        "unparseable number": (1, [4]),
        "negative or non-finite price, strike, tick or lot": (2, [5, 14]),
        "unparseable expiry": (1, [6]),
        "FUT without expiry": (1, [7]),
        "option without strike": (1, [8]),
        "5 fields, expected 12": (1, [9]),
    }
    dupes = {e.data["reason"]: (e.data["count"], e.data["lines"]) for e in by_kind[
        "DuplicateInstrumentsDropped"]}  # fmt: skip
    assert dupes == {"an exchange:tradingsymbol": (2, [11, 12]), "an instrument_token": (1, [13])}
    assert all(e.ts_ns == 123 and e.level == "WARNING" for e in events)
    assert "kept the first" in by_kind["DuplicateInstrumentsDropped"][0].message


def test_load_masters_with_a_symbol_in_two_files_keeps_the_first_with_an_event(
    tmp_path: Path,
) -> None:
    """Across files as within one: the first definition wins and the dropped row is an
    event naming both files, the symbol and what each file said."""
    first, second = tmp_path / "m3.csv", tmp_path / "nse.csv"
    first.write_bytes(_csv("1234,3045,SBIN,STATE BANK OF INDIA,0.0,,0.0,0.10,5,EQ,NSE,NSE"))
    second.write_bytes(
        _csv("779521,3045,SBIN,STATE BANK OF INDIA,0.0,,0.0,0.05,1,EQ,NSE,NSE", GOOD_FUT)
    )

    master, events = load_masters([first, second], ts_ns=7)

    sbin = master.get("NSE", "SBIN")
    assert sbin is not None and (sbin.instrument_token, sbin.lot_size) == (1234, 5)
    assert master.by_token(779521) is None and len(master) == 2
    (event,) = events
    assert event.kind == "DuplicateInstrumentsDropped"
    assert (event.level, event.ts_ns) == ("WARNING", 7)
    assert event.message.startswith(
        "nse.csv: 1 row(s) repeat an exchange:tradingsymbol of m3.csv (listed before it) "
        "with another definition; kept m3.csv's"
    )
    assert "NSE:SBIN token 779521 tick 0.05 lot 1 dropped" in event.message
    assert "m3.csv has NSE:SBIN token 1234 tick 0.1 lot 5" in event.message
    assert event.data == {
        "path": str(second),
        "kept_path": str(first),
        "reason": "an exchange:tradingsymbol",
        "count": 1,
        "symbols": ["NSE:SBIN"],
        "tokens": [779521],
    }


def test_load_masters_with_a_token_in_two_files_and_disjoint_files(tmp_path: Path) -> None:
    futures, options, other = (tmp_path / n for n in ("fut.csv", "opt.csv", "b.csv"))
    futures.write_bytes(_csv(GOOD_FUT))
    options.write_bytes(_csv(GOOD_CE))
    other.write_bytes(
        _csv("14866434,1,NIFTY26SEPFUT,NIFTY,0.0,2026-09-29,0.0,0.1,65,FUT,NFO-FUT,NFO")
    )

    master, events = load_masters([futures, options])
    assert len(master) == 2 and events == ()  # disjoint files: nothing to say

    master, events = load_masters([futures, other])
    assert [i.tradingsymbol for i in master] == ["NIFTY26AUGFUT"]
    (event,) = events
    assert event.data["reason"] == "an instrument_token" and event.data["count"] == 1
    assert "b.csv: 1 row(s) repeat an instrument_token of fut.csv" in event.message


def test_load_masters_with_the_same_row_in_two_files_keeps_one_without_a_word(
    tmp_path: Path,
) -> None:
    """The NFO and NSE dumps both list the indices: the same definition twice is one
    instrument (its last_price, a snapshot, may differ), not a conflict to warn of."""
    nfo, nse = tmp_path / "nfo.csv", tmp_path / "nse.csv"
    nfo.write_bytes(_csv(GOOD_FUT, INDEX_ROW))
    nse.write_bytes(_csv(INDEX_ROW.replace(",0.0,,", ",18300.5,,", 1)))
    master, events = load_masters([nfo, nse])
    assert len(master) == 2 and master.lookup("NSE:NIFTY 50") is not None
    assert events == ()
    nse.write_bytes(_csv(INDEX_ROW.replace("256265", "256266", 1)))  # another token
    _, (event,) = load_masters([nfo, nse])
    assert event.level == "WARNING" and "NSE:NIFTY 50 token 256266" in event.message


def test_load_masters_names_same_named_files_by_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "m.csv", tmp_path / "b" / "m.csv"
    first.write_bytes(_csv(GOOD_FUT))
    second.write_bytes(_csv(GOOD_FUT.replace(",0.1,65,", ",0.05,65,", 1)))
    _, (event,) = load_masters([first, second])
    assert event.message.startswith(f"{second}: 1 row(s) repeat")
    assert f"of {first}" in event.message


def test_from_csv_with_gzip_bytes_and_plain_path_gives_same_master(tmp_path: Path) -> None:
    data = _csv(GOOD_FUT, GOOD_CE, INDEX_ROW)
    path = tmp_path / "instruments.csv"
    path.write_bytes(data)

    from_bytes, _ = InstrumentMaster.from_csv(gzip.compress(data))
    from_path, events = InstrumentMaster.from_csv(str(path))

    assert list(from_bytes) == list(from_path) and len(from_path) == 3 and events == ()
    index = from_path.lookup("NSE:NIFTY 50")
    assert index is not None and (index.tick_size, index.lot_size) == (0.0, 0)


def test_from_csv_with_reordered_columns_reads_by_header() -> None:
    columns = HEADER.split(",")
    order = list(reversed(range(len(columns))))
    rows = [columns, GOOD_FUT.split(",")]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[row[i] for i in order] for row in rows])
    master, events = InstrumentMaster.from_csv(buffer.getvalue().encode())
    assert events == () and master.futures("NIFTY")[0].lot_size == 65


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        (b"", "empty file"),
        (b"date,open,high,low,close\n2026-08-18,1,2,0.5,1\n", "not a Kite instruments CSV"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
    ],
)
def test_from_csv_with_unusable_file_raises_naming_it(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "kite_instruments.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InstrumentError, match=reason) as info:
        InstrumentMaster.from_csv(path)
    assert "kite_instruments.csv" in str(info.value)


# --------------------------------------------------------------------------- NSE bhavcopy


def _bhavcopy(path: Path) -> list[list[str]]:
    """Data rows, fields stripped; the header and the ``* - OPEN_INT`` footnote dropped."""
    with gzip.open(path, "rt", newline="") as f:
        lines = f.read().splitlines()
    header = [c.strip() for c in lines[0].split(",")]
    rows = [[c.strip() for c in line.split(",")] for line in lines[1:]]
    assert lines[-1].startswith("* - OPEN_INT")
    return [row for row in rows if len(row) == len(header)]


def _dmy(text: str) -> date:
    day, month, year = text.split("/")
    return date(int(year), int(month), int(day))


@pytest.fixture(scope="module")
def bhav(shared_data: Path) -> dict[str, object]:
    """The 14-Nov-2025 index contracts as a master, plus the raw facts to compare with."""
    options = [r for r in _bhavcopy(shared_data / BHAV / "op14112025.csv.gz") if r[0] == "OPTIDX"]
    futures = [r for r in _bhavcopy(shared_data / BHAV / "fo14112025.csv.gz") if r[0] == "FUTIDX"]
    instruments = [option(r[1], _dmy(r[2]), float(r[3]), r[4]) for r in options]
    instruments += [future(r[1], _dmy(r[2])) for r in futures]
    master = InstrumentMaster(instruments)
    assert len(master) == len(instruments)  # synthetic symbols are unique
    expiries: dict[str, set[date]] = {}
    strikes: dict[tuple[str, date], set[float]] = {}
    for r in options:
        expiries.setdefault(r[1], set()).add(_dmy(r[2]))
        strikes.setdefault((r[1], _dmy(r[2])), set()).add(float(r[3]))
    closes = {(r[1], _dmy(r[2])): float(r[6]) for r in futures}
    return {"master": master, "expiries": expiries, "strikes": strikes, "closes": closes}


BHAV_DAY = date(2025, 11, 14)


@pytest.mark.parametrize("underlying", INDEX_UNDERLYINGS)
def test_option_expiries_with_bhavcopy_lists_every_traded_expiry(
    bhav: dict, underlying: str
) -> None:
    listed = sorted(bhav["expiries"][underlying])
    master = bhav["master"]
    assert master.option_expiries(underlying) == listed
    assert nearest_expiry(master, underlying, BHAV_DAY) == listed[0]


def test_nearest_expiry_with_bhavcopy_is_the_weekly_tuesday_for_nifty(bhav: dict) -> None:
    master = bhav["master"]
    assert nearest_expiry(master, "NIFTY", BHAV_DAY) == date(2025, 11, 18)  # a Tuesday
    assert nearest_expiry(master, "NIFTY", date(2025, 11, 19)) == date(2025, 11, 25)
    assert nearest_expiry(master, "BANKNIFTY", BHAV_DAY) == date(2025, 11, 25)  # monthly only


@pytest.mark.parametrize(
    ("today", "roll_sessions", "expected"),
    [
        (BHAV_DAY, 1, date(2025, 11, 25)),
        (date(2025, 11, 24), 1, date(2025, 11, 25)),
        (date(2025, 11, 24), 2, date(2025, 12, 30)),
        (date(2025, 11, 25), 0, date(2025, 11, 25)),
        (date(2025, 11, 25), 1, date(2025, 12, 30)),
    ],
)
@pytest.mark.parametrize("underlying", INDEX_UNDERLYINGS)
def test_near_future_with_bhavcopy_picks_the_right_month(
    bhav: dict, underlying: str, today: date, roll_sessions: int, expected: date
) -> None:
    chosen = near_future(bhav["master"], underlying, today, FakeCalendar(), roll_sessions)
    assert chosen.expiry == expected and chosen.name == underlying and chosen.is_future


@pytest.mark.parametrize(
    ("underlying", "expected_step"),
    [("NIFTY", 50.0), ("BANKNIFTY", 100.0), ("FINNIFTY", 50.0), ("MIDCPNIFTY", 25.0)],
)
def test_strike_step_and_atm_with_bhavcopy_match_strikes_near_the_close(
    bhav: dict, underlying: str, expected_step: float
) -> None:
    master = bhav["master"]
    fut = near_future(master, underlying, BHAV_DAY, FakeCalendar())
    close = bhav["closes"][(underlying, fut.expiry)]
    expiry = nearest_expiry(master, underlying, BHAV_DAY)
    raw = sorted(bhav["strikes"][(underlying, expiry)])
    strikes = master.strikes(underlying, expiry)
    assert strikes == raw

    step = strike_step(strikes, around=close)
    assert step == _independent_step(raw, close) == expected_step

    atm = atm_strike(close, strikes)
    assert atm in raw
    assert abs(atm - close) == min(abs(s - close) for s in raw)
    assert abs(atm - close) <= step / 2


# --------------------------------------------------------------------------- synthetic master

AUG, SEP, OCT = date(2026, 8, 25), date(2026, 9, 29), date(2026, 10, 27)  # Tuesdays
W1, W2 = date(2026, 8, 18), date(2026, 8, 25)
GRID = [24_000 + 50 * n for n in range(21)]  # 24000 .. 25000


@pytest.fixture(scope="module")
def synthetic() -> InstrumentMaster:
    return InstrumentMaster(
        [
            future("NIFTY", date(2026, 7, 28)),  # expired
            future("NIFTY", OCT),  # listed out of order on purpose
            future("NIFTY", AUG),
            future("NIFTY", SEP),
            *chain("NIFTY", W1, GRID, missing=[(24_400, "PE")]),
            *chain("NIFTY", W2, GRID),
            *chain("CALLONLY", W1, GRID, rights=("CE",)),
            future("ONEFUT", AUG),
        ]
    )


def test_futures_with_synthetic_master_are_sorted_by_expiry(synthetic: InstrumentMaster) -> None:
    assert [f.expiry for f in synthetic.futures("nifty")] == [date(2026, 7, 28), AUG, SEP, OCT]


@pytest.mark.parametrize(
    ("today", "roll_sessions", "holidays", "expected"),
    [
        (date(2026, 8, 24), 0, (), AUG),  # day before expiry
        (date(2026, 8, 24), 1, (), AUG),
        (date(2026, 8, 24), 2, (), SEP),
        (AUG, 0, (), AUG),  # expiry day: held through it
        (AUG, 1, (), SEP),  # rolls on the expiry day
        (AUG, 2, (), SEP),
        (date(2026, 8, 26), 0, (), SEP),  # after expiry
        (date(2026, 8, 21), 2, (), AUG),  # Friday: Mon + Tue = 2 sessions, hold
        (date(2026, 8, 22), 2, (), AUG),  # Saturday
        (date(2026, 8, 24), 2, (), SEP),  # Monday is the roll day
        (date(2026, 8, 21), 2, (date(2026, 8, 24),), SEP),  # Monday holiday: 1 session left
        (date(2026, 8, 20), 3, (date(2026, 8, 24),), SEP),
        (date(2026, 8, 20), 3, (), AUG),
        (date(2026, 7, 1), 1, (), date(2026, 7, 28)),
    ],
)
def test_near_future_with_roll_sessions_and_holidays_picks_expected_expiry(
    synthetic: InstrumentMaster,
    today: date,
    roll_sessions: int,
    holidays: tuple[date, ...],
    expected: date,
) -> None:
    chosen = near_future(synthetic, "NIFTY", today, FakeCalendar(holidays), roll_sessions)
    assert chosen.expiry == expected


@pytest.mark.parametrize(
    ("underlying", "today", "roll_sessions", "message"),
    [
        ("BANKNIFTY", AUG, 1, "no futures listed for NFO:BANKNIFTY"),
        ("NIFTY", date(2026, 11, 2), 1, "has expired by 2026-11-02"),
        ("NIFTY", OCT, 1, "no later NFO:NIFTY future is listed"),
        ("ONEFUT", AUG, 1, "within the 1-session roll window"),
    ],
)
def test_near_future_with_nothing_suitable_raises_clear_error(
    synthetic: InstrumentMaster, underlying: str, today: date, roll_sessions: int, message: str
) -> None:
    with pytest.raises(InstrumentError, match=message):
        near_future(synthetic, underlying, today, FakeCalendar(), roll_sessions)


@pytest.mark.parametrize(
    ("strikes", "around", "expected"),
    [
        ([100, 150, 200, 250], None, 50.0),
        ([250, 100, 200, 150, 150], None, 50.0),  # unsorted, repeated
        ([100, 102.5, 105, 107.5], None, 2.5),
        ([10.1, 10.2, 10.3, 10.4], None, 0.1),
        # 50-point strikes near 20,000, 100-point ones (more of them) far away
        ([*range(15_000, 19_000, 100), *range(19_000, 21_001, 50)], 20_000, 50.0),
        ([*range(15_000, 19_000, 100), *range(19_000, 21_001, 50)], None, 50.0),
        ([*range(10_000, 19_000, 100), *range(19_000, 20_001, 50)], None, 100.0),
        ([*range(10_000, 19_000, 100), *range(19_000, 20_001, 50)], 19_500, 50.0),
        ([100, 150, 250, 350], None, 100.0),  # 50 x1, 100 x2
        ([100, 150, 250], None, 50.0),  # tie -> smaller
    ],
)
def test_strike_step_with_listed_strikes_gives_most_common_gap(
    strikes: list[float], around: float | None, expected: float
) -> None:
    assert strike_step(strikes, around=around) == pytest.approx(expected)


@pytest.mark.parametrize("strikes", [[], [24_000], [24_000, 24_000.0]])
def test_strike_step_with_fewer_than_two_strikes_raises(strikes: list[float]) -> None:
    with pytest.raises(InstrumentError, match="at least two"):
        strike_step(strikes)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (24_362.0, 24_350.0),
        (24_375.0, 24_350.0),  # exactly between -> lower
        (24_375.05, 24_400.0),
        (24_324.95, 24_300.0),
        (24_325.0, 24_300.0),
        (10.0, 24_000.0),  # below the chain
        (99_999.0, 25_000.0),  # above the chain
    ],
)
def test_atm_strike_with_price_picks_nearest_listed_lower_on_ties(
    price: float, expected: float
) -> None:
    assert atm_strike(price, GRID) == expected
    assert atm_strike(price, list(reversed(GRID))) == expected


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_atm_strike_with_bad_price_raises(price: float) -> None:
    with pytest.raises(InstrumentError, match="positive finite"):
        atm_strike(price, GRID)


def test_atm_strike_with_no_strikes_raises() -> None:
    with pytest.raises(InstrumentError, match="no strikes"):
        atm_strike(100.0, [])


@pytest.mark.parametrize(
    ("today", "expected"),
    [(date(2026, 8, 1), W1), (W1, W1), (date(2026, 8, 19), W2), (W2, W2)],
)
def test_nearest_expiry_with_today_picks_first_listed_on_or_after(
    synthetic: InstrumentMaster, today: date, expected: date
) -> None:
    assert nearest_expiry(synthetic, "NIFTY", today) == expected


@pytest.mark.parametrize(
    ("underlying", "today", "exchange", "message"),
    [
        ("NIFTY", date(2026, 8, 26), "NFO", "every NFO:NIFTY option expiry is before 2026-08-26"),
        ("ONEFUT", W1, "NFO", "no options listed for NFO:ONEFUT"),
        ("NIFTY", W1, "BFO", "no options listed for BFO:NIFTY"),
    ],
)
def test_nearest_expiry_with_nothing_listed_raises_clear_error(
    synthetic: InstrumentMaster, underlying: str, today: date, exchange: str, message: str
) -> None:
    with pytest.raises(InstrumentError, match=message):
        nearest_expiry(synthetic, underlying, today, exchange=exchange)


def test_nearest_expiry_with_lowercase_names_matches(synthetic: InstrumentMaster) -> None:
    assert nearest_expiry(synthetic, "nifty", W1, exchange="nfo") == W1


# --------------------------------------------------------------------------- OptionSelector


def strikes_of(pair: OptionPair) -> tuple[float, float, float]:
    return pair.atm, pair.ce.strike, pair.pe.strike


def test_select_with_first_price_picks_nearest_expiry_and_atm(synthetic: InstrumentMaster) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    pair, changed = selector.select(24_362.0, date(2026, 8, 17))
    assert changed
    assert (pair.underlying, pair.expiry, pair.step) == ("NIFTY", W1, 50.0)
    assert strikes_of(pair) == (24_350.0, 24_350.0, 24_350.0)
    assert (pair.ce.right, pair.pe.right) == ("CE", "PE")
    assert selector.last_notes == () and selector.pair is pair


def test_select_with_price_exactly_between_strikes_takes_lower(
    synthetic: InstrumentMaster,
) -> None:
    pair, _ = OptionSelector(synthetic, "NIFTY").select(24_375.0, W1)
    assert strikes_of(pair) == (24_350.0, 24_350.0, 24_350.0)


@pytest.mark.parametrize(
    ("offset", "price", "expected"),
    [
        (1, 24_350.0, (24_350.0, 24_400.0, 24_300.0)),
        (2, 24_340.0, (24_350.0, 24_450.0, 24_250.0)),
        (-1, 24_350.0, (24_350.0, 24_300.0, 24_400.0)),  # negative: in the money
        (3, 24_900.0, (24_900.0, 25_000.0, 24_750.0)),  # CE 25050 not listed -> 25000
    ],
)
def test_select_with_offset_steps_moves_both_legs_out_of_the_money(
    synthetic: InstrumentMaster, offset: int, price: float, expected: tuple[float, ...]
) -> None:
    selector = OptionSelector(synthetic, "NIFTY", offset_steps=offset)
    pair, _ = selector.select(price, W2)
    assert strikes_of(pair) == expected
    assert bool(selector.last_notes) == (offset == 3)


def test_select_with_strike_missing_for_one_right_uses_nearest_and_notes_it(
    synthetic: InstrumentMaster,
) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    pair, _ = selector.select(24_410.0, W1)  # W1 lists 24400 CE but no 24400 PE
    assert strikes_of(pair) == (24_400.0, 24_400.0, 24_350.0)  # 24350/24450 tie -> lower
    assert len(selector.last_notes) == 1
    assert "24400 PE is not listed" in selector.last_notes[0]
    assert "24350" in selector.last_notes[0]
    pair, changed = selector.select(24_420.0, W1)  # kept: the note still describes it
    assert not changed and len(selector.last_notes) == 1
    pair, changed = selector.select(24_560.0, W1)
    assert changed and selector.last_notes == ()


# Default hysteresis 0.5 and step 50: the pair moves when |price - ATM| > 50.
HYSTERESIS_PATH = [
    (24_350.0, 24_350.0, True),
    (24_390.0, 24_350.0, False),  # nearest strike is 24400 but inside the band
    (24_400.0, 24_350.0, False),  # exactly at the threshold: kept
    (24_310.0, 24_350.0, False),
    (24_300.0, 24_350.0, False),
    (24_400.5, 24_400.0, True),  # a full strike past -> move once
    (24_360.0, 24_400.0, False),  # back and forth does not flap
    (24_440.0, 24_400.0, False),
    (24_355.0, 24_400.0, False),
    (24_349.0, 24_350.0, True),
]


def test_select_with_small_moves_and_default_hysteresis_does_not_flap(
    synthetic: InstrumentMaster,
) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    got = []
    for price, _, _ in HYSTERESIS_PATH:
        pair, changed = selector.select(price, W2)
        got.append((price, pair.atm, changed))
        assert pair.ce.strike == pair.pe.strike == pair.atm
    assert got == HYSTERESIS_PATH


@pytest.mark.parametrize(
    ("hysteresis", "price", "changed"),
    [(0.0, 24_375.0, False), (0.0, 24_376.0, True), (1.0, 24_425.0, False), (1.0, 24_426.0, True)],
)
def test_select_with_hysteresis_sets_the_threshold(
    synthetic: InstrumentMaster, hysteresis: float, price: float, changed: bool
) -> None:
    selector = OptionSelector(synthetic, "NIFTY", hysteresis=hysteresis)
    selector.select(24_350.0, W2)
    _, got = selector.select(price, W2)
    assert got is changed


def test_select_with_jump_across_several_strikes_re_resolves_once(
    synthetic: InstrumentMaster,
) -> None:
    selector = OptionSelector(synthetic, "NIFTY", offset_steps=1)
    selector.select(24_350.0, W2)
    pair, changed = selector.select(24_722.0, W2)
    assert changed and strikes_of(pair) == (24_700.0, 24_750.0, 24_650.0)
    again, changed = selector.select(24_730.0, W2)
    assert not changed and again is pair


def test_select_with_expiry_passed_moves_to_next_expiry(synthetic: InstrumentMaster) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    first, _ = selector.select(24_350.0, W1)
    same, changed = selector.select(24_350.0, W1)  # expiry day itself: kept
    assert same is first and not changed
    pair, changed = selector.select(24_350.0, W1 + timedelta(days=1))
    assert changed and pair.expiry == W2 and pair.atm == 24_350.0
    assert pair.ce.tradingsymbol != first.ce.tradingsymbol


def test_select_past_today_on_the_expiry_day_rolls_to_the_next_expiry_once(
    synthetic: InstrumentMaster,
) -> None:
    """Past the engine's expiry-day cut-off the expiring pair gives way to the next
    expiry's, at the strike nearest the price; that pair is then kept (no flapping back
    to today's expiry)."""
    selector = OptionSelector(synthetic, "NIFTY")
    first, _ = selector.select(24_350.0, W1)
    pair, changed = selector.select(24_362.0, W1, past_today=True)
    assert changed and pair.expiry == W2 and strikes_of(pair) == (24_350.0,) * 3
    again, changed = selector.select(24_370.0, W1, past_today=True)
    assert not changed and again is pair
    # first resolved past the cut-off (a desk started late on the expiry day): W2 at once
    late, _ = OptionSelector(synthetic, "NIFTY").select(24_350.0, W1, past_today=True)
    assert late.expiry == W2 and first.expiry == W1


def test_select_past_today_on_a_day_before_an_expiry_keeps_the_nearest(
    synthetic: InstrumentMaster,
) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    pair, _ = selector.select(24_350.0, W1 - timedelta(days=1), past_today=True)
    assert pair.expiry == W1


def test_select_past_today_with_no_later_expiry_raises_and_keeps_the_pair(
    synthetic: InstrumentMaster,
) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    last, _ = selector.select(24_350.0, W2)
    with pytest.raises(InstrumentError, match="before 2026-08-26"):
        selector.select(24_350.0, W2, past_today=True)
    assert selector.pair is last
    assert selector.select(24_350.0, W2) == (last, False)


def test_select_with_price_beyond_chain_keeps_edge_pair_unchanged(
    synthetic: InstrumentMaster,
) -> None:
    selector = OptionSelector(synthetic, "NIFTY")
    pair, changed = selector.select(30_000.0, W2)
    assert changed and pair.atm == 25_000.0
    again, changed = selector.select(30_500.0, W2)
    assert not changed and (again.ce, again.pe) == (pair.ce, pair.pe)


@pytest.mark.parametrize(
    ("underlying", "price", "message"),
    [
        ("BANKNIFTY", 24_350.0, "no options listed for NFO:BANKNIFTY"),
        ("CALLONLY", 24_350.0, "no PE options listed for NFO:CALLONLY expiring 2026-08-18"),
        ("NIFTY", float("nan"), "positive finite"),
        ("NIFTY", -5.0, "positive finite"),
    ],
)
def test_select_with_absent_contract_raises_clear_error(
    synthetic: InstrumentMaster, underlying: str, price: float, message: str
) -> None:
    with pytest.raises(InstrumentError, match=message):
        OptionSelector(synthetic, underlying).select(price, W1)


def test_select_with_real_dump_picks_listed_nifty_pair(dump: InstrumentMaster) -> None:
    selector = OptionSelector(dump, "NIFTY", offset_steps=1)
    pair, changed = selector.select(24_362.0, date(2026, 8, 17))
    assert changed and pair.expiry == date(2026, 8, 18) and pair.step == 50.0
    assert (pair.ce.tradingsymbol, pair.pe.tradingsymbol) == (
        "NIFTY2681824400CE", "NIFTY2681824300PE",
    )  # fmt: skip
    assert selector.last_notes == ()


def test_journal_row_reads_back_as_the_same_instrument() -> None:
    """The day's master the journal keeps (``journal_row``) is what a restart reads back
    (``from_journal_row``), every column: futures and options with expiry, the index
    without."""
    import kitetui

    bundled = Path(kitetui.__file__).parent / "data/replay/nfo_20221118/instruments.csv"
    master, _ = InstrumentMaster.from_csv(bundled)
    assert len(master) > 100
    assert {i.instrument_type for i in master} >= {"FUT", "CE", "PE"}
    for instrument in master:
        assert Instrument.from_journal_row(instrument.journal_row()) == instrument
