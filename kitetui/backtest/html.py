"""report.html: one self-contained page, charts and all, that opens offline.

Charts are plotly figures with plotly.js inlined once (``include_plotlyjs=True`` on
the first), so the file needs no network and no other file; tables are plain HTML.
The equity curve is thinned to a few thousand points keeping each stretch's highest
and lowest net equity, so a year of minutes stays a few megabytes and its drawdowns
are drawn at their true depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from html import escape

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kitetui.backtest.build import EquityPoint, Report
from kitetui.backtest.files import iso_ist
from kitetui.clock import ist_datetime
from kitetui.performance.metrics import Drawdown, Figures, daily_net

MAX_POINTS = 4000
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.muted{color:#667085;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #d0d5dd;border-radius:8px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:18px} .card span{font-size:12px;color:#667085}
table{border-collapse:collapse;font-size:13px;margin-bottom:8px}
th,td{border-bottom:1px solid #eaecf0;padding:4px 10px;text-align:right;white-space:nowrap}
th{background:#f9fafb;position:sticky;top:0} td.l,th.l{text-align:left}
.pos{color:#067647} .neg{color:#b42318} .warn{color:#b54708}
.scroll{max-height:480px;overflow:auto;border:1px solid #eaecf0}
"""


def thin(points: Sequence[EquityPoint], limit: int = MAX_POINTS) -> list[EquityPoint]:
    """At most about ``limit`` points: the first and last, and in each stretch the
    points of lowest and highest net equity, in time order."""
    if len(points) <= limit:
        return list(points)
    size = max(1, (2 * len(points)) // limit)
    kept: list[EquityPoint] = [points[0]]
    for start in range(0, len(points), size):
        stretch = points[start : start + size]
        low = min(stretch, key=lambda p: p.net)
        high = max(stretch, key=lambda p: p.net)
        kept.extend(sorted({low.ts_ns: low, high.ts_ns: high}.values(), key=lambda p: p.ts_ns))
    if kept[-1] is not points[-1]:
        kept.append(points[-1])
    return kept


def _rupees(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "–"
    return f"₹{value:,.{places}f}"


def _signed(value: Decimal | None) -> str:
    if value is None:
        return "<td>–</td>"
    tone = "pos" if value > 0 else "neg" if value < 0 else ""
    return f'<td class="{tone}">{escape(_rupees(value))}</td>'


def _ratio(value: float | None, places: int = 2, pct: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if pct else f"{value:.{places}f}"


def equity_figure(points: Sequence[EquityPoint]) -> go.Figure:
    shown = thin(points)
    xs = [ist_datetime(p.ts_ns).replace(tzinfo=None) for p in shown]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Scatter(x=xs, y=[float(p.net) for p in shown], name="equity, net", mode="lines"),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[float(p.gross) for p in shown],
            name="equity, gross",
            mode="lines",
            line={"dash": "dot", "width": 1},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[-float(p.drawdown) for p in shown],
            name="drawdown, net",
            mode="lines",
            fill="tozeroy",
            line={"color": "#d92d20"},
        ),
        row=2,
        col=1,
    )
    # Nights and weekends are not time a strategy could trade: leave them out.
    fig.update_xaxes(
        rangebreaks=[{"bounds": ["sat", "mon"]}, {"bounds": [15.5, 9.25], "pattern": "hour"}]
    )
    fig.update_yaxes(title_text="₹", row=1, col=1)
    fig.update_yaxes(title_text="₹ below peak", row=2, col=1)
    fig.update_layout(height=560, margin={"l": 60, "r": 20, "t": 30, "b": 30}, hovermode="x")
    return fig


def calendar_figure(report: Report) -> go.Figure:
    """Daily net P&L as a calendar: a column per week, a row per weekday."""
    days = report.ledger.days
    pnl = dict(zip(sorted(days), daily_net(report.trades, days), strict=False))
    if not days:
        return go.Figure()
    first = days[0] - timedelta(days=days[0].weekday())
    weeks = (days[-1] - first).days // 7 + 1
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    z: list[list[float | None]] = [[None] * weeks for _ in names]
    text: list[list[str]] = [[""] * weeks for _ in names]
    for day, value in pnl.items():
        row = day.weekday()
        if row >= len(names):
            continue
        col = (day - first).days // 7
        z[row][col] = float(value)
        text[row][col] = f"{day:%a %d %b %Y}<br>net ₹{value:,.2f}"
    ticks = [first + timedelta(weeks=w) for w in range(weeks)]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[d.isoformat() for d in ticks],
            y=names,
            text=text,
            hoverinfo="text",
            colorscale=[[0, "#b42318"], [0.5, "#f2f4f7"], [1, "#067647"]],
            zmid=0,
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": "₹ net"}},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=260, margin={"l": 50, "r": 20, "t": 20, "b": 40})
    return fig


def _unpriced(report: Report) -> str:
    """Beside the charges: the fills they leave out, which net P&L leaves out too."""
    unpriced = report.ledger.unpriced_fills
    return f" + {unpriced:,} fill(s) unpriced, not in net" if unpriced else ""


def _cards(f: Figures, report: Report) -> str:
    dd = f.max_drawdown
    items = [
        ("net P&L", _rupees(f.net_pnl)),
        ("gross P&L", _rupees(f.gross_pnl)),
        ("charges", _rupees(f.charges.total) + _unpriced(report)),
        ("trades", f"{f.trades:,}"),
        ("win rate", _ratio(f.win_rate, pct=True)),
        ("profit factor", _ratio(f.profit_factor)),
        ("expectancy", _rupees(f.expectancy)),
        ("max drawdown (closed)", f"{_rupees(dd.amount)} · {_sessions(dd)}"),
        (
            "max drawdown (marked)",
            f"{_rupees(report.mtm_drawdown.amount)} · {_sessions(report.mtm_drawdown)}",
        ),
        (f"Sharpe (daily, {_days(report)})", _ratio(f.sharpe)),
        (f"Sortino (daily, {_days(report)})", _ratio(f.sortino)),
        ("exposure", _ratio(f.exposure, pct=True)),
        ("turnover", _rupees(f.turnover, 0)),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f"<div class=card><b>{escape(v)}</b><span>{escape(k)}</span></div>" for k, v in items
        )
        + "</div>"
    )


def _sessions(dd: Drawdown) -> str:
    n = dd.duration_sessions
    return f"{n} session" + ("" if n == 1 else "s")


def _charges_table(f: Figures) -> str:
    rows = "".join(
        f'<tr><td class="l">{escape(name)}</td><td>{escape(_rupees(v))}</td></tr>'
        for name, v in f.charges.as_dict().items()
    )
    return f'<table><tr><th class="l">component</th><th>₹</th></tr>{rows}</table>'


_PART_HEAD = (
    "trades",
    "win rate",
    "gross",
    "charges",
    "net",
    "avg win",
    "avg loss",
    "profit factor",
    "expectancy",
    "max DD",
    "Sharpe",
    "exposure",
    "turnover",
)


def _parts_table(title: str, parts: dict[str, Figures], extra: dict[str, str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in _PART_HEAD)
    label = escape(title)
    rows = []
    for name, f in parts.items():
        shown = escape(name + (f" ({extra[name]})" if extra and extra.get(name) else ""))
        rows.append(
            f'<tr><td class="l">{shown}</td><td>{f.trades}</td>'
            f"<td>{_ratio(f.win_rate, pct=True)}</td>{_signed(f.gross_pnl)}"
            f"<td>{escape(_rupees(f.charges.total))}</td>{_signed(f.net_pnl)}"
            f"{_signed(f.avg_win)}{_signed(f.avg_loss)}<td>{_ratio(f.profit_factor)}</td>"
            f"{_signed(f.expectancy)}<td>{escape(_rupees(f.max_drawdown.amount))}</td>"
            f"<td>{_ratio(f.sharpe)}</td><td>{_ratio(f.exposure, pct=True)}</td>"
            f"<td>{escape(_rupees(f.turnover, 0))}</td></tr>"
        )
    body = "".join(rows) or f'<tr><td class="l" colspan="14">no {label.lower()}</td></tr>'
    return (
        f'<div class="scroll"><table><tr><th class="l">{label}</th>{head}</tr>{body}</table></div>'
    )


def _trades_table(report: Report) -> str:
    head = (
        "engine",
        "symbol",
        "side",
        "qty",
        "entry",
        "entry ₹",
        "exit",
        "exit ₹",
        "gross",
        "charges",
        "net",
    )
    cells = "".join(f'<th class="l">{escape(h)}</th>' for h in head[:2]) + "".join(
        f"<th>{escape(h)}</th>" for h in head[2:]
    )
    rows = []
    for t in report.trades:
        status = "" if t.closed else " (open)"
        rows.append(
            f'<tr><td class="l">{escape(t.engine)}</td><td class="l">{escape(t.symbol)}</td>'
            f"<td>{'LONG' if t.direction.sign > 0 else 'SHORT'}</td><td>{t.quantity}</td>"
            f"<td>{escape(iso_ist(t.entry_ts_ns)[:16].replace('T', ' '))}</td>"
            f"<td>{t.entry_price:,.2f}</td>"
            f"<td>{escape(iso_ist(t.exit_ts_ns)[:16].replace('T', ' ') + status)}</td>"
            f"<td>{t.exit_price:,.2f}</td>{_signed(t.gross)}"
            f"<td>{escape(_rupees(t.charges.total))}</td>{_signed(t.net)}</tr>"
        )
    body = "".join(rows) or '<tr><td class="l" colspan="11">no trades</td></tr>'
    return f'<div class="scroll"><table><tr>{cells}</tr>{body}</table></div>'


def render_html(report: Report) -> str:
    """The whole page as one string (module docstring)."""
    ledger = report.ledger
    f = report.total
    days = ledger.days
    plural = "" if len(days) == 1 else "s"
    span = f"{days[0]} … {days[-1]} ({len(days)} trading day{plural})" if days else "no data"
    engines = ", ".join(f"{e.name}: {e.strategy} {e.params or ''}".strip() for e in ledger.engines)
    figures = [
        equity_figure(report.equity).to_html(
            full_html=False, include_plotlyjs=True, config=_PLOT_CONFIG, div_id="equity"
        ),
        calendar_figure(report).to_html(
            full_html=False, include_plotlyjs=False, config=_PLOT_CONFIG, div_id="calendar"
        ),
    ]
    warnings = "".join(f'<p class="warn">⚠ {escape(w)}</p>' for w in ledger.warnings)
    strategies = {e.name: e.strategy for e in ledger.engines}
    parts = [
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>kitetui {escape(ledger.title.lower())} {escape(report.run_id)}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(ledger.title)} {escape(report.run_id)}</h1>",
        f'<div class="muted">{escape(span)} · {escape(ledger.run.status)} · capital '
        f"{escape(_rupees(ledger.capital, 0))} · {escape(engines or 'engines not recorded')}"
        f" · {escape(str(ledger.database))}</div>",
        warnings,
        _cards(f, report),
        "<h2>Equity and drawdown (net of charges, marked each minute)</h2>",
        figures[0],
        "<h2>Daily net P&amp;L</h2>",
        figures[1],
        "<h2>Charges</h2>",
        _charges_table(f),
        "<h2>By strategy</h2>",
        _parts_table("Engine", report.by_strategy, strategies),
        "<h2>By symbol</h2>",
        _parts_table("Symbol", report.by_symbol),
        "<h2>By day</h2>",
        _parts_table("Day", report.by_day),
        f"<h2>Trades ({len(report.trades):,})</h2>",
        _trades_table(report),
        "<p class=\"muted\">Charges at Zerodha's rates from kitetui's dated rate table; "
        "exchange charges include NSE's IPFT. Drawdown (closed) is on closed-trade equity; "
        "(marked) on the minute-by-minute marked equity. Sharpe and Sortino: daily net "
        "P&amp;L over capital, ×√252.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _days(report: Report) -> str:
    """The run's trading days, beside the ratios annualised from them."""
    days = len(report.ledger.days)
    return f"{days} day{'' if days == 1 else 's'}"
