"""Links: ``LocalLink`` (a supervisor in this process) and ``RemoteLink`` (the socket).

Both are checked against the one ``DeskLink`` protocol the TUI is written to; the remote
one against real control servers that come and go. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import inspect
import tempfile
from pathlib import Path

import pytest
from control_helpers import CHART, ORDER_DETAIL, FakeDesk, eventually, make_snapshot, serving
from control_helpers import small_snapshot as snapshot

from kitetui.commands import (
    CancelOrder,
    CommandResult,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    TriggerKillSwitch,
)
from kitetui.control.link import DeskLink, LocalLink, RemoteLink
from kitetui.control.protocol import socket_path_for
from kitetui.control.server import ControlServer
from kitetui.views import ChartView, OrderDetail

T = 10.0  # every single wait in these tests is bounded by this


def _members(cls: type) -> dict[str, bool]:
    """Each public method of a class, and whether it is a coroutine function."""
    return {
        name: inspect.iscoroutinefunction(member)
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("link_class", [LocalLink, RemoteLink])
def test_link_with_each_implementation_has_every_member_of_desk_link(link_class: type) -> None:
    wanted = _members(DeskLink)
    assert set(wanted) == {
        "snapshot", "send", "order_detail", "chart", "failure", "connection_problem",
        "runs", "history", "run_report", "export",
    }  # fmt: skip
    got = _members(link_class)
    assert {name: got.get(name) for name in wanted} == wanted


class _Runner:
    """A SupervisorThread stand-in: commands and reads resolve through real futures."""

    def __init__(self) -> None:
        self.supervisor = self
        self.published = make_snapshot(7)
        self.failure: str | None = None
        self.submitted: list[object] = []

    def submit(self, command: object) -> concurrent.futures.Future[CommandResult]:
        self.submitted.append(command)
        future: concurrent.futures.Future[CommandResult] = concurrent.futures.Future()
        future.set_result(CommandResult(True, "carried out"))
        return future

    async def order_detail(self, tag: str) -> OrderDetail | None:
        return ORDER_DETAIL if tag == ORDER_DETAIL.tag else None

    async def chart(self, symbol: str) -> ChartView | None:
        return CHART if symbol == CHART.symbol else None

    def call(self, coro) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            coro.send(None)
        except StopIteration as done:
            future.set_result(done.value)
        return future


async def test_local_link_with_runner_reads_sends_and_reports_its_failure() -> None:
    runner = _Runner()
    link = LocalLink(runner)  # type: ignore[arg-type]
    assert link.snapshot() is runner.published
    result = await asyncio.wait_for(link.send(FlattenPosition("SBIN")), T)
    assert result == CommandResult(True, "carried out")
    assert runner.submitted == [FlattenPosition("SBIN")]
    assert await asyncio.wait_for(link.order_detail("eq-1"), T) == ORDER_DETAIL
    assert await asyncio.wait_for(link.order_detail("zz-9"), T) is None
    assert await asyncio.wait_for(link.chart("SBIN"), T) == CHART
    assert await asyncio.wait_for(link.chart("TCS"), T) is None
    assert link.failure() is None and link.connection_problem() is None
    runner.failure = "DataFormatError: x.csv: bad header"
    assert link.failure() == "DataFormatError: x.csv: bad header"
    assert link.connection_problem() is None  # nothing to reconnect in-process


async def test_remote_link_is_a_desk_link(sock_dir):
    desk = FakeDesk(None)
    server = ControlServer(desk, sock_dir / "s.sock", max_rate=50)
    await asyncio.wait_for(server.start(), T)
    link = RemoteLink(server.path, timeout=T)
    try:
        await asyncio.wait_for(link.start(), T)
        assert link.snapshot() is None
        assert link.failure() is None
        desk.published = make_snapshot(3)
        await eventually(lambda: link.snapshot() is not None, T)
        assert link.snapshot() == desk.published
        assert await asyncio.wait_for(link.send(FlattenPosition("SBIN")), T) == CommandResult(
            True, "done: FlattenPosition"
        )
        assert await asyncio.wait_for(link.send(CancelOrder("nope")), T) == CommandResult(
            False, "no open order nope"
        )
        assert desk.commands == [FlattenPosition("SBIN"), CancelOrder("nope")]
        assert await asyncio.wait_for(link.order_detail("eq-1"), T) == ORDER_DETAIL
        assert await asyncio.wait_for(link.order_detail("zz-9"), T) is None
        assert await asyncio.wait_for(link.chart("SBIN"), T) == CHART
        assert await asyncio.wait_for(link.chart("TCS"), T) is None
        assert link.connection_problem() is None
        await asyncio.wait_for(server.stop(), T)
        # once connected, a lost desk is a connection problem, not a failure
        await eventually(lambda: link.connection_problem() is not None, T)
        assert link.failure() is None
        assert link.snapshot() == desk.published
        result = await asyncio.wait_for(link.send(ResetKillSwitch()), T)
        assert result.ok is False and result.message.startswith("not connected to the desk")
        assert await asyncio.wait_for(link.order_detail("eq-1"), T) is None
        assert await asyncio.wait_for(link.chart("SBIN"), T) is None
    finally:
        await asyncio.wait_for(link.close(), T)
        await asyncio.wait_for(server.stop(), T)


async def test_remote_link_reports_an_absent_desk(sock_dir):
    link = RemoteLink(sock_dir / "none.sock", timeout=T)
    result = await asyncio.wait_for(link.send(ResetKillSwitch()), T)
    assert result.ok is False and "kitetui run --no-ui" in result.message
    assert "kitetui run --no-ui" in (link.failure() or "")
    assert link.connection_problem() is None  # it never connected: nothing to re-make
    assert await asyncio.wait_for(link.order_detail("eq-1"), T) is None
    await asyncio.wait_for(link.close(), T)


async def test_remote_link_rides_out_a_desk_restart() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        path = socket_path_for(Path(folder) / "state.db")
        link = RemoteLink(path, timeout=T)
        try:
            first = FakeDesk(snapshot(3))
            async with serving(first, path):
                await asyncio.wait_for(link.start(), T)
                await eventually(lambda: link.snapshot() == first.published, T)
                assert link.connection_problem() is None and link.failure() is None
                assert link.connections == 1

            # the desk is gone: a connection problem, not a failure; the picture stays
            await eventually(lambda: link.connection_problem() is not None, T)
            problem = link.connection_problem() or ""
            assert problem.startswith(f"reconnecting to the desk at {path} (attempt ")
            assert link.failure() is None
            assert link.snapshot() == first.published
            result = await asyncio.wait_for(link.send(TriggerKillSwitch("late")), T)
            assert result.ok is False and result.message.startswith("not connected to the desk")
            assert await asyncio.wait_for(link.order_detail("known"), T) is None
            # it keeps trying, with the reason of the last try
            await eventually(lambda: "attempt 2" in (link.connection_problem() or ""), T)
            assert "no socket at that path" in (link.connection_problem() or "")

            # a restarted desk numbers its snapshots from 1 again, with the same seq as the
            # one on screen here: the link renumbers them past it so no frame is hidden
            second = FakeDesk(snapshot(3, run_id="run-2"))
            async with serving(second, path):
                await eventually(lambda: link.snapshot().run_id == "run-2", 2 * T)
                assert link.connection_problem() is None and link.failure() is None
                assert link.connections == 2
                got = link.snapshot()
                assert got.seq == 4  # 3 from the first desk, then the next one
                assert dataclasses.replace(got, seq=3) == second.published
                # commands flow again, and the one refused while away was never queued
                assert await asyncio.wait_for(link.send(PauseEntries()), T) == CommandResult(
                    True, "done: PauseEntries"
                )
                assert second.commands == [PauseEntries()]
                assert first.commands == []
                assert await asyncio.wait_for(link.order_detail("known"), T) == OrderDetail("known")
                second.published = snapshot(4, run_id="run-2", paused=True)
                await eventually(lambda: link.snapshot().risk.entries_paused, T)
                assert link.snapshot().seq == 5

            await eventually(lambda: link.connection_problem() is not None, T)
            await asyncio.wait_for(link.close(), T)
            assert link.connection_problem() is None
            assert link._task is not None and link._task.done()  # no more retries
            result = await asyncio.wait_for(link.send(ResumeEntries()), T)
            assert result.ok is False
        finally:
            await asyncio.wait_for(link.close(), T)


async def test_remote_link_that_never_connected_fails_as_before() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        link = RemoteLink(Path(folder) / "absent.sock", timeout=T)
        try:
            assert link.snapshot() is None  # starts the link inside the running loop
            await eventually(lambda: link.failure() is not None, T)
            assert "kitetui run --no-ui" in (link.failure() or "")
            assert link.connection_problem() is None
            assert link._task is not None
            await asyncio.wait_for(link._task, T)  # it gave up: no retrying
            result = await asyncio.wait_for(link.send(PauseEntries()), T)
            assert result == CommandResult(False, link.failure() or "")
        finally:
            await asyncio.wait_for(link.close(), T)
