"""Processes the benchmarks start and watch: kitetui itself, their own child runs.

Every process started here is owned by its ``Popen`` and ended through it; nothing is
looked up or killed by name. CPU time comes from ``/proc/<pid>/stat`` in clock ticks
(10 ms), memory from ``/proc/self/status``: Linux only, like the desk's deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")


class ChildFailed(RuntimeError):
    """A child run ended non-zero or printed no JSON line."""


def kitetui_exe() -> str:
    """The ``kitetui`` console script beside this interpreter (what a user starts)."""
    local = Path(sys.executable).parent / "kitetui"
    if local.exists():
        return str(local)
    found = shutil.which("kitetui")
    if not found:
        raise SystemExit("cannot find the kitetui console script")
    return found


def kitetui_command(*args: str) -> list[str]:
    """``python -m kitetui ARGS`` with this interpreter: no PATH lookup, no venv doubt."""
    return [sys.executable, "-m", "kitetui", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without Textual's and the terminal's size overrides, plus ``extra``:
    a child must size itself from its own terminal, as it would for a user."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TEXTUAL") and k not in ("COLUMNS", "LINES", "NO_COLOR")
    }
    env.update(extra)
    return env


def cpu_seconds(pid: int) -> float | None:
    """user+sys CPU seconds of ``pid`` and its waited-for children; None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14 -> index 11, then stime, cutime, cstime
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields: dict[str, float] = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def run_json_child(
    command: list[str], *, cwd: str | Path, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``command`` to the end; its last stdout line, parsed as JSON.

    A child process gives a measurement its own interpreter (memory, imports, a
    process-global reactor). Its stderr (progress) is passed through as it stands.
    """
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=timeout
    )
    sys.stderr.write(done.stderr)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ChildFailed(f"{' '.join(command)} failed (exit {done.returncode})")
    return json.loads(lines[-1])
