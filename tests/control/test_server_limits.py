"""The control server against hostile clients: malformed lines, clients that never read,
too many connections, half-sent lines, half-closed streams and request floods.

Every limit is a module constant the tests shrink (``monkeypatch``), so nothing here
allocates much or waits long; every await is bounded.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket

import pytest
from control_helpers import FakeDesk, eventually, make_snapshot, serving

from kitetui.commands import PauseEntries, TriggerKillSwitch
from kitetui.control import server as server_module
from kitetui.control.protocol import socket_path_for

T = 5.0


async def open_raw(server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_unix_connection(str(server.path)), T)


async def exchange(reader, writer, raw: bytes) -> dict:
    writer.write(raw)
    return json.loads(await asyncio.wait_for(reader.readline(), T))


def errors_logged(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_malformed_requests_get_one_line_each_and_the_connection_stays(served, caplog):
    desk, server = served
    reader, writer = await open_raw(server)
    try:
        for raw, request_id in [
            (b'{"id":7,"cmd":["status"]}\n', 7),
            (b'{"cmd":{"a":1}}\n', None),
            (b"[" * 100_000 + b"\n", None),
            (b'{"cmd":"status","id":' + b"[" * 5000 + b"]" * 5000 + b"}\n", None),
            (b'{"id":8,"cmd":"cancel","tag":"' + b"Z" * 5000 + b'"}\n', 8),
            (b'{"id":9,"cmd":"kill","reason":"x\\u001b[2K\\rrisk ACTIVE"}\n', 9),
        ]:
            reply = await exchange(reader, writer, raw)
            assert reply["ok"] is False and reply["id"] == request_id, reply
        reply = await exchange(reader, writer, b'{"id":10,"cmd":"status"}\n')
        assert reply["ok"] is True and reply["id"] == 10
        assert desk.commands == []  # nothing hostile reached the desk (nor its journal)
        assert errors_logged(caplog) == []
    finally:
        writer.close()


async def test_a_client_that_does_not_read_is_dropped_by_bytes_not_count(
    served, monkeypatch, caplog
):
    desk, server = served
    desk.published = make_snapshot(2, events=2000)  # ~200 kB: more than a socket buffers
    monkeypatch.setattr(server_module, "MAX_PENDING_BYTES", 1000)
    reader, writer = await open_raw(server)
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    other = await open_raw(server)
    try:
        # far fewer than MAX_PENDING_REPLIES (64), far more bytes than MAX_PENDING_BYTES
        writer.write(b'{"id":1,"cmd":"status"}\n' * 8)
        await eventually(lambda: server.clients == 1, T)
        assert any("does not read its replies" in r.getMessage() for r in caplog.records)
        # the desk and its other clients go on
        reply = await exchange(*other, b'{"id":2,"cmd":"pause"}\n')
        assert reply["ok"] is True and desk.commands == [PauseEntries()]
    finally:
        writer.close()
        other[1].close()
        del reader


async def test_status_replies_share_the_encoded_snapshot(served):
    desk, server = served
    desk.published = make_snapshot(2, events=200)
    reader, writer = await open_raw(server)
    try:
        first = await exchange(reader, writer, b'{"id":1,"cmd":"status"}\n')
        client = next(iter(server._clients))
        server._status(client, 2)  # queued, not yet sent
        head, body, tail = client.replies[-1]
        assert body is server._encode(desk.published)  # the same bytes, not a copy
        assert json.loads(head + body + tail)["snapshot"] == first["snapshot"]
    finally:
        writer.close()


async def test_one_client_too_many_is_refused_with_a_line_and_closed(served, monkeypatch):
    _desk, server = served
    monkeypatch.setattr(server_module, "MAX_CLIENTS", 2)
    held = [await open_raw(server) for _ in range(2)]
    for n, (reader, writer) in enumerate(held):
        assert (await exchange(reader, writer, b'{"id":%d,"cmd":"status"}\n' % n))["ok"]
    reader, writer = await open_raw(server)
    try:
        refusal = json.loads(await asyncio.wait_for(reader.readline(), T))
        assert refusal["ok"] is False and "too many clients" in refusal["error"]
        assert await asyncio.wait_for(reader.read(), T) == b""  # and closed
        held[0][1].close()
        await eventually(lambda: len(server._handlers) == 1, T)
        again = await open_raw(server)  # room again
        assert (await exchange(*again, b'{"id":5,"cmd":"status"}\n'))["ok"] is True
        again[1].close()
    finally:
        writer.close()
        for _reader, held_writer in held:
            held_writer.close()


async def test_failing_accepts_back_off_and_log_one_line(sock_dir, monkeypatch, caplog):
    """Out of file descriptors, accepting fails at once, every time: no tight loop of
    tracebacks, and serving resumes when it stops failing."""
    monkeypatch.setattr(server_module, "ACCEPT_RETRY_S", 0.01)
    loop = asyncio.get_running_loop()
    real_accept = loop.sock_accept
    failures = 0

    async def out_of_fds(sock):
        nonlocal failures
        if failures < 30:
            failures += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return await real_accept(sock)

    monkeypatch.setattr(loop, "sock_accept", out_of_fds)
    caplog.set_level(logging.WARNING, logger=server_module.__name__)
    async with serving(FakeDesk(make_snapshot()), socket_path_for(sock_dir / "s.db")) as server:
        reader, writer = await open_raw(server)
        try:
            assert (await exchange(reader, writer, b'{"id":1,"cmd":"status"}\n'))["ok"]
        finally:
            writer.close()
    assert failures == 30
    accepts = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(accepts) == 1 and not accepts[0].exc_info


async def test_a_half_sent_line_is_cut_off_but_an_idle_client_stays(served, monkeypatch):
    _desk, server = served
    monkeypatch.setattr(server_module, "PARTIAL_LINE_TIMEOUT_S", 0.3)
    idle = await open_raw(server)
    reader, writer = await open_raw(server)
    try:
        writer.write(b'{"cmd":"status","x":"aaaa')  # ...and never the rest
        reply = json.loads(await asyncio.wait_for(reader.readline(), T))
        assert reply["ok"] is False and "not finished within 0.3 s" in reply["error"]
        assert await asyncio.wait_for(reader.read(), T) == b""
        await asyncio.sleep(0.4)  # idle for longer than the timeout: still served
        assert (await exchange(*idle, b'{"id":1,"cmd":"status"}\n'))["ok"] is True
        # a line sent in pieces, each within the timeout, is one request
        idle[1].write(b'{"id":2,')
        await asyncio.sleep(0.1)
        assert (await exchange(*idle, b'"cmd":"status"}\n'))["id"] == 2
    finally:
        writer.close()
        idle[1].close()


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        (b'{"id":1,"cmd":"kill","reason":"halfclose"}\n', "done: TriggerKillSwitch"),
        (b'{"id":1,"cmd":"status"}', None),  # no newline: the end of the stream ends it
        (b'{"id":1,"cmd":"pause"}\n{"id":2,"cmd":"status"}\n', "done: PauseEntries"),
    ],
)
async def test_a_client_that_half_closes_still_gets_its_replies(served, monkeypatch, raw, expect):
    desk, server = served
    fake_execute = desk.execute

    async def execute(command):  # a real desk takes a moment: the stream ends meanwhile
        await asyncio.sleep(0.05)
        return await fake_execute(command)

    monkeypatch.setattr(desk, "execute", execute)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, str(server.path)), T)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        writer.write(raw)
        writer.write_eof()  # SHUT_WR: the request is all it sends
        lines = (await asyncio.wait_for(reader.read(), T)).splitlines()
        replies = [json.loads(line) for line in lines]
        assert len(replies) == raw.count(b'"id"') and all(r["ok"] for r in replies)
        assert replies[0]["id"] == 1
        if expect is not None:
            assert replies[0]["message"] == expect
        if b"kill" in raw:
            assert desk.commands == [TriggerKillSwitch("halfclose")]
    finally:
        sock.close()


async def test_commands_over_the_rate_are_refused_and_never_reach_the_desk(
    served, monkeypatch, caplog
):
    desk, server = served
    monkeypatch.setattr(server_module, "COMMAND_RATE", (0.001, 3))
    reader, writer = await open_raw(server)
    try:
        replies = [
            await exchange(reader, writer, b'{"id":%d,"cmd":"pause","engine":"nope"}\n' % n)
            for n in range(10)
        ]
        assert [r["ok"] for r in replies] == [True] * 3 + [False] * 7
        assert all("too many requests" in r["error"] for r in replies[3:])
        assert len(desk.commands) == 3  # the refused ones are never executed nor journaled
        assert server.rate_refused == 7
        rate_lines = [r for r in caplog.records if "rate limit" in r.getMessage()]
        assert len(rate_lines) == 1  # one line for the burst, not one per request
        # reads have their own, looser rate
        assert (await exchange(reader, writer, b'{"id":99,"cmd":"status"}\n'))["ok"] is True
    finally:
        writer.close()


async def test_the_desk_wide_command_rate_holds_across_connections(sock_dir, monkeypatch):
    """A client that opens a connection per request (``ctl`` in a loop) meets the
    desk-wide rate."""
    monkeypatch.setattr(server_module, "DESK_COMMAND_RATE", (0.001, 4))
    desk = FakeDesk(make_snapshot())
    async with serving(desk, socket_path_for(sock_dir / "s.db")) as server:
        oks = []
        for n in range(8):
            reader, writer = await open_raw(server)
            try:
                reply = await exchange(reader, writer, b'{"id":%d,"cmd":"pause"}\n' % n)
                oks.append(reply["ok"])
            finally:
                writer.close()
        assert oks == [True] * 4 + [False] * 4 and len(desk.commands) == 4


async def test_reads_over_their_rate_are_refused(served, monkeypatch):
    _desk, server = served
    monkeypatch.setattr(server_module, "READ_RATE", (0.001, 5))
    reader, writer = await open_raw(server)
    try:
        replies = [
            await exchange(reader, writer, b'{"id":%d,"cmd":"status"}\n' % n) for n in range(7)
        ]
        assert [r["ok"] for r in replies] == [True] * 5 + [False] * 2
    finally:
        writer.close()
