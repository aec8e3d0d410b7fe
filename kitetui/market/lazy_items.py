"""A loaded stream kept as its columns until the replay reaches it.

A year of 1-minute bars for 20 symbols is 1.875 M ``Bar`` objects: about 450 MB as
objects (a slotted instance and its boxed floats and ints), but 29 bytes a bar as the
loader's numpy columns (narrowed exactly: ``packed.py``). The replay walks each stream
once, in time order, merging the streams by event time, so a stream need not exist as
objects before the run starts:
``LazyItems`` is a ``Sequence`` over the columns that builds its items a chunk at a time
as it is iterated (the loader's own builder, so the items are the ones an eager load
gives, value for value). At most a chunk per stream lives at once.

Indexing builds one item (the replay's binary searches by time probe a few dozen);
slicing is a view on the same columns (``clip_sources`` cuts streams to a date window);
equality compares item by item with any sequence, so a lazy load equals the eager one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

import numpy as np

T = TypeVar("T")

# Items built at a time: small against the whole (a replay holds a chunk per stream, 20
# streams × 4,096 bars were 22 MB of live ``Bar``s), large against a chunk's overhead.
CHUNK = 512

Columns = Mapping[str, np.ndarray]


class LazyItems(Sequence[T]):
    """Items built from ``columns`` rows ``[start, stop)`` by ``build`` (which turns a
    slice of every column into a tuple of items), a chunk at a time."""

    __slots__ = ("_build", "_columns", "_start", "_stop", "lag_ns")

    def __init__(
        self,
        build: Callable[[Columns], tuple[T, ...]],
        columns: Columns,
        start: int = 0,
        stop: int | None = None,
        *,
        lag_ns: int | None = None,
    ) -> None:
        size = len(next(iter(columns.values()))) if columns else 0
        self._build = build
        self._columns = columns
        self._start = start
        self._stop = size if stop is None else stop
        # An item's event time is its ``ts_ns`` plus this (a bar is known at its end, a
        # tick at its time); None when the items do not say (``timed`` is then None).
        self.lag_ns = lag_ns

    def __len__(self) -> int:
        return self._stop - self._start

    def columns(self) -> dict[str, np.ndarray]:
        """The items' columns (views, no copy): what a consumer that works a column at a
        time reads instead of the items (``bar_columns.py``)."""
        return {name: column[self._start : self._stop] for name, column in self._columns.items()}

    def build(self, start: int, stop: int) -> tuple[T, ...]:
        """The items of rows ``[start, stop)`` of this sequence, built at once."""
        return self._rows(self._start + start, self._start + stop)

    def _rows(self, start: int, stop: int) -> tuple[T, ...]:
        return self._build({name: column[start:stop] for name, column in self._columns.items()})

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        size = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(size)
            if step != 1:
                return tuple(self)[index]
            return LazyItems(
                self._build,
                self._columns,
                self._start + start,
                self._start + max(start, stop),
                lag_ns=self.lag_ns,
            )
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("LazyItems index out of range")
        row = self._start + index
        return self._rows(row, row + 1)[0]

    def __iter__(self) -> Iterator[T]:
        for start in range(self._start, self._stop, CHUNK):
            yield from self._rows(start, min(start + CHUNK, self._stop))

    def timed(self) -> Iterator[tuple[int, T]]:
        """``(event time, item)`` for every item, the times read from the ``ts_ns``
        column a chunk at a time (the replay's merge, without a call per item)."""
        lag = self.lag_ns
        assert lag is not None, "timed() needs the items' lag_ns"
        ts = self._columns["ts_ns"]
        for start in range(self._start, self._stop, CHUNK):
            stop = min(start + CHUNK, self._stop)
            yield from zip((ts[start:stop] + lag).tolist(), self._rows(start, stop), strict=True)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to tuples, so not hashable

    def __repr__(self) -> str:
        return f"LazyItems({len(self)} items)"
