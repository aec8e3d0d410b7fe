"""The control server: a fake desk (and a real one) behind a real ControlServer.

Every socket lives in a short temporary folder (Unix socket paths are limited to ~107
bytes) and every await is bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from control_helpers import (
    CHART,
    ORDER_DETAIL,
    FakeDesk,
    ctl_captured,
    eventually,
    make_snapshot,
    real_desk,
    rows,
)

from kitetui.commands import (
    CancelOrder,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.control.client import ControlClient, DeskRequestError
from kitetui.control.link import RemoteLink
from kitetui.control.protocol import (
    chart_from_json,
    command_to_request,
    order_detail_from_json,
    snapshot_from_json,
    socket_path_for,
)
from kitetui.control.server import ControlServer, ControlSocketError, check_peer_uid, peer_uid

T = 5.0  # every await in these tests is bounded by this
REAL_T = 10.0  # a real desk answers within this


async def connect(path: Path) -> ControlClient:
    client = ControlClient(path, timeout=T)
    await asyncio.wait_for(client.connect(), T)
    return client


async def test_socket_is_0600_and_removed_on_stop(served):
    _desk, server = served
    mode = os.stat(server.path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert server.path.name == "state.db.sock"
    await asyncio.wait_for(server.stop(), T)
    assert not server.path.exists()


async def test_status_round_trips_the_snapshot(served):
    desk, server = served
    client = await connect(server.path)
    try:
        reply = await client.request("status")
        assert reply["ok"] is True and reply["id"] == 1
        assert snapshot_from_json(reply["snapshot"]) == desk.published
        desk.published = None
        assert (await client.request("status"))["snapshot"] is None
    finally:
        client.close()


COMMANDS = [
    ("start", {"engine": "fno"}, StartEngine("fno")),
    ("stop", {"engine": "eq"}, StopEngine("eq")),
    ("pause", {}, PauseEntries()),
    ("pause", {"engine": "eq"}, PauseEntries("eq")),
    ("resume", {}, ResumeEntries()),
    ("resume", {"engine": "fno"}, ResumeEntries("fno")),
    ("kill", {"reason": "fat finger"}, TriggerKillSwitch("fat finger")),
    ("kill", {}, TriggerKillSwitch()),
    ("reset-kill", {}, ResetKillSwitch()),
    ("flatten", {"symbol": "SBIN"}, FlattenPosition("SBIN")),
    ("cancel", {"tag": "eq-2"}, CancelOrder("eq-2")),
]


async def test_every_command_maps_to_its_command_object(served):
    desk, server = served
    client = await connect(server.path)
    try:
        for cmd, args, expected in COMMANDS:
            reply = await client.request(cmd, **args)
            assert reply["ok"] is True
            assert reply["message"] == f"done: {type(expected).__name__}"
            assert desk.commands[-1] == expected
            # and the client maps the object back to the same request
            request = command_to_request(expected)
            assert request["cmd"] == cmd
        assert len(desk.commands) == len(COMMANDS)
        refused = await client.request("cancel", tag="nope")
        assert refused == {"id": refused["id"], "ok": False, "message": "no open order nope"}
    finally:
        client.close()


async def test_bad_requests_error_and_keep_the_connection(served):
    desk, server = served
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(server.path)), T)

    async def exchange(raw: bytes) -> dict:
        writer.write(raw)
        return json.loads(await asyncio.wait_for(reader.readline(), T))

    try:
        reply = await exchange(b"{not json\n")
        assert reply["ok"] is False and "bad JSON" in reply["error"]
        reply = await exchange(b'{"id": 7, "cmd": "launch-missiles"}\n')
        assert reply["id"] == 7 and reply["ok"] is False and "unknown cmd" in reply["error"]
        reply = await exchange(b'{"id": 8, "cmd": "flatten"}\n')
        assert reply["ok"] is False and "symbol" in reply["error"]
        reply = await exchange(b'{"id": 9, "cmd": "status", "bogus": 1}\n')
        assert reply["ok"] is False and "bogus" in reply["error"]
        reply = await exchange(b"[1, 2]\n")
        assert reply["ok"] is False
        reply = await exchange(b'{"id": 10, "cmd": "status"}\n')
        assert reply["ok"] is True and reply["id"] == 10
        assert desk.commands == []
    finally:
        writer.close()


async def test_order_request_reads_the_detail(served):
    desk, server = served
    client = await connect(server.path)
    try:
        reply = await client.request("order", tag="eq-1")
        assert reply["ok"] is True and reply["id"] == 1
        assert order_detail_from_json(reply["detail"]) == ORDER_DETAIL
        assert await client.order_detail("eq-1") == ORDER_DETAIL
        unknown = await client.request("order", tag="zz-9")
        assert unknown == {"id": unknown["id"], "ok": True, "detail": None}
        assert await client.order_detail("zz-9") is None
        failed = await client.request("order", tag="boom")
        assert failed["ok"] is False and "database is locked" in failed["error"]
        with pytest.raises(DeskRequestError, match="database is locked"):
            await client.order_detail("boom")
        bad = await client.request("order")
        assert bad["ok"] is False and "tag" in bad["error"]
        assert (await client.request("status"))["ok"] is True  # still usable
        assert desk.commands == []  # a read, not a command
    finally:
        client.close()


async def test_chart_request_reads_the_chart(served):
    desk, server = served
    client = await connect(server.path)
    try:
        reply = await client.request("chart", symbol="SBIN")
        assert reply["ok"] is True and chart_from_json(reply["chart"]) == CHART
        assert await client.chart("SBIN") == CHART
        unknown = await client.request("chart", symbol="TCS")
        assert unknown == {"id": unknown["id"], "ok": True, "chart": None}
        assert await client.chart("TCS") is None
        failed = await client.request("chart", symbol="BOOM")
        assert failed["ok"] is False and "cannot chart BOOM: database is locked" in failed["error"]
        with pytest.raises(DeskRequestError, match="database is locked"):
            await client.chart("BOOM")
        bad = await client.request("chart")
        assert bad["ok"] is False and "symbol" in bad["error"]
        assert (await client.request("status"))["ok"] is True  # still usable
        assert desk.commands == []  # a read, not a command
    finally:
        client.close()


async def test_two_watchers_both_receive_updates(served):
    desk, server = served
    a, b = await connect(server.path), await connect(server.path)
    try:
        wa, wb = a.watch(), b.watch()
        assert (await asyncio.wait_for(anext(wa), T)).seq == 1
        assert (await asyncio.wait_for(anext(wb), T)).seq == 1
        desk.published = dataclasses.replace(make_snapshot(2), feed_state="FINISHED")
        got_a = await asyncio.wait_for(anext(wa), T)
        got_b = await asyncio.wait_for(anext(wb), T)
        assert got_a == got_b == desk.published
        # requests still work on a watching connection
        assert (await a.request("pause"))["ok"] is True
    finally:
        a.close()
        b.close()


async def test_stalled_watcher_blocks_nobody(served):
    desk, server = served
    stalled_reader, stalled = await asyncio.wait_for(
        asyncio.open_unix_connection(str(server.path)), T
    )
    stalled.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.write(b'{"id": 1, "cmd": "watch"}\n')  # ...and never reads again
    other = await connect(server.path)
    try:
        watch = other.watch()
        await asyncio.wait_for(anext(watch), T)
        for seq in range(2, 12):  # ~200 kB per snapshot: far more than the socket buffers
            desk.published = make_snapshot(seq, events=2000)
            await asyncio.sleep(0.03)
        newest = None
        while newest is None or newest.seq != 11:
            newest = await asyncio.wait_for(anext(watch), T)
        reply = await asyncio.wait_for(other.request("kill", reason="test"), T)
        assert reply["ok"] is True and desk.commands == [TriggerKillSwitch("test")]
        assert server.clients == 2  # the stalled one is still held, not blocking
        # it really is stalled: bytes wait in its transport, at most one snapshot queued
        stuck = [c for c in server._clients if c.writer.transport.get_write_buffer_size() > 0]
        assert len(stuck) == 1 and not stuck[0].replies
    finally:
        other.close()
        stalled.close()
        del stalled_reader


async def test_second_server_on_a_live_socket_is_refused(served):
    _desk, server = served
    with pytest.raises(ControlSocketError, match="already listening"):
        await asyncio.wait_for(ControlServer(FakeDesk(), server.path).start(), T)
    assert server.path.exists()
    client = await connect(server.path)  # the first one still serves
    assert (await client.request("status"))["ok"] is True
    client.close()


async def test_stale_socket_file_is_replaced(sock_dir):
    path = sock_dir / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # bound, never listening: what a crashed desk leaves behind
    dead.close()
    assert path.exists()
    server = ControlServer(FakeDesk(make_snapshot()), path)
    await asyncio.wait_for(server.start(), T)
    try:
        client = await connect(path)
        assert (await client.request("status"))["ok"] is True
        client.close()
    finally:
        await asyncio.wait_for(server.stop(), T)


async def test_a_regular_file_is_never_removed(sock_dir):
    path = sock_dir / "state.db.sock"
    path.write_text("not a socket")
    with pytest.raises(ControlSocketError, match="not a socket"):
        await asyncio.wait_for(ControlServer(FakeDesk(), path).start(), T)
    assert path.read_text() == "not a socket"


def test_peer_uid_check():
    own = os.getuid()
    assert check_peer_uid(own, own) is None
    assert "uid" in (check_peer_uid(own + 1, own) or "")
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert peer_uid(a) in (own, None)
        assert check_peer_uid(peer_uid(a)) is None
    finally:
        a.close()
        b.close()


async def test_stop_pushes_the_last_snapshot_to_watchers_first(sock_dir):
    desk = FakeDesk(make_snapshot())
    # A slow broadcaster: without the final push the watcher would never see seq 2.
    server = ControlServer(desk, socket_path_for(sock_dir / "state.db"), max_rate=0.1)
    await asyncio.wait_for(server.start(), T)
    client = await connect(server.path)
    try:
        watch = client.watch()
        assert (await asyncio.wait_for(anext(watch), T)).seq == 1
        desk.published = dataclasses.replace(make_snapshot(2), feed_state="FINISHED")
        await asyncio.wait_for(server.stop(), T)
        last = await asyncio.wait_for(anext(watch), T)
        assert (last.seq, last.feed_state) == (2, "FINISHED")
    finally:
        client.close()


# -- a real supervisor behind the socket ------------------------------------------------


async def test_order_detail_over_the_socket_matches_the_journal() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as name:
        folder = Path(name)
        async with real_desk(folder, speed=None) as (supervisor, path):
            db = supervisor.db_path
            client = ControlClient(path, timeout=REAL_T)
            await asyncio.wait_for(client.connect(), REAL_T)
            try:
                # the first read flushes the journal: from then on the file is complete
                assert await asyncio.wait_for(client.order_detail("no-such-tag"), REAL_T) is None
                orders = rows(db, "SELECT tag, status, filled_qty FROM orders ORDER BY ts_ns")
                filled = [tag for tag, _status, qty in orders if qty > 0]
                assert filled, "the demo replay fills some orders"
                for tag, status, filled_qty in orders:
                    detail = await asyncio.wait_for(client.order_detail(tag), REAL_T)
                    assert detail is not None and detail.tag == tag
                    history = rows(
                        db,
                        "SELECT ts_ns, status, reason FROM order_events WHERE tag=? ORDER BY id",
                        tag,
                    )
                    carried = ""  # a NULL reason repeats the event before it (schema 7)
                    for n, (ts_ns, event_status, reason) in enumerate(history):
                        carried = carried if reason is None else reason
                        history[n] = (ts_ns, event_status, carried)
                    assert [(e.ts_ns, e.status, e.reason) for e in detail.history] == history
                    assert detail.history[-1].status == status
                    fills = rows(
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
                detail = await asyncio.wait_for(client.order_detail(tag), REAL_T)
                assert detail is not None and detail.fills
                assert detail.history[0].status == "NEW"
                assert detail.history[-1].status == "COMPLETE"
            finally:
                client.close()

            # the same through a RemoteLink and through `kitetui ctl order`
            link = RemoteLink(path, timeout=REAL_T)
            try:
                await asyncio.wait_for(link.start(), REAL_T)
                assert await asyncio.wait_for(link.order_detail(tag), REAL_T) == detail
                assert await asyncio.wait_for(link.order_detail("no-such-tag"), REAL_T) is None
            finally:
                await asyncio.wait_for(link.close(), REAL_T)
            argv = ["--socket", str(path), "--json", "order", tag]
            code, out, _err = await asyncio.wait_for(asyncio.to_thread(ctl_captured, argv), REAL_T)
            assert code == 0
            reply = json.loads(out)
            assert reply["ok"] is True and order_detail_from_json(reply["detail"]) == detail
            argv = ["--socket", str(path), "order", tag]
            code, out, _err = await asyncio.wait_for(asyncio.to_thread(ctl_captured, argv), REAL_T)
            assert code == 0 and out.startswith(f"order {tag}\n")
            assert "COMPLETE" in out and f"{detail.fills[0].price:,.2f}" in out
            argv = ["--socket", str(path), "order", "no-such-tag"]
            code, _out, err = await asyncio.wait_for(asyncio.to_thread(ctl_captured, argv), REAL_T)
            assert code == 1 and "no order 'no-such-tag'" in err


async def test_two_clients_on_one_real_desk_see_each_others_commands() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as name:
        async with real_desk(Path(name), speed=300.0) as (supervisor, path):
            one, two = RemoteLink(path, timeout=REAL_T), RemoteLink(path, timeout=REAL_T)
            try:
                await asyncio.wait_for(asyncio.gather(one.start(), two.start()), REAL_T)

                def both_shown() -> bool:
                    return one.snapshot() is not None and two.snapshot() is not None

                await eventually(both_shown, REAL_T)
                seqs = (one.snapshot().seq, two.snapshot().seq)

                result = await asyncio.wait_for(one.send(PauseEntries()), REAL_T)
                assert result.ok, result.message
                assert supervisor.risk.entries_paused
                await eventually(lambda: one.snapshot().risk.entries_paused, REAL_T)
                await eventually(lambda: two.snapshot().risk.entries_paused, REAL_T)

                result = await asyncio.wait_for(two.send(ResumeEntries()), REAL_T)
                assert result.ok, result.message
                await eventually(lambda: not one.snapshot().risk.entries_paused, REAL_T)
                await eventually(lambda: not two.snapshot().risk.entries_paused, REAL_T)

                await eventually(lambda: one.snapshot().seq > seqs[0] + 2, REAL_T)
                await eventually(lambda: two.snapshot().seq > seqs[1] + 2, REAL_T)
                assert one.connection_problem() is None and two.connection_problem() is None
            finally:
                await asyncio.wait_for(one.close(), REAL_T)
                await asyncio.wait_for(two.close(), REAL_T)


async def _watched(sock_dir: Path) -> tuple[ControlServer, Path, list]:
    """A started server whose socket watchdog checks every 0.05 s: (server, its socket
    path, the events it journals)."""
    events: list = []
    path = socket_path_for(sock_dir / "state.db")
    server = ControlServer(
        FakeDesk(make_snapshot()), path, on_event=events.append, socket_check_s=0.05
    )
    await asyncio.wait_for(server.start(), T)
    return server, path, events


async def test_a_removed_socket_file_is_bound_again_and_said(sock_dir):
    """probe C 5: an `rm` of the socket cut the desk off for good, silently."""
    server, path, events = await _watched(sock_dir)
    try:
        os.unlink(path)
        await eventually(lambda: path.exists() and events, T)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert [(e.kind, e.level) for e in events] == [("ControlSocketRestored", "WARNING")]
        client = await connect(path)
        try:
            assert (await client.request("status"))["ok"] is True
        finally:
            client.close()
    finally:
        await asyncio.wait_for(server.stop(), T)
    assert not path.exists()


async def test_a_foreign_file_at_the_socket_path_is_left_and_said_once(sock_dir):
    server, path, events = await _watched(sock_dir)
    try:
        os.unlink(path)
        path.write_text("not yours")
        await eventually(lambda: events, T)
        await asyncio.sleep(0.2)  # several more checks: still said once
        assert [(e.kind, e.level) for e in events] == [("ControlSocketTaken", "ERROR")]
        assert path.read_text() == "not yours"
        path.unlink()
        await eventually(lambda: path.exists(), T)
        assert [e.kind for e in events] == ["ControlSocketTaken", "ControlSocketRestored"]
    finally:
        await asyncio.wait_for(server.stop(), T)
