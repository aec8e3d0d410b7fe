"""Order statistics for timed samples: the benchmarks report medians and tails."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """The median; NaN for no samples, so a missing figure prints as n/a."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always one of the samples; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, median, p95 and max of at least one sample (a JSON-ready dict)."""
    return {
        "n": len(values),
        "median": median(values),
        "p95": percentile(values, 95),
        "max": max(values),
    }


def describe(stats: dict[str, float], unit: str = "ms", digits: int = 1) -> str:
    """``summary()`` as one phrase: 'median 1.2 ms, p95 3.4 ms, max 5.6 ms (n=40)'."""
    return (
        f"median {stats['median']:.{digits}f} {unit}, p95 {stats['p95']:.{digits}f} {unit}, "
        f"max {stats['max']:.{digits}f} {unit} (n={stats['n']})"
    )
