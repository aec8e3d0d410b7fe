"""The desk's widgets: a diffing table, the header bar and the risk panel.

Each widget is handed plain values (rows of ``Cell`` or a ``HeaderModel``) and paints
only what differs from what it painted last: a DataTable repaint costs ~60 ms at 200
rows whatever changed, so the tables keep their rows keyed and call ``update_cell``
per changed cell, and the labels compare before they ``update``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Label, Static

from kitetui.tui.cells import (
    DASH,
    EVENT_COLUMNS,
    LIMIT_COLUMNS,
    STARTING_HEADER,
    Cell,
    ColumnSpec,
    HeaderModel,
    Row,
    event_rows,
    limit_rows,
    money,
    tone_of,
    trades_today_text,
)
from kitetui.views import DeskSnapshot

_TONE_VARIABLES = {"up": "success", "down": "error", "warn": "warning"}
_TONE_CLASSES = tuple(f"-{tone}" for tone in _TONE_VARIABLES)


def _set_tone(widget: Label | Static, tone: str) -> None:
    widget.remove_class(*_TONE_CLASSES)
    if tone:
        widget.add_class(f"-{tone}")


class DeskTable(DataTable):
    """A DataTable fed whole keyed row sets, which it applies as a minimal diff.

    ``show_rows({key: row})`` removes rows whose key vanished, adds new keys, calls
    ``update_cell`` only for cells whose ``Cell`` differs, and reorders (one sort) only
    when the key order given differs from the order on screen.
    """

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._specs = tuple(columns)
        self._shown: dict[str, Row] = {}
        self._display_order: list[str] = []
        self._columns_added = False
        self._tone_styles: dict[str, Style] = {}
        self._styles_theme = ""

    @property
    def shown_rows(self) -> Mapping[str, Row]:
        """What the table currently shows, by row key (for tests and selection)."""
        return self._shown

    def key_at(self, row_index: int) -> str | None:
        """The row key at a display index, or None when there is no such row."""
        if not self.is_valid_row_index(row_index):
            return None
        return self._display_order[row_index]

    @property
    def cursor_key(self) -> str | None:
        return self.key_at(self.cursor_row) if self.row_count else None

    def _ensure_columns(self) -> None:
        if self._columns_added:
            return
        for spec in self._specs:
            label = Text(spec.label, justify="right" if spec.numeric else "left")
            self.add_column(label, key=spec.key)
        self._columns_added = True

    def _style_for(self, tone: str) -> Style | str:
        theme = self.app.theme
        if theme != self._styles_theme:
            variables = self.app.theme_variables
            self._tone_styles = {
                tone: Style(color=variables[name])
                for tone, name in _TONE_VARIABLES.items()
                if name in variables
            }
            self._styles_theme = theme
        return self._tone_styles.get(tone, "")

    def _cell_text(self, cell: Cell, spec: ColumnSpec) -> Text:
        return Text(
            cell.text,
            style=self._style_for(cell.tone) if cell.tone else "",
            justify="right" if spec.numeric else "left",
            no_wrap=True,
            end="",
        )

    def show_rows(self, rows: Mapping[str, Row]) -> None:
        self._ensure_columns()
        shown = self._shown
        for key in [key for key in shown if key not in rows]:
            self.remove_row(key)
            del shown[key]
            self._display_order.remove(key)
        for key, row in rows.items():
            old = shown.get(key)
            if old is None:
                cells = [self._cell_text(c, s) for c, s in zip(row, self._specs, strict=True)]
                self.add_row(*cells, key=key)
                self._display_order.append(key)
            elif old != row:
                for cell, before, spec in zip(row, old, self._specs, strict=True):
                    if cell != before:
                        self.update_cell(
                            key, spec.key, self._cell_text(cell, spec), update_width=True
                        )
            shown[key] = row
        wanted = list(rows)
        if wanted != self._display_order:
            self._reorder(wanted)

    def _reorder(self, keys: list[str]) -> None:
        """Put rows in ``keys`` order with one sort (DataTable can only append)."""
        first = self._specs[0].key
        rank = {id(self.get_cell(key, first)): index for index, key in enumerate(keys)}
        self.sort(first, key=lambda cell: rank[id(cell)])
        self._display_order = keys


class HeaderBar(Vertical):
    """Mode, data clock, feed, day P&L and risk state; a banner line for alarms."""

    def __init__(self, title: str = "kitetui", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._model: HeaderModel | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-line"):
            yield Label(self._title, id="app-title")
            yield Label(STARTING_HEADER.mode, id="mode")
            yield Label(STARTING_HEADER.clock, id="clock")
            yield Label("", id="feed")
            yield Label("", id="pnl")
            yield Label("", id="risk-state")
        yield Static("", id="banner")

    def on_mount(self) -> None:
        self.show(STARTING_HEADER)

    def show(self, model: HeaderModel) -> None:
        old = self._model
        if model == old:
            return
        self._model = model
        if old is None or (old.mode, old.live) != (model.mode, model.live):
            mode = self.query_one("#mode", Label)
            mode.update(model.mode)
            mode.set_class(model.live, "-live")
            mode.display = bool(model.mode)
        before = old or STARTING_HEADER
        for widget_id, text, tone, was in (
            ("#clock", model.clock, "", (before.clock, "")),
            ("#feed", model.feed, "", (before.feed, "")),
            ("#pnl", model.pnl, model.pnl_tone, (before.pnl, before.pnl_tone)),
            ("#risk-state", model.risk, model.risk_tone, (before.risk, before.risk_tone)),
        ):
            if old is not None and (text, tone) == was:
                continue
            label = self.query_one(widget_id, Label)
            label.update(text)
            _set_tone(label, tone)
            label.display = bool(text)
        if old is None or (old.banner, old.alarm) != (model.banner, model.alarm):
            banner = self.query_one("#banner", Static)
            banner.update("  │  ".join(model.banner))
            banner.set_class(model.alarm, "-alarm")
            banner.display = bool(model.banner)


def _tone_markup(text: str, tone: str) -> str:
    variable = _TONE_VARIABLES.get(tone)
    return f"[${variable}]{escape(text)}[/]" if variable else escape(text)


def _pnl_markup(value: float) -> str:
    return _tone_markup(money(value), tone_of(value))


class RiskPanel(VerticalScroll):
    """The Risk tab: state and flags, P&L, each limit as a gauge, and recent events."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._summary = ""
        self._lists = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="risk-summary")
        yield DeskTable(LIMIT_COLUMNS, id="limits")
        yield Static("", id="risk-lists")
        yield Label("Recent events", classes="section-title")
        yield DeskTable(EVENT_COLUMNS, id="events")

    def show(self, snapshot: DeskSnapshot) -> None:
        risk = snapshot.risk
        state = risk.state.upper()
        state_tone = {"ACTIVE": "up", "REDUCING": "warn", "HALTED": "down"}.get(state, "")
        lines = [
            "  ".join(
                (
                    f"[b]State[/b] {_tone_markup(state, state_tone)}",
                    "[b]Kill switch[/b] "
                    + (_tone_markup("ON", "down") if risk.kill_switch else "off"),
                    "[b]Entries[/b] "
                    + (_tone_markup("PAUSED", "warn") if risk.entries_paused else "open"),
                )
            ),
        ]
        if risk.halt_reason:
            lines.append(f"[b]Halt reason[/b] {_tone_markup(risk.halt_reason, 'down')}")
        lines.append(
            "  ".join(
                (
                    f"[b]Day P&L[/b] {_pnl_markup(risk.day_pnl)}",
                    f"[b]Realized[/b] {_pnl_markup(risk.realized)}",
                    f"[b]Unrealized[/b] {_pnl_markup(risk.unrealized)}",
                    f"[b]Max DD[/b] {_pnl_markup(-abs(risk.max_drawdown))}",
                )
            )
        )
        summary = "\n".join(lines)
        if summary != self._summary:
            self._summary = summary
            self.query_one("#risk-summary", Static).update(summary)

        blocked = ", ".join(risk.blocked_symbols) or DASH
        lists = "\n".join(
            (
                f"[b]Blocked symbols[/b] {escape(blocked)}",
                f"[b]Trades today[/b] {escape(trades_today_text(risk.trades_today))}",
            )
        )
        if lists != self._lists:
            self._lists = lists
            self.query_one("#risk-lists", Static).update(lists)

        self.query_one("#limits", DeskTable).show_rows(limit_rows(risk.limits))
        newest_first = dict(reversed(event_rows(snapshot.events).items()))
        self.query_one("#events", DeskTable).show_rows(newest_first)
