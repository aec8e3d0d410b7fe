"""`kitetui runs`: every run a database holds, a line each, read without changing it.

A trader comes back to a database (the desk's, or a backtest's) and asks what is in it:
which runs, of which config and mode, over which market days, how each ended and what it
made. The P&L is rebuilt from the journaled fills by the same ``Portfolio`` the desk
uses, so it is the figure the desk showed, not a second computation; the charges are
the ones journaled with each fill (what the contract note bills), and the net is the
realized P&L less them. A fill journaled without charges (before kitetui recorded them,
or one the rate table could not price) is counted, and the net is marked, never guessed.

The database is opened read-only (``mode=ro``, ``immutable=1`` when there is no WAL), so
listing never creates, locks or changes anything, even beside a running desk.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from kitetui.clock import format_ist
from kitetui.domain import Fill, Product, Side
from kitetui.store.errors import DatabasePathError, DatabaseRefused
from kitetui.store.verify import read_only_uri
from kitetui.trading import expiry_settlement
from kitetui.trading.expiry_settlement import SettlementKind
from kitetui.trading.portfolio import Portfolio


@dataclass(frozen=True, slots=True)
class RunLine:
    run_id: str
    mode: str
    config: str
    status: str
    restarts: int
    started: str  # wall clock, IST
    data_from: str  # the market days it covered (IST dates), "" before any data
    data_to: str
    orders: int
    fills: int
    open_positions: int
    realized_pnl: float  # rupees, gross of charges
    charges: float = 0.0  # rupees, journaled with the fills
    net_pnl: float = 0.0  # realized less charges
    unpriced_fills: int = 0  # fills journaled without charges: the net leaves them out
    failure: str = ""  # a FAILED run: why, as journaled (SupervisorFailed)


def list_runs(path: Path) -> list[RunLine]:
    """The runs in ``path``, oldest first. Raises ``DatabasePathError`` for a path with no
    database file (exit 2, as ``report`` and ``export`` say it) and ``DatabaseRefused``
    for a file that is not a kitetui database."""
    if not path.is_file():
        raise DatabasePathError(f"{path}: no such database")
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise DatabaseRefused(f"{path}: cannot be opened: {exc}") from None
    try:
        return [_line(conn, row) for row in _runs(conn, path)]
    except sqlite3.DatabaseError as exc:
        raise DatabaseRefused(f"{path}: cannot be read as a kitetui database: {exc}") from None
    finally:
        conn.close()


def _runs(conn: sqlite3.Connection, path: Path) -> list[tuple]:
    try:
        return conn.execute(
            "SELECT run_id, mode, config_path, status, restarts, started_wall_ns, cursor_ns "
            "FROM runs ORDER BY started_wall_ns, run_id"
        ).fetchall()
    except sqlite3.OperationalError as exc:
        raise DatabaseRefused(f"{path}: not a kitetui database ({exc})") from None


def _line(conn: sqlite3.Connection, row: tuple) -> RunLine:
    run_id, mode, config, status, restarts, started_ns, cursor_ns = row
    (orders,) = conn.execute("SELECT COUNT(*) FROM orders WHERE run_id = ?", (run_id,)).fetchone()
    (first_ns,) = conn.execute(
        "SELECT MIN(ts_ns) FROM equity_curve WHERE run_id = ?", (run_id,)
    ).fetchone()
    portfolio = Portfolio(0.0)
    fills = charges_paise = unpriced = 0
    for fill_id, tag, symbol, side, qty, price, ts_ns, paise, reason in conn.execute(
        "SELECT f.fill_id, f.tag, f.symbol, f.side, f.quantity, f.price, f.ts_ns, "
        "f.charges_paise, COALESCE(o.reason, '') FROM fills f LEFT JOIN orders o "
        "ON o.tag = f.tag WHERE f.run_id = ? ORDER BY f.seq",
        (run_id,),
    ):
        # an option that lapsed at expiry closed at zero: its order's reason says so
        lapse = expiry_settlement.kind_of(reason) is SettlementKind.LAPSE
        portfolio.apply_fill(
            Fill(fill_id, tag, symbol, Side(side), int(qty), float(price), ts_ns, "", Product.MIS),
            lapse=lapse,
        )
        fills += 1
        if paise is None:
            unpriced += 1
        else:
            charges_paise += int(paise)
    return RunLine(
        run_id=run_id,
        mode=mode,
        config=config,
        status=status,
        restarts=restarts,
        started=format_ist(started_ns)[:16],
        data_from=format_ist(first_ns)[:10] if first_ns else "",
        data_to=format_ist(cursor_ns)[:10] if cursor_ns else "",
        orders=orders,
        fills=fills,
        open_positions=len(portfolio.open_positions()),
        realized_pnl=portfolio.realized_paise / 100,
        charges=charges_paise / 100,
        net_pnl=(portfolio.realized_paise - charges_paise) / 100,
        unpriced_fills=unpriced,
        failure=_failure(conn, run_id) if status == "FAILED" else "",
    )


def _failure(conn: sqlite3.Connection, run_id: str) -> str:
    """The first ``SupervisorFailed`` of a run: why it failed (or was refused)."""
    row = conn.execute(
        "SELECT message FROM events WHERE run_id = ? AND kind = 'SupervisorFailed' "
        "ORDER BY id LIMIT 1",
        (run_id,),
    ).fetchone()
    return row[0] if row else ""


def render(lines: list[RunLine], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(line) for line in lines], indent=2)
    if not lines:
        return "no runs"
    head = (
        "run", "mode", "status", "restarts", "data", "orders", "fills", "open",
        "gross ₹", "charges ₹", "net ₹",
    )  # fmt: skip
    rows = [
        (
            line.run_id,
            line.mode,
            line.status,
            str(line.restarts),
            _span(line),
            str(line.orders),
            str(line.fills),
            str(line.open_positions),
            f"{line.realized_pnl:,.2f}",
            f"{line.charges:,.2f}",
            f"{line.net_pnl:,.2f}" + ("*" if line.unpriced_fills else ""),
        )
        for line in lines
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    right = {3, 5, 6, 7, 8, 9, 10}

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    table = [fmt(head), *(fmt(r) for r in rows)]
    table += [f"{line.run_id} failed: {line.failure}" for line in lines if line.failure]
    unpriced = sum(line.unpriced_fills for line in lines)
    if unpriced:
        table.append(f"* {unpriced} fills were journaled without charges: that net leaves them out")
    return "\n".join(table)


def _span(line: RunLine) -> str:
    if not line.data_from:
        return "-"
    return line.data_from if line.data_from == line.data_to else f"{line.data_from}..{line.data_to}"
