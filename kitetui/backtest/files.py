"""The report directory: report.json, fills.csv, trades.csv, orders.csv, equity.csv.

Times are ISO 8601 in IST with their offset (``2024-01-02T09:16:00+05:30``); rupees
are plain decimals (charges to 1/10,000,000 of a rupee, as Kite's contract note carries
them; P&L as computed, exact). The directory and its files are the user's alone
(0700/0600): a backtest's ledger is as private as the desk's.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kitetui.backtest.build import Report
from kitetui.clock import IST
from kitetui.performance.metrics import Figures, as_json
from kitetui.private_files import make_private_dir, write_private

REPORT_FILES = ("report.json", "fills.csv", "trades.csv", "orders.csv", "equity.csv")


def iso_ist(ts_ns: int) -> str:
    """Epoch ns as ISO 8601 in IST, ``+05:30`` included."""
    moment = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).astimezone(IST)
    return moment.isoformat()


def money(value: Decimal | None) -> str:
    """A rupee amount as CSV text: exact, no exponent, no trailing zeros past paise."""
    if value is None:
        return ""
    text = f"{value:f}"
    if "." in text:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return text


# A spreadsheet reads a cell starting with one of these as a formula (``=2+5*cmd|calc``
# from a broker's reject message would run); a tab or CR starts one in some too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def inert_cell(value: Any) -> Any:
    """``value`` as a spreadsheet shows it and never evaluates: a text cell that would
    start a formula is prefixed with ``'`` (the OWASP "CSV injection" rule); numbers,
    and text that is a plain number (a negative P&L ``-123.45``), are left as they are.
    A carriage return becomes a line feed: the csv writer quotes a cell holding a line
    feed but not one holding a bare CR, which split the row for every reader."""
    if isinstance(value, str) and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_STARTS)
        and _PLAIN_NUMBER.fullmatch(value) is None
    ):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Every CSV the project writes (report files, ``kitetui export``, the TUI's ``w``):
    its text cells made inert (``inert_cell``): a reason is the broker's text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([inert_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def report_json(report: Report) -> dict[str, Any]:
    ledger = report.ledger
    run = ledger.run
    first = ledger.equity[0][0] if ledger.equity else None
    last = ledger.equity[-1][0] if ledger.equity else None
    strategies = {e.name: e.strategy for e in ledger.engines}
    return {
        "run": {
            "run_id": run.run_id,
            "status": run.status,
            "mode": run.mode,
            "config": run.config_path,
            "database": str(ledger.database),
            "engines": [
                {"name": e.name, "kind": e.kind, "strategy": e.strategy, "params": e.params}
                for e in ledger.engines
            ],
            "window": {"from": ledger.window[0], "to": ledger.window[1]},
            "data_from": iso_ist(first) if first else None,
            "data_to": iso_ist(last) if last else None,
            "trading_days": len(ledger.days),
        },
        "capital": as_json(ledger.capital),
        **_figures(report.total),
        "unpriced_fills": ledger.unpriced_fills,  # charged nothing: not in charges or net
        "mtm_max_drawdown": _drawdown(report.mtm_drawdown),
        "by_strategy": {
            name: {"strategy": strategies.get(name, ""), **_figures(f)}
            for name, f in report.by_strategy.items()
        },
        "by_symbol": {name: _figures(f) for name, f in report.by_symbol.items()},
        "by_day": {day: _figures(f) for day, f in report.by_day.items()},
        "warnings": list(ledger.warnings),
    }


def _figures(f: Figures) -> dict[str, Any]:
    out = as_json(f)
    out["max_drawdown"] = _drawdown(f.max_drawdown)
    return out


def _drawdown(d) -> dict[str, Any]:
    return {
        "amount": as_json(d.amount),
        "duration_days": round(d.duration_days, 4),
        "duration_sessions": d.duration_sessions,
        "peak": iso_ist(d.peak_ts_ns) if d.peak_ts_ns else None,
        "trough": iso_ist(d.trough_ts_ns) if d.trough_ts_ns else None,
        "recovered": iso_ist(d.recovered_ts_ns) if d.recovered_ts_ns else None,
    }


def fills_csv(report: Report) -> str:
    header = [
        "ts",
        "fill_id",
        "order_tag",
        "engine",
        "exchange",
        "tradingsymbol",
        "product",
        "side",
        "quantity",
        "price",
        "turnover",
        "brokerage",
        "stt",
        "exchange_charge",
        "sebi",
        "stamp",
        "gst",
        "dp",
        "charges",
    ]
    rows = []
    for f in report.ledger.fills:
        c = f.charges
        # a fill the rate table could not price shows blank charges, not a priced zero
        charges = (
            (c.brokerage, c.stt, c.exchange_turnover, c.sebi, c.stamp, c.gst, c.dp, c.total)
            if f.priced
            else (None,) * 8
        )
        rows.append(
            (
                iso_ist(f.ts_ns),
                f.fill_id,
                f.tag,
                f.engine,
                f.exchange,
                f.symbol,
                f.product,
                f.side.value,
                f.quantity,
                money(f.price),
                money(f.turnover),
                *map(money, charges),
            )
        )
    return csv_text(header, rows)


def trades_csv(report: Report) -> str:
    header = [
        "engine",
        "strategy",
        "exchange",
        "tradingsymbol",
        "product",
        "direction",
        "quantity",
        "entry_ts",
        "entry_price",
        "exit_ts",
        "exit_price",
        "status",
        "fills",
        "gross",
        "charges",
        "net",
        "turnover",
    ]
    ledger = report.ledger
    rows = [
        (
            t.engine,
            ledger.strategy_of(t.engine),
            t.exchange,
            t.symbol,
            t.product,
            "LONG" if t.direction.sign > 0 else "SHORT",
            t.quantity,
            iso_ist(t.entry_ts_ns),
            money(t.entry_price),
            iso_ist(t.exit_ts_ns),
            money(t.exit_price),
            "CLOSED" if t.closed else "OPEN",
            t.fills,
            money(t.gross),
            money(t.charges.total),
            money(t.net),
            money(t.turnover),
        )
        for t in report.trades
    ]
    return csv_text(header, rows)


def orders_csv(report: Report) -> str:
    header = [
        "ts",
        "tag",
        "engine",
        "exchange",
        "tradingsymbol",
        "side",
        "quantity",
        "order_type",
        "product",
        "purpose",
        "status",
        "price",
        "trigger_price",
        "filled_qty",
        "avg_price",
        "reason",
    ]
    rows = [
        (
            iso_ist(o.ts_ns),
            o.tag,
            o.engine,
            o.exchange.value,
            o.symbol,
            o.side.value,
            o.quantity,
            o.order_type.value,
            o.product.value,
            o.purpose.value,
            o.status.value,
            repr(o.price),
            repr(o.trigger_price),
            o.filled_qty,
            repr(o.avg_price),
            o.reason,
        )
        for o in report.ledger.orders
    ]
    return csv_text(header, rows)


def equity_csv(report: Report) -> str:
    header = ["ts", "equity_gross", "charges_paid", "equity_net", "drawdown_net"]
    rows = [
        (iso_ist(p.ts_ns), money(p.gross), money(p.charges), money(p.net), money(p.drawdown))
        for p in report.equity
    ]
    return csv_text(header, rows)


#: Every file a report writes into its folder.
REPORT_FILES = ("report.json", "fills.csv", "trades.csv", "orders.csv", "equity.csv", "report.html")


def check_report_folder(out: Path) -> None:
    """Refuse a folder where a report's file would not be written (a symlink planted at
    one of its names, a directory or a FIFO there) before any is: refused only at its
    own turn, the report left report.json written beside the refusal. A folder that
    holds a file of a report's name but no report (``--out .`` beside the user's own
    orders.csv) is refused too: it was replaced without a word."""
    for name in REPORT_FILES:
        path = out / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            what = "a symbolic link" if path.is_symlink() else "not a regular file"
            raise OSError(errno.EEXIST, f"{name} is {what}; a report never writes through it")
    if report_run_in(out) is None:
        for name in (*REPORT_FILES, "report.html"):
            if os.path.lexists(out / name):
                raise OSError(
                    errno.EEXIST,
                    f"{name} is there and no kitetui report is; a report never replaces "
                    "another file: choose another --out, or move it",
                )


def report_run_in(folder: Path) -> str | None:
    """The run whose report ``folder`` holds already, if it holds a readable one."""
    try:
        run = json.loads((folder / "report.json").read_text())["run"]["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return run if isinstance(run, str) else None


def write_report_files(report: Report, out: Path) -> list[Path]:
    """Write report.json and the four CSVs into ``out`` (created 0700); their paths."""
    make_private_dir(out)
    texts = {
        "report.json": json.dumps(report_json(report), indent=2, allow_nan=False) + "\n",
        "fills.csv": fills_csv(report),
        "trades.csv": trades_csv(report),
        "orders.csv": orders_csv(report),
        "equity.csv": equity_csv(report),
    }
    written = []
    for name, text in texts.items():
        path = out / name
        write_private(path, text)
        written.append(path)
    return written
