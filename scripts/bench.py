#!/usr/bin/env python
"""kitetui benchmarks: the figures behind design rule 8 (hot path) and rule 10 (UI).

    python scripts/bench.py [--quick] [--shared-data PATH] [--json out.json] [--profile]
    python scripts/bench.py --only 7 [--quick]      # the attached TUI alone (~90 s / ~40 s)

A benchmark, not a test: it prints a table of figures, each saying what it measures.
Every database lives in a temporary directory. Timed figures are medians of several
repeats (the machines have 2 cores and are shared). Nothing in ``kitetui`` is edited:
instrumentation wraps methods on the benchmark's own objects.

Figures
  1  replay throughput, bundled data (default config, speed max, journal on)
  2  replay throughput, a larger set from ../shared/data (2016 1-minute F&O stocks)
  3  tick-to-order latency: batch entering Supervisor._process -> PaperBroker.place,
     with journal.synchronous FULL (default) and NORMAL
  4  journal cost: durable commits and batched flushes, counted and timed
  5  time from starting ``kitetui`` to the first painted frame (real TUI in a pty)
  6  restart after SIGKILL: time to StateRebuilt and to the next new order
  7  `kitetui attach` on a headless desk, the real TUI in a pty (scripts/bench_attach.py):
     7a time from spawning attach to its first byte and to its first frame with data
        (median of 5, 2 with --quick), 'q' exits 0 and leaves the daemon running;
     7b CPU of the attach process (% of one core), frames/s (ESC[?2026h markers) and
        bytes/s written to the terminal, at 160x48 and 80x24, during a 60x replay, a
        full-speed replay and a 2000x replay. The commands it runs (TMP a temp dir):
          python -m kitetui run --no-ui --speed 60 --db TMP/state.db     (also max, 2000)
          python -m kitetui ctl --db TMP/state.db status --json          (readiness)
          TERM=xterm-256color python -m kitetui attach --db TMP/state.db (in the pty)
  8  the live path against the project's own exchange (scripts/bench_feed.py):
     8a KiteFeed on the real KiteTicker: connect, reconnect after a drop, stale and
        recovered after a silence, restart, heartbeats, 1,000 instruments' ticks/s;
     8b TickerServer heartbeat gaps; 8c the sim's REST faults: a late placement answer
        against the client's timeout, a delayed call
  9  the systemd watchdog: ping cadence, the gap across a blocked loop, silence while
     unhealthy
  10 InstrumentMaster.from_csv on a real ~40k-row Kite dump

Figures 8-10 are the timings the test suite used to assert: the tests now check what
happens, and the figures say how long it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import itertools
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_attach import figure_attach
from bench_feed import figure_feed
from benchlib.desk import DbPoller, temp_db
from benchlib.procs import REPO, kitetui_exe
from benchlib.profiling import profile_call, timed_async
from benchlib.report import Figure, log, machine_header, print_table
from benchlib.stats import median, percentile
from benchlib.terminal import PtyTerminal

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import AppConfig, load_config, parse_config
from kitetui.market.instruments import KITE_COLUMNS, InstrumentMaster
from kitetui.notify import Notifier, watchdog_loop
from kitetui.supervisor import Supervisor

DEFAULT_SHARED = REPO.parent / "shared" / "data"
KULDEEP = Path("intraday_1min/kite_fno_stocks_2016_kuldeeptp")
# the mode, then the data clock ("data 2022-11-18 09:15:03"; older headers added " IST")
HEADER_RE = re.compile(rb"REPLAY.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
APP_NAME_RE = re.compile(rb"kitetui")
FIRST_COLS, FIRST_ROWS = 120, 40  # figure 5's terminal


# ------------------------------------------------------------------ in-process replays


def with_journal(config: AppConfig, synchronous: str) -> AppConfig:
    data = config.model_dump()
    data["journal"]["synchronous"] = synchronous
    data["replay"]["speed"] = "max"
    return parse_config(data, "<bench>")


async def _replay(
    config: AppConfig,
    config_path: str | Path,
    db: Path,
    instrument=None,
) -> tuple[Supervisor, dict[str, float]]:
    """open/run/close one supervisor at max speed; ``instrument(sup)`` runs after open()."""
    sup = Supervisor(config, config_path, database=db, speed=None)
    t0 = time.perf_counter()
    await sup.open()
    t1 = time.perf_counter()
    if instrument is not None:
        instrument(sup)
    await sup.run()
    t2 = time.perf_counter()
    await sup.close()
    t3 = time.perf_counter()
    return sup, {"open_s": t1 - t0, "run_s": t2 - t1, "close_s": t3 - t2, "total_s": t3 - t0}


def replay(config: AppConfig, config_path: str | Path, instrument=None, tmp_dir=None):
    with temp_db("b.db", prefix="kitetui-bench-", dir=tmp_dir) as db:
        return asyncio.run(_replay(config, config_path, db, instrument))


def throughput_figure(
    fig: Figure, config: AppConfig, config_path: str | Path, repeats: int, label: str
) -> None:
    bars_s, items_s, run_s, total_s, open_s = [], [], [], [], []
    outcomes: set[tuple] = set()
    commits, commit_s, flush_s = [], [], []
    sup = None
    for i in range(repeats):
        stats: dict[str, list[float]] = defaultdict(list)
        sup, t = replay(config, config_path, instrument_journal(stats))
        durable = [x for k in _DURABLE for x in stats.get(k, [])]
        commits.append(len(durable))
        commit_s.append(sum(durable) / 1e6)
        flush_s.append(sum(stats.get("flush", [])) / 1e6)
        s = sup.summary
        assert s is not None
        bars_s.append(s.bars / s.wall_s)
        items_s.append((s.bars + s.ticks) / s.wall_s)
        run_s.append(s.wall_s)
        total_s.append(t["total_s"])
        open_s.append(t["open_s"])
        outcomes.add((s.bars, s.ticks, s.signals, s.orders, s.fills, round(s.realized, 2)))
        log(f"{label} {i + 1}/{repeats}: {s.bars + s.ticks:,} items in {s.wall_s:.2f}s")
    assert sup is not None and sup.summary is not None
    s = sup.summary
    fig.add("bars fed", s.bars, "bars")
    fig.add("ticks fed", s.ticks, "ticks")
    fig.add("batches (distinct timestamps)", s.batches)
    fig.add("bars/s (run only)", median(bars_s), "bars/s", f"min {min(bars_s):,.0f}")
    fig.add("items/s, bars+ticks (run only)", median(items_s), "items/s")
    fig.add("µs per item (run only)", 1e6 * median(run_s) / max(1, s.bars + s.ticks), "µs")
    fig.add("run() wall time", median(run_s), "s", f"{repeats} repeats")
    fig.add("open() wall (db + loading data files)", median(open_s), "s")
    fig.add("open+run+close wall", median(total_s), "s")
    fig.add("signals / orders / fills (last run)", f"{s.signals} / {s.orders} / {s.fills}")
    fig.add("entries filled / realized P&L", f"{s.entries} / ₹{s.realized:,.0f}")
    fig.add(
        "durable journal commits per run",
        int(median(commits)),
        "",
        "orders, fills, order states; each awaited by the pipeline",
    )
    fig.add(
        "time in durable commits",
        median(commit_s),
        "s",
        f"{100 * median(commit_s) / median(run_s):.0f}% of run() wall",
    )
    fig.add("time in batched flushes", median(flush_s), "s")
    fig.add(
        "same outcome every repeat",
        "yes" if len(outcomes) == 1 else f"NO: {len(outcomes)} different outcomes",
    )


def figure_bundled(repeats: int) -> Figure:
    fig = Figure(
        "1",
        "Replay throughput, bundled data, full pipeline, journal on (synchronous=FULL)",
        "The embedded default config (kitetui/data/dev.yaml: NIFTY futures ticks + 5 bank "
        "stocks' 1-minute candles, 2 engines) replayed in-process at speed max: "
        "Supervisor.open/run/close with a fresh temp database. bars/s and items/s are "
        "summary counts divided by run() wall time (feed, validation, paper fills, risk, "
        "engines, strategies, journal).",
    )
    config = load_config(DEFAULT_CONFIG)
    throughput_figure(fig, config, DEFAULT_CONFIG, repeats, "bundled")
    return fig


def shared_symbols(folder: Path) -> list[str]:
    names = []
    for path in sorted(folder.glob("*.csv.gz")):
        symbol = path.name.removesuffix(".csv.gz")
        if not re.fullmatch(r"[A-Z0-9]+", symbol):
            continue  # M&M, L&TFH, "NIFTYPSU BANK": not plain tradingsymbols
        if symbol.startswith("NIFTY") or symbol == "INDIAVIX":
            continue  # indices are not tradable
        names.append(symbol)
    return names


def shared_config(folder: Path, per_engine: int, scratch: Path) -> tuple[AppConfig, int]:
    symbols = shared_symbols(folder)
    if len(symbols) < 2 * per_engine:
        per_engine = len(symbols) // 2
    first, second = symbols[:per_engine], symbols[per_engine : 2 * per_engine]
    data: dict[str, Any] = {
        "mode": "replay",
        "database": "unused.db",
        "capital": 20_000_000,
        "replay": {
            "speed": "max",
            "max_gap_seconds": 1.0,
            "sources": [{"symbol": s, "path": str(folder / f"{s}.csv.gz")} for s in first + second],
        },
        "risk": {
            "max_daily_loss": 2_000_000,
            "max_symbol_loss": 200_000,
            "max_open_positions": 20,
            "max_trades_per_symbol_per_day": 4,
            "max_gross_exposure": 100_000_000,
            "max_order_value": 2_000_000,
            "max_order_quantity": 100_000,
        },
        "sizing": {
            "risk_per_trade_pct": 0.25,
            "atr_stop_multiple": 2.0,
            "max_capital_fraction": 0.05,
        },
        "engines": [
            {
                "name": "meanrev",
                "kind": "equity",
                "symbols": first,
                "timeframe": "5m",
                "strategy": "mean_reversion",
                "params": {},
            },
            {
                "name": "trend",
                "kind": "equity",
                "symbols": second,
                "timeframe": "1m",
                "strategy": "ema_cross",
                "params": {"fast": 20, "slow": 50},
            },
        ],
    }
    # The 2016 files come with no Kite dump: list them as NSE equities (lot 1, tick 0.05,
    # tokens made up) in a master of the benchmark's own, in the caller's temp folder.
    master = scratch / "instruments.csv"
    lines = [",".join(KITE_COLUMNS)]
    for index, symbol in enumerate(first + second, start=1):
        lines.append(f"{index * 256 + 1},{index},{symbol},{symbol},0,,0,0.05,1,EQ,NSE,NSE")
    master.write_text("\n".join(lines) + "\n")
    data["instruments"] = [str(master)]
    return parse_config(data, "<bench shared config>"), per_engine


def figure_shared(shared: Path, per_engine: int, repeats: int) -> Figure:
    fig = Figure(
        "2",
        "Replay throughput, larger set from shared data (2016 F&O stocks, 1-minute)",
        "An in-memory config over intraday_1min/kite_fno_stocks_2016_kuldeeptp: engine "
        "'meanrev' (equity, mean_reversion on 5m) and engine 'trend' (equity, ema_cross "
        "20/50 on 1m), N stocks each (alphabetical; names with '&'/spaces and indices "
        "skipped), 18 sessions, max_open_positions 20, loose loss limits. Same "
        "open/run/close as [1]; bars/s over run() wall.",
    )
    folder = shared / KULDEEP
    if fig.skip_without(folder, "pass --shared-data PATH"):
        return fig
    with tempfile.TemporaryDirectory(prefix="kitetui-bench-master-") as scratch:
        config, n = shared_config(folder, per_engine, Path(scratch))
        fig.add("stocks per engine", n)
        throughput_figure(fig, config, "<bench shared config>", repeats, "shared")
    return fig


# ------------------------------------------------------------------ latency (figure 3)


def instrument_latency(samples: dict[str, list]) -> Any:
    def install(sup: Supervisor) -> None:
        state = {"batch_ns": 0}
        process, place = sup._process, sup.broker.place
        write_order = sup.journal.write_order

        async def timed_process(ts, batch, warm):
            state["batch_ns"] = time.perf_counter_ns()
            try:
                await process(ts, batch, warm)
            finally:
                state["batch_ns"] = 0

        async def timed_place(order):
            start = state["batch_ns"]
            if start:
                now = time.perf_counter_ns()
                samples["all"].append((now - start) / 1000)
                samples[order.purpose.value].append((now - start) / 1000)
            return await place(order)

        sup._process = timed_process  # type: ignore[method-assign]
        sup.broker.place = timed_place  # type: ignore[method-assign]
        sup.journal.write_order = timed_async(  # type: ignore[method-assign]
            write_order, lambda ns: samples["write_order"].append(ns / 1000)
        )

    return install


def figure_latency(repeats: int) -> Figure:
    fig = Figure(
        "3",
        "Tick-to-order latency (bundled replay, speed max)",
        "perf_counter_ns at Supervisor._process entry for the batch -> at each "
        "PaperBroker.place call made while that batch is processed (instance-wrapped). "
        "Includes the engine queue hand-off, strategy, sizing, risk and the write-ahead "
        "commit of the order row (Journal.write_order, also shown alone). p50/p99 are "
        "medians over repeats of each run's percentile; max is over all runs.",
    )
    base = load_config(DEFAULT_CONFIG)
    for sync in ("FULL", "NORMAL"):
        config = with_journal(base, sync)
        p50s, p99s, w50s, w99s, walls = [], [], [], [], []
        biggest = 0.0
        count = 0
        by_purpose: dict[str, list[float]] = defaultdict(list)
        for i in range(repeats):
            samples: dict[str, list] = defaultdict(list)
            sup, _ = replay(config, DEFAULT_CONFIG, instrument_latency(samples))
            lat = samples["all"]
            p50s.append(percentile(lat, 50))
            p99s.append(percentile(lat, 99))
            w50s.append(percentile(samples["write_order"], 50))
            w99s.append(percentile(samples["write_order"], 99))
            biggest = max(biggest, max(lat, default=0.0))
            count = len(lat)
            walls.append(sup.summary.wall_s)  # type: ignore[union-attr]
            for key, values in samples.items():
                if key not in ("all", "write_order"):
                    by_purpose[key].extend(values)
            log(f"latency {sync} {i + 1}/{repeats}: {len(lat)} placements, p50 {p50s[-1]:.0f}µs")
        fig.add(f"[{sync}] placements per run", count)
        fig.add(f"[{sync}] tick->place p50", median(p50s), "µs")
        fig.add(f"[{sync}] tick->place p99", median(p99s), "µs")
        fig.add(f"[{sync}] tick->place max", biggest, "µs")
        fig.add(f"[{sync}]   of which write_order commit p50", median(w50s), "µs")
        fig.add(f"[{sync}]   of which write_order commit p99", median(w99s), "µs")
        for purpose, values in sorted(by_purpose.items()):
            fig.add(
                f"[{sync}]   p50 for {purpose} orders",
                percentile(values, 50),
                "µs",
                f"n={len(values)} over {repeats} runs",
            )
        fig.add(f"[{sync}] run() wall", median(walls), "s")
    return fig


# -------------------------------------------------------------- journal cost (figure 4)

_DURABLE = ("write_order", "write_fill", "write_order_state", "set_desk_state")


def instrument_journal(stats: dict[str, list[float]]) -> Any:
    def install(sup: Supervisor) -> None:
        journal = sup.journal
        kind_var: contextvars.ContextVar[str] = contextvars.ContextVar("kind", default="other")
        transaction = journal._transaction

        def tag(name: str) -> None:
            original = getattr(journal, name)

            async def tagged(*args, **kwargs):
                token = kind_var.set(name)  # per task: the flush loop is its own task
                try:
                    return await original(*args, **kwargs)
                finally:
                    kind_var.reset(token)

            setattr(journal, name, tagged)

        for name in (*_DURABLE, "flush"):
            tag(name)
        journal._transaction = timed_async(  # type: ignore[method-assign]
            transaction, lambda ns: stats[kind_var.get()].append(ns / 1000)
        )

    return install


def figure_journal(repeats: int) -> Figure:
    fig = Figure(
        "4",
        "Journal cost (bundled replay, speed max, synchronous=FULL)",
        "Journal._transaction wrapped on the instance: every committed transaction is "
        "counted and timed (BEGIN..COMMIT incl. the fsync), split by caller: durable "
        "write-ahead paths (write_order, write_fill, write_order_state, set_desk_state) "
        "vs batched flushes (flush loop, close). Also the same replay with the database on "
        "tmpfs (/dev/shm, fsync is free) to show what the disk costs. Medians over repeats.",
    )
    config = with_journal(load_config(DEFAULT_CONFIG), "FULL")
    per_kind_n: dict[str, list[int]] = defaultdict(list)
    per_kind_ms: dict[str, list[float]] = defaultdict(list)
    walls, shares, rows = [], [], []
    sup = None
    for i in range(repeats):
        stats: dict[str, list[float]] = defaultdict(list)
        sup, _ = replay(config, DEFAULT_CONFIG, instrument_journal(stats))
        wall = sup.summary.wall_s  # type: ignore[union-attr]
        walls.append(wall)
        rows.append(sup.journal.rows_written)
        total = 0.0
        for kind in (*_DURABLE, "flush", "other"):
            per_kind_n[kind].append(len(stats.get(kind, [])))
            per_kind_ms[kind].append(sum(stats.get(kind, [])) / 1000)
            total += sum(stats.get(kind, []))
        durable = sum(sum(stats.get(k, [])) for k in _DURABLE)
        shares.append(100 * durable / 1e6 / wall)
        log(f"journal {i + 1}/{repeats}: {total / 1000:.0f} ms in transactions, run {wall:.2f}s")
    assert sup is not None and sup.summary is not None
    s = sup.summary
    fig.add("orders / fills in the run", f"{s.orders} / {s.fills}")
    for kind in (*_DURABLE, "flush", "other"):
        n = median(per_kind_n[kind])
        if not n:
            continue
        ms = median(per_kind_ms[kind])
        mean_us = 1000 * ms / n if n else float("nan")
        fig.add(f"{kind}: commits", int(n))
        fig.add(f"{kind}: total / mean per commit", f"{ms:,.1f} ms / {mean_us:,.0f} µs")
    fig.add(
        "durable commits' share of run() wall", median(shares), "%", "the pipeline awaits these"
    )
    fig.add("journal rows written (last run)", rows[-1])
    fig.add("run() wall, db on disk", median(walls), "s")
    if Path("/dev/shm").is_dir():
        shm = []
        for _ in range(repeats):
            sup, _ = replay(config, DEFAULT_CONFIG, tmp_dir="/dev/shm")
            shm.append(sup.summary.wall_s)  # type: ignore[union-attr]
        fig.add("run() wall, db on tmpfs (/dev/shm)", median(shm), "s")
        fig.add("disk fsync cost per run (disk - tmpfs)", median(walls) - median(shm), "s")
    return fig


# --------------------------------------------------------------- first frame (figure 5)


def figure_first_frame(repeats: int) -> Figure:
    fig = Figure(
        "5",
        "Time from starting `kitetui run` to the first painted frame (real TUI)",
        f"`kitetui run --db TMP` (default config, 300x) in a {FIRST_COLS}x{FIRST_ROWS} pty "
        "(TERM=xterm-256color, benchlib's terminal driver) whose output a thread reads as it "
        "comes; wall time from just before the process is spawned until the first output "
        "showing the app (first paint: the 'kitetui' header of the 'starting…' screen), and "
        "until the output shows the header with 'REPLAY' and a 'YYYY-MM-DD HH:MM:SS' data "
        "clock. Then 'q' is sent and the time to exit measured. Includes Python start-up "
        "and imports.",
    )
    exe = kitetui_exe()
    frames, exits, paints, failures = [], [], [], 0
    for i in range(repeats):
        with (
            temp_db("t.db", prefix="kitetui-bench-tui-") as db,
            PtyTerminal([exe, "run", "--db", str(db)], db.parent, FIRST_ROWS, FIRST_COLS) as term,
        ):
            first = term.wait_for(HEADER_RE, 30)
            if (painted := term.search(APP_NAME_RE)) is not None:
                paints.append(painted - term.t0)
            if first is None:
                failures += 1
                log(f"tui {i + 1}/{repeats}: no header within 30 s: {term.text()[-300:]}")
                continue
            frames.append(first - term.t0)
            time.sleep(0.3)
            code, took = term.quit(timeout=20)
            if code is None:
                failures += 1
                log(f"tui {i + 1}/{repeats}: still running 20 s after 'q'")
            else:
                exits.append(took)
            log(f"tui {i + 1}/{repeats}: first frame {frames[-1]:.2f}s")
    fig.add(
        "start -> first paint, 'starting…' (median)",
        median(paints),
        "s",
        "the screen is up while the market data loads",
    )
    fig.add(
        "start -> first frame (median)",
        median(frames),
        "s",
        f"{len(frames)}/{repeats} runs; all: " + ", ".join(f"{x:.2f}" for x in frames),
    )
    fig.add("'q' -> process exited (median)", median(exits), "s", f"{len(exits)} exited")
    fig.add("terminal", f"pty {FIRST_COLS}x{FIRST_ROWS}")
    if failures:
        fig.add("failures", failures)
    # the import cost alone, for context: python -X importtime is noisy; time a bare import
    imports = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import kitetui.cli, kitetui.supervisor, kitetui.tui.app"],
            check=True,
        )
        imports.append(time.perf_counter() - t0)
    fig.add("of which: python + imports (cli, supervisor, tui)", median(imports), "s")
    return fig


# ------------------------------------------------------------------ restart (figure 6)


def spawn_headless(
    command: list[str], cwd: Path, log_level: str, stdout: int = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    """``command --log-level LEVEL``; stderr dropped, stdout as given (text, by line)."""
    return subprocess.Popen(
        [*command, "--log-level", log_level],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )


def figure_restart(repeats: int, speed: int) -> Figure:
    fig = Figure(
        "6",
        f"Restart after SIGKILL to trading again (headless, --speed {speed})",
        "`kitetui run --no-ui` on the default config in a subprocess with a temp db; "
        "SIGKILLed once the first order rows are in the db, then started again. From the "
        "restart's spawn: (a) StateRebuilt printed on stdout (--log-level INFO; recovery "
        "done, trading resumes), (b) StateRebuilt row visible in the db (buffered journal, "
        "up to flush_interval_ms=200 later), (c) first NEW order row in the db after the "
        "restart. The db is polled read-only every 10 ms.",
    )
    exe = kitetui_exe()
    printed, journaled, next_order, killed_after, purposes = [], [], [], [], []
    for i in range(repeats):
        with temp_db("r.db", prefix="kitetui-bench-restart-") as db:
            tmp = db.parent
            base = [exe, "run", "--no-ui", "--speed", str(speed), "--db", str(db)]
            poller = DbPoller(db)
            t0 = time.perf_counter()
            first = spawn_headless(base, tmp, "ERROR")
            orders_before = 0
            while time.perf_counter() - t0 < 60 and first.poll() is None:
                rows = poller.query("SELECT count(*) FROM orders")
                if rows and rows[0][0] > 0:
                    first.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
            first.wait()
            killed_after.append(time.perf_counter() - t0)
            poller.close()
            rows = poller.query("SELECT count(*) FROM orders")
            orders_before = rows[0][0] if rows else 0
            if not orders_before or first.returncode != -signal.SIGKILL:
                log(
                    f"restart {i + 1}: first run ended (rc {first.returncode}) with "
                    f"{orders_before} orders; skipping"
                )
                poller.close()
                continue
            max_seq = poller.query("SELECT COALESCE(max(seq), 0) FROM orders")[0][0]  # type: ignore[index]
            poller.close()

            t1 = time.perf_counter()
            second = spawn_headless(base, tmp, "INFO", stdout=subprocess.PIPE)
            seen: dict[str, float] = {}

            def reader(proc=second, t1=t1, seen=seen) -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    if "kind=StateRebuilt" in line and "printed" not in seen:
                        seen["printed"] = time.perf_counter() - t1
                # drain to the end so the child never blocks on a full pipe

            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            got_event = got_order = None
            purpose = ""
            while time.perf_counter() - t1 < 60 and second.poll() is None:
                now = time.perf_counter() - t1
                if got_event is None:
                    rows = poller.query("SELECT count(*) FROM events WHERE kind='StateRebuilt'")
                    if rows and rows[0][0]:
                        got_event = now
                if got_order is None:
                    rows = poller.query(
                        f"SELECT purpose FROM orders WHERE seq > {max_seq} ORDER BY seq LIMIT 1"
                    )
                    if rows:
                        got_order, purpose = now, rows[0][0]
                if got_event is not None and got_order is not None:
                    break
                time.sleep(0.01)
            poller.close()
            if second.poll() is None:
                second.send_signal(signal.SIGTERM)
            try:
                second.wait(20)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait()
            thread.join(5)
            if "printed" in seen:
                printed.append(seen["printed"])
            if got_event is not None:
                journaled.append(got_event)
            if got_order is not None:
                next_order.append(got_order)
                purposes.append(purpose)
            log(
                f"restart {i + 1}/{repeats}: rebuilt(stdout) {seen.get('printed')}, "
                f"rebuilt(db) {got_event}, next order {got_order} ({purpose})"
            )
    fig.add("first run: spawn -> orders in db -> SIGKILL", median(killed_after), "s")
    fig.add("(a) restart -> StateRebuilt printed", median(printed), "s", f"n={len(printed)}")
    fig.add("(b) restart -> StateRebuilt row in db", median(journaled), "s", f"n={len(journaled)}")
    fig.add(
        "(c) restart -> first new order row in db",
        median(next_order),
        "s",
        f"n={len(next_order)}; purposes: {', '.join(purposes) or '-'}",
    )
    return fig


# ----------------------------------------------------------- systemd watchdog (figure 9)

WATCHDOG_USEC = 200_000  # tests/test_notify.py's: a ping every 0.1 s


async def _watchdog_program(notifier: Notifier, marks: dict[str, float], healthy_s: float) -> None:
    """Healthy for ``healthy_s``; the loop blocked 0.5 s; healthy; unhealthy 0.35 s;
    healthy again. ``marks`` gets the monotonic instants of each change."""
    health = {"ok": True}
    task = asyncio.create_task(watchdog_loop(notifier, lambda: health["ok"]))
    await asyncio.sleep(healthy_s)
    marks["block_start"] = time.monotonic()
    time.sleep(0.5)  # a hung loop: the watchdog task cannot run
    marks["block_end"] = time.monotonic()
    await asyncio.sleep(0.3)
    health["ok"] = False
    marks["sick_start"] = time.monotonic()
    await asyncio.sleep(0.35)
    marks["sick_end"] = time.monotonic()
    health["ok"] = True
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def figure_watchdog(repeats: int, healthy_s: float) -> Figure:
    fig = Figure(
        "9",
        "systemd watchdog: WATCHDOG=1 cadence, and silence while the loop is blocked",
        "kitetui.notify.watchdog_loop on its own asyncio loop with WATCHDOG_USEC "
        f"{WATCHDOG_USEC:,} (a ping every {WATCHDOG_USEC / 2e6:g} s) sending to a datagram "
        "socket bound in a temp dir; each Notifier.watchdog call stamped (time.monotonic, "
        f"the instance's method wrapped). {repeats}x: {healthy_s:g} s healthy, the loop "
        "blocked 0.5 s by time.sleep, 0.3 s healthy, 0.35 s with healthy() false, 0.3 s "
        "healthy. tests/test_notify.py checks the order of pings and silences; these are "
        "the times.",
    )
    healthy_gaps, block_gaps, after_block, sick_gaps, after_sick = [], [], [], [], []
    pinged_while_sick = delivered = sent = 0
    for _ in range(repeats):
        with (
            tempfile.TemporaryDirectory(prefix="kt") as folder,
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd,
        ):
            address = str(Path(folder) / "notify.sock")
            systemd.bind(address)
            notifier = Notifier(address, watchdog_usec=WATCHDOG_USEC)
            systemd.setblocking(False)
            pings: list[float] = []
            ping = notifier.watchdog

            def stamped(ping=ping, pings=pings, systemd=systemd) -> bool:
                nonlocal delivered
                with contextlib.suppress(BlockingIOError):  # read what came, as systemd
                    while systemd.recv(64):  # would (an unread socket holds ~10 datagrams)
                        delivered += 1
                pings.append(time.monotonic())
                return ping()

            notifier.watchdog = stamped  # type: ignore[method-assign]
            marks: dict[str, float] = {}
            try:
                asyncio.run(_watchdog_program(notifier, marks, healthy_s))
            finally:
                notifier.close()
            with contextlib.suppress(BlockingIOError):
                while systemd.recv(64):
                    delivered += 1
        sent += len(pings)
        gaps = list(itertools.pairwise(pings))
        healthy_gaps += [b - a for a, b in gaps if b < marks["block_start"]]
        block_gaps += [b - a for a, b in gaps if a < marks["block_end"] <= b]
        after_block += [b - marks["block_end"] for a, b in gaps if a < marks["block_end"] <= b]
        sick_gaps += [b - a for a, b in gaps if a < marks["sick_end"] <= b]
        after_sick += [b - marks["sick_end"] for a, b in gaps if a < marks["sick_end"] <= b]
        pinged_while_sick += sum(marks["sick_start"] < t < marks["sick_end"] for t in pings)
    fig.add(
        "healthy: gap between pings, median", median(healthy_gaps), "s", f"n={len(healthy_gaps)}"
    )
    fig.add(
        "healthy: gap, p95 / max",
        f"{percentile(healthy_gaps, 95):.3f} / {max(healthy_gaps):.3f}",
        "s",
    )
    fig.add("loop blocked 0.5 s: the gap across it (median)", median(block_gaps), "s")
    fig.add(
        "block ends -> next ping (median)",
        1000 * median(after_block),
        "ms",
        f"max {1000 * max(after_block, default=float('nan')):.1f} ms",
    )
    fig.add("healthy() false 0.35 s: the gap across it (median)", median(sick_gaps), "s")
    fig.add("healthy() true again -> next ping (median)", 1000 * median(after_sick), "ms")
    fig.add("pings while healthy() was false", pinged_while_sick)
    fig.add("pings sent / datagrams read back", f"{sent} / {delivered}")
    return fig


# ------------------------------------------------------- instrument master (figure 10)

NFO_DUMP = Path("instruments/kite_instruments_NFO_BFO_2026-08_nilanjan-guha/instruments.csv.gz")


def figure_instrument_master(shared: Path, repeats: int) -> Figure:
    fig = Figure(
        "10",
        "Instrument master from a real Kite dump (NFO + BFO, ~40k rows)",
        f"InstrumentMaster.from_csv on ../shared/data/{NFO_DUMP} (gzipped CSV as Kite "
        f"serves it), {repeats}x in this process: parse, validate and index every row, "
        "what the desk does at start-up with a live dump. tests/market/test_instruments.py checks "
        "the rows, segments and look-ups; this is the time.",
    )
    path = shared / NFO_DUMP
    if fig.skip_without(path, "pass --shared-data PATH"):
        return fig
    times, rows = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        master, _ = InstrumentMaster.from_csv(path)
        times.append(time.perf_counter() - t0)
        rows = len(master)
    fig.add("instruments", rows)
    fig.add("from_csv, best", min(times), "s", f"{repeats} repeats")
    fig.add("from_csv, median", median(times), "s")
    fig.add("rows per second (best)", rows / min(times), "rows/s")
    return fig


# ------------------------------------------------------------------------- profile


def profile_bundled(top: int = 10) -> str:
    """cProfile one bundled replay: top entries by cumulative time (project code only,
    the asyncio plumbing above it says nothing) and by own time (everything)."""
    config = load_config(DEFAULT_CONFIG)
    return profile_call(
        lambda: replay(config, DEFAULT_CONFIG), top, restrict=r"/(kitetui|engines|strategies)/"
    )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller set")
    parser.add_argument(
        "--shared-data",
        type=Path,
        default=DEFAULT_SHARED,
        help=f"the shared data folder (default {DEFAULT_SHARED})",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--only", help="comma-separated figure numbers to run, e.g. 1,3")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile one bundled replay: top 10 cumulative"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    only = set(args.only.split(",")) if args.only else None
    want = lambda key: only is None or key in only  # noqa: E731
    header = machine_header("kitetui benchmarks" + ("  (--quick)" if quick else ""), REPO)
    header.append("all timed figures are medians over the stated repeats; databases in temp dirs")
    for line in header:
        print(line, file=sys.stderr)
    started = time.perf_counter()
    figures: list[Figure] = []
    steps = [
        ("1", lambda: figure_bundled(3 if quick else 5)),
        ("2", lambda: figure_shared(args.shared_data, 10 if quick else 40, 1 if quick else 3)),
        ("3", lambda: figure_latency(1 if quick else 3)),
        ("4", lambda: figure_journal(1 if quick else 3)),
        ("5", lambda: figure_first_frame(1 if quick else 3)),
        ("6", lambda: figure_restart(1 if quick else 3, 4000)),
        ("7", lambda: figure_attach(quick)),
        ("8", lambda: figure_feed(quick)),
        ("9", lambda: figure_watchdog(1 if quick else 3, 1.0 if quick else 3.0)),
        ("10", lambda: figure_instrument_master(args.shared_data, 2 if quick else 5)),
    ]
    for key, step in steps:
        if not want(key):
            continue
        t0 = time.perf_counter()
        log(f"figure {key} ...")
        result = step()
        log(f"figure {key} took {time.perf_counter() - t0:.1f}s")
        figures.extend(result if isinstance(result, list) else [result])
    profile = profile_bundled() if args.profile else ""
    header.append(f"benchmark wall time: {time.perf_counter() - started:.1f}s")
    print_table(header, figures)
    if profile:
        print("cProfile of one bundled replay (open+run+close): top 10 cumulative, top 10 own time")
        print(profile)
    if args.json:
        payload = {"header": header, "figures": [f.as_json() for f in figures]}
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
