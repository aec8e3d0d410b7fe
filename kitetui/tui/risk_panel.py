"""The Risk tab's panel: state and flags, P&L today beside the run's, each limit as a
gauge, the equity curve, and the lists (margins, limits changed by hand, entry blocks,
NAKED positions). Like every desk widget it is handed a snapshot and repaints only what
differs from what it painted last."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import Label, Static

from kitetui.tui.cells import DASH, LIMIT_COLUMNS, limit_rows, money, tone_of, trades_today_text
from kitetui.tui.chart import equity_chart
from kitetui.tui.scope import (
    FIGURE_HEADINGS,
    TODAY,
    Figures,
    curve_in,
    pnl_figures,
    scope_label,
)
from kitetui.tui.widgets import TONE_VARIABLES, DeskTable, ToneStyles
from kitetui.views import DeskSnapshot


def _tone_markup(text: str, tone: str) -> str:
    variable = TONE_VARIABLES.get(tone)
    return f"[${variable}]{escape(text)}[/]" if variable else escape(text)


def _pnl_markup(value: float) -> str:
    return _tone_markup(money(value), tone_of(value))


class EquityChart(Static):
    """The equity curve, redrawn only when the curve or the size changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._curve: tuple[tuple[int, float], ...] = ()
        self._drawn: tuple[object, ...] = ()
        self._styles = ToneStyles(self)

    def show(self, curve: tuple[tuple[int, float], ...]) -> None:
        self._curve = curve
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width, height = self.size.width, self.size.height
        if not width or not height:
            return
        curve = self._curve
        key = (len(curve), curve[:1], curve[-1:], width, height)
        if key == self._drawn:
            return
        self._drawn = key
        chart = equity_chart(self._curve, width, height)
        style = self._styles(chart.tone) if chart.tone else ""
        self.update(Text("\n".join(chart.lines), style=style, no_wrap=True, end=""))


_ENTRIES_TONES = {"BLOCKED": "down", "PAUSED": "warn"}


def _figures_table(figures: Figures, styles: ToneStyles) -> Table:
    """Today's P&L beside the run's (and a past day's), one row each, in columns that
    fit 80 terminal columns: a label never sits beside a figure of another span.
    Charges are an amount (no sign, no tone); every other figure is signed money."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    for _ in FIGURE_HEADINGS:
        table.add_column(justify="right", no_wrap=True)
    table.add_row("", *(Text(h, style="bold") for h in FIGURE_HEADINGS))
    charges = FIGURE_HEADINGS.index("charges")
    for label, values in figures:
        cells = [
            Text(DASH)
            if value is None
            else Text(money(value, signed=False))
            if column == charges
            else Text(money(value), styles(tone_of(value)) if tone_of(value) else "")
            for column, value in enumerate(values)
        ]
        table.add_row(Text(label, style="bold"), *cells)
    return table


class RiskPanel(VerticalScroll):
    """The Risk tab: state and flags, P&L, each limit as a gauge, and the equity curve."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._summary: tuple[str, object] = ("", ())
        self._lists = ""
        self._title = ""
        self._styles = ToneStyles(self)

    def compose(self) -> ComposeResult:
        yield Static("", id="risk-summary")
        yield Static("", id="risk-figures")
        yield DeskTable(LIMIT_COLUMNS, id="limits")
        yield Label("Equity", id="equity-title", classes="section-title")
        yield EquityChart(id="equity-chart")
        yield Static("", id="risk-lists")

    def show(self, snapshot: DeskSnapshot, scope: str = TODAY) -> None:
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
                    + _tone_markup(risk.entries, _ENTRIES_TONES.get(risk.entries, "")),
                )
            ),
        ]
        if risk.halt_reason:
            lines.append(f"[b]Halt reason[/b] {_tone_markup(risk.halt_reason, 'down')}")
        if risk.charges_by_component:
            parts = "  ".join(
                f"{name} {money(value, signed=False)}" for name, value in risk.charges_by_component
            )
            lines.append(
                f"[b]Run charges[/b] {money(risk.charges, signed=False)} [dim]= {parts}[/dim]"
            )
        summary = "\n".join(lines)
        figures = pnl_figures(snapshot, scope)
        if (summary, figures) != self._summary:
            self._summary = (summary, figures)
            self.query_one("#risk-summary", Static).update(summary)
            self.query_one("#risk-figures", Static).update(_figures_table(figures, self._styles))

        self.query_one("#limits", DeskTable).show_rows(limit_rows(risk.limits))
        title = f"Equity, {scope_label(scope, snapshot)}"
        if title != self._title:
            self._title = title
            self.query_one("#equity-title", Label).update(title)
        self.query_one(EquityChart).show(curve_in(snapshot, scope))

        blocked = ", ".join(risk.blocked_symbols) or DASH
        blocks = [
            f"[b]Entry block[/b] {_tone_markup(name, 'warn')}: {escape(reason)} "
            f"[dim](clears {escape(clears)})[/dim]"
            for name, reason, clears in risk.blocks
        ]
        naked = [
            f"[b]NAKED[/b] {_tone_markup(symbol, 'down')}: {escape(why)}"
            for symbol, why in risk.naked
        ]
        changed = [
            f"[b]Limit changed (*)[/b] {_tone_markup(x.name, 'warn')} "
            f"{x.value:,.{0 if x.integer else 2}f} "
            f"[dim](config {x.config_value:,.{0 if x.integer else 2}f})[/dim]"
            for x in risk.changed_settings
        ]
        margin = (
            [
                f"[b]Margin[/b] used {money(risk.margin_used, signed=False)}, available "
                f"{money(risk.margin_available, signed=False)} [dim]({risk.margin_source})[/dim]"
            ]
            if risk.margin_source
            else []
        )
        lists = "\n".join(
            (
                *margin,
                *changed,
                f"[b]Blocked symbols[/b] {escape(blocked)}",
                f"[b]Trades today[/b] {escape(trades_today_text(risk.trades_today))}",
                *blocks,
                *naked,
            )
        )
        if lists != self._lists:
            self._lists = lists
            self.query_one("#risk-lists", Static).update(lists)
