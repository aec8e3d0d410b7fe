"""Running the supervisor on its own event loop in a background thread.

With the TUI up, trading must not share a loop with rendering: a slow paint or a
crashed widget must never delay a tick or cancel an order task. The supervisor gets
a private loop in a thread; the TUI reads its published snapshots and submits
commands with ``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from kitetui.commands import Command, CommandResult
from kitetui.supervisor import RunSummary, Supervisor

T = TypeVar("T")


class SupervisorThread:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.loop = asyncio.new_event_loop()
        self.store_ready = threading.Event()  # the database opened (or was refused)
        self.ready = threading.Event()  # the market is loaded; trading starts
        self.error: BaseException | None = None
        self.summary: RunSummary | None = None
        self._thread = threading.Thread(target=self._main, name="kitetui-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._lifecycle())
        except BaseException as exc:  # reported to the UI thread, never swallowed
            self.error = exc
        finally:
            self.store_ready.set()
            self.ready.set()
            self.loop.close()

    async def _lifecycle(self) -> None:
        self._done = asyncio.Event()
        try:
            await self.supervisor.open_store()
        except BaseException:
            db = getattr(self.supervisor, "db", None)
            if db is not None:  # opened, then the first write failed (a full disk)
                await db.close()
            raise
        self.store_ready.set()
        try:
            await self.supervisor.open_market()
        except BaseException:
            await self.supervisor.db.close()
            raise
        self.ready.set()
        try:
            self.summary = await self.supervisor.run()
            await self._done.wait()  # keep serving commands after the data ends
        finally:
            try:
                await self.supervisor.close()
            finally:  # a close that failed (a full disk) must not leave SQLite's thread
                await self.supervisor.db.close()

    @property
    def failure(self) -> str | None:
        """Why the supervisor stopped on an error (for the screen), or None."""
        if self.error is None:
            return None
        return f"{type(self.error).__name__}: {self.error}"

    def submit(self, command: Command) -> Future[CommandResult]:
        return asyncio.run_coroutine_threadsafe(self.supervisor.execute(command), self.loop)

    def call(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the supervisor's loop (a read such as an order's detail)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop trading gracefully: finish the batch, drain the journal, close the db."""
        if not self._thread.is_alive():
            return

        def _signal() -> None:
            self.supervisor.request_stop()
            if hasattr(self, "_done"):
                self._done.set()

        self.loop.call_soon_threadsafe(_signal)
        self._thread.join(timeout)
