"""What a run did, in one screen's worth of numbers (the headless summary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kitetui.store import runs as runs_repo
from kitetui.supervisor.snapshots import charge_components

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor


@dataclass
class RunSummary:
    """Gross is realized + unrealized; net is gross - charges."""

    run_id: str
    resumed: bool
    not_resumed: str = ""  # the unfinished run this one left behind (PreviousRunLeft)
    batches: int = 0
    bars: int = 0
    ticks: int = 0
    wall_s: float = 0.0
    fills: int = 0
    orders: int = 0
    entries: int = 0
    signals: int = 0
    realized: float = 0.0
    unrealized: float = 0.0
    charges: float = 0.0  # every fill's charges (rupees from exact paise)
    # by component as the contract note bills them (exchange with IPFT), rupees
    charges_by_component: tuple[tuple[str, float], ...] = ()
    unpriced_fills: int = 0  # fills the rate table could not price (each an event)
    max_drawdown: float = 0.0
    # (symbol, quantity, average price, last price) of each position still open
    open_positions: list[tuple[str, int, float, float]] = field(default_factory=list)
    events_by_kind: dict[str, int] = field(default_factory=dict)
    risk_state: str = "ACTIVE"
    first_ts_ns: int = 0
    last_ts_ns: int = 0


async def fill_summary(summary: RunSummary, desk: Supervisor) -> None:
    """The run's totals from the journal and the book, once the journal is drained."""
    db, run_id, portfolio = desk.db, desk.run_id, desk.portfolio
    summary.fills = await runs_repo.count_rows(db, "fills", run_id)
    summary.orders = await runs_repo.count_rows(db, "orders", run_id)
    summary.signals = await runs_repo.count_signals(db, run_id)
    summary.entries = desk.trader.filled_entries()
    summary.realized = portfolio.realized_paise / 100
    summary.unrealized = portfolio.unrealized_paise / 100
    summary.charges = portfolio.charges_paise / 100
    summary.charges_by_component = charge_components(portfolio.charges)
    summary.unpriced_fills = desk.trader.charger.unpriced
    summary.max_drawdown = portfolio.max_drawdown_paise / 100
    summary.open_positions = [
        (p.symbol, p.quantity, p.avg_price, p.last_price) for p in portfolio.open_positions()
    ]
    summary.events_by_kind = await runs_repo.events_by_kind(db, run_id)
    summary.risk_state = desk.risk.state.value
