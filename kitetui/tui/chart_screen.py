"""The price chart of one symbol, over the desk: ``g`` on a row opens it, Esc closes it.

The screen asks the desk for the chart (``DeskLink.chart``, the control socket's
``chart`` read) when it opens and again whenever the desk has published a new snapshot,
at most once every ``REFRESH_S`` seconds, so it follows a live market without asking
more often than a person can read, and a slow desk never freezes it (the read runs in
a worker; one at a time). Drawing is textual-plotext's ``PlotextPlot``; what is drawn
and with which glyph is decided in ``price_chart.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from kitetui.control.link import DeskLink
from kitetui.tui.footer import KeyFooter
from kitetui.tui.price_chart import (
    draw,
    legend_line,
    off_scale_lines,
    price_plot,
    title_line,
)
from kitetui.views import ChartView, DeskSnapshot


class PriceChartPlot(PlotextPlot):
    """A plotext plot of one ``ChartView``, laid out again when the chart or the width
    changes (the width decides how many bars fit)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._chart: ChartView | None = None
        self._drawn: tuple[ChartView | None, int] | None = None

    def show(self, chart: ChartView | None) -> None:
        if chart != self._chart:
            self._chart = chart
            self.refresh()

    def render(self) -> RenderResult:
        width = self.size.width
        if self._drawn != (self._chart, width):
            self._drawn = (self._chart, width)
            if self._chart is None:
                self.plt.clear_data()
                self.plt.clear_figure()
            else:
                draw(self.plt, price_plot(self._chart, width))
        return super().render()


class ChartScreen(Screen[None]):
    """One symbol's candles, indicators, fills and stops, following the desk."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back to the desk"),
        Binding("g", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    ChartScreen #chart-title { height: 1; text-style: bold; padding: 0 1; }
    ChartScreen #chart-legend { height: auto; max-height: 5; padding: 0 1; }
    ChartScreen #price-chart { height: 1fr; }
    """
    #: The shortest time between two reads of the chart while the desk keeps publishing.
    REFRESH_S = 1.0

    def __init__(
        self,
        link: DeskLink,
        symbol: str,
        *,
        refresh_hz: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._link = link
        self.symbol = symbol
        self._refresh_hz = refresh_hz
        self._clock = clock
        self._seen: DeskSnapshot | None = None  # the snapshot of the last read
        self._asked_at: float | None = None
        self._loading = False
        self.chart: ChartView | None = None
        """The chart on screen (None before the first answer, or when there is none)."""
        self.reads = 0
        """How many times the desk was asked for the chart."""

    def compose(self) -> ComposeResult:
        self._title = Static(f"{self.symbol} · loading…", id="chart-title")
        self._legend = Static("", id="chart-legend")
        self._plot = PriceChartPlot(id="price-chart")
        yield self._title
        yield self._legend
        yield self._plot
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.set_interval(1 / self._refresh_hz, self.follow, name="follow-chart")
        self._read()

    def follow(self) -> None:
        """Read the chart again when the desk has published since the last read, at most
        once every ``REFRESH_S``."""
        if self._loading:
            return
        snapshot = self._link.snapshot()
        if snapshot is None or snapshot is self._seen:
            return
        if self._asked_at is not None and self._clock() - self._asked_at < self.REFRESH_S:
            return
        self._read()

    def _read(self) -> None:
        self._loading = True
        self._seen = self._link.snapshot()
        self._asked_at = self._clock()
        self.reads += 1
        self.run_worker(self._load(), group="chart", exit_on_error=False)

    async def _load(self) -> None:
        try:
            # Shielded: a read on the supervisor must never be cancelled half-way.
            chart = await asyncio.shield(self._link.chart(self.symbol))
        except Exception as exc:  # the screen says so; the desk is unaffected
            self._title.update(f"{self.symbol} · the chart could not be read")
            self._legend.update(f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._loading = False
        self.show(chart)

    def show(self, chart: ChartView | None) -> None:
        self.chart = chart
        if chart is None:
            problem = self._link.connection_problem()
            self._title.update(f"{self.symbol} · no chart")
            self._legend.update(problem or "No engine has bars for this symbol yet, nor traded it.")
            self._plot.show(None)
            return
        width = self.size.width or 80
        plot = price_plot(chart, self._plot.size.width or width)
        title = title_line(chart, width - 2)  # the title's padding
        self._title.update(Text(title, no_wrap=True, overflow="ellipsis"))
        lines = [legend_line(chart, plot)]
        if chart.note:
            lines.append(chart.note)
        lines += off_scale_lines(plot)
        if not chart.bars:
            lines.append("No bars yet: the engine has not decided on this symbol.")
        self._legend.update("\n".join(lines))
        self._plot.show(chart)

    def on_resize(self) -> None:
        if self.chart is not None:
            self.show(self.chart)  # the title and legend fit the new width

    def action_close(self) -> None:
        self.app.pop_screen()
