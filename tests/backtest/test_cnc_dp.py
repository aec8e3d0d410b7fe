"""``kitetui backtest`` of a CNC engine that holds overnight: the delivery sale pays
Zerodha's DP charge (₹13.50 + 18 % GST = ₹15.93 per scrip and day, off the contract note)
and the one figure shows in the summary, fills.csv, trades.csv, report.json and the
rebuilt report alike.

The run, on the bundled replay days (2023-04-05 … 04-11): SBIN bought 476 on 04-06, held
overnight and sold on 04-10 at 11:15 (a delivery sale: one DP charge); bought back 473 at
12:30 and sold at 14:30 the same day (SBIN's day then nets to 476 delivered out: still
one charge); the rest are same-day round trips or positions still open at the end.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from cli_helpers import run_kitetui

CNC_HELD = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - {symbol: HDFCBANK, path: "pkg:replay/HDFCBANK.csv.gz"}
    - {symbol: SBIN, path: "pkg:replay/SBIN.csv.gz"}
instruments:
  - "pkg:replay/nse_instruments.csv"
engines:
  - name: equity
    kind: equity
    symbols: [HDFCBANK, SBIN]
    product: CNC
    timeframe: 15m
    strategy: ema_cross
    params: {fast: 10, slow: 30, allow_short: false}
"""
DP = Decimal("15.93")


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("cnc_dp")
    config = folder / "cnc.yaml"
    config.write_text(CNC_HELD)
    db, out = folder / "bt.db", folder / "report"
    done = run_kitetui("backtest", "-c", str(config), "--from", "2023-04-03", "--to",
                       "2023-04-11", "--db", str(db), "--out", str(out), timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"db": db, "out": out, "proc": done, "folder": folder}


def test_a_cnc_delivery_sale_pays_one_dp_charge_shown_everywhere(finished) -> None:
    out: Path = finished["out"]
    assert "· DP ₹15.93" in finished["proc"].stdout  # the summary's charges line
    fills = _csv(out / "fills.csv")
    charged = [(f["tradingsymbol"], f["side"], f["ts"][:16]) for f in fills if Decimal(f["dp"])]
    assert charged == [("SBIN", "SELL", "2023-04-10T11:15")]
    assert sum(Decimal(f["dp"]) for f in fills) == DP
    report = json.loads((out / "report.json").read_text())
    assert Decimal(str(report["charges"]["dp"])) == DP
    total = sum(Decimal(f["charges"]) for f in fills)
    assert float(total) == pytest.approx(report["charges"]["total"], abs=1e-6)
    assert report["net_pnl"] == pytest.approx(report["gross_pnl"] - report["charges"]["total"])
    # The trade that sold from the demat carries the DP charge in its charges and net.
    trades = _csv(out / "trades.csv")
    held = [t for t in trades if t["exit_ts"].startswith("2023-04-10T11:15")]
    assert len(held) == 1 and held[0]["entry_ts"].startswith("2023-04-06")
    legs = [f for f in fills if f["tradingsymbol"] == "SBIN" and f["ts"] < "2023-04-10T11:16"]
    assert [f["side"] for f in legs] == ["BUY", "SELL"]
    assert Decimal(held[0]["charges"]) == sum(Decimal(f["charges"]) for f in legs)
    assert sum(Decimal(t["net"]) for t in trades) == pytest.approx(
        Decimal(str(report["net_pnl"])), abs=Decimal("0.00001")
    )
    assert '<td class="l">dp</td><td>₹15.93</td>' in (out / "report.html").read_text()


def test_the_rebuilt_report_reads_the_same_dp_from_the_journal(finished) -> None:
    again = finished["folder"] / "again"
    done = run_kitetui("report", "latest", "--db", str(finished["db"]), "--out", str(again))
    assert done.returncode == 0, done.stderr
    report = json.loads((again / "report.json").read_text())
    assert Decimal(str(report["charges"]["dp"])) == DP
