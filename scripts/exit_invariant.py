#!/usr/bin/env python
"""Run the exit-invariant property test at any size and print what it tried.

    python scripts/exit_invariant.py [--examples N] [--seed S]

The test itself (``tests/trading/test_exit_invariant.py``) drives the trader, the exit
manager, the journal and the real ``KiteBroker`` against the strict local exchange in
process, through hypothesis-drawn sequences of market moves, signals, flattens, kill
switches, client faults, RMS rejections, late updates, polls and restarts, and checks
rule 11 after every step. The suite runs it with 60 sequences; this runs as many as you
ask and prints hypothesis's statistics: sequences passed or failed, how long each took,
and how often each path was taken (stop refused, stop retried, close retried, NAKED…).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="sequences to try")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (repeatable)")
    args = parser.parse_args()
    env = {**os.environ, "KITETUI_INVARIANT_EXAMPLES": str(args.examples)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "tests/trading/test_exit_invariant.py",
        "--hypothesis-show-statistics",
    ]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    print(f"$ KITETUI_INVARIANT_EXAMPLES={args.examples} {' '.join(command[1:])}", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
