"""``scripts/attack_corpus.py`` imported once for the attack tests (scripts/ is not a
package), plus the CLI runs they share: the slow part, run two at a time."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from cli_helpers import run_kitetui

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "attack_corpus.py"


def attack_corpus() -> ModuleType:
    module = sys.modules.get("attack_corpus")
    if module is None:
        spec = importlib.util.spec_from_file_location("attack_corpus", _SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["attack_corpus"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return module


def cli_args(case, directory: Path, command: str) -> list[str]:
    config = str(directory / case.config)
    if command == "run":
        db = directory / "state.db"
        return ["run", "--no-ui", "--speed", "max", "--config", config, "--db", str(db)]
    return ["check-config", config]


def run_cli_cases(
    runs: list[tuple[object, str]], root: Path
) -> dict[tuple[str, str], tuple[object, bool]]:
    """Each (case, command) through ``python -m kitetui``;
    -> (name, command) -> (Verdict, whether a database file was created)."""
    corpus = attack_corpus()

    def one(case, command: str):
        directory = corpus.materialize(case, root / command)
        proc = run_kitetui(*cli_args(case, directory, command), timeout=120)
        events = corpus.read_events(directory / "state.db") if command == "run" else []
        outcome = corpus.Outcome(proc.returncode, proc.stderr, events)
        verdict = corpus.judge(case, outcome, directory)
        db = directory / "state.db"
        refused = command == "run" and case.expect_exit and db.exists()
        if refused and corpus.read_count(db, "orders"):
            verdict = corpus.Verdict(case, False, "orders were placed before the refusal")
        return (case.name, command), (verdict, db.exists())

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(lambda item: one(*item), runs))
