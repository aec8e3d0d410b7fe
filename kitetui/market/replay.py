"""The replay feed: recorded candles and ticks merged into one data-time stream.

Items are grouped into *batches* that share one event time (a bar is known at its end,
a tick at its timestamp), so every consumer sees the market in the order it happened,
and batch boundaries are the same at every speed: a resumed or re-run replay makes
the same decisions. Pacing maps data time to wall time at N×; ``max`` does not sleep
but yields to the loop every few batches so commands and the UI stay responsive.

``load_replay_sources`` turns the config's ``replay.sources`` into those per-symbol
streams: it expands globs, loads each file with the loader of its kind, and decides
what an empty source means. A source that yields no data at all (its file missing,
its glob matching nothing, every row unusable) raises ``DataFormatError`` naming the
file or pattern (exit 4), unless the source says ``optional: true``: then it is a
``SourceEmpty`` event. Inside a glob, one empty file is a ``SourceFileEmpty`` event as
long as another file of the glob has data.

One symbol may come from several files (one a day, say), but never from two whose
times overlap: two series of one symbol and kind would be merged into one stream of
interleaved prices (two bars a minute, indicators over both), so that is refused
(``DataFormatError``, exit 4) naming the symbol and both files, wherever the files come
from (two sources, or a glob matching ``SBIN.csv`` and ``SBIN.old.csv``).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from bisect import bisect_left
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import partial
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kitetui.clock import format_ist
from kitetui.domain import NS_PER_SECOND, Bar, Event, Tick
from kitetui.events import EventKind
from kitetui.market.bars import DAY_S, IST_OFFSET_S
from kitetui.market.index_loader import load_index_values
from kitetui.market.lazy_items import CHUNK, LazyItems
from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import (
    DataFormatError,
    NoDataError,
    data_path,
    load_candles,
    load_ticks,
)
from kitetui.market.session_hours import REGULAR, SessionHours

if TYPE_CHECKING:
    from kitetui.market.calendar import TradingCalendar
    from kitetui.market.instruments import Instrument

Item = Tick | Bar

_EPOCH = date(1970, 1, 1)


def event_time(item: Item) -> int:
    return item.end_ns if isinstance(item, Bar) else item.ts_ns


def merge_batches(streams: Iterable[Sequence[Item]]) -> Iterator[tuple[int, list[Item]]]:
    """Merge per-symbol streams (each in time order) into batches of equal event time.

    A batch holds its items stream by stream in the streams' order, each stream's in
    its own order: what a k-way merge on (event time, stream, position) yields. Loaded
    files (lazy streams that know their lag) are merged from their columns a window at
    a time (``_merge_columns``); any other stream, item by item (``_merge_items``)."""
    streams = list(streams)
    if all(isinstance(stream, LazyItems) and stream.lag_ns is not None for stream in streams):
        return _merge_columns(streams)  # type: ignore[arg-type]
    return _merge_items(streams)


def _merge_columns(streams: list[LazyItems[Item]]) -> Iterator[tuple[int, list[Item]]]:
    """``merge_batches`` of lazy streams, with numpy over their ``ts_ns`` columns.

    A window ends at the earliest event time some stream reaches ``CHUNK`` rows ahead,
    and holds every stream's rows up to that time (so no batch is cut in two, and each
    stream builds about a chunk of items at once, as iterating it would). A stable sort
    of the window's event times, concatenated stream after stream, is the order on
    (event time, stream, position); the items are picked in that order by a C loop
    (``itemgetter``) and each batch is a slice: per item the merge costs no Python step
    (with 20 symbols on one minute grid, a generator resumed and a comparison per item
    were a fifth of a quiet bar's merge and gate)."""
    live = [(stream, stream.columns()["ts_ns"], stream.lag_ns or 0) for stream in streams]
    positions = [0] * len(live)
    while True:
        end: int | None = None  # the window's last event time (None: all that is left)
        for (_, ts, lag), at in zip(live, positions, strict=True):
            if at + CHUNK < len(ts):
                reach = int(ts[at + CHUNK - 1]) + lag
                end = reach if end is None or reach < end else end
        parts: list[tuple[Item, ...]] = []
        times: list[np.ndarray] = []
        for index, (stream, ts, lag) in enumerate(live):
            at = positions[index]
            stop = len(ts) if end is None else int(np.searchsorted(ts, end - lag, side="right"))
            if stop > at:
                parts.append(stream.build(at, stop))
                times.append(ts[at:stop] + lag)
                positions[index] = stop
        if not parts:
            return
        window = np.concatenate(times)
        order = np.argsort(window, kind="stable")
        picked = order.tolist()
        items = list(chain.from_iterable(parts))
        ordered = list(itemgetter(*picked)(items)) if len(picked) > 1 else items
        at_times = window[order]
        cuts = (np.flatnonzero(at_times[1:] != at_times[:-1]) + 1).tolist()
        starts = [0, *cuts]
        for at_time, start, stop in zip(
            at_times[starts].tolist(), starts, [*cuts, len(ordered)], strict=True
        ):
            yield at_time, ordered[start:stop]
        # Let this window's items go before the next is built: two windows of a
        # chunk per stream would be alive at once otherwise.
        del parts, items, ordered


def _merge_items(streams: list[Sequence[Item]]) -> Iterator[tuple[int, list[Item]]]:
    """``merge_batches`` item by item, for streams that are not all loaded columns.
    Done a batch at a time rather than an item at a time: the streams waiting at each
    event time are kept in a bucket, so a batch costs one heap operation and a sort of
    its streams' numbers, and an item only its ``next`` (recorded streams share their
    minutes: a heap step per item was most of the merge)."""
    iterators: list[Iterator[tuple[int, Item]]] = []
    heads: list[Item | None] = []
    waiting: dict[int, list[int]] = {}  # event time -> streams whose next item is at it
    for order, stream in enumerate(streams):
        iterator = _timed(stream)
        for at, item in iterator:
            waiting.setdefault(at, []).append(order)
            iterators.append(iterator)
            heads.append(item)
            break
        else:
            iterators.append(iterator)
            heads.append(None)  # an empty stream: never waiting
    times = list(waiting)
    heapq.heapify(times)
    while times:
        ts = heapq.heappop(times)
        orders = waiting.pop(ts)
        orders.sort()
        batch: list[Item] = []
        for order in orders:
            item = heads[order]
            iterator = iterators[order]
            while item is not None:
                batch.append(item)
                pair = next(iterator, None)
                if pair is None:
                    break
                at, item = pair
                if at != ts:
                    heads[order] = item
                    queue = waiting.get(at)
                    if queue is None:
                        waiting[at] = [order]
                        heapq.heappush(times, at)
                    else:
                        queue.append(order)
                    break
        yield ts, batch


def _timed(stream: Sequence[Item]) -> Iterator[tuple[int, Item]]:
    """``(event time, item)`` pairs: read from the columns of a lazy stream that knows
    its items' lag, else asked of each item."""
    if isinstance(stream, LazyItems) and stream.lag_ns is not None:
        return stream.timed()
    return ((event_time(item), item) for item in stream)


class Pacer:
    """Turns data-time gaps into wall-clock sleeps at a given speed (None = max)."""

    def __init__(self, speed: float | None, max_gap_s: float = 1.0, yield_every: int = 64) -> None:
        self.speed = speed
        self.max_gap_s = max_gap_s
        self.yield_every = yield_every
        self._last_ts: int | None = None
        self._target: float | None = None
        self._count = 0

    def reset(self) -> None:
        self._last_ts = None
        self._target = None

    def pause(self, ts_ns: int) -> Awaitable[None] | None:
        """The sleep to await before the batch at ``ts_ns``, or None when it is due now.

        At full speed most batches are due at once (a yield to the loop every
        ``yield_every``): a caller that awaits only what this returns spends no
        coroutine on them, where ``await wait(...)`` made one a batch (two with the
        feed's ``pace``)."""
        self._count += 1
        if self.speed is None:
            return asyncio.sleep(0) if self._count % self.yield_every == 0 else None
        now = time.monotonic()
        if self._last_ts is None or self._target is None:
            self._target = now
        else:
            gap_s = (ts_ns - self._last_ts) / NS_PER_SECOND / self.speed
            self._target += min(max(gap_s, 0.0), self.max_gap_s)
            # Never build up a backlog of "owed" sleep after a slow stretch.
            self._target = max(self._target, now - self.max_gap_s)
        self._last_ts = ts_ns
        delay = self._target - now
        if delay > 0:
            return asyncio.sleep(delay)
        if self._count % self.yield_every == 0:
            return asyncio.sleep(0)
        return None

    async def wait(self, ts_ns: int) -> None:
        """Wait until the batch at ``ts_ns`` is due (``pause``, awaited)."""
        pause = self.pause(ts_ns)
        if pause is not None:
            await pause


async def paced(
    batches: Iterable[tuple[int, list[Item]]], pacer: Pacer
) -> AsyncIterator[tuple[int, list[Item]]]:
    for ts, batch in batches:
        await pacer.wait(ts)
        yield ts, batch


# --------------------------------------------------------------------------- sources


class SourceSpec(Protocol):
    """What loading needs of a source (``kitetui.config.SourceConfig`` provides it)."""

    @property
    def path(self) -> str: ...
    @property
    def symbol(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def optional(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ReplaySources:
    """Per-file streams (each in time order), the load's events, and the IST days
    that have data (sorted), which the calendar and universe checks need."""

    streams: tuple[Sequence[Item], ...]
    events: tuple[Event, ...]
    days: tuple[date, ...]


def expand_source(spec: str, symbol: str | None) -> list[tuple[Path, str]]:
    """A source path, or a glob whose files are named by their tradingsymbol (the file
    name up to its first dot).

    A ``pkg:`` glob's matches must stay in the package data folder, as a ``pkg:`` path
    must (``data_path``): a symlink there pointing out of it is refused, naming it
    (``DataFormatError``, exit 4). A glob in your own folder reads a symlink to a file
    like the file, as a plain path to the link would: it used to skip it silently,
    replaying a folder of links to shared data as if it were empty (probe B 7).
    """
    if "*" not in spec:
        return [(data_path(spec), symbol or "")]
    folder_spec, _, pattern = spec.rpartition("/")
    if not folder_spec and spec.startswith("pkg:"):  # "pkg:*.csv": the data dir itself
        folder_spec, pattern = "pkg:", spec.removeprefix("pkg:")
    folder = data_path(folder_spec) if folder_spec else Path(".")
    resolved = folder.resolve()
    out = []
    for path in sorted(folder.glob(pattern)):
        if spec.startswith("pkg:") and path.resolve().parent != resolved:
            raise DataFormatError(
                path, f"a symlink out of the package data folder ({spec!r} must stay in it)"
            )
        out.append((path, path.name.split(".", 1)[0]))
    return out


#: Loads one file of a source: (path, symbol, kind) -> its items and events.
FileLoader = Callable[[Path, str, str], tuple[Sequence[Item], tuple[Event, ...]]]


def _load_file(
    path: Path,
    symbol: str,
    kind: str,
    *,
    cache: LoadCache,
    hours: SessionHours,
    calendar: TradingCalendar | None,
) -> tuple[Sequence[Item], tuple[Event, ...]]:
    # check_symbol: the config named the symbol (a future's series is checked by date)
    if kind == "ticks":
        result = load_ticks(
            path, symbol, hours=hours, cache=cache, lazy=True, check_symbol=True, calendar=calendar
        )
        return result.ticks, result.events
    if kind == "index":
        result = load_index_values(path, symbol, hours=hours, cache=cache)
        return result.ticks, result.events
    candles = load_candles(
        path, symbol, hours=hours, check_symbol=True, cache=cache, lazy=True, calendar=calendar
    )
    return candles.bars, candles.events


def _event(
    kind: EventKind, message: str, path: str, level: str = "WARNING", symbol: str = ""
) -> Event:
    return Event(
        ts_ns=0, kind=kind, message=message, symbol=symbol, level=level, data={"path": path}
    )


def index_symbols(master: Iterable[Instrument]) -> frozenset[str]:
    """The tradingsymbols a master lists as indices (Kite's ``INDICES`` segment)."""
    return frozenset(i.tradingsymbol for i in master if i.segment.upper() == "INDICES")


def quiet_index_volume(events: Iterable[Event], indices: Collection[str]) -> list[Event]:
    """``events`` with an index's ``VolumeMissing`` at INFO: an index trades no volume,
    so its file's lack of one is no warning (a stock's or a future's stays one)."""
    return [
        replace(event, level="INFO")
        if event.kind == EventKind.VOLUME_MISSING and event.symbol in indices
        else event
        for event in events
    ]


def load_replay_sources(
    sources: Iterable[SourceSpec],
    key: str = "replay.sources",
    *,
    cache: LoadCache | None = None,
    hours: SessionHours = REGULAR,
    calendar: TradingCalendar | None = None,
) -> ReplaySources:
    """Load every source (module docstring: what an empty source means), each row kept
    inside the session of its day (``hours``: the calendar's special sessions), a
    vendor's continuous future (``NIFTY-II``) on the days ``calendar``'s expiries make it
    the configured contract (the desk's calendar, with ``calendar.holidays_override``:
    every caller passes the one it checks the days against; None: the shipped one).

    Raises ``DataFormatError`` (exit 4) for a file that cannot be read or a required
    source without data; the message names the file (or the glob) and the config key.
    ``cache`` keeps the parsed files (``kitetui.market.load_cache``); without one, the
    environment's (``LoadCache.from_env``: on unless ``KITETUI_LOAD_CACHE=off``).
    """
    cache = LoadCache.from_env() if cache is None else cache
    load = partial(_load_file, cache=cache, hours=hours, calendar=calendar)
    streams: list[Sequence[Item]] = []
    origins: list[_Origin] = []
    events: list[Event] = []
    for index, source in enumerate(sources):
        _load_source(source, f"{key}[{index}]", streams, origins, events, load)
    _refuse_overlaps(streams, origins)
    return ReplaySources(tuple(streams), tuple(events), _days(streams))


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a loaded stream came from: its symbol, the source's kind, file and key."""

    symbol: str
    kind: str
    path: Path
    where: str


def _refuse_overlaps(streams: Sequence[Sequence[Item]], origins: Sequence[_Origin]) -> None:
    """Refuse two files of one symbol and kind whose time spans (first to last item)
    overlap: merged, they would be one series of interleaved prices. Files that follow
    one another (one a day) are fine: their streams are concatenated by the merge."""
    spans: dict[tuple[str, str], list[tuple[int, int, _Origin]]] = {}
    for stream, origin in zip(streams, origins, strict=True):
        if len(stream):
            first, last = _span(stream)
            spans.setdefault((origin.symbol, origin.kind), []).append((first, last, origin))
    for (symbol, kind), found in spans.items():
        if len(found) < 2:
            continue
        found.sort(key=lambda span: (span[0], span[1]))
        reach = found[0]  # the span reaching latest so far
        for span in found[1:]:
            if span[0] <= reach[1]:
                raise _overlap(symbol, kind, reach, span)
            if span[1] > reach[1]:
                reach = span


def _span(stream: Sequence[Item]) -> tuple[int, int]:
    """The first and last item time of a stream in time order (a lazy one's from its
    column: indexing it would build a chunk of items)."""
    if isinstance(stream, LazyItems):
        ts = stream.columns()["ts_ns"]
        return int(ts[0]), int(ts[-1])
    return stream[0].ts_ns, stream[-1].ts_ns


def _overlap(
    symbol: str, kind: str, one: tuple[int, int, _Origin], other: tuple[int, int, _Origin]
) -> DataFormatError:
    """One line: the symbol, both files (with their config keys) and the shared span."""
    first, last = other[0], min(one[1], other[1])
    one_origin, other_origin = one[2], other[2]
    return DataFormatError(
        other_origin.path,
        f"{symbol} {kind} overlap those of {one_origin.path} ({one_origin.where}) from "
        f"{format_ist(first)} to {format_ist(last)}: the two series would be merged into "
        f"one; give each symbol one file per time span ({other_origin.where})",
    )


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The IST days a backtest replays, both ends included (``None``: unbounded).

    A window is cut from data already loaded, so a backtest of one month of a year's
    file reads the same file and makes the same decisions inside the month as the
    whole-year run would from a cold start.
    """

    first: date | None = None
    last: date | None = None

    def __post_init__(self) -> None:
        if self.first is not None and self.last is not None and self.first > self.last:
            raise ValueError(f"the window ends ({self.last}) before it starts ({self.first})")

    def bounds_ns(self) -> tuple[int | None, int | None]:
        """[start, end) in epoch ns: IST midnight of ``first`` and of the day after ``last``."""
        return (
            None if self.first is None else _ist_midnight_ns(self.first),
            None if self.last is None else _ist_midnight_ns(self.last + timedelta(days=1)),
        )

    def describe(self) -> str:
        return f"{self.first or 'the start'} … {self.last or 'the end'}"


def _ist_midnight_ns(day: date) -> int:
    return ((day - _EPOCH).days * DAY_S - IST_OFFSET_S) * NS_PER_SECOND


def clip_sources(sources: ReplaySources, window: DateWindow) -> ReplaySources:
    """``sources`` with only the items whose time falls on a day of ``window``.

    Streams are in time order, so each is cut with two binary searches; a stream left
    empty is dropped (its symbol then has no data, as if its file had none).
    """
    start, end = window.bounds_ns()
    streams: list[Sequence[Item]] = []
    for stream in sources.streams:
        low = 0 if start is None else bisect_left(stream, start, key=_ts)
        high = len(stream) if end is None else bisect_left(stream, end, key=_ts)
        if high > low:
            streams.append(stream[low:high])
    days = tuple(
        day
        for day in sources.days
        if (window.first is None or day >= window.first)
        and (window.last is None or day <= window.last)
    )
    return ReplaySources(tuple(streams), sources.events, days)


def _ts(item: Item) -> int:
    return item.ts_ns


def _load_source(
    source: SourceSpec,
    where: str,
    streams: list[Sequence[Item]],
    origins: list[_Origin],
    events: list[Event],
    load: FileLoader,
) -> None:
    """One source: its files' streams (and where each came from) and events, or why it
    has none (raised when the source is required, an event when it is optional)."""
    try:
        files = expand_source(source.path, source.symbol)
    except ValueError as exc:  # pkg: escaping the data dir (the config refuses it)
        raise DataFormatError(source.path, f"{exc} ({where})") from None
    if not files:
        message = f"no file matches {source.path!r} ({where})"
        if not source.optional:
            raise DataFormatError(source.path, f"no file matches this pattern ({where})")
        events.append(_event(EventKind.SOURCE_EMPTY, message, source.path))
        return
    first_empty = _load_files(source, files, where, streams, origins, events, load)
    if first_empty is None:
        return
    if not source.optional:
        if len(files) == 1:
            raise DataFormatError(first_empty.path, f"{first_empty.reason} ({where})")
        raise DataFormatError(
            source.path,
            f"none of the {len(files)} matching files has usable data "
            f"(first: {first_empty}) ({where})",
        )
    events.append(
        _event(
            EventKind.SOURCE_EMPTY,
            f"optional source {where} has no data: {first_empty}",
            source.path,
        )
    )


def _load_files(
    source: SourceSpec,
    files: Sequence[tuple[Path, str]],
    where: str,
    streams: list[Sequence[Item]],
    origins: list[_Origin],
    events: list[Event],
    load: FileLoader,
) -> DataFormatError | None:
    """Load a source's files; None once any had data, else the first file's problem.
    An empty or missing file among several is skipped (said as an event when empty);
    any other problem is raised, naming the file and the config key."""
    loaded = 0
    first_empty: DataFormatError | None = None
    for path, symbol in files:
        try:
            items, file_events = load(path, symbol, source.kind)
        except NoDataError as exc:
            first_empty = first_empty or exc
            if len(files) > 1:
                events.append(
                    _event(EventKind.SOURCE_FILE_EMPTY, str(exc), str(path), symbol=symbol)
                )
            continue
        except DataFormatError as exc:
            missing = exc.reason == "file not found"
            if not (missing and (source.optional or len(files) > 1)):
                raise DataFormatError(exc.path, f"{exc.reason} ({where})") from None
            first_empty = first_empty or exc
            continue
        events.extend(file_events)
        streams.append(items)  # lazy: built as the replay reaches them (lazy_items.py)
        origins.append(_Origin(symbol, source.kind, path, where))
        loaded += 1
    if loaded:
        return None
    assert first_empty is not None
    return first_empty


def _days(streams: Iterable[Sequence[Item]]) -> tuple[date, ...]:
    """IST calendar days with at least one item: a lazy stream's from its ``ts_ns``
    column (a probe of a binary search into it builds a chunk of items: on a year of
    20 symbols that search took seconds), another's by a binary search for each day's
    first item from the previous one's (streams are in time order)."""
    day_ns = DAY_S * NS_PER_SECOND
    offset_ns = IST_OFFSET_S * NS_PER_SECOND
    numbers: set[int] = set()
    for stream in streams:
        if isinstance(stream, LazyItems):
            days = (stream.columns()["ts_ns"] + offset_ns) // day_ns
            # A day where it changes (the set drops any repeat): not np.unique, whose
            # masked-array check imports numpy.ma, ~30 ms of every desk's start-up.
            changes = np.flatnonzero(days[1:] != days[:-1]) + 1
            numbers.update(days[:1].tolist(), days[changes].tolist())
            continue
        index, size = 0, len(stream)
        while index < size:
            number = (stream[index].ts_ns + offset_ns) // day_ns
            numbers.add(number)
            index = bisect_left(stream, (number + 1) * day_ns - offset_ns, index + 1, key=_ts)
    return tuple(_EPOCH + timedelta(days=n) for n in sorted(numbers))
