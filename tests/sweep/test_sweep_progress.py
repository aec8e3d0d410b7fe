"""The sweep's progress: one line a point when redirected, a bar with the best point so
far on a terminal (its text checked, not its drawing)."""

from __future__ import annotations

import io
from decimal import Decimal

from kitetui.sweep.point import PointResult
from kitetui.sweep.progress import SweepProgress


def _result(index: int, net: str | None, error: str = "") -> PointResult:
    return PointResult(
        index,
        (("fast", str(index)),),
        0,
        "sweep",
        None,
        error,
        net_pnl=None if net is None else Decimal(net),
        wall_s=1.25,
    )


def test_redirected_progress_is_a_line_a_point_and_tracks_the_best() -> None:
    stream = io.StringIO()
    with SweepProgress(3, stream=stream) as progress:
        progress.update(_result(0, "-12.5"))
        progress.update(_result(1, None, error="invalid params: fast (30) must be below"))
        progress.update(_result(2, "1234.567"))
    assert stream.getvalue().splitlines() == [
        "[1/3] fast=0: net ₹-12.50 in 1.2 s",
        "[2/3] fast=1: failed: invalid params: fast (30) must be below",
        "[3/3] fast=2: net ₹1,234.57 in 1.2 s",
    ]
    assert progress.best.index == 2
    assert progress.best_text() == "best ₹1,234.57 (fast=2)  1 failed"


def test_terminal_progress_draws_a_bar_and_grows_with_more_points() -> None:
    stream = io.StringIO()
    with SweepProgress(2, stream=stream, force=True) as progress:
        assert progress.live
        progress.update(_result(0, "5"))
        progress.add(1)
        progress.update(_result(1, "7"))
        assert progress.total == 3
    drawn = stream.getvalue()
    assert "sweep" in drawn and "[" not in drawn.replace("\x1b[", "")  # no per-point lines
    assert progress.best_text() == "best ₹7.00 (fast=1)"


def test_terminal_progress_shows_the_best_points_params_as_typed() -> None:
    stream = io.StringIO()
    with SweepProgress(1, stream=stream, force=True) as progress:
        progress.update(PointResult(0, (("mode", "[/b]"),), 0, "sweep", None, "", Decimal(3)))
    assert progress.best_text() == "best ₹3.00 (mode=[/b])"  # rich would raise on markup


def test_walk_forward_progress_ranks_only_the_out_of_sample_runs() -> None:
    """In-sample runs of different folds cover different days: the best so far is of the
    out-of-sample runs, which the sweep reports."""
    stream = io.StringIO()

    def run(index: int, phase: str, net: str) -> PointResult:
        return PointResult(index, (("fast", str(index)),), 1, phase, None, "", Decimal(net))

    with SweepProgress(3, stream=stream, walk_forward=True) as progress:
        progress.update(run(0, "in", "900"))
        assert progress.best is None and progress.best_text() == ""
        progress.add(2)
        progress.update(run(1, "in", "50"))
        progress.update(run(0, "out", "-20"))
        progress.update(run(1, "out", "10"))
    assert progress.best_text() == "best out of sample ₹10.00 (fast=1)"
