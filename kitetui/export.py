"""`kitetui export`: one table of a run as CSV, from any kitetui database, read-only.

A trader takes the journal elsewhere (a spreadsheet, a tax tool, a notebook). Orders,
fills, round trips and the equity curve come out exactly as the backtest report writes
them (``kitetui.backtest.files``: IST times with ``+05:30``, each fill's charges by
component, net and gross), so the same run gives the same rows whichever command wrote
them; signals, HOLD counts and events come straight from their tables. The database is opened
read-only (``immutable`` when no WAL is beside it), so exporting beside a running desk
changes nothing; the file written is private to its user.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import sqlite3
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from kitetui.backtest.build import Report, build_report
from kitetui.backtest.errors import OutputError
from kitetui.backtest.files import (
    csv_text,
    equity_csv,
    fills_csv,
    iso_ist,
    orders_csv,
    trades_csv,
)
from kitetui.backtest.ledger import find_run, load_ledger, open_read_only
from kitetui.private_files import write_private
from kitetui.shown import escaped
from kitetui.store.database import SQLITE_BESIDE

_FROM_REPORT: dict[str, Callable[[Report], str]] = {
    "orders": orders_csv,
    "fills": fills_csv,
    "trades": trades_csv,
    "equity": equity_csv,
}
WHATS = (*_FROM_REPORT, "signals", "events", "holds")


def export(
    database: Path,
    run: str,
    what: str,
    out: str,
    stdout: TextIO = sys.stdout,
) -> str:
    """Write ``what`` of ``run`` (an id, a unique prefix or ``latest``) as CSV to ``out``
    (a path, or ``-`` for standard output); returns the run's id. A symlink at ``out``
    is refused, also one the user named: writing through it made its target 0600 and
    overwrote it (``kitetui.private_files``: report and sweep files refuse one too)."""
    if what in _FROM_REPORT:
        report = build_report(load_ledger(database, run))
        run_id, text = report.run_id, _FROM_REPORT[what](report)
    else:
        conn = open_read_only(database)
        try:
            run_id = find_run(conn, run).run_id
            text = _TABLES[what](conn, run_id)
        finally:
            conn.close()
    if out == "-":  # a terminal, most likely: a broker's reason must not repaint it
        stdout.write(_escaped_fields(text))
        return run_id
    if not is_writable_file(Path(out)):  # before anything opens it: a FIFO would block
        raise OutputError(f"{out}: is not a regular file; an export writes a file")
    if is_database(Path(out), database):
        raise OutputError(
            f"{out}: is a database or a file the desk keeps beside one; an export never replaces it"
        )
    if Path(out).is_symlink():
        raise OutputError(f"{out}: {_LINK}")
    try:
        write_private(Path(out), text)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # planted after the check above
            raise OutputError(f"{out}: {_LINK}") from None
        raise OutputError(f"{out}: cannot write the export ({exc.strerror or exc})") from None
    return run_id


_LINK = "is a symbolic link; an export never writes through one (name the file it points at)"


def _escaped_fields(text: str) -> str:
    """The CSV with every field ``escaped``: still one row a line and valid CSV, with a
    newline or an ESC in a reason written as ``\\n`` / ``\\x1b`` (a file keeps them)."""
    rows = [[escaped(field) for field in row] for row in csv.reader(io.StringIO(text))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


# What SQLite and the desk keep beside a database (``-seal``: its chain's seal).
_BESIDE = (*SQLITE_BESIDE, "-seal", ".lock", ".sock")


def is_writable_file(path: Path) -> bool:
    """Whether ``path`` is a regular file or nothing yet. A FIFO, a device or a socket
    is not an export's place: opening a FIFO blocks until someone reads it (a desk's
    worker thread held for good), and a device would be written, its mode changed, and
    an endless one read back to count its rows."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def is_database(path: Path, database: Path) -> bool:
    """Whether writing ``path`` would clobber a journal: the database itself or a file
    beside it that SQLite or the desk keeps, under any name (a symlink, a hard link: the
    same file), or any SQLite file at all (a typo must never truncate a ledger)."""
    target = path.resolve()
    db = database.resolve()
    if target == db or (target.parent == db.parent and target.name.startswith(db.name)):
        return True
    kept = [db, *(db.with_name(db.name + suffix) for suffix in _BESIDE)]
    try:
        if any(
            target.exists() and kept_file.exists() and target.samefile(kept_file)
            for kept_file in kept
        ):
            return True
        with target.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _signals(conn: sqlite3.Connection, run_id: str) -> str:
    rows = conn.execute(
        "SELECT ts_ns, signal_id, engine, strategy, symbol, timeframe_s, kind, price, reason, "
        "confidence, indicators FROM signals WHERE run_id = ? ORDER BY ts_ns, rowid",
        (run_id,),
    )
    header = ("ts", "signal_id", "engine", "strategy", "tradingsymbol", "timeframe_s", "kind",
              "price", "reason", "confidence", "indicators")  # fmt: skip
    return csv_text(header, ((iso_ist(r[0]), *r[1:]) for r in rows))


def _holds(conn: sqlite3.Connection, run_id: str) -> str:
    """The HOLDs that changed nothing, counted per day, engine, symbol and reason
    (kitetui/store/holds.py); none in a database from before schema 6, whose HOLDs are
    signal rows."""
    header = ("trading_day", "engine", "tradingsymbol", "reason", "holds", "first_ts", "last_ts")
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hold_counts'"
    ).fetchone()
    if exists is None:
        return csv_text(header, ())
    rows = conn.execute(
        "SELECT trading_day, engine, symbol, reason, holds, first_ts_ns, last_ts_ns "
        "FROM hold_counts WHERE run_id = ? ORDER BY trading_day, engine, symbol, reason",
        (run_id,),
    )
    return csv_text(header, ((*r[:5], iso_ist(r[5]), iso_ist(r[6])) for r in rows))


def _events(conn: sqlite3.Connection, run_id: str) -> str:
    rows = conn.execute(
        "SELECT ts_ns, kind, level, engine, symbol, message, data FROM events "
        "WHERE run_id = ? ORDER BY id",
        (run_id,),
    )
    header = ("ts", "kind", "level", "engine", "tradingsymbol", "message", "data")
    return csv_text(header, ((_when(r[0]), *r[1:6], _compact(r[6])) for r in rows))


def _when(ts_ns: int) -> str:
    return iso_ist(ts_ns) if ts_ns > 0 else ""


def _compact(data: str) -> str:
    """The event's JSON payload on one line (as stored, if it is not JSON)."""
    try:
        return json.dumps(json.loads(data), separators=(",", ":"), sort_keys=True)
    except ValueError:
        return data


_TABLES: dict[str, Callable[[sqlite3.Connection, str], str]] = {
    "signals": _signals,
    "events": _events,
    "holds": _holds,
}
