"""The trader's working orders, indexed by symbol.

The exit manager reads one symbol's working orders after every fill, on every timer
pass and on every close; scanning every working order of the run each time made that
cost grow with the number of symbols held. Both views keep placement order (a tag
re-tracked while it works keeps its place), which is the order the exit manager acts
in, so a backtest's decisions do not depend on how the lookup is done.

The working entries have an index of their own: the risk gate counts them with the
open positions and the gross exposure on every entry intent (an entry placed earlier
in the same batch, or still working at Kite, is a position about to open).
"""

from __future__ import annotations

from kitetui.domain import Order, OrderPurpose, OrderStatus

# Read on every order state tracked: bound once (why: ``kitetui/domain.py``, "Bound members"),
# and ``OrderStatus.is_terminal`` as a set.
_ENTRY = OrderPurpose.ENTRY
_TERMINAL = frozenset(status for status in OrderStatus if status.is_terminal)


class WorkingOrders:
    """Non-terminal orders by tag, overall and per symbol."""

    __slots__ = ("_all", "_by_symbol", "_changes", "_entries", "total_changes", "touched")

    def __init__(self) -> None:
        self._all: dict[str, Order] = {}
        self._by_symbol: dict[str, dict[str, Order]] = {}
        self._entries: dict[str, Order] = {}  # the working ENTRY orders, by tag
        self._changes: dict[str, int] = {}  # symbol -> states tracked (see ``changes``)
        self.total_changes = 0  # states tracked of every symbol (``changes``, summed)
        # Symbols with a state tracked since the exit manager's timer last looked at them
        # (it takes each one out as it looks): one it found quiet and that is not in here
        # still has the count it was found quiet at, so the timer need not ask.
        self.touched: set[str] = set()

    def track(self, order: Order) -> None:
        """Take an order's latest state: kept while working, dropped once terminal."""
        tag, symbol = order.tag, order.symbol
        self._changes[symbol] = self._changes.get(symbol, 0) + 1
        self.total_changes += 1
        self.touched.add(symbol)
        entries = self._entries
        if order.status in _TERMINAL:
            if tag in entries:
                del entries[tag]
            self._all.pop(tag, None)
            of_symbol = self._by_symbol.get(symbol)
            if of_symbol is not None:
                of_symbol.pop(tag, None)
                if not of_symbol:
                    del self._by_symbol[symbol]
            return
        if order.purpose is _ENTRY:
            entries[tag] = order
        elif tag in entries:
            del entries[tag]
        self._all[tag] = order
        of_symbol = self._by_symbol.get(symbol)
        if of_symbol is None:
            of_symbol = self._by_symbol[symbol] = {}
        of_symbol[tag] = order

    def all(self) -> list[Order]:
        return list(self._all.values())

    def of(self, symbol: str) -> list[Order]:
        of_symbol = self._by_symbol.get(symbol)
        return [] if of_symbol is None else list(of_symbol.values())

    def entries(self) -> list[Order]:
        """The working entry orders, in placement order."""
        return list(self._entries.values())

    def count(self, symbol: str) -> int:
        of_symbol = self._by_symbol.get(symbol)
        return 0 if of_symbol is None else len(of_symbol)

    def changes(self, symbol: str) -> int:
        """How many order states of ``symbol`` were tracked so far: equal numbers mean
        its orders have not changed in between (the exit manager's timer skips a
        symbol it found quiet at the same number)."""
        return self._changes.get(symbol, 0)

    def __bool__(self) -> bool:
        return bool(self._all)
