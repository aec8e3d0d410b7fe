"""One config's full-speed run on two source trees, interleaved: is a change faster?

    .venv/bin/python scripts/bench_trees.py --base DIR [--tree DIR] --config FILE
                                            [--repeats 5] [--instructions]

A speed change is judged against the commit before it, on the same machine in the same
hour: ``DIR`` is an untouched export of that commit (``git archive REV | tar -x -C DIR``),
``--tree`` the tree under test (default: this repository). Each repeat runs
``python -m kitetui run --config FILE --no-ui --speed max`` once on each tree (base
first, then the tree, then the next pair), each with its own fresh database and its own
warm bytecode cache (a first, uncounted run per tree fills it: a sandbox that sets
PYTHONDONTWRITEBYTECODE otherwise compiles every module again in every process).

Prints, per tree, the medians of the run's own wall (its summary's ``replayed … s wall``)
and of the process's CPU seconds, the bars/s, and the ratios; checks that both trees
printed the same orders, fills, P&L and charges (a faster run that decided otherwise is
not faster). ``--instructions`` adds one run per tree under ``valgrind --tool=cachegrind``:
instruction counts, which a loaded host does not move (the journal's timed flush and the
publisher's heartbeat follow the wall clock, so two runs of one tree still differ by
~0.5%: a smaller change is not told from none).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPLAYED = re.compile(r"replayed\s+([\d,]+) bars .*?, ([\d.]+) s wall")
IR = re.compile(r"I\s+refs:\s+([\d,]+)")
# The summary lines that say what the run decided: they must agree between the trees.
DECIDED = ("signals", "P&L", "charges")


def _environment(tree: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _run(tree: Path, config: Path, scratch: Path, prefix: list[str] | None = None) -> dict:
    """One run of ``config`` on ``tree``: its run wall, process CPU, bars and summary."""
    db = scratch / "run.db"
    for leftover in scratch.glob("run.db*"):
        leftover.unlink()
    command = [sys.executable, "-m", "kitetui", "run", "--config", str(config)]
    command += ["--no-ui", "--speed", "max", "--db", str(db)]
    before = os.times()
    done = subprocess.run(
        (prefix or []) + command,
        cwd=scratch,
        env=_environment(tree, scratch.parent / f"pyc-{tree.name}"),
        capture_output=True,
        text=True,
    )
    after = os.times()
    if done.returncode != 0:
        sys.exit(f"{tree}: kitetui exited {done.returncode}\n{done.stderr[-3000:]}")
    replayed = REPLAYED.search(done.stdout)
    if replayed is None:
        sys.exit(f"{tree}: no summary I can read\n{done.stdout[-3000:]}")
    decided = [line for line in done.stdout.splitlines() if line.split(" ", 1)[0] in DECIDED]
    ir = IR.search(done.stderr)
    return {
        "bars": int(replayed.group(1).replace(",", "")),
        "wall": float(replayed.group(2)),
        "cpu": (after.children_user - before.children_user)
        + (after.children_system - before.children_system),
        "decided": decided,
        "ir": int(ir.group(1).replace(",", "")) if ir else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="an untouched export of the commit before")
    parser.add_argument("--tree", default=str(REPO), help="the tree under test (default: here)")
    parser.add_argument("--config", required=True, help="a kitetui config to replay")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="also cachegrind counts")
    args = parser.parse_args(argv)
    trees = {"base": Path(args.base).resolve(), "tree": Path(args.tree).resolve()}
    config = Path(args.config).resolve()
    for name, tree in trees.items():
        if not (tree / "kitetui" / "__init__.py").is_file():
            parser.error(f"--{name} {tree}: no kitetui package there")
    if not config.is_file():
        parser.error(f"--config {config}: no such file")
    with tempfile.TemporaryDirectory(prefix="kitetui-bench-trees-") as tmp:
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for name, tree in trees.items():  # warm-up: fills each tree's bytecode cache
            scratch = Path(tmp) / name
            scratch.mkdir()
            _run(tree, config, scratch)
        for repeat in range(args.repeats):
            for name, tree in trees.items():
                runs[name].append(_run(tree, config, Path(tmp) / name))
                print(
                    f"repeat {repeat + 1}/{args.repeats} {name}: {runs[name][-1]['wall']:.2f} s",
                    file=sys.stderr,
                )
        counts = {}
        if args.instructions:
            valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]
            for name, tree in trees.items():
                out = Path(tmp) / f"{name}.cg"
                measured = _run(
                    tree, config, Path(tmp) / name, [*valgrind, f"--cachegrind-out-file={out}"]
                )
                counts[name] = measured["ir"]
    decided = {name: r[-1]["decided"] for name, r in runs.items()}
    print(f"{config.name}: {runs['base'][0]['bars']:,} bars, {args.repeats} interleaved pairs")
    print(
        f"  at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}"
    )
    medians = {}
    for name, tree in trees.items():
        wall = statistics.median(r["wall"] for r in runs[name])
        cpu = statistics.median(r["cpu"] for r in runs[name])
        medians[name] = (wall, cpu)
        bars = runs[name][0]["bars"]
        line = f"  {name:<5} {tree}: run {wall:.2f} s ({bars / wall:,.0f} bars/s)"
        line += f", process CPU {cpu:.2f} s"
        if counts.get(name):
            line += f", {counts[name]:,} instructions"
        print(line)
    (base_wall, base_cpu), (wall, cpu) = medians["base"], medians["tree"]
    print(
        f"  tree / base: run wall {wall / base_wall:.3f}, process CPU {cpu / base_cpu:.3f}", end=""
    )
    if counts.get("base") and counts.get("tree"):
        print(f", instructions {counts['tree'] / counts['base']:.3f}", end="")
    print()
    if decided["base"] != decided["tree"]:
        print(
            "  the trees decided differently:",
            *decided["base"],
            "vs",
            *decided["tree"],
            sep="\n    ",
        )
        return 1
    print("  both trees decided the same (orders, fills, P&L, charges)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
