"""Candle and tick loaders: every real format, and every quirk as an event, not a crash."""

from __future__ import annotations

import gzip
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kitetui.domain import NS_PER_SECOND, Bar, Event
from kitetui.market.index_loader import load_index_values
from kitetui.market.loaders import (
    DataFormatError,
    LoadResult,
    NoDataError,
    TickLoadResult,
    data_path,
    load_candles,
    load_ticks,
    reference_candles,
    symbol_matches,
)

IST = timezone(timedelta(hours=5, minutes=30))
KITE_SYMBOLS = ("BANKNIFTY", "HDFCBANK", "ICICIBANK", "SBIN", "KOTAKBANK", "AXISBANK")
KITE_HEADER = "Date,open,high,low,close,volume\n"


def ist_ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=IST).timestamp()) * NS_PER_SECOND


def kinds(events: tuple[Event, ...]) -> dict[str, Event]:
    out = {event.kind: event for event in events}
    assert len(out) == len(events), f"one event per kind expected: {events}"
    return out


def write(tmp_path: Path, name: str, text: str, *, compress: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def kite_line(minute: int, o=100.0, h=101.0, low=99.0, c=100.5, v=10, day="2023-04-03") -> str:
    hh, mm = divmod(9 * 60 + 15 + minute, 60)
    return f"{day} {hh:02d}:{mm:02d}:00+05:30,{o},{h},{low},{c},{v}\n"


# --------------------------------------------------------------------------- bundled data


@pytest.mark.parametrize("symbol", KITE_SYMBOLS)
def test_load_candles_with_bundled_kite_file_gives_five_full_sessions(symbol: str) -> None:
    result = load_candles(data_path(f"pkg:replay/{symbol}.csv.gz"), symbol)

    assert isinstance(result, LoadResult)
    assert result.events == ()
    assert len(result.bars) == 5 * 375
    assert result.bars[0].ts_ns == ist_ns(2023, 4, 3, 9, 15)
    assert result.bars[-1].ts_ns == ist_ns(2023, 4, 11, 15, 29)
    days = sorted(
        {datetime.fromtimestamp(b.ts_ns / 1e9, IST).date().isoformat() for b in result.bars}
    )
    assert days == ["2023-04-03", "2023-04-05", "2023-04-06", "2023-04-10", "2023-04-11"]
    assert all(b.symbol == symbol and b.timeframe_s == 60 for b in result.bars)
    assert all(a.ts_ns < b.ts_ns for a, b in zip(result.bars, result.bars[1:], strict=False))


def test_load_candles_with_bundled_sbin_parses_first_and_last_rows_exactly() -> None:
    bars = load_candles(data_path("pkg:replay/SBIN.csv.gz"), "SBIN").bars

    assert bars[0] == Bar(
        "SBIN", ist_ns(2023, 4, 3, 9, 15), 60, 524.75, 524.75, 522.6, 523.9, 116485
    )
    assert bars[1] == Bar("SBIN", ist_ns(2023, 4, 3, 9, 16), 60, 523.9, 524.8, 523.7, 524.4, 101299)


def test_load_ticks_with_bundled_nifty_futures_keeps_file_order_within_a_second() -> None:
    result = load_ticks(data_path("pkg:replay/NIFTY-I_20221118.csv.gz"), "NIFTY")

    assert isinstance(result, TickLoadResult)
    assert len(result.ticks) == 16_687 - 1  # the 15:30:00 row is outside the session
    first = result.ticks[:4]
    assert [t.price for t in first] == [18396.00, 18390.60, 18416.80, 18409.20]
    assert [t.qty for t in first] == [1, 1, 1600, 500]
    assert {t.ts_ns for t in first} == {ist_ns(2022, 11, 18, 9, 15)}
    assert first[0].oi == 11_375_600
    last = result.ticks[-1]
    assert (last.ts_ns, last.price, last.qty, last.oi) == (
        ist_ns(2022, 11, 18, 15, 29, 59),
        18344.25,
        450,
        11_028_550,
    )
    (event,) = result.events
    assert event.kind == "TickOutsideSession" and event.level == "INFO"
    assert event.data["count"] == 1 and event.data["lines"] == [16_687]


def test_load_ticks_with_session_filter_off_keeps_the_close_tick() -> None:
    result = load_ticks(
        data_path("pkg:replay/NIFTY-I_20221118.csv.gz"), "NIFTY", session_only=False
    )

    assert len(result.ticks) == 16_687
    assert result.ticks[-1].ts_ns == ist_ns(2022, 11, 18, 15, 30)
    assert result.events == ()


def test_data_path_resolves_package_files_and_plain_paths(tmp_path: Path) -> None:
    bundled = data_path("pkg:replay/SBIN.csv.gz")
    assert bundled.is_file()
    assert bundled.parent.name == "replay" and bundled.parent.parent.name == "data"
    assert (bundled.parent / "README.md").is_file()
    assert data_path(str(tmp_path / "x.csv")) == tmp_path / "x.csv"
    assert data_path("~/x.csv") == Path.home() / "x.csv"
    with pytest.raises(ValueError, match="outside"):
        data_path("pkg:../../etc/passwd")


# --------------------------------------------------------------------------- shared data


def test_load_candles_with_shared_kite_export_reads_all_rows(shared_data: Path) -> None:
    path = shared_data / "intraday_1min/kite_bank_stocks_2023_lullaharsh1/SBIN.csv.gz"
    result = load_candles(path, "SBIN")

    assert len(result.bars) == 15_000  # 15,001 rows, the one 15:30 closing bar dropped
    assert result.bars[0].ts_ns == ist_ns(2023, 4, 3, 9, 15)
    assert result.bars[-1] == Bar(
        "SBIN", ist_ns(2023, 6, 1, 15, 29), 60, 583.1, 583.2, 582.85, 583.05, 60923
    )
    event = kinds(result.events)["BarOutsideSession"]
    assert event.data["count"] == 1 and event.data["lines"] == [15_002]
    assert event.ts_ns == ist_ns(2023, 6, 1, 15, 30)
    with_close = load_candles(path, "SBIN", session_only=False)
    assert len(with_close.bars) == 15_001 and with_close.events == ()


def test_load_candles_with_pandas_index_column_reads_all_rows(shared_data: Path) -> None:
    path = shared_data / "intraday_1min/kite_bank_stocks_2023_lullaharsh1/INDIAVIX.csv.gz"
    bars = load_candles(path, "INDIAVIX").bars

    assert len(bars) == 15_000
    assert bars[0] == Bar("INDIAVIX", ist_ns(2023, 4, 3, 9, 15), 60, 12.94, 13.28, 12.91, 13.26, 0)
    assert bars[-1].close == 11.64


def test_load_candles_with_option_candles_reads_lowercase_date_and_index(
    shared_data: Path,
) -> None:
    path = shared_data / "options/nifty_opt_1min_20230605_lullaharsh1/NIFTY23JUN18500CE.csv.gz"
    result = load_candles(path, "NIFTY23JUN18500CE")

    assert result.events == ()
    assert len(result.bars) == 61
    assert result.bars[0].ts_ns == ist_ns(2023, 6, 5, 9, 15)
    assert result.bars[-1].ts_ns == ist_ns(2023, 6, 5, 10, 15)


def test_load_candles_with_kuldeeptp_leading_spaces_and_swaps_sorts(shared_data: Path) -> None:
    path = shared_data / "intraday_1min/kite_fno_stocks_2016_kuldeeptp/SBIN.csv.gz"
    result = load_candles(path, "SBIN")

    assert len(result.bars) == 6_750
    assert result.bars[0] == Bar(
        "SBIN", ist_ns(2016, 8, 16, 9, 15), 60, 245.55, 246.35, 244.05, 245.3, 692491
    )
    assert result.bars[2].ts_ns == ist_ns(2016, 8, 16, 9, 17)  # line 5 was before line 4
    assert result.bars[2].volume == 390576
    assert result.bars[-1].ts_ns == ist_ns(2016, 9, 9, 15, 29)
    event = kinds(result.events)["RowsReordered"]
    assert event.data["count"] == 13 and event.data["first_line"] == 5
    assert all(a.ts_ns < b.ts_ns for a, b in zip(result.bars, result.bars[1:], strict=False))


def test_load_candles_with_kuldeeptp_file_without_code_column(shared_data: Path) -> None:
    path = shared_data / "intraday_1min/kite_fno_stocks_2016_kuldeeptp/RELCAPITAL.csv.gz"
    result = load_candles(path, "RELCAPITAL")

    assert len(result.bars) == 6_750
    assert result.bars[0].open == 439.0 and result.bars[0].volume == 25977


def test_load_candles_with_kuldeeptp_matches_a_pandas_reading(shared_data: Path) -> None:
    pd = pytest.importorskip("pandas")
    path = shared_data / "intraday_1min/kite_fno_stocks_2016_kuldeeptp/ASHOKLEY.csv.gz"
    frame = pd.read_csv(path, skipinitialspace=True)
    frame["ts"] = pd.to_datetime(frame["Date"]).dt.tz_localize("Asia/Kolkata").dt.as_unit("ns")
    frame = frame.sort_values("ts", kind="stable")
    bars = load_candles(path, "ASHOKLEY").bars

    assert len(bars) == len(frame) == 6_750
    assert [b.ts_ns for b in bars] == frame["ts"].astype("int64").tolist()
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == list(
        zip(frame.Open, frame.High, frame.Low, frame.Close, frame.Volume, strict=True)
    )


def test_load_candles_with_sainipankaj_date_time_columns_drops_vendor_evening(
    shared_data: Path,
) -> None:
    path = shared_data / "intraday_1min/nifty50_index_2024_sainipankaj15/NIFTY_2024.csv.gz"
    result = load_candles(path, "NIFTY")

    assert len(result.bars) == 58_127 - 167
    assert result.bars[0] == Bar(
        "NIFTY", ist_ns(2024, 1, 1, 9, 15), 60, 21727.75, 21737.35, 21701.80, 21712.00, 0
    )
    assert result.bars[-1].ts_ns == ist_ns(2024, 8, 23, 15, 29)
    event = kinds(result.events)["BarOutsideSession"]
    assert event.data["count"] == 167
    assert event.ts_ns == ist_ns(2024, 1, 20, 15, 30)
    assert len(event.data["lines"]) == 5  # aggregated, not 167 line numbers
    saturday = [b for b in result.bars if ist_ns(2024, 1, 20) <= b.ts_ns < ist_ns(2024, 1, 21)]
    assert len(saturday) == 375


@pytest.mark.parametrize(
    ("folder", "timeframe_s", "first", "last"),
    [
        ("daily/kite_nifty50_day_addyfu/SBIN_day_2000d", 86_400, (2020, 7, 14), (2026, 1, 9)),
        (
            "daily/kite_nifty50_60minute_addyfu/SBIN_60minute_400d",
            3_600,
            (2024, 12, 5, 9, 15),
            (2026, 1, 9, 15, 15),
        ),
    ],
)
def test_load_candles_with_kite_datetime_oi_header(
    shared_data: Path, folder: str, timeframe_s: int, first: tuple, last: tuple
) -> None:
    result = load_candles(shared_data / f"{folder}.csv.gz", "SBIN", timeframe_s)

    assert result.events == ()
    assert len(result.bars) == (1_367 if timeframe_s == 86_400 else 1_905)
    assert result.bars[0].ts_ns == ist_ns(*first)
    assert result.bars[-1].ts_ns == ist_ns(*last)
    assert result.bars[0].timeframe_s == timeframe_s


def test_load_ticks_with_shared_option_ticks(shared_data: Path) -> None:
    folder = shared_data / "options/nfo_opt_ticks_20221118_shardul0007/NIFTY_exp20221124"
    path = next(iter(sorted(folder.glob("NIFTY22112418300CE.csv.gz"))), None)
    if path is None:
        pytest.skip("option file not present")
    raw = gzip.decompress(path.read_bytes()).decode().splitlines()
    result = load_ticks(path, "NIFTY22112418300CE")

    in_session = [r for r in raw if "09:15:00" <= r.split(",")[1] < "15:30:00"]
    assert len(result.ticks) == len(in_session)
    _date, clock, price, qty, oi = in_session[0].split(",")
    assert result.ticks[0].price == float(price) and result.ticks[0].qty == int(qty)
    assert result.ticks[0].oi == int(oi)
    assert result.ticks[0].ts_ns == ist_ns(2022, 11, 18, *map(int, clock.split(":")))


# --------------------------------------------------------------------------- quirks


def test_load_candles_with_rows_out_of_order_sorts_and_records_one_event(tmp_path: Path) -> None:
    text = KITE_HEADER + kite_line(1) + kite_line(0) + kite_line(3) + kite_line(2) + kite_line(4)
    result = load_candles(write(tmp_path, "x.csv", text), "X")

    assert [b.ts_ns for b in result.bars] == [ist_ns(2023, 4, 3, 9, 15 + i) for i in range(5)]
    event = kinds(result.events)["RowsReordered"]
    assert event.data["count"] == 2 and event.data["first_line"] == 3
    assert event.level == "WARNING" and event.symbol == "X"


def test_load_candles_with_duplicate_timestamps_keeps_the_last(tmp_path: Path) -> None:
    text = KITE_HEADER + kite_line(0) + kite_line(1, c=100.1) + kite_line(1, c=100.2)
    text += kite_line(0, c=100.3)  # a late duplicate: sorted back, still the last in file
    result = load_candles(write(tmp_path, "x.csv", text), "X")

    assert [(b.ts_ns, b.close) for b in result.bars] == [
        (ist_ns(2023, 4, 3, 9, 15), 100.3),
        (ist_ns(2023, 4, 3, 9, 16), 100.2),
    ]
    events = kinds(result.events)
    assert events["DuplicateBarsDropped"].data["count"] == 2
    assert sorted(events["DuplicateBarsDropped"].data["lines"]) == [2, 3]
    assert events["RowsReordered"].data["count"] == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ("nan,101,99,100", "non-finite price"),
        ("100,inf,99,100", "non-finite price"),
        ("0,101,99,100", "zero or negative price"),
        ("100,101,-99,100", "zero or negative price"),
        ("100,99,101,100", "high below low"),
        ("102,101,99,100", "open/close outside the high-low range"),
        ("abc,101,99,100", "unparseable number"),
        ("100,101,99,", "unparseable number"),
    ],
)
def test_load_candles_with_bad_prices_skips_the_row(
    tmp_path: Path, fields: str, reason: str
) -> None:
    text = KITE_HEADER + kite_line(0) + f"2023-04-03 09:16:00+05:30,{fields},5\n" + kite_line(2)
    result = load_candles(write(tmp_path, "x.csv", text), "X")

    assert [b.ts_ns for b in result.bars] == [ist_ns(2023, 4, 3, 9, 15), ist_ns(2023, 4, 3, 9, 17)]
    (event,) = result.events
    assert event.kind == "RowSkipped" and event.data["reason"] == reason
    assert event.data["lines"] == [3] and event.data["count"] == 1
    assert "line 3" in event.message and reason in event.message
    assert all(math.isfinite(b.close) and b.low > 0 for b in result.bars)


def test_load_candles_with_garbage_lines_skips_each_with_its_reason(tmp_path: Path) -> None:
    text = (
        KITE_HEADER
        + kite_line(0)
        + "5\n"  # the stray line of the Breeze file
        + "\n"
        + "2023-04-03 9:16,100,101,99,100,5\n"
        + "2023-02-30 09:16:00+05:30,100,101,99,100,5\n"
        + "2023-04-03 09:16:00+05:30,100,101,99,100,-5\n"
        + "2023-04-03 09:16:00+05:30,100,101,99,100,5,7\n"
        + kite_line(1)
    )
    result = load_candles(write(tmp_path, "x.csv", text), "X")

    assert len(result.bars) == 2
    reasons = {e.data["reason"]: e.data["lines"] for e in result.events}
    assert reasons == {
        "1 fields, expected 6": [3],
        "blank line": [4],
        "unparseable timestamp": [5, 6],
        "negative volume or oi": [7],
        "7 fields, expected 6": [8],
    }
    assert {e.kind for e in result.events} == {"RowSkipped"}


def test_load_candles_with_many_bad_rows_aggregates_events(tmp_path: Path) -> None:
    bad = "2023-04-03 09:16:00+05:30,0,0,0,0,0\n" * 300
    good = "".join(kite_line(minute) for minute in range(1, 375))
    text = KITE_HEADER + kite_line(0) + bad + good
    result = load_candles(write(tmp_path, "x.csv.gz", text, compress=True), "X")

    assert len(result.bars) == 375
    (event,) = result.events
    assert event.data["count"] == 300
    assert event.data["lines"] == [3, 4, 5, 6, 7]
    assert "300 row(s)" in event.message and "…" in event.message


def test_load_candles_with_after_close_bars_drops_them(tmp_path: Path) -> None:
    text = KITE_HEADER + kite_line(0) + kite_line(374) + kite_line(375) + kite_line(400)
    text += "2023-04-03 09:14:00+05:30,100,101,99,100,5\n"
    result = load_candles(write(tmp_path, "x.csv", text), "X")

    assert [b.ts_ns for b in result.bars] == [ist_ns(2023, 4, 3, 9, 15), ist_ns(2023, 4, 3, 15, 29)]
    event = kinds(result.events)["BarOutsideSession"]
    assert event.data["count"] == 3 and event.data["lines"] == [4, 5, 6]
    assert event.level == "INFO"


def test_load_candles_with_leading_spaces_and_crlf_and_bom(tmp_path: Path) -> None:
    text = (
        "\ufeffCode,Date,Open,High,Low,Close,Volume\r\n"
        "SBIN,2016-08-16 09:15:00, 245.55, 246.35, 244.05, 245.3, 692491\r\n"
        "SBIN, 2016-08-16 09:16:00 , 245.25, 245.35, 244.8, 245.15, 394274.0\r\n"
    )
    result = load_candles(write(tmp_path, "x.csv", text), "SBIN")

    assert result.events == ()
    assert result.bars == (
        Bar("SBIN", ist_ns(2016, 8, 16, 9, 15), 60, 245.55, 246.35, 244.05, 245.3, 692491),
        Bar("SBIN", ist_ns(2016, 8, 16, 9, 16), 60, 245.25, 245.35, 244.8, 245.15, 394274),
    )


def test_load_candles_with_gzip_and_plain_give_the_same_bars(tmp_path: Path) -> None:
    text = "Instrument,Date,Time,Open,High,Low,Close\nNIFTY,20240101,09:15,1.5,2,1,1.75\n"
    plain = load_candles(write(tmp_path, "a.csv", text), "NIFTY")
    packed = load_candles(write(tmp_path, "a.csv.gz", text, compress=True), "NIFTY")

    assert plain.bars == packed.bars
    # the same events, each naming its own file (this layout has no volume: said)
    assert [(e.kind, e.level) for e in plain.events] == [("VolumeMissing", "WARNING")]
    assert [(e.kind, e.level) for e in packed.events] == [("VolumeMissing", "WARNING")]
    assert plain.bars == (Bar("NIFTY", ist_ns(2024, 1, 1, 9, 15), 60, 1.5, 2.0, 1.0, 1.75),)


def test_load_candles_with_other_utc_offset_converts_to_utc(tmp_path: Path) -> None:
    text = "datetime,open,high,low,close,volume,oi\n2023-04-03T03:45:00Z,1,1,1,1,0,7\n"
    text += "2023-04-03 04:46:00+00:00,1,1,1,1,0,8\n"
    bars = load_candles(write(tmp_path, "x.csv", text), "X").bars

    assert [b.ts_ns for b in bars] == [ist_ns(2023, 4, 3, 9, 15), ist_ns(2023, 4, 3, 10, 16)]
    assert [b.oi for b in bars] == [7, 8]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("2023-04-03 09:15:00+05:30,1,2,0.5,1,5\n", "no header line"),
        ("when,o,h,l,c\n2023-04-03,1,2,0.5,1\n", "unrecognised header"),
        ("Date,open,high,low\n", "unrecognised header"),
    ],
)
def test_load_candles_with_unknown_format_raises(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path, "x.csv", text)
    with pytest.raises(DataFormatError, match=match) as caught:
        load_candles(path, "X")
    assert caught.value.path == path
    assert str(caught.value).startswith(str(path))


def test_load_candles_with_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="file not found"):
        load_candles(tmp_path / "nope.csv.gz", "X")
    with pytest.raises(DataFormatError, match="is a directory"):
        load_candles(tmp_path, "X")  # a directory


def test_load_candles_with_truncated_gzip_raises(tmp_path: Path) -> None:
    data = gzip.compress((KITE_HEADER + kite_line(0) * 2000).encode())
    path = tmp_path / "x.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="cannot read"):
        load_candles(path, "X")


def test_load_ticks_with_quirks_skips_sorts_and_records(tmp_path: Path) -> None:
    text = (
        "20221118,09:15:00,100.0,1,10\n"
        "20221118,09:15:01,100.5,2,10\n"
        "20221118,09:15:00,100.2,3,10\n"  # out of order: sorted after the first 09:15:00
        "20221118,09:15:02,nan,1,10\n"
        "20221118,09:15:02,0,1,10\n"
        "20221118,09:15:02,-1,1,10\n"
        "5\n"
        "20221118,09:15:2,100,1,10\n"
        "20221118,09:15:03,100.1,-1,10\n"
        "20221118,09:14:59,100.1,1,10\n"
        "20221118,09:15:03,100.7,4,11\n"
    )
    result = load_ticks(write(tmp_path, "t.csv", text), "NIFTY")

    assert [(t.price, t.qty) for t in result.ticks] == [
        (100.0, 1),
        (100.2, 3),
        (100.5, 2),
        (100.7, 4),
    ]
    assert result.ticks[0].ts_ns == result.ticks[1].ts_ns == ist_ns(2022, 11, 18, 9, 15)
    reasons = {(e.kind, e.data.get("reason")): e.data.get("lines") for e in result.events}
    assert reasons == {
        ("RowSkipped", "non-finite price"): [4],
        ("RowSkipped", "zero or negative price"): [5, 6],
        ("RowSkipped", "1 fields, expected 5"): [7],
        ("RowSkipped", "unparseable timestamp"): [8],
        ("RowSkipped", "negative quantity or oi"): [9],
        ("TickOutsideSession", "tick outside session 09:15-15:30 IST"): [10],
        ("RowsReordered", None): None,
    }


@pytest.mark.parametrize(
    "text",
    ["", "date,time,price,qty,oi\n20221118,09:15:00,1,1,1\n", "20221118,09:15:00,1,1\n"],
)
def test_load_ticks_with_header_or_wrong_layout_raises(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataFormatError):
        load_ticks(write(tmp_path, "t.csv", text), "X")


# --------------------------------------------------------------------------- hostile files


def test_load_candles_with_real_file_loaded_as_another_symbol_refuses_it(
    shared_data: Path,
) -> None:
    """A TATASTEEL file configured as WIPRO used to load as WIPRO: its Code column says."""
    path = shared_data / "intraday_1min/kite_fno_stocks_2016_kuldeeptp/SBIN.csv.gz"
    assert len(load_candles(path, "WIPRO").bars) == 6_750  # a label, unless asked to check
    with pytest.raises(NoDataError) as caught:
        load_candles(path, "WIPRO", check_symbol=True)
    message = str(caught.value)
    assert "SBIN.csv.gz: no usable rows: all 6750 skipped" in message
    assert "row names another symbol ('SBIN' first), not WIPRO" in message


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("NIFTY", "NIFTY 50"),  # vendor index name vs Kite's
        ("NIFTYAUTO", "NIFTY AUTO"),
        ("BANKNIFTY", "NIFTY BANK"),
        ("NIFTY-I", "NIFTY22NOVFUT"),  # continuous near-month series
        ("NIFTY-II.NFO", "NIFTY22DECFUT"),
        ("m&m", "M&M"),
    ],
)
def test_symbol_matches_with_vendor_names_of_the_same_instrument(name: str, symbol: str) -> None:
    assert symbol_matches(name, symbol)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [("TATASTEEL", "WIPRO"), ("NIFTY", "NIFTY BANK"), ("NIFTY-I", "BANKNIFTY22NOVFUT"),
     ("NIFTY-I", "NIFTY22NOV18300CE"), ("SBIN", "SBI")],
)  # fmt: skip
def test_symbol_matches_with_another_instrument_refuses(name: str, symbol: str) -> None:
    assert not symbol_matches(name, symbol)


@pytest.mark.parametrize("order", [("I", "II", "III"), ("III", "I", "II"), ("II", "III", "I")])
def test_a_file_of_several_continuous_series_loads_the_near_month_only(
    tmp_path: Path, order: tuple[str, ...]
) -> None:
    """A vendor's F&O file lists NIFTY-I, -II and -III side by side, a row each per
    minute. Each names a NIFTY future, so all three matched, and the duplicate-timestamp
    rule kept each minute's last row: a farther month's prices replayed as the near
    month's, said only as repeated timestamps."""
    base = {"I": 18000.0, "II": 18080.0, "III": 18160.0}
    lines = ["Code,Date,Open,High,Low,Close,Volume"]
    for minute in range(30):
        for series in order:
            price = base[series] + minute
            lines.append(
                f"NIFTY-{series},2022-11-18 09:{15 + minute}:00,"
                f"{price},{price + 2},{price - 2},{price + 1},100"
            )
    path = write(tmp_path, "nfo.csv", "\n".join(lines) + "\n")
    loaded = load_candles(path, "NIFTY22NOVFUT", check_symbol=True)
    assert [bar.close for bar in loaded.bars] == [18001.0 + m for m in range(30)]
    messages = [event.message for event in loaded.events]
    assert not any("repeat a timestamp" in m for m in messages), messages
    skipped = [m for m in messages if "which on its date is" in m]
    assert len(skipped) == 2, messages
    assert any("'NIFTY-II', which on its date is NIFTY22DECFUT, not NIFTY22NOVFUT" in m
               for m in skipped)  # fmt: skip
    assert any("'NIFTY-III', which on its date is NIFTY23JANFUT, not NIFTY22NOVFUT" in m
               for m in skipped)  # fmt: skip
    assert sum(int(m.split(": ")[1].split(" ")[0]) for m in skipped) == 60


@pytest.mark.parametrize("stamp", ["T00:00:00+0530", " 00:00:00"])
def test_a_file_of_daily_candles_is_refused_saying_so(tmp_path: Path, stamp: str) -> None:
    """Kite's day candles are stamped at midnight: the refusal said only that every row
    fell outside the session, which sent a trader looking at time zones."""
    days = [f"2023-01-{day:02d}" for day in (2, 3, 4, 5, 6, 9, 10)]
    text = "date,open,high,low,close,volume\n" + "".join(
        f"{day}{stamp},100,101,99,100.5,1000\n" for day in days
    )
    with pytest.raises(NoDataError) as caught:
        load_candles(write(tmp_path, "day.csv", text), "SBIN")
    assert "every row is stamped 00:00 IST, as daily candles are" in str(caught.value)


@pytest.mark.parametrize("scale", [1, 1000])
def test_unix_times_load_as_utc_from_a_tradingview_export(tmp_path: Path, scale: int) -> None:
    """TradingView exports ``time,open,high,low,close,Volume`` (and its indicators'
    columns) with Unix seconds; APIs often give milliseconds. The header was
    unrecognised and the stamps unparseable."""
    open_utc = 1672631100  # 2023-01-02 03:45 UTC: 09:15 IST
    text = "time,open,high,low,close,Volume,EMA 20\n" + "".join(
        f"{(open_utc + 60 * i) * scale},100,101,99,100.5,1000,100.1\n" for i in range(3)
    )
    bars = list(load_candles(write(tmp_path, "tv.csv", text), "SBIN").bars)
    assert [bar.ts_ns for bar in bars] == [(open_utc + 60 * i) * 10**9 for i in range(3)]
    assert bars[0].ts_ns == ist_ns(2023, 1, 2, 9, 15)


def test_index_values_with_unix_milliseconds_load_as_utc(tmp_path: Path) -> None:
    """An index recorded by an API as ``epoch_ms,value`` was "not an index value file"."""
    open_ms = 1668743100_000  # 2022-11-18 03:45 UTC: 09:15 IST
    text = "".join(f"{open_ms + 1000 * i},{18300 + i}\n" for i in range(3))
    ticks = list(load_index_values(write(tmp_path, "idx.csv", text), "NIFTY 50").ticks)
    assert [(t.ts_ns, t.price) for t in ticks] == [
        (ist_ns(2022, 11, 18, 9, 15, i), 18300.0 + i) for i in range(3)
    ]


def test_load_candles_with_real_vendor_index_name_loads_as_kite_name(shared_data: Path) -> None:
    path = shared_data / "intraday_1min/nifty50_index_2024_sainipankaj15/NIFTY_2024.csv.gz"
    assert len(load_candles(path, "NIFTY 50", check_symbol=True).bars) == 58_127 - 167


def test_load_candles_with_mixed_symbols_keeps_the_configured_one(tmp_path: Path) -> None:
    rows = [f"{'SBIN' if i % 2 else 'WIPRO'},{kite_line(i)}" for i in range(6)]
    text = "code," + KITE_HEADER + "".join(rows)
    result = load_candles(write(tmp_path, "x.csv", text), "SBIN", check_symbol=True)
    assert len(result.bars) == 3
    (event,) = result.events
    assert event.data["count"] == 3 and "('WIPRO' first), not SBIN" in event.data["reason"]


@pytest.mark.parametrize(
    ("loader", "text", "match"),
    [
        (load_candles, KITE_HEADER, "no data rows \\(header only\\?\\)"),
        (load_candles, KITE_HEADER + kite_line(0).replace("100.0", "x") * 3,
         "all 3 skipped \\(3 unparseable number\\)"),
        (load_candles, KITE_HEADER + kite_line(-60), "bar outside session"),
        (load_ticks, "20221118,09:20:00,nan,1,1\n", "non-finite price"),
        (load_index_values, "timestamp,value\n", "no data rows"),
    ],
)  # fmt: skip
def test_loader_with_no_usable_row_raises_no_data_error_saying_why(
    tmp_path: Path, loader, text: str, match: str
) -> None:
    path = write(tmp_path, "x.csv", text)
    with pytest.raises(NoDataError, match=match):
        loader(path, "X")
    assert loader(path, "X", require_rows=False).events is not None  # allowed when asked


def test_load_candles_with_plain_text_named_gz_reads_it_with_an_event(tmp_path: Path) -> None:
    result = load_candles(write(tmp_path, "x.csv.gz", KITE_HEADER + kite_line(0)), "X")
    assert len(result.bars) == 1
    (event,) = result.events
    assert event.kind == "NotGzip" and event.ts_ns == result.bars[0].ts_ns


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2023-04-03 09:16:00+05:30,2e7,2e7,2e7,2e7,5", "price above 10,000,000"),
        ("2023-04-03 09:16:00+05:30,100,101,99,100,1e15", "volume or oi above"),
        ("2023-04-03 09:16:30+05:30,100,101,99,100,5", "timestamp not on a whole minute"),
    ],
)
def test_load_candles_with_implausible_row_skips_it(tmp_path: Path, row: str, reason: str) -> None:
    result = load_candles(write(tmp_path, "x.csv", KITE_HEADER + kite_line(0) + row + "\n"), "X")
    assert len(result.bars) == 1
    assert reason in result.events[0].data["reason"]


# --------------------------------------------------------------------------- misread files
# Probe B 2, 4, 9 and the wire-format "maybe": a file most of whose rows would be dropped,
# or whose bars are not one minute apart, is refused in one line, not replayed in part.

DAYS = ("2023-04-03", "2023-04-05", "2023-04-06")


def _utc_naive_line(minute: int, day: str) -> str:
    """A full-session IST minute written as naive UTC (09:15 IST -> 03:45)."""
    hh, mm = divmod(3 * 60 + 45 + minute, 60)
    return f"{day} {hh:02d}:{mm:02d}:00,100.0,101.0,99.0,100.5,10\n"


@pytest.mark.parametrize("load", [load_candles, reference_candles])
def test_load_candles_with_naive_utc_stamps_refuses_the_file(tmp_path: Path, load) -> None:
    rows = "".join(_utc_naive_line(m, day) for day in DAYS for m in range(375))
    path = write(tmp_path, "utc_naive.csv", KITE_HEADER + rows)
    with pytest.raises(DataFormatError) as refused:
        load(path, "SBIN")
    message = str(refused.value)
    assert message.startswith(f"{path}: 990 of 1125 rows (88%) fall outside the session")
    assert "timestamps look like UTC without an offset: give them +00:00" in message


def test_load_candles_with_a_few_rows_outside_still_loads_them(tmp_path: Path) -> None:
    pre_open = "".join(f"2023-04-03 09:{m:02d}:00+05:30,100,101,99,100,1\n" for m in range(0, 15))
    rows = "".join(kite_line(m) for m in range(375))
    result = load_candles(write(tmp_path, "x.csv", KITE_HEADER + pre_open + rows), "X")
    assert len(result.bars) == 375
    assert kinds(result.events)["BarOutsideSession"].data["count"] == 15


def _hourly(day: str) -> str:
    return "".join(f"{day} {h:02d}:15:00+05:30,100,101,99,100,1000\n" for h in range(9, 16))


@pytest.mark.parametrize("load", [load_candles, reference_candles])
def test_load_candles_with_hourly_bars_refuses_them(tmp_path: Path, load) -> None:
    path = write(tmp_path, "h.csv", KITE_HEADER + "".join(_hourly(day) for day in DAYS))
    with pytest.raises(DataFormatError, match=r"h\.csv: bars 60 minutes apart: kitetui replays"):
        load(path, "SBIN")


def test_load_candles_with_daily_bars_stamped_0915_refuses_them(tmp_path: Path) -> None:
    rows = "".join(f"{day} 09:15:00+05:30,100,101,99,100,1000\n" for day in DAYS)
    with pytest.raises(DataFormatError, match="one bar a day, each at 09:15 IST"):
        load_candles(write(tmp_path, "d.csv", KITE_HEADER + rows), "SBIN")


def test_load_candles_with_a_thin_minute_file_keeps_it(tmp_path: Path) -> None:
    """An illiquid option trades some minutes only: its gaps vary, their gcd is 60 s."""
    minutes = [0, 3, 5, 6, 12, 20, 21, 40, 41, 43]
    rows = "".join(kite_line(m, day=day) for day in DAYS for m in minutes)
    assert len(load_candles(write(tmp_path, "o.csv", KITE_HEADER + rows), "X").bars) == 30


def test_load_candles_with_a_thin_file_whose_gaps_share_a_step_by_chance_keeps_it(
    tmp_path: Path,
) -> None:
    """Probe E: a deep option's real day, Kite's minutes with a trade only: 12:01,
    12:11, 12:15, 12:27, 12:29, 12:31, 12:33. Its gaps share a step of 2 minutes by
    chance; it was refused as "bars 2 minutes apart", and the whole run with it."""
    minutes = [166, 176, 180, 192, 194, 196, 198]  # minutes after 09:15
    rows = "".join(kite_line(m) for m in minutes)
    assert len(load_candles(write(tmp_path, "o.csv", KITE_HEADER + rows), "X").bars) == 7


@pytest.mark.parametrize("load", [load_candles, reference_candles])
def test_load_candles_with_fractional_volume_keeps_the_row_rounded_down(
    tmp_path: Path, load
) -> None:
    rows = "".join(kite_line(m, v=116.485) for m in range(50))
    result = load(write(tmp_path, "v.csv", KITE_HEADER + rows), "X")
    assert len(result.bars) == 50
    assert {bar.volume for bar in result.bars} == {116}
    (event,) = result.events
    assert event.kind == "VolumeRounded" and event.data["count"] == 50


@pytest.mark.parametrize("load", [load_candles, reference_candles])
def test_load_candles_with_most_rows_unparseable_refuses_naming_the_first(
    tmp_path: Path, load
) -> None:
    rows = "".join(kite_line(m, v="n/a") for m in range(100)) + kite_line(100)
    path = write(tmp_path, "bad.csv", KITE_HEADER + rows)
    with pytest.raises(DataFormatError) as refused:
        load(path, "X")
    assert str(refused.value) == (
        f"{path}: 100 of 101 rows (99%) unusable, refusing the file; most: unparseable "
        "number (first at line 2: '2023-04-03 09:15:00+05:30,100.0,101.0,99.0,100.5,n/a')"
    )


@pytest.mark.parametrize("load", [load_candles, reference_candles])
@pytest.mark.parametrize("stamp", ["T09:15:00+0530", " 09:15:00.000+05:30", "T03:45:00.000Z"])
def test_load_candles_with_kite_wire_and_millisecond_stamps_reads_them(
    tmp_path: Path, load, stamp: str
) -> None:
    rows = f"2023-04-03{stamp},100,101,99,100.5,10\n" * 1
    result = load(write(tmp_path, "k.csv", KITE_HEADER + rows), "X")
    assert [bar.ts_ns for bar in result.bars] == [ist_ns(2023, 4, 3, 9, 15)]


def test_load_candles_with_unparseable_stamps_shows_one(tmp_path: Path) -> None:
    rows = "03-04-2023 09:15:00,100,101,99,100.5,10\n"
    with pytest.raises(NoDataError, match=r"first bad row, line 2: '03-04-2023 09:15:00,"):
        load_candles(write(tmp_path, "k.csv", KITE_HEADER + rows), "X")


def test_load_index_values_with_naive_utc_stamps_refuses_the_file(tmp_path: Path) -> None:
    """Probe B 2's index variant: one value a second, 09:00-15:40 IST written as UTC."""
    start = datetime(2022, 11, 18, 3, 30)
    rows = "".join(
        f"{start + timedelta(seconds=s):%Y-%m-%d %H:%M:%S},18000.5\n" for s in range(0, 24000, 4)
    )
    with pytest.raises(DataFormatError, match="timestamps look like UTC without an offset"):
        load_index_values(write(tmp_path, "NIFTY50.csv", rows), "NIFTY 50")


@pytest.mark.parametrize("loader", [load_candles, reference_candles], ids=["fast", "careful"])
def test_load_candles_without_a_volume_column_says_so_once(tmp_path: Path, loader) -> None:
    """probe: a stock's candles with no volume column loaded as volume 0, silently; a
    volume-weighted strategy (vwap_filter) then never traded and no one said why."""
    text = "date,open,high,low,close\n" + "".join(
        f"2023-04-03 09:{15 + i}:00+05:30,100,101,99,100.5\n" for i in range(5)
    )
    result = loader(write(tmp_path, "SBIN.csv", text), "SBIN")

    assert [bar.volume for bar in result.bars] == [0] * 5
    (event,) = [e for e in result.events if e.kind == "VolumeMissing"]
    assert event.level == "WARNING" and event.symbol == "SBIN"
    assert event.message.startswith("SBIN.csv: no volume column: its bars load with volume 0")
    assert event.data["path"] == str(tmp_path / "SBIN.csv")


def test_load_candles_with_a_volume_column_says_nothing_of_volume(tmp_path: Path) -> None:
    result = load_candles(write(tmp_path, "k.csv", KITE_HEADER + kite_line(0)), "SBIN")
    assert not [e for e in result.events if e.kind == "VolumeMissing"]
