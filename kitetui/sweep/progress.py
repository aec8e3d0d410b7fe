"""The sweep's progress: points done of all, the ETA, and the best point so far.

On a terminal it is a bar on stderr (``rich``, redrawn a few times a second by its
own thread; the points run in other processes, so drawing costs them nothing). The
ETA is rich's, from the rate points have finished at. Redirected, it is one line a
point (``[3/12] fast=5 slow=13: net ₹1,234.00 in 2.1 s``), which reads well in a log.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from kitetui.sweep.point import PointResult
from kitetui.sweep.results import rank_key, rupees

if TYPE_CHECKING:
    from rich.progress import Progress


def describe(result: PointResult) -> str:
    if not result.ok:
        return f"{result.label}: failed: {result.error}"
    short = f" ({result.unpriced_fills:,} fill(s) unpriced)" if result.unpriced_fills else ""
    return f"{result.label}: net {rupees(result.net_pnl)}{short} in {result.wall_s:.1f} s"


class SweepProgress:
    """``walk_forward``: the best so far is of the out-of-sample runs only, what the
    sweep reports; in-sample runs of different folds cover different days, and the best
    of them all would compare one fold's figures with another's."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        force: bool = False,
        walk_forward: bool = False,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.best: PointResult | None = None
        self._walk_forward = walk_forward
        self._stream = stream if stream is not None else sys.stderr
        self.live = force or self._stream.isatty()
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> SweepProgress:
        if self.live:
            # rich is imported for a bar that is drawn: a redirected sweep (and one refused
            # before its first point) skips its import.
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(file=self._stream, force_terminal=True)
            self._progress = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[best]}", markup=False),  # params as typed
                console=console,
                transient=True,
            )
            self._task = self._progress.add_task("sweep", total=self.total, best="")
            self._progress.start()
        return self

    def add(self, more: int) -> None:
        """More points to come (a walk-forward's out-of-sample runs)."""
        self.total += more
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=self.total)

    def update(self, result: PointResult) -> None:
        self.done += 1
        if not result.ok:
            self.failed += 1
        elif self._walk_forward and result.phase != "out":
            pass  # in sample: not what the sweep reports
        elif self.best is None or rank_key(result) < rank_key(self.best):
            self.best = result
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, best=self.best_text())
        else:
            print(f"[{self.done}/{self.total}] {describe(result)}", file=self._stream, flush=True)

    def best_text(self) -> str:
        failed = f"  {self.failed} failed" if self.failed else ""
        if self.best is None:
            return failed.strip()
        kind = "best out of sample" if self._walk_forward else "best"
        return f"{kind} {rupees(self.best.net_pnl)} ({self.best.label}){failed}"

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
