#!/usr/bin/env python
"""Build the database damage corpus and run the real CLI on every case; print counts.

    python scripts/attack_db_corpus.py [--keep DIR] [--only NAME,NAME]

The corpus itself (what each damage is and what kitetui must answer) lives in
``tests/attacks/database_damage_corpus.py``, which tests/attacks/test_database_damage.py
asserts on; this script prints the same outcomes as a table, one line per case:
expected and actual exit code, stderr lines, whether the database and its WAL hash the
same after, and the one stderr line. It exits 1 if any case misbehaved.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "attacks"))
sys.path.insert(0, str(ROOT))

from database_damage_corpus import DAMAGES, build_masters, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--keep", type=Path, help="build and damage in this folder (kept)")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    chosen = [d for d in DAMAGES if not args.only or d.name in args.only.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        started = time.perf_counter()
        print("building the master databases with the real CLI ...", file=sys.stderr)
        masters = build_masters(folder / "masters")
        print(f"{'case':<34} {'want':>4} {'got':>4} {'lines':>5} {'same':>4}  stderr")
        failed = 0
        by_code: dict[int, int] = {}
        for damage in chosen:
            outcome = run_case(damage, masters, folder / "cases" / damage.name)
            by_code[outcome.exit_code] = by_code.get(outcome.exit_code, 0) + 1
            same = "yes" if outcome.hashes_after == outcome.hashes_before else "NO"
            line = outcome.stderr[0] if outcome.stderr else ""
            print(
                f"{damage.name:<34} {damage.exit_code:>4} {outcome.exit_code:>4} "
                f"{len(outcome.stderr):>5} {same:>4}  {line[:150]}"
            )
            if not outcome.ok:
                failed += 1
                print(f"  !! {'; '.join(outcome.problems)}")
        codes = ", ".join(f"exit {code}: {n}" for code, n in sorted(by_code.items()))
        print(
            f"\n{len(chosen)} cases, {len(chosen) - failed} as expected, {failed} not "
            f"({codes}); {time.perf_counter() - started:.0f} s"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
