"""A vendor's continuous future (``NIFTY-I``, ``-II``, ``-III``) loads as the configured
contract only on the days it is that contract.

``NIFTY-II`` on November 2022 days is the December future: a file holding only it,
configured as ``NIFTY22NOVFUT``, replayed December's prices as November's with no word
(a wrong basis, a wrong P&L). Both load paths (columnar and row by row) must agree.
"""

from __future__ import annotations

import asyncio
import gzip
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from kitetui.config import AppConfig, SourceConfig
from kitetui.domain import Event
from kitetui.market.calendar import TradingCalendar, nse
from kitetui.market.futures_series import contract_series, monthly_expiry
from kitetui.market.instruments import InstrumentMaster
from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import (
    DataFormatError,
    NoDataError,
    data_path,
    load_candles,
    load_ticks,
    reference_candles,
    reference_ticks,
)
from kitetui.market.replay import load_replay_sources
from kitetui.preflight import check_inputs
from kitetui.sweep.runner import trading_days
from kitetui.venues.replay import ReplayVenue

HEADER = "Code,Date,Open,High,Low,Close,Volume"
BASE = {"I": 18000.0, "II": 18100.0, "III": 18200.0}
SHARED_MASTER = "instruments/kite_instruments_NFO_BFO_2026-08_nilanjan-guha/instruments.csv.gz"


def _rows(series: str, day: date, minutes: int = 5, suffix: str = "") -> list[str]:
    out = []
    for m in range(minutes):
        price = BASE[series] + day.day + m / 100
        out.append(
            f"NIFTY-{series}{suffix},{day.isoformat()} 09:{15 + m}:00,"
            f"{price},{price + 2},{price - 2},{price + 1},100"
        )
    return out


def _file(tmp_path: Path, lines: list[str], name: str = "nfo.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def _both(path: Path, symbol: str) -> tuple[object, object]:
    """The columnar load and the careful one, each as its result or its refusal."""
    out = []
    for load in (load_candles, reference_candles):
        try:
            out.append(load(path, symbol, check_symbol=True))
        except NoDataError as exc:
            out.append(("NoDataError", str(exc)))
    return out[0], out[1]


NOV_DAYS = [date(2022, 11, d) for d in (17, 18, 21, 22, 23)]


# --------------------------------------------------------------------------- lone series


@pytest.mark.parametrize("suffix", ["", ".NFO"])
def test_a_lone_next_month_series_is_not_loaded_as_the_near_month(
    tmp_path: Path, suffix: str
) -> None:
    lines = [row for day in NOV_DAYS for row in _rows("II", day, suffix=suffix)]
    path = _file(tmp_path, lines)
    fast, careful = _both(path, "NIFTY22NOVFUT")
    assert fast == careful
    assert isinstance(fast, tuple) and fast[0] == "NoDataError", fast
    message = fast[1]
    assert "all 25 skipped" in message
    assert f"'NIFTY-II{suffix}', which on its date is NIFTY22DECFUT, not NIFTY22NOVFUT" in message


@pytest.mark.parametrize("suffix", ["", ".NFO"])
def test_a_lone_next_month_series_loads_as_the_next_month(tmp_path: Path, suffix: str) -> None:
    lines = [row for day in NOV_DAYS for row in _rows("II", day, suffix=suffix)]
    path = _file(tmp_path, lines)
    fast, careful = _both(path, "NIFTY22DECFUT")
    assert fast == careful
    assert not isinstance(fast, tuple)
    assert len(fast.bars) == 25
    assert fast.events == ()


def test_a_lone_far_month_series_is_the_january_future_in_november(tmp_path: Path) -> None:
    path = _file(tmp_path, _rows("III", date(2022, 11, 18)))
    assert len(load_candles(path, "NIFTY23JANFUT", check_symbol=True).bars) == 5
    for wrong in ("NIFTY22NOVFUT", "NIFTY22DECFUT"):
        with pytest.raises(NoDataError, match="'NIFTY-III', which on its date is NIFTY23JANFUT"):
            load_candles(path, wrong, check_symbol=True)


def test_a_lone_near_month_series_keeps_only_the_days_up_to_its_expiry(tmp_path: Path) -> None:
    """NIFTY-I is November's up to the 24th (expiry) and December's from the 25th."""
    days = [date(2022, 11, 23), date(2022, 11, 24), date(2022, 11, 25), date(2022, 11, 28)]
    path = _file(tmp_path, [row for day in days for row in _rows("I", day)])
    fast, careful = _both(path, "NIFTY22NOVFUT")
    assert fast == careful
    assert not isinstance(fast, tuple)
    assert len(fast.bars) == 10
    assert max(bar.close for bar in fast.bars) < BASE["I"] + 25 + 1
    (skipped,) = [e for e in fast.events if e.kind == "RowSkipped"]
    assert skipped.data["count"] == 10
    assert "'NIFTY-I', which on its date is NIFTY22DECFUT, not NIFTY22NOVFUT" in skipped.message
    dec = load_candles(path, "NIFTY22DECFUT", check_symbol=True)
    assert len(dec.bars) == 10 and min(bar.close for bar in dec.bars) > BASE["I"] + 25


# --------------------------------------------------------------------------- several series


def test_two_series_across_the_november_expiry_map_each_day_to_its_contract(
    tmp_path: Path,
) -> None:
    """I and II side by side from 21 to 30 Nov 2022: DEC is II up to the 24th, then I."""
    days = [date(2022, 11, d) for d in (21, 22, 23, 24, 25, 28, 29, 30)]
    lines = [row for day in days for series in ("II", "I") for row in _rows(series, day)]
    path = _file(tmp_path, lines)
    fast, careful = _both(path, "NIFTY22DECFUT")
    assert fast == careful
    assert not isinstance(fast, tuple)
    closes = {}
    for bar in fast.bars:
        day = date(1970, 1, 1) + timedelta(days=(bar.ts_ns // 10**9 + 19800) // 86400)
        closes.setdefault(day, []).append(bar.close)
    assert sorted(closes) == days
    for day, values in closes.items():
        series = "II" if day <= date(2022, 11, 24) else "I"
        assert values == [BASE[series] + day.day + m / 100 + 1 for m in range(5)], day
    messages = [e.message for e in fast.events]
    assert not any("repeat a timestamp" in m for m in messages), messages
    nov = load_candles(path, "NIFTY22NOVFUT", check_symbol=True)
    assert len(nov.bars) == 20  # NIFTY-I of the 21st to the 24th
    jan = load_candles(path, "NIFTY23JANFUT", check_symbol=True)
    assert len(jan.bars) == 20  # NIFTY-II of the 25th to the 30th


def test_the_contracts_own_name_wins_over_every_series(tmp_path: Path) -> None:
    day = date(2022, 11, 18)
    own = [row.replace("NIFTY-III", "NIFTY22NOVFUT") for row in _rows("III", day)]
    path = _file(tmp_path, _rows("I", day) + own)
    fast, careful = _both(path, "NIFTY22NOVFUT")
    assert fast == careful
    assert [bar.close for bar in fast.bars] == [BASE["III"] + 18 + m / 100 + 1 for m in range(5)]


# --------------------------------------------------------------------------- unknown expiry


def test_a_contract_whose_expiry_cannot_be_read_keeps_the_series_with_a_warning(
    tmp_path: Path,
) -> None:
    """``NIFTY22XYZFUT`` names no month: the series is assumed to be it, and said so."""
    path = _file(tmp_path, _rows("II", date(2022, 11, 18)))
    fast, careful = _both(path, "NIFTY22XYZFUT")
    assert fast == careful
    assert not isinstance(fast, tuple)
    assert len(fast.bars) == 5
    (event,) = fast.events
    assert isinstance(event, Event)
    assert event.kind == "SeriesAssumed" and event.level == "WARNING"
    assert "NIFTY-II assumed to be NIFTY22XYZFUT" in event.message


# --------------------------------------------------------------------------- the rule


def test_monthly_expiries_are_the_last_thursday_or_the_trading_day_before() -> None:
    calendar = nse()
    assert monthly_expiry("NIFTY", 2022, 11, calendar) == date(2022, 11, 24)
    assert monthly_expiry("NIFTY", 2022, 12, calendar) == date(2022, 12, 29)
    assert monthly_expiry("NIFTY", 2023, 1, calendar) == date(2023, 1, 25)  # 26th a holiday
    assert monthly_expiry("NIFTY", 2025, 8, calendar) == date(2025, 8, 28)
    assert monthly_expiry("NIFTY", 2025, 9, calendar) == date(2025, 9, 30)  # Tuesday now


def test_the_rule_gives_every_expiry_the_bundled_master_lists() -> None:
    master, _events = InstrumentMaster.from_csv(
        data_path("pkg:replay/nfo_20221118/instruments.csv")
    )
    futures = [i for i in master if i.instrument_type == "FUT"]
    assert len(futures) == 3
    calendar = nse()
    for future in futures:
        assert future.expiry is not None
        got = monthly_expiry(future.name, future.expiry.year, future.expiry.month, calendar)
        assert got == future.expiry, future.tradingsymbol


def test_the_rule_gives_every_future_expiry_the_shared_2026_master_lists(
    shared_data: Path,
) -> None:
    """Tuesday expiries (from September 2025): each of ~200 underlyings, three months."""
    path = shared_data / SHARED_MASTER
    header, *rows = gzip.decompress(path.read_bytes()).decode().splitlines()
    names = header.split(",")
    i_name, i_expiry = names.index("name"), names.index("expiry")
    i_type, i_exchange = names.index("instrument_type"), names.index("exchange")
    calendar = nse()
    seen = 0
    for row in rows:
        fields = row.split(",")
        if fields[i_type] != "FUT" or fields[i_exchange] != "NFO":
            continue
        expiry = date.fromisoformat(fields[i_expiry])
        name = fields[i_name].strip('"')
        assert monthly_expiry(name, expiry.year, expiry.month, calendar) == expiry, row
        seen += 1
    assert seen > 600


def test_series_on_counts_monthly_expiries_from_the_day() -> None:
    nov = contract_series("NIFTY22NOVFUT", "NIFTY")
    assert nov is not None
    assert nov.series_on(date(2022, 9, 29)) == 3  # the September expiry day
    assert nov.series_on(date(2022, 9, 30)) == 2
    assert nov.series_on(date(2022, 10, 27)) == 2  # the October expiry day: still I is OCT
    assert nov.series_on(date(2022, 10, 28)) == 1
    assert nov.series_on(date(2022, 11, 24)) == 1
    assert nov.series_on(date(2022, 11, 25)) == 0  # expired
    assert nov.contract_of(2, date(2022, 11, 18)) == "NIFTY22DECFUT"
    assert nov.contract_of(1, date(2022, 11, 25)) == "NIFTY22DECFUT"
    assert nov.contract_of(3, date(2022, 11, 25)) == "NIFTY23FEBFUT"
    day = date(2022, 8, 1)
    while day < date(2022, 11, 25):
        assert nov.series_on(day) >= 1
        day += timedelta(days=1)
    assert contract_series("NIFTY22XYZFUT", "NIFTY") is None


# --------------------------------------------------------------------------- the replay


def test_a_replay_configured_with_the_wrong_contract_refuses_the_series_file(
    tmp_path: Path,
) -> None:
    """What the config path does (symbol check on, load cache on): refused, exit 4."""
    lines = [row for day in NOV_DAYS for row in _rows("II", day)]
    path = _file(tmp_path, lines, "NIFTY-II.csv")
    cache = LoadCache(tmp_path / "cache")

    def sources(symbol: str) -> list[SourceConfig]:
        spec = {"symbol": symbol, "exchange": "NFO", "kind": "candles", "path": str(path)}
        return [SourceConfig.model_validate(spec)]

    with pytest.raises(DataFormatError, match="NIFTY-II', which on its date is NIFTY22DECFUT"):
        load_replay_sources(sources("NIFTY22NOVFUT"), cache=cache)
    for _ in range(2):  # cold, then from the cache
        loaded = load_replay_sources(sources("NIFTY22DECFUT"), cache=cache)
        (stream,) = loaded.streams
        assert len(stream) == 25 and {bar.symbol for bar in stream} == {"NIFTY22DECFUT"}
    with pytest.raises(DataFormatError, match="not NIFTY22NOVFUT"):
        load_replay_sources(sources("NIFTY22NOVFUT"), cache=cache)  # same bytes, cached


# --------------------------------------------------------------------------- the override

HOLIDAY_ON_EXPIRY = "date,description\n2022-11-24,a closure announced late\n"
SESSION_ON_HOLIDAY = "date,open,close,description\n2023-01-26,09:15,15:30,a session on a holiday\n"


def _override(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.csv"
    path.write_text(text)
    return path


def _closes_on(result: object, day: date) -> list[float]:
    return [
        bar.close
        for bar in result.bars  # type: ignore[attr-defined]
        if date(1970, 1, 1) + timedelta(days=(bar.ts_ns // 10**9 + 19800) // 86400) == day
    ]


@pytest.mark.parametrize(
    ("override", "symbol", "days", "shipped", "overridden"),
    [
        # A holiday on Thursday 24-Nov-2022 moves November's expiry to the 23rd: on the
        # 24th NIFTY-I is already December's, NIFTY-II January's.
        (HOLIDAY_ON_EXPIRY, "NIFTY22DECFUT", (23, 24, 25), "II", "I"),
        # A session on Republic Day (Thursday 26-Jan-2023) keeps January's expiry on the
        # 26th, not the 25th: on the 26th February is still NIFTY-II.
        (SESSION_ON_HOLIDAY, "NIFTY23FEBFUT", (25, 26, 27), "I", "II"),
    ],
    ids=["holiday-on-expiry", "session-on-holiday"],
)
def test_an_override_that_moves_an_expiry_moves_each_days_series_on_both_paths(
    tmp_path: Path,
    override: str,
    symbol: str,
    days: tuple[int, int, int],
    shipped: str,
    overridden: str,
) -> None:
    """The desk's calendar (shipped list + ``calendar.holidays_override``) decides the
    expiries: the series check read the shipped list alone, so on the moved day it kept
    the other series' prices as the contract's."""
    month = 11 if symbol == "NIFTY22DECFUT" else 1
    year = 2022 if month == 11 else 2023
    first, moved, after = (date(year, month, d) for d in days)
    lines = [row for day in (first, moved, after) for s in ("I", "II") for row in _rows(s, day)]
    path = _file(tmp_path, lines)
    calendar = nse(_override(tmp_path, override))

    fast = load_candles(path, symbol, check_symbol=True, calendar=calendar)
    careful = reference_candles(path, symbol, check_symbol=True, calendar=calendar)
    before = load_candles(path, symbol, check_symbol=True)

    assert fast == careful
    expected = [BASE[overridden] + moved.day + m / 100 + 1 for m in range(5)]
    assert _closes_on(fast, moved) == expected
    assert _closes_on(before, moved) == [BASE[shipped] + moved.day + m / 100 + 1 for m in range(5)]
    for day in (first, after):  # the days either side keep their series
        assert _closes_on(fast, day) == _closes_on(before, day) != []


def test_the_replay_checks_series_on_the_override_and_never_reads_a_load_made_without_it(
    tmp_path: Path,
) -> None:
    """``load_replay_sources`` hands its calendar to both paths, and the load cache keys
    a future's file by the calendar's days: the same bytes loaded without the override
    first must not answer the load with it."""
    days = [date(2022, 11, d) for d in (22, 23, 24)]
    path = _file(tmp_path, [row for day in days for row in _rows("I", day)], "NIFTY-I.csv")
    spec = {"symbol": "NIFTY22NOVFUT", "exchange": "NFO", "kind": "candles", "path": str(path)}
    sources = [SourceConfig.model_validate(spec)]
    cache = LoadCache(tmp_path / "cache")
    calendar = nse(_override(tmp_path, HOLIDAY_ON_EXPIRY))

    shipped = load_replay_sources(sources, cache=cache)
    for _ in range(2):  # cold, then from the cache
        loaded = load_replay_sources(sources, cache=cache, calendar=calendar)
        (stream,) = loaded.streams
        assert len(stream) == 10 and loaded.days == (days[0], days[1])
        (skipped,) = [e for e in loaded.events if e.kind == "RowSkipped"]
        assert skipped.data["count"] == 5
        assert "which on its date is NIFTY22DECFUT, not NIFTY22NOVFUT" in skipped.message
    assert len(shipped.streams[0]) == 15 and shipped.events == ()


def _through_preflight(config: AppConfig, calendar: TradingCalendar) -> list[Event]:
    return list(check_inputs(config, "c.yaml", scan_data=True).events)


def _through_the_sweep(config: AppConfig, calendar: TradingCalendar) -> list[Event]:
    return trading_days(config, None, "c.yaml")[1]


def _through_the_replay_venue(config: AppConfig, calendar: TradingCalendar) -> list[Event]:
    host = SimpleNamespace(config=config, config_path="c.yaml", calendar=calendar)
    venue = ReplayVenue(config, speed=None, recording=None)
    return asyncio.run(venue.open(host)).events  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "load",
    [_through_preflight, _through_the_sweep, _through_the_replay_venue],
    ids=["check-config", "sweep", "run-and-backtest"],
)
def test_every_caller_checks_the_series_on_the_configs_holidays_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load
) -> None:
    """``check-config``, a sweep's days and a run's (or a backtest's) venue each load the
    sources on the calendar with ``calendar.holidays_override``: NIFTY-I of 24-Nov-2022,
    a holiday by the override, is December's (November expired on the 23rd)."""
    monkeypatch.setenv("KITETUI_LOAD_CACHE", "off")
    days = [date(2022, 11, d) for d in (22, 23, 24)]
    path = _file(tmp_path, [row for day in days for row in _rows("I", day)], "NIFTY-I.csv")
    override = _override(tmp_path, HOLIDAY_ON_EXPIRY)
    config = AppConfig.model_validate(
        {
            "replay": {
                "sources": [
                    {"symbol": "NIFTY22NOVFUT", "exchange": "NFO", "path": str(path)},
                ]
            },
            "instruments": ["pkg:replay/nfo_20221118/instruments.csv"],
            "calendar": {"holidays_override": str(override)},
            "engines": [
                {"name": "f", "kind": "fno", "underlyings": ["NIFTY"], "strategy": "ema_cross"}
            ],
        }
    )

    events = load(config, nse(override))

    (skipped,) = [e for e in events if e.kind == "RowSkipped"]
    assert skipped.data["count"] == 5
    assert "'NIFTY-I', which on its date is NIFTY22DECFUT, not NIFTY22NOVFUT" in skipped.message


# --------------------------------------------------------------------------- tick files


def _tick_lines(days: list[date], price: float = 18300.0) -> list[str]:
    return [
        f"{day:%Y%m%d},09:{15 + m}:0{s},{price + day.day + m / 10},50,1000"
        for day in days
        for m in range(3)
        for s in range(2)
    ]


def _tick_file(tmp_path: Path, name: str, days: list[date]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(_tick_lines(days)) + "\n")
    return path


def _tick_sources(path: Path, symbol: str) -> list[SourceConfig]:
    spec = {"symbol": symbol, "exchange": "NFO", "kind": "ticks", "path": str(path)}
    return [SourceConfig.model_validate(spec)]


def _both_ticks(path: Path, symbol: str, calendar: TradingCalendar | None = None):
    """The columnar tick load and the careful one, each as its result or its refusal."""
    out = []
    for load in (load_ticks, reference_ticks):
        try:
            out.append(load(path, symbol, check_symbol=True, calendar=calendar))
        except NoDataError as exc:
            out.append(("NoDataError", str(exc)))
    return out[0], out[1]


def test_a_tick_file_named_for_the_next_month_series_is_not_loaded_as_the_near_month(
    tmp_path: Path,
) -> None:
    """A headerless tick file has no symbol column, but its name says the series: a
    vendor's NIFTY-II (December's in November) configured as NIFTY22NOVFUT replayed
    December's prices as November's, unchecked."""
    path = _tick_file(tmp_path, "NIFTY-II_20221118.csv", [date(2022, 11, 17), date(2022, 11, 18)])
    fast, careful = _both_ticks(path, "NIFTY22NOVFUT")
    assert fast == careful
    assert isinstance(fast, tuple) and "all 12 skipped" in fast[1]
    assert "'NIFTY-II' by the file's name, which on its date is NIFTY22DECFUT" in fast[1]
    with pytest.raises(DataFormatError, match="which on its date is NIFTY22DECFUT, not NIFTY22NOV"):
        load_replay_sources(_tick_sources(path, "NIFTY22NOVFUT"), cache=LoadCache(None))
    fast, careful = _both_ticks(path, "NIFTY22DECFUT")
    assert fast == careful and not isinstance(fast, tuple)
    assert len(fast.ticks) == 12 and fast.events == ()


@pytest.mark.parametrize(
    ("override", "kept"),
    [(None, (23, 24)), (HOLIDAY_ON_EXPIRY, (23,))],
    ids=["shipped", "override"],
)
def test_a_near_month_tick_file_keeps_the_days_up_to_the_expiry_of_the_desks_calendar(
    tmp_path: Path, override: str | None, kept: tuple[int, ...]
) -> None:
    """NIFTY-I is November's up to its expiry: the 24th, or the 23rd when the override
    closes the 24th. Both paths agree, and so do a cold and a cached replay load."""
    days = [date(2022, 11, d) for d in (23, 24, 25, 28)]
    path = _tick_file(tmp_path, "NIFTY-I.csv.gz", days)
    calendar = nse(_override(tmp_path, override)) if override else None
    fast, careful = _both_ticks(path, "NIFTY22NOVFUT", calendar)
    assert fast == careful and not isinstance(fast, tuple)
    days_kept = {
        date(1970, 1, 1) + timedelta(days=(t.ts_ns // 10**9 + 19800) // 86400) for t in fast.ticks
    }
    assert sorted(d.day for d in days_kept) == list(kept)
    (skipped,) = [e for e in fast.events if e.kind == "RowSkipped"]
    assert skipped.data["count"] == 6 * (4 - len(kept))
    assert "'NIFTY-I' by the file's name, which on its date is NIFTY22DECFUT" in skipped.message
    cache = LoadCache(tmp_path / "cache")
    for _ in range(2):
        loaded = load_replay_sources(
            _tick_sources(path, "NIFTY22NOVFUT"), cache=cache, calendar=calendar
        )
        assert len(loaded.streams[0]) == 6 * len(kept)


def test_the_same_tick_bytes_under_another_series_name_are_not_read_from_the_cache(
    tmp_path: Path,
) -> None:
    """The load cache's key holds no file name; a tick file's name now says its series,
    so the name read for it is in the key."""
    days = [date(2022, 11, 18)]
    near = _tick_file(tmp_path, "NIFTY-I.csv", days)
    far = _tick_file(tmp_path, "NIFTY-III.csv", days)
    cache = LoadCache(tmp_path / "cache")
    assert len(load_replay_sources(_tick_sources(near, "NIFTY22NOVFUT"), cache=cache).streams) == 1
    with pytest.raises(DataFormatError, match="'NIFTY-III' by the file's name"):
        load_replay_sources(_tick_sources(far, "NIFTY22NOVFUT"), cache=cache)


@pytest.mark.parametrize(
    ("name", "symbol", "said"),
    [
        ("NOV.csv", "NIFTY22NOVFUT", "its name ('NOV') says neither a continuous series of NIFTY"),
        ("BANKNIFTY-I.csv", "NIFTY22NOVFUT", "says neither a continuous series of NIFTY"),
        ("NIFTY-II.csv", "NIFTY22XYZFUT", "NIFTY-II assumed to be NIFTY22XYZFUT"),
        ("NIFTY22NOVFUT_20221118.csv", "NIFTY22NOVFUT", ""),
        ("NIFTY-I.csv", "NIFTY22NOV18300CE", ""),
        ("SBIN.csv", "SBIN", ""),
    ],
    ids=["no-series", "another-underlying", "unknown-expiry", "contract", "option", "equity"],
)
def test_a_future_tick_file_whose_series_cannot_be_checked_says_so(
    tmp_path: Path, name: str, symbol: str, said: str
) -> None:
    """Nothing silent: a future's ticks whose name says no series of it (or whose
    contract's expiries are not known) are taken as given with a ``SeriesAssumed``
    warning; a file named for the contract, an option's or a stock's say nothing."""
    path = _tick_file(tmp_path, name, [date(2022, 11, 18)])
    fast, careful = _both_ticks(path, symbol)
    assert fast == careful and not isinstance(fast, tuple)
    assert len(fast.ticks) == 6
    if not said:
        assert fast.events == ()
        return
    (event,) = fast.events
    assert event.kind == "SeriesAssumed" and event.level == "WARNING"
    assert said in event.message and f"assumed to be {symbol}" in event.message


@pytest.mark.parametrize(
    ("name", "symbol", "kept", "said"),
    [
        ("NIFTY-II.csv", "NIFTY22NOVFUT", 0, "'NIFTY-II' by the file's name, which on its date"),
        ("NIFTY-II.csv", "NIFTY22DECFUT", 10, ""),
        ("nov.csv", "NIFTY22NOVFUT", 10, "its name ('NOV') says neither a continuous series"),
        ("NIFTY22NOVFUT.csv", "NIFTY22NOVFUT", 10, ""),
    ],
    ids=["series-refused", "series-kept", "no-series", "contract"],
)
def test_a_candle_file_without_a_symbol_column_is_read_for_its_series_by_its_name(
    tmp_path: Path, name: str, symbol: str, kept: int, said: str
) -> None:
    """A Kite-layout candle file (no symbol column) configured as a future is in a tick
    file's place: its name says the series, or a ``SeriesAssumed`` warning says that
    nothing does."""
    rows = [
        f"{day.isoformat()} 09:{15 + m}:00+05:30,18100,18102,18098,18101,100"
        for day in (date(2022, 11, 17), date(2022, 11, 18))
        for m in range(5)
    ]
    path = tmp_path / name
    path.write_text("\n".join(["date,open,high,low,close,volume", *rows]) + "\n")
    fast, careful = _both(path, symbol)
    assert fast == careful
    if not kept:
        assert isinstance(fast, tuple) and said in fast[1]
        return
    assert not isinstance(fast, tuple) and len(fast.bars) == kept
    assert [e.kind for e in fast.events] == (["SeriesAssumed"] if said else [])
    assert all(said in e.message and e.level == "WARNING" for e in fast.events)
