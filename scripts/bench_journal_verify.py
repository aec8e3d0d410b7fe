#!/usr/bin/env python
"""What start-up verification costs: every checksum chain over a million money rows.

    python scripts/bench_journal_verify.py [--rows 1000000] [--repeats 5] [--keep PATH]

A benchmark, not a test: it prints figures, each saying what it measures; progress goes
to stderr; the database lives in a temporary directory (``--keep`` copies it out).

The database is one kitetui database built the way kitetui builds one: created by
``open_database`` (schema 3), then the rows bulk-inserted with plain sqlite3 unsealed
(``chk = x''``, as every writer leaves them) and sealed by the store's own
``chain.seal`` in one transaction, exactly as a journal transaction seals its rows.
The mix is the demo replay's (``kitetui run --no-ui --speed max``: 115 orders, 345
order events, 86 fills): 21 % orders, 63 % order events, 16 % fills, plus one run and
its risk state. Row values look like real ones (17-character tags, NIFTY option
symbols, prices with paise, nanosecond timestamps).

Figures, each the median of ``--repeats`` runs with the page cache warm (the first run
is reported separately, since the file has just been written it is warm too):

* ``verify_chain`` per table: the streaming pass alone on one core (one SELECT, one
  BLAKE2b per checksum, two for a row that can change) in rows/s;
* ``verify_database`` in full (``trust_seal=False``): everything start-up checks before
  the writer opens after a crash or on a file it did not close: SQLite's
  ``quick_check``, the schema against the migrations, the run rows and every chain —
  on one core (``workers=1``), and as start-up runs it, the chains cut into slices
  verified by one child process per core (parallel.py);
* the same on a file that matches its clean-close seal (seal.py), what a clean restart
  pays: one SHA-256 of the file, the schema and the run rows;
* ``open_database`` then ``close`` on the sealed file: verify, open the writer, and
  re-seal on close: the whole cost of a clean stop and start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from benchlib.desk import temp_db
from benchlib.procs import REPO
from benchlib.report import log
from benchlib.stats import median

sys.path.insert(0, str(REPO))

from kitetui.store.chain import CHAINED, ChainHead, seal, verify_chain
from kitetui.store.database import open_database
from kitetui.store.verify import verify_database
from kitetui.trading.risk import RiskEngine, RiskLimits

RUN = "20221118T034500-a1b2c3"
MIX = {"orders": 0.21, "order_events": 0.63, "fills": 0.16}


def build(path: Path, total: int) -> dict[str, int]:
    """A kitetui database with ``total`` money rows in the demo's mix, sealed."""
    asyncio.run(_create(path))
    n_orders = int(total * MIX["orders"])
    n_events = int(total * MIX["order_events"])
    n_fills = total - n_orders - n_events
    rng = random.Random(20221118)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN")
    con.execute(
        "INSERT INTO runs (run_id, mode, config_path, config_hash, status, started_wall_ns) "
        "VALUES (?, 'replay', 'kitetui/data/dev.yaml', 'f3a9c2d1e0b4a5c6', 'RUNNING', ?)",
        (RUN, time.time_ns()),
    )
    risk = RiskEngine(RiskLimits(25_000, 10_000, 5, 4, 6_000_000, 3_000_000, 10_000))
    risk.entries_today.update({"NIFTY22NOV18300CE": 2, "HDFCBANK": 1})
    con.execute(
        "INSERT INTO risk_state (run_id, state, updated_ns) VALUES (?, ?, ?)",
        (RUN, json.dumps(risk.to_state()), time.time_ns()),
    )
    t0 = 1_668_742_500_000_000_000
    tags = [f"{rng.getrandbits(85):017X}"[:17] for _ in range(n_orders)]
    con.executemany(
        "INSERT INTO orders (tag, run_id, engine, symbol, exchange, side, quantity, "
        "order_type, product, purpose, status, ts_ns, price, trigger_price, stop_price, "
        "filled_qty, avg_price, broker_order_id, signal_id, reason, validity, variety, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                tag,
                RUN,
                "options",
                f"NIFTY22NOV{18000 + 50 * (i % 20)}{'CE' if i % 2 else 'PE'}",
                "NFO",
                "BUY" if i % 2 else "SELL",
                50 * (1 + i % 4),
                "MARKET" if i % 3 else "SL-M",
                "MIS",
                ("ENTRY", "STOP", "EXIT")[i % 3],
                "COMPLETE",
                t0 + i * 1_000_000_000,
                0.0,
                round(100 + rng.random() * 50, 2),
                round(90 + rng.random() * 50, 2),
                50 * (1 + i % 4),
                round(100 + rng.random() * 50, 2),
                f"2211180{i:08d}",
                f"options-a1b2c3-{i}",
                "ema_cross 5/13 crossed up" if i % 3 == 0 else "",
                "DAY",
                "regular",
                i + 1,
            )
            for i, tag in enumerate(tags)
        ),
    )
    statuses = ("NEW", "OPEN", "COMPLETE")
    con.executemany(
        "INSERT INTO order_events (tag, ts_ns, status, reason) VALUES (?, ?, ?, ?)",
        (
            (tags[(i // 3) % n_orders], t0 + i * 333_000_000, statuses[i % 3], "")
            for i in range(n_events)
        ),
    )
    con.executemany(
        "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, price, "
        "product, ts_ns, clock_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                f"{tags[i % n_orders]}-{1 + i // n_orders}",
                i + 1,
                RUN,
                tags[i % n_orders],
                "options",
                f"NIFTY22NOV{18000 + 50 * (i % 20)}CE",
                "BUY" if i % 2 else "SELL",
                50,
                round(100 + rng.random() * 50, 2),
                "MIS",
                t0 + i * 1_000_000_000,
                t0 + i * 1_000_000_000,
            )
            for i in range(n_fills)
        ),
    )
    con.execute("COMMIT")
    con.close()
    asyncio.run(_seal(path))
    return {"orders": n_orders, "order_events": n_events, "fills": n_fills}


async def _create(path: Path) -> None:
    db = await open_database(path)
    await db.close()


async def _seal(path: Path) -> None:
    import aiosqlite

    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await db.execute("BEGIN IMMEDIATE")
        sealed = await seal(db, [t.name for t in CHAINED])
        await db.commit()
    finally:
        await db.close()
    log(f"sealed {sealed:,} rows")


def time_chains(path: Path) -> dict[str, tuple[int, float, float]]:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    heads = {
        r[0]: ChainHead(r[1], r[2], r[3])
        for r in con.execute("SELECT tbl, rows, head, last_rowid FROM chain_heads")
    }
    (identity,) = con.execute("SELECT db_id FROM kitetui_identity").fetchone()
    out = {}
    for table in CHAINED:
        columns = [r[1] for r in con.execute(f"PRAGMA table_info({table.name})")]
        head = heads.get(table.name) or ChainHead.empty(table.name, identity)
        started, cpu = time.perf_counter(), time.process_time()
        rows = verify_chain(con, table, columns, head, identity)
        out[table.name] = (rows, time.perf_counter() - started, time.process_time() - cpu)
    con.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=1_000_000, help="money rows (default 1e6)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="copy the built database here")
    args = parser.parse_args()
    load = os.getloadavg()
    started_load = load
    print(
        f"# bench_journal_verify  python {sys.version.split()[0]}  sqlite "
        f"{sqlite3.sqlite_version}  nproc {os.cpu_count()}  "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    with temp_db("state.db", prefix="bench-journal-verify-") as path:
        log(f"building {args.rows:,} money rows ...")
        started = time.perf_counter()
        counts = build(path, args.rows)
        size = path.stat().st_size
        mix = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        print(
            f"database: {sum(counts.values()):,} money rows ({mix}), {size / 1e6:.0f} MB, "
            f"built and sealed in {time.perf_counter() - started:.1f} s"
        )
        if args.keep:
            shutil.copy(path, args.keep)

        first = verify_database(path, trust_seal=False)
        print(
            f"verify_database in full, first run: {first.seconds:.3f} s for "
            f"{first.total_rows:,} chained rows"
        )

        chains: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}
        rows: dict[str, int] = {}
        for _ in range(args.repeats):
            for name, (n, seconds, cpu) in time_chains(path).items():
                chains.setdefault(name, []).append(seconds)
                cpus.setdefault(name, []).append(cpu)
                rows[name] = n
        print(
            "verify_chain alone, per table (median of repeats; wall time, and the CPU time "
            "of this process, which a busy shared machine inflates less):"
        )
        total_s = total_cpu = 0.0
        for name, times in chains.items():
            wall = median(times)
            cpu = median(cpus[name])
            total_s += wall
            total_cpu += cpu
            rate = rows[name] / wall if wall else float("inf")
            print(
                f"  {name:<13} {rows[name]:>9,} rows  {wall:7.3f} s wall  {cpu:7.3f} s cpu  "
                f"{rate:>12,.0f} rows/s"
            )
        total_rows = sum(rows.values())
        print(
            f"  {'all chains':<13} {total_rows:>9,} rows  {total_s:7.3f} s wall  "
            f"{total_cpu:7.3f} s cpu  {total_rows / total_s:>12,.0f} rows/s "
            f"({total_rows / total_cpu:,.0f} rows per CPU second)"
        )

        for label, workers in (("one core", 1), (f"{os.cpu_count()} cores", None)):
            full = [
                verify_database(path, trust_seal=False, workers=workers).seconds
                for _ in range(args.repeats)
            ]
            wall = median(full)
            print(
                f"verify_database in full, {label} (quick_check + schema + runs + chains): "
                f"{wall:.3f} s median, {min(full):.3f} s best, {total_rows / wall:,.0f} rows/s"
            )

        async def open_close() -> tuple[float, float]:
            started = time.perf_counter()
            db = await open_database(path)
            opened = time.perf_counter() - started
            started = time.perf_counter()
            await db.close()
            return opened, time.perf_counter() - started

        asyncio.run(open_close())  # seals the file
        sealed = [verify_database(path) for _ in range(args.repeats)]
        assert all(v.sealed for v in sealed), "the file should match its seal"
        wall = median([v.seconds for v in sealed])
        print(
            f"verify_database on a sealed file (sha256 + schema + runs): {wall:.3f} s median, "
            f"{total_rows / wall:,.0f} rows/s"
        )
        cycles = [asyncio.run(open_close()) for _ in range(args.repeats)]
        print(
            f"open_database on the sealed file: {median([c[0] for c in cycles]):.3f} s "
            f"median; close (re-seal): {median([c[1] for c in cycles]):.3f} s median"
        )
    load = os.getloadavg()
    print(
        f"# load average at the start {started_load[0]:.2f}, at the end {load[0]:.2f} "
        f"(on {os.cpu_count()} cores: above that, wall times are inflated)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
