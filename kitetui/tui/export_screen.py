"""``w``: write a table of a run as CSV, the very file ``kitetui export`` writes.

The dialog offers what to export (preset from the tab it was opened on: Orders →
orders, Signals → signals, Log → events, Positions → trades) and a file name
(``<run>-<what>.csv``); Enter writes it. The desk writes the file — through
``kitetui.export``, the command line's own code — so an attached screen exports from the
desk's database to the desk's disk: a relative path lands beside the database. The
file is private (0600), and the notification says where it went and how many rows.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from kitetui.control.link import DeskLink
from kitetui.tui.footer import KeyFooter

#: What can be exported (``kitetui export --what``), in the dialog's order.
EXPORTS = ("orders", "fills", "trades", "signals", "events", "equity")
#: What a desk tab (or a Runs-screen table) exports by default.
DEFAULT_EXPORT = {"positions": "trades", "log": "events"}


def default_name(run: str, what: str) -> str:
    """``<run>-<what>.csv``: a relative name, written beside the database."""
    return f"{run or 'run'}-{what}.csv"


class ExportScreen(ModalScreen[tuple[str, str] | None]):
    """Ask what to export and where; dismisses with (what, path), or None on Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#export-path"

    def __init__(self, run: str, what: str) -> None:
        super().__init__()
        self._run = run
        self._what = what if what in EXPORTS else "orders"
        self._edited = False

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Label(f"Export run {self._run} as CSV", classes="dialog-title")
            with RadioSet(id="export-what"):
                for what in EXPORTS:
                    yield RadioButton(what, value=what == self._what, name=what)
            yield Input(default_name(self._run, self._what), id="export-path")
            yield Static(
                "A relative path is written beside the desk's database; the file is "
                "0600 and is replaced if it exists. Enter writes, Esc cancels.",
                classes="dialog-body",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Write", id="write", variant="primary")
        yield KeyFooter()

    @property
    def what(self) -> str:
        return self._what

    @on(RadioSet.Changed, "#export-what")
    def _what_changed(self, event: RadioSet.Changed) -> None:
        self._what = event.pressed.name or self._what
        if not self._edited:
            box = self.query_one("#export-path", Input)
            box.value = default_name(self._run, self._what)
            self._edited = False

    @on(Input.Changed, "#export-path")
    def _path_edited(self, event: Input.Changed) -> None:
        self._edited = event.value != default_name(self._run, self._what)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#write")
    def action_write(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            self.app.bell()
            return
        self.dismiss((self._what, path))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def ask_export(owner: Widget, link: DeskLink, *, run: str, what: str, label: str = "") -> None:
    """Open the dialog over ``owner``'s screen; on Enter, have the desk write the file and
    notify where it went (``run`` "" is the desk's own run, shown as ``label``)."""
    preset = DEFAULT_EXPORT.get(what, what)

    def answered(choice: tuple[str, str] | None) -> None:
        if choice is not None:
            owner.run_worker(_export(owner, link, run, *choice), exit_on_error=False)

    owner.app.push_screen(ExportScreen(label or run, preset), callback=answered)


async def _export(owner: Widget, link: DeskLink, run: str, what: str, path: str) -> None:
    try:
        done = await asyncio.shield(link.export(what, run, path))
    except Exception as exc:
        owner.notify(str(exc) or type(exc).__name__, title="export failed", severity="error")
        return
    rows = f"{done.rows:,} row{'s' if done.rows != 1 else ''}"
    owner.notify(
        f"{rows} of {done.what} (run {done.run_id}) written to {done.path}",
        title="export",
        timeout=10,
    )
