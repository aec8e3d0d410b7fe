"""The tick recorder (kitetui/store/recording.py): private files, failures surfaced.

A writer thread that hits a full disk must not die silently while the session trades
on, unrecorded: the next ``record`` on the loop raises ``DiskFull`` (exit 6), and
``close`` still returns at once.
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
import time
from pathlib import Path

import pytest

from kitetui.domain import Tick
from kitetui.store import errors, recording
from kitetui.store.errors import DiskFull
from kitetui.store.recording import RecordingError, TickRecorder, load_recording


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def wait_for_error(recorder: TickRecorder) -> Exception:
    deadline = time.monotonic() + 10
    while recorder.error is None:
        assert time.monotonic() < deadline, "the writer thread never reported its failure"
        time.sleep(0.01)
    return recorder.error


def test_recorder_with_new_file_is_private_and_round_trips(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "rec" / "run.ticks.gz"
    recorder = TickRecorder(path)
    recorder.record(5, [Tick("INFY", 5, 1500.5, 10, 0)])
    recorder.close()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert load_recording(path) == [(5, [Tick("INFY", 5, 1500.5, 10, 0)])]


def test_recorder_with_existing_open_file_tightens_it(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "run.ticks.gz"
    with gzip.open(path, "at", encoding="ascii") as out:
        out.write("B,1\n")
    path.chmod(0o644)
    TickRecorder(path).close()
    assert mode(path) == 0o600


class _FullDisk:
    """A gzip text stream whose writes fail as on a full filesystem."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), DiskFull, "no space left"),
        (OSError(errno.EIO, "Input/output error"), RecordingError, "recording failed"),
    ],
    ids=["enospc", "eio"],
)
def test_recorder_with_failing_disk_raises_on_the_next_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, kind, says: str
) -> None:
    monkeypatch.setattr(errors, "_disk_full_seen", False)
    monkeypatch.setattr(recording.gzip, "open", lambda *a, **k: _FullDisk(error))
    recorder = TickRecorder(tmp_path / "run.ticks.gz")
    recorder.record(1, [Tick("INFY", 1, 1500.0, 1, 0)])
    assert isinstance(wait_for_error(recorder), kind)
    with pytest.raises(kind, match=says):
        recorder.record(2, [Tick("INFY", 2, 1500.0, 1, 0)])
    recorder.close(timeout=5)  # a bound on a hang, not a measurement
    assert not recorder._thread.is_alive()  # the thread drained and ended


# -- a killed session's recording -----------------------------------------------------------

KILL_AFTER_FLUSH = """
import os, signal, sys, time
from pathlib import Path
from kitetui.domain import Tick
from kitetui.store.recording import TickRecorder
recorder = TickRecorder(Path(sys.argv[1]))
for n in range(1, 501):
    recorder.record(n, [Tick("INFY", n, 1500.0 + n, 1, 0), Tick("TCS", n, 3000.0, 2, 0)])
deadline = time.monotonic() + 10
while recorder._queue.qsize() and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.5)  # the writer flushed its last batch
os.kill(os.getpid(), signal.SIGKILL)
"""


def batch(n: int) -> list[Tick]:
    return [Tick("INFY", n, 1500.0 + n, 1, 0), Tick("TCS", n, 3000.0, 2, 0)]


def test_a_session_resumed_after_a_kill_keeps_a_readable_recording(tmp_path: Path) -> None:
    """Killed with its gzip member open, then resumed on the same file: appending after
    the cut member made the whole recording unreadable (`invalid block type`)."""
    import subprocess
    import sys

    path = tmp_path / "run.ticks.gz"
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FLUSH, str(path)], timeout=60)
    assert killed.returncode == -9
    before = load_recording(path)  # what a replay of the killed session reads
    assert 0 < len(before) < 500

    resumed = TickRecorder(path)
    assert resumed.mended is not None and "cut short" in resumed.mended
    for n in range(1001, 1101):
        resumed.record(n, batch(n))
    resumed.close()

    assert load_recording(path) == [*before, *((n, batch(n)) for n in range(1001, 1101))]
    assert mode(path) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_a_whole_recording_is_appended_to_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "run.ticks.gz"
    first = TickRecorder(path)
    first.record(1, batch(1))
    first.close()
    written = path.read_bytes()
    second = TickRecorder(path)
    assert second.mended is None
    second.record(2, batch(2))
    second.close()
    assert path.read_bytes().startswith(written)
    assert load_recording(path) == [(1, batch(1)), (2, batch(2))]


def test_a_damaged_recording_is_set_aside_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "run.ticks.gz"
    text = "".join(f"B,{n}\nT,INFY,{n},1500.0,1,0\n" for n in range(2000)).encode()
    damaged = bytearray(gzip.compress(text, mtime=0))
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))

    with pytest.raises(RecordingError, match=f"^{path}: damaged"):
        load_recording(path)  # one line for `kitetui replay`, not a zlib traceback

    recorder = TickRecorder(path)
    assert recorder.mended is not None and "run.ticks.gz.damaged" in recorder.mended
    recorder.record(7, batch(7))
    recorder.close()
    assert (tmp_path / "run.ticks.gz.damaged").read_bytes() == bytes(damaged)
    assert load_recording(path) == [(7, batch(7))]
