"""A finished run's headline figures, for the screen that greets the end of a replay.

Gross P&L, charges and max drawdown come from the ledger (exact paise): the charges are
the ones journaled with each fill (``Fill.charges``, priced by the trader as Kite bills
each order), summed by the portfolio, so the screen says what the journal says and net
= gross - charges. Round trips and their winners come from the performance book, as the
report counts them (an engine's symbol from flat back to flat, or through zero; a win
is a trade with a positive net P&L). Computed once, when the replay has finished
and the journal is flushed: never on the hot path. The fills are counted by the database,
not loaded: decoding a year's 24,406 fills with their charges only to count them was the
run's peak of memory (+40 MB at its very end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitetui.store import runs as runs_repo
from kitetui.views import HeadlineView

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor


async def headline(desk: Supervisor) -> HeadlineView:
    """The run's headline figures, read after the journal is flushed."""
    await desk.journal.flush()
    fills = await runs_repo.count_rows(desk.db, "fills", desk.run_id)
    portfolio = desk.portfolio
    trades, won = desk.performance.closed_trades()
    unpriced = desk.trader.charger.unpriced
    return HeadlineView(
        gross=portfolio.gross_pnl_paise / 100,
        charges=portfolio.charges_paise / 100,
        trades=trades,
        won=won,
        max_drawdown=portfolio.max_drawdown_paise / 100,
        orders=desk.trader.placed,
        fills=fills,
        days=portfolio.days,
        open_positions=len(portfolio.open_positions()),
        note=f"{unpriced} fill(s) unpriced: see ChargesUnpriced" if unpriced else "",
    )
