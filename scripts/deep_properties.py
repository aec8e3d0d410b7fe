#!/usr/bin/env python
"""Run the suite's property tests with far more examples than CI does, under a seed.

    python scripts/deep_properties.py [--times 10] [--seed S] [PATHS ...]

The suite's hypothesis tests run a few dozen to a few hundred examples each, with a new
random seed on every run. A bug that only a rare sequence reaches may then turn CI red
one day at random, or never be seen: this is the place to look for it first (the exit
manager's silent replacement of a refused stop was found this way, by a seed nobody
had tried). It runs pytest on PATHS (default: every test file that uses ``@given``)
with each property test's own ``max_examples`` multiplied by ``--times`` (tests without
settings of their own get 100 × ``--times``), no deadline, and ``--seed`` if given, one
process, and prints hypothesis's statistics. A failure prints the falsifying example:
pin it with ``@example(...)`` once fixed. ``scripts/exit_invariant.py`` does the same
for the exit invariant, whose size comes from an environment variable.

Hypothesis has no public switch to scale a test's explicit ``@settings``, so the plugin
below rewrites the settings hypothesis attaches to each test function
(``_hypothesis_internal_use_settings``); if a hypothesis release renames it, the script
stops with an error rather than silently running the usual counts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
ATTRIBUTE = "_hypothesis_internal_use_settings"  # hypothesis's own, see the docstring


class Scale:
    """Multiplies each collected property test's examples once (not per parameter)."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.scaled = 0

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        seen: set[int] = set()
        for item in items:
            function = getattr(item, "obj", None)
            current = getattr(function, ATTRIBUTE, None)
            if current is None or id(function) in seen:
                continue
            seen.add(id(function))
            scaled = settings(current, max_examples=current.max_examples * self.times)
            setattr(function, ATTRIBUTE, scaled)
            self.scaled += 1


def property_files() -> list[str]:
    found = subprocess.run(
        ["grep", "-rl", "--include=test_*.py", "@given", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted(found.stdout.split())


def _test_files(paths: list[str]) -> list[Path]:
    """The test files ``paths`` name: files as given, folders searched (``pytest`` takes
    both)."""
    files: list[Path] = []
    for path in paths:
        where = ROOT / path.split("::")[0]
        files.extend(sorted(where.rglob("test_*.py")) if where.is_dir() else [where])
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=10, help="examples × this (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed")
    parser.add_argument(
        "paths", nargs="*", help="test files or folders (default: every file with @given)"
    )
    args = parser.parse_args()
    if args.times < 1:
        parser.error("--times must be at least 1")
    settings.register_profile("deep", max_examples=100 * args.times, deadline=None)
    settings.load_profile("deep")
    os.chdir(ROOT)  # the project's pytest settings and conftest
    paths = args.paths or property_files()
    command = ["-n", "0", "-p", "no:cacheprovider", "--hypothesis-show-statistics"]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    scale = Scale(args.times)
    code = pytest.main([*command, *paths], plugins=[scale])
    explicit = any("@settings(" in file.read_text() for file in _test_files(paths))
    if explicit and scale.scaled == 0 and code in (0, 1):
        print(f"no test carried {ATTRIBUTE}: hypothesis changed, counts NOT scaled")
        return 2
    print(
        f"{scale.scaled} tests with settings of their own at {args.times}x their examples, "
        f"the others at {100 * args.times}; seed {args.seed}"
    )
    return int(code)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
