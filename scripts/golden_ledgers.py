#!/usr/bin/env python
"""Golden ledgers: what the bundled replays decide, as hashes to compare across changes.

    python scripts/golden_ledgers.py [--out FILE] [--check FILE] [--hold-rows]

A refactor must not change a single decision. This runs the embedded demo config and two
variants (only exits on an opposite signal; the seed strategies on the bank stocks) at
full speed into temporary databases, dumps each run's ledger in a canonical order —
orders (with their terms and final state), fills, signals and risk decisions, without the
tags and fill ids that derive from the random run id — and prints one sha256 per table
per config. ``--out`` saves them as JSON; ``--check`` compares with a saved file and
exits 1 on any difference, naming the config and table.

Signals: a HOLD that changes nothing is counted per day, engine, symbol and reason
(``hold_counts``, schema 6), not journaled as a row, so ``signals`` hashes the signal
rows and ``holds`` the counts. With ``--hold-rows`` the runs keep a row per HOLD
(``journal.hold_rows: true``) and ``signals`` hashes every signal as kitetui journaled
them before schema 6 (``holds`` is then empty). ``--check`` compares the tables both
sides have and names the ones only one side has; a file saved before schema 6 has the
per-bar ``signals`` only, so check it with ``--hold-rows`` for all four tables, or
without for orders, fills and decisions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "kitetui" / "data" / "dev.yaml"

QUERIES = {
    "orders": "SELECT symbol, side, quantity, order_type, purpose, status, filled_qty, "
    "avg_price, price, trigger_price, stop_price, ts_ns FROM orders "
    "ORDER BY ts_ns, symbol, purpose, side, quantity, status",
    "fills": "SELECT symbol, side, quantity, price, ts_ns FROM fills "
    "ORDER BY ts_ns, symbol, side, quantity, price",
    "signals": "SELECT ts_ns, engine, strategy, symbol, kind, price, reason, confidence "
    "FROM signals ORDER BY ts_ns, engine, symbol",
    "decisions": "SELECT ts_ns, engine, symbol, purpose, side, requested_qty, verdict, "
    "quantity, rule, reason FROM risk_decisions ORDER BY ts_ns, engine, symbol, purpose, id",
    "holds": "SELECT trading_day, engine, symbol, reason, holds, first_ts_ns, last_ts_ns "
    "FROM hold_counts ORDER BY trading_day, engine, symbol, reason",
}
# What a file saved before schema 6 holds of a run journaled with HOLD counts: the
# per-bar HOLD rows are gone, so its ``signals`` are not comparable to these.
NOT_COMPARABLE = {"signals"}


def _variants(folder: Path, hold_rows: bool) -> dict[str, Path]:
    demo = yaml.safe_load(DEMO.read_text())
    exit_only = {**demo, "exits": {"on_opposite_signal": "exit_only"}}
    seeds = yaml.safe_load(DEMO.read_text())
    seeds["replay"]["sources"] = [s for s in seeds["replay"]["sources"] if s.get("kind") is None]
    seeds["engines"] = [
        {
            "name": name,
            "kind": "equity",
            "symbols": [symbol],
            "product": "MIS",
            "timeframe": "5m",
            "margin_rate": 0.2,
            "strategy": strategy,
        }
        for name, symbol, strategy in (
            ("st", "HDFCBANK", "supertrend"),
            ("rsi", "ICICIBANK", "rsi_pullback"),
            ("vwap", "SBIN", "vwap_filter"),
            ("vol", "KOTAKBANK", "vol_regime"),
            ("htf", "AXISBANK", "htf_trend"),
        )
    ]
    configs = {"demo": demo, "exit_only": exit_only, "seed_strategies": seeds}
    paths = {}
    for name, data in configs.items():
        data["replay"]["speed"] = "max"
        if hold_rows:
            data["journal"] = {**data.get("journal", {}), "hold_rows": True}
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(yaml.safe_dump(data))
    return paths


def ledger_hashes(config: Path, db: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui",
         "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{config.name}: exit {done.returncode}: {done.stderr[-2000:]}")
    hashes = {}
    with sqlite3.connect(db) as conn:
        for table, sql in QUERIES.items():
            rows = conn.execute(sql).fetchall()
            digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
            hashes[table] = f"{len(rows)} rows {digest[:16]}"
    return hashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="save the hashes as JSON")
    parser.add_argument("--check", type=Path, help="compare with saved hashes")
    parser.add_argument(
        "--hold-rows", action="store_true", help="journal every HOLD as a row (as before schema 6)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {
            name: ledger_hashes(path, folder / f"{name}.db")
            for name, path in _variants(folder, args.hold_rows).items()
        }
    for name, tables in result.items():
        for table, value in tables.items():
            print(f"{name:16} {table:10} {value}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    if args.check:
        saved = json.loads(args.check.read_text())
        differences, unmatched = [], []
        for name, tables in result.items():
            theirs = saved.get(name)
            if theirs is None:
                differences.append(f"{name}: not in {args.check}")
                continue
            old_format = "holds" not in theirs  # saved before schema 6
            for table, value in tables.items():
                if table not in theirs:
                    unmatched.append(f"{name}.{table} (not in {args.check})")
                elif old_format and table in NOT_COMPARABLE and not args.hold_rows:
                    unmatched.append(f"{name}.{table} (per-bar HOLD rows there: use --hold-rows)")
                elif theirs[table] != value:
                    differences.append(f"{name}.{table}: {theirs[table]} -> {value}")
            for table in sorted(set(theirs) - set(tables)):
                differences.append(f"{name}.{table}: not computed any more")
        for line in unmatched:
            print(f"NOT COMPARED {line}")
        for line in differences:
            print(f"DIFFERENT {line}")
        compared = sum(len(t) for t in result.values()) - len(unmatched)
        print(f"{compared} compared, {len(differences)} different, {len(unmatched)} not compared")
        return 1 if differences else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
