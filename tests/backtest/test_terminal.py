"""The one-screen summary and its curves drawn in eighth blocks."""

from __future__ import annotations

from rich.console import Console

from backtest.factories import sample_ledger
from kitetui.backtest.build import build_report
from kitetui.backtest.terminal import column_chart, print_summary


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
