"""How a benchmark prints: figures that say what they measure, under a machine header.

A figure is a key, a title, a paragraph on what exactly is timed, and rows (metric,
value, unit, note), or preformatted lines when a table reads better. The header names
the machine, its load and the revision, because the machines are shared 2-core boxes
and a figure means little without them. Progress goes to stderr so stdout is only the
report.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WIDTH = 96


@dataclass
class Row:
    figure: str
    metric: str
    value: float | int | str
    unit: str = ""
    note: str = ""


@dataclass
class Figure:
    key: str
    title: str
    what: str
    rows: list[Row] = field(default_factory=list)
    skipped: str = ""
    table: list[str] = field(default_factory=list)
    """Preformatted lines printed instead of the rows (the rows still go to JSON)."""

    def add(self, metric: str, value: float | int | str, unit: str = "", note: str = "") -> None:
        self.rows.append(Row(self.key, metric, value, unit, note))

    def skip_without(self, path: Path, hint: str = "") -> bool:
        """True, with the figure marked skipped, when ``path`` does not exist (data a
        benchmark reads from beside the repository may not be on every machine)."""
        if path.exists():
            return False
        self.skipped = f"{path} not found" + (f" ({hint})" if hint else "")
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "what": self.what,
            "skipped": self.skipped,
            "rows": [asdict(r) for r in self.rows],
        }


def log(message: str) -> None:
    """A progress line on stderr, flushed (benchmarks run for minutes)."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def fmt_value(value: float | int | str) -> str:
    """Thousands separators for big numbers, three significant digits for small ones."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (textwrap would also break long words, which we never want)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


def print_table(header: list[str], figures: list[Figure]) -> None:
    print("=" * WIDTH)
    for line in header:
        print(line)
    for fig in figures:
        print("-" * WIDTH)
        print(f"[{fig.key}] {fig.title}")
        for chunk in wrap(fig.what, WIDTH - 6):
            print(f"      {chunk}")
        if fig.skipped:
            print(f"      SKIPPED: {fig.skipped}")
            continue
        if fig.table:
            for line in fig.table:
                print(line)
            continue
        for row in fig.rows:
            note = f"  ({row.note})" if row.note else ""
            print(f"    {row.metric:<44} {fmt_value(row.value):>14} {row.unit:<8}{note}")
    print("=" * WIDTH)


def git_head(repo: Path) -> str:
    try:  # read-only
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine_header(title: str, repo: Path) -> list[str]:
    """What a reader needs to weigh the figures: cores, CPU, load, Python, revision."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        title,
        f"machine: nproc={os.cpu_count()}  cpu={cpu or 'unknown'}  load(1/5/15m)={load}",
        f"python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.release()}",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  repo: {repo} @ {git_head(repo)} "
        "(plus any uncommitted edits)",
    ]
