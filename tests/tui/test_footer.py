"""The key footer (``KeyFooter``): one rebuild per burst of binding changes, and what it
shows after the burst is what the screen's bindings say (Textual's ``Footer`` rule)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets._footer import FooterKey

from kitetui.tui.app import make_app
from kitetui.tui.footer import KeyFooter

from .fakes import FakeLink, busy_snapshot, wall_clock


def shown(footer: KeyFooter) -> list[tuple[str, str, bool]]:
    """The keys the footer shows: (key, description, greyed out)."""
    return [(k.key, k.description, k._disabled) for k in footer.query(FooterKey)]


def expected(screen: Screen, footer: KeyFooter) -> list[tuple[str, str, bool]]:
    """What ``Footer.compose`` builds from the screen's bindings now: the first shown
    binding of each action, then the palette's key when the footer offers it."""
    bindings = screen.active_bindings
    first: dict[str, tuple[str, str, bool]] = {}
    for _node, binding, enabled, _tooltip in bindings.values():
        if binding.show and binding.action not in first:
            first[binding.action] = (binding.key, binding.description, not enabled)
    keys = list(first.values())
    palette = bindings.get(screen.app.COMMAND_PALETTE_BINDING)
    if footer.show_command_palette and palette is not None:
        keys.append((palette[1].key, palette[1].description, not palette[2]))
    return keys


async def test_a_burst_of_binding_changes_rebuilds_the_footer_once() -> None:
    """Fails if every change queues a rebuild of its own (Textual's ``Footer``)."""
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        footer = app.desk.query_one(KeyFooter)
        before = footer.rebuilds
        for _ in range(3):
            app.desk.refresh_bindings()
        await pilot.pause()
        assert footer.rebuilds == before + 1
        app.desk.refresh_bindings()  # a change after that rebuild gets one of its own
        await pilot.pause()
        assert footer.rebuilds == before + 2


async def test_after_each_tab_switch_the_footer_shows_that_tabs_keys() -> None:
    """Fails if a rebuild served a burst with the keys of its start (a stale footer)."""
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        footer = app.desk.query_one(KeyFooter)
        assert shown(footer) == expected(app.screen, footer)
        for tab in "24613":
            before = footer.rebuilds
            await pilot.press(tab)
            await pilot.pause()
            assert footer.rebuilds > before, tab
            assert shown(footer) == expected(app.screen, footer), tab


async def test_compact_footer_keys_are_compact_and_a_plain_footers_are_not() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        desk_keys = list(app.desk.query_one(KeyFooter).query(FooterKey))
        assert desk_keys and all(k.compact and k.has_class("-compact") for k in desk_keys)
        await pilot.press("question_mark")  # the help screen's footer is not compact
        await pilot.pause()
        help_footer = app.screen.query_one(KeyFooter)
        help_keys = list(help_footer.query(FooterKey))
        assert not help_footer.compact and help_keys
        assert not any(k.compact or k.has_class("-compact") for k in help_keys)
