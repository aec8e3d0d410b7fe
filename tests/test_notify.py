"""The hand-written sd_notify: a fake NOTIFY_SOCKET bound in tmp_path (and an abstract
name) receives the datagrams a small asyncio program sends. The program marks each
change (the loop blocked, ``healthy()`` false) with a datagram of its own on the same
socket, so the watchdog's silence shows in the *order* of what arrived, whatever the
machine's load; the cadence is checked on the loop's own sleeps. How long the gaps are
is a figure of ``scripts/bench.py`` (9), not an assertion. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from kitetui.notify import Notifier, status_line, watchdog_loop
from kitetui.views import DeskSnapshot, EngineView, PositionView, RiskView

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="AF_UNIX datagrams and abstract names"
)

WATCHDOG_USEC = "200000"  # 0.2 s: pings every 0.1 s


class Receiver:
    """A fake systemd: a bound datagram socket read by a thread, with arrival times."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.02)
        self.got: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.got.append((time.monotonic(), data.decode()))

    def close(self) -> list[tuple[float, str]]:
        self._stop.set()
        self._thread.join(timeout=1)
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # what is queued still, in order
            while True:
                self.got.append((time.monotonic(), self.sock.recv(4096).decode()))
        self.sock.close()
        return self.got


def _env(notify_socket: str, **extra: str) -> dict[str, str]:
    return {"NOTIFY_SOCKET": notify_socket, "WATCHDOG_USEC": WATCHDOG_USEC, **extra}


async def _program(notifier: Notifier) -> None:
    """READY, STATUS, pings; the loop blocked 0.5 s; pings; unhealthy 0.35 s; pings;
    STOPPING. Each change is marked (``MARK=...``) on the notifier's own socket, in order
    with the pings, at the instant it happens on the loop."""
    health = {"ok": True}
    notifier.ready()
    notifier.status("paper RUNNING | engines 1/1 running")
    task = asyncio.create_task(watchdog_loop(notifier, lambda: health["ok"]))
    await asyncio.sleep(0.32)
    notifier.send(MARK="blocked")
    time.sleep(0.5)  # a hung loop: the watchdog task cannot run
    notifier.send(MARK="unblocked")
    await asyncio.sleep(0.2)  # the overdue ping comes first, at the next loop turn
    health["ok"] = False
    notifier.send(MARK="unhealthy")
    await asyncio.sleep(0.35)
    health["ok"] = True
    notifier.send(MARK="healthy")
    await asyncio.sleep(0.15)  # longer than the watchdog's own sleep: it pings first
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    notifier.stopping()


def _run_program(address_env: str, bind: str | bytes) -> list[str]:
    receiver = Receiver(bind)
    notifier = Notifier.from_env(_env(address_env))
    try:
        asyncio.run(asyncio.wait_for(_program(notifier), timeout=5))
    finally:
        notifier.close()
        got = receiver.close()
    return [m for _, m in got]


def _check(messages: list[str]) -> None:
    assert messages[0] == "READY=1\n"
    assert messages[1] == "STATUS=paper RUNNING | engines 1/1 running\n"
    assert messages[-1] == "STOPPING=1\n"
    middle = messages[2:-1]
    marks = [m for m in middle if m.startswith("MARK=")]
    assert marks == ["MARK=blocked\n", "MARK=unblocked\n", "MARK=unhealthy\n", "MARK=healthy\n"]
    assert set(middle) - set(marks) == {"WATCHDOG=1\n"}
    # pings in each stretch: healthy | blocked | healthy | unhealthy | healthy again
    stretches = [0]
    for message in middle:
        if message in marks:
            stretches.append(0)
        else:
            stretches[-1] += 1
    healthy, blocked, unblocked, unhealthy, recovered = stretches
    assert healthy >= 1  # pinging from the start
    assert blocked == 0  # a hung loop sends nothing: that is the point of the watchdog
    assert unblocked >= 1  # pinging again as soon as the loop runs
    assert unhealthy == 0  # healthy() false: silent for the whole stretch
    assert recovered >= 1  # and pinging again after it


def test_watchdog_loop_sleeps_half_the_interval_and_pings_only_when_healthy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cadence without a clock: the loop's sleeps are recorded, not slept, and the
    coroutine is stepped by hand (no event loop runs while asyncio.sleep is replaced)."""

    class Enough(Exception):
        pass

    class Recorded:
        def __init__(self) -> None:
            self.pings = 0

        def watchdog_interval_s(self) -> float:
            return 0.2

        def watchdog(self) -> bool:
            self.pings += 1
            return True

    answers = iter([True, True, False, "raise", True])
    slept: list[float] = []

    def healthy() -> bool:
        answer = next(answers)
        if answer == "raise":
            raise RuntimeError("the health probe broke")
        return bool(answer)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 5:
            raise Enough

    notifier = Recorded()
    monkeypatch.setattr(asyncio, "sleep", sleep)
    loop = watchdog_loop(notifier, healthy)  # type: ignore[arg-type]
    with pytest.raises(Enough):
        loop.send(None)
    assert slept == [0.1] * 5  # half of WATCHDOG_USEC, every turn, pinged or not
    assert notifier.pings == 3  # not while healthy() is false or raises


def test_path_socket_in_order_and_silent_when_blocked_or_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    if len(str(path)) >= 100:  # sun_path is ~108 bytes
        pytest.skip("tmp_path too long for an AF_UNIX path")
    _check(_run_program(str(path), str(path)))


def test_abstract_socket_name() -> None:
    name = f"kitetui-test-{uuid.uuid4().hex}"
    _check(_run_program("@" + name, b"\0" + name.encode()))


def test_no_notify_socket_is_a_no_op() -> None:
    notifier = Notifier.from_env({"WATCHDOG_USEC": WATCHDOG_USEC})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    assert notifier.watchdog_interval_s() is None
    calls = []
    # returns at once: there is no watchdog to feed, and healthy() is never asked
    asyncio.run(asyncio.wait_for(watchdog_loop(notifier, lambda: calls.append(1)), 1))
    assert calls == []
    assert Notifier.from_env({}).send(READY=1) is False
    assert not Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}).enabled


def test_watchdog_pid_of_another_process_means_no_watchdog(tmp_path: Path) -> None:
    sock = str(tmp_path / "n.sock")
    other = Notifier.from_env(_env(sock, WATCHDOG_PID=str(os.getpid() + 1)))
    assert other.watchdog_interval_s() is None
    mine = Notifier.from_env(_env(sock, WATCHDOG_PID=str(os.getpid())))
    assert mine.watchdog_interval_s() == pytest.approx(0.2)
    assert Notifier.from_env(_env(sock)).watchdog_interval_s() == pytest.approx(0.2)
    assert Notifier.from_env(_env(sock, WATCHDOG_USEC="0")).watchdog_interval_s() is None

    receiver = Receiver(sock)
    calls = []
    try:
        asyncio.run(asyncio.wait_for(watchdog_loop(other, lambda: calls.append(1)), 1))
        assert other.ready()
    finally:
        other.close()
        got = receiver.close()
    assert [m for _, m in got] == ["READY=1\n"]  # the socket works; no WATCHDOG sent
    assert calls == []


def test_send_joins_fields_and_flattens_newlines(tmp_path: Path) -> None:
    sock = str(tmp_path / "n.sock")
    receiver = Receiver(sock)
    notifier = Notifier.from_env({"NOTIFY_SOCKET": sock})
    try:
        assert notifier.send(READY=1, STATUS="two\nlines")
    finally:
        notifier.close()
        got = receiver.close()
    assert [m for _, m in got] == ["READY=1\nSTATUS=two lines\n"]


def test_send_to_a_missing_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.enabled
    assert notifier.ready() is False
    notifier.close()


def test_status_line_is_short_and_counts() -> None:
    assert status_line(None) == "starting"
    engines = (
        EngineView("eq", "equity", "RUNNING", "ema_cross", 60, ("INFY",)),
        EngineView("fno", "fno", "PAUSED", "orb", 300, ("NIFTY",)),
    )
    positions = (
        PositionView("INFY", "eq", "MIS", 10, 1500.0, 1510.0, 0.0, 100.0),
        PositionView("TCS", "eq", "MIS", 0, 0.0, 0.0, 50.0, 0.0),
    )
    risk = RiskView("ACTIVE", False, False, "", 1234.5, 50.0, 100.0, 0.0)
    snap = DeskSnapshot(1, "paper", "run-1", 0, "RUNNING", "max", engines, positions, risk=risk)
    line = status_line(snap)
    assert line == "paper RUNNING | engines 1/2 running | 1 open | day P&L net +1,234.50"
    assert "\n" not in line and len(line) < 120
    killed = RiskView("HALTED", True, False, "kill", -10.0, 0.0, -10.0, 10.0)
    snap = DeskSnapshot(2, "live", "run-1", 0, "RUNNING", "1x", engines, (), risk=killed)
    assert status_line(snap).endswith("day P&L net -10.00 | KILL SWITCH")


def test_headless_log_records_are_one_key_value_line_each_without_colour() -> None:
    import io
    import logging

    from kitetui.report import KeyValueFormatter, configure_headless_logging

    root, ours = logging.getLogger(), logging.getLogger("kitetui")
    saved_handlers, saved_levels = root.handlers[:], (root.level, ours.level)
    try:
        configure_headless_logging("ERROR")
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        logging.getLogger("kitetui.control.server").warning("refused a peer: uid %d", 1001)
        logging.getLogger("kiteconnect").info("request headers: secret")  # kept quiet
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logging.getLogger("kitetui.supervisor").exception("batch failed")
        lines = stream.getvalue().splitlines()
        assert len(lines) == 2
        assert lines[0].startswith("ts=")
        assert "level=WARNING kind=Log logger=kitetui.control.server" in lines[0]
        assert 'msg="refused a peer: uid 1001"' in lines[0]
        assert "secret" not in stream.getvalue()
        assert "Traceback" in lines[1] and "\\nsecond line" in lines[1]
        assert "\x1b[" not in stream.getvalue()
        assert isinstance(root.handlers[0].formatter, KeyValueFormatter)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_levels[0])
        ours.setLevel(saved_levels[1])


def test_headless_daemon_notifies_ready_watchdog_status_then_stopping_on_sigterm() -> None:
    """The real `kitetui run --no-ui` as systemd would run it: a fake NOTIFY_SOCKET."""
    import signal
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kt") as folder:
        address = str(Path(folder) / "notify.sock")
        receiver = Receiver(address)
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        env.pop("WATCHDOG_PID", None)
        database = str(Path(folder) / "state.db")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "kitetui", "run", "--no-ui", "--speed", "30", "--db", database],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while not sum(m == "WATCHDOG=1\n" for _, m in receiver.got) >= 3:
                assert daemon.poll() is None, daemon.stderr.read().decode()
                assert time.monotonic() < deadline, receiver.got
                time.sleep(0.05)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(timeout=10)
            got = receiver.close()
    messages = [m for _, m in got]
    assert messages[0] == "READY=1\n"
    assert messages[-1] == "STOPPING=1\n"
    assert any(m.startswith("STATUS=") for m in messages)  # every 5 s, from the start
    assert set(messages[1:-1]) <= {"WATCHDOG=1\n"} | {
        m for m in messages if m.startswith("STATUS=")
    }
