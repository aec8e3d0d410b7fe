"""The one-screen summary and its curves drawn in eighth blocks."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console

from backtest.factories import sample_ledger
from kitetui.backtest.build import build_report
from kitetui.backtest.files import report_json
from kitetui.backtest.html import render_html
from kitetui.backtest.ledger import _counted
from kitetui.backtest.terminal import column_chart, print_summary
from kitetui.money import NO_CHARGES


def test_column_chart_draws_lowest_to_highest_in_eighths() -> None:
    lines = column_chart([0, 1, 2, 3, 4, 5, 6, 7], width=8, height=1)
    assert lines == ["▁▂▃▄▅▆▇█"]
    tall = column_chart([0.0, 15.0], width=2, height=2)
    assert tall == [" █", "▁█"]


def test_column_chart_takes_each_stretchs_lowest_value() -> None:
    assert column_chart([9, 0, 9, 9], width=2, height=1) == ["▁█"]
    assert column_chart([], width=10, height=3) == []
    assert column_chart([5, 5, 5], width=3, height=1) == ["▄▄▄"]  # flat: mid-height


def test_summary_fits_one_screen_with_figures_curves_and_charges() -> None:
    console = Console(width=100, record=True, color_system=None)
    print_summary(build_report(sample_ledger()), console, paths=["r/report.html"])
    text = console.export_text()
    lines = text.splitlines()
    assert len(lines) <= 40 and all(len(line) <= 100 for line in lines)
    for word in ("net P&L", "gross P&L", "charges", "win rate", "Sharpe", "max drawdown",
                 "equity", "drawdown", "brokerage", "STT", "GST", "r/report.html",
                 "ema_cross", "warning: order t9"):  # fmt: skip
        assert word in text, word
    assert "█" in text
    assert "₹-0 " not in text and "drawdown  ₹0 … ₹-" in text  # the top of the curve: none


def test_the_daily_ratios_say_how_many_days_they_are_annualised_from() -> None:
    """An audit: a five-day run showed a Sharpe of -346.72 with no hint it rests on five
    points."""
    report = build_report(sample_ledger())
    console = Console(width=100, record=True, color_system=None)
    print_summary(report, console, paths=[])
    days = len(report.ledger.days)
    assert f"Sharpe ({days} day" in console.export_text()


def test_charges_say_how_many_fills_they_leave_out_and_one_line_counts_the_orders() -> None:
    """Probe: a backtest of 2016 data (before the rate table's first row) headlined
    "charges ₹0.00" as if priced, and its 192 one-line-an-order warnings pushed the
    data's own warnings (rows out of order) off the summary."""
    base = sample_ledger()
    fills = tuple(
        replace(f, charges=NO_CHARGES, priced=False) if i < 2 else f
        for i, f in enumerate(base.fills)
    )
    report = build_report(replace(base, fills=fills))
    console = Console(width=120, record=True, color_system=None)
    print_summary(report, console, paths=[])
    assert "+ 2 fill(s) unpriced, not in net" in console.export_text()
    assert report_json(report)["unpriced_fills"] == 2
    assert "+ 2 fill(s) unpriced, not in net" in render_html(report)
    assert report_json(build_report(base))["unpriced_fills"] == 0
    problems = [f"order t{n} (NSE:X MIS on 2016-08-16): charged nothing: no rate" for n in (1, 2)]
    assert _counted(problems) == [f"{problems[0]} (and 1 more orders charged nothing: fills.csv)"]
    assert _counted(problems[:1]) == problems[:1]
