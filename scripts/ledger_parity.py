#!/usr/bin/env python
"""Ledger parity on a generated year: full speed vs a paced replay, same orders and fills.

    .venv/bin/python scripts/ledger_parity.py [--symbols 2] [--days 250] [--speed 100000]
                                              [--keep DIR] [--seed 13]

Generates ``--symbols`` x ``--days`` of 1-minute GBM bars (``bench_peers.make_data``:
the benchmark's own data, config and instrument master), then runs
``kitetui run --no-ui`` twice on them: ``--speed max`` (the backtest path: engines inline,
nothing sleeps) and ``--speed N`` (a paced replay: an engine task each, the pacer
sleeping between batches; at 100,000x a trading day paces in 0.225 s, so a year takes a
minute or more). Compares the two journals' orders, fills, risk decisions, signals and
equity curve (without the tags and fill ids, which derive from the run id) and exits 1
naming the first difference. tests/supervisor/test_ledger_parity.py is the small version.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_peers import make_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.demo_session import LEDGER  # the parity test's own ledger queries


def run(config: Path, db: Path, speed: str) -> tuple[dict[str, list[tuple]], float]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui"]
    done = subprocess.run(
        [*command, "--speed", speed, "--db", str(db)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"--speed {speed}: exit {done.returncode}: {done.stderr[-2000:]}")
    with sqlite3.connect(db) as conn:
        ledger = {table: conn.execute(sql).fetchall() for table, sql in LEDGER.items()}
    return ledger, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--speed", default="100000", help="the paced run's speed (default 100000)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", help="generate into this (new) folder and keep it")
    args = parser.parse_args()
    holder = None
    if args.keep:
        root = Path(args.keep)
        root.mkdir(parents=True)
    else:
        holder = tempfile.TemporaryDirectory(prefix="kitetui-parity-")
        root = Path(holder.name)
    try:
        data = make_data(root, args.symbols, args.days, args.seed)
        print(f"{args.symbols} symbols x {args.days} days = {data.bars:,} 1-minute bars")
        fast, fast_s = run(data.config, root / "fast.db", "max")
        print(f"speed max: {fast_s:.1f} s")
        paced, paced_s = run(data.config, root / "paced.db", args.speed)
        print(f"speed {args.speed}: {paced_s:.1f} s")
        differences = 0
        for table in LEDGER:
            a, b = fast[table], paced[table]
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            same = len(a) == len(b) and first is None
            print(f"{table:10} {len(a):>9,} rows  {'same' if same else 'DIFFERENT'}")
            if not same:
                differences += 1
                if first is not None:
                    print(f"  first difference at row {first}: {a[first]} != {b[first]}")
                else:
                    print(f"  {len(a)} rows at full speed, {len(b)} paced")
        return 1 if differences else 0
    finally:
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
