"""Narrow columns give back exactly the values loaded, or are not narrowed at all."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import data_path, load_candles, load_ticks, reference_candles
from kitetui.market.packed import narrow_counts, narrow_prices, price_values

SBIN = data_path("pkg:replay/SBIN.csv.gz")


def bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


@given(st.lists(st.integers(1, 2_147_483_647), min_size=1, max_size=50))
def test_whole_paise_pack_to_int32_and_read_back_as_their_decimals(paise: list[int]) -> None:
    loaded = np.array([float(f"{p // 100}.{p % 100:02d}") for p in paise])  # float(text)
    packed = narrow_prices(loaded)
    assert packed.dtype == np.int32
    assert bits(price_values(packed)) == bits(loaded.tolist())


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=30))
def test_any_prices_read_back_bit_for_bit(values: list[float]) -> None:
    loaded = np.array(values, dtype=np.float64)
    assert bits(price_values(narrow_prices(loaded))) == bits(values)


@pytest.mark.parametrize(
    "values",
    [[100.5, 100.125], [0.001], [-0.0, 1.0], [21_474_836.48], [float("nan")], [1e300]],
    ids=["a third decimal", "below a paisa", "negative zero", "past int32", "nan", "huge"],
)
def test_prices_off_the_paise_grid_stay_float64(values: list[float]) -> None:
    loaded = np.array(values)
    assert narrow_prices(loaded) is loaded


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=30))
def test_counts_narrow_to_the_smallest_type_that_holds_them(values: list[int]) -> None:
    loaded = np.array(values, dtype=np.int64)
    packed = narrow_counts(loaded)
    assert packed.tolist() == values
    smaller = {8: np.int32, 4: np.int16, 2: np.int8, 1: None}[packed.dtype.itemsize]
    if smaller is not None:  # the next type down would not hold them
        info = np.iinfo(smaller)
        assert min(values) < info.min or max(values) > info.max


def test_bundled_bars_are_kept_narrow(tmp_path: Path) -> None:
    result = load_candles(SBIN, "SBIN", cache=LoadCache(tmp_path), lazy=True)
    columns = result.bars._columns  # type: ignore[attr-defined]
    assert {name: str(c.dtype) for name, c in columns.items()} == {
        "ts_ns": "int64",
        "open": "int32",
        "high": "int32",
        "low": "int32",
        "close": "int32",
        "volume": "int32",
        "oi": "int8",
    }
    assert result == reference_candles(SBIN, "SBIN")


@pytest.mark.parametrize("cached", [False, True])
def test_a_file_off_the_grid_loads_exactly_as_floats(tmp_path: Path, cached: bool) -> None:
    path = tmp_path / "ODD.csv"
    path.write_text(
        "Date,open,high,low,close,volume\n"
        "2023-04-03 09:15:00+05:30,100.125,101,99.5,100.5,7\n"
        "2023-04-03 09:16:00+05:30,100.5,101,99.5,100.0625,3000000000\n"
    )
    cache = LoadCache(tmp_path / "cache" if cached else None)
    for _ in range(2):  # cold, then (with a cache) read back from it
        result = load_candles(path, "ODD", cache=cache, lazy=True)
        columns = result.bars._columns  # type: ignore[attr-defined]
        assert columns["open"].dtype == np.float64 and columns["close"].dtype == np.float64
        assert columns["high"].dtype == np.int32  # each column on its own
        assert columns["volume"].dtype == np.int64
        assert [b.open for b in result.bars] == [100.125, 100.5]
        assert [b.close for b in result.bars] == [100.5, 100.0625]
        assert result == reference_candles(path, "ODD")


def test_ticks_are_kept_narrow_and_exact(tmp_path: Path) -> None:
    path = tmp_path / "NIFTY.csv"
    path.write_text("20221118,09:15:00,18276.05,50,0\n20221118,09:15:01,18276.1,75,12000000\n")
    result = load_ticks(path, "NIFTY", lazy=True)
    columns = result.ticks._columns  # type: ignore[attr-defined]
    assert columns["price"].dtype == np.int32 and columns["oi"].dtype == np.int32
    assert [t.price for t in result.ticks] == [18276.05, 18276.1]
    assert [t.oi for t in result.ticks] == [0, 12000000]
