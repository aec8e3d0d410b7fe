"""SVG snapshots of the desk (pytest-textual-snapshot), reviewed before they are accepted.

Frozen snapshots (fixed data clock, fixed rows), no notifications and no cursor blink,
so the screenshots are byte-for-byte stable. Regenerate with ``--snapshot-update`` and
look at the report before committing new baselines.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from kitetui.tui.app import make_app

from .fakes import FakeLink, busy_snapshot, empty_snapshot, halted_snapshot

SMALL = (80, 24)
LARGE = (160, 48)
TAB_KEYS = {"positions": "1", "orders": "2", "signals": "3", "risk": "4"}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("tab", list(TAB_KEYS))
def test_busy_desk_tab(snap_compare, tab: str, size: tuple[int, int]) -> None:
    app = make_app(FakeLink(busy_snapshot()))
    assert snap_compare(app, press=[TAB_KEYS[tab]], terminal_size=size)


def test_empty_desk(snap_compare) -> None:
    assert snap_compare(make_app(FakeLink(empty_snapshot())), terminal_size=SMALL)


def test_starting_desk_before_first_snapshot(snap_compare) -> None:
    assert snap_compare(make_app(FakeLink(None)), terminal_size=SMALL)


@pytest.mark.parametrize(
    ("tab", "size"),
    [("risk", SMALL), ("positions", LARGE)],
    ids=["risk-80x24", "positions-160x48"],
)
def test_halted_desk(snap_compare, tab: str, size: tuple[int, int]) -> None:
    app = make_app(FakeLink(halted_snapshot()))
    assert snap_compare(app, press=[TAB_KEYS[tab]], terminal_size=size)


def test_kill_switch_confirmation(snap_compare) -> None:
    async def open_kill_dialog(pilot) -> None:
        await pilot.press("k")
        await pilot.pause()
        pilot.app.screen.query_one("#kill-word", Input).cursor_blink = False
        await pilot.press("K", "I")
        await pilot.pause()

    app = make_app(FakeLink(busy_snapshot()))
    assert snap_compare(app, run_before=open_kill_dialog, terminal_size=SMALL)
