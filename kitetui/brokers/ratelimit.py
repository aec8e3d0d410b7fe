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
"""

from __future__ import annotations

import asyncio
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


def _ist_today() -> date:
    return datetime.now(IST).date()


class KiteRateLimits:
    """Every Kite limit in one place; ``await acquire(kind)`` before each request.

    ``kind`` is ``"order"`` (placements: 10/s, 400/min, 5000/IST calendar day),
    ``"quote"`` (1/s), ``"historical"`` (3/s) or ``"other"`` (10/s: order book,
    positions, cancels, profile...). ``orders_today`` seeds the daily count after a
    restart (the journal knows how many orders went out today).
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
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._today = today
        self.orders_per_day = int(orders_per_day)
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
        self._locks: dict[str, asyncio.Lock] = {}

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

    def _check_daily(self) -> None:
        self._roll_day()
        if self._orders_today >= self.orders_per_day:
            raise RateLimitExceeded(
                f"daily order limit reached: {self._orders_today} of {self.orders_per_day} "
                f"orders sent today ({self._day.isoformat()} IST); no more orders until tomorrow"
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

    async def acquire(self, kind: str) -> None:
        """Wait until one more ``kind`` request is within every limit, and count it.

        Waiters of one kind go in arrival order (a lock per kind); each sleeps exactly
        as long as the tightest limit needs. Raises ``RateLimitExceeded`` at once when
        the daily order cap is spent.
        """
        limiters = self._get(kind)
        lock_key = ORDER if kind == MODIFY else kind  # one queue for the shared windows
        lock = self._locks.get(lock_key)
        if lock is None:
            lock = self._locks[lock_key] = asyncio.Lock()
        async with lock:
            if kind == ORDER:
                self._check_daily()
            while True:
                now = self._clock()
                wait = max(limiter.delay(now) for limiter in limiters)
                if wait <= 0:
                    break
                await self._sleep(wait)
            if kind == ORDER:
                self._check_daily()
                self._orders_today += 1
            for limiter in limiters:
                limiter.take(now)
