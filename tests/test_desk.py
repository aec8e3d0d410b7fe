"""The desk's lifecycle, as a user meets it: real processes, real signals, one database.

One desk per database (a second is refused with exit 7, naming the first, changing
nothing), signals during start-up (a SIGTERM stops it before trading; a SIGUSR1 is
recorded as the kill switch once the journal is open), the control socket in the TUI's
desk too, and a stale socket file left by a dead desk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import parse_config

SLOW = ("run", "--no-ui", "--speed", "30")  # a paced replay: still trading for minutes


def _spawn(db: Path, *args: str, hangup: bool = False) -> subprocess.Popen[str]:
    """``hangup``: the desk hears SIGHUP as one started from a terminal does, whatever
    this test runs under (``nohup`` passes its ignore on, and the desk keeps it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kitetui", *args, "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL)) if hangup else None,
    )


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _catches(proc: subprocess.Popen[str], signum: int) -> bool:
    """Whether the process has its own handler for ``signum`` yet (Linux: ``SigCgt`` in
    ``/proc/PID/status``). Before that, the signal's default action kills it: a test
    that signalled after a fixed 0.3 s was flaky on a loaded machine, where the
    interpreter had not yet reached ``startup.capture``."""
    status = Path(f"/proc/{proc.pid}/status").read_text()
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signum - 1) & 1)


def _trading(db: Path) -> bool:
    socket_file = Path(f"{db}.sock")
    return socket_file.exists()


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


def _digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["state.db", "symlink.db", "hardlink.db"])
def test_second_desk_on_one_database_is_refused_naming_the_first(tmp_path: Path, name: str) -> None:
    """Under any name of the file: a symlink or a hard link each got its own lock file,
    and a second desk took over the first's run (a hard link's even left a WAL of its
    own that the next start refused as damaged)."""
    db = tmp_path / "state.db"
    first = _spawn(db, *SLOW)
    try:
        _wait_for(lambda: _trading(db))
        other = tmp_path / name
        if name == "symlink.db":
            other.symlink_to(db.name)
        elif name == "hardlink.db":
            other.hardlink_to(db)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            before = conn.execute("SELECT run_id, restarts, status FROM runs").fetchall()
        second = subprocess.run(
            [sys.executable, "-m", "kitetui", *SLOW, "--db", str(other)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 7, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "in use by another kitetui desk" in lines[0], lines
        if name != "hardlink.db":  # the lock file beside the real path names the holder
            assert f"pid {first.pid}" in lines[0], lines
        assert "Traceback" not in second.stderr
        assert sorted(
            p.name for p in tmp_path.iterdir() if p.name.startswith(("symlink", "hard"))
        ) == ([name] if name != "state.db" else [])  # the refused desk left nothing beside its name
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            after = conn.execute("SELECT run_id, restarts, status FROM runs").fetchall()
        assert after == before  # the first desk's run was not touched
        assert first.poll() is None  # and the first desk trades on
    finally:
        _stop(first)
    assert first.returncode == 0


def test_sigterm_during_start_up_stops_before_trading(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    proc = _spawn(db, "run", "--no-ui", "--speed", "max")
    _wait_for(lambda: _catches(proc, signal.SIGTERM), timeout=30)  # still importing
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        (status,) = conn.execute("SELECT status FROM runs").fetchone()
    assert status == "STOPPED"


def test_sigusr1_during_start_up_is_recorded_as_the_kill_switch(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    proc = _spawn(db, "run", "--no-ui", "--speed", "max")
    _wait_for(lambda: _catches(proc, signal.SIGUSR1), timeout=30)  # still importing
    proc.send_signal(signal.SIGUSR1)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute("SELECT value FROM desk_state WHERE key='kill_switch'").fetchone()
        entries = conn.execute("SELECT count(*) FROM orders WHERE purpose='ENTRY'").fetchone()
    state = json.loads(value)
    assert state["on"] is True and "SIGUSR1" in state["reason"]
    assert entries == (0,)  # halted from the first batch: no entry ever went out


def test_stale_socket_from_a_dead_desk_is_cleared(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(f"{db}.sock")  # bound, never listening, never removed: a dead desk's
    stale.close()
    proc = _spawn(db, "run", "--no-ui", "--speed", "max")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


async def test_tui_desk_listens_on_its_control_socket(tmp_path: Path) -> None:
    """The desk behind the TUI answers `kitetui ctl` like a headless one."""
    from kitetui.control.client import ControlClient
    from kitetui.runner import SupervisorThread
    from kitetui.supervisor import Supervisor

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["replay"]["speed"] = 30
    config = parse_config(data, "test.yaml")
    db = tmp_path / "state.db"
    runner = SupervisorThread(Supervisor(config, "test.yaml", database=db))
    runner.start()
    try:
        assert await asyncio.to_thread(runner.ready.wait, 60)
        assert runner.error is None, runner.error
        async with ControlClient(Path(f"{db}.sock")) as client:
            # Ready means the market is loaded; the first snapshot comes with the first
            # batch a moment later, and until then the desk says it has none (null).
            status = await asyncio.wait_for(_first_status(client), 10)
        assert status["ok"], status
        assert runner.supervisor.run_id in json.dumps(status)
    finally:
        await asyncio.to_thread(runner.stop)
    assert not Path(f"{db}.sock").exists()
    assert os.path.exists(db)


async def _first_status(client) -> dict:
    """The first ``status`` reply that carries a snapshot (poll until the desk has one)."""
    while True:
        status = await client.request("status")
        if not status.get("ok") or status.get("snapshot") is not None:
            return status
        await asyncio.sleep(0.05)


def test_a_start_refused_for_its_socket_path_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """A regular file where the control socket goes: exit 2 and one line, and the refused
    start no longer left a new STOPPED run that the next start 'resumed'."""
    db = tmp_path / "state.db"

    def run() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "kitetui", "run", "--no-ui", "--speed", "max"]
        return subprocess.run(
            [*command, "--db", str(db)], capture_output=True, text=True, timeout=120
        )

    done = run()
    assert done.returncode == 0, done.stderr
    sock = tmp_path / "state.db.sock"
    sock.write_text("mine")
    before = _digest(db)
    refused = run()
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr == f"error: {sock} exists and is not a socket; not touching it\n"
    assert _digest(db) == before and sock.read_text() == "mine"


def test_sighup_while_trading_stops_the_desk_gracefully(tmp_path: Path) -> None:
    """The SSH session that started a headless desk dropped: SIGHUP killed it outright
    (no summary, no on_stop, the run left RUNNING with its socket and lock behind)."""
    db = tmp_path / "state.db"
    proc = _spawn(db, "run", "--no-ui", "--speed", "60", hangup=True)
    _wait_for(lambda: _trading(db))
    proc.send_signal(signal.SIGHUP)
    try:
        out, err = proc.communicate(timeout=60)
    finally:  # a desk that did not hear it is not left running past the test
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and out  # the summary was printed
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute("SELECT status FROM runs").fetchone()
    assert status == "STOPPED"
    assert not Path(f"{db}.sock").exists()
