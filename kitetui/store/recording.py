"""Recording what a live or paper session received, batch by batch, off the event loop.

The file is gzip text, one line per record: ``B,<ts_ns>`` opens a batch and
``T,<symbol>,<ts_ns>,<price>,<qty>,<oi>`` is a tick in it, in the order processed.
Keeping the batch boundaries is what makes ``kitetui replay`` of a recording make the
same decisions as the session did. A writer thread does the compression and the disk
I/O; the loop only appends to a queue.
"""

from __future__ import annotations

import gzip
import queue
import threading
from pathlib import Path

from kitetui.domain import Bar, Tick
from kitetui.market.replay import Item

_STOP = object()


class RecordingError(Exception):
    pass


class TickRecorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="tick-recorder", daemon=True)
        self.batches = 0
        self._thread.start()

    def record(self, ts_ns: int, batch: list[Item]) -> None:
        """Cheap on the loop: the batch goes to the writer thread as it is."""
        self.batches += 1
        self._queue.put((ts_ns, batch))

    def _write(self) -> None:
        # Append mode: a resumed session keeps adding to the same recording.
        with gzip.open(self.path, "at", encoding="ascii", compresslevel=6) as out:
            while True:
                work = self._queue.get()
                if work is _STOP:
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
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path}: {exc}") from None
    return batches


def recording_path(folder: Path, run_id: str) -> Path:
    return folder / f"{run_id}.ticks.gz"


def master_beside(recording: Path) -> Path:
    """The instrument master a session traded with, saved next to its recording."""
    name = recording.name.removesuffix(".gz").removesuffix(".ticks")
    return recording.with_name(f"{name}.instruments.csv")


def recorded_symbols(batches: list[tuple[int, list[Item]]]) -> set[str]:
    return {item.symbol for _, batch in batches for item in batch if not isinstance(item, Bar)}
