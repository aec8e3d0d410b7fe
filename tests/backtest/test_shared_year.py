"""The acceptance path on real data: NIFTY 2024 minutes (``shared_data``) as the near-month
future, through ``scripts/make_nifty_2024_backtest.py`` and ``kitetui backtest``.

A month here (with the January -> February roll); the whole year is run by hand (README).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from datetime import date
from pathlib import Path

import pytest
from cli_helpers import run_kitetui

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_nifty_2024_backtest.py"


@pytest.fixture(scope="module")
def dataset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("make_nifty_2024_backtest", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("nifty2024")
    counts = module.build(shared_data, out)
    assert counts["NIFTY24JANFUT"] > 5_000 and set(counts) >= {"NIFTY24FEBFUT", "NIFTY24AUGFUT"}
    return out


def test_a_month_of_nifty_2024_backtests_with_the_full_report(dataset: Path, tmp_path: Path):
    out = tmp_path / "report"
    done = run_kitetui(
        "backtest", "-c", str(dataset / "backtest.yaml"), "--db", str(tmp_path / "y.db"),
        "--out", str(out), "--from", "2024-01-01", "--to", "2024-01-31", timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["trading_days"] == 22  # NSE sessions in January 2024
    assert report["trades"] > 0
    # what the data did is said (bars outside the session's hours, the validator's
    # refusals), and nothing else: no fill the charges could not price
    assert all(
        w.startswith(("BarOutsideSession: ", "RowsReordered: "))
        or w.endswith(("(BarSkipped)", "(DataGap)", "(SpikeRejected)", "(HeldDropped)"))
        for w in report["warnings"]
    ), report["warnings"]
    assert report["charges"]["stt"] > 0 and report["charges"]["brokerage"] > 0
    expiries = {"NIFTY24JANFUT": date(2024, 1, 25), "NIFTY24FEBFUT": date(2024, 2, 29)}
    with (out / "fills.csv").open(newline="") as fh:
        fills = list(csv.DictReader(fh))
    for row in fills:
        assert int(row["quantity"]) % 50 == 0  # lots of 50 in the January series
        day = date.fromisoformat(row["ts"][:10])
        assert day <= expiries[row["tradingsymbol"]]
    assert {row["tradingsymbol"] for row in fills} == set(expiries)  # rolled on the 25th
    assert (out / "report.html").stat().st_size > 1_000_000
