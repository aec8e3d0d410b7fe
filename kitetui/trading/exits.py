"""The exit manager: every open position is protected or being closed (design rule 11).

At every moment each open position is either

(a) **protected** — working protective orders at the exchange whose pending quantity
    equals the position, or
(b) **closing** — closing orders kitetui keeps working until the position is flat
    (retried on 429/5xx under a fresh tag, re-priced when they rest),

and never covered by more than the position (no two closing orders that together
exceed it). Anything else is **NAKED**: an ERROR event and a red alarm.

The manager does not react to events one by one. After anything that can change a
symbol's picture (a fill, an order update, a close request, a timer) it compares what
the exchange is working for that symbol with what the position needs and issues the
difference: a stop for the part not covered, a smaller quantity or a cancel for the
part covered twice, a closing order for the part not being closed. One rule applied
after every change is what makes the invariant hold whatever order events arrive in.

Closing a protected position turns its stops into protected MARKET orders *in place*
(Kite's modify), so there is never a moment with two closing orders or with none: if
the modification is not accepted the stop is still there, and it is tried again after a
backoff. Options are protected by SL (limit) orders, since NSE refuses SL-M in options;
a stop that triggered but did not fill is re-priced toward the market, as is a closing
order that rests (a protected market order the exchange turned into a limit at its
band), at most ``max_modifications`` times, then cancelled and replaced under a new tag.

Square-off, flatten, the kill switch and the daily-loss halt all close through
``close``; so do strategy exits, which may ask to enter the other side once flat
(stop-and-reverse).

Timing (re-price and retry delays) runs on an injected clock: the data clock in replay,
so a backtest decides the same way at any speed and after a restart, and the wall clock
in paper and live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kitetui.brokers.base import BrokerError, BrokerUnavailable, ModifyRefused
from kitetui.clock import ist_day_number, ist_minute_of_day
from kitetui.domain import (
    Event,
    Exchange,
    Order,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Signal,
    round_to_tick,
)
from kitetui.drafts import built_in_draft
from kitetui.events import EventKind
from kitetui.trading import auto_square_off, expiry_settlement
from kitetui.trading.sizing import stop_limit_price, tick_toward

if TYPE_CHECKING:
    from kitetui.config import ExitConfig
    from kitetui.trading.ports import EnginePort as Engine
    from kitetui.trading.trader import Trader

CLOSING = frozenset({OrderPurpose.EXIT, OrderPurpose.SQUARE_OFF, OrderPurpose.FLATTEN})
_COVER = CLOSING | {OrderPurpose.STOP}  # what the timer works: closes and stops
_RESTING_STOP = frozenset({OrderType.SL, OrderType.LIMIT})  # a triggered SL, then re-priced
# Members read on the timer's per-batch path and a settle's, bound once
# (why: ``kitetui/domain.py``, "Bound members").
_TRIGGER_PENDING, _OPEN, _NEW = OrderStatus.TRIGGER_PENDING, OrderStatus.OPEN, OrderStatus.NEW
_REJECTED = OrderStatus.REJECTED
_STOP, _EXIT = OrderPurpose.STOP, OrderPurpose.EXIT
_SELL, _BUY = Side.SELL, Side.BUY
_MARKET, _SL, _SL_M = OrderType.MARKET, OrderType.SL, OrderType.SL_M
NS = 1_000_000_000
STOP_RETRIES = 3  # stop placements not accepted in a row before the position is closed
SETTLE_PASSES = 4  # passes of the rule per settle; more means the book moves on its own


@dataclass(slots=True)
class _Close:
    """A close in progress: why, since when, how much it set out to close."""

    purpose: OrderPurpose
    reason: str
    cause: str  # what the tags of its orders derive from (a signal id, a time)
    total: int  # the position when the close began (grows if the position grows)
    attempt: int = 0  # placements tried (fresh tags)
    retry_due_ns: int = 0  # when the next placement may go (after a refusal)
    failures: int = 0


@built_in_draft
@dataclass(frozen=True, slots=True)
class Level:
    """Where a position's protective stop sits, and what it protects."""

    trigger: float
    engine: str
    exchange: Exchange
    product: Product
    entry_tag: str = ""  # the entry whose stop this is
    signal_id: str = ""  # and the signal behind it


@dataclass(frozen=True, slots=True)
class Protection:
    """What the screen says about one position: STOP @ x, EXITING f/t or NAKED."""

    state: str  # "PROTECTED" | "EXITING" | "NAKED"
    text: str


class ExitManager:
    """Keeps rule 11 for every open position; see the module docstring."""

    def __init__(
        self,
        trader: Trader,
        config: ExitConfig,
        now_ns: Callable[[], int],
        on_data_clock: bool = True,
    ) -> None:
        """``now_ns``: the clock of re-price and retry delays; ``on_data_clock``: it is
        the data clock orders are stamped with (a replay), not a timer of its own (live:
        the wall's monotonic clock, which an order's ``ts_ns`` cannot be compared with)."""
        self.trader = trader
        self.config = config
        self.now_ns = now_ns
        self.on_data_clock = on_data_clock
        self.levels: dict[str, Level] = {}
        self._closing: dict[str, _Close] = {}
        self._reversals: dict[str, tuple[str, Signal]] = {}  # symbol -> (engine, signal)
        self._stop_refused: set[str] = set()  # symbols whose stop the exchange refused
        # symbol -> a stop read back REJECTED by a refresh, not yet handled as refused
        # (``read_back``): the symbol's next pass of the rule handles it.
        self._unheard_refusals: dict[str, Order] = {}
        self._last_action: dict[str, int] = {}  # tag -> when it was placed or re-priced
        self._modifications: dict[str, int] = {}  # tag -> modifications we made
        self._reprice_failing: set[str] = set()  # tags whose re-price is not accepted
        self._naked: dict[str, str] = {}  # symbol -> why, while naked (alarm raised)
        # symbol -> (stop placements not accepted in a row, when the next may go)
        self._stop_retry: dict[str, tuple[int, int]] = {}
        # Between a session's close and the next open nothing is sent: DAY orders have
        # expired, and a stop is placed again at the open.
        self.market_open = True
        # Live at Kite (the venue sets it): past Zerodha's intraday cut-off an MIS position
        # is its RMS's to close (``_left_to_broker``).
        self.broker_squares_off = False
        self._left: set[tuple[str, int]] = set()  # (symbol, IST day) said left to the broker
        self._locks: dict[str, asyncio.Lock] = {}
        # symbol -> (order changes, position) at which a timer pass found it quiet
        # (``_timeless``): the next passes skip it until either moves.
        self._quiet: dict[str, tuple[int, int]] = {}
        # (every symbol's order changes, fills applied) when a whole timer pass found every
        # symbol it looked at quiet: until either moves, the next pass would do the same.
        self._all_quiet: tuple[int, int] | None = None
        # symbol -> (its order changes, ``_working``'s split of its orders at that count)
        self._split: dict[str, tuple[int, tuple[list[Order], list[Order], list[Order]]]] = {}
        # symbol -> (how much of the position Kite is not known to hold, why): live, an
        # earlier day's exit order written off as lapsed while Kite's positions showed less
        # than ours, or could not be read (``Trader.hold_to_broker``). No stop or close
        # goes out for that part: one would open the other side at Kite.
        self._unconfirmed: dict[str, tuple[int, str]] = {}

    def forget(self, tag: str) -> None:
        """A finished order the trader forgets: its re-price bookkeeping goes too (only a
        working order is re-priced, so nothing reads it again)."""
        self._last_action.pop(tag, None)
        self._modifications.pop(tag, None)
        self._reprice_failing.discard(tag)

    # -- what the exchange works for a symbol -----------------------------------------

    def _working(self, symbol: str) -> tuple[list[Order], list[Order], list[Order]]:
        """(protective stops, closing orders, entries) still working for ``symbol``.

        A pass of the rule asks three or four times, and the timer on every pass; the
        split is kept with the symbol's count of order states tracked (``Trader.
        order_changes``), which moves with every change of its working orders, so an
        equal count is the same split. The lists are shared: callers never change them."""
        changes = self.trader.order_changes(symbol)
        kept = self._split.get(symbol)
        if kept is not None and kept[0] == changes:
            return kept[1]
        stops: list[Order] = []
        closing: list[Order] = []
        entries: list[Order] = []
        for order in self.trader.open_orders(symbol):
            if order.purpose is _STOP:
                stops.append(order)
            elif order.purpose in CLOSING:
                closing.append(order)
            else:
                entries.append(order)
        split = stops, closing, entries
        self._split[symbol] = (changes, split)
        return split

    def unsent_closes(self) -> list[str]:
        """Symbols whose close is under way but not at the exchange: no closing order of
        theirs works (a placement or a stop's turning into the close was not accepted,
        and waits on its retry). A person told "order placed" believed it was there.
        Not one whose position Kite holds none of (``hold_unconfirmed``): nothing is due."""
        return [
            symbol
            for symbol in self._closing
            if abs(self.trader.position_qty(symbol)) > self._missing(symbol)
            and not self._working(symbol)[1]
        ]

    @staticmethod
    def _pending(orders: list[Order]) -> int:
        if not orders:  # (asked of no orders at about every settle: no generator for them)
            return 0
        return sum(max(0, o.quantity - o.filled_qty) for o in orders)

    def protection(self, symbol: str) -> Protection:
        """The position's state for the screen (call only for an open position)."""
        qty = abs(self.trader.position_qty(symbol))
        if not self.market_open:
            return Protection("CLOSED", "market closed: cover at the open")
        unconfirmed = self._unconfirmed.get(symbol)
        if unconfirmed is not None:
            held = max(0, qty - unconfirmed[0])
            return Protection("NAKED", f"NAKED Kite holds {held}/{qty}: cover {held} at most")
        stops, closing, _ = self._working(symbol)
        close = self._closing.get(symbol)
        if close is not None or closing:
            total = max(close.total if close else 0, qty)
            text = f"EXITING {total - qty}/{total}"
            if close is not None and close.retry_due_ns and not closing:
                wait = max(0.0, (close.retry_due_ns - self.now_ns()) / NS)
                text += f" retry {close.attempt + 1} in {wait:.1f}s"
            return Protection("EXITING", text)
        if stops and self._pending(stops) == qty:
            first = stops[0]
            if first.order_type is OrderType.LIMIT:  # triggered, then re-priced
                return Protection("PROTECTED", f"STOP triggered, limit {_price(first.price)}")
            triggered = first.status is OrderStatus.OPEN
            return Protection(
                "PROTECTED",
                f"STOP @ {_price(first.trigger_price)}" + (" triggered" if triggered else ""),
            )
        retry = self._stop_retry.get(symbol)
        if retry is not None:
            wait = max(0.0, (retry[1] - self.now_ns()) / NS)
            return Protection("NAKED", f"NAKED stop retry {retry[0] + 1} in {wait:.1f}s")
        if stops:
            return Protection("NAKED", f"NAKED stop covers {self._pending(stops)}/{qty}")
        return Protection("NAKED", "NAKED")

    def _is_naked(self, symbol: str, qty: int) -> bool:
        """``protection(symbol).state == "NAKED"`` without its words (checked after every
        settle, for every protected symbol on every timer pass). A position Kite is not
        known to hold all of is: part of it has no cover, whatever Kite holds."""
        if not self.market_open:
            return False
        if self._unconfirmed and symbol in self._unconfirmed:
            return True
        if symbol in self._closing:
            return False
        stops, closing, _ = self._working(symbol)
        if closing:
            return False
        return not (stops and self._pending(stops) == qty)

    def naked(self) -> dict[str, str]:
        """Symbols without cover, and why: the alarm line shows them."""
        return dict(self._naked)

    def unconfirmed(self) -> dict[str, int]:
        """Symbols whose position Kite is not known to hold all of: how much it lacks."""
        return {symbol: missing for symbol, (missing, _) in self._unconfirmed.items()}

    def held_as(self, symbol: str) -> tuple[int, str] | None:
        """``symbol``'s hold: (what Kite is not known to hold, why), or None."""
        return self._unconfirmed.get(symbol)

    def hold_unconfirmed(self, symbol: str, missing: int, why: str) -> None:
        """Cover ``symbol`` for no more than its position less ``missing`` (what Kite is
        not known to hold), stops and closes alike, until ``release_unconfirmed``; the
        NAKED alarm says ``why`` from the next pass of the rule. ``missing`` is kept as
        a difference: a fill of ours moves Kite's position and ours alike."""
        before = self._unconfirmed.get(symbol)
        self._unconfirmed[symbol] = (missing, why)
        if before is None or before[1] != why:
            self._naked.pop(symbol, None)  # raised again with this why
        self._quiet.pop(symbol, None)
        self._all_quiet = None

    def release_unconfirmed(self, symbol: str) -> bool:
        """Kite holds the whole position again (or it is flat): covered as any other from
        the next pass; True if it was held."""
        if self._unconfirmed.pop(symbol, None) is None:
            return False
        self._naked.pop(symbol, None)  # (a pass raises it again if still naked)
        self._quiet.pop(symbol, None)
        self._all_quiet = None
        return True

    def _missing(self, symbol: str) -> int:
        """What ``hold_unconfirmed`` keeps out of ``symbol``'s cover (0 almost always)."""
        if not self._unconfirmed:
            return 0
        held = self._unconfirmed.get(symbol)
        return held[0] if held is not None else 0

    def _lock(self, symbol: str) -> asyncio.Lock:
        lock = self._locks.get(symbol)
        if lock is None:
            lock = self._locks[symbol] = asyncio.Lock()
        return lock

    # -- the doors in ---------------------------------------------------------------

    def set_level(self, symbol: str, entry: Order) -> None:
        """An entry with a protective level filled: remember where its stop sits."""
        if entry.stop_price > 0:
            self.levels[symbol] = Level(
                entry.stop_price,
                entry.engine,
                entry.exchange,
                entry.product,
                entry.tag,
                entry.signal_id,
            )
            self._stop_refused.discard(symbol)

    async def settle(self, symbol: str, cause: str = "", ts_ns: int | None = None) -> None:
        """Bring ``symbol``'s cover in line with its position (see the module doc).

        ``cause`` (a fill id, an order's new state) names what any order placed now
        derives its tag from, so the same cause after a restart yields the same tag and
        is never placed twice; ``ts_ns`` stamps such an order (default: now)."""
        async with self._lock(symbol):
            await self._settle(symbol, cause, ts_ns)

    async def close(
        self,
        symbol: str,
        purpose: OrderPurpose,
        reason: str,
        cause: str,
        reverse: tuple[Engine, Signal] | None = None,
    ) -> bool:
        """Close ``symbol``'s position through the one exit path; False if it is flat or
        already closing (a close already under way keeps its own purpose and tags).
        ``reverse``: enter the signal's side once flat (stop-and-reverse)."""
        async with self._lock(symbol):
            qty = self.trader.position_qty(symbol)
            if reverse is not None:
                engine, signal = reverse
                self._reversals[symbol] = (engine.name, signal)
            elif purpose is not _EXIT:
                self._reversals.pop(symbol, None)  # a flatten is not a reversal
            if qty == 0:
                # Its caller saw a position; it went flat while the close waited for the
                # symbol (a stop's fill taken meanwhile): nothing to send, and said.
                self._not_sent(
                    symbol,
                    f"{purpose.value.lower()} of {symbol} ({reason}) not sent: the position "
                    "was flat by the time it began (a fill heard meanwhile)",
                    {"purpose": purpose.value},
                )
                await self._settle(symbol, cause)  # (a reversal waiting for flat goes on)
                return False
            if symbol in self._closing:
                return False
            self._closing[symbol] = _Close(purpose, reason, cause, abs(qty))
            for order in self._working(symbol)[2]:  # entries still working: they go first
                await self.trader.cancel(order.tag, f"{purpose.value.lower()}: {reason}")
            await self._settle(symbol, cause)
            return True

    async def move_stop(self, symbol: str, trigger: float) -> tuple[bool, str]:
        """A person moves ``symbol``'s protective stop to ``trigger``: (done, what was
        done or why not). The level moves with it, so a stop resized or placed again
        later (and after a restart, from the working stop) sits at the new level.

        Refused: no position, a close under way, a stop that has already triggered, a
        trigger off the tick or on the wrong side of the market (a long's stop below
        the last price, a short's above), or a modification the exchange refuses (the
        stop then stays where it was)."""
        async with self._lock(symbol):
            qty = self.trader.position_qty(symbol)
            if qty == 0:
                return False, f"no open position in {symbol}"
            stops, closing, _ = self._working(symbol)
            if symbol in self._closing or closing:
                return False, f"{symbol} is being closed: its stop is no longer worked"
            level = self.levels.get(symbol)
            if level is None and not stops:
                return False, f"{symbol} has no protective level to move"
            engine_name = level.engine if level is not None else stops[0].engine
            engine = self.trader.engines.get(engine_name)
            tick = engine.tick_size(symbol) if engine is not None else self.trader.tick_size
            ticks = trigger / tick
            if abs(ticks - round(ticks)) > 1e-6:
                return (
                    False,
                    f"{_price(trigger)} is not a multiple of {symbol}'s tick {_price(tick)}",
                )
            last = self.trader.last_prices.get(symbol, 0.0)
            long = qty > 0
            if last > 0 and (trigger >= last if long else trigger <= last):
                where = "below" if long else "above"
                side = "long" if long else "short"
                return False, (
                    f"a {side} position's stop must be {where} the market "
                    f"(last {_price(last)}); {_price(trigger)} would trigger at once"
                )
            if any(o.status is OrderStatus.OPEN for o in stops):
                return False, f"{symbol}'s stop has triggered: it is being worked, not moved"
            old = level.trigger if level is not None else stops[0].trigger_price
            side = Side.SELL if long else Side.BUY
            for stop in stops:
                terms = self._stop_terms(engine, symbol, side, trigger)
                try:
                    moved = await self.trader.modify(
                        stop.tag,
                        trigger_price=float(terms["trigger_price"]),  # type: ignore[arg-type]
                        price=terms.get("price"),  # type: ignore[arg-type]
                        why=f"stop moved by hand from {_price(old)} to {_price(trigger)}",
                    )
                except (BrokerUnavailable, ModifyRefused) as exc:
                    return False, f"{symbol}: the stop {stop.tag} was not moved ({exc})"
                if moved is None:
                    # Filled, cancelled or refused before it could move: the rule looks
                    # at the book as it is now (a refused stop is handled as one).
                    await self._settle(symbol, f"move{self.trader.clock.now_ns}")
                    status = self.trader.orders.get(stop.tag, stop).status.value
                    return False, f"{symbol}: the stop {stop.tag} was not moved (it is {status})"
                self._last_action[stop.tag] = self.now_ns()
            if level is not None:
                self.levels[symbol] = replace(level, trigger=trigger)
            else:
                first = stops[0]
                self.levels[symbol] = Level(
                    trigger, first.engine, first.exchange, first.product, "", first.signal_id
                )
            self._stop_refused.discard(symbol)
            if not stops:  # naked: the stop goes out now, at the new level
                await self._settle(symbol, f"move{self.trader.clock.now_ns}")
            self.trader.record_event(
                Event(
                    ts_ns=self.trader.clock.now_ns,
                    kind=EventKind.STOP_MOVED,
                    symbol=symbol,
                    engine=engine_name,
                    message=f"{symbol} {qty:+d}: protective stop moved from {_price(old)} to "
                    f"{_price(trigger)} by hand",
                    data={"old": old, "new": trigger, "stops": [o.tag for o in stops]},
                )
            )
            return True, f"{symbol}: stop moved from {_price(old)} to {_price(trigger)}"

    def market_closed(self) -> None:
        """The bell: nothing is sent until the next open (the alarm stays quiet too)."""
        self.market_open = False
        self._naked.clear()
        self._all_quiet = None

    async def market_opened(self) -> None:
        """A new session: every position carried over is covered again (its DAY stop
        expired with the last session)."""
        was_closed, self.market_open = not self.market_open, True
        if not was_closed or self.trader.warmup.active:
            return
        for position in self.trader.portfolio.open_positions():
            await self.settle(position.symbol, cause=f"open{self.trader.clock.now_ns}")

    def _settling(self, symbol: str) -> bool:
        """The close under way for ``symbol`` is its settlement at expiry (a simulated
        exchange's: ``kitetui.supervisor.expiry``), the one close of an expired contract."""
        close = self._closing.get(symbol)
        return close is not None and expiry_settlement.kind_of(close.reason) is not None

    def forget_contract(self, symbol: str) -> None:
        """A contract the settlement at expiry takes over: its close under way (the
        settlement cancels its order first), its stop level, retries and alarm are
        forgotten, so nothing here works its orders again."""
        self._closing.pop(symbol, None)
        self._reversals.pop(symbol, None)
        self._stop_refused.discard(symbol)
        self._unheard_refusals.pop(symbol, None)
        self._stop_retry.pop(symbol, None)
        self._quiet.pop(symbol, None)
        self._all_quiet = None
        self.levels.pop(symbol, None)
        self._naked.pop(symbol, None)  # (the settlement's event says what became of it)

    def is_closing(self, symbol: str) -> bool:
        return symbol in self._closing or bool(self._working(symbol)[1])

    async def service(self) -> None:
        """The timer: retries that are due, resting orders to re-price, naked checks."""
        unheard = self._unheard_refusals
        if not (
            self._closing or self._naked or self._stop_retry or unheard or self.trader.has_working()
        ):
            return  # nothing closing, alarmed, waiting or working: nothing to time
        trader = self.trader
        # Only working orders to look at, and no order or position has moved since a pass
        # that found every symbol quiet: this pass would skip each of them again (a
        # symbol's quiet mark changes only here, and its set of symbols only with orders).
        timeless = self.market_open and not (
            self._closing or self._naked or self._stop_retry or unheard
        )
        moved = (trader.all_order_changes(), trader.portfolio.fills_applied)
        if timeless and moved == self._all_quiet:
            return
        symbols = set(self._closing) | set(self._naked) | set(self._stop_retry) | set(unheard)
        for order in trader.open_orders():  # (a list of its own: the loop does not await)
            if order.purpose in _COVER:
                symbols.add(order.symbol)
        all_quiet = timeless
        order_changes, position_qty, quiet = trader.order_changes, trader.position_qty, self._quiet
        # The symbols whose orders or position moved since the timer last looked at them
        # (live sets: a change while this pass awaits adds to them). A symbol found quiet
        # and in neither still has the very orders and position it was found quiet with,
        # so its look is skipped without asking for them (the rest is ``_may_skip``
        # spelled out, read live: a pass awaits, and a close may begin meanwhile).
        touched, filled = trader.orders_touched, trader.portfolio.filled
        closing, naked, retrying = self._closing, self._naked, self._stop_retry
        for symbol in sorted(symbols):
            if (
                symbol in quiet
                and symbol not in touched
                and symbol not in filled
                and self.market_open
                and symbol not in closing
                and symbol not in naked
                and symbol not in retrying
                and symbol not in unheard
            ):
                continue  # found quiet with these very orders and position
            touched.discard(symbol)
            filled.discard(symbol)
            seen = (order_changes(symbol), position_qty(symbol))
            if quiet.get(symbol) == seen and self._may_skip(symbol):
                continue  # found quiet with these very orders and position
            lock = self._lock(symbol)
            if lock.locked():
                all_quiet = False
                touched.add(symbol)  # not looked at after all: the next pass asks again
                continue  # something is acting on it right now; next time
            if self._holds(symbol):
                self._quiet[symbol] = seen  # what the pass below would find, doing nothing
                continue
            async with lock:
                await self._reprice(symbol)
                await self._settle(symbol, f"t{self.now_ns()}")
            now = (trader.order_changes(symbol), trader.position_qty(symbol))
            if now == seen and self._timeless(symbol):
                self._quiet[symbol] = seen
            else:
                self._quiet.pop(symbol, None)
                all_quiet = False
        # Every symbol ends the pass quiet at its current orders and position, and nothing
        # moved meanwhile (a pass awaits: an order update may come in between): the next
        # pass would skip each one.
        still = (trader.all_order_changes(), trader.portfolio.fills_applied) == moved
        self._all_quiet = moved if all_quiet and still else None

    def _may_skip(self, symbol: str) -> bool:
        """Nothing the timer keeps for ``symbol`` outside its orders and position."""
        return self.market_open and not (
            symbol in self._closing
            or symbol in self._naked
            or symbol in self._stop_retry
            or symbol in self._unheard_refusals
        )

    def _timeless(self, symbol: str) -> bool:
        """A timer pass that did nothing for ``symbol`` will do nothing again until its
        orders or position change: nothing closing, alarmed or waiting to retry, and
        every working order a stop still waiting for its trigger (a resting, triggered
        or closing order is re-priced as time passes)."""
        return (
            self._may_skip(symbol)
            and self.trader.position_qty(symbol) != 0
            and all(o.status is _TRIGGER_PENDING for o in self.trader.open_orders(symbol))
        )

    def _holds(self, symbol: str) -> bool:
        """A timer pass over ``symbol`` would do nothing and find it quiet: it is
        ``_timeless`` (nothing rests to re-price, nothing closes, retries or alarms), no
        closing order works, and its stops are all on the closing side and cover exactly
        the position, so ``_protect`` has nothing to cancel, trim or add. Each order
        change (the stop placed after an entry's fill, above all) had the next pass take
        the lock and settle the symbol once more only to find that."""
        if not self._may_skip(symbol):
            return False
        qty = self.trader.position_qty(symbol)
        if not qty:
            return False
        # ``_timeless``'s look at every working order and the stops' sides and cover, in
        # one walk of the split ``_working`` keeps (the symbol's working orders, the very
        # list ``_timeless`` reads, as the split is kept at the symbol's order count): a
        # timer pass asks after every order change of a held symbol.
        stops, closing, entries = self._working(symbol)
        if closing:
            return False
        side = _SELL if qty > 0 else _BUY
        pending = 0
        for order in stops:
            if order.status is not _TRIGGER_PENDING or order.side is not side:
                return False
            pending += max(0, order.quantity - order.filled_qty)
        return pending == abs(qty) and all(o.status is _TRIGGER_PENDING for o in entries)

    # -- the rule -----------------------------------------------------------------------

    async def _settle(self, symbol: str, cause: str, ts_ns: int | None = None) -> None:
        """Apply the rule until the picture holds still: an action can itself move the
        position (a stop turned into a close fills at once; a cancel finds the order
        filled and brings its fill), so each pass starts from the position as it is."""
        if not self.market_open:
            return
        if self.trader.contract_expired(symbol) and not self._settling(symbol):
            return  # no exchange takes an order for it: its settlement closes it
        for _ in range(SETTLE_PASSES):
            if not await self._settle_once(symbol, cause, ts_ns):
                return  # held still: the pass raised or lifted the alarm as it ended
        self._check_naked(symbol)

    async def _settle_once(self, symbol: str, cause: str, ts_ns: int | None) -> bool:
        """One pass of the rule; True if the picture moved under it (pass again): the
        position, or the symbol's orders in a way that left the position uncovered (a
        stop found refused or cancelled just as it was to be resized).

        A pass that ends with the picture still (False) raises or lifts the alarm itself
        (``_alarm``), from the position and the cover it has just read with nothing
        awaited since: exactly what ``_check_naked`` would find, which ``_settle`` then
        runs only after the passes ran out (it read both once more, each settle)."""
        qty = self.trader.position_qty(symbol)
        if qty == 0:
            return await self._flat(symbol, ts_ns)  # (False: flat, its alarm lifted)
        changes = self.trader.order_changes(symbol)
        refused = self._unheard_refusals.pop(symbol, None)
        if refused is not None:
            await self._stop_rejected(symbol, refused)
            if self.trader.position_qty(symbol) != qty:
                return True
        close = self._closing.get(symbol)
        stops, closing, _ = self._working(symbol)
        if close is None and closing:
            ours = [o for o in closing if not self.trader.not_ours(o.tag)]
            if ours:
                # A closing order we did not start here (a restart, an order the exchange
                # revived): it is a close in progress, and it is worked like one.
                first = ours[0]
                close = self._closing[symbol] = _Close(
                    first.purpose, first.reason, cause or first.tag, abs(qty)
                )
        if close is not None:
            close.total = max(close.total, abs(qty))
            await self._work_close(symbol, qty, close)
        else:
            # The broker's own close of part of it (``Trader._foreign``) starts no close
            # of ours: the stops cover what it leaves.
            theirs = (
                self._pending([o for o in closing if self.trader.not_ours(o.tag)]) if closing else 0
            )
            await self._protect(symbol, qty, stops, cause, ts_ns, theirs)
        if self.trader.position_qty(symbol) != qty or symbol in self._unheard_refusals:
            return True
        naked = self._is_naked(symbol, abs(qty))
        if naked and self.trader.order_changes(symbol) != changes:
            return True
        self._alarm(symbol, qty, naked)
        return False

    async def _flat(self, symbol: str, ts_ns: int | None) -> bool:
        """A flat position: what still works for it is cancelled, what was kept for it
        forgotten, and a reversal waiting for flat entered. True if the position moved
        meanwhile (a cancel found its order filled, the reversal's entry filled at once);
        otherwise it is flat and its alarm lifted (only a pass of the rule raises one, and
        none of ``symbol``'s can run while this one holds its lock)."""
        stops, closing, _ = self._working(symbol)
        if stops or closing:
            for order in stops + closing:
                await self.trader.cancel(order.tag, "position flat")
            if self.trader.position_qty(symbol):
                return True  # a cancel found its order filled: not flat after all
        self._closing.pop(symbol, None)
        self._stop_refused.discard(symbol)
        self._unheard_refusals.pop(symbol, None)  # flat: a refused stop protects nothing
        self._stop_retry.pop(symbol, None)
        self.levels.pop(symbol, None)
        self._clear_naked(symbol)
        reversal = self._reversals.pop(symbol, None)
        if reversal is not None and not self.trader.warmup.active:
            engine_name, signal = reversal
            engine = self.trader.engines.get(engine_name)
            if engine is not None and engine.trading:
                await self.trader.enter_reversal(engine, signal, ts_ns)
                return self.trader.position_qty(symbol) != 0
        return False

    async def _protect(
        self,
        symbol: str,
        qty: int,
        stops: list[Order],
        cause: str,
        ts_ns: int | None,
        theirs: int = 0,
    ) -> None:
        """Not closing: protective stops must cover exactly the position, less what the
        broker's own orders are closing of it (``theirs``) and what Kite is not known
        to hold (``hold_unconfirmed``)."""
        need = max(0, abs(qty) - theirs - self._missing(symbol))
        side = _SELL if qty > 0 else _BUY
        if stops:  # (none after an entry's fill: no list of none made twice)
            wrong = [o for o in stops if o.side is not side]
            for order in wrong:  # a stop that would add to the position: never keep it
                await self.trader.cancel(order.tag, "stop on the wrong side of the position")
            stops = [o for o in stops if o.side is side]
        covered = self._pending(stops)
        if covered > need:
            await self._trim(stops, covered - need, "stop larger than the position")
        elif covered < need:
            await self._add_stop(symbol, side, need - covered, stops, cause, ts_ns)

    async def _work_close(self, symbol: str, qty: int, close: _Close) -> None:
        """Closing: stops become closing orders in place; the rest is placed or trimmed.
        What Kite is not known to hold (``hold_unconfirmed``) is never closed: a close
        of it would open the other side at Kite."""
        need = max(0, abs(qty) - self._missing(symbol))
        side = _SELL if qty > 0 else _BUY
        due = close.retry_due_ns == 0 or self.now_ns() >= close.retry_due_ns
        stops, closing, _ = self._working(symbol)
        theirs = (
            self._pending([o for o in closing if self.trader.not_ours(o.tag)]) if closing else 0
        )
        if due and stops and theirs < need:  # (the broker closing it all: stops trimmed)
            for stop in stops:
                await self._convert(stop, close)
            if self.trader.position_qty(symbol) != qty:
                return  # a converted stop filled at once: the next pass starts afresh
            stops, closing, _ = self._working(symbol)
        covered = self._pending(stops) + self._pending(closing)
        if covered > need:
            await self._trim(closing + stops, covered - need, "closing more than the position")
        elif covered < need:
            if due:
                await self._place_close(symbol, side, need - covered, close)
            elif not stops and symbol not in self._stop_refused:
                # Waiting to retry: the stop is restored meanwhile, so the position is
                # never left with nothing at the exchange.
                await self._add_stop(
                    symbol, side, need - covered, [], f"{close.cause}|r{close.failures}", None
                )

    # -- actions ------------------------------------------------------------------------

    async def _add_stop(
        self,
        symbol: str,
        side: Side,
        quantity: int,
        stops: list[Order],
        cause: str,
        ts_ns: int | None,
    ) -> None:
        level = self.levels.get(symbol)
        if level is None or symbol in self._stop_refused or self._left_to_broker(symbol):
            return  # nothing to protect at: _check_naked raises the alarm
        retry = self._stop_retry.get(symbol)
        if retry is not None and self.now_ns() < retry[1]:
            return  # backing off after a placement the exchange did not take
        engine = self.trader.engines.get(level.engine)
        if len(stops) == 1 and self._fits_one(engine, symbol, stops[0].quantity + quantity):
            stop = stops[0]
            try:
                changed = await self.trader.modify(
                    stop.tag, quantity=stop.quantity + quantity, why="stop resized to the position"
                )
            except (BrokerUnavailable, ModifyRefused):
                changed = None
            if changed is not None:
                return
            if self.trader.orders.get(stop.tag, stop).status.is_terminal:
                # Refused, cancelled or filled before it could grow: what it covered is
                # gone, so adding only the difference would leave the position short of
                # cover. The next pass starts from the book as it is now (a refused
                # stop is handled as one: ``read_back``).
                return
        intent = OrderIntent(
            engine=level.engine,
            symbol=symbol,
            exchange=level.exchange,
            side=side,
            quantity=quantity,
            purpose=_STOP,
            product=level.product,
            signal_id=level.signal_id,
            reason=f"protective stop at {level.trigger:g} for {level.entry_tag or symbol}",
            **self._stop_terms(engine, symbol, side, level.trigger),
        )
        tag = self.trader.tag_for("STOP", symbol, cause, self._pending(stops), quantity)
        orders = await self.trader.submit(intent, tag, engine, ts_ns=ts_ns)
        for order in orders:
            self._last_action[order.tag] = self.now_ns()
        refused = [o for o in orders if o.status is _REJECTED]
        if not refused:
            self._stop_retry.pop(symbol, None)
            return
        failures = self._stop_retry.get(symbol, (0, 0))[0] + 1
        transient = all(o.tag in self.trader.not_accepted for o in refused)
        if transient and failures < STOP_RETRIES:
            # A 429 or a timeout not in the book: the stop never reached the exchange.
            # Tried again after a backoff under a fresh tag; meanwhile NAKED, alarmed.
            backoff = self._backoff(failures)
            self._stop_retry[symbol] = (failures, self.now_ns() + int(backoff * NS))
            self.trader.record_event(
                Event(
                    ts_ns=self.trader.clock.now_ns,
                    kind=EventKind.STOP_RETRY_SCHEDULED,
                    level="WARNING",
                    symbol=symbol,
                    message=f"protective stop not accepted ({refused[0].reason}); "
                    f"retry {failures} in {backoff:g}s",
                )
            )
            return
        self._stop_retry.pop(symbol, None)
        await self._stop_rejected(
            symbol, refused[0], f"not accepted {failures} times in a row" if transient else ""
        )

    def _fits_one(self, engine: Engine | None, symbol: str, quantity: int) -> bool:
        freeze = engine.freeze_quantity(symbol) if engine is not None else None
        return freeze is None or quantity <= freeze

    def _stop_terms(
        self, engine: Engine | None, symbol: str, side: Side, trigger: float
    ) -> dict[str, object]:
        """SL-M, or for options (NSE refuses SL-M there) an SL with a limit offset."""
        instrument = engine.instrument(symbol) if engine is not None else None
        tick = engine.tick_size(symbol) if engine is not None else self.trader.tick_size
        trigger = round_to_tick(trigger, tick)
        if instrument is not None and instrument.is_option:
            limit = stop_limit_price(
                trigger, self.config.option_stop_limit_pct, tick, sells=side is _SELL
            )
            return {"order_type": _SL, "trigger_price": trigger, "price": limit}
        return {"order_type": _SL_M, "trigger_price": trigger}

    async def _stop_rejected(self, symbol: str, order: Order, how: str = "") -> None:
        """A refused stop is never just a warning: exit now (or alarm, as configured).
        ``how``: what happened when it was not the exchange's refusal (429s and timeouts
        that never reached it, retried until ``STOP_RETRIES``): said as such."""
        self._stop_refused.add(symbol)
        self.trader.record_event(
            Event(
                ts_ns=self.trader.clock.now_ns,
                kind=EventKind.STOP_REJECTED,
                level="ERROR",
                symbol=symbol,
                engine=order.engine,
                message=f"protective stop {order.tag} {how or 'refused'} ({order.reason}): "
                + ("closing the position" if self.config.on_stop_rejected == "exit" else "NAKED"),
            )
        )
        if self.config.on_stop_rejected == "exit" and symbol not in self._closing:
            qty = self.trader.position_qty(symbol)
            if qty:
                self._closing[symbol] = _Close(
                    OrderPurpose.FLATTEN, "protective stop refused", order.tag, abs(qty)
                )
                await self._work_close(symbol, qty, self._closing[symbol])

    async def stop_rejected_later(self, order: Order) -> None:
        """A stop the exchange accepted and then rejected (an RMS check after the gate)."""
        async with self._lock(order.symbol):
            self._unheard_refusals.pop(order.symbol, None)
            await self._stop_rejected(order.symbol, order)

    def read_back(self, before: Order, order: Order) -> None:
        """An order read back from the order book (``Trader.refresh``, a restart's
        lookup), not heard in an update. A stop found REJECTED that was not before is a
        refused stop; the reader may be this manager in the middle of a pass, holding the
        symbol's lock, so it is handled at the symbol's next pass of the rule — exactly
        as an update's would be (``on_stop_rejected``), never replaced silently."""
        if (
            order.purpose is OrderPurpose.STOP
            and order.status is OrderStatus.REJECTED
            and before.status is not OrderStatus.REJECTED
        ):
            self._unheard_refusals[order.symbol] = order

    async def _convert(self, stop: Order, close: _Close) -> None:
        """Turn a working stop into a protected MARKET close, in place."""
        try:
            # The order now is the close: its purpose, cause and reason say so (a
            # reversal is found again after a restart from its EXIT order's signal).
            changed = await self.trader.modify(
                stop.tag,
                order_type=_MARKET,
                purpose=close.purpose,
                signal_id=close.cause if close.purpose is _EXIT else None,
                why=close.reason,
            )
        except BrokerUnavailable as exc:
            self._refused(close, f"stop {stop.tag} could not be modified: {exc}")
            return
        except ModifyRefused as exc:
            # The exchange will not turn it: cancel it, and the close places a fresh one.
            self.trader.record_event(
                Event(
                    ts_ns=self.trader.clock.now_ns,
                    kind=EventKind.EXIT_MODIFY_REFUSED,
                    level="WARNING",
                    symbol=stop.symbol,
                    message=f"{exc}: cancelling the stop and closing with a new order",
                )
            )
            await self.trader.cancel(stop.tag, "replaced by a closing order")
            return
        if changed is not None:
            self._last_action[stop.tag] = self.now_ns()
            return
        # No longer working at Kite; the modify read it back (``Trader.modify``). Filled
        # as a stop before it could become the close (its news still on its way: behind
        # the websocket, or in its lane): Kite is flat in what it covered, and that part
        # is never closed a second time (which would leave Kite the other way round).
        now = self.trader.orders.get(stop.tag, stop)
        if now.status is OrderStatus.COMPLETE and now.filled_qty:
            qty = self.trader.position_qty(stop.symbol)
            self._not_sent(
                stop.symbol,
                f"{close.purpose.value.lower()} of {stop.symbol} ({close.reason}): its stop "
                f"{stop.tag} had already filled at Kite ({now.filled_qty} at "
                f"{_price(now.avg_price)}), so no close went out for it; "
                + ("the position is flat" if qty == 0 else f"{qty:+d} left to close"),
                {"purpose": close.purpose.value, "stop": stop.tag, "filled": now.filled_qty},
            )

    def _not_sent(self, symbol: str, message: str, data: dict[str, object]) -> None:
        """A close the position no longer needed (Kite flat already) is not sent: said,
        never silent (``CloseNotSent``)."""
        self.trader.record_event(
            Event(
                ts_ns=self.trader.clock.now_ns,
                kind=EventKind.CLOSE_NOT_SENT,
                level="WARNING",
                symbol=symbol,
                message=message,
                data=data,
            )
        )

    def _left_to_broker(self, symbol: str) -> bool:
        """Live, past Zerodha's intraday cut-off for an MIS position: its RMS cancels our
        stop and squares the position off with orders of its own (taken as ours when
        they come: ``Trader._foreign``), and Kite refuses fresh MIS orders, so none of
        ours goes out: a stop or close placed now only fills the book with refusals,
        round after round. The position shows NAKED until the RMS's order arrives."""
        if not self.broker_squares_off:
            return False
        position = self.trader.portfolio.position(symbol)
        if position is None or position.product is not Product.MIS:
            return False
        engine = self.trader.engines.get(position.engine)
        exchange = engine.exchange.value if engine is not None else Exchange.NSE.value
        now = self.trader.now_at_exchange()
        if ist_minute_of_day(now) < auto_square_off.cutoff_minute(exchange):
            return False
        said = (symbol, ist_day_number(now))
        if said not in self._left:
            self._left.add(said)
            self.trader.record_event(
                Event(
                    ts_ns=now,
                    kind=EventKind.LEFT_TO_BROKER,
                    level="WARNING",
                    symbol=symbol,
                    message=f"{symbol} {position.quantity:+d} MIS is past Zerodha's intraday "
                    "cut-off: its RMS squares it off, and kitetui sends no MIS order for it",
                )
            )
        return True

    async def _place_close(self, symbol: str, side: Side, quantity: int, close: _Close) -> None:
        if self._left_to_broker(symbol):
            return
        position = self.trader.portfolio.position(symbol)
        level = self.levels.get(symbol)
        engine_name = position.engine if position else (level.engine if level else "")
        engine = self.trader.engines.get(engine_name)
        intent = OrderIntent(
            engine=engine_name,
            symbol=symbol,
            exchange=engine.exchange if engine else (level.exchange if level else Exchange.NSE),
            side=side,
            quantity=quantity,
            purpose=close.purpose,
            product=position.product if position else Product.MIS,
            signal_id=close.cause if close.purpose is OrderPurpose.EXIT else "",
            reason=close.reason,
        )
        tag = self.trader.tag_for(close.purpose.value, symbol, close.cause, close.attempt)
        close.attempt += 1
        try:
            orders = await self.trader.submit(intent, tag, engine)
        except BrokerError as exc:  # e.g. PlacementUnknown: the order may exist
            self._refused(close, str(exc))
            return
        refused = [o for o in orders if o.status is OrderStatus.REJECTED]
        for order in orders:
            self._last_action[order.tag] = self.now_ns()
        if refused:
            self._refused(close, refused[0].reason)
        else:
            close.retry_due_ns = 0
            close.failures = 0

    def _refused(self, close: _Close, why: str) -> None:
        """Not accepted: back off, keep the position covered, try again (never give up)."""
        close.failures += 1
        backoff = self._backoff(close.failures)
        close.retry_due_ns = self.now_ns() + int(backoff * NS)
        self.trader.record_event(
            Event(
                ts_ns=self.trader.clock.now_ns,
                kind=EventKind.EXIT_RETRY_SCHEDULED,
                level="WARNING" if close.failures < 3 else "ERROR",
                message=f"{close.purpose.value.lower()} not accepted ({why}); "
                f"retry {close.failures} in {backoff:g}s with a fresh tag",
                data={"failures": close.failures, "backoff_s": backoff},
            )
        )

    def _backoff(self, failures: int) -> float:
        return min(
            self.config.retry_backoff_max_s, self.config.retry_backoff_s * 2 ** (failures - 1)
        )

    async def _trim(self, orders: list[Order], excess: int, why: str) -> None:
        """Take ``excess`` off the newest orders: cancel whole ones, shrink the last
        (never the broker's own: it is not ours to touch)."""
        for order in reversed([o for o in orders if not self.trader.not_ours(o.tag)]):
            if excess <= 0:
                return
            pending = order.quantity - order.filled_qty
            if pending <= excess:
                if await self.trader.cancel(order.tag, why):
                    excess -= pending
                continue
            try:
                changed = await self.trader.modify(
                    order.tag, quantity=order.quantity - excess, why=why
                )
            except (BrokerUnavailable, ModifyRefused):
                changed = None
            if changed is not None:
                excess = 0
            elif await self.trader.cancel(order.tag, why):
                excess -= pending

    async def _reprice(self, symbol: str) -> None:
        """Re-price a closing order that rests, or a stop that triggered and did not fill."""
        price = self.trader.last_prices.get(symbol)
        if not price or price <= 0:
            return
        now = self.now_ns()
        after = int(self.config.reprice_after_s * NS)
        for order in self.trader.open_orders(symbol):
            # a stop that triggered rests OPEN as its SL, and as the LIMIT its first
            # re-price made it (it was re-priced once and then never again)
            resting = order.status is _OPEN and (
                order.purpose in CLOSING
                or (order.purpose is _STOP and order.order_type in _RESTING_STOP)
            )
            if not resting or order.status is _NEW or self.trader.not_ours(order.tag):
                continue
            since = self._last_action.get(order.tag)
            if since is None:
                # Not placed or re-priced by this process (a restart, a placement found
                # after an unknown outcome): a replay times it from its stamp, which is
                # on its own clock; live, its age cannot be told on the timer's clock,
                # and an order resting from before a restart is due now (it compared an
                # epoch stamp with a monotonic clock and was never re-priced).
                since = order.ts_ns if self.on_data_clock else now - after
            if now - since < after:
                continue
            await self._reprice_one(order, price)

    async def _reprice_one(self, order: Order, price: float) -> None:
        engine = self.trader.engines.get(order.engine)
        tick = engine.tick_size(order.symbol) if engine is not None else self.trader.tick_size
        band = price * self.config.reprice_band_pct / 100
        sell = order.side is Side.SELL
        limit = price - band if sell else price + band
        limit = max(tick, tick_toward(limit, tick, sell))
        if order.price:
            # Never less marketable than it is: a last price heard before the print that
            # triggered the stop (or a market come back) must not lift a sell's limit
            # above where it stood, away from the market (a stop at 104.50 was re-priced
            # to 118.80 with the market at 100).
            limit = min(limit, order.price) if sell else max(limit, order.price)
            if limit == order.price:
                return  # as marketable as it gets from here: it waits for the market
        count = self._modifications.get(order.tag, 0)
        self._last_action[order.tag] = self.now_ns()
        if count >= self.config.max_modifications:
            await self._replace(order, "modification cap reached")
            return
        try:
            changed = await self.trader.modify(
                order.tag,
                order_type=OrderType.LIMIT,
                price=limit,
                why=f"resting {order.pending_qty} re-priced to {limit:g} (last {price:g})",
            )
        except BrokerUnavailable as exc:
            # Tried again at the next service; said once a streak: a 429 storm left a
            # close resting far from the market for a minute without a word.
            if order.tag not in self._reprice_failing:
                self._reprice_failing.add(order.tag)
                self.trader.record_event(
                    Event(
                        ts_ns=self.trader.clock.now_ns,
                        kind=EventKind.EXIT_RETRY_SCHEDULED,
                        level="WARNING",
                        symbol=order.symbol,
                        message=f"resting {order.tag} could not be re-priced to {limit:g} "
                        f"({exc}): tried again at each service",
                    )
                )
            return
        except ModifyRefused as exc:
            self._reprice_failing.discard(order.tag)
            await self._replace(order, str(exc))
            return
        self._reprice_failing.discard(order.tag)
        if changed is not None:
            self._modifications[order.tag] = count + 1

    async def _replace(self, order: Order, why: str) -> None:
        """Cancel a resting order; the next settle closes what is left under a new tag."""
        if await self.trader.cancel(order.tag, f"replaced: {why}"):
            qty = self.trader.position_qty(order.symbol)
            if qty and order.symbol not in self._closing:
                self._closing[order.symbol] = _Close(
                    order.purpose if order.purpose in CLOSING else OrderPurpose.FLATTEN,
                    f"replacing {order.tag}: {why}",
                    order.tag,
                    abs(qty),
                )

    # -- the alarm ------------------------------------------------------------------------

    def _check_naked(self, symbol: str) -> None:
        qty = self.trader.position_qty(symbol)
        self._alarm(symbol, qty, bool(qty) and self._is_naked(symbol, abs(qty)))

    def _alarm(self, symbol: str, qty: int, naked: bool) -> None:
        """Raise the alarm for ``symbol`` (position ``qty``), once, if it is ``naked``
        (``_is_naked``); lift it, and say so, if it is not."""
        if not naked:
            self._clear_naked(symbol)
            return
        if symbol in self._naked:
            return
        unconfirmed = self._unconfirmed.get(symbol)
        why = (
            unconfirmed[1]
            if unconfirmed is not None
            else "the exchange refused its stop"
            if symbol in self._stop_refused
            else "no protective level known"
            if symbol not in self.levels
            else "its stop is not working"
        )
        self._naked[symbol] = why
        self.trader.record_event(
            Event(
                ts_ns=self.trader.clock.now_ns,
                kind=EventKind.POSITION_NAKED,
                level="ERROR",
                symbol=symbol,
                message=f"{symbol} {qty:+d} "
                + (
                    "is covered for what Kite holds at most"
                    if unconfirmed is not None
                    else "has no protective order and no exit working"
                )
                + f": {why}",
            )
        )

    def _clear_naked(self, symbol: str) -> None:
        if self._naked.pop(symbol, None) is not None:
            self.trader.record_event(
                Event(
                    ts_ns=self.trader.clock.now_ns,
                    kind=EventKind.POSITION_COVERED,
                    symbol=symbol,
                    message=f"{symbol} is protected or closing again",
                )
            )

    # -- after a restart -------------------------------------------------------------------

    def rebuild(self, entries: dict[str, Order]) -> None:
        """Restore levels from the last filled entry of each open position (the journal's
        orders), so a stop missing after a crash can be placed at the same level."""
        for symbol, entry in entries.items():
            if self.trader.position_qty(symbol):
                self.set_level(symbol, entry)
        for order in self.trader.open_orders():
            known = self.levels.get(order.symbol)
            if order.purpose is OrderPurpose.STOP and known is not None:
                # The working stop is where the level is now (a person may have moved it).
                self.levels[order.symbol] = replace(known, trigger=order.trigger_price)
            elif order.purpose is OrderPurpose.STOP:
                self.levels[order.symbol] = Level(
                    order.trigger_price,
                    order.engine,
                    order.exchange,
                    order.product,
                    signal_id=order.signal_id,
                )

    def restore_reversal(self, symbol: str, engine: str, signal: Signal) -> None:
        """Enter ``signal``'s side once ``symbol`` is flat (the newest signal wins)."""
        self._reversals[symbol] = (engine, signal)

    def reversal(self, symbol: str) -> Signal | None:
        pending = self._reversals.get(symbol)
        return pending[1] if pending else None

    def reversal_symbols(self) -> list[str]:
        return sorted(self._reversals)


def _price(price: float) -> str:
    """A price in a message: its paise kept (``:g`` would drop them at 22400.05)."""
    return f"{price:.4f}".rstrip("0").rstrip(".")
