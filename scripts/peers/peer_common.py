"""What both peer runners share: the generated data, the answer line, the strategy's rule.

These files run in the benchmark's own virtual environment (``.bench-venv``), which
holds the peers but not kitetui, so they import only the standard library and the
peer they drive. The data is the very CSV kitetui replays (``Date,open,high,low,close,
volume``, IST timestamps), so all three read identical bars.
"""

from __future__ import annotations

import csv
import json
import resource
import sys
from datetime import datetime
from pathlib import Path

FAST, SLOW = 20, 50  # the EMA pair; kitetui's ema_cross defaults
QUANTITY = 10  # fixed shares per entry


def read_bars(folder: Path) -> dict[str, list[tuple[datetime, float, float, float, float, int]]]:
    """Every ``SYMBOL.csv`` of ``folder``: symbol -> [(aware datetime, o, h, l, c, v)]."""
    out: dict[str, list[tuple[datetime, float, float, float, float, int]]] = {}
    for path in sorted(folder.glob("*.csv")):
        rows = []
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)  # header
            for d, o, h, lo, c, v in reader:
                rows.append(
                    (datetime.fromisoformat(d), float(o), float(h), float(lo), float(c), int(v))
                )
        out[path.stem] = rows
    return out


class CrossRule:
    """kitetui's ema_cross crossing rule, for one symbol: a cross is a change of the sign
    of ``fast - slow`` between two ready bars; an exactly equal bar has no sign and is
    skipped; the first ready bar only records the sign (a trend in place never fires)."""

    __slots__ = ("last_sign",)

    def __init__(self) -> None:
        self.last_sign = 0

    def step(self, fast: float, slow: float) -> int:
        """+1 on an up-cross, -1 on a down-cross, 0 otherwise."""
        gap = fast - slow
        sign = 1 if gap > 0.0 else -1 if gap < 0.0 else 0
        if sign == 0:
            return 0
        previous, self.last_sign = self.last_sign, sign
        if previous == 0 or previous == sign:
            return 0
        return sign


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def answer(payload: dict[str, object]) -> None:
    """The one JSON line the benchmark reads: the last line of stdout."""
    payload["peak_rss_mb_self"] = round(peak_rss_mb(), 1)
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()
