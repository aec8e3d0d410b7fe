"""Fifty seeded SIGKILL points, one after another on one run: it resumes to the ledger of
a run that was never interrupted, places no tag twice and counts every restart."""

from __future__ import annotations

import builtins
import io
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from kitetui.config import load_config
from kitetui.market.bar_columns import bar_columns
from kitetui.market.replay import load_replay_sources

from .sigkill_corpus import (
    JournalChanges,
    column_config,
    holds,
    kill_points,
    ledger,
    light_config,
    run_chain,
    run_clean,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SEEDS = {"seed-11": 11, "seed-29": 29, "seed-47": 47}
POINTS = 25  # drawn per seed; a chain ends early when the run finishes first
# Paced, so that the run outlasts most points: at full speed the light demo trades in
# well under a second, and a chain would end after a handful of kills. The ledger is the
# same at any speed (tests/supervisor/test_ledger_parity.py); the commit policy is the
# replay's either way.
SPEED = 50_000


@pytest.fixture(scope="module")
def clean_light(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[list, list], list]:
    """The ledger and HOLD counts of the light demo run through once: every seed's chain
    runs the very same config, so one uninterrupted run is every seed's reference."""
    folder = tmp_path_factory.mktemp("clean")
    # At full speed: the ledger and HOLD counts of a run do not depend on its pace
    # (tests/supervisor/test_ledger_parity.py), and the paced run takes ~9 s.
    clean = run_clean(light_config(folder, speed="max"), folder / "clean.db", folder / "clean.log")
    assert len(clean[1]) >= 20, "the run must trade for this test to mean anything"
    return clean, holds(folder / "clean.db")


@pytest.mark.parametrize("seed", SEEDS.values(), ids=SEEDS.keys())
def test_chain_of_sigkills_resumes_to_the_clean_ledger(
    tmp_path: Path, seed: int, clean_light: tuple[tuple[list, list], list]
) -> None:
    config = light_config(tmp_path, speed=SPEED)
    clean, clean_holds = clean_light
    result = run_chain(config, tmp_path / "crash.db", tmp_path / "crash.log",
                       kill_points(seed, POINTS))  # fmt: skip
    assert result.kills >= 15, result.points  # most points were reached
    assert result.exit_code == 0
    # every kill after the run was created is a restart (one before it, none)
    assert result.status == "FINISHED" and 0 < result.restarts <= result.kills
    assert result.duplicate_tags == 0
    orders, fills = ledger(tmp_path / "crash.db")
    assert fills == clean[1]
    assert orders == clean[0]
    # each batch's HOLDs counted once: the ones a killed process had not finished are
    # counted again by the resumed one, the ones it had are not
    assert clean_holds and sum(row[4] for row in clean_holds) > 100
    assert holds(tmp_path / "crash.db") == clean_holds


@pytest.mark.parametrize("timeframe", ["1m", "3m"])
def test_sigkills_while_the_engine_decides_from_columns_resume_to_the_clean_ledger(
    tmp_path: Path, timeframe: str
) -> None:
    """At full speed an engine decides its symbols' bars from their columns (3m: resampled
    ahead from the 1-minute files); a resumed run starts its cursors over and replays up
    to the cursor: the same ledger and HOLDs."""
    config = column_config(tmp_path, timeframe)
    sources = load_replay_sources(load_config(config).replay.sources)
    banks = {s: c.timeframe_s for s, c in bar_columns(sources.streams).items() if "BANK" in s}
    assert banks == {"HDFCBANK": 60, "ICICIBANK": 60, "KOTAKBANK": 60, "AXISBANK": 60}
    clean = run_clean(config, tmp_path / "clean.db", tmp_path / "clean.log")
    assert len(clean[1]) >= 20
    result = run_chain(config, tmp_path / "crash.db", tmp_path / "crash.log",
                       kill_points(5, POINTS))  # fmt: skip
    assert result.kills >= 5, result.points
    assert result.exit_code == 0 and result.status == "FINISHED" and result.restarts > 0
    assert result.duplicate_tags == 0
    assert ledger(tmp_path / "crash.db") == clean
    assert holds(tmp_path / "crash.db") == holds(tmp_path / "clean.db")


def test_the_kill_points_watch_sees_every_commit_and_only_commits(tmp_path: Path) -> None:
    """The chain counts rows again only when the database or its WAL moved
    (``JournalChanges``), or ``RECHECK_S`` after the last count: every commit must move
    them, also one into a WAL that a checkpoint has reset, and a reader's count must not."""
    db = tmp_path / "w.db"
    now = [0.0]
    watch = JournalChanges(db, clock=lambda: now[0])
    assert watch.changed()  # no database yet: count
    assert not watch.changed()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    assert watch.changed() and not watch.changed()
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for n in range(1, 30):
        time.sleep(0.011)  # a tick apart even where file times are coarse (10 ms)
        writer.execute("INSERT INTO t VALUES (?)", (n,))
        assert watch.changed(), n
        assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == n
        assert not watch.changed(), n  # the reader's look changed nothing
        if n % 7 == 0:  # the WAL folded in: the next commit reuses it from frame one
            writer.execute("PRAGMA wal_checkpoint(RESTART)")
    now[0] += JournalChanges.RECHECK_S
    assert watch.changed()  # nothing moved, but it is time to count anyway
    assert not watch.changed()
    reader.close()
    writer.close()  # the last connection: the WAL is gone
    assert watch.changed()


def test_the_kill_points_watch_opens_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing a descriptor of ``-shm`` would drop the SQLite locks this process holds
    on it, and a restarted desk would then truncate it under a connection's map
    (SIGBUS): the watch only stats."""
    db = tmp_path / "w.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    watch = JournalChanges(db)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"opened {args[0]}")

    monkeypatch.setattr(os, "open", refuse)
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    assert watch.changed()
    writer.execute("INSERT INTO t VALUES (1)")
    watch.changed()
    monkeypatch.undo()
    writer.close()
