"""The desk: one Textual ``Screen`` that reads snapshots and sends commands.

The screen never touches a live trading object. A timer pulls ``link.snapshot()`` at a
bounded rate (4 Hz by default) and returns at once when the snapshot has not moved; a
new snapshot repaints the header and the *visible* tab only, by diff (hidden tabs catch
up when they are shown), so a slow SSH link carries changed cells, not whole screens.
Keys become command objects sent through ``link.send`` in a worker, so a slow desk can
never freeze the screen, and each ``CommandResult`` comes back as a notification.

What each tab lists, shows and allows is declared in ``tabs.py``; what each key does,
where and when, in ``keys.py``. This class holds the layout and the state of one screen
(the snapshot on it, the selected rows, the order histories fetched) and applies those
declarations; it has no per-tab branches of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from kitetui.alerts import terminal_sequences
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
from kitetui.control.link import DeskLink
from kitetui.tui.cells import Row, headline_rows, keyed
from kitetui.tui.chart_screen import ChartScreen
from kitetui.tui.export_screen import ask_export
from kitetui.tui.footer import KeyFooter
from kitetui.tui.forms import LimitForm, TicketForm
from kitetui.tui.header import header_model
from kitetui.tui.history import DESK_HISTORY_TABLES, HistoryBrowser
from kitetui.tui.history_feed import HistoryFeed
from kitetui.tui.keys import DESK_KEYS, KEY_BY_ACTION, DeskKey, bindings, help_sections
from kitetui.tui.runs_screen import RunsScreen
from kitetui.tui.scope import RUN, TODAY, next_scope, scope_label, valid_scope
from kitetui.tui.screens import ConfirmScreen, HelpScreen, KillSwitchScreen, SummaryScreen
from kitetui.tui.tabs import (
    SCOPED_TABS,
    TAB_BY_NAME,
    TAB_SPECS,
    TABLE_TABS,
    SnapshotPanel,
    TabSpec,
)
from kitetui.tui.widgets import HeaderBar, TablePane, ToneStyles
from kitetui.views import DeskSnapshot, OrderDetail, OrderView, PositionView

KILL_REASON = "manual from TUI"
#: Below this many rows the detail panes start hidden (``d`` or Enter shows them).
DETAIL_MIN_HEIGHT = 36
#: From this many columns the footer also shows ``^p palette``.
FOOTER_PALETTE_MIN_WIDTH = 100
#: Order histories kept for the detail pane (what a person looks at, not the whole day).
ORDER_HISTORIES_KEPT = 500


class DeskScreen(Screen[None]):
    """The trading desk's one screen: header, tabs, footer (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings()
    SLOW_COMMAND_S = 5.0  # after this long without a reply, say that we are waiting

    def __init__(
        self,
        link: DeskLink,
        *,
        refresh_hz: float,
        title: str,
        wall_clock: Callable[[], int],
        on_first_frame: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._link = link
        self._refresh_hz = refresh_hz
        self._title = title
        self._wall_clock = wall_clock
        self._on_first_frame = on_first_frame
        self._snapshot: DeskSnapshot | None = None
        self._tab_seq: dict[str, tuple[tuple[int, str, int], str]] = {}
        self._scope = TODAY  # what the scoped tabs (Positions, Risk) show: see scope.py
        self._views: dict[str, dict[str, object]] = {tab: {} for tab in TABLE_TABS}
        self._row_cache: dict[str, dict[Any, Row]] = {}  # per tab: view -> its row
        self._row_contexts: dict[str, object] = {}  # per tab: its row_context when cached
        self._order_details: dict[str, tuple[tuple[str, int], OrderDetail | None]] = {}
        self._detail_requests: set[str] = set()
        self._details_wanted: bool | None = None  # None: by terminal height
        self._binding_state: tuple[object, ...] = ()
        self._summary_shown = False  # the end-of-replay screen, shown once
        self._alerts_seen: tuple[str, int] | None = None  # (run, newest alert seq) heard
        # Tabs in history mode (``h``): they list pages of the journal, not the snapshot.
        self._history: dict[str, HistoryFeed] = {}
        self.render_count = 0
        """Snapshots rendered so far (an unchanged ``seq`` renders nothing)."""
        self.tab_renders: Counter[str] = Counter()
        """Per tab, how many snapshots it has rendered."""

    # ---- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: the screen queries its widgets once, so key handlers and
        # the timer keep working while a modal screen (help, a confirmation) is on top.
        self._header = HeaderBar(
            self._title,
            wall_clock=self._wall_clock,
            link_problem=self._link.connection_problem,
            id="header",
        )
        self._starting = Static("starting…", id="starting")
        self._body = Vertical(id="desk")
        self._tabs = TabbedContent(initial=TAB_SPECS[0].name, id="tabs")
        self._panes = {
            spec.name: TablePane(spec.columns, noun=spec.noun, table_id=f"{spec.name}-table")
            for spec in TAB_SPECS
            if spec.is_table
        }
        self._panels: dict[str, Widget] = {
            spec.name: spec.panel() for spec in TAB_SPECS if spec.panel is not None
        }
        yield self._header
        yield self._starting
        with self._body, self._tabs:
            for number, spec in enumerate(TAB_SPECS, start=1):
                with TabPane(f"{number} {spec.title}", id=spec.name):
                    yield self._panes.get(spec.name) or self._panels[spec.name]
        self._footer = KeyFooter(compact=True)
        yield self._footer

    def on_mount(self) -> None:
        self._body.display = False
        self.set_interval(1 / self._refresh_hz, self.pull_snapshot, name="pull-snapshot")
        self._apply_detail_visibility()
        self._fit_footer()
        self.pull_snapshot()

    def on_resize(self) -> None:
        self._apply_detail_visibility()
        self._fit_footer()

    def _fit_footer(self) -> None:
        """Below 100 columns the footer drops its ``^p palette`` entry (the palette is on
        the help screen) so that every key of the tab, ``q Quit`` last, fits in 80."""
        wide = self.size.width >= FOOTER_PALETTE_MIN_WIDTH
        if self._footer.show_command_palette != wide:
            self._footer.show_command_palette = wide

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
            message = self._link.failure()
            if message:
                self.app.exit(return_code=1, message=f"the desk stopped: {message}")
            return False
        previous = self._snapshot
        if previous is not None and snapshot is previous:
            return False
        # A restarted daemon counts seq from 1 again: the publish time tells them apart.
        if previous is not None and _identity(snapshot) == _identity(previous):
            return False
        self._snapshot = snapshot
        self.render_count += 1
        with self.app.batch_update():
            if previous is None:
                self._show_first_frame()
            self._header.show(header_model(snapshot))
            self._render_tab(self.active_tab)
        self._refresh_bindings_if_changed()
        self._sound_alerts(snapshot)
        if snapshot.headline is not None and not self._summary_shown:
            self._show_summary(snapshot)
        return True

    def _sound_alerts(self, snapshot: DeskSnapshot) -> None:
        """Ring, notify the desktop and toast once per alert this screen has not heard.
        The alerts a desk already had when the screen first saw it (an attach, a
        reconnect to a restarted desk) are history, not news: they stay quiet."""
        newest = snapshot.alerts[-1].seq if snapshot.alerts else 0
        seen = self._alerts_seen
        self._alerts_seen = (snapshot.run_id, max(newest, seen[1] if seen else 0))
        if seen is None or seen[0] != snapshot.run_id:
            self._alerts_seen = (snapshot.run_id, newest)
            return
        fresh = [a for a in snapshot.alerts if a.seq > seen[1]]
        if not fresh:
            return
        text = "".join(
            terminal_sequences(a, bell=False, desktop=snapshot.alert_desktop) for a in fresh[-3:]
        )
        if snapshot.alert_bell:
            text = "\a" + text
        if text:
            self.write_terminal(text)
        for alert in fresh[-3:]:
            severity = {"ERROR": "error", "WARNING": "warning"}.get(alert.level, "information")
            self.app.notify(alert.message, title=alert.title, severity=severity, timeout=8)

    def write_terminal(self, text: str) -> None:
        """Raw bytes to the terminal (BEL, OSC): Textual has no public call for OSC."""
        driver = getattr(self.app, "_driver", None)
        if text and driver is not None:
            driver.write(text)

    def _show_summary(self, snapshot: DeskSnapshot) -> None:
        """A replay finished: its headline figures, over the desk, once."""
        assert snapshot.headline is not None
        self._summary_shown = True
        styles = ToneStyles(self)
        rows = [
            (label, Text(cell.text, styles(cell.tone) if cell.tone else ""))
            for label, cell in headline_rows(snapshot.headline)
        ]
        title = f"Replay finished · run {snapshot.run_id}"

        def closed(quit_app: bool | None) -> None:
            if quit_app:
                self.app.exit()

        self.app.push_screen(SummaryScreen(title, rows), callback=closed)

    def _show_first_frame(self) -> None:
        if self._on_first_frame is not None:
            self._on_first_frame()
        self._starting.display = False
        self._body.display = True
        self.pane(TABLE_TABS[0]).table.focus()

    @property
    def active_tab(self) -> str:
        return self._tabs.active

    def _render_tab(self, tab: str) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            return
        spec = TAB_BY_NAME[tab]
        if tab in self._history:
            return  # it lists the journal's pages (history_feed.py), not the snapshot
        scope = valid_scope(self._scope, snapshot) if spec.scoped else TODAY
        if self._tab_seq.get(tab) == (_identity(snapshot), scope):
            return
        self._tab_seq[tab] = (_identity(snapshot), scope)
        self.tab_renders[tab] += 1
        if not spec.is_table:
            panel: SnapshotPanel = self._panels[tab]  # type: ignore[assignment]
            panel.show(snapshot, scope)
            return
        found = spec.scoped_views(snapshot, scope) if spec.scoped_views else spec.views(snapshot)
        views = keyed(found, spec.row_key)
        rows = self._rows(spec, views, snapshot)
        self._views[tab] = views
        pane = self.pane(tab)
        if spec.scoped:
            pane.scope = f"{scope_label(scope, snapshot)} (v: {_next_label(scope, snapshot)})"
        pane.show(rows, dict(snapshot.counts).get(spec.total) if spec.total else None)
        self._show_detail(tab)

    def _rows(self, spec: TabSpec, views: dict[str, Any], snapshot: DeskSnapshot) -> dict[str, Row]:
        """Each view's row, built only for a view that was not on the tab last time
        (every time when the tab's rows read the snapshot too).

        Views are frozen values: an order that did not change compares equal (and is
        usually the same object) from one snapshot to the next, so a 2,000-order book
        re-sent every frame costs a dict lookup per order instead of formatting 14 cells,
        and the table sees the very same row and skips it.
        """
        if not spec.rows_cached:
            return spec.rows(views, snapshot)
        assert spec.row is not None
        context = spec.row_context(snapshot)
        build = spec.row
        fresh = self._row_contexts.get(spec.name, context) != context
        self._row_contexts[spec.name] = context
        before = {} if fresh else self._row_cache.get(spec.name, {})
        cache: dict[Any, Row] = {}
        rows: dict[str, Row] = {}
        for key, view in views.items():
            try:
                row = cache.get(view) or before.get(view)
            except TypeError:  # an unhashable view: just format it
                rows[key] = build(view, snapshot)
                continue
            if row is None:
                row = build(view, snapshot)
            cache[view] = row
            rows[key] = row
        self._row_cache[spec.name] = cache
        return rows

    @on(TabbedContent.TabActivated, "#tabs")
    def render_shown_tab(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id
        if tab is None:
            return
        with self.app.batch_update():
            self._render_tab(tab)
        if tab in TABLE_TABS and self._snapshot is not None:
            self.pane(tab).table.focus()
        self._refresh_bindings_if_changed()

    # ---- the detail pane ----------------------------------------------------------

    def selected(self, tab: str) -> object | None:
        """The view under the cursor of ``tab``'s table (a PositionView, OrderView…)."""
        if tab not in TABLE_TABS:
            return None
        return self.view_at(tab, self.pane(tab).table.cursor_key)

    def view_at(self, tab: str, key: str | None) -> object | None:
        """The view behind the row ``key`` of ``tab``'s table, as last rendered."""
        return None if key is None else self._views.get(tab, {}).get(key)

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
        build = TAB_BY_NAME[tab].detail
        if view is None or snapshot is None or build is None:
            detail_pane.show(())
        else:
            detail_pane.show(build(view, snapshot, self._order_history))

    def _order_history(self, order: OrderView) -> tuple[OrderDetail | None, bool]:
        """The journal's story of ``order`` so far, and whether it is being fetched."""
        known = self._order_detail_for(order)
        return known, order.tag in self._detail_requests

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
            # Shielded: a read on the supervisor must never be cancelled half-way.
            detail = await asyncio.shield(self._link.order_detail(tag))
        except Exception as exc:  # the pane says so; the desk is unaffected
            self.notify(f"{type(exc).__name__}: {exc}", title="order detail", severity="error")
            detail = None
        finally:
            self._detail_requests.discard(tag)
        if detail is None and self._link.connection_problem():
            return  # not known to be absent: ask again once the link is back
        self._order_details[tag] = (version, detail)
        if len(self._order_details) > ORDER_HISTORIES_KEPT:
            del self._order_details[next(iter(self._order_details))]
        self._show_detail(self.active_tab)  # unchanged panes are not repainted

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

    def _refresh_bindings_if_changed(self) -> None:
        """Refresh the footer when what a key would do has changed, and only then."""
        state = (self.active_tab, *(self.allows(key.action) for key in KEY_BY_ACTION.values()))
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: runs; None: shown greyed out; False: hidden (not for this tab)."""
        if action == "row" and parameters:
            return self.allows(str(parameters[0]))
        return self.allows(action)

    def allows(self, action: str) -> bool | None:
        """Whether the key of ``action`` (as named in ``keys.py``) can run now: True runs,
        None greyed out, False hidden (not on this tab)."""
        key = KEY_BY_ACTION.get(action)
        if key is None:
            return True
        tab = self.active_tab
        if key.tabs and tab not in key.tabs:
            return False
        if action in _PAGE_STEPS:
            feed = self._history.get(tab)
            if feed is None:
                return False  # only in history mode
            return True if feed.browser.can_page(_PAGE_STEPS[action]) else None
        ready = key.ready(self._snapshot)
        if ready is not True or not key.row:
            return ready
        view = self.selected(tab)
        return None if view is None else TAB_BY_NAME[tab].actions[action].ready(view)

    # ---- actions ------------------------------------------------------------------

    def action_row(self, action: str) -> None:
        """A key that acts on the selected row: ask first if its tab says so, then send."""
        tab = self.active_tab
        row_action = TAB_BY_NAME[tab].actions.get(action)
        view = self.selected(tab)
        if row_action is None or view is None or row_action.ready(view) is not True:
            return
        if row_action.form is not None and row_action.filled is not None:
            filled = row_action.filled

            def typed(text: str | None) -> None:
                if text:
                    command, (question, detail) = filled(view, text)
                    self.app.push_screen(
                        ConfirmScreen(question, detail), callback=self._then_send(command)
                    )

            self.app.push_screen(row_action.form(view), callback=typed)
            return
        command = row_action.command(view)
        if row_action.confirm is None:
            self.send_command(command)
            return
        question, detail = row_action.confirm(view)
        self.app.push_screen(ConfirmScreen(question, detail), callback=self._then_send(command))

    def action_pause_entries(self) -> None:
        self.send_command(PauseEntries())

    def action_resume_entries(self) -> None:
        self.send_command(ResumeEntries())

    def action_kill_switch(self) -> None:
        self.app.push_screen(
            KillSwitchScreen(), callback=self._then_send(TriggerKillSwitch(KILL_REASON))
        )

    def action_reset_kill_switch(self) -> None:
        screen = ConfirmScreen(
            "Reset the kill switch?",
            "Engines may open positions again once the risk state allows it.",
        )
        self.app.push_screen(screen, callback=self._then_send(ResetKillSwitch()))

    def action_change_limit(self) -> None:
        """``l`` on the Risk tab: the limit form, then y/n, then ``SetRiskLimit``."""
        snapshot = self._snapshot
        if snapshot is None or not snapshot.risk.settings:
            return

        def chosen(assignment: str | None) -> None:
            if assignment:
                name, _, value = assignment.partition("=")
                setting = next(s for s in snapshot.risk.settings if s.name == name)
                self.app.push_screen(
                    ConfirmScreen(
                        f"Set {name} to {value}?",
                        f"Now {setting.value:,.{0 if setting.integer else 2}f}, config "
                        f"{setting.config_value:,.{0 if setting.integer else 2}f}. For the "
                        "rest of this run (a restart keeps it); journaled.",
                    ),
                    callback=self._then_send(SetRiskLimit(assignment)),
                )

        self.app.push_screen(LimitForm(snapshot.risk.settings), callback=chosen)

    def action_order_ticket(self) -> None:
        """``t``: the ticket form (the selected position's symbol filled in), then y/n."""
        view = self.selected("positions") if self.active_tab == "positions" else None
        symbol = view.symbol if isinstance(view, PositionView) else ""

        def chosen(ticket: str | None) -> None:
            if ticket:
                self.app.push_screen(
                    ConfirmScreen(
                        f"Place {ticket}?",
                        "It passes the risk gate as a strategy's entry would; its "
                        "protective stop goes out when it fills.",
                    ),
                    callback=self._then_send(PlaceTicket(ticket)),
                )

        self.app.push_screen(TicketForm(symbol), callback=chosen)

    def _then_send(self, command: Command) -> Callable[[bool | None], None]:
        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.send_command(command)

        return answered

    def action_show_tab(self, tab: str) -> None:
        if tab in TAB_BY_NAME:
            self._tabs.active = tab

    @property
    def scope(self) -> str:
        """What the Positions and Risk tabs show: ``today``, ``run`` or a past ISO day."""
        return valid_scope(self._scope, self._snapshot)

    def action_cycle_scope(self) -> None:
        """``v``: today → the whole run → each earlier day (newest first) → today."""
        self._scope = next_scope(self.scope, self._snapshot)
        if self.active_tab in SCOPED_TABS:
            with self.app.batch_update():
                self._render_tab(self.active_tab)

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

    def action_chart(self) -> None:
        """``g``: the price chart of the selected row's symbol, over the desk."""
        symbol = getattr(self.selected(self.active_tab), "symbol", "")
        if not symbol:
            self.notify("Select a row first.", title="Chart", severity="warning")
            return
        self.app.push_screen(ChartScreen(self._link, symbol, refresh_hz=self._refresh_hz))

    # ---- the journal: history mode, the Runs screen, exports ----------------------

    @property
    def history_tabs(self) -> dict[str, HistoryFeed]:
        """The tabs in history mode and what feeds each."""
        return self._history

    def action_toggle_history(self) -> None:
        """``h`` on Orders, Signals or Log: list the whole run's journal a page at a time,
        filtered in the database; ``h`` again goes back to the newest rows, live."""
        tab = self.active_tab
        table = DESK_HISTORY_TABLES.get(tab)
        if table is None:
            return
        pane = self.pane(tab)
        feed = self._history.pop(tab, None)
        if feed is not None:
            feed.detach()
            self._views[tab] = {}
            self._tab_seq.pop(tab, None)
            with self.app.batch_update():
                self._render_tab(tab)
        else:
            browser = HistoryBrowser(table, text=" ".join(pane.filter_input.value.split()))
            feed = HistoryFeed(
                self, self._link, pane, browser, TAB_BY_NAME[tab].noun, self._history_shown
            )
            self._history[tab] = feed
            feed.attach()
        self._refresh_bindings_if_changed()

    def _history_shown(self) -> None:
        """A page arrived: its rows are the tab's views (detail pane, row keys)."""
        for tab, feed in self._history.items():
            self._views[tab] = dict(feed.views)
        self._show_detail(self.active_tab)
        self._refresh_bindings_if_changed()

    def action_next_page(self) -> None:
        feed = self._history.get(self.active_tab)
        if feed is not None:
            feed.turn(1)

    def action_previous_page(self) -> None:
        feed = self._history.get(self.active_tab)
        if feed is not None:
            feed.turn(-1)

    def action_show_runs(self) -> None:
        """``R``: the database's runs; any one opens read-only over the desk."""
        if not isinstance(self.app.screen, RunsScreen):
            current = self._snapshot.run_id if self._snapshot is not None else ""
            self.app.push_screen(RunsScreen(self._link, current))

    def action_export_csv(self) -> None:
        """``w``: this run's table as the CSV ``kitetui export`` writes."""
        label = self._snapshot.run_id if self._snapshot is not None else ""
        ask_export(self, self._link, run="", what=self.active_tab, label=label)

    def action_help(self) -> None:
        if not isinstance(self.app.screen, HelpScreen):
            self.app.push_screen(HelpScreen(help_sections()))

    # ---- commands -----------------------------------------------------------------

    def send_command(self, command: Command) -> None:
        """Send a command without waiting; its result arrives as a notification."""
        self.run_worker(
            self._send(command),
            name=command_title(command),
            group="commands",
            exit_on_error=False,
        )

    async def _send(self, command: Command) -> None:
        title = command_title(command)
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

    def palette_commands(self) -> Iterator[SystemCommand]:
        """The command palette's entries: every desk key that can run now."""
        for key in DESK_KEYS:
            if key.palette and self.allows(key.action):
                help_text = f"{key.palette_help} ({key.key})"
                yield SystemCommand(key.palette, help_text, self._palette_callback(key))

    def _palette_callback(self, key: DeskKey) -> Callable[[], None]:
        if key.row:
            return functools.partial(self.action_row, key.action)
        return getattr(self, f"action_{key.action}")


#: The paging keys of history mode and the way each turns.
_PAGE_STEPS = {"next_page": 1, "previous_page": -1}

_COMMAND_TITLES: dict[type[Command], str] = {
    StartEngine: "Start engine",
    StopEngine: "Stop engine",
    PauseEntries: "Pause entries",
    ResumeEntries: "Resume entries",
    TriggerKillSwitch: "Kill switch",
    ResetKillSwitch: "Reset kill switch",
    FlattenPosition: "Flatten",
    CancelOrder: "Cancel order",
    SetRiskLimit: "Risk limit",
    PlaceTicket: "Order ticket",
    ModifyStop: "Move stop",
}


def command_title(command: Command) -> str:
    """A notification's title in words, with what it acted on: ``Stop engine fno-trend``,
    ``Cancel order fno-0002``, ``Pause entries`` (a class name means nothing to a trader)."""
    title = _COMMAND_TITLES.get(type(command), type(command).__name__)
    fields = (f.name for f in dataclasses.fields(command) if f.name != "reason")
    target = next((str(value) for name in fields if (value := getattr(command, name))), "")
    return f"{title} {target}" if target else title


def _next_label(scope: str, snapshot: DeskSnapshot) -> str:
    following = next_scope(scope, snapshot)
    return "whole run" if following == RUN else "today" if following == TODAY else following


def _identity(snapshot: DeskSnapshot) -> tuple[int, str, int]:
    return snapshot.seq, snapshot.run_id, snapshot.published_wall_ns
