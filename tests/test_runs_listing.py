"""`kitetui runs` (kitetui/runs_listing.py): what a database holds, read without a trace."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kitetui.runs_listing import list_runs, render
from kitetui.store.errors import DatabasePathError, DatabaseRefused
from tests.attacks.sigkill_corpus import light_config


def kitetui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kitetui", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    config = light_config(folder)
    db = folder / "state.db"
    for _ in range(2):
        proc = kitetui("run", "--config", str(config), "--no-ui", "--db", str(db))
        assert proc.returncode == 0, proc.stderr
    return db


def test_runs_lists_each_run_with_its_ledger_and_pnl(two_runs: Path) -> None:
    first, second = list_runs(two_runs)
    assert first.run_id != second.run_id
    for line in (first, second):
        assert (line.mode, line.status, line.restarts) == ("replay", "FINISHED", 0)
        assert line.data_from == "2022-11-18" and line.data_to == "2023-04-11"
        assert line.fills == line.orders > 20 and line.open_positions == 0
    assert first.realized_pnl == second.realized_pnl != 0  # the same replay, the same P&L
    assert first.net_pnl == second.net_pnl and first.unpriced_fills == 0


def test_runs_net_is_the_reports_net(two_runs: Path) -> None:
    """The listing's gross, charges and net are the report's for a finished, flat run."""
    from decimal import Decimal

    from kitetui.backtest.build import build_report
    from kitetui.backtest.ledger import load_ledger

    for line in list_runs(two_runs):
        total = build_report(load_ledger(two_runs, line.run_id)).total
        assert line.charges > 0 and total.open_trades == 0
        assert Decimal(str(line.realized_pnl)) == total.gross_pnl
        # The journal rounds each order's charges to paise; the report sums exact rupees:
        # they differ by at most half a paisa an order.
        slack = Decimal("0.005") * line.orders
        assert abs(Decimal(str(line.charges)) - total.charges.total) <= slack
        assert abs(Decimal(str(line.net_pnl)) - total.net_pnl) <= slack


def test_runs_from_the_command_line_changes_nothing(two_runs: Path) -> None:
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in two_runs.parent.iterdir()}
    proc = kitetui("runs", "--db", str(two_runs))
    assert proc.returncode == 0, proc.stderr
    head, *rows = proc.stdout.splitlines()
    assert head.split()[:3] == ["run", "mode", "status"] and len(rows) == 2
    assert "2022-11-18..2023-04-11" in rows[0] and "FINISHED" in rows[0]
    as_json = json.loads(kitetui("runs", "--db", str(two_runs), "--json").stdout)
    assert [r["run_id"] for r in as_json] == [line.run_id for line in list_runs(two_runs)]
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in two_runs.parent.iterdir()}
    assert after == before


@pytest.mark.parametrize(
    ("content", "refused", "says", "code", "cli_says"),
    [
        # no file: exit 2, as report and export say it
        (None, DatabasePathError, "no such database", 2, "no such database"),
        # the command verifies a closed file first, with the desk's own line
        (b"not a database at all" * 100, DatabaseRefused, "cannot be read as a kitetui database",
         3, "cannot be read as a database (file is not a database); it was left untouched"),
    ],
    ids=["missing", "garbage"],
)  # fmt: skip
def test_runs_on_a_bad_file_is_one_line(
    tmp_path: Path, content: bytes | None, refused: type, says: str, code: int, cli_says: str
) -> None:
    db = tmp_path / "x.db"
    if content is not None:
        db.write_bytes(content)
    with pytest.raises(refused, match=says):
        list_runs(db)
    proc = kitetui("runs", "--db", str(db))
    assert proc.returncode == code and proc.stderr.count("\n") == 1 and cli_says in proc.stderr
    assert "Traceback" not in proc.stderr


def test_render_with_no_runs_says_so() -> None:
    assert render([], as_json=False) == "no runs"
