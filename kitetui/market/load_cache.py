"""A private on-disk cache of parsed data files, keyed by their content.

Parsing half a million CSV rows is most of a short replay's start; the files rarely
change. ``kitetui.market.loaders`` keeps each file's parsed form (its columns and the
findings of its load, without the file's path) here, under a key that hashes the
file's bytes, the load's options (kind, symbol, bar length, session filter, whether
the name ends in ``.gz``: a ``NotGzip`` finding depends on it) and the
source of the modules that shape the result, so an edited file or a changed loader
misses the cache instead of replaying stale data. Nothing but speed depends on it:

* where: ``$KITETUI_CACHE_DIR``, else ``$XDG_CACHE_HOME/kitetui``, else
  ``~/.cache/kitetui`` (never the repository or the data folder); the folder is made
  ``0700`` and each file ``0600``, as the journal's files;
* ``KITETUI_LOAD_CACHE=off`` (or ``0``/``no``/``false``), or ``LoadCache(None)``,
  turns it off;
* only entries written by this user are read (a shared folder's others are rebuilt);
* a file is written to a temporary name and renamed, so a reader sees a whole entry or
  none; an entry that is truncated or damaged (checksums over its header and its
  columns) is ignored, said in a ``LoadCacheDamaged`` finding, and rewritten;
* a folder that cannot be made or written is said once (``LoadCacheWriteFailed``) and
  the load goes on without the cache;
* it stays bounded: a hit refreshes its entry's time, and after a write (the first of a
  load, then every 64 MB) the entries least recently used go until the folder holds
  ``MAX_BYTES`` at most (the entry just written always stays). Every upgrade of kitetui
  changes every key, so without this the old entries would pile up for ever; a
  temporary file a killed load left behind goes after an hour.

An entry is ``MAGIC | header length | header CRC | header JSON | columns``, the JSON
naming each column's dtype, length and offset: plain bytes, no pickle, so reading a
damaged or foreign file can only fail, never run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kitetui.events import EventKind

__all__ = ["CACHE_ENV", "DISABLE_ENV", "CacheEntry", "LoadCache"]

CACHE_ENV = "KITETUI_CACHE_DIR"
DISABLE_ENV = "KITETUI_LOAD_CACHE"
# The entry layout (2: narrow columns, kitetui/market/packed.py); the loaders' source is
# hashed into every key as well.
FORMAT = 2
_MAGIC = b"KTLCACH1"
# What the folder may hold: a year of 20 symbols' 1-minute bars is ~55 MB of columns.
MAX_BYTES = 1 << 30
_STALE_TEMP_S = 3600
_PRUNE_EVERY_BYTES = 64 << 20
_PREAMBLE = struct.Struct("<8sII")  # magic, header length, header CRC-32
_DTYPES = {"int8": "<i1", "int16": "<i2", "int32": "<i4", "int64": "<i8", "float64": "<f8"}
_OFF = ("0", "off", "no", "false")
# The modules whose code decides what a load returns: a change to any of them is a
# change of format, so it is hashed into every key.
_SHAPING = (
    "loaders.py",
    "columnar.py",
    "index_loader.py",
    "load_cache.py",
    "bars.py",
    "packed.py",
    "futures_series.py",  # which days a continuous future's rows are kept
    "contract_symbols.py",
)

Trouble = tuple[EventKind, str]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What was stored: the columns by name and the findings as plain tuples."""

    columns: dict[str, np.ndarray]
    findings: tuple[tuple[int, str, str, str, dict[str, object]], ...]


class LoadCache:
    """The cache folder (``None``: no cache); ``from_env`` finds the usual one."""

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = None if directory is None else Path(directory).expanduser()
        self._write_failed = False
        # Pruning lists the folder: done at the first write, then every 64 MB written,
        # not at every write (a load of a thousand files would list it a thousand times).
        self._pruned_once = False
        self._unpruned = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadCache:
        env = os.environ if environ is None else environ
        if env.get(DISABLE_ENV, "").strip().lower() in _OFF:
            return cls(None)
        if env.get(CACHE_ENV):
            return cls(env[CACHE_ENV])
        xdg = env.get("XDG_CACHE_HOME", "")
        if xdg and Path(xdg).is_absolute():
            return cls(Path(xdg) / "kitetui")
        try:
            return cls(Path.home() / ".cache" / "kitetui")
        except RuntimeError:  # no home directory to be found: no cache, not a failure
            return cls(None)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def key(self, raw: bytes, options: Sequence[object]) -> str:
        """The entry name for a file's bytes loaded with ``options``."""
        digest = hashlib.sha256()
        digest.update(f"{FORMAT}|{_code_digest()}|{options!r}|".encode())
        digest.update(raw)
        return digest.hexdigest()

    def _file(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"load-{key}.cols"

    # ------------------------------------------------------------------- reading

    def get(self, key: str, names: Sequence[str]) -> tuple[CacheEntry | None, Trouble | None]:
        """The entry stored under ``key`` with columns ``names``; (None, None) when
        there is none, (None, why) when the one there is damaged."""
        if self.directory is None:
            return None, None
        path = self._file(key)
        try:
            with path.open("rb") as handle:
                owner = os.fstat(handle.fileno()).st_uid
                # A checksum is no signature: an entry another user wrote (into a shared
                # $KITETUI_CACHE_DIR) could carry any prices, so only our own are read.
                if owner != os.geteuid():
                    return None, _damaged(path, f"written by uid {owner}, not by you")
                data = handle.read()
        except (FileNotFoundError, NotADirectoryError):  # no entry (or no folder) yet
            return None, None
        except OSError as exc:
            return None, _damaged(path, f"unreadable: {exc.strerror or exc}")
        try:
            entry = _decode(data, key, names)
        except (ValueError, TypeError, KeyError, struct.error) as exc:
            return None, _damaged(path, str(exc) or type(exc).__name__)
        with contextlib.suppress(OSError):  # its use time, for pruning; only speed at stake
            os.utime(path)
        return entry, None

    # ------------------------------------------------------------------- writing

    def put(
        self,
        key: str,
        columns: Mapping[str, np.ndarray],
        findings: Sequence[tuple[int, str, str, str, dict[str, object]]],
    ) -> Trouble | None:
        """Store an entry (atomically); why not, the first time it cannot be done."""
        if self.directory is None or self._write_failed:
            return None
        try:
            self._ready()
            data = _encode(key, columns, findings)
            handle, temp = tempfile.mkstemp(dir=self.directory, prefix=".load-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temp, self._file(key))
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except (OSError, TypeError, ValueError) as exc:  # no room, no right, or no format
            self._write_failed = True
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return (
                EventKind.LOAD_CACHE_WRITE_FAILED,
                f"load cache {self.directory} not written ({why}); loading goes on without it",
            )
        self._unpruned += len(data)
        if self._unpruned >= _PRUNE_EVERY_BYTES or not self._pruned_once:
            self._unpruned, self._pruned_once = 0, True
            with contextlib.suppress(OSError):  # a folder we cannot list keeps its size
                self.prune(keep=self._file(key))
        return None

    def prune(self, keep: Path | None = None, limit: int | None = None) -> int:
        """Remove the least recently used entries until the folder holds ``limit``
        bytes (``MAX_BYTES``) at most, never ``keep``; and temporary files older than an
        hour. Another process may be pruning too: a file already gone is skipped. The
        number of files removed."""
        if self.directory is None:
            return 0
        limit = MAX_BYTES if limit is None else limit
        now = time.time()
        entries: list[tuple[float, int, Path]] = []
        removed = 0
        for path in self.directory.iterdir():
            try:
                info = path.stat()
            except OSError:
                continue
            if path.name.startswith(".load-") and path.name.endswith(".tmp"):
                if now - info.st_mtime > _STALE_TEMP_S and _unlink(path):
                    removed += 1
            elif path.name.startswith("load-") and path.name.endswith(".cols"):
                entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda e: e[0]):  # oldest use first
            if total <= limit:
                break
            if path != keep and _unlink(path):
                total -= size
                removed += 1
        return removed

    def _ready(self) -> None:
        """The folder exists, is a folder and is private (0700)."""
        assert self.directory is not None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = self.directory.stat().st_mode & 0o777
        if mode != 0o700:
            os.chmod(self.directory, 0o700)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:  # gone already (another process pruned it), or not ours to remove
        return False
    return True


def _damaged(path: Path, why: str) -> Trouble:
    return (
        EventKind.LOAD_CACHE_DAMAGED,
        f"load cache entry {path.name} damaged ({why}); rebuilt from the data file",
    )


def _encode(
    key: str,
    columns: Mapping[str, np.ndarray],
    findings: Sequence[tuple[int, str, str, str, dict[str, object]]],
) -> bytes:
    blobs = []
    described = []
    offset = 0
    for name, column in columns.items():
        dtype = str(column.dtype)
        if dtype not in _DTYPES:
            raise ValueError(f"column {name} of dtype {dtype} cannot be cached")
        blob = np.ascontiguousarray(column, dtype=_DTYPES[dtype]).tobytes()
        described.append([name, dtype, len(column), offset])
        blobs.append(blob)
        offset += len(blob)
    payload = b"".join(blobs)
    header = json.dumps(
        {
            "format": FORMAT,
            "key": key,
            "payload_crc": zlib.crc32(payload),
            "payload_size": len(payload),
            "columns": described,
            "findings": [
                [int(ts), str(kind), msg, level, data] for ts, kind, msg, level, data in findings
            ],
        },
        separators=(",", ":"),
    ).encode()
    return _PREAMBLE.pack(_MAGIC, len(header), zlib.crc32(header)) + header + payload


def _decode(data: bytes, key: str, names: Sequence[str]) -> CacheEntry:
    """An entry's columns and findings; ValueError (or kin) for anything not whole."""
    magic, size, crc = _PREAMBLE.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not a load cache entry")
    start = _PREAMBLE.size
    header_bytes = data[start : start + size]
    if len(header_bytes) != size or zlib.crc32(header_bytes) != crc:
        raise ValueError("header checksum mismatch (truncated?)")
    header = json.loads(header_bytes)
    payload = data[start + size :]
    if header["format"] != FORMAT or header["key"] != key:
        raise ValueError("entry of another format or key")
    if len(payload) != header["payload_size"] or zlib.crc32(payload) != header["payload_crc"]:
        raise ValueError("column checksum mismatch (truncated?)")
    columns: dict[str, np.ndarray] = {}
    lengths = set()
    for name, dtype, length, offset in header["columns"]:
        columns[name] = np.frombuffer(
            payload, dtype=np.dtype(_DTYPES[dtype]), count=length, offset=offset
        ).astype(dtype)
        lengths.add(length)
    if list(columns) != list(names) or len(lengths) != 1:
        raise ValueError("columns differ from the loader's")
    findings = []
    for ts, kind, message, level, found in header["findings"]:
        if not (
            isinstance(ts, int)
            and isinstance(kind, str)
            and isinstance(message, str)
            and isinstance(level, str)
            and isinstance(found, dict)
        ):
            raise ValueError("malformed finding")
        EventKind(kind)  # ValueError for a kind this version does not know
        findings.append((ts, kind, message, level, found))
    return CacheEntry(columns, tuple(findings))


_CODE: list[str] = []


def _code_digest() -> str:
    """A hash of the source of the modules that shape a load (``_SHAPING``)."""
    if not _CODE:
        digest = hashlib.sha256()
        here = Path(__file__).resolve().parent
        for name in _SHAPING:
            try:
                digest.update((here / name).read_bytes())
            except OSError:
                digest.update(name.encode())
        _CODE.append(digest.hexdigest()[:16])
    return _CODE[0]
