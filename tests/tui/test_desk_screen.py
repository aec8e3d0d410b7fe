"""Pilot tests of the desk's fixes from issue 14: what a trader reads on the screen.

Each drives ``make_app(FakeLink(...))`` and asserts on widget state; awaits are bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from kitetui.commands import CancelOrder, PauseEntries, ResetKillSwitch, StopEngine
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.desk_screen import command_title
from kitetui.tui.widgets import counted

from .fakes import FakeLink, busy_snapshot

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
        assert info_text(app, "positions").startswith("1 position")
        assert "1 positions" not in info_text(app, "positions")


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
