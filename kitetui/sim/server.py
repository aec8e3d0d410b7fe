"""Run the local Kite-compatible exchange: REST (aiohttp) + ticker (WebSocket) + clock.

``SimConfig`` is the YAML (``configs/sim-exchange.yaml``), validated strictly like
``kitetui.config``: a ``replay`` section exactly like the app's (speed, sources,
max_gap_seconds), the instrument masters, the accounts (api_key and user_id; the
api_secret is read from the environment variable the account names, never from the
file), rate limits on/off, matching options and faults armed at start.

``SimServer`` builds the market and exchange, serves the REST app on ``host:port``
(0 = a free port) and, when ``kitetui/sim/ticker.py`` is importable, its
``TickerServer`` on ``ws_port``; ``start()`` prints nothing, ``run_sim_exchange``
prints one line with both URLs and the api_key(s), plays the market clock at the
configured speed (or leaves it to ``/_sim/market/*`` with ``--speed manual``; with
``--start-on-connect`` the first minute at once and the rest from the first ticker
connection) and
stops cleanly on cancellation or ``stop``. ``main(argv)`` is the CLI (flags below);
the app's ``kitetui sim-exchange`` command wraps it.

The ``rules`` section switches Kite's and NSE's order rules (``kitetui.sim.rules``,
docs/exchange-rules.md); each is on unless the file turns it off, and the shipped
config has them all on. ``--relax RULE`` turns one off for a run, ``--whole-fills``
turns partial fills off, ``--liquidity-fraction F`` sets their share.

Ticker faults (``ticker:drop``, ``ticker:silent``) are applied by the server: one at a
time while at least one WebSocket client is connected (a ``silent`` fault holds the
next one back for its duration).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kitetui.config import ConfigError, ReplayConfig
from kitetui.market.instruments import InstrumentError
from kitetui.market.loaders import DataFormatError
from kitetui.sim.exchange import SimAccount, SimExchange
from kitetui.sim.faults import FaultSpecError, parse_fault_spec
from kitetui.sim.market import SimMarket
from kitetui.sim.rest import create_app
from kitetui.sim.rules import SimRules

__all__ = [
    "DEFAULT_CONFIG",
    "RELAXABLE",
    "HoldingConfig",
    "SimAccountConfig",
    "SimConfig",
    "SimRulesConfig",
    "SimServer",
    "build_arg_parser",
    "load_sim_config",
    "main",
    "parse_sim_config",
    "run_sim_exchange",
]

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "sim-exchange.yaml"
DEFAULT_SECRET_ENV = "KITETUI_SIM_API_SECRET"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Port = Annotated[int, Field(ge=0, le=65535)]


class HoldingConfig(_Strict):
    tradingsymbol: Annotated[str, Field(min_length=1)]
    exchange: Literal["NSE", "BSE"] = "NSE"
    quantity: Annotated[int, Field(gt=0)]
    average_price: PositiveFloat
    isin: str = ""


class SimAccountConfig(_Strict):
    """One Kite Connect app + user. The secret lives in the environment only."""

    api_key: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")]
    user_id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")]
    api_secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = DEFAULT_SECRET_ENV
    user_name: str = "Sim Trader"
    user_shortname: str = "Sim"
    email: str = "sim@example.invalid"
    cash: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1_000_000.0
    commodity_cash: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    holdings: list[HoldingConfig] = Field(default_factory=list)
    redirect_url: str | None = None


class SimRulesConfig(_Strict):
    """Kite's and NSE's order rules (``kitetui.sim.rules.SimRules``); all on by default."""

    sl_m_options: bool = True  # refuse SL-M on options
    require_market_protection: bool = True  # refuse MARKET / SL-M without market_protection
    circuit_limits: bool = True  # refuse prices and triggers outside the day's circuit
    lpp: bool = True  # NSE's limit price protection band for options
    tag_alphanumeric: bool = True  # tags of letters and digits only
    amo_hours: bool = True  # refuse AMOs 9:00/9:10 AM-3:45 PM IST (place, modify, cancel)
    cnc_holdings: bool = True  # reject CNC sells beyond the holdings
    day_end: bool = True  # DAY orders lapse at the close; each day's order book starts empty
    auto_square_off: bool = True  # the RMS squares off MIS at 15:20/15:25; no fresh MIS after
    # share of each recorded trade an order may take (partial fills); null = whole fills
    liquidity_fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = 0.25

    def to_rules(self) -> SimRules:
        return SimRules(**self.model_dump())


RELAXABLE = (
    "sl_m_options",
    "require_market_protection",
    "circuit_limits",
    "lpp",
    "tag_alphanumeric",
    "amo_hours",
    "cnc_holdings",
    "day_end",
    "auto_square_off",
)


#: What ``start_on_connect`` plays before a ticker client connects: the first minute.
OPENING_NS = 60 * 1_000_000_000


class SimConfig(_Strict):
    host: str = "127.0.0.1"
    port: Port = 0  # REST; 0 = a free port
    ws_port: Port = 0  # ticker; 0 = a free port
    replay: ReplayConfig
    manual_clock: bool = False  # true: the clock moves only via /_sim/market/*
    # true: after the data's first minute the clock waits for the first ticker client,
    # so a desk slow to start (a loaded machine) still finds the session near its open
    start_on_connect: bool = False
    instruments: Annotated[list[str], Field(min_length=1)]
    accounts: Annotated[list[SimAccountConfig], Field(min_length=1)]
    rate_limits: bool = True
    fill_on_placement: bool = True
    enforce_margins: bool = True
    slippage_bps: Annotated[float, Field(ge=0, le=500, allow_inf_nan=False)] = 2.0
    freeze_limits: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)
    token_ttl_seconds: PositiveFloat | None = None
    expire_tokens_on_new_day: bool = False
    rules: SimRulesConfig = Field(default_factory=SimRulesConfig)
    faults: list[str] = Field(default_factory=list)

    @field_validator("faults")
    @classmethod
    def _faults(cls, value: list[str]) -> list[str]:
        for spec in value:
            try:
                parse_fault_spec(spec)
            except FaultSpecError as exc:
                raise ValueError(str(exc)) from None
        return value


def _error(file: str | Path, error: ValidationError) -> ConfigError:
    first = error.errors()[0]
    parts: list[str] = []
    for item in first["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif not str(item).startswith("function-"):
            parts.append(("." if parts else "") + str(item))
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    message = message.removeprefix("Value error, ")
    return ConfigError(file, "".join(parts) or "(top level)", message)


def parse_sim_config(data: object, file: str | Path = "<sim config>") -> SimConfig:
    if not isinstance(data, dict):
        raise ConfigError(file, "", "the file must hold a mapping of keys")
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise _error(file, exc) from None


def load_sim_config(path: str | Path = DEFAULT_CONFIG) -> SimConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"not valid YAML: {exc}") from None
    return parse_sim_config(data, path)


# ====================================================================== the server


def _resolve_secrets(
    config: SimConfig, given: dict[str, str] | None, warn: Callable[[str], Any]
) -> dict[str, str]:
    """api_key -> secret: ``given`` first, then each account's environment variable;
    a missing one is generated (and announced) so a demo still runs."""
    out: dict[str, str] = {}
    for account in config.accounts:
        secret = (given or {}).get(account.api_key) or os.environ.get(account.api_secret_env)
        if not secret:
            secret = secrets.token_hex(16)
            warn(
                f"sim-exchange: ${account.api_secret_env} is not set; api_key "
                f"{account.api_key} uses the generated secret {secret}"
            )
        out[account.api_key] = secret
    return out


class SimServer:
    """The exchange as a running service; ``async with SimServer(config) as sim``."""

    def __init__(
        self,
        config: SimConfig,
        *,
        host: str | None = None,
        port: int | None = None,
        ws_port: int | None = None,
        secrets: dict[str, str] | None = None,
        ticker: bool = True,
        clock: Callable[[], float] = time.time,
        warn: Callable[[str], Any] | None = None,
    ) -> None:
        self.config = config
        self.host = host or config.host
        self._port = config.port if port is None else port
        self._ws_port = config.ws_port if ws_port is None else ws_port
        warn = warn or (lambda text: print(text, file=sys.stderr))
        self.secrets = _resolve_secrets(config, secrets, warn)
        self.market = SimMarket(config.replay, config.instruments)
        for event in self.market.load_events:  # skipped rows, synthetic tokens, the cache
            if event.level in ("WARNING", "ERROR"):
                warn(f"sim-exchange: {event.kind}: {event.message}")
        self.exchange = SimExchange(
            self.market,
            [
                SimAccount(
                    api_key=a.api_key,
                    api_secret=self.secrets[a.api_key],
                    user_id=a.user_id,
                    user_name=a.user_name,
                    user_shortname=a.user_shortname,
                    email=a.email,
                    cash=a.cash,
                    commodity_cash=a.commodity_cash,
                    holdings=[h.model_dump() for h in a.holdings],
                    redirect_url=a.redirect_url,
                )
                for a in config.accounts
            ],
            slippage_bps=config.slippage_bps,
            fill_on_placement=config.fill_on_placement,
            freeze_limits=config.freeze_limits,
            token_ttl_s=config.token_ttl_seconds,
            expire_tokens_on_new_day=config.expire_tokens_on_new_day,
            enforce_margins=config.enforce_margins,
            rules=config.rules.to_rules(),
            clock=clock,
        )
        for spec in config.faults:
            self.exchange.faults.add_spec(spec)
        self.app = create_app(self.exchange, rate_limits=config.rate_limits, clock=clock)
        self.want_ticker = ticker
        self.ticker: Any = None
        self.ticker_note = ""
        self._runner: web.AppRunner | None = None
        self._rest_port: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._rest_port is None:
            raise RuntimeError("SimServer is not started")
        return self._rest_port

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str | None:
        return self.ticker.url if self.ticker is not None else None

    async def start(self) -> None:
        self.exchange.faults.rearm_hangs()
        runner = web.AppRunner(self.app, shutdown_timeout=2.0, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self._rest_port = int(sockets[0].getsockname()[1]) if sockets else self._port
        if self.want_ticker:
            await self._start_ticker()

    async def _start_ticker(self) -> None:
        try:
            from kitetui.sim.ticker import TickerServer
        except ImportError as exc:
            if exc.name not in ("kitetui.sim.ticker", "websockets"):
                raise
            self.ticker_note = f"ticker not started: {exc}"
            return
        self.ticker = TickerServer(self.exchange, self.market, self.host, self._ws_port)
        await self.ticker.start()
        self._tasks.append(asyncio.create_task(self._ticker_faults()))

    async def _ticker_faults(self) -> None:
        """Apply armed ``ticker:`` faults while someone is connected."""
        while not self._stop.is_set():
            await asyncio.sleep(0.2)
            ticker = self.ticker
            if ticker is None or not getattr(ticker, "connection_count", 0):
                continue
            fault = self.exchange.faults.take_ticker()
            if fault is None:
                continue
            if fault.kind == "drop":
                ticker.drop_all()
            else:
                seconds = fault.seconds or 0.0
                ticker.go_silent(seconds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def run_clock(self) -> None:
        """Play the market at the configured speed until the data ends or ``stop``."""
        if self.config.manual_clock:
            await self._stop.wait()
            return
        if self.config.start_on_connect:
            # The opening minute plays at once, so a desk reading quotes before it
            # connects its ticker (the exchange's clock, the day's last prices) finds them.
            self.market.advance_to(self.market.start_ns + OPENING_NS)
            await self._first_connection()
            if self._stop.is_set():
                return
        speed = self.config.replay.speed
        await self.market.run(
            None if speed == "max" else float(speed),
            max_gap_s=self.config.replay.max_gap_seconds,
            stop=self._stop,
        )

    async def _first_connection(self) -> None:
        """Wait until a ticker client is connected (or ``stop``); without a ticker there
        is nothing to wait for, and the clock starts at once."""
        while not self._stop.is_set():
            ticker = self.ticker
            if ticker is None or getattr(ticker, "connection_count", 0):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.05)

    async def stop(self) -> None:
        self._stop.set()
        self.exchange.faults.release_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=2.0)
        self._tasks.clear()
        if self.ticker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ticker.stop(), timeout=5.0)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await asyncio.wait_for(runner.cleanup(), timeout=10.0)

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def banner(self) -> str:
        keys = ", ".join(a.api_key for a in self.config.accounts)
        ws = self.ws_url or f"(none: {self.ticker_note or 'ticker disabled'})"
        return f"sim-exchange: REST {self.rest_url}  WS {ws}  api_key {keys}"


async def run_sim_exchange(
    config: SimConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ws_port: int = 0,
    stop: asyncio.Event | None = None,
    out: Callable[[str], Any] = print,
    ready: Callable[[SimServer], Any] | None = None,
) -> None:
    """Start the exchange, print one line with its URLs, play the clock, and stop
    cleanly when ``stop`` is set, the task is cancelled or (``--speed`` numeric/max)
    never by itself: the server stays up after the data ends."""
    server = SimServer(config, host=host, port=port, ws_port=ws_port)
    await server.start()
    try:
        out(server.banner())
        if ready is not None:
            ready(server)
        clock = asyncio.create_task(server.run_clock())
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            clock.cancel()
            await asyncio.gather(clock, return_exceptions=True)
    finally:
        await server.stop()


# ====================================================================== CLI


def _speed(text: str) -> float | str:
    if text in ("max", "manual"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speed must be a positive number, 'max' or 'manual', not {text!r}"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be positive, not {text!r}")
    return value


def _fault(text: str) -> str:
    try:
        parse_fault_spec(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_arg_parser(prog: str = "kitetui sim-exchange") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local Kite-compatible exchange that replays data files.",
        epilog=(
            "Fault SPEC: ROUTE:KIND[:COUNT][:key=value,...], e.g. place_order:timeout, "
            "orders:503:2, quote:429:*, '*:token', profile:delay:1:seconds=2, "
            "'place_order:reject:1:message=Insufficient funds', ticker:drop, "
            "ticker:silent:1:seconds=10. See kitetui/sim/faults.py."
        ),
    )
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="sim YAML config")
    parser.add_argument("--host", default=None, help="bind address (default from config)")
    parser.add_argument("--port", type=int, default=None, help="REST port (0 = free)")
    parser.add_argument("--ws-port", type=int, default=None, help="ticker port (0 = free)")
    parser.add_argument("--speed", type=_speed, default=None, help="N (x), 'max' or 'manual'")
    parser.add_argument(
        "--start-on-connect",
        action="store_true",
        help="start the market clock when the first ticker client connects",
    )
    parser.add_argument(
        "--fault", type=_fault, action="append", default=[], metavar="SPEC", help="arm a fault"
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="disable Kite's limits")
    parser.add_argument(
        "--relax",
        action="append",
        default=[],
        choices=RELAXABLE,
        metavar="RULE",
        help=f"turn one of Kite's order rules off for this run: {', '.join(RELAXABLE)}",
    )
    fills = parser.add_mutually_exclusive_group()
    fills.add_argument("--whole-fills", action="store_true", help="no partial fills")
    fills.add_argument(
        "--liquidity-fraction",
        type=_fraction,
        default=None,
        metavar="F",
        help="share (0-1] of each recorded trade an order may take",
    )
    return parser


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be in (0, 1], not {text!r}")
    return value


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The YAML at ``args.config`` with the command line's flags laid over it."""
    config = load_sim_config(args.config)
    updates: dict[str, Any] = {}
    if args.speed == "manual":
        updates["manual_clock"] = True
    elif args.speed is not None:
        updates["replay"] = config.replay.model_copy(update={"speed": args.speed})
    if args.start_on_connect:
        updates["start_on_connect"] = True
    if args.fault:
        updates["faults"] = [*config.faults, *args.fault]
    if args.no_rate_limits:
        updates["rate_limits"] = False
    rule_updates = _rule_flags(args)
    if rule_updates:
        updates["rules"] = config.rules.model_copy(update=rule_updates)
    updates.update(_address_flags(args))
    return config.model_copy(update=updates) if updates else config


def _rule_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The exchange rules the flags relax, and the liquidity they set."""
    rule_updates: dict[str, Any] = dict.fromkeys(args.relax, False)
    if args.whole_fills:
        rule_updates["liquidity_fraction"] = None
    elif args.liquidity_fraction is not None:
        rule_updates["liquidity_fraction"] = args.liquidity_fraction
    return rule_updates


def _address_flags(args: argparse.Namespace) -> dict[str, Any]:
    """``--host``, ``--port`` and ``--ws-port`` when given."""
    names = ("host", "port", "ws_port")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def main(argv: list[str] | None = None) -> int:
    """``kitetui sim-exchange [flags]``: run until Ctrl-C. Exit 2 on a config error."""
    args = build_arg_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def _run() -> None:
        await run_sim_exchange(config, config.host, config.port, ws_port=config.ws_port)

    try:
        asyncio.run(_run())
    except KeyboardInterrupt:
        pass
    except (ConfigError, DataFormatError, InstrumentError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
