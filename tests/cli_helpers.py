"""Running kitetui's command line from tests, as a user would.

Imported by the tests that check the CLI's exit codes, one-line errors and summaries
(``tests/`` is on ``sys.path`` as the test modules' own folder).
"""

from __future__ import annotations

import subprocess
import sys


def run_kitetui(
    *args: str, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m kitetui ARGS`` in a fresh interpreter, stdout and stderr captured as text.

    A fresh process, not ``main()`` in-process: exit codes, what reaches stderr and
    import-time behaviour are part of what these tests check. ``timeout`` bounds a hung
    run (``subprocess.TimeoutExpired``); ``input`` is fed to stdin when given.
    """
    return subprocess.run(
        [sys.executable, "-m", "kitetui", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
