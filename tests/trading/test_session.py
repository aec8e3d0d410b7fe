"""Each session's cut-off and square-off come from its own hours, and nothing intraday
outlives it: the plan, and a replay of a Saturday DR drill that closes at 12:30."""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from kitetui.clock import IST, ist_minute_of_day
from kitetui.config import SessionConfig, parse_config
from kitetui.market.calendar import nse
from kitetui.supervisor import Supervisor
from kitetui.trading.session import plan_session

DRILL = date(2024, 3, 2)  # 09:15-10:00 and 11:30-12:30 (nse_special_sessions.csv)


@pytest.mark.parametrize(
    ("day", "close", "cutoff", "equity", "fno", "special"),
    [
        (date(2024, 3, 1), "15:30", "15:00", "15:20", "15:25", False),  # a regular Friday
        (DRILL, "12:30", "12:00", "12:20", "12:25", True),  # split Saturday drill
        (date(2024, 1, 20), "15:30", "15:00", "15:20", "15:25", False),  # a full Saturday
    ],
)
def test_plan_with_calendar_session_moves_with_its_close(
    day: date, close: str, cutoff: str, equity: str, fno: str, special: bool
) -> None:
    plan = plan_session(nse(), day, SessionConfig())

    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    assert hhmm(plan.close_minute) == close
    assert hhmm(plan.entry_cutoff_minute) == cutoff
    assert hhmm(plan.square_off_minute("equity")) == equity
    assert hhmm(plan.square_off_minute("fno")) == fno
    assert plan.special is special


def test_plan_with_offsets_longer_than_the_session_stays_inside_it() -> None:
    config = SessionConfig(entry_cutoff="09:30", square_off="09:40", square_off_fno="09:45")
    plan = plan_session(nse(), DRILL, config)  # 6 hours before a 12:30 close: the open
    assert plan.entry_cutoff_minute == plan.open_minute == 9 * 60 + 15


def _drill_candles(path: Path) -> None:
    """SBIN minutes on the drill day: quiet in the first window; in the second a dip,
    then a steady climb from 11:42 to the close, so a long taken before 12:00 is still
    open when the day's square-off comes at 12:20."""
    rows = ["Date,open,high,low,close,volume"]
    price = 760.0

    def add(start: datetime, minutes: int, step: float) -> None:
        nonlocal price
        for i in range(minutes):
            ts = start + timedelta(minutes=i)
            close = round(price + step, 2)
            high, low = max(price, close) + 0.2, min(price, close) - 0.2
            rows.append(f"{ts.isoformat()},{price},{high:.2f},{low:.2f},{close},50000")
            price = close

    add(datetime(2024, 3, 2, 9, 15, tzinfo=IST), 45, 0.0)
    add(datetime(2024, 3, 2, 11, 30, tzinfo=IST), 12, -0.6)
    add(datetime(2024, 3, 2, 11, 42, tzinfo=IST), 48, 0.5)
    with gzip.open(path, "wt") as out:
        out.write("\n".join(rows) + "\n")


async def test_drill_replay_ends_flat_at_its_own_close(tmp_path: Path) -> None:
    candles = tmp_path / "SBIN.csv.gz"
    _drill_candles(candles)
    config = parse_config(
        {
            "mode": "replay",
            "instruments": ["pkg:replay/nse_instruments.csv"],
            "replay": {"speed": "max", "sources": [{"symbol": "SBIN", "path": str(candles)}]},
            "engines": [
                {
                    "name": "equity",
                    "kind": "equity",
                    "symbols": ["SBIN"],
                    "product": "MIS",
                    "timeframe": "1m",
                    "margin_rate": 0.2,
                    "strategy": "ema_cross",
                    "params": {"fast": 3, "slow": 8, "allow_short": False},
                }
            ],
        },
        "drill.yaml",
    )
    db = tmp_path / "state.db"
    supervisor = Supervisor(config, "drill.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 30)
    try:
        await asyncio.wait_for(supervisor.run(), 60)
    finally:
        await supervisor.close()
    with sqlite3.connect(db) as conn:
        fills = conn.execute("SELECT side, quantity, ts_ns FROM fills").fetchall()
        entries = conn.execute("SELECT ts_ns FROM orders WHERE purpose = 'ENTRY'").fetchall()
        squares = conn.execute(
            "SELECT ts_ns FROM orders WHERE purpose = 'SQUARE_OFF' "
            "UNION SELECT ts_ns FROM events WHERE kind = 'SquaredOff'"
        ).fetchall()
        kinds = {k for (k,) in conn.execute("SELECT kind FROM events")}
        (special,) = conn.execute("SELECT message FROM events WHERE kind = 'SpecialSession'")
    assert entries, "the drill traded"
    assert all(ist_minute_of_day(ts) < 12 * 60 for (ts,) in entries)  # cut-off 12:00
    assert sum(q if side == "BUY" else -q for side, q, _ in fills) == 0  # flat
    assert all(ist_minute_of_day(ts) < 12 * 60 + 30 for *_, ts in fills)  # by its close
    assert squares and min(ist_minute_of_day(ts) for (ts,) in squares) == 12 * 60 + 20
    assert "SpecialSession" in kinds and "IntradayCarried" not in kinds
    # probe B 10: the closed 10:00-11:30 is the exchange's, not a DataGap; both windows said
    assert "DataGap" not in kinds
    assert special[0].startswith("2024-03-02: 09:15-10:00 and 11:30-12:30, entries until")
