"""Seeded SIGKILL points: a replay killed again and again must end where an uninterrupted
one ends.

Shared by ``tests/attacks/test_sigkill_points.py`` and ``scripts/attack_corpus.py``. A
seed draws a chain of kill points; one desk process after another is started on the same
database and killed with SIGKILL at its point — by a journal count (orders, fills,
order events, signals, events: kills right after a durable commit and between them) or
by time after the spawn (kills during start-up, verification, warm-up and recovery) —
until the chain is spent; a last process runs to the end. The ledger (orders and fills)
must equal a clean run's, no tag may repeat, and every restart is counted.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("orders", "fills", "order_events", "signals", "events")


@dataclass(frozen=True)
class KillPoint:
    """Kill when ``table`` has grown by ``delta`` rows since the spawn, or, for table
    ``""``, ``delta`` milliseconds after the spawn."""

    table: str
    delta: int

    def describe(self) -> str:
        return f"{self.delta} ms after start" if not self.table else f"+{self.delta} {self.table}"


def kill_points(seed: int, count: int) -> list[KillPoint]:
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        if rng.random() < 0.3:  # mostly during start-up: opening, checking, warm-up
            points.append(KillPoint("", rng.randint(30, 700)))
        else:
            table = rng.choice(TABLES)
            step = {"signals": 30, "events": 10}.get(table, 2)
            points.append(KillPoint(table, rng.randint(1, step)))
    return points


def light_config(folder: Path, speed: str | int = "max") -> Path:
    """The demo without the option chain: the same engines' ledger in a second (at
    ``speed`` max; a paced speed stretches the run, not its ledger)."""
    data = yaml.safe_load((ROOT / "kitetui" / "data" / "dev.yaml").read_text())
    data["replay"]["sources"] = [
        s
        for s in data["replay"]["sources"]
        if "nfo_20221118/NIFTY22" not in s["path"] and s.get("kind") != "index"
    ]
    data["engines"] = [e for e in data["engines"] if e["kind"] != "options"]
    data["replay"]["speed"] = speed
    # A replay's orders and fills commit with the journal's flushes (CommitPolicy.BATCH):
    # flushing often puts many commits, and so many kill points, inside the short run.
    data["journal"] = {**data.get("journal", {}), "flush_interval_ms": 20}
    path = folder / "light.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def column_config(folder: Path, timeframe: str = "1m") -> Path:
    """``light_config`` at full speed with the equity engine on the five banks' 1-minute
    bars with ``ema_cross``: a strategy with a column form, on the files' own timeframe
    or a longer one (resampled ahead), so the engine decides those bars from their
    columns (``engines/column_cursor.py``)."""
    path = light_config(folder, speed="max")
    data = yaml.safe_load(path.read_text())
    for engine in data["engines"]:
        if engine["kind"] == "equity":
            engine.pop("universe", None)
            engine.pop("max_count", None)
            engine["symbols"] = ["HDFCBANK", "ICICIBANK", "SBIN", "KOTAKBANK", "AXISBANK"]
            engine.update(timeframe=timeframe, strategy="ema_cross", params={"fast": 5, "slow": 13})
    path.write_text(yaml.safe_dump(data))
    return path


def _spawn(config: Path, db: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui",
             "--db", str(db)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _count(db: Path, table: str) -> int:
    # signals: the rows and the HOLDs counted without one (kitetui/store/holds.py)
    sql = (
        "SELECT (SELECT count(*) FROM signals) + (SELECT COALESCE(sum(holds), 0) FROM hold_counts)"
        if table == "signals"
        else f"SELECT count(*) FROM {table}"
    )
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


class JournalChanges:
    """Whether ``db``'s committed rows can have changed since the last look.

    A kill point polls every 5 ms, and counting rows through a fresh connection costs
    ~0.3 ms of CPU: 6% of a core for every process of a chain, most of it spent on a
    journal that has not moved (start-up and verification commit nothing, a flush
    commits every 20 ms). A commit writes the WAL (or, before the database is in WAL
    mode, the file itself), so the rows are counted again when the inode, size or
    modification time of either differs from the last look's (taken before the count,
    so a commit landing during it is seen next time); and at least every
    ``RECHECK_S`` anyway, should a file system's clock be too coarse to tell two
    commits apart in a WAL reused at the same length.

    Only ``os.stat``, never a file descriptor: closing any descriptor of ``-shm`` drops
    every POSIX lock this process holds on it, among them those of the SQLite
    connections ``_count`` leaves for the cyclic collector (a ``sqlite3.Connection``
    is in a cycle with its statement cache). A restarted desk then takes itself for the
    file's first user and truncates ``-shm`` to 3 bytes, and the next count maps the
    stale index: SIGBUS (seen when this read the WAL index's header instead).
    """

    RECHECK_S = 0.05

    def __init__(self, db: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._files = (db, db.with_name(db.name + "-wal"))
        self._clock = clock
        self._seen: tuple | None = None
        self._counted_at = -math.inf

    def _state(self) -> tuple:
        state = []
        for file in self._files:
            try:
                found = os.stat(file)
            except OSError:
                state.append(None)
            else:
                state.append((found.st_ino, found.st_size, found.st_mtime_ns))
        return tuple(state)

    def changed(self) -> bool:
        now, state = self._clock(), self._state()
        if state == self._seen and now - self._counted_at < self.RECHECK_S:
            return False
        self._seen, self._counted_at = state, now
        return True


def _finished(db: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("SELECT status FROM runs ORDER BY started_wall_ns DESC").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "FINISHED"


def ledger(db: Path) -> tuple[list, list]:
    """Orders and fills without tags and fill ids (they derive from the run id)."""
    with closing(sqlite3.connect(db)) as conn:
        orders = conn.execute(
            "SELECT symbol, side, quantity, order_type, purpose, status, filled_qty, avg_price, "
            "ts_ns FROM orders ORDER BY ts_ns, symbol, purpose, quantity, status"
        ).fetchall()
        fills = conn.execute(
            "SELECT symbol, side, quantity, price, ts_ns FROM fills ORDER BY ts_ns, symbol, side"
        ).fetchall()
    return orders, fills


def holds(db: Path) -> list[tuple]:
    """The HOLDs counted per day, engine, symbol and reason (the run's only run)."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT trading_day, engine, symbol, reason, holds, first_ts_ns, last_ts_ns "
            "FROM hold_counts ORDER BY trading_day, engine, symbol, reason"
        ).fetchall()


def run_clean(config: Path, db: Path, log: Path) -> tuple[list, list]:
    proc = _spawn(config, db, log)
    if proc.wait(120) != 0:
        raise AssertionError(f"the clean run failed: {log.read_text()[-2000:]}")
    return ledger(db)


@dataclass
class ChainResult:
    kills: int
    points: list[str]
    exit_code: int
    restarts: int
    status: str
    duplicate_tags: int


def run_chain(config: Path, db: Path, log: Path, points: list[KillPoint]) -> ChainResult:
    """Kill at each point in turn (the chain ends early if the run finishes first)."""
    done: list[str] = []
    for point in points:
        if _finished(db):
            break  # killed after it had finished: another start would begin a new run
        before = _count(db, point.table) if point.table else 0
        proc = _spawn(config, db, log)
        started = time.monotonic()
        deadline = started + 60
        changes = JournalChanges(db)
        reached = False
        while proc.poll() is None and time.monotonic() < deadline:
            if point.table:
                if changes.changed():  # else the count is the one last read
                    reached = _count(db, point.table) >= before + point.delta
            else:
                reached = (time.monotonic() - started) * 1000 >= point.delta
            if reached:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                done.append(point.describe())
                break
            time.sleep(0.005)
        else:
            if proc.poll() is None:
                proc.kill()
                raise AssertionError(f"kill point {point.describe()} not reached in 60 s")
        if proc.returncode == 0:
            break  # the run finished before this point: the chain is spent
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(f"exit {proc.returncode}: {log.read_text()[-2000:]}")
    code = 0 if _finished(db) else _spawn(config, db, log).wait(120)
    with closing(sqlite3.connect(db)) as conn:
        status, restarts = conn.execute(
            "SELECT status, restarts FROM runs ORDER BY started_wall_ns DESC LIMIT 1"
        ).fetchone()
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT tag) FROM orders"
        ).fetchone()
    return ChainResult(len(done), done, code, restarts, status, total - distinct)
