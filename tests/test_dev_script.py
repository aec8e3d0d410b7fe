"""``scripts/dev``: the first run says what it is doing while it installs (issue 14)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

DEV = Path(__file__).resolve().parents[1] / "scripts" / "dev"

# Stands in for python3: `-m venv DIR` makes a venv whose python accepts any pip call
# and whose kitetui prints its arguments. Nothing is downloaded.
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    printf '#!/bin/sh\\nexit 0\\n' > "$3/bin/python"
    printf '#!/bin/sh\\necho "desk $*"\\n' > "$3/bin/kitetui"
    chmod +x "$3/bin/python" "$3/bin/kitetui"
    exit 0
fi
exit 3
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_first_run_says_what_it_installs_and_later_runs_are_quiet(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(DEV, tmp_path / "scripts" / "dev")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    _executable(bin_dir / "python3", FAKE_PYTHON)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    def dev(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(tmp_path / "scripts" / "dev"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )

    first = dev("run", "--no-ui")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "desk --no-ui\n"
    steps = first.stderr.splitlines()
    assert steps[0].startswith("scripts/dev: first run")
    assert any("installing kitetui and its dependencies" in line for line in steps)
    assert steps[-1] == "scripts/dev: ready; later runs start at once"

    again = dev("run")
    assert again.returncode == 0 and again.stdout == "desk \n"
    assert again.stderr == ""
