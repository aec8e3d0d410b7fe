"""Kite's instrument master: every tradable contract, indexed for the lookups trading needs.

Kite publishes the master once a day as a CSV (``GET /instruments``, the file behind
``KiteConnect.instruments()``): ``instrument_token,exchange_token,tradingsymbol,name,
last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange``. The
derivatives part alone is ~40,000 rows, so every lookup here is a dictionary hit or a
walk over a small precomputed, sorted tuple; nothing scans the whole master except
``search``, which a person triggers by typing.

Values are kept as Kite sends them (``instrument_type`` stays ``EQ``/``FUT``/``CE``/
``PE``/whatever arrives), with one exception: the strike of a non-option, which older
Kite dumps give as ``-0.01`` on futures, is read as 0. Indices (segment ``INDICES``,
``tick_size`` and ``lot_size`` 0) are listed, because their prices drive engines, but
are not tradable: ``Instrument.is_tradable`` is false for them.

Derivatives are grouped by *underlying*: Kite's ``name`` column (``NIFTY``,
``BANKNIFTY``), else the underlying parsed from the tradingsymbol. The ``expiry``
column is the truth; the tradingsymbol is parsed (``parse_contract_symbol``) as a
cross-check, and as the fallback when ``expiry`` is empty. Every spelling in use is
understood, so a weekly option is never mistaken for (or hidden behind) the monthly:

* ``<UND><YY><MON>FUT`` and ``<UND><YY><MON><STRIKE><CE|PE>``: monthly (``NIFTY22NOVFUT``);
* ``<UND><YY><M><DD><STRIKE><CE|PE>``: Kite's weekly, month ``1``-``9``/``O``/``N``/``D``
  (``NIFTY2331617000CE`` = 16 Mar 2023, ``NIFTY22D0118150CE`` = 1 Dec 2022);
* ``<UND><DD><MON><YY>…``: the day-month-year weekly spelling (``NIFTY16MAR2317000CE``);
* ``<UND><YY><MM><DD>…``: the vendor spelling of the bundled tick files' names.

A symbol whose date disagrees with the ``expiry`` column is an ``ExpiryMismatch``
event (the column wins); one that parses under no spelling is a ``SymbolUnparsed``
event. An empty ``expiry`` is taken from a weekly symbol (``ExpiryFromSymbol``, INFO);
a monthly symbol names only the month, so such a row is skipped.

Loading follows the loaders' rule that bad data is skipped and recorded, never a crash:
``from_csv`` skips unusable rows with one ``RowSkipped`` event per reason (count and the
first line numbers) and keeps the first of rows repeating an (exchange, tradingsymbol)
or an instrument_token (one ``DuplicateInstrumentsDropped`` event); ``load_masters``
combines several files the same way, the earlier file winning, with one such event per
pair of files naming both. A file that cannot be read at all, or whose header is not
Kite's, raises ``InstrumentError`` naming it.

Speed: one ``csv.reader`` pass, dates parsed once per distinct string; the ~40k-row
NFO/BFO dump builds in about 0.26 s on a 2-core VM (a third each: gzip + CSV decoding,
creating the frozen ``Instrument`` values, indexing; the symbol cross-check adds ~15%);
lookups cost well under 1 µs.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kitetui.domain import Event
from kitetui.events import EventKind
from kitetui.market.contract_symbols import (
    MONTHS,
    ContractName,
    parse_contract_symbol,
    spellings,
    strike_text,
)
from kitetui.market.text_limits import TooLarge, check_lines, gunzip, read_file

__all__ = [
    "KITE_COLUMNS",
    "ContractName",
    "Instrument",
    "InstrumentError",
    "InstrumentMaster",
    "load_masters",
    "parse_contract_symbol",
]

KITE_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
_OPTION_TYPES = frozenset({"CE", "PE"})
_DERIVATIVE_TYPES = frozenset({"FUT", "CE", "PE"})
_RIGHT_WORDS = {"CE": "CE", "PE": "PE", "CALL": "CE", "PUT": "PE"}
_MAX_LINES_REPORTED = 5
# What a dropped duplicate repeats (``InstrumentMaster._index``; the events' reasons).
_REPEATS_KEY = "an exchange:tradingsymbol"
_REPEATS_TOKEN = "an instrument_token"
_INF = float("inf")
#: Rupees. The widest tick in Kite's masters is 5 (a few stock futures); one far wider
#: is a damaged row, and orders rounded to it would rest or fill far from the market.
MAX_TICK_SIZE = 100.0


class InstrumentError(Exception):
    """An instrument file that cannot be used, or a contract that cannot be resolved."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """One row of Kite's instrument master, with Kite's column names and values."""

    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    last_price: float
    expiry: date | None
    strike: float
    tick_size: float
    lot_size: int
    instrument_type: str
    segment: str
    exchange: str

    def journal_row(self) -> tuple:
        """The row the journal's ``instruments`` table keeps of it (the day's master,
        Kite's columns in order; the expiry ISO or "")."""
        return (
            self.instrument_token,
            self.exchange_token,
            self.tradingsymbol,
            self.name,
            self.last_price,
            self.expiry.isoformat() if self.expiry else "",
            self.strike,
            self.tick_size,
            self.lot_size,
            self.instrument_type,
            self.segment,
            self.exchange,
        )

    @classmethod
    def from_journal_row(cls, row: Sequence[Any]) -> Instrument:
        """The instrument a ``journal_row`` was made of (read back at a restart)."""
        (token, exchange_token, symbol, name, last, expiry) = row[:6]
        (strike, tick, lot, kind, segment, exchange) = row[6:]
        return cls(
            int(token),
            int(exchange_token),
            str(symbol),
            str(name),
            float(last),
            date.fromisoformat(str(expiry)) if expiry else None,
            float(strike),
            float(tick),
            int(lot),
            str(kind),
            str(segment),
            str(exchange),
        )

    @property
    def key(self) -> str:
        """``"NFO:NIFTY22NOVFUT"``: the form Kite's quote and order APIs take."""
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def is_future(self) -> bool:
        return self.instrument_type == "FUT"

    @property
    def is_option(self) -> bool:
        return self.instrument_type in _OPTION_TYPES

    @property
    def right(self) -> str:
        """``"CE"``/``"PE"`` for an option, ``""`` for anything else."""
        return self.instrument_type if self.instrument_type in _OPTION_TYPES else ""

    @property
    def is_tradable(self) -> bool:
        """False for an index (segment ``INDICES``) and for any row without a lot or tick
        size: such a row is a price to watch, never a contract to order."""
        return not self.untradable_reason

    @property
    def untradable_reason(self) -> str:
        """Why this row cannot be ordered (``""`` when it can): for errors and events."""
        if self.segment.upper() == "INDICES":
            return "an index (segment INDICES)"
        if self.lot_size <= 0:
            return f"listed with lot size {self.lot_size}"
        if not 0.0 < self.tick_size <= MAX_TICK_SIZE:
            return f"listed with tick size {self.tick_size:g}"
        return ""


# --------------------------------------------------------------------------- helpers


def _underlying_of(inst: Instrument) -> str:
    """The grouping key of a contract: ``name`` upper-cased, else parsed from the symbol."""
    if inst.name:
        return inst.name.upper()
    if inst.instrument_type not in _DERIVATIVE_TYPES or inst.expiry is None:
        return ""
    found = parse_contract_symbol(
        inst.tradingsymbol,
        strike=inst.strike if inst.is_option else None,
        expiry=inst.expiry,
    )
    return found.underlying if found is not None and found.agrees_with(inst.expiry) else ""


def _normalize_right(right: str) -> str:
    value = _RIGHT_WORDS.get(right.strip().upper())
    if value is None:
        raise InstrumentError(f"option right must be CE or PE, not {right!r}")
    return value


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


class _Problems:
    """Row problems aggregated into one event per (kind, reason), as the loaders do."""

    __slots__ = ("_by_key", "name", "path", "ts_ns")

    def __init__(self, name: str, path: str, ts_ns: int) -> None:
        self.name = name
        self.path = path
        self.ts_ns = ts_ns
        self._by_key: dict[tuple[str, str], list] = {}  # -> [count, first lines]

    def add(self, kind: EventKind, reason: str, line: int) -> None:
        """One more row with this (kind, reason); ``RowSkipped`` and the duplicates
        are dropped rows, the cross-check kinds are rows kept with a note."""
        entry = self._by_key.get((kind, reason))
        if entry is None:
            self._by_key[(kind, reason)] = [1, [line]]
            return
        entry[0] += 1
        if len(entry[1]) < _MAX_LINES_REPORTED:
            entry[1].append(line)

    def events(self) -> tuple[Event, ...]:
        out = []
        for (kind, reason), (count, lines) in self._by_key.items():
            shown = ", ".join(map(str, lines)) + (", …" if count > len(lines) else "")
            noun = "line" if len(lines) == 1 else "lines"
            if kind == EventKind.DUPLICATE_INSTRUMENTS_DROPPED:
                message = f"{count} row(s) repeat {reason}; kept the first ({noun} {shown})"
            elif kind == EventKind.ROW_SKIPPED:
                message = f"{count} row(s) skipped: {reason} ({noun} {shown})"
            else:
                message = f"{count} row(s): {reason} ({noun} {shown})"
            out.append(
                Event(
                    ts_ns=self.ts_ns,
                    kind=kind,
                    message=f"{self.name}: {message}",
                    level="INFO" if kind == EventKind.EXPIRY_FROM_SYMBOL else "WARNING",
                    data={"path": self.path, "reason": reason, "count": count, "lines": lines},
                )
            )
        return tuple(out)


class _SymbolCheck:
    """The tradingsymbol against the ``expiry`` column, for one load.

    The common case costs a dictionary hit and a string comparison: the symbol is one
    of the spellings built from (name, expiry) once per pair. Only a symbol that is
    none of them is parsed, to say what is wrong (or to find a missing expiry).
    """

    __slots__ = ("_mismatch", "_prefixes", "_problems")

    def __init__(self, problems: _Problems) -> None:
        self._problems = problems
        self._mismatch = ""
        self._prefixes: dict[tuple[str, date], frozenset[str]] = {}

    def __call__(
        self, symbol: str, name: str, kind: str, strike: float, expiry: date | None, line: int
    ) -> date | None:
        """The expiry to use (the column's, else a weekly symbol's), or None."""
        underlying = name.strip().upper()
        option = kind != "FUT"
        if expiry is not None:
            suffix = f"{strike_text(strike)}{kind}" if option else "FUT"
            prefixes = self._prefixes.get((underlying, expiry))
            if prefixes is None:
                prefixes = self._prefixes[(underlying, expiry)] = spellings(underlying, expiry)
            if symbol.endswith(suffix) and symbol[: -len(suffix)] in prefixes:
                return expiry
        found = parse_contract_symbol(
            symbol, underlying=underlying, strike=strike if option else None, expiry=expiry
        )
        if expiry is None:
            if found is None or found.expiry is None:
                return None
            self._problems.add(
                EventKind.EXPIRY_FROM_SYMBOL,
                "no expiry column value; the weekly symbol's date used",
                line,
            )
            return found.expiry
        if found is None:
            if underlying:  # without a name a symbol is only parsed to group it
                self._problems.add(
                    EventKind.SYMBOL_UNPARSED,
                    "tradingsymbol matches no known spelling; the expiry column kept",
                    line,
                )
        elif not found.agrees_with(expiry):
            if not self._mismatch:  # one reason per load: the events aggregate by it
                said = found.expiry or f"{found.year}-{found.month:02d}"
                self._mismatch = (
                    f"tradingsymbol names another expiry (first: {symbol} says {said}, "
                    f"the expiry column {expiry}); the expiry column kept"
                )
            self._problems.add(EventKind.EXPIRY_MISMATCH, self._mismatch, line)
        return expiry


def _read_source(source: Path | str | bytes) -> tuple[str, str, str]:
    """-> (display name, path for events, decoded text). Raises ``InstrumentError``."""
    if isinstance(source, bytes | bytearray | memoryview):
        name = path = "<instruments bytes>"
        raw = bytes(source)
    else:
        file = Path(source).expanduser()
        name, path = str(file), str(file)
        try:
            raw = read_file(file)
        except TooLarge as exc:
            raise InstrumentError(f"{name}: {exc}") from None
        except FileNotFoundError:
            raise InstrumentError(f"{name}: file not found") from None
        except OSError as exc:
            raise InstrumentError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gunzip(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise InstrumentError(f"{name}: corrupt gzip data: {exc}") from None
        check_lines(raw)
    except TooLarge as exc:
        raise InstrumentError(f"{name}: {exc}") from None
    # utf-8-sig drops a BOM; undecodable bytes become U+FFFD instead of aborting the load.
    return name, path, raw.decode("utf-8-sig", errors="replace")


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        value = float(text)  # "65.0" from a spreadsheet round trip
        if not value.is_integer():
            raise
        return int(value)


# --------------------------------------------------------------------------- master


def _row_fields(
    row: list[str], cols: tuple[int, ...], dates: dict[str, date | None]
) -> tuple[int, int, float, float, float, int, date | None] | str:
    """A row's numbers and expiry -> (token, exchange token, last price, strike, tick,
    lot, expiry), or why they do not parse. ``dates`` memoises the expiries (a master
    repeats a few dozen of them); "" is no expiry."""
    i_tok, i_ext, _, _, i_last, i_exp, i_str, i_tick, i_lot, _, _, _ = cols
    try:
        token = int(row[i_tok])
        exchange_token = int(row[i_ext])
    except ValueError:
        return "unparseable instrument or exchange token"
    try:
        last_price = float(row[i_last] or 0.0)
        strike = float(row[i_str] or 0.0)
        tick_size = float(row[i_tick])
        lot_size = _to_int(row[i_lot])
    except (ValueError, OverflowError):
        return "unparseable number"
    text = row[i_exp].strip()
    if text in dates:
        expiry = dates[text]
    else:
        try:
            expiry = dates[text] = date.fromisoformat(text[:10])
        except ValueError:
            return "unparseable expiry"
    return token, exchange_token, last_price, strike, tick_size, lot_size, expiry


def _row_problem(
    symbol: str,
    exchange: str,
    token: int,
    exchange_token: int,
    last_price: float,
    strike: float,
    tick_size: float,
    lot_size: int,
) -> str:
    """Why a parsed row names no tradable instrument, or "" when it does."""
    if not symbol or not exchange:
        return "empty tradingsymbol or exchange"
    if token <= 0 or exchange_token < 0:
        return "non-positive instrument token"
    inf = _INF
    if (
        not (0.0 <= last_price < inf and 0.0 <= strike < inf and 0.0 <= tick_size < inf)
        or lot_size < 0
    ):
        return "negative or non-finite price, strike, tick or lot"
    return ""


def _derivative_names(inst: Instrument, upper: dict[str, str]) -> tuple[str, str]:
    """A derivative's exchange and underlying in upper case, memoised in ``upper`` (a
    master repeats a few exchanges and names tens of thousands of times)."""
    exchange = upper.get(inst.exchange)
    if exchange is None:
        exchange = upper[inst.exchange] = inst.exchange.upper()
    underlying = upper.get(inst.name) if inst.name else None
    if underlying is None:
        underlying = _underlying_of(inst)
        if inst.name:
            upper[inst.name] = underlying
    return exchange, underlying


class InstrumentMaster:
    """An immutable, indexed set of instruments.

    Build it with ``from_csv`` (a Kite dump) or directly from ``Instrument`` values;
    either way the first of several instruments sharing an (exchange, tradingsymbol)
    or an instrument_token wins. Exchanges and underlyings are matched
    case-insensitively; strikes may be given as int or float (``24350 == 24350.0``).
    """

    __slots__ = (
        "_by_key",
        "_by_token",
        "_expiries",
        "_futures",
        "_haystacks",
        "_items",
        "_options",
        "_strikes",
        "_underlyings",
    )

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._index(instruments)

    def _index(self, instruments: Iterable[Instrument]) -> list[tuple[int, str]]:
        """Build every index; -> (input position, what it repeats) of dropped duplicates."""
        items: list[Instrument] = []
        dropped: list[tuple[int, str]] = []
        by_key: dict[tuple[str, str], Instrument] = {}
        by_token: dict[int, Instrument] = {}
        options: dict[tuple[str, str, date, float, str], Instrument] = {}
        futures: dict[tuple[str, str], list[Instrument]] = {}
        chains: dict[tuple[str, str, date], tuple[set[float], set[float]]] = {}
        upper: dict[str, str] = {}  # exchange or name -> upper case (few distinct values)
        derivative_types = _DERIVATIVE_TYPES
        for position, inst in enumerate(instruments):
            key = (inst.exchange, inst.tradingsymbol)
            if key in by_key:
                dropped.append((position, _REPEATS_KEY))
                continue
            if inst.instrument_token in by_token:
                dropped.append((position, _REPEATS_TOKEN))
                continue
            by_key[key] = by_token[inst.instrument_token] = inst
            items.append(inst)
            kind = inst.instrument_type
            if kind not in derivative_types or inst.expiry is None:
                continue
            exchange, underlying = _derivative_names(inst, upper)
            if kind == "FUT":
                group = futures.get((exchange, underlying))
                if group is None:
                    futures[(exchange, underlying)] = [inst]
                else:
                    group.append(inst)
                continue
            options.setdefault((exchange, underlying, inst.expiry, inst.strike, kind), inst)
            chain = chains.get((exchange, underlying, inst.expiry))
            if chain is None:
                chain = chains[(exchange, underlying, inst.expiry)] = (set(), set())
            chain[0 if kind == "CE" else 1].add(inst.strike)

        self._items: tuple[Instrument, ...] = tuple(items)
        self._by_key = by_key
        self._by_token = by_token
        self._options = options
        self._index_chains(futures, chains)
        self._haystacks: tuple[str, ...] | None = None  # built by the first search
        return dropped

    def _kept_for(self, dropped: Instrument, what: str) -> Instrument:
        """The instrument ``_index`` kept in place of ``dropped``, which repeated ``what``
        (one of its reasons: an exchange:tradingsymbol or an instrument_token)."""
        if what == _REPEATS_KEY:
            return self._by_key[(dropped.exchange, dropped.tradingsymbol)]
        return self._by_token[dropped.instrument_token]

    def _index_chains(
        self,
        futures: dict[tuple[str, str], list[Instrument]],
        chains: dict[tuple[str, str, date], tuple[set[float], set[float]]],
    ) -> None:
        """The sorted views of the derivatives: futures by expiry, each underlying's
        expiries, the strikes of each chain (calls, puts, either) and the underlyings."""
        expiries: dict[tuple[str, str], list[date]] = {}
        strikes: dict[tuple[str, str, date, str], tuple[float, ...]] = {}
        for (exchange, underlying, expiry), (calls, puts) in chains.items():
            expiries.setdefault((exchange, underlying), []).append(expiry)
            strikes[(exchange, underlying, expiry, "CE")] = tuple(sorted(calls))
            strikes[(exchange, underlying, expiry, "PE")] = tuple(sorted(puts))
            strikes[(exchange, underlying, expiry, "")] = tuple(sorted(calls | puts))
        underlyings: dict[str, set[str]] = {}
        for exchange, underlying in (*futures, *expiries):
            underlyings.setdefault(exchange, set()).add(underlying)
        self._futures = {
            key: tuple(sorted(group, key=lambda i: (i.expiry, i.tradingsymbol)))
            for key, group in futures.items()
        }
        self._expiries = {key: tuple(sorted(group)) for key, group in expiries.items()}
        self._strikes = strikes
        self._underlyings = {key: tuple(sorted(group)) for key, group in underlyings.items()}

    # ----------------------------------------------------------------------- loading

    @classmethod
    def from_csv(
        cls, source: Path | str | bytes, *, ts_ns: int = 0
    ) -> tuple[InstrumentMaster, tuple[Event, ...]]:
        """Parse Kite's instruments CSV: a path (``str``/``Path``) or the raw bytes.

        Gzip is recognised by its magic bytes, not the suffix. Columns are found by
        header name, so their order does not matter and extra columns are ignored.
        ``ts_ns`` stamps the returned events (the caller's clock; the file has no time).
        """
        # Not pausing the cyclic GC here (it would save ~25% of a 40k-row build) because
        # gc.disable() is process-wide and other threads (the TUI) run meanwhile.
        return cls._from_csv(source, ts_ns)

    @classmethod
    def _from_csv(
        cls, source: Path | str | bytes, ts_ns: int
    ) -> tuple[InstrumentMaster, tuple[Event, ...]]:
        name, path, text = _read_source(source)
        problems = _Problems(Path(name).name if path != name else name, path, ts_ns)
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if header is None:
                raise InstrumentError(f"{name}: empty file")
            names = [column.strip().lower() for column in header]
            index = {column: i for i, column in enumerate(names)}
            missing = [column for column in KITE_COLUMNS if column not in index]
            if missing:
                raise InstrumentError(
                    f"{name}: not a Kite instruments CSV: header {','.join(header)[:120]!r} "
                    f"lacks {', '.join(missing)}; expected {','.join(KITE_COLUMNS)}"
                )
            instruments, lines = cls._parse_rows(reader, len(names), index, problems)
        except csv.Error as exc:
            line = reader.line_num
            raise InstrumentError(f"{name}: cannot read near line {line}: {exc}") from None
        master = cls.__new__(cls)
        for position, what in master._index(instruments):
            problems.add(EventKind.DUPLICATE_INSTRUMENTS_DROPPED, what, lines[position])
        return master, problems.events()

    @staticmethod
    def _parse_rows(
        reader: Iterator[list[str]], ncols: int, index: dict[str, int], problems: _Problems
    ) -> tuple[list[Instrument], list[int]]:
        cols = tuple(index[column] for column in KITE_COLUMNS)
        _, _, i_sym, i_name, _, _, _, _, _, i_type, i_seg, i_ex = cols
        dates: dict[str, date | None] = {"": None}
        cross_check = _SymbolCheck(problems)
        out: list[Instrument] = []
        lines: list[int] = []  # file line of each instrument, for duplicate reports
        append, add_line, add, inf = out.append, lines.append, problems.add, _INF
        for row in reader:
            line = reader.line_num  # type: ignore[attr-defined]
            if len(row) != ncols:
                add(
                    EventKind.ROW_SKIPPED,
                    f"{len(row)} fields, expected {ncols}" if row else "blank line",
                    line,
                )
                continue
            fields = _row_fields(row, cols, dates)
            if isinstance(fields, str):
                add(EventKind.ROW_SKIPPED, fields, line)
                continue
            token, exchange_token, last_price, strike, tick_size, lot_size, expiry = fields
            symbol = row[i_sym].strip()
            exchange = row[i_ex].strip()
            kind = row[i_type].strip()
            if kind not in _OPTION_TYPES and -inf < strike <= 0.0:
                strike = 0.0  # older Kite dumps list futures (and more) at strike -0.01
            problem = _row_problem(
                symbol, exchange, token, exchange_token, last_price, strike, tick_size, lot_size
            )
            if problem:
                add(EventKind.ROW_SKIPPED, problem, line)
                continue
            if kind in _DERIVATIVE_TYPES:
                if kind != "FUT" and strike <= 0.0:
                    add(EventKind.ROW_SKIPPED, "option without strike", line)
                    continue
                expiry = cross_check(symbol, row[i_name], kind, strike, expiry, line)
                if expiry is None:
                    add(EventKind.ROW_SKIPPED, f"{kind} without expiry", line)
                    continue
            add_line(line)
            append(
                Instrument(
                    token,
                    exchange_token,
                    symbol,
                    row[i_name].strip(),
                    last_price,
                    expiry,
                    strike,
                    tick_size,
                    lot_size,
                    kind,
                    row[i_seg].strip(),
                    exchange,
                )
            )
        return out, lines

    # ----------------------------------------------------------------------- access

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._items)

    def by_token(self, token: int) -> Instrument | None:
        return self._by_token.get(token)

    def get(self, exchange: str, tradingsymbol: str) -> Instrument | None:
        found = self._by_key.get((exchange, tradingsymbol))
        if found is None:
            found = self._by_key.get((exchange.strip().upper(), tradingsymbol.strip().upper()))
        return found

    def lookup(self, key: str) -> Instrument | None:
        """``"NFO:NIFTY22NOVFUT"`` -> the instrument, or ``None`` if not listed."""
        exchange, sep, symbol = key.partition(":")
        if not sep or not exchange.strip() or not symbol.strip():
            raise InstrumentError(f"instrument key must look like 'NFO:NIFTY22NOVFUT', not {key!r}")
        return self.get(exchange, symbol)

    def option(
        self,
        underlying: str,
        expiry: date,
        strike: float,
        right: str,
        exchange: str = "NFO",
    ) -> Instrument | None:
        """The listed option, or ``None``. ``right``: CE/PE (CALL/PUT accepted)."""
        key = (
            exchange.upper(),
            underlying.upper(),
            _as_date(expiry),
            strike,
            _normalize_right(right),
        )
        return self._options.get(key)

    def futures(self, underlying: str, exchange: str = "NFO") -> list[Instrument]:
        """All futures of ``underlying``, nearest expiry first (expired ones included)."""
        return list(self._futures.get((exchange.upper(), underlying.upper()), ()))

    def option_expiries(self, underlying: str, exchange: str = "NFO") -> list[date]:
        return list(self._expiries.get((exchange.upper(), underlying.upper()), ()))

    def strikes(
        self, underlying: str, expiry: date, right: str | None = None, exchange: str = "NFO"
    ) -> list[float]:
        """Listed strikes, ascending: of one right, or of either when ``right`` is None."""
        side = "" if right is None else _normalize_right(right)
        key = (exchange.upper(), underlying.upper(), _as_date(expiry), side)
        return list(self._strikes.get(key, ()))

    def underlyings(self, exchange: str = "NFO") -> list[str]:
        """Underlyings with futures or options on ``exchange``, sorted."""
        return list(self._underlyings.get(exchange.upper(), ()))

    # ----------------------------------------------------------------------- search

    def search(self, text: str, limit: int = 20) -> list[Instrument]:
        """Instruments matching every space-separated term of ``text``, best first.

        A term matches when it is a substring (case-insensitive) of the tradingsymbol,
        the name, the strike (``24350``), the expiry (``2026-08-18``, ``18aug26``,
        ``aug``) or the right; the words ce/pe/call/put match the right only, so
        ``"nifty 24350 ce"`` finds NIFTY 24350 calls of every expiry. Order: an exact
        tradingsymbol first, then tradingsymbols starting with a term, then those with a
        term inside the tradingsymbol or name, then the rest (strike/expiry matches);
        within each group names equal to a term, then futures before options before
        anything else, then nearer expiry, lower strike, symbol and file order.
        """
        terms = text.lower().split()
        if not terms or limit <= 0:
            return []
        whole = " ".join(terms)
        rights = {_RIGHT_WORDS[t.upper()] for t in terms if t.upper() in _RIGHT_WORDS}
        words = [t for t in terms if t.upper() not in _RIGHT_WORDS]
        if len(rights) > 1:
            return []
        right = next(iter(rights), "")
        haystacks = self._haystacks
        if haystacks is None:
            haystacks = self._haystacks = tuple(map(_haystack, self._items))
        ranked = []
        for position, (inst, haystack) in enumerate(zip(self._items, haystacks, strict=True)):
            if right and inst.instrument_type != right:
                continue
            if not all(word in haystack for word in words):
                continue
            symbol = inst.tradingsymbol.lower()
            name = inst.name.lower()
            if symbol == whole:
                tier = 0
            elif any(symbol.startswith(w) for w in words):
                tier = 1
            elif any(w in symbol or w in name for w in words):
                tier = 2
            else:
                tier = 3
            name_rank = 0 if name in words else 1
            kind_rank = 0 if inst.is_future else 1 if inst.is_option else 2
            ranked.append(
                (
                    tier,
                    name_rank,
                    kind_rank,
                    inst.expiry or date.min,
                    inst.strike,
                    symbol,
                    position,
                )
            )
        ranked.sort()
        items = self._items
        return [items[entry[-1]] for entry in ranked[:limit]]


def load_masters(
    paths: Sequence[Path], *, ts_ns: int = 0
) -> tuple[InstrumentMaster, tuple[Event, ...]]:
    """Every master of ``paths`` (in order) as one master, and the events of the load.

    The first definition of an (exchange, tradingsymbol) or an instrument_token wins,
    across files as within one. A row a later file defines differently (another token,
    tick, lot…) is dropped *with a word*, as ``from_csv`` says a repeat inside a file:
    one ``DuplicateInstrumentsDropped`` warning per (file, earlier file, what it
    repeats), naming both files, the symbols and what each file said. The same
    definition listed in two masters (the NFO and NSE dumps both list the indices) is
    one instrument, not a conflict: nothing is lost, so nothing is said, and every
    replay of the shipped configs does not bury the warnings that matter.
    """
    loaded: list[tuple[Path, InstrumentMaster]] = []
    events: list[Event] = []
    for path in paths:
        master, found = InstrumentMaster.from_csv(path, ts_ns=ts_ns)
        loaded.append((path, master))
        events.extend(found)
    instruments = [inst for _, master in loaded for inst in master]
    files = [index for index, (_, master) in enumerate(loaded) for _ in master]
    combined = InstrumentMaster.__new__(InstrumentMaster)
    dropped = combined._index(instruments)
    if not dropped:
        return combined, tuple(events)
    names = _display_names([path for path, _ in loaded])
    file_of = {id(inst): files[position] for position, inst in enumerate(instruments)}
    groups: dict[tuple[int, int, str], list[tuple[Instrument, Instrument]]] = {}
    for position, what in dropped:
        inst = instruments[position]
        kept = combined._kept_for(inst, what)
        if not _same_definition(inst, kept):
            key = (files[position], file_of[id(kept)], what)
            groups.setdefault(key, []).append((inst, kept))
    for (later, earlier, what), pairs in groups.items():
        events.append(
            _cross_file_duplicates(
                (names[later], str(loaded[later][0])),
                (names[earlier], str(loaded[earlier][0])),
                what,
                pairs,
                ts_ns,
            )
        )
    return combined, tuple(events)


def _same_definition(one: Instrument, other: Instrument) -> bool:
    """Whether two rows define the same instrument: every column but ``last_price``
    (a snapshot of the day the dump was taken, not part of what is traded)."""
    return replace(one, last_price=other.last_price) == other


def _display_names(paths: Sequence[Path]) -> list[str]:
    """Each file's name as the events say it: the bare name, unless two files share it."""
    bare = [path.name for path in paths]
    return [str(path) if bare.count(path.name) > 1 else path.name for path in paths]


def _cross_file_duplicates(
    later: tuple[str, str],
    earlier: tuple[str, str],
    what: str,
    pairs: list[tuple[Instrument, Instrument]],
    ts_ns: int,
) -> Event:
    """The warning for ``later``'s rows dropped because ``earlier`` defined them first
    and differently: which rows, and what each file said, for the first few."""
    first = pairs[:_MAX_LINES_REPORTED]
    shown = "; ".join(
        f"{dropped.key} token {dropped.instrument_token} tick {dropped.tick_size:g} "
        f"lot {dropped.lot_size} dropped, {earlier[0]} has {kept.key} token "
        f"{kept.instrument_token} tick {kept.tick_size:g} lot {kept.lot_size}"
        for dropped, kept in first
    )
    more = "; …" if len(pairs) > len(first) else ""
    return Event(
        ts_ns=ts_ns,
        kind=EventKind.DUPLICATE_INSTRUMENTS_DROPPED,
        message=(
            f"{later[0]}: {len(pairs)} row(s) repeat {what} of {earlier[0]} (listed "
            f"before it) with another definition; kept {earlier[0]}'s ({shown}{more})"
        ),
        level="WARNING",
        data={
            "path": later[1],
            "kept_path": earlier[1],
            "reason": what,
            "count": len(pairs),
            "symbols": [dropped.key for dropped, _ in first],
            "tokens": [dropped.instrument_token for dropped, _ in first],
        },
    )


def _haystack(inst: Instrument) -> str:
    parts = [inst.tradingsymbol, inst.name]
    if inst.strike > 0.0:
        parts.append(strike_text(inst.strike))
    if inst.expiry is not None:
        e = inst.expiry
        month = MONTHS[e.month - 1]
        parts.append(f"{e.isoformat()} {e.day}{month}{e.year % 100:02d} {e.day:02d}{month}")
    parts.append(inst.instrument_type)
    return " ".join(parts).lower()
