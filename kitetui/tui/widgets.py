"""The desk's widgets: a diffing, sortable, filterable table; the header; the panes.

Each widget is handed plain values (rows of ``Cell``, a ``HeaderModel``, detail lines)
and paints only what differs from what it painted last: a DataTable repaint costs
~60 ms at 200 rows whatever changed, so the tables keep their rows keyed and call
``update_cell`` per changed cell, and the text widgets compare before they ``update``.
That is what keeps a slow SSH link fed with small diffs instead of full redraws.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static
from textual.widgets.data_table import Column, ColumnKey, RowKey

from kitetui.tui.cells import (
    DASH,
    Cell,
    ColumnSpec,
    Row,
)
from kitetui.tui.details import Detail
from kitetui.tui.header import (
    STARTING_HEADER,
    HeaderModel,
    banner_lines,
    fit_banner,
    header_segments,
)

TONE_VARIABLES = {"up": "success", "down": "error", "warn": "warning"}
_NUMBER = re.compile(r"[-+]?\d[\d,]*\.?\d*")


class ToneStyles:
    """Tones ("up", "down", "warn", …) as Rich styles from the app's current theme.

    Cells carry tones, not colours, so a theme change or NO_COLOR (Textual's
    monochrome filter) restyles everything without touching the data.
    """

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self._theme = ""
        self._styles: dict[str, Style] = {}

    def __call__(self, tone: str) -> Style | str:
        app = self._widget.app
        if app.theme != self._theme:
            variables = app.theme_variables
            colour = {
                tone: variables[name] for tone, name in TONE_VARIABLES.items() if name in variables
            }
            self._styles = {tone: Style(color=value) for tone, value in colour.items()}
            self._styles["label"] = Style(bold=True)
            self._styles["title"] = Style(bold=True, color=variables.get("accent"))
            self._styles["mode"] = Style(bold=True, reverse=True)
            self._styles["live"] = Style(
                bold=True, color="white", bgcolor=variables.get("error", "red")
            )
            self._theme = app.theme
        return self._styles.get(tone, "")


def counted(count: int, noun: str) -> str:
    """``1 position``, ``2 positions``: the info line reads as English (nouns are plural)."""
    word = noun[:-1] if count == 1 and noun.endswith("s") else noun
    return f"{count:,} {word}"


def toned_text(cells: Iterable[Cell], styles: ToneStyles) -> Text:
    text = Text(no_wrap=True, end="")
    for cell in cells:
        text.append(cell.text, styles(cell.tone) if cell.tone else "")
    return text


# ---- tables ---------------------------------------------------------------------------


def sort_value(cell: Cell, numeric: bool) -> tuple[int, float | str]:
    """What a cell sorts by: (0, number) in numeric columns (1,23,456.70 and +12 too),
    (1, text) otherwise, (2, "") for a blank, which sorts last in either direction."""
    text = cell.text.strip()
    if not text or text == DASH:
        return (2, "")
    if numeric:
        match = _NUMBER.search(text)
        if match is not None:
            try:
                return (0, float(match.group().replace(",", "")))
            except ValueError:
                pass
    return (1, text.lower())


class CellText(Text):
    """A table cell's text that paints as one segment when it fits on its line.

    A full screen of table rows is ~500 cells, all painted again whenever the rows move
    (a new order on top) or every price changes; Text's wrap/justify machinery is most
    of a cell's cost. The segment is exactly the one Text would yield (padded to the
    width, right-justified text stripped on the right, the base style on all of it);
    anything else (spans, tabs, several lines, overflow) takes Text's own path.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        justify = self.justify or options.justify
        plain = self.plain.rstrip() if justify == "right" else self.plain
        width = options.max_width
        length = cell_len(plain)
        simple = justify in ("left", "right") and not (self._spans or self.end)
        if not simple or not plain or length > width or "\n" in plain or "\t" in plain:
            yield from super().__rich_console__(console, options)
            return
        padding = " " * (width - length)
        text = padding + plain if justify == "right" else plain + padding
        style = self.style
        yield Segment(text, console.get_style(style)) if style else Segment(text)


_SHARED_TEXTS = 20_000  # distinct cell texts a table keeps for sharing


def _rebuild_is_cheaper(removed: int, rows: int) -> bool:
    """Whether clearing the table and adding back the rows kept beats removing ``removed``
    of ``rows`` one by one: each removal renumbers every row left (~0.6 µs a row), an
    add costs ~30 µs, about 50 renumberings (scripts/bench_desk_load.py, 2,000 rows)."""
    return removed * rows > 50 * (rows - removed) + 5_000


class DeskTable(DataTable):
    """A DataTable fed whole keyed row sets, which it filters, sorts and applies as a diff.

    ``show_rows({key: row})`` keeps the given set as the source; the filter (words that
    must all appear in a row, case-insensitive) and the sort (a column, ascending or
    descending; none = the order given) pick what is on screen; then rows whose key
    vanished are removed (or, when that is most of them, as a filter does, the table
    starts afresh), new keys added, only cells whose ``Cell`` differs are rewritten (their
    rows repainted once), and one sort reorders only when the order on screen is wrong.
    The cursor stays on the row it was on, wherever that row moves. Column widths are
    kept here from the cells' text (they only grow), so no cell is measured twice.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Rows, not columns: Home and End go to the first and the last row.
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._specs = tuple(columns)

        self._index = {spec.key: i for i, spec in enumerate(self._specs)}
        self._source: Mapping[str, Row] = {}
        self._shown: dict[str, Row] = {}
        self._display_order: list[str] = []
        self._columns_added = False
        self._column_list: list[Column] = []  # the DataTable's columns, in spec order
        self._dirty_rows: set[str] = set()  # rows whose cells changed in this apply
        self._texts: dict[tuple[str, Style | str, str], Text] = {}  # see _cell_text
        self._styles = ToneStyles(self)
        self._words: tuple[str, ...] = ()
        self.sort_column: str | None = None
        self.sort_descending = False

    @property
    def specs(self) -> tuple[ColumnSpec, ...]:
        return self._specs

    @property
    def shown_rows(self) -> Mapping[str, Row]:
        """What the table currently shows, by row key (for tests and selection)."""
        return self._shown

    @property
    def source_count(self) -> int:
        return len(self._source)

    @property
    def filter_text(self) -> str:
        return " ".join(self._words)

    def key_at(self, row_index: int) -> str | None:
        """The row key at a display index, or None when there is no such row."""
        if not 0 <= row_index < len(self._display_order):
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
        self._column_list = [self.columns[ColumnKey(spec.key)] for spec in self._specs]
        self._columns_added = True

    def _cell_text(self, cell: Cell, spec: ColumnSpec) -> Text:
        """The painted text of a cell. Equal cells share one (never mutated) Text, bar
        the first column's: ``_reorder`` tells rows apart by that cell's identity."""
        style = self._styles(cell.tone) if cell.tone else ""
        justify = "right" if spec.numeric else "left"
        if spec is self._specs[0]:
            return CellText(cell.text, style=style, justify=justify, no_wrap=True, end="")
        key = (cell.text, style, justify)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= _SHARED_TEXTS:
                self._texts.clear()
            text = CellText(cell.text, style=style, justify=justify, no_wrap=True, end="")
            self._texts[key] = text
        return text

    # -- what to show -----------------------------------------------------------------

    def show_rows(self, rows: Mapping[str, Row]) -> None:
        self._source = rows
        self._apply()

    def set_filter(self, text: str) -> None:
        words = tuple(text.lower().split())
        if words != self._words:
            self._words = words
            self._apply()

    def set_sort(self, column: str | None, descending: bool = False) -> None:
        if column is not None and column not in self._index:
            raise ValueError(f"no column {column!r}")
        if (column, descending) != (self.sort_column, self.sort_descending):
            self.sort_column, self.sort_descending = column, descending
            self._apply()

    def cycle_sort(self) -> None:
        """Next column (ascending); after the last one, back to the natural order."""
        keys = [spec.key for spec in self._specs]
        if self.sort_column is None:
            self.set_sort(keys[0])
        else:
            position = keys.index(self.sort_column) + 1
            self.set_sort(keys[position] if position < len(keys) else None)

    def reverse_sort(self) -> None:
        if self.sort_column is not None:
            self.set_sort(self.sort_column, not self.sort_descending)

    def sort_label(self) -> str:
        if self.sort_column is None:
            return ""
        spec = self._specs[self._index[self.sort_column]]
        return f"{spec.label} {'▼' if self.sort_descending else '▲'}"

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it; clicking again reverses."""
        event.stop()
        column = str(event.column_key.value)
        if column == self.sort_column:
            self.set_sort(column, not self.sort_descending)
        else:
            self.set_sort(column)
        self.post_message(self.ViewChanged(self))

    class ViewChanged(Message):
        """The filter or sort changed (the pane's info line follows)."""

        def __init__(self, table: DeskTable) -> None:
            super().__init__()
            self.table = table

    def _visible(self) -> dict[str, Row]:
        rows: Mapping[str, Row] = self._source
        if self._words:
            words = self._words
            rows = {
                key: row
                for key, row in rows.items()
                if all(w in " ".join(c.text for c in row).lower() for w in words)
            }
        if self.sort_column is None:
            return dict(rows)
        index = self._index[self.sort_column]
        numeric = self._specs[index].numeric
        # Blanks sort last in either direction; ties keep the natural order (stable).
        valued = [(sort_value(row[index], numeric), key, row) for key, row in rows.items()]
        present = [entry for entry in valued if entry[0][0] != 2]
        present.sort(key=lambda entry: entry[0], reverse=self.sort_descending)
        blank = [entry for entry in valued if entry[0][0] == 2]
        return {key: row for _, key, row in present + blank}

    def _apply(self) -> None:
        self._ensure_columns()
        rows = self._visible()
        selected = self.cursor_key
        self._drop_gone(rows)
        shown = self._shown
        for key, row in rows.items():
            old = shown.get(key)
            if old is None:
                self._add(key, row)
            elif old is not row and old != row:
                self._update(key, row, old)
            shown[key] = row
        wanted = list(rows)
        if wanted != self._display_order:
            self._reorder(wanted)
        self._repaint_changed_rows()
        if selected is not None and selected in shown:
            index = self._display_order.index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False)

    def _drop_gone(self, rows: Mapping[str, Row]) -> None:
        """Remove the rows on screen whose key is not in ``rows``."""
        shown = self._shown
        gone = [key for key in shown if key not in rows]
        if not gone:
            return
        if _rebuild_is_cheaper(len(gone), len(shown)):
            # DataTable.remove_row renumbers every row left: a filter that hides 1,990
            # of 2,000 rows would cost 1,990 x 2,000 steps. Starting afresh costs one add
            # per row kept.
            self.clear()
            shown.clear()
            self._display_order = []
            return
        for key in gone:
            self.remove_row(key)
            del shown[key]
        vanished = set(gone)
        self._display_order = [key for key in self._display_order if key not in vanished]

    def _update(self, key: str, row: Row, old: Row) -> None:
        """Rewrite the cells of a row on screen that differ from what it showed."""
        for cell, before, spec in zip(row, old, self._specs, strict=True):
            if cell != before:
                self._set_cell(key, spec, self._cell_text(cell, spec))

    def _add(self, key: str, row: Row) -> None:
        cells = [self._cell_text(c, s) for c, s in zip(row, self._specs, strict=True)]
        self.add_row(*cells, key=key)
        self._display_order.append(key)
        # Columns grow to fit here, from the text itself (see ``_update_dimensions``).
        for column, text in zip(self._column_list, cells, strict=True):
            width = text.cell_len
            if width > column.content_width:
                column.content_width = width

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable measures every cell of every new row here (~10 µs a cell: a second
        for a 2,000-order table); ``_add`` has already grown the columns to fit them."""
        super()._update_dimensions(())

    def _set_cell(self, key: str, spec: ColumnSpec, text: Text) -> None:
        """Change one cell; its row is repainted once the whole diff is applied.

        ``DataTable.update_cell`` repaints the whole table (every visible line goes down
        the wire again) and re-measures the column; a price tick changes one row. Widths
        only ever grow here, so the columns do not jitter as numbers shrink.
        """
        column = self.columns.get(ColumnKey(spec.key))
        data = getattr(self, "_data", None)
        if column is None or not isinstance(data, dict) or text.cell_len > column.content_width:
            self.update_cell(key, spec.key, text, update_width=True)
            return
        data[RowKey(key)][ColumnKey(spec.key)] = text
        self._dirty_rows.add(key)

    def _repaint_changed_rows(self) -> None:
        """Repaint the rows ``_set_cell`` changed: each alone while they are few (a
        region per row goes down the wire), the table at once when they fill a screen."""
        dirty = self._dirty_rows
        if not dirty:
            return
        self._update_count += 1  # DataTable's render caches are keyed on it
        if len(dirty) >= max(8, self.size.height):
            self.refresh()
        else:
            for key in dirty:
                self.refresh_row(self.get_row_index(key))
        dirty.clear()

    def _reorder(self, keys: list[str]) -> None:
        """Put rows in ``keys`` order with one sort (DataTable can only append)."""
        first = self._specs[0].key
        rank = {id(self.get_cell(key, first)): index for index, key in enumerate(keys)}
        self.sort(first, key=lambda cell: rank[id(cell)])
        self._display_order = keys


class DetailPane(Static):
    """The whole story of the selected row, under its table."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, classes="detail")
        self._styles = ToneStyles(self)
        self._detail: Detail | None = None

    @property
    def detail(self) -> Detail | None:
        return self._detail

    def show(self, detail: Detail) -> None:
        if detail == self._detail:
            return
        self._detail = detail
        text = Text(end="")
        for index, line in enumerate(detail):
            if index:
                text.append("\n")
            text.append_text(toned_text(line, self._styles))
        self.update(text)


class FilterInput(Input):
    """Words that every shown row must contain; Enter keeps them, Escape clears them."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]

    class Cleared(Message):
        pass

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())


class TablePane(Vertical):
    """A tab's body: an info line, the filter, the table and the detail pane."""

    # Enter hands the keys back to the table with the filter kept: Escape there must
    # still clear it (the filter box's own Escape only acts while it has the focus).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=False)
    ]

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        noun: str,
        table_id: str,
        detail: bool = True,
    ) -> None:
        super().__init__(id=f"{table_id}-pane", classes="table-pane")
        self._noun = noun
        self._info = ""
        self.scope = ""  # a scoped tab's "today 2024-01-15 (v: whole run)", first on the line
        # History mode (tui/history.py): the filter goes to the database instead of the
        # rows on screen (the hook returns True when it took it), and the info line is
        # the page's.
        self.filter_hook: Callable[[str], bool] | None = None
        self.history_info = ""
        self._total: int | None = None
        # Children are built here and kept: no query can miss them while the app
        # is starting or shutting down.
        self._info_label = Label("", classes="pane-info")
        self._filter = FilterInput(
            placeholder="filter: words every row must contain · Enter keeps · Esc clears",
            classes="pane-filter",
        )
        self._filter.display = False
        self._table = DeskTable(columns, id=table_id)
        self._detail = DetailPane(id=f"{table_id}-detail") if detail else None

    def compose(self) -> ComposeResult:
        yield self._info_label
        yield self._filter
        yield self._table
        if self._detail is not None:
            yield self._detail

    @property
    def table(self) -> DeskTable:
        return self._table

    @property
    def detail_pane(self) -> DetailPane | None:
        return self._detail

    @property
    def filter_input(self) -> FilterInput:
        return self._filter

    def show(self, rows: Mapping[str, Row], total: int | None = None) -> None:
        """``total``: how many exist when the rows given are only the newest of them."""
        self._total = total
        self.table.show_rows(rows)
        self.refresh_info()

    def refresh_info(self) -> None:
        if self.history_info:
            if self.history_info != self._info:
                self._info = self.history_info
                self._info_label.update(Text(self.history_info))
            return
        table = self.table
        given, shown = table.source_count, len(table.shown_rows)
        parts = [counted(shown, self._noun) if shown == given else f"{shown:,} of {given:,} shown"]
        if self.scope:
            parts.insert(0, self.scope)
        if self._total is not None and self._total > given:
            parts.append(f"newest {given:,} of {self._total:,}")
        if table.filter_text:
            parts.append(f"filter “{table.filter_text}”")
        if table.sort_column is not None:
            parts.append(f"sorted by {table.sort_label()}")
        info = " · ".join(parts)
        if info != self._info:
            self._info = info
            self._info_label.update(info)

    def open_filter(self) -> None:
        box = self.filter_input
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        if self.filter_input.value or self.table.filter_text:
            self.filter_input.action_clear()

    @on(Input.Changed, ".pane-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.filter_hook is None or not self.filter_hook(event.value):
            self.table.set_filter(event.value)
        self.refresh_info()

    @on(Input.Submitted, ".pane-filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        event.stop()
        box = self.filter_input
        box.display = bool(box.value)
        self.table.focus()

    @on(FilterInput.Cleared)
    def _filter_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        self.filter_input.display = False
        if self.filter_hook is None or not self.filter_hook(""):
            self.table.set_filter("")
        self.refresh_info()
        self.table.focus()

    @on(DeskTable.ViewChanged)
    def _view_changed(self, event: DeskTable.ViewChanged) -> None:
        event.stop()
        self.refresh_info()


# ---- header ---------------------------------------------------------------------------


class HeaderBar(Vertical):
    """One status line fitted to the width, and a banner line for alarms."""

    def __init__(
        self,
        title: str = "kitetui",
        *,
        wall_clock: Callable[[], int],
        link_problem: Callable[[], str | None],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._title = title
        self._wall_clock = wall_clock
        self._link_problem = link_problem
        self._model: HeaderModel = STARTING_HEADER
        self._line: Text | None = None
        self._banner: tuple[tuple[str, ...], int] | None = None  # and the width fitted
        self._styles = ToneStyles(self)

    def compose(self) -> ComposeResult:
        yield Static("", id="status-line")
        yield Static("", id="banner")

    def on_mount(self) -> None:
        self.paint()
        # The wall clock and the last tick's age move even when no snapshot arrives.
        self.set_interval(1.0, self.paint, name="header-clock")

    def on_resize(self) -> None:
        self.paint()

    @property
    def model(self) -> HeaderModel:
        return self._model

    def show(self, model: HeaderModel) -> None:
        if model != self._model:
            self._model = model
            self.paint()

    def paint(self) -> None:
        now = self._wall_clock()
        width = max(20, self.size.width - 2) if self.size.width else 78
        segments = header_segments(self._model, now, width, self._title)
        line = Text(no_wrap=True, end="", overflow="ellipsis")
        for index, segment in enumerate(segments):
            if index:
                line.append(" │ ", "dim")
            line.append(segment.text, self._styles(segment.tone) if segment.tone else "")
        if line != self._line:
            self._line = line
            self.query_one("#status-line", Static).update(line)
        banner = banner_lines(self._model, now, self._link_problem())
        if (banner, width) != self._banner:
            self._banner = (banner, width)
            widget = self.query_one("#banner", Static)
            widget.update(Text(fit_banner(banner, width), no_wrap=True, overflow="ellipsis"))
            widget.display = bool(banner)
            alarm = self._model.risk == "HALTED" or any(
                word in b for b in banner for word in ("KILL", "NAKED", "RECONCILE", "DROPPED")
            )
            widget.set_class(alarm, "-alarm")
