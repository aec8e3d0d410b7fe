"""Forms a trader fills in to step in by hand: a risk limit, an order ticket, a stop.

Each form only reads and checks what was typed (with the same parsers the desk uses:
``kitetui/risk_limits.py``, ``kitetui/order_ticket.py``), so a typo is answered on the
form, in one line, before anything is sent. It dismisses with the command's text (or
None on Escape); the desk screen then asks for a y/n confirmation and sends it. What
only the desk knows (the tick size, the side of the market, the risk gate) it checks
again when the command arrives, and its answer comes back as a notification.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from kitetui.order_ticket import (
    Ticket,
    TicketRefused,
    parse_stop_move,
    parse_ticket,
    price_text,
)
from kitetui.risk_limits import LimitRefused, check_value
from kitetui.tui.footer import KeyFooter
from kitetui.views import LimitSetting, PositionView

KEYS = "Enter: review, then y/n to send · Esc: cancel"


def _number(value: float, integer: bool) -> str:
    return f"{value:,.0f}" if integer else f"{value:,.2f}"


class _Form(ModalScreen[str | None]):
    """A form: Escape cancels, a hint line says what is wrong."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def refuse(self, why: str) -> None:
        self.query_one(".form-hint", Label).update(why)
        self.app.bell()

    def action_cancel(self) -> None:
        self.dismiss(None)


class LimitForm(_Form):
    """Choose a limit (↑ ↓, Enter), type its new value, Enter: ``NAME=VALUE``."""

    AUTO_FOCUS = "#limit-names"

    def __init__(self, settings: tuple[LimitSetting, ...]) -> None:
        super().__init__()
        self.settings = {s.name: s for s in settings}

    def compose(self) -> ComposeResult:
        width = max((len(name) for name in self.settings), default=10)
        options = []
        for s in self.settings.values():
            now = _number(s.value, s.integer)
            mark = "  * changed" if s.changed else ""  # the config's value is on the line below
            options.append(Option(f"{s.name:<{width}}  {now:>16}{mark}", id=s.name))
        with Vertical(id="limit-dialog", classes="dialog form"):
            yield Label("Change a risk limit", classes="dialog-title")
            yield OptionList(*options, id="limit-names")
            yield Label("", id="limit-bounds", classes="form-bounds")
            yield Input(placeholder="new value, then Enter", id="limit-value")
            yield Label("", classes="form-hint")
            yield Label(KEYS, classes="form-keys")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self._show_bounds()

    @property
    def chosen(self) -> LimitSetting | None:
        names = self.query_one(OptionList)
        index = names.highlighted
        if index is None:
            return None
        option_id = names.get_option_at_index(index).id
        return self.settings.get(option_id or "")

    @on(OptionList.OptionHighlighted)
    def _show_bounds(self) -> None:
        setting = self.chosen
        if setting is not None:
            self.query_one("#limit-bounds", Label).update(
                f"{setting.name}: now {_number(setting.value, setting.integer)}, config "
                f"{_number(setting.config_value, setting.integer)}, bounds {setting.bounds}"
            )

    @on(OptionList.OptionSelected)
    def _edit_value(self) -> None:
        setting = self.chosen
        if setting is not None:
            value = self.query_one("#limit-value", Input)
            value.value = _number(setting.value, setting.integer).replace(",", "")
            value.focus()

    @on(Input.Submitted, "#limit-value")
    def review(self) -> None:
        setting = self.chosen
        if setting is None:
            self.refuse("choose a limit first (↑ ↓)")
            return
        try:
            change = check_value(setting.name, self.query_one("#limit-value", Input).value)
        except LimitRefused as exc:
            self.refuse(str(exc))
            return
        self.dismiss(change.assignment)


class TicketForm(_Form):
    """An order ticket: side, quantity (lots for F&O), symbol, MARKET/LIMIT, stop."""

    AUTO_FOCUS = "#ticket-symbol"
    FIELDS = (
        ("side", "Side", "BUY or SELL"),
        ("qty", "Quantity", "shares; lots for F&O"),
        ("symbol", "Symbol", "e.g. SBIN, NIFTY24MAYFUT"),
        ("type", "Type", "MARKET or LIMIT"),
        ("price", "Limit price", "LIMIT only"),
        ("stop", "Stop", "protective stop trigger"),
    )

    def __init__(self, symbol: str = "", side: str = "BUY") -> None:
        super().__init__()
        self.defaults = {"side": side, "qty": "1", "symbol": symbol, "type": "MARKET"}

    def compose(self) -> ComposeResult:
        with Vertical(id="ticket-dialog", classes="dialog form"):
            yield Label("Order ticket", classes="dialog-title")
            for name, label, hint in self.FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(label, classes="form-label")
                    yield Input(self.defaults.get(name, ""), placeholder=hint, id=f"ticket-{name}")
            yield Static(
                "Through the risk gate like a strategy's entry; the stop is placed when it fills.",
                classes="form-note",
            )
            yield Label("", classes="form-hint")
            yield Label(KEYS, classes="form-keys")
        yield KeyFooter()

    def ticket(self) -> Ticket:
        """The ticket as typed, or ``TicketRefused``."""
        value = {
            name: self.query_one(f"#ticket-{name}", Input).value.strip() for name, *_ in self.FIELDS
        }
        for name, label, _hint in self.FIELDS:  # one word each: no field speaks for another
            if len(value[name].split()) > 1:
                raise TicketRefused(f"{label} {value[name][:30]!r} is more than one word")
        if not value["side"]:
            raise TicketRefused("Side is empty: BUY or SELL")
        order_type = value["type"].upper() or "MARKET"
        if order_type not in ("MARKET", "LIMIT"):
            raise TicketRefused(f"type {value['type'][:10]!r} is not MARKET or LIMIT")
        if order_type == "MARKET" and value["price"]:
            raise TicketRefused("a limit price needs Type LIMIT (or clear it for a MARKET order)")
        limit = f" LIMIT {value['price']}" if order_type == "LIMIT" else ""
        stop = f" STOP {value['stop']}" if value["stop"] else ""
        return parse_ticket(f"{value['side']} {value['qty']} {value['symbol']}{limit}{stop}")

    @on(Input.Submitted)
    def review(self) -> None:
        try:
            ticket = self.ticket()
        except TicketRefused as exc:
            self.refuse(str(exc))
            return
        self.dismiss(ticket.text)


class StopForm(_Form):
    """Move the selected position's protective stop: its new trigger, Enter."""

    AUTO_FOCUS = "#stop-price"

    def __init__(self, position: PositionView) -> None:
        super().__init__()
        self.position = position

    def compose(self) -> ComposeResult:
        p = self.position
        side = "long" if p.quantity > 0 else "short"
        where = "below" if p.quantity > 0 else "above"
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_row("Position", f"{p.symbol} {p.quantity:+,d} ({side})")
        table.add_row("Stop now", f"{p.stop_price:,.2f}" if p.stop_price else "none working")
        table.add_row("Last", f"{p.last_price:,.2f}")
        with Vertical(id="stop-dialog", classes="dialog form"):
            yield Label(f"Move the stop of {p.symbol}", classes="dialog-title")
            yield Static(table, classes="form-note")
            yield Input(
                f"{price_text(p.stop_price)}" if p.stop_price else "",
                placeholder=f"new trigger, {where} the market",
                id="stop-price",
            )
            yield Label("", classes="form-hint")
            yield Label(KEYS, classes="form-keys")
        yield KeyFooter()

    @on(Input.Submitted, "#stop-price")
    def review(self) -> None:
        p = self.position
        try:
            move = parse_stop_move(f"{p.symbol} {self.query_one('#stop-price', Input).value}")
        except TicketRefused as exc:
            self.refuse(str(exc))
            return
        long = p.quantity > 0
        if p.last_price > 0 and (
            move.trigger >= p.last_price if long else move.trigger <= p.last_price
        ):
            where = "below" if long else "above"
            self.refuse(f"the stop must be {where} the market (last {price_text(p.last_price)})")
            return
        self.dismiss(move.text)
