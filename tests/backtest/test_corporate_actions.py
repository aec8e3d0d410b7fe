"""What the data cannot mean reaches the report: an equity opening beyond NSE's price
bands (an unadjusted split: ``OpeningGap``, and no entry in it that day), a move beyond
them within a session (refused, never confirmed), sessions the file lacks or cuts short
(``SessionMissing``, ``SessionShort``). Probe B's findings 3 and 8 on the demo SBIN week
(2023-04-03, 05, 06, 10, 11)."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

from cli_helpers import run_kitetui

from kitetui.market.loaders import data_path

CONFIG = """\
mode: replay
capital: 1000000
replay:
  speed: max
  sources:
    - {{symbol: SBIN, path: "{path}"}}
instruments:
  - "pkg:replay/nse_instruments.csv"
engines:
  - name: equity
    kind: equity
    symbols: [SBIN]
    margin_rate: 0.2
    product: MIS
    timeframe: 1m
    strategy: ema_cross
    params: {{fast: 3, slow: 8}}
"""


def _vendor_sbin(folder: Path) -> Path:
    """SBIN's week as an unadjusted vendor gives it: 04-05 ends at 12:00, 04-06 is
    missing, a 1:10 split before 04-10 and another at 12:00 on 04-11."""
    text = gzip.decompress(data_path("pkg:replay/SBIN.csv.gz").read_bytes()).decode()
    header, *rows = text.splitlines()
    kept = [header]
    for row in rows:
        stamp, *prices, volume = row.split(",")
        day, clock = stamp[:10], stamp[11:16]
        if day == "2023-04-06" or (day == "2023-04-05" and clock >= "12:00"):
            continue
        split = 10 if day >= "2023-04-10" else 1
        split *= 10 if (day, clock) >= ("2023-04-11", "12:00") else 1
        kept.append(",".join([stamp, *(f"{float(p) / split:.2f}" for p in prices), volume]))
    path = folder / "SBIN.csv"
    path.write_text("\n".join(kept) + "\n")
    return path


def test_an_unadjusted_split_and_missing_sessions_are_in_the_report(tmp_path: Path) -> None:
    config = tmp_path / "split.yaml"
    config.write_text(CONFIG.format(path=_vendor_sbin(tmp_path)))
    out, db = tmp_path / "report", tmp_path / "bt.db"
    done = run_kitetui(
        "backtest", "-c", str(config), "--db", str(db), "--out", str(out), timeout=180
    )
    assert done.returncode == 0, done.stderr
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    assert "SessionMissing: SBIN has no data on 1 session(s): 2023-04-06" in warnings
    assert any(w.startswith("SessionShort: SBIN has data ending") for w in warnings)
    gaps = [w for w in warnings if w.startswith("OpeningGap:")]
    assert len(gaps) == 1 and gaps[0].startswith("OpeningGap: SBIN opens 2023-04-10 at 52.")
    assert "possible corporate action (split, bonus, demerger): adjust the data" in gaps[0]
    with sqlite3.connect(db) as conn:
        kinds = {kind for (kind,) in conn.execute("SELECT kind FROM events")}
        entries_on_gap_day = conn.execute(
            "SELECT count(*) FROM orders WHERE purpose = 'ENTRY' AND date(ts_ns / 1e9 + "
            "19800, 'unixepoch') = '2023-04-10'"
        ).fetchone()[0]
        (jumped,) = conn.execute(
            "SELECT ts_ns FROM events WHERE kind = 'BandJump' AND symbol = 'SBIN'"
        ).fetchone()
        entries_after_the_jump = conn.execute(
            "SELECT count(*) FROM orders WHERE purpose = 'ENTRY' AND ts_ns >= ? AND "
            "date(ts_ns / 1e9 + 19800, 'unixepoch') = '2023-04-11'",
            (jumped,),
        ).fetchone()[0]
    # the split at 12:00 on 04-11 is confirmed as a move, said, and trades nothing new
    assert "JumpConfirmed" in kinds
    assert any(w.startswith("BandJump: SBIN moved from") for w in warnings)
    assert entries_on_gap_day == 0 and entries_after_the_jump == 0


def test_check_config_says_the_missing_and_short_sessions(tmp_path: Path) -> None:
    config = tmp_path / "split.yaml"
    config.write_text(CONFIG.format(path=_vendor_sbin(tmp_path)))
    checked = run_kitetui("check-config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "SBIN has no data on 1 session(s): 2023-04-06" in checked.stderr
    assert "SBIN has data ending over 60 min before the session's close on 1 session(s): " \
        "2023-04-05" in checked.stderr  # fmt: skip
