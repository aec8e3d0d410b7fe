"""Pilot tests of the desk's fixes from issue 14: what a trader reads on the screen.

Each drives ``make_app(FakeLink(...))`` and asserts on widget state; awaits are bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from rich.console import Console
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from kitetui.commands import CancelOrder, PauseEntries, ResetKillSwitch, StopEngine
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.cells import headline_rows, money, spans_days
from kitetui.tui.desk_screen import command_title
from kitetui.tui.screens import SummaryScreen
from kitetui.tui.widgets import counted

from .fakes import HEADLINE, FakeLink, busy_snapshot, multi_day_snapshot

SIZE = (120, 40)
STEP_S = 5.0


async def settle(app: KiteTuiApp, pilot) -> None:
    await asyncio.wait_for(app.workers.wait_for_complete(), STEP_S)
    await pilot.pause()


def info_text(app: KiteTuiApp, tab: str) -> str:
    return str(app.desk.pane(tab).query_one(".pane-info").render())


@pytest.mark.parametrize(
    ("count", "noun", "text"),
    [(1, "positions", "1 position"), (2, "positions", "2 positions"), (0, "orders", "0 orders")],
)
def test_counted_with_one_is_singular(count: int, noun: str, text: str) -> None:
    assert counted(count, noun) == text


@pytest.mark.parametrize(
    ("command", "title"),
    [
        (StopEngine("fno-trend"), "Stop engine fno-trend"),
        (CancelOrder("fno-0002"), "Cancel order fno-0002"),
        (PauseEntries(), "Pause entries"),
        (PauseEntries("equity-mr"), "Pause entries equity-mr"),
        (ResetKillSwitch(), "Reset kill switch"),
    ],
)
def test_command_title_with_command_is_words_not_a_class_name(command, title: str) -> None:
    assert command_title(command) == title


async def test_positions_info_with_one_position_says_position() -> None:
    snapshot = busy_snapshot()
    snapshot = dataclasses.replace(snapshot, positions=snapshot.positions[:1])
    app = make_app(FakeLink(snapshot))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert info_text(app, "positions").endswith(" · 1 position")
        assert "1 positions" not in info_text(app, "positions")


async def test_signals_info_counts_the_signals_it_can_list_not_the_holds_beside_them() -> None:
    """'2 signals · newest 2 of 114' promised 112 signals that history then showed as
    'rows 1-2 of 2': the total counted the HOLDs, which are only counted."""
    snapshot = busy_snapshot()
    listed = len(snapshot.signals)
    snapshot = dataclasses.replace(snapshot, counts=(("signals", 114), ("signals_listed", listed)))
    more = dataclasses.replace(snapshot, counts=(("signals_listed", listed + 7),))
    for shown, says in (
        (snapshot, f"{listed} signals"),
        (more, f"newest {listed} of {listed + 7}"),
    ):
        app = make_app(FakeLink(shown))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await pilot.pause()
            text = info_text(app, "signals")
            assert text.endswith(says), text


async def test_palette_with_desk_lists_desk_actions_not_textuals_own() -> None:
    app = make_app(FakeLink(busy_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert not titles & {"Quit", "Screenshot", "Theme", "Keys help panel", "Maximize"}
        assert {"Kill switch", "Pause entries", "Flatten position", "Keys"} <= titles


async def test_escape_after_enter_clears_the_kept_filter() -> None:
    app = make_app(FakeLink(busy_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("2", "slash", *"nifty", "enter")
        await pilot.pause()
        pane = app.desk.pane("orders")
        assert pane.table.filter_text == "nifty"
        assert app.focused is pane.table  # Enter kept the filter and gave the table the keys
        assert len(pane.table.shown_rows) == 2
        await pilot.press("escape")
        await pilot.pause()
        assert pane.table.filter_text == ""
        assert pane.filter_input.value == ""
        assert not pane.filter_input.display
        assert len(pane.table.shown_rows) == len(busy_snapshot().orders)
        assert app.focused is pane.table


@pytest.mark.parametrize("no_color", [True, False])
async def test_cursor_row_with_no_color_is_reversed_and_bold(monkeypatch, no_color: bool) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = make_app(FakeLink(busy_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        style = app.desk.pane("positions").table.get_component_rich_style("datatable--cursor")
        distinct = bool(style.reverse) and bool(style.bold)
        assert distinct is no_color  # with colour, the theme's cursor colour does it


async def test_risk_tab_with_kill_switch_on_says_entries_blocked() -> None:
    snapshot = busy_snapshot()
    risk = dataclasses.replace(snapshot.risk, kill_switch=True)
    killed = dataclasses.replace(snapshot, risk=risk)
    app = make_app(FakeLink(killed))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        summary = str(app.query_one("#risk-summary").render())
        assert "Kill switch ON" in summary
        assert "Entries BLOCKED" in summary and "Entries open" not in summary


# ---- today, the whole run, a past day (v) ---------------------------------------------


async def test_positions_with_a_multi_day_run_show_today_then_run_then_each_day() -> None:
    snapshot = multi_day_snapshot()
    app = make_app(FakeLink(snapshot))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.desk.pane("positions").table
        assert list(table.shown_rows) == ["NIFTY24JANFUT"]  # SBIN closed on day one
        assert info_text(app, "positions").startswith("today 2024-01-15 (v: whole run)")
        net = table.shown_rows["NIFTY24JANFUT"][2].text
        assert net == "-340.20" == money(snapshot.risk.day_pnl)  # adds up to the header

        await pilot.press("v")
        await pilot.pause()
        assert set(table.shown_rows) == {"SBIN", "NIFTY24JANFUT"}
        assert info_text(app, "positions").startswith("whole run, 2 days (v: 2024-01-12)")
        assert table.shown_rows["SBIN"][2].text == "-30,045.00"

        await pilot.press("v")
        await pilot.pause()
        assert info_text(app, "positions").startswith("day 2024-01-12 (v: today)")
        assert table.shown_rows["NIFTY24JANFUT"][2].text == "-1,756.20"

        await pilot.press("v")
        await pilot.pause()
        assert list(table.shown_rows) == ["NIFTY24JANFUT"]
        assert app.desk.scope == "today"


async def test_risk_tab_labels_todays_figures_and_the_runs_and_charts_today() -> None:
    app = make_app(FakeLink(multi_day_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        console = Console(width=120, record=True, color_system=None)
        console.print(app.query_one("#risk-figures", Static).content)
        figures = console.export_text()
        today = next(line for line in figures.splitlines() if line.startswith("today 01-15"))
        run = next(line for line in figures.splitlines() if line.startswith("run, 2 days"))
        assert today.split()[2:] == [
            "-340.20", "-300.00", "40.20", "+200.00", "-500.00", "-800.00"
        ]  # fmt: skip
        assert run.split()[3:] == [
            "-32,141.40", "-32,000.00", "141.40", "-31,500.00", "-500.00", "-32,500.00"
        ]  # fmt: skip
        assert str(app.query_one("#equity-title").render()) == "Equity, today 2024-01-15"
        chart = str(app.query_one("#equity-chart").render())
        assert "01-12" not in chart  # today's points only: the axis stays on one date
        await pilot.press("v")
        await pilot.pause()
        assert str(app.query_one("#equity-title").render()) == "Equity, whole run, 2 days"
        chart = str(app.query_one("#equity-chart").render())
        assert "01-12" in chart and "01-15" in chart  # an axis across dates says the dates


# ---- dates in Orders, Signals and Log when the run spans days ------------------------


async def test_time_columns_say_the_date_once_the_run_spans_days() -> None:
    snapshot = busy_snapshot()
    app = make_app(FakeLink(snapshot))
    link = app.desk._link
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key, tab in (("2", "orders"), ("3", "signals"), ("6", "log")):
            await pilot.press(key)
            await pilot.pause()
            first = next(iter(app.desk.pane(tab).table.shown_rows.values()))
            assert first[0].text.count(":") == 2 and "-" not in first[0].text  # one day
        second_day = dataclasses.replace(
            snapshot,
            seq=snapshot.seq + 1,
            data_ts_ns=snapshot.data_ts_ns + 86_400 * 10**9,
            risk=dataclasses.replace(snapshot.risk, days=2),
        )
        link.publish(second_day)
        await pilot.pause(0.5)
        for key, tab in (("2", "orders"), ("3", "signals"), ("6", "log")):
            await pilot.press(key)
            await pilot.pause()
            rows = app.desk.pane(tab).table.shown_rows.values()
            assert all(row[0].text.startswith("01-15 ") for row in rows), tab


def test_spans_days_with_an_old_row_and_one_day_seen_is_true() -> None:
    snapshot = busy_snapshot()
    assert not spans_days(snapshot)
    later = dataclasses.replace(snapshot, data_ts_ns=snapshot.data_ts_ns + 86_400 * 10**9)
    assert spans_days(later)  # a resumed live run: yesterday's orders are still listed
    three_days = dataclasses.replace(snapshot.risk, days=3)
    assert spans_days(dataclasses.replace(snapshot, risk=three_days))


# ---- 80x24 ------------------------------------------------------------------------------


def _killed_and_paused():
    busy = busy_snapshot()
    risk = dataclasses.replace(busy.risk, kill_switch=True, entries_paused=True)
    return dataclasses.replace(busy, risk=risk)


@pytest.mark.parametrize("state", ["busy", "killed and paused"])
async def test_footer_at_80_columns_shows_every_key_of_every_tab_through_quit(state) -> None:
    snapshot = busy_snapshot() if state == "busy" else _killed_and_paused()
    app = make_app(FakeLink(snapshot))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key in "12345678":
            await pilot.press(key)
            await pilot.pause()
            footer_keys = list(app.screen.query(FooterKey))
            labels = [k.description for k in footer_keys]
            assert labels[-1] == "Quit", (key, labels)
            for widget in footer_keys:
                assert widget.region.right <= 80 and widget.region.width > 0, (key, labels)


async def test_positions_at_80_columns_show_the_cover_column_without_scrolling() -> None:
    app = make_app(FakeLink(busy_snapshot()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.desk.pane("positions").table
        right = 0
        for column in table.ordered_columns:
            right += column.get_render_width(table)
            if column.key.value == "cover":
                break
        assert right <= table.scrollable_content_region.width
        assert table.scroll_x == 0
        assert "STOP @ 21650" in {row[3].text for row in table.shown_rows.values()}


async def test_orders_at_120_columns_show_whole_tags_even_when_dated() -> None:
    snapshot = busy_snapshot()
    tags = ("CBGW3X7UUMY74M5X", "WGJILZ5A327FA25T", "4XGBP4YYXWI2CBYB", "P7RK3ZRGGU2IDXRK")
    orders = tuple(
        dataclasses.replace(o, tag=t, symbol="NIFTY22NOV18250CE")
        for o, t in zip(snapshot.orders, tags, strict=False)
    )
    risk = dataclasses.replace(snapshot.risk, days=2)  # dated times: the widest row
    app = make_app(FakeLink(dataclasses.replace(snapshot, orders=orders, risk=risk)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        table = app.desk.pane("orders").table
        right = 0
        for column in table.ordered_columns:
            right += column.get_render_width(table)
            if column.key.value == "status":  # the tag and what the order is, in view
                break
        assert right <= table.scrollable_content_region.width
        shown = {row[1].text for row in table.shown_rows.values()}
        assert set(tags) <= shown


# ---- the end of a replay ----------------------------------------------------------------


def test_headline_rows_with_figures_read_net_win_rate_and_drawdown() -> None:
    rows = dict(headline_rows(HEADLINE))
    assert rows["gross P&L"] == ("-26,111.30", "down")
    assert rows["charges"].text == "-4,120.55"
    assert rows["net P&L"] == ("-30,231.85", "down")
    assert rows["win rate"].text == "35.0% (14 won)"
    assert rows["max drawdown"].text == "-43,336.20"
    noted = dict(headline_rows(dataclasses.replace(HEADLINE, note="2 fill(s) unpriced")))
    assert noted["note"].text == "2 fill(s) unpriced" and noted["net P&L"] == rows["net P&L"]


async def test_finished_replay_shows_its_summary_once_then_the_desk() -> None:
    snapshot = busy_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, SummaryScreen)
        finished = dataclasses.replace(
            snapshot, seq=snapshot.seq + 1, feed_state="FINISHED", headline=HEADLINE
        )
        link.publish(finished)
        await pilot.pause(0.5)
        assert isinstance(app.screen, SummaryScreen)
        console = Console(width=100, record=True, color_system=None)
        console.print(app.screen.query_one("#summary-figures", Static).content)
        text = console.export_text()
        for words in ("net P&L", "-30,231.85", "35.0% (14 won)", "40 round trips", "-43,336.20"):
            assert words in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SummaryScreen)
        link.publish(dataclasses.replace(finished, seq=finished.seq + 1))
        await pilot.pause(0.5)
        assert not isinstance(app.screen, SummaryScreen)  # once
        assert app.is_running


async def test_summary_q_quits_the_screen() -> None:
    snapshot = dataclasses.replace(busy_snapshot(), feed_state="FINISHED", headline=HEADLINE)
    app = make_app(FakeLink(snapshot))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
