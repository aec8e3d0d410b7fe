"""A finished run's headline figures, for the screen that greets the end of a replay.

Gross P&L and max drawdown come from the ledger (exact paise); round trips and their
winners from the portfolio (a symbol from flat back to flat, or through zero); charges
from the journaled fills, priced per order as Kite bills them (``trading/charges.py``),
so net = gross - charges. Computed once, when the replay has finished and the journal
is flushed: never on the hot path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from kitetui.clock import ist_date
from kitetui.domain import Fill
from kitetui.store import runs as runs_repo
from kitetui.trading.charges import ChargeCalculator, ChargeError, ChargeTableError, OrderSpec
from kitetui.views import HeadlineView

if TYPE_CHECKING:
    from kitetui.supervisor import Supervisor


async def headline(desk: Supervisor) -> HeadlineView:
    """The run's headline figures, read after the journal is flushed."""
    await desk.journal.flush()
    fills = [fill for _, fill in await runs_repo.load_fills(desk.db, desk.run_id)]
    portfolio = desk.portfolio
    charges, note = _charges_paise(desk, fills)
    return HeadlineView(
        gross=(portfolio.realized_paise + portfolio.unrealized_paise) / 100,
        charges=None if charges is None else charges / 100,
        trades=portfolio.trades_closed,
        won=portfolio.trades_won,
        max_drawdown=portfolio.max_drawdown_paise / 100,
        orders=len(desk.trader.orders),
        fills=len(fills),
        days=portfolio.days,
        open_positions=len(portfolio.open_positions()),
        note=note,
    )


def _charges_paise(desk: Supervisor, fills: list[Fill]) -> tuple[int | None, str]:
    """Every filled order's charges in paise; (None, why) if one cannot be priced."""
    by_tag: dict[str, list[Fill]] = defaultdict(list)
    for fill in fills:
        by_tag[fill.tag].append(fill)
    try:
        calculator = ChargeCalculator()
        total = 0
        for tag, order_fills in by_tag.items():
            order = desk.trader.orders.get(tag)
            instrument = desk.contracts.get(order_fills[0].symbol)
            if order is None or instrument is None:
                return None, f"order {tag}: not in the book or the instrument master"
            spec = OrderSpec.for_instrument(
                instrument, order.product, order.side, ist_date(order_fills[0].ts_ns)
            )
            total += calculator.for_order(spec, order_fills).total_paise
    except (ChargeError, ChargeTableError) as exc:
        return None, f"charges not computed: {exc}"
    return total, ""
