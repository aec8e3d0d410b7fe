"""The load cache: private, atomic, keyed by content, and never a reason to fail."""

from __future__ import annotations

import gzip
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kitetui.market import load_cache
from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import (
    _BAR_COLUMNS,
    data_path,
    load_candles,
    load_ticks,
    reference_candles,
    reference_ticks,
)
from kitetui.market.replay import load_replay_sources

SBIN = data_path("pkg:replay/SBIN.csv.gz")


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("load-*.cols"))


def test_entries_are_private_and_written_whole(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "cache"
    load_candles(SBIN, "SBIN", cache=LoadCache(folder))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (entry,) = entries(folder)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [entry.name]  # no temporary left


def test_an_existing_loose_folder_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    load_candles(SBIN, "SBIN", cache=LoadCache(folder))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_changed_file_or_other_options_miss_the_cache(tmp_path: Path) -> None:
    cache = LoadCache(tmp_path / "cache")
    data = tmp_path / "SBIN.csv.gz"
    data.write_bytes(SBIN.read_bytes())
    first = load_candles(data, "SBIN", cache=cache)
    load_candles(data, "SBIN", cache=cache, session_only=False)
    assert len(entries(tmp_path / "cache")) == 2
    text = "Date,open,high,low,close,volume\n2023-04-03 09:15:00+05:30,1,2,0.5,1.5,7\n"
    data.write_text(text)  # same path, new content
    changed = load_candles(data, "SBIN", cache=cache)
    assert len(changed.bars) == 1 and changed.bars[0].close == 1.5
    assert len(first.bars) > 1000


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_said_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "cache"
    cache = LoadCache(folder)
    expected = reference_candles(SBIN, "SBIN")
    load_candles(SBIN, "SBIN", cache=cache)
    (entry,) = entries(folder)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-100] ^= 0x40
    elif damage == "garbage":
        data = bytearray(b"not a cache entry at all" * 10)
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))

    result = load_candles(SBIN, "SBIN", cache=cache)

    assert result.bars == expected.bars
    *rest, note = result.events
    assert tuple(rest) == expected.events
    assert note.kind == "LoadCacheDamaged"
    assert note.level == "WARNING"
    assert entry.name in note.message and "rebuilt" in note.message
    assert load_candles(SBIN, "SBIN", cache=cache) == expected  # rewritten whole


def test_an_unwritable_cache_is_said_once_and_loading_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    cache = LoadCache(blocker)
    first = load_candles(SBIN, "SBIN", cache=cache)
    second = load_candles(SBIN, "SBIN", cache=cache)
    expected = reference_candles(SBIN, "SBIN")
    assert first.bars == second.bars == expected.bars
    assert [e.kind for e in first.events] == ["LoadCacheWriteFailed"]
    assert second.events == expected.events == ()


def test_from_env_finds_the_folder_and_the_switch(tmp_path: Path) -> None:
    assert LoadCache.from_env({"KITETUI_CACHE_DIR": str(tmp_path)}).directory == tmp_path
    xdg = LoadCache.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert xdg.directory == tmp_path / "kitetui"
    home = LoadCache.from_env({"XDG_CACHE_HOME": "relative/ignored"})
    assert home.directory == Path.home() / ".cache" / "kitetui"
    for off in ("off", "0", "no", "false", "OFF"):
        env = {"KITETUI_LOAD_CACHE": off, "KITETUI_CACHE_DIR": str(tmp_path)}
        assert not LoadCache.from_env(env).enabled


def test_replay_sources_use_the_environment_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Source:
        path = "pkg:replay/NIFTY-I_20221118.csv.gz"
        symbol = "NIFTY22NOVFUT"
        kind = "ticks"
        optional = False

    monkeypatch.setenv("KITETUI_CACHE_DIR", str(tmp_path / "env-cache"))
    cold = load_replay_sources([Source()])
    assert len(entries(tmp_path / "env-cache")) == 1
    warm = load_replay_sources([Source()])
    off = load_replay_sources([Source()], cache=LoadCache(None))
    assert cold == warm == off
    assert cold.streams[0] == load_ticks(data_path(Source.path), Source.symbol).ticks
    monkeypatch.setenv("KITETUI_LOAD_CACHE", "off")
    monkeypatch.setenv("KITETUI_CACHE_DIR", str(tmp_path / "other"))
    assert load_replay_sources([Source()]) == cold
    assert not (tmp_path / "other").exists()


def test_the_key_hashes_content_options_and_the_loader_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitetui.market import load_cache

    cache = LoadCache(tmp_path)
    key = cache.key(b"20221118,09:15:00,1.5,1,0\n", ("ticks", "NIFTY", True))
    assert key == cache.key(b"20221118,09:15:00,1.5,1,0\n", ("ticks", "NIFTY", True))
    assert key != cache.key(b"20221118,09:15:00,1.6,1,0\n", ("ticks", "NIFTY", True))
    assert key != cache.key(b"20221118,09:15:00,1.5,1,0\n", ("ticks", "NIFTY", False))
    monkeypatch.setattr(load_cache, "_CODE", ["another loader"])
    assert key != cache.key(b"20221118,09:15:00,1.5,1,0\n", ("ticks", "NIFTY", True))


def test_an_entry_of_other_columns_is_not_trusted(tmp_path: Path) -> None:
    import numpy as np

    cache = LoadCache(tmp_path)
    assert cache.put("k", {"ts_ns": np.arange(3)}, []) is None
    entry, trouble = cache.get("k", ("ts_ns", "price"))
    assert entry is None and trouble is not None and trouble[0] == "LoadCacheDamaged"
    entry, trouble = cache.get("k", ("ts_ns",))
    assert trouble is None and entry is not None and entry.columns["ts_ns"].tolist() == [0, 1, 2]


def test_a_column_that_cannot_be_stored_is_a_write_failure_not_a_crash(tmp_path: Path) -> None:
    import numpy as np

    trouble = LoadCache(tmp_path).put("k", {"ts_ns": np.array(["x"])}, [])
    assert trouble is not None and trouble[0] == "LoadCacheWriteFailed"


def _entry(folder: Path, name: str, size: int, used: float) -> Path:
    path = folder / f"load-{name}.cols"
    path.write_bytes(b"x" * size)
    os.utime(path, (used, used))
    return path


def test_prune_removes_the_least_recently_used_entries_down_to_the_limit(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    now = time.time()
    old = _entry(folder, "old", 400, now - 300)
    middle = _entry(folder, "middle", 400, now - 200)
    new = _entry(folder, "new", 400, now - 100)
    other = folder / "notes.txt"  # not the cache's: never touched
    other.write_bytes(b"y" * 10_000)
    assert LoadCache(folder).prune(limit=900) == 1
    assert not old.exists() and middle.exists() and new.exists() and other.exists()
    assert LoadCache(folder).prune(limit=900) == 0  # already within the limit


def test_prune_keeps_the_entry_just_written_and_drops_stale_temporaries(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    now = time.time()
    kept = _entry(folder, "kept", 1_000, now - 500)  # the oldest, but the one just written
    other = _entry(folder, "other", 1_000, now - 10)
    stale = folder / ".load-abc.tmp"
    stale.write_bytes(b"z")
    os.utime(stale, (now - 7_200, now - 7_200))
    fresh = folder / ".load-def.tmp"  # another load may be writing it right now
    fresh.write_bytes(b"z")
    assert LoadCache(folder).prune(keep=kept, limit=0) == 2
    assert kept.exists() and not other.exists()
    assert not stale.exists() and fresh.exists()


def test_a_hit_refreshes_its_entry_so_a_full_cache_drops_the_unused_ones(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = LoadCache(folder)
    load_candles(SBIN, "SBIN", cache=cache)
    (entry,) = entries(folder)
    long_ago = time.time() - 86_400
    os.utime(entry, (long_ago, long_ago))
    unused = _entry(folder, "unused", entry.stat().st_size, long_ago + 60)
    again = load_candles(SBIN, "SBIN", cache=cache)  # a hit: its entry is now the newest
    assert len(again.bars) > 1000 and entry.stat().st_mtime > unused.stat().st_mtime
    assert LoadCache(folder).prune(limit=entry.stat().st_size) == 1
    assert entry.exists() and not unused.exists()


def test_a_write_prunes_the_folder_to_max_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    stale_entry = _entry(folder, "from-an-older-kitetui", 5_000, time.time() - 86_400)
    monkeypatch.setattr(load_cache, "MAX_BYTES", 1)
    load_candles(SBIN, "SBIN", cache=LoadCache(folder))
    assert not stale_entry.exists()
    assert len(entries(folder)) == 1  # the entry just written stays, over the limit alone


@pytest.mark.parametrize("gz_first", [True, False], ids=["gz-name-first", "csv-name-first"])
@pytest.mark.parametrize(
    ("load", "reference"),
    [(load_candles, reference_candles), (load_ticks, reference_ticks)],
    ids=["candles", "ticks"],
)
def test_a_hit_never_carries_another_names_not_gzip_event(
    tmp_path: Path, gz_first: bool, load: Callable, reference: Callable
) -> None:
    """The key has no file name in it, but ``NotGzip`` depends on the name: the same
    plain bytes named ``.csv`` and ``.csv.gz`` each get the events of a fresh load."""
    source = SBIN if load is load_candles else data_path("pkg:replay/NIFTY-I_20221118.csv.gz")
    text = gzip.decompress(source.read_bytes())
    plain, named_gz = tmp_path / "SBIN.csv", tmp_path / "SBIN.csv.gz"
    plain.write_bytes(text)
    named_gz.write_bytes(text)
    cache = LoadCache(tmp_path / "cache")
    order = [named_gz, plain] if gz_first else [plain, named_gz]
    for path in order * 2:  # a miss, then a hit, for each name
        result = load(path, "SBIN", cache=cache)
        assert result.events == reference(path, "SBIN").events, path.name
        kinds = [event.kind for event in result.events]
        assert ("NotGzip" in kinds) == (path is named_gz), path.name


def test_an_entry_another_user_wrote_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checksum is no signature: in a shared $KITETUI_CACHE_DIR another user's entry,
    whole and valid, replayed whatever prices it held."""
    folder = tmp_path / "cache"
    cache = LoadCache(folder)
    expected = reference_candles(SBIN, "SBIN")
    load_candles(SBIN, "SBIN", cache=cache)
    (entry,) = entries(folder)
    key = entry.name.removeprefix("load-").removesuffix(".cols")
    stored, _ = cache.get(key, _BAR_COLUMNS)
    assert stored is not None
    forged = {name: column.copy() for name, column in stored.columns.items()}
    for name in ("open", "high", "low", "close"):
        forged[name] = forged[name] * 2  # the same bars at twice the price
    cache.put(key, forged, stored.findings)
    monkeypatch.setattr(os, "geteuid", lambda: entry.stat().st_uid + 1)

    result = load_candles(SBIN, "SBIN", cache=cache)

    assert result.bars == expected.bars
    assert result.events[-1].kind == "LoadCacheDamaged"
    assert "not by you" in result.events[-1].message
