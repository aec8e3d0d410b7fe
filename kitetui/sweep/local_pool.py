"""The local process pool a sweep's points run on: one spawned worker a core, one point
at a time each, handed out by the sweep's process.

Not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies (killed,
out of memory) the whole pool breaks and every point still to come fails with it, and
nothing says which point was on the worker that died. Here each worker has a pipe of
its own and the sweep knows which point each runs: a worker that dies costs its own
point (reported failed, with how it died), a fresh worker takes its place, and the
sweep goes on.

The sweep's process owns its workers' lives. They are spawned, not forked (the sweep
has a progress thread running; a fork would copy its locks mid-use), with SIGINT,
SIGTERM and SIGHUP ignored from their first instant: a Ctrl-C, or a SIGTERM to the
process group, is the sweep's to handle, not a signal that stops each point's desk
half-way and reports its partial figures as if the data had ended. The sweep stops
them (``abort``: SIGKILL; their points' scratch journals are the sweep's to remove),
and a worker whose sweep process is gone (``kill -9``) notices within a second and
exits: no orphan runs on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from kitetui.child_signals import ignored_by_children
from kitetui.config import ConfigError, one_line
from kitetui.sweep.point import PointJob, PointResult, run_point
from kitetui.sweep.scratch import exit_and_remove_own, remove_own

#: What a worker ignores (and the sweep handles): a terminal's Ctrl-C and hang-up, and a
#: SIGTERM sent to the whole process group.
WORKER_IGNORES = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_ORPHAN_CHECK_S = 1.0


def cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the
    machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Workers a core at most. A point is CPU-bound and each worker holds the data it
#: replays: beyond the cores, workers add memory and task switching, not speed, and
#: ``--workers 5000`` on a 10,000-point grid would start 5,000 interpreters.
WORKERS_PER_CORE = 4


def check_workers(workers: int | None) -> int | None:
    """``--workers`` for this machine (a local pool or a local Ray): a ``ConfigError``
    above ``WORKERS_PER_CORE`` a core."""
    most = WORKERS_PER_CORE * cores()
    if workers is not None and workers > most:
        raise ConfigError(
            f"--workers {workers}",
            "",
            f"at most {most} on this machine's {cores()} core(s) ({WORKERS_PER_CORE} a core)",
        )
    return workers


def lost(job: PointJob, reason: str) -> PointResult:
    """The record of a point whose worker never returned one."""
    return PointResult(job.index, job.params, job.fold, job.phase, job.window, one_line(reason))


def how_it_ended(exitcode: int | None) -> str:
    """A dead process's exit code as words: ``killed by SIGKILL``, ``exit code 1``."""
    if exitcode is None:
        return "ended"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _watch_parent(parent: int, scratch: list[Path]) -> None:
    """End this worker when the sweep's process is gone (its parent changes), and remove
    its point's journal once it has ended: a ``kill -9``'d sweep cannot, and the
    journals of the points in flight (~45 MB each on a year) would stay in ``--out``."""
    while True:
        time.sleep(_ORPHAN_CHECK_S)
        if os.getppid() != parent:
            for folder in scratch[:1]:
                exit_and_remove_own(folder)
            os._exit(1)


def serve(conn: Connection, parent: int) -> None:
    """A worker's life: a point in, its result out, until the sweep says stop (None)
    or goes away."""
    for signum in WORKER_IGNORES:
        signal.signal(signum, signal.SIG_IGN)
    scratch: list[Path] = []  # the sweep's scratch folder, once a point names it
    threading.Thread(target=_watch_parent, args=(parent, scratch), daemon=True).start()
    try:
        _points(conn, scratch)
    finally:
        if os.getppid() != parent:  # the pipe broke with the sweep: as _watch_parent does
            _leave(scratch)


def _leave(scratch: list[Path]) -> None:
    """The sweep is gone: remove this worker's point folder (and the sweep's, if last)."""
    for folder in scratch:
        remove_own(folder)


def _points(conn: Connection, scratch: list[Path]) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if job.scratch is not None and not scratch:
            scratch.append(job.scratch)
        result = run_point(job)  # never raises: a failure is the result's error
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return


@dataclass(slots=True)
class _Worker:
    process: Any  # multiprocessing's SpawnProcess
    conn: Connection
    job: PointJob | None = None

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)


class LocalPool:
    """``workers`` worker processes on this machine (default: every core)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or cores()
        self.shares_disk = True
        self._context = multiprocessing.get_context("spawn")
        self._live: list[_Worker] = []
        self.started = 0  # workers started, replacements included

    def describe(self) -> str:
        return f"{self.workers} local worker{'s' if self.workers != 1 else ''}"

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve, args=(theirs, os.getpid()), name="kitetui-sweep-worker", daemon=True
        )
        # Ignored signals stay ignored across the spawn's exec: the worker ignores a
        # Ctrl-C from its very first instant (before ``serve`` runs). A Ctrl-C in these
        # few milliseconds is dropped; the user presses it again.
        with ignored_by_children(WORKER_IGNORES):
            process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._live.append(worker)
        self.started += 1
        return worker

    def run(self, jobs: Sequence[PointJob]) -> Iterator[PointResult]:
        """Each job's result as it finishes; a job whose worker died comes back failed."""
        queue = deque(jobs)
        idle = [w for w in self._live if w.job is None]
        while queue or any(w.job is not None for w in self._live):
            while queue and (idle or len(self._live) < self.workers):
                worker = idle.pop() if idle else self._start()
                job = queue.popleft()
                try:
                    worker.conn.send(job)
                    worker.job = job
                except (BrokenPipeError, OSError):  # died while idle: its job goes back
                    queue.appendleft(job)
                    self._bury(worker)
            busy = [w for w in self._live if w.job is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                job = worker.job
                assert job is not None
                result = self._receive(worker)
                if result is None:
                    self._bury(worker)
                    yield lost(job, f"its worker (pid {worker.pid}) died: {self._ended(worker)}")
                    continue
                worker.job = None
                idle.append(worker)
                yield result

    def _receive(self, worker: _Worker) -> PointResult | None:
        """The worker's result, if it sent one before it went (None: it died)."""
        try:
            if worker.conn.poll():
                result = worker.conn.recv()
                return result if isinstance(result, PointResult) else None
        except (EOFError, OSError):
            return None
        return None

    def _ended(self, worker: _Worker) -> str:
        worker.process.join(timeout=5)
        return how_it_ended(worker.process.exitcode)

    def _bury(self, worker: _Worker) -> None:
        with contextlib.suppress(ValueError):
            self._live.remove(worker)
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)

    def abort(self) -> None:
        """Stop now: every worker killed (their points in flight are dropped)."""
        for worker in self._live:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in list(self._live):
            self._bury(worker)

    def close(self) -> None:
        """Idle workers told to stop; any that do not within 5 s are killed."""
        for worker in self._live:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        deadline = time.monotonic() + 5
        for worker in self._live:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        self.abort()
