"""The one terminal driver: a command in a pseudo-terminal, every byte it writes kept.

``PtyTerminal`` spawns a command on a new pty of ``cols`` x ``rows`` and a thread reads
what it writes as it comes, keeping each chunk's arrival time (``perf_counter``). From
that: time to the first byte, to the first frame, to a pattern; frames and bytes in a
window; the size of each frame; the screen's text for diagnostics. Keys go in with
``send``.

The driver plays a modern terminal: it answers Textual's DECRQM query for synchronized
output (``ESC[?2026$p`` -> ``ESC[?2026;2$y``, "supported, not set"), as kitty, WezTerm,
iTerm2, foot, Windows Terminal and recent tmux do. Textual then wraps every screen
update in ``ESC[?2026h`` ... ``ESC[?2026l`` (``App._display`` -> ``_begin_update`` /
``_end_update``), so each begin marker is one frame. Without the answer Textual writes
no markers and frames cannot be told apart.

The child is ended through its own ``Popen`` (kill, then wait) on every way out.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import itertools
import os
import re
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

from benchlib.procs import clean_env

SYNC_BEGIN = b"\x1b[?2026h"
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_ANSWER = b"\x1b[?2026;2$y"
#: a data date in the header ("data 2022-11-18 09:15:03"): only a desk with data shows one
DATA_DATE_RE = re.compile(rb"20\d\d-[01]\d-[0-3]\d")
#: the mode in the header: shown once any snapshot arrived, at every width
MODE_RE = re.compile(rb"REPLAY|PAPER|LIVE")
#: what the attached TUI says when the desk has gone (the RemoteLink keeps reconnecting)
GONE_RE = re.compile(rb"(?i)reconnecting to the desk|not connected|the desk stopped")
ESCAPE_RE = re.compile(rb"\x1b(?:\[[0-9;?$>=<]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|.)")


def spawn_in_pty(
    command: list[str], cwd: str | Path, rows: int, cols: int, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` on a new pty of ``cols`` x ``rows``; returns it and the master fd."""
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        proc = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return proc, master


class PtyTerminal:
    """A command in a pty of ``cols`` x ``rows``; every output byte kept with its time."""

    def __init__(
        self, command: list[str], cwd: str | Path, rows: int, cols: int, answer_sync: bool = True
    ) -> None:
        self.command = command
        self.cwd = cwd
        self.rows = rows
        self.cols = cols
        self.answer_sync = answer_sync
        self.proc: subprocess.Popen[bytes] | None = None
        self.master = -1
        self.t0 = 0.0
        self.buf = bytearray()
        self.ends: list[int] = []  # end offset of each chunk read
        self.times: list[float] = []  # perf_counter when it was read
        self.frame_times: list[float] = []  # one per SYNC_BEGIN, when its chunk was read
        self.answered_sync = False
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    # ---- life -------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the command; ``t0`` is taken just before, so times include start-up."""
        self.t0 = time.perf_counter()
        self.proc, master = spawn_in_pty(
            self.command, self.cwd, self.rows, self.cols, clean_env(TERM="xterm-256color")
        )
        self.master = master
        self.thread = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        tail = b""
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # EIO: every slave fd is closed, the child is gone
                break
            if not chunk:
                break
            now = time.perf_counter()
            data = tail + chunk
            if self.answer_sync and not self.answered_sync and SYNC_QUERY in data:
                self.answered_sync = True
                with contextlib.suppress(OSError):
                    os.write(self.master, SYNC_ANSWER)
            begins = 0
            start = 0
            while (found := data.find(SYNC_BEGIN, start)) >= 0:
                if found + len(SYNC_BEGIN) > len(tail):  # not counted with the last chunk
                    begins += 1
                start = found + 1
            with self.lock:
                self.buf += chunk
                self.ends.append(len(self.buf))
                self.times.append(now)
                self.frame_times.extend([now] * begins)
            tail = data[-16:]

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def quit(self, key: bytes = b"q", timeout: float = 15.0) -> tuple[int | None, float]:
        """Type ``key``; (return code or None if still running, seconds it took)."""
        t = time.perf_counter()
        if self.alive():
            with contextlib.suppress(OSError):
                self.send(key)
        code = self.wait_exit(timeout)
        return code, time.perf_counter() - t

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.thread is not None:
            self.thread.join(5)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def __enter__(self) -> PtyTerminal:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what was written -------------------------------------------------------

    def first_byte_s(self) -> float | None:
        """Seconds from the spawn to the first byte on the terminal."""
        with self.lock:
            return self.times[0] - self.t0 if self.times else None

    def first_frame_s(self) -> float | None:
        """Seconds from the spawn to the first frame (synchronized-update marker)."""
        with self.lock:
            return self.frame_times[0] - self.t0 if self.frame_times else None

    def time_at(self, offset: int) -> float:
        """When the byte at ``offset`` was read (perf_counter)."""
        with self.lock:
            return self.times[bisect.bisect_right(self.ends, offset)]

    def offset_at(self, when: float) -> int:
        """Bytes read before ``when``."""
        with self.lock:
            index = bisect.bisect_left(self.times, when)
            return self.ends[index - 1] if index else 0

    def search(self, pattern: re.Pattern[bytes], since: float = 0.0) -> float | None:
        """perf_counter when ``pattern`` first appeared in output read at or after ``since``."""
        start = max(0, self.offset_at(since) - 64)
        with self.lock:
            data = bytes(self.buf[start:])
        match = pattern.search(data)
        return None if match is None else self.time_at(start + match.end() - 1)

    def wait_for(
        self, pattern: re.Pattern[bytes], timeout: float, since: float = 0.0, poll: float = 0.01
    ) -> float | None:
        """Poll until ``pattern`` shows up; its arrival time (perf_counter) or None."""
        deadline = time.perf_counter() + timeout
        scanned = since
        while True:
            now = time.perf_counter()
            found = self.search(pattern, scanned)
            if found is not None:
                return found
            if now > deadline or not self.alive():
                return self.search(pattern, scanned)
            scanned = max(since, now - 0.5)  # re-scan a little: a chunk may be mid-read
            time.sleep(poll)

    def window(self, t_from: float, t_to: float) -> tuple[int, int]:
        """(frames, bytes) written between two perf_counter instants."""
        with self.lock:
            frames = bisect.bisect_left(self.frame_times, t_to) - bisect.bisect_left(
                self.frame_times, t_from
            )
        return frames, self.offset_at(t_to) - self.offset_at(t_from)

    def frame_sizes(self, t_from: float, t_to: float) -> list[int]:
        """Bytes of each frame (from one SYNC_BEGIN to the next) begun inside the window."""
        start, end = self.offset_at(t_from), self.offset_at(t_to)
        with self.lock:
            data = bytes(self.buf[start:end])
        cuts = [m.start() for m in re.finditer(re.escape(SYNC_BEGIN), data)]
        return [b - a for a, b in itertools.pairwise(cuts)]

    def text(self, since: float = 0.0, limit: int = 3000) -> str:
        """The output since ``since`` with escape sequences removed (for diagnostics)."""
        start = self.offset_at(since)
        with self.lock:
            data = bytes(self.buf[start:])
        plain = ESCAPE_RE.sub(b" ", data).decode("utf-8", "replace")
        return re.sub(r"\s+", " ", plain)[-limit:]
