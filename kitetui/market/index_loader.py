"""Load index values recorded as headerless ``timestamp,value`` rows into ``Tick`` values.

The NSE website's intraday chart of an index (``pkg:replay/nfo_20221118/
NIFTY50-INDEX_20221118.csv.gz``, shared set ``ticks/nse_nifty50_index_1s_anshkumar/``)
is one value a second: ``2022-11-18 09:15:00,18382.95``. ``load_ticks`` reads the
five-column vendor tick layout only, so this module reads that one, with the same rules
(see ``kitetui.market.loaders``): an index has no traded quantity or open interest, so
``qty`` and ``oi`` are 0; bad rows are skipped with one aggregated ``RowSkipped`` event
per reason; rows before 09:15:00 (pre-open indicative values) and from 15:30:00 on
(post-close repeats) are dropped, unless ``session_only`` is false, with one INFO
``TickOutsideSession`` event for all pre-open rows and one for all post-close rows;
rows out of time order are stable-sorted (``RowsReordered``). A ``timestamp,value``
header line is tolerated. A missing or unrecognised file raises ``DataFormatError``;
one without a single usable row ``NoDataError`` (unless ``require_rows`` is false).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from kitetui.domain import NS_PER_SECOND, Tick
from kitetui.events import EventKind
from kitetui.market.bars import DAY_S, IST_OFFSET_S, SESSION_CLOSE_S, SESSION_OPEN_S
from kitetui.market.columnar import decimal_column, split_fields, stamp_column
from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import (
    _TICK_COLUMNS,
    MAX_PRICE,
    DataFormatError,
    Finding,
    Parsed,
    TickLoadResult,
    _build_ticks,
    _chain_first,
    _csv_rows,
    _DateTimeParser,
    _day_seconds,
    _decoded,
    _finished,
    _no_data,
    _parse,
    _parsed_rows,
    _price_problem,
    _Problems,
    _refuse_misread,
    _sort_rows,
    _split_datetime,
    _take,
    _time_ordered,
    render_findings,
)
from kitetui.market.session_hours import REGULAR, SessionHours

__all__ = ["load_index_values", "reference_index_values"]

_HEADER_NAMES = ("timestamp", "datetime", "date", "time")
_OUTSIDE = EventKind.TICK_OUTSIDE_SESSION


def _layout_check(path: Path, first: list[str], parser: _DateTimeParser) -> bool:
    """True when ``first`` is a header line; raise unless it is header or data."""
    if len(first) == 2 and first[0].strip().lower() in _HEADER_NAMES:
        return True
    ok = len(first) == 2
    if ok:
        try:
            parser.datetime_s(first[0])
        except (ValueError, IndexError):
            ok = False
    if not ok:
        raise DataFormatError(
            path,
            "not an index value file (expected headerless `YYYY-MM-DD HH:MM:SS,value`): "
            f"first line {','.join(first)[:80]!r}",
        )
    return False


_PRE_OPEN = "pre-open, before 09:15 IST"
_POST_CLOSE = "post-close, 15:30 IST or later"
_NOT_SPECIAL = "outside 09:15-15:30 IST and its day's special session"


def _drop_outside_session(rows: list, problems: _Problems, hours: SessionHours) -> list:
    """Keep 09:15:00 <= IST time < 15:30:00 (a special day: inside its own windows);
    one INFO event for pre-open, one for post-close, one for a special day's others."""
    kept = []
    keep = kept.append
    for row in rows:
        day, tod = divmod(row[0] // NS_PER_SECOND + IST_OFFSET_S, DAY_S)
        if hours.special and hours.windows_of(day) is not None and not hours.inside(row[0]):
            problems.add(_OUTSIDE, _NOT_SPECIAL, row[-1], row[0], "INFO")
        elif hours.special and hours.inside(row[0]):
            keep(row)
        elif tod < SESSION_OPEN_S:
            problems.add(_OUTSIDE, _PRE_OPEN, row[-1], row[0], "INFO")
        elif tod >= SESSION_CLOSE_S:
            problems.add(_OUTSIDE, _POST_CLOSE, row[-1], row[0], "INFO")
        else:
            keep(row)
    return kept


def load_index_values(
    path: str | Path,
    symbol: str,
    *,
    session_only: bool = True,
    hours: SessionHours = REGULAR,
    require_rows: bool = True,
    cache: LoadCache | None = None,
) -> TickLoadResult:
    """Load a ``timestamp,value`` file (plain or gzip) as ticks with qty 0 and oi 0;
    with ``cache``, the parsed values are kept under the file's content hash."""
    path = Path(path)
    session = hours if session_only else None

    def careful(raw: bytes) -> Parsed:
        rows, problems, extra = _index_rows(path, symbol, session, require_rows, raw)
        return _parsed_rows(
            [(ts, value, 0, 0, line) for ts, value, line in rows], _TICK_COLUMNS, problems, extra
        )

    def fast(raw: bytes) -> Parsed | None:
        return _fast_index(raw, path, symbol, session)

    parsed = _parse(path, ("index", symbol, session), cache, fast, careful)
    _refuse_misread(path, parsed.columns["ts_ns"], parsed.findings, None)  # naive UTC
    ticks = _build_ticks(symbol, parsed.columns)
    return TickLoadResult(ticks, render_findings(parsed.findings, path, symbol))


def reference_index_values(
    path: str | Path,
    symbol: str,
    *,
    session_only: bool = True,
    hours: SessionHours = REGULAR,
    require_rows: bool = True,
) -> TickLoadResult:
    """``load_index_values`` the careful way only, row by row, no cache: the reference
    the columnar path and the cache are tested against."""
    path = Path(path)
    rows, problems, extra = _index_rows(path, symbol, hours if session_only else None, require_rows)
    ticks = tuple(Tick(symbol, ts, value, 0, 0) for ts, value, _line in rows)
    first_ts = ticks[0].ts_ns if ticks else 0
    stamps = np.array([tick.ts_ns for tick in ticks], dtype=np.int64)
    _refuse_misread(path, stamps, problems.findings(first_ts, extra), None)
    return TickLoadResult(ticks, problems.events(first_ts, extra))


def _index_rows(
    path: Path,
    symbol: str,
    hours: SessionHours | None,
    require_rows: bool,
    raw: bytes | None = None,
) -> tuple[list, _Problems, list[Finding]]:
    """Every row judged on its own (the loaders' careful path, for this layout)."""
    problems = _Problems(path, symbol)
    parser = _DateTimeParser()
    rows: list[tuple[int, float, int]] = []
    append = rows.append
    with _csv_rows(path, problems, raw) as (reader, first):
        header = _layout_check(path, first, parser)
        datetime_s, ns = parser.datetime_s, NS_PER_SECOND
        lines = reader if header else _chain_first(first, reader)
        for row in lines:
            line = reader.line_num
            if len(row) != 2:
                reason = "blank line" if not row else f"{len(row)} fields, expected 2"
                problems.add(EventKind.ROW_SKIPPED, reason, line)
                continue
            try:
                ts = datetime_s(row[0]) * ns
            except (ValueError, IndexError):
                problems.add(EventKind.ROW_SKIPPED, "unparseable timestamp", line)
                continue
            try:
                value = float(row[1])
            except ValueError:
                problems.add(EventKind.ROW_SKIPPED, "unparseable number", line, ts)
                continue
            if not 0.0 < value <= MAX_PRICE:
                problems.add(
                    EventKind.ROW_SKIPPED, _price_problem(value, value, value, value), line, ts
                )
                continue
            append((ts, value, line))

    extra: list[Finding] = []
    if hours is not None:
        rows = _drop_outside_session(rows, problems, hours)
    rows = _sort_rows(rows, problems, extra)
    if not rows and require_rows:
        raise _no_data(path, problems)
    return rows, problems, extra


def _fast_index(raw: bytes, path: Path, symbol: str, hours: SessionHours | None) -> Parsed | None:
    """A clean index file a column at a time (``kitetui.market.columnar``); None when
    the careful path must judge it."""
    problems = _Problems(path, symbol)
    data = _decoded(raw, path, problems)
    if data is None:
        return None
    head, _, rest = data.partition(b"\n")
    head = head.removesuffix(b"\r")
    if not head.isascii() or b'"' in head or b"\r" in head:
        return None
    try:
        header = _layout_check(path, next(csv.reader([head.decode("ascii")])), _DateTimeParser())
    except (DataFormatError, StopIteration):
        return None
    fields = split_fields(rest if header else data, 2)
    if fields is None:
        return None
    seconds = stamp_column(fields, 0, -1, _day_seconds, _split_datetime)
    value = decimal_column(fields, 1)
    if seconds is None or value is None or not ((value > 0.0) & (value <= MAX_PRICE)).all():
        return None
    zeros = np.zeros(fields.rows, dtype=np.int64)
    columns = dict(zip(_TICK_COLUMNS, (seconds * NS_PER_SECOND, value, zeros, zeros), strict=True))
    columns["line"] = np.arange(1, fields.rows + 1) + (1 if header else 0)
    if hours is not None:
        day, tod = np.divmod(seconds + IST_OFFSET_S, DAY_S)
        special = np.isin(day, [number for number, _windows in hours.special])
        regular = ~special
        early, late = regular & (tod < SESSION_OPEN_S), regular & (tod >= SESSION_CLOSE_S)
        missed = special & ~hours.inside_mask(columns["ts_ns"])
        # One finding per reason, in the order the careful path meets them.
        outside = [
            (int(np.argmax(mask)), mask, reason)
            for mask, reason in ((early, _PRE_OPEN), (late, _POST_CLOSE), (missed, _NOT_SPECIAL))
            if mask.any()
        ]
        for _first, mask, reason in sorted(outside, key=lambda item: item[0]):
            problems.add_many(
                _OUTSIDE, reason, columns["line"][mask], columns["ts_ns"][mask], "INFO"
            )
        if outside:
            columns = _take(columns, ~(early | late | missed))
    extra: list[Finding] = []
    columns = _time_ordered(columns, problems, extra)
    return _finished(columns, problems, extra)
