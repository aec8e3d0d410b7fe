"""SVG snapshots of the journal on screen: the Runs screen, a run read-only, history mode
and the export dialog, at 80×24 and 160×48 (canned reads: byte-for-byte stable)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from kitetui.tui.app import make_app

from .fakes import CannedReads, FakeLink, busy_snapshot, wall_clock

SMALL = (80, 24)
LARGE = (160, 48)
SIZES = pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])


def desk() -> object:
    link = FakeLink(busy_snapshot())
    link.reads = CannedReads()
    return make_app(link, wall_clock=wall_clock)


async def _answered(pilot) -> None:
    """Let the reads answer (they are in workers) and the screen paint them."""
    await pilot.pause(0.1)
    await pilot.app.workers.wait_for_complete()
    for screen in pilot.app.screen_stack:
        await screen.workers.wait_for_complete()
    await pilot.pause(0.1)


@SIZES
def test_runs_screen(snap_compare, size: tuple[int, int]) -> None:
    async def open_runs(pilot) -> None:
        await pilot.press("R")
        await _answered(pilot)

    assert snap_compare(desk(), run_before=open_runs, terminal_size=size)


@SIZES
def test_a_run_read_only(snap_compare, size: tuple[int, int]) -> None:
    async def open_run(pilot) -> None:
        await pilot.press("R")
        await _answered(pilot)
        await pilot.press("down", "enter")
        await _answered(pilot)

    assert snap_compare(desk(), run_before=open_run, terminal_size=size)


@SIZES
def test_orders_history_mode_filtered_page(snap_compare, size: tuple[int, int]) -> None:
    async def search(pilot) -> None:
        await pilot.press("2", "h")
        await _answered(pilot)
        await pilot.press("slash")
        await pilot.pause()
        pilot.app.screen.query_one(".pane-filter", Input).cursor_blink = False
        await pilot.press(*"entry", "enter")
        await pilot.pause(0.5)
        await _answered(pilot)
        await pilot.press("right_square_bracket")
        await _answered(pilot)

    assert snap_compare(desk(), run_before=search, terminal_size=size)


def test_export_dialog(snap_compare) -> None:
    async def ask(pilot) -> None:
        await pilot.press("2", "w")
        await pilot.pause()
        pilot.app.screen.query_one("#export-path", Input).cursor_blink = False
        await pilot.pause()

    assert snap_compare(desk(), run_before=ask, terminal_size=SMALL)
