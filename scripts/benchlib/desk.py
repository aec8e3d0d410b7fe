"""A desk to measure: its database in a fresh temporary folder, a headless daemon on it,
the daemon's control socket, and a read-only look into its database while it runs.

Every database a benchmark touches lives in a temporary folder that is removed on the
way out, whatever happens. Folders are short (``prefix="kt"`` under the system temp
dir) where a control socket sits beside the database: a Unix socket path is limited to
about 107 bytes.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchlib.procs import clean_env, kitetui_command


@contextlib.contextmanager
def temp_db(
    name: str = "state.db", prefix: str = "kt", dir: str | Path | None = None
) -> Iterator[Path]:
    """A database path in a new temporary folder (``path.parent``), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=dir) as folder:
        yield Path(folder) / name


def socket_status(sock: Path, timeout: float = 2.0) -> dict | None:
    """One ``status`` request on the control socket (JSON lines); None if no answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(b'{"id": 1, "cmd": "status"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data)
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) and reply.get("ok") else None


class Daemon:
    """``python -m kitetui run --no-ui --speed SPEED --db FOLDER/NAME`` (demo config).

    Its output goes to a file beside the database (read back for errors and for the
    replay's own summary). Stopped with SIGTERM, then SIGKILL, on every way out.
    """

    def __init__(self, folder: str | Path, speed: str, name: str = "state.db") -> None:
        self.folder = Path(folder)
        self.db = self.folder / name
        self.sock = Path(f"{self.db}.sock")
        self.speed = speed
        self.command = kitetui_command("run", "--no-ui", "--speed", speed, "--db", str(self.db))
        self.proc: subprocess.Popen[bytes] | None = None
        self.out_path = self.folder / f"{name}.out"
        self.started = 0.0
        self.exited_at: float | None = None

    def start(self) -> None:
        self.started = time.perf_counter()
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        if self.proc is None:
            return False
        if self.proc.poll() is None:
            return True
        if self.exited_at is None:
            self.exited_at = time.perf_counter()
        return False

    def wait_socket(self, timeout: float = 60.0, poll: float = 0.01) -> float:
        """Seconds from start until the socket file exists (it is created, then listened)."""
        while time.perf_counter() - self.started < timeout:
            if self.sock.exists():
                return time.perf_counter() - self.started
            if not self.alive():
                raise RuntimeError(f"the daemon exited early:\n{self.output()}")
            time.sleep(poll)
        raise RuntimeError(f"no control socket after {timeout} s:\n{self.output()}")

    def wait_ctl_status(self, timeout: float = 60.0) -> float:
        """Seconds from start until ``kitetui ctl --db DB status --json`` answers (rc 0)."""
        self.wait_socket(timeout)
        while time.perf_counter() - self.started < timeout:
            result = subprocess.run(
                kitetui_command("ctl", "--db", str(self.db), "status", "--json"),
                capture_output=True,
                env=clean_env(),
                cwd=self.folder,
                timeout=30,
            )
            if result.returncode == 0 and json.loads(result.stdout or b"null"):
                return time.perf_counter() - self.started
            if not self.alive():
                raise RuntimeError(f"the daemon exited early:\n{self.output()}")
            time.sleep(0.05)
        raise RuntimeError(f"`kitetui ctl status` did not answer in {timeout} s")

    def output(self) -> str:
        try:
            return self.out_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def replay_wall_s(self) -> float | None:
        """The replay wall time the headless summary prints ('..., 3.19 s wall')."""
        match = re.search(r"replayed .*?([\d.]+) s wall", self.output())
        return float(match.group(1)) if match else None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a clean stop), then SIGKILL after ``timeout``; the return code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.alive()
        return self.proc.returncode

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DbPoller:
    """Read-only queries on a database another process writes; None until it can answer
    (the file may not exist yet, or be mid-checkpoint)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def query(self, sql: str) -> list[tuple] | None:
        try:
            if self.conn is None:
                if not self.path.exists():
                    return None
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)
            return self.conn.execute(sql).fetchall()
        except sqlite3.Error:
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
