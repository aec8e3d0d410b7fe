"""``load_replay_sources``: the config's sources as streams, what an empty source means,
and the replay's days. On the demo config it must load exactly what the supervisor's own
loop loads today, so switching the supervisor to it leaves the golden replay alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import SourceConfig, load_config
from kitetui.market.index_loader import load_index_values
from kitetui.market.loaders import DataFormatError, load_candles, load_ticks
from kitetui.market.replay import expand_source, load_replay_sources

HEADER = "date,open,high,low,close,volume\n"
ROW = "2023-04-03 09:{:02d}:00+05:30,100,101,99,100.5,10\n"


def source(**fields: object) -> SourceConfig:
    return SourceConfig.model_validate(fields)


def write(path: Path, rows: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(ROW.format(15 + i) for i in range(rows)))
    return path


def test_load_replay_sources_with_demo_config_matches_loading_file_by_file() -> None:
    sources = load_config(DEFAULT_CONFIG).replay.sources
    loaded = load_replay_sources(sources)
    expected_streams, expected_events = [], []
    for spec in sources:
        for path, symbol in expand_source(spec.path, spec.symbol):
            loader = {"ticks": load_ticks, "index": load_index_values}.get(spec.kind)
            result = (loader or load_candles)(path, symbol)
            expected_streams.append(getattr(result, "ticks", None) or result.bars)
            expected_events.extend(result.events)
    assert loaded.streams == tuple(expected_streams)
    assert loaded.events == tuple(expected_events)
    assert loaded.days[0] == date(2022, 11, 18) and len(loaded.days) == 6


def test_load_replay_sources_with_glob_matching_nothing_raises_naming_the_key(
    tmp_path: Path,
) -> None:
    with pytest.raises(DataFormatError) as caught:
        load_replay_sources([source(path=f"{tmp_path}/*.csv")], key="replay.sources")
    assert "no file matches this pattern (replay.sources[0])" in str(caught.value)


def test_load_replay_sources_with_optional_empty_sources_records_events(tmp_path: Path) -> None:
    write(tmp_path / "SBIN.csv", 3)
    header_only = write(tmp_path / "EMPTY.csv", 0)
    loaded = load_replay_sources(
        [
            source(path=f"{tmp_path}/none*.csv", optional=True),
            source(symbol="X", path=str(tmp_path / "missing.csv"), optional=True),
            source(symbol="Y", path=str(header_only), optional=True),
            source(symbol="SBIN", path=str(tmp_path / "SBIN.csv")),
        ]
    )
    assert [e.kind for e in loaded.events] == ["SourceEmpty"] * 3
    assert [len(s) for s in loaded.streams] == [3]
    assert loaded.days == (date(2023, 4, 3),)


def test_load_replay_sources_with_one_empty_file_in_a_glob_keeps_the_others(
    tmp_path: Path,
) -> None:
    write(tmp_path / "g" / "AAA.csv", 2)
    write(tmp_path / "g" / "BBB.csv", 0)
    loaded = load_replay_sources([source(path=f"{tmp_path}/g/*.csv")])
    assert [s[0].symbol for s in loaded.streams] == ["AAA"]
    (event,) = loaded.events
    assert event.kind == "SourceFileEmpty" and "BBB.csv" in event.message


def test_load_replay_sources_with_every_glob_file_empty_raises(tmp_path: Path) -> None:
    write(tmp_path / "g" / "AAA.csv", 0)
    write(tmp_path / "g" / "BBB.csv", 0)
    with pytest.raises(DataFormatError, match="none of the 2 matching files has usable data"):
        load_replay_sources([source(path=f"{tmp_path}/g/*.csv")])


def test_expand_source_with_symlink_out_of_the_folder_skips_it(tmp_path: Path) -> None:
    write(tmp_path / "outside" / "SECRET.csv", 1)
    write(tmp_path / "g" / "AAA.csv", 1)
    (tmp_path / "g" / "LINK.csv").symlink_to(tmp_path / "outside" / "SECRET.csv")
    assert [s for _p, s in expand_source(f"{tmp_path}/g/*.csv", None)] == ["AAA"]


def test_expand_source_with_pkg_glob_at_the_data_root_looks_there() -> None:
    found = [symbol for _path, symbol in expand_source("pkg:replay/*.csv.gz", None)]
    assert "SBIN" in found
    assert [s for _p, s in expand_source("pkg:*.yaml", None)] == ["dev"]
