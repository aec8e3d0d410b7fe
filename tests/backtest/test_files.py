"""``make_private_dir``: private when it creates a folder, hands off one that exists."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from kitetui.backtest.files import check_report_folder, csv_text, inert_cell, report_run_in
from kitetui.private_files import make_private_dir, write_private


def test_a_new_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        make_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(before)
    assert (tmp_path / "a" / "b").stat().st_mode & 0o7777 == 0o700


def test_an_existing_shared_folder_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp: `--out /tmp` must not make it 0700 nor drop the sticky bit
    make_private_dir(shared)
    assert shared.stat().st_mode & 0o7777 == 0o1777


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError) as caught:
        make_private_dir(tmp_path / "f")
    assert caught.value.strerror == "a file, not a folder"


def test_write_private_refuses_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    (tmp_path / "results.csv.part").symlink_to(target)
    with pytest.raises(OSError):
        write_private(tmp_path / "results.csv.part", "rank,point\n")
    assert target.read_text() == "keep me"


def test_write_private_never_follows_a_symlink_even_one_the_user_named(tmp_path: Path) -> None:
    """``kitetui export --out latest.csv`` (a link) made its target 0600 and overwrote
    it; every file the CLI writes now refuses a link, as report and sweep files did."""
    target = tmp_path / "latest-real.csv"
    target.write_text("keep me")
    (tmp_path / "latest.csv").symlink_to(target)
    with pytest.raises(OSError):
        write_private(tmp_path / "latest.csv", "a\n")
    assert target.read_text() == "keep me"


def test_csv_text_neutralises_formula_text_but_keeps_numbers_numbers() -> None:
    """probeC F3: a broker's reject message ``=2+5*cmd|calc`` reached orders.csv (and
    ``kitetui export``) verbatim, a formula to a spreadsheet."""
    rows = [
        ["=2+5*cmd|calc", -123.45, "-123.45", "+91", "@SUM(A1)", "\tx", "-1e-3"],
        ["-", "ok = fine", 7, "", None, "2023-04-03T09:15:00+05:30", "-inf"],
    ]
    text = csv_text(["a", "b", "c", "d", "e", "f", "g"], rows)
    got = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert got == [
        ["'=2+5*cmd|calc", "-123.45", "-123.45", "+91", "'@SUM(A1)", "'\tx", "-1e-3"],
        ["'-", "ok = fine", "7", "", "", "2023-04-03T09:15:00+05:30", "'-inf"],
    ]
    assert inert_cell("\rx") == "'\nx" and inert_cell("+") == "'+"


def test_csv_text_keeps_a_row_whole_when_a_cell_holds_a_carriage_return() -> None:
    """The csv writer quotes a line feed but not a bare CR: a broker's reason holding
    one split the row (a reader refuses the file, a spreadsheet shifts its columns)."""
    text = csv_text(["reason", "qty"], [["rejected\rby RMS\r\nretry", 5]])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["reason", "qty"],
        ["rejected\nby RMS\nretry", "5"],
    ]


@pytest.mark.parametrize("name", ["orders.csv", "report.html"])
def test_a_folder_with_the_users_own_file_of_a_reports_name_is_refused(
    tmp_path: Path, name: str
) -> None:
    """`--out .` beside the user's own orders.csv replaced it without a word."""
    (tmp_path / name).write_text("my own list")
    with pytest.raises(OSError) as caught:
        check_report_folder(tmp_path)
    assert f"{name} is there and no kitetui report is" in caught.value.strerror
    assert (tmp_path / name).read_text() == "my own list"


def test_a_folder_holding_an_earlier_report_may_be_written_again(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text('{"run": {"run_id": "20240102T0915-abc"}}')
    (tmp_path / "orders.csv").write_text("ts,tag\n")
    check_report_folder(tmp_path)  # no refusal: the same kind of files, replaced
    assert report_run_in(tmp_path) == "20240102T0915-abc"
