"""RemoteLink against real control servers: order detail, reconnecting, two clients at once.

Every socket lives in a short temporary folder (Unix socket paths are limited to ~107
bytes) and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kitetui.cli import DEFAULT_CONFIG
from kitetui.commands import CommandResult, PauseEntries, ResumeEntries, TriggerKillSwitch
from kitetui.config import load_config
from kitetui.control import ControlServer
from kitetui.control_client import (
    ControlClient,
    RemoteLink,
    order_detail_from_json,
    run_ctl,
    socket_path_for,
)
from kitetui.supervisor import Supervisor
from kitetui.views import DeskSnapshot, OrderDetail

T = 10.0  # every single wait in these tests is bounded by this


def snapshot(seq: int, run_id: str = "run-1", paused: bool = False) -> DeskSnapshot:
    base = DeskSnapshot(seq, "paper", run_id, 1_704_440_700_000_000_000 + seq, "RUNNING", "60x")
    return dataclasses.replace(base, risk=dataclasses.replace(base.risk, entries_paused=paused))


class SmallDesk:
    """Just enough desk for a ControlServer: a published snapshot, commands, order reads."""

    def __init__(self, published: DeskSnapshot | None) -> None:
        self.published = published
        self.commands: list[object] = []

    async def execute(self, command: object) -> CommandResult:
        self.commands.append(command)
        return CommandResult(True, f"done: {type(command).__name__}")

    async def order_detail(self, tag: str) -> OrderDetail | None:
        return OrderDetail(tag) if tag == "known" else None


async def eventually(predicate, timeout: float = T) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@contextlib.asynccontextmanager
async def serving(desk: object, path: Path, max_rate: float = 50.0) -> AsyncIterator[ControlServer]:
    server = ControlServer(desk, path, max_rate=max_rate)  # type: ignore[arg-type]
    await asyncio.wait_for(server.start(), T)
    try:
        yield server
    finally:
        await asyncio.wait_for(server.stop(), T)


# -- reconnecting ----------------------------------------------------------------------


async def test_remote_link_rides_out_a_desk_restart() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        path = socket_path_for(Path(folder) / "state.db")
        link = RemoteLink(path, timeout=T)
        try:
            first = SmallDesk(snapshot(3))
            async with serving(first, path):
                await asyncio.wait_for(link.start(), T)
                await eventually(lambda: link.snapshot() == first.published)
                assert link.connection_problem() is None and link.failure() is None
                assert link.connections == 1

            # the desk is gone: a connection problem, not a failure; the picture stays
            await eventually(lambda: link.connection_problem() is not None)
            problem = link.connection_problem() or ""
            assert problem.startswith(f"reconnecting to the desk at {path} (attempt ")
            assert link.failure() is None
            assert link.snapshot() == first.published
            result = await asyncio.wait_for(link.send(TriggerKillSwitch("late")), T)
            assert result.ok is False and result.message.startswith("not connected to the desk")
            assert await asyncio.wait_for(link.order_detail("known"), T) is None
            # it keeps trying, with the reason of the last try
            await eventually(lambda: "attempt 2" in (link.connection_problem() or ""))
            assert "no socket at that path" in (link.connection_problem() or "")

            # a restarted desk numbers its snapshots from 1 again, with the same seq as the
            # one on screen here: the link renumbers them past it so no frame is hidden
            second = SmallDesk(snapshot(3, run_id="run-2"))
            async with serving(second, path):
                await eventually(lambda: link.snapshot().run_id == "run-2", timeout=2 * T)
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
                await eventually(lambda: link.snapshot().risk.entries_paused)
                assert link.snapshot().seq == 5

            await eventually(lambda: link.connection_problem() is not None)
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
            await eventually(lambda: link.failure() is not None)
            assert "kitetui run --no-ui" in (link.failure() or "")
            assert link.connection_problem() is None
            assert link._task is not None
            await asyncio.wait_for(link._task, T)  # it gave up: no retrying
            result = await asyncio.wait_for(link.send(PauseEntries()), T)
            assert result == CommandResult(False, link.failure() or "")
        finally:
            await asyncio.wait_for(link.close(), T)


async def test_tui_keeps_the_screen_through_a_desk_restart() -> None:
    from kitetui.tui.app import make_app

    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        path = socket_path_for(Path(folder) / "state.db")
        link = RemoteLink(path, timeout=T)
        app = make_app(link, refresh_hz=20)
        first = ControlServer(SmallDesk(snapshot(5)), path, max_rate=50)  # type: ignore[arg-type]
        await asyncio.wait_for(first.start(), T)  # the TUI exits if it never connects
        try:
            async with app.run_test(size=(120, 40)) as pilot:

                async def until(predicate) -> None:
                    deadline = time.monotonic() + 2 * T
                    while not predicate():
                        assert time.monotonic() < deadline, "condition not reached in time"
                        await pilot.pause(0.05)

                await until(lambda: app.snapshot is not None and app.snapshot.seq == 5)
                await asyncio.wait_for(first.stop(), T)
                await until(lambda: link.connection_problem() is not None)
                await pilot.pause(0.3)
                assert app.is_running and app.return_code is None  # it did not exit
                assert app.snapshot.run_id == "run-1"
                async with serving(SmallDesk(snapshot(5, run_id="run-2")), path):
                    await until(lambda: app.snapshot.run_id == "run-2")
                    assert link.connection_problem() is None
                await pilot.press("q")
        finally:
            await asyncio.wait_for(link.close(), T)
            await asyncio.wait_for(first.stop(), T)


# -- a real supervisor behind the socket ------------------------------------------------


@contextlib.asynccontextmanager
async def real_desk(folder: Path, speed: float | None) -> AsyncIterator[tuple[Supervisor, Path]]:
    """A supervisor on the bundled demo config with its own database, served on a socket.

    With ``speed`` None the replay runs to its end before the body starts; otherwise it
    runs while the body does and is stopped afterwards.
    """
    supervisor = Supervisor(
        load_config(DEFAULT_CONFIG), "dev.yaml", database=folder / "s.db", speed=speed
    )
    await asyncio.wait_for(supervisor.open(), 60)
    run: asyncio.Task | None = None
    try:
        async with serving(supervisor, socket_path_for(supervisor.db_path), 20.0) as server:
            run = asyncio.create_task(supervisor.run())
            if speed is None:
                await asyncio.wait_for(asyncio.shield(run), 120)
            yield supervisor, server.path
            supervisor.request_stop()
            await asyncio.wait_for(run, 30)
    finally:
        if run is not None and not run.done():
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
        await asyncio.wait_for(supervisor.close(), 30)


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def test_order_detail_over_the_socket_matches_the_journal() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as name:
        folder = Path(name)
        async with real_desk(folder, speed=None) as (supervisor, path):
            db = supervisor.db_path
            client = ControlClient(path, timeout=T)
            await asyncio.wait_for(client.connect(), T)
            try:
                # the first read flushes the journal: from then on the file is complete
                assert await asyncio.wait_for(client.order_detail("no-such-tag"), T) is None
                orders = _rows(db, "SELECT tag, status, filled_qty FROM orders ORDER BY ts_ns")
                filled = [tag for tag, _status, qty in orders if qty > 0]
                assert filled, "the demo replay fills some orders"
                for tag, status, filled_qty in orders:
                    detail = await asyncio.wait_for(client.order_detail(tag), T)
                    assert detail is not None and detail.tag == tag
                    history = _rows(
                        db,
                        "SELECT ts_ns, status, reason FROM order_events WHERE tag=? ORDER BY id",
                        tag,
                    )
                    assert [(e.ts_ns, e.status, e.reason) for e in detail.history] == history
                    assert detail.history[-1].status == status
                    fills = _rows(
                        db,
                        "SELECT fill_id, ts_ns, side, quantity, price FROM fills "
                        "WHERE tag=? ORDER BY seq",
                        tag,
                    )
                    assert [
                        (f.fill_id, f.ts_ns, f.side, f.quantity, f.price) for f in detail.fills
                    ] == fills
                    assert sum(f.quantity for f in detail.fills) == filled_qty
                tag = filled[0]
                detail = await asyncio.wait_for(client.order_detail(tag), T)
                assert detail is not None and detail.fills
                assert detail.history[0].status == "NEW"
                assert detail.history[-1].status == "COMPLETE"
            finally:
                client.close()

            # the same through a RemoteLink and through `kitetui ctl order`
            link = RemoteLink(path, timeout=T)
            try:
                await asyncio.wait_for(link.start(), T)
                assert await asyncio.wait_for(link.order_detail(tag), T) == detail
                assert await asyncio.wait_for(link.order_detail("no-such-tag"), T) is None
            finally:
                await asyncio.wait_for(link.close(), T)
            argv = ["--socket", str(path), "--json", "order", tag]
            code, out = await asyncio.wait_for(asyncio.to_thread(_ctl, argv), T)
            assert code == 0
            reply = json.loads(out)
            assert reply["ok"] is True and order_detail_from_json(reply["detail"]) == detail
            code, out = await asyncio.wait_for(
                asyncio.to_thread(_ctl, ["--socket", str(path), "order", tag]), T
            )
            assert code == 0 and out.startswith(f"order {tag}\n")
            assert "COMPLETE" in out and f"{detail.fills[0].price:,.2f}" in out
            code, _out = await asyncio.wait_for(
                asyncio.to_thread(_ctl, ["--socket", str(path), "order", "no-such-tag"]), T
            )
            assert code == 1


def _ctl(argv: list[str]) -> tuple[int, str]:
    """``kitetui ctl`` in a worker thread (it runs its own event loop): exit code, stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = run_ctl(argv)
    return code, out.getvalue()


async def test_two_clients_on_one_real_desk_see_each_others_commands() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as name:
        async with real_desk(Path(name), speed=300.0) as (supervisor, path):
            one, two = RemoteLink(path, timeout=T), RemoteLink(path, timeout=T)
            try:
                await asyncio.wait_for(asyncio.gather(one.start(), two.start()), T)
                await eventually(lambda: one.snapshot() is not None and two.snapshot() is not None)
                seqs = (one.snapshot().seq, two.snapshot().seq)

                result = await asyncio.wait_for(one.send(PauseEntries()), T)
                assert result.ok, result.message
                assert supervisor.risk.entries_paused
                await eventually(lambda: one.snapshot().risk.entries_paused)
                await eventually(lambda: two.snapshot().risk.entries_paused)

                result = await asyncio.wait_for(two.send(ResumeEntries()), T)
                assert result.ok, result.message
                await eventually(lambda: not one.snapshot().risk.entries_paused)
                await eventually(lambda: not two.snapshot().risk.entries_paused)

                await eventually(lambda: one.snapshot().seq > seqs[0] + 2)
                await eventually(lambda: two.snapshot().seq > seqs[1] + 2)
                assert one.connection_problem() is None and two.connection_problem() is None
            finally:
                await asyncio.wait_for(one.close(), T)
                await asyncio.wait_for(two.close(), T)


async def test_two_tuis_on_one_real_desk_see_each_others_keys() -> None:
    from kitetui.tui.app import make_app

    with tempfile.TemporaryDirectory(prefix="kt") as name:
        async with real_desk(Path(name), speed=300.0) as (supervisor, path):
            one, two = RemoteLink(path, timeout=T), RemoteLink(path, timeout=T)
            app_one, app_two = make_app(one, refresh_hz=10), make_app(two, refresh_hz=10)
            try:
                async with (
                    app_one.run_test(size=(120, 40)) as pilot_one,
                    app_two.run_test(size=(120, 40)) as pilot_two,
                ):

                    async def until(predicate) -> None:
                        deadline = time.monotonic() + 2 * T
                        while not predicate():
                            assert time.monotonic() < deadline, "condition not reached in time"
                            await pilot_one.pause(0.05)
                            await pilot_two.pause(0.05)

                    def shown(app) -> DeskSnapshot | None:
                        return app.snapshot

                    await until(lambda: shown(app_one) is not None and shown(app_two) is not None)
                    first_seq = (shown(app_one).seq, shown(app_two).seq)

                    await pilot_one.press("p")
                    await until(lambda: supervisor.risk.entries_paused)
                    await until(lambda: shown(app_one).risk.entries_paused)
                    await until(lambda: shown(app_two).risk.entries_paused)

                    await pilot_two.press("p")  # on a paused desk, p resumes
                    await until(lambda: not supervisor.risk.entries_paused)
                    await until(lambda: not shown(app_one).risk.entries_paused)
                    await until(lambda: not shown(app_two).risk.entries_paused)

                    await until(lambda: shown(app_one).seq > first_seq[0])
                    await until(lambda: shown(app_two).seq > first_seq[1])
                    await pilot_two.press("q")
                    await pilot_one.press("q")
            finally:
                await asyncio.wait_for(one.close(), T)
                await asyncio.wait_for(two.close(), T)
