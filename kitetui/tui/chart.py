"""The equity curve as a braille line chart, drawn as plain text lines.

Each braille character is a 2×4 grid of dots, so a 60×8 character area plots 120×32
points: enough to see a day's shape in an 80-column terminal. Drawn here (no plotting
library) because it is a few dozen lines, it is pure (tested without a screen), it
reads in monochrome and over a slow link (one short string per row), and it is redrawn
only when the curve or the size changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kitetui.tui.cells import ist_datetime, ist_time, money

_BRAILLE_BASE = 0x2800
# Dot bits by (column within the cell, row within the cell), rows top to bottom.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


@dataclass(frozen=True, slots=True)
class Chart:
    lines: tuple[str, ...]  # label column + plot, one string per terminal row
    tone: str  # "up" when the curve ends above where it started, "down" below


def _resample(values: Sequence[float], columns: int) -> list[float]:
    """One value per dot column: the last value in each column's span, or the nearest
    point when there are fewer points than columns (the curve always spans the width)."""
    n = len(values)
    if n == 0 or columns <= 0:
        return []
    if n < columns:
        if n == 1:
            return [values[0]] * columns
        return [values[round(i * (n - 1) / (columns - 1))] for i in range(columns)]
    return [values[min(n - 1, (i + 1) * n // columns - 1)] for i in range(columns)]


def plot_rows(values: Sequence[float], width: int, height: int) -> list[str]:
    """``values`` as a connected braille line ``width`` × ``height`` characters."""
    if width <= 0 or height <= 0:
        return []
    dots_x, dots_y = width * 2, height * 4
    points = _resample(values, dots_x)
    grid = [[0] * width for _ in range(height)]
    if not points:
        return ["".join(chr(_BRAILLE_BASE) for _ in range(width)) for _ in range(height)]
    low, high = min(points), max(points)
    span = high - low

    def level(value: float) -> int:  # 0 = bottom dot row
        return dots_y // 2 if span == 0 else round((value - low) / span * (dots_y - 1))

    def dot(x: int, y: int) -> None:
        row = dots_y - 1 - y
        grid[row // 4][x // 2] |= _DOTS[x % 2][row % 4]

    previous = level(points[0])
    for x, value in enumerate(points):
        y = level(value)
        # Join to the previous column so a jump reads as a line, not scattered dots.
        lo, hi = sorted((previous, y))
        for yy in range(lo, hi + 1):
            dot(x, yy)
        previous = y
    return ["".join(chr(_BRAILLE_BASE + bits) for bits in row) for row in grid]


def _axis_labels(first_ns: int, last_ns: int) -> tuple[str, str]:
    """The axis's two ends: times on one day; ``MM-DD HH:MM`` both when the curve spans
    days (two bare times read as one session, which a multi-day curve is not)."""
    if first_ns <= 0:
        return "", ist_time(last_ns)
    start, end = ist_datetime(first_ns), ist_datetime(last_ns)
    if start.date() == end.date():
        return ist_time(first_ns), ist_time(last_ns)
    return start.strftime("%m-%d %H:%M"), end.strftime("%m-%d %H:%M")


def equity_chart(curve: Sequence[tuple[int, float]], width: int, height: int) -> Chart:
    """The curve with its high and low on the left and its first and last time below."""
    if height < 3 or width < 20:
        return Chart((), "")
    if len(curve) < 2:
        return Chart(("no equity points yet",), "")
    values = [equity for _, equity in curve]
    high, low = max(values), min(values)
    label_width = max(len(money(high, signed=False)), len(money(low, signed=False))) + 1
    plot_width = width - label_width - 1
    rows = plot_rows(values, plot_width, height - 1)
    lines = []
    for index, row in enumerate(rows):
        label = ""
        if index == 0:
            label = money(high, signed=False)
        elif index == len(rows) - 1:
            label = money(low, signed=False)
        lines.append(f"{label:>{label_width}} {row}")
    first, last = _axis_labels(curve[0][0], curve[-1][0])
    axis = f"{first}{last:>{max(0, plot_width - len(first))}}"
    lines.append(f"{'':>{label_width}} {axis}")
    change = values[-1] - values[0]
    tone = "up" if change > 0 else ("down" if change < 0 else "")
    return Chart(tuple(lines), tone)
