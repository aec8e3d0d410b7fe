"""SVG snapshots of the price chart screen (pytest-textual-snapshot), reviewed before
they are accepted: at 80×24 and 160×48, and at 80×24 in monochrome (``NO_COLOR``),
where every mark must still be told apart by its glyph."""

from __future__ import annotations

import pytest

from kitetui.tui.app import make_app

from .fakes import FakeLink, busy_snapshot, wall_clock

SMALL = (80, 24)
LARGE = (160, 48)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_chart_of_the_selected_position(snap_compare, size: tuple[int, int]) -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    assert snap_compare(app, press=["g", "wait:200"], terminal_size=size)


def test_chart_in_monochrome(snap_compare, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    assert app.no_color
    assert snap_compare(app, press=["g", "wait:200"], terminal_size=SMALL)
