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
    __slots__ = ("_last", "_suspect", "confirmations", "max_jump")

    def __init__(self, max_jump: float = 0.08, confirmations: int = 3) -> None:
        self.max_jump = max_jump
        self.confirmations = confirmations
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
        if last is not None and abs(price - last) > self.max_jump * last:
            seen = self._suspect.get(item.symbol, 0) + 1
            if seen < self.confirmations:
                self._suspect[item.symbol] = seen
                return f"price {price} jumps {abs(price / last - 1):.1%} from {last}"
        self._suspect.pop(item.symbol, None)
        self._last[item.symbol] = price
        return None
