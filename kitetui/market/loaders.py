"""Load recorded candles and ticks (Kite exports and vendor files) into domain values.

The replay feed and the backtests read real NSE data in a handful of CSV layouts (see
``kitetui/data/replay/README.md`` and ``../shared/data/SOURCE.md``). This module turns
any of them into ``Bar``/``Tick`` tuples plus the ``Event`` records that say what was
wrong with the file, because real files have quirks and rule 7 of the design says bad
data is skipped and recorded, never a crash:

* rows out of time order -> stable sort, one ``RowsReordered`` event with the count;
* several candle rows with one timestamp -> the last one wins, ``DuplicateBarsDropped``;
* unparseable, non-finite, zero or negative prices, high < low, open/close outside
  the high-low range, wrong field counts (a stray ``5`` line) -> the row is skipped;
  one ``RowSkipped`` event per reason with the count and the first line numbers, so a
  bad file yields a handful of events, not thousands;
* rows outside the NSE session -> skipped with ``BarOutsideSession`` /
  ``TickOutsideSession`` (level INFO). A bar is kept when 09:15 <= start < 15:30 IST:
  Kite's 15:30 "closing" candle (often a single trade, volume 0) and vendor
  after-hours filler (NIFTY 2024-01-20 15:30-18:16) are dropped, so every session
  has the 375 regular minutes and a 15- or 60-minute resample ends with the
  15:15 bucket like Kite's own. Ticks are kept when 09:15:00 <= time < 15:30:00,
  consistently (ticks stamped 15:30:00 are what Kite puts in that 15:30 candle).
  A special session's day keeps its own windows too (``hours``, from the calendar: a
  Muhurat evening, a DR drill; ``kitetui/market/session_hours.py``);
  ``session_only=False`` keeps everything; the filter never applies to daily candles
  (``timeframe_s >= 86400``).

* with ``check_symbol`` (what ``load_replay_sources`` asks for: the config names the
  symbol), a file with a symbol column (``Code``, ``Instrument``, ``symbol``,
  ``tradingsymbol``, ``ticker``) keeps only the rows naming that symbol
  (``symbol_matches``: exact, an index alias such as ``NIFTY``/``NIFTY 50``, or a vendor
  continuous future ``NIFTY-I`` loaded as a NIFTY future); the others are skipped as
  ``RowSkipped``, so a TATASTEEL file configured as WIPRO yields nothing, not
  TATASTEEL's prices as WIPRO's. A continuous series is the configured contract only
  on some days (``NIFTY-II`` is the December future in November): a row of series k is
  kept only on the days the contract is series k (``kitetui.market.futures_series``),
  else skipped naming the contract it is; with several series side by side, each day
  keeps the one that is the contract that day; the contract's own name, when the file
  holds it, wins over every series; a contract whose expiry its name does not tell
  keeps the nearest series with a ``SeriesAssumed`` warning (``_one_series``). A file
  with no symbol column (every headerless tick file, some candle files) loaded as a
  monthly future has the series its name starts with (``NIFTY-II_20221118.csv.gz``)
  checked by date the same way, and a name that says neither a series nor the contract
  is a ``SeriesAssumed`` warning (``_named_series``). The expiries are those of the
  calendar given (the desk's, with its override). Without ``check_symbol`` ``symbol``
  is only the label the bars get;
* prices above ``MAX_PRICE`` and volumes above ``MAX_VOLUME`` are skipped as implausible
  (they are typos or corruption, and would overflow integer paise downstream); candle
  timestamps must fall on a whole minute;
* a ``.gz`` file that is not gzip is read as plain text with a ``NotGzip`` event.

A missing, unreadable or unrecognised file raises ``DataFormatError``, and so (by
default, ``require_rows=True``) does a file with no usable row at all (``NoDataError``,
whose message says why: header only, every row skipped for which reasons, or every
row outside the session): silently replaying nothing is how a wrong file goes unseen.

Speed: no pandas and no ``strptime``. A clean file (the usual case) is parsed a column
at a time with numpy (``kitetui.market.columnar``, ~1 µs a row with the objects built);
anything that parser is unsure of, and every file with a bad row, is read row by row by
the careful path below (~3-4 µs a row), which names each bad row. Both give the same
values and the same events; ``reference_candles``/``reference_ticks`` run the careful
path alone, for the tests. With a ``LoadCache`` (``kitetui.market.load_cache``; the
replay passes the environment's) a file whose bytes were parsed before is read back
from the cache instead. In the careful path, timestamps are cut into a date part and a
time-of-day part by slicing and both are looked up in per-file caches, so a row costs
two dictionary hits.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import math
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar, cast

import numpy as np

from kitetui.domain import NS_PER_SECOND, Bar, Event, Tick
from kitetui.drafts import build_rows
from kitetui.events import EventKind
from kitetui.market.bars import DAY_S, IST_OFFSET_S, SESSION_CLOSE_S, SESSION_OPEN_S
from kitetui.market.columnar import decimal_column, integer_column, split_fields, stamp_column
from kitetui.market.futures_series import ContractSeries, contract_series, shipped_calendar
from kitetui.market.lazy_items import LazyItems
from kitetui.market.load_cache import LoadCache
from kitetui.market.packed import narrow_counts, narrow_prices, price_values
from kitetui.market.session_hours import REGULAR, SessionHours
from kitetui.market.text_limits import CappedReader, TooLarge, check_lines, gunzip, read_file

if TYPE_CHECKING:
    from _csv import _reader

    from kitetui.market.calendar import TradingCalendar

__all__ = [
    "MAX_PRICE",
    "MAX_VOLUME",
    "DataFormatError",
    "LoadResult",
    "NoDataError",
    "TickLoadResult",
    "data_path",
    "load_candles",
    "load_ticks",
    "reference_candles",
    "reference_ticks",
    "symbol_matches",
    "with_symbol",
]

_Print = TypeVar("_Print", Tick, Bar)

PKG_PREFIX = "pkg:"
_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_INF = float("inf")
_MAX_LINES_REPORTED = 5
MAX_PRICE = 10_000_000.0  # rupees a unit; NSE's dearest share is ~1.5 lakh, NIFTY ~25k
MAX_VOLUME = 10**12  # shares in one bar or one print


class DataFormatError(Exception):
    """A data file that cannot be loaded at all: ``path: reason``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NoDataError(DataFormatError):
    """A file that was read to its end but holds not one usable row."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Bars in time order (one per timestamp) and the events describing what was fixed."""

    bars: Sequence[Bar]  # a tuple, or with ``lazy`` a LazyItems over the parsed columns
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class TickLoadResult:
    """Ticks in time order (file order within a second) and the events of the load."""

    ticks: Sequence[Tick]  # a tuple, or with ``lazy`` a LazyItems over the parsed columns
    events: tuple[Event, ...]


def data_path(spec: str | Path) -> Path:
    """Resolve ``"pkg:replay/x.csv.gz"`` inside the installed package; else a plain path.

    A ``pkg:`` path that resolves outside the package data directory (``pkg:../..``,
    or through a symlink) raises ``ValueError``; the config refuses it first.
    """
    text = str(spec)
    if not text.startswith(PKG_PREFIX):
        return Path(text).expanduser()
    relative = text[len(PKG_PREFIX) :].lstrip("/")
    resolved = (_DATA_DIR / relative).resolve()
    if not resolved.is_relative_to(_DATA_DIR):
        raise ValueError(f"{spec!r} points outside the package data directory")
    return resolved


# --------------------------------------------------------------------------- timestamps


def _day_seconds(text: str) -> int:
    """IST calendar day -> epoch seconds of its 00:00 local (``YYYY-MM-DD``/``YYYYMMDD``)."""
    t = text.strip()
    if len(t) == 10 and t[4] == "-" and t[7] == "-":
        ys, ms, ds = t[:4], t[5:7], t[8:]
    elif len(t) == 8:
        ys, ms, ds = t[:4], t[4:6], t[6:]
    else:
        raise ValueError(f"bad date {text!r}")
    if not (ys.isdigit() and ms.isdigit() and ds.isdigit()):
        raise ValueError(f"bad date {text!r}")
    year = int(ys)
    if not 1900 <= year <= 2200:
        raise ValueError(f"implausible year in {text!r}")
    return (date(year, int(ms), int(ds)).toordinal() - _EPOCH_ORDINAL) * DAY_S


def _time_of_day_seconds(text: str) -> int:
    """``HH:MM:SS`` or ``HH:MM`` -> seconds after midnight."""
    t = text.strip()
    if len(t) == 8 and t[2] == ":" and t[5] == ":":
        hs, ms, ss = t[:2], t[3:5], t[6:]
    elif len(t) == 5 and t[2] == ":":
        hs, ms, ss = t[:2], t[3:], "00"
    else:
        raise ValueError(f"bad time {text!r}")
    if not (hs.isdigit() and ms.isdigit() and ss.isdigit()):
        raise ValueError(f"bad time {text!r}")
    h, m, s = int(hs), int(ms), int(ss)
    if h > 23 or m > 59 or s > 59:
        raise ValueError(f"bad time {text!r}")
    return h * 3600 + m * 60 + s


def _rest_seconds(rest: str) -> int:
    """What follows the date in a datetime field -> seconds of day minus the UTC offset.

    Accepts ``""`` (a date alone: 00:00 IST), ``" HH:MM[:SS]"`` (IST assumed),
    ``"THH:MM:SS"``, with an optional ``.000`` and ``+HH:MM``/``+HHMM``/``-HH:MM``/``Z``
    suffix (``_clock_and_offset``).
    """
    if not rest.strip():
        return -IST_OFFSET_S
    if rest[0] not in " T":
        raise ValueError(f"bad time {rest!r}")
    clock, offset = _clock_and_offset(rest[1:].strip())
    return _time_of_day_seconds(clock) - offset


def _clock_and_offset(body: str) -> tuple[str, int]:
    """``HH:MM[:SS][.000][Z|+HH:MM|+HHMM]`` -> (``HH:MM[:SS]``, UTC offset in seconds).

    No suffix is IST. ``+0530`` (no colon) is what Kite's historical API sends
    (``2023-04-03T09:15:00+0530``) and ``.000`` what millisecond exports add: both are
    unambiguous, so both are read; a fraction that is not zero is refused (a bar or a
    tick is stamped to the second).
    """
    offset = IST_OFFSET_S
    if body.endswith("Z"):
        offset, body = 0, body[:-1]
    elif len(body) > 6 and body[-6] in "+-" and body[-3] == ":":
        offset = _signed_offset(body[-6], body[-5:])
        body = body[:-6]
    elif len(body) > 5 and body[-5] in "+-" and body[-4:].isdigit():
        offset = _signed_offset(body[-5], f"{body[-4:-2]}:{body[-2:]}")
        body = body[:-5]
    clock, dot, fraction = body.partition(".")
    if dot and not (fraction.isdigit() and not fraction.strip("0")):
        raise ValueError(f"bad time {body!r}: not a whole second")
    return clock, offset


def _signed_offset(sign: str, hh_mm: str) -> int:
    return (1 if sign == "+" else -1) * _time_of_day_seconds(hh_mm)


class _DateTimeParser:
    """Per-file caches: date strings and time strings are each parsed once."""

    __slots__ = ("days", "rests", "times")

    def __init__(self) -> None:
        self.days: dict[str, int] = {}
        self.rests: dict[str, int] = {}  # " 09:15:00+05:30" -> tod - offset
        self.times: dict[str, int] = {}  # "09:15" -> tod - IST offset

    def day(self, key: str) -> int:
        value = self.days.get(key)
        if value is None:
            value = self.days[key] = _day_seconds(key)
        return value

    def datetime_s(self, text: str) -> int:
        """One datetime field (``YYYY-MM-DD HH:MM:SS+05:30`` and kin, or a Unix time in
        seconds or milliseconds, as TradingView's and many APIs' exports give it: UTC
        by definition) -> epoch seconds."""
        day = self.days.get(text[:10])
        rest = self.rests.get(text[10:])
        if day is not None and rest is not None:
            return day + rest
        text = text.strip()
        if text.isdigit() and len(text) in _EPOCH_DIGITS:
            return int(text) // _EPOCH_DIGITS[len(text)]
        day = self.day(text[:10])
        rest = self.rests.get(text[10:])
        if rest is None:
            rest = self.rests[text[10:]] = _rest_seconds(text[10:])
        return day + rest

    def date_time_s(self, day_text: str, time_text: str) -> int:
        """Separate date (``YYYYMMDD``) and IST time (``HH:MM[:SS]``) fields."""
        day = self.days.get(day_text)
        if day is None:
            day = self.days[day_text] = _day_seconds(day_text)
        tod = self.times.get(time_text)
        if tod is None:
            tod = self.times[time_text] = _time_of_day_seconds(time_text) - IST_OFFSET_S
        return day + tod


# --------------------------------------------------------------------------- reporting


class _Problems:
    """Aggregates row problems into one event per (kind, reason)."""

    __slots__ = ("_by_key", "notes", "path", "symbol")

    def __init__(self, path: Path, symbol: str) -> None:
        self.path = path
        self.symbol = symbol
        # (kind, reason, level) -> [count, first line numbers, first ts_ns, first row text]
        self._by_key: dict[tuple[str, str, str], list] = {}
        self.notes: list[tuple[EventKind, str, str]] = []  # file-level (kind, message, level)

    def summary(self) -> str:
        """Why nothing was kept, for ``NoDataError``: the reasons with their counts."""
        if not self._by_key:
            return "no data rows (header only?)"
        parts = [
            f"{count} {reason}"
            for (_kind, reason, _level), (count, *_rest) in sorted(
                self._by_key.items(), key=lambda item: -item[1][0]
            )
        ]
        total = sum(entry[0] for entry in self._by_key.values())
        shown = "; ".join(parts[:3]) + ("; …" if len(parts) > 3 else "")
        return f"no usable rows: all {total} skipped ({shown}){self.first_sample()}"

    def first_sample(self) -> str:
        """``; first bad row …``: the text of the first row skipped for the commonest
        reason that kept one, so a refusal shows the value it could not read."""
        for _count, lines, _ts, sample in sorted(self._by_key.values(), key=lambda e: -e[0]):
            if sample:
                return f"; first bad row, line {lines[0]}: {sample!r}"
        return ""

    def add(
        self,
        kind: EventKind,
        reason: str,
        line: int,
        ts_ns: int = 0,
        level: str = "WARNING",
        row: Sequence[str] = (),
    ) -> None:
        """Count one row; ``row`` (its fields) is kept as text for the first of a reason."""
        entry = self._by_key.get((kind, reason, level))
        if entry is None:
            self._by_key[(kind, reason, level)] = [1, [line], ts_ns, ",".join(row)[:80]]
            return
        entry[0] += 1
        if len(entry[1]) < _MAX_LINES_REPORTED:
            entry[1].append(line)
        if not entry[2]:
            entry[2] = ts_ns

    def add_many(
        self, kind: EventKind, reason: str, lines: np.ndarray, ts_ns: np.ndarray, level: str
    ) -> None:
        """``add`` for every row of ``lines`` (in file order) at once: the columnar path."""
        if not len(lines):
            return
        entry = self._by_key.get((kind, reason, level))
        if entry is None:
            entry = self._by_key[(kind, reason, level)] = [0, [], 0, ""]
        entry[0] += len(lines)
        entry[1].extend(int(n) for n in lines[: _MAX_LINES_REPORTED - len(entry[1])])
        if not entry[2]:
            nonzero = ts_ns[ts_ns != 0]
            entry[2] = int(nonzero[0]) if len(nonzero) else 0

    def findings(self, default_ts_ns: int, extra: Iterable[Finding] = ()) -> tuple[Finding, ...]:
        """What was wrong with the file, without its path: what the load cache keeps."""
        out: list[Finding] = []
        for (kind, reason, level), (count, lines, ts_ns, sample) in self._by_key.items():
            shown = ", ".join(map(str, lines)) + (", …" if count > len(lines) else "")
            noun = "line" if len(lines) == 1 else "lines"
            what = "" if kind == EventKind.VOLUME_ROUNDED else "skipped: "
            first = f"; first {sample!r}" if sample else ""
            data: dict[str, object] = {"reason": reason, "count": count, "lines": list(lines)}
            if sample:
                data["sample"] = sample
            out.append(
                Finding(
                    ts_ns or default_ts_ns,
                    kind,
                    f"{count} row(s) {what}{reason} ({noun} {shown}{first})",
                    level,
                    data,
                )
            )
        out.extend(extra)
        out.extend(
            self.finding(default_ts_ns, kind, message, level) for kind, message, level in self.notes
        )
        return tuple(out)

    def events(self, default_ts_ns: int, extra: Iterable[Finding] = ()) -> tuple[Event, ...]:
        return render_findings(self.findings(default_ts_ns, extra), self.path, self.symbol)

    def finding(self, ts_ns: int, kind: str, message: str, level: str, **data: object) -> Finding:
        return Finding(ts_ns, kind, message, level, data)


class Finding(NamedTuple):
    """One event of a load before it names the file: (ts, kind, message, level, data)."""

    ts_ns: int
    kind: str
    message: str
    level: str
    data: dict[str, object]


def render_findings(findings: Iterable[Finding], path: Path, symbol: str) -> tuple[Event, ...]:
    """The events of a load: each finding's message and data name ``path``."""
    return tuple(
        Event(
            ts_ns=f.ts_ns,
            kind=EventKind(f.kind),
            message=f"{path.name}: {f.message}",
            symbol=symbol,
            level=f.level,
            data={"path": str(path), **f.data},
        )
        for f in findings
    )


# --------------------------------------------------------------------------- file access


def _open_text(
    path: Path, problems: _Problems | None = None, raw_bytes: bytes | None = None
) -> io.TextIOWrapper:
    """Open plain or gzip text (sniffed from the magic bytes, not the suffix); from
    ``raw_bytes`` when the file was read already (what the cached loads hashed)."""
    try:
        raw = path.open("rb") if raw_bytes is None else io.BufferedReader(io.BytesIO(raw_bytes))
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        magic = raw.peek(2)[:2]
    except OSError as exc:
        raw.close()
        raise DataFormatError(path, f"cannot read: {exc.strerror or exc}") from None
    is_gzip = magic == b"\x1f\x8b"
    if not is_gzip and path.suffix.lower() == ".gz" and problems is not None:
        problems.notes.append(_NOT_GZIP_NOTE)
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
    # Read as it goes, so bounded as it goes (``text_limits``); ``_READ_ERRORS`` names it.
    capped = io.BufferedReader(CappedReader(stream), buffer_size=1 << 16)
    # utf-8-sig drops a BOM; undecodable bytes become U+FFFD and fail row validation.
    return io.TextIOWrapper(capped, encoding="utf-8-sig", errors="replace", newline="")


_NOT_GZIP_NOTE = (EventKind.NOT_GZIP, "named .gz but not gzip data; read as plain text", "WARNING")


def _read_raw(path: Path) -> bytes:
    """The file's bytes, refused as ``_csv_rows`` refuses an unopenable file."""
    if path.is_dir():
        raise DataFormatError(path, "is a directory, not a data file")
    try:
        return read_file(path)
    except TooLarge as exc:
        raise DataFormatError(path, str(exc)) from None
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot open: {exc.strerror or exc}") from None


def _decoded(raw: bytes, path: Path, problems: _Problems) -> bytes | None:
    """The text bytes of a plain or gzip file (BOM dropped), or None for the careful path
    to judge (a damaged gzip stream is refused there, naming the line). A file past the
    bounds of ``text_limits`` is refused here, before anything parses it."""
    try:
        if raw[:2] != b"\x1f\x8b":
            if path.suffix.lower() == ".gz":
                problems.notes.append(_NOT_GZIP_NOTE)
            text = raw
        else:
            try:
                text = gunzip(raw)
            except (OSError, EOFError, zlib.error):
                return None
        check_lines(text)
    except TooLarge as exc:
        raise DataFormatError(path, str(exc)) from None
    return text.removeprefix(b"\xef\xbb\xbf")


_READ_ERRORS = (OSError, EOFError, zlib.error, csv.Error)


def _read_error(path: Path, reader: object, exc: Exception) -> DataFormatError:
    line = getattr(reader, "line_num", 0)
    where = f" near line {line}" if line else ""
    return DataFormatError(path, f"cannot read{where}: {type(exc).__name__}: {exc}")


@contextmanager
def _csv_rows(
    path: Path, problems: _Problems | None = None, raw: bytes | None = None
) -> Iterator[tuple[_reader, list[str]]]:
    """``path`` (plain or gzip) as a CSV reader, with its first row already read.

    Every loader starts the same way and must fail the same way: an empty file is a
    ``DataFormatError``, and so is a gzip, I/O or CSV error anywhere while the caller
    reads on in its ``with`` block (naming the line it happened near). Only the file's
    opening is shared; the per-row loops stay in the loaders, where they are tuned.
    """
    if path.is_dir():
        raise DataFormatError(path, "is a directory, not a data file")
    with _open_text(path, problems, raw) as text:
        reader = csv.reader(text)
        try:
            first = next(reader, None)
            if first is None:
                raise DataFormatError(path, "empty file")
            yield reader, first
        except TooLarge as exc:
            raise DataFormatError(path, str(exc)) from None
        except _READ_ERRORS as exc:
            raise _read_error(path, reader, exc) from None


# --------------------------------------------------------------------------- candles

_TIME_COLUMNS = ("datetime", "date", "timestamp", "time")  # "time" alone: TradingView's
# A Unix time's digits -> its units per second: seconds (10 digits: 2001-09-09 to 2286)
# and milliseconds (13). A date is 8 digits at most (``YYYYMMDD``), so neither is one.
_EPOCH_DIGITS = {10: 1, 13: 1000}
_SYMBOL_COLUMNS = ("tradingsymbol", "symbol", "instrument", "code", "ticker")
# Index names vendors use for the same index (normalised: upper case, alphanumerics).
_INDEX_ALIASES = {
    "NIFTY": "NIFTY50",
    "BANKNIFTY": "NIFTYBANK",
    "FINNIFTY": "NIFTYFINSERVICE",
    "MIDCPNIFTY": "NIFTYMIDSELECT",
    "NIFTYNXT50": "NIFTYNEXT50",
}
_CONTINUOUS = re.compile(r"([A-Z0-9&]+?)-(I{1,3})(?:\.[A-Z]+)?")


def _normalised(name: str) -> str:
    key = "".join(ch for ch in name.upper() if ch.isalnum() or ch == "&")
    return _INDEX_ALIASES.get(key, key)


def symbol_matches(name: str, symbol: str) -> bool:
    """Does a file's own symbol column value ``name`` denote ``symbol``?

    Equal ignoring case, spaces and punctuation (``NIFTYAUTO`` = ``NIFTY AUTO``), an
    index alias (``NIFTY`` = ``NIFTY 50``), or a vendor continuous future
    (``NIFTY-I``, ``NIFTY-II.NFO``) loaded as a future of that underlying
    (``NIFTY22NOVFUT``): the name says which series, the config which contract, and
    ``_one_series`` keeps a series' row only on the days it is that contract.
    """
    if _normalised(name) == _normalised(symbol):
        return True
    continuous = _CONTINUOUS.fullmatch(name.strip().upper())
    if continuous is None:
        return False
    return re.fullmatch(rf"{re.escape(continuous[1])}\d\d[A-Z]{{3}}FUT", symbol.upper()) is not None


_CandleRow = tuple[int, float, float, float, float, int, int, int]  # ts .. oi, line
_Row = TypeVar("_Row", bound=tuple)  # a candle's or a tick's row: its time first, line last


def _series(name: str) -> int:
    """Which series a name that denotes the configured symbol is: 0 for the symbol's own
    name (or alias), 1, 2, 3 for a vendor's near, next and far continuous future."""
    continuous = _CONTINUOUS.fullmatch(name.strip().upper())
    return 0 if continuous is None else len(continuous[2])


class _SeriesDays:
    """Which series the configured future is on each day: ``futures_series`` asked once
    per day of the file, on the desk's calendar (None: the shipped one). ``contract`` is
    None when its expiry is not known."""

    __slots__ = ("_ranks", "contract", "symbol")

    def __init__(self, symbol: str, continuous_name: str, calendar: TradingCalendar | None) -> None:
        self.symbol = symbol
        match = _CONTINUOUS.fullmatch(continuous_name.strip().upper())
        underlying = match[1] if match is not None else ""
        self.contract: ContractSeries | None = contract_series(symbol, underlying, calendar)
        self._ranks: dict[int, int] = {}

    def rank_on(self, epoch_day: int) -> int:
        """The series the contract is on the IST day ``epoch_day`` (days since 1970)."""
        rank = self._ranks.get(epoch_day)
        if rank is None:
            assert self.contract is not None
            day = date.fromordinal(epoch_day + _EPOCH_ORDINAL)
            rank = self._ranks[epoch_day] = self.contract.series_on(day)
        return rank

    def reason(self, name: str, epoch_day: int, where: str = "") -> str:
        """Why a row of series ``name`` is not the contract on its day: the contract it is
        (``where``: how the row names it, when not in its own column)."""
        assert self.contract is not None
        day = date.fromordinal(epoch_day + _EPOCH_ORDINAL)
        denoted = self.contract.contract_of(_series(name), day)
        which = f"{denoted}, not" if denoted else "not"
        shown = f"{name.strip()[:40]!r}{where}"
        return f"{_FOREIGN} ({shown}, which on its date is {which} {self.symbol})"

    def assumed(self, kept: str) -> tuple[EventKind, str, str]:
        """The note for a contract whose expiry is not known: the series taken as it."""
        return (
            EventKind.SERIES_ASSUMED,
            f"the expiry of {self.symbol} is not known from its name: {kept.strip()[:40]} "
            f"assumed to be {self.symbol} on every day, unchecked (name a monthly future "
            "such as NIFTY22NOVFUT to have each day's series checked)",
            "WARNING",
        )


def _one_series(
    rows: list[_CandleRow],
    names: list[str],
    ranks: Mapping[str, int],
    symbol: str,
    problems: _Problems,
    calendar: TradingCalendar | None,
) -> list[_CandleRow]:
    """The rows that are ``symbol``'s own, when the file names it by continuous series.

    A vendor's F&O file names a future by its series (``NIFTY-I``, ``NIFTY-II``,
    ``NIFTY-III``: the near, next and far month, rolling after each monthly expiry), one
    file holding one or several of them. Each names a NIFTY future, so each matched a
    NIFTY future's config: a lone ``NIFTY-II`` file configured as ``NIFTY22NOVFUT``
    replayed December's prices as November's, and a file of all three kept each
    minute's last row, the far month's. Now a row of series k is kept only on the days
    the configured contract is series k (``kitetui.market.futures_series``); the others
    are skipped, each naming the contract it is, as rows of another symbol are. The
    contract's own name, when the file holds it, wins over every series. A contract
    whose expiry its name does not tell keeps the nearest series, with a
    ``SeriesAssumed`` warning.
    """
    if 0 in ranks.values():
        own = next(name for name, rank in ranks.items() if rank == 0)
        return _keep_rank(rows, names, ranks, 0, own, symbol, problems)
    days = _SeriesDays(symbol, names[0] if names else next(iter(ranks)), calendar)
    if days.contract is None:
        keep = min(ranks.values())
        kept = next(name for name, rank in ranks.items() if rank == keep)
        problems.notes.append(days.assumed(kept))
        return _keep_rank(rows, names, ranks, keep, kept, symbol, problems)
    chosen: list[_CandleRow] = []
    reasons: dict[tuple[str, int], str] = {}
    for row, name in zip(rows, names, strict=True):
        day = _ist_day(row[0])
        if ranks[name] == days.rank_on(day):
            chosen.append(row)
            continue
        reason = reasons.get((name, day))
        if reason is None:
            reason = reasons[(name, day)] = days.reason(name, day)
        problems.add(EventKind.ROW_SKIPPED, reason, row[-1], row[0])
    return chosen


def _keep_rank(
    rows: list[_CandleRow],
    names: list[str],
    ranks: Mapping[str, int],
    keep: int,
    kept: str,
    symbol: str,
    problems: _Problems,
) -> list[_CandleRow]:
    """The rows of series ``keep`` (named ``kept``); the other series' rows skipped."""
    reasons = {
        name: f"{_FOREIGN} ({name.strip()[:40]!r}, another series of "
        f"{symbol}: the file also holds {kept.strip()[:40]!r}, which {symbol} is read from)"
        for name, rank in ranks.items()
        if rank != keep
    }
    chosen: list[_CandleRow] = []
    for row, name in zip(rows, names, strict=True):
        if ranks[name] == keep:
            chosen.append(row)
        else:
            problems.add(EventKind.ROW_SKIPPED, reasons[name], row[-1], row[0])
    return chosen


def _fast_series(
    name: str,
    symbol: str,
    seconds: np.ndarray,
    problems: _Problems,
    calendar: TradingCalendar | None,
) -> bool:
    """The columnar path's ``_one_series`` for a file naming one series only: True when
    every row's day is one on which that series is ``symbol`` (or, its expiry unknown,
    after the same ``SeriesAssumed`` note), False to let the careful path skip and name
    the other rows."""
    rank = _series(name)
    if not rank:
        return True
    days = _SeriesDays(symbol, name, calendar)
    if days.contract is None:
        problems.notes.append(days.assumed(name))
        return True
    epoch_days = np.unique((seconds + IST_OFFSET_S) // DAY_S)
    return all(days.rank_on(int(day)) == rank for day in epoch_days)


_MONTHLY_FUTURE = re.compile(r"([A-Z0-9&]+?)\d\d[A-Z]{3}FUT")


def _series_key(symbol: str, calendar: TradingCalendar | None) -> str:
    """What a load cache key holds of the calendar: the digest of its trading days when
    ``symbol`` is a monthly future (a continuous series is checked against its
    expiries, which the calendar moves), else nothing (no other load depends on it)."""
    if _MONTHLY_FUTURE.fullmatch(symbol.strip().upper()) is None:
        return ""
    return (calendar or shipped_calendar()).days_digest()


# A vendor's continuous series at the start of a file's name: ``NIFTY-II.csv.gz``,
# ``NIFTY-II_20221118.csv.gz``, ``NIFTY-II.NFO.csv`` (the name up to its first dot).
_SERIES_IN_NAME = re.compile(r"([A-Z0-9&]+?)-(I{1,3})(?![A-Z0-9&])")
_BY_FILE_NAME = " by the file's name"


@dataclass(frozen=True, slots=True)
class _NamedSeries:
    """A file without a symbol column, loaded as a monthly future, whose name says its
    series: each row is kept on the days that series is the contract (``_SeriesDays``)."""

    name: str  # ``NIFTY-II``
    days: _SeriesDays


def _named_series(
    path: Path, symbol: str, calendar: TradingCalendar | None, problems: _Problems
) -> _NamedSeries | None:
    """What the name of a file with no symbol column (every headerless tick file, a
    candle file without one) says of the series it holds, when it is loaded as a
    monthly future (``symbol``, ``NIFTY22NOVFUT``): nothing in its rows says which
    contract they are, so a vendor's ``NIFTY-II.csv.gz`` configured as November's future
    replayed December's prices as November's, unchecked.

    The series its name starts with (``NIFTY-II_20221118.csv.gz``), of the symbol's
    underlying, is checked day by day as a symbol column is (``_NamedSeries``); a
    contract whose expiries are not known keeps the series with ``SeriesAssumed``, as
    ``_one_series`` does. A name that says the contract itself (``NIFTY22NOVFUT.csv``,
    as a glob names a file's symbol) needs nothing. A name that says neither cannot be
    checked: the rows are the contract's as given, with a ``SeriesAssumed`` warning,
    never in silence. A symbol that is no monthly future has no series: None, no note."""
    future = _MONTHLY_FUTURE.fullmatch(symbol.strip().upper())
    if future is None:
        return None
    stem = path.name.split(".", 1)[0].strip().upper()
    named = _SERIES_IN_NAME.match(stem)
    if named is not None and symbol_matches(f"{named[1]}-{named[2]}", symbol):
        series = f"{named[1]}-{named[2]}"
        days = _SeriesDays(symbol, series, calendar)
        if days.contract is None:
            problems.notes.append(days.assumed(series))
            return None
        return _NamedSeries(series, days)
    if _normalised(stem).startswith(_normalised(symbol)):
        return None
    problems.notes.append(
        (
            EventKind.SERIES_ASSUMED,
            f"the file has no symbol column, and its name ({stem[:40]!r}) says neither a "
            f"continuous series of {future[1]} ({future[1]}-I, -II, -III) nor {symbol}: "
            f"its rows are assumed to be {symbol} on every day, unchecked (name the file "
            f"after its series, {future[1]}-I_….csv.gz, to have each day checked)",
            "WARNING",
        )
    )
    return None


def _keep_series_days(rows: list[_Row], series: _NamedSeries, problems: _Problems) -> list[_Row]:
    """The rows (time first, line last) on the days ``series`` is the contract; the
    others skipped, each day's reason naming the contract the series is then."""
    rank = _series(series.name)
    chosen = []
    reasons: dict[int, str] = {}
    for row in rows:
        day = _ist_day(row[0])
        if series.days.rank_on(day) == rank:
            chosen.append(row)
            continue
        reason = reasons.get(day)
        if reason is None:
            reason = reasons[day] = series.days.reason(series.name, day, _BY_FILE_NAME)
        problems.add(EventKind.ROW_SKIPPED, reason, row[-1], row[0])
    return chosen


def _fast_named_series(
    path: Path,
    symbol: str,
    ist_days: np.ndarray,
    problems: _Problems,
    calendar: TradingCalendar | None,
) -> bool:
    """The columnar path's ``_named_series``: True when every IST day (days since 1970)
    is one on which the file's named series is ``symbol`` (or nothing is to check),
    False to let the careful path skip and name the other rows."""
    series = _named_series(path, symbol, calendar, problems)
    if series is None:
        return True
    rank = _series(series.name)
    return all(series.days.rank_on(int(day)) == rank for day in np.unique(ist_days))


def _name_key(path: Path, symbol: str, check_symbol: bool) -> str:
    """What a load's cache key holds of the file's name: its stem when the name may be
    read for a series (``_named_series``), as the key otherwise has no name in it."""
    if not check_symbol or _MONTHLY_FUTURE.fullmatch(symbol.strip().upper()) is None:
        return ""
    return path.name.split(".", 1)[0].strip().upper()


_KNOWN_LAYOUTS = (
    "Kite `date,open,high,low,close,volume[,oi]` (also `Date`/`datetime`, or with a "
    "leading pandas index column), `Code,Date,Open,High,Low,Close,Volume`, "
    "`Instrument,Date,Time,Open,High,Low,Close`, TradingView `time,open,high,low,close`"
)


@dataclass(frozen=True, slots=True)
class _CandleLayout:
    ncols: int
    date: int
    time: int  # -1 when ``date`` holds the full datetime
    open: int
    high: int
    low: int
    close: int
    volume: int  # -1: no volume column
    oi: int  # -1: no oi column
    symbol: int  # -1: no symbol column


def _candle_layout(path: Path, header: list[str]) -> _CandleLayout:
    names = [name.strip().lower() for name in header]
    index = {name: i for i, name in enumerate(names) if name}
    missing = [name for name in ("open", "high", "low", "close") if name not in index]
    date_col = next((index[name] for name in _TIME_COLUMNS if name in index), -1)
    if missing or date_col < 0:
        looks_like_data = bool(header) and header[0].strip()[:1].isdigit()
        first = ",".join(header)[:80]
        why = "no header line (first line is data)" if looks_like_data else "unrecognised header"
        raise DataFormatError(path, f"{why}: {first!r}; expected {_KNOWN_LAYOUTS}")
    time_col = -1
    if "time" in index and names[date_col] == "date":
        time_col = index["time"]
    return _CandleLayout(
        ncols=len(names),
        date=date_col,
        time=time_col,
        open=index["open"],
        high=index["high"],
        low=index["low"],
        close=index["close"],
        volume=index.get("volume", -1),
        oi=index.get("oi", index.get("open_interest", -1)),
        symbol=next((index[name] for name in _SYMBOL_COLUMNS if name in index), -1),
    )


_NO_VOLUME_NOTE = (
    EventKind.VOLUME_MISSING,
    "no volume column: its bars load with volume 0, so a strategy that weighs volume "
    "(vwap_filter) never trades on them; give the file its volume column",
    "WARNING",
)


def _note_missing_volume(layout: _CandleLayout, problems: _Problems) -> None:
    """A candle file without a volume column is loaded (an index's has none, and the
    prices are good), but never silently: its bars' volume 0 is not the market's, and a
    strategy weighing volume would sit idle with no word of why. A replay of an index
    (its master's INDICES segment) lowers the note to INFO (``quiet_index_volume``)."""
    if layout.volume < 0:
        problems.notes.append(_NO_VOLUME_NOTE)


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        value = float(text)  # "1234.0" or " 1.2e6"; ValueError/OverflowError propagate
        if value != int(value):
            raise ValueError(f"non-integer {text!r}") from None
        return int(value)


_ROUNDED = "with a fractional volume or oi, rounded down (kitetui reads them as units)"


def _with_fractional_counts(
    row: list[str], layout: _CandleLayout
) -> tuple[float, float, float, float, int, int] | None:
    """A row whose prices parse and whose volume/oi are finite fractions (``116.485``:
    some vendors give volume in thousands or averaged) -> its values, the counts rounded
    down; None when something else in it does not parse. Throwing the row away lost its
    prices too: a vendor file of fractional volumes kept 5 bars of 3,750 (probe B 9)."""
    try:
        o, h, lo, c = (float(row[i]) for i in (layout.open, layout.high, layout.low, layout.close))
        counts = [float(row[i]) if i >= 0 else 0.0 for i in (layout.volume, layout.oi)]
        volume, oi = (math.floor(n) for n in counts)  # ValueError/OverflowError: nan, inf
    except (ValueError, OverflowError):
        return None
    return o, h, lo, c, volume, oi


def _price_problem(o: float, h: float, low: float, c: float) -> str:
    prices = (o, h, low, c)
    if any(p != p or p in (_INF, -_INF) for p in prices):
        return "non-finite price"
    if any(p <= 0.0 for p in prices):
        return "zero or negative price"
    if any(p > MAX_PRICE for p in prices):
        return f"price above {MAX_PRICE:,.0f}"
    if h < low:
        return "high below low"
    return "open/close outside the high-low range"


def _count_problem(*counts: int) -> str:
    if any(n < 0 for n in counts):
        return "negative volume or oi"
    return f"volume or oi above {MAX_VOLUME:,}"


def _no_data(path: Path, problems: _Problems) -> NoDataError:
    return NoDataError(path, problems.summary())


def load_candles(
    path: str | Path,
    symbol: str,
    timeframe_s: int = 60,
    *,
    session_only: bool = True,
    hours: SessionHours = REGULAR,
    require_rows: bool = True,
    check_symbol: bool = False,
    cache: LoadCache | None = None,
    lazy: bool = False,
    calendar: TradingCalendar | None = None,
) -> LoadResult:
    """Load a candle CSV (plain or gzip); the format is detected from its header.

    ``timeframe_s`` is the file's bar length (the files do not say). Rows are returned
    in time order, one bar per timestamp, inside the NSE session unless
    ``session_only`` is false (the regular hours, or a special day's own windows:
    ``hours``); every fix is described by an event (module docstring).
    No usable row raises ``NoDataError`` unless ``require_rows`` is false;
    ``check_symbol`` skips rows whose own symbol column names another instrument, a
    continuous future's on the days it is another contract by ``calendar``'s expiries
    (the desk's, with its override; None: the shipped NSE calendar).
    With ``cache``, the parsed columns are kept under the file's content hash. With
    ``lazy``, the bars stay columns until iterated (``kitetui/market/lazy_items.py``).
    """
    path = Path(path)
    if timeframe_s <= 0:
        raise ValueError(f"timeframe_s must be positive, got {timeframe_s}")
    hours = hours if session_only else None
    options = (
        "candles",
        symbol,
        timeframe_s,
        hours,
        check_symbol,
        _series_key(symbol, calendar),
        _name_key(path, symbol, check_symbol),
    )

    def fast(raw: bytes) -> Parsed | None:
        return _fast_candles(raw, path, symbol, timeframe_s, hours, check_symbol, calendar)

    def careful(raw: bytes) -> Parsed:
        rows, problems, extra = _candle_rows(
            path, symbol, timeframe_s, hours, require_rows, check_symbol, raw, calendar
        )
        return _parsed_rows(rows, _BAR_COLUMNS, problems, extra)

    parsed = _parse(path, options, cache, fast, careful)
    _refuse_misread(path, parsed.columns["ts_ns"], parsed.findings, timeframe_s)
    build = partial(_build_bars, symbol, timeframe_s)
    lag_ns = timeframe_s * NS_PER_SECOND  # a bar is known at its end
    bars = LazyItems(build, parsed.columns, lag_ns=lag_ns) if lazy else build(parsed.columns)
    return LoadResult(bars, render_findings(parsed.findings, path, symbol))


def reference_candles(
    path: str | Path,
    symbol: str,
    timeframe_s: int = 60,
    *,
    session_only: bool = True,
    hours: SessionHours = REGULAR,
    require_rows: bool = True,
    check_symbol: bool = False,
    calendar: TradingCalendar | None = None,
) -> LoadResult:
    """``load_candles`` the careful way only, row by row, no cache: the reference the
    columnar path and the cache are tested against (and the path bad files take)."""
    path = Path(path)
    if timeframe_s <= 0:
        raise ValueError(f"timeframe_s must be positive, got {timeframe_s}")
    hours = hours if session_only else None
    rows, problems, extra = _candle_rows(
        path, symbol, timeframe_s, hours, require_rows, check_symbol, calendar=calendar
    )
    bars = tuple(
        Bar(symbol, ts, timeframe_s, o, h, lo, c, volume, oi)
        for ts, o, h, lo, c, volume, oi, _line in rows
    )
    first_ts = bars[0].ts_ns if bars else 0
    stamps = np.array([bar.ts_ns for bar in bars], dtype=np.int64)
    _refuse_misread(path, stamps, problems.findings(first_ts, extra), timeframe_s)
    return LoadResult(bars, problems.events(first_ts, extra))


def _candle_rows(
    path: Path,
    symbol: str,
    timeframe_s: int,
    hours: SessionHours | None,
    require_rows: bool,
    check_symbol: bool,
    raw: bytes | None = None,
    calendar: TradingCalendar | None = None,
) -> tuple[list, _Problems, list[Finding]]:
    """The careful path: every row judged on its own, each problem counted with its line."""
    problems = _Problems(path, symbol)
    parser = _DateTimeParser()
    rows: list[_CandleRow] = []
    append = rows.append
    with _csv_rows(path, problems, raw) as (reader, header):
        layout = _candle_layout(path, header)
        _note_missing_volume(layout, problems)
        ncols, i_d, i_t = layout.ncols, layout.date, layout.time
        i_o, i_h, i_l, i_c = layout.open, layout.high, layout.low, layout.close
        i_v, i_oi = layout.volume, layout.oi
        i_s = layout.symbol if symbol and check_symbol else -1
        names_ok: dict[str, int] = {}  # symbol-column values that name ``symbol``: series
        series: list[str] = []  # each kept row's symbol-column value
        foreign = ""  # the reason for rows naming another symbol, once one is seen
        # Locals, and the datetime cache lookups inlined: this loop runs per row.
        datetime_s, date_time_s = parser.datetime_s, parser.date_time_s
        days_get, rests_get = parser.days.get, parser.rests.get
        to_int, ns, max_price, max_volume = _to_int, NS_PER_SECOND, MAX_PRICE, MAX_VOLUME
        minute_ns = 60 * ns if timeframe_s < DAY_S else 1
        line = 1
        for row in reader:
            line = reader.line_num
            if len(row) != ncols:
                reason = "blank line" if not row else f"{len(row)} fields, expected {ncols}"
                problems.add(EventKind.ROW_SKIPPED, reason, line)
                continue
            if i_s >= 0 and row[i_s] not in names_ok:
                if not symbol_matches(row[i_s], symbol):
                    foreign = foreign or (
                        f"row names another symbol ({row[i_s].strip()[:40]!r} first), not {symbol}"
                    )
                    problems.add(EventKind.ROW_SKIPPED, foreign, line)
                    continue
                names_ok[row[i_s]] = _series(row[i_s])
            try:
                if i_t < 0:
                    stamp = row[i_d]
                    day = days_get(stamp[:10])
                    rest = rests_get(stamp[10:])
                    if day is None or rest is None:
                        ts = datetime_s(stamp) * ns
                    else:
                        ts = (day + rest) * ns
                else:
                    ts = date_time_s(row[i_d], row[i_t]) * ns
            except (ValueError, IndexError):
                problems.add(EventKind.ROW_SKIPPED, "unparseable timestamp", line, row=row)
                continue
            if ts % minute_ns:
                problems.add(EventKind.ROW_SKIPPED, "timestamp not on a whole minute", line, ts)
                continue
            try:
                o = float(row[i_o])
                h = float(row[i_h])
                lo = float(row[i_l])
                c = float(row[i_c])
                volume = to_int(row[i_v]) if i_v >= 0 else 0
                oi = to_int(row[i_oi]) if i_oi >= 0 else 0
            except (ValueError, OverflowError):
                numbers = _with_fractional_counts(row, layout)
                if numbers is None:
                    problems.add(EventKind.ROW_SKIPPED, "unparseable number", line, ts, row=row)
                    continue
                o, h, lo, c, volume, oi = numbers
                problems.add(EventKind.VOLUME_ROUNDED, _ROUNDED, line, ts, row=row)
            if not (0.0 < lo <= o <= h and lo <= c <= h and h <= max_price):
                problems.add(EventKind.ROW_SKIPPED, _price_problem(o, h, lo, c), line, ts)
                continue
            if not (0 <= volume <= max_volume and 0 <= oi <= max_volume):
                problems.add(EventKind.ROW_SKIPPED, _count_problem(volume, oi), line, ts)
                continue
            append((ts, o, h, lo, c, volume, oi, line))
            if i_s >= 0:
                series.append(row[i_s])

    if any(names_ok.values()):  # a vendor's continuous series: which days are ``symbol``'s
        rows = _one_series(rows, series, names_ok, symbol, problems, calendar)
    elif symbol and check_symbol and layout.symbol < 0:  # no column: the name may say it
        named = _named_series(path, symbol, calendar, problems)
        if named is not None:
            rows = _keep_series_days(rows, named, problems)
    extra: list[Finding] = []
    if hours is not None and timeframe_s < DAY_S:
        read = rows
        rows = _drop_outside_session(
            rows, problems, EventKind.BAR_OUTSIDE_SESSION, "bar outside", hours
        )
        if read and not rows and require_rows and _all_at_midnight(read):
            raise NoDataError(path, f"{problems.summary()}; {_DAILY}")
    rows = _sort_rows(rows, problems, extra)
    rows = _drop_duplicates(rows, problems, extra)
    if not rows and require_rows:
        raise _no_data(path, problems)
    return rows, problems, extra


# --------------------------------------------------------------------------- misread files
#
# Skipping a bad row and saying so is right for a few rows. When most rows of a file are
# skipped, or the bars are not the length the replay assumes, what is left is not the
# file's data but a misreading of it (probe B 2, 4, 9: naive UTC stamps kept 450 bars of
# 3,750 shifted by 5:30; hourly bars replayed as minutes; fractional volumes kept 5 bars),
# so the file is refused, in one line that says what was found and the likely cause.

_MOSTLY = 0.5  # more than this share of a file's rows dropped: refused, not replayed
_FEW = 20  # at most this many rows dropped: reported, never a refusal (a hand-made file)
_OUTSIDE_KINDS = (EventKind.BAR_OUTSIDE_SESSION, EventKind.TICK_OUTSIDE_SESSION)
_FOREIGN = "row names another symbol"  # a multi-symbol file's other rows: not bad data


def _refuse_misread(
    path: Path, ts_ns: np.ndarray, findings: Sequence[Finding], timeframe_s: int | None
) -> None:
    """Raise ``DataFormatError`` when the kept rows misread the file (section comment):
    most rows unusable, most outside the session, or (candles, ``timeframe_s``) bars
    spaced other than ``timeframe_s`` apart. Nothing kept is ``NoDataError``'s to say."""
    kept = len(ts_ns)
    if not kept:
        return
    skipped = [f for f in findings if f.kind == EventKind.ROW_SKIPPED]
    skipped = [f for f in skipped if not str(f.data["reason"]).startswith(_FOREIGN)]
    skipped = [f for f in skipped if f.data["reason"] != "blank line"]
    outside = sum(_rows_of(f) for f in findings if f.kind in _OUTSIDE_KINDS)
    bad = sum(map(_rows_of, skipped))
    total = kept + outside + bad
    if bad > max(_MOSTLY * total, _FEW):
        most = max(skipped, key=_rows_of)
        sample = f": {most.data['sample']!r}" if "sample" in most.data else ""
        lines = cast(list[int], most.data["lines"])
        raise DataFormatError(
            path,
            f"{bad} of {total} rows ({bad / total:.0%}) unusable, refusing the file; most: "
            f"{most.data['reason']} (first at line {lines[0]}{sample})",
        )
    if outside > max(_MOSTLY * total, _FEW):
        raise DataFormatError(
            path,
            f"{outside} of {total} rows ({outside / total:.0%}) fall outside the session "
            f"09:15-15:30 IST, refusing the file; {_outside_cause(ts_ns)}",
        )
    if timeframe_s is not None:
        spacing = _spacing_problem(ts_ns, timeframe_s)
        if spacing:
            raise DataFormatError(path, spacing)


def _rows_of(finding: Finding) -> int:
    """How many rows a row finding counts (``_Problems.findings``)."""
    return cast(int, finding.data["count"])


def _outside_cause(ts_ns: np.ndarray) -> str:
    """The likely cause of a file mostly outside the session. Naive UTC stamps read as
    IST keep only the rows UTC 09:15-10:00 (really 14:45-15:30 IST, and a vendor's few
    minutes after the close), so kept rows nearly all before 10:15 IST point there."""
    seconds_of_day = (ts_ns // NS_PER_SECOND + IST_OFFSET_S) % DAY_S
    if (seconds_of_day < 10 * 3600 + 15 * 60).mean() >= 0.9:
        return "timestamps look like UTC without an offset: give them +00:00 or convert to IST"
    return (
        "check the timestamps' time zone (no offset is read as IST), or the calendar "
        "for a special session"
    )


_REGULAR = 0.8  # this share of same-day gaps equal to their step: bars of that length
_MIN_GAPS = 5  # fewer same-day gaps than this: too few to tell the bar length


def _spacing_problem(ts_ns: np.ndarray, timeframe_s: int) -> str:
    """Why bars loaded as ``timeframe_s``-second candles are not, or "".

    A file does not say its bar length and the replay assumes ``timeframe_s`` (60):
    hourly bars were replayed as seven 1-minute bars a day, filling an order an hour
    late and missing the 15:20 square-off (probe B 4). Two shapes give it away: the
    same-day gaps share a step larger than ``timeframe_s`` (their gcd) and nearly all
    of them are that step (``_REGULAR``: bars of a length are evenly spaced), or one
    bar a day at one time of day (daily candles stamped 09:15). A thin 1-minute file
    has irregular gaps: Kite leaves out a minute without a trade, and a deep option's
    7 bars of a day, 10, 4, 12, 2, 2 and 2 minutes apart, share a step of 2 minutes
    by chance (it was refused, and the whole run with it).
    """
    if timeframe_s >= DAY_S or len(ts_ns) < 2:
        return ""
    seconds = ts_ns // NS_PER_SECOND
    days = (seconds + IST_OFFSET_S) // DAY_S
    gaps = np.diff(seconds)[days[1:] == days[:-1]]
    gaps = gaps[gaps > 0]
    resample = f"kitetui replays {timeframe_s // 60}-minute candles; resample to that"
    if not len(gaps):
        times = (seconds + IST_OFFSET_S) % DAY_S
        if (times == times[0]).all():
            hh_mm = f"{int(times[0]) // 3600:02d}:{int(times[0]) % 3600 // 60:02d}"
            return f"one bar a day, each at {hh_mm} IST (daily candles?): {resample}"
        return ""
    step = int(np.gcd.reduce(gaps))
    if len(gaps) < _MIN_GAPS or step <= timeframe_s:
        return ""
    values, counts = np.unique(gaps, return_counts=True)
    common = int(values[np.argmax(counts)])
    if common != step or counts.max() < _REGULAR * len(gaps):
        return ""  # a thin file's gaps: a shared step by chance, not a bar length
    return f"bars {_duration(common)} apart: {resample}"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)" if seconds > 3600 else "60 minutes"
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} s"


# --------------------------------------------------------------------------- shared steps


def _drop_outside_session(
    rows: list, problems: _Problems, kind: EventKind, what: str, hours: SessionHours
) -> list:
    """Keep rows with 09:15 <= IST time of day < 15:30, or inside a special day's own
    windows (``hours``); report the others."""
    open_s, close_s = SESSION_OPEN_S, SESSION_CLOSE_S
    kept = []
    keep = kept.append
    special = hours.special
    for row in rows:
        if special:
            if hours.inside(row[0]):
                keep(row)
            else:
                reason = _outside(what, hours.windows_of(_ist_day(row[0])) is not None)
                problems.add(kind, reason, row[-1], row[0], level="INFO")
        elif open_s <= (row[0] // NS_PER_SECOND + IST_OFFSET_S) % DAY_S < close_s:
            keep(row)
        else:
            problems.add(kind, _outside(what), row[-1], row[0], level="INFO")
    return kept


_DAILY = (
    "every row is stamped 00:00 IST, as daily candles are (Kite's day candles): a replay "
    "source is 1-minute candles or ticks"
)


def _all_at_midnight(rows: Sequence[_CandleRow]) -> bool:
    """Whether every row is stamped at IST midnight: a file of daily candles, whose rows
    the session filter drops one by one as "outside the session" (true, and no help)."""
    return all((row[0] // NS_PER_SECOND + IST_OFFSET_S) % DAY_S == 0 for row in rows)


def _outside(what: str, special_day: bool = False) -> str:
    regular = f"{what} session 09:15-15:30 IST"
    return f"{regular} and its day's special session" if special_day else regular


def _ist_day(ts_ns: int) -> int:
    return (ts_ns // NS_PER_SECOND + IST_OFFSET_S) // DAY_S


def _sort_rows(rows: list, problems: _Problems, extra: list[Finding]) -> list:
    """Stable-sort by timestamp when needed; one event with the count of rows moved."""
    late = 0
    first_line = 0
    latest = -(1 << 62)
    for row in rows:
        ts = row[0]
        if ts < latest:
            late += 1
            if not first_line:
                first_line = row[-1]
        else:
            latest = ts
    if late:
        rows.sort(key=itemgetter(0))  # stable: equal timestamps keep file order
        extra.append(_reordered(problems, rows[0][0], late, first_line))
    return rows


def _reordered(problems: _Problems, ts_ns: int, count: int, first_line: int) -> Finding:
    """The one finding of a sort, whichever path (rows or columns) did it."""
    return problems.finding(
        ts_ns,
        EventKind.ROWS_REORDERED,
        f"{count} row(s) out of time order (first at line {first_line}); sorted",
        "WARNING",
        count=count,
        first_line=first_line,
    )


def _drop_duplicates(rows: list, problems: _Problems, extra: list[Finding]) -> list:
    """Keep the last row of each timestamp (rows are sorted, file order within equal ts)."""
    if not rows:
        return rows
    kept = []
    dropped_lines: list[int] = []
    count = 0
    first_ts = 0
    previous = rows[0]
    for row in rows[1:]:
        if row[0] == previous[0]:
            count += 1
            if len(dropped_lines) < _MAX_LINES_REPORTED:
                dropped_lines.append(previous[-1])
            if not first_ts:
                first_ts = row[0]
        else:
            kept.append(previous)
        previous = row
    kept.append(previous)
    if count:
        extra.append(_duplicates(problems, first_ts, count, dropped_lines))
    return kept


def _duplicates(problems: _Problems, ts_ns: int, count: int, lines: list[int]) -> Finding:
    """The one finding of dropped repeats, whichever path (rows or columns) dropped them."""
    shown = ", ".join(map(str, lines)) + (", …" if count > len(lines) else "")
    return problems.finding(
        ts_ns,
        EventKind.DUPLICATE_BARS_DROPPED,
        f"{count} row(s) repeat a timestamp; kept the last (dropped lines {shown})",
        "WARNING",
        count=count,
        lines=lines,
    )


# --------------------------------------------------------------------------- ticks


def _tick_layout_check(path: Path, first: list[str]) -> None:
    ok = len(first) == 5 and len(first[0].strip()) == 8 and first[0].strip().isdigit()
    if not ok:
        raise DataFormatError(
            path,
            "not a headerless vendor tick file (expected "
            f"`YYYYMMDD,HH:MM:SS,last_price,last_traded_qty,open_interest`): "
            f"first line {','.join(first)[:80]!r}",
        )


def load_ticks(
    path: str | Path,
    symbol: str,
    *,
    session_only: bool = True,
    hours: SessionHours = REGULAR,
    require_rows: bool = True,
    cache: LoadCache | None = None,
    lazy: bool = False,
    check_symbol: bool = False,
    calendar: TradingCalendar | None = None,
) -> TickLoadResult:
    """Load a headerless ``date,time,last_price,last_traded_qty,open_interest`` tick file.

    Rows sharing a second keep their file order and get the same ``ts_ns``. Out of order
    rows are stable-sorted; bad rows and (unless ``session_only`` is false) rows outside
    09:15:00-15:30:00 IST are skipped, each with an aggregated event. No usable row
    raises ``NoDataError`` unless ``require_rows`` is false. ``check_symbol`` (the config
    named the symbol) reads a future's file name for its continuous series, checked on
    ``calendar``'s expiries (``_named_series``). With ``cache``, the parsed columns are
    kept under the file's content hash; with ``lazy``, the ticks stay columns until
    iterated (``kitetui/market/lazy_items.py``).
    """
    path = Path(path)
    hours = hours if session_only else None
    options = (
        "ticks",
        symbol,
        hours,
        _name_key(path, symbol, check_symbol),
        _series_key(symbol, calendar) if check_symbol else "",
    )

    def fast(raw: bytes) -> Parsed | None:
        return _fast_ticks(raw, path, symbol, hours, check_symbol, calendar)

    def careful(raw: bytes) -> Parsed:
        rows, problems, extra = _tick_rows(
            path, symbol, hours, require_rows, raw, check_symbol, calendar
        )
        return _parsed_rows(rows, _TICK_COLUMNS, problems, extra)

    parsed = _parse(path, options, cache, fast, careful)
    _refuse_misread(path, parsed.columns["ts_ns"], parsed.findings, None)
    build = partial(_build_ticks, symbol)
    ticks = LazyItems(build, parsed.columns, lag_ns=0) if lazy else build(parsed.columns)
    return TickLoadResult(ticks, render_findings(parsed.findings, path, symbol))


def reference_ticks(
    path: str | Path,
    symbol: str,
    *,
    session_only: bool = True,
    hours: SessionHours = REGULAR,
    require_rows: bool = True,
    check_symbol: bool = False,
    calendar: TradingCalendar | None = None,
) -> TickLoadResult:
    """``load_ticks`` the careful way only, row by row, no cache (see ``reference_candles``)."""
    path = Path(path)
    hours = hours if session_only else None
    rows, problems, extra = _tick_rows(
        path, symbol, hours, require_rows, check_symbol=check_symbol, calendar=calendar
    )
    ticks = tuple(Tick(symbol, ts, price, qty, oi) for ts, price, qty, oi, _line in rows)
    first_ts = ticks[0].ts_ns if ticks else 0
    stamps = np.array([tick.ts_ns for tick in ticks], dtype=np.int64)
    _refuse_misread(path, stamps, problems.findings(first_ts, extra), None)
    return TickLoadResult(ticks, problems.events(first_ts, extra))


def _tick_rows(
    path: Path,
    symbol: str,
    hours: SessionHours | None,
    require_rows: bool,
    raw: bytes | None = None,
    check_symbol: bool = False,
    calendar: TradingCalendar | None = None,
) -> tuple[list, _Problems, list[Finding]]:
    """The careful path for ticks (``_candle_rows``)."""
    problems = _Problems(path, symbol)
    parser = _DateTimeParser()
    rows: list[tuple[int, float, int, int, int]] = []
    append = rows.append
    with _csv_rows(path, problems, raw) as (reader, first):
        _tick_layout_check(path, first)
        date_time_s = parser.date_time_s
        days_get, times_get = parser.days.get, parser.times.get
        to_int, ns, max_price, max_volume = _to_int, NS_PER_SECOND, MAX_PRICE, MAX_VOLUME
        for row in _chain_first(first, reader):
            line = reader.line_num
            if len(row) != 5:
                reason = "blank line" if not row else f"{len(row)} fields, expected 5"
                problems.add(EventKind.ROW_SKIPPED, reason, line)
                continue
            try:
                day = days_get(row[0])
                tod = times_get(row[1])
                if day is None or tod is None:
                    ts = date_time_s(row[0], row[1]) * ns
                else:
                    ts = (day + tod) * ns
            except (ValueError, IndexError):
                problems.add(EventKind.ROW_SKIPPED, "unparseable timestamp", line, row=row)
                continue
            try:
                price = float(row[2])
                qty = to_int(row[3])
                oi = to_int(row[4])
            except (ValueError, OverflowError):
                problems.add(EventKind.ROW_SKIPPED, "unparseable number", line, ts, row=row)
                continue
            if not 0.0 < price <= max_price:
                problems.add(
                    EventKind.ROW_SKIPPED, _price_problem(price, price, price, price), line, ts
                )
                continue
            if not (0 <= qty <= max_volume and 0 <= oi <= max_volume):
                reason = "negative quantity or oi" if qty < 0 or oi < 0 else _count_problem(qty)
                problems.add(EventKind.ROW_SKIPPED, reason, line, ts)
                continue
            append((ts, price, qty, oi, line))

    series = _named_series(path, symbol, calendar, problems) if check_symbol else None
    if series is not None:
        rows = _keep_series_days(rows, series, problems)
    extra: list[Finding] = []
    if hours is not None:
        rows = _drop_outside_session(
            rows, problems, EventKind.TICK_OUTSIDE_SESSION, "tick outside", hours
        )
    rows = _sort_rows(rows, problems, extra)
    if not rows and require_rows:
        raise _no_data(path, problems)
    return rows, problems, extra


def _chain_first(first: list[str], rest: Iterable[list[str]]) -> Iterable[list[str]]:
    yield first
    yield from rest


# --------------------------------------------------------------------------- columnar path
#
# The careful path above judges a row at a time. A clean file (the usual case) is read
# instead by ``kitetui.market.columnar`` a column at a time, and the steps after the
# row checks (session filter, sort, duplicates) are the same steps on arrays, reporting
# exactly what the careful ones would. Anything the columnar parser is unsure of, and
# any row with a problem, sends the whole file down the careful path, which then names
# the row: the events of a load do not depend on which path ran.

_TICK_COLUMNS = ("ts_ns", "price", "qty", "oi")
_BAR_COLUMNS = ("ts_ns", "open", "high", "low", "close", "volume", "oi")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A file's usable rows as columns (time order) and its findings: what a load is
    before it becomes ``Bar``/``Tick`` values, and what the load cache keeps."""

    columns: dict[str, np.ndarray]
    findings: tuple[Finding, ...]

    @property
    def rows(self) -> int:
        return len(self.columns["ts_ns"])


def _parse(
    path: Path,
    options: tuple[object, ...],
    cache: LoadCache | None,
    fast: Callable[[bytes], Parsed | None],
    careful: Callable[[bytes], Parsed],
) -> Parsed:
    """The file's ``Parsed`` form: from the cache when it holds this content, else the
    columnar path, else the careful one (which raises for a file it refuses)."""
    raw = _read_raw(path)
    if cache is None or not cache.enabled:
        return _packed(fast(raw) or careful(raw))
    key = cache.key(raw, (*options, _named_gz(path)))
    entry, trouble = cache.get(key, _CACHE_COLUMNS[str(options[0])])
    if entry is not None:
        return Parsed(entry.columns, tuple(Finding(*f) for f in entry.findings))
    parsed = _packed(fast(raw) or careful(raw))
    if parsed.rows:
        written = cache.put(key, parsed.columns, parsed.findings)
        trouble = trouble or written
    if trouble is None:
        return parsed
    first_ts = int(parsed.columns["ts_ns"][0]) if parsed.rows else 0
    kind, message = trouble
    note = Finding(first_ts, kind, message, "WARNING", {"cache_dir": str(cache.directory)})
    return Parsed(parsed.columns, (*parsed.findings, note))


def _named_gz(path: Path) -> bool:
    """Whether the name ends in ``.gz``: part of the cache key, because a plain file so
    named has a ``NotGzip`` finding the same bytes under another name do not, and a hit
    must give the events a fresh load of this name would (the key has no name in it)."""
    return path.suffix.lower() == ".gz"


_CACHE_COLUMNS = {"ticks": _TICK_COLUMNS, "index": _TICK_COLUMNS, "candles": _BAR_COLUMNS}


def _parsed_rows(
    rows: list, names: tuple[str, ...], problems: _Problems, extra: list[Finding]
) -> Parsed:
    """The careful path's row tuples (``names`` then the line) as columns."""
    findings = problems.findings(rows[0][0] if rows else 0, extra)
    if not rows:
        empty = {name: np.zeros(0, np.float64 if _is_price(name) else np.int64) for name in names}
        return Parsed(empty, findings)
    columns = list(zip(*rows, strict=True))
    return Parsed(
        {
            name: np.array(column, dtype=np.float64 if _is_price(name) else np.int64)
            for name, column in zip(names, columns, strict=False)
        },
        findings,
    )


def _is_price(name: str) -> bool:
    return name in ("price", "open", "high", "low", "close")


def _split_datetime(text: str) -> tuple[str, str, int, int]:
    """The first row's datetime cut as ``columnar.stamp_column`` needs it: (date, time of
    day, where the time starts, seconds beyond date + time of day), parsed by the careful
    path's own functions (ValueError where they would refuse it)."""
    day, rest = text[:10], text[10:]
    total = _rest_seconds(rest)
    if not rest.strip():
        return day, "", 0, total
    body = rest[1:]
    if body != body.strip():
        raise ValueError("space around the time")
    clock, _offset = _clock_and_offset(body)
    return day, clock, 11, total - _time_of_day_seconds(clock)


def _fast_candles(
    raw: bytes,
    path: Path,
    symbol: str,
    timeframe_s: int,
    hours: SessionHours | None,
    check_symbol: bool,
    calendar: TradingCalendar | None = None,
) -> Parsed | None:
    """A clean candle file, a column at a time; None when the careful path must judge it."""
    problems = _Problems(path, symbol)
    data = _decoded(raw, path, problems)
    if data is None:
        return None
    newline = data.find(b"\n")
    head = data[:newline].removesuffix(b"\r")
    if newline < 0 or not head.isascii() or b'"' in head or b"\r" in head:
        return None
    try:
        layout = _candle_layout(path, next(csv.reader([head.decode("ascii")])))
    except DataFormatError:
        return None
    _note_missing_volume(layout, problems)
    fields = split_fields(data[newline + 1 :], layout.ncols)
    if fields is None:
        return None
    name = None
    if symbol and check_symbol and layout.symbol >= 0:
        name = fields.same_bytes(layout.symbol)
        if name is None or not symbol_matches(name.decode("ascii"), symbol):
            return None
    split = _split_datetime if layout.time < 0 else None
    seconds = stamp_column(fields, layout.date, layout.time, _day_seconds, split)
    if seconds is None:
        return None
    if layout.time >= 0:
        seconds = seconds - IST_OFFSET_S
    if timeframe_s < DAY_S and (seconds % 60).any():
        return None
    prices = [
        decimal_column(fields, i) for i in (layout.open, layout.high, layout.low, layout.close)
    ]
    counts = [
        integer_column(fields, i) if i >= 0 else np.zeros(fields.rows, np.int64)
        for i in (layout.volume, layout.oi)
    ]
    if any(column is None for column in (*prices, *counts)):
        return None
    o, h, lo, c = prices
    volume, oi = counts
    assert o is not None and h is not None and lo is not None and c is not None
    assert volume is not None and oi is not None
    if not ((lo > 0.0) & (lo <= o) & (o <= h) & (lo <= c) & (c <= h) & (h <= MAX_PRICE)).all():
        return None
    if not ((volume >= 0) & (volume <= MAX_VOLUME) & (oi >= 0) & (oi <= MAX_VOLUME)).all():
        return None
    if name is not None and not _fast_series(
        name.decode("ascii"), symbol, seconds, problems, calendar
    ):
        return None
    if symbol and check_symbol and layout.symbol < 0:
        ist_days = (seconds + IST_OFFSET_S) // DAY_S
        if not _fast_named_series(path, symbol, ist_days, problems, calendar):
            return None
    columns = dict(
        zip(_BAR_COLUMNS, (seconds * NS_PER_SECOND, o, h, lo, c, volume, oi), strict=True)
    )
    columns["line"] = np.arange(2, fields.rows + 2)
    extra: list[Finding] = []
    if hours is not None and timeframe_s < DAY_S:
        columns = _keep_session(
            columns, problems, EventKind.BAR_OUTSIDE_SESSION, "bar outside", hours
        )
    columns = _time_ordered(columns, problems, extra)
    columns = _last_of_each_ts(columns, problems, extra)
    return _finished(columns, problems, extra)


def _fast_ticks(
    raw: bytes,
    path: Path,
    symbol: str,
    hours: SessionHours | None,
    check_symbol: bool = False,
    calendar: TradingCalendar | None = None,
) -> Parsed | None:
    """A clean tick file, a column at a time; None when the careful path must judge it
    (a row to skip: also one on a day its file's series is another contract)."""
    problems = _Problems(path, symbol)
    data = _decoded(raw, path, problems)
    if data is None:
        return None
    head = data.split(b"\n", 1)[0].removesuffix(b"\r")
    if not head.isascii() or b'"' in head or b"\r" in head:
        return None
    try:
        _tick_layout_check(path, next(csv.reader([head.decode("ascii")])))
    except (DataFormatError, StopIteration):
        return None
    fields = split_fields(data, 5)
    if fields is None:
        return None
    seconds = stamp_column(fields, 0, 1, _day_seconds, None)
    price = decimal_column(fields, 2)
    qty = integer_column(fields, 3)
    oi = integer_column(fields, 4)
    if seconds is None or price is None or qty is None or oi is None:
        return None
    if not ((price > 0.0) & (price <= MAX_PRICE)).all():
        return None
    if not ((qty >= 0) & (qty <= MAX_VOLUME) & (oi >= 0) & (oi <= MAX_VOLUME)).all():
        return None
    if check_symbol and not _fast_named_series(path, symbol, seconds // DAY_S, problems, calendar):
        return None
    ts = (seconds - IST_OFFSET_S) * NS_PER_SECOND
    columns = dict(zip(_TICK_COLUMNS, (ts, price, qty, oi), strict=True))
    columns["line"] = np.arange(1, fields.rows + 1)
    extra: list[Finding] = []
    if hours is not None:
        columns = _keep_session(
            columns, problems, EventKind.TICK_OUTSIDE_SESSION, "tick outside", hours
        )
    columns = _time_ordered(columns, problems, extra)
    return _finished(columns, problems, extra)


def _finished(
    columns: dict[str, np.ndarray], problems: _Problems, extra: list[Finding]
) -> Parsed | None:
    """Drop the line numbers; None when nothing is left (the careful path says why)."""
    lines = columns.pop("line")
    if not len(lines):
        return None
    return Parsed(columns, problems.findings(int(columns["ts_ns"][0]), extra))


def _take(columns: dict[str, np.ndarray], which: np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[which] for name, column in columns.items()}


def _keep_session(
    columns: dict[str, np.ndarray],
    problems: _Problems,
    kind: EventKind,
    what: str,
    hours: SessionHours,
) -> dict[str, np.ndarray]:
    """``_drop_outside_session`` on columns (its reasons in the order it meets them)."""
    ts = columns["ts_ns"]
    inside = hours.inside_mask(ts)
    if inside.all():
        return columns
    outside = ~inside
    groups = [(outside, _outside(what))]
    if hours.special:
        days = (ts // NS_PER_SECOND + IST_OFFSET_S) // DAY_S
        on_special = np.isin(days, [number for number, _windows in hours.special])
        groups = [
            (mask, _outside(what, special))
            for mask, special in ((outside & ~on_special, False), (outside & on_special, True))
            if mask.any()
        ]
        groups.sort(key=lambda group: int(np.argmax(group[0])))
    for mask, reason in groups:
        problems.add_many(kind, reason, columns["line"][mask], ts[mask], "INFO")
    return _take(columns, inside)


def _time_ordered(
    columns: dict[str, np.ndarray], problems: _Problems, extra: list[Finding]
) -> dict[str, np.ndarray]:
    """``_sort_rows`` on columns: a stable sort, one finding with the rows moved."""
    ts = columns["ts_ns"]
    if len(ts) < 2:
        return columns
    late = ts[1:] < np.maximum.accumulate(ts)[:-1]
    if not late.any():
        return columns
    count = int(late.sum())
    first_line = int(columns["line"][1:][late][0])
    columns = _take(columns, np.argsort(ts, kind="stable"))
    extra.append(_reordered(problems, int(columns["ts_ns"][0]), count, first_line))
    return columns


def _last_of_each_ts(
    columns: dict[str, np.ndarray], problems: _Problems, extra: list[Finding]
) -> dict[str, np.ndarray]:
    """``_drop_duplicates`` on sorted columns: the last row of each timestamp stays."""
    ts = columns["ts_ns"]
    repeated = np.zeros(len(ts), dtype=bool)
    repeated[:-1] = ts[1:] == ts[:-1]
    if not repeated.any():
        return columns
    count = int(repeated.sum())
    dropped_lines = [int(n) for n in columns["line"][repeated][:_MAX_LINES_REPORTED]]
    stamps = ts[repeated]
    nonzero = stamps[stamps != 0]
    first_ts = int(nonzero[0]) if len(nonzero) else 0
    extra.append(_duplicates(problems, first_ts, count, dropped_lines))
    return _take(columns, ~repeated)


# --------------------------------------------------------------------------- values


def _build_ticks(symbol: str, columns: dict[str, np.ndarray]) -> tuple[Tick, ...]:
    return _build(Tick, [repeat(symbol), *(_values(name, columns[name]) for name in _TICK_COLUMNS)])


def _build_bars(symbol: str, timeframe_s: int, columns: dict[str, np.ndarray]) -> tuple[Bar, ...]:
    ts, *rest = (_values(name, columns[name]) for name in _BAR_COLUMNS)
    return _build(Bar, [repeat(symbol), ts, repeat(timeframe_s), *rest])


def _values(name: str, column: np.ndarray) -> list:
    """A (packed) column's values as the Python floats and ints a row would hold."""
    return price_values(column) if _is_price(name) else column.tolist()


def _packed(parsed: Parsed) -> Parsed:
    """``parsed`` with its columns as narrow as they go exactly (``packed.py``)."""
    columns = {
        name: narrow_prices(column) if _is_price(name) else narrow_counts(column)
        for name, column in parsed.columns.items()
    }
    return Parsed(columns, parsed.findings)


def with_symbol(items: Sequence[_Print], symbol: str) -> tuple[_Print, ...]:
    """``replace(item, symbol=symbol)`` for every item, built a field at a time
    (``_build``): the local exchange keys every print of a file by its instrument
    (``NSE:INFY``), and half a million ``dataclasses.replace`` calls took seconds of its
    start."""
    kinds = set(map(type, items))
    if len(kinds) != 1:  # empty, or ticks and bars mixed: one at a time
        return tuple(replace(item, symbol=symbol) for item in items)
    (cls,) = kinds
    columns: list[Iterable[object]] = [
        repeat(symbol) if f.name == "symbol" else list(map(attrgetter(f.name), items))
        for f in dataclass_fields(cls)
    ]
    return _build(cls, columns)


def _build(cls: type, columns: list[Iterable[object]]) -> tuple:
    """``cls(*row)`` for every row of ``columns``, a field at a time.

    Half a million frozen dataclasses cost ~1 µs each through ``__init__`` (five
    ``object.__setattr__`` calls in Python) and as much again in garbage-collector
    passes over objects that cannot be garbage yet. Each record is filled in its class's
    draft by one loop (``drafts.build_rows``: a backtest builds every bar it replays
    here, a chunk at a time), and the collector waits until the values exist. A class
    with a ``__post_init__`` (checks to run) is built through its ``__init__``, whose
    result this equals field for field.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        records = build_rows(cls, columns)
        return tuple(map(cls, *columns)) if records is None else tuple(records)
    finally:
        if collecting:
            gc.enable()
