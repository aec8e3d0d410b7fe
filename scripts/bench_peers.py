"""kitetui's backtest side by side with backtrader and nautilus_trader (issue 13).

    .venv/bin/python scripts/bench_peers.py [--symbols 20] [--days 50] [--repeats 3]
                                            [--json out.json] [--keep DIR] [--seed 13]

What it does, in order:

1. Makes its own virtual environment, ``.bench-venv/`` at the repository root
   (gitignored), and pip-installs the pinned peers there (``PEERS``). kitetui runs from
   the interpreter running this script (the project's ``.venv``), so the peers never
   share a process or a site-packages with it.
2. Generates the data once, in a temporary folder: ``--symbols`` synthetic NSE equities
   (GBMA, GBMB, …) × ``--days`` NSE trading days (kitetui's own calendar, from
   2023-01-02) of 1-minute bars 09:15–15:29 IST, 375 a day, a seeded geometric Brownian
   motion (30% a year) with OHLC on the 0.05 tick and a volume. One ``SYMBOL.csv`` per
   symbol in kitetui's replay format (``Date,open,high,low,close,volume``, the Date as
   ``2023-04-03 09:15:00+05:30``), an NSE instrument master with their EQ rows, and the
   kitetui config. The peers parse the very same CSVs.
3. Runs the same strategy in all three, interleaved (kitetui, backtrader, nautilus;
   again; … ``--repeats`` times): EMA 20/50 crossover on 1-minute closes, long only (a
   down-cross exits). kitetui: ``python -m kitetui run --no-ui --speed max`` (the
   pipeline ``kitetui backtest`` runs, without building its report) on an ``equity`` engine
   with ``symbols: [...]``, ``ema_cross`` ``{fast: 20, slow: 50, allow_short: false}``,
   its own ATR sizing, risk, MIS session rules (no entry after 15:00, square-off at
   15:20), paper fills and journal, a fresh database per run. The peers: a fixed 10
   shares per entry, no session rules (see ``scripts/peers/``). Every tool reads
   compiled bytecode, as an installed package does: pip compiled the peers'; kitetui
   uses its venv's bytecode cache, filled by one warm-up run that is not counted
   (``kitetui_environment``).

What each figure includes:

* kitetui ``process``: spawn to exit of ``python -m kitetui run --no-ui``: interpreter
  start-up, imports, config and master checks, loading and validating the CSVs, the run,
  the journal's last commit and the summary. kitetui ``run``: its own summary line
  (``replayed N bars … X s wall``, ``Supervisor.run``: feed, engines, risk, paper
  broker, journal), which excludes start-up and loading.
* peers ``run``: ``cerebro.run()`` / ``BacktestEngine.run()`` timed inside the child, on
  data already parsed into memory (backtrader's run includes its own preload of the list
  feeds). Peers ``process``: spawn to exit of the child, CSV parsing and imports included.
* CPU s: user + system seconds of each child, from ``os.wait4``, process-wide.
* peak RSS: ``ru_maxrss`` of each child from ``os.wait4`` (that process alone).

Bars/s is the number of bars replayed over the median wall of the repeats. Ratios are
kitetui's bars/s over the peer's: process vs process, run vs run, and kitetui's process
against the peer's run (the comparison the issue's table makes), and the same ratio in
CPU seconds of the whole process (peer CPU / kitetui CPU). Trade counts are
printed so that a tool that silently did nothing cannot win.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchlib.report import log, machine_header
from benchlib.stats import median

REPO = Path(__file__).resolve().parents[1]
PEERS_DIR = Path(__file__).resolve().parent / "peers"
VENV = REPO / ".bench-venv"
PEERS = {"backtrader": "1.9.78.123", "nautilus_trader": "1.221.0"}
IST = timezone(timedelta(hours=5, minutes=30))
BARS_PER_DAY = 375  # 09:15 .. 15:29
FIRST_DAY = date(2023, 1, 2)
ANNUAL_VOL = 0.30
TICK = 0.05
TOOLS = ("kitetui", "backtrader", "nautilus")


# -- the peers' virtual environment ---------------------------------------------------------


def ensure_peer_venv(venv: Path) -> Path:
    """The venv's python, created and filled with ``PEERS`` if its stamp says otherwise."""
    python = venv / "bin" / "python"
    pins = [f"{name}=={version}" for name, version in PEERS.items()]
    stamp = venv / ".bench-peers"
    if python.exists() and stamp.exists() and stamp.read_text().split() == pins:
        return python
    log(f"creating {venv} with {' '.join(pins)} (a few minutes)")
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pins], check=True)
    stamp.write_text("\n".join(pins) + "\n")
    return python


# -- the data ---------------------------------------------------------------------------------


def symbol_names(count: int) -> list[str]:
    """GBMA, GBMB, … GBMZ, GBMBA, …: upper-case letters, valid NSE tradingsymbols."""
    names = []
    for i in range(count):
        letters = ""
        n = i
        while True:
            letters = chr(ord("A") + n % 26) + letters
            n //= 26
            if n == 0:
                break
        names.append("GBM" + letters)
    return names


def trading_days(count: int) -> list[date]:
    """``count`` NSE trading days from FIRST_DAY, by kitetui's own calendar, so that no
    generated day is one kitetui would drop as a holiday."""
    from kitetui.market.calendar import nse

    calendar = nse()
    day = FIRST_DAY if calendar.is_trading_day(FIRST_DAY) else calendar.next_trading_day(FIRST_DAY)
    days = []
    while len(days) < count:
        days.append(day)
        day = calendar.next_trading_day(day)
    return days


def _tick(price: float) -> float:
    return round(round(price / TICK) * TICK, 2)


def write_symbol(path: Path, rng: random.Random, days: list[date]) -> int:
    """One symbol's GBM bars: open = the last close, close = open·exp(σz − σ²/2), the
    high and low a half-normal excursion beyond them, all on the 0.05 tick."""
    sigma = ANNUAL_VOL / math.sqrt(252 * BARS_PER_DAY)
    drift = -0.5 * sigma * sigma
    price = rng.uniform(100.0, 2000.0)
    gauss, expo = rng.gauss, math.exp
    rows = 0
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Date", "open", "high", "low", "close", "volume"])
        for day in days:
            start = datetime(day.year, day.month, day.day, 9, 15, tzinfo=IST)
            price *= expo(3 * sigma * gauss(0.0, 1.0))  # the overnight gap
            for minute in range(BARS_PER_DAY):
                o = _tick(price)
                price *= expo(drift + sigma * gauss(0.0, 1.0))
                c = _tick(price)
                h = max(o, c, _tick(max(o, c) * (1 + abs(gauss(0.0, sigma)))))
                lo = min(o, c, _tick(min(o, c) * (1 - abs(gauss(0.0, sigma)))))
                when = start + timedelta(minutes=minute)
                volume = int(rng.lognormvariate(8.0, 1.0)) + 1
                out.writerow([when.isoformat(sep=" "), o, h, lo, c, volume])
                rows += 1
    return rows


def write_master(path: Path, symbols: list[str]) -> None:
    """EQ rows in Kite's instrument-dump layout (kitetui/data/replay/nse_instruments.csv)."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "instrument_token",
                "exchange_token",
                "tradingsymbol",
                "name",
                "last_price",
                "expiry",
                "strike",
                "tick_size",
                "lot_size",
                "instrument_type",
                "segment",
                "exchange",
            ]
        )
        for i, symbol in enumerate(symbols):
            exchange_token = 900_001 + i
            token = exchange_token * 256 + 1  # Kite: instrument_token = exchange_token<<8 | 1
            row = [token, exchange_token, symbol, f"{symbol} SYNTHETIC", "0.0", "", "0.0"]
            out.writerow([*row, "0.05", "1", "EQ", "NSE", "NSE"])


def write_config(path: Path, data: Path, master: Path, symbols: list[str]) -> None:
    """kitetui/data/dev.yaml cut to one equity engine on the generated symbols, at speed
    max, with limits wide enough that risk never stops a symbol from trading the rule."""
    text = f"""\
# Written by scripts/bench_peers.py: the synthetic GBM bars, one equity engine.
mode: replay
database: state.db
capital: 10000000
replay:
  speed: max
  sources:
    - {{exchange: NSE, path: "{data}/*.csv"}}
instruments:
  - "{master}"
paper:
  slippage_bps: 2
  tick_size: 0.05
risk:
  max_daily_loss: 10000000
  max_symbol_loss: 1000000
  max_open_positions: {len(symbols)}
  max_trades_per_symbol_per_day: 1000
  max_gross_exposure: 100000000
  max_order_value: 10000000
  max_order_quantity: 100000
sizing:
  risk_per_trade_pct: 0.5
  atr_stop_multiple: 2.0
  max_capital_fraction: 0.4
engines:
  - name: equity
    kind: equity
    symbols: [{", ".join(symbols)}]
    margin_rate: 0.2
    product: MIS
    timeframe: 1m
    strategy: ema_cross
    params: {{fast: 20, slow: 50, allow_short: false}}
journal:
  flush_interval_ms: 200
  flush_rows: 2000
  synchronous: FULL
"""
    path.write_text(text)


@dataclass(frozen=True)
class DataSet:
    folder: Path  # the CSVs, one per symbol, and nothing else
    config: Path
    symbols: list[str]
    days: list[date]
    bars: int


def make_data(root: Path, n_symbols: int, n_days: int, seed: int) -> DataSet:
    folder = root / "bars"
    folder.mkdir()
    symbols = symbol_names(n_symbols)
    days = trading_days(n_days)
    rng = random.Random(seed)
    bars = sum(write_symbol(folder / f"{s}.csv", rng, days) for s in symbols)
    master = root / "nse_instruments.csv"
    write_master(master, symbols)
    config = root / "bench.yaml"
    write_config(config, folder, master, symbols)
    return DataSet(folder, config, symbols, days, bars)


# -- the runs ------------------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    process_s: float
    cpu_s: float  # user + system of the whole process
    peak_rss_mb: float
    run_s: float | None  # what the tool itself timed; None if it cannot say
    bars: int
    trades: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)


def spawn(
    command: list[str], cwd: Path, scratch: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float, str]:
    """Run ``command`` to its end: (wall s, CPU s, peak RSS MB of that child, stdout).

    ``os.wait4`` gives the child's own rusage, so the peak is this run's and not the
    largest of every child so far (RUSAGE_CHILDREN). Output goes to files: no pipe to
    drain while waiting.
    """
    out_path, err_path = scratch / "stdout.txt", scratch / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=env)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            child.kill()
            child.wait()
            raise
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if child.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{' '.join(command)} failed (exit {child.returncode})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout


SUMMARY_REPLAYED = re.compile(r"replayed\s+([\d,]+) bars \+ ([\d,]+) ticks .*?, ([\d.]+) s wall")
SUMMARY_COUNTS = re.compile(
    r"signals\s+([\d,]+)\s+orders ([\d,]+)\s+fills ([\d,]+)\s+trades \(filled entries\) ([\d,]+)"
)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def kitetui_environment() -> dict[str, str]:
    """The environment kitetui runs in: with compiled bytecode, as the peers have theirs.

    pip compiled the peers' packages into their venv; kitetui's editable install is not
    compiled, and a sandbox that sets PYTHONDONTWRITEBYTECODE (this one does) made every
    kitetui run compile its own sources and its dependencies' again, part of it inside
    the run's timer (modules imported on first use). kitetui reads and writes bytecode in
    its venv's cache (``scripts/dev`` uses the same one), filled by a warm-up run.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(sys.prefix) / "pycache")
    return env


def run_kitetui(data: DataSet, scratch: Path, index: int) -> Run:
    db = scratch / f"kitetui-{index}.db"
    command = [
        sys.executable,
        "-m",
        "kitetui",
        "run",
        "--config",
        str(data.config),
        "--no-ui",
        "--speed",
        "max",
        "--db",
        str(db),
    ]
    wall, cpu, rss, stdout = spawn(command, scratch, scratch, kitetui_environment())
    replayed, counts = SUMMARY_REPLAYED.search(stdout), SUMMARY_COUNTS.search(stdout)
    if replayed is None or counts is None:
        raise SystemExit(f"kitetui printed no summary I can read:\n{stdout}")
    bars = _int(replayed.group(1))
    signals, orders, fills, entries = (_int(x) for x in counts.groups())
    db_mb = sum(p.stat().st_size for p in scratch.glob(f"kitetui-{index}.db*")) / 1e6
    for leftover in scratch.glob(f"kitetui-{index}.db*"):
        leftover.unlink()
    return Run(
        "kitetui",
        wall,
        cpu,
        rss,
        float(replayed.group(3)),
        bars,
        # paper orders fill whole: the fills that are not entries are exits (signal, stop
        # or square-off)
        {"entries_filled": entries, "exits_filled": fills - entries, "orders": orders},
        {"signals": signals, "database_mb": round(db_mb, 1)},
    )


def run_peer(tool: str, python: Path, data: DataSet, scratch: Path) -> Run:
    script = PEERS_DIR / {"backtrader": "backtrader_ema.py", "nautilus": "nautilus_ema.py"}[tool]
    wall, cpu, rss, stdout = spawn([str(python), str(script), str(data.folder)], scratch, scratch)
    lines = stdout.strip().splitlines()
    if not lines:
        raise SystemExit(f"{tool} printed nothing")
    answer = json.loads(lines[-1])
    trades = {
        "entries_filled": answer["buys_filled"],
        "exits_filled": answer["sells_filled"],
        "round_trips": answer["round_trips"],
    }
    extra = {"load_s": answer["load_s"], "version": answer["version"]}
    return Run(tool, wall, cpu, rss, answer["run_s"], answer["bars"], trades, extra)


# -- the report ------------------------------------------------------------------------------


def summarise(runs: list[Run]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        mine = [r for r in runs if r.tool == tool]
        bars = mine[0].bars
        process_s = median([r.process_s for r in mine])
        run_s = median([r.run_s for r in mine if r.run_s is not None])
        out[tool] = {
            "bars": bars,
            "repeats": len(mine),
            "process_s_median": process_s,
            "process_cpu_s_median": median([r.cpu_s for r in mine]),
            "run_s_median": run_s,
            "process_bars_per_s": bars / process_s,
            "run_bars_per_s": bars / run_s if run_s == run_s else float("nan"),
            "peak_rss_mb_max": max(r.peak_rss_mb for r in mine),
            "trades": mine[-1].trades,
            "extra": mine[-1].extra,
            "samples": [
                {
                    "process_s": r.process_s,
                    "cpu_s": r.cpu_s,
                    "run_s": r.run_s,
                    "peak_rss_mb": r.peak_rss_mb,
                }
                for r in mine
            ],
        }
    return out


def print_report(header: list[str], data: DataSet, figures: dict[str, dict[str, Any]]) -> None:
    width = 96
    print("=" * width)
    for line in header:
        print(line)
    print(
        f"data: {len(data.symbols)} symbols × {len(data.days)} NSE days "
        f"({data.days[0]} .. {data.days[-1]}) × {BARS_PER_DAY} = {data.bars:,} bars, 1-minute GBM"
    )
    print("-" * width)
    print(
        f"{'tool':<24}{'bars':>10}{'run bars/s':>13}{'process bars/s':>16}"
        f"{'run s':>9}{'process s':>11}{'CPU s':>8}{'peak RSS MB':>13}"
    )
    for tool, f in figures.items():
        name = tool if tool == "kitetui" else f"{tool} {f['extra']['version']}"
        print(
            f"{name:<24}{f['bars']:>10,}{f['run_bars_per_s']:>13,.0f}{f['process_bars_per_s']:>16,.0f}"
            f"{f['run_s_median']:>9.2f}{f['process_s_median']:>11.2f}"
            f"{f['process_cpu_s_median']:>8.2f}{f['peak_rss_mb_max']:>13.0f}"
        )
    print("-" * width)
    k = figures["kitetui"]
    for peer in ("backtrader", "nautilus"):
        p = figures[peer]
        print(
            f"kitetui / {peer:<11} process/run {k['process_bars_per_s'] / p['run_bars_per_s']:.3f}×"
            f"   process/process {k['process_bars_per_s'] / p['process_bars_per_s']:.3f}×"
            f"   run/run {k['run_bars_per_s'] / p['run_bars_per_s']:.3f}×"
            f"   process CPU {p['process_cpu_s_median'] / k['process_cpu_s_median']:.3f}×"
        )
    print("-" * width)
    print("trades (last repeat):")
    for tool, f in figures.items():
        trades = ", ".join(f"{key} {value:,}" for key, value in f["trades"].items())
        print(f"  {tool:<12} {trades}")
    db = k["extra"].get("database_mb")
    print(f"kitetui: {k['extra']['signals']:,} signals (rows and counted HOLDs), database {db} MB")
    for line in (
        "run = the tool's own run timer (kitetui: its summary's wall, after loading;",
        "  peers: the engine's run on data already parsed);",
        "process = spawn to exit (start-up, imports, CSV parsing included);",
        "CPU s = the whole process's user+system time, less sensitive than wall to a loaded",
        "  machine (kitetui's wall also waits on its journal's fsyncs);",
        "medians over the repeats; peak RSS is the largest of them.",
    ):
        print(line)
    print("=" * width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep", help="generate the data into this (new) folder and keep it")
    parser.add_argument("--venv", default=str(VENV), help=f"the peers' venv (default {VENV})")
    args = parser.parse_args(argv)
    if not 1 <= args.symbols <= 1000 or not 1 <= args.days <= 2000 or args.repeats < 1:
        parser.error("--symbols 1..1000, --days 1..2000, --repeats >= 1")

    python = ensure_peer_venv(Path(args.venv).resolve())  # the peers run in a scratch folder
    if args.keep:
        root = Path(args.keep)
        root.mkdir(parents=True)
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="kitetui-bench-peers-")
        root = Path(cleanup.name)
    try:
        log(f"generating {args.symbols} symbols × {args.days} days in {root}")
        data = make_data(root, args.symbols, args.days, args.seed)
        scratch = root / "runs"
        scratch.mkdir()
        log("warm-up: one kitetui run, not counted, fills its bytecode cache")
        run_kitetui(data, scratch, -1)
        runs: list[Run] = []
        for repeat in range(args.repeats):
            for tool in TOOLS:
                log(f"repeat {repeat + 1}/{args.repeats}: {tool}")
                if tool == "kitetui":
                    run = run_kitetui(data, scratch, repeat)
                else:
                    run = run_peer(tool, python, data, scratch)
                if run.bars != data.bars:
                    raise SystemExit(f"{tool} replayed {run.bars:,} bars, not {data.bars:,}")
                log(
                    f"  {run.process_s:.1f} s process ({run.cpu_s:.1f} s CPU), run "
                    f"{run.run_s:.1f} s, {run.trades}"
                )
                runs.append(run)
        figures = summarise(runs)
        header = machine_header("kitetui vs backtrader vs nautilus_trader (issue 13)", REPO)
        print_report(header, data, figures)
        if args.json:
            payload = {
                "header": header,
                "symbols": len(data.symbols),
                "days": len(data.days),
                "bars": data.bars,
                "seed": args.seed,
                "peers": PEERS,
                "figures": figures,
            }
            Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        idle = [tool for tool, f in figures.items() if not f["trades"]["entries_filled"]]
        if idle:
            print(f"error: {', '.join(idle)} filled no entry: the comparison says nothing")
            return 1
    finally:
        if cleanup is not None:
            cleanup.cleanup()
        elif args.keep:
            shutil.rmtree(root / "runs", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
