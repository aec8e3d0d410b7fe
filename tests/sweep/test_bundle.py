"""The data shipped to Ray nodes: packed once, written once per node, and read back as
the same data the config's own files give."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kitetui.config import parse_config
from kitetui.market.replay import load_replay_sources
from kitetui.sweep.bundle import (
    bundle_folder,
    is_materialised,
    localised,
    make_bundle,
    materialise,
)

GLOBBED = {
    "mode": "replay",
    "replay": {
        "sources": [
            {
                "exchange": "NFO",
                "kind": "ticks",
                "path": "pkg:replay/nfo_20221118/NIFTY22N*.csv.gz",
            },
            {"symbol": "SBIN", "path": "pkg:replay/SBIN.csv.gz"},
        ]
    },
    "instruments": ["pkg:replay/nfo_20221118/instruments.csv", "pkg:replay/nse_instruments.csv"],
    "engines": [{"name": "equity", "kind": "equity", "symbols": ["SBIN"], "strategy": "ema_cross"}],
}


def _streams(config) -> list[tuple[str, int, int]]:
    loaded = load_replay_sources(config.replay.sources)
    return [(s[0].symbol, len(s), s[-1].ts_ns) for s in loaded.streams]


def test_a_localised_config_reads_the_same_data(tmp_path: Path) -> None:
    config = parse_config(GLOBBED)
    bundle = make_bundle(config)
    assert bundle.size == sum(len(data) for _, data in bundle.files) > 0
    folder = materialise(bundle, tmp_path)
    assert folder == bundle_folder(bundle.digest, tmp_path)
    moved = localised(config, bundle.layout(), folder)
    assert all(str(s.path).startswith(str(folder)) for s in moved.replay.sources)
    assert moved.replay.sources[0].path.endswith("/s0/NIFTY22N*.csv.gz")  # still a glob
    assert all(Path(m).is_file() for m in moved.instruments)
    assert _streams(moved) == _streams(config)
    assert len(_streams(config)) > 2  # the glob matched several contracts


def test_materialise_writes_once_and_a_cut_folder_is_written_again(tmp_path: Path) -> None:
    config = parse_config(GLOBBED)
    bundle = make_bundle(config)
    assert not is_materialised(bundle.digest, tmp_path)
    folder = materialise(bundle, tmp_path)
    assert is_materialised(bundle.digest, tmp_path)
    marker = folder / ".complete"
    stamp = marker.stat().st_mtime_ns
    assert materialise(bundle, tmp_path) == folder
    assert marker.stat().st_mtime_ns == stamp  # found complete: not written again
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no scratch left
    marker.unlink()  # as if a node died mid-write
    os.rename(folder, folder.with_name(folder.name + ".old"))
    assert materialise(bundle, tmp_path) == folder
    assert is_materialised(bundle.digest, tmp_path)


def test_the_digest_follows_the_bytes(tmp_path: Path) -> None:
    data = tmp_path / "SBIN.csv"
    data.write_text("date,open,high,low,close,volume\n")
    raw = dict(GLOBBED, replay={"sources": [{"symbol": "SBIN", "path": str(data)}]})
    first = make_bundle(parse_config(raw))
    assert make_bundle(parse_config(raw)).digest == first.digest
    data.write_text("date,open,high,low,close,volume\n\n")
    assert make_bundle(parse_config(raw)).digest != first.digest


def test_the_default_folder_is_a_private_one_of_this_user(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = bundle_folder("ab" * 32)
    base = tmp_path / f"kitetui-sweep-{os.getuid()}"
    assert folder.parent == base
    assert base.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("planted", ["open", "link"])
def test_a_planted_default_folder_is_refused(tmp_path: Path, monkeypatch, planted) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    base = tmp_path / f"kitetui-sweep-{os.getuid()}"
    if planted == "open":  # as another user's would be to us: others may write in it
        base.mkdir()
        base.chmod(0o777)
    else:
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        base.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="not a private folder of this user"):
        bundle_folder("ab" * 32)
