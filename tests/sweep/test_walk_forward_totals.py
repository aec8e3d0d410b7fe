"""A walk-forward's out-of-sample runs measured as one run, by the report's functions."""

from __future__ import annotations

from decimal import Decimal

from kitetui.performance.metrics import drawdown_of, sharpe
from kitetui.sweep.point import PointResult
from kitetui.sweep.runner import stitched_figures

D = Decimal


def _run(fold: int, daily: list[str], curve: list[tuple[int, str]], trades: int, wins: int):
    net = D(curve[-1][1]) if curve else D(0)
    return PointResult(
        0,
        (("fast", "5"),),
        fold,
        "out",
        None,
        "",
        net_pnl=net,
        trades=trades,
        wins=wins,
        capital=D(100_000),
        daily_net=tuple(D(x) for x in daily),
        closed_equity=tuple((ts, D(v)) for ts, v in curve),
    )


def test_stitched_runs_measure_as_one_continuous_run() -> None:
    first = _run(1, ["100", "-50"], [(1, "0"), (2, "100"), (3, "50")], trades=2, wins=1)
    second = _run(2, ["-200", "300"], [(10, "0"), (11, "-200"), (12, "100")], trades=2, wins=1)
    empty = _run(3, ["0"], [], trades=0, wins=0)
    got = stitched_figures([first, second, empty])
    assert got.net_pnl == D(150)
    assert got.trades == 4 and got.win_rate == 0.5
    assert got.sharpe == sharpe([D(100), D(-50), D(-200), D(300), D(0)], D(100_000))
    # one curve: 0, 100, 50, then the second run from 50: 50, -150, 150
    expected = drawdown_of([(1, D(0)), (2, D(100)), (3, D(50)), (10, D(50)), (11, D(-150))])
    assert got.max_drawdown == expected.amount == D(250)


def test_no_trades_no_ratios() -> None:
    got = stitched_figures([_run(1, ["0"], [], trades=0, wins=0)])
    assert (got.net_pnl, got.sharpe, got.max_drawdown, got.win_rate) == (D(0), None, D(0), None)
