"""report.html: one self-contained page with its charts and tables, nothing fetched."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from backtest.factories import sample_ledger
from kitetui.backtest.build import build_report
from kitetui.backtest.html import render_html, thin


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.scripts = 0
        self.inline_script_chars = 0
        self.tables = 0
        self.ids: set[str] = set()
        self._in_script = False

    def handle_starttag(self, tag, attrs) -> None:
        values = dict(attrs)
        for name in ("src", "href", "data", "action", "poster"):
            if values.get(name):
                self.links.append((tag, name, values[name] or ""))
        if tag == "link":
            self.links.append((tag, "link", values.get("href") or ""))
        if tag == "script":
            self.scripts += 1
            self._in_script = True
        if tag == "table":
            self.tables += 1
        if values.get("id"):
            self.ids.add(values["id"] or "")

    def handle_endtag(self, tag) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data) -> None:
        if self._in_script:
            self.inline_script_chars += len(data)


def test_report_html_is_one_offline_file_with_charts_and_tables() -> None:
    report = build_report(sample_ledger())
    page = _Page()
    text = render_html(report)
    page.feed(text)
    assert page.links == []  # no src/href at all: nothing to fetch, online or not
    assert {"equity", "calendar"} <= page.ids
    assert page.inline_script_chars > 1_000_000  # plotly.js itself is inlined
    assert text.count("Plotly.newPlot") == 2
    assert page.tables >= 5  # charges, by strategy, by symbol, by day, trades
    assert "NIFTY24JANFUT" in text and "2024-01-02" in text
    assert "charged nothing" in text  # warnings are shown, not hidden
    assert report.run_id in text


def test_report_html_escapes_what_came_from_the_journal() -> None:
    ledger = sample_ledger()
    hostile = ledger.__class__(
        **{**{f: getattr(ledger, f) for f in ledger.__slots__}, "warnings": ("<script>x</script>",)}
    )
    text = render_html(build_report(hostile))
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text


def test_a_desk_runs_report_is_titled_by_its_mode_not_backtest() -> None:
    """probe C: a live run's HTML report said "Backtest <run>"."""
    ledger = sample_ledger()
    fields = {f: getattr(ledger, f) for f in ledger.__slots__}
    live = ledger.__class__(
        **{**fields, "run": dataclasses.replace(ledger.run, mode="live"), "backtest": False}
    )
    text = render_html(build_report(live))
    assert f"<h1>Live run {ledger.run.run_id}</h1>" in text
    assert f"<title>kitetui live run {ledger.run.run_id}</title>" in text
    assert "Backtest" not in text
    assert f"<h1>Backtest {ledger.run.run_id}</h1>" in render_html(build_report(ledger))


def test_thin_keeps_each_stretch_extremes_and_both_ends() -> None:
    report = build_report(sample_ledger())
    points = report.equity
    kept = thin(points, limit=50)
    assert len(kept) <= 60
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert min(p.net for p in kept) == min(p.net for p in points)
    assert max(p.net for p in kept) == max(p.net for p in points)
    assert [p.ts_ns for p in kept] == sorted(p.ts_ns for p in kept)
