"""The price chart's layout as plain data: which bars fit, where each mark lands, which
glyph says what (every meaning its own glyph: the chart must read without colour)."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual_plotext.plot import Plot

from kitetui.tui.price_chart import (
    DOWN_BODY,
    MARK_GLYPHS,
    OVERLAY_GLYPHS,
    STOP_LEVEL,
    UP_BODY,
    WICK,
    bars_that_fit,
    draw,
    legend_line,
    off_scale_lines,
    price_plot,
    title_line,
)
from kitetui.views import ChartMark, ChartView

from .fakes import nifty_chart, ts

FIVE_MIN = 300_000_000_000


def _chart(n: int = 10, marks: tuple[ChartMark, ...] = (), **changes: object) -> ChartView:
    start = ts(9, 15)
    bars = tuple(
        (start + i * FIVE_MIN, 100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i if i % 2 else 99.5 + i)
        for i in range(n)
    )
    chart = ChartView(
        "SBIN",
        "SBIN",
        "eq",
        "ema_cross",
        300,
        bars,
        (
            ("ema_fast", tuple(None if i < 2 else 100.0 + i for i in range(n))),
            ("atr", tuple(1.0 + i / 10 for i in range(n))),
        ),
        ("ema_fast",),
        marks,
    )
    return dataclasses.replace(chart, **changes)


def test_every_meaning_has_its_own_glyph() -> None:
    kinds = {}
    for (kind, side), glyph in MARK_GLYPHS.items():
        kinds.setdefault(glyph, set()).add(kind if kind != "ENTRY" else f"{kind} {side}")
    assert all(len(meanings) == 1 for meanings in kinds.values())
    glyphs = [*kinds, STOP_LEVEL, UP_BODY, DOWN_BODY, WICK, *OVERLAY_GLYPHS]
    assert len(glyphs) == len(set(glyphs))


def test_price_plot_shows_the_newest_bars_that_fit() -> None:
    assert bars_that_fit(80) == 68 and bars_that_fit(5) == 1
    chart = _chart(100)
    plot = price_plot(chart, 80)
    assert len(plot.candles) == 68
    assert plot.candles[0] == (0, *chart.bars[32][1:])
    assert plot.candles[-1] == (67, *chart.bars[-1][1:])
    overlay = plot.overlays[0]
    assert (overlay.name, overlay.glyph) == ("ema_fast", OVERLAY_GLYPHS[0])
    assert overlay.segments[0][0][0] == 0 and overlay.segments[0][1][0] == 132.0
    small = price_plot(_chart(10), 160)
    assert len(small.candles) == 10
    # the overlay starts where the strategy had a value (gaps stay gaps)
    assert small.overlays[0].segments == (
        (tuple(range(2, 10)), tuple(100.0 + i for i in range(2, 10))),
    )


def test_marks_land_on_the_bar_they_happened_in() -> None:
    start = ts(9, 15)
    marks = (
        ChartMark("ENTRY", start + 3 * FIVE_MIN + 7, 103.0, "BUY", 10, "a"),
        ChartMark("ENTRY", start + 8 * FIVE_MIN, 108.0, "SELL", 10, "b"),
        ChartMark("EXIT", start + 5 * FIVE_MIN + 1, 105.5, "SELL", 10, "c"),
        ChartMark("STOP_FILL", start + 9 * FIVE_MIN + 1, 109.5, "BUY", 10, "d"),
        ChartMark("ENTRY", start - FIVE_MIN, 99.0, "BUY", 10, "before the first bar"),
        ChartMark(
            "STOP", start + 3 * FIVE_MIN + 9, 98.0, "SELL", 10, "e", start + 5 * FIVE_MIN + 1
        ),
        ChartMark("STOP", start - 2 * FIVE_MIN, 97.0, "SELL", 10, "f"),  # still working
        ChartMark("STOP", start + 8 * FIVE_MIN, 0.0, "BUY", 10, "g"),  # no trigger: not drawn
    )
    plot = price_plot(_chart(10, marks), 160)
    assert dict((g, (xs, ys)) for g, xs, ys in plot.marks) == {
        "▲": ((3,), (103.0,)),
        "▼": ((8,), (108.0,)),
        "×": ((5,), (105.5,)),
        "!": ((9,), (109.5,)),
    }
    assert plot.stops == ((3, 5, 98.0), (0, 9, 97.0))
    assert plot.off_scale == ()


def test_an_options_marks_are_listed_not_drawn_on_the_underlyings_candles() -> None:
    start = ts(9, 15)
    marks = (
        ChartMark("ENTRY", start + FIVE_MIN, 141.35, "BUY", 200, "o1"),
        ChartMark("STOP", start + FIVE_MIN, 120.0, "SELL", 200, "o2"),
        ChartMark("EXIT", start + 4 * FIVE_MIN, 135.9, "SELL", 200, "o3"),
    )
    chart = _chart(6, marks, symbol="NIFTY22NOV18250CE", bars_symbol="NIFTY 50")
    plot = price_plot(chart, 80)
    assert plot.marks == () and plot.stops == () and plot.off_scale == marks
    assert off_scale_lines(plot) == (
        "01-15 09:20 entry BUY 200 @ 141.35",
        "01-15 09:35 exit SELL 200 @ 135.90",
    )
    assert title_line(chart).startswith("NIFTY22NOV18250CE · on NIFTY 50 · eq ema_cross 5m")


def test_title_and_legend_say_what_is_drawn_and_the_other_values() -> None:
    start = ts(9, 15)
    marks = (
        ChartMark("ENTRY", start + FIVE_MIN, 101.0, "BUY", 10, "a"),
        ChartMark("STOP", start + FIVE_MIN, 98.0, "SELL", 10, "b"),
    )
    chart = _chart(4, marks)
    plot = price_plot(chart, 80)
    assert title_line(chart) == "SBIN · eq ema_cross 5m · 09:30 O 103 H 105 L 102 C 104"
    assert legend_line(chart, plot) == "█ up ░ down  • ema_fast  ▲ buy  - stop  atr 1.30"
    assert legend_line(_chart(4), price_plot(_chart(4), 80)) == "█ up ░ down  • ema_fast  atr 1.30"


def test_title_gives_way_strategy_first_then_open_high_low_to_fit() -> None:
    chart = nifty_chart()
    full = (
        "NIFTY24JANFUT · fno-trend fno_intraday_trend 5m · "
        "10:25 O 21710.35 H 21761 L 21703.35 C 21755.5"
    )
    assert title_line(chart) == title_line(chart, len(full)) == full
    assert (
        title_line(chart, 78)
        == "NIFTY24JANFUT · fno-trend 5m · 10:25 O 21710.35 H 21761 L 21703.35 C 21755.5"
    )
    assert (
        title_line(chart, 70) == "NIFTY24JANFUT · fno-trend fno_intraday_trend 5m · 10:25 C 21755.5"
    )
    assert title_line(chart, 50) == "NIFTY24JANFUT · fno-trend 5m · 10:25 C 21755.5"
    assert title_line(chart, 10) == "NIFTY24JANFUT · fno-trend 5m · 10:25 C 21755.5"  # the shortest


def test_time_labels_carry_the_date_when_the_bars_span_days() -> None:
    one_day = price_plot(_chart(40), 80).xticks
    assert one_day[1][0] == "09:15" and all(len(label) == 5 for label in one_day[1])
    assert len(one_day[0]) == len(one_day[1]) >= 3
    two_days = price_plot(nifty_chart(), 160).xticks
    assert two_days[1][0].startswith("01-12 ") and two_days[1][-1].startswith("01-15 ")


def test_draw_puts_candles_overlays_stops_and_marks_on_a_plotext_figure() -> None:
    chart = nifty_chart()
    plt = Plot()
    draw(plt, price_plot(chart, 100))
    plt.plotsize(100, 30)
    plt.theme("clear")
    text = Text.from_ansi(plt.build()).plain
    for glyph in (UP_BODY, DOWN_BODY, WICK, "▲", "▼", "!", STOP_LEVEL * 5, OVERLAY_GLYPHS[0]):
        assert glyph in text, glyph
    assert "01-15" in text  # the dated time axis
    empty = Plot()
    draw(empty, price_plot(_chart(0), 100))  # nothing to draw: no error, a blank figure
    assert price_plot(_chart(0), 100).empty
