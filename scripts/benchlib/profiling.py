"""Stopwatches the benchmarks put around the real objects, and cProfile around a call.

The benchmarks never edit kitetui: they replace a method on their own instance (or a
function in a module of a child process) with ``timed_async(original, sink)``, which
behaves the same and reports each call's duration.
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def timed_async(
    fn: Callable[P, Awaitable[T]], sink: Callable[[int], object]
) -> Callable[P, Awaitable[T]]:
    """``fn`` (a coroutine function) that also hands each call's duration in ns to
    ``sink``, whether the call returns or raises."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter_ns()
        try:
            return await fn(*args, **kwargs)
        finally:
            sink(time.perf_counter_ns() - started)

    return wrapper


def profile_call(fn: Callable[[], Any], top: int = 10, restrict: str | None = None) -> str:
    """cProfile one call of ``fn``: the ``top`` entries by cumulative time (only files
    matching ``restrict``, when given: the asyncio plumbing above them says nothing),
    then the ``top`` by own time (everything)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    cumulative = (restrict, top) if restrict else (top,)
    stats.sort_stats("cumulative").print_stats(*cumulative)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()
