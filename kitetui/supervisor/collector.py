"""Python's cyclic garbage collector, set for a replay at full speed.

A backtest allocates a steady stream of short-lived containers (a chunk of ``Bar``s per
stream, a decision and its indicators per bar, the chart's last 300 bars per symbol)
that outlive a young collection and die in the old generations. With CPython's default
thresholds (700, 10, 10) that makes full collections frequent, and each one walks every
object the desk holds: imports, config, the run's orders. Measured on the 20 × 250-day
run (``scripts/bench_peers.py`` data, one run each, side by side): collections took
~11% of the run (automatic collection off: 48.6k → 54.9k bars/s; peak RSS unchanged,
199 MB, so the run leaves almost no cyclic garbage).

So while a replay runs at full speed: what exists before the first batch (modules,
config, instruments, loaded columns' wrappers) is frozen out of every collection
(``gc.freeze``), and the young generation is collected every ``YOUNG`` net allocations
instead of 700. Collection stays on: a cycle made during the run (an exception's
traceback, an asyncio future) is still freed, a little later. Paced replay and live
keep the defaults: there the loop waits on the market, not on the collector, and a
long-lived desk should not hold garbage longer than it must.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations between young collections while a replay runs at full speed.
YOUNG = 100_000
#: Young collections per middle one, middle collections per full one.
MIDDLE, OLD = 20, 100


@contextmanager
def full_speed_collection(enabled: bool) -> Iterator[None]:
    """Inside: the collector set for a replay at full speed (module docstring), when
    ``enabled``; the previous thresholds and an unfrozen heap after."""
    if not enabled:
        yield
        return
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
