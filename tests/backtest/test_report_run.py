"""The report's own module loads nothing of what runs a desk.

``kitetui report`` and the process each backtest starts to write its report import
``kitetui.backtest.report_run``; through ``kitetui.backtest.runner`` they imported the
config and its pydantic models, the strategies, the loaders and numpy (~0.3 s of CPU a
process, and the suite starts dozens).
"""

from __future__ import annotations

import json
import subprocess
import sys

DESK_ONLY = ("numpy", "pydantic", "kitetui.config", "kitetui.market.loaders", "strategies")


def test_the_report_module_imports_none_of_the_desk() -> None:
    probe = (
        "import json, sys\n"
        "import kitetui.backtest.report_run\n"
        f"print(json.dumps(sorted(m for m in {DESK_ONLY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []
