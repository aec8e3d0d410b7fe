"""The YAML config, validated once at start-up by strict pydantic models.

Strict on purpose: the seed system silently replaced a string where a number belonged
with a default. Here a wrong key, type or value stops the program with one line that
names the file, the key path and the reason (``ConfigError``), and unknown keys are
errors. Strategy parameters are validated by each strategy's own ``Params`` model so
that a typo in ``params:`` is caught before any engine starts.

Nothing is coerced and nothing is unbounded: the text is read by
``kitetui.strict_yaml`` (duplicate keys, YAML 1.1 ``yes``/``09:15``/``0100`` surprises,
alias bombs and deep nesting are refused), every number has an upper bound a real desk
never reaches (a ``max_order_quantity`` of 10^30 is a typo, not a limit), every string
a length, symbols must look like NSE symbols, and ``pkg:`` paths may not leave the
package's data directory. ``docs/config.md`` lists every key with its bound.

A config file that is not a small UTF-8 text file (a directory, a device, a binary or
non-UTF-8 file, over ``MAX_CONFIG_BYTES``) is refused before YAML sees it. What the
config *points at* (masters, data, holiday files) is checked by ``kitetui.preflight``.
"""

from __future__ import annotations

import math
import re
import stat
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kitetui.alerts import ALERT_KINDS
from kitetui.plugins import strategy_class
from kitetui.shown import one_line
from kitetui.strict_yaml import YamlProblem, load_yaml

MAX_CONFIG_BYTES = 1 << 20  # a config is a few KiB; a megabyte is not a config


class ConfigError(Exception):
    """A config problem, already phrased for a person: ``file: key.path: reason``."""

    def __init__(self, file: str | Path, key_path: str, reason: str) -> None:
        self.file = one_line(str(file))
        self.key_path = one_line(key_path)
        self.reason = one_line(reason)
        where = f"{self.file}: {self.key_path}: " if self.key_path else f"{self.file}: "
        super().__init__(f"{where}{self.reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def _bounded(high: float, *, low: float = 0.0, inclusive_low: bool = False) -> Any:
    """A finite float in (low, high] (or [low, high]): every number has a ceiling."""
    floor = {"ge": low} if inclusive_low else {"gt": low}
    return Annotated[float, Field(le=high, allow_inf_nan=False, **floor)]


def _count(high: int, *, low: int = 1) -> Any:
    return Annotated[int, Field(ge=low, le=high)]


# Rupee and quantity ceilings: far above any real desk, far below a typo's 10^20.
MAX_RUPEES = 10**11  # ₹10,000 crore
# An NSE/Kite tradingsymbol or index name: upper case, digits, & - _ . and inner spaces
# ("NIFTY 50", "M&M", "BAJAJ-AUTO"). Lower case would silently match nothing.
_SYMBOL = re.compile(r"[A-Z0-9&](?:[A-Z0-9&_.\- ]{0,38}[A-Z0-9&_.\-])?")


def _nse_symbol(value: str) -> str:
    if _SYMBOL.fullmatch(value) is None:
        raise ValueError(
            f"{value[:50]!r} is not an NSE symbol (upper-case letters, digits, & - _ . and "
            "inner spaces, at most 40 characters)"
        )
    return value


Symbol = Annotated[str, AfterValidator(_nse_symbol)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("an argument cannot contain a NUL character")
    return value


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_SECRET_NAMES = frozenset(
    {"token", "secret", "password", "passwd", "pass", "pwd", "key", "apikey", "sig", "auth"}
)
_OPTION = re.compile(r"-{1,2}([A-Za-z][\w-]*)=.")
# A path segment that reads as a generated token: long, letters and digits (a Telegram
# bot's "bot123:AAH…", a Slack or Discord webhook's last segment).
_TOKEN_SEGMENT = re.compile(r"(?=[\w:-]*\d)(?=[\w:-]*[A-Za-z])[\w:-]{24,}")


def _names_a_secret(name: str) -> bool:
    words = re.split(r"[_\-.]", name.lower())
    return any(word in _SECRET_NAMES for word in [*words, name.lower().replace("_", "")])


def credential_in(text: str) -> str | None:
    """What in ``text`` looks like a credential (never the credential itself), or None:
    a URL with a password, a token-named query parameter or a token in its path, an
    option ``--token=…``, an Authorization header."""
    for match in _URL.finditer(text):
        try:
            parts = urlsplit(match.group())
            password = parts.password
        except ValueError:
            continue
        if password:
            return "a URL with a password"
        for name, _ in parse_qsl(parts.query, keep_blank_values=True):
            if _names_a_secret(name):
                return f"a URL whose {name!r} parameter carries a credential"
        if any(_TOKEN_SEGMENT.fullmatch(segment) for segment in parts.path.split("/")):
            return "a URL with a token in its path"
    option = _OPTION.match(text)
    naming = option and re.search(r"file|path|dir|env", option.group(1), re.IGNORECASE)
    if option and _names_a_secret(option.group(1)) and not naming:  # not --key-file=…
        return f"an option --{option.group(1)} carrying a credential"
    if re.match(r"\s*(proxy-)?authorization\s*:", text, re.IGNORECASE):
        return "an Authorization header"
    return None


def _no_credential(value: str) -> str:
    found = credential_in(value)
    if found:
        raise ValueError(
            f"{found}: secrets never go in the config (it is copied and shared, and a "
            "hook's arguments show in `ps` to every user); let the hook read it from its "
            "environment or a 0600 file"
        )
    return value


def _no_nul_path(value: str) -> str:
    """No NUL: no file name has one, and it was a traceback at the first open. (Other
    control characters are a legal, if odd, name: every message escapes them.)"""
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL character")
    return value


PathText = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_no_nul_path)]


def _inside_package(value: str) -> str:
    """``pkg:`` paths must stay inside the package data directory (``pkg:../../x``)."""
    if value.startswith("pkg:"):
        from kitetui.market.loaders import data_path  # the one resolver of pkg: paths

        try:
            data_path(value.split("*", 1)[0].rpartition("/")[0] if "*" in value else value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


DataPath = Annotated[PathText, AfterValidator(_inside_package)]


def parse_clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


_TIMEFRAMES = {"1m": 60, "3m": 180, "5m": 300, "10m": 600, "15m": 900, "30m": 1800, "60m": 3600}


class SourceConfig(_Strict):
    """Replay files: Kite-style candles, vendor ticks, or index values (1 s).

    ``path`` may be a glob (``pkg:replay/nfo_20221118/NIFTY22N*.csv.gz``); then each
    file's tradingsymbol is its name up to the first dot and ``symbol`` must be absent.
    """

    symbol: Symbol | None = None
    path: DataPath
    kind: Literal["candles", "ticks", "index"] = "candles"
    exchange: Literal["NSE", "NFO", "BSE", "BFO"] = "NSE"
    # True: a source that yields no data (no file, a glob matching nothing, no usable
    # rows) is an event, not an error; e.g. a contract that may not have traded.
    optional: bool = False

    @model_validator(mode="after")
    def _symbol_or_glob(self) -> SourceConfig:
        if "*" in self.path.rpartition("/")[0]:
            raise ValueError("only the file name may hold a '*', not the folders")
        if "*" in self.path and self.symbol:
            raise ValueError("a glob path names its symbols by file; drop 'symbol'")
        if "*" not in self.path and not self.symbol:
            raise ValueError("'symbol' is required unless 'path' is a glob")
        return self


MAX_SPEED = 100_000  # x data time; beyond this "max" is what is meant
MIN_SPEED = 0.01  # x data time: a minute of data in 100; slower is a typo (1e-320 crawled)


class ReplayConfig(_Strict):
    speed: PositiveFloat | Literal["max"] = 60.0  # at most MAX_SPEED
    sources: Annotated[list[SourceConfig], Field(min_length=1, max_length=5000)]
    # Gaps longer than this (nights, weekends, between datasets) are not slept through.
    max_gap_seconds: _bounded(3600.0) = 1.0

    @field_validator("speed", mode="before")
    @classmethod
    def _speed(cls, value: object) -> object:
        if value == "max":
            return value
        number = isinstance(value, int | float) and not isinstance(value, bool)
        # bounds first: math.isfinite of a 400-digit int raised OverflowError (a traceback)
        if number and MIN_SPEED <= value <= MAX_SPEED and math.isfinite(value):  # type: ignore[operator]
            return float(value)  # type: ignore[arg-type]
        raise ValueError(
            f"must be 'max' or a number from {MIN_SPEED:g} to {MAX_SPEED:,}, got {value!r}"
        )


class PaperConfig(_Strict):
    slippage_bps: Annotated[float, Field(ge=0, le=500, allow_inf_nan=False)] = 2.0
    tick_size: _bounded(10.0) = 0.05


class RiskConfig(_Strict):
    """Rupee limits. One source of truth: the engine and the TUI both read these.

    Each has a ceiling (``MAX_RUPEES`` and kin). Relations between them (a symbol limit
    above the day's) are pointless but not wrong, so they are left alone."""

    max_daily_loss: _bounded(MAX_RUPEES) = 20_000.0
    max_symbol_loss: _bounded(MAX_RUPEES) = 8_000.0
    max_open_positions: _count(1_000) = 5
    max_trades_per_symbol_per_day: _count(1_000) = 4
    max_gross_exposure: _bounded(10 * MAX_RUPEES) = 3_000_000.0
    max_order_value: _bounded(MAX_RUPEES) = 1_500_000.0
    max_order_quantity: _count(10_000_000) = 10_000


class SizingConfig(_Strict):
    risk_per_trade_pct: Annotated[float, Field(gt=0, le=5, allow_inf_nan=False)] = 0.5
    atr_stop_multiple: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 2.0
    max_capital_fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.25


class SessionConfig(_Strict):
    """IST clock times within a trading day (which days trade is the calendar's job).

    Intraday (MIS) positions are flattened by the engine itself at ``square_off`` for
    equities and ``square_off_fno`` for futures and options. The defaults are Zerodha's
    own auto square-off times (15:20, 15:25), right for a replay; a live config squares
    off a few minutes before them (``configs/live.example.yaml``: 15:15, 15:20), since
    the broker's RMS closes MIS positions at or after those times, for ₹50 + GST an
    order, and two closes of one position reverse it.
    """

    open: ClockTime = "09:15"
    entry_cutoff: ClockTime = "15:00"
    square_off: ClockTime = "15:20"
    square_off_fno: ClockTime = "15:25"
    close: ClockTime = "15:30"

    @model_validator(mode="after")
    def _ordered(self) -> SessionConfig:
        times = [self.open, self.entry_cutoff, self.square_off, self.close]
        fno = [self.entry_cutoff, self.square_off_fno, self.close]
        if times != sorted(times) or fno != sorted(fno):
            raise ValueError(
                "times must satisfy open <= entry_cutoff <= square_off, square_off_fno <= close"
            )
        return self


class CalendarConfig(_Strict):
    """NSE holidays ship with kitetui; an override CSV (date,description) adds to them."""

    holidays_override: DataPath | None = None


# NSE freeze quantities (units) per underlying; orders above are sliced. Check the
# exchange's circulars: they change with lot sizes.
DEFAULT_FREEZE_LIMITS = {"NIFTY": 1800, "BANKNIFTY": 900, "FINNIFTY": 1800, "MIDCPNIFTY": 2800}


def _engine_name(value: str) -> str:
    if re.fullmatch(r"[a-z][a-z0-9_]{0,15}", value) is None:
        raise ValueError(
            f"{value[:50]!r} is not an engine name (a lower-case letter, then up to 15 "
            "lower-case letters, digits or _)"
        )
    return value


class _EngineBase(_Strict):
    name: Annotated[str, AfterValidator(_engine_name)]
    strategy: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)  # the strategy's Params check it
    timeframe: Literal["1m", "3m", "5m", "10m", "15m", "30m", "60m"] = "5m"
    product: Literal["MIS", "NRML", "CNC"] = "MIS"
    # Fraction of an order's value blocked as margin (futures ~0.12, MIS equity ~0.2,
    # CNC 1.0): sizing caps positions by buying power = capital / margin_rate.
    margin_rate: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    enabled: bool = True

    @property
    def timeframe_s(self) -> int:
        return _TIMEFRAMES[self.timeframe]

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        try:
            strategy_class(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0]) if exc.args else str(exc)) from None
        return value


class EquityEngineConfig(_EngineBase):
    """NSE cash: a fixed list of symbols, or the day's universe from an index."""

    kind: Literal["equity"]
    symbols: Annotated[list[Symbol], Field(max_length=1000)] = Field(default_factory=list)
    universe: Literal["NIFTY 50", "NIFTY 100"] | None = None
    min_price: _bounded(1_000_000.0, inclusive_low=True) = 0.0
    max_count: _count(500) | None = None

    @model_validator(mode="after")
    def _symbols_or_universe(self) -> EquityEngineConfig:
        if not self.symbols and self.universe is None:
            raise ValueError("give 'symbols' or a 'universe'")
        _no_repeats("symbols", self.symbols)
        return self


class FnoEngineConfig(_EngineBase):
    """Index (or stock) futures: each underlying resolves to its near-month contract."""

    kind: Literal["fno"]
    underlyings: Annotated[list[Symbol], Field(min_length=1, max_length=50)]
    roll_sessions: Annotated[int, Field(ge=0, le=10)] = 1

    @model_validator(mode="after")
    def _unique(self) -> FnoEngineConfig:
        _no_repeats("underlyings", self.underlyings)
        return self


class OptionsEngineConfig(_EngineBase):
    """Buys index options around ATM on signals from the underlying's own bars."""

    kind: Literal["options"]
    underlying: Symbol  # as the master names it: NIFTY
    underlying_symbol: Symbol  # its price feed: NIFTY 50
    offset_steps: Annotated[int, Field(ge=-10, le=10)] = 0
    hysteresis: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = 0.5
    premium_stop_pct: Annotated[float, Field(gt=0, lt=100, allow_inf_nan=False)] = 30.0
    max_premium_at_risk: _bounded(MAX_RUPEES) = 10_000.0  # lost if the premium stop is hit
    max_premium_outlay: _bounded(MAX_RUPEES) = 200_000.0  # rupees paid for one entry at most
    expiry_day_cutoff: ClockTime = "13:30"  # expiry day: from this on, trade the next expiry


def _no_repeats(key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{key} lists {value} twice")
        seen.add(value)


EngineConfig = Annotated[
    EquityEngineConfig | FnoEngineConfig | OptionsEngineConfig, Field(discriminator="kind")
]


class KiteConfig(_Strict):
    """How to reach Kite (or ``kitetui sim-exchange`` on loopback). No secrets here:
    the API key and secret come from the environment or the 0600 credentials file, the
    access token from the 0600 token file written by ``kitetui login``."""

    root: (
        Annotated[
            str,
            Field(pattern=r"^https?://[^\s]+$", max_length=2048),
            AfterValidator(_no_credential),
        ]
        | None
    ) = None
    ws_root: (
        Annotated[
            str,
            Field(pattern=r"^wss?://[^\s]+$", max_length=2048),
            AfterValidator(_no_credential),
        ]
        | None
    ) = None
    # None: where ``kitetui login`` and ``doctor`` look too, $XDG_CONFIG_HOME/kitetui (or
    # ~/.config/kitetui) credentials.json and access_token.json (``kitetui.kite.session``)
    credentials_file: PathText | None = None
    token_file: PathText | None = None
    timeout_s: _bounded(120.0) = 7.0
    # -1 = Kite's automatic protection (Zerodha's recommendation), or a band in percent
    # (0 < p <= 100, decimals allowed). 0 is refused: Kite refuses unprotected market
    # and SL-M orders placed through the API (docs/exchange-rules.md).
    market_protection: float = -1.0
    stale_after_s: _bounded(3600.0) = 5.0
    reconcile_interval_s: _bounded(3600.0) = 5.0
    record_dir: PathText = "recordings"  # ticks received, for `kitetui replay`
    # Live: at the end of the session, hold the day's journaled charges against Kite's
    # virtual contract note (POST /charges/orders); each difference is an event.
    check_contract_note: bool = True

    @field_validator("market_protection", mode="before")
    @classmethod
    def _protection(cls, value: object) -> object:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and (value == -1 or (0 < value <= 100 and math.isfinite(value))):  # type: ignore[operator]
            return float(value)  # type: ignore[arg-type]
        raise ValueError(
            f"must be -1 (automatic protection) or a percentage in (0, 100], got {value!r}; "
            "Kite refuses market and SL-M orders without protection"
        )


class ExitConfig(_Strict):
    """How the exit manager keeps every open position protected or closing (rule 11).

    Options are protected by SL (limit) orders, since NSE refuses SL-M in options: the
    limit sits ``option_stop_limit_pct`` beyond the trigger. A closing order (or a
    triggered stop) that rests unfilled is re-priced to the last price ±
    ``reprice_band_pct`` once ``reprice_after_s`` have passed since it was placed or last
    re-priced (a stop placed earlier: as soon as it is seen triggered and resting, its
    price having run past its limit), at most ``max_modifications`` times (Kite allows 25),
    then cancelled and replaced under a new tag. An exit the broker did not accept
    (429, 5xx, a timeout not in the order book) is retried under a fresh tag after a
    backoff from ``retry_backoff_s`` doubling to ``retry_backoff_max_s``.
    """

    option_stop_limit_pct: Annotated[float, Field(gt=0, le=50, allow_inf_nan=False)] = 5.0
    reprice_after_s: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 3.0
    reprice_band_pct: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 1.0
    max_modifications: Annotated[int, Field(ge=1, le=24)] = 20
    retry_backoff_s: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)] = 0.5
    retry_backoff_max_s: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 8.0
    # A stop the exchange rejected leaves the position naked: exit at once, or only alarm.
    on_stop_rejected: Literal["exit", "alarm"] = "exit"
    # A signal against a position: close it, then enter the other side once flat
    # ("reverse"), or only close it ("exit_only").
    on_opposite_signal: Literal["reverse", "exit_only"] = "reverse"


class JournalConfig(_Strict):
    flush_interval_ms: Annotated[int, Field(ge=10, le=10_000)] = 200
    flush_rows: Annotated[int, Field(ge=1, le=100_000)] = 2_000
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # every HOLD as a signal row (debugging a strategy), not counted per day (holds.py)
    hold_rows: bool = False


class AlertsConfig(_Strict):
    """Which events ring the bell, notify the desktop and run the hook (kitetui/alerts.py)."""

    bell: bool = True
    desktop: bool = True  # OSC 9 / OSC 777 desktop notifications from the terminal
    # an argument list, run without a shell, the alert as JSON on stdin
    command: (
        Annotated[
            list[
                Annotated[
                    str,
                    Field(min_length=1, max_length=4096),
                    AfterValidator(_no_nul),
                    AfterValidator(_no_credential),
                ]
            ],
            Field(min_length=1, max_length=64),
        ]
        | None
    ) = None
    max_per_minute: _count(600) = 6
    timeout_s: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 10.0
    kinds: Annotated[list[Literal[ALERT_KINDS]], Field(max_length=len(ALERT_KINDS))] | None = (
        None  # None: all
    )


class UiConfig(_Strict):
    refresh_hz: Annotated[float, Field(ge=0.5, le=30, allow_inf_nan=False)] = 4.0


class AppConfig(_Strict):
    mode: Literal["replay", "paper", "live"] = "replay"
    database: PathText = "state.db"
    capital: _bounded(MAX_RUPEES) = 1_000_000.0
    replay: ReplayConfig | None = None
    kite: KiteConfig | None = None
    allow_live: bool = False  # live orders need this AND `--live` (or the TUI's typed yes)
    # What SIGTERM (or quitting) does with open intraday positions before the checkpoint.
    on_stop: Literal["leave", "square_off"] = "leave"
    paper: PaperConfig = PaperConfig()
    risk: RiskConfig = RiskConfig()
    sizing: SizingConfig = SizingConfig()
    session: SessionConfig = SessionConfig()
    calendar: CalendarConfig = CalendarConfig()
    # Kite-format instrument masters (the CSV of KiteConnect.instruments()); replay
    # datasets carry their own, with the lot sizes of their time.
    # In paper and live modes an empty list means: Kite's dump, fetched once a day.
    instruments: Annotated[list[DataPath], Field(max_length=64)] = Field(default_factory=list)
    freeze_limits: Annotated[dict[Symbol, _count(100_000)], Field(max_length=500)] = Field(
        default_factory=lambda: dict(DEFAULT_FREEZE_LIMITS)
    )
    engines: Annotated[list[EngineConfig], Field(min_length=1, max_length=64)]
    exits: ExitConfig = ExitConfig()
    journal: JournalConfig = JournalConfig()
    ui: UiConfig = UiConfig()
    alerts: AlertsConfig = AlertsConfig()

    @model_validator(mode="after")
    def _consistent(self) -> AppConfig:
        self._check_mode_sections()
        self._check_engines_apart()
        return self

    def _check_mode_sections(self) -> None:
        """Each mode has the sections it needs (arming live is checked when it is run:
        ``check_armed``)."""
        if self.mode == "replay":
            if self.replay is None:
                raise ValueError("mode replay needs a 'replay:' section with its sources")
            if not self.instruments:
                raise ValueError("mode replay needs 'instruments:' (the dataset's masters)")
        elif self.kite is None:
            raise ValueError(f"mode {self.mode} needs a 'kite:' section (root, token file)")

    def _check_engines_apart(self) -> None:
        """Engine names are unique and no symbol (or options chain) has two owners."""
        names = [engine.name for engine in self.engines]
        if len(set(names)) != len(names):
            raise ValueError(f"engine names must be unique, got {names}")
        owners: dict[str, str] = {}
        for engine in self.engines:
            claims = list(getattr(engine, "symbols", ()))
            claims += list(getattr(engine, "underlyings", ()))
            if isinstance(engine, OptionsEngineConfig):
                claims.append(f"{engine.underlying} options")
            for claim in claims:
                if claim in owners:
                    raise ValueError(f"{claim} is traded by both {owners[claim]} and {engine.name}")
                owners[claim] = engine.name


def check_armed(config: AppConfig, file: str | Path) -> None:
    """Refuse to *run* a live config that is not armed (``allow_live: true``).

    Arming is a run-time matter, not a property of a valid file: ``check-config`` and
    ``doctor`` check the shipped ``live.example.yaml`` (``allow_live: false``) like any
    other config, and only starting it is refused (with ``--live`` required besides)."""
    if config.mode == "live" and not config.allow_live:
        raise ConfigError(
            file,
            "allow_live",
            "mode live places real orders: set 'allow_live: true' in this config "
            "and start with --live",
        )


_ENGINE_KINDS = frozenset({"equity", "fno", "options"})


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for index, item in enumerate(loc):
        if item in _ENGINE_KINDS and index >= 2 and loc[index - 2] == "engines":
            continue  # the discriminated union's tag is not a key the user wrote
        if item == "[key]":
            continue  # pydantic's marker for "the key itself", already named before it
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def _first_error(file: str | Path, error: ValidationError, prefix: str = "") -> ConfigError:
    first = error.errors()[0]
    loc = tuple(part for part in first["loc"] if not str(part).startswith("function-"))
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    path = _key_path(loc)
    if prefix:
        path = prefix if path == "(top level)" else f"{prefix}.{path}"
    more = len(error.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(file, path, message)


def parse_config(data: object, file: str | Path = "<config>") -> AppConfig:
    if not isinstance(data, dict):
        raise ConfigError(file, "", "the file must hold a mapping of keys")
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_error(file, exc) from None
    for index, engine in enumerate(config.engines):
        _check_strategy(file, index, engine)
    return config


def _check_strategy(file: str | Path, index: int, engine: _EngineBase) -> None:
    """The engine's ``params:`` against its strategy's Params, then its timeframe
    against the strategy's own rule (``Strategy.timeframe_problem``), so neither
    becomes an error on the run's first bar."""
    strategy = strategy_class(engine.strategy)
    try:
        params = strategy.Params.model_validate(engine.params)
    except ValidationError as exc:
        raise _first_error(file, exc, prefix=f"engines[{index}].params") from None
    problem = strategy.timeframe_problem(params, engine.timeframe_s)
    if problem is not None:
        raise ConfigError(file, f"engines[{index}].timeframe", problem)


def read_config_text(path: str | Path) -> str:
    """The file's text, or ``ConfigError`` when it is not a small UTF-8 text file.

    Checked before reading: a directory, a FIFO or a device (``/dev/zero`` would never
    end) is refused by its type, a huge file by its size; then a NUL byte marks a binary
    file and the bytes must decode as UTF-8 (a leading BOM is dropped).
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(path, "", "is a directory, not a config file")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(path, "", "not a regular file (a device, FIFO or socket?)")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            path, "", f"file too large ({info.st_size:,} bytes; a config is at most 1 MiB)"
        )
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(path, "", "file too large (a config is at most 1 MiB)")
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        raise ConfigError(
            path, "", f"a binary file, not YAML text (NUL byte at line {_line_of(raw, offset)})"
        )
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            "",
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {_line_of(raw, exc.start)}",
        ) from None


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def read_config_data(path: str | Path) -> object:
    """The file parsed by ``kitetui.strict_yaml`` (no duplicates, no coercion, no bombs)."""
    text = read_config_text(path)
    try:
        return load_yaml(text)
    except YamlProblem as exc:
        reason = f"line {exc.line}: {exc.reason}" if exc.line else exc.reason
        raise ConfigError(path, exc.key_path, reason) from None


def load_config(path: str | Path) -> AppConfig:
    """Read, parse and validate a config file; every problem is one ``ConfigError``."""
    path = Path(path)
    return parse_config(read_config_data(path), path)
