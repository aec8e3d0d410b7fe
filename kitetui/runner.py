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
from kitetui.control.reads import HistoryReads
from kitetui.desk import Desk
from kitetui.supervisor import Supervisor
from kitetui.supervisor.run_summary import RunSummary

T = TypeVar("T")


class SupervisorThread:
    """A ``Desk`` (``kitetui/desk.py``) on its own loop in a thread, for the TUI."""

    def __init__(self, supervisor: Supervisor, *, reads: HistoryReads | None = None) -> None:
        self.supervisor = supervisor
        self.reads = reads  # the database's history, for the screen (history_reads)
        self.desk = Desk(supervisor, reads=reads)
        self.loop = asyncio.new_event_loop()
        self.store_ready = threading.Event()  # the database opened (or was refused)
        self.ready = threading.Event()  # the market is loaded; trading starts
        self.error: BaseException | None = None
        self.summary: RunSummary | None = None
        self._linger: asyncio.Event | None = None
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
        self._linger = asyncio.Event()  # keep serving commands after the data ends
        self.summary = await self.desk.serve(
            on_store=self.store_ready.set, on_market=self.ready.set, linger=self._linger
        )

    def request_kill(self, reason: str) -> None:
        """A kill switch from another thread (SIGUSR1 while the screen is up)."""
        self.desk.threadsafe(self.desk.request_kill, reason)

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
            self.desk.request_stop()
            if self._linger is not None:
                self._linger.set()

        self.loop.call_soon_threadsafe(_signal)
        self._thread.join(timeout)
