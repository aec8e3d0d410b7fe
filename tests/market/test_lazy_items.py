"""A lazy stream is the eager one, item for item, however it is walked or cut."""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.market import lazy_items
from kitetui.market.lazy_items import LazyItems
from kitetui.market.loaders import data_path, load_candles, load_ticks


def _pairs(columns):
    return tuple(zip(columns["a"].tolist(), columns["b"].tolist(), strict=True))


def _columns(size: int) -> dict[str, np.ndarray]:
    return {"a": np.arange(size, dtype=np.int64), "b": np.arange(size, dtype=np.float64) / 4}


@given(
    size=st.integers(0, 60),
    chunk=st.integers(1, 7),
    start=st.integers(-70, 70) | st.none(),
    stop=st.integers(-70, 70) | st.none(),
)
def test_lazy_items_with_any_slice_and_chunk_equal_the_tuple(size, chunk, start, stop) -> None:
    columns = _columns(size)
    eager = _pairs(columns)
    original = lazy_items.CHUNK
    lazy_items.CHUNK = chunk
    try:
        lazy = LazyItems(_pairs, columns)
        assert len(lazy) == size and tuple(lazy) == eager and lazy == eager and eager == lazy
        cut = lazy[start:stop]
        assert tuple(cut) == eager[start:stop] and len(cut) == len(eager[start:stop])
        assert tuple(cut[1:]) == eager[start:stop][1:]  # a slice of a slice
        for index in range(-size, size):
            assert lazy[index] == eager[index]
        assert tuple(lazy[::2]) == eager[::2]
    finally:
        lazy_items.CHUNK = original


def test_lazy_items_out_of_range_and_unhashable() -> None:
    lazy = LazyItems(_pairs, _columns(3))
    with pytest.raises(IndexError):
        lazy[3]
    with pytest.raises(IndexError):
        lazy[-4]
    with pytest.raises(TypeError):
        hash(lazy)
    assert lazy != (1, 2) and lazy != "abc"


def test_lazy_items_support_the_replays_binary_search_by_time() -> None:
    lazy = LazyItems(_pairs, _columns(1000))
    assert bisect_left(lazy, 250.0, key=lambda item: item[1]) == 1000  # b = a / 4
    assert bisect_left(lazy, 100.0, key=lambda item: item[1]) == 400


@pytest.mark.parametrize(
    ("loader", "spec", "symbol"),
    [
        (load_candles, "pkg:replay/SBIN.csv.gz", "SBIN"),
        (load_ticks, "pkg:replay/NIFTY-I_20221118.csv.gz", "NIFTY22NOVFUT"),
    ],
    ids=["candles", "ticks"],
)
def test_lazy_load_of_a_bundled_file_equals_the_eager_one(loader, spec, symbol) -> None:
    path: Path = data_path(spec)
    eager = loader(path, symbol)
    lazy = loader(path, symbol, lazy=True)
    eager_items = eager.bars if hasattr(eager, "bars") else eager.ticks
    lazy_items_ = lazy.bars if hasattr(lazy, "bars") else lazy.ticks
    assert isinstance(lazy_items_, LazyItems) and isinstance(eager_items, tuple)
    assert len(eager_items) > 1000 and lazy_items_ == eager_items
    assert lazy.events == eager.events
