"""The control socket: a fake desk behind a real ControlServer on a Unix socket."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from kitetui.commands import (
    CancelOrder,
    CommandResult,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.control import (
    ControlServer,
    ControlSocketError,
    check_peer_uid,
    parse_request,
    peer_uid,
)
from kitetui.control_client import (
    ControlClient,
    DeskRequestError,
    RemoteLink,
    command_to_request,
    order_detail_from_json,
    order_detail_to_json,
    run_ctl,
    snapshot_from_json,
    snapshot_to_json,
    socket_path_for,
)
from kitetui.views import (
    DeskSnapshot,
    EngineView,
    EventView,
    FeedView,
    FillView,
    LimitView,
    OrderDetail,
    OrderEventView,
    OrderView,
    PositionView,
    RiskView,
    SignalView,
)

T = 5.0  # every await in these tests is bounded by this


def make_snapshot(seq: int = 1, events: int = 2) -> DeskSnapshot:
    return DeskSnapshot(
        seq=seq,
        mode="paper",
        run_id="run-1",
        data_ts_ns=1_704_440_700_000_000_000,
        feed_state="RUNNING",
        speed="60x",
        engines=(
            EngineView("eq", "equity", "RUNNING", "orb", 300, ("SBIN", "INFY"), 12, 3, 2),
            EngineView("fno", "fno", "STOPPED", "trend", 60, (), last_error="boom"),
        ),
        positions=(
            PositionView("SBIN", "eq", "MIS", 10, 600.5, 612.25, 0.0, 117.5, stop_price=590),
            PositionView(
                "NIFTY24JANFUT",
                "fno",
                "NRML",
                -50,
                21500.0,
                21480.0,
                10.0,
                1000.0,
                lot_size=50,
                expiry="2024-01-25",
            ),
        ),
        orders=(
            OrderView(
                "eq-1",
                1,
                "eq",
                "SBIN",
                "BUY",
                10,
                "MARKET",
                "ENTRY",
                "COMPLETE",
                filled_qty=10,
                avg_price=600.5,
            ),
            OrderView(
                "eq-2",
                2,
                "eq",
                "SBIN",
                "SELL",
                10,
                "SL-M",
                "STOP",
                "TRIGGER PENDING",
                trigger_price=590.0,
            ),
        ),
        signals=(
            SignalView(
                1,
                "s1",
                1,
                "eq",
                "orb",
                "SBIN",
                "ENTER_LONG",
                600.5,
                "breakout",
                0.8,
                indicators=(("atr", 4.5), ("rsi", 61.0)),
                risk_verdict="ALLOW",
            ),
        ),
        events=tuple(
            EventView(i, i, "Note", "INFO", f"event {i} " + "x" * 80, symbol="SBIN")
            for i in range(events)
        ),
        risk=RiskView(
            "ACTIVE",
            False,
            False,
            "",
            1127.5,
            10.0,
            1117.5,
            -250.0,
            limits=(LimitView("positions", 2, 5), LimitView("loss", 0.0, 5000.0, "₹")),
            blocked_symbols=("YESBANK",),
            trades_today=(("SBIN", 1),),
        ),
        equity_curve=((1, 100000.0), (2, 101127.5)),
        counts=(("signals", 1), ("orders", 2)),
        feed=FeedView("RUNNING", 412.5, 1_704_440_701_000_000_000, 2, "OPEN"),
        published_wall_ns=1_704_440_701_250_000_000,
    )


ORDER_DETAIL = OrderDetail(
    "eq-1",
    history=(
        OrderEventView(1_704_440_700_000_000_000, "NEW", "breakout"),
        OrderEventView(1_704_440_700_000_000_000, "OPEN"),
        OrderEventView(1_704_440_701_000_000_000, "COMPLETE"),
    ),
    fills=(
        FillView("eq-1-1", 1_704_440_701_000_000_000, "BUY", 4, 600.0),
        FillView("eq-1-2", 1_704_440_701_000_000_000, "BUY", 6, 601.0),
    ),
)


class FakeDesk:
    def __init__(self, snapshot: DeskSnapshot | None = None) -> None:
        self.published = snapshot
        self.commands: list[object] = []

    async def execute(self, command: object) -> CommandResult:
        self.commands.append(command)
        if isinstance(command, CancelOrder) and command.tag == "nope":
            return CommandResult(False, "no open order nope")
        return CommandResult(True, f"done: {type(command).__name__}")

    async def order_detail(self, tag: str) -> OrderDetail | None:
        if tag == "boom":
            raise RuntimeError("database is locked")
        return ORDER_DETAIL if tag == ORDER_DETAIL.tag else None


@pytest.fixture
def sock_dir():
    # pytest's tmp_path can exceed the 107-byte limit of a Unix socket path
    path = Path(tempfile.mkdtemp(prefix="kt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def served(sock_dir):
    desk = FakeDesk(make_snapshot())
    server = ControlServer(desk, socket_path_for(sock_dir / "state.db"), max_rate=50)
    await asyncio.wait_for(server.start(), T)
    yield desk, server
    await asyncio.wait_for(server.stop(), T)


async def connect(path: Path) -> ControlClient:
    client = ControlClient(path, timeout=T)
    await asyncio.wait_for(client.connect(), T)
    return client


async def eventually(predicate, timeout: float = T) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def test_snapshot_json_round_trip_is_exact():
    snapshot = make_snapshot()
    data = json.loads(json.dumps(snapshot_to_json(snapshot)))
    back = snapshot_from_json(data)
    assert back == snapshot
    assert isinstance(back.engines, tuple) and isinstance(back.engines[0].symbols, tuple)
    assert isinstance(back.signals[0].indicators[0], tuple)
    assert isinstance(back.risk.limits[0], LimitView)
    assert isinstance(back.equity_curve[0], tuple)
    assert isinstance(back.feed, FeedView) and back.feed == snapshot.feed
    assert back.feed.items_per_s == 412.5 and back.feed.session == "OPEN"
    assert back.published_wall_ns == snapshot.published_wall_ns == 1_704_440_701_250_000_000
    assert snapshot_from_json(snapshot_to_json(DeskSnapshot(0, "replay", "r", 0, "S", "max"))) == (
        DeskSnapshot(0, "replay", "r", 0, "S", "max")
    )


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


def test_order_detail_json_round_trip_is_exact():
    back = order_detail_from_json(json.loads(json.dumps(order_detail_to_json(ORDER_DETAIL))))
    assert back == ORDER_DETAIL
    assert isinstance(back.history, tuple) and isinstance(back.history[0], OrderEventView)
    assert isinstance(back.fills, tuple) and isinstance(back.fills[1], FillView)
    assert order_detail_from_json(order_detail_to_json(OrderDetail("x"))) == OrderDetail("x")


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


def test_parse_request_models():
    assert parse_request(b'{"cmd": "pause"}')[1].engine == ""
    assert isinstance(parse_request(b'{"cmd": "start", "engine": ""}')[1], str)


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
        await eventually(lambda: link.snapshot() is not None)
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
        assert link.connection_problem() is None
        await asyncio.wait_for(server.stop(), T)
        # once connected, a lost desk is a connection problem, not a failure
        await eventually(lambda: link.connection_problem() is not None)
        assert link.failure() is None
        assert link.snapshot() == desk.published
        result = await asyncio.wait_for(link.send(ResetKillSwitch()), T)
        assert result.ok is False and result.message.startswith("not connected to the desk")
        assert await asyncio.wait_for(link.order_detail("eq-1"), T) is None
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


async def ctl(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run_ctl, list(argv)), T)


async def test_run_ctl(served, capsys, sock_dir):
    desk, server = served
    path = str(server.path)
    assert await ctl("--socket", path, "status") == 0
    out = capsys.readouterr().out
    for text in ("paper", "2024-01-05", "ACTIVE", "eq", "fno", "NIFTY24JANFUT", "eq-2", "1,127.50"):
        assert text in out
    assert "eq-1" not in out  # complete: not an open order

    assert await ctl("--db", str(sock_dir / "state.db"), "--json", "status") == 0
    assert snapshot_from_json(json.loads(capsys.readouterr().out)["snapshot"]) == desk.published

    assert await ctl("--socket", path, "flatten", "SBIN") == 0
    assert "done: FlattenPosition" in capsys.readouterr().out
    assert await ctl("--socket", path, "--json", "cancel", "nope") == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert await ctl("--socket", path, "kill") == 0
    assert desk.commands == [FlattenPosition("SBIN"), CancelOrder("nope"), TriggerKillSwitch()]
    assert await ctl("--socket", path, "flatten") == 2
    capsys.readouterr()

    assert await ctl("--socket", path, "order", "eq-1") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "order eq-1"
    statuses = [line.split()[3] for line in lines if "IST" in line and "BUY" not in line]
    assert statuses == ["NEW", "OPEN", "COMPLETE"]
    assert "2024-01-05 13:15:00 IST" in out and "breakout" in out
    assert "eq-1-1" in out and "eq-1-2" in out and "601.00" in out
    assert "filled 10 at an average of 600.60" in out
    assert await ctl("--socket", path, "--json", "order", "eq-1") == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["ok"] is True and order_detail_from_json(reply["detail"]) == ORDER_DETAIL
    assert await ctl("--socket", path, "order", "zz-9") == 1
    assert "no order 'zz-9'" in capsys.readouterr().err
    assert await ctl("--socket", path, "--json", "order", "zz-9") == 1
    assert json.loads(capsys.readouterr().out)["detail"] is None
    assert await ctl("--socket", path, "order", "boom") == 1
    assert "database is locked" in capsys.readouterr().err
    assert await ctl("--socket", path, "order") == 2
    capsys.readouterr()

    assert await ctl("--socket", str(sock_dir / "nothing.sock"), "status") == 3
    assert "kitetui run --no-ui" in capsys.readouterr().err


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
