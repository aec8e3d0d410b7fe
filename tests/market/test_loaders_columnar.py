"""The columnar load and the load cache give what the row-by-row reference gives.

``load_ticks``/``load_candles``/``load_index_values`` read clean files a column at a
time and keep the parsed form in a cache; ``reference_ticks``/``reference_candles``
are the careful row-by-row path alone. For every file, bundled or generated (clean,
shuffled, duplicated, outside the session, with bad rows, in every layout the loaders
know), all of them must give the same values in the same order and the same events,
or refuse the file with the same error.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitetui.domain import Bar, Tick
from kitetui.market.index_loader import _fast_index, load_index_values, reference_index_values
from kitetui.market.lazy_items import LazyItems
from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import (
    _build_ticks,
    _fast_candles,
    _fast_ticks,
    data_path,
    load_candles,
    load_ticks,
    reference_candles,
    reference_ticks,
    with_symbol,
)
from kitetui.market.replay import _days
from kitetui.market.session_hours import REGULAR, SessionHours

REPLAY = data_path("pkg:replay")
TICK_FILES = sorted(
    [REPLAY / "NIFTY-I_20221118.csv.gz"]
    + [p for p in (REPLAY / "nfo_20221118").glob("NIFTY*.csv.gz") if "INDEX" not in p.name]
)
CANDLE_FILES = sorted(p for p in REPLAY.glob("*.csv.gz") if not p.name.startswith("NIFTY"))
INDEX_FILE = REPLAY / "nfo_20221118" / "NIFTY50-INDEX_20221118.csv.gz"


def outcome(load: Callable[[], object]) -> object:
    """The result, or the refusal as (type, message): what the two paths must share."""
    try:
        return load()
    except Exception as exc:
        return (type(exc).__name__, str(exc))


# --------------------------------------------------------------------------- bundled data


def test_bundled_tick_files_load_alike_fresh_cached_and_row_by_row(tmp_path: Path) -> None:
    cache = LoadCache(tmp_path / "cache")
    assert len(TICK_FILES) > 30
    total = 0
    for path in TICK_FILES:
        symbol = path.name.split(".")[0]
        reference = reference_ticks(path, symbol)
        assert _fast_ticks(path.read_bytes(), path, symbol, REGULAR) is not None, path.name
        assert load_ticks(path, symbol) == reference
        assert load_ticks(path, symbol, cache=cache) == reference  # cold: written
        assert load_ticks(path, symbol, cache=cache) == reference  # warm: read back
        total += len(reference.ticks)
    assert total > 450_000
    assert len(list((tmp_path / "cache").glob("load-*.cols"))) == len(TICK_FILES)


@pytest.mark.parametrize("path", CANDLE_FILES, ids=lambda p: p.name)
def test_bundled_candle_files_load_alike_fresh_cached_and_row_by_row(
    path: Path, tmp_path: Path
) -> None:
    cache = LoadCache(tmp_path)
    symbol = path.name.split(".")[0]
    reference = reference_candles(path, symbol, check_symbol=True)
    assert _fast_candles(path.read_bytes(), path, symbol, 60, REGULAR, True) is not None
    assert load_candles(path, symbol, check_symbol=True) == reference
    for _ in range(2):
        assert load_candles(path, symbol, check_symbol=True, cache=cache) == reference


def test_bundled_index_file_loads_alike_fresh_cached_and_row_by_row(tmp_path: Path) -> None:
    cache = LoadCache(tmp_path)
    fresh = load_index_values(INDEX_FILE, "NIFTY 50")
    assert len(fresh.ticks) > 20_000
    assert fresh == reference_index_values(INDEX_FILE, "NIFTY 50")
    assert _fast_index(INDEX_FILE.read_bytes(), INDEX_FILE, "NIFTY 50", REGULAR) is not None
    assert load_index_values(INDEX_FILE, "NIFTY 50", cache=cache) == fresh
    assert load_index_values(INDEX_FILE, "NIFTY 50", cache=cache) == fresh


# --------------------------------------------------------------------------- generated data

BAD_NUMBERS = ["abc", "", "-5", "1e3", "nan", "inf", " 12.5", "12.5 ", '"12.5"', "1_000",
               "0", "0.0", "12.", ".5", "1.2.3", "99999999999", "1234567890123456.5"]  # fmt: skip


def _price(draw_random: random.Random, base: float) -> str:
    value = round(base * (1 + draw_random.uniform(-0.01, 0.01)), draw_random.choice([0, 1, 2]))
    text = f"{value:.2f}" if draw_random.random() < 0.5 else repr(value)
    return text.removesuffix(".0") if draw_random.random() < 0.3 else text


#: The filters a load may apply: the regular session, none, and special days (a
#: two-window day and an evening one, on days the generated files use) beside it.
SPECIAL = SessionHours.of(
    {
        date(2022, 11, 18): [(time(9, 30), time(11, 0)), (time(13, 0), time(14, 0))],
        date(2023, 4, 5): [(time(14, 30), time(19, 15))],
        date(2024, 2, 29): [(time(14, 30), time(19, 15))],
    }
)
SESSIONS = [{"session_only": True}, {"session_only": False}, {"hours": SPECIAL}]


def tick_text(seed: int, rows: int, flaws: int) -> bytes:
    """A vendor tick file: clean rows around a session, then ``flaws`` bad edits."""
    rng = random.Random(seed)
    lines = []
    day = rng.choice(["20221118", "20221121", "20240229"])
    second = rng.randrange(8 * 3600, 15 * 3600)
    for _ in range(rows):
        second += rng.choice([0, 0, 1, 1, 2, 30])
        h, rest = divmod(second % 86_400, 3600)
        m, s = divmod(rest, 60)
        qty = rng.choice(["1", "50", "650", "1200", "75.0"])
        lines.append(
            f"{day},{h:02d}:{m:02d}:{s:02d},{_price(rng, 18_000)},{qty},{rng.randrange(10**7)}"
        )
    if rng.random() < 0.3:  # a few rows out of order
        for _ in range(rng.randrange(1, 4)):
            i, j = rng.randrange(rows), rng.randrange(rows)
            lines[i], lines[j] = lines[j], lines[i]
    for _ in range(flaws):
        i = rng.randrange(rows)
        fields = lines[i].split(",")
        pick = rng.randrange(6) if len(fields) == 5 else 4
        if pick < 3:
            fields[rng.choice([1, 2, 3, 4])] = rng.choice(BAD_NUMBERS)
        elif pick == 3:
            fields = fields[:4]
        elif pick == 4:
            fields = [""]
        else:
            fields[1] = rng.choice(["24:00:00", "9:15:00", "09:15", "09:61:00"])
        lines[i] = ",".join(fields)
    return _dress(rng, "\n".join(lines))


CANDLE_HEADERS = {
    "kite": "Date,open,high,low,close,volume",
    "kite_oi": "date,open,high,low,close,volume,oi",
    "pandas": ",date,open,high,low,close,volume",
    "code": "Code,Date,Open,High,Low,Close,Volume",
    "instrument": "Instrument,Date,Time,Open,High,Low,Close",
}
STAMPS = {
    "offset": "{d} {t}:00+05:30",
    "iso": "{d}T{t}:00+05:30",
    "naive": "{d} {t}:00",
    "short": "{d} {t}",
    "utc": "{d}T{t}:00Z",
}


def candle_text(seed: int, rows: int, flaws: int, layout: str, stamp: str) -> bytes:
    rng = random.Random(seed)
    header = CANDLE_HEADERS[layout]
    out = [header]
    minute = rng.randrange(8 * 60, 15 * 60)
    days = ["2023-04-03", "2023-04-05"]
    pad = " " if rng.random() < 0.2 else ""  # "…,2016-08-16 09:15:00, 1297, 1297, …" files
    for n in range(rows):
        minute += rng.choice([1, 1, 1, 0, 2])
        day = days[0] if n < rows // 2 else days[1]
        h, m = divmod(minute % 1440, 60)
        o = float(_price(rng, 500))
        c = float(_price(rng, 500))
        hi = max(o, c) + rng.choice([0, 0.05, 0.5])
        lo = min(o, c) - rng.choice([0, 0.05, 0.5])
        prices = [f"{pad}{x:.2f}" for x in (o, hi, lo, c)]
        volume = f"{pad}{rng.randrange(0, 10**6)}"
        if layout == "instrument":
            out.append(",".join(["SBIN", day.replace("-", ""), f"{h:02d}:{m:02d}", *prices]))
            continue
        when = STAMPS[stamp].format(d=day, t=f"{h:02d}:{m:02d}")
        row = [when, *prices, volume]
        if layout == "kite_oi":
            row.append(str(rng.randrange(10**6)))
        elif layout == "pandas":
            row.insert(0, str(n))
        elif layout == "code":
            row.insert(0, "SBIN")
        out.append(",".join(row))
    for _ in range(flaws):
        i = rng.randrange(1, len(out))
        fields = out[i].split(",")
        pick = rng.randrange(5) if len(fields) == len(out[0].split(",")) else 0
        if pick < 2:
            fields[rng.randrange(len(fields))] = rng.choice(BAD_NUMBERS)
        elif pick == 2:  # high below low
            fields[-4 if layout != "kite_oi" else -5] = "1.00"
        elif pick == 3 and layout == "code":
            fields[0] = "TATASTEEL"
        else:
            fields = fields[:-1]
        out[i] = ",".join(fields)
    return _dress(rng, "\n".join(out))


def _dress(rng: random.Random, text: str) -> bytes:
    """Line endings, a BOM, a final newline or not, gzip or not: all must load alike."""
    if rng.random() < 0.2:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.7:
        text += "\n"
    data = text.encode()
    if rng.random() < 0.1:
        data = b"\xef\xbb\xbf" + data
    return gzip.compress(data) if rng.random() < 0.5 else data


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(
    seed=st.integers(0, 10**9),
    rows=st.integers(1, 300),
    flaws=st.sampled_from([0, 0, 0, 1, 3]),
    session=st.sampled_from(SESSIONS),
)
def test_generated_tick_files_load_alike(
    tmp_path: Path, seed: int, rows: int, flaws: int, session: dict
) -> None:
    path = tmp_path / f"t{seed}.csv.gz"
    path.write_bytes(tick_text(seed, rows, flaws))
    cache = LoadCache(tmp_path / "cache")
    expected = outcome(lambda: reference_ticks(path, "NIFTY", **session))
    for use in (None, cache, cache):
        got = outcome(lambda c=use: load_ticks(path, "NIFTY", cache=c, **session))
        assert got == expected


@_SETTINGS
@given(
    seed=st.integers(0, 10**9),
    rows=st.integers(1, 200),
    flaws=st.sampled_from([0, 0, 0, 1, 2]),
    layout=st.sampled_from(sorted(CANDLE_HEADERS)),
    stamp=st.sampled_from(sorted(STAMPS)),
    session=st.sampled_from(SESSIONS),
    check_symbol=st.booleans(),
)
def test_generated_candle_files_load_alike(
    tmp_path: Path,
    seed: int,
    rows: int,
    flaws: int,
    layout: str,
    stamp: str,
    session: dict,
    check_symbol: bool,
) -> None:
    path = tmp_path / f"c{seed}.csv"
    path.write_bytes(candle_text(seed, rows, flaws, layout, stamp))
    cache = LoadCache(tmp_path / "cache")
    options = {**session, "check_symbol": check_symbol}
    expected = outcome(lambda: reference_candles(path, "SBIN", **options))
    for use in (None, cache, cache):
        got = outcome(lambda c=use: load_candles(path, "SBIN", cache=c, **options))
        assert got == expected


@pytest.mark.parametrize("layout", sorted(CANDLE_HEADERS))
@pytest.mark.parametrize("stamp", sorted(STAMPS))
def test_clean_generated_candles_take_the_columnar_path(
    tmp_path: Path, layout: str, stamp: str
) -> None:
    """Without this the equality above could hold by the careful path running twice."""
    raw = candle_text(7, 120, 0, layout, stamp)
    path = tmp_path / "c.csv.gz"
    path.write_bytes(raw)
    parsed = _fast_candles(raw, path, "SBIN", 60, None, True)
    assert parsed is not None
    assert parsed.rows == len(reference_candles(path, "SBIN", session_only=False).bars)


def test_clean_generated_ticks_take_the_columnar_path(tmp_path: Path) -> None:
    for seed in range(20):
        raw = tick_text(seed, 200, 0)
        path = tmp_path / "t.csv.gz"
        path.write_bytes(raw)
        parsed = _fast_ticks(raw, path, "NIFTY", None)
        assert parsed is not None
        assert parsed.rows == len(reference_ticks(path, "NIFTY", session_only=False).ticks)


def test_a_bad_row_is_named_as_the_row_by_row_path_names_it(tmp_path: Path) -> None:
    lines = [f"20221118,09:{15 + i // 60:02d}:{i % 60:02d},18000.05,50,0" for i in range(500)]
    lines[321] = "20221118,09:20:21,18O00.05,50,0"  # a letter O in the price
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    result = load_ticks(path, "NIFTY")
    assert len(result.ticks) == 499
    (event,) = result.events
    assert event.kind == "RowSkipped"
    assert event.data["lines"] == [322]
    assert event.message == (
        "t.csv: 1 row(s) skipped: unparseable number "
        "(line 322; first '20221118,09:20:21,18O00.05,50,0')"
    )


def index_text(seed: int, rows: int, flaws: int) -> bytes:
    rng = random.Random(seed)
    out = ["timestamp,value"] if rng.random() < 0.3 else []
    second = rng.randrange(9 * 3600, 9 * 3600 + 1800) if rng.random() < 0.5 else 15 * 3600 + 29 * 60
    second -= rng.randrange(0, 120)
    for _ in range(rows):
        second += rng.choice([1, 1, 1, 0, 2])
        h, rest = divmod(second, 3600)
        m, s = divmod(rest, 60)
        out.append(f"2022-11-18 {h:02d}:{m:02d}:{s:02d},{_price(rng, 18_300)}")
    if rng.random() < 0.2:
        i, j = rng.randrange(len(out)), rng.randrange(len(out))
        if out[i][0].isdigit() and out[j][0].isdigit():
            out[i], out[j] = out[j], out[i]
    for _ in range(flaws):
        i = rng.randrange(len(out))
        stamp = out[i].partition(",")[0]
        out[i] = rng.choice([f"{stamp},{rng.choice(BAD_NUMBERS)}", f"{stamp}", "2022-11-18,1"])
    return _dress(rng, "\n".join(out))


@_SETTINGS
@given(
    seed=st.integers(0, 10**9),
    rows=st.integers(1, 300),
    flaws=st.sampled_from([0, 0, 0, 1, 3]),
    session=st.sampled_from(SESSIONS),
)
def test_generated_index_files_load_alike(
    tmp_path: Path, seed: int, rows: int, flaws: int, session: dict
) -> None:
    path = tmp_path / f"i{seed}.csv.gz"
    path.write_bytes(index_text(seed, rows, flaws))
    cache = LoadCache(tmp_path / "cache")
    expected = outcome(lambda: reference_index_values(path, "NIFTY 50", **session))
    for use in (None, cache, cache):
        got = outcome(lambda c=use: load_index_values(path, "NIFTY 50", cache=c, **session))
        assert got == expected


def test_clean_generated_index_files_take_the_columnar_path(tmp_path: Path) -> None:
    for seed in range(20):
        raw = index_text(seed, 200, 0)
        path = tmp_path / "i.csv"
        path.write_bytes(raw)
        assert (
            _fast_index(raw, path, "NIFTY 50", REGULAR) is not None
            or not reference_index_values(path, "NIFTY 50", require_rows=False).ticks
        )


def _lazy_ticks(ticks: list[Tick]) -> LazyItems[Tick]:
    columns = {
        "ts_ns": np.array([t.ts_ns for t in ticks], dtype=np.int64),
        "price": np.array([t.price for t in ticks]),
        "qty": np.array([t.qty for t in ticks], dtype=np.int64),
        "oi": np.array([t.oi for t in ticks], dtype=np.int64),
    }
    return LazyItems(partial(_build_ticks, "X"), columns, lag_ns=0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-86_400, 40 * 86_400), max_size=60), st.integers(1, 4))
def test_replay_days_are_the_ist_days_with_an_item(seconds: list[int], streams: int) -> None:
    """Times on both sides of IST midnight (18:30 UTC); eager streams are searched, lazy
    ones read from their ``ts_ns`` column: the same days either way, or mixed."""
    base = 1_668_700_000 * 10**9
    items = [Tick("X", base + s * 10**9, 1.0) for s in sorted(seconds)]
    split = [items[i::streams] for i in range(streams)]
    ist = 19_800 * 10**9
    naive = sorted({(t.ts_ns + ist) // (86_400 * 10**9) for t in items})
    assert [(d - date(1970, 1, 1)).days for d in _days(split)] == naive
    lazy = [_lazy_ticks(stream) for stream in split]
    assert _days(lazy) == _days(split)
    assert _days(lazy[:1] + split[1:]) == _days(split)


prints = st.lists(
    st.builds(
        Tick,
        st.just("X"),
        st.integers(0, 2**62),
        st.floats(0.05, 1e6, allow_nan=False),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
    ),
    max_size=30,
) | st.lists(
    st.builds(
        Bar,
        st.just("X"),
        st.integers(0, 2**62),
        st.sampled_from([60, 300]),
        *[st.floats(0.05, 1e6, allow_nan=False)] * 4,
        st.integers(0, 10**6),
    ),
    max_size=30,
)


@given(prints | st.tuples(prints, prints).map(lambda two: two[0] + two[1]))
def test_with_symbol_is_replace_for_every_print(items: list[Tick] | list[Bar]) -> None:
    """The local exchange's re-keying a field at a time (``with_symbol``) gives what
    ``dataclasses.replace`` gives, ticks, bars, or both mixed."""
    assert with_symbol(items, "NSE:X") == tuple(replace(i, symbol="NSE:X") for i in items)


@pytest.mark.parametrize("stamp", ["{d}", "{d} 00:00:00+05:30", "{d}T00:00:00Z"])
def test_daily_candles_load_alike(tmp_path: Path, stamp: str) -> None:
    days = [f"2023-04-{n:02d}" for n in (3, 5, 6, 10, 11, 12, 13)]
    rows = [f"{stamp.format(d=d)},{100 + i}.5,{102 + i},{99 + i},{101 + i}.25,{1000 * i}"
            for i, d in enumerate(days)]  # fmt: skip
    rows.insert(3, rows[1])  # a repeated day, and then out of order
    path = tmp_path / "daily.csv"
    path.write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    raw = path.read_bytes()
    assert _fast_candles(raw, path, "SBIN", 86_400, REGULAR, False) is not None
    expected = reference_candles(path, "SBIN", 86_400)
    assert len(expected.bars) == len(days)
    assert {e.kind for e in expected.events} == {"RowsReordered", "DuplicateBarsDropped"}
    cache = LoadCache(tmp_path / "cache")
    for use in (None, cache, cache):
        assert load_candles(path, "SBIN", 86_400, cache=use) == expected


def test_real_vendor_files_load_alike(shared_data: Path, tmp_path: Path) -> None:
    """Two files of every folder of the shared NSE set, in each layout that accepts them:
    fresh and cached loads equal the row-by-row reference (or refuse alike)."""
    cache = LoadCache(tmp_path)
    folders = sorted({p.parent for p in shared_data.rglob("*.csv*")} - {shared_data})
    checked = 0
    for folder in folders:
        if "instruments" in folder.parts:
            continue
        for path in sorted(folder.glob("*.csv*"))[:2]:
            symbol = path.name.split(".")[0]
            pairs = [
                (lambda c, p=path, s=symbol: load_candles(p, s, check_symbol=True, cache=c),
                 lambda p=path, s=symbol: reference_candles(p, s, check_symbol=True)),
                (lambda c, p=path, s=symbol: load_ticks(p, s, cache=c),
                 lambda p=path, s=symbol: reference_ticks(p, s)),
                (lambda c, p=path, s=symbol: load_index_values(p, s, cache=c),
                 lambda p=path, s=symbol: reference_index_values(p, s)),
            ]  # fmt: skip
            for load, reference in pairs:
                expected = outcome(reference)
                for use in (None, cache, cache):
                    assert outcome(lambda c=use, f=load: f(c)) == expected, path
                checked += not isinstance(expected, tuple)
    assert checked >= len(folders)
