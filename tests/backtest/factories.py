"""Fills and trades for the backtest tests, built by hand: times in IST minutes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kitetui.clock import IST
from kitetui.domain import Side
from kitetui.performance.trades import FillRecord
from kitetui.trading.charges import Charges


def ts(day: str, clock: str = "09:15") -> int:
    """Epoch ns of ``day`` (YYYY-MM-DD) at ``clock`` (HH:MM) IST."""
    moment = datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=IST)
    return int(moment.timestamp()) * 1_000_000_000


_seq = iter(range(1, 10**9))


def fill(
    side: str,
    qty: int,
    price: str | int,
    when: int,
    *,
    symbol: str = "NIFTY24JANFUT",
    engine: str = "fno",
    brokerage: str | int = 0,
    stt: str | int = 0,
    tag: str = "",
) -> FillRecord:
    seq = next(_seq)
    return FillRecord(
        seq=seq,
        fill_id=f"f{seq}",
        tag=tag or f"t{seq}",
        ts_ns=when,
        engine=engine,
        exchange="NFO",
        symbol=symbol,
        product="MIS",
        side=Side(side),
        quantity=qty,
        price=Decimal(str(price)),
        charges=Charges(brokerage=Decimal(str(brokerage)), stt=Decimal(str(stt))),
    )


def ledger(fills: list[FillRecord], equity: list[tuple[int, int]], warnings=()):
    """A ``Ledger`` without a database: the run's fills and equity points as given."""
    from pathlib import Path

    from kitetui.backtest.ledger import EngineInfo, Ledger, RunInfo

    return Ledger(
        database=Path("memory.db"),
        run=RunInfo("20240102T000000-abcdef", "replay", "FINISHED", "c.yaml", 0, None, 0),
        capital=Decimal(1_000_000),
        engines=(EngineInfo("fno", "fno", "ema_cross", {"fast": 9}),),
        window=(None, None),
        fills=tuple(fills),
        orders=(),
        equity=tuple(equity),
        marks={},
        warnings=tuple(warnings),
    )


def sample_ledger():
    """Two days of NIFTY futures trades with a minute equity curve that follows them."""
    day1, day2 = "2024-01-02", "2024-01-03"
    fills = [
        fill("BUY", 50, "21700", ts(day1, "09:20"), brokerage=20, stt=0),
        fill("SELL", 50, "21760", ts(day1, "10:00"), brokerage=20, stt="27.2"),
        fill("SELL", 50, "21800", ts(day2, "09:30"), brokerage=20, stt="27.25"),
        fill("BUY", 50, "21850", ts(day2, "11:00"), brokerage=20, stt=0),
    ]
    equity = []
    for day, start, end, pnl in ((day1, "09:15", "15:29", 3000), (day2, "09:15", "15:29", -2500)):
        first = ts(day, start)
        minutes = (ts(day, end) - first) // 60_000_000_000 + 1
        before = 0 if day == day1 else 300_000
        for i in range(minutes):
            equity.append(
                (first + i * 60_000_000_000, 100_000_000 + before + (pnl * 100 * i) // minutes)
            )
    return ledger(
        fills, equity, warnings=["order t9 (NSE:X MIS on 2024-01-02): charged nothing: test"]
    )
