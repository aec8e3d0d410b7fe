"""Fills and trades for the backtest tests, built by hand: times in IST minutes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kitetui.backtest.trades import FillRecord
from kitetui.clock import IST
from kitetui.domain import Side
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
