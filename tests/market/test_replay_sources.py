"""``load_replay_sources``: the config's sources as streams, what an empty source means,
and the replay's days. On the demo config it must load exactly what the supervisor's own
loop loads today, so switching the supervisor to it leaves the golden replay alone."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import SourceConfig, load_config
from kitetui.market.index_loader import load_index_values
from kitetui.market.loaders import DataFormatError, data_path, load_candles, load_ticks
from kitetui.market.replay import expand_source, load_replay_sources, merge_batches

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


def test_expand_source_with_symlink_in_your_folder_reads_it_as_the_file(tmp_path: Path) -> None:
    """Probe B 7: links to shared data were skipped without a word (a folder of them
    was "no file matches"); a link in your own folder is read like a plain path to it."""
    write(tmp_path / "outside" / "HDFCBANK.csv", 1)
    write(tmp_path / "g" / "AAA.csv", 1)
    (tmp_path / "g" / "LINK.csv").symlink_to(tmp_path / "outside" / "HDFCBANK.csv")
    assert [s for _p, s in expand_source(f"{tmp_path}/g/*.csv", None)] == ["AAA", "LINK"]


def test_expand_source_with_pkg_symlink_out_of_the_data_folder_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``pkg:`` glob must stay in the package data, as a ``pkg:`` path must: the link
    is refused by name, not skipped."""
    monkeypatch.setattr("kitetui.market.loaders._DATA_DIR", tmp_path / "data")
    write(tmp_path / "outside" / "SECRET.csv", 1)
    write(tmp_path / "data" / "replay" / "AAA.csv", 1)
    (tmp_path / "data" / "replay" / "LINK.csv").symlink_to(tmp_path / "outside" / "SECRET.csv")
    with pytest.raises(DataFormatError, match=r"LINK\.csv: a symlink out of the package data"):
        expand_source("pkg:replay/*.csv", None)


def test_expand_source_with_pkg_glob_at_the_data_root_looks_there() -> None:
    found = [symbol for _path, symbol in expand_source("pkg:replay/*.csv.gz", None)]
    assert "SBIN" in found
    assert [s for _p, s in expand_source("pkg:*.yaml", None)] == ["dev"]


def _sbin_days(tmp_path: Path) -> tuple[Path, list[str]]:
    """The bundled SBIN candles as text, and its data rows grouped by IST day."""
    text = gzip.decompress(data_path("pkg:replay/SBIN.csv.gz").read_bytes()).decode()
    header, *rows = text.splitlines(keepends=True)
    days: dict[str, list[str]] = {}
    for row in rows:
        days.setdefault(row[:10], []).append(row)
    whole = tmp_path / "whole" / "SBIN.csv"
    whole.parent.mkdir()
    whole.write_text(text)
    return whole, [header + "".join(day) for day in days.values()]


def merged(loaded) -> list:
    return [item for _, batch in merge_batches(loaded.streams) for item in batch]


def test_two_sources_of_one_symbol_with_overlapping_times_are_refused(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", 30)
    second = tmp_path / "b.csv"
    second.write_text(first.read_text().replace(",100,101,99,100.5,", ",103,104,102,103.5,"))
    sources = [source(symbol="SBIN", path=str(first)), source(symbol="SBIN", path=str(second))]
    with pytest.raises(DataFormatError) as caught:
        load_replay_sources(sources)
    message = str(caught.value)
    assert message.startswith(f"{second}: SBIN candles overlap those of {first}")
    assert "(replay.sources[0])" in message and message.endswith("(replay.sources[1])")
    assert "2023-04-03 09:15:00 IST to 2023-04-03 09:44:00 IST" in message
    assert "\n" not in message
    other = [source(symbol="SBIN", path=str(first)), source(symbol="HDFC", path=str(second))]
    assert len(load_replay_sources(other).streams) == 2  # other symbols: no conflict


def test_a_glob_matching_two_files_of_one_symbol_that_overlap_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "d" / "SBIN.csv", 10)
    write(tmp_path / "d" / "SBIN.old.csv", 20)  # the symbol is the name up to its first dot
    with pytest.raises(DataFormatError, match=r"SBIN\.old\.csv: SBIN candles overlap those of"):
        load_replay_sources([source(path=f"{tmp_path}/d/*.csv")])


def test_one_file_a_day_for_one_symbol_replays_as_the_whole_file(tmp_path: Path) -> None:
    whole, days = _sbin_days(tmp_path)
    assert len(days) >= 3
    folder = tmp_path / "days"
    folder.mkdir()
    paths = []
    for number, text in enumerate(days):
        paths.append(folder / f"SBIN.{number}.csv")
        paths[-1].write_text(text)
    expected = merged(load_replay_sources([source(symbol="SBIN", path=str(whole))]))

    by_glob = load_replay_sources([source(path=f"{folder}/*.csv")])
    by_sources = load_replay_sources(
        [source(symbol="SBIN", path=str(path)) for path in reversed(paths)]
    )

    assert merged(by_glob) == merged(by_sources) == expected
    assert len(by_glob.streams) == len(days)


def test_candles_and_ticks_of_one_symbol_are_different_series(tmp_path: Path) -> None:
    candles = write(tmp_path / "c.csv", 5)
    ticks = tmp_path / "t.csv"
    ticks.write_text("20230403,09:15:00,100.5,1,0\n20230403,09:16:00,100.6,1,0\n")
    sources = [
        source(symbol="SBIN", path=str(candles)),
        source(symbol="SBIN", path=str(ticks), kind="ticks"),
    ]
    assert len(load_replay_sources(sources).streams) == 2
