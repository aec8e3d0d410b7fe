"""What a sweep's process and its workers import: not the libraries that draw.

A sweep refused for a bad flag, and each worker a sweep spawns (one a core, each
importing the backtest runner to run its points), never write a report nor draw a
table or a bar; plotly and rich cost each of them ~0.2 s of CPU to import. They are
imported where the drawing is done (``report_run.write_report``, the sweep's summary
and tables, a live progress bar), and this keeps a top-level import from bringing
them back unnoticed.
"""

from __future__ import annotations

import subprocess
import sys

DRAWING = ("plotly", "rich")


def test_sweep_and_backtest_modules_import_neither_plotly_nor_rich() -> None:
    probe = (
        "import sys\n"
        "import kitetui.backtest.runner, kitetui.sweep.executors, kitetui.sweep.runner\n"
        f"print(sorted(m for m in {DRAWING!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
