"""Every key of the desk, declared once: the bindings, the help screen and the palette.

Each ``DeskKey`` is one binding: its key and action, its footer label, the tabs where it
acts (hidden elsewhere), when the desk lets it run (``ready``, from the snapshot), the
commands it may send, its line on the help screen and its entry in the command palette.
``DeskScreen`` builds its ``BINDINGS`` from the table (in this order, which is the
footer's), answers ``check_action`` from it and offers the palette entries that can run
now; ``help_sections()`` lays the same table out for the help screen. A key that acts on
the selected row (``row=True``) is carried out by its tab's ``RowAction``
(``tabs.py``).

Rows with no key document keys that Textual or a widget handles itself (arrows in a
table, the palette's ctrl+p), so the help screen still lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.binding import Binding

from kitetui.commands import (
    CancelOrder,
    Command,
    FlattenPosition,
    ModifyStop,
    PauseEntries,
    PlaceTicket,
    ResetKillSwitch,
    ResumeEntries,
    SetRiskLimit,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.tui.history import DESK_HISTORY_TABLES
from kitetui.tui.screens import HelpSection
from kitetui.tui.tabs import SCOPED_TABS, TAB_SPECS, TABLE_TABS
from kitetui.views import DeskSnapshot

Readiness = Callable[[DeskSnapshot | None], bool | None]

#: The tabs whose rows name a symbol that ``g`` charts.
CHART_TABS = ("positions", "orders", "signals")
#: The tabs that can list the whole journal (``h``) and those that export (``w``).
HISTORY_TABS = tuple(DESK_HISTORY_TABLES)
EXPORT_TABS = ("positions", *HISTORY_TABS)


def _always(snapshot: DeskSnapshot | None) -> bool | None:
    return True


def _has_snapshot(snapshot: DeskSnapshot | None) -> bool | None:
    return snapshot is not None


def _entries_open(snapshot: DeskSnapshot | None) -> bool | None:
    return None if snapshot is None else not snapshot.risk.entries_paused


def _entries_paused(snapshot: DeskSnapshot | None) -> bool | None:
    return snapshot is not None and snapshot.risk.entries_paused


def _kill_switch_off(snapshot: DeskSnapshot | None) -> bool | None:
    # Available even before the first snapshot: the safety key is never greyed out
    # just because the screen has not caught up.
    return None if snapshot is not None and snapshot.risk.kill_switch else True


def _kill_switch_on(snapshot: DeskSnapshot | None) -> bool | None:
    return snapshot is not None and snapshot.risk.kill_switch


@dataclass(frozen=True, slots=True)
class DeskKey:
    """One key of the desk (see the module docstring).

    ``ready`` answers as ``check_action`` does: True runs, None shows it greyed out,
    False hides it. ``help`` is its line on the help screen ("" when the line of an
    earlier key already covers it) and ``keys`` how that line spells the key(s).
    ``palette`` is its title in the command palette ("" for none); the palette's help
    is ``palette_help`` followed by the key.
    """

    key: str
    action: str
    label: str = ""
    section: str = "Desk"
    help: str = ""
    keys: str = ""
    tabs: tuple[str, ...] = ()
    sends: tuple[type[Command], ...] = ()
    row: bool = False
    show: bool = True
    ready: Readiness = _always
    palette: str = ""
    palette_help: str = ""

    @property
    def binding_action(self) -> str:
        """The action string Textual runs: a row key goes through ``row('…')``."""
        return f"row({self.action!r})" if self.row else self.action

    def binding(self) -> Binding:
        return Binding(self.key, self.binding_action, self.label, show=self.show)


def _tab_keys() -> tuple[DeskKey, ...]:
    """1 … N: one key per tab, in the order the tabs are shown."""
    return tuple(
        DeskKey(
            str(number),
            f"show_tab({spec.name!r})",
            spec.title,
            section="Screens",
            show=False,
            keys=f"1 … {len(TAB_SPECS)}",
            help=", ".join(s.title for s in TAB_SPECS) if number == 1 else "",
        )
        for number, spec in enumerate(TAB_SPECS, start=1)
    )


#: The table. Its order is the footer's; the help screen lists, per section, the keys
#: that act everywhere first, then those of one tab.
DESK_KEYS: tuple[DeskKey, ...] = (
    DeskKey(
        "f",
        "flatten",
        "Flatten",
        help="Positions tab: flatten the selected position at MARKET (asks y/n)",
        tabs=("positions",),
        sends=(FlattenPosition,),
        row=True,
        palette="Flatten position",
        palette_help="Close the selected position at MARKET",
    ),
    DeskKey(
        "c",
        "cancel_order",
        "Cancel",
        help="Orders tab: cancel the selected open order (asks y/n)",
        tabs=("orders",),
        sends=(CancelOrder,),
        row=True,
        palette="Cancel order",
        palette_help="Cancel the selected open order",
    ),
    DeskKey(
        "g",
        "chart",
        "Chart",
        section="Screens",
        help="Positions, Orders, Signals: price chart of the selected row's symbol (Esc closes)",
        tabs=CHART_TABS,
        ready=_has_snapshot,
        palette="Price chart",
        palette_help="Candles, indicators, fills and stops of the selected row's symbol",
    ),
    DeskKey(
        "s",
        "start_engine",
        "Start",
        keys="s / x",
        help="Engines tab: start / stop the selected engine",
        tabs=("engines",),
        sends=(StartEngine,),
        row=True,
        palette="Start engine",
        palette_help="Start the engine selected on the Engines tab",
    ),
    DeskKey(
        "x",
        "stop_engine",
        "Stop",
        tabs=("engines",),
        sends=(StopEngine,),
        row=True,
        palette="Stop engine",
        palette_help="Stop the engine selected on the Engines tab",
    ),
    DeskKey(
        "e",
        "toggle_engine_pause",
        "Pause eng",
        help="Engines tab: pause / resume entries of the selected engine",
        tabs=("engines",),
        sends=(PauseEntries, ResumeEntries),
        row=True,
        palette="Pause engine",
        palette_help="Pause or resume entries of the selected engine",
    ),
    DeskKey(
        "m",
        "modify_stop",
        "Move stop",
        help="Positions tab: move the selected position's protective stop (form, asks y/n)",
        tabs=("positions",),
        sends=(ModifyStop,),
        row=True,
        show=False,  # help and palette: with the kill switch on, the 80-column footer is full
        palette="Move stop",
        palette_help="Move the protective stop of the selected position",
    ),
    DeskKey(
        "l",
        "change_limit",
        "Limit",
        help="Risk tab: change a risk limit within the config's bounds (form, asks y/n)",
        tabs=("risk",),
        sends=(SetRiskLimit,),
        ready=_has_snapshot,
        palette="Change a risk limit",
        palette_help="Set a risk limit for the rest of the run",
    ),
    DeskKey(
        "t",
        "order_ticket",
        "Ticket",
        help="order ticket: a manual entry with its stop, through the risk gate (asks y/n)",
        sends=(PlaceTicket,),
        ready=_has_snapshot,
        show=False,  # in the help and the palette: the 80-column footer is full
        palette="Order ticket",
        palette_help="Enter a position by hand, with its protective stop",
    ),
    DeskKey(
        "p",
        "pause_entries",
        "Pause",
        help="pause new entries everywhere / resume them (exits and stops go on)",
        sends=(PauseEntries,),
        ready=_entries_open,
        palette="Pause entries",
        palette_help="Stop opening positions; exits keep working",
    ),
    DeskKey(
        "p",
        "resume_entries",
        "Resume",
        sends=(ResumeEntries,),
        ready=_entries_paused,
        palette="Resume entries",
        palette_help="Allow new positions again",
    ),
    DeskKey(
        "k",
        "kill_switch",
        "Kill",
        help="KILL SWITCH: cancel every order, flatten every position, halt (type KILL)",
        sends=(TriggerKillSwitch,),
        ready=_kill_switch_off,
        palette="Kill switch",
        palette_help="Cancel all orders, flatten everything, halt",
    ),
    DeskKey(
        "r",
        "reset_kill_switch",
        "Reset kill",  # shown only while the switch is on
        help="reset the kill switch (asks y/n)",
        sends=(ResetKillSwitch,),
        ready=_kill_switch_on,
        palette="Reset kill switch",
        palette_help="Clear the kill switch so trading may resume",
    ),
    *_tab_keys(),
    DeskKey("", "", section="Screens", keys="↑ ↓ PgUp PgDn", help="move in the table"),
    DeskKey(
        "d",
        "toggle_detail",
        "Detail",
        section="Screens",
        keys="Enter / d",
        help="show the detail pane / toggle it",
        show=False,
    ),
    DeskKey(
        "v",
        "cycle_scope",
        "Today/run",
        section="Screens",
        help="Positions, Risk and Perf: today → whole run → each earlier day",
        tabs=SCOPED_TABS,
        ready=_has_snapshot,
        show=False,  # the scoped tabs' info line names it: the 80-column footer is full
        palette="Today / run / day",
        palette_help="Show today, the whole run or an earlier day (Positions, Risk, Perf)",
    ),
    DeskKey(
        "slash",
        "filter",
        "Filter",
        section="Screens",
        keys="/",
        help="filter the table: rows must contain every word; Esc clears",
        tabs=TABLE_TABS,
        ready=_has_snapshot,
    ),
    DeskKey(
        "o",
        "sort",
        "Sort",
        section="Screens",
        keys="o / O",
        help="sort by the next column / reverse it (or click a header)",
        tabs=TABLE_TABS,
        ready=_has_snapshot,
        show=False,  # in the help: the 80-column footer keeps room for every action key
    ),
    DeskKey(
        "O",
        "reverse_sort",
        "Reverse",
        section="Screens",
        tabs=TABLE_TABS,
        ready=_has_snapshot,
        show=False,
    ),
    DeskKey(
        "h",
        "toggle_history",
        "History",
        section="History",
        help="Orders, Signals, Log: search the whole run in the database, a page at a time "
        "(/ filters it there); h again: back to the newest, live",
        tabs=HISTORY_TABS,
        ready=_has_snapshot,
        show=False,  # the info line says "history"; the 80-column footer is full
        palette="History search",
        palette_help="List the whole run's orders, signals or events from the database",
    ),
    DeskKey(
        "left_square_bracket",
        "previous_page",
        "Prev page",
        section="History",
        keys="[ / ]",
        help="history mode: the previous / next page",
        tabs=HISTORY_TABS,
    ),
    DeskKey(
        "right_square_bracket",
        "next_page",
        "Next page",
        section="History",
        tabs=HISTORY_TABS,
    ),
    DeskKey(
        "R",
        "show_runs",
        "Runs",
        section="History",
        help="the database's runs; Enter opens one read-only (report, orders, fills, "
        "signals, events)",
        show=False,
        palette="Runs",
        palette_help="Every run of this database, each one's report and tables",
    ),
    DeskKey(
        "w",
        "export_csv",
        "Export",
        section="History",
        help="Orders, Signals, Log, Positions: write the run's table as CSV "
        "(kitetui export's file)",
        tabs=EXPORT_TABS,
        ready=_has_snapshot,
        show=False,
        palette="Export CSV",
        palette_help="Write this run's orders, fills, trades, signals, events or equity as CSV",
    ),
    DeskKey(
        "", "", section="App", keys="ctrl+p", help="command palette: every action that can run now"
    ),
    DeskKey(
        "question_mark",
        "help",
        "Help",
        section="App",
        keys="?",
        help="this help",
        palette="Keys",
        palette_help="Every key of the desk",
    ),
    DeskKey(
        "q",
        "app.quit",
        "Quit",
        section="App",
        help="quit the screen; trading goes on under a daemon (attach)",
    ),
)

#: The keys that are bindings, by action name (``flatten``, ``pause_entries``, …).
KEY_BY_ACTION: dict[str, DeskKey] = {k.action: k for k in DESK_KEYS if k.key}


def bindings(keys: Sequence[DeskKey] = DESK_KEYS) -> list[Binding]:
    """The Textual bindings of the table, in its order (the footer's)."""
    return [key.binding() for key in keys if key.key]


def help_sections(keys: Sequence[DeskKey] = DESK_KEYS) -> tuple[HelpSection, ...]:
    """The help screen: per section, keys that act everywhere, then those of one tab."""
    sections: dict[str, list[DeskKey]] = {}
    for key in keys:
        if key.help:
            sections.setdefault(key.section, []).append(key)
    return tuple(
        (title, tuple((k.keys or k.key, k.help) for k in sorted(rows, key=lambda k: bool(k.tabs))))
        for title, rows in sections.items()
    )
