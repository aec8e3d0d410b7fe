"""SVG snapshots of the desk (pytest-textual-snapshot), reviewed before they are accepted.

Frozen snapshots (fixed data clock, fixed rows), no notifications and no cursor blink,
so the screenshots are byte-for-byte stable. Regenerate with ``--snapshot-update`` and
look at the report before committing new baselines.
"""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Input

from kitetui.tui.app import make_app

from .fakes import (
    HEADLINE,
    FakeLink,
    busy_snapshot,
    empty_snapshot,
    halted_snapshot,
    multi_day_snapshot,
    wall_clock,
)

SMALL = (80, 24)
LARGE = (160, 48)
TAB_KEYS = {
    "positions": "1",
    "orders": "2",
    "signals": "3",
    "risk": "4",
    "engines": "5",
    "log": "6",
    "blocked": "7",
    "performance": "8",
}


def desk(snapshot) -> object:
    """The app on a fake link with the wall clock frozen, so clocks and ages are stable."""
    return make_app(FakeLink(snapshot), wall_clock=wall_clock)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("tab", list(TAB_KEYS))
def test_busy_desk_tab(snap_compare, tab: str, size: tuple[int, int]) -> None:
    # A short pause after the key: the order detail is fetched in a worker.
    keys = [TAB_KEYS[tab], "wait:100"]
    assert snap_compare(desk(busy_snapshot()), press=keys, terminal_size=size)


def test_empty_desk(snap_compare) -> None:
    assert snap_compare(desk(empty_snapshot()), terminal_size=SMALL)


def test_starting_desk_before_first_snapshot(snap_compare) -> None:
    assert snap_compare(desk(None), terminal_size=SMALL)


@pytest.mark.parametrize(
    ("tab", "size"),
    [("risk", SMALL), ("positions", LARGE)],
    ids=["risk-80x24", "positions-160x48"],
)
def test_halted_desk(snap_compare, tab: str, size: tuple[int, int]) -> None:
    assert snap_compare(desk(halted_snapshot()), press=[TAB_KEYS[tab]], terminal_size=size)


def test_kill_switch_confirmation(snap_compare) -> None:
    async def open_kill_dialog(pilot) -> None:
        await pilot.press("k")
        await pilot.pause()
        pilot.app.screen.query_one("#kill-word", Input).cursor_blink = False
        await pilot.press("K", "I")
        await pilot.pause()

    assert snap_compare(desk(busy_snapshot()), run_before=open_kill_dialog, terminal_size=SMALL)


def test_help_screen(snap_compare) -> None:
    assert snap_compare(desk(busy_snapshot()), press=["question_mark"], terminal_size=SMALL)


def test_orders_filtered_and_sorted_with_detail_pane_at_80x24(snap_compare) -> None:
    async def filter_and_sort(pilot) -> None:
        await pilot.press("2", "slash")
        await pilot.pause()
        pilot.app.screen.query_one(".pane-filter", Input).cursor_blink = False
        await pilot.press(*"equity", "enter", "o", "o", "O", "enter")
        await pilot.pause(0.1)

    app = desk(busy_snapshot())
    assert snap_compare(app, run_before=filter_and_sort, terminal_size=SMALL)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("tab", ["positions", "risk", "performance"])
def test_multi_day_desk_shows_today(snap_compare, tab: str, size: tuple[int, int]) -> None:
    assert snap_compare(desk(multi_day_snapshot()), press=[TAB_KEYS[tab]], terminal_size=size)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_finished_replay_summary(snap_compare, size: tuple[int, int]) -> None:
    finished = dataclasses.replace(busy_snapshot(), feed_state="FINISHED", headline=HEADLINE)
    assert snap_compare(desk(finished), press=["wait:100"], terminal_size=size)


async def _still_inputs(pilot) -> None:
    """No blinking cursor in a form's inputs: the screenshot is byte-for-byte stable."""
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_limit_form(snap_compare, size: tuple[int, int]) -> None:
    async def open_limit_form(pilot) -> None:
        await pilot.press("4", "l", "down", "down", "enter")
        await _still_inputs(pilot)

    assert snap_compare(desk(busy_snapshot()), run_before=open_limit_form, terminal_size=size)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_ticket_form(snap_compare, size: tuple[int, int]) -> None:
    async def open_ticket_form(pilot) -> None:
        await pilot.press("t")
        await _still_inputs(pilot)
        screen = pilot.app.screen
        screen.query_one("#ticket-type", Input).value = "LIMIT"
        screen.query_one("#ticket-price", Input).value = "21700"
        await pilot.press("enter")  # no stop: the form says so
        await _still_inputs(pilot)

    assert snap_compare(desk(busy_snapshot()), run_before=open_ticket_form, terminal_size=size)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_stop_form(snap_compare, size: tuple[int, int]) -> None:
    async def open_stop_form(pilot) -> None:
        await pilot.press("m")
        await _still_inputs(pilot)

    assert snap_compare(desk(busy_snapshot()), run_before=open_stop_form, terminal_size=size)
