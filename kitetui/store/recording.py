"""Recording what a live or paper session received, batch by batch, off the event loop.

The file is gzip text, one line per record: ``B,<ts_ns>`` opens a batch and
``T,<symbol>,<ts_ns>,<price>,<qty>,<oi>`` is a tick in it, in the order processed.
Keeping the batch boundaries is what makes ``kitetui replay`` of a recording make the
same decisions as the session did. A writer thread does the compression and the disk
I/O; the loop only appends to a queue.

A failed write (a full disk above all) is never swallowed by the thread: the next
``record`` raises it on the loop — ``DiskFull`` for ENOSPC, ``RecordingError`` for any
other — so the session stops with one line instead of trading on unrecorded. The file
is owner-only (0600) like the database: it is the session's market view and timing.
"""

from __future__ import annotations

import errno
import gzip
import os
import queue
import threading
import zlib
from pathlib import Path

from kitetui.domain import Bar, Tick
from kitetui.market.replay import Item
from kitetui.private_files import check_own_file, write_private
from kitetui.store.errors import disk_full, is_disk_full

_STOP = object()


class RecordingError(Exception):
    pass


class TickRecorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        refuse_link(path)
        # What a killed session left of the file, made whole before anything is appended.
        self.mended: str | None = mend(path)
        # Created owner-only whatever the umask; an older, more open file is tightened. The
        # writer appends through this descriptor, so the file checked is the file written.
        self._fd = _open_own(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="tick-recorder", daemon=True)
        self.batches = 0
        self.error: Exception | None = None  # the writer thread's failure, raised on the loop
        self._stopped = False
        self._thread.start()

    def record(self, ts_ns: int, batch: list[Item]) -> None:
        """Cheap on the loop: the batch goes to the writer thread as it is."""
        if self.error is not None:
            raise self.error
        self.batches += 1
        self._queue.put((ts_ns, batch))

    def _write(self) -> None:
        try:
            self._write_batches()
        except Exception as exc:  # reported on the loop by the next record()
            if is_disk_full(exc):
                self.error = disk_full(f"{self.path}: recording", exc)
            else:
                self.error = RecordingError(f"{self.path}: recording failed: {exc}")
            while not self._stopped:  # drain until close(), so it never waits on us
                self._stopped = self._queue.get() is _STOP

    def _write_batches(self) -> None:
        # Append mode: a resumed session keeps adding to the same recording.
        with (
            os.fdopen(self._fd, "ab") as raw,
            gzip.open(raw, "at", encoding="ascii", compresslevel=6) as out,
        ):
            while True:
                work = self._queue.get()
                if work is _STOP:
                    self._stopped = True
                    break
                ts_ns, batch = work
                lines = [f"B,{ts_ns}\n"]
                for item in batch:
                    if isinstance(item, Tick):
                        lines.append(
                            f"T,{item.symbol},{item.ts_ns},{item.price!r},{item.qty},{item.oi}\n"
                        )
                out.write("".join(lines))
                if self._queue.empty():
                    out.flush()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer and wait for it; never raises (``error`` says what failed)."""
        self._queue.put(_STOP)
        self._thread.join(timeout)


def load_recording(path: Path) -> list[tuple[int, list[Item]]]:
    """The batches of a recording, exactly as the session processed them."""
    batches: list[tuple[int, list[Item]]] = []
    current: list[Item] | None = None
    try:
        with gzip.open(path, "rt", encoding="ascii") as handle:
            for number, line in enumerate(handle, start=1):
                parts = line.rstrip("\n").split(",")
                if parts[0] == "B" and len(parts) == 2:
                    current = []
                    batches.append((int(parts[1]), current))
                elif parts[0] == "T" and len(parts) == 6 and current is not None:
                    current.append(
                        Tick(parts[1], int(parts[2]), float(parts[3]), int(parts[4]), int(parts[5]))
                    )
                elif parts == [""]:
                    continue
                else:
                    raise RecordingError(f"{path}: line {number}: not a recording record")
    except EOFError:
        # The session was killed mid-write: the last batch may be cut short, so keep
        # only the batches before it (each of those was followed by another record).
        if batches:
            batches.pop()
    except (OSError, ValueError, zlib.error) as exc:
        where = f" after batch {len(batches):,}" if batches else ""
        raise RecordingError(f"{path}: damaged{where}: {exc}") from None
    return batches


def mend(path: Path) -> str | None:
    """Make a recording safe to append to; what was done, or None for a whole file.

    A session killed mid-write leaves its gzip member without an end. Appending a new
    member after it (a resumed session) would make the rest unreadable: the reader takes
    the new member's header for more of the cut one's data. So a cut file is rewritten
    with its whole batches, the cut last one dropped as ``load_recording`` drops it.
    A file damaged otherwise is set aside (``.damaged``), never overwritten, and the
    session records anew."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    kept = 0
    mending = path.with_name(path.name + ".mending")
    mending.unlink(missing_ok=True)  # a killed mend's, or a link planted there
    try:
        with (
            gzip.open(path, "rt", encoding="ascii") as old,
            os.fdopen(_open_own(mending, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb") as raw,
            gzip.open(raw, "wt", encoding="ascii", compresslevel=6) as new,
        ):
            batch: list[str] = []
            try:
                for line in old:
                    if line.startswith("B,"):
                        new.writelines(batch)
                        kept += 1 if batch else 0
                        batch = []
                    batch.append(line)
                new.writelines(batch)
                whole = True
            except EOFError:  # cut short: the batch being read may be cut, so it goes
                whole = False
    except (OSError, ValueError, zlib.error) as exc:
        mending.unlink(missing_ok=True)
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        return f"{path.name} was damaged ({exc}); kept as {aside.name}, recording anew"
    if whole:
        mending.unlink()
        return None
    os.replace(mending, path)
    return f"{path.name} was cut short by a killed session: kept its {kept:,} whole batches"


def refuse_link(path: Path) -> None:
    """A recording or its master is named by the run: a symlink there was planted, and
    writing through it would overwrite the file it points at."""
    if path.is_symlink():
        raise RecordingError(
            f"{path}: is a symbolic link; kitetui never writes a recording through one "
            "(move it aside)"
        )


def _open_own(path: Path, flags: int) -> int:
    """``path`` opened with ``flags``, never through a symlink: a regular file of ours,
    0600 (``RecordingError`` otherwise, before anything is written)."""
    try:
        # Non-blocking: a FIFO with no reader fails at once rather than holding the desk.
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_link(path)
        raise
    try:
        check_own_file(fd, path)
        os.fchmod(fd, 0o600)
        os.set_blocking(fd, True)
    except OSError as exc:
        os.close(fd)
        raise RecordingError(f"{path}: cannot record into it ({exc.strerror})") from None
    return fd


def save_master(recording: Path, raw: bytes) -> None:
    """The instrument master the session trades with, beside its recording (0600): what
    ``kitetui replay`` of the recording resolves its symbols with."""
    master = master_beside(recording)
    refuse_link(master)
    try:
        write_private(master, raw)
    except OSError as exc:
        if is_disk_full(exc):
            raise
        raise RecordingError(
            f"{master}: cannot save the instrument master ({exc.strerror})"
        ) from None


def recording_path(folder: Path, run_id: str) -> Path:
    return folder / f"{run_id}.ticks.gz"


def master_beside(recording: Path) -> Path:
    """The instrument master a session traded with, saved next to its recording."""
    name = recording.name.removesuffix(".gz").removesuffix(".ticks")
    return recording.with_name(f"{name}.instruments.csv")


def check_recording(recording: Path) -> None:
    """Before anything is opened: the recording the user named exists, and so does the
    master saved beside it. Naming the sidecar alone ("x.instruments.csv: file not
    found") would point at a file the user never typed."""
    if not recording.is_file():
        what = "is not a file" if recording.exists() else "file not found"
        raise RecordingError(f"{recording}: {what}")
    master = master_beside(recording)
    if not master.is_file():
        raise RecordingError(
            f"{recording}: the instrument master saved beside it is missing ({master.name})"
        )


def recorded_symbols(batches: list[tuple[int, list[Item]]]) -> set[str]:
    return {item.symbol for _, batch in batches for item in batch if not isinstance(item, Bar)}
