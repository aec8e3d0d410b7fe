"""The desk in a terminal: a Textual app that reads snapshots and sends commands.

The app never touches a live trading object. A timer pulls ``link.snapshot()`` at a
bounded rate (4 Hz by default) and returns at once when ``seq`` has not moved; a new
snapshot repaints the header and the *visible* tab only, by diff (hidden tabs catch up
when they are shown), so a slow SSH link carries changed cells, not whole screens.
Keys become command objects sent through ``link.send`` in a worker, so a slow
supervisor can never freeze the screen, and each ``CommandResult`` comes back as a
notification. Quitting the app stops nothing: the owner of the supervisor decides
what happens to trading.

Build it with ``make_app(link)``: the CLI passes a real link, tests a fake one.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from kitetui.commands import (
    CancelOrder,
    Command,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.control.link import DeskLink
from kitetui.tui.cells import (
    ENGINE_COLUMNS,
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    SIGNAL_COLUMNS,
    Row,
    engine_key,
    engine_row,
    event_key,
    event_row,
    keyed,
    order_key,
    order_row,
    position_key,
    position_row,
    signal_key,
    signal_row,
)
from kitetui.tui.details import (
    OPEN_STATUSES,
    Detail,
    engine_detail,
    event_detail,
    order_detail,
    position_detail,
    signal_detail,
)
from kitetui.tui.header import header_model
from kitetui.tui.screens import ConfirmScreen, HelpScreen, HelpSection, KillSwitchScreen
from kitetui.tui.widgets import HeaderBar, RiskPanel, TablePane
from kitetui.views import (
    DeskSnapshot,
    EngineView,
    EventView,
    OrderDetail,
    OrderView,
    PositionView,
    SignalView,
)

TABS = ("positions", "orders", "signals", "risk", "engines", "log")
TABLE_TABS = ("positions", "orders", "signals", "engines", "log")
KILL_REASON = "manual from TUI"
#: Below this many rows the detail panes start hidden (``d`` or Enter shows them).
DETAIL_MIN_HEIGHT = 36

# (palette title, help, action) for every key that acts on the desk.
_DESK_COMMANDS = (
    ("Start engine", "Start the engine selected on the Engines tab (s)", "start_engine"),
    ("Stop engine", "Stop the engine selected on the Engines tab (x)", "stop_engine"),
    ("Pause engine", "Pause or resume entries of the selected engine (e)", "toggle_engine_pause"),
    ("Pause entries", "Stop opening positions; exits keep working (p)", "pause_entries"),
    ("Resume entries", "Allow new positions again (p)", "resume_entries"),
    ("Flatten position", "Close the selected position at MARKET (f)", "flatten"),
    ("Cancel order", "Cancel the selected open order (c)", "cancel_order"),
    ("Kill switch", "Cancel all orders, flatten everything, halt (k)", "kill_switch"),
    ("Reset kill switch", "Clear the kill switch so trading may resume (r)", "reset_kill_switch"),
)

HELP: tuple[HelpSection, ...] = (
    (
        "Desk",
        (
            ("p", "pause new entries everywhere / resume them (exits and stops go on)"),
            ("k", "KILL SWITCH: cancel every order, flatten every position, halt (type KILL)"),
            ("r", "reset the kill switch (asks y/n)"),
            ("f", "Positions tab: flatten the selected position at MARKET (asks y/n)"),
            ("c", "Orders tab: cancel the selected open order (asks y/n)"),
            ("s / x", "Engines tab: start / stop the selected engine"),
            ("e", "Engines tab: pause / resume entries of the selected engine"),
        ),
    ),
    (
        "Screens",
        (
            ("1 … 6", "Positions, Orders, Signals, Risk, Engines, Log"),
            ("↑ ↓ PgUp PgDn", "move in the table"),
            ("Enter / d", "show the detail pane / toggle it"),
            ("/", "filter the table: rows must contain every word; Esc clears"),
            ("o / O", "sort by the next column / reverse it (or click a header)"),
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

_PAUSABLE = frozenset({"RUNNING", "PAUSED"})
#: The collector's first threshold while a desk runs (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def quiet_collector() -> None:
    """Keep garbage-collection pauses out of a long-running desk's frames.

    Every frame allocates (rows, rich segments, the new snapshot) and each full pass of
    the collector walks every live object: with a 2,000-order table on screen that is
    100-190 ms, several times a minute at CPython's defaults (scripts/bench_desk_load.py).
    Freezing what exists at start-up (modules, config, data already loaded) takes it out
    of every pass, and a higher first threshold makes passes rare; what a desk allocates
    is acyclic and freed by reference counting anyway. It is process-wide, so the app
    applies it only when it really runs (not headless, as tests run it).
    """
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), max(middle, 20), old)


class KiteTuiApp(App[None]):
    """The trading desk. Construct it with :func:`make_app`."""

    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "flatten", "Flatten"),
        Binding("c", "cancel_order", "Cancel"),
        Binding("s", "start_engine", "Start"),
        Binding("x", "stop_engine", "Stop"),
        Binding("e", "toggle_engine_pause", "Pause eng"),
        Binding("p", "pause_entries", "Pause"),
        Binding("p", "resume_entries", "Resume"),
        Binding("k", "kill_switch", "Kill"),
        Binding("r", "reset_kill_switch", "Reset kill"),  # shown only while the switch is on
        Binding("slash", "filter", "Filter"),
        Binding("o", "sort", "Sort"),
        Binding("O", "reverse_sort", "Reverse", show=False),
        Binding("d", "toggle_detail", "Detail", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("1", "show_tab('positions')", "Positions", show=False),
        Binding("2", "show_tab('orders')", "Orders", show=False),
        Binding("3", "show_tab('signals')", "Signals", show=False),
        Binding("4", "show_tab('risk')", "Risk", show=False),
        Binding("5", "show_tab('engines')", "Engines", show=False),
        Binding("6", "show_tab('log')", "Log", show=False),
        Binding("q", "quit", "Quit"),
    ]
    SLOW_COMMAND_S = 5.0  # after this long without a reply, say that we are waiting

    def __init__(
        self,
        link: DeskLink,
        *,
        refresh_hz: float = 4.0,
        title: str = "kitetui",
        wall_clock: Callable[[], int] = time.time_ns,
    ):
        if refresh_hz <= 0:
            raise ValueError(f"refresh_hz must be positive, got {refresh_hz}")
        super().__init__()
        self._link = link
        self._refresh_hz = refresh_hz
        self._wall_clock = wall_clock
        self.title = title
        self._snapshot: DeskSnapshot | None = None
        self._tab_seq: dict[str, tuple[int, str, int]] = {}
        self._views: dict[str, dict[str, object]] = {tab: {} for tab in TABLE_TABS}
        self._row_cache: dict[str, dict[Any, Row]] = {}  # per tab: view -> its row
        self._order_details: dict[str, tuple[tuple[str, int], OrderDetail | None]] = {}
        self._detail_requests: set[str] = set()
        self._details_wanted: bool | None = None  # None: by terminal height
        self._binding_state: tuple[object, ...] = ()
        self.render_count = 0
        """Snapshots rendered so far (an unchanged ``seq`` renders nothing)."""
        self.tab_renders: Counter[str] = Counter()
        """Per tab, how many snapshots it has rendered."""
        self.started_at: float | None = None
        """``time.perf_counter()`` at process start, if the caller wants a first-frame time."""
        self.first_frame_s: float | None = None
        """Seconds from ``started_at`` to the first rendered snapshot."""

    async def run_async(self, *, headless: bool = False, **kwargs: Any) -> None:
        if not headless:
            quiet_collector()
        return await super().run_async(headless=headless, **kwargs)

    # ---- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: the app queries its widgets once, so key handlers keep
        # working while a modal screen (help, a confirmation) is on top.
        self._header = HeaderBar(
            self.title,
            wall_clock=self._wall_clock,
            link_problem=self._link_problem,
            id="header",
        )
        self._starting = Static("starting…", id="starting")
        self._desk = Vertical(id="desk")
        self._tabs = TabbedContent(initial="positions", id="tabs")
        self._panes = {
            "positions": TablePane(POSITION_COLUMNS, noun="positions", table_id="positions-table"),
            "orders": TablePane(ORDER_COLUMNS, noun="orders", table_id="orders-table"),
            "signals": TablePane(SIGNAL_COLUMNS, noun="signals", table_id="signals-table"),
            "engines": TablePane(ENGINE_COLUMNS, noun="engines", table_id="engines-table"),
            "log": TablePane(EVENT_COLUMNS, noun="events", table_id="log-table"),
        }
        self._risk_panel = RiskPanel(id="risk-panel")
        yield self._header
        yield self._starting
        with self._desk, self._tabs:
            for number, tab in enumerate(TABS, start=1):
                with TabPane(f"{number} {tab.title()}", id=tab):
                    yield self._risk_panel if tab == "risk" else self._panes[tab]
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._desk.display = False
        self.set_interval(1 / self._refresh_hz, self.pull_snapshot, name="pull-snapshot")
        self._apply_detail_visibility()
        self.pull_snapshot()

    def on_resize(self) -> None:
        self._apply_detail_visibility()

    def _link_problem(self) -> str | None:
        problem = getattr(self._link, "connection_problem", None)
        return problem() if callable(problem) else None

    def pane(self, tab: str) -> TablePane:
        return self._panes[tab]

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
        if previous is not None and snapshot is previous:
            return False
        # A restarted daemon counts seq from 1 again: the publish time tells them apart.
        if previous is not None and _identity(snapshot) == _identity(previous):
            return False
        self._snapshot = snapshot
        self.render_count += 1
        with self.batch_update():
            if previous is None:
                if self.started_at is not None:
                    self.first_frame_s = time.perf_counter() - self.started_at
                self._starting.display = False
                self._desk.display = True
                self.pane("positions").table.focus()
            self._header.show(header_model(snapshot))
            self._render_tab(self.active_tab)
        self._refresh_bindings_if_changed()
        return True

    @property
    def active_tab(self) -> str:
        return self._tabs.active

    def _render_tab(self, tab: str) -> None:
        snapshot = self._snapshot
        if snapshot is None or self._tab_seq.get(tab) == _identity(snapshot):
            return
        self._tab_seq[tab] = _identity(snapshot)
        self.tab_renders[tab] += 1
        counts = dict(snapshot.counts)
        if tab == "risk":
            self._risk_panel.show(snapshot)
            return
        total: int | None = None
        views: dict[str, object]
        if tab == "positions":
            views = keyed(snapshot.positions, position_key)
            rows = self._rows(tab, views, position_row)
        elif tab == "orders":
            newest_first = sorted(snapshot.orders, key=lambda o: o.ts_ns, reverse=True)
            views = keyed(newest_first, order_key)
            rows = self._rows(tab, views, order_row)
            total = counts.get("orders")
        elif tab == "signals":
            views = keyed(reversed(snapshot.signals), signal_key)
            rows = self._rows(tab, views, signal_row)
            total = counts.get("signals")
        elif tab == "engines":
            views = keyed(snapshot.engines, engine_key)
            rows = {key: engine_row(v, snapshot.data_ts_ns) for key, v in views.items()}
        else:
            views = keyed(reversed(snapshot.events), event_key)
            rows = self._rows(tab, views, event_row)
            total = counts.get("events")
        self._views[tab] = views
        self.pane(tab).show(rows, total)
        self._show_detail(tab)

    def _rows(self, tab: str, views: dict[str, Any], build: Callable[[Any], Row]) -> dict[str, Row]:
        """Each view's row, built only for a view that was not on the tab last time.

        Views are frozen values: an order that did not change compares equal (and is
        usually the same object) from one snapshot to the next, so a 2,000-order book
        re-sent every frame costs a dict lookup per order instead of formatting 14 cells,
        and the table sees the very same row and skips it.
        """
        before = self._row_cache.get(tab, {})
        cache: dict[Any, Row] = {}
        rows: dict[str, Row] = {}
        for key, view in views.items():
            try:
                row = cache.get(view) or before.get(view)
            except TypeError:  # an unhashable view: just format it
                rows[key] = build(view)
                continue
            if row is None:
                row = build(view)
            cache[view] = row
            rows[key] = row
        self._row_cache[tab] = cache
        return rows

    @on(TabbedContent.TabActivated, "#tabs")
    def render_shown_tab(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id
        if tab is None:
            return
        with self.batch_update():
            self._render_tab(tab)
        if tab in TABLE_TABS and self._snapshot is not None:
            self.pane(tab).table.focus()
        self._refresh_bindings_if_changed()

    # ---- the detail pane ----------------------------------------------------------

    def selected(self, tab: str) -> object | None:
        """The view under the cursor of ``tab``'s table (a PositionView, OrderView…)."""
        if tab not in TABLE_TABS:
            return None
        key = self.pane(tab).table.cursor_key
        return None if key is None else self._views[tab].get(key)

    def _details_shown(self) -> bool:
        if self._details_wanted is not None:
            return self._details_wanted
        return self.size.height >= DETAIL_MIN_HEIGHT

    def _apply_detail_visibility(self) -> None:
        shown = self._details_shown()
        for pane in self._panes.values():
            detail = pane.detail_pane
            if detail is not None and detail.display != shown:
                detail.display = shown
        if shown and self._snapshot is not None:
            self._show_detail(self.active_tab)

    def _show_detail(self, tab: str) -> None:
        if tab not in TABLE_TABS or not self._details_shown():
            return
        detail_pane = self.pane(tab).detail_pane
        if detail_pane is None:
            return
        view = self.selected(tab)
        snapshot = self._snapshot
        detail: Detail
        if view is None or snapshot is None:
            detail = ()
        elif isinstance(view, PositionView):
            working = (o for o in snapshot.orders if o.symbol == view.symbol)
            detail = position_detail(view, working)
        elif isinstance(view, OrderView):
            known = self._order_detail_for(view)
            detail = order_detail(view, known, loading=view.tag in self._detail_requests)
        elif isinstance(view, SignalView):
            detail = signal_detail(view)
        elif isinstance(view, EngineView):
            detail = engine_detail(view, snapshot.data_ts_ns)
        elif isinstance(view, EventView):
            detail = event_detail(view)
        else:
            detail = ()
        detail_pane.show(detail)

    def _order_detail_for(self, order: OrderView) -> OrderDetail | None:
        """The journal's story of ``order``, fetched again whenever the order changed."""
        version = (order.status, order.filled_qty)
        cached = self._order_details.get(order.tag)
        if cached is not None and cached[0] == version:
            return cached[1]
        if order.tag not in self._detail_requests:
            self._detail_requests.add(order.tag)
            self.run_worker(
                self._fetch_order_detail(order.tag, version),
                group="order-detail",
                exit_on_error=False,
            )
        return cached[1] if cached is not None else None

    async def _fetch_order_detail(self, tag: str, version: tuple[str, int]) -> None:
        try:
            fetch = getattr(self._link, "order_detail", None)
            # Shielded: a read on the supervisor must never be cancelled half-way.
            detail = await asyncio.shield(fetch(tag)) if callable(fetch) else None
        except Exception as exc:  # the pane says so; the desk is unaffected
            self.notify(f"{type(exc).__name__}: {exc}", title="order detail", severity="error")
            detail = None
        finally:
            self._detail_requests.discard(tag)
        if detail is None and self._link_problem():
            return  # not known to be absent: ask again once the link is back
        self._order_details[tag] = (version, detail)
        if len(self._order_details) > 500:  # keep the cache to what a person looks at
            del self._order_details[next(iter(self._order_details))]
        if self.active_tab == "orders":
            self._show_detail("orders")

    @on(DataTable.RowHighlighted)
    def row_changed(self, event: DataTable.RowHighlighted) -> None:
        tab = self.active_tab
        if tab in TABLE_TABS and event.data_table is self.pane(tab).table:
            self._show_detail(tab)
        self._refresh_bindings_if_changed()

    @on(DataTable.RowSelected)
    def row_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a row shows the detail pane if it is hidden."""
        if not self._details_shown():
            self._details_wanted = True
            self._apply_detail_visibility()

    def action_toggle_detail(self) -> None:
        self._details_wanted = not self._details_shown()
        self._apply_detail_visibility()

    # ---- what can run now -----------------------------------------------------------

    def selected_engine(self) -> EngineView | None:
        """The engine under the Engines tab's cursor."""
        view = self.selected("engines")
        return view if isinstance(view, EngineView) else None

    def _refresh_bindings_if_changed(self) -> None:
        snapshot = self._snapshot
        tab = self.active_tab
        view = self.selected(tab)
        state = (
            snapshot is None,
            tab,
            snapshot is not None and snapshot.risk.entries_paused,
            snapshot is not None and snapshot.risk.kill_switch,
            _action_state(view),
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: runs; None: shown greyed out; False: hidden (not for this tab)."""
        snapshot = self._snapshot
        risk = snapshot.risk if snapshot is not None else None
        if action in ("start_engine", "stop_engine", "toggle_engine_pause"):
            if self.active_tab != "engines":
                return False
            engine = self.selected_engine()
            if engine is None:
                return None
            state = engine.state.upper()
            if action == "start_engine":
                return None if state == "RUNNING" else True
            if action == "stop_engine":
                return None if state == "STOPPED" else True
            return True if state in _PAUSABLE else None
        if action == "flatten":
            if self.active_tab != "positions":
                return False
            position = self.selected("positions")
            return True if isinstance(position, PositionView) and position.quantity else None
        if action == "cancel_order":
            if self.active_tab != "orders":
                return False
            order = self.selected("orders")
            is_open = isinstance(order, OrderView) and order.status.upper() in OPEN_STATUSES
            return True if is_open else None
        if action in ("filter", "sort", "reverse_sort"):
            return self.active_tab in TABLE_TABS and snapshot is not None
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
            return risk is not None and risk.kill_switch
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
        self.push_screen(screen, callback=self._then_send(ResetKillSwitch()))

    def action_flatten(self) -> None:
        position = self.selected("positions")
        if not isinstance(position, PositionView) or not position.quantity:
            return
        side = "SELL" if position.quantity > 0 else "BUY"
        screen = ConfirmScreen(
            f"Flatten {position.symbol}?",
            f"Cancels its working orders (the stop too), then sends a MARKET {side} for "
            f"{abs(position.quantity)} to close it ({position.engine}).",
        )
        self.push_screen(screen, callback=self._then_send(FlattenPosition(position.symbol)))

    def action_cancel_order(self) -> None:
        order = self.selected("orders")
        if not isinstance(order, OrderView) or order.status.upper() not in OPEN_STATUSES:
            return
        warning = (
            " This is a stop-loss: the position stays open without it."
            if order.purpose.upper() == "STOP"
            else ""
        )
        screen = ConfirmScreen(
            f"Cancel order {order.tag}?",
            f"{order.side} {order.quantity} {order.symbol} {order.order_type} "
            f"{order.purpose}, {order.status}.{warning}",
        )
        self.push_screen(screen, callback=self._then_send(CancelOrder(order.tag)))

    def _then_send(self, command: Command) -> Callable[[bool | None], None]:
        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.send_command(command)

        return answered

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self._tabs.active = tab

    def action_filter(self) -> None:
        if self.active_tab in TABLE_TABS:
            self.pane(self.active_tab).open_filter()

    def action_sort(self) -> None:
        if self.active_tab in TABLE_TABS:
            pane = self.pane(self.active_tab)
            pane.table.cycle_sort()
            pane.refresh_info()

    def action_reverse_sort(self) -> None:
        if self.active_tab in TABLE_TABS:
            pane = self.pane(self.active_tab)
            pane.table.reverse_sort()
            pane.refresh_info()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(HELP))

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


def _identity(snapshot: DeskSnapshot) -> tuple[int, str, int]:
    return snapshot.seq, snapshot.run_id, snapshot.published_wall_ns


def _action_state(view: object | None) -> tuple[object, ...]:
    """What about the selected row decides which keys apply (for refresh_bindings)."""
    if isinstance(view, EngineView):
        return ("engine", view.name, view.state)
    if isinstance(view, PositionView):
        return ("position", view.symbol, view.quantity != 0)
    if isinstance(view, OrderView):
        return ("order", view.tag, view.status)
    return ()


def make_app(
    link: DeskLink,
    *,
    refresh_hz: float = 4.0,
    title: str = "kitetui",
    wall_clock: Callable[[], int] = time.time_ns,
) -> KiteTuiApp:
    """Build the desk app on a link (a real supervisor link, or a fake in tests).

    ``wall_clock`` (epoch ns) drives the header's clock and feed ages; tests fix it.
    """
    return KiteTuiApp(link, refresh_hz=refresh_hz, title=title, wall_clock=wall_clock)
