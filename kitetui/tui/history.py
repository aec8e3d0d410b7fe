"""Pages of the journal for a table: the desk's history mode and the Runs screen's tables.

The snapshot carries only the newest few hundred orders, signals and events. In history
mode a table lists instead one page of the whole run's journal, read by the desk from its
database (``DeskLink.history``), filtered there by the words typed at ``/``, and paged
with ``[`` and ``]``. ``HistoryBrowser`` holds one table's query (filter, offset) and
its newest page; it never talks to a widget, so it is tested without an app.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kitetui.tui.cells import (
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    SIGNAL_COLUMNS,
    Cell,
    ColumnSpec,
    Row,
    event_key,
    event_row,
    ist_time,
    keyed,
    order_key,
    order_row,
    price,
    signal_key,
    signal_row,
)
from kitetui.views import HistoryFillView, HistoryPage

#: Rows a page lists.
PAGE_SIZE = 100

FILL_COLUMNS = (
    ColumnSpec("time", "time"),
    ColumnSpec("tag", "tag"),
    ColumnSpec("symbol", "symbol"),
    ColumnSpec("side", "side"),
    ColumnSpec("qty", "qty", numeric=True),
    ColumnSpec("price", "price", numeric=True),
    ColumnSpec("engine", "engine"),
    ColumnSpec("fill", "fill id"),
)


def fill_row(fill: HistoryFillView, dated: bool = False) -> Row:
    side_tone = {"BUY": "up", "SELL": "down"}.get(fill.side.upper(), "")
    return (
        Cell(ist_time(fill.ts_ns, dated)),
        Cell(fill.tag),
        Cell(fill.symbol),
        Cell(fill.side, side_tone),
        Cell(str(fill.quantity)),
        Cell(price(fill.price)),
        Cell(fill.engine),
        Cell(fill.fill_id),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class JournalTable:
    """How one journal table is listed: its columns, row key and row."""

    table: str  # the desk's name for it (orders / fills / signals / events)
    title: str
    noun: str
    columns: tuple[ColumnSpec, ...]
    key: Callable[[Any], str]
    row: Callable[[Any, bool], Row]


JOURNAL_TABLES: dict[str, JournalTable] = {
    "orders": JournalTable("orders", "Orders", "orders", ORDER_COLUMNS, order_key, order_row),
    "fills": JournalTable("fills", "Fills", "fills", FILL_COLUMNS, lambda f: f.fill_id, fill_row),
    "signals": JournalTable(
        "signals", "Signals", "signals", SIGNAL_COLUMNS, signal_key, signal_row
    ),
    "events": JournalTable("events", "Events", "events", EVENT_COLUMNS, event_key, event_row),
}

#: The desk's tabs that can search the journal, and the table each lists.
DESK_HISTORY_TABLES = {"orders": "orders", "signals": "signals", "log": "events"}


def page_views(page: HistoryPage) -> tuple[Any, ...]:
    return getattr(page, page.table)


def page_rows(page: HistoryPage) -> tuple[dict[str, Any], dict[str, Row]]:
    """The page's views and rows by row key, newest first."""
    spec = JOURNAL_TABLES[page.table]
    views = keyed(page_views(page), spec.key)
    return views, {key: spec.row(view, page.dated) for key, view in views.items()}


def page_label(page: HistoryPage | None, noun: str) -> str:
    """``rows 101–200 of 4,512 orders``; ``no orders match`` when the page is empty."""
    if page is None:
        return f"reading {noun}…"
    if not page.count:
        return f"no {noun} match" if page.filter else f"no {noun}"
    first = page.offset + 1
    return f"rows {first:,}–{page.offset + page.count:,} of {page.total:,} {noun}"


@dataclasses.dataclass(slots=True)
class HistoryBrowser:
    """One table's query (run, filter, offset) and the newest page read for it.

    ``ask()`` gives the query to send and a generation number; ``take(generation,
    page)`` keeps a page only if no newer query was asked meanwhile, so a slow answer to
    an old filter never replaces the answer to the filter now in the box.
    """

    table: str
    run: str = ""  # "" the desk's own run
    text: str = ""
    offset: int = 0
    page: HistoryPage | None = None
    error: str = ""
    generation: int = 0
    limit: int = PAGE_SIZE

    def ask(self) -> tuple[int, dict[str, Any]]:
        self.generation += 1
        query = {
            "table": self.table,
            "run": self.run,
            "text": self.text,
            "offset": self.offset,
            "limit": self.limit,
        }
        return self.generation, query

    def take(self, generation: int, page: HistoryPage | None, error: str = "") -> bool:
        if generation != self.generation:
            return False
        if page is not None:
            self.page, self.error = page, ""
        else:
            self.error = error
        return True

    def set_filter(self, text: str) -> bool:
        """A new filter starts at the first page; False if nothing changed."""
        text = " ".join(text.split())
        if text == self.text:
            return False
        self.text, self.offset = text, 0
        return True

    @property
    def total(self) -> int:
        return self.page.total if self.page is not None else 0

    def can_page(self, step: int) -> bool:
        if self.page is None:
            return False
        if step < 0:
            return self.offset > 0
        return self.offset + self.limit < self.page.total

    def turn(self, step: int) -> bool:
        """Move a page forward (+1) or back (-1); False at either end."""
        if not self.can_page(step):
            return False
        self.offset = max(0, self.offset + step * self.limit)
        return True

    def info(self, noun: str) -> str:
        """The info line: ``history · rows 1–100 of 4,512 orders · filter “sbin”``."""
        parts = ["history", page_label(self.page, noun)]
        if self.text:
            parts.append(f"filter “{self.text}”")
        if self.page is not None and (self.can_page(-1) or self.can_page(1)):
            parts.append("[ ] page")
        if self.error:
            parts.append(f"error: {self.error}")
        return " · ".join(parts)


def rows_of(browser: HistoryBrowser) -> tuple[Mapping[str, Any], Mapping[str, Row]]:
    if browser.page is None:
        return {}, {}
    return page_rows(browser.page)
