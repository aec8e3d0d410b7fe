"""Kite's request limits, kept on our side so Kite never has to answer 429.

Kite's published limits (docs/kite-contract.md §5): order placement 10 requests a
second and 400 a minute, 5,000 orders a day per user; quotes 1 a second; historical
candles 3 a second; every other endpoint 10 a second.

Kite counts "per calendar second", so a limiter here must never let more than N
requests land in any one-second stretch. A token bucket with burst ``b`` and rate
``r`` admits up to ``b + r*T`` requests in a stretch of ``T`` seconds: 10/s with a
burst of 10 lets 19 through in one second. So ``KiteRateLimits`` uses exact sliding
windows (at most N in any window), which still let a kill switch fire ten cancels at
once; ``TokenBucket`` is here for callers that want smooth pacing (a poller, a
backfill) rather than bursts. Both answer the same two questions: how long must I
wait (``delay``), and I went (``take``).

``acquire`` waits by sleeping for exactly the computed delay (never a busy loop);
the clock, the sleep and "today" are injectable so tests run on a fake clock. The
daily order cap does not wait until tomorrow: it raises ``RateLimitExceeded``.

Some requests cannot wait behind others: a stop for a fill, a position's close, a
cancel. The caller says so (``acquire(kind, urgent=True)``; the limiter knows nothing
of orders): urgent waiters go ahead of every ordinary waiter of their queue, in arrival
order among themselves, and an ordinary waiter already sleeping for a window gives its
turn up to one that arrives after it. The last ``urgent_reserve`` orders of the day
are kept for urgent ones: an ordinary order is refused once ``orders_per_day -
urgent_reserve`` are spent, so entries can never spend the orders a close needs.
``acquire`` answers how long it waited, for the caller to say when that mattered.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Protocol

from kitetui.clock import IST

ORDER = "order"
QUOTE = "quote"
HISTORICAL = "historical"
OTHER = "other"
MODIFY = "modify"  # order modifications: the order windows, not the daily order count
KINDS = (ORDER, MODIFY, QUOTE, HISTORICAL, OTHER)
URGENT_RESERVE = 100  # orders of the day kept for urgent ones (docs/architecture.md)


class RateLimitExceeded(Exception):
    """A limit that waiting cannot fix in time (the daily order cap)."""


class Limiter(Protocol):
    def delay(self, now: float) -> float:
        """Seconds to wait before one more request may go at ``now`` (0 = go)."""
        ...

    def take(self, now: float) -> None:
        """Record one request made at ``now``."""
        ...


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved up; one request = one token."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if not math.isfinite(rate_per_s) or rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be finite and > 0, got {rate_per_s!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self._tokens = float(burst)
        self._stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self._stamp is None:
            self._stamp = now
            return
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate_per_s)
            self._stamp = now

    def delay(self, now: float) -> float:
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate_per_s

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0

    @property
    def tokens(self) -> float:
        return self._tokens


class SlidingWindow:
    """At most ``limit`` requests in any ``window_s``-second stretch (exact, no bursts over)."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        if not math.isfinite(window_s) or window_s <= 0:
            raise ValueError(f"window_s must be finite and > 0, got {window_s!r}")
        self.limit = int(limit)
        self.window_s = float(window_s)
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s + 1e-9  # float slack: a sleep of the exact delay frees it
        while self._times and self._times[0] <= horizon:
            self._times.popleft()

    def delay(self, now: float) -> float:
        self._expire(now)
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window_s - now

    def take(self, now: float) -> None:
        self._expire(now)
        self._times.append(now)


class _Turn:
    """One request waiting in a queue: its rank (urgent first, then arrival) and the
    event that tells it to look again (the head left, or it lost the head)."""

    __slots__ = ("rank", "woken")

    def __init__(self, rank: tuple[int, int]) -> None:
        self.rank = rank
        self.woken = asyncio.Event()


class _Queue:
    """The waiters for one set of windows, urgent ones first, then in arrival order.

    Only the head may take a slot; it alone sleeps on the clock. A waiter that takes
    the head from a sleeping one wakes it, so the sleeper steps back instead of taking
    the slot it was waiting for."""

    def __init__(self) -> None:
        self._turns: list[_Turn] = []  # sorted by rank; short (the requests waiting now)
        self._arrivals = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._turns)

    def join(self, urgent: bool) -> _Turn:
        turn = _Turn((0 if urgent else 1, next(self._arrivals)))
        head = self.head
        index = len(self._turns)
        while index and self._turns[index - 1].rank > turn.rank:
            index -= 1
        self._turns.insert(index, turn)
        if head is not None and index == 0:
            head.woken.set()  # it was sleeping for the windows: the slot is not its own
        return turn

    @property
    def head(self) -> _Turn | None:
        return self._turns[0] if self._turns else None

    def leave(self, turn: _Turn) -> None:
        was_head = self.head is turn
        self._turns.remove(turn)
        if was_head and self._turns:
            self._turns[0].woken.set()


def _ist_today() -> date:
    return datetime.now(IST).date()


class KiteRateLimits:
    """Every Kite limit in one place; ``await acquire(kind)`` before each request.

    ``kind`` is ``"order"`` (placements: 10/s, 400/min, 5000/IST calendar day),
    ``"modify"`` (the placements' windows, not the day's count), ``"quote"`` (1/s),
    ``"historical"`` (3/s) or ``"other"`` (10/s: order book, positions, cancels,
    profile...). ``orders_today`` seeds the daily count after a restart (the journal
    knows how many orders went out today). ``urgent_reserve``: the last orders of the
    day, which only ``acquire(..., urgent=True)`` may spend.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        today: Callable[[], date] = _ist_today,
        orders_today: int = 0,
        orders_per_second: int = 10,
        orders_per_minute: int = 400,
        orders_per_day: int = 5000,
        quotes_per_second: int = 1,
        historical_per_second: int = 3,
        others_per_second: int = 10,
        urgent_reserve: int = URGENT_RESERVE,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._today = today
        self.orders_per_day = int(orders_per_day)
        self.urgent_reserve = 0
        self.set_urgent_reserve(urgent_reserve)
        self._day = today()
        self._orders_today = int(orders_today)
        order_windows = (
            SlidingWindow(orders_per_second, 1.0),
            SlidingWindow(orders_per_minute, 60.0),
        )
        self._limiters: dict[str, tuple[Limiter, ...]] = {
            ORDER: order_windows,
            MODIFY: order_windows,
            QUOTE: (SlidingWindow(quotes_per_second, 1.0),),
            HISTORICAL: (SlidingWindow(historical_per_second, 1.0),),
            OTHER: (SlidingWindow(others_per_second, 1.0),),
        }
        self._queues: dict[str, _Queue] = {}

    def set_urgent_reserve(self, reserve: int) -> None:
        """Keep the day's last ``reserve`` orders for urgent requests from now on (the
        desk's positions allowed open can change during a run: ``set-limit``)."""
        if not 0 <= reserve < self.orders_per_day:
            raise ValueError(
                f"urgent_reserve must be at least 0 and below orders_per_day "
                f"({self.orders_per_day}), got {reserve!r}"
            )
        self.urgent_reserve = int(reserve)

    @property
    def orders_today(self) -> int:
        """Orders sent (or about to be) on the current IST calendar day."""
        self._roll_day()
        return self._orders_today

    def seed_orders_today(self, count: int) -> None:
        """After a restart: the orders the journal says went out today (IST) count."""
        self._roll_day()
        self._orders_today = max(self._orders_today, int(count))

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._orders_today = 0

    def _check_daily(self, urgent: bool) -> None:
        self._roll_day()
        spent, cap = self._orders_today, self.orders_per_day
        if spent >= cap:
            raise RateLimitExceeded(
                f"daily order limit reached: {spent:,} of {cap:,} orders sent today "
                f"({self._day.isoformat()} IST); no more orders until tomorrow"
            )
        if not urgent and spent >= cap - self.urgent_reserve:
            raise RateLimitExceeded(
                f"daily order limit reached for new positions: {spent:,} of {cap:,} orders "
                f"sent today ({self._day.isoformat()} IST) and the last "
                f"{self.urgent_reserve:,} are kept for stops, exits and square-offs; "
                "no more entries until tomorrow"
            )

    def delay(self, kind: str) -> float:
        """How long ``acquire(kind)`` would wait now (no side effects)."""
        now = self._clock()
        return max(limiter.delay(now) for limiter in self._get(kind))

    def _get(self, kind: str) -> tuple[Limiter, ...]:
        try:
            return self._limiters[kind]
        except KeyError:
            raise ValueError(f"unknown rate-limit kind {kind!r}; one of {KINDS}") from None

    def _queue(self, kind: str) -> _Queue:
        key = ORDER if kind == MODIFY else kind  # one queue for the shared windows
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        return queue

    async def acquire(self, kind: str, *, urgent: bool = False) -> float:
        """Wait until one more ``kind`` request is within every limit, count it, and
        answer how many seconds that took.

        Waiters of one queue (placements and modifications share one) go urgent first,
        then in arrival order; only the head sleeps, exactly as long as the tightest
        limit needs, and steps back when an urgent request arrives meanwhile. Raises
        ``RateLimitExceeded`` at once when the day's orders are spent (for an ordinary
        order: all but the urgent reserve)."""
        limiters = self._get(kind)
        counted = kind == ORDER
        if counted:
            self._check_daily(urgent)
        queue = self._queue(kind)
        started = now = self._clock()
        if not queue and max(limiter.delay(now) for limiter in limiters) <= 0:
            self._take(limiters, counted, now)  # nobody waiting, room now: go
            return 0.0
        turn = queue.join(urgent)
        try:
            while True:
                if queue.head is not turn:
                    turn.woken.clear()
                    await turn.woken.wait()
                    continue
                now = self._clock()
                wait = max(limiter.delay(now) for limiter in limiters)
                if wait <= 0:
                    break
                turn.woken.clear()
                await self._sleep_unless(turn.woken, wait)
            if counted:
                self._check_daily(urgent)  # spent by others while this one waited?
            self._take(limiters, counted, now)
        finally:
            queue.leave(turn)
        return max(0.0, now - started)

    def _take(self, limiters: tuple[Limiter, ...], counted: bool, now: float) -> None:
        if counted:
            self._orders_today += 1
        for limiter in limiters:
            limiter.take(now)

    async def _sleep_unless(self, woken: asyncio.Event, seconds: float) -> None:
        """Sleep ``seconds`` on the injected clock, or less if ``woken`` is set first
        (an urgent request took the head: this one must not take the slot it frees)."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(woken.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
