"""A small data file cannot take the machine's memory: the bounds of ``text_limits``.

The bounds are lowered here (``small_limits``) so that a bomb past them stays a few MB;
the code paths are the ones a real 6.5 MB gzip of 1.5 GB of newlines took.
"""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest

from kitetui.market import text_limits
from kitetui.market.columnar import split_fields
from kitetui.market.instruments import InstrumentError, InstrumentMaster
from kitetui.market.loaders import (
    DataFormatError,
    load_candles,
    load_ticks,
    reference_candles,
    reference_ticks,
)
from kitetui.market.text_limits import TooLarge, gunzip

HEADER = b"Date,open,high,low,close,volume\n"
ROW = b"2023-04-03 09:15:00+05:30,100.0,101.0,99.5,100.5,10\n"
LIMIT = 1 << 20  # 1 MiB of text
LINES = 100_000


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_limits, "MAX_TEXT_BYTES", LIMIT)
    monkeypatch.setattr(text_limits, "MAX_LINES", LINES)


def write(path: Path, data: bytes, *, zipped: bool) -> Path:
    path.write_bytes(gzip.compress(data, compresslevel=1) if zipped else data)
    return path


CANDLE_LOADS = {
    "columnar": lambda p: load_candles(p, "SBIN"),
    "row by row": lambda p: reference_candles(p, "SBIN"),
}


@pytest.mark.usefixtures("small_limits")
@pytest.mark.parametrize("load", CANDLE_LOADS.values(), ids=CANDLE_LOADS.keys())
@pytest.mark.parametrize("zipped", [True, False], ids=["gzip", "plain"])
def test_text_past_the_bound_is_refused_naming_the_file(tmp_path: Path, zipped, load) -> None:
    wide = HEADER + ROW + b"9" * (LIMIT + 10) + b"\n"
    path = write(tmp_path / ("SBIN.csv.gz" if zipped else "SBIN.csv"), wide, zipped=zipped)
    with pytest.raises(DataFormatError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "a data file may be" in str(caught.value)


@pytest.mark.usefixtures("small_limits")
@pytest.mark.parametrize("load", CANDLE_LOADS.values(), ids=CANDLE_LOADS.keys())
def test_a_gzip_of_blank_lines_past_the_line_bound_is_refused(tmp_path: Path, load) -> None:
    """Fewer bytes than the bound, more lines: the columnar path and the careful path,
    which reads the gzip as it goes, refuse it alike."""
    bomb = HEADER + ROW + b"\n" * (LINES + 1)
    path = write(tmp_path / "SBIN.csv.gz", bomb, zipped=True)
    with pytest.raises(DataFormatError, match=r"lines, more than the|lines a data file may"):
        load(path)


@pytest.mark.usefixtures("small_limits")
def test_ticks_past_the_bound_are_refused(tmp_path: Path) -> None:
    rows = b"20221118,09:15:00,18300.5,75,0\n" * (LIMIT // 30)
    path = write(tmp_path / "NIFTY.csv.gz", rows, zipped=True)
    for load in (load_ticks, reference_ticks):
        with pytest.raises(DataFormatError, match="a data file may be"):
            load(path, "NIFTY")


@pytest.mark.usefixtures("small_limits")
def test_text_within_the_bounds_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "SBIN.csv.gz", HEADER + ROW + b"\n" * 10, zipped=True)
    assert len(load_candles(path, "SBIN").bars) == 1


@pytest.mark.usefixtures("small_limits")
def test_an_instrument_master_past_the_bound_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "master.csv.gz", b"instrument_token\n" + b"\n" * LIMIT, zipped=True)
    with pytest.raises(InstrumentError, match=f"^{path}: decompresses to more than"):
        InstrumentMaster.from_csv(path)


def test_gunzip_stops_near_the_bound_not_at_the_bombs_size() -> None:
    bomb = gzip.compress(b"\n" * (64 << 20), compresslevel=1)  # 64 MiB of text in ~64 KB
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            gunzip(bomb, limit=4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20  # the bound and one read's chunk, not the 64 MiB


def test_gunzip_is_gzip_decompress_for_every_member() -> None:
    text = ROW * 1000
    two = gzip.compress(text[:500]) + gzip.compress(text[500:])
    assert gunzip(two) == gzip.decompress(two) == text


def test_blank_lines_are_found_before_the_columnar_arrays_are_made() -> None:
    """A file of blank lines went to 23 bytes of memory a byte before it was judged."""
    data = ROW + b"\n" * (8 << 20)
    tracemalloc.start()
    try:
        assert split_fields(data, 6) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_a_field_past_the_csv_limit_is_left_to_the_careful_path(tmp_path: Path) -> None:
    """In a column the loaders ignore too: the careful path refuses it (exit 4), so the
    columnar path must not accept the file whatever its other rows are."""
    header = b"Date,open,high,low,close,volume,note\n"
    rows = [b"2023-04-03 09:%02d:00+05:30,100.0,101.0,99.5,100.5,10,x\n" % m for m in range(15, 30)]
    rows[5] = rows[5].replace(b",x\n", b"," + b"y" * 200_000 + b"\n")
    path = write(tmp_path / "SBIN.csv", header + b"".join(rows), zipped=False)
    assert split_fields(b"".join(rows), 7) is None
    for load in CANDLE_LOADS.values():
        with pytest.raises(DataFormatError, match="field larger than field limit"):
            load(path)
