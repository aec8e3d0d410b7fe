"""``kitetui sweep``: the same backtest for every point of a grid, in parallel, ranked.

A plain sweep runs every point over the whole window (``--from``/``--to``). A
walk-forward sweep (``--walk-forward IN:OUT``) runs every point on each fold's IN
days, takes each fold's best (``results.rank_key``) and runs it on the OUT days that
follow: the table shows only those out-of-sample runs, the figures a trader
re-optimising every OUT days would have had. results.csv keeps the in-sample rows
too (phase ``in``), so the choice can be checked.

Output, in ``--out`` (default ``sweeps/<time>``): results.csv and best.yaml, both
rewritten as points finish (at most once a second) and at the end; with
``--keep-runs``, each point's journal in ``runs/`` (``kitetui report --db
runs/point-0003.db``). Ctrl-C stops the sweep: points in
flight are dropped, finished ones stay in results.csv, and the exit code is 130;
SIGTERM and SIGHUP (``stop_signals``) stop it the same way, exit 143 and 129.
"""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kitetui.backtest.errors import OutputError
from kitetui.backtest.runner import ParamOverride, apply_overrides, parse_param
from kitetui.config import AppConfig, ConfigError, one_line
from kitetui.domain import Event
from kitetui.market.replay import DateWindow
from kitetui.performance.metrics import drawdown_of, sharpe
from kitetui.private_files import make_private_dir
from kitetui.sweep.executors import PointExecutor
from kitetui.sweep.grid import (
    MAX_POINTS,
    GridAxis,
    GridPoint,
    check_axes,
    check_points,
    expand,
)
from kitetui.sweep.point import PointJob, PointResult
from kitetui.sweep.progress import SweepProgress
from kitetui.sweep.results import (
    FIGURE,
    best_of,
    claim_csv,
    failures,
    inert_lines,
    rerun_command,
    results_table,
    rupees,
    tied,
    traded,
    unpriced,
    write_best,
    write_csv,
)
from kitetui.sweep.scratch import SWEEP_PREFIX
from kitetui.sweep.windows import Fold, WalkForward, folds

if TYPE_CHECKING:  # rich is imported where the summary is drawn (a refusal never is)
    from rich.table import Table

#: results.csv and best.yaml are rewritten whole as points finish, at most this often
#: (and at the end): ranked, every rewrite costs the driver time in the number of rows,
#: 50 ms at 10,000, which rewriting after each point would make quadratic.
WRITE_EVERY_S = 1.0


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the sweep waits so it stops as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_received: list[int] = []  # the stop signals ``stop_signals`` caught, in order


def exit_code(stopped: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process a signal ended. The
    signal is remembered as well as raised: code between the handler and the sweep
    (Ray's ``wait``) may re-raise a plain KeyboardInterrupt in its place."""
    signum = getattr(stopped, "signum", None)
    if signum is None:
        signum = _received[-1] if _received else signal.SIGINT
    return 128 + int(signum)


@contextmanager
def _handling(signums: Sequence[int], handler: Any) -> Iterator[None]:
    """``handler`` for each of ``signums`` but those ignored (``nohup kitetui sweep``
    stays immune to a hang-up), the handlers before it restored after."""
    held = [
        (s, signal.signal(s, handler)) for s in signums if signal.getsignal(s) is not signal.SIG_IGN
    ]
    try:
        yield
    finally:
        for signum, before in held:
            signal.signal(signum, before if before is not None else signal.SIG_DFL)


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) and SIGHUP (the terminal closed) stop the
    sweep as Ctrl-C does: finished points kept, workers stopped, files complete. Left
    to their default they would end the process at once, leaving its workers running
    and its scratch files behind."""

    def stop(signum: int, _frame: object) -> None:
        _received.append(signum)
        raise StopSignal(signum)

    _received.clear()
    with _handling((signal.SIGTERM, signal.SIGHUP), stop):
        yield


@contextmanager
def held_stops() -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP held while a stopped sweep ends its workers and writes
    its files (results.csv is rewritten at most once a second: the last second's points
    are only in the final write), then acted on: raised once the files are complete.
    Main thread only (elsewhere signals do not reach Python)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        arrived.append(signum)

    with _handling((signal.SIGINT, signal.SIGTERM, signal.SIGHUP), hold):
        yield
    if arrived:
        raise KeyboardInterrupt if arrived[0] == signal.SIGINT else StopSignal(arrived[0])


@dataclass(frozen=True, slots=True)
class SweepRequest:
    config: AppConfig
    config_path: str
    raw: Any  # the config file's data, for best.yaml
    axes: list[GridAxis]
    window: DateWindow | None
    out: Path
    walk_forward: WalkForward | None = None
    keep_runs: bool = False
    top: int = 20


@dataclass(slots=True)
class SweepOutcome:
    results: list[PointResult] = field(default_factory=list)
    interrupted: bool = False
    exit_code: int = 0  # when interrupted: 128 + the signal's number
    wall_s: float = 0.0
    best: PointResult | None = None


def default_out(root: Path = Path("sweeps")) -> Path:
    """``sweeps/<UTC time>``, or ``…-2``, ``…-3`` when a sweep started in the same second
    has it: a folder the user did not name is never one already taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = root / stamp
    n = 1
    while out.exists():
        n += 1
        out = root / f"{stamp}-{n}"
    return out


def plan(request: SweepRequest) -> list[GridPoint]:
    """The grid's points, each checked: a bad axis, or a grid with no valid point, is a
    ``ConfigError`` (exit 2)."""
    check_axes(request.config, request.axes)
    points = expand(request.axes)
    check_points(request.config, points)
    return points


class Sweep:
    """One sweep's run: jobs out to the executor, results into the files."""

    def __init__(
        self, request: SweepRequest, executor: PointExecutor, stderr: TextIO | None = None
    ) -> None:
        self.request = request
        self.executor = executor
        self.names = [axis.name for axis in request.axes]
        self.outcome = SweepOutcome()
        self._stderr = stderr if stderr is not None else sys.stderr
        self._written = -math.inf  # when the files were last written (monotonic)
        self._folds: list[Fold] = []  # a walk-forward's, once planned
        self._trading_days: list[date] = []  # a walk-forward's, once planned
        self._planned = 0  # the grid's points, once planned
        self._started = time.perf_counter()
        # Points' temporary journals, when they run on this machine: in a folder of this
        # sweep's own under OUT (``run`` makes it), removed at its end, a Ctrl-C's
        # cut-short points' included.
        self.scratch: Path | None = None

    def job(self, point: GridPoint, window: DateWindow | None, fold: int, phase: str) -> PointJob:
        database = None
        if self.request.keep_runs:
            prefix = f"f{fold:02d}-{phase}-" if fold else ""
            name = f"{prefix}point-{point.index:04d}.db"
            database = (self.request.out / "runs" / name).resolve()
        return PointJob(
            point.index,
            point.params,
            self.request.config,
            self.request.config_path,
            window,
            database,
            fold,
            phase,
            self.scratch,
        )

    def run(self) -> SweepOutcome:
        request = self.request
        points = plan(request)
        self._planned = len(points)
        folds_ = []
        if request.walk_forward is not None:
            folds_ = self.folds(request.walk_forward)
            self._folds = folds_
            runs = len(points) * len(folds_)
            if runs > MAX_POINTS:  # every point runs once a fold
                raise ConfigError(
                    "--walk-forward",
                    "",
                    f"{len(points):,} points × {len(folds_):,} folds = {runs:,} runs "
                    f"(at most {MAX_POINTS:,} a sweep)",
                )
        else:  # unusable data, or a window without data: one line, not N failed points
            self._days()
        taken = OutputError(
            f"{request.out}: already holds a sweep's results.csv (give another --out)"
        )
        if (request.out / "results.csv").exists():  # another sweep's: never overwritten
            raise taken
        if os.path.lexists(request.out / "best.yaml"):  # someone's config: never replaced
            raise OutputError(f"{request.out}: already holds a best.yaml (give another --out)")
        if request.keep_runs and (request.out / "runs").is_symlink():  # planted in a shared --out
            raise OutputError(
                f"{request.out}/runs: is a symbolic link; a sweep never writes its runs through it"
            )
        try:
            make_private_dir(request.out)
            # Claimed atomically: of two sweeps started on one --out, the second stops here
            # (it would mix its rows into the first's files and remove its scratch).
            claim_csv(request.out / "results.csv", self.names)
            if request.keep_runs:
                make_private_dir(request.out / "runs")
            if self.executor.shares_disk:
                self.scratch = Path(tempfile.mkdtemp(prefix=SWEEP_PREFIX, dir=request.out))
                self.scratch = self.scratch.resolve()
        except FileExistsError:
            raise taken from None
        except OSError as exc:
            raise OutputError(f"{request.out}: cannot write the sweep ({exc.strerror})") from None
        self._started = time.perf_counter()
        try:
            if request.walk_forward is None:
                self._plain(points)
            else:
                self._walk_forward(points, folds_)
        except KeyboardInterrupt as stopped:
            self.outcome.interrupted = True
            self.outcome.exit_code = exit_code(stopped)
            with held_stops():  # a second Ctrl-C waits for the workers' end and the files
                self.executor.abort()
                self._drop_unfinished_runs()
                self._finish()
        else:
            with held_stops():
                self._finish()
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
        return self.outcome

    def _finish(self) -> None:
        """The files with every finished point (a stopped sweep's: the header at least)."""
        self._write()
        self.outcome.wall_s = time.perf_counter() - self._started

    def _run_jobs(self, jobs: Sequence[PointJob], progress: SweepProgress) -> list[PointResult]:
        done = []
        for result in self.executor.run(jobs):
            done.append(result)
            self.outcome.results.append(result)
            progress.update(result)
            if time.monotonic() - self._written >= WRITE_EVERY_S:
                self._write()
        return done

    def _plain(self, points: list[GridPoint]) -> None:
        window = self.request.window
        jobs = [self.job(point, window, 0, "sweep") for point in points]
        with SweepProgress(len(jobs), stream=self._stderr) as progress:
            self._run_jobs(jobs, progress)

    def _walk_forward(self, points: list[GridPoint], plan_: list[Fold]) -> None:
        jobs = [self.job(p, f.in_sample, f.number, "in") for f in plan_ for p in points]
        with SweepProgress(len(jobs), stream=self._stderr, walk_forward=True) as progress:
            in_sample = self._run_jobs(jobs, progress)
            chosen = []
            for fold in plan_:
                best = best_of([r for r in in_sample if r.fold == fold.number])
                if best is not None:
                    point = points[best.index]
                    chosen.append(self.job(point, fold.out_sample, fold.number, "out"))
            progress.add(len(chosen))
            self._run_jobs(chosen, progress)

    def _drop_unfinished_runs(self) -> None:
        """``--keep-runs``: the journals of points stopped in flight go with them (their
        workers have ended); results.csv has no row for them, so a half-run journal left
        in runs/ would read as a finished point's."""
        if not self.request.keep_runs:
            return
        kept = {Path(r.database).name for r in self.outcome.results if r.database}
        for file in (self.request.out / "runs").glob("*.db*"):
            if file.name.split(".db")[0] + ".db" not in kept:
                with contextlib.suppress(OSError):
                    file.unlink()

    def _days(self) -> list[date]:
        """The trading days with data; what loading the data said (a row skipped, rows
        reordered) is said once here, on stderr, as a backtest's journal says it: every
        point then loads the same data without a word."""
        request = self.request
        days, said = trading_days(request.config, request.window, request.config_path)
        for event in said:
            print(f"warning: {one_line(event.message)}", file=self._stderr, flush=True)
        return days

    def folds(self, spec: WalkForward) -> list[Fold]:
        days = self._days()
        self._trading_days = days
        found = folds(days, spec)
        if not found:
            raise ConfigError(
                "--walk-forward",
                "",
                f"{len(days)} trading day(s) of data: a fold needs more than {spec.in_days}",
            )
        return found

    def reported(self) -> list[PointResult]:
        """The rows the table shows: every point, or a walk-forward's out-of-sample runs."""
        if self.request.walk_forward is None:
            return self.outcome.results
        return [r for r in self.outcome.results if r.phase == "out"]

    def _write(self) -> None:
        """best.yaml, then results.csv, whole, as they stand: a sweep killed between the
        two (kill -9) never leaves rows in results.csv without a best.yaml for them."""
        self._written = time.monotonic()
        out = self.request.out
        try:
            best, pool = self._best()
            if best is not None:
                config = apply_overrides(self.request.config, None, _overrides(best))
                if self.request.walk_forward:
                    unseen = self._days_after(best)
                    note = "the last fold's choice, optimised on its in-sample days" + (
                        f", which end {unseen} trading day(s) before the data's last, "
                        f"{self._trading_days[-1]}"
                        if unseen
                        else ""
                    )
                else:
                    done = len(self.outcome.results)
                    note = "ranked first by net P&L after charges" + (
                        f" among the {done} of {self._planned} points that ran"
                        if done < self._planned
                        else ""
                    )
                source = self.request.config_path
                tie = tied(best, pool)
                write_best(out / "best.yaml", self.request.raw, config, best, source, note, tie)
            write_csv(out / "results.csv", self.outcome.results, self.names)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write the results ({exc.strerror})") from None
        self.outcome.best = best

    def _days_after(self, chosen: PointResult) -> int:
        """A walk-forward's trading days after the window ``chosen`` was picked on: what
        its pick never saw (the last fold's out-of-sample days)."""
        last = chosen.window.last if chosen.window is not None else None
        return sum(1 for day in self._trading_days if last is not None and day > last)

    def latest_sweep(self) -> str:
        """The plain sweep that chooses on the latest IN trading days: what to trade
        next, where best.yaml's pick ends up to OUT days before the data does."""
        spec = self.request.walk_forward
        assert spec is not None and self._trading_days
        days = self._trading_days[-spec.in_days :]
        grids = " ".join(f"--grid {shlex.quote(axis.text)}" for axis in self.request.axes)
        return (
            f"kitetui sweep -c {shlex.quote(self.request.config_path)} {grids} "
            f"--from {days[0]} --to {days[-1]}"
        )

    def _best(self) -> tuple[PointResult | None, list[PointResult]]:
        """The point best.yaml holds, and the points it was chosen among: the best of a
        plain sweep; in a walk-forward, the params the latest fold chose (what one would
        trade next)."""
        if self.request.walk_forward is None:
            return best_of(self.outcome.results), self.outcome.results
        ran: dict[int, list[PointResult]] = {}
        for result in self.outcome.results:
            if result.phase == "in":
                ran.setdefault(result.fold, []).append(result)
        # A fold whose in-sample points have not all ended (the sweep was stopped) has
        # not chosen yet: its best so far is not what it would have picked.
        complete = [fold for fold, runs in ran.items() if len(runs) == self._planned]
        if not complete:
            return None, []
        pool = ran[max(complete)]
        return best_of(pool), pool

    def print_summary(self, stdout: TextIO) -> None:
        from rich.console import Console  # rich for the summary: a refusal never imports it

        console = Console(file=stdout, width=None if stdout.isatty() else 120)
        say = partial(console.print, markup=False, highlight=False, soft_wrap=True)  # plain text
        results = self.reported()
        outcome = self.outcome
        failed = sum(1 for r in outcome.results if not r.ok)
        unit = "point(s)" if self.request.walk_forward is None else "run(s)"  # × folds
        title = (
            f"sweep of {self.request.config_path}: {len(outcome.results)} {unit} in "
            f"{outcome.wall_s:.1f} s on {self.executor.describe()}"
            + (f", {failed} failed" if failed else "")
            + (" — INTERRUPTED (finished points kept)" if outcome.interrupted else "")
        )
        if self.request.walk_forward is None:
            say(title)
            console.print(results_table(results, self.names, self.request.top))
        else:
            console.print(title + " — out-of-sample only", markup=False, soft_wrap=True)
            console.print(self._walk_forward_table(results))
            chosen = {r.fold for r in results}
            for fold in self._folds:  # a fold without a pick: why, on a line of its own
                if fold.number not in chosen:
                    why = f"fold {fold.number}: {self._why(fold)}"
                    say(why)
        for line in failures(outcome.results, self.request.top):  # in-sample ones too
            say(line)
        short = unpriced(outcome.results)  # in-sample ones too: they chose the picks
        if short:
            say(short)
        for line in inert_lines(outcome.results, self.names):
            say(line)
        for line in self._tied_picks(results):
            say(line)
        out = self.request.out
        if outcome.best is not None:
            best = outcome.best
            where = f"best: {best.label}  →  {out / 'best.yaml'}"
            console.print(where, markup=False, soft_wrap=True)
            if self.request.walk_forward is None:
                tie = tied(best, outcome.results)
                if tie:
                    say(f"  {tie}")
            again = rerun_command(shlex.quote(str(out / "best.yaml")), best.window)
            say(f"again: {again}")
            spec = self.request.walk_forward
            unseen = self._days_after(best) if spec is not None else 0
            if spec is not None and unseen:
                latest = (
                    f"next: best.yaml was chosen on days that end {unseen} trading day(s) "
                    f"before the data's last ({self._trading_days[-1]}); to choose on the "
                    f"latest {spec.in_days}: {self.latest_sweep()}"
                )
                say(latest)
        elif any(traded(r) for r in outcome.results):
            say(
                "best: none — no point that traded had every fill priced, so none has a "
                "net P&L after all its charges (no best.yaml)"
            )
        elif any(r.ok for r in outcome.results):
            say("best: none — no point traded, so none is better than another (no best.yaml)")
        console.print(f"results: {out / 'results.csv'}", markup=False, soft_wrap=True)

    def _tied_picks(self, picks: list[PointResult]) -> list[str]:
        """A line for each walk-forward fold whose pick (``picks``: the out-of-sample
        runs) only the grid's order made: it tied in sample on every figure."""
        lines = []
        for fold in self._folds:
            pick = next((r for r in picks if r.fold == fold.number), None)
            ran = [r for r in self.outcome.results if r.phase == "in" and r.fold == fold.number]
            chosen = next((r for r in ran if pick is not None and r.index == pick.index), None)
            tie = tied(chosen, ran) if chosen is not None else ""
            if tie:
                lines.append(f"fold {fold.number}: its pick {tie}")
        return lines

    def _why(self, fold: Fold) -> str:
        """Why a fold has no out-of-sample run."""
        if self.outcome.interrupted:
            return "stopped"
        ran = [r for r in self.outcome.results if r.phase == "in" and r.fold == fold.number]
        if any(traded(r) for r in ran):
            return "no in-sample point that traded had every fill priced"
        if any(r.ok for r in ran):
            return "no in-sample point traded"
        return "no in-sample point ran"

    def _walk_forward_table(self, results: list[PointResult]) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table()
        for column in ("fold", "in sample", "out of sample", "chosen", "net P&L", "Sharpe"):
            table.add_column(column, justify="right", overflow=FIGURE)
        for column in ("closed DD", "trades", "win rate"):
            table.add_column(column, justify="right", overflow=FIGURE)
        chosen_runs = {r.fold: r for r in results}
        for fold in self._folds:
            in_window = _days_cell(fold.in_sample)
            out_window = _days_cell(fold.out_sample)
            result = chosen_runs.get(fold.number)
            if result is None:  # nothing chosen: none ran, none traded, or stopped first
                table.add_row(str(fold.number), in_window, out_window, "–", "–")
                continue
            chosen = Text("\n".join(one_line(f"{name}={value}") for name, value in result.params))
            if not result.ok:
                table.add_row(str(fold.number), in_window, out_window, chosen, Text(result.error))
                continue
            table.add_row(
                str(fold.number),
                in_window,
                out_window,
                chosen,
                rupees(result.net_pnl) + (" *" if result.unpriced_fills else ""),
                f"{result.sharpe:.2f}" if result.sharpe is not None else "–",
                rupees(result.max_drawdown),
                str(result.trades),
                f"{result.win_rate * 100:.1f}%" if result.win_rate is not None else "–",
            )
        ok = sorted((r for r in results if r.ok), key=lambda r: r.fold)
        if ok:
            stitched = stitched_figures(ok)
            table.add_row(
                "all" if len(ok) == len(self._folds) else f"{len(ok)} of\n{len(self._folds)}",
                "",
                "",
                "",
                rupees(stitched.net_pnl) + (" *" if any(r.unpriced_fills for r in ok) else ""),
                f"{stitched.sharpe:.2f}" if stitched.sharpe is not None else "–",
                rupees(stitched.max_drawdown),
                str(stitched.trades),
                f"{stitched.win_rate * 100:.1f}%" if stitched.win_rate is not None else "–",
                end_section=True,
            )
        return table


def _days_cell(window: DateWindow | None) -> str:
    """A fold's window in a narrow cell: first day over last."""
    if window is None:
        return ""
    return f"{window.first} …\n{window.last}"


@dataclass(frozen=True, slots=True)
class Stitched:
    net_pnl: Decimal
    sharpe: float | None
    max_drawdown: Decimal
    trades: int
    win_rate: float | None


def stitched_figures(runs: Sequence[PointResult]) -> Stitched:
    """A walk-forward's out-of-sample runs (in fold order) as one run: its net P&L and
    trades add up; its Sharpe is the report's ``sharpe`` of their trading days' net P&L
    one after the other; its drawdown the report's ``drawdown_of`` on their closed-trade
    equity, each run's curve starting where the one before ended."""
    daily: list[Decimal] = []
    curve: list[tuple[int, Decimal]] = []
    offset = Decimal(0)
    for run in runs:
        daily.extend(run.daily_net)
        curve.extend((ts, offset + value) for ts, value in run.closed_equity)
        if run.closed_equity:
            offset += run.closed_equity[-1][1]
    trades = sum(r.trades for r in runs)
    capital = runs[0].capital if runs and runs[0].capital is not None else Decimal(0)
    return Stitched(
        net_pnl=sum((r.net_pnl for r in runs if r.net_pnl is not None), Decimal(0)),
        sharpe=sharpe(daily, capital),
        max_drawdown=drawdown_of(curve).amount,
        trades=trades,
        win_rate=sum(r.wins for r in runs) / trades if trades else None,
    )


def _overrides(result: PointResult) -> list[ParamOverride]:
    return [parse_param(f"{name}={value}") for name, value in result.params]


def trading_days(
    config: AppConfig, window: DateWindow | None, config_path: str
) -> tuple[list[date], list[Event]]:
    """The days with data, in the window, that the NSE calendar says traded, and the
    loader's warnings. A window with no data at all is the backtest's own usage error
    (exit 2), and a data file no point could load its data error (exit 4): raised here
    once, not by every point."""
    from kitetui.market.calendar import nse
    from kitetui.market.instruments import load_masters
    from kitetui.market.loaders import data_path
    from kitetui.market.replay import index_symbols, load_replay_sources, quiet_index_volume
    from kitetui.market.session_hours import SessionHours
    from kitetui.venues.replay import clipped_to_window

    assert config.replay is not None
    override = config.calendar.holidays_override
    calendar = nse(data_path(override) if override else None)
    hours = SessionHours.of(calendar.special_sessions)
    sources = load_replay_sources(config.replay.sources, hours=hours, calendar=calendar)
    if window is not None:  # as ``kitetui backtest`` refuses it
        sources = clipped_to_window(sources, window, config_path)
    indices: frozenset[str] = frozenset()
    if config.instruments:  # an index's file without volume is no warning
        indices = index_symbols(load_masters([data_path(s) for s in config.instruments])[0])
    events = quiet_index_volume(sources.events, indices)
    said = [e for e in events if e.level in ("WARNING", "ERROR")]
    return [day for day in sources.days if calendar.is_trading_day(day)], said
