"""Modal screens: confirmations for the desk's dangerous keys, and the key help.

The kill switch cancels every order and flattens every position, so its screen asks
for a deliberate act: typing ``KILL`` and pressing Enter. A stray key, a stray Enter
or Escape confirm nothing. Resetting the switch is less destructive and asks y/n with
"no" focused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kitetui.tui.footer import KeyFooter

KILL_WORD = "KILL"


class KillSwitchScreen(ModalScreen[bool]):
    """Confirm the kill switch: type KILL and press Enter; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#kill-word"

    def compose(self) -> ComposeResult:
        with Vertical(id="kill-dialog", classes="dialog"):
            yield Label("Trigger the KILL SWITCH?", classes="dialog-title")
            yield Static(
                "Blocks new orders, cancels every open order and flattens every "
                "position at MARKET. Trading stays HALTED until someone resets it.",
                classes="dialog-body",
            )
            yield Input(placeholder=f"type {KILL_WORD} and press Enter", id="kill-word")
            yield Label("", id="kill-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Kill", id="confirm", variant="error", disabled=True)
        yield KeyFooter()

    def _confirmed(self) -> bool:
        return self.query_one("#kill-word", Input).value.strip() == KILL_WORD

    @on(Input.Changed, "#kill-word")
    def arm_confirm_button(self) -> None:
        self.query_one("#confirm", Button).disabled = not self._confirmed()

    @on(Input.Submitted, "#kill-word")
    def confirm_if_typed(self) -> None:
        if self._confirmed():
            self.dismiss(True)
        else:
            self.query_one("#kill-hint", Label).update(f"Type {KILL_WORD} exactly, or Escape.")
            self.app.bell()

    @on(Button.Pressed, "#confirm")
    def confirm(self) -> None:
        if self._confirmed():
            self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; "no" is focused and Escape means no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]
    AUTO_FOCUS = "#no"

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self._question = question
        self._detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._question, classes="dialog-title")
            if self._detail:
                yield Static(self._detail, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("No (n)", id="no")
                yield Button("Yes (y)", id="yes", variant="warning")
        yield KeyFooter()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed, "#yes")
    def answer_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def answer_no(self) -> None:
        self.dismiss(False)


class SummaryScreen(ModalScreen[bool]):
    """The end of a replay: its headline figures instead of a bare FINISHED.

    Enter or Escape goes back to the desk (every tab still reads the finished run);
    ``q`` quits. Dismisses with True when the person asked to quit.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close(False)", "Back to the desk"),
        Binding("enter", "close(False)", "Back", show=False),
        Binding("q", "close(True)", "Quit"),
    ]

    def __init__(self, title: str, rows: Sequence[tuple[str, Text]]) -> None:
        super().__init__()
        self._title = title
        self._rows = rows

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 3))
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for label, value in self._rows:
            table.add_row(label, value)
        with Vertical(id="summary-dialog", classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(table, id="summary-figures")
            yield Label("Enter / Esc: back to the desk · q: quit", id="summary-hint")
        yield KeyFooter()

    def action_close(self, quit_app: bool) -> None:
        self.dismiss(quit_app)


HelpSection = tuple[str, Sequence[tuple[str, str]]]


class HelpScreen(ModalScreen[None]):
    """Every key, grouped; any of Escape, ``?`` or ``q`` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__()
        self._sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column()
        for index, (title, keys) in enumerate(self._sections):
            if index:
                table.add_row("", "")
            table.add_row("", Text(title, style="bold underline"))
            for key, what in keys:
                table.add_row(key, what)
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Label("kitetui keys", classes="dialog-title")
            yield Static(table, id="help-keys")
        yield KeyFooter()

    def action_close(self) -> None:
        self.dismiss(None)
