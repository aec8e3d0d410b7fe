"""Text a person reads: the headless run summary and one-line event records."""

from __future__ import annotations

import json

from kitetui.clock import format_ist
from kitetui.config import AppConfig
from kitetui.domain import Event
from kitetui.supervisor import RunSummary


def format_event_line(event: Event) -> str:
    """One line per event, key=value, no colour: what journald keeps well."""
    parts = [
        f"ts={format_ist(event.ts_ns).replace(' ', 'T', 1).replace(' IST', '+05:30')}",
        f"level={event.level}",
        f"kind={event.kind}",
    ]
    if event.engine:
        parts.append(f"engine={event.engine}")
    if event.symbol:
        parts.append(f"symbol={event.symbol}")
    parts.append(f"msg={json.dumps(event.message)}")
    return " ".join(parts)


def format_summary(summary: RunSummary | None, config: AppConfig, database: str) -> str:
    if summary is None:
        return "no run"
    rate = summary.bars / summary.wall_s if summary.wall_s > 0 else 0.0
    gross = summary.realized + summary.unrealized
    lines = [
        f"kitetui run {summary.run_id}{' (resumed)' if summary.resumed else ''} "
        f"— mode {config.mode}, database {database}",
        f"data      {format_ist(summary.first_ts_ns)} → {format_ist(summary.last_ts_ns)}",
        f"replayed  {summary.bars:,} bars + {summary.ticks:,} ticks in {summary.batches:,} "
        f"batches, {summary.wall_s:.2f} s wall ({rate:,.0f} bars/s)",
        f"signals   {summary.signals:,}   orders {summary.orders:,}   fills {summary.fills:,}"
        f"   trades (filled entries) {summary.entries:,}",
        f"P&L       gross ₹{gross:,.2f}   realized ₹{summary.realized:,.2f}   "
        f"unrealized ₹{summary.unrealized:,.2f}   max drawdown ₹{summary.max_drawdown:,.2f}",
        f"risk      {summary.risk_state}",
    ]
    if summary.open_positions:
        lines.append(
            "open      "
            + ", ".join(
                f"{symbol} {qty:+d} @ {price:g}" for symbol, qty, price in summary.open_positions
            )
        )
    else:
        lines.append("open      none")
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in summary.events_by_kind.items())
    lines.append(f"events    {kinds or 'none'}")
    return "\n".join(lines)
