"""The Performance tab (8): today's figures by default, the whole run and each earlier
day one ``v`` away, every figure of the selected part in the detail pane.

Pure row and detail builders first, then Pilot on a fake link; awaits are bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses

from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.cells import PERFORMANCE_COLUMNS, performance_row
from kitetui.tui.details import performance_detail
from kitetui.tui.scope import performance_in
from kitetui.tui.tabs import TAB_SPECS
from kitetui.views import PerformanceRow, PerformanceView

from .fakes import FakeLink, busy_snapshot, multi_day_snapshot, next_snapshot

SIZE = (120, 40)
STEP_S = 5.0


def texts(row) -> list[str]:
    return [cell.text for cell in row]


def info(app: KiteTuiApp) -> str:
    return str(app.desk.pane("performance").query_one(".pane-info").render())


def detail_text(app: KiteTuiApp) -> str:
    detail = app.desk.pane("performance").detail_pane
    assert detail is not None and detail.detail is not None
    return "\n".join("".join(cell.text for cell in line) for line in detail.detail)


def test_performance_row_with_no_loss_shows_dashes_and_the_drawdown_as_a_loss() -> None:
    row = PerformanceRow(
        "run", "engine", "fno", "ema_cross", 3, 1, 3, 0, 1500.0, 60.25, 1439.75,
        479.92, None, None, 479.92, 120.5, 1_000_000.0,
    )  # fmt: skip
    cells = performance_row(row)
    assert len(cells) == len(PERFORMANCE_COLUMNS)
    assert texts(cells) == [
        "engine", "fno", "3", "100%", "+1,439.75", "+1,500.00", "60.25", "+479.92", "—",
        "-120.50", "1", "—", "+479.92", "ema_cross",
    ]  # fmt: skip
    assert [cells[4].tone, cells[9].tone, cells[8].tone] == ["up", "down", ""]
    whole = performance_row(PerformanceRow("2024-01-15", "all"))
    assert texts(whole)[:4] == ["all", "2024-01-15", "0", "—"] and whole[0].tone == "label"
    assert texts(performance_row(PerformanceRow("run", "all")))[1] == "whole run"


def test_performance_detail_says_every_figure_of_the_part() -> None:
    row = PerformanceRow(
        "2024-01-12", "symbol", "SBIN", "", 2, 0, 0, 2, -30000.0, 45.0, -30045.0,
        None, -15022.5, 0.0, -15022.5, 30045.0, 1_820_000.0,
    )  # fmt: skip
    text = "\n".join("".join(c.text for c in line) for line in performance_detail(row))
    assert "symbol SBIN, 2024-01-12" in text
    assert "net -30,045.00" in text and "charges 45.00" in text
    assert "2 closed (0 won, 2 lost)" in text and "win rate 0%" in text
    assert "avg loss -15,022.50" in text and "max DD (closed trades) -30,045.00" in text
    assert "profit factor 0.00" in text and "turnover 18,20,000.00" in text


def test_performance_in_today_before_the_first_trading_day_is_empty() -> None:
    snapshot = dataclasses.replace(busy_snapshot(), day="")
    assert performance_in(snapshot, "today") == ()
    assert performance_in(snapshot, "run")[0].name == ""


def test_performance_tab_is_eighth_and_scoped() -> None:
    spec = TAB_SPECS[7]
    assert (spec.name, spec.title, spec.scoped) == ("performance", "Perf", True)


async def test_performance_tab_shows_today_then_the_run_then_each_day() -> None:
    app = make_app(FakeLink(multi_day_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("8")
        await pilot.pause()
        assert app.desk.active_tab == "performance"
        table = app.desk.pane("performance").table
        assert info(app).startswith("today 2024-01-15 (v: whole run)")
        assert list(table.shown_rows) == [
            "2024-01-15|all|",
            "2024-01-15|engine|fno-trend",
            "2024-01-15|symbol|NIFTY24JANFUT",
        ]
        assert texts(table.shown_rows["2024-01-15|all|"])[2:5] == ["1", "100%", "-140.20"]

        await pilot.press("v")
        await pilot.pause()
        assert info(app).startswith("whole run, 2 days (v: 2024-01-12)")
        shown = table.shown_rows
        assert texts(shown["run|all|"])[1:5] == ["whole run", "5", "20%", "-31,941.40"]
        assert texts(shown["run|engine|equity-mr"])[-1] == "mean_reversion"
        days = [key for key in shown if key.startswith("run|day|")]
        assert days == ["run|day|2024-01-12", "run|day|2024-01-15"]

        await pilot.press("v")
        await pilot.pause()
        assert info(app).startswith("day 2024-01-12 (v: today)")
        assert texts(table.shown_rows["2024-01-12|symbol|SBIN"])[4] == "-30,045.00"
        assert "2024-01-15|all|" not in table.shown_rows

        await pilot.press("v")
        await pilot.pause()
        assert app.desk.scope == "today"
        assert next(iter(table.shown_rows)) == "2024-01-15|all|"


async def test_performance_detail_follows_the_cursor_and_rows_follow_new_fills() -> None:
    snapshot = busy_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("8")
        await pilot.pause()
        assert "part 2024-01-15" in detail_text(app)
        assert "trades 5 closed (3 won, 2 lost)" in detail_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert "engine fno-trend (fno_intraday_trend), 2024-01-15" in detail_text(app)

        # a fill closes another INFY trade: the next snapshot's rows say so
        rows = tuple(
            dataclasses.replace(r, trades=r.trades + 1, losses=r.losses + 1, net=r.net - 100)
            if r.scope == "2024-01-15" and r.name in ("", "INFY")
            else r
            for r in snapshot.performance.rows
        )
        link.publish(next_snapshot(snapshot, performance=PerformanceView(rows)))
        await asyncio.wait_for(app.workers.wait_for_complete(), STEP_S)
        await pilot.pause(0.3)
        table = app.desk.pane("performance").table
        assert texts(table.shown_rows["2024-01-15|all|"])[2:5] == ["6", "50%", "+2,970.50"]
        assert texts(table.shown_rows["2024-01-15|symbol|INFY"])[2] == "3"
