"""How a screen reaches the desk, without knowing whether it is in-process or remote.

``DeskLink`` has two implementations: ``LocalLink`` (this module; the supervisor runs in
a thread of the same process) and, later, a socket client for ``kitetui attach``. The
TUI only calls ``snapshot()`` (cheap, never blocks) and ``send()`` (a coroutine that
resolves when the supervisor has carried the command out).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from kitetui.commands import Command, CommandResult
from kitetui.views import DeskSnapshot, OrderDetail

if TYPE_CHECKING:
    from kitetui.runner import SupervisorThread


class DeskLink(Protocol):
    def snapshot(self) -> DeskSnapshot | None:
        """The newest published snapshot, or None before the first one."""
        ...

    async def send(self, command: Command) -> CommandResult:
        """Carry a command out on the supervisor and report what happened."""
        ...

    async def order_detail(self, tag: str) -> OrderDetail | None:
        """An order's state history and fills from the journal; None if unknown."""
        ...


class LocalLink:
    """A link to a supervisor running on its own event loop in a background thread."""

    def __init__(self, runner: SupervisorThread) -> None:
        self._runner = runner

    def snapshot(self) -> DeskSnapshot | None:
        return self._runner.supervisor.published

    async def send(self, command: Command) -> CommandResult:
        future = self._runner.submit(command)
        return await asyncio.wrap_future(future)

    async def order_detail(self, tag: str) -> OrderDetail | None:
        future = self._runner.call(self._runner.supervisor.order_detail(tag))
        return await asyncio.wrap_future(future)

    def failure(self) -> str | None:
        """Why the desk behind this link stopped on an error, or None while it is well."""
        return self._runner.failure
