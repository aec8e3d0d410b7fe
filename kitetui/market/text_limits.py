"""How much text one data file may hold: its bytes, what its gzip decompresses to, its lines.

A data file is read whole, a gzip one decompressed whole, and the columnar parser
(``columnar.py``) keeps a few integers for every line. Unbounded, a small file could take
the machine's memory: a 6.5 MB gzip of newlines decompresses to 1.5 GB, which that parser
would have needed some 30 GB for, and a careful row-by-row read of a billion blank lines
takes minutes. So a file is refused (``TooLarge``, exit 4 through the loaders) beyond:

* ``MAX_TEXT_BYTES`` of text, on disk or once decompressed (1 GiB). A year of one-minute
  bars of one symbol is ~5 MB, Kite's whole instrument dump ~10 MB, a busy day of one
  option's ticks a few MB: recordings larger than this belong in one file a day;
* ``MAX_LINES`` lines (50 million): 1 GiB of real rows (~40 bytes each) is ~27 million
  lines, so more lines than this are blank or near blank, never data.

The decompression stops as soon as the text passes the bound, so refusing a bomb costs
about the bound in memory, not the bomb's size.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

__all__ = [
    "MAX_LINES",
    "MAX_TEXT_BYTES",
    "CappedReader",
    "TooLarge",
    "check_lines",
    "gunzip",
    "read_file",
]

MAX_TEXT_BYTES = 1 << 30
MAX_LINES = 50_000_000
_CHUNK = 16 << 20


class TooLarge(Exception):
    """A file past one of the bounds; the message is the reason, for ``PATH: reason``."""


def read_file(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes, refused before reading when the file is larger than ``limit``
    (``MAX_TEXT_BYTES`` by default; ``OSError`` as ``Path.read_bytes`` raises it)."""
    limit = MAX_TEXT_BYTES if limit is None else limit
    with path.open("rb") as handle:
        size = _size_of(handle)
        if size > limit:
            raise TooLarge(f"{_mib(size)} on disk, more than the {_mib(limit)} a data file may be")
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise TooLarge(f"more than the {_mib(limit)} a data file may be")
    return data


def gunzip(raw: bytes, limit: int | None = None) -> bytes:
    """``gzip.decompress(raw)`` (every member), refused once the text passes ``limit``
    (``MAX_TEXT_BYTES`` by default). A damaged stream raises as ``gzip.decompress``
    does (``OSError``, ``EOFError``, ``zlib.error``)."""
    limit = MAX_TEXT_BYTES if limit is None else limit
    parts: list[bytes] = []
    total = 0
    with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as stream:
        while chunk := stream.read(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise TooLarge(f"decompresses to more than the {_mib(limit)} a data file may be")
            parts.append(chunk)
    return b"".join(parts)


def check_lines(data: bytes, limit: int | None = None) -> None:
    """Refuse text of more than ``limit`` lines (``MAX_LINES`` by default; counted in
    C, ~0.1 s a GB)."""
    limit = MAX_LINES if limit is None else limit
    lines = data.count(b"\n")
    if lines > limit:
        raise TooLarge(f"{lines:,} lines, more than the {limit:,} a data file may have")


class CappedReader(io.RawIOBase):
    """A binary stream that raises ``TooLarge`` once more than ``limit`` bytes or
    ``lines`` newlines came through: the careful path's bound when it reads a file (or a
    gzip stream) as it goes rather than whole."""

    def __init__(
        self, stream: io.BufferedIOBase, limit: int | None = None, lines: int | None = None
    ) -> None:
        super().__init__()
        limit = MAX_TEXT_BYTES if limit is None else limit
        lines = MAX_LINES if lines is None else lines
        self._stream = stream
        self._left = limit
        self._lines_left = lines
        self._limit = limit
        self._lines = lines

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        n = len(data)
        self._left -= n
        if self._left < 0:
            raise TooLarge(f"more than the {_mib(self._limit)} of text a data file may be")
        self._lines_left -= data.count(b"\n")
        if self._lines_left < 0:
            raise TooLarge(f"more than the {self._lines:,} lines a data file may have")
        buffer[:n] = data
        return n

    def close(self) -> None:
        self._stream.close()
        super().close()


def _size_of(handle: io.BufferedReader) -> int:
    try:
        return handle.seek(0, io.SEEK_END)
    finally:
        handle.seek(0)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size:,} bytes"
