"""The batch path's loss limits: what ``Supervisor._risk_checks`` says and flattens.

The batch path asks ``RiskEngine.on_pnl`` itself and calls ``_risk_checks`` only with
what newly tripped (most batches trip nothing and await nothing). What it said before,
from the risk state read around ``on_pnl``, it must still say: the halt once, and not
when the kill switch had halted the desk already; each newly blocked symbol once,
never one blocked before (an opening gap's block).
"""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace
from typing import Any

import pytest
from loss_limit_helpers import LIMITS

from kitetui.supervisor.gate import Supervisor
from kitetui.trading.risk import RiskEngine


class _Trader:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.flattened: list[str] = []  # "*" for everything

    def record_event(self, event: Any) -> None:
        self.events.append(event)

    async def flatten_all_soon(self, _purpose: Any, _reason: str) -> None:
        self.flattened.append("*")

    async def flatten_soon(self, symbol: str, _purpose: Any, _reason: str) -> None:
        self.flattened.append(symbol)


def _desk(day_pnl: int, by_symbol: dict[str, int]) -> SimpleNamespace:
    risk = RiskEngine(LIMITS, trading_day="2024-01-02")
    return SimpleNamespace(
        trader=_Trader(),
        risk=risk,
        portfolio=SimpleNamespace(
            day_pnls=lambda: (day_pnl, dict(by_symbol)),
            day_loss=lambda: (day_pnl, min(by_symbol.values(), default=math.inf)),
        ),
        journal=SimpleNamespace(set_risk_state=lambda state: None),
    )


async def _batch(desk: SimpleNamespace, ts: int) -> None:
    """What ``Supervisor._process`` does with the loss limits after a batch."""
    if desk.risk.may_breach(*desk.portfolio.day_loss()):
        breaches = desk.risk.on_pnl(*desk.portfolio.day_pnls())
        if breaches:
            await Supervisor._risk_checks(desk, ts, breaches)  # type: ignore[arg-type]


def _said(desk: SimpleNamespace) -> list[tuple[str, str]]:
    return [(str(e.kind), e.symbol) for e in desk.trader.events]


@pytest.mark.parametrize("asked_by", ["batch path", "itself"])
def test_a_loss_halt_with_later_batches_is_said_and_flattened_once(asked_by: str) -> None:
    desk = _desk(-100_001, {"A": -100_001})  # ₹1,000.01 lost: past both limits

    async def scenario() -> None:
        for ts in (1, 2, 3):
            if asked_by == "itself":
                await Supervisor._risk_checks(desk, ts)  # type: ignore[arg-type]
            else:
                await _batch(desk, ts)

    asyncio.run(scenario())
    assert _said(desk) == [("TradingHalted", ""), ("SymbolBlocked", "A")]
    assert desk.trader.flattened == ["*", "A"]


def test_a_loss_halt_with_the_kill_switch_engaged_is_not_said_again() -> None:
    desk = _desk(-100_001, {})
    desk.risk.trigger_kill("by hand")
    asyncio.run(_batch(desk, 1))
    assert desk.risk.loss_halt_reason  # the loss halt is kept for the day ...
    assert _said(desk) == [] and desk.trader.flattened == []  # ... the desk was halted


def test_symbol_losses_with_one_blocked_before_block_and_flatten_only_the_new_ones() -> None:
    desk = _desk(-60_000, {"A": -50_000, "B": -45_000, "C": -10_000, "D": -41_000})
    desk.risk.block_symbol("B", "it opened beyond NSE's price bands")

    async def scenario() -> None:
        await _batch(desk, 1)
        await _batch(desk, 2)  # nothing new: nothing said

    asyncio.run(scenario())
    assert sorted(_said(desk)) == [("SymbolBlocked", "A"), ("SymbolBlocked", "D")]
    assert sorted(desk.trader.flattened) == ["A", "D"]
    assert desk.risk.blocked_symbols["B"] == "it opened beyond NSE's price bands"
