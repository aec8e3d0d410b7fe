"""The fills and protective stops of one symbol, read from the journal for the chart.

Read from the database rather than kept in memory so that the chart of a resumed run
shows what it did before the restart too, and so that nothing is added to the fill
path. A fill is an ENTRY, an EXIT (an exit, a flatten, a square-off) or a STOP_FILL (a
protective stop that filled); each stop order is a STOP mark at its trigger from the
time it was placed until it stopped working (``until_ns``, the time of its last state
change once it is filled, cancelled or rejected; 0 while it works).
"""

from __future__ import annotations

import aiosqlite

from kitetui.domain import OrderStatus
from kitetui.views import ChartMark

#: The most marks of each kind one chart carries (the newest), however long the run.
MAX_MARKS = 500

_TERMINAL = frozenset(status.value for status in OrderStatus if status.is_terminal)


def _fill_kind(purpose: str) -> str:
    if purpose == "ENTRY":
        return "ENTRY"
    return "STOP_FILL" if purpose == "STOP" else "EXIT"


async def load_chart_marks(
    db: aiosqlite.Connection, run_id: str, symbol: str, since_ns: int
) -> tuple[ChartMark, ...]:
    """The run's fills in ``symbol`` from ``since_ns`` on, and its stop orders that were
    working at any time from then; oldest first, fills before stops."""
    cursor = await db.execute(
        "SELECT f.ts_ns, f.side, f.quantity, f.price, o.purpose, f.tag "
        "FROM fills f JOIN orders o ON o.tag = f.tag "
        "WHERE f.run_id = ? AND f.symbol = ? AND f.ts_ns >= ? "
        "ORDER BY f.seq DESC LIMIT ?",
        (run_id, symbol, since_ns, MAX_MARKS),
    )
    fills = [
        ChartMark(_fill_kind(purpose), ts, price, side, quantity, tag)
        for ts, side, quantity, price, purpose, tag in reversed(await cursor.fetchall())
    ]
    cursor = await db.execute(
        "SELECT o.tag, o.ts_ns, o.side, o.quantity, o.trigger_price, o.status, "
        "(SELECT MAX(e.ts_ns) FROM order_events e WHERE e.tag = o.tag) "
        "FROM orders o WHERE o.run_id = ? AND o.symbol = ? AND o.purpose = 'STOP' "
        "ORDER BY o.seq DESC LIMIT ?",
        (run_id, symbol, MAX_MARKS),
    )
    stops = []
    for tag, ts, side, quantity, trigger, status, last_ns in reversed(await cursor.fetchall()):
        until = (last_ns or ts) if status in _TERMINAL else 0
        if until and until < since_ns:
            continue  # it stopped working before the chart's first bar
        stops.append(ChartMark("STOP", ts, trigger, side, quantity, tag, until))
    return (*fills, *stops)
