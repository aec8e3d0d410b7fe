"""``kitetui sweep`` on 1 worker against 2 (or N) workers, and on a local Ray (issue 13).

    .venv/bin/python scripts/bench_sweep.py [--symbols 5] [--days 10] [--repeats 3]
                                            [--workers 2] [--no-ray] [--json out.json]

What it does:

1. Generates seeded synthetic 1-minute bars with ``bench_peers.make_data`` (``--symbols``
   NSE equities × ``--days`` NSE trading days, kitetui's replay CSVs and master, one
   equity engine on ``ema_cross``), in a temporary folder.
2. Runs the same sweep, ``--grid fast=10,15,20,25 --grid slow=50,80`` (8 points, each a
   full backtest of the data), as ``python -m kitetui sweep`` processes: ``--workers 1``
   and ``--workers N`` interleaved, ``--repeats`` times each. Wall is spawn to exit of
   the sweep process: imports, the pool's start, every point (each loads the CSVs and
   runs the desk with its journal), results.csv and best.yaml.
3. Checks the two give the same results.csv figures (the speed-up of a sweep that
   computed something else would mean nothing), and prints the medians and the ratio.
4. Unless ``--no-ray`` (or ray is not installed): the same sweep once with ``--ray
   --workers N`` (a local Ray with N CPUs started by the sweep): its wall (Ray's start
   included), points, the median and total of the points' own wall (from results.csv)
   and the size of the data bundle put once in the object store.

The machine's cores may be shared: the header prints nproc and the load average, and
the ratio is only as good as the idle cores the run had.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_peers import make_data  # the same generated bars as the peers' benchmark
from benchlib.report import log, machine_header
from benchlib.stats import median

from kitetui.config import load_config
from kitetui.sweep.bundle import make_bundle

REPO = Path(__file__).resolve().parents[1]
GRID = ("--grid", "fast=10,15,20,25", "--grid", "slow=50,80")
FIGURES = ("point", "fast", "slow", "net_pnl", "sharpe", "max_drawdown", "trades", "win_rate")


def sweep(config: Path, out: Path, *extra: str) -> tuple[float, float, list[dict[str, str]]]:
    """One ``kitetui sweep`` process to its end: (wall s, CPU s, results.csv rows). CPU
    is user + system of the sweep and of every worker it reaped (RUSAGE_CHILDREN rolls
    grandchildren up once they are waited for): what the sweep cost whatever the load."""
    command = [sys.executable, "-m", "kitetui", "sweep", "-c", str(config), *GRID]
    command += ["--out", str(out), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=out.parent)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"sweep failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return wall, cpu, rows


def figures_of(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return sorted(tuple(row[name] for name in FIGURES) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    header = machine_header("kitetui sweep: 1 worker vs N, and Ray", REPO)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        root = Path(scratch)
        log(f"generating {args.symbols} symbols × {args.days} days of 1-minute bars…")
        data = make_data(root, args.symbols, args.days, args.seed)
        walls: dict[int, list[float]] = {1: [], args.workers: []}
        cpus: dict[int, list[float]] = {1: [], args.workers: []}
        results: dict[int, list[tuple[str, ...]]] = {}
        for repeat in range(args.repeats):
            for workers in (1, args.workers):
                out = root / f"w{workers}-{repeat}"
                wall, cpu, rows = sweep(data.config, out, "--workers", str(workers))
                walls[workers].append(wall)
                cpus[workers].append(cpu)
                results.setdefault(workers, figures_of(rows))
                if figures_of(rows) != results[workers] or figures_of(rows) != results[1]:
                    raise SystemExit(f"--workers {workers} gave other figures than --workers 1")
                log(
                    f"repeat {repeat + 1}: --workers {workers}: {wall:.2f} s wall, "
                    f"{cpu:.2f} s CPU, {len(rows)} points, load {os.getloadavg()[0]:.2f}"
                )
        one, many = median(walls[1]), median(walls[args.workers])
        figures["local"] = {
            "points": len(results[1]),
            "bars_per_point": data.bars,
            "workers_1_wall_s": walls[1],
            f"workers_{args.workers}_wall_s": walls[args.workers],
            "median_1_s": one,
            f"median_{args.workers}_s": many,
            "speedup": one / many,
            "workers_1_cpu_s": cpus[1],
            f"workers_{args.workers}_cpu_s": cpus[args.workers],
        }
        ray_ok = not args.no_ray
        if ray_ok:
            try:
                import ray  # noqa: F401
            except ImportError:
                log("ray is not installed: no Ray figures (pip install 'kitetui[ray]')")
                ray_ok = False
        if ray_ok:
            out = root / "ray"
            wall, _cpu, rows = sweep(data.config, out, "--ray", "--workers", str(args.workers))
            if figures_of(rows) != results[1]:
                raise SystemExit("--ray gave other figures than --workers 1")
            per_point = [float(row["wall_s"]) for row in rows]
            bundle = make_bundle(load_config(data.config)).size
            figures["ray"] = {
                "cpus": args.workers,
                "points": len(rows),
                "wall_s": wall,
                "point_median_s": median(per_point),
                "points_total_s": sum(per_point),
                "bundle_bytes": bundle,
            }
    for line in header:
        print(line)
    local = figures["local"]
    print(
        f"\nsweep of {local['points']} points ({args.symbols} symbols × {args.days} days, "
        f"{local['bars_per_point']:,} bars a point), {args.repeats} repeats, medians:"
    )
    print(f"  --workers 1          {one:8.2f} s   ({', '.join(f'{w:.2f}' for w in walls[1])})")
    print(
        f"  --workers {args.workers:<10} {many:8.2f} s   "
        f"({', '.join(f'{w:.2f}' for w in walls[args.workers])})"
    )
    print(f"  speed-up             {one / many:8.2f}×   (same results.csv figures: yes)")
    cpu_one, cpu_many = median(cpus[1]), median(cpus[args.workers])
    print(
        f"  CPU s (median)       {cpu_one:8.2f} s with 1 worker, {cpu_many:.2f} s with "
        f"{args.workers}: the work is the same; the wall ratio is the parallelism"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  load(1/5/15m) at the end: {load} (other processes share these cores)")
    if "ray" in figures:
        ray_figures = figures["ray"]
        print(
            f"\nRay (local, {ray_figures['cpus']} CPUs, started by the sweep): "
            f"{ray_figures['points']} points in {ray_figures['wall_s']:.2f} s wall "
            f"(Ray's start included); a point {ray_figures['point_median_s']:.2f} s median, "
            f"{ray_figures['points_total_s']:.2f} s summed; data bundle "
            f"{ray_figures['bundle_bytes'] / 1e6:.1f} MB put once (same figures: yes)"
        )
    if args.json:
        args.json.write_text(json.dumps({"header": header, **figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
