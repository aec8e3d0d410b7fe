"""A progress bar with an ETA for long backtests: the data clock against the date range.

The desk runs at full speed on its own loop; this only reads ``supervisor.clock`` a few
times a second from a task on the same loop (the replay yields to the loop every few
dozen batches), so it costs the run nothing measurable and can never stall it. It is
drawn on stderr, and only on a terminal: a redirected run prints no bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from kitetui.clock import format_ist

if TYPE_CHECKING:
    from rich.progress import Progress

STEPS = 10_000  # the bar's resolution


def fraction_done(now_ns: int, start_ns: int, end_ns: int) -> float:
    """How far the data clock is through [start, end], in [0, 1]."""
    if end_ns <= start_ns or now_ns <= start_ns:
        return 0.0
    return min(1.0, (now_ns - start_ns) / (end_ns - start_ns))


class BacktestProgress:
    """Call ``start`` once the data's span is known; ``stop`` when the run ends."""

    def __init__(
        self,
        clock_ns: Callable[[], int],
        *,
        stream: TextIO | None = None,
        interval_s: float = 0.25,
        force: bool = False,
    ) -> None:
        self._clock_ns = clock_ns
        self._stream = stream if stream is not None else sys.stderr
        self._interval_s = interval_s
        self.enabled = force or self._stream.isatty()
        self._progress: Progress | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, start_ns: int, end_ns: int) -> None:
        if not self.enabled or end_ns <= start_ns:
            return
        # rich is imported for a bar that is drawn: a redirected run, a sweep and its
        # workers (every point's process) never draw one, and skip its ~0.1 s of import.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self._stream, force_terminal=self.enabled)
        self._progress = Progress(
            TextColumn("backtest"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[clock]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        bar = self._progress.add_task("backtest", total=STEPS, clock="")
        self._progress.start()
        days = timedelta(microseconds=(end_ns - start_ns) // 1000).days
        progress = self._progress

        async def follow() -> None:
            while True:
                now = self._clock_ns()
                done = fraction_done(now, start_ns, end_ns)
                clock = f"{format_ist(now)[:16]} of {days + 1} d" if now else ""
                progress.update(bar, completed=round(done * STEPS), clock=clock)
                await asyncio.sleep(self._interval_s)

        self._task = asyncio.get_running_loop().create_task(follow(), name="backtest-progress")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
