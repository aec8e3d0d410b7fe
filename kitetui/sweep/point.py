"""One point of a sweep: a backtest with the point's params, run to the end in a worker,
and the few figures the sweep ranks it by.

The point is the backtest (``kitetui.backtest.runner.run_to_end``: the desk, at full
speed, with the backtest's overrides and date window) on a database of its own, and
its figures are the report's (``build_report`` on the journal, ``report.total``): a
point's net P&L, Sharpe and drawdown are the numbers ``kitetui backtest`` would print
for the same flags. The worker sends back a small record, never the journal.

A point that fails (its params break the strategy's rules, the run errs) becomes a
record with its one-line reason: the sweep reports it and goes on.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from kitetui.backtest.build import build_report
from kitetui.backtest.ledger import load_ledger
from kitetui.backtest.runner import BacktestRequest, apply_overrides, parse_param, run_to_end
from kitetui.clock import ist_date
from kitetui.config import AppConfig, ConfigError, one_line
from kitetui.market.replay import DateWindow
from kitetui.performance.metrics import closed_equity, daily_net
from kitetui.sweep.scratch import JOURNAL, point_folder

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PointJob:
    """What a worker needs to run one point (it pickles: local pool and Ray alike)."""

    index: int
    params: Params
    config: AppConfig
    config_path: str
    window: DateWindow | None
    database: Path | None  # keep the point's journal here; None: a temporary file
    fold: int = 0  # walk-forward fold (0: a plain sweep)
    phase: str = "sweep"  # sweep | in | out (walk-forward: in sample, out of sample)
    scratch: Path | None = None  # where a temporary journal goes (None: the temp dir)

    @property
    def label(self) -> str:
        return one_line(" ".join(f"{name}={value}" for name, value in self.params))


@dataclass(frozen=True, slots=True)
class PointResult:
    index: int
    params: Params
    fold: int
    phase: str
    window: DateWindow | None
    error: str  # "" when the point ran to the end of its data
    net_pnl: Decimal | None = None  # after charges
    gross_pnl: Decimal | None = None
    charges: Decimal | None = None
    # Fills the rate table could not price (a day before its first row, a segment it
    # lacks): charged nothing, so ``net_pnl`` leaves their charges out and is not net
    # of charges; and the first such fill's day, to say where the gap is.
    unpriced_fills: int = 0
    unpriced_from: str = ""
    sharpe: float | None = None
    max_drawdown: Decimal | None = None  # closed-trade equity, net of charges
    trades: int = 0
    wins: int = 0
    win_rate: float | None = None
    wall_s: float = 0.0
    run_id: str = ""
    database: str = ""  # the kept journal, if any
    worker: str = ""  # host:pid that ran it
    # For a walk-forward's totals over its stitched out-of-sample runs, measured by the
    # report's own functions: the capital, net P&L on each trading day of the run, and
    # the closed-trade net equity (exit time, cumulative net) the drawdown is taken on.
    # Empty for every other run (phase sweep or in): nothing reads them there.
    capital: Decimal | None = None
    daily_net: tuple[Decimal, ...] = ()
    closed_equity: tuple[tuple[int, Decimal], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def label(self) -> str:
        return one_line(" ".join(f"{name}={value}" for name, value in self.params))


def run_point(job: PointJob) -> PointResult:
    """Run ``job``'s backtest and measure it; any failure is the record's ``error``."""
    started = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def failed(reason: str) -> PointResult:
        return PointResult(
            job.index,
            job.params,
            job.fold,
            job.phase,
            job.window,
            one_line(reason) or "failed",
            wall_s=time.perf_counter() - started,
            worker=worker,
        )

    try:
        overrides = [parse_param(f"{name}={value}") for name, value in job.params]
        config = apply_overrides(job.config, None, overrides)
    except ConfigError as exc:  # e.g. fast >= slow: this point only, the others run
        where = f"{exc.key_path}: " if exc.key_path else ""
        return failed(f"invalid params: {where}{exc.reason}")
    try:
        if job.database is not None:
            return _measured(job, config, job.database, started, worker, keep=True)
        with point_folder(job.scratch) as folder:
            return _measured(job, config, Path(folder) / JOURNAL, started, worker, keep=False)
    except Exception as exc:
        return failed(str(exc) or type(exc).__name__)


def _measured(
    job: PointJob, config: AppConfig, database: Path, started: float, worker: str, *, keep: bool
) -> PointResult:
    request = BacktestRequest(config, job.config_path, database, None, job.window)
    ended = run_to_end(request, interactive=False)
    if ended.run_id is None:
        raise RuntimeError("stopped before trading began")
    if ended.feed_state != "FINISHED":  # stopped early: its figures cover part of the data
        raise RuntimeError(f"the run ended with its feed {ended.feed_state}, not FINISHED")
    report = build_report(load_ledger(database, ended.run_id))
    total = report.total
    # The curves only for a walk-forward's out-of-sample run, the one whose totals are
    # stitched: a point's closed-trade curve is a pair a trade (~0.4 MB at 2,000 trades
    # once unpickled), which the sweep's process would hold for every point of the grid.
    stitched = job.phase == "out"
    unpriced = sorted(fill.ts_ns for fill in report.ledger.fills if not fill.priced)
    closed = [trade for trade in report.trades if trade.closed] if stitched else []
    return PointResult(
        job.index,
        job.params,
        job.fold,
        job.phase,
        job.window,
        "",
        net_pnl=total.net_pnl,
        gross_pnl=total.gross_pnl,
        charges=total.charges.total,
        unpriced_fills=len(unpriced),
        unpriced_from=ist_date(unpriced[0]).isoformat() if unpriced else "",
        sharpe=total.sharpe,
        max_drawdown=total.max_drawdown.amount,
        trades=total.trades,
        wins=total.wins,
        win_rate=total.win_rate,
        wall_s=time.perf_counter() - started,
        run_id=ended.run_id,
        database=str(database) if keep else "",
        worker=worker,
        capital=report.ledger.capital,
        daily_net=tuple(daily_net(closed, report.ledger.days)) if stitched else (),
        closed_equity=tuple(closed_equity(closed)) if stitched else (),
    )
