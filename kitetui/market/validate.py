"""Bad-data filter in front of the pipeline (rule 7: bad data never crashes an engine).

A price that is missing, non-finite, zero or negative is skipped. A single print far
from the last accepted price (a fat-finger tick or a vendor glitch) is skipped too;
but if the next prints confirm the new level, the market really moved and the level
is accepted, so a genuine gap never freezes a symbol.
"""

from __future__ import annotations

import math

from kitetui.domain import Bar, Tick


class PriceValidator:
    """``max_jump`` is a fraction of the last price; ``jump_overrides`` sets it per
    symbol (an option's premium can move 30% between two trades and still be real)."""

    __slots__ = ("_last", "_limits", "_suspect", "confirmations", "max_jump")

    def __init__(
        self,
        max_jump: float = 0.08,
        confirmations: int = 3,
        jump_overrides: dict[str, float] | None = None,
    ) -> None:
        self.max_jump = max_jump
        self.confirmations = confirmations
        self._limits = dict(jump_overrides or {})
        self._last: dict[str, float] = {}
        self._suspect: dict[str, int] = {}

    def check(self, item: Tick | Bar) -> str | None:
        """None if the item may go on, else the reason it is skipped."""
        if isinstance(item, Bar):
            prices = (item.open, item.high, item.low, item.close)
            for price in prices:
                if not (isinstance(price, float | int) and math.isfinite(price)):
                    return f"non-finite price {price!r}"
                if price <= 0:
                    return f"non-positive price {price}"
            if item.high < item.low or not item.low <= item.close <= item.high:
                return f"inconsistent bar high={item.high} low={item.low} close={item.close}"
            price = item.close
        else:
            price = item.price
            if not (isinstance(price, float | int) and math.isfinite(price)):
                return f"non-finite price {price!r}"
            if price <= 0:
                return f"non-positive price {price}"
        last = self._last.get(item.symbol)
        limit = self._limits.get(item.symbol, self.max_jump)
        if last is not None and abs(price - last) > limit * last:
            seen = self._suspect.get(item.symbol, 0) + 1
            if seen < self.confirmations:
                self._suspect[item.symbol] = seen
                return f"price {price} jumps {abs(price / last - 1):.1%} from {last}"
        self._suspect.pop(item.symbol, None)
        self._last[item.symbol] = price
        return None


class GapDetector:
    """Notices missing data inside a session (a silent vendor or a dropped feed).

    A gap is recorded, not repaired: indicators carry on from the last bar, and the
    journal says where the hole was so a person can judge the signals around it.
    """

    __slots__ = ("_last_end", "max_gap_ns")

    def __init__(self, max_gap_s: float = 180.0) -> None:
        self.max_gap_ns = int(max_gap_s * 1e9)
        self._last_end: dict[str, int] = {}

    def check(self, item: Tick | Bar) -> str | None:
        start = item.ts_ns
        end = item.end_ns if isinstance(item, Bar) else item.ts_ns
        last = self._last_end.get(item.symbol)
        self._last_end[item.symbol] = end
        if last is None or _ist_day(last) != _ist_day(start):
            return None
        gap = start - last
        if gap > self.max_gap_ns:
            return f"no data for {gap / 60e9:.1f} min before this {type(item).__name__.lower()}"
        return None


def _ist_day(ts_ns: int) -> int:
    return (ts_ns + 19_800_000_000_000) // 86_400_000_000_000
