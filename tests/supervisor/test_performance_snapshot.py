"""The desk's Performance tab says what ``kitetui report`` says, to the paisa.

The bundled replay (six trading days, three engines) runs through the desk; its last
snapshot's performance rows are then compared with the report built from the same
database: the run, each engine, each symbol and each day. A second run is stopped part
way and resumed, so the figures also hold for fills the desk rebuilt from the journal.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import yaml

from kitetui.backtest.build import Report, build_report
from kitetui.backtest.ledger import load_ledger
from kitetui.cli import DEFAULT_CONFIG
from kitetui.clock import ist_date
from kitetui.config import parse_config
from kitetui.money import to_paise
from kitetui.performance.metrics import Figures
from kitetui.supervisor import Supervisor
from kitetui.views import DeskSnapshot, PerformanceRow


def _paise(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def _exact(value: Decimal | None) -> int | None:
    return None if value is None else to_paise(value)


def assert_same(row: PerformanceRow, figures: Figures, where: str) -> None:
    shown = (
        row.trades,
        row.open_trades,
        row.wins,
        row.losses,
        row.win_rate,
        row.profit_factor,
        *map(
            _paise,
            (
                row.gross,
                row.charges,
                row.net,
                row.avg_win,
                row.avg_loss,
                row.expectancy,
                row.max_drawdown,
                row.turnover,
            ),
        ),
    )
    reported = (
        figures.trades,
        figures.open_trades,
        figures.wins,
        figures.losses,
        figures.win_rate,
        figures.profit_factor,
        *map(
            _exact,
            (
                figures.gross_pnl,
                figures.charges.total,
                figures.net_pnl,
                figures.avg_win,
                figures.avg_loss,
                figures.expectancy,
                figures.max_drawdown.amount,
                figures.turnover,
            ),
        ),
    )
    assert shown == reported, where


def assert_matches_report(snapshot: DeskSnapshot, db: Path) -> Report:
    """Every part the report measures has the same figures on the desk."""
    report = build_report(load_ledger(db, snapshot.run_id))
    rows = {(r.scope, r.part, r.name): r for r in snapshot.performance.rows}
    assert_same(rows["run", "all", ""], report.total, "run")
    expected = {("run", "all", "")}
    for part, measured in (
        ("engine", report.by_strategy),
        ("symbol", report.by_symbol),
        ("day", report.by_day),
    ):
        for name, figures in measured.items():
            assert_same(rows["run", part, name], figures, f"run {part} {name}")
            expected.add(("run", part, name))
    for day, figures in report.by_day.items():  # a day's own scope: its whole
        assert_same(rows[day, "all", ""], figures, f"{day} all")
    assert {k for k in rows if k[0] == "run"} == expected
    engines = {e.name: e.strategy for e in snapshot.engines}
    for name in report.by_strategy:
        assert rows["run", "engine", name].strategy == engines[name]
    return report


def _config():
    return parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), "test.yaml")


async def test_after_a_replay_the_desk_performance_equals_the_report(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    supervisor = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 60)
    process = supervisor._process
    live: list[int] = []  # closed trades on the screen, sampled during the run

    async def sampled(ts: int, batch: list, warm: bool) -> None:
        await process(ts, batch, warm)
        if supervisor.summary.batches % 211 == 0:
            snapshot = supervisor.publisher.build(0)
            run = snapshot.performance.scoped("run")[0]
            today = [r for r in snapshot.performance.scoped(snapshot.day) if r.part == "all"]
            assert today, "today has a row, if only of zeros"
            assert (run.scope, run.part) == ("run", "all")
            live.append(run.trades)

    supervisor._process = sampled  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(supervisor.run(), 240)
        final = supervisor.publisher.build(0)
    finally:
        await asyncio.wait_for(supervisor.close(), 30)
    assert live == sorted(live) and live[-1] > 0 and live[0] < live[-1]  # it grew live
    report = assert_matches_report(final, db)
    assert report.total.trades > 10 and len(report.by_day) >= 3 and len(report.by_symbol) > 3
    # the end-of-replay summary screen counts trades and wins as the report does
    assert final.headline is not None
    assert (final.headline.trades, final.headline.won) == (report.total.trades, report.total.wins)
    # Today's scope is the last day's, and its parts add up to it.
    today = [r for r in final.performance.rows if r.scope == final.day]
    whole = next(r for r in today if r.part == "all")
    engines = [r for r in today if r.part == "engine"]
    assert sum(_paise(r.net) for r in engines) == _paise(whole.net)
    assert sum(r.trades for r in engines) == whole.trades


async def test_a_resumed_run_rebuilds_the_same_figures_from_the_journal(tmp_path: Path) -> None:
    """Stopped on its second day with a position open (left open: ``on_stop: leave``),
    the desk marks that trade as the report does; resumed, it rebuilds every figure
    from the journaled fills and ends where the report ends."""
    db = tmp_path / "state.db"
    first = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(first.open(), 60)
    process = first._process
    days: set[str] = set()

    async def stop_with_a_position_open(ts: int, batch: list, warm: bool) -> None:
        await process(ts, batch, warm)
        days.add(ist_date(ts).isoformat())
        if len(days) >= 2 and first.portfolio.open_positions():
            first.request_stop()

    first._process = stop_with_a_position_open  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(first.run(), 240)
    finally:
        await asyncio.wait_for(first.close(), 30)
    stopped = first.publisher.build(0)
    whole = stopped.performance.scoped("run")[0]
    assert whole.trades > 0 and whole.open_trades > 0
    assert assert_matches_report(stopped, db).total.open_trades == whole.open_trades

    second = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(second.open(), 60)
    assert second.resumed and second.run_id == first.run_id
    try:
        await asyncio.wait_for(second.run(), 240)
        final = second.publisher.build(0)
    finally:
        await asyncio.wait_for(second.close(), 30)
    assert final.performance.scoped("run")[0].trades > whole.trades
    report = assert_matches_report(final, db)
    assert report.total.trades > 10 and len(report.by_day) >= 3
