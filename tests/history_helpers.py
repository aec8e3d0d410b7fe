"""A real journal for the history tests: the light demo replayed into a fresh database.

Shared by ``tests/test_history_reads.py``, ``tests/control/test_reads.py`` and
``tests/tui/test_history_screens.py`` (each builds its own, in its own tmp folder).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.attacks.sigkill_corpus import light_config


def kitetui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kitetui", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def journal_db(folder: Path, runs: int = 1) -> Path:
    """``folder/state.db`` holding ``runs`` finished replays of the light demo, with a
    signal row for every HOLD (``journal.hold_rows``): thousands of rows to page through."""
    config = light_config(folder)
    data = yaml.safe_load(config.read_text())
    data["journal"] = {**data.get("journal", {}), "hold_rows": True}
    config.write_text(yaml.safe_dump(data))
    db = folder / "state.db"
    for _ in range(runs):
        proc = kitetui("run", "--config", str(config), "--no-ui", "--db", str(db))
        assert proc.returncode == 0, proc.stderr
    return db
