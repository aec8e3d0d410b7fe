"""A path the user gave (``--db``, ``database:``, ``--out``, ``-c``) reaches the terminal
escaped: a newline in it cannot split a one-line message, an ANSI escape cannot repaint
the screen (docs/config.md: "no control characters reach the terminal")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kitetui.shown import escaped
from tests.attacks.sigkill_corpus import light_config
from tests.cli_helpers import run_kitetui

HOSTILE = "\x1b[31mRED\x1b[0m\nline2"  # a colour change and a second line


def _clean(text: str) -> bool:
    """No control character (the newlines between lines aside) in ``text``."""
    return all(c.isprintable() for line in text.splitlines() for c in line)


def test_escaped_writes_control_characters_as_escapes_and_keeps_the_rest() -> None:
    assert escaped(f"/tmp/{HOSTILE}.db") == "/tmp/\\x1b[31mRED\\x1b[0m\\nline2.db"
    assert escaped("/tmp/état ५.db") == "/tmp/état ५.db"


def test_a_database_path_that_is_a_directory_is_refused_on_one_escaped_line(
    tmp_path: Path,
) -> None:
    folder = tmp_path / f"{HOSTILE}.db"
    folder.mkdir()
    proc = run_kitetui("run", "--no-ui", "--db", str(folder))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert _clean(proc.stderr), proc.stderr
    assert escaped(str(folder)) in proc.stderr


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A desk run on ``database:`` with control characters, in a folder it creates:
    the config, the database and what the run printed."""
    folder = tmp_path_factory.mktemp("shown")
    config = light_config(folder)
    db = folder / HOSTILE / f"{HOSTILE}.db"
    data = yaml.safe_load(config.read_text())
    data["database"] = str(db)
    config.write_text(yaml.safe_dump(data))
    proc = run_kitetui("run", "--no-ui", "-c", str(config), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return config, db, proc.stdout + proc.stderr


def test_a_run_names_its_database_escaped(hostile_run: tuple[Path, Path, str]) -> None:
    _config, db, printed = hostile_run
    assert _clean(printed), printed
    assert f"created directory {escaped(str(db.parent))}" in printed
    assert f"database {escaped(str(db))}" in printed


def test_runs_report_and_export_name_paths_escaped(
    hostile_run: tuple[Path, Path, str], tmp_path: Path
) -> None:
    config, db, _printed = hostile_run
    missing = run_kitetui("report", "--db", f"{db}-missing")
    assert missing.returncode == 2, missing.stderr
    assert len(missing.stderr.splitlines()) == 1 and _clean(missing.stderr), missing.stderr
    listed = run_kitetui("runs", "-c", str(config))
    assert listed.returncode == 0 and _clean(listed.stdout + listed.stderr), listed.stderr
    out = tmp_path / f"{HOSTILE}.csv"
    exported = run_kitetui("export", "-c", str(config), "--what", "orders", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.strip().endswith(f"written to {escaped(str(out))}"), exported.stderr
    assert _clean(exported.stderr), exported.stderr
