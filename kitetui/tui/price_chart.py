"""One symbol's price chart laid out for plotext: candles, indicators, fills and stops.

``price_plot`` decides everything (which bars fit, where each mark goes, which glyph
says what) from a ``ChartView`` and a width, without a screen, so it is tested as plain
data; ``draw`` hands the result to a plotext figure (textual-plotext's ``PlotextPlot``
on the chart screen). Every meaning has its own glyph, never a colour alone, so the
chart reads in monochrome (``NO_COLOR``): a rising candle's body is ``█``, a falling
one's ``░``; entries are ``▲`` (buy) and ``▼`` (sell), exits ``×``, a stop that filled
``!`` and a working stop's level a row of ``-``; each overlay indicator has its own dot.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kitetui.tui.cells import ist_datetime, price, timeframe
from kitetui.views import ChartMark, ChartView

UP_BODY = "█"
DOWN_BODY = "░"
WICK = "│"
STOP_LEVEL = "-"
MARK_GLYPHS = {
    ("ENTRY", "BUY"): "▲",
    ("ENTRY", "SELL"): "▼",
    ("EXIT", "BUY"): "×",
    ("EXIT", "SELL"): "×",
    ("STOP_FILL", "BUY"): "!",
    ("STOP_FILL", "SELL"): "!",
}
MARK_WORDS = {"▲": "buy", "▼": "sell", "×": "exit", "!": "stop hit", STOP_LEVEL: "stop"}
#: The overlays' glyphs, in the strategy's order (a fifth overlay reuses the first).
OVERLAY_GLYPHS = ("•", "+", "∘", "*")
MARK_COLORS = {"▲": "green", "▼": "red", "×": "orange", "!": "red", STOP_LEVEL: "orange"}
OVERLAY_COLORS = ("cyan", "magenta", "blue", "yellow")
#: Columns the plot's frame and price labels take from the widget's width.
AXIS_COLUMNS = 12
#: Fewest columns between two time labels on the x axis.
TICK_SPACING = 14

Segment = tuple[tuple[int, ...], tuple[float, ...]]


@dataclass(frozen=True, slots=True)
class Overlay:
    name: str
    glyph: str
    color: str
    segments: tuple[Segment, ...]  # runs of bars that have a value (gaps stay gaps)


@dataclass(frozen=True, slots=True)
class PricePlot:
    """What the chart draws, in plot coordinates: x is the bar's index in the window."""

    candles: tuple[tuple[int, float, float, float, float], ...]  # (x, open, high, low, close)
    overlays: tuple[Overlay, ...]
    marks: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...]  # (glyph, xs, ys)
    stops: tuple[tuple[int, int, float], ...]  # (first x, last x, trigger)
    xticks: tuple[tuple[int, ...], tuple[str, ...]]
    off_scale: tuple[ChartMark, ...] = ()  # marks of another price scale (an option's)

    @property
    def empty(self) -> bool:
        return not self.candles


def bars_that_fit(width: int) -> int:
    """One candle a column: how many bars a plot ``width`` characters wide shows."""
    return max(1, width - AXIS_COLUMNS)


def _bar_index(starts: Sequence[int], ts_ns: int) -> int:
    """The index of the bar ``ts_ns`` falls in; -1 before the first."""
    return bisect.bisect_right(starts, ts_ns) - 1


def _segments(values: Sequence[float | None]) -> tuple[Segment, ...]:
    runs: list[Segment] = []
    xs: list[int] = []
    ys: list[float] = []
    for x, value in enumerate(values):
        if value is None or not math.isfinite(value):
            if xs:
                runs.append((tuple(xs), tuple(ys)))
                xs, ys = [], []
            continue
        xs.append(x)
        ys.append(value)
    if xs:
        runs.append((tuple(xs), tuple(ys)))
    return tuple(runs)


def _xticks(starts: Sequence[int], width: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Time labels every ``TICK_SPACING`` columns or so: ``HH:MM``, with the date
    (``MM-DD HH:MM``, fewer of them) when the bars span days, and then always one on
    the first bar of each day."""
    if not starts:
        return (), ()
    days = [ist_datetime(start).date() for start in starts]
    dated = days[0] != days[-1]
    spacing = TICK_SPACING + (6 if dated else 0)
    slots = max(1, (width - AXIS_COLUMNS) // spacing)
    step = max(1, math.ceil(len(starts) / slots))
    openings = [x for x in range(1, len(days)) if days[x] != days[x - 1]]
    regular = [x for x in range(0, len(starts), step) if all(abs(x - o) >= step for o in openings)]
    xs = tuple(sorted({*regular, *openings}))
    fmt = "%m-%d %H:%M" if dated else "%H:%M"
    return xs, tuple(ist_datetime(starts[x]).strftime(fmt) for x in xs)


def price_plot(chart: ChartView, width: int) -> PricePlot:
    """The newest bars that fit ``width`` columns, with their overlays and marks."""
    bars = chart.bars[-bars_that_fit(width) :]
    starts = [bar[0] for bar in bars]
    candles = tuple((x, o, h, low, c) for x, (_, o, h, low, c) in enumerate(bars))
    series = dict(chart.indicators)
    overlays = tuple(
        Overlay(
            name,
            OVERLAY_GLYPHS[i % len(OVERLAY_GLYPHS)],
            OVERLAY_COLORS[i % len(OVERLAY_COLORS)],
            _segments(series[name][-len(bars) :] if bars else ()),
        )
        for i, name in enumerate(chart.overlays)
        if name in series
    )
    if chart.bars_symbol != chart.symbol:  # an option's premium is not on this scale
        return PricePlot(candles, overlays, (), (), _xticks(starts, width), chart.marks)
    points: dict[str, tuple[list[int], list[float]]] = {}
    stops: list[tuple[int, int, float]] = []
    last = len(bars) - 1
    for mark in chart.marks:
        if mark.kind == "STOP":
            first = max(0, _bar_index(starts, mark.ts_ns))
            end = last if not mark.until_ns else _bar_index(starts, mark.until_ns)
            if bars and end >= 0 and mark.price > 0:
                stops.append((first, end, mark.price))
            continue
        glyph = MARK_GLYPHS.get((mark.kind, mark.side))
        x = _bar_index(starts, mark.ts_ns)
        if glyph is None or x < 0:
            continue
        xs, ys = points.setdefault(glyph, ([], []))
        xs.append(x)
        ys.append(mark.price)
    marks = tuple((glyph, tuple(xs), tuple(ys)) for glyph, (xs, ys) in points.items())
    return PricePlot(candles, overlays, marks, tuple(stops), _xticks(starts, width))


def draw(plt: Any, plot: PricePlot) -> None:
    """Draw ``plot`` on a plotext figure (cleared first): overlays under the candles,
    stops and fills over them."""
    plt.clear_data()
    plt.clear_figure()
    if plot.empty:
        return
    for overlay in plot.overlays:
        for xs, ys in overlay.segments:
            plt.plot(xs, ys, marker=overlay.glyph, color=overlay.color)
    for x, o, h, low, c in plot.candles:
        up = c >= o
        color = "green" if up else "red"
        plt.plot([x, x], [low, h], marker=WICK, color=color)
        plt.plot([x, x], [min(o, c), max(o, c)], marker=UP_BODY if up else DOWN_BODY, color=color)
    for first, end, level in plot.stops:
        plt.plot([first, end], [level, level], marker=STOP_LEVEL, color=MARK_COLORS[STOP_LEVEL])
    for glyph, xs, ys in plot.marks:
        plt.scatter(list(xs), list(ys), marker=glyph, color=MARK_COLORS[glyph])
    plt.xlim(-0.5, len(plot.candles) - 0.5)
    plt.xticks(list(plot.xticks[0]), list(plot.xticks[1]))
    plt.frame(True)


def title_line(chart: ChartView, width: int = 0) -> str:
    """What is charted: the symbol, whose bars, the engine, strategy and timeframe, and
    the newest bar's prices; within ``width`` (0: any) the strategy, then the open, high
    and low give way first."""
    head = [chart.symbol]
    if chart.bars_symbol != chart.symbol:
        head.append(f"on {chart.bars_symbol}")
    tf = timeframe(chart.timeframe_s)
    whos = (f"{chart.engine} {chart.strategy} {tf}", f"{chart.engine} {tf}")
    prices = ("",)
    if chart.bars:
        ts, o, h, low, c = chart.bars[-1]
        stamp = ist_datetime(ts).strftime("%H:%M")
        prices = (
            f"{stamp} O {_short(o)} H {_short(h)} L {_short(low)} C {_short(c)}",
            f"{stamp} C {_short(c)}",
        )
    candidates = [
        " · ".join(part for part in (*head, who, last) if part) for last in prices for who in whos
    ]
    return next((t for t in candidates if not width or len(t) <= width), candidates[-1])


def _short(value: float) -> str:
    """A price without trailing zeros or grouping (18294, 18351.25): the title fits 80."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def legend_line(chart: ChartView, plot: PricePlot) -> str:
    """What each glyph means, for the glyphs on this chart (candles always), then the
    newest value of every indicator not drawn (RSI, ATR…)."""
    parts = [f"{UP_BODY} up {DOWN_BODY} down"]
    parts += [f"{o.glyph} {o.name}" for o in plot.overlays]
    shown = {glyph for glyph, _, _ in plot.marks}
    if plot.stops:
        shown.add(STOP_LEVEL)
    parts += [f"{glyph} {MARK_WORDS[glyph]}" for glyph in MARK_WORDS if glyph in shown]
    drawn = {o.name for o in plot.overlays}
    for name, values in chart.indicators:
        if name in drawn:
            continue
        value = next((v for v in reversed(values) if v is not None), None)
        if value is not None:
            parts.append(f"{name} {value:,.2f}")
    return "  ".join(parts)


def off_scale_lines(plot: PricePlot, limit: int = 3) -> tuple[str, ...]:
    """The newest fills of a symbol charted on another's bars (an option), in words."""
    fills = [m for m in plot.off_scale if m.kind != "STOP"][-limit:]
    words = {"ENTRY": "entry", "EXIT": "exit", "STOP_FILL": "stop hit"}
    return tuple(
        f"{ist_datetime(m.ts_ns).strftime('%m-%d %H:%M')} {words.get(m.kind, m.kind)} "
        f"{m.side} {m.quantity} @ {price(m.price)}"
        for m in fills
    )
