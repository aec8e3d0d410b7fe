"""One sweep point in-process: the backtest's own figures, or a one-line reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kitetui.backtest.build import build_report
from kitetui.backtest.ledger import load_ledger
from kitetui.market.replay import DateWindow
from kitetui.sweep.point import PointJob, run_point
from kitetui.trading import charges
from kitetui.trading.charges import DEFAULT_RATES

WINDOW = DateWindow(date(2023, 4, 5), date(2023, 4, 6))


def _job(small, small_config, params, database=None, phase="sweep") -> PointJob:
    return PointJob(0, params, small, str(small_config), WINDOW, database, phase=phase)


def test_a_point_measures_its_run_as_the_report_does(small, small_config, tmp_path) -> None:
    db = tmp_path / "runs" / "p.db"
    db.parent.mkdir()
    result = run_point(_job(small, small_config, (("bb_std", "1.5"),), db))
    assert result.ok, result.error
    total = build_report(load_ledger(db, result.run_id)).total
    assert (result.net_pnl, result.gross_pnl, result.charges) == (
        total.net_pnl,
        total.gross_pnl,
        total.charges.total,
    )
    assert (result.sharpe, result.max_drawdown) == (
        total.sharpe,
        total.max_drawdown.amount,
    )
    assert (result.trades, result.wins, result.win_rate) == (
        total.trades,
        total.wins,
        total.win_rate,
    )
    assert result.trades > 0
    assert (result.unpriced_fills, result.unpriced_from) == (0, "")  # every fill charged
    assert result.database == str(db)
    assert result.daily_net == () and result.closed_equity == ()  # not stitched: not kept


def test_an_out_of_sample_point_keeps_the_curves_its_fold_is_stitched_by(
    small, small_config
) -> None:
    result = run_point(_job(small, small_config, (("bb_std", "1.5"),), phase="out"))
    assert result.ok, result.error
    assert len(result.daily_net) == 2  # the window's trading days, for stitched ratios
    assert sum(result.daily_net) == result.closed_equity[-1][1]  # every closed trade's net
    assert len(result.closed_equity) == result.trades + 1  # from the 0 start


def test_a_point_without_a_database_leaves_nothing_behind(small, small_config) -> None:
    result = run_point(_job(small, small_config, (("bb_std", "1.5"),)))
    assert result.ok and result.database == ""
    assert not Path(result.database or "/nonexistent").exists()


def test_a_point_breaking_the_strategys_rules_fails_alone(small, small_config) -> None:
    result = run_point(_job(small, small_config, (("fno.fast", "30"),)))
    assert not result.ok
    assert result.error == "invalid params: fno.params: fast (30) must be less than slow (21)"
    assert result.net_pnl is None


def test_a_point_whose_run_fails_reports_why(small, small_config) -> None:
    empty = PointJob(
        0, (), small, str(small_config), DateWindow(date(2030, 1, 1), date(2030, 1, 2)), None
    )
    result = run_point(empty)
    assert not result.ok
    assert "no replay data in 2030-01-01 … 2030-01-02" in result.error
    assert "\n" not in result.error


def test_a_point_counts_the_fills_the_rate_table_could_not_price(
    small, small_config, tmp_path, monkeypatch
) -> None:
    """A rate table whose equity brokerage starts on the window's second day: the first
    day's fills are charged nothing, and the point says how many and from when (the
    sweep ranks it after fully charged points and never makes it best)."""
    rates = DEFAULT_RATES.read_text(encoding="utf-8")
    first = "      from: 2020-07-01\n"  # the equity intraday brokerage row's
    assert rates.count(first) >= 1
    patched = tmp_path / "rates.yaml"
    patched.write_text(rates.replace(first, "      from: 2023-04-06\n", 1), encoding="utf-8")
    monkeypatch.setattr(charges, "DEFAULT_RATES", patched)
    charges.default_calculator.cache_clear()  # one per process: read the patched file
    try:
        result = run_point(_job(small, small_config, (("bb_std", "1.5"),)))
    finally:
        monkeypatch.undo()
        charges.default_calculator.cache_clear()
    assert result.ok, result.error
    assert result.unpriced_fills > 0
    assert result.unpriced_from == "2023-04-05"
