"""Live, the day's Kite orders kept back from entries follow the positions allowed open.

Kite allows 5,000 orders a day; the last of them are kept for stops and closes
(``kitetui.brokers.kite.protective_reserve``: 4 a position ``max_open_positions``
allows). That limit is the config's at the start, but a restart restores the one a
person set by hand, and ``set-limit`` changes it mid-run: a reserve sized once from
the config left a desk allowed 200 positions with the 100 orders kept for 5. Brokers
without Kite's daily cap (the paper broker) keep nothing back.
"""

from __future__ import annotations

__all__ = ["follow_position_limit"]


def follow_position_limit(broker: object, max_open_positions: int) -> int | None:
    """Size ``broker``'s reserve of the day's orders for ``max_open_positions``; the
    reserve now, or None when the broker keeps none (not Kite)."""
    keep = getattr(broker, "keep_reserve_for", None)
    return keep(max_open_positions) if keep is not None else None
