"""The one command, ``kitetui``, and its subcommands.

``kitetui`` alone is ``kitetui run`` on the embedded default config: paper trading on
a replay of real NSE data shipped inside the package, in the TUI. Exit codes: 0 done,
2 bad config or usage (a database path that cannot hold a database included), 3 database
refused (damaged, foreign or undecodable: left untouched), 4 bad data files, 5 Kite
login needed (a token refused mid-session stops the run resumable: log in and start
again), 6 the database could not be written: a full disk, an I/O error, a file size
limit (what was committed is kept; start again once fixed and the run resumes), 7 another
desk is running on this database (its pid is named; nothing is changed), 1 anything
unexpected (its traceback). Each comes with one line on stderr, any secret kitetui has
read (the Kite API key and secret, the access token) shown as ``***``.

The process runs with umask 077 from its first line: the database, its WAL, the
recordings, exports and the control socket are the trade history and stay 0600.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kitetui import startup
from kitetui.secret_values import format_unexpected, scrub
from kitetui.shown import escaped
from kitetui.store.errors import (
    DatabasePathError,
    DatabaseRefused,
    WriteFailed,
    find_cause,
    is_disk_full,
)
from kitetui.store.lock import DeskLocked

if TYPE_CHECKING:
    from kitetui.config import AppConfig

# kitetui.config (pydantic, its models, the strategies it checks params against: ~0.2 s
# of CPU) is imported by the commands that read a config, not by every command: `runs`,
# `export`, `report` and `ctl` with --db, `--help`, need none of it.

DEFAULT_CONFIG = Path(__file__).resolve().parent / "data" / "dev.yaml"

EXIT_CONFIG = 2
EXIT_DATABASE = 3
EXIT_DATA = 4
EXIT_LOGIN = 5
EXIT_DISK_FULL = 6
EXIT_LOCKED = 7  # another desk holds this database
# kitetui.export.WHATS, spelt here so the parser needs no import of the report code
EXPORTS = ("orders", "fills", "trades", "equity", "signals", "events", "holds")
DESK_COMMANDS = frozenset({"run", "backtest", "replay"})  # the ones that run a desk


def _day(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _speed(value: str) -> float | None:
    """``--speed``: 'max', or a factor within the config's bounds (one trailing x)."""
    from kitetui.config import MAX_SPEED, MIN_SPEED

    if value == "max":
        return None
    try:
        speed = float(value.removesuffix("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speed must be a number or 'max', got {escaped(value[:40])!r}"
        ) from None
    if not (MIN_SPEED <= speed <= MAX_SPEED and math.isfinite(speed)):
        raise argparse.ArgumentTypeError(
            f"speed must be from {MIN_SPEED:g} to {MAX_SPEED:,} or 'max', got {escaped(value[:40])}"
        )
    return speed


def db_arg(value: str) -> str:
    """``--db``: a path to a database (``~`` expanded), never empty or with a NUL (each
    was a traceback); other control characters are legal and escaped wherever shown."""
    if not value or "\x00" in value:
        raise argparse.ArgumentTypeError(
            f"--db must name a file, without a NUL, got {escaped(value)!r}"
        )
    return os.path.expanduser(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kitetui", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run the desk (the TUI, or headless with --no-ui)")
    run.add_argument(
        "--config",
        "-c",
        default=str(DEFAULT_CONFIG),
        help="YAML config (default: the embedded demo, paper on replay)",
    )
    run.add_argument(
        "--db", type=db_arg, help="SQLite database file (default: 'database:' in the config)"
    )
    run.add_argument("--no-ui", action="store_true", help="run headless and print a summary")
    run.add_argument(
        "--speed",
        type=_speed,
        default=argparse.SUPPRESS,
        help="replay speed: a multiple like 60 or 'max' (default: the config's)",
    )
    run.add_argument(
        "--log-level",
        default="ERROR",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="headless: print journal events at or above this level",
    )
    run.add_argument(
        "--live",
        action="store_true",
        help="confirm live trading (needs mode: live and allow_live: true)",
    )
    run.add_argument(
        "--new-run",
        action="store_true",
        help="begin a new run instead of resuming the last one; live: also when the last "
        "run still holds positions or orders (close them at Kite first)",
    )
    replay = commands.add_parser(
        "replay", help="replay a recorded paper/live session through the paper broker"
    )
    replay.add_argument("recording", help="a .ticks.gz file from the session's record_dir")
    replay.add_argument(
        "--config",
        "-c",
        default=str(DEFAULT_CONFIG),
        help="the session's config (its engines, risk and sizing)",
    )
    replay.add_argument("--db", type=db_arg, help="SQLite database file for the replay's journal")
    replay.add_argument("--speed", type=_speed, default=None, help="default: max")
    backtest = commands.add_parser(
        "backtest",
        help="replay a config's data at full speed through the desk and write a report",
    )
    backtest.add_argument("--config", "-c", default=str(DEFAULT_CONFIG))
    backtest.add_argument("--from", dest="first", type=_day, help="first day (YYYY-MM-DD)")
    backtest.add_argument("--to", dest="last", type=_day, help="last day (YYYY-MM-DD)")
    backtest.add_argument("--strategy", help="run every engine on this strategy instead")
    backtest.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[ENGINE.]NAME=VALUE",
        help="set a strategy param (repeatable; ENGINE. limits it to one engine)",
    )
    backtest.add_argument(
        "--db",
        type=db_arg,
        help="SQLite database for the run (default: backtests.db, never state.db)",
    )
    backtest.add_argument("--out", help="report directory (default: reports/<run id>)")
    sweep = commands.add_parser(
        "sweep", help="the same backtest for every point of a parameter grid, in parallel"
    )
    sweep.add_argument("--config", "-c", default=str(DEFAULT_CONFIG))
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="[ENGINE.]NAME=START:STOP:STEP|a,b,c",
        help="a param's values (repeatable: the sweep runs every combination)",
    )
    sweep.add_argument("--from", dest="first", type=_day, help="first day (YYYY-MM-DD)")
    sweep.add_argument("--to", dest="last", type=_day, help="last day (YYYY-MM-DD)")
    sweep.add_argument(
        "--walk-forward",
        metavar="IN:OUT",
        help="re-optimise on IN trading days, judge on the next OUT (e.g. 60d:20d)",
    )
    sweep.add_argument(
        "--workers", type=_at_least_one, help="local worker processes (default: every core)"
    )
    sweep.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run the points on Ray: alone a local Ray, or a cluster (ray://host:10001)",
    )
    sweep.add_argument("--out", help="results directory (default: sweeps/<UTC time>)")
    sweep.add_argument(
        "--keep-runs", action="store_true", help="keep each point's journal in OUT/runs/"
    )
    sweep.add_argument(
        "--top", type=_at_least_one, default=20, help="rows in the table (default 20)"
    )
    report = commands.add_parser("report", help="write the report of a past run again")
    report.add_argument(
        "run", nargs="?", default="latest", help="run id, a unique prefix of one, or latest"
    )
    report.add_argument("--db", type=db_arg, help="the run's database (default: backtests.db)")
    report.add_argument("--out", help="report directory (default: reports/<run id>)")
    report.add_argument("--list", action="store_true", help="list the database's runs")
    listing = commands.add_parser(
        "strategies", help="list the strategies with their params, defaults and bounds"
    )
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    runs = commands.add_parser("runs", help="list the runs a database holds (read-only)")
    runs.add_argument("--db", type=db_arg, help="the database (default: the config's)")
    runs.add_argument("--config", "-c", default=str(DEFAULT_CONFIG))
    runs.add_argument("--json", action="store_true", help="print one JSON document")
    export = commands.add_parser("export", help="one table of a run as CSV (read-only)")
    export.add_argument("--what", required=True, choices=EXPORTS, help="what to export")
    export.add_argument("--out", required=True, help="the CSV file to write, or - for stdout")
    export.add_argument("--run", default="latest", help="a run id or its prefix (default: latest)")
    export.add_argument("--db", type=db_arg, help="the database (default: the config's)")
    export.add_argument("--config", "-c", default=str(DEFAULT_CONFIG))
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config")
    login = commands.add_parser(
        "login", help="log in to Kite: print the login URL, exchange the redirect for a token"
    )
    _session().add_login_arguments(login)
    doctor = commands.add_parser("doctor", help="check config, token, database, connectivity")
    doctor.add_argument("--config", "-c", default=str(DEFAULT_CONFIG))
    _session().add_doctor_arguments(doctor)
    sim = commands.add_parser(
        "sim-exchange",
        help="run the local Kite-compatible exchange on 127.0.0.1 (--help for its options)",
        add_help=False,
    )
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    commands.add_parser(
        "ctl",
        help="control a running desk: status, start, stop, pause, "
        "resume, kill, reset-kill, flatten, cancel (--help for more)",
        add_help=False,
    )
    attach = commands.add_parser("attach", help="open the TUI on a running headless desk")
    attach.add_argument(
        "--db",
        default="state.db",
        type=db_arg,
        help="the desk's database (its socket is beside it)",
    )
    attach.add_argument("--socket", help="the control socket, if not beside the database")
    instruments = commands.add_parser("instruments", help="the instrument master")
    which = instruments.add_subparsers(dest="instruments_command", required=True)
    search = which.add_parser(
        "search", help="find contracts: kitetui instruments search nifty 18300 ce"
    )
    search.add_argument("text", nargs="+", help="words that must all match")
    search.add_argument(
        "--config",
        "-c",
        default=str(DEFAULT_CONFIG),
        help="the config whose 'instruments:' masters are searched",
    )
    search.add_argument(
        "--master", action="append", help="search this Kite instruments CSV instead (repeatable)"
    )
    search.add_argument("--limit", type=int, default=20)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # before anything is created: nothing kitetui writes is for others
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")  # `kitetui`, `kitetui --no-ui`: run is the default
    if argv[0] not in DESK_COMMANDS:
        startup.release()  # no desk to hand held signals to: they act as they always do
    if argv[:1] == ["sim-exchange"]:  # the exchange parses its own options
        from kitetui.sim.server import main as sim_main

        return sim_main(argv[1:])
    if argv[:1] == ["ctl"]:  # so does the control client
        from kitetui.control.ctl import run_ctl

        return run_ctl(argv[1:])
    args = parser.parse_args(argv)
    try:
        tool = _TOOLS.get(args.command)
        return tool(args) if tool is not None else _desk_command(args)
    except Exception as exc:
        code, shown = _classify(exc)
        if code == 1:  # unexpected: its traceback, any secret in it as *** (secret_values)
            sys.stderr.write(format_unexpected(exc))
            return code
        print(f"error: {escaped(scrub(str(shown)))}", file=sys.stderr)
        return code


def _doctor(args: argparse.Namespace) -> int:
    return _session().run_doctor(
        args.config,
        credentials_path=args.credentials,
        token_path=args.token,
        root=args.root,
        database=args.db,
    )


#: The commands that do not run a desk: each reads its own arguments.
_TOOLS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check-config": lambda args: _check_config(args.config),
    "strategies": lambda args: _list_strategies(args.json),
    "instruments": lambda args: _instruments_search(args),
    "runs": lambda args: _list_runs(args),
    "export": lambda args: _export(args),
    "attach": lambda args: _attach(args),
    "report": lambda args: _report(args),
    "sweep": lambda args: _sweep(args),
    "login": lambda args: _session().run_login(args, sys.stdin, sys.stdout),
    "doctor": _doctor,
}


def _desk_command(args: argparse.Namespace) -> int:
    """``run``, ``replay`` and ``backtest``: a config, its inputs checked, then a desk."""
    command = args.command
    if command == "replay":  # the file the user named, before any database
        from kitetui.store.recording import check_recording

        check_recording(Path(args.recording))
    from kitetui.config import check_armed, load_config

    config = load_config(args.config)
    _preflight(config, args.config)
    if command == "backtest":
        return _backtest(config, args)
    if command == "replay":
        return _headless(
            config, args.config, args.db, args.speed, "ERROR", recording=args.recording
        )
    check_armed(config, args.config)
    if config.mode == "live" and not args.live:
        print(
            f"error: {escaped(args.config)}: mode: live places real orders; start it with --live",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    speed = getattr(args, "speed", "config")
    if args.no_ui:
        return _headless(config, args.config, args.db, speed, args.log_level, new_run=args.new_run)
    return _tui(config, args.config, args.db, speed, new_run=args.new_run)


def _backtest(config: AppConfig, args: argparse.Namespace) -> int:
    """``kitetui backtest``: the desk at full speed on the config's replay, then the report."""
    from kitetui.backtest.report_run import DEFAULT_DATABASE
    from kitetui.backtest.runner import (
        BacktestRequest,
        apply_overrides,
        parse_param,
        run_backtest,
    )
    from kitetui.config import ConfigError
    from kitetui.market.replay import DateWindow

    overrides = [parse_param(text) for text in args.param]
    config = apply_overrides(config, args.strategy, overrides)
    try:
        window = DateWindow(args.first, args.last) if args.first or args.last else None
    except ValueError as exc:
        raise ConfigError("--from/--to", "", str(exc)) from None
    request = BacktestRequest(
        config=config,
        config_path=args.config,
        database=Path(args.db) if args.db else DEFAULT_DATABASE,
        out=Path(args.out) if args.out else None,
        window=window,
    )
    return run_backtest(request)


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _sweep(args: argparse.Namespace) -> int:
    """``kitetui sweep``: every grid point's backtest, ranked; bad flags exit 2 before
    any point runs."""
    from kitetui.config import ConfigError, load_config, read_config_data
    from kitetui.market.replay import DateWindow
    from kitetui.sweep.executors import LocalPool, RayPool, check_ray_address
    from kitetui.sweep.grid import parse_axis
    from kitetui.sweep.local_pool import check_workers
    from kitetui.sweep.runner import (
        Sweep,
        SweepRequest,
        default_out,
        exit_code,
        plan,
        stop_signals,
    )
    from kitetui.sweep.windows import parse_walk_forward

    config = load_config(args.config)
    if config.mode != "replay":
        raise ConfigError(args.config, "mode", f"a sweep replays data: not mode {config.mode}")
    try:
        window = DateWindow(args.first, args.last) if args.first or args.last else None
    except ValueError as exc:
        raise ConfigError("--from/--to", "", str(exc)) from None
    request = SweepRequest(
        config=config,
        config_path=args.config,
        raw=read_config_data(args.config),
        axes=[parse_axis(text) for text in args.grid],
        window=window,
        out=Path(args.out) if args.out else default_out(),
        walk_forward=parse_walk_forward(args.walk_forward) if args.walk_forward else None,
        keep_runs=args.keep_runs,
        top=args.top,
    )
    plan(request)  # a bad axis is one line and exit 2, before any worker starts
    if args.ray is not None and args.workers is not None and args.ray:
        raise ConfigError("--workers", "", "a Ray cluster has its own CPUs: drop --workers")
    check_workers(args.workers)
    _preflight(config, args.config)
    try:
        if args.ray is not None:
            executor = RayPool(check_ray_address(args.ray) or None, args.workers)
        else:
            executor = LocalPool(args.workers)
        try:
            with stop_signals():  # after ray.init, which installs a SIGTERM handler of its own
                sweep = Sweep(request, executor)
                outcome = sweep.run()
                sweep.print_summary(sys.stdout)
        finally:
            executor.close()
    except KeyboardInterrupt as stopped:  # before the sweep began, or while it was reported
        print("sweep interrupted", file=sys.stderr)
        return exit_code(stopped)
    if outcome.interrupted:
        return outcome.exit_code
    return 0 if any(result.ok for result in outcome.results) else 1


def _report(args: argparse.Namespace) -> int:
    """``kitetui report [RUN]``: the report of a past run, from its database read-only."""
    from kitetui.backtest.report_run import DEFAULT_DATABASE, list_report_runs, write_report

    database = Path(args.db) if args.db else DEFAULT_DATABASE
    _verify_closed(database)
    if args.list:
        return list_report_runs(database, sys.stdout)
    write_report(database, args.run, Path(args.out) if args.out else None, sys.stdout)
    return 0


def _verify_closed(database: Path) -> None:
    """A closed database verifies before a read-only command reports from it
    (``store.verify.verify_closed``)."""
    from kitetui.store.verify import verify_closed

    verify_closed(database)


def _report_errors() -> tuple[type[BaseException], ...]:
    # The run asked for is not in the database, or the report folder is not writable.
    from kitetui.backtest.errors import OutputError, RunNotFound

    return (RunNotFound, OutputError)


def _session():
    from kitetui.kite import session

    return session


def _check_config(path: str) -> int:
    """The config, what it points at and (for a replay) its data: ``check-config``."""
    from kitetui.config import load_config
    from kitetui.preflight import check_inputs

    config = load_config(path)
    report = check_inputs(config, path, scan_data=True)
    for line in report.warnings:
        print(f"warning: {escaped(line)}", file=sys.stderr)
    days = f" ({len(report.days)} replay day(s))" if report.days else ""
    armed = ""
    if config.mode == "live":
        armed = (
            " (live, armed: allow_live is true)"
            if config.allow_live
            else " (live, not armed: `run` needs allow_live: true and --live)"
        )
    print(f"{escaped(path)}: ok{days}{armed}")
    return 0


def _preflight(config: AppConfig, path: str) -> None:
    """Before any database or trade: the files the config names exist and the
    masters are usable (the data itself is loaded once, by the supervisor)."""
    from kitetui.preflight import check_inputs

    check_inputs(config, path, scan_data=False)


def _universe_error() -> type[BaseException]:
    # A universe with no membership list for a replayed day: a config problem (exit 2).
    from kitetui.market.universe import UniverseError

    return UniverseError


def _classify(error: BaseException) -> tuple[int, BaseException]:
    """The exit code for ``error`` and the exception whose message to print.

    A full disk wins wherever it is in the chain: shutting down after one tries to write
    again and fails in other ways, and the first failure is the one that explains it.
    """
    full = find_cause(error, WriteFailed)
    if full is None:
        seen: BaseException | None = error
        while seen is not None and not is_disk_full(seen):
            seen = seen.__cause__ or seen.__context__
        full = seen
    if full is not None:
        return EXIT_DISK_FULL, full
    if isinstance(
        error, (*_config_error(), DatabasePathError, _universe_error(), *_report_errors())
    ):
        return EXIT_CONFIG, error
    if isinstance(error, DatabaseRefused):
        return EXIT_DATABASE, error
    if isinstance(error, _run_still_holds()):
        return EXIT_CONFIG, error
    if isinstance(error, DeskLocked):
        return EXIT_LOCKED, error
    if isinstance(error, _control_socket_error()):
        return EXIT_CONFIG, error
    if isinstance(error, _session().KiteAuthError):
        return EXIT_LOGIN, error
    if isinstance(error, _data_errors()):
        return EXIT_DATA, error
    return 1, error


def _exit_code(error: BaseException) -> int:
    return _classify(error)[0]


def _config_error() -> tuple[type[BaseException], ...]:
    """``ConfigError`` once kitetui.config is loaded; before, nothing can have raised one
    (and a refusal is no reason to load it)."""
    config = sys.modules.get("kitetui.config")
    return (config.ConfigError,) if config is not None else ()


def _run_still_holds() -> tuple[type[BaseException], ...]:
    """``RunStillHolds`` once kitetui.store.runs is loaded (a desk's start loads it);
    before, nothing can have raised one. Not imported at the top: it brings aiosqlite,
    the domain and the journal's rows into every command (``--help``, ``login``, ``ctl``,
    ``sweep``, ``report``: ~0.07 s of CPU each) for an ``isinstance`` on the way out."""
    runs = sys.modules.get("kitetui.store.runs")
    return (runs.RunStillHolds,) if runs is not None else ()


def _control_socket_error() -> type[BaseException]:
    from kitetui.control.server import ControlSocketError

    return ControlSocketError


def _data_errors() -> tuple[type[BaseException], ...]:
    from kitetui.market.instruments import InstrumentError
    from kitetui.market.loaders import DataFormatError
    from kitetui.store.recording import RecordingError

    return (DataFormatError, InstrumentError, RecordingError)


def _list_strategies(as_json: bool) -> int:
    """One line a strategy, name first, then ``param=default bounds``; or JSON."""
    from kitetui.plugins import strategy_catalog

    specs = strategy_catalog()
    if as_json:
        import json

        print(json.dumps([spec.as_dict() for spec in specs], indent=2))
    else:
        for spec in specs:
            print(spec.line())
    return 0


def _export(args: argparse.Namespace) -> int:
    from kitetui.export import export

    database = args.db if args.db else _config_database(args.config)
    _verify_closed(Path(database))
    run_id = export(Path(database), args.run, args.what, args.out)
    if args.out != "-":
        print(f"{args.what} of run {run_id} written to {escaped(args.out)}", file=sys.stderr)
    return 0


def _config_database(path: str) -> str:
    """The database a config names (``--db`` not given)."""
    from kitetui.config import load_config

    return load_config(path).database


def _list_runs(args: argparse.Namespace) -> int:
    from kitetui.runs_listing import list_runs, render

    database = args.db if args.db else _config_database(args.config)
    _verify_closed(Path(database))
    print(render(list_runs(Path(database)), args.json))
    return 0


def _instruments_search(args: argparse.Namespace) -> int:
    from kitetui.config import load_config
    from kitetui.market.instruments import load_masters
    from kitetui.market.loaders import data_path

    specs = args.master or load_config(args.config).instruments
    master, _events = load_masters([data_path(spec) for spec in specs])
    found = master.search(" ".join(args.text), limit=args.limit)
    if not found:
        print(f"no instrument matches {' '.join(args.text)!r}", file=sys.stderr)
        return 1
    print(
        f"{'exchange:tradingsymbol':<28} {'token':>11} {'type':<4} {'expiry':<10} "
        f"{'strike':>9} {'lot':>5} {'tick':>5}  name"
    )
    for i in found:
        expiry = i.expiry.isoformat() if i.expiry else ""
        strike = f"{i.strike:g}" if i.strike else ""
        print(
            f"{i.key:<28} {i.instrument_token:>11} {i.instrument_type:<4} {expiry:<10} "
            f"{strike:>9} {i.lot_size:>5} {i.tick_size:>5g}  {i.name}"
        )
    return 0


def _make_supervisor(
    config: AppConfig,
    config_path: str,
    db: str | None,
    speed,
    recording: str | None = None,
    new_run: bool = False,
):
    from kitetui.supervisor import Supervisor

    supervisor = Supervisor(config, config_path, database=db, speed=speed, recording=recording)
    supervisor.new_run = new_run
    return supervisor


def _database_reads(supervisor):
    """What a screen may read of this desk's database besides its snapshot (the Runs
    screen, history search, exports): read-only, in a thread, after a journal flush."""
    from kitetui.history_reads import DatabaseReads

    async def flush() -> None:
        await supervisor.journal.flush()

    return DatabaseReads(supervisor.db_path, current_run=lambda: supervisor.run_id, flush=flush)


def _headless(
    config: AppConfig,
    config_path: str,
    db: str | None,
    speed,
    log_level: str,
    recording: str | None = None,
    new_run: bool = False,
) -> int:
    from kitetui.report import configure_headless_logging, format_event_line, format_summary

    levels = ["DEBUG", "INFO", "WARNING", "ERROR"]
    configure_headless_logging(log_level)
    threshold = levels.index(log_level)
    supervisor = _make_supervisor(config, config_path, db, speed, recording, new_run)

    async def main_async() -> int:
        from kitetui.desk import Desk
        from kitetui.notify import Notifier, status_line, watchdog_loop

        loop = asyncio.get_running_loop()
        desk = Desk(supervisor, reads=_database_reads(supervisor))
        desk.install_signals(loop)  # first: a signal during start-up is never lost
        notifier = Notifier.from_env()
        tasks: list[asyncio.Task[None]] = []

        async def report_status() -> None:
            while True:
                notifier.status(status_line(supervisor.published))
                await asyncio.sleep(5)

        def trading() -> None:
            if threshold < len(levels):
                supervisor.trader.listeners.append(
                    lambda event: (
                        levels.index(event.level) >= threshold
                        and print(format_event_line(event), flush=True)
                    )
                )
            notifier.ready()
            healthy = lambda: supervisor.feed_state in ("RUNNING", "FINISHED")  # noqa: E731
            tasks.append(loop.create_task(watchdog_loop(notifier, healthy)))
            tasks.append(loop.create_task(report_status()))

        try:
            summary = await desk.serve(on_market=trading)
        finally:
            notifier.stopping()
            for task in tasks:
                task.cancel()
            notifier.close()
        if summary is None:
            print(f"stopped before trading began ({escaped(str(supervisor.db_path))})")
            return 0
        print(format_summary(supervisor.summary, config, escaped(str(supervisor.db_path))))
        return 0 if supervisor.feed_state in ("FINISHED", "STOPPED") else 1

    return asyncio.run(main_async())


def _attach(args: argparse.Namespace) -> int:
    """The same TUI, on a daemon's control socket; quitting it leaves the daemon trading."""
    from kitetui.control.link import RemoteLink
    from kitetui.control.protocol import socket_path_for
    from kitetui.tui.app import make_app

    path = Path(args.socket) if args.socket else socket_path_for(Path(args.db))
    if not path.exists():
        print(
            f"error: no desk is listening at {escaped(str(path))}: is `kitetui run --no-ui` "
            "running with this database?",
            file=sys.stderr,
        )
        return EXIT_DATABASE
    unreachable = _unreachable(path)
    if unreachable is not None:  # a dead desk's socket, a FIFO: said before the screen opens
        print(f"error: {escaped(unreachable)}", file=sys.stderr)
        return EXIT_DATABASE
    link = RemoteLink(path)
    app = make_app(link)
    app.run()
    # A desk that goes away while attached is reconnected to, not a failure; only one
    # gone between the check above and the screen's first connection ends it here.
    if link.failure() is not None:
        return EXIT_DATABASE
    return app.return_code or 0


def _unreachable(path: Path) -> str | None:
    """Why no desk answers at ``path`` (``ctl``'s one-line reason), or None if one does."""
    from kitetui.control.client import ControlClient, ControlError

    async def probe() -> None:
        async with ControlClient(path):
            pass

    try:
        asyncio.run(probe())
    except ControlError as exc:
        return str(exc)
    return None


def _tui(config: AppConfig, config_path: str, db: str | None, speed, new_run: bool = False) -> int:
    from kitetui.control.link import LocalLink
    from kitetui.runner import SupervisorThread
    from kitetui.tui.app import make_app

    started = time.perf_counter()
    supervisor = _make_supervisor(config, config_path, db, speed, new_run=new_run)
    runner = SupervisorThread(supervisor, reads=_database_reads(supervisor))
    runner.start()
    runner.store_ready.wait()  # a refused database exits before the screen takes over
    if runner.error is not None:
        raise runner.error
    app = make_app(LocalLink(runner), refresh_hz=config.ui.refresh_hz)
    app.started_at = started  # for the first-frame figure
    # The screen owns the main thread: SIGUSR1 still pulls the kill switch on the desk's
    # loop, and SIGTERM ends the screen, which stops the desk the graceful way.
    signal.signal(signal.SIGUSR1, lambda *_: runner.request_kill("SIGUSR1"))
    signal.signal(signal.SIGTERM, lambda *_: app.exit())
    if not startup.ignored(signal.SIGHUP):  # the terminal went away (not under nohup)
        signal.signal(signal.SIGHUP, lambda *_: app.exit())
    for signum in startup.take():  # what arrived while the desk was starting
        if signum == signal.SIGUSR1:
            runner.request_kill("SIGUSR1")
        else:
            app.exit()
    try:
        app.run()
    finally:
        runner.stop()
    if runner.error is not None:  # the screen has already said why
        return _exit_code(runner.error)
    saved = escaped(str(runner.supervisor.db_path))
    print(f"state saved to {saved} (run {runner.supervisor.run_id})")
    # A screen that died on an error (Textual printed it) stopped the desk with it: not
    # the 0 of a trader's q, or a wrapper restarting on failure would never hear of it.
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
