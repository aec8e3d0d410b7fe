"""``kitetui backtest`` and ``kitetui report``: run the desk headless at full speed on
a replay config, then write the run's report; or write the report of a past run.

A backtest is the desk (``Desk`` + ``Supervisor`` on the replay venue, speed max), not
a second pipeline. What it adds is around the run: the config's engines overridden
from the command line (``--strategy``, ``--param``), the data cut to ``--from``/``--to``,
its own database (``backtests.db`` unless ``--db`` names one: never the desk's
``state.db`` by accident), a progress bar, and the report, built from the journal
alone so ``kitetui report`` rebuilds it the same way later (``report_run``: the report
and that command, which need none of what runs a desk).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import shutil
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, TextIO, get_args, get_origin

from pydantic import ValidationError

from kitetui.backtest.errors import OutputError
from kitetui.backtest.files import check_report_folder
from kitetui.backtest.ledger import STARTED_KIND
from kitetui.backtest.progress import BacktestProgress
from kitetui.backtest.report_run import DEFAULT_REPORTS, _report_text
from kitetui.child_signals import ignored_by_children
from kitetui.config import AppConfig, ConfigError, one_line
from kitetui.domain import Event
from kitetui.events import EventKind
from kitetui.market.replay import DateWindow
from kitetui.plugins import strategy_class
from kitetui.shown import escaped

_ENGINE_PREFIX = re.compile(r"([a-z][a-z0-9_]{0,15})\.(.+)")


@dataclass(frozen=True, slots=True)
class ParamOverride:
    """``--param [ENGINE.]NAME=VALUE``: VALUE as typed, converted per the param's type."""

    text: str
    engine: str | None
    name: str
    raw: str


def parse_day(text: str) -> date:
    """``--from``/``--to``: an ISO date (argparse turns the ValueError into exit 2)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from None


def parse_param(text: str) -> ParamOverride:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"--param {text}", "", "expected NAME=VALUE or ENGINE.NAME=VALUE")
    name = name.strip()
    scoped = _ENGINE_PREFIX.fullmatch(name)
    if scoped:
        return ParamOverride(text, scoped[1], scoped[2], raw.strip())
    return ParamOverride(text, None, name, raw.strip())


def _to_bool(raw: str) -> bool:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValueError(f"expected true or false, got {raw!r}")


def _to_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None


def _to_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


_CONVERTERS: dict[Any, Callable[[str], Any]] = {bool: _to_bool, int: _to_int, float: _to_float}


def _convert(annotation: Any, raw: str) -> Any:
    """The typed value of ``raw`` for a param declared as ``annotation``."""
    convert = _CONVERTERS.get(annotation)
    if convert is not None:
        return convert(raw)
    if get_origin(annotation) is Literal:
        for choice in get_args(annotation):
            if str(choice) == raw:
                return choice
        known = "|".join(str(c) for c in get_args(annotation))
        raise ValueError(f"expected one of {known}, got {raw!r}")
    return raw


def apply_overrides(
    config: AppConfig, strategy: str | None, overrides: list[ParamOverride]
) -> AppConfig:
    """The config with every engine's strategy replaced (``--strategy``: its params start
    from the strategy's defaults, unless the engine already runs that strategy: then
    from the config's, which naming it again must not silently drop) and params set;
    each engine's params validated strictly by its strategy's ``Params`` model. A
    problem is one ``ConfigError`` line naming the flag. ``ENGINE.NAME`` wins over
    ``NAME`` for its engine whatever their order on the command line; the same param
    twice is refused, not last-one-wins."""
    _check_names(config, strategy, overrides)
    used: set[str] = set()
    engines = [_overridden(engine, strategy, overrides, used) for engine in config.engines]
    for override in overrides:
        if override.text not in used:
            raise ConfigError(f"--param {override.text}", "", _unused(override, overrides))
    return config.model_copy(update={"engines": engines})


def _unused(override: ParamOverride, overrides: list[ParamOverride]) -> str:
    """Why an override set nothing: no strategy has the param, or (a plain NAME) every
    engine that has it is set by its own ``ENGINE.NAME``, which wins."""
    shadows = [o.text.split("=")[0] for o in overrides if o.engine and o.name == override.name]
    if override.engine is None and shadows:
        return f"sets nothing: {', '.join(shadows)} wins over it on every engine with it"
    return f"no engine's strategy has a param {override.name!r}"


def _check_names(config: AppConfig, strategy: str | None, overrides: list[ParamOverride]) -> None:
    """The strategy and every engine an override names exist."""
    if strategy is not None:
        try:
            strategy_class(strategy)
        except KeyError as exc:
            raise ConfigError(f"--strategy {strategy}", "", str(exc.args[0])) from None
    names = {engine.name for engine in config.engines}
    seen: dict[tuple[str | None, str], ParamOverride] = {}
    for override in overrides:
        earlier = seen.setdefault((override.engine, override.name), override)
        if earlier is not override:
            raise ConfigError(
                f"--param {override.text}", "", f"set twice (also --param {earlier.text})"
            )
        if override.engine is not None and override.engine not in names:
            raise ConfigError(
                f"--param {override.text}",
                "",
                f"no engine {override.engine!r} (engines: {', '.join(sorted(names))})",
            )


def _overridden(
    engine: Any, strategy: str | None, overrides: list[ParamOverride], used: set[str]
) -> Any:
    """One engine with its strategy and params as the flags set them, validated."""
    name = strategy if strategy is not None else engine.strategy
    params_model = strategy_class(name).Params
    params = {} if strategy not in (None, engine.strategy) else dict(engine.params)
    own = {o.name for o in overrides if o.engine == engine.name}  # they win over NAME
    for override in sorted(overrides, key=lambda o: o.engine is not None):  # scoped last
        if override.engine not in (None, engine.name):
            continue
        if override.engine is None and override.name in own:
            continue
        field = params_model.model_fields.get(override.name)
        if field is None:
            if override.engine is None:
                continue  # a plain NAME applies where the strategy has it
            known = ", ".join(params_model.model_fields) or "none"
            raise ConfigError(
                f"--param {override.text}",
                "",
                f"{name} has no param {override.name!r} (its params: {known})",
            )
        try:
            params[override.name] = _convert(field.annotation, override.raw)
        except ValueError as exc:
            raise ConfigError(f"--param {override.text}", "", str(exc)) from None
        used.add(override.text)
    flag = "--param" if overrides else "--strategy"
    try:
        typed = params_model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(flag, f"{engine.name}.{where}", reason) from None
    problem = strategy_class(name).timeframe_problem(typed, engine.timeframe_s)
    if problem is not None:  # as the config check does: one line, not a failed engine
        raise ConfigError(flag, f"{engine.name}.timeframe", problem)
    return engine.model_copy(update={"strategy": name, "params": params})


def _hook_off(hook: list[str]) -> Event:
    return Event(
        ts_ns=0,
        kind=EventKind.ALERT_HOOK_OFF,
        message=f"alerts.command ({one_line(hook[0])}) is not run by a backtest or a sweep: "
        "their fills are simulated (`kitetui run` runs it, in every mode)",
    )


def _started_event(config: AppConfig, config_path: str, window: DateWindow | None) -> Event:
    engines = [
        {"name": e.name, "kind": e.kind, "strategy": e.strategy, "params": dict(e.params)}
        for e in config.engines
    ]
    first = window.first.isoformat() if window and window.first else None
    last = window.last.isoformat() if window and window.last else None
    return Event(
        ts_ns=0,
        kind=STARTED_KIND,
        message=f"backtest of {config_path}: "
        + ", ".join(f"{e['name']}={e['strategy']}" for e in engines),
        data={
            "config": config_path,
            "capital": config.capital,
            "engines": engines,
            "from": first,
            "to": last,
        },
    )


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    config: AppConfig
    config_path: str
    database: Path
    out: Path | None
    window: DateWindow | None


def run_backtest(request: BacktestRequest, stdout: TextIO | None = None) -> int:
    """Run the backtest to the end of its data, then write and print its report."""
    if request.out is not None and request.out.exists() and not request.out.is_dir():
        # said before the run, not after it (the run would be in the database, its report
        # not written)
        raise OutputError(f"{request.out}: cannot write the report (a file, not a folder)")
    if request.out is not None and request.out.is_dir():
        try:
            check_report_folder(request.out)  # said before the run too
        except OSError as exc:
            raise OutputError(f"{request.out}: cannot write the report ({exc.strerror})") from None
    ended = run_to_end(request, interactive=True)
    out = sys.stdout if stdout is None else stdout
    # Cut short by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM), so a script
    # tells a partial report from a finished one; the report still covers what ran. (A
    # signal that comes once the data have ended cuts nothing short.)
    cut = ended.stop_signal if ended.feed_state != "FINISHED" else None
    if ended.run_id is None:
        print(f"stopped before trading began ({escaped(str(request.database))})", file=out)
        return 0 if cut is None else 128 + cut
    try:
        write_report_apart(request.database, ended.run_id, request.out, out)
    except KeyboardInterrupt:  # a Ctrl-C once the run was over: one line, no traceback
        print(f"kitetui: stopped by SIGINT while writing the report of run {ended.run_id}; "
              f"`kitetui report {ended.run_id} --db {escaped(str(request.database))}` "
              "writes it again",
              file=sys.stderr)  # fmt: skip
        return 128 + signal.SIGINT
    if cut is not None:
        name = signal.Signals(cut).name
        print(f"stopped by {name} before the end of its data: the report covers what ran",
              file=out)  # fmt: skip
        return 128 + cut
    return 0 if ended.feed_state in ("FINISHED", "STOPPED") else 1


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a backtest's desk ended: its run (``None`` when it stopped before trading
    began) and the feed's last state (FINISHED: the data ran out)."""

    run_id: str | None
    feed_state: str
    stop_signal: int | None = None  # the signal that stopped it (Ctrl-C, SIGTERM), if any


def run_to_end(request: BacktestRequest, *, interactive: bool) -> RunEnd:
    """The desk on the request's replay at full speed, until its data end.

    ``interactive``: the command's own run, with Ctrl-C/SIGTERM stopping the desk, a
    progress bar and a control socket. A sweep's point runs in a worker of its own with
    none of these: the sweep's process owns the terminal and its signals.
    """
    from kitetui.desk import Desk
    from kitetui.supervisor import Supervisor
    from kitetui.venues.replay import ReplayVenue

    config = request.config
    if config.mode != "replay":
        raise ConfigError(
            request.config_path,
            "mode",
            f"a backtest replays data: mode must be replay, not {config.mode}",
        )
    hook = config.alerts.command
    if hook:  # a trader's phone hears of real fills only: not of a backtest's thousands
        config = config.model_copy(
            update={"alerts": config.alerts.model_copy(update={"command": None})}
        )
    supervisor = Supervisor(
        config,
        request.config_path,
        database=request.database,
        speed=None,
        window=request.window,
    )

    stopped_by: list[int | None] = [None]

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        desk = Desk(supervisor, control=interactive)
        if interactive:
            desk.install_signals(loop)
        progress = BacktestProgress(lambda: supervisor.clock.now_ns)
        progress.enabled = progress.enabled and interactive

        def trading() -> None:
            supervisor.trader.record_event(
                _started_event(config, request.config_path, request.window)
            )
            if hook:
                supervisor.trader.record_event(_hook_off(hook))
            if isinstance(supervisor.venue, ReplayVenue):  # always, in mode replay
                progress.start(*supervisor.venue.span_ns)

        try:
            summary = await desk.serve(on_market=trading)
        finally:
            await progress.stop()
            stopped_by[0] = desk.stop_signal
        return summary is not None

    ran = asyncio.run(main())
    return RunEnd(supervisor.run_id if ran else None, supervisor.feed_state, stopped_by[0])


def write_report_apart(
    database: Path,
    run: str,
    out: Path | None,
    stdout: TextIO,
    job: Callable[[Path, str, Path | None, bool, int | None], str] | None = None,
) -> None:
    """``report_run.write_report`` in a fresh process, its summary printed here.

    The report needs only the database, and a run leaves its process holding memory it
    has freed: on a year of 20 symbols the interpreter kept ~160 MB after the run, and
    the report's ledger (~150 MB) came on top of it (the command peaked at ~318 MB,
    against 268 MB for ``kitetui report`` alone). Built apart, the command's peak is
    the larger of the two. The summary is printed as a terminal here would print it.
    ``job``: what the process runs (``_report_text``; a test gives one that dies)."""
    tty = stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        # A Ctrl-C reaches the terminal's whole process group: it is this process's to
        # handle; the report process finishes its files (submit starts it).
        with ignored_by_children((signal.SIGINT,)):
            future = pool.submit(job or _report_text, database, run, out, tty, width)
        try:
            text = future.result()
        except BrokenProcessPool:
            raise OutputError(
                f"{out or DEFAULT_REPORTS}: the report's process died before it finished; "
                f"`kitetui report {run} --db {database}` writes it again"
            ) from None
    stdout.write(text)
    stdout.flush()
