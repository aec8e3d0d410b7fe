"""Text a person reads: the headless run summary and one-line event records."""

from __future__ import annotations

import json
import logging
import sys

from kitetui.clock import format_ist
from kitetui.config import AppConfig
from kitetui.domain import Event
from kitetui.supervisor.run_summary import RunSummary


def _iso_ist(ts_ns: int) -> str:
    return format_ist(ts_ns).replace(" ", "T", 1).replace(" IST", "+05:30")


def format_event_line(event: Event) -> str:
    """One line per event, key=value, no colour: what journald keeps well."""
    parts = [
        f"ts={_iso_ist(event.ts_ns)}",
        f"level={event.level}",
        f"kind={event.kind}",
    ]
    if event.engine:
        parts.append(f"engine={event.engine}")
    if event.symbol:
        parts.append(f"symbol={event.symbol}")
    parts.append(f"msg={json.dumps(event.message)}")
    return " ".join(parts)


class KeyValueFormatter(logging.Formatter):
    """Library and program log records in the same one-line key=value form as events.

    A traceback is folded into the ``msg`` string (JSON-escaped) so journald keeps one
    record per line; the time is wall time (a log record has no data clock).
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:  # exc_text: scrubbed of secrets when made (secret_values)
            message += "\n" + (record.exc_text or self.formatException(record.exc_info))
        return (
            f"ts={_iso_ist(int(record.created * 1e9))} level={record.levelname} kind=Log "
            f"logger={record.name} msg={json.dumps(message)}"
        )


#: Other people's loggers stay at WARNING whatever --log-level says: at DEBUG some of
#: them print request details (kiteconnect logs headers), and secrets never reach a log.
QUIET_LOGGERS = ("kiteconnect", "urllib3", "aiosqlite", "asyncio", "websockets", "twisted")


def configure_headless_logging(level: str) -> None:
    """Send every log record to stdout, one key=value line each, for journald."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # Our own warnings always show; --log-level can only make us chattier.
    logging.getLogger("kitetui").setLevel(min(logging.getLevelName(level), logging.WARNING))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def format_summary(summary: RunSummary | None, config: AppConfig, database: str) -> str:
    if summary is None:
        return "no run"
    rate = summary.bars / summary.wall_s if summary.wall_s > 0 else 0.0
    gross = summary.realized + summary.unrealized
    lines = [
        f"kitetui run {summary.run_id}{' (resumed)' if summary.resumed else ''} "
        f"— mode {config.mode}, database {database}",
        *([f"note      {summary.not_resumed}"] if summary.not_resumed else []),
        f"data      {format_ist(summary.first_ts_ns)} → {format_ist(summary.last_ts_ns)}",
        f"replayed  {summary.bars:,} bars + {summary.ticks:,} ticks in {summary.batches:,} "
        f"batches, {summary.wall_s:.2f} s wall ({rate:,.0f} bars/s)",
        f"signals   {summary.signals:,}   orders {summary.orders:,}   fills {summary.fills:,}"
        f"   trades (filled entries) {summary.entries:,}",
        f"P&L       net ₹{gross - summary.charges:,.2f}   gross ₹{gross:,.2f}   "
        f"charges ₹{summary.charges:,.2f}   max drawdown ₹{summary.max_drawdown:,.2f}",
        f"          realized ₹{summary.realized:,.2f}   unrealized ₹{summary.unrealized:,.2f}",
        "charges   "
        + (
            "   ".join(f"{name} ₹{amount:,.2f}" for name, amount in summary.charges_by_component)
            or "none"
        )
        + (
            f"   ({summary.unpriced_fills} fill(s) unpriced: see ChargesUnpriced)"
            if summary.unpriced_fills
            else ""
        ),
        f"risk      {summary.risk_state}",
    ]
    if summary.open_positions:
        lines.append(
            "open      "
            + ", ".join(
                f"{symbol} {qty:+d} (avg {avg:,.2f}, last {last:,.2f})"
                for symbol, qty, avg, last in summary.open_positions
            )
        )
    else:
        lines.append("open      none")
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in summary.events_by_kind.items())
    lines.append(f"events    {kinds or 'none'}")
    return "\n".join(lines)
