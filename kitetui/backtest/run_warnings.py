"""Why a run traded little or nothing, for the report's ``warnings`` (and so the
terminal summary and the HTML): the run's own failure, an engine that failed, data for
symbols no master lists, configured symbols that never had data or have no contract in
the master, contracts chosen that no data feeds, engines that had nothing to trade,
entries blocked for want of a premium quote. Each is one line, counted, from the run's
journal; none of them is the data's own warning (``ledger._data_warnings``), and
without them a run of 0 trades said nothing of why (probe B 6, 11; k33).
"""

from __future__ import annotations

import json
import sqlite3

from kitetui.events import EventKind

__all__ = ["run_warnings"]

_NAMED_AT_MOST = 5  # symbols named on a line; the rest are counted


def run_warnings(conn: sqlite3.Connection, run_id: str) -> list[str]:
    """The run's own warnings, one line per kind, in the order a reader asks them."""
    lines = [
        _run_failure(conn, run_id),
        _engine_failures(conn, run_id),
        _unknown_symbols(conn, run_id),
        _never_had_data(conn, run_id),
        _instrument_missing(conn, run_id),
        _contracts_without_data(conn, run_id),
        _engines_idle(conn, run_id),
        _no_quote(conn, run_id),
    ]
    return [line for line in lines if line]


def _named(symbols: list[str]) -> str:
    shown = ", ".join(symbols[:_NAMED_AT_MOST])
    more = len(symbols) - _NAMED_AT_MOST
    return shown + (f" (+{more:,} more)" if more > 0 else "")


def _run_failure(conn: sqlite3.Connection, run_id: str) -> str:
    """Why the run itself failed (its data refused, say): the first ``SupervisorFailed``."""
    row = conn.execute(
        "SELECT message FROM events WHERE run_id = ? AND kind = ? ORDER BY id LIMIT 1",
        (run_id, EventKind.SUPERVISOR_FAILED),
    ).fetchone()
    return f"the run failed (SupervisorFailed): {row[0]}" if row else ""


def _engine_failures(conn: sqlite3.Connection, run_id: str) -> str:
    count, first = conn.execute(
        "SELECT count(*), (SELECT message FROM events WHERE run_id = ?1 AND kind = ?2 "
        "ORDER BY id LIMIT 1) FROM events WHERE run_id = ?1 AND kind = ?2",
        (run_id, EventKind.ENGINE_FAILED),
    ).fetchone()
    if not count:
        return ""
    return f"{count:,} engine failure(s) (EngineFailed), the first: {first}"


def _unknown_symbols(conn: sqlite3.Connection, run_id: str) -> str:
    symbols = [
        symbol
        for (symbol,) in conn.execute(
            "SELECT symbol FROM events WHERE run_id = ? AND kind = ? GROUP BY symbol "
            "ORDER BY min(id)",
            (run_id, EventKind.UNKNOWN_SYMBOL),
        )
    ]
    if not symbols:
        return ""
    return (
        f"{len(symbols):,} symbol(s) not in the instrument master, their data skipped "
        f"(UnknownSymbol): {_named(symbols)}"
    )


def _never_had_data(conn: sqlite3.Connection, run_id: str) -> str:
    """Symbols an engine was given that were left out for want of data on every day
    it chose (``UniverseSelected``'s ``rejected``: ``"HDFCBANK: no data"``)."""
    without: dict[str, None] = {}
    selected: set[str] = set()
    for (data,) in conn.execute(
        "SELECT data FROM events WHERE run_id = ? AND kind = ? ORDER BY id",
        (run_id, EventKind.UNIVERSE_SELECTED),
    ):
        choice = _mapping(data)
        selected.update(str(symbol) for symbol in choice.get("selected") or ())
        for line in choice.get("rejected") or ():
            symbol, _, why = str(line).partition(": ")
            if why == "no data":
                without.setdefault(symbol)
    never = [symbol for symbol in without if symbol not in selected]
    if not never:
        return ""
    return f"{len(never):,} configured symbol(s) never had data (UniverseSelected): " + _named(
        never
    )


def _instrument_missing(conn: sqlite3.Connection, run_id: str) -> str:
    """Symbols an engine was given with no contract to trade in the masters (a future
    that expired, an equity symbol misspelt): journaled as WARNING each session, and
    without this line a run that quietly traded less than configured said nothing."""
    rows = conn.execute(
        "SELECT symbol, message FROM events WHERE run_id = ? AND kind = ? "
        "GROUP BY symbol ORDER BY min(id)",
        (run_id, EventKind.INSTRUMENT_MISSING),
    ).fetchall()
    if not rows:
        return ""
    first = conn.execute(
        "SELECT message FROM events WHERE run_id = ? AND kind = ? ORDER BY id LIMIT 1",
        (run_id, EventKind.INSTRUMENT_MISSING),
    ).fetchone()[0]
    return (
        f"{len(rows):,} symbol(s) an engine was given have no contract to trade "
        f"(InstrumentMissing): {_named([symbol for symbol, _ in rows])}; the first: {first}"
    )


def _contracts_without_data(conn: sqlite3.Connection, run_id: str) -> str:
    """Contracts an engine resolved (a future) that no data source feeds: it waits all
    day for a price that never comes."""
    symbols = [
        symbol
        for (symbol,) in conn.execute(
            "SELECT symbol FROM events WHERE run_id = ? AND kind = ? GROUP BY symbol "
            "ORDER BY min(id)",
            (run_id, EventKind.NO_DATA_FOR_CONTRACT),
        )
    ]
    if not symbols:
        return ""
    return (
        f"{len(symbols):,} contract(s) an engine chose to trade have no data "
        f"(NoDataForContract): {_named(symbols)}"
    )


def _engines_idle(conn: sqlite3.Connection, run_id: str) -> str:
    """Sessions an engine began with nothing to trade (``EngineIdle``: NO CONTRACTS,
    IDLE), counted per engine, in the order they first happened."""
    rows = conn.execute(
        "SELECT engine, count(*) FROM events WHERE run_id = ? AND kind = ? "
        "GROUP BY engine ORDER BY min(id)",
        (run_id, EventKind.ENGINE_IDLE),
    ).fetchall()
    if not rows:
        return ""
    first = conn.execute(
        "SELECT message FROM events WHERE run_id = ? AND kind = ? ORDER BY id LIMIT 1",
        (run_id, EventKind.ENGINE_IDLE),
    ).fetchone()[0]
    total = sum(count for _, count in rows)
    each = ", ".join(f"{engine} {count:,}" for engine, count in rows)
    return (
        f"nothing to trade on {total:,} engine session(s) (EngineIdle): {each}; the first: {first}"
    )


def _no_quote(conn: sqlite3.Connection, run_id: str) -> str:
    (count,) = conn.execute(
        "SELECT count(*) FROM events WHERE run_id = ? AND kind = ? "
        "AND json_valid(data) AND json_extract(data, '$.rule') = 'no_quote'",
        (run_id, EventKind.RISK_BLOCKED),
    ).fetchone()
    if not count:
        return ""
    return (
        f"{count:,} entry(ies) blocked for want of an option premium quote "
        "(RiskBlocked no_quote): no option data, or no listed expiry, for those days?"
    )


def _mapping(data: str) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
