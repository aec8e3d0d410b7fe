"""The loaders keep a special session's rows inside its own windows besides the regular
hours (a Muhurat evening was dropped whole as "outside session 09:15-15:30")."""

from __future__ import annotations

import gzip
from datetime import date, time
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_helpers import run_kitetui
from hypothesis import given
from hypothesis import strategies as st

from kitetui.market.calendar import nse
from kitetui.market.loaders import DataFormatError, load_candles, reference_candles
from kitetui.market.session_hours import REGULAR, SessionHours

MUHURAT = date(2023, 11, 12)  # 18:15-19:15 in the shipped calendar
HOURS = SessionHours.of(nse().special_sessions)
DRILL = SessionHours.of(
    {date(2024, 3, 2): [(time(9, 15), time(10, 0)), (time(17, 0), time(18, 0))]}
)
IST_MIDNIGHT_2024_03_01 = 1_709_231_400 * 10**9


@given(st.lists(st.integers(0, 3 * 86_400 - 1), min_size=1, max_size=50))
def test_a_column_is_judged_as_each_of_its_timestamps(seconds: list[int]) -> None:
    ts = np.array(seconds, dtype=np.int64) * 10**9 + IST_MIDNIGHT_2024_03_01
    for hours in (REGULAR, DRILL):
        assert hours.inside_mask(ts).tolist() == [hours.inside(int(t)) for t in ts]


def test_a_special_day_keeps_its_windows_besides_the_regular_hours_and_no_other_day() -> None:
    def at(day: int, clock: str) -> int:
        h, m = map(int, clock.split(":"))
        return IST_MIDNIGHT_2024_03_01 + (day * 86_400 + h * 3600 + m * 60) * 10**9

    special = [DRILL.inside(at(1, c)) for c in ("09:15", "11:00", "16:00", "17:30", "18:00")]
    assert special == [True, True, False, True, False]
    regular = [DRILL.inside(at(0, c)) for c in ("09:14", "09:15", "15:29", "15:30", "17:30")]
    assert regular == [False, True, True, False, False]


def _muhurat_file(path: Path) -> Path:
    """A regular day (with Kite's 15:30 closing candle) and the Muhurat evening (with a
    row after it closed)."""
    rows = ["date,open,high,low,close,volume"]
    for clock in ("09:15", "09:16", "15:29", "15:30"):
        rows.append(f"2023-11-10 {clock}:00+05:30,560,561,559,560.5,100")
    for minute in range(18 * 60 + 15, 19 * 60 + 16):
        rows.append(f"2023-11-12 {minute // 60}:{minute % 60:02d}:00+05:30,570,571,569,570,50")
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    return path


def test_a_muhurat_evening_is_kept_inside_its_hour_and_the_regular_day_as_before(
    tmp_path: Path,
) -> None:
    path = _muhurat_file(tmp_path / "SBIN.csv.gz")
    for load in (load_candles, reference_candles):
        loaded = load(path, "SBIN", hours=HOURS)
        days = [b for b in loaded.bars if b.ts_ns >= 1_699_790_000 * 10**9]
        assert len(days) == 60  # 18:15 ... 19:14
        assert len(loaded.bars) == 63  # and 09:15, 09:16, 15:29 of the regular day
        reasons = sorted(e.data["reason"] for e in loaded.events)
        assert reasons == [
            "bar outside session 09:15-15:30 IST",  # the regular day's 15:30 candle
            "bar outside session 09:15-15:30 IST and its day's special session",  # 19:15
        ]
        # No calendar: every day regular, so 60 of 63 rows fall outside the session,
        # a misread file, not three bars of data.
        with pytest.raises(DataFormatError, match="calendar for a special session"):
            load(path, "SBIN")


def test_check_config_counts_a_muhurat_day_with_data(tmp_path: Path) -> None:
    _muhurat_file(tmp_path / "SBIN.csv.gz")
    config = {
        "mode": "replay",
        "replay": {
            "speed": "max",
            "sources": [{"symbol": "SBIN", "path": str(tmp_path / "SBIN.csv.gz")}],
        },
        "instruments": ["pkg:replay/nse_instruments.csv"],
        "engines": [
            {"name": "equity", "kind": "equity", "symbols": ["SBIN"], "strategy": "ema_cross"}
        ],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    done = run_kitetui("check-config", str(tmp_path / "c.yaml"))
    assert done.returncode == 0, done.stderr
    assert "(2 replay day(s))" in done.stdout, done.stdout
