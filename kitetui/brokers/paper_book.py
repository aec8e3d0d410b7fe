"""The paper order book: a deterministic, synchronous fill simulator.

``PaperBook`` is the matching core shared by the paper broker (``kitetui.brokers.paper``
wraps it in the async ``Broker`` protocol) and the local exchange (``kitetui.sim``
calls it directly, one book per account). Its rules are chosen so a backtest cannot
flatter itself:

- **Next price only.** An order fills only on a price stamped strictly later than the
  order's ``ts_ns``; a bar counts only if it *starts* strictly after the order. Stamp
  an order with the data time of the bar or tick that caused it (``Bar.ts_ns`` for a
  decision on a closed bar), and the next bar fills it at its open.
- **Slippage is against you.** MARKET and triggered SL-M fills move ``slippage_bps``
  the wrong way and round to the tick the wrong way (buy up, sell down).
- **Bars walk a path.** A bar is its open (a gap: orders fill at the open if it is
  already through their price), then a continuous walk O→L→H→C for an up bar
  (close >= open) or O→H→L→C for a down bar. A limit touched mid-bar fills at its
  limit, a stop crossed mid-bar triggers at its trigger.
- **The rest of the bar** (``rest_of_bar``, the desk's paper broker). An entry filled
  at a bar's open has the rest of that bar's walk still to come: the protective stop
  placed in reaction to the fill is matched against it, so a bar that opened at the
  entry and went through the stop stops it out on that bar (at the trigger), not a
  minute later. Its fill comes from ``take_filled``, which also ends the reaction: a
  stop placed later waits for the next print. It is stamped at the stop's own time
  (the desk places it after seeing the bar), never before it.
- **Whole fills** (the default). An order fills completely or not at all; the fill id
  is ``f"{tag}-1"`` so journaling the same fill twice is idempotent.
- **Partial fills, opt-in** (``PaperBook(liquidity=Liquidity(fraction))``, used by
  the sim exchange). Each traded price offers ``fraction`` of its recorded quantity (a
  tick's ``qty``, passed as ``on_price(..., quantity=)``; a bar's ``volume``) to the
  symbol's working orders in placement order, in whole lots. An order takes what it
  can at its fill price and stays working (OPEN) for the rest, its ``filled_qty`` and
  ``avg_price`` rising; each fill's id is ``f"{tag}-{cumulative filled qty}"``,
  unique per order and stable across ``restore``. Backtests keep the default, so their
  ledgers do not change.

Everything is synchronous and in memory, so no caller needs an event loop to match.
A restart loses the book, so the caller hands the journaled open orders to
``restore``. Prices, ticks and the exchange's checks are ``PaperPricing``'s
(``kitetui.brokers.paper_pricing``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Container, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from itertools import pairwise

from kitetui.brokers.base import ModifyRefused
from kitetui.brokers.paper_pricing import PaperPricing, exact
from kitetui.domain import Bar, Fill, Order, OrderStatus, OrderType, Side, Tick, evolve
from kitetui.drafts import copier

__all__ = ["Liquidity", "OrderFill", "PaperBook"]

_WORKING = frozenset({OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING})

OrderFill = tuple[Order, Fill]

_STOPS = frozenset({OrderType.SL, OrderType.SL_M})
_TRIGGER_PENDING, _BUY = OrderStatus.TRIGGER_PENDING, Side.BUY
# Members read on every placement, match and modify, bound once
# (why: ``kitetui/domain.py``, "Bound members").
_OPEN, _REJECTED = OrderStatus.OPEN, OrderStatus.REJECTED
_MARKET, _LIMIT, _SL, _SL_M = OrderType.MARKET, OrderType.LIMIT, OrderType.SL, OrderType.SL_M
_COMPLETE = OrderStatus.COMPLETE
# (a modify's new type, compared by value as a tuple of members was: ``_changed``)
_NO_PRICE = frozenset({OrderType.MARKET, OrderType.SL_M})
_NO_TRIGGER = frozenset({OrderType.MARKET, OrderType.LIMIT})
_INF = math.inf
# ``place``'s answer: the order as given with the book's state set, the same four fields
# on every placement (an entry and its stop each), so one compiled copy
# (``drafts.copier``), not ``evolve``'s keywords.
_PLACED = copier(Order, "status", "broker_order_id", "filled_qty", "avg_price")


@dataclass(frozen=True, slots=True)
class Liquidity:
    """How much of the recorded market an order may take (module docstring).

    ``fraction`` of each traded quantity, in (0, 1]; ``lot_sizes`` by symbol (1 when
    absent), since a derivative trades in whole lots only.
    """

    fraction: float
    lot_sizes: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fraction) and 0 < self.fraction <= 1):
            raise ValueError(f"liquidity fraction must be in (0, 1], got {self.fraction!r}")

    def offered(self, quantity: int) -> list[int]:
        """The shared, mutable budget one traded price offers (a one-item list)."""
        return [max(0, math.floor(quantity * self.fraction))]

    def take(self, symbol: str, wanted: int, budget: list[int]) -> int:
        """Whole lots of ``wanted`` the budget allows; the budget shrinks by as much."""
        lot = max(1, self.lot_sizes.get(symbol, 1))
        taken = min(wanted, budget[0] // lot * lot)
        budget[0] -= taken
        return taken


class PaperBook:
    """Simulated order book and matcher; see the module docstring for the fill rules."""

    def __init__(
        self,
        slippage_bps: float = 2.0,
        tick_size: float = 0.05,
        tick_sizes: Mapping[str, float] | None = None,
        liquidity: Liquidity | None = None,
        keep_finished: int | None = None,
        rest_of_bar: bool = False,
    ) -> None:
        """``tick_size`` is the default; ``tick_sizes`` the instrument master's per symbol;
        ``liquidity`` turns partial fills on (None: whole fills, as backtests expect).

        ``rest_of_bar``: a stop placed in reaction to a bar's fill is matched against
        what is left of that bar's walk after the fill (module docstring). The desk's
        paper broker turns it on; the local exchange, whose orders come over the wire
        after the batch, does not.

        ``keep_finished``: how many finished orders (filled, cancelled, rejected) stay
        readable by ``lookup``/``refresh``, newest first to finish; None keeps them all.
        The owner hears of a finish in the same call that made it, so only the last few
        are ever read again; a long backtest's book then does not grow with its orders.
        Every tag seen is still refused when placed again."""
        self.pricing = PaperPricing(slippage_bps, tick_size, tick_sizes)
        self.liquidity = liquidity
        self._orders: dict[str, Order] = {}  # the orders it knows, latest state, by tag
        self._tags: set[str] = set()  # every tag it has seen (a tag is placed once)
        self._keep_finished = keep_finished
        self._finished: deque[str] = deque()  # tags in the order they finished (bounded)
        self._working: dict[str, Order] = {}  # OPEN / TRIGGER_PENDING, in placement order
        # The same orders by symbol: a bar looks at its own symbol's only (``_eligible``).
        # A symbol whose last order stopped working leaves it (``watched``).
        self._by_symbol: dict[str, dict[str, Order]] = {}
        # symbol -> (highest sell trigger, lowest buy trigger), while every order of the
        # symbol that works is a stop waiting for its trigger (``_band``).
        self._bands: dict[str, tuple[float, float]] = {}
        self._triggered: list[Order] = []  # stops that triggered and rest unfilled
        self.rest_of_bar = rest_of_bar
        # symbol -> (bar start, the walk left after the bar's first fill of the symbol),
        # until the owner takes the reaction's fills (``take_filled``)
        self._bar_rest: dict[str, tuple[int, tuple[float, ...]]] = {}
        self._late: list[OrderFill] = []  # fills made by placements (``take_filled``)

    @property
    def slippage_bps(self) -> float:
        return self.pricing.slippage_bps

    @property
    def tick_size(self) -> float:
        return self.pricing.tick_size

    # ------------------------------------------------------------------ the book

    def place(self, order: Order) -> Order:
        """The order as the book took it: OPEN, TRIGGER_PENDING or REJECTED (``reason``).

        A tag the book has seen is refused without touching the book: the original
        stays what ``lookup`` returns (while the book keeps it)."""
        if order.tag in self._tags:
            return evolve(
                order,
                status=_REJECTED,
                reason=f"duplicate tag {order.tag!r}",
                filled_qty=0,
                avg_price=0.0,
            )
        reason = self.pricing.rejection(order)
        broker_order_id = f"paper-{order.tag}"
        stop = order.order_type in _STOPS
        if reason:
            placed = evolve(
                order,
                status=_REJECTED,
                reason=reason,
                broker_order_id=broker_order_id,
                filled_qty=0,
                avg_price=0.0,
            )
        else:
            status = _TRIGGER_PENDING if stop else _OPEN
            placed = _PLACED(order, status, broker_order_id, 0, 0.0)
            self._work(placed)
        if order.tag:
            self._tags.add(order.tag)
            self._orders[order.tag] = placed
            if reason:
                self._finish(order.tag)
        if not reason and stop and self._bar_rest and order.symbol in self._bar_rest:
            self._match_rest(placed)  # after it is known: a fill here is what lookup says
        return placed

    def modify(
        self,
        tag: str,
        *,
        ts_ns: int,
        order_type: OrderType | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        quantity: int | None = None,
    ) -> Order | None:
        """Change a working order in place, as Kite's modify does: same tag, the change
        acts on prices after ``ts_ns``. A stop that has triggered and stays a stop of the
        same type stays triggered; a stop turned into MARKET or LIMIT works at once.
        None when the order no longer works; raises ``ModifyRefused`` (the order stands)
        when the change would be refused."""
        order = self._working.get(tag)
        if order is None:
            return None
        changed = _changed(order, ts_ns, order_type, price, trigger_price, quantity)
        reason = self.pricing.rejection(changed) or _below_filled(changed)
        if reason:
            raise ModifyRefused(reason, tag)
        self._work(changed)
        self._orders[tag] = changed
        return changed

    def cancel(self, tag: str) -> Order | None:
        """The CANCELLED order, or None if it was not working."""
        order = self._unwork(tag)
        if order is None:
            return None
        cancelled = evolve(order, status=OrderStatus.CANCELLED)
        self._orders[tag] = cancelled
        self._finish(tag)
        return cancelled

    def lookup(self, tag: str) -> Order | None:
        return self._orders.get(tag)

    def refresh(self, tag: str) -> tuple[Order | None, list[Fill]]:
        """Paper fills are handed over as they happen: a refresh never brings one."""
        return self._orders.get(tag), []

    def open_orders(self) -> list[Order]:
        """Every working order (OPEN or TRIGGER_PENDING), in placement order."""
        return list(self._working.values())

    def has_working(self) -> bool:
        """Whether any order works (cheaper than ``open_orders`` on the hot path)."""
        return bool(self._working)

    def take_filled(self) -> list[OrderFill]:
        """The fills placements made since the last call (a stop the rest of its entry's
        bar went through); the reaction to the last print is over: a stop placed from
        now on waits for the next one."""
        self._bar_rest.clear()
        late, self._late = self._late, []
        return late

    def _match_rest(self, order: Order) -> None:
        """A stop placed while its symbol's bar is still being reacted to: matched
        against the walk that bar took after its fill (``rest_of_bar``). First against
        the price the walk starts at, as a bar's open is: a stop already through the
        market when placed (a tight stop, an open that gapped past it) triggers there,
        at that price, not at its trigger as if the walk had come to it.

        The fill is stamped no earlier than the order: the desk places the stop when it
        has seen the bar (its batch time), after the bar's start, and a journal whose
        fill or COMPLETE precedes its order's NEW runs its clock backwards."""
        bar_ts, walk = self._bar_rest[order.symbol]
        ts_ns = max(bar_ts, order.ts_ns)
        order, fill_price = self._at_point(order, walk[0])
        for start, end in pairwise(walk):
            if fill_price is not None:
                break
            order, fill_price = self._along(order, start, end)
        if fill_price is not None:
            self._settle(order, fill_price, ts_ns, self._late)
        elif self._working.get(order.tag) is not order:  # an SL triggered, its limit not
            self._rest(order)

    def take_triggered(self) -> list[Order]:
        """Stops that triggered but did not fill since the last call (now OPEN limits),
        so the owner learns of them as Kite's order updates would tell it."""
        triggered = self._triggered
        if not triggered:  # every print asks: most find nothing
            return []
        taken = [o for o in triggered if self._working.get(o.tag) is o]
        triggered.clear()  # the same list: ``watched`` hands it out
        return taken

    def watched(self) -> tuple[Container[str], Sized]:
        """Live views: the symbols with an order working here, and the stops triggered
        and not yet taken. A print of a symbol not in the first, while the second is
        empty, would have ``on_market`` and ``take_triggered`` answer [] and change
        nothing (``Broker.watched``)."""
        return self._by_symbol, self._triggered

    def stop_bands(self) -> Mapping[str, tuple[float, float]]:
        """A live view of the stops' bands (``_band``): symbol -> (highest sell trigger,
        lowest buy trigger) while every order of the symbol that works is a stop waiting
        for its trigger. A bar strictly inside its symbol's band is what ``on_market``
        answers [] for in two comparisons (``Broker.stop_bands``)."""
        return self._bands

    def restore(self, orders: list[Order]) -> None:
        """Re-register orders after a restart: OPEN / TRIGGER_PENDING ones are worked
        again (an SL or SL-M that is OPEN has already triggered); terminal ones are
        only remembered for ``lookup``; NEW ones never reached a broker and are skipped.
        """
        for order in orders:
            if order.status is OrderStatus.NEW:
                continue
            if not order.broker_order_id:
                order = evolve(order, broker_order_id=f"paper-{order.tag}")
            self._tags.add(order.tag)
            self._orders[order.tag] = order
            if order.status in _WORKING:
                self._work(order)
            else:
                self._unwork(order.tag)
                self._finish(order.tag)

    # ------------------------------------------------------------------ market data

    def on_market(self, item: Bar | Tick) -> list[OrderFill]:
        """A print reaching the exchange: ``on_bar`` for a bar, ``on_price`` (with its
        traded quantity) for a tick. Every print asks; most find nothing of their
        symbol working, and both would answer no fills."""
        symbol = item.symbol
        if not self._by_symbol.get(symbol):
            return []
        if isinstance(item, Bar):
            band = self._bands.get(symbol)
            if band is not None and item.low > band[0] and item.high < band[1]:
                return []  # ``on_bar``'s first answer, without the call: most held bars
            return self.on_bar(item)
        return self.on_price(symbol, item.ts_ns, item.price, item.qty)

    def on_price(
        self, symbol: str, ts_ns: int, price: float, quantity: int | None = None
    ) -> list[OrderFill]:
        """A traded price at ``ts_ns``: match the symbol's working orders against it.

        ``quantity`` (the traded quantity) limits the fills only with ``liquidity``;
        without it, or without ``liquidity``, fills are whole. A non-finite or
        non-positive price is ignored (no fills)."""
        if not math.isfinite(price) or price <= 0:
            return []
        budget = None
        if self.liquidity is not None and quantity is not None:
            budget = self.liquidity.offered(quantity)
        fills: list[OrderFill] = []
        for order in self._eligible(symbol, ts_ns):
            order, fill_price = self._at_point(order, price)
            self._settle(order, fill_price, ts_ns, fills, budget)
        return fills

    def on_bar(self, bar: Bar) -> list[OrderFill]:
        """Match working orders against a bar's OHLC path; fills are stamped ``bar.ts_ns``.

        A bar with a non-finite or non-positive price is ignored (no fills)."""
        working = self._by_symbol.get(bar.symbol)
        if not working:  # most bars: nothing of this symbol works
            return []
        band = self._bands.get(bar.symbol)
        if band is not None and bar.low > band[0] and bar.high < band[1]:
            return []  # only stops work, and the bar reached none of their triggers
        # A bar that starts at the order's time is "later": its open is the next price
        # (orders decided on a closed bar are stamped with that bar's end). A stop
        # waiting for a trigger the bar never reached stays as it is (what the walk
        # below finds, without walking): most bars of a held symbol pass its stop by.
        later, high, low = bar.ts_ns + 1, bar.high, bar.low
        eligible = [
            order
            for order in working.values()
            if order.ts_ns < later
            and not (
                order.status is _TRIGGER_PENDING
                and order.order_type in _STOPS
                and (
                    high < order.trigger_price if order.side is _BUY else low > order.trigger_price
                )
            )
        ]
        if not eligible:
            return []
        open_, close = bar.open, bar.close
        # each finite and positive (NaN fails both comparisons)
        if not (
            0.0 < open_ < _INF and 0.0 < high < _INF and 0.0 < low < _INF and 0.0 < close < _INF
        ):
            return []
        path = (open_, low, high, close) if close >= open_ else (open_, high, low, close)
        budget = None if self.liquidity is None else self.liquidity.offered(bar.volume)
        fills: list[OrderFill] = []
        for order in eligible:
            order, fill_price = self._at_point(order, path[0])
            left = path  # the walk after the fill point
            for k, (start, end) in enumerate(pairwise(path)):
                if fill_price is not None:
                    break
                order, fill_price = self._along(order, start, end)
                left = (fill_price, *path[k + 1 :]) if fill_price is not None else left
            before = len(fills)
            self._settle(order, fill_price, bar.ts_ns, fills, budget)
            if self.rest_of_bar and len(fills) > before and bar.symbol not in self._bar_rest:
                self._bar_rest[bar.symbol] = (bar.ts_ns, left)
        return fills

    def settle_at_expiry(self, tags: Sequence[str], ts_ns: int, price: float) -> list[OrderFill]:
        """The exchange settling an expired contract: each of ``tags`` still working is
        filled whole at exactly ``price``, stamped ``ts_ns``.

        Not a trade, so none of the trade's rules apply: no slippage, no rounding to the
        tick, no "next price" wait, no liquidity limit, and ``price`` may be zero (an
        option out of the money lapses: NSE's settlement price for it is zero, and a
        trade's floor of one tick would book it 0.05 × quantity better than it ends).
        The caller names the orders (the settlement's own closes); a tag not working
        here is skipped. Raises ``ValueError`` for a negative or non-finite price."""
        if not math.isfinite(price) or price < 0:
            raise ValueError(f"a settlement price must be finite and >= 0, not {price!r}")
        fills: list[OrderFill] = []
        for tag in tags:
            order = self._working.get(tag)
            if order is None:
                continue
            if order.status is _TRIGGER_PENDING:  # a stop: it trades as the settlement
                order = evolve(order, status=OrderStatus.OPEN)
            self._settle(order, price, ts_ns, fills)
        return fills

    # ------------------------------------------------------------------ settling

    def _eligible(self, symbol: str, ts_ns: int) -> list[Order]:
        working = self._by_symbol.get(symbol)
        if not working:
            return []
        return [o for o in working.values() if o.ts_ns < ts_ns]

    def _work(self, order: Order) -> None:
        """An order (or its new state) works: in ``_working`` and its symbol's index,
        both in placement order (a new state keeps its place)."""
        self._working[order.tag] = order
        working = self._by_symbol.get(order.symbol)
        if working is None:
            working = self._by_symbol[order.symbol] = {}
        working[order.tag] = order
        self._band(order.symbol, working)

    def _finish(self, tag: str) -> None:
        """An order finished: with a bound, the oldest finished beyond it are forgotten
        (batched, one pass every ``keep_finished`` finishes)."""
        if self._keep_finished is None:
            return
        finished = self._finished
        finished.append(tag)
        if len(finished) > 2 * self._keep_finished:
            while len(finished) > self._keep_finished:
                old = finished.popleft()
                order = self._orders.get(old)
                if order is not None and order.status.is_terminal:
                    del self._orders[old]

    def _unwork(self, tag: str) -> Order | None:
        """An order that no longer works (filled, cancelled): out of both."""
        order = self._working.pop(tag, None)
        if order is not None:
            working = self._by_symbol[order.symbol]
            del working[tag]
            self._band(order.symbol, working)
            if not working:
                del self._by_symbol[order.symbol]
        return order

    def _band(self, symbol: str, working: dict[str, Order]) -> None:
        """Keep ``symbol``'s band current: while all its working orders are stops waiting
        for their triggers (a held position's protective stop, most of its bars), a bar
        whose low is above every sell trigger and whose high is below every buy trigger
        fills and triggers nothing, which is what ``on_bar``'s look at each order would
        find; with the band it finds it in two comparisons."""
        sell, buy = -math.inf, math.inf
        for order in working.values():
            if (
                order.status is not _TRIGGER_PENDING
                or order.order_type not in _STOPS
                or not math.isfinite(order.trigger_price)
            ):
                self._bands.pop(symbol, None)
                return
            if order.side is _BUY:
                buy = min(buy, order.trigger_price)
            else:
                sell = max(sell, order.trigger_price)
        if working:
            self._bands[symbol] = (sell, buy)
        else:
            self._bands.pop(symbol, None)

    def _settle(
        self,
        order: Order,
        fill_price: float | None,
        ts_ns: int,
        fills: list[OrderFill],
        budget: list[int] | None = None,
    ) -> None:
        if fill_price is None:
            self._rest(order)
            return
        wanted = order.quantity - order.filled_qty
        if budget is None or self.liquidity is None:
            if not order.filled_qty:
                self._fill_whole(order, fill_price, ts_ns, fills)
                return
            quantity = wanted  # the rest of a part-filled order, no limit given
        else:
            quantity = self.liquidity.take(order.symbol, wanted, budget)
        if quantity <= 0:  # nothing offered: it stays as it is (a triggered stop rests)
            self._rest(order)
            return
        self._fill_part(order, quantity, fill_price, ts_ns, fills)

    def _rest(self, order: Order) -> None:
        """An order that did not trade; a stop that triggered now rests as a limit."""
        if self._working.get(order.tag) is not order:
            self._work(order)
            self._orders[order.tag] = order
            self._triggered.append(order)

    def _fill_part(
        self, order: Order, quantity: int, fill_price: float, ts_ns: int, fills: list[OrderFill]
    ) -> None:
        filled = order.filled_qty + quantity
        average = (exact(order.avg_price) * order.filled_qty + exact(fill_price) * quantity) / (
            filled
        )
        if filled == order.quantity:
            state = evolve(order, status=_COMPLETE, filled_qty=filled, avg_price=float(average))
            self._unwork(order.tag)
        else:  # it traded, so a stop has triggered: the rest works as OPEN
            state = evolve(order, status=_OPEN, filled_qty=filled, avg_price=float(average))
            self._work(state)
        self._orders[order.tag] = state
        if state.status is _COMPLETE:
            self._finish(order.tag)
        fills.append((state, _fill(order, f"{order.tag}-{filled}", quantity, fill_price, ts_ns)))

    def _fill_whole(
        self, order: Order, fill_price: float, ts_ns: int, fills: list[OrderFill]
    ) -> None:
        done = evolve(order, status=_COMPLETE, filled_qty=order.quantity, avg_price=fill_price)
        self._unwork(order.tag)
        self._orders[order.tag] = done
        self._finish(order.tag)
        fills.append((done, _fill(order, f"{order.tag}-1", order.quantity, fill_price, ts_ns)))

    # ------------------------------------------------------------------ matching

    def _at_point(self, order: Order, price: float) -> tuple[Order, float | None]:
        """A discrete price (a tick, or a bar's open): gaps fill at the price itself."""
        buy = order.side is _BUY
        kind = order.order_type
        if kind is _MARKET:
            return order, self.pricing.slipped(price, order)
        if kind is _LIMIT:
            return order, self.pricing.limit_fill(order, price)
        if order.status is not _OPEN:  # not triggered yet
            trigger = order.trigger_price
            if (buy and price < trigger) or (not buy and price > trigger):
                return order, None
            if kind is _SL_M:
                worst = max(price, trigger) if buy else min(price, trigger)
                return order, self.pricing.slipped(worst, order)
            order = evolve(order, status=_OPEN)
        if kind is _SL_M:  # restored after it triggered: a market order now
            return order, self.pricing.slipped(price, order)
        return order, self.pricing.limit_fill(order, price)

    def _along(self, order: Order, start: float, end: float) -> tuple[Order, float | None]:
        """A continuous move from ``start`` (already matched) to ``end``: the first
        price the order can trade at is its limit or its trigger, touched on the way."""
        buy = order.side is _BUY
        kind = order.order_type
        if kind is _MARKET:
            return order, None  # filled at the open already
        if kind is _LIMIT or (kind is _SL and order.status is _OPEN):
            limit = order.price
            reached = end <= limit if buy else end >= limit
            return order, (limit if reached else None)
        if order.status is _OPEN:  # a restored, triggered SL-M
            return order, self.pricing.slipped(start, order)
        trigger = order.trigger_price
        if (buy and end < trigger) or (not buy and end > trigger):
            return order, None
        if kind is _SL_M:
            return order, self.pricing.slipped(trigger, order)
        # SL: triggers at the trigger, which is already inside its limit (checked at
        # placement), so the resting limit fills there at once.
        return evolve(order, status=_OPEN), trigger


def _changed(
    order: Order,
    ts_ns: int,
    order_type: OrderType | None,
    price: float | None,
    trigger_price: float | None,
    quantity: int | None,
) -> Order:
    """``order`` with a modification's changes: prices a new type does not use are
    cleared, and the status is the one the changed order works in."""
    new_type = order.order_type if order_type is None else order_type
    new_price = order.price if price is None else price
    new_trigger = order.trigger_price if trigger_price is None else trigger_price
    status = order.status
    if new_type in _NO_PRICE:
        new_price = 0.0
    if new_type in _NO_TRIGGER:
        new_trigger, status = 0.0, _OPEN
    elif new_type is not order.order_type or order.status is not _OPEN:
        status = _TRIGGER_PENDING
    return evolve(  # one copy with every change (a modify of each stop that closes)
        order,
        order_type=new_type,
        price=new_price,
        trigger_price=new_trigger,
        quantity=order.quantity if quantity is None else quantity,
        ts_ns=ts_ns,
        status=status,
    )


def _below_filled(order: Order) -> str:
    if order.quantity <= order.filled_qty:
        return f"quantity {order.quantity} is not above the filled {order.filled_qty}"
    return ""


def _fill(order: Order, fill_id: str, quantity: int, price: float, ts_ns: int) -> Fill:
    return Fill(
        fill_id=fill_id,
        tag=order.tag,
        symbol=order.symbol,
        side=order.side,
        quantity=quantity,
        price=price,
        ts_ns=ts_ns,
        engine=order.engine,
        product=order.product,
    )
