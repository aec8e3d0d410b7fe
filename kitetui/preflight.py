"""What a valid config points at, checked before any trade: files, masters, days.

``kitetui.config`` validates the YAML itself; this module checks the world the config
names, so ``kitetui check-config`` and the start of ``kitetui run`` stop with one line
instead of a traceback (or a crash hours into a replay):

* ``calendar.holidays_override``: must be a readable, well-formed calendar CSV
  (``ConfigError``, exit 2, naming the key and the line of the CSV);
* ``instruments`` and ``replay.sources``: each file must exist and be a regular file,
  each glob must match (unless ``optional: true``) (``DataFormatError``, exit 4);
* the masters load (``InstrumentError``, exit 4), a row repeated within or across them
  is a ``DuplicateInstrumentsDropped`` warning, and no equity engine lists an index
  (an ``INDICES`` row: tick 0, lot 0) as a symbol to trade (``ConfigError``); an equity
  symbol no master lists (or, with ``scan_data``, no replay data), or an fno underlying
  with no futures, is a warning;
* with ``scan_data`` (``check-config``): the data loads too (every refusal of
  ``kitetui.market.replay.load_replay_sources``), and then the replay's days are
  checked: an equity ``universe:`` with no membership list for the first day is a
  ``ConfigError`` (the run would otherwise fail on its first session), and a year the
  NSE calendar does not cover is a warning.

``check_replay_days`` is the part the supervisor must run after it loads the data (the
run's start does not scan the data twice): it raises for a universe gap and returns the
``CalendarNotCovered`` events to journal.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kitetui.config import AppConfig, ConfigError, EquityEngineConfig, FnoEngineConfig
from kitetui.domain import Event
from kitetui.events import EventKind
from kitetui.market.calendar import CalendarError, TradingCalendar
from kitetui.market.calendar import nse as nse_calendar
from kitetui.market.coverage import session_coverage
from kitetui.market.instruments import InstrumentMaster, load_masters
from kitetui.market.loaders import DataFormatError, data_path
from kitetui.market.replay import (
    expand_source,
    index_symbols,
    load_replay_sources,
    quiet_index_volume,
)
from kitetui.market.session_hours import SessionHours
from kitetui.market.universe import UniverseError, first_known_date

__all__ = ["InputCheck", "check_inputs", "check_replay_days", "check_tradables", "load_calendar"]


@dataclass(frozen=True, slots=True)
class InputCheck:
    """Warnings (one printable line each, also as journal events) and the replay days."""

    events: tuple[Event, ...]
    days: tuple[date, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(
            f"{event.kind}: {event.message}"
            for event in self.events
            if event.level in ("WARNING", "ERROR")
        )


def check_inputs(
    config: AppConfig, config_file: str | Path, *, scan_data: bool = False
) -> InputCheck:
    """Every check of the module docstring; ``scan_data`` also loads the replay data."""
    calendar = load_calendar(config, config_file)
    events: list[Event] = []
    for index, spec in enumerate(config.instruments):
        _require_file(data_path(spec), f"instruments[{index}]", config_file)
    if config.replay is not None and config.mode == "replay":
        for index, source in enumerate(config.replay.sources):
            key = f"replay.sources[{index}]"
            files = expand_source(source.path, source.symbol)
            if not files and not source.optional:
                raise DataFormatError(
                    source.path, f"no file matches this pattern ({key} in {config_file})"
                )
            for path, _symbol in files:
                if source.optional and not path.exists():
                    continue
                _require_file(path, key, config_file)
    options: set[str] = set()  # not judged for missing or short sessions
    master: InstrumentMaster | None = None
    if config.instruments:
        master, master_events = load_masters([data_path(spec) for spec in config.instruments])
        options = {i.tradingsymbol for i in master if i.is_option}
        events.extend(master_events)
        check_tradables(config, master, config_file)
        events.extend(_unlisted_underlyings(config, master))
        events.extend(_unlisted_symbols(config, master))
    days: tuple[date, ...] = ()
    if scan_data and config.replay is not None and config.mode == "replay":
        loaded = load_replay_sources(
            config.replay.sources,
            hours=SessionHours.of(calendar.special_sessions),
            calendar=calendar,
        )
        events.extend(quiet_index_volume(loaded.events, index_symbols(master or ())))
        days = loaded.days
        events.extend(check_replay_days(config, days, calendar, config_file))
        events.extend(session_coverage(loaded.streams, calendar, options))  # SessionMissing/Short
        with_data = {stream[0].symbol for stream in loaded.streams if stream}
        events.extend(
            _symbols_without_data(config, with_data, master if config.instruments else None)
        )
    return InputCheck(tuple(events), days)


def load_calendar(config: AppConfig, config_file: str | Path) -> TradingCalendar:
    """The NSE calendar with the config's override; a bad override is a ``ConfigError``."""
    spec = config.calendar.holidays_override
    if spec is None:
        return nse_calendar()
    try:
        return nse_calendar(data_path(spec))
    except CalendarError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ConfigError(
            config_file, "calendar.holidays_override", f"{exc.path}: {where}{exc.reason}"
        ) from None


def check_tradables(config: AppConfig, master: InstrumentMaster, config_file: str | Path) -> None:
    """An equity engine may not list an index (or any row Kite lists with no lot or
    tick size) as a symbol to trade: it would be traded as a stock of tick 0, lot 0."""
    for e_index, engine in enumerate(config.engines):
        if not isinstance(engine, EquityEngineConfig):
            continue
        for s_index, symbol in enumerate(engine.symbols):
            instrument = master.get("NSE", symbol)
            if instrument is not None and not instrument.is_tradable:
                raise ConfigError(
                    config_file,
                    f"engines[{e_index}].symbols[{s_index}]",
                    f"{symbol} is {instrument.untradable_reason}: not a tradable instrument",
                )


def _unlisted_underlyings(config: AppConfig, master: InstrumentMaster) -> list[Event]:
    events = []
    for engine in config.engines:
        if not isinstance(engine, FnoEngineConfig):
            continue
        for underlying in engine.underlyings:
            if not master.futures(underlying):
                events.append(
                    Event(
                        ts_ns=0,
                        kind=EventKind.UNDERLYING_UNLISTED,
                        level="WARNING",
                        engine=engine.name,
                        message=f"no {underlying} futures in the instrument masters: "
                        f"engine {engine.name} will have nothing to trade",
                    )
                )
    return events


def _equity_symbols(config: AppConfig) -> Iterator[tuple[str, str, str]]:
    """Each equity engine's symbols: (engine name, symbol, where the config says it)."""
    for e_index, engine in enumerate(config.engines):
        if isinstance(engine, EquityEngineConfig):
            for s_index, symbol in enumerate(engine.symbols):
                yield engine.name, symbol, f"engines[{e_index}].symbols[{s_index}]"


def _never_traded(kind: EventKind, engine: str, symbol: str, why: str) -> Event:
    return Event(
        ts_ns=0,
        kind=kind,
        level="WARNING",
        engine=engine,
        symbol=symbol,
        message=f"{why}: engine {engine} will never trade it",
    )


def _unlisted_symbols(config: AppConfig, master: InstrumentMaster) -> list[Event]:
    """An equity symbol the config names that no master lists (a typo: ``ICICIBNK``):
    the engine can never trade it, and the run would otherwise trade the others
    without a word."""
    return [
        _never_traded(
            EventKind.INSTRUMENT_MISSING,
            engine,
            symbol,
            f"{symbol} ({where}) is not in the instrument masters",
        )
        for engine, symbol, where in _equity_symbols(config)
        if master.get("NSE", symbol) is None
    ]


def _symbols_without_data(
    config: AppConfig, with_data: set[str], master: InstrumentMaster | None
) -> list[Event]:
    """An equity symbol the config names that the replay has no data for: the engine
    can never trade it (one the masters do not list is said once, as unlisted)."""
    return [
        _never_traded(
            EventKind.NO_DATA_FOR_CONTRACT, engine, symbol, f"{symbol} ({where}) has no replay data"
        )
        for engine, symbol, where in _equity_symbols(config)
        if symbol not in with_data and (master is None or master.get("NSE", symbol) is not None)
    ]


def check_replay_days(
    config: AppConfig,
    days: Iterable[date],
    calendar: TradingCalendar,
    config_file: str | Path,
) -> tuple[Event, ...]:
    """Before the first batch: refuse a universe without a membership list for the
    replay's first day (``ConfigError``), and return one ``CalendarNotCovered``
    warning event per year the calendar has no holiday list for."""
    days = sorted(set(days))
    if not days:
        return ()
    first = days[0]
    for index, engine in enumerate(config.engines):
        if not isinstance(engine, EquityEngineConfig) or engine.universe is None:
            continue
        try:
            known_from = first_known_date(engine.universe)
        except UniverseError as exc:
            raise ConfigError(config_file, f"engines[{index}].universe", str(exc)) from None
        if first < known_from:
            missing = sum(1 for day in days if day < known_from)
            raise ConfigError(
                config_file,
                f"engines[{index}].universe",
                f"no {engine.universe} membership list before {known_from}, and the replay "
                f"has {missing} day(s) from {first}: list the stocks in 'symbols:' instead",
            )
    events = []
    for year in calendar.uncovered_years(days):
        count = sum(1 for day in days if day.year == year)
        events.append(
            Event(
                ts_ns=0,
                kind=EventKind.CALENDAR_NOT_COVERED,
                level="WARNING",
                message=f"the NSE calendar has no holiday list for {year}: its {count} "
                "replay day(s) are taken as they come, holidays and sessions unchecked "
                "(add them with calendar.holidays_override)",
                data={"year": year, "days": count},
            )
        )
    return tuple(events)


def _require_file(path: Path, key: str, config_file: str | Path) -> None:
    """A data file the config names must exist and be a regular, readable file."""
    where = f"({key} in {config_file})"
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataFormatError(path, f"file not found {where}") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot read: {exc.strerror or exc} {where}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataFormatError(path, f"is a directory, not a data file {where}")
    if not stat.S_ISREG(info.st_mode):
        raise DataFormatError(path, f"not a regular file {where}")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataFormatError(path, f"cannot read: {exc.strerror or exc} {where}") from None
