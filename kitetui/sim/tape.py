"""What the exchange remembers of the trades it has seen, beyond the market's own state.

Two facts outlive the batch that brought them: the quantity of each instrument's last
trade (or candle), which is the liquidity an order matched at once on placement may
take, and NSE's limit price protection reference (the 30-second average trade price,
``kitetui.sim.rules.ReferencePrices``), kept for options only since only options have
an LPP band. The order gate reads the reference, placement and stop triggering read
the quantity, and the matcher records both from each market batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from kitetui.domain import Bar, Tick
from kitetui.market.instruments import Instrument
from kitetui.sim.rules import ReferencePrices, is_option

__all__ = ["TradeTape"]


class TradeTape:
    """Last traded quantities by key, and LPP references of options (module docstring)."""

    def __init__(self, instruments: Iterable[Instrument], *, lpp: bool) -> None:
        """``lpp``: whether to keep references at all (the rule may be switched off)."""
        self.lpp = lpp
        self.option_keys = frozenset(i.key for i in instruments if is_option(i))
        self._references = ReferencePrices()
        self._last_quantity: dict[str, int] = {}

    def record(self, items: Iterable[Tick | Bar]) -> None:
        """Remember one market batch (in order: the last item of a key wins)."""
        for item in items:
            if isinstance(item, Bar):
                self._last_quantity[item.symbol] = item.volume
            else:
                self._last_quantity[item.symbol] = item.qty
                if self.lpp and item.symbol in self.option_keys:
                    self._references.add(item.symbol, item.ts_ns, item.price)

    def last_quantity(self, key: str) -> int | None:
        """The quantity of the key's last trade or candle; None before any."""
        return self._last_quantity.get(key)

    def reference(self, key: str) -> float | None:
        """NSE's LPP reference price of an option; None before its first trade."""
        return self._references.reference(key)
