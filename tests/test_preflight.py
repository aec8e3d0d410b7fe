"""Preflight: what the config points at (files, masters, the replay's days) is checked
before any trade, each problem one line with its exit code's exception."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import AppConfig, ConfigError, parse_config, read_config_data
from kitetui.market.calendar import nse
from kitetui.market.loaders import DataFormatError
from kitetui.preflight import check_inputs, check_replay_days, load_calendar


def config_with(**changes: object) -> AppConfig:
    data = read_config_data(DEFAULT_CONFIG)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[leaf] = value
    return parse_config(data, "c.yaml")


def test_check_inputs_with_demo_config_scans_six_days_without_warnings() -> None:
    report = check_inputs(config_with(), "c.yaml", scan_data=True)
    assert report.days == (
        date(2022, 11, 18), date(2023, 4, 3), date(2023, 4, 5), date(2023, 4, 6),
        date(2023, 4, 10), date(2023, 4, 11),
    )  # fmt: skip
    assert report.warnings == ()


def test_check_inputs_without_scan_reads_no_data(tmp_path: Path) -> None:
    header_only = tmp_path / "SBIN.csv"
    header_only.write_text("date,open,high,low,close,volume\n")
    config = config_with(replay__sources=[{"symbol": "SBIN", "path": str(header_only)}])
    assert check_inputs(config, "c.yaml").days == ()
    with pytest.raises(DataFormatError, match="no data rows"):
        check_inputs(config, "c.yaml", scan_data=True)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ({"symbol": "SBIN", "path": "{tmp}/none.csv"}, "file not found"),
        ({"symbol": "SBIN", "path": "{tmp}"}, "is a directory"),
        ({"path": "{tmp}/none*.csv"}, "no file matches"),
    ],
)
def test_check_inputs_with_unusable_source_raises_data_error_naming_key(
    tmp_path: Path, source: dict, match: str
) -> None:
    source = {k: v.replace("{tmp}", str(tmp_path)) for k, v in source.items()}
    config = config_with(replay__sources=[source])
    with pytest.raises(DataFormatError, match=match) as caught:
        check_inputs(config, "c.yaml")
    assert "replay.sources[0]" in str(caught.value) and "\n" not in str(caught.value)


def test_check_inputs_with_optional_missing_source_passes(tmp_path: Path) -> None:
    source = {"symbol": "SBIN", "path": str(tmp_path / "none.csv"), "optional": True}
    other = {"symbol": "HDFCBANK", "path": "pkg:replay/HDFCBANK.csv.gz"}
    config = config_with(replay__sources=[source, other])
    report = check_inputs(config, "c.yaml", scan_data=True)
    assert [e.kind for e in report.events] == ["SourceEmpty"]
    assert report.warnings[0].startswith("SourceEmpty: optional source replay.sources[0]")


def test_load_calendar_with_bad_override_names_key_file_and_line(tmp_path: Path) -> None:
    override = tmp_path / "holidays.csv"
    override.write_text("date,description\n2026-11-09,ok\n2026-11-31,no such day\n")
    with pytest.raises(ConfigError) as caught:
        load_calendar(config_with(calendar__holidays_override=str(override)), "c.yaml")
    error = caught.value
    assert error.key_path == "calendar.holidays_override"
    assert error.reason == f"{override}: line 3: bad date '2026-11-31' (expected YYYY-MM-DD)"


def test_load_calendar_with_good_override_adds_the_holiday(tmp_path: Path) -> None:
    override = tmp_path / "holidays.csv"
    override.write_text("date,description\n2026-11-09,added\n")
    calendar = load_calendar(config_with(calendar__holidays_override=str(override)), "c.yaml")
    assert not calendar.is_trading_day(date(2026, 11, 9))


def test_check_replay_days_with_universe_before_its_first_list_refuses() -> None:
    config = config_with(engines__2__universe="NIFTY 100")
    with pytest.raises(ConfigError) as caught:
        check_replay_days(config, [date(2023, 4, 3), date(2026, 4, 1)], nse(), "c.yaml")
    assert caught.value.key_path == "engines[2].universe"
    assert "no NIFTY 100 membership list before 2026-03-30" in caught.value.reason
    assert "1 day(s) from 2023-04-03" in caught.value.reason


def test_check_replay_days_with_universe_covered_passes() -> None:
    config = config_with(engines__2__universe="NIFTY 100")
    assert check_replay_days(config, [date(2026, 4, 1)], nse(), "c.yaml") == ()
    nifty50 = config_with()
    assert check_replay_days(nifty50, [date(2022, 3, 31)], nse(), "c.yaml") == ()
    with pytest.raises(ConfigError):
        check_replay_days(nifty50, [date(2022, 3, 30)], nse(), "c.yaml")


def test_check_replay_days_with_uncovered_year_warns_once_per_year() -> None:
    days = [date(2018, 1, 2), date(2018, 1, 3), date(2019, 5, 6), date(2023, 4, 3)]
    config = config_with(engines__2__universe=None, engines__2__symbols=["SBIN"])
    events = check_replay_days(config, days, nse(), "c.yaml")
    assert [(e.kind, e.level, e.data["year"], e.data["days"]) for e in events] == [
        ("CalendarNotCovered", "WARNING", 2018, 2),
        ("CalendarNotCovered", "WARNING", 2019, 1),
    ]


def test_check_inputs_with_replay_of_uncovered_year_warns(tmp_path: Path) -> None:
    data = tmp_path / "SBIN.csv"
    data.write_text(
        "date,open,high,low,close,volume\n2018-01-02 09:15:00+05:30,300,301,299,300,10\n"
    )
    config = config_with(
        replay__sources=[{"symbol": "SBIN", "path": str(data)}],
        engines__2__universe=None,
        engines__2__symbols=["SBIN"],
    )
    report = check_inputs(config, "c.yaml", scan_data=True)
    assert any(w.startswith("CalendarNotCovered: the NSE calendar has no holiday list for 2018")
               for w in report.warnings)  # fmt: skip


def test_check_inputs_warns_of_an_equity_symbol_the_replay_has_no_data_for() -> None:
    """probe k33: ``symbols: [SBIN, HDFCBANK]`` with data for HDFCBANK alone passed
    check-config as "ok"; only the backtest's report said SBIN never had data."""
    config = config_with(
        replay__sources=[{"symbol": "HDFCBANK", "path": "pkg:replay/HDFCBANK.csv.gz"}],
        engines=[read_config_data(DEFAULT_CONFIG)["engines"][2] | {
            "universe": None, "symbols": ["SBIN", "HDFCBANK"],
        }],
    )  # fmt: skip
    report = check_inputs(config, "c.yaml", scan_data=True)
    assert report.warnings == (
        "NoDataForContract: SBIN (engines[0].symbols[0]) has no replay data: engine equity "
        "will never trade it",
    )
