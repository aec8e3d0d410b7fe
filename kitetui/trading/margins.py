"""Margin used against margin available, as the Risk tab and ``ctl status`` show it.

In replay (and for any desk without Kite's figures) the margin is computed from the
engines' own margin rates (``margin_rate`` in the config: futures ~0.12, MIS equity
~0.2, CNC and bought options 1.0): each open position's value at its last price, and
each working entry's pending value at its price, times the rate of the engine that
holds it. Available is the net equity (capital plus P&L less charges) less what is
used. Paper and live show Kite's own ``margins()`` instead (``venues/kite.py``). It is
refreshed on fills and every few seconds, never per tick (``snapshots.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kitetui.domain import to_paise


@dataclass(frozen=True, slots=True)
class Margins:
    """Rupees used and still available, and where the figures come from."""

    used: float
    available: float
    source: str  # "rates" (computed from the engines' margin rates) or "Kite"


def margin_used_paise(exposures: Iterable[tuple[int, float, float]]) -> int:
    """Σ |quantity| × price × rate over (quantity, price, rate), in paise."""
    total = 0
    for quantity, price, rate in exposures:
        if quantity and price > 0:
            total += round(abs(quantity) * to_paise(price) * rate)
    return total


def computed(exposures: Iterable[tuple[int, float, float]], equity_paise: int) -> Margins:
    """The margin the engines' rates say is blocked, against the net equity."""
    used = margin_used_paise(exposures)
    return Margins(used / 100, (equity_paise - used) / 100, "rates")
