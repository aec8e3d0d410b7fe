"""The clean-close seal: one hash of the whole file, so a clean restart skips the chains.

Recomputing every checksum chain costs about 1-3 µs a money row in CPython (fetching
the row's columns is most of it), which a desk that restarts every morning would pay
for every row it ever journaled. But a database that kitetui closed cleanly, and that
nobody touched since, need not be re-read row by row: when the last writer connection
closes (and SQLite has folded the WAL into the file), kitetui writes ``<db>-seal``
(0600, through a fresh temp file and a rename) holding the file's size and SHA-256. At
the next start, if the WAL is gone and the file still hashes to the seal, the file is
byte-for-byte one whose chains were verified at its previous start and then extended
only by kitetui's own sealed writes, so the chains and SQLite's structure check are
skipped; hashing runs at disk speed (about 0.25 s for 180 MB here). Anything else — no
seal, a WAL left by a crash, one changed byte — means the full verification (verify.py).

The seal is dropped as soon as a writer opens the file, so a crash never leaves a seal
describing a file that has since changed. A sealed file that changed anyway, and whose
chains all verify, was changed outside the checksummed rows (history such as signals,
or SQLite maintenance): it is accepted, and said, on stderr and in the journal.

Like the chains, the seal has no secret: whoever can rewrite the file and knows this
scheme can rewrite the seal too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

_FORMAT = 1


def seal_path(db: Path) -> Path:
    return db.with_name(db.name + "-seal")


def _wal_holds_data(db: Path) -> bool:
    wal = db.with_name(db.name + "-wal")
    try:
        return wal.stat().st_size > 0
    except FileNotFoundError:
        return False


def _digest(db: Path) -> tuple[int, str]:
    with db.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        return size, hashlib.file_digest(handle, "sha256").hexdigest()


def write_seal(db: Path) -> bool:
    """Seal ``db`` after its last connection closed; False (and no seal) if it cannot be
    (a WAL still holds data: another connection is open, or the close failed)."""
    if _wal_holds_data(db):
        drop_seal(db)
        return False
    size, digest = _digest(db)
    target = seal_path(db)
    body = json.dumps({"format": _FORMAT, "size": size, "sha256": digest}).encode()
    temp: str | None = None
    try:
        # A fresh name (O_EXCL, 0600): a fixed ``-seal.tmp`` opened with O_TRUNC followed
        # a symlink planted there and overwrote the file it pointed at with the seal.
        fd, temp = tempfile.mkstemp(dir=db.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except OSError:  # a seal is an optimisation: without one the next start verifies all
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        return False
    return True


def seal_state(db: Path) -> str:
    """``"match"``: ``db`` is exactly the file kitetui last closed cleanly; ``"changed"``:
    it was sealed and has changed since (with no WAL, so not by a crashed writer);
    ``"none"``: no usable seal, nothing can be said."""
    try:
        seal = json.loads(seal_path(db).read_bytes())
        if not isinstance(seal, dict) or seal.get("format") != _FORMAT or _wal_holds_data(db):
            return "none"
        if db.stat().st_size != seal.get("size"):
            return "changed"
        return "match" if _digest(db)[1] == seal.get("sha256") else "changed"
    except (OSError, ValueError):
        return "none"


def is_sealed(db: Path) -> bool:
    """True if ``db`` is exactly the file kitetui last closed cleanly."""
    return seal_state(db) == "match"


def drop_seal(db: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        seal_path(db).unlink()
