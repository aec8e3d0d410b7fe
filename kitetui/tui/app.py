"""The desk in a terminal: a Textual app that reads snapshots and sends commands.

The app never touches a live trading object. A timer pulls ``link.snapshot()`` at a
bounded rate (4 Hz by default) and returns at once when ``seq`` has not moved; a new
snapshot repaints the header, the engines strip and the *visible* tab only, by diff
(hidden tabs catch up when they are shown). Keys become command objects sent through
``link.send`` in a worker, so a slow supervisor can never freeze the screen, and each
``CommandResult`` comes back as a notification. Quitting the app stops nothing: the
owner of the supervisor decides what happens to trading.

Build it with ``make_app(link)``: the CLI passes a real link, tests a fake one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from kitetui.commands import (
    Command,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.link import DeskLink
from kitetui.tui.cells import (
    ENGINE_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    SIGNAL_COLUMNS,
    engine_rows,
    header_model,
    order_rows,
    position_rows,
    signal_rows,
)
from kitetui.tui.screens import ConfirmScreen, KillSwitchScreen
from kitetui.tui.widgets import DeskTable, HeaderBar, RiskPanel
from kitetui.views import DeskSnapshot, EngineView

TABS = ("positions", "orders", "signals", "risk")
KILL_REASON = "manual from TUI"

# (palette title, help, action) for every key that acts on the desk.
_DESK_COMMANDS = (
    ("Start engine", "Start the engine selected in the engines strip (s)", "start_engine"),
    ("Stop engine", "Stop the engine selected in the engines strip (x)", "stop_engine"),
    ("Pause entries", "Stop opening positions; exits keep working (p)", "pause_entries"),
    ("Resume entries", "Allow new positions again (p)", "resume_entries"),
    ("Kill switch", "Cancel all orders, flatten everything, halt (k)", "kill_switch"),
    ("Reset kill switch", "Clear the kill switch so trading may resume (r)", "reset_kill_switch"),
)


_PAUSABLE = frozenset({"RUNNING", "PAUSED"})


class KiteTuiApp(App[None]):
    """The trading desk. Construct it with :func:`make_app`."""

    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start_engine", "Start"),
        Binding("x", "stop_engine", "Stop"),
        Binding("p", "pause_entries", "Pause"),
        Binding("p", "resume_entries", "Resume"),
        Binding("e", "toggle_engine_pause", "Pause engine"),
        Binding("k", "kill_switch", "Kill"),
        Binding("r", "reset_kill_switch", "Reset kill"),
        Binding("1", "show_tab('positions')", "Positions", show=False),
        Binding("2", "show_tab('orders')", "Orders", show=False),
        Binding("3", "show_tab('signals')", "Signals", show=False),
        Binding("4", "show_tab('risk')", "Risk", show=False),
        Binding("q", "quit", "Quit"),
    ]
    SLOW_COMMAND_S = 5.0  # after this long without a reply, say that we are waiting

    def __init__(self, link: DeskLink, *, refresh_hz: float = 4.0, title: str = "kitetui"):
        if refresh_hz <= 0:
            raise ValueError(f"refresh_hz must be positive, got {refresh_hz}")
        super().__init__()
        self._link = link
        self._refresh_hz = refresh_hz
        self.title = title
        self._snapshot: DeskSnapshot | None = None
        self._tab_seq: dict[str, int] = {}
        self._binding_state: tuple[object, ...] = ()
        self.render_count = 0
        """Snapshots rendered so far (an unchanged ``seq`` renders nothing)."""
        self.tab_renders: Counter[str] = Counter()
        """Per tab, how many snapshots it has rendered."""
        self.started_at: float | None = None
        """``time.perf_counter()`` at process start, if the caller wants a first-frame time."""
        self.first_frame_s: float | None = None
        """Seconds from ``started_at`` to the first rendered snapshot."""

    # ---- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HeaderBar(self.title, id="header")
        yield Static("starting…", id="starting")
        with Vertical(id="desk"):
            yield DeskTable(ENGINE_COLUMNS, id="engines")
            with TabbedContent(initial="positions", id="tabs"):
                with TabPane("1 Positions", id="positions"):
                    yield DeskTable(POSITION_COLUMNS, id="positions-table")
                with TabPane("2 Orders", id="orders"):
                    yield DeskTable(ORDER_COLUMNS, id="orders-table")
                with TabPane("3 Signals", id="signals"):
                    yield DeskTable(SIGNAL_COLUMNS, id="signals-table")
                with TabPane("4 Risk", id="risk"):
                    yield RiskPanel(id="risk-panel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#desk").display = False
        self.set_interval(1 / self._refresh_hz, self.pull_snapshot, name="pull-snapshot")
        self.pull_snapshot()

    # ---- rendering ----------------------------------------------------------------

    @property
    def snapshot(self) -> DeskSnapshot | None:
        """The snapshot on screen (None before the first one)."""
        return self._snapshot

    def pull_snapshot(self) -> bool:
        """Render the link's newest snapshot; False (and no work) if it is not new."""
        snapshot = self._link.snapshot()
        if snapshot is None:
            failure = getattr(self._link, "failure", None)
            message = failure() if callable(failure) else None
            if message:
                self.exit(return_code=1, message=f"the desk stopped: {message}")
            return False
        previous = self._snapshot
        if previous is not None and snapshot.seq == previous.seq:
            return False
        self._snapshot = snapshot
        self.render_count += 1
        with self.batch_update():
            if previous is None:
                if self.started_at is not None:
                    self.first_frame_s = time.perf_counter() - self.started_at
                self.query_one("#starting").display = False
                self.query_one("#desk").display = True
                self.query_one("#engines", DeskTable).focus()
            self.query_one(HeaderBar).show(header_model(snapshot))
            self.query_one("#engines", DeskTable).show_rows(engine_rows(snapshot.engines))
            self._render_tab(self.active_tab)
        self._refresh_bindings_if_changed()
        return True

    @property
    def active_tab(self) -> str:
        return self.query_one("#tabs", TabbedContent).active

    def _render_tab(self, tab: str) -> None:
        snapshot = self._snapshot
        if snapshot is None or self._tab_seq.get(tab) == snapshot.seq:
            return
        self._tab_seq[tab] = snapshot.seq
        self.tab_renders[tab] += 1
        if tab == "positions":
            rows = position_rows(snapshot.positions)
            self.query_one("#positions-table", DeskTable).show_rows(rows)
        elif tab == "orders":
            newest_first = sorted(snapshot.orders, key=lambda o: o.ts_ns, reverse=True)
            self.query_one("#orders-table", DeskTable).show_rows(order_rows(newest_first))
        elif tab == "signals":
            rows = signal_rows(reversed(snapshot.signals))
            self.query_one("#signals-table", DeskTable).show_rows(rows)
        elif tab == "risk":
            self.query_one(RiskPanel).show(snapshot)

    @on(TabbedContent.TabActivated, "#tabs")
    def render_shown_tab(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            with self.batch_update():
                self._render_tab(event.pane.id)

    # ---- selection and what can run now -------------------------------------------

    def selected_engine(self) -> EngineView | None:
        """The engine under the engines strip's cursor."""
        snapshot = self._snapshot
        if snapshot is None:
            return None
        table = self.query_one("#engines", DeskTable)
        key = table.cursor_key
        if key is None:
            return None
        name = table.shown_rows[key][0].text
        return next((e for e in snapshot.engines if e.name == name), None)

    @on(DataTable.RowHighlighted, "#engines")
    def engine_selection_changed(self) -> None:
        self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        snapshot = self._snapshot
        engine = self.selected_engine()
        state = (
            snapshot is None,
            snapshot is not None and snapshot.risk.entries_paused,
            snapshot is not None and snapshot.risk.kill_switch,
            engine.name if engine else None,
            engine.state if engine else None,
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: runs; None: shown greyed out; False: hidden (the other half of ``p``)."""
        snapshot = self._snapshot
        risk = snapshot.risk if snapshot is not None else None
        if action == "start_engine":
            engine = self.selected_engine()
            return None if engine is None or engine.state.upper() == "RUNNING" else True
        if action == "stop_engine":
            engine = self.selected_engine()
            return None if engine is None or engine.state.upper() == "STOPPED" else True
        if action == "toggle_engine_pause":
            engine = self.selected_engine()
            return True if engine is not None and engine.state.upper() in _PAUSABLE else None
        if action == "pause_entries":
            if risk is None:
                return None
            return not risk.entries_paused
        if action == "resume_entries":
            return risk is not None and risk.entries_paused
        if action == "kill_switch":
            # Available even before the first snapshot: the safety key is never greyed
            # out just because the screen has not caught up.
            return None if risk is not None and risk.kill_switch else True
        if action == "reset_kill_switch":
            return True if risk is not None and risk.kill_switch else None
        return True

    # ---- actions ------------------------------------------------------------------

    def action_start_engine(self) -> None:
        engine = self.selected_engine()
        if engine is not None:
            self.send_command(StartEngine(engine.name))

    def action_stop_engine(self) -> None:
        engine = self.selected_engine()
        if engine is not None:
            self.send_command(StopEngine(engine.name))

    def action_toggle_engine_pause(self) -> None:
        """Pause or resume new entries for the selected engine only."""
        engine = self.selected_engine()
        if engine is None:
            return
        if engine.state.upper() == "PAUSED":
            self.send_command(ResumeEntries(engine.name))
        else:
            self.send_command(PauseEntries(engine.name))

    def action_pause_entries(self) -> None:
        self.send_command(PauseEntries())

    def action_resume_entries(self) -> None:
        self.send_command(ResumeEntries())

    def action_kill_switch(self) -> None:
        self.push_screen(KillSwitchScreen(), callback=self._kill_switch_answered)

    def _kill_switch_answered(self, confirmed: bool | None) -> None:
        if confirmed:
            self.send_command(TriggerKillSwitch(KILL_REASON))

    def action_reset_kill_switch(self) -> None:
        screen = ConfirmScreen(
            "Reset the kill switch?",
            "Engines may open positions again once the risk state allows it.",
        )
        self.push_screen(screen, callback=self._reset_answered)

    def _reset_answered(self, confirmed: bool | None) -> None:
        if confirmed:
            self.send_command(ResetKillSwitch())

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.query_one("#tabs", TabbedContent).active = tab

    # ---- commands -----------------------------------------------------------------

    def send_command(self, command: Command) -> None:
        """Send a command without waiting; its result arrives as a notification."""
        self.run_worker(
            self._send(command),
            name=type(command).__name__,
            group="commands",
            exit_on_error=False,
        )

    async def _send(self, command: Command) -> None:
        title = type(command).__name__
        # The send is its own task and is shielded: a slow reply, or quitting the app,
        # must never cancel a command half-way through on the supervisor.
        pending = asyncio.ensure_future(self._link.send(command))
        done, _ = await asyncio.wait({pending}, timeout=self.SLOW_COMMAND_S)
        if not done:
            self.notify("Waiting for the desk to answer…", title=title, severity="warning")
        try:
            result = await asyncio.shield(pending)
        except Exception as exc:
            self.notify(f"{type(exc).__name__}: {exc}", title=title, severity="error")
            return
        message = result.message or ("done" if result.ok else "failed")
        self.notify(message, title=title, severity="information" if result.ok else "error")
        self.pull_snapshot()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers every desk key that can run now."""
        yield from super().get_system_commands(screen)
        for title, help_text, action in _DESK_COMMANDS:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))


def make_app(link: DeskLink, *, refresh_hz: float = 4.0, title: str = "kitetui") -> KiteTuiApp:
    """Build the desk app on a link (a real supervisor link, or a fake in tests)."""
    return KiteTuiApp(link, refresh_hz=refresh_hz, title=title)
