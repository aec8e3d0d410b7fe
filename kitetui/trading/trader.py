"""The trader: from a signal to an order, and from a fill to a position.

Every order command passes through here, whichever door it came from (a strategy
signal, square-off, the daily-loss halt, the kill switch, a key in the TUI), so the
write-ahead rule lives in one place: the order row is committed with its client tag
before the broker sees it, and a fill is committed before it changes a position.
Client tags are derived from what caused the order (run, engine, symbol, bar time),
so after a crash the same bar yields the same tag and an order is never placed twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from kitetui.brokers.base import (
    BrokerError,
    BrokerUnavailable,
    ModifyRefused,
    NotAccepted,
    PlacementUnknown,
)
from kitetui.brokers.kite_orders import exchange_time, order_tags
from kitetui.clock import DataClock, ist_date, ist_minute_of_day
from kitetui.domain import (
    Event,
    Exchange,
    Fill,
    Order,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    Product,
    RiskVerdict,
    Side,
    TradingState,
    Validity,
    Variety,
    evolve,
    to_paise,
)
from kitetui.drafts import copier, maker
from kitetui.events import EventKind
from kitetui.kite.session import TokenExpired
from kitetui.store.journal import Journal
from kitetui.store.runs import ASKED_CANCEL, load_asked_cancels
from kitetui.trading import auto_square_off, expiry_settlement
from kitetui.trading.charges import default_calculator
from kitetui.trading.entries import SignalEntries
from kitetui.trading.exits import ExitManager
from kitetui.trading.fill_charges import FillCharger
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.records import TraderRecords
from kitetui.trading.risk import LOGIN_REQUIRED, PLACEMENT_UNKNOWN, ExposureView, RiskEngine
from kitetui.trading.sizing import (
    slice_quantity,
)
from kitetui.trading.warmup import WarmUp
from kitetui.trading.working import WorkingOrders
from kitetui.views import BlockedView, EventView, SignalView

# In the reason of an order taken over from the broker (``Trader._foreign``), so a restart
# knows it again.
NOT_OURS = "not kitetui's"
# The reason of a DAY order written off because Kite no longer lists it
# (``Trader.lapse_earlier_orders``): a restart finds the exit orders among them again.
LAPSED = "lapsed at the close"
# The start of a symbol block's reason while Kite is not known to hold the position
# (``Trader.hold_to_broker``): only that block is lifted when Kite holds it again.
UNCONFIRMED_BLOCK = "position not confirmed at Kite"
# What covers or closes a position: an earlier day's one written off is checked against
# Kite's positions before the position is covered again.
_EXIT_PURPOSES = frozenset(
    {OrderPurpose.STOP, OrderPurpose.EXIT, OrderPurpose.SQUARE_OFF, OrderPurpose.FLATTEN}
)

#: Kite's net positions summed by (symbol, product), signed (``Trader.hold_to_broker``).
Holdings = Mapping[tuple[str, Product], int]


def broker_holdings(positions: list[Position]) -> dict[tuple[str, Product], int]:
    """Kite's positions as ``Holdings`` (a symbol may have a row per product)."""
    held: dict[tuple[str, Product], int] = {}
    for position in positions:
        key = (position.symbol, position.product)
        held[key] = held.get(key, 0) + position.quantity
    return held


if TYPE_CHECKING:
    from datetime import date

    from kitetui.brokers.base import Broker
    from kitetui.config import ExitConfig, SizingConfig
    from kitetui.trading.ports import EnginePort as Engine


#: Seconds after which a deferred entry's placement is said when Kite answers it
#: (``PlacementAnsweredLate``): Kite answers in tens of milliseconds; its timeout is 7 s.
SLOW_PLACEMENT_S = 1.0

#: Queues an entry's placement in its symbol's lane (``UpdateLanes.queue``: the symbol,
#: the job, the order's tag, whose updates wait for it); False when it cannot.
PlaceLater = Callable[[str, Callable[[], Awaitable[None]], str], bool]
#: Runs a job at once beside a symbol's lane (``UpdateLanes.beside``); False when it cannot.
ActNow = Callable[[str, Callable[[], Awaitable[None]]], bool]

# The members the order path reads on every placement and fill, bound once
# (why: ``kitetui/domain.py``, "Bound members").
_NEW, _OPEN, _COMPLETE = OrderStatus.NEW, OrderStatus.OPEN, OrderStatus.COMPLETE
_REJECTED, _CANCELLED = OrderStatus.REJECTED, OrderStatus.CANCELLED
_ENTRY, _STOP = OrderPurpose.ENTRY, OrderPurpose.STOP
_HALTED = TradingState.HALTED
_STOP_FILLED, _MODIFIED = EventKind.STOP_FILLED, EventKind.ORDER_MODIFIED
# ``OrderStatus.is_terminal`` as a set (the property is a Python call a read).
_TERMINAL = frozenset(status for status in OrderStatus if status.is_terminal)
# A broker's answer whose reason is the broker's own (``_merge``).
_REFUSED = frozenset({_REJECTED, _CANCELLED})
# ``_merge``'s copy of our order with the broker's state: the same nine fields on every
# fill and answer, so one compiled copy (``drafts.copier``), not ``evolve``'s keywords.
_MERGED = copier(
    Order,
    "status",
    "order_type",
    "quantity",
    "price",
    "trigger_price",
    "filled_qty",
    "avg_price",
    "broker_order_id",
    "reason",
)

# The records every placement and every entry's risk check build, made positionally by
# ``drafts.maker`` (one frame, one ``__class__`` store): a frozen record built with
# keywords goes through ``type.__call__``, which hands ``__init__`` a dict of them,
# about three times the cost (``new_order``, ``Trader._exposure``).
_MAKE_ORDER = maker(Order)
_MAKE_EXPOSURE = maker(ExposureView)
_DAY, _REGULAR = Validity.DAY, Variety.REGULAR


def new_order(intent: OrderIntent, tag: str, ts_ns: int) -> Order:
    """The order written ahead for ``intent``: ``Order(tag=tag, engine=intent.engine,
    ..., status=NEW, ts_ns=ts_ns, ...)`` with the intent's terms and every other field
    its default (no fill, no broker id, a DAY order of the regular variety), in
    ``Order``'s field order (tests hold it to the keyword form)."""
    return _MAKE_ORDER(
        tag,
        intent.engine,
        intent.symbol,
        intent.exchange,
        intent.side,
        intent.quantity,
        intent.order_type,
        intent.product,
        intent.purpose,
        _NEW,  # status
        ts_ns,
        intent.price,
        intent.trigger_price,
        intent.stop_price,
        0,  # filled_qty
        0.0,  # avg_price
        "",  # broker_order_id
        intent.signal_id,
        intent.reason,
        _DAY,  # validity
        _REGULAR,  # variety
    )


# Finished orders a trader with a bound keeps (``keep_finished``): at least the orders
# tab's newest (``snapshots.RECENT_ORDERS``), with room for the batches in between.
KEEP_FINISHED = 512


# RFC 4648 base32 two characters at a time: 10 bits of the digest pick a pair.
_B32_PAIRS = tuple(
    a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)


def make_tag(*parts: object) -> str:
    """A 16-character alphanumeric client tag derived from its cause.

    Kite allows 20 alphanumeric characters; freeze slices add up to three digits, so
    every tag kitetui sends is at most 19. A tag is always a fresh hash of its cause,
    never a suffix on another tag, so no chain of derived orders can outgrow the limit.

    The tag is ``base64.b32encode`` of the 10-byte digest (80 bits: 16 characters, no
    padding), spelled out a pair of characters per 10 bits: Python's own encoder is
    written in Python and took a third of an order's tag (tests pin the two equal). The
    eight pairs are one expression, not a comprehension over the shifts joined: its
    frame and loop were half of what the spelling cost (an entry and its stop each).
    """
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).digest()
    n = int.from_bytes(digest, "big")
    p = _B32_PAIRS
    return (
        p[n >> 70]  # (80 bits: the top pair needs no mask)
        + p[(n >> 60) & 1023]
        + p[(n >> 50) & 1023]
        + p[(n >> 40) & 1023]
        + p[(n >> 30) & 1023]
        + p[(n >> 20) & 1023]
        + p[(n >> 10) & 1023]
        + p[n & 1023]
    )


class Trader(TraderRecords, SignalEntries):
    """The one door to the broker, and the records of everything that passes it; the
    way from a signal to an order is ``SignalEntries`` (``entries.py``)."""

    def __init__(
        self,
        *,
        journal: Journal,
        broker: Broker,
        portfolio: Portfolio,
        risk: RiskEngine,
        clock: DataClock,
        sizing: SizingConfig,
        exits: ExitConfig,
        tick_size: float,
        run_id: str,
        signal_buffer: int = 300,
        event_buffer: int = 200,
        timer_ns: Callable[[], int] | None = None,
        warmup: WarmUp | None = None,
        charger: FillCharger | None = None,
        keep_finished: int | None = None,
    ) -> None:
        """``timer_ns`` is the exit manager's clock for re-price and retry delays: the
        data clock (the default) in replay, the wall clock in paper and live.
        ``charger`` prices each fill before it is journaled (default: the bundled rate
        table, instruments classed by symbol; the supervisor gives it the master).

        ``keep_finished``: how many finished orders (terminal, every fill applied) stay
        in ``orders`` once nothing reads them by tag; the older ones are forgotten, with
        their charges and exit bookkeeping, so a year's backtest holds what a day's
        does. Only for a broker that answers in-process (the paper book): its news of
        an order comes at once, never after the order finished. None (the default, and
        live Kite's) keeps every order of the run: a late websocket update, a poll or
        the day's contract-note check may still ask for any of them."""
        self.journal = journal
        self.broker = broker
        self.portfolio = portfolio
        self.risk = risk
        self.clock = clock
        self.sizing = sizing
        self.tick_size = tick_size
        self.run_id = run_id
        # The run's orders by tag, in placement order: every one, or with ``keep_finished``
        # the working ones and the newest finished ones.
        self.orders: dict[str, Order] = {}
        self.placed_tags: set[str] = set()  # every tag of the run: a tag is placed once
        # Per engine, how many orders of the run it has (a resumed run counts on from the
        # journal's, since the orders it reloads are tracked here too).
        self.orders_by_engine: Counter[str] = Counter()
        self._keep_finished = keep_finished
        self._finished = 0  # terminal orders in ``orders`` (counted with a bound only)
        self._forgotten_entries = 0  # filled entries among the forgotten orders
        self._pinned = False  # recovery reads every reloaded order: nothing forgotten
        self._last_engine: dict[str, str] = {}  # symbol -> engine of its newest order
        self._working = WorkingOrders()  # the non-terminal ones, indexed by symbol
        self.not_accepted: set[str] = set()  # tags the exchange never took (retry-safe)
        # Live, the supervisor's lanes: a strategy's entry is placed in its symbol's lane
        # while the batch goes on (``submit(defer=True)``); None places inline.
        self.place_later: PlaceLater | None = None
        # Live, the same lanes' ``beside``: a flatten the batch path starts runs at once in
        # a task of its own, never queued behind its symbol's entry placement (one that
        # hangs at Kite held the halt's cancel and close for as long); None: inline.
        self.act_now: ActNow | None = None
        # Live, the symbols whose flatten (a halt's, a block's, the square-off's) is under
        # way beside their lane (``flatten_soon``): asked again meanwhile, it is not started
        # twice, since ``exits.is_closing`` holds only once its close has begun.
        self._flattening: set[str] = set()
        # Entries whose placement is queued or at Kite: tag -> a cancel asked meanwhile.
        self._in_flight: dict[str, str] = {}
        # Of those, the ones still waiting for their turn in the lane (nothing sent yet):
        # a cancel asked now cancels them here, and they are never sent (``cancel``).
        self._queued: set[str] = set()
        # Of the entries whose cancel was asked while in flight or unknown, those a flatten
        # asked for: what they fill once found is closed, not only covered.
        self._close_fills: set[str] = set()
        # A symbol's order states taken one at a time (``_order_lock``).
        self._order_locks: dict[str, asyncio.Lock] = {}
        # Entries whose placement is unknown (``PlacementUnknown``): tag -> a cancel asked
        # meanwhile, carried out when the order is found (``_placement_settled``).
        self._asked_unknown: dict[str, str] = {}
        self._foreign_heard: set[str] = set()  # orders not ours, said once each
        self._adopted: dict[str, int] = {}  # of those, closes of ours: tag -> quantity taken
        # The latest exchange time an order update carried: live, the RMS's square-off and
        # its cancels can reach us before the tick that shows its cut-off has passed.
        self.exchange_ns = 0
        self.exits = ExitManager(
            self, exits, timer_ns or (lambda: clock.now_ns), on_data_clock=timer_ns is None
        )
        self.engines: dict[str, Engine] = {}
        self.last_prices: dict[str, float] = {}  # every symbol's last price (supervisor's)
        self.holders: dict[str, str] = {}  # symbol -> engine holding a position in it
        self.signals: deque[SignalView] = deque(maxlen=signal_buffer)
        self.events: deque[EventView] = deque(maxlen=event_buffer)
        self.signal_seq = 0
        self.event_seq = 0
        self.counts = {
            "signals": 0,  # every decision, HOLDs included
            "signals_listed": 0,  # the ones the Signals tab lists (not the counted HOLDs)
            "orders": 0,
            "fills": 0,
            "events": 0,
            "decisions": 0,
        }
        # A resumed run's totals go on from what it journaled before the restart (fills
        # and orders are counted as the journal's ledger is read back).
        for kind in ("signals", "events", "decisions"):
            self.counts[kind] += journal.journaled.get(kind, 0)
        # While a resumed run replays what it had done, nothing is journaled or sent.
        self.warmup = warmup or WarmUp()
        self.listeners: list[Callable[[Event], object]] = []  # e.g. the headless log
        self.fill_listeners: list[Callable[[Order, Fill], object]] = []  # e.g. alerts
        # Fed every fill applied to the book, replayed ones too (the performance book):
        # with its order when known and its charges as journaled.
        self.fill_books: list[Callable[[Order | None, Fill], object]] = []
        self.blocked: dict[tuple[str, str, str], BlockedView] = {}
        self.charger = charger or FillCharger(default_calculator(), {})
        self.charger.on_event = self.record_event
        # Live, the contracts whose settlement at expiry the desk booked itself (Kite
        # settles them and lists the position until its day ends): symbol -> the signed
        # quantity settled (``kitetui.trading.expiry_booking``).
        self.settled_at_expiry: dict[str, int] = {}

    # -- positions ----------------------------------------------------------------------

    def position_qty(self, symbol: str) -> int:
        return self.portfolio.quantity(symbol)

    def contract_expired(self, symbol: str) -> bool:
        """Whether ``symbol`` is a contract past its expiry (the data clock's IST date is
        after it, or the desk booked its settlement): no order goes out for it but the
        settlement's own close where kitetui plays the exchange. No exchange takes one,
        and live Kite has already settled it."""
        if symbol in self.settled_at_expiry:
            return True
        instrument = self.charger.instruments.get(symbol)
        expiry = instrument.expiry if instrument is not None else None
        return expiry is not None and self.clock.now_ns > 0 and expiry < ist_date(self.clock.now_ns)

    def track(self, order: Order) -> None:
        """Record an order's latest state; keeps the index of working orders current."""
        tag = order.tag
        before = self.orders.get(tag)
        if before is None and tag not in self.placed_tags:
            self.placed_tags.add(tag)
            self.orders_by_engine[order.engine] += 1
            self._last_engine[order.symbol] = order.engine
        self.orders[tag] = order
        self._working.track(order)
        if (
            before is not None
            and before.status is _NEW
            and order.status is not _NEW
            and self.risk.blocks
        ):
            # Whatever door brought its state (an update, the reconciler, a cancel's or a
            # modify's read of the book), an unknown placement is settled once it is
            # known: its block lifted. Only an update and the reconciler cleared it, so
            # one the kill switch's cancel found by tag kept entries blocked all day.
            self.resolve_placement(order)
        if self._keep_finished is None:
            return
        self._finished += (order.status in _TERMINAL) - (
            before is not None and before.status in _TERMINAL
        )
        if self._finished > 2 * self._keep_finished and not self._pinned:
            self._forget_finished()

    def _forget_finished(self) -> None:
        """Forget the oldest finished orders down to ``keep_finished`` (batched: a scan
        every ``keep_finished`` finishes, not one per order). Only terminal orders go,
        so the newest ``keep_finished`` orders of the run all stay."""
        assert self._keep_finished is not None
        excess = self._finished - self._keep_finished
        old = []
        for order in self.orders.values():
            if excess <= 0:
                break
            if order.status in _TERMINAL:
                old.append(order)
                excess -= 1
        for order in old:
            del self.orders[order.tag]
            self._finished -= 1
            if order.purpose is _ENTRY and order.filled_qty:
                self._forgotten_entries += 1
            self.charger.forget(order.tag)
            self.exits.forget(order.tag)

    def pin_orders(self, pinned: bool) -> None:
        """While pinned (a restart rebuilding its state), no order is forgotten."""
        self._pinned = pinned
        if not pinned and self._keep_finished is not None:
            self._forget_finished()

    @property
    def placed(self) -> int:
        """Orders of the run so far (forgotten ones included)."""
        return len(self.placed_tags)

    def filled_entries(self) -> int:
        """Entry orders of the run that filled (forgotten ones included)."""
        kept = sum(1 for o in self.orders.values() if o.purpose is _ENTRY and o.filled_qty)
        return self._forgotten_entries + kept

    def traded_by(self, symbol: str) -> str:
        """The engine of the newest order in ``symbol`` ("" when it has none)."""
        return self._last_engine.get(symbol, "")

    def has_working(self) -> bool:
        """Whether any order works (the exit manager's timer asks on every batch)."""
        return bool(self._working)

    def order_changes(self, symbol: str) -> int:
        """Order states of ``symbol`` tracked so far (``WorkingOrders.changes``)."""
        return self._working.changes(symbol)

    @property
    def orders_touched(self) -> set[str]:
        """Symbols whose order states moved since the exit manager's timer last took
        them out (``WorkingOrders.touched``: a live set, the timer's to take from)."""
        return self._working.touched

    def all_order_changes(self) -> int:
        """Order states of every symbol tracked so far (``WorkingOrders.total_changes``)."""
        return self._working.total_changes

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The working orders in placement order: all, or one symbol's (indexed)."""
        return self._working.all() if symbol is None else self._working.of(symbol)

    def _exposure(self, symbol: str, engine: Engine | None = None) -> ExposureView:
        """The book as the risk gate sees it for one intent in ``symbol``: the open
        positions and, with them, the entries still working (``_working_entries``)."""
        entries, entries_paise = self._working_entries()
        portfolio = self.portfolio
        return _MAKE_EXPOSURE(  # (``ExposureView``'s fields in order)
            portfolio.open_position_count,  # open_positions
            portfolio.gross_exposure_paise,  # gross_exposure_paise
            self.position_qty(symbol),  # position_qty
            self._working.count(symbol),  # working_orders
            engine is not None and engine.entries_paused,  # engine_paused
            entries,  # entries_working
            entries_paise,  # entries_working_paise
        )

    def _working_entries(self) -> tuple[int, int]:
        """(symbols with an entry working and no position, the working entries' unfilled
        value in paise). An entry placed earlier in the same batch has not filled yet,
        nor has one still open at Kite: counting only positions let every symbol that
        signalled on one bar past ``max_open_positions`` and ``max_gross_exposure``.
        Each is valued at its limit price, else its trigger, else the symbol's last
        price (what valued a market entry when it was checked)."""
        symbols: set[str] = set()
        value = 0
        for order in self._working.entries():
            price = order.price or order.trigger_price or self.last_prices.get(order.symbol, 0.0)
            if math.isfinite(price) and price > 0:
                value += max(0, order.pending_qty) * to_paise(price)
            if not self.portfolio.quantity(order.symbol):
                symbols.add(order.symbol)
        return len(symbols), value

    def tag_for(self, *cause: object) -> str:
        """A client tag for an order of this run, derived from what caused it."""
        return make_tag(self.run_id, *cause)

    # -- the one door to the broker ------------------------------------------------------

    async def submit(
        self,
        intent: OrderIntent,
        tag: str,
        engine: Engine | None = None,
        ts_ns: int | None = None,
        defer: bool = False,
    ) -> list[Order]:
        """Place an intent, sliced to the exchange freeze quantity; the orders as the
        broker took them (REJECTED ones included), none for a tag already placed.

        Slices are whole lots; the first keeps ``tag``, the others add 2, 3, …

        ``defer`` (a strategy's entry): with ``place_later`` set (live), each slice is
        written ahead and tracked here, and its placement queued in the symbol's lane;
        the orders come back NEW (``_place_deferred``).
        """
        freeze = engine.freeze_quantity(intent.symbol) if engine is not None else None
        sizes = slice_quantity(
            intent.quantity, freeze, engine.lot_size(intent.symbol) if engine is not None else 1
        )
        placed: list[Order] = []
        for index, size in enumerate(sizes):
            child_tag = tag if index == 0 else f"{tag}{index + 1}"
            # (one slice, most orders: the intent itself, not a copy of it)
            child = intent if size == intent.quantity else evolve(intent, quantity=size)
            order = await self._submit_one(child, child_tag, ts_ns, defer=defer)
            if order is not None:
                placed.append(order)
        if len(sizes) > 1:
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.ORDER_SLICED,
                    symbol=intent.symbol,
                    engine=intent.engine,
                    message=f"{intent.quantity} split into {len(sizes)} orders of at most "
                    f"{freeze} (the most one order may carry)",
                )
            )
        return placed

    async def _submit_one(
        self, intent: OrderIntent, tag: str, ts_ns: int | None = None, defer: bool = False
    ) -> Order | None:
        """Journal the order durably, then place it (or, ``defer``, queue its placement:
        ``_place_deferred``). None if the tag already exists, or the contract has
        expired (said: only the settlement's own close goes to a simulated exchange)."""
        if (
            self.contract_expired(intent.symbol)
            and expiry_settlement.kind_of(intent.reason) is None  # not the settlement's close
        ):
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.ORDER_REJECTED,
                    level="ERROR",
                    symbol=intent.symbol,
                    engine=intent.engine,
                    message=f"{intent.purpose.value} {intent.side.value} {intent.quantity} "
                    f"{intent.symbol} not sent: the contract has expired, and the exchange "
                    f"settles it ({intent.reason})",
                )
            )
            return None
        order = await self._write_ahead(intent, tag, ts_ns)
        if order is None:
            return None
        place_later = self.place_later
        if defer and place_later is not None:
            self._in_flight[tag] = ""
            self._queued.add(tag)
            if place_later(order.symbol, lambda: self._place_deferred(order), tag):
                return order
            del self._in_flight[tag]  # the lanes have failed: the run is stopping
            self._queued.discard(tag)
        return await self._place(order)

    async def _write_ahead(self, intent: OrderIntent, tag: str, ts_ns: int | None) -> Order | None:
        """The order row, committed and tracked before the broker sees it (so every
        later decision counts it as working). None if the tag already exists."""
        if tag in self.placed_tags:
            return None  # placed before a restart: never twice
        order = new_order(intent, tag, self.clock.now_ns if ts_ns is None else ts_ns)
        self.track(order)
        self.journal.set_risk_state(self.risk.to_state())
        await self.journal.write_order(order)
        self.counts["orders"] += 1
        return order

    async def _place_deferred(self, order: Order) -> None:
        """Live, in the symbol's lane: a strategy's entry goes to the broker while the
        batch path goes on. Tracked NEW meanwhile, it counts as working (no second entry
        in the symbol, the risk limits count it). A cancel asked meanwhile (the kill
        switch, a stale entry, a close) could not reach an order Kite had not yet
        answered for: it is carried out now, as is one for an entry that Kite took after
        trading halted. A placement slower than ``SLOW_PLACEMENT_S`` is said.

        One whose cancel was asked before its turn came (a flatten while the symbol's
        earlier slice hung at Kite) was cancelled then and is never sent (``cancel``);
        one that trading halted or its symbol blocked meanwhile is not sent (``_place``):
        sent, each filled and then had to be closed."""
        tag = order.tag
        if tag not in self._queued:
            return  # cancelled before its turn: never sent
        self._queued.discard(tag)
        started = time.monotonic()
        try:
            placed = await self._place(order)
        finally:
            asked = self._in_flight.pop(tag, "")
        took = time.monotonic() - started
        if took >= SLOW_PLACEMENT_S:
            self.record_order_event(
                order,
                EventKind.PLACEMENT_ANSWERED_LATE,
                "WARNING",
                f"{order.side.value} {order.quantity} {order.symbol}: Kite answered the "
                f"placement of {tag} after {took:.1f} s ({placed.status.value}); the other "
                "symbols traded on meanwhile",
            )
        current = self.orders.get(tag, placed)
        if current.status is OrderStatus.NEW:
            if asked:  # its outcome unknown: carried out when the reconciler finds it
                self._asked_unknown[tag] = asked
            return
        if current.status.is_terminal:
            return  # finished meanwhile
        await self._placement_settled(current, asked, "in flight")

    async def _placement_settled(self, order: Order, asked: str, while_: str) -> None:
        """An entry's placement was in flight or unknown (``while_``) and is now known:
        a cancel asked meanwhile (``asked``), or one that trading halted or its symbol
        blocked since calls for, is carried out now. The kill switch, a loss halt or a
        block could not reach an order Kite had not answered for, and nothing else
        would: found OPEN later, it rested at Kite under the kill switch, and its fills
        opened a position that was only covered by a stop, never closed.

        Filled before the cancel reached it (or found filled): the fills moved the
        position, and a halt or a block closes it now, else it is covered: rule 11
        from the first moment, not from the next order update."""
        tag, symbol = order.tag, order.symbol
        barred = self._entry_barred(order)
        why = f"{barred} while its placement was {while_}" if barred else ""
        asked = asked or why
        # A flatten asked for this cancel (``cancel_entries``): what filled is closed too,
        # halted or not (a person's flatten, a square-off, one asked before a restart).
        close = bool(why) or tag in self._close_fills
        self._close_fills.discard(tag)
        if not asked:
            return
        if while_ == "unknown":
            self.record_order_event(
                order,
                EventKind.CANCEL_DEFERRED,
                "WARNING",
                f"entry {tag}, its placement unknown, is {order.status.value} at Kite "
                f"(filled {order.filled_qty}): "
                + ("nothing left to cancel" if order.status.is_terminal else "cancelled now")
                + f" ({asked}); what it filled is "
                + ("closed" if close else "covered"),
            )
        if not order.status.is_terminal:
            await self.cancel(tag, asked)
        if close and self.position_qty(symbol):
            await self.flatten(symbol, OrderPurpose.FLATTEN, asked)
        await self.exits.settle(symbol, cause=tag)

    async def _place(self, order: Order) -> Order:
        """Send an order written ahead; the order as the broker took it (REJECTED ones
        included, NEW when the outcome is unknown)."""
        tag = order.tag
        barred = self._entry_barred(order)
        if barred:
            # Halted (or its symbol blocked) while the order row was being written, or
            # while it waited for its turn in its lane: it never reaches the broker.
            halted = self.risk.state is _HALTED
            reason = "trading halted" if halted else f"not sent: {barred}"
            rejected = evolve(order, status=OrderStatus.REJECTED, reason=reason)
            self.not_accepted.add(tag)
            async with self._order_lock(order.symbol):
                self.track(rejected)
                await self.journal.write_order_state(rejected, self.clock.now_ns)
            return rejected
        try:
            accepted = await self.broker.place(order)
        except TokenExpired as exc:
            # Refused at the door: nothing reached the exchange. No entry goes out until
            # a new login (exits keep trying: they must not wait for a person).
            reason = self.require_login(exc)
            accepted = evolve(order, status=OrderStatus.REJECTED, reason=reason)
        except NotAccepted as exc:
            # The exchange never took it: journaled as such; the caller may retry under a
            # fresh tag (the exit manager does).
            self.not_accepted.add(tag)
            accepted = evolve(order, status=OrderStatus.REJECTED, reason=str(exc))
            self.record_order_event(order, EventKind.ORDER_NOT_ACCEPTED, "WARNING", str(exc))
        except PlacementUnknown as exc:
            # Sent, and the order book cannot be read to say what became of it: the order
            # stays NEW (unknown) for the reconciler and the next start to resolve by tag.
            reason = f"order {tag} placement unknown: {exc}"
            self.risk.set_block(
                f"{PLACEMENT_UNKNOWN}:{tag}",
                reason,
                f"when order {tag} is found at the broker or known not placed",
            )
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.PLACEMENT_UNKNOWN,
                    level="ERROR",
                    symbol=order.symbol,
                    message=reason,
                )
            )
            return order
        async with self._order_lock(order.symbol):  # after a fill being journaled now
            known = self.orders.get(tag)
            answered_terminal = accepted.status in _TERMINAL
            if known is not None and known.status in _TERMINAL and not answered_terminal:
                return known  # finished while Kite's answer was on its way: it never reopens
            if known is not None and known.status is not _NEW and not answered_terminal:
                # Kite's news of it came first (an update in its own lane, a read-back):
                # newer than "accepted", which must not set it back (a stop seen triggered
                # shown waiting again, never re-priced). The answer adds only its id.
                if known.broker_order_id or not accepted.broker_order_id:
                    return known
                accepted = evolve(known, broker_order_id=accepted.broker_order_id)
            elif known is not order or not getattr(self.broker, "answers_as_placed", False):
                accepted = self._merge(accepted)
            # (else the answer is to the order as we sent it, which nothing has changed
            # since, from a broker that only sets its own state: ``_merge`` would copy
            # it into its equal; an order and its stop save a copy each)
            self.track(accepted)
            self.journal.update_order(accepted, self.clock.now_ns)
        if accepted.status is _REJECTED and tag not in self.not_accepted:
            self.record_order_event(
                order,
                EventKind.ORDER_REJECTED,
                "WARNING",
                f"{order.side.value} {order.quantity} {order.symbol}: {accepted.reason}",
            )
        return accepted

    def require_login(self, exc: Exception) -> str:
        """Kite refused the token: no entry goes out until a login (the ``login_required``
        block, once, with its ``LoginRequired`` event and alarm); the reason, to show."""
        reason = f"Kite token expired: run `kitetui login` ({exc})"
        if self.risk.set_block(LOGIN_REQUIRED, reason, "after `kitetui login` and a restart"):
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.LOGIN_REQUIRED,
                    level="ERROR",
                    message=reason,
                )
            )
        return reason

    def resolve_placement(self, order: Order) -> None:
        """A placement that was unknown is settled (found, or known not placed)."""
        if self.risk.clear_block(f"{PLACEMENT_UNKNOWN}:{order.tag}"):
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.PLACEMENT_RESOLVED,
                    symbol=order.symbol,
                    message=f"order {order.tag} is {order.status.value} at the broker",
                )
            )

    async def recover_new_orders(self) -> None:
        """After a restart: an order journaled NEW may or may not have reached the broker
        before the process died. Looked up by tag: found, it goes on as the broker has it;
        not there, it is placed now under the same tag (it never reached the exchange, and
        the paper book died with the process); unanswerable, it stays NEW behind a
        ``placement_unknown`` block until an order book read settles it.

        The risk state is restored first: an entry that never reached the broker is not
        placed while trading is halted (the kill switch, the loss limit) or its symbol
        blocked (a crash before its placement, the kill switch pressed before that: placed
        at once on the restart, a marketable entry could fill before the kill switch's
        cancel came after it), and one found working is cancelled then (what it filled
        closed: ``_placement_settled``). So is one whose cancel was asked before the
        restart while Kite had not answered for it (``_restore_asked_cancels``); one of
        those not found is not placed."""
        await self._restore_asked_cancels()
        for order in [o for o in self._working.all() if o.status is OrderStatus.NEW]:
            try:
                found = await self.broker.lookup(order.tag)
            except BrokerError as exc:
                self.risk.set_block(
                    f"{PLACEMENT_UNKNOWN}:{order.tag}",
                    f"order {order.tag} unknown after a restart: {exc}",
                    f"when order {order.tag} is found at the broker or known not placed",
                )
                continue
            if found is not None:
                merged = self._merge(found)
                self.track(merged)
                self.journal.update_order(merged, self.clock.now_ns)
                self.exits.read_back(order, merged)  # a stop refused while we were down
                if merged.purpose is OrderPurpose.ENTRY:
                    asked = self._asked_unknown.pop(order.tag, "")
                    await self._placement_settled(merged, asked, "unknown")
                continue
            asked = self._asked_unknown.pop(order.tag, "")
            self._close_fills.discard(order.tag)
            barred = f"its cancel was asked before the restart ({asked})" if asked else ""
            barred = barred or self._entry_barred(order)
            if barred:
                why = f"not placed after a restart: {barred}"
                refused = evolve(order, status=OrderStatus.REJECTED, reason=why)
                self.not_accepted.add(order.tag)
                self.track(refused)
                self.journal.update_order(refused, self.clock.now_ns)
                self.record_order_event(
                    order,
                    EventKind.ORDER_REJECTED,
                    "WARNING",
                    f"entry {order.tag} ({order.side.value} {order.quantity} {order.symbol}) "
                    f"never reached the broker before the restart and is not sent: {barred}",
                )
                continue
            try:
                accepted = await self.broker.place(order)
            except (NotAccepted, TokenExpired) as exc:
                accepted = evolve(order, status=OrderStatus.REJECTED, reason=str(exc))
                self.not_accepted.add(order.tag)
            except PlacementUnknown as exc:
                self.risk.set_block(
                    f"{PLACEMENT_UNKNOWN}:{order.tag}",
                    f"order {order.tag} placement unknown: {exc}",
                    f"when order {order.tag} is found at the broker or known not placed",
                )
                continue
            accepted = self._merge(accepted)
            self.track(accepted)
            self.journal.update_order(accepted, self.clock.now_ns)

    def _entry_barred(self, order: Order) -> str:
        """Why ``order``, an entry, must not go out or stay working now ("" when it may,
        or is no entry): trading halted, or its symbol blocked. One reading for a
        restart's NEW entries and for an entry whose placement has just become known."""
        if order.purpose is not _ENTRY:
            return ""
        if self.risk.state is _HALTED:
            return f"trading halted ({self.risk.halted_reason})"
        blocked = self.risk.blocked_symbols.get(order.symbol, "")
        return f"{order.symbol} blocked ({blocked})" if blocked else ""

    async def settle_unknown(self, in_book: set[str]) -> None:
        """An order book just read: an unknown placement not in it was never placed.
        Its block lifts, and an exit it carried is tried again by the exit manager."""
        for order in self._working.all():
            unknown = f"{PLACEMENT_UNKNOWN}:{order.tag}" in self.risk.blocks
            if order.status is OrderStatus.NEW and unknown and order.tag not in in_book:
                self.not_accepted.add(order.tag)
                self._asked_unknown.pop(order.tag, None)  # nothing to cancel
                self._close_fills.discard(order.tag)
                await self.on_order_state(
                    evolve(
                        order,
                        status=OrderStatus.REJECTED,
                        reason="not placed (not in the order book after an unknown outcome)",
                    )
                )

    def _merge(self, broker_view: Order, fill: Fill | None = None) -> Order:
        """The broker's state of one of our orders, with our journaled identity kept
        (purpose, engine, signal and stop level are ours; the broker may not know them).

        The filled quantity is ours too: it moves only with a fill we journal and apply
        (``fill``), never ahead of it. A broker can know of a fill before its update
        reaches us; counting it before the position moves would show the order covering
        less than it does, and the exit manager would close the difference twice."""
        ours = self.orders.get(broker_view.tag)
        if ours is None:
            return broker_view
        filled, average = ours.filled_qty, ours.avg_price
        if fill is not None:
            total = filled + fill.quantity
            average = (average * filled + fill.price * fill.quantity) / total if total else 0.0
            filled = total
        if filled == broker_view.filled_qty and broker_view.avg_price > 0:
            average = broker_view.avg_price  # caught up: the broker's own average, exact
        status = broker_view.status
        quantity = self._adopted.get(broker_view.tag, broker_view.quantity)
        if status is _COMPLETE and filled < quantity:
            status = _OPEN  # the rest of its fills are still on their way
        elif filled >= quantity and broker_view.tag in self._adopted:
            status = _COMPLETE  # all of it that was ours (the rest is not)
        return _MERGED(
            ours,
            status,
            broker_view.order_type,
            quantity,
            broker_view.price,
            broker_view.trigger_price,
            filled,
            round(average, 4),
            broker_view.broker_order_id or ours.broker_order_id,
            broker_view.reason
            if broker_view.status in _REFUSED and broker_view.reason
            else ours.reason,
        )

    async def modify(
        self,
        tag: str,
        *,
        order_type: OrderType | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        quantity: int | None = None,
        purpose: OrderPurpose | None = None,
        signal_id: str | None = None,
        why: str = "",
    ) -> Order | None:
        """Change a working order in place and journal the change durably; None if it is
        no longer working. ``ModifyRefused``/``BrokerUnavailable`` propagate: the order
        stands as it was, and the caller decides."""
        order = self.orders.get(tag)
        if order is None or order.status in _TERMINAL or tag in self._foreign_heard:
            return None  # (an order kitetui did not place is never touched: ``_foreign``)
        try:
            changed = await self.broker.modify(
                tag,
                ts_ns=self.clock.now_ns,
                order_type=order_type,
                price=price,
                trigger_price=trigger_price,
                quantity=quantity,
            )
        except BrokerUnavailable:
            # The modification may have happened (an answer lost after the exchange
            # acted): read the order back, so the next decision starts from its terms.
            await self.refresh(tag)
            raise
        except ModifyRefused as exc:
            self.record_order_event(
                order, EventKind.ORDER_MODIFY_REFUSED, "WARNING", f"{tag}: {exc}"
            )
            raise
        if changed is None:
            await self.refresh(tag)  # filled or cancelled first: take its fills and state
            return None
        async with self._order_lock(order.symbol):
            changed = evolve(
                self._merge(changed),
                purpose=purpose or order.purpose,
                signal_id=order.signal_id if signal_id is None else signal_id,
                reason=why or order.reason,
                ts_ns=self.clock.now_ns,
            )
            self.track(changed)
            await self.journal.write_order_state(changed, self.clock.now_ns)
        # Stamped here with the time ``record_event`` would give it, so that it need not
        # copy the event to stamp it (a ``dataclasses.replace``, each stop turned close).
        self.record_order_event(
            order,
            _MODIFIED,
            "DEBUG",
            f"{tag}: {why}" if why else tag,
            ts_ns=self.clock.now_ns,
        )
        return changed

    async def refresh(self, tag: str) -> Order | None:
        """Read one order back from the broker: the fills it shows that no update has
        brought yet are journaled and applied first, then its terms and status are
        taken. None when it cannot be read now. It never calls the exit manager, which
        may be the caller (it re-reads the book after each action)."""
        try:
            latest, fills = await self.broker.refresh(tag)
        except BrokerError:
            return None
        if latest is None or tag not in self.orders:
            return None
        await self._apply_fills([(latest, fill) for fill in fills])
        async with self._order_lock(latest.symbol):
            before = self.orders[tag]
            if before.status.is_terminal and not latest.status.is_terminal:
                return before  # read before it finished by another path: it never reopens
            merged = self._merge(latest)
            if merged == before:
                return merged
            self.track(merged)
            await self.journal.write_order_state(merged, self.clock.now_ns)
        self.exits.read_back(before, merged)
        return merged

    async def cancel(self, tag: str, reason: str, *, close_fills: bool = False) -> bool:
        """Cancel one working order; True when it ended cancelled. An entry Kite has not
        answered for yet (in flight, or its placement unknown) is remembered and
        cancelled once it is known (``_placement_settled``; ``close_fills``: a flatten's,
        whose fills are then closed too); one still waiting for its turn in the lane is
        cancelled here and never sent."""
        order = self.orders.get(tag)
        if order is None or order.status.is_terminal or tag in self._foreign_heard:
            return False
        if tag in self._queued:
            await self._cancel_unsent(order, reason)
            return True
        unanswered = order.purpose is OrderPurpose.ENTRY and order.status is OrderStatus.NEW
        closes = close_fills and unanswered and tag not in self._close_fills
        if closes:
            self._close_fills.add(tag)
        remembered = ""
        if tag in self._in_flight and not self._in_flight[tag]:
            # Kite may not have it yet: tried now (it may), and again once it answers.
            self._in_flight[tag] = reason
            remembered = "is in flight: tried now, and again once Kite answers"
        elif (
            unanswered
            and tag not in self._in_flight
            and tag not in self._asked_unknown
            and f"{PLACEMENT_UNKNOWN}:{tag}" in self.risk.blocks
        ):
            # Its placement is unknown: the broker can cancel it only once the order book
            # finds it by tag, and nobody asks again for an entry (the exit manager does
            # for its stops and closes): remembered, and carried out when it is found.
            self._asked_unknown[tag] = reason
            remembered = "is unknown: tried now, and again once the order book finds it"
        if remembered or (closes and (tag in self._in_flight or tag in self._asked_unknown)):
            await self._remember_cancel(order, reason, remembered)
        try:
            cancelled = await self.broker.cancel(tag)
        except BrokerError as exc:
            # Not cancelled, as far as anyone can tell: it still works, and whoever asked
            # tries again (the exit manager on its next pass). Never silent.
            self.record_order_event(
                order, EventKind.CANCEL_FAILED, "WARNING", f"cancel {tag} ({reason}) failed: {exc}"
            )
            await self.refresh(tag)
            return False
        if cancelled is None:
            await self.refresh(tag)  # filled or gone first: take what the broker says
            return False
        async with self._order_lock(order.symbol):
            cancelled = evolve(self._merge(cancelled), status=OrderStatus.CANCELLED, reason=reason)
            self._asked_unknown.pop(tag, None)
            self.track(cancelled)
            await self.journal.write_order_state(cancelled, self.clock.now_ns)
        return True

    async def _remember_cancel(self, order: Order, reason: str, remembered: str) -> None:
        """A cancel asked of an entry Kite has not answered for (in flight, or its
        placement unknown), said and committed before it is tried: the journal is
        write-ahead, and a restart honours it (``recover_new_orders``), as it does the
        kill switch and a halt. Kept only in the process, it died with it: an entry found
        at Kite after the restart went on working, and what it filled was only covered.
        The event's ``data`` says which entry, why, and whether its fills are closed."""
        tag = order.tag
        close = tag in self._close_fills
        message = (
            f"cancel {tag} ({reason}) asked while its placement {remembered}"
            if remembered
            else f"cancel {tag} ({reason}) asked by a flatten while its placement is "
            "unanswered: what it fills is closed"
        )
        self.record_order_event(
            order,
            EventKind.CANCEL_DEFERRED,
            "WARNING",
            message,
            data={ASKED_CANCEL: tag, "reason": reason, "close": close},
        )
        await self.journal.flush()

    async def _restore_asked_cancels(self) -> None:
        """After a restart: the cancels asked of entries Kite had not answered for, as
        the journal has them (``_remember_cancel``), for the entries still NEW: carried
        out when the order is found (``_placement_settled``), and never placed if not."""
        asked = await load_asked_cancels(self.journal.db, self.journal.run_id)
        for order in self._working.all():
            if order.status is not OrderStatus.NEW or order.tag not in asked:
                continue
            reason, close = asked[order.tag]
            self._asked_unknown.setdefault(order.tag, reason)
            if close:
                self._close_fills.add(order.tag)
            self.record_order_event(
                order,
                EventKind.CANCEL_DEFERRED,
                "WARNING",
                f"cancel {order.tag} ({reason}), asked before the restart while its "
                "placement was unanswered, is kept: carried out once Kite's book shows it"
                + (", and what it filled closed" if close else ""),
            )

    async def _cancel_unsent(self, order: Order, reason: str) -> None:
        """An entry written ahead and queued in its lane, not yet sent: cancelled here,
        and its turn sends nothing (``_place_deferred``). Kite never had it, so nothing
        is asked of Kite; a flatten behind a hung earlier slice no longer lets the later
        slices go out, fill and be closed one by one."""
        tag = order.tag
        self._queued.discard(tag)  # before any await: its turn must find it gone
        self._in_flight.pop(tag, None)
        self._close_fills.discard(tag)
        self.not_accepted.add(tag)  # (never sent: Kite listing it would be news)
        async with self._order_lock(order.symbol):
            current = self.orders.get(tag, order)
            if current.status.is_terminal:
                return
            cancelled = evolve(
                current, status=OrderStatus.CANCELLED, reason=f"never sent: {reason}"
            )
            self.track(cancelled)
            await self.journal.write_order_state(cancelled, self.clock.now_ns)
        self.record_order_event(
            order,
            EventKind.CANCEL_DEFERRED,
            "WARNING",
            f"cancel {tag} ({reason}) asked while its placement waited for its turn in the "
            f"{order.symbol} lane: cancelled, never sent",
        )

    async def lapse_earlier_orders(
        self, session_day: date, working: set[str], held: Holdings | None = None
    ) -> int:
        """Live: every DAY order of ours placed before ``session_day`` that the broker's
        book does not list as working (``working``: the tags it does) ends CANCELLED,
        and its symbol is covered again; how many there were.

        Kite keeps no order past its session: the exchange cancels what is unmatched
        after the close ("exchange mass cancel"), and the next day's order book lists
        only that day's orders. The update saying so can be lost (a websocket down for
        the night, a desk restarted), and the reconciler's poll cannot bring it: the
        order is no longer in the book. A stop from yesterday would then count as cover
        here while nothing rests at the exchange, and the position would be shown
        protected while it is naked. The book decides, not the date alone: an order the
        desk stamped with yesterday's clock may have reached the exchange today.

        But an exit order (a stop, a close) that is gone may have *filled* unheard just
        before the close: Kite is then flat, or holds less, and a stop placed again for
        the whole position would, once it triggers, open the other side. So before one is
        written off its symbol is held to Kite's positions (``held``, read with the book;
        None when they could not be read: nothing is covered until they are), and every
        symbol held so far is looked at again with them (``hold_to_broker``)."""
        lapsed = [
            order
            for order in self.open_orders()
            if order.validity is Validity.DAY
            and order.variety is not Variety.AMO  # (kitetui places none: one is for today)
            and ist_date(order.ts_ns) < session_day
            and order.tag not in working
            and order.tag not in self._foreign_heard
        ]
        for order in lapsed:
            self.record_order_event(
                order,
                EventKind.ORDER_LAPSED,
                "WARNING",
                f"{order.purpose.value} {order.tag} ({order.side.value} {order.pending_qty} "
                f"{order.symbol}) was placed on {ist_date(order.ts_ns)} and is not in Kite's "
                "book today: a DAY order does not outlive its session, and its end was never "
                "heard",
            )
        exits = {o.symbol for o in lapsed if o.purpose in _EXIT_PURPOSES}
        for symbol in sorted(exits):  # before the write-off covers it again
            await self.hold_to_broker(symbol, held, settle=False)
        for order in lapsed:
            await self.on_order_state(
                evolve(order, status=OrderStatus.CANCELLED, reason=LAPSED), before=order
            )
        if held is not None:
            for symbol in sorted(set(self.exits.unconfirmed()) - exits):
                await self.hold_to_broker(symbol, held)
        return len(lapsed)

    def lapsed_exit_symbols(self) -> list[str]:
        """Open positions with an exit order written off as lapsed in this run: after a
        restart, held to Kite's positions again (the hold lives in memory only)."""
        return sorted(
            {
                order.symbol
                for order in self.orders.values()
                if order.reason == LAPSED
                and order.purpose in _EXIT_PURPOSES
                and self.portfolio.quantity(order.symbol)
            }
        )

    async def hold_to_broker(
        self, symbol: str, held: Holdings | None, *, settle: bool = True
    ) -> None:
        """Cover ``symbol`` for no more than Kite holds of it in our direction.

        Where Kite holds less than kitetui's books (an exit order that may have filled
        unheard), no fill price is guessed into the ledger: the difference is said
        (``PositionUnconfirmed``, an alarm), entries in the symbol are blocked, the cover
        is capped at what Kite holds (``ExitManager.hold_unconfirmed``) and the position
        is left for the trader to resolve. ``held`` None (Kite's positions not read):
        nothing is covered until a read says how much. Where Kite holds it all again (or
        kitetui's books are flat) the hold and the block are lifted, said
        (``PositionConfirmed``), and the position covered (``settle``)."""
        position = self.portfolio.position(symbol)
        ours = position.quantity if position is not None else 0
        was = self.exits.held_as(symbol)
        if position is None or not ours:
            missing, theirs = 0, 0
        elif held is None:
            missing, theirs = abs(ours), 0
        else:
            theirs = held.get((symbol, position.product), 0)
            missing = max(0, abs(ours) - max(0, theirs if ours > 0 else -theirs))
        if not missing:
            if self.exits.release_unconfirmed(symbol):
                if self.risk.blocked_symbols.get(symbol, "").startswith(UNCONFIRMED_BLOCK):
                    del self.risk.blocked_symbols[symbol]
                self.record_event(
                    Event(
                        ts_ns=self.clock.now_ns,
                        kind=EventKind.POSITION_CONFIRMED,
                        symbol=symbol,
                        message=(
                            f"{symbol} {ours:+d}: Kite holds it all: covered as any position"
                            if ours
                            else f"{symbol}: flat in kitetui's books, no longer held to Kite's"
                        )
                        + ", entries allowed again",
                        data={"kite": theirs, "kitetui": ours},
                    )
                )
                if settle:
                    await self.exits.settle(symbol, cause=f"held{self.clock.now_ns}")
            return
        assert position is not None  # (``missing`` is 0 without one)
        product = position.product.value
        if held is None:
            why = "Kite's positions not read: no cover until a read says how much it holds"
        else:
            why = (
                f"Kite holds {theirs:+d} {product}, kitetui {ours:+d}: its exit order may "
                f"have filled unheard; covered for {abs(ours) - missing} at most, entries "
                "blocked; resolve it in Kite or flatten"
            )
        self.exits.hold_unconfirmed(symbol, missing, why)
        self.risk.block_symbol(symbol, f"{UNCONFIRMED_BLOCK}: {why}")
        if held is not None and was != (missing, why):
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.POSITION_UNCONFIRMED,
                    level="ERROR",
                    symbol=symbol,
                    engine=position.engine,
                    message=f"{symbol}: {why}",
                    data={"kite": theirs, "kitetui": ours, "product": product},
                )
            )
        if settle:
            await self.exits.settle(symbol, cause=f"held{self.clock.now_ns}")

    async def lapse_unlisted(self, session_day: date) -> None:
        """``lapse_earlier_orders`` against the broker's book and positions read now; a
        book that cannot be read leaves them to the reconciler's next pass (it says so),
        as do positions that cannot be read (what lapsed is written off, its symbol not
        covered until a read of the positions says how much Kite holds). After a
        restart, a symbol held to Kite's positions before is held again first."""
        try:
            working = {order.tag for order in await self.broker.open_orders()}
        except BrokerError as exc:
            self._not_read("order book", exc)
            return
        try:
            held: Holdings | None = broker_holdings(await self.broker.positions())
        except BrokerError as exc:
            self._not_read("positions", exc)
            held = None
        known = self.exits.unconfirmed()
        for symbol in self.lapsed_exit_symbols():
            if symbol not in known:
                await self.hold_to_broker(symbol, held, settle=False)
        await self.lapse_earlier_orders(session_day, working, held)

    def _not_read(self, what: str, exc: BrokerError) -> None:
        self.record_event(
            Event(
                ts_ns=self.clock.now_ns,
                kind=EventKind.RECONCILE_FAILED,
                level="WARNING",
                message=f"Kite's {what} could not be read to find orders that lapsed "
                f"overnight: the reconciler tries again ({exc})",
            )
        )

    # -- fills ---------------------------------------------------------------------------

    async def on_fills(self, fills: list[tuple[Order, Fill]]) -> None:
        """Journal each fill with its order's new state, then apply it to the position;
        then let the exit manager bring the symbol's cover in line."""
        for order, fill in await self._apply_fills(fills):
            await self.exits.settle(order.symbol, cause=fill.fill_id)

    async def _apply_fills(self, fills: list[tuple[Order, Fill]]) -> list[tuple[Order, Fill]]:
        """Journal and apply fills (each once); the ones that were new."""
        applied: list[tuple[Order, Fill]] = []
        for order, fill in fills:
            async with self._order_lock(order.symbol):
                done = await self._apply_fill(order, fill)
            if done is None:
                continue  # delivered twice (a websocket update and a poll): applied once
            applied.append(done)
            if self.fill_listeners and not self.warmup.active:
                for listener in self.fill_listeners:
                    listener(*done)
        return applied

    def _order_lock(self, symbol: str) -> asyncio.Lock:
        """Held wherever an order of ``symbol`` gets a new state: read what is known,
        merge the broker's view into it, track it and journal it, as one step. A fill
        awaits its commit before it is tracked; a placement's answer, an order read back
        or a cancel taken meanwhile merged into the state from before that fill, and
        journaled it after: a refresh racing the kill switch's own (a cancel asked while
        the entry's placement was in flight, the entry filled first) left the journal's
        last row OPEN and unfilled after its COMPLETE. The desk was right in memory; a
        restart brought back a working entry the exchange had filled, which no cancel
        could end and which counted toward every limit (the exit invariant's property
        test, under load). Not re-entrant: nothing called under it takes it again."""
        lock = self._order_locks.get(symbol)
        if lock is None:
            lock = self._order_locks[symbol] = asyncio.Lock()
        return lock

    async def _apply_fill(self, order: Order, fill: Fill) -> tuple[Order, Fill] | None:
        """Journal one fill with its order's new state, then apply it (under its
        symbol's ``_order_lock``); None when it was journaled before."""
        order = self._merge(order, fill)
        if fill.engine != order.engine or fill.product is not order.product:
            # (a broker's fill may not know them; the paper book's carries both: no copy)
            fill = evolve(fill, engine=order.engine, product=order.product)
        charged = self.charger.quote(order, fill)  # journaled with the fill (rule 2)
        fill = charged.fill
        if not await self.journal.write_fill(fill, order, None, self.clock.now_ns):
            return None
        self.charger.take(order.tag, charged)
        self.track(order)  # (an unknown placement settled: ``resolve_placement``)
        self.portfolio.apply_fill(fill, lapse=expiry_settlement.is_lapse(order))
        for book in self.fill_books:
            book(order, fill)
        self._track_holder(fill)
        self.counts["fills"] += 1
        if order.purpose is _ENTRY:
            self.exits.set_level(order.symbol, order)
        elif order.purpose is _STOP and not self.exits.is_closing(order.symbol):
            # (a stop being turned into a close fills as the close it now is: a
            # flatten or the kill switch is no "protective stop filled" alarm)
            self.record_order_event(
                order,
                _STOP_FILLED,
                "WARNING",
                f"protective stop filled: {fill.quantity} at {fill.price}",
                ts_ns=fill.ts_ns,
            )
        return order, fill

    async def on_update(self, data: Mapping[str, Any]) -> None:
        """One order update as the exchange sent it (websocket, postback, a poll): its
        state and fills, journaled; one that cannot be read is skipped, and said."""
        self.note_exchange_ns(exchange_time(data))
        try:
            order, fills = self.broker.apply_update(data)
        except (ValueError, KeyError) as exc:
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.ORDER_UPDATE_SKIPPED,
                    level="ERROR",
                    message=f"{type(exc).__name__}: {exc}",
                )
            )
            return
        if order is not None:
            await self.on_broker_update(order, fills)

    def order_tag_of(self, data: Mapping[str, Any]) -> str:
        """The tag of the order of ours an exchange update is about ("" when it names none
        this desk tracks: another's, or one without our tag). Live, such an update runs
        in its order's lane, not behind its symbol's entry placements
        (``UpdateLanes``)."""
        orders = self.orders
        return next((tag for tag in order_tags(data) if tag in orders), "")

    async def on_broker_update(self, order: Order, fills: list[Fill]) -> None:
        """One order update from a broker that reports by itself (Kite, the sim): its
        fills, or its new state, or nothing when it says nothing new."""
        known = self.orders.get(order.tag)
        if known is None:
            await self._foreign(order, fills)
            return
        if fills and order.tag in self._foreign_heard:  # an adopted order's later fills
            fills = self._closing_part(order, fills)
        if known.status.is_terminal and not order.status.is_terminal:
            if order.tag not in self.not_accepted:
                return  # updates can arrive out of order: a finished order never reopens
            # Declared not placed after a timeout, yet the exchange has it: it is real, and
            # the exit manager trims whatever now closes more than the position.
            self.not_accepted.discard(order.tag)
            self.record_order_event(
                known,
                EventKind.ORDER_REVIVED,
                "WARNING",
                f"order {order.tag}, declared not placed, is {order.status.value} "
                "at the exchange after all",
            )
            self.track(evolve(known, status=order.status))
        if fills:
            await self.on_fills([(order, fill) for fill in fills])
        elif (order.status, order.quantity, order.order_type, order.price) != (
            known.status,
            known.quantity,
            known.order_type,
            known.price,
        ):
            # An update can be older than what we already know (our own modification was
            # answered first; the websocket is behind): the order book has the order as
            # it stands now, so a change of state is read from there when it can be.
            latest = await self.refresh(order.tag)
            await self.on_order_state(latest or order, before=known)
        if known.status is OrderStatus.NEW and known.purpose is OrderPurpose.ENTRY:
            await self._found(order.tag)

    async def _found(self, tag: str) -> None:
        """An entry whose placement was unknown may just have been found (by an update
        or the reconciler's read of the book): ``_placement_settled`` once it is known.
        One still in flight is its lane's to settle (``_place_deferred``)."""
        current = self.orders.get(tag)
        if current is None or current.status is OrderStatus.NEW or tag in self._in_flight:
            return
        await self._placement_settled(current, self._asked_unknown.pop(tag, ""), "unknown")

    async def _foreign(self, order: Order, fills: list[Fill]) -> None:
        """An order kitetui did not place: said once, and never modified or cancelled.
        But one on the closing side of a position of ours (same symbol and product) is
        the broker's truth about that position: Zerodha's RMS squaring off MIS at its
        cut-off (it cancels our stop first), or a person closing from Kite's own app.
        From the moment it is seen it is taken as a close of ours, up to the position
        (``_adopted``: journaled as a SQUARE_OFF, said as ``AutoSquaredOff``), so the
        exit manager counts it as the close it is and places none beside it; its fills
        take the position down, never beyond flat. Unheeded, the desk went on covering
        a position that was going or gone: its new stops and closes refused after the
        cut-off, round after round, or, where one is taken, opening the other side."""
        if order.tag not in self._foreign_heard:
            self._foreign_heard.add(order.tag)
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.FOREIGN_ORDER,
                    level="WARNING",
                    symbol=order.symbol,
                    message=f"order {order.broker_order_id} ({order.tag or 'no tag'}) was not "
                    "placed by kitetui: not touched",
                )
            )
        position = self.portfolio.position(order.symbol)
        if position is None or position.product is not order.product:
            return
        held = position.quantity
        if order.side is not (Side.SELL if held > 0 else Side.BUY):
            return
        working = not order.status.is_terminal
        if not (working or fills):
            return  # over before it touched the position (refused, cancelled unfilled)
        if order.order_type in (OrderType.SL, OrderType.SL_M) and not fills:
            return  # a person's stop in Kite: a close only once it trades, if it does
        cap = min(order.quantity, abs(held))
        ts_ns = max(order.ts_ns, self.now_at_exchange(), *(f.ts_ns for f in fills))
        by_rms = order.product is Product.MIS and ist_minute_of_day(
            ts_ns
        ) >= auto_square_off.cutoff_minute(order.exchange.value)
        adopted = evolve(
            order,
            engine=position.engine,
            purpose=OrderPurpose.SQUARE_OFF,
            quantity=cap,
            filled_qty=0,
            avg_price=0.0,
            reason=f"{auto_square_off.REASON if by_rms else 'closed outside kitetui'} "
            f"(order {order.broker_order_id}, {NOT_OURS})",
        )
        self._adopted[order.tag] = cap
        self.record_order_event(
            adopted,
            EventKind.AUTO_SQUARED_OFF,
            "ERROR",
            f"{order.symbol} {held:+d}: order {order.broker_order_id}, not kitetui's, closes "
            f"{cap} of it ("
            + ("Zerodha's intraday auto square-off" if by_rms else "a person in Kite?")
            + "): taken as the position's close",
        )
        self.track(adopted)
        await self.journal.write_order(adopted)
        taken = self._closing_part(order, fills)
        if taken:
            await self.on_fills([(order, fill) for fill in taken])
        else:
            await self.exits.settle(order.symbol, cause=f"{order.tag}-adopted")

    def readopt(self, order: Order) -> None:
        """After a restart: an order journaled as adopted (``_foreign``) is again not
        ours to touch, and capped where it was."""
        if NOT_OURS in order.reason:
            self._foreign_heard.add(order.tag)
            self._adopted[order.tag] = order.quantity

    def note_exchange_ns(self, stamp: int) -> None:
        """The exchange's clock as an order update or a read of the book showed it: ahead
        of our ticks' at times, so ``now_at_exchange`` takes the later of the two."""
        if stamp > self.exchange_ns:
            self.exchange_ns = stamp

    def now_at_exchange(self) -> int:
        """The later of our data clock and the exchange's time in its latest order update."""
        return max(self.clock.now_ns, self.exchange_ns)

    def not_ours(self, tag: str) -> bool:
        """An order kitetui did not place (the exit manager counts it, never works it)."""
        return tag in self._foreign_heard

    def _closing_part(self, order: Order, fills: list[Fill]) -> list[Fill]:
        """Of a foreign order's ``fills``, what closes our position in its symbol (same
        product, the closing side), up to flat: beyond flat it is not ours, and the
        reconciler reports the rest as drift."""
        position = self.portfolio.position(order.symbol)
        if not fills or position is None or position.product is not order.product:
            return []
        held = position.quantity
        if order.side is not (Side.SELL if held > 0 else Side.BUY):
            return []
        taken: list[Fill] = []
        ours = self.orders.get(order.tag)
        left = abs(held)
        if order.tag in self._adopted:  # and no more than was taken as ours
            left = min(left, self._adopted[order.tag] - (ours.filled_qty if ours else 0))
        for fill in fills:
            quantity = min(fill.quantity, left)
            if quantity:
                taken.append(evolve(fill, quantity=quantity))
                left -= quantity
        return taken

    async def on_order_state(self, order: Order, before: Order | None = None) -> None:
        """A broker update that changed an order without a fill (live and the sim):
        journal it, then let the exit manager react (a stop the exchange rejected or
        cancelled leaves the position to be covered again). ``before``: the order as we
        knew it before this news (default: as tracked now)."""
        async with self._order_lock(order.symbol):
            order = self._merge(order)
            before = before or self.orders.get(order.tag)
            self.track(order)  # (an unknown placement settled: ``resolve_placement``)
            await self.journal.write_order_state(order, self.clock.now_ns)
        if order.status is OrderStatus.REJECTED and (
            before is None or before.status is not order.status
        ):
            if order.purpose is OrderPurpose.STOP:
                await self.exits.stop_rejected_later(order)  # its own StopRejected
            else:  # how Kite's RMS usually refuses: accepted, then REJECTED in an update
                self.record_order_event(
                    order,
                    EventKind.ORDER_REJECTED,
                    "WARNING",
                    f"{order.side.value} {order.quantity} {order.symbol}: {order.reason}",
                )
        # Any change may call for cover: a refused stop, a cancelled close, an entry
        # whose fills came in with this news.
        await self.exits.settle(order.symbol, cause=f"{order.tag}-{order.status.value}")

    def replay_fill(self, fill: Fill) -> None:
        """Apply a journaled fill while rebuilding state (it is already committed): with
        the charges journaled with it, its order's running charges rebuilt on the way."""
        order = self.orders.get(fill.tag)
        fill = self.charger.restore(order, fill)
        self.portfolio.apply_fill(fill, lapse=expiry_settlement.is_lapse(order))
        for book in self.fill_books:
            book(order, fill)
        self._track_holder(fill)
        self.counts["fills"] += 1

    def _track_holder(self, fill: Fill) -> None:
        if self.portfolio.quantity(fill.symbol):  # (``position_qty``, a frame fewer a fill)
            self.holders[fill.symbol] = fill.engine
        else:
            self.holders.pop(fill.symbol, None)

    def held_by(self, engine: str) -> dict[str, int]:
        """The engine's open positions: symbol -> signed quantity."""
        return {
            symbol: self.position_qty(symbol)
            for symbol, holder in self.holders.items()
            if holder == engine
        }

    # -- flattening: square-off, halts, the kill switch, a key press ----------------------

    async def flatten(self, symbol: str, purpose: OrderPurpose, reason: str) -> bool:
        """Cancel the symbol's entries and close its position through the exit manager;
        False when it is flat or already closing.

        The entries go first even when it is flat: a stop-and-reverse places the other
        side the instant its close fills, which is also when a symbol loss limit is
        crossed, and the block that flattens must not leave that entry working."""
        await self.cancel_entries(reason, symbol, close_fills=True)
        qty = self.position_qty(symbol)
        if qty == 0:
            return False
        position = self.portfolio.position(symbol)
        intent = OrderIntent(
            engine=position.engine if position else "",
            symbol=symbol,
            exchange=Exchange.NSE,
            side=Side.SELL if qty > 0 else Side.BUY,
            quantity=abs(qty),
            purpose=purpose,
            product=position.product if position else Product.MIS,
            reason=reason,
        )
        decision = self.risk.check(
            intent, position.last_price if position else 0.0, self._exposure(symbol)
        )
        self._record_decision(intent, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return False
        return await self.exits.close(symbol, purpose, reason, cause=f"{self.clock.now_ns}")

    async def flatten_soon(self, symbol: str, purpose: OrderPurpose, reason: str) -> None:
        """``flatten`` from the batch path. Live (``act_now`` set), it runs at once in a
        task of its own beside the symbol's lane (``UpdateLanes.beside``): a close that
        hangs at Kite holds no other symbol's prices, signals or closes, and it never
        waits behind the symbol's own entry placement. Queued in that lane, it did: an
        entry hung at Kite (its timeout, then the unknown placement's look-ups) held the
        halt's cancel of it and the close of what the symbol held for as long. Meanwhile
        the position keeps its stop (rule 11), and no entry goes out where one would (a
        halt or a block refuses it, and an entry not yet sent is never sent: its cancel
        was asked, ``_place_deferred``). Elsewhere, or once the lanes have failed, it is
        awaited here as before."""
        act_now = self.act_now
        if act_now is None:
            await self.flatten(symbol, purpose, reason)
            return
        if symbol in self._flattening:
            return  # under way already: one close a symbol
        self._flattening.add(symbol)

        async def job() -> None:
            try:
                await self.flatten(symbol, purpose, reason)
            finally:
                self._flattening.discard(symbol)

        if not act_now(symbol, job):  # the lanes have failed: the run is stopping
            self._flattening.discard(symbol)
            await self.flatten(symbol, purpose, reason)

    async def flatten_all_soon(self, purpose: OrderPurpose, reason: str) -> None:
        """``flatten_all`` from the batch path: live, each symbol with a position or a
        working entry is flattened beside its lane (``flatten_soon``)."""
        if self.act_now is None:
            await self.flatten_all(purpose, reason)
            return
        symbols = {p.symbol for p in self.portfolio.open_positions()}
        symbols.update(o.symbol for o in self.open_orders() if o.purpose is OrderPurpose.ENTRY)
        for symbol in sorted(symbols):
            await self.flatten_soon(symbol, purpose, reason)

    def is_flattening(self, symbol: str) -> bool:
        """Live, a flatten of ``symbol`` is under way beside its lane."""
        return symbol in self._flattening

    async def cancel_entries(
        self, reason: str, symbol: str | None = None, *, close_fills: bool = False
    ) -> None:
        """Cancel the working entries (of ``symbol``, or every one). ``close_fills`` (a
        flatten's): an entry Kite has not answered for yet, cancelled once it is known,
        has what it filled meanwhile closed, not only covered (``_placement_settled``)."""
        for order in self.open_orders():
            if order.purpose is _ENTRY and symbol in (None, order.symbol):
                await self.cancel(order.tag, reason, close_fills=close_fills)

    async def flatten_all(self, purpose: OrderPurpose, reason: str) -> int:
        count = 0
        await self.cancel_entries(reason, close_fills=True)
        symbols = {p.symbol for p in self.portfolio.open_positions()}
        for symbol in sorted(symbols):
            count += await self.flatten(symbol, purpose, reason)
        return count
