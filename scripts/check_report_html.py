#!/usr/bin/env python3
"""Open a backtest's report.html in a headless browser, offline, and check it rendered.

The test suite parses the page (``tests/backtest/test_html.py``: no src/href, plotly
inlined, the figures and tables present); this goes one step further where a browser
is installed: Chromium (or Chrome) loads the file with every host name unresolvable,
runs its scripts, and the DOM it prints must hold the plotly charts as drawn SVG
(``main-svg``) for both figures, and the tables. Exit 0 checked, 1 a check failed,
77 no browser found (nothing was checked; the exit code automake uses for "skipped").

    python scripts/check_report_html.py reports/<run>/report.html [--browser PATH]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def rendered_dom(browser: str, page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                "--headless=new",
                "--disable-gpu",
                "--no-sandbox",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no name resolves
                "--virtual-time-budget=10000",  # let plotly draw before the DOM is taken
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0:
        raise SystemExit(f"{browser} failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return done.stdout


def check(dom: str) -> list[str]:
    """What is missing from the rendered page (empty: all there)."""
    problems = []
    for chart in ("equity", "calendar"):
        start = dom.find(f'id="{chart}"')
        if start < 0:
            problems.append(f"no #{chart} chart")
        elif "main-svg" not in dom[start : start + 200_000]:
            problems.append(f"#{chart} was not drawn (no plotly SVG)")
    if dom.count("<table") < 5:
        problems.append(f"{dom.count('<table')} tables, expected at least 5")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--browser")
    args = parser.parse_args(argv)
    browser = find_browser(args.browser)
    if browser is None:
        print(f"no headless browser found ({', '.join(BROWSERS)}): not checked", file=sys.stderr)
        return 77
    problems = check(rendered_dom(browser, args.report))
    for problem in problems:
        print(f"{args.report}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.report}: rendered offline in {browser}: charts drawn, tables present")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
