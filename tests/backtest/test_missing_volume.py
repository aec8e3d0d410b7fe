"""A candle file without a volume column reaches the report: its bars load with volume
0, and a strategy that weighs volume (vwap_filter) never trades on them. An index (the
master lists it under INDICES) trades no volume: nothing is missing, nothing is said."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from cli_helpers import run_kitetui

from kitetui.market.loaders import data_path

CONFIG = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - {{symbol: SBIN, path: "{sbin}"}}
    - {{symbol: "NIFTY 50", path: "{index}"}}
instruments:
  - "pkg:replay/nse_instruments.csv"
engines:
  - name: equity
    kind: equity
    symbols: [SBIN]
    margin_rate: 0.2
    product: MIS
    timeframe: 1m
    strategy: vwap_filter
"""


def _without_volume(folder: Path, name: str) -> Path:
    """The demo SBIN week with its volume column cut off, as some vendors give it."""
    text = gzip.decompress(data_path("pkg:replay/SBIN.csv.gz").read_bytes()).decode()
    rows = [line.rsplit(",", 1)[0] for line in text.splitlines()]
    path = folder / name
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_stock_file_without_volume_is_a_warning_in_the_report(tmp_path: Path) -> None:
    sbin, index = _without_volume(tmp_path, "SBIN.csv"), _without_volume(tmp_path, "NIFTY.csv")
    config = tmp_path / "novolume.yaml"
    config.write_text(CONFIG.format(sbin=sbin, index=index))
    out = tmp_path / "report"

    done = run_kitetui(
        "backtest", "-c", str(config), "--db", str(tmp_path / "bt.db"), "--out", str(out),
        timeout=180,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    said = [w for w in warnings if w.startswith("VolumeMissing:")]
    assert said == [
        "VolumeMissing: SBIN.csv: no volume column: its bars load with volume 0, so a "
        "strategy that weighs volume (vwap_filter) never trades on them; give the file its "
        "volume column"
    ]
    assert "warning: VolumeMissing: SBIN.csv: no volume column" in done.stdout
