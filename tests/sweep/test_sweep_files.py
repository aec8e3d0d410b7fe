"""The sweep's files as points finish, on a scripted executor (no worker processes):
rewritten at most once a second while points pour in, complete at the end, and
complete when the sweep is stopped."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from kitetui.config import read_config_data
from kitetui.sweep.grid import parse_axis
from kitetui.sweep.point import PointJob, PointResult
from kitetui.sweep.runner import Sweep, SweepRequest
from kitetui.sweep.windows import WalkForward


class _Scripted:
    """Each job's result at once; ``stop_after`` raises Ctrl-C after that many."""

    workers = 1
    shares_disk = True

    def __init__(self, stop_after: int | None = None, fail_fold: int = 0) -> None:
        self.stop_after = stop_after
        self.fail_fold = fail_fold  # every in-sample point of this fold fails
        self.aborted = False

    def describe(self) -> str:
        return "scripted"

    def run(self, jobs: Sequence[PointJob]) -> Iterator[PointResult]:
        for n, job in enumerate(jobs):
            if n == self.stop_after:
                raise KeyboardInterrupt
            if job.phase == "in" and job.fold == self.fail_fold:
                error = "[Errno 2] no such file: [/tmp/x]"  # rich markup, were it read as such
                yield PointResult(job.index, job.params, job.fold, job.phase, job.window, error)
                continue
            net = Decimal(job.index) - 40
            yield PointResult(
                job.index, job.params, job.fold, job.phase, job.window, "", net, trades=1
            )

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        pass


def _sweep(small, small_config, out: Path, executor: _Scripted, **more) -> Sweep:
    request = SweepRequest(
        config=small,
        config_path=str(small_config),
        raw=read_config_data(small_config),
        axes=[parse_axis("equity.rsi_low=1:49:1")],
        window=None,
        out=out,
        **more,
    )
    return Sweep(request, executor, stderr=io.StringIO())


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_files_are_rewritten_at_most_once_a_second_and_complete_at_the_end(
    small, small_config, tmp_path, monkeypatch
) -> None:
    sweep = _sweep(small, small_config, tmp_path / "out", _Scripted())
    writes = []
    write = sweep._write
    monkeypatch.setattr(sweep, "_write", lambda: (writes.append(1), write()))
    outcome = sweep.run()
    assert len(outcome.results) == 49
    assert len(writes) <= 3  # the first point, perhaps one a second later, the end
    rows = _rows(tmp_path / "out" / "results.csv")
    assert len(rows) == 49
    assert rows[0]["equity.rsi_low"] == "49"  # ranked: the best net first
    assert "# best point: equity.rsi_low=49;" in (tmp_path / "out" / "best.yaml").read_text()


@pytest.mark.parametrize("stop_after", [0, 30])
def test_a_stopped_sweep_leaves_every_finished_point_in_its_files(
    small, small_config, tmp_path, stop_after
) -> None:
    executor = _Scripted(stop_after)
    sweep = _sweep(small, small_config, tmp_path / "out", executor)
    outcome = sweep.run()
    assert outcome.interrupted and outcome.exit_code == 130 and executor.aborted
    rows = _rows(tmp_path / "out" / "results.csv")  # the header at least
    assert len(rows) == stop_after
    assert (tmp_path / "out" / "best.yaml").exists() == (stop_after > 0)
    if stop_after:  # best.yaml says it is the best of the points that ran, not the grid's
        header = (tmp_path / "out" / "best.yaml").read_text().splitlines()[0]
        assert header.endswith(f"ranked first by net P&L after charges among the {stop_after} "
                               "of 49 points that ran")  # fmt: skip


def test_a_walk_forward_stopped_mid_fold_picks_from_the_last_complete_fold(
    small, small_config, tmp_path
) -> None:
    # two folds of 49 in-sample points each; stopped after 60 runs: fold 2 has 11
    executor = _Scripted(stop_after=60)
    sweep = _sweep(small, small_config, tmp_path / "out", executor, walk_forward=WalkForward(3, 2))
    outcome = sweep.run()
    assert outcome.interrupted
    assert outcome.best is not None and outcome.best.fold == 1
    assert outcome.best.params == (("equity.rsi_low", "49"),)  # fold 1's own pick


def test_a_walk_forward_summary_names_every_failed_point_and_a_fold_without_a_pick(
    small, small_config, tmp_path
) -> None:
    # 6 trading days with data, 3:2: two folds; every in-sample point of fold 1 fails
    executor = _Scripted(fail_fold=1)
    sweep = _sweep(small, small_config, tmp_path / "out", executor, walk_forward=WalkForward(3, 2))
    sweep.run()
    stdout = io.StringIO()
    sweep.print_summary(stdout)  # an error read as rich markup would raise here
    text = stdout.getvalue()
    assert "\nfold 1: no in-sample point ran\n" in text
    assert "1 of" in text  # the totals cover one fold of two
    assert (
        "✗ point 0 (equity.rsi_low=1, fold 1 in sample): [Errno 2] no such file: [/tmp/x]" in text
    )
    assert text.count("✗ point") == 20  # --top's 20 of the 49, then how many more
    assert "✗ … and 29 more failed points (results.csv: each reason)" in text


def test_the_summary_prints_an_out_folder_named_like_markup(small, small_config, tmp_path):
    out = tmp_path / "runs[/x]"
    sweep = _sweep(small, small_config, out, _Scripted())
    sweep.run()
    stdout = io.StringIO()
    sweep.print_summary(stdout)  # rich would read [/x] as a closing tag and raise
    assert f"results: {out / 'results.csv'}" in stdout.getvalue()


def test_of_two_sweeps_on_one_out_the_second_stops_before_touching_it(
    small, small_config, tmp_path, monkeypatch
) -> None:
    import kitetui.sweep.runner as runner
    from kitetui.backtest.errors import OutputError

    out = tmp_path / "out"
    made = runner.make_private_dir

    def other_sweep_gets_there_first(path: Path) -> None:  # between the check and the claim
        made(path)
        if path == out:
            (out / "results.csv").write_text("the other sweep's\n")

    monkeypatch.setattr(runner, "make_private_dir", other_sweep_gets_there_first)
    executor = _Scripted()
    with pytest.raises(OutputError, match=r"already holds a sweep's results\.csv"):
        _sweep(small, small_config, out, executor).run()
    assert (out / "results.csv").read_text() == "the other sweep's\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]  # no scratch of its own


def test_each_sweep_has_a_scratch_folder_of_its_own_removed_at_its_end(
    small, small_config, tmp_path
) -> None:
    out = tmp_path / "out"
    sweep = _sweep(small, small_config, out, _Scripted())
    sweep.run()
    assert sweep.scratch is not None and sweep.scratch.parent == out.resolve()
    assert sweep.scratch.name.startswith(".points-")
    assert not sweep.scratch.exists()
    assert sorted(p.name for p in out.iterdir()) == ["best.yaml", "results.csv"]


def test_the_default_out_is_never_a_folder_already_there(tmp_path, monkeypatch) -> None:
    from datetime import UTC, datetime

    from kitetui.sweep import runner

    class _Frozen:  # two sweeps started in the same second
        @staticmethod
        def now(tz):
            return datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)

    monkeypatch.setattr(runner, "datetime", _Frozen)
    first = runner.default_out(tmp_path)
    assert first == tmp_path / "20261205-120000"
    first.mkdir()
    assert runner.default_out(tmp_path) == tmp_path / "20261205-120000-2"


def test_a_second_ctrl_c_waits_for_the_files_to_be_complete(
    small, small_config, tmp_path, monkeypatch
) -> None:
    import os
    import signal

    from kitetui.sweep import runner

    writes = []
    write_csv = runner.write_csv

    def ctrl_c_again_on_the_final_write(path, results, names):
        writes.append(len(results))
        if len(writes) == 2:  # the first point's write, then the stopped sweep's last
            os.kill(os.getpid(), signal.SIGINT)
        write_csv(path, results, names)

    monkeypatch.setattr(runner, "write_csv", ctrl_c_again_on_the_final_write)
    # No timed rewrite between the first point's and the final one: on a loaded machine
    # the 30 points took over a second, a third write came in between, and the "second"
    # Ctrl-C landed while the points still ran (a first one, not held).
    monkeypatch.setattr(runner, "WRITE_EVERY_S", float("inf"))
    sweep = _sweep(small, small_config, tmp_path / "out", _Scripted(stop_after=30))
    # A Ctrl-C reaches Python here as in a fresh process, whatever this worker ran before
    # (the runner leaves an ignored SIGINT ignored, and the test's kill was then lost).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):  # acted on, once the files were written
            sweep.run()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back
    finally:
        signal.signal(signal.SIGINT, before)
    assert writes == [1, 30]
    assert len(_rows(tmp_path / "out" / "results.csv")) == 30


class _OnlyFirstAxis(_Scripted):
    """Figures that depend on the first axis's value alone: the second changes nothing."""

    def run(self, jobs: Sequence[PointJob]) -> Iterator[PointResult]:
        for job in jobs:
            net = Decimal(job.params[0][1]) - 40
            yield PointResult(
                job.index, job.params, job.fold, job.phase, job.window, "", net, trades=1
            )


def test_a_name_that_changed_nothing_and_a_tied_best_are_said_not_passed_off_as_a_choice(
    small, small_config, tmp_path
) -> None:
    """Probe: ``--grid fast=5,7`` on a window where fast's engine had no data measured
    the same figures twice, and the summary and best.yaml named fast=5 best, grid order
    alone having chosen it."""
    request = SweepRequest(
        config=small,
        config_path=str(small_config),
        raw=read_config_data(small_config),
        axes=[parse_axis("equity.rsi_low=20,25"), parse_axis("fno.fast=5,7")],
        window=None,
        out=tmp_path / "out",
    )
    sweep = Sweep(request, _OnlyFirstAxis(), stderr=io.StringIO())
    sweep.run()
    stdout = io.StringIO()
    sweep.print_summary(stdout)
    text = stdout.getvalue()
    assert "note: fno.fast changed nothing: each of its values measured the same figures" in text
    assert "note: equity.rsi_low" not in text
    tie = (
        "tied on every figure with 1 other point(s) (equity.rsi_low=25 fno.fast=7): "
        "the grid cannot tell them apart, only its order put this one first"
    )
    assert "best: equity.rsi_low=25 fno.fast=5  →" in text
    assert f"  {tie}\n" in text
    assert f"\n# {tie}\n" in (tmp_path / "out" / "best.yaml").read_text()


def test_a_walk_forward_says_its_pick_never_saw_the_last_days_and_how_to_choose_on_them(
    small, small_config, tmp_path
) -> None:
    """Probe: best.yaml, "what one would trade next", was chosen on the last fold's
    in-sample days, which end up to OUT trading days before the data does, and nothing
    said so (30:15 on Jan-Apr 2024: chosen on days to 24 Apr, the data to 30 Apr)."""
    # 6 trading days with data (18 Nov 2022; 3, 5, 6, 10, 11 Apr 2023), 3:2: the last
    # fold chooses on 5, 6 and 10 Apr and is judged on 11 Apr
    sweep = _sweep(
        small, small_config, tmp_path / "out", _Scripted(), walk_forward=WalkForward(3, 2)
    )
    sweep.run()
    stdout = io.StringIO()
    sweep.print_summary(stdout)
    assert (
        "next: best.yaml was chosen on days that end 1 trading day(s) before the data's last "
        f"(2023-04-11); to choose on the latest 3: kitetui sweep -c {small_config} "
        "--grid equity.rsi_low=1:49:1 --from 2023-04-06 --to 2023-04-11\n"
    ) in stdout.getvalue()
    header = (tmp_path / "out" / "best.yaml").read_text().splitlines()[0]
    assert header.endswith(
        "optimised on its in-sample days, which end 1 trading day(s) before the data's last, "
        "2023-04-11"
    )
