"""How long loading the replay data takes: row by row, columnar, and from the load cache.

    .venv/bin/python scripts/bench_load.py [--repeats 5] [--symbols 20] [--days 10]
                                           [--data DIR] [--json out.json]

Two data sets:

* ``demo``: the bundled default config (``kitetui/data/dev.yaml``): 38 tick files (NIFTY
  futures and options, 2022-11-18), the NIFTY 50 index each second and five 1-minute
  candle files, ~514,000 items;
* ``bench``: ``scripts/bench_peers.py``'s synthetic 1-minute candles, ``--symbols`` ×
  ``--days`` × 375 bars (generated into a temporary folder, or ``--data DIR`` made by
  ``bench_peers.py --keep DIR``).

Each is loaded as the run loads it (``kitetui.market.replay.load_replay_sources`` on the
config's ``replay.sources``: files read, parsed, validated and turned into ``Tick``/``Bar``
values) in four ways, each in a fresh child process, ``--repeats`` times, interleaved:

* ``row-by-row``: the careful path alone (``reference_ticks``/``reference_candles``),
  which is what every load did before the columnar path;
* ``columnar``: the columnar path, no cache;
* ``cold``: the columnar path with an empty cache (parse, then write the entries);
* ``warm``: from the cache written by a previous load.

Figures are medians of wall seconds (``perf_counter`` around the load alone, imports
excluded) and of CPU seconds of the child (``process_time``, the same span): the
machines are shared, and CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
for entry in (str(ROOT), str(SCRIPTS)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from benchlib.report import machine_header  # noqa: E402
from benchlib.stats import median  # noqa: E402

MODES = ("row-by-row", "columnar", "cold", "warm")


def child(mode: str, config: str, cache_dir: str) -> None:
    """One load, in this process; prints a JSON line with the timings."""
    import gc

    from kitetui.config import load_config
    from kitetui.market import replay
    from kitetui.market.load_cache import LoadCache
    from kitetui.market.loaders import reference_candles, reference_ticks

    sources = load_config(config).replay.sources
    cache = LoadCache(cache_dir if mode in ("cold", "warm") else None)
    if mode == "row-by-row":
        # What the replay loaded before: the careful path for every file, no cache.
        def careful(path, symbol, kind, _cache):  # type: ignore[no-untyped-def]
            if kind == "ticks":
                result = reference_ticks(path, symbol)
                return result.ticks, result.events
            if kind == "index":
                result = replay.load_index_values(path, symbol)
                return result.ticks, result.events
            bars = reference_candles(path, symbol, check_symbol=True)
            return bars.bars, bars.events

        replay._load_file = careful  # type: ignore[assignment]
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    loaded = replay.load_replay_sources(sources, cache=cache)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    items = sum(len(stream) for stream in loaded.streams)
    print(json.dumps({"mode": mode, "wall": wall, "cpu": cpu, "items": items}))


def run_child(mode: str, config: Path, cache_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(config), str(cache_dir)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(name: str, config: Path, repeats: int, scratch: Path) -> dict:
    samples: dict[str, list[dict]] = {mode: [] for mode in MODES}
    warm_dir = scratch / f"{name}-warm"
    run_child("cold", config, warm_dir)  # the entries the warm runs read
    for index in range(repeats):
        for mode in MODES:
            cache_dir = warm_dir if mode == "warm" else scratch / f"{name}-{mode}-{index}"
            samples[mode].append(run_child(mode, config, cache_dir))
            print(f"  {name} {mode} #{index + 1}: {samples[mode][-1]}", file=sys.stderr)
    figures = {}
    for mode, runs in samples.items():
        figures[mode] = {
            "items": runs[0]["items"],
            "wall_s": median([r["wall"] for r in runs]),
            "cpu_s": median([r["cpu"] for r in runs]),
        }
    return figures


def bench_data(args: argparse.Namespace, scratch: Path) -> Path:
    """The config of bench_peers.py's data: ``--data`` or freshly generated."""
    if args.data:
        return Path(args.data) / "bench.yaml"
    from bench_peers import make_data

    root = scratch / "bench-data"
    root.mkdir()
    return make_data(root, args.symbols, args.days, args.seed).config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--data", help="a folder made by bench_peers.py --keep")
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    from kitetui.cli import DEFAULT_CONFIG

    print("\n".join(machine_header("bench_load: loading the replay data", ROOT)))
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        scratch = Path(tmp)
        sets = {"demo": DEFAULT_CONFIG, "bench": bench_data(args, scratch)}
        for name, config in sets.items():
            results[name] = measure(name, config, args.repeats, scratch)
    print(f"\nload_replay_sources, medians of {args.repeats} fresh processes each")
    print(f"{'data':8} {'mode':12} {'items':>9} {'wall s':>8} {'cpu s':>8} {'items/s cpu':>12}")
    for name, figures in results.items():
        for mode, f in figures.items():
            rate = f["items"] / f["cpu_s"] if f["cpu_s"] else float("nan")
            line = f"{name:8} {mode:12} {f['items']:>9,} {f['wall_s']:>8.3f} {f['cpu_s']:>8.3f}"
            print(f"{line} {rate:>12,.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
