"""A fake clock for rate-limit tests in which who sleeps when matters (ratelimit.py)."""

from __future__ import annotations

import asyncio


class SteppedClock:
    """A clock that moves only when every task is asleep on it: each sleeper wakes at its
    own deadline, earliest first, as on a real loop (``FakeClock`` jumps at once, which
    cannot show who was asleep when a more urgent request arrived)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a limiter must never sleep for nothing (busy loop)"
        future = asyncio.get_running_loop().create_future()
        self._count += 1
        self._sleepers.append((self.now + seconds, self._count, future))
        await future

    async def settle(self) -> None:
        """Let every runnable task run until each is asleep or waiting."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance_to(self, until: float) -> None:
        """Wake the sleepers due by ``until``, earliest first, then stand at ``until``."""
        await self.settle()
        while True:
            live = sorted(s for s in self._sleepers if not s[2].done())
            self._sleepers = live
            if not live or live[0][0] > until:
                break
            deadline, _, future = live.pop(0)
            self._sleepers = live
            self.now = max(self.now, deadline)
            future.set_result(None)
            await self.settle()
        self.now = max(self.now, until)
        await self.settle()
