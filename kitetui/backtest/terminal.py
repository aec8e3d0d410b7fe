"""The one-screen summary a backtest prints: headline figures, charges, the parts,
and the equity and drawdown curves drawn in the terminal.

The curves are columns of eighth blocks (``▁▂▃▄▅▆▇█``): each column is one stretch of
the run, as tall as its lowest net equity (so a drawdown inside a stretch is not
averaged away), scaled between the run's own lowest and highest values. Plain text,
so the summary reads the same in a log file, over ssh and with ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kitetui.backtest.build import Report
from kitetui.performance.metrics import Figures

_BLOCKS = " ▁▂▃▄▅▆▇█"


def column_chart(values: Sequence[float], width: int, height: int) -> list[str]:
    """``values`` as ``height`` lines of ``width`` columns, top line first.

    Each column takes the lowest of its stretch of values; the lowest value overall
    is an empty column's floor (one eighth shows), the highest a full one.
    """
    if not values or width <= 0 or height <= 0:
        return []
    columns = min(width, len(values))
    stretch = len(values) / columns
    heights = []
    low, high = min(values), max(values)
    span = high - low
    steps = height * 8
    for c in range(columns):
        part = values[int(c * stretch) : max(int((c + 1) * stretch), int(c * stretch) + 1)]
        v = min(part)
        level = 1 + round((v - low) / span * (steps - 1)) if span > 0 else steps // 2
        heights.append(level)
    lines = []
    for row in range(height - 1, -1, -1):
        base = row * 8
        lines.append("".join(_BLOCKS[max(0, min(8, h - base))] for h in heights))
    return lines


def _rupees(value: Decimal | None) -> str:
    return "–" if value is None else f"₹{value:,.2f}"


def _whole_rupees(value: float) -> str:
    """``₹1,234``: rounded to an int first, so no drawdown reads "₹-0" (a curve's top
    is minus a zero drawdown, -0.0, and -0.4 rounds to a negative zero too)."""
    return f"₹{round(value):,}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _tone(value: Decimal) -> str:
    return "green" if value > 0 else "red" if value < 0 else ""


def _headline(f: Figures, report: Report) -> Table:
    table = Table.grid(padding=(0, 2))
    for _ in range(4):
        table.add_column()
    dd = f.max_drawdown
    table.add_row(
        "net P&L",
        Text(_rupees(f.net_pnl), style=_tone(f.net_pnl)),
        "gross P&L",
        Text(_rupees(f.gross_pnl), style=_tone(f.gross_pnl)),
    )
    unpriced = report.ledger.unpriced_fills
    charges = _rupees(f.charges.total) + (
        f" + {unpriced:,} fill(s) unpriced, not in net" if unpriced else ""
    )
    table.add_row("charges", charges, "turnover", f"₹{f.turnover:,.0f}")
    table.add_row(
        "trades",
        f"{f.trades:,}" + (f" (+{f.open_trades} open)" if f.open_trades else ""),
        "win rate",
        _pct(f.win_rate),
    )
    table.add_row("avg win", _rupees(f.avg_win), "avg loss", _rupees(f.avg_loss))
    table.add_row("profit factor", _num(f.profit_factor), "expectancy", _rupees(f.expectancy))
    table.add_row(
        "max drawdown",
        f"{_rupees(dd.amount)} closed, {dd.duration_sessions} session"
        + ("" if dd.duration_sessions == 1 else "s"),
        "marked",
        f"{_rupees(report.mtm_drawdown.amount)}, {report.mtm_drawdown.duration_sessions} session"
        + ("" if report.mtm_drawdown.duration_sessions == 1 else "s"),
    )
    table.add_row(_daily("Sharpe", report), _num(f.sharpe), "Sortino", _num(f.sortino))
    table.add_row("exposure", _pct(f.exposure), "", "")
    return table


def _daily(name: str, report: Report) -> str:
    """A daily ratio's label with its days: annualised over five days, a Sharpe of -300
    says little, and the reader should see on how little."""
    days = len(report.ledger.days)
    return f"{name} ({days} day{'' if days == 1 else 's'})"


def _charges_line(f: Figures) -> Text:
    c = f.charges
    # DP: the depository's charge on delivery sales, off the contract note; only a run
    # that sold delivery shares has one, so the others' line stays as the note bills.
    dp = f" · DP {_rupees(c.dp)}" if c.dp else ""
    return Text(
        f"charges: brokerage {_rupees(c.brokerage)} · STT {_rupees(c.stt)} · exchange "
        f"{_rupees(c.exchange)} · SEBI {_rupees(c.sebi)} · stamp {_rupees(c.stamp)} · "
        f"GST {_rupees(c.gst)}{dp}",
        style="dim",
    )


def _parts(report: Report) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for name, justify in (
        ("engine", "left"),
        ("strategy", "left"),
        ("trades", "right"),
        ("win", "right"),
        ("gross", "right"),
        ("charges", "right"),
        ("net", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name, f in report.by_strategy.items():
        table.add_row(
            name,
            report.ledger.strategy_of(name),
            f"{f.trades:,}",
            _pct(f.win_rate),
            _rupees(f.gross_pnl),
            _rupees(f.charges.total),
            Text(_rupees(f.net_pnl), style=_tone(f.net_pnl)),
        )
    return table


def render_summary(report: Report, width: int = 100, paths: Sequence[str] = ()) -> Group:
    """The summary as a rich renderable (``print_summary`` prints it)."""
    f = report.total
    days = report.ledger.days
    span = f"{days[0]} … {days[-1]}, {_trading_days(len(days))}" if days else "no data"
    chart_width = max(10, width - 16)
    net = [float(p.net) for p in report.equity]
    drawdown = [-float(p.drawdown) for p in report.equity]
    pieces: list = [
        Text(
            f"{report.ledger.title.lower()} {report.run_id} — {span} — {report.ledger.run.status}",
            style="bold",
        ),
        _headline(f, report),
        _charges_line(f),
    ]
    for label, series, style in (("equity", net, "cyan"), ("drawdown", drawdown, "red")):
        lines = column_chart(series, chart_width, 5 if label == "equity" else 3)
        if not lines:
            continue
        top, bottom = max(series), min(series)
        pieces.append(
            Text(f"{label}  {_whole_rupees(top)} … {_whole_rupees(bottom)}", style="bold")
        )
        pieces.extend(Text(line, style=style) for line in lines)
    if report.by_strategy:
        pieces.append(_parts(report))
    for warning in report.ledger.warnings[:5]:
        pieces.append(Text(f"warning: {warning}", style="yellow"))
    if len(report.ledger.warnings) > 5:
        pieces.append(Text(f"… and {len(report.ledger.warnings) - 5} more warnings (report.json)"))
    for path in paths:
        pieces.append(Text(f"report: {path}", style="dim"))
    return Group(*pieces)


def print_summary(
    report: Report, console: Console | None = None, paths: Sequence[str] = ()
) -> None:
    console = console or Console()
    width = min(console.width, 120)
    console.print(Panel(render_summary(report, width - 4, paths), width=width, expand=False))


def _trading_days(count: int) -> str:
    return f"{count} trading day" + ("" if count == 1 else "s")
