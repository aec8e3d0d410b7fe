"""A table pane fed pages of the journal instead of the snapshot (``history.py``).

``HistoryFeed`` ties one ``TablePane`` to one ``HistoryBrowser``: the words typed at
``/`` become the database's filter (asked again a moment after the last key, not on
every key), ``[``/``]`` turn the page, and each answer repaints the pane. Reads go
through the ``DeskLink`` in a worker and are shielded (a read on the desk is never
cancelled half-way); an answer to an older query is dropped. The desk keeps trading
all the while: it reads its file in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from textual.timer import Timer
from textual.widget import Widget

from kitetui.control.link import DeskLink
from kitetui.tui.history import HistoryBrowser, rows_of
from kitetui.tui.widgets import TablePane

#: Seconds after the last key in the filter box before the database is asked.
FILTER_DEBOUNCE_S = 0.3


class HistoryFeed:
    """One pane in history mode (see the module docstring)."""

    def __init__(
        self,
        owner: Widget,
        link: DeskLink,
        pane: TablePane,
        browser: HistoryBrowser,
        noun: str,
        on_shown: Callable[[], None] = lambda: None,
    ) -> None:
        self.owner = owner
        self.link = link
        self.pane = pane
        self.browser = browser
        self.noun = noun
        self.views: Mapping[str, Any] = {}
        self.reads = 0
        """Pages asked of the desk so far (tests wait on it)."""
        self.answers = 0
        """Pages (or refusals) taken so far."""
        self._on_shown = on_shown
        self._timer: Timer | None = None

    def attach(self) -> None:
        """Take the pane over: its filter box now searches the journal."""
        self.pane.filter_hook = self._filter_typed
        self.pane.table.set_filter("")
        self.show()
        self.fetch()

    def detach(self) -> None:
        """Give the pane back to the snapshot (its filter box filters rows on screen)."""
        if self._timer is not None:
            self._timer.stop()
        self.pane.filter_hook = None
        self.pane.history_info = ""
        self.pane.table.set_filter(self.pane.filter_input.value)

    def _filter_typed(self, text: str) -> bool:
        if self.browser.set_filter(text):
            if self._timer is not None:
                self._timer.stop()
            self._timer = self.owner.set_timer(FILTER_DEBOUNCE_S, self.fetch)
            self.show()
        return True

    def turn(self, step: int) -> bool:
        if not self.browser.turn(step):
            return False
        self.fetch()
        return True

    def fetch(self) -> None:
        generation, query = self.browser.ask()
        self.reads += 1
        self.owner.run_worker(self._read(generation, query), group="history", exit_on_error=False)

    async def _read(self, generation: int, query: dict[str, Any]) -> None:
        try:
            page = await asyncio.shield(self.link.history(**query))
        except Exception as exc:  # the info line says so; the desk is unaffected
            taken = self.browser.take(generation, None, str(exc) or type(exc).__name__)
            if taken:
                self.owner.notify(str(exc), title="history", severity="error")
        else:
            taken = self.browser.take(generation, page)
        self.answers += 1
        if taken:
            self.show()

    def show(self) -> None:
        views, rows = rows_of(self.browser)
        self.views = views
        self.pane.history_info = self.browser.info(self.noun)
        self.pane.show(rows)
        self._on_shown()
