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
