"""Opening the one SQLite file safely: WAL, integrity check, forward migrations.

A database that is not SQLite, fails its integrity check, or carries a schema newer
than this program understands is refused with ``DatabaseRefused`` and left exactly as
it was found: a trader's journal is never overwritten to make a start succeed.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from kitetui.store.schema import MIGRATIONS, SCHEMA_VERSION

_SQLITE_MAGIC = b"SQLite format 3\x00"


class DatabaseRefused(Exception):
    """The database cannot be used; the message says why and that it was not touched."""


def _check_header(path: Path) -> None:
    if path.is_dir():
        raise DatabaseRefused(f"{path} is a directory, not a database file; it was left untouched.")
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(len(_SQLITE_MAGIC))
    if header != _SQLITE_MAGIC:
        raise DatabaseRefused(
            f"{path} is not a SQLite database (bad header); it was left untouched. "
            "Move it aside or point 'database:' at another file."
        )


async def open_database(path: str | Path, *, synchronous: str = "FULL") -> aiosqlite.Connection:
    """Open (or create) the database, verify it, and bring its schema up to date."""
    path = Path(path)
    _check_header(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        try:
            await db.execute("PRAGMA busy_timeout = 5000")
            result = await (await db.execute("PRAGMA quick_check")).fetchone()
        except aiosqlite.DatabaseError as exc:
            raise DatabaseRefused(
                f"{path} cannot be read as a database ({exc}); it was left untouched."
            ) from None
        if result is None or result[0] != "ok":
            raise DatabaseRefused(
                f"{path} failed its integrity check ({result[0] if result else 'no answer'}); "
                "it was left untouched. Restore it from a backup or move it aside."
            )
        version = (await (await db.execute("PRAGMA user_version")).fetchone())[0]
        if version > SCHEMA_VERSION:
            raise DatabaseRefused(
                f"{path} has schema version {version}, newer than this kitetui understands "
                f"({SCHEMA_VERSION}); it was left untouched. Upgrade kitetui."
            )
        if version > 0:
            tables = await (
                await db.execute("SELECT name FROM sqlite_master WHERE name = 'runs'")
            ).fetchone()
            if tables is None:
                raise DatabaseRefused(
                    f"{path} has user_version {version} but no kitetui tables: it belongs to "
                    "something else and was left untouched."
                )
        elif (await (await db.execute("SELECT count(*) FROM sqlite_master")).fetchone())[0]:
            raise DatabaseRefused(
                f"{path} is a SQLite database of another program; it was left untouched."
            )
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute(f"PRAGMA synchronous = {synchronous}")
        await db.execute("PRAGMA foreign_keys = ON")
        for index in range(version, SCHEMA_VERSION):
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(MIGRATIONS[index]):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {index + 1}")
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
    except BaseException:
        await db.close()
        raise
    return db


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
