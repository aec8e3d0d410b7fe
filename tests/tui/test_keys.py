"""The key table: what the footer, the help screen and the palette are derived from.

Pure checks, no running app: the derived bindings and help are pinned, and the table is
held consistent with the tab specs and the desk screen's actions, so a key cannot name
an action nobody carries out.
"""

from __future__ import annotations

import pytest

from kitetui.commands import COMMANDS
from kitetui.tui.desk_screen import DeskScreen
from kitetui.tui.keys import DESK_KEYS, KEY_BY_ACTION, bindings, help_sections
from kitetui.tui.tabs import TAB_BY_NAME, TAB_SPECS


def test_bindings_with_table_keep_the_footer_order() -> None:
    shown = [(b.key, b.description) for b in bindings() if b.show]
    assert shown == [
        ("f", "Flatten"),
        ("c", "Cancel"),
        ("g", "Chart"),
        ("s", "Start"),
        ("x", "Stop"),
        ("e", "Pause eng"),
        ("l", "Limit"),
        ("p", "Pause"),
        ("p", "Resume"),
        ("k", "Kill"),
        ("r", "Reset kill"),
        ("slash", "Filter"),
        ("left_square_bracket", "Prev page"),  # in history mode only
        ("right_square_bracket", "Next page"),
        ("question_mark", "Help"),
        ("q", "Quit"),
    ]
    actions = [b.action for b in bindings()]
    assert "row('flatten')" in actions and "show_tab('log')" in actions
    assert len(bindings()) == len(KEY_BY_ACTION) == sum(1 for k in DESK_KEYS if k.key)


def test_help_sections_with_table_list_everywhere_keys_before_tab_keys() -> None:
    assert help_sections() == (
        (
            "Desk",
            (
                (
                    "t",
                    "order ticket: a manual entry with its stop, through the risk gate (asks y/n)",
                ),
                ("p", "pause new entries everywhere / resume them (exits and stops go on)"),
                ("k", "KILL SWITCH: cancel every order, flatten every position, halt (type KILL)"),
                ("r", "reset the kill switch (asks y/n)"),
                ("f", "Positions tab: flatten the selected position at MARKET (asks y/n)"),
                ("c", "Orders tab: cancel the selected open order (asks y/n)"),
                ("s / x", "Engines tab: start / stop the selected engine"),
                ("e", "Engines tab: pause / resume entries of the selected engine"),
                (
                    "m",
                    "Positions tab: move the selected position's protective stop (form, asks y/n)",
                ),
                ("l", "Risk tab: change a risk limit within the config's bounds (form, asks y/n)"),
            ),
        ),
        (
            "Screens",
            (
                ("1 … 8", "Positions, Orders, Signals, Risk, Engines, Log, Blocked, Perf"),
                ("↑ ↓ PgUp PgDn", "move in the table"),
                ("Enter / d", "show the detail pane / toggle it"),
                (
                    "g",
                    "Positions, Orders, Signals: price chart of the selected row's symbol "
                    "(Esc closes)",
                ),
                ("v", "Positions, Risk and Perf: today → whole run → each earlier day"),
                ("/", "filter the table: rows must contain every word; Esc clears"),
                ("o / O", "sort by the next column / reverse it (or click a header)"),
            ),
        ),
        (
            "History",
            (
                (
                    "R",
                    "the database's runs; Enter opens one read-only (report, orders, fills, "
                    "signals, events)",
                ),
                (
                    "h",
                    "Orders, Signals, Log: search the whole run in the database, a page at a "
                    "time (/ filters it there); h again: back to the newest, live",
                ),
                ("[ / ]", "history mode: the previous / next page"),
                (
                    "w",
                    "Orders, Signals, Log, Positions: write the run's table as CSV "
                    "(kitetui export's file)",
                ),
            ),
        ),
        (
            "App",
            (
                ("ctrl+p", "command palette: every action that can run now"),
                ("?", "this help"),
                ("q", "quit the screen; trading goes on under a daemon (attach)"),
            ),
        ),
    )


def test_row_keys_with_tab_specs_are_carried_out_by_exactly_those_tabs() -> None:
    for key in DESK_KEYS:
        declaring = {spec.name for spec in TAB_SPECS if key.action in spec.actions}
        if key.row:
            assert key.tabs and declaring == set(key.tabs), key.action
        else:
            assert not declaring, key.action
    for spec in TAB_SPECS:
        for action in spec.actions:
            key = KEY_BY_ACTION[action]
            assert key.row and spec.name in key.tabs


@pytest.mark.parametrize(
    "key", [k for k in DESK_KEYS if k.key and not k.row], ids=lambda k: k.action
)
def test_key_with_plain_action_names_an_action_of_the_desk_or_app(key) -> None:
    name = key.action.split("(")[0]
    if name.startswith("app."):
        assert name == "app.quit"
        return
    assert callable(getattr(DeskScreen, f"action_{name}", None)), key.action


def test_keys_with_tabs_name_real_tabs_and_palette_entries_say_what_they_do() -> None:
    for key in DESK_KEYS:
        assert set(key.tabs) <= set(TAB_BY_NAME), key.action
        if key.palette:
            assert key.palette_help and key.key, key.action
        assert set(key.sends) <= set(COMMANDS), key.action
        if key.key:
            assert key.label, key.action
    sending = {cls for key in DESK_KEYS for cls in key.sends}
    assert sending == set(COMMANDS)  # today every command has a key
