"""The bundled replay data: every file loads, the F&O day's master is Kite-shaped, and
``scripts/make_demo_data.py`` regenerates the package files byte for byte."""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import re
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest

from kitetui.domain import NS_PER_SECOND
from kitetui.market.index_loader import load_index_values
from kitetui.market.instruments import KITE_COLUMNS
from kitetui.market.loaders import DataFormatError, data_path, load_candles, load_ticks

ROOT = Path(__file__).resolve().parents[1]
REPLAY = data_path("pkg:replay")
NFO = data_path("pkg:replay/nfo_20221118")
INDEX_FILE = "NIFTY50-INDEX_20221118.csv.gz"
KITE_HEADER = list(KITE_COLUMNS)
CANDLE_FILES = ("BANKNIFTY", "HDFCBANK", "ICICIBANK", "SBIN", "KOTAKBANK", "AXISBANK")
# Continuous-contract futures files -> tradingsymbol (the other files are named by it).
FUTURE_FILES = {
    REPLAY / "NIFTY-I_20221118.csv.gz": "NIFTY22NOVFUT",
    NFO / "NIFTY-II_20221118.csv.gz": "NIFTY22DECFUT",
}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHLY = re.compile(r"NIFTY(\d\d)(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(\d+)(CE|PE)")
WEEKLY = re.compile(r"NIFTY(\d\d)([1-9OND])(\d\d)(\d+)(CE|PE)")
IST = timezone(timedelta(hours=5, minutes=30))
OPT_SOURCE = "options/nfo_opt_ticks_20221118_shardul0007"
EXPIRIES = (date(2022, 11, 24), date(2022, 12, 1), date(2022, 12, 29))


def ist_ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=IST).timestamp()) * NS_PER_SECOND


def master() -> list[dict[str, str]]:
    with (NFO / "instruments.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        assert header == KITE_HEADER
        return [dict(zip(header, row, strict=True)) for row in reader]


def by_symbol() -> dict[str, dict[str, str]]:
    return {row["tradingsymbol"]: row for row in master()}


def option_files() -> list[Path]:
    skip = {INDEX_FILE, *(p.name for p in FUTURE_FILES)}
    return sorted(p for p in NFO.glob("*.csv.gz") if p.name not in skip)


def parse_option(symbol: str) -> tuple[date, bool, int, str]:
    """Decode a Kite NIFTY option tradingsymbol independently of the generator.

    Returns (expiry, monthly, strike, right); for a monthly series the symbol holds only
    the month, so ``expiry`` is the 1st of that month.
    """
    weekly = WEEKLY.fullmatch(symbol)
    if weekly:
        yy, code, dd, strike, right = weekly.groups()
        expiry = date(2000 + int(yy), "123456789OND".index(code) + 1, int(dd))
        return expiry, False, int(strike), right
    monthly = MONTHLY.fullmatch(symbol)
    assert monthly, symbol
    yy, mon, strike, right = monthly.groups()
    return date(2000 + int(yy), MONTHS.index(mon) + 1, 1), True, int(strike), right


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("symbol", CANDLE_FILES)
def test_candle_files_load(symbol: str) -> None:
    result = load_candles(REPLAY / f"{symbol}.csv.gz", symbol)
    assert len(result.bars) == 1875
    assert [e.kind for e in result.events] == []


def tick_files() -> list[Path]:
    return [*FUTURE_FILES, *option_files()]


def test_bundle_is_complete_and_small() -> None:
    names = {p.name for p in NFO.iterdir()}
    assert {"instruments.csv", INDEX_FILE, "NIFTY-II_20221118.csv.gz"} <= names
    assert len(option_files()) == 36  # 24-Nov 18050-18550 and 01-Dec 18150-18450, CE+PE
    assert "NIFTY22NOV18300CE.csv.gz" in names and "NIFTY22D0118300PE.csv.gz" in names
    total = sum(p.stat().st_size for p in REPLAY.rglob("*") if p.is_file())
    assert total < 3_200_000


@pytest.mark.parametrize("path", tick_files(), ids=lambda p: p.name)
def test_tick_files_load(path: Path) -> None:
    symbol = FUTURE_FILES.get(path, path.name.removesuffix(".csv.gz"))
    result = load_ticks(path, symbol)
    assert result.ticks
    kinds = {e.kind for e in result.events}
    assert kinds <= {"TickOutsideSession"}, result.events
    assert all(e.level == "INFO" for e in result.events)
    first, last = result.ticks[0].ts_ns, result.ticks[-1].ts_ns
    assert ist_ns(2022, 11, 18, 9, 15) <= first <= last < ist_ns(2022, 11, 18, 15, 30)
    assert all(a.ts_ns <= b.ts_ns for a, b in pairwise(result.ticks))
    assert all(t.symbol == symbol and t.price > 0 for t in result.ticks)


def test_atm_option_prices_are_plausible() -> None:
    """Put-call parity sanity at 18300 for the Nov expiry: C - P ~ F - K at the close."""
    call = load_ticks(NFO / "NIFTY22NOV18300CE.csv.gz", "NIFTY22NOV18300CE").ticks
    put = load_ticks(NFO / "NIFTY22NOV18300PE.csv.gz", "NIFTY22NOV18300PE").ticks
    fut = load_ticks(REPLAY / "NIFTY-I_20221118.csv.gz", "NIFTY22NOVFUT").ticks
    assert abs((call[-1].price - put[-1].price) - (fut[-1].price - 18300)) < 15


def test_index_values_load() -> None:
    result = load_index_values(NFO / INDEX_FILE, "NIFTY 50")
    ticks = result.ticks
    assert len(ticks) == 22_500  # one a second, 09:15:00-15:29:59, no gap
    assert ticks[0].ts_ns == ist_ns(2022, 11, 18, 9, 15)
    assert ticks[-1].ts_ns == ist_ns(2022, 11, 18, 15, 29, 59)
    assert all(b.ts_ns - a.ts_ns == NS_PER_SECOND for a, b in pairwise(ticks))
    assert all(t.qty == 0 and t.oi == 0 and t.symbol == "NIFTY 50" for t in ticks)
    prices = [t.price for t in ticks]
    assert (min(prices), max(prices)) == (18210.3, 18393.8)
    events = {e.data["reason"]: e for e in result.events}
    assert [e.kind for e in result.events] == ["TickOutsideSession"] * 2
    assert events["pre-open, before 09:15 IST"].data["count"] == 842
    assert events["post-close, 15:30 IST or later"].data["count"] == 232
    everything = load_index_values(NFO / INDEX_FILE, "NIFTY 50", session_only=False)
    assert len(everything.ticks) == 23_574 and everything.events == ()


def test_load_ticks_rejects_the_index_layout() -> None:
    with pytest.raises(DataFormatError):
        load_ticks(NFO / INDEX_FILE, "NIFTY 50")


def test_index_loader_quirks(tmp_path: Path) -> None:
    path = tmp_path / "idx.csv.gz"
    text = (
        "timestamp,value\n"
        "2022-11-18 09:15:02,100.5\n"
        "2022-11-18 09:15:01,100.0\n"
        "5\n"
        "2022-11-18 09:15:03,nan\n"
        "2022-11-18 09:15:04,-1\n"
        "not a time,1\n"
        "2022-11-18 15:30:00,101\n"
    )
    path.write_bytes(gzip.compress(text.encode()))
    result = load_index_values(path, "X")
    assert [t.price for t in result.ticks] == [100.0, 100.5]
    kinds = sorted(e.kind for e in result.events)
    assert kinds == ["RowSkipped"] * 4 + ["RowsReordered", "TickOutsideSession"]
    bad = tmp_path / "bad.csv"
    bad.write_text("20221118,09:15:00,1.0,1,1\n")
    with pytest.raises(DataFormatError, match="not an index value file"):
        load_index_values(bad, "X")
    with pytest.raises(DataFormatError, match="file not found"):
        load_index_values(tmp_path / "missing.csv", "X")


# --------------------------------------------------------------------------- master


def test_master_is_kite_format() -> None:
    raw = (NFO / "instruments.csv").read_bytes()
    assert raw.startswith(",".join(KITE_HEADER).encode() + b"\r\n")
    assert not any(line.startswith(b"#") for line in raw.splitlines())
    rows = master()
    assert len(rows) == 1 + 3 + 471
    assert len({r["instrument_token"] for r in rows}) == len(rows)
    assert len({r["exchange_token"] for r in rows}) == len(rows)
    assert len({r["tradingsymbol"] for r in rows}) == len(rows)
    index = rows[0]
    assert index == {
        "instrument_token": "256265",
        "exchange_token": "1001",
        "tradingsymbol": "NIFTY 50",
        "name": "NIFTY 50",
        "last_price": "0.0",
        "expiry": "",
        "strike": "0.0",
        "tick_size": "0.0",
        "lot_size": "0",
        "instrument_type": "EQ",
        "segment": "INDICES",
        "exchange": "NSE",
    }
    for row in rows[1:]:
        token = int(row["instrument_token"])
        assert token == int(row["exchange_token"]) * 256 + 2  # Kite layout, NFO = 2
        assert 256265 < token < 2**31
        assert row["name"] == "NIFTY" and row["exchange"] == "NFO"
        assert (row["lot_size"], row["tick_size"], row["last_price"]) == ("50", "0.05", "0.0")
        date.fromisoformat(row["expiry"])
        float(row["strike"])
    assert [r["segment"] for r in rows] == sorted(r["segment"] for r in rows)


def test_master_futures() -> None:
    symbols = by_symbol()
    for symbol, expiry in (
        ("NIFTY22NOVFUT", "2022-11-24"),
        ("NIFTY22DECFUT", "2022-12-29"),
        ("NIFTY23JANFUT", "2023-01-25"),  # Thu 26th was Republic Day
    ):
        row = symbols[symbol]
        assert (row["expiry"], row["strike"], row["instrument_type"], row["segment"]) == (
            expiry,
            "0.0",
            "FUT",
            "NFO-FUT",
        )
    assert sum(r["segment"] == "NFO-FUT" for r in symbols.values()) == 3


def test_master_options_match_their_symbols() -> None:
    options = [r for r in master() if r["segment"] == "NFO-OPT"]
    assert {r["expiry"] for r in options} == {e.isoformat() for e in EXPIRIES}
    for row in options:
        expiry = date.fromisoformat(row["expiry"])
        listed, monthly, strike, right = parse_option(row["tradingsymbol"])
        if monthly:  # the month's last expiry; a weekly symbol carries its date
            assert (expiry.year, expiry.month) == (listed.year, listed.month)
            assert (expiry + timedelta(days=7)).month != expiry.month
        else:
            assert expiry == listed
            assert (expiry + timedelta(days=7)).month == expiry.month
        assert (float(row["strike"]), row["instrument_type"]) == (float(strike), right)
    symbols = by_symbol()
    assert symbols["NIFTY22NOV18300CE"]["expiry"] == "2022-11-24"
    assert symbols["NIFTY22D0118300CE"]["expiry"] == "2022-12-01"
    assert symbols["NIFTY22DEC18300PE"]["expiry"] == "2022-12-29"


def test_bundled_files_are_in_the_master() -> None:
    symbols = by_symbol()
    for path, symbol in FUTURE_FILES.items():
        assert symbols[symbol]["instrument_type"] == "FUT", path
    for path in option_files():
        symbol = path.name.removesuffix(".csv.gz")
        row = symbols[symbol]
        _expiry, _monthly, strike, right = parse_option(symbol)
        assert (float(row["strike"]), row["instrument_type"], row["lot_size"]) == (
            float(strike),
            right,
            "50",
        )
        assert row["expiry"] in ("2022-11-24", "2022-12-01")
        band = 250 if row["expiry"] == "2022-11-24" else 150
        assert abs(strike - 18300) <= band
    bundled = {p.name.removesuffix(".csv.gz") for p in option_files()}
    for row in symbols.values():  # every strike inside a band is bundled, CE and PE
        if row["segment"] != "NFO-OPT" or row["expiry"] == "2022-12-29":
            continue
        band = 250 if row["expiry"] == "2022-11-24" else 150
        if abs(float(row["strike"]) - 18300) <= band:
            assert row["tradingsymbol"] in bundled


def test_master_lists_every_source_contract(shared_data: Path) -> None:
    options = [r for r in master() if r["segment"] == "NFO-OPT"]
    for expiry in EXPIRIES:
        folder = shared_data / OPT_SOURCE / f"NIFTY_exp{expiry:%Y%m%d}"
        source = {(int(p.name[11:-9]), p.name[-9:-7]) for p in folder.glob("NIFTY*.csv.gz")}
        listed = {
            (int(float(r["strike"])), r["instrument_type"])
            for r in options
            if r["expiry"] == expiry.isoformat()
        }
        assert listed == source, expiry
        assert {s for s, _ in listed} == {s for s, _ in source}


def test_bundled_files_are_source_copies(shared_data: Path) -> None:
    symbols = by_symbol()
    for path in option_files():
        row = symbols[path.name.removesuffix(".csv.gz")]
        expiry = date.fromisoformat(row["expiry"])
        name = f"NIFTY{expiry:%y%m%d}{int(float(row['strike']))}{row['instrument_type']}.csv.gz"
        source = shared_data / OPT_SOURCE / f"NIFTY_exp{expiry:%Y%m%d}" / name
        assert path.read_bytes() == source.read_bytes(), path.name
    ticks = shared_data / "ticks"
    pairs = {
        NFO / "NIFTY-II_20221118.csv.gz": ticks
        / "index_fut_ticks_20221118_shardul0007/NIFTY-II.csv.gz",
        NFO / INDEX_FILE: ticks / "nse_nifty50_index_1s_anshkumar/2022-11-18.csv.gz",
        REPLAY / "NIFTY-I_20221118.csv.gz": ticks
        / "index_fut_ticks_20221118_shardul0007/NIFTY-I.csv.gz",
    }
    for bundled, source in pairs.items():
        assert bundled.read_bytes() == source.read_bytes(), bundled.name


# --------------------------------------------------------------------------- regenerate


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_demo_data", ROOT / "scripts" / "make_demo_data.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_regenerate_is_byte_identical(shared_data: Path, tmp_path: Path, capsys) -> None:
    script = _script()
    first, second = tmp_path / "a", tmp_path / "b"
    assert script.main(["--source", str(shared_data), "--dest", str(first)]) == 0
    assert script.main(["--source", str(shared_data), "--dest", str(second)]) == 0
    capsys.readouterr()
    generated = _digests(first)
    assert generated == _digests(second)
    assert "nfo_20221118/instruments.csv" in generated and "README.md" in generated
    assert len([name for name in generated if name.startswith("nfo_20221118/")]) == 39
    packaged = _digests(REPLAY)
    for name, digest in generated.items():
        assert packaged.get(name) == digest, f"{name} differs from the package copy"
