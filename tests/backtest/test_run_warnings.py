"""The report's warnings say why a run traded little or nothing (probe B 6), and say
each data warning once however often a resumed run journaled it (probe C 6)."""

from __future__ import annotations

import json
import sqlite3

from kitetui.backtest.ledger import _data_warnings
from kitetui.backtest.run_warnings import run_warnings


def _journal(*events: tuple[str, str, str, str, dict]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, ts_ns INTEGER "
        "NOT NULL, kind TEXT NOT NULL, level TEXT NOT NULL, symbol TEXT NOT NULL, engine "
        "TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL)"
    )
    conn.executemany(
        "INSERT INTO events (run_id, ts_ns, kind, level, symbol, engine, message, data) "
        "VALUES ('R', 0, ?, ?, ?, 'eq', ?, ?)",
        [
            (kind, level, symbol, message, json.dumps(data))
            for kind, level, symbol, message, data in events
        ],
    )
    return conn


def test_a_run_that_traded_nothing_says_why_in_one_counted_line_per_kind() -> None:
    failed = "engine eq stopped on an unexpected error: ValueError: htf_trend: bad bars"
    conn = _journal(
        ("EngineFailed", "ERROR", "", failed, {}),
        ("EngineFailed", "ERROR", "", "engine eq stopped on an unexpected error: later", {}),
        *[
            ("UnknownSymbol", "WARNING", f"NIFTY2211241{n}CE", "not in the master", {})
            for n in range(7)
        ],
        ("UnknownSymbol", "WARNING", "NIFTY22112410CE", "not in the master", {}),
        *[
            (
                "UniverseSelected",
                "INFO",
                "",
                "1 symbols: SBIN; 2 left out",
                {"selected": selected, "rejected": ["HDFCBANK: no data", "ICICIBANK: no data"]},
            )
            for selected in (["SBIN"], ["SBIN", "ICICIBANK"])
        ],
        *[
            ("RiskBlocked", "WARNING", "X", "ENTRY BUY 0: no premium quote", {"rule": "no_quote"})
            for _ in range(3)
        ],
        ("RiskBlocked", "WARNING", "X", "ENTRY BUY 1: halted", {"rule": "halted"}),
    )
    assert run_warnings(conn, "R") == [
        f"2 engine failure(s) (EngineFailed), the first: {failed}",
        "7 symbol(s) not in the instrument master, their data skipped (UnknownSymbol): "
        "NIFTY22112410CE, NIFTY22112411CE, NIFTY22112412CE, NIFTY22112413CE, "
        "NIFTY22112414CE (+2 more)",
        "1 configured symbol(s) never had data (UniverseSelected): HDFCBANK",
        "3 entry(ies) blocked for want of an option premium quote (RiskBlocked no_quote): "
        "no option data, or no listed expiry, for those days?",
    ]


def test_a_quiet_run_has_no_run_warnings() -> None:
    conn = _journal(
        ("UniverseSelected", "INFO", "", "1 symbols: SBIN", {"selected": ["SBIN"], "rejected": []})
    )
    assert run_warnings(conn, "R") == []


def test_a_data_warning_journaled_again_by_a_resume_is_said_once() -> None:
    outside = ("TickOutsideSession", "WARNING", "", "a.csv: 3 tick(s) outside the session", {})
    other = ("TickOutsideSession", "WARNING", "", "b.csv: 1 tick(s) outside the session", {})
    gap = ("DataGap", "WARNING", "", "no data for 5 min", {})
    conn = _journal(outside, other, gap, outside, other, gap)
    assert _data_warnings(conn, "R") == [
        "TickOutsideSession: a.csv: 3 tick(s) outside the session",
        "TickOutsideSession: b.csv: 1 tick(s) outside the session",
        "2 gap(s) in the data (DataGap)",
    ]
