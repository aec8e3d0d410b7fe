"""The database damage corpus: ways a journal file gets hurt, and what kitetui must do.

Each ``Damage`` takes a copy of a real database (built once by the real CLI: a finished
demo replay, and one SIGKILLed mid-run so its WAL holds the unfinished run that the
resume path would read), hurts it the way a fault or a person would — random bytes at
seeded offsets, truncation, an edit with the sqlite3 module in each money table, a row
removed, swapped or added, a dropped table or column, a foreign WAL, a path that
cannot hold a database — and names the exit code and the one stderr line it expects.

``run_case`` runs ``python -m kitetui run --no-ui --speed max --db PATH`` on it and
reports what happened; tests/attacks/test_database_damage.py asserts on that, and
scripts/attack_db_corpus.py prints it as a table. Every case must end with its exit
code, exactly one stderr line and no traceback, and the database and its WAL must hash
the same before and after (a refused database is never modified).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXIT_CONFIG = 2
EXIT_DATABASE = 3
CLI_TIMEOUT_S = 120.0


# -- the master databases ------------------------------------------------------------------


@dataclass(frozen=True)
class Masters:
    finished: Path  # a demo replay run to its end (sealed on close)
    interrupted: Path  # SIGKILLed mid-run: its -wal holds the run the resume path reads


def kitetui(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """The real CLI in a fresh interpreter (as tests/cli_helpers.py ``run_kitetui``)."""
    return subprocess.run(
        [sys.executable, "-m", "kitetui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build_masters(folder: Path) -> Masters:
    folder.mkdir(parents=True, exist_ok=True)
    finished = folder / "finished.db"
    done = kitetui("run", "--no-ui", "--speed", "max", "--db", str(finished))
    if done.returncode != 0:
        raise RuntimeError(f"the demo run failed: {done.stderr or done.stdout}")
    interrupted = folder / "interrupted.db"
    _killed_mid_run(interrupted)
    return Masters(finished, interrupted)


def _killed_mid_run(path: Path, fills: int = 5) -> None:
    log = path.with_suffix(".log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kitetui", "run", "--no-ui", "--speed", "4000", "--db", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the interrupted run ended before it could be killed")
            if _count(path, "fills") >= fills:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("the interrupted run never reached its kill point")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    wal = path.with_name(path.name + "-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        raise RuntimeError("the killed run left no WAL: the resume cases would mean nothing")


def _count(path: Path, table: str) -> int:
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


# -- the damages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Damage:
    name: str
    apply: Callable[[Masters, Path], Path]  # (masters, empty case folder) -> --db path
    says: str  # regex the one stderr line must match
    exit_code: int = EXIT_DATABASE


def _copy(master: Path, folder: Path) -> Path:
    path = folder / "state.db"
    shutil.copyfile(master, path)
    os.chmod(path, 0o600)
    wal = master.with_name(master.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, folder / "state.db-wal")
        os.chmod(folder / "state.db-wal", 0o600)
    return path


def finished(masters: Masters, folder: Path) -> Path:
    return _copy(masters.finished, folder)


def interrupted(masters: Masters, folder: Path) -> Path:
    return _copy(masters.interrupted, folder)


def sql(base: Callable[[Masters, Path], Path], *statements: str) -> Callable:
    """An edit made with the sqlite3 module, as a person with the shell would."""

    def apply(masters: Masters, folder: Path) -> Path:
        path = base(masters, folder)
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA wal_autocheckpoint = 0")  # an interrupted base keeps its WAL
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
        return path

    return apply


def random_bytes(seed: int, count: int = 64) -> Callable:
    """``count`` random bytes at offsets spread over the file (the header is spared)."""

    def apply(masters: Masters, folder: Path) -> Path:
        path = finished(masters, folder)
        data = bytearray(path.read_bytes())
        rng = random.Random(seed)
        for offset in rng.sample(range(100, len(data)), count):
            data[offset] = rng.randrange(256)
        path.write_bytes(bytes(data))
        return path

    return apply


def _varint(data: bytearray, at: int) -> tuple[int, int]:
    """SQLite's big-endian varint at ``at``: (value, its length in bytes)."""
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + 1
    raise AssertionError("unreachable")


def _cell_size(data: bytearray, at: int) -> int:
    """A table leaf cell's length: payload size, rowid, payload (no overflow here)."""
    payload, first = _varint(data, at)
    _rowid, second = _varint(data, at + first)
    return first + second + payload


def byte_in_a_row(table: str, seed: int) -> Callable:
    """One random byte of one random row of ``table``: a cell of one of its leaf pages,
    found through SQLite's page map (``dbstat``) and the page's own cell pointers.

    A random byte anywhere in the file lands in the journal's history (signals, the
    instrument cache) nine times in ten, which kitetui does not checksum (see
    kitetui/store/seal.py for what it says then); this one always lands in a money row.
    """

    def apply(masters: Masters, folder: Path) -> Path:
        path = finished(masters, folder)
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            pages = [
                r[0]
                for r in con.execute(
                    "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' "
                    "ORDER BY pageno",
                    (table,),
                )
            ]
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
        finally:
            con.close()
        rng = random.Random(seed)
        data = bytearray(path.read_bytes())
        start = (rng.choice(pages) - 1) * page_size
        (cells,) = struct.unpack(">H", data[start + 3 : start + 5])
        pointers = sorted(
            struct.unpack(">H", data[start + 8 + 2 * i : start + 10 + 2 * i])[0]
            for i in range(cells)
        )
        at = rng.randrange(len(pointers))
        cell = pointers[at]
        # The row's own bytes only: a row rewritten in place (its seal) can leave free
        # space between cells, where a changed byte damages nothing anybody reads.
        end = min([*pointers, page_size][at + 1], cell + _cell_size(data, start + cell))
        offset = start + rng.randrange(cell, end)
        data[offset] = (data[offset] + rng.randrange(1, 256)) % 256  # always a new value
        path.write_bytes(bytes(data))
        return path

    return apply


def quiet_flip(table: str, needle: Callable[[sqlite3.Connection], bytes]) -> Callable:
    """One byte changed inside a value stored in ``table``'s own pages: SQLite's
    structure check cannot see it (the b-tree is intact), only the chain can."""

    def apply(masters: Masters, folder: Path) -> Path:
        path = finished(masters, folder)
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            target = needle(con)
            pages = [
                r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))
            ]
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
        finally:
            con.close()
        data = bytearray(path.read_bytes())
        for page in pages:
            start = (page - 1) * page_size
            at = data.find(target, start, start + page_size)
            if at >= 0:
                last = at + len(target) - 1
                data[last] ^= 0x01  # a digit to its neighbour, a float's lowest bit
                path.write_bytes(bytes(data))
                return path
        raise RuntimeError(f"{target!r} not found in the pages of {table}")

    return apply


def truncate(*, fraction: float = 1.0, size: int | None = None, cut: int = 0) -> Callable:
    """Keep ``fraction`` of the file, or its first ``size`` bytes, or all but ``cut``."""

    def apply(masters: Masters, folder: Path) -> Path:
        path = finished(masters, folder)
        length = path.stat().st_size
        keep = size if size is not None else int(length * fraction) - cut
        with path.open("r+b") as handle:
            handle.truncate(keep)
        return path

    return apply


def replace_file(content: bytes) -> Callable:
    def apply(masters: Masters, folder: Path) -> Path:
        path = folder / "state.db"
        path.write_bytes(content)
        return path

    return apply


def other_program(masters: Masters, folder: Path) -> Path:
    path = folder / "state.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes (body) VALUES ('groceries')")
    con.commit()
    con.close()
    return path


def foreign_wal(masters: Masters, folder: Path) -> Path:
    """The finished database with the interrupted one's WAL copied beside it."""
    path = finished(masters, folder)
    shutil.copyfile(
        masters.interrupted.with_name(masters.interrupted.name + "-wal"),
        folder / "state.db-wal",
    )
    return path


def lost_wal(masters: Masters, folder: Path) -> Path:
    """The interrupted database with its lock file (which says its desk never closed)
    and without the WAL that holds its unfinished run: a cleanup that took the -wal."""
    path = interrupted(masters, folder)
    (folder / "state.db-wal").unlink()
    lock = masters.interrupted.with_name(masters.interrupted.name + ".lock")
    shutil.copyfile(lock, folder / "state.db.lock")
    return path


def swap_fills(masters: Masters, folder: Path) -> Path:
    """Two fills swapped whole (their checksums with them): same rows, another order."""
    path = finished(masters, folder)
    con = sqlite3.connect(path)
    columns = ", ".join(r[1] for r in con.execute("PRAGMA table_info(fills)"))
    a, b = con.execute("SELECT * FROM fills WHERE rowid IN (3, 4) ORDER BY rowid").fetchall()
    marks = ", ".join("?" * len(a))
    with con:
        con.execute("DELETE FROM fills WHERE rowid IN (3, 4)")
        con.execute(f"INSERT INTO fills (rowid, {columns}) VALUES (3, {marks})", b)
        con.execute(f"INSERT INTO fills (rowid, {columns}) VALUES (4, {marks})", a)
    con.close()
    return path


def _fill_price(con: sqlite3.Connection) -> bytes:
    (price,) = con.execute(
        "SELECT price FROM fills WHERE price != CAST(price AS INTEGER) ORDER BY rowid LIMIT 1"
    ).fetchone()
    return struct.pack(">d", price)  # SQLite stores a REAL as a big-endian IEEE double


def _text(sql_text: str) -> Callable[[sqlite3.Connection], bytes]:
    return lambda con: con.execute(sql_text).fetchone()[0].encode()


# Paths that cannot hold a database (exit 2): nothing exists to hash, the folder's
# listing must not change.


def parent_is_a_file(masters: Masters, folder: Path) -> Path:
    (folder / "notes.txt").write_text("not a directory\n")
    return folder / "notes.txt" / "state.db"


def directory_as_database(masters: Masters, folder: Path) -> Path:
    (folder / "state.db").mkdir()
    return folder / "state.db"


def fifo_as_database(masters: Masters, folder: Path) -> Path:
    os.mkfifo(folder / "state.db")
    return folder / "state.db"


def read_only_directory(masters: Masters, folder: Path) -> Path:
    inner = folder / "ro"
    inner.mkdir()
    inner.chmod(0o555)
    return inner / "state.db"


def dangling_symlink(masters: Masters, folder: Path) -> Path:
    (folder / "state.db").symlink_to(folder / "moved" / "state.db")
    return folder / "state.db"


ROW = r"table {table}, row \d+ \({label} '[^']*'\)"

DAMAGES: tuple[Damage, ...] = (
    *(
        Damage(f"random-64-bytes-seed-{seed}", random_bytes(seed), r"")
        for seed in (1, 2, 3, 4, 5, 6, 7, 8)
    ),
    *(
        Damage(f"random-byte-in-a-{table}-row-seed-{seed}", byte_in_a_row(table, seed), r"")
        for table, seed in (
            ("orders", 21),
            ("orders", 22),
            ("order_events", 23),
            ("fills", 24),
            ("fills", 25),
            ("risk_state", 26),
        )
    ),
    Damage(
        "truncated-to-half", truncate(fraction=0.5), r"integrity check|cannot be read|malformed"
    ),
    Damage("truncated-to-first-page", truncate(size=4096), r""),
    Damage("truncated-by-one-page", truncate(cut=4096), r""),
    Damage(
        "quiet-flip-fill-price",
        quiet_flip("fills", _fill_price),
        ROW.format(table="fills", label="fill_id") + ": it does not match its checksum",
    ),
    Damage(
        "quiet-flip-fill-id",
        quiet_flip("fills", _text("SELECT fill_id FROM fills ORDER BY rowid LIMIT 1 OFFSET 7")),
        r"table fills, row 8 \(fill_id '[^']*'\)",
    ),
    Damage(
        "quiet-flip-order-signal",
        quiet_flip("orders", _text("SELECT signal_id FROM orders ORDER BY rowid LIMIT 1 OFFSET 9")),
        ROW.format(table="orders", label="tag"),
    ),
    Damage(
        "quiet-flip-risk-state",
        quiet_flip("risk_state", lambda con: b'"version":'),
        ROW.format(table="risk_state", label="run_id"),
    ),
    Damage(
        "quiet-flip-run-config-hash",
        quiet_flip("runs", _text("SELECT config_hash FROM runs")),
        ROW.format(table="runs", label="run_id"),
    ),
    Damage(
        "edit-order-quantity",
        sql(finished, "UPDATE orders SET quantity = quantity * 10 WHERE rowid = 5"),
        r"table orders, row 5 \(tag '[^']*'\): it does not match its checksum",
    ),
    Damage(
        "edit-order-event-status",
        sql(finished, "UPDATE order_events SET status = 'CANCELLED' WHERE id = 10"),
        r"table order_events, row 10 \(id 10\)",
    ),
    Damage(
        "edit-fill-quantity",
        sql(finished, "UPDATE fills SET quantity = quantity + 1 WHERE rowid = 20"),
        r"table fills, row 20 \(fill_id '[^']*'\)",
    ),
    Damage(
        "edit-risk-state",
        sql(finished, "UPDATE risk_state SET state = replace(state, 'false', 'true')"),
        ROW.format(table="risk_state", label="run_id"),
    ),
    Damage(
        "edit-run-cursor",
        sql(finished, "UPDATE runs SET cursor_ns = 0"),
        ROW.format(table="runs", label="run_id"),
    ),
    Damage(
        "kill-switch-row-added-outside",
        sql(
            finished,
            "INSERT INTO desk_state (key, value) VALUES ('kill_switch', '{\"on\": false}')",
        ),
        r"table desk_state, row 1 \(key 'kill_switch'\): it has no checksum",
    ),
    Damage(
        "kill-switch-bad-json",
        sql(finished, "INSERT INTO desk_state (key, value) VALUES ('kill_switch', '{\"on\": tru')"),
        r"table desk_state, row 1 \(key 'kill_switch'\): value is not JSON",
    ),
    Damage(
        "order-unknown-status",
        sql(finished, "UPDATE orders SET status = 'PARTIALLY FILLED' WHERE rowid = 3"),
        r"table orders, row 3 \(tag '[^']*'\): status 'PARTIALLY FILLED' is not one of",
    ),
    Damage(
        "risk-state-bad-json",
        sql(finished, "UPDATE risk_state SET state = substr(state, 1, 40)"),
        r"table risk_state, row 1 \(run_id '[^']*'\): state is not JSON",
    ),
    Damage(
        "order-event-deleted-mid-chain",
        sql(finished, "DELETE FROM order_events WHERE id = 100"),
        r"table order_events, row 101 \(id 101\): the row before it in the chain is missing",
    ),
    Damage(
        "fill-deleted-at-the-end",
        sql(finished, "DELETE FROM fills WHERE rowid = (SELECT max(rowid) FROM fills)"),
        r"table fills: the chain ends after \d+ rows but \d+ were journaled",
    ),
    Damage("fills-swapped", swap_fills, r"table fills, row 3 \(fill_id '[^']*'\)"),
    Damage(
        "fill-added-outside",
        sql(
            finished,
            "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, price, "
            "product, ts_ns, clock_ns) SELECT 'forged-1', seq + 1, run_id, tag, engine, symbol, "
            "side, quantity, price, product, ts_ns, clock_ns FROM fills "
            "ORDER BY rowid DESC LIMIT 1",
        ),
        r"table fills, row \d+ \(fill_id 'forged-1'\): it has no checksum",
    ),
    Damage(
        "chain-head-deleted",
        sql(finished, "DELETE FROM chain_heads WHERE tbl = 'orders'"),
        r"table orders: it holds \d+ rows but only 0 were journaled",
    ),
    Damage("table-dropped", sql(finished, "DROP TABLE fills"), r"table fills is missing"),
    Damage(
        "column-dropped",
        sql(finished, "ALTER TABLE orders DROP COLUMN avg_price"),
        r"table orders: column avg_price is missing",
    ),
    Damage(
        "trigger-added",
        sql(finished, "CREATE TRIGGER quiet AFTER INSERT ON fills BEGIN DELETE FROM fills; END"),
        r"trigger kitetui did not create \(quiet\)",
    ),
    Damage(
        "newer-user-version",
        sql(finished, "PRAGMA user_version = 99"),
        r"schema version 99, newer than this kitetui",
    ),
    Damage("not-sqlite", replace_file(b"positions:\n  INFY: 10\n" * 200), r"not a SQLite database"),
    Damage("empty-file", replace_file(b""), r"is empty \(0 bytes\)"),
    Damage("other-programs-database", other_program, r"SQLite database of another program"),
    Damage("wal-from-another-database", foreign_wal, r"another database"),
    Damage("wal-deleted-after-a-kill", lost_wal, r"stopped without closing it.*-wal"),
    Damage(
        "resume-fill-edited-in-wal",
        sql(interrupted, "UPDATE fills SET price = price + 0.05 WHERE rowid = 2"),
        r"table fills, row 2 \(fill_id '[^']*'\)",
    ),
    Damage(
        "resume-order-status-edited",
        sql(interrupted, "UPDATE orders SET status = 'OPEN' WHERE rowid = 1"),
        r"table orders, row 1 \(tag '[^']*'\)",
    ),
    Damage(
        "resume-last-fill-removed",
        sql(interrupted, "DELETE FROM fills WHERE rowid = (SELECT max(rowid) FROM fills)"),
        r"table fills: the chain ends after",
    ),
    Damage(
        "parent-is-a-file",
        parent_is_a_file,
        r"notes.txt is a file, not a directory",
        EXIT_CONFIG,
    ),
    Damage("directory-as-database", directory_as_database, r"is a directory", EXIT_CONFIG),
    Damage("fifo-as-database", fifo_as_database, r"FIFO \(named pipe\)", EXIT_CONFIG),
    Damage("read-only-directory", read_only_directory, r"is read-only", EXIT_CONFIG),
    Damage("dangling-symlink", dangling_symlink, r"symlink to .* does not exist", EXIT_CONFIG),
)


# -- running one ----------------------------------------------------------------------------


@dataclass
class Outcome:
    damage: Damage
    exit_code: int
    stderr: list[str]
    hashes_before: dict[str, str]
    hashes_after: dict[str, str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _hashes(path: Path) -> dict[str, str]:
    """The database and its WAL, if they are regular files: what must not change."""
    out = {}
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            if file.is_file() and not file.is_symlink():
                out[file.name] = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError:
            pass
    return out


def _listing(folder: Path) -> set[str]:
    # -shm is SQLite's shared-memory index, created by any reader of a WAL database.
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.endswith("-shm")}


def run_case(damage: Damage, masters: Masters, folder: Path) -> Outcome:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path = damage.apply(masters, folder)
        before, listing = _hashes(path), _listing(folder)
        done = kitetui("run", "--no-ui", "--speed", "max", "--db", str(path))
        outcome = Outcome(damage, done.returncode, done.stderr.splitlines(), before, _hashes(path))
        problems = outcome.problems
        if done.returncode != damage.exit_code:
            problems.append(f"exit {done.returncode}, expected {damage.exit_code}")
        if len(outcome.stderr) != 1:
            problems.append(f"{len(outcome.stderr)} stderr lines, expected 1")
        if "Traceback" in done.stderr or "Traceback" in done.stdout:
            problems.append("a traceback")
        line = outcome.stderr[0] if outcome.stderr else ""
        if not line.startswith("error: "):
            problems.append("the line does not start with 'error: '")
        if damage.says and not re.search(damage.says, line):
            problems.append(f"the line does not say {damage.says!r}")
        if outcome.hashes_after != before:
            problems.append("the database or its WAL changed")
        if _listing(folder) != listing:
            problems.append(f"files appeared or vanished: {sorted(_listing(folder) ^ listing)}")
        return outcome
    finally:
        for inner in folder.rglob("*"):
            if inner.is_dir() and not inner.is_symlink():
                inner.chmod(0o700)
