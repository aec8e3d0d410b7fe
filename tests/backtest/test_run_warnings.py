"""The report's warnings say why a run traded little or nothing (probe B 6), and say
each data warning once however often a resumed run journaled it (probe C 6)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cli_helpers import run_kitetui

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


def test_engines_with_nothing_to_trade_are_one_counted_line() -> None:
    """probe k33: a backtest whose fno engine found no BANKNIFTY future in the master
    traded nothing, and its summary and report.json said nothing of why (the engine's
    ``EngineIdle`` and ``InstrumentMissing`` warnings stayed in the journal)."""
    missing = "no futures listed for NFO:BANKNIFTY in the master"
    conn = _journal(
        *[("InstrumentMissing", "WARNING", "BANKNIFTY", missing, {}) for _ in range(3)],
        *[("EngineIdle", "WARNING", "", f"NO CONTRACTS: {missing}", {}) for _ in range(3)],
    )
    assert run_warnings(conn, "R") == [
        f"1 symbol(s) an engine was given have no contract to trade (InstrumentMissing): "
        f"BANKNIFTY; the first: {missing}",
        f"nothing to trade on 3 engine session(s) (EngineIdle): eq 3; the first: "
        f"NO CONTRACTS: {missing}",
    ]


MISSPELT = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - {symbol: SBIN, path: "pkg:replay/SBIN.csv.gz"}
instruments:
  - "pkg:replay/nse_instruments.csv"
engines:
  - name: equity
    kind: equity
    symbols: [SBIN, ICICIBNK]
    timeframe: 3m
    strategy: mean_reversion
"""


def test_a_misspelt_equity_symbol_is_said_by_check_config_and_the_backtest(
    tmp_path: Path,
) -> None:
    """probe k33: ``symbols: [SBIN, ICICIBNK]`` (ICICIBANK misspelt: no master lists it)
    passed check-config as "ok" and the backtest traded SBIN alone without a word: the
    left-out symbol was an INFO line in one ``UniverseSelected`` event."""
    config = tmp_path / "c.yaml"
    config.write_text(MISSPELT)
    checked = run_kitetui("check-config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert (
        "warning: InstrumentMissing: ICICIBNK (engines[0].symbols[1]) is not in the "
        "instrument masters: engine equity will never trade it"
    ) in checked.stderr.splitlines()
    out = tmp_path / "rep"
    done = run_kitetui(
        "backtest", "-c", str(config), "--from", "2023-04-05", "--to", "2023-04-05",
        "--db", str(tmp_path / "bt.db"), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    said = [w for w in warnings if "(InstrumentMissing)" in w]
    assert said and said[0].startswith(
        "1 symbol(s) an engine was given have no contract to trade (InstrumentMissing): "
        "ICICIBNK; the first: ICICIBNK is not in the instrument master"
    ), warnings
    assert "ICICIBNK" in done.stdout


def test_a_contract_resolved_without_data_is_one_counted_line() -> None:
    """probe k33: an fno engine whose near future (NIFTY22NOVFUT) had no data source
    traded nothing all day; the summary said nothing of why (``NoDataForContract``
    was a journal-only WARNING)."""
    conn = _journal(
        *[
            ("NoDataForContract", "WARNING", "NIFTY22NOVFUT", "NIFTY22NOVFUT has no data feed", {})
            for _ in range(2)
        ],
        ("NoDataForContract", "WARNING", "NIFTY22DECFUT", "NIFTY22DECFUT has no data feed", {}),
    )
    assert run_warnings(conn, "R") == [
        "2 contract(s) an engine chose to trade have no data (NoDataForContract): "
        "NIFTY22NOVFUT, NIFTY22DECFUT"
    ]
