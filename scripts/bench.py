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
  5  time from starting ``kitetui`` to the first painted frame (real TUI in tmux/pty)
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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import io
import json
import os
import platform
import pstats
import re
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_attach import (
    DATA_DATE_RE,
    GONE_RE,
    MODE_RE,
    Daemon,
    PtyTerminal,
    cpu_seconds,
    kitetui_command,
    spawn_in_pty,
    status,
)

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import AppConfig, load_config, parse_config
from kitetui.market.instruments import KITE_COLUMNS
from kitetui.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
KULDEEP = Path("intraday_1min/kite_fno_stocks_2016_kuldeeptp")
FF_COLS, FF_ROWS = 160, 48  # figure 7a's terminal: wide enough for the whole header
# the mode, then the data clock ("data 2022-11-18 09:15:03"; older headers added " IST")
HEADER_RE = re.compile(r"REPLAY.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


# ----------------------------------------------------------------------------- output


@dataclass
class Row:
    figure: str
    metric: str
    value: float | int | str
    unit: str = ""
    note: str = ""


@dataclass
class Figure:
    key: str
    title: str
    what: str
    rows: list[Row] = field(default_factory=list)
    skipped: str = ""
    table: list[str] = field(default_factory=list)
    """Preformatted lines printed instead of the rows (the rows still go to --json)."""

    def add(self, metric: str, value: float | int | str, unit: str = "", note: str = "") -> None:
        self.rows.append(Row(self.key, metric, value, unit, note))


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def fmt(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def print_table(header: list[str], figures: list[Figure]) -> None:
    width = 96
    print("=" * width)
    for line in header:
        print(line)
    for fig in figures:
        print("-" * width)
        print(f"[{fig.key}] {fig.title}")
        for chunk in _wrap(fig.what, width - 6):
            print(f"      {chunk}")
        if fig.skipped:
            print(f"      SKIPPED: {fig.skipped}")
            continue
        if fig.table:
            for line in fig.table:
                print(line)
            continue
        for row in fig.rows:
            value = fmt(row.value)
            note = f"  ({row.note})" if row.note else ""
            print(f"    {row.metric:<44} {value:>14} {row.unit:<8}{note}")
    print("=" * width)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def git_head() -> str:
    try:  # read-only
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine_header(args: argparse.Namespace) -> list[str]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        "kitetui benchmarks" + ("  (--quick)" if args.quick else ""),
        f"machine: nproc={os.cpu_count()}  cpu={cpu or 'unknown'}  load(1/5/15m)={load}",
        f"python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.release()}",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  repo: {REPO} @ {git_head()} "
        "(plus any uncommitted edits)",
        "all timed figures are medians over the stated repeats; databases in temp dirs",
    ]


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
    with tempfile.TemporaryDirectory(prefix="kitetui-bench-", dir=tmp_dir) as tmp:
        return asyncio.run(_replay(config, config_path, Path(tmp) / "b.db", instrument))


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


def shared_config(folder: Path, per_engine: int) -> tuple[AppConfig, int]:
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
    # tokens made up) in a master of the benchmark's own, in a temp dir.
    master = Path(tempfile.mkdtemp(prefix="kitetui-bench-master-")) / "instruments.csv"
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
    if not folder.is_dir():
        fig.skipped = f"{folder} not found (pass --shared-data PATH)"
        return fig
    config, n = shared_config(folder, per_engine)
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

        async def timed_write_order(order):
            t0 = time.perf_counter_ns()
            try:
                await write_order(order)
            finally:
                samples["write_order"].append((time.perf_counter_ns() - t0) / 1000)

        sup._process = timed_process  # type: ignore[method-assign]
        sup.broker.place = timed_place  # type: ignore[method-assign]
        sup.journal.write_order = timed_write_order  # type: ignore[method-assign]

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

        async def timed_transaction(extra, *tables):
            t0 = time.perf_counter_ns()
            try:
                await transaction(extra, *tables)
            finally:
                stats[kind_var.get()].append((time.perf_counter_ns() - t0) / 1000)

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
        journal._transaction = timed_transaction  # type: ignore[method-assign]

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


def kitetui_exe() -> str:
    local = Path(sys.executable).parent / "kitetui"
    if local.exists():
        return str(local)
    found = shutil.which("kitetui")
    if not found:
        raise SystemExit("cannot find the kitetui console script")
    return found


class TmuxTerm:
    """A private tmux server (own socket) running one command in a 120x40 window."""

    def __init__(self, command: list[str], cwd: str) -> None:
        self.socket = f"kitetui-bench-{os.getpid()}-{time.monotonic_ns()}"
        self.cwd = cwd
        self.command = command

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )

    def start(self) -> None:
        cmd = " ".join(shlex_quote(part) for part in self.command)
        self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "bench",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            self.cwd,
            cmd,
        )

    def screen(self) -> str:
        result = self._tmux("capture-pane", "-p", "-t", "bench", check=False)
        return result.stdout if result.returncode == 0 else ""

    def send(self, keys: str) -> None:
        self._tmux("send-keys", "-t", "bench", keys, check=False)

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", "bench", check=False).returncode == 0

    def close(self) -> None:
        self._tmux("kill-server", check=False)


class PtyTerm:
    """Fallback without tmux: a pty of 120x40; the 'screen' is the raw output so far."""

    def __init__(self, command: list[str], cwd: str) -> None:
        self.command = command
        self.cwd = cwd
        self.buffer = b""

    def start(self) -> None:
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.proc, self.master = spawn_in_pty(self.command, self.cwd, 40, 120, env)

    def screen(self) -> str:
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.buffer += chunk
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", " ", self.buffer.decode("utf-8", "replace"))
        return re.sub(r" +", " ", text)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def alive(self) -> bool:
        self.screen()
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def figure_first_frame(repeats: int) -> Figure:
    use_tmux = shutil.which("tmux") is not None
    fig = Figure(
        "5",
        "Time from starting `kitetui run` to the first painted frame (real TUI)",
        f"`kitetui run --db TMP` (default config, 300x) in a 120x40 "
        f"{'tmux pane' if use_tmux else 'pty'}; wall time from just before the process is "
        "spawned until the screen first shows anything of the app (first paint), and until "
        "it shows the header with 'REPLAY' and a "
        "'YYYY-MM-DD HH:MM:SS' data clock (polled every 20 ms, so +-20 ms). Then 'q' "
        "is sent and the time to exit measured. Includes Python start-up and imports.",
    )
    exe = kitetui_exe()
    frames, exits, paints, failures = [], [], [], 0
    for i in range(repeats):
        with tempfile.TemporaryDirectory(prefix="kitetui-bench-tui-") as tmp:
            command = [exe, "run", "--db", str(Path(tmp) / "t.db")]
            term = TmuxTerm(command, tmp) if use_tmux else PtyTerm(command, tmp)
            try:
                t0 = time.perf_counter()
                term.start()
                first = painted = None
                while time.perf_counter() - t0 < 30:
                    screen = term.screen()
                    if painted is None and "kitetui" in screen:
                        painted = time.perf_counter() - t0
                    if HEADER_RE.search(screen.replace("\n", " ")):
                        first = time.perf_counter() - t0
                        break
                    time.sleep(0.02)
                if painted is not None:
                    paints.append(painted)
                if first is None:
                    failures += 1
                    log(f"tui {i + 1}/{repeats}: no header within 30 s; screen:\n{screen}")
                    continue
                frames.append(first)
                time.sleep(0.3)
                t1 = time.perf_counter()
                term.send("q")
                while term.alive() and time.perf_counter() - t1 < 20:
                    time.sleep(0.02)
                if term.alive():
                    failures += 1
                    log(f"tui {i + 1}/{repeats}: still running 20 s after 'q'")
                else:
                    exits.append(time.perf_counter() - t1)
                log(f"tui {i + 1}/{repeats}: first frame {first:.2f}s")
            finally:
                term.close()
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
    fig.add("terminal", "tmux" if use_tmux else "pty")
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


class DbPoller:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def query(self, sql: str) -> list[tuple] | None:
        try:
            if self.conn is None:
                if not self.path.exists():
                    return None
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)
            return self.conn.execute(sql).fetchall()
        except sqlite3.Error:
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


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
        with tempfile.TemporaryDirectory(prefix="kitetui-bench-restart-") as tmp:
            db = Path(tmp) / "r.db"
            base = [exe, "run", "--no-ui", "--speed", str(speed), "--db", str(db)]
            poller = DbPoller(db)
            t0 = time.perf_counter()
            first = subprocess.Popen(
                [*base, "--log-level", "ERROR"],
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
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
            second = subprocess.Popen(
                [*base, "--log-level", "INFO"],
                cwd=tmp,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
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


# ------------------------------------------------- attach: first frame and load (figure 7)


@dataclass
class Load:
    """What one attached TUI cost over one window."""

    label: str
    window_s: float
    cpu_s: float  # the attach process
    desk_cpu_s: float  # the daemon, for context
    bench_cpu_s: float  # this process (the 'terminal': pty reader, polling)
    frames: int
    nbytes: int
    frame_bytes: list[int]
    notes: list[str] = field(default_factory=list)

    def pct(self, cpu_s: float) -> float:
        return 100 * cpu_s / self.window_s if self.window_s > 0 else float("nan")

    @property
    def fps(self) -> float:
        return self.frames / self.window_s if self.window_s > 0 else float("nan")

    @property
    def bps(self) -> float:
        return self.nbytes / self.window_s if self.window_s > 0 else float("nan")


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def measure_load(
    label: str, term: PtyTerminal, daemon: Daemon, until: Any, *, daemon_exits: bool = False
) -> Load:
    """From now until ``until()`` is true (polled every 10 ms): CPU of the TUI, of the
    daemon (last sample before it exits, if ``daemon_exits``), of this process, and the
    frames and bytes the TUI wrote meanwhile."""
    t_from = time.perf_counter()
    cpu0, desk0, bench0 = cpu_seconds(term.pid), cpu_seconds(daemon.pid), self_cpu_seconds()
    desk1 = desk0
    while not until() and term.alive():
        if daemon_exits and (sample := cpu_seconds(daemon.pid)) is not None:
            desk1 = sample
        time.sleep(0.01)
    t_to = time.perf_counter()
    cpu1, bench1 = cpu_seconds(term.pid), self_cpu_seconds()
    if not daemon_exits:
        desk1 = cpu_seconds(daemon.pid)
    if cpu0 is None or cpu1 is None:
        raise RuntimeError(f"{label}: the attached TUI exited during the window")
    frames, nbytes = term.window(t_from, t_to)
    return Load(
        label,
        t_to - t_from,
        cpu1 - cpu0,
        (desk1 - desk0) if desk0 is not None and desk1 is not None else float("nan"),
        bench1 - bench0,
        frames,
        nbytes,
        term.frame_sizes(t_from, t_to),
    )


def attach_command(daemon: Daemon) -> list[str]:
    return kitetui_command("attach", "--db", str(daemon.db))


def speed_label(speed: str) -> str:
    return speed if speed == "max" else f"{speed}x"


def quit_attached(
    term: PtyTerminal, daemon: Daemon | None, notes: list[str], what: str
) -> tuple[bool, float]:
    """Type 'q'; (the TUI exited 0 and the daemon, if given, still answers; seconds
    from 'q' to the exit)."""
    code, took = term.quit()
    ok = code == 0
    if code != 0:
        notes.append(f"{what}: attach exit code {code} after 'q'")
    if daemon is not None:
        if not daemon.alive():
            notes.append(f"{what}: the daemon exited (rc {daemon.proc.returncode}) with attach")
            ok = False
        elif status(daemon.sock) is None:
            notes.append(f"{what}: the daemon stopped answering after attach quit")
            ok = False
    return ok, took


def attach_first_frames(tmp: str, daemon: Daemon, repeats: int, notes: list[str]) -> Figure:
    fig = Figure(
        "7a",
        "`kitetui attach`: time to the first frame with data (real TUI in a pty)",
        "A headless desk (`python -m kitetui run --no-ui --speed 60 --db TMP/state.db`, "
        "demo config) is up and `python -m kitetui ctl --db TMP/state.db status --json` "
        f"answers. Then {repeats}x: `python -m kitetui attach --db TMP/state.db` is spawned "
        f"in a {FF_COLS}x{FF_ROWS} pty (TERM=xterm-256color) whose output a thread reads as "
        "it comes; wall time from just before the spawn to the first output byte and to the "
        "first output holding a data date (YYYY-MM-DD: the header's data clock, which only a "
        "desk with a snapshot shows; 'starting…' comes before). Then 'q': the exit code must "
        "be 0 and the daemon must still answer `status`. Includes Python start-up, imports.",
    )
    first_bytes, firsts, cpus, exits = [], [], [], []
    fine = 0
    for i in range(repeats):
        with PtyTerminal(attach_command(daemon), tmp, FF_ROWS, FF_COLS) as term:
            found = term.wait_for(DATA_DATE_RE, 30)
            cpu = cpu_seconds(term.pid)
            if found is None:
                notes.append(f"run {i + 1}: no data date within 30 s: {term.text()[-300:]}")
                continue
            firsts.append(found - term.t0)
            if (first_byte := term.first_byte_s()) is not None:
                first_bytes.append(first_byte)
            if cpu is not None:
                cpus.append(cpu)
            time.sleep(0.3)
            ok, took = quit_attached(term, daemon, notes, f"run {i + 1}")
            if ok:
                fine += 1
                exits.append(took)
            log(f"attach {i + 1}/{repeats}: first frame {firsts[-1]:.2f}s")
    fig.add("spawn -> first byte on the terminal (median)", median(first_bytes), "s")
    fig.add(
        "spawn -> first frame with data (median)",
        median(firsts),
        "s",
        f"{len(firsts)}/{repeats}; all: " + ", ".join(f"{x:.2f}" for x in firsts),
    )
    fig.add("CPU of attach up to that frame (median)", median(cpus), "s", "user+sys")
    fig.add("'q' -> exit 0, daemon still answers (median)", median(exits), "s")
    fig.add("quits with exit 0 and the daemon alive", f"{fine}/{repeats}")
    return fig


def attach_steady(tmp: str, daemon: Daemon, cols: int, rows: int, seconds: float) -> Load:
    """A window of ``seconds`` from 1 s after the first frame, on the running daemon."""
    label = f"{speed_label(daemon.speed)} {cols}x{rows}"
    with PtyTerminal(attach_command(daemon), tmp, rows, cols) as term:
        if term.wait_for(MODE_RE, 30) is None:
            raise RuntimeError(f"attach {label}: no desk on screen: {term.text()[-300:]}")
        time.sleep(1.0)
        deadline = time.perf_counter() + seconds
        load = measure_load(label, term, daemon, lambda: time.perf_counter() >= deadline)
        quit_attached(term, daemon, load.notes, "after 'q'")
    return load


def attach_replay(tmp: str, speed: str, cols: int, rows: int, seconds: float | None) -> Load:
    """A fresh daemon at ``speed``; attach as soon as its socket exists. With ``seconds``,
    a window that long from 1 s after the first frame (then both are stopped); without,
    from the first frame until the daemon exits by itself at the end of the replay."""
    label = f"{speed_label(speed)} {cols}x{rows}"
    with (
        tempfile.TemporaryDirectory(prefix="kt", dir=tmp) as sub,
        Daemon(sub, speed) as daemon,
    ):
        socket_s = daemon.wait_socket()
        with PtyTerminal(attach_command(daemon), sub, rows, cols) as term:
            first = term.wait_for(MODE_RE, 30)
            if first is None:
                raise RuntimeError(f"attach {label}: no desk on screen: {term.text()[-300:]}")
            if not daemon.alive():
                raise RuntimeError(f"attach {label}: the replay ended before the first frame")
            if seconds is not None:
                time.sleep(1.0)
                deadline = time.perf_counter() + seconds
                load = measure_load(label, term, daemon, lambda: time.perf_counter() >= deadline)
                if not daemon.alive():
                    load.notes.append("the replay ended inside the window")
                quit_attached(term, daemon, load.notes, "after 'q'")
                return load
            load = measure_load(label, term, daemon, lambda: not daemon.alive(), daemon_exits=True)
            t_end = time.perf_counter()
            replay_s = daemon.replay_wall_s()
            load.notes.append(
                f"the replay took {replay_s or float('nan'):.2f} s; the first frame came "
                f"{first - daemon.started - socket_s:.2f} s after the socket appeared"
            )
            # The desk has gone: what does the attached TUI do?
            gone = term.wait_for(GONE_RE, 3.0, since=t_end)
            finished = term.search(re.compile(rb"FINISHED"), first) is not None
            load.notes.append(
                "after the daemon exited the TUI "
                + ("exited" if not term.alive() else "kept running")
                + (f", showed 'reconnecting…' after {gone - t_end:.2f} s" if gone else "")
                + (", showed FINISHED" if finished else ", never showed FINISHED")
            )
            quit_attached(term, None, load.notes, "after 'q'")
    return load


def load_table(loads: list[Load]) -> list[str]:
    lines = [
        f"    {'desk speed, terminal':<22}{'window':>7}{'attach':>8}{'frames':>8}"
        f"{'bytes':>9}{'bytes':>8}{'desk':>7}{'bench':>7}",
        f"    {'':<22}{'s':>7}{'CPU %':>8}{'/s':>8}{'/s':>9}{'/frame':>8}{'CPU %':>7}{'CPU %':>7}",
    ]
    for x in loads:
        lines.append(
            f"    {x.label:<22}{x.window_s:>7.2f}{x.pct(x.cpu_s):>8.1f}{x.fps:>8.1f}"
            f"{x.bps:>9,.0f}{median(x.frame_bytes):>8,.0f}{x.pct(x.desk_cpu_s):>7.0f}"
            f"{x.pct(x.bench_cpu_s):>7.0f}"
        )
    for x in loads:
        for note in x.notes:
            for i, chunk in enumerate(_wrap(f"{x.label}: {note}", 88)):
                lines.append(f"      {'  ' if i else ''}{chunk}")
    return lines


def figure_attach(quick: bool) -> list[Figure]:
    repeats = 2 if quick else 5
    steady_s = 3.0 if quick else 8.0
    fixed_s = 3.0 if quick else 6.0
    sizes = [(160, 48), (80, 24)]
    notes: list[str] = []
    loads: list[Load] = []
    load_before = os.getloadavg()[0]
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on SIGTERM
    try:
        with tempfile.TemporaryDirectory(prefix="kt") as tmp:
            with Daemon(tmp, "60") as daemon:
                ready_s = daemon.wait_ctl_status()
                log(f"attach: daemon at 60x answers `ctl status` after {ready_s:.2f}s")
                first = attach_first_frames(tmp, daemon, repeats, notes)
                first.add("context: daemon spawn -> `ctl status` answers", ready_s, "s")
                for cols, rows in sizes[:1] if quick else sizes:
                    loads.append(attach_steady(tmp, daemon, cols, rows, steady_s))
                    log(f"attach {loads[-1].label}: {loads[-1].pct(loads[-1].cpu_s):.1f}% CPU")
                if not daemon.alive():
                    notes.append(f"the 60x daemon exited early (rc {daemon.proc.returncode})")
            for speed, seconds, shapes in (
                ("max", None, sizes),
                ("2000", fixed_s, sizes[:1] if quick else sizes),
            ):
                for cols, rows in shapes:
                    loads.append(attach_replay(tmp, speed, cols, rows, seconds))
                    log(f"attach {loads[-1].label}: {loads[-1].pct(loads[-1].cpu_s):.1f}% CPU")
    finally:
        signal.signal(signal.SIGTERM, previous)
    for note in notes:
        first.add("problem", note)
    load = Figure(
        "7b",
        "`kitetui attach` under a replay: CPU, frames/s and bytes/s on the terminal",
        "The TUI attached in a pty of the given size. attach CPU = user+sys of the attach "
        "process (/proc/PID/stat, all threads, 10 ms ticks) / wall, in % of one core; desk "
        "and bench (this process, the terminal) for context. frames = synchronized-output "
        "begin markers ESC[?2026h: Textual wraps every screen update in ESC[?2026h..l once "
        "the terminal says it supports mode 2026 (the bench answers the DECRQM query as "
        "modern terminals do); bytes = all the TUI wrote, what an SSH link carries. "
        f"Windows: 60x, the 7a daemon, {steady_s:g} s from 1 s after the first frame; "
        "max, a fresh daemon each, attach spawned when its socket appears, from the first "
        "frame until the daemon exits at the replay's end (the replay is ~3 s, so the TUI "
        f"sees part of it); 2000x, a fresh daemon each, {fixed_s:g} s from 1 s after the "
        "first frame (the tick-heavy first day). ui.refresh_hz is 4.",
    )
    for x in loads:
        load.add(f"{x.label} attach CPU", x.pct(x.cpu_s), "% core", f"window {x.window_s:.2f}s")
        load.add(f"{x.label} frames/s", x.fps, "1/s")
        load.add(f"{x.label} bytes/s", x.bps, "B/s", "; ".join(x.notes))
        load.add(f"{x.label} desk CPU", x.pct(x.desk_cpu_s), "% core")
    loadavg = f"{load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    load.add("load average (1 min) at the start / end", loadavg)
    load.table = [*load_table(loads), f"    load average (1 min) at the start / end: {loadavg}"]
    return [first, load]


# ------------------------------------------------------------------------- profile


def profile_bundled(top: int = 10) -> str:
    """cProfile one bundled replay: top entries by cumulative time (project code only,
    the asyncio plumbing above it says nothing) and by own time (everything)."""
    config = load_config(DEFAULT_CONFIG)
    profiler = cProfile.Profile()
    profiler.enable()
    replay(config, DEFAULT_CONFIG)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(kitetui|engines|strategies)/", top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


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
    header = machine_header(args)
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
        payload = {
            "header": header,
            "figures": [
                {
                    "key": f.key,
                    "title": f.title,
                    "what": f.what,
                    "skipped": f.skipped,
                    "rows": [asdict(r) for r in f.rows],
                }
                for f in figures
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
