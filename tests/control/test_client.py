"""ControlClient against scripted peers: what it does with each kind of line it reads.

A tiny Unix server plays the desk with canned lines, so the client's own rules are
tested without a ControlServer: replies matched by id (in any order), garbage skipped,
pushed snapshots kept newest-only, a refusal reported, a vanished desk failing the
requests that wait on it. Every await is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from control_helpers import ORDER_DETAIL, ctl_captured, make_snapshot

from kitetui.control.client import ControlClient, ControlError, DeskRequestError
from kitetui.control.protocol import encode_line, order_detail_to_json, snapshot_to_json

T = 5.0

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted_desk(sock_dir: Path, script: Script) -> AsyncIterator[Path]:
    """A Unix server at ``sock_dir/d.sock`` that runs ``script`` for each connection."""
    path = sock_dir / "d.sock"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer)
        finally:
            writer.close()

    server = await asyncio.wait_for(asyncio.start_unix_server(handle, str(path)), T)
    try:
        yield path
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), T)


async def read_request(reader: asyncio.StreamReader) -> dict:
    return json.loads(await asyncio.wait_for(reader.readline(), T))


async def test_client_with_garbage_and_replies_out_of_order_matches_each_by_id(sock_dir):
    async def script(reader, writer) -> None:
        first, second = await read_request(reader), await read_request(reader)
        writer.write(b"not json at all\n[1, 2, 3]\n\n")
        writer.write(encode_line({"id": 999, "ok": True, "message": "nobody asked"}))
        writer.write(encode_line({"id": second["id"], "ok": True, "message": second["cmd"]}))
        writer.write(encode_line({"id": first["id"], "ok": True, "message": first["cmd"]}))
        await writer.drain()
        await reader.readline()  # until the client closes

    async with scripted_desk(sock_dir, script) as path, ControlClient(path, timeout=T) as client:
        pause = asyncio.ensure_future(client.request("pause"))
        await asyncio.sleep(0)  # ids are given in order of the calls
        resume = asyncio.ensure_future(client.request("resume", engine="eq"))
        replies = await asyncio.wait_for(asyncio.gather(pause, resume), T)
        assert [r["message"] for r in replies] == ["pause", "resume"]
        assert client.connected


async def test_client_with_pushed_snapshots_keeps_only_the_newest(sock_dir):
    async def script(reader, writer) -> None:
        watch = await read_request(reader)
        writer.write(encode_line({"id": watch["id"], "ok": True, "message": "watching"}))
        for seq in (1, 2, 3):
            writer.write(encode_line({"snapshot": snapshot_to_json(make_snapshot(seq))}))
        writer.write(encode_line({"snapshot": None}))  # nothing to take from it
        await writer.drain()  # and then the desk goes away

    async with scripted_desk(sock_dir, script) as path, ControlClient(path, timeout=T) as client:
        reply = await client.request("watch")
        assert reply["ok"] is True
        while client.connected:
            await asyncio.wait_for(asyncio.sleep(0.01), T)
        seen = [s.seq async for s in client.snapshots()]
        assert seen == [3]  # the last one a closing desk pushed, never a backlog
        assert client.closed_reason == "the desk closed the connection"


async def test_client_with_refusing_desk_reports_why_and_fails_waiting_requests(sock_dir):
    async def script(reader, writer) -> None:
        await read_request(reader)
        writer.write(encode_line({"ok": False, "error": "uid 1001 may not control this desk"}))
        await writer.drain()

    async with scripted_desk(sock_dir, script) as path, ControlClient(path, timeout=T) as client:
        with pytest.raises(ControlError, match="refused the connection: uid 1001"):
            await client.request("status")
        assert not client.connected
        with pytest.raises(ControlError, match="refused the connection"):
            await client.request("status")  # fails at once: no waiting on a dead link


async def test_client_order_detail_with_each_reply_returns_detail_none_or_raises(sock_dir):
    replies = {
        "eq-1": {"ok": True, "detail": order_detail_to_json(ORDER_DETAIL)},
        "zz-9": {"ok": True, "detail": None},
        "boom": {"ok": False, "error": "cannot read order boom: database is locked"},
    }

    async def script(reader, writer) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            writer.write(encode_line({"id": request["id"], **replies[request["tag"]]}))
            await writer.drain()

    async with scripted_desk(sock_dir, script) as path, ControlClient(path, timeout=T) as client:
        assert await asyncio.wait_for(client.order_detail("eq-1"), T) == ORDER_DETAIL
        assert await asyncio.wait_for(client.order_detail("zz-9"), T) is None
        with pytest.raises(DeskRequestError, match="database is locked"):
            await asyncio.wait_for(client.order_detail("boom"), T)


async def test_client_with_silent_desk_times_out_naming_the_request(sock_dir):
    async def script(reader, writer) -> None:
        await reader.readline()
        await reader.readline()  # reads, never answers

    async with scripted_desk(sock_dir, script) as path:
        client = ControlClient(path, timeout=0.2)
        await asyncio.wait_for(client.connect(), T)
        try:
            with pytest.raises(ControlError, match="no reply from the desk to 'status'"):
                await asyncio.wait_for(client.request("status"), T)
        finally:
            client.close()


async def test_client_with_no_socket_says_how_to_start_a_desk(sock_dir):
    client = ControlClient(sock_dir / "absent.sock", timeout=T)
    with pytest.raises(ControlError) as error:
        await asyncio.wait_for(client.connect(), T)
    message = str(error.value)
    assert message.startswith(f"cannot connect to the desk at {sock_dir / 'absent.sock'} (")
    assert "is `kitetui run --no-ui` running with this database?" in message
    assert not client.connected


def _planted_desk(path: Path, user: int | None, ready: int) -> None:
    """A child that serves ``path`` as ``user`` (forked: nothing to exec, so any user
    can run it) and answers one request with a made-up kill switch."""
    import json
    import os
    import socket

    try:
        if user is not None:
            os.setgid(user)
            os.setuid(user)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        server.listen()
        os.write(ready, b"r")
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(json.dumps({"id": 1, "ok": True, "result": {}}).encode() + b"\n")
        conn.recv(65536)
    finally:
        os._exit(0)


async def test_client_refuses_a_socket_another_user_serves(sock_dir, monkeypatch) -> None:
    """A socket planted beside a database in a shared folder by another user: ``ctl``
    handed it the kill reason and printed its made-up answer. Whoever serves it must be
    this user (or root)."""
    import os
    import signal

    path = sock_dir / "d.sock"
    if os.getuid() == 0:  # the planting user: nobody
        os.chmod(sock_dir, 0o777)
        user: int | None = 65534
    else:  # this user plays the stranger: the client believes it is someone else
        monkeypatch.setattr("kitetui.control.client.os.getuid", lambda: 4242)
        user = None
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        _planted_desk(path, user, write)
    os.close(write)
    try:
        assert os.read(read, 1) == b"r"
        client = ControlClient(path, timeout=T)
        with pytest.raises(ControlError, match=r"is served by uid \d+, not by you"):
            await asyncio.wait_for(client.connect(), T)
    finally:
        os.close(read)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_ctl_says_a_running_desk_holds_the_database_when_its_socket_is_missing(sock_dir):
    """probe C 5: with the socket removed, ctl asked "is the desk running?" while it ran."""
    database = sock_dir / "state.db"
    lock = sock_dir / "state.db.lock"
    lock.write_text(f"{os.getpid()}\nopen\n0\n")
    code, _out, err = ctl_captured(["--db", str(database), "status"])
    assert code == 3
    assert f"the database's lock names a running desk (pid {os.getpid()})" in err
    assert "is `kitetui run --no-ui` running" not in err
    lock.write_text(f"{os.getpid()}\nclosed\n0\n")  # a desk that stopped cleanly: no hint
    code, _out, err = ctl_captured(["--db", str(database), "status"])
    assert code == 3 and "is `kitetui run --no-ui` running with this database?" in err
