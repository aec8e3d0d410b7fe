"""The Runs screen: every run of the desk's database, and any one of them, read-only.

``R`` on the desk lists the runs as ``kitetui runs`` does (id, config, mode, the market
days, status, orders, fills, realized P&L); Enter opens one: its report's headline
figures (``kitetui report``'s own computation) and its orders, fills, signals and
events, a page at a time, searchable with ``/`` against the whole journal and exportable
with ``w``. Nothing here can change a run: the desk reads its file read-only in a thread,
and it keeps trading underneath (its screen is still on the stack; Escape goes back).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane

from kitetui.control.link import DeskLink
from kitetui.tui.cells import Cell, ColumnSpec, Row, headline_rows, money, tone_of
from kitetui.tui.export_screen import ask_export
from kitetui.tui.footer import KeyFooter
from kitetui.tui.history import JOURNAL_TABLES, HistoryBrowser
from kitetui.tui.history_feed import HistoryFeed
from kitetui.tui.widgets import DeskTable, TablePane, ToneStyles
from kitetui.views import RunReportView, RunView

RUN_COLUMNS = (
    ColumnSpec("run", "run"),
    ColumnSpec("mode", "mode"),
    ColumnSpec("status", "status"),
    ColumnSpec("data", "data"),
    ColumnSpec("net", "net ₹", numeric=True),
    ColumnSpec("charges", "charges ₹", numeric=True),
    ColumnSpec("orders", "orders", numeric=True),
    ColumnSpec("fills", "fills", numeric=True),
    ColumnSpec("open", "open", numeric=True),
    ColumnSpec("started", "started"),
    ColumnSpec("restarts", "restarts", numeric=True),
    ColumnSpec("config", "config"),
)

_STATUS_TONES = {"RUNNING": "up", "FAILED": "down", "STOPPED": "warn"}


def span(run: RunView) -> str:
    """``2022-11-18..2023-04-11``, one date for a one-day run, ``-`` before any data."""
    if not run.data_from:
        return "-"
    return run.data_from if run.data_from == run.data_to else f"{run.data_from}..{run.data_to}"


def run_row(run: RunView, current: str = "") -> Row:
    mark = "● " if run.run_id == current else ""
    return (
        Cell(mark + run.run_id),
        Cell(run.mode),
        Cell(run.status, _STATUS_TONES.get(run.status.upper(), "")),
        Cell(span(run)),
        Cell(money(run.net_pnl) + ("*" if run.unpriced_fills else ""), tone_of(run.net_pnl)),
        Cell(money(run.charges)),
        Cell(f"{run.orders:,}"),
        Cell(f"{run.fills:,}"),
        Cell(str(run.open_positions), "warn" if run.open_positions else ""),
        Cell(run.started),
        Cell(str(run.restarts)),
        Cell(run.config),
    )


class RunsScreen(Screen[None]):
    """Every run of the database, newest first; Enter opens one, Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open_run", "Open"),  # the table's Enter selects: see _chosen
        Binding("ctrl+r", "reload", "Reload"),
    ]

    def __init__(self, link: DeskLink, current_run: str = "") -> None:
        super().__init__()
        self._link = link
        self._current = current_run
        self._runs: dict[str, RunView] = {}
        self.loaded = False
        """True once the desk has answered (with runs or a refusal)."""
        self._title = Label("Runs in the desk's database · reading…", id="runs-title")
        self._table = DeskTable(RUN_COLUMNS, id="runs-table")

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._table
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self._table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.run_worker(self._load(), group="runs", exit_on_error=False)

    async def _load(self) -> None:
        try:
            runs = await asyncio.shield(self._link.runs())
        except Exception as exc:
            self._title.update(Text(f"Runs · cannot read them: {exc}"))
            self.notify(str(exc), title="runs", severity="error")
            self.loaded = True
            return
        newest_first = tuple(reversed(runs))
        self._runs = {run.run_id: run for run in newest_first}
        self._table.show_rows({run.run_id: run_row(run, self._current) for run in newest_first})
        count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
        self._title.update(
            Text(f"Runs in the desk's database · {count}, newest first · ● this desk · Enter opens")
        )
        self.loaded = True

    @property
    def selected_run(self) -> str | None:
        return self._table.cursor_key

    def action_open_run(self) -> None:
        run = self.selected_run
        if run is not None and run in self._runs:
            self.app.push_screen(RunScreen(self._link, self._runs[run]))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_back(self) -> None:
        self.dismiss(None)


def headline_table(report: RunReportView, styles: ToneStyles, columns: int) -> Table:
    """The report's headline figures, ``columns`` (label, value) pairs a line."""
    table = Table.grid(padding=(0, 1))
    for _ in range(columns):
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
    cells: list[Text] = []
    for label, cell in headline_rows(report.headline):
        cells += [Text(label), Text(cell.text, styles(cell.tone) if cell.tone else "")]
    width = 2 * columns
    for start in range(0, len(cells), width):
        line = cells[start : start + width]
        table.add_row(*line, *([Text("")] * (width - len(line))))
    return table


class RunScreen(Screen[None]):
    """One run, read-only: its headline figures and its journal tables, a page each."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Before the panes' own Escape (which clears a filter and would keep the key).
        Binding("escape", "back", "Back", priority=True),
        Binding("1", "show_table('orders')", "Orders", show=False),
        Binding("2", "show_table('fills')", "Fills", show=False),
        Binding("3", "show_table('signals')", "Signals", show=False),
        Binding("4", "show_table('events')", "Events", show=False),
        Binding("slash", "filter", "Search"),
        Binding("left_square_bracket", "page(-1)", "Prev page"),
        Binding("right_square_bracket", "page(1)", "Next page"),
        Binding("w", "export", "Export"),
    ]

    def __init__(self, link: DeskLink, run: RunView) -> None:
        super().__init__()
        self._link = link
        self.run = run
        self.report: RunReportView | None = None
        self._title = Label(self._title_text(), id="run-title")
        self._headline = Static("reading the report…", id="run-headline")
        self._tabs = TabbedContent(initial="run-orders", id="run-tabs")
        self.panes = {
            name: TablePane(
                spec.columns, noun=spec.noun, table_id=f"run-{name}-table", detail=False
            )
            for name, spec in JOURNAL_TABLES.items()
        }
        self.feeds = {
            name: HistoryFeed(self, link, pane, HistoryBrowser(name, run=run.run_id), name)
            for name, pane in self.panes.items()
        }

    def _title_text(self) -> str:
        run = self.run
        where = f"{run.mode} · {run.status} · {span(run)} · {run.config}"
        return f"Run {run.run_id} (read-only) · {where}"

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._headline
        with self._tabs:
            for number, (name, spec) in enumerate(JOURNAL_TABLES.items(), start=1):
                with TabPane(f"{number} {spec.title}", id=f"run-{name}"):
                    yield self.panes[name]
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        for feed in self.feeds.values():
            feed.attach()
        self.panes["orders"].table.focus()
        self.run_worker(self._load_report(), group="report", exit_on_error=False)

    async def _load_report(self) -> None:
        try:
            report = await asyncio.shield(self._link.run_report(self.run.run_id))
        except Exception as exc:
            self._headline.update(Text(f"no report: {exc}"))
            return
        self.report = report
        columns = 3 if self.size.width >= 80 else 2
        self._headline.update(headline_table(report, ToneStyles(self), columns))

    @property
    def active_table(self) -> str:
        return (self._tabs.active or "run-orders").removeprefix("run-")

    def action_show_table(self, name: str) -> None:
        self._tabs.active = f"run-{name}"
        self.panes[name].table.focus()

    @on(TabbedContent.TabActivated, "#run-tabs")
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        self.panes[self.active_table].table.focus()

    def action_filter(self) -> None:
        self.panes[self.active_table].open_filter()

    def action_page(self, step: int) -> None:
        self.feeds[self.active_table].turn(step)

    def action_export(self) -> None:
        ask_export(self, self._link, run=self.run.run_id, what=self.active_table)

    def action_back(self) -> None:
        """Escape: clear the search if there is one, else back to the list of runs."""
        pane = self.panes[self.active_table]
        box = pane.filter_input
        if box.value:
            box.action_clear()
        elif box.display:
            box.display = False
            pane.table.focus()
        else:
            self.dismiss(None)
