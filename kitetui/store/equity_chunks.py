"""The equity curve as chunks: one row per commit, not one row per minute.

A point a minute is most of what a backtest journals once HOLDs are counted: a year of
20 symbols was 93,750 rows of (run id, ts_ns, equity paise, checksum) plus an index
entry each repeating the run id, 10.6 MB of a 61 MB database. The journal writes the
points of one transaction as one ``equity_chunks`` row instead (schema 7):

* ``first_ts_ns`` / ``last_ts_ns``: the chunk's first and last point;
* ``step_ns``: the greatest common divisor of the points' offsets from the first (a
  minute for bars, 1 when ticks land anywhere), so an offset is a small integer;
* ``points``: JSON ``[[offset / step_ns, equity_paise], ...]`` in time order.

Every value is an exact integer, so the curve reads back exactly as it was written: the
view ``equity_curve`` (schema.py) expands the chunks into the rows of schema 5 and the
readers' SQL is unchanged. A chunk is append-only and chained like the rows it
replaces (chain.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

EQUITY_CHUNK_INSERT = (
    "INSERT INTO equity_chunks (run_id, first_ts_ns, last_ts_ns, step_ns, points) "
    "VALUES (?, ?, ?, ?, ?)"
)


def chunk_row(run_id: str, points: Sequence[tuple[int, int]]) -> tuple[str, int, int, int, str]:
    """The ``equity_chunks`` row for ``points`` ((ts_ns, equity paise), ascending, at
    least one), in ``EQUITY_CHUNK_INSERT``'s order."""
    first = points[0][0]
    step = 0
    for ts, _ in points:
        step = math.gcd(step, ts - first)
    step = step or 1
    body = json.dumps(
        [[(ts - first) // step, paise] for ts, paise in points], separators=(",", ":")
    )
    return run_id, first, points[-1][0], step, body


def chunk_points(first_ts_ns: int, step_ns: int, points: str) -> list[tuple[int, int]]:
    """The (ts_ns, equity paise) points of one chunk, as written (for tests and tools
    that read the table rather than the view)."""
    return [(first_ts_ns + step_ns * offset, paise) for offset, paise in json.loads(points)]
