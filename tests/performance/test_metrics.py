"""The report's figures: hand-computed cases, then invariants over random runs."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from backtest.factories import fill, ts
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.clock import ist_date
from kitetui.performance import metrics
from kitetui.performance.metrics import (
    DrawdownTracker,
    Tally,
    closed_equity,
    daily_net,
    drawdown_of,
    exposure,
    figures,
    grouped,
    sharpe,
    sortino,
    trade_day,
)
from kitetui.performance.trades import Trade, round_trips
from kitetui.trading.charges import Charges

D = Decimal
CAPITAL = D(1_000_000)
MIN = 60_000_000_000


def _day_trades() -> list[Trade]:
    """Three closed trades over two days: +1000, -400 (day 1), -700 (day 2), each ₹20."""
    return round_trips(
        [
            fill("BUY", 10, 100, ts("2024-01-02", "09:30"), brokerage=10),
            fill("SELL", 10, 202, ts("2024-01-02", "10:00"), brokerage=10),  # +1020 gross
            fill("SELL", 10, 300, ts("2024-01-02", "11:00"), brokerage=10),
            fill("BUY", 10, 338, ts("2024-01-02", "12:00"), brokerage=10),  # -380 gross
            fill("BUY", 10, 100, ts("2024-01-03", "09:30"), brokerage=10),
            fill("SELL", 10, 32, ts("2024-01-03", "14:00"), brokerage=10),  # -680 gross
        ]
    )


def test_figures_of_three_trades_computed_by_hand() -> None:
    trades = _day_trades()
    days = [date(2024, 1, 2), date(2024, 1, 3)]
    f = figures(trades, capital=CAPITAL, days=days, minutes=[])
    assert f.gross_pnl == D(-40) and f.charges.total == D(60) and f.net_pnl == D(-100)
    assert f.charges.brokerage == D(60)
    assert (f.trades, f.wins, f.losses) == (3, 1, 2)
    assert f.win_rate == pytest.approx(1 / 3)
    assert f.avg_win == D(1000) and f.avg_loss == D(-550)
    assert f.profit_factor == pytest.approx(1000 / 1100)
    assert f.expectancy == D(-100) / 3
    # closed net equity: 0 -> 1000 -> 600 -> -100: peak 1000, trough -100
    assert f.max_drawdown.amount == D(1100)
    assert f.max_drawdown.recovered_ts_ns is None
    assert f.max_drawdown.peak_ts_ns == ts("2024-01-02", "10:00")
    assert f.max_drawdown.trough_ts_ns == ts("2024-01-03", "14:00")
    assert f.turnover == D(1000 + 2020 + 3000 + 3380 + 1000 + 320)
    # daily returns: +600/1e6 and -700/1e6
    r = [0.0006, -0.0007]
    mean = sum(r) / 2
    sd = math.sqrt(sum((x - mean) ** 2 for x in r))
    assert f.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    assert f.sortino == pytest.approx(mean / math.sqrt(0.0007**2 / 2) * math.sqrt(252))


def test_figures_without_trades_are_zero_and_none() -> None:
    f = figures([], capital=CAPITAL, days=[date(2024, 1, 2)], minutes=[1, 2])
    assert (f.gross_pnl, f.net_pnl, f.trades, f.turnover) == (0, 0, 0, 0)
    assert f.win_rate is None and f.profit_factor is None and f.expectancy is None
    assert f.sharpe is None and f.exposure == 0
    assert f.max_drawdown.amount == 0


def test_drawdown_duration_runs_from_the_peak_to_the_point_that_regains_it() -> None:
    day = 86_400 * 10**9
    dd = drawdown_of([(0, D(10)), (day, D(4)), (2 * day, D(7)), (3 * day, D(11)), (4 * day, D(9))])
    assert dd.amount == D(6) and dd.duration_days == 3.0
    assert (dd.peak_ts_ns, dd.trough_ts_ns, dd.recovered_ts_ns) == (0, day, 3 * day)


def test_drawdown_not_regained_lasts_to_the_last_point() -> None:
    day = 86_400 * 10**9
    dd = drawdown_of([(0, D(5)), (day, D(8)), (2 * day, D(1)), (5 * day, D(2))])
    assert dd.amount == D(7) and dd.duration_days == 4.0 and dd.recovered_ts_ns is None


def test_exposure_counts_minutes_inside_any_trade_once() -> None:
    base = ts("2024-01-02", "09:15")
    minutes = [base + i * MIN for i in range(10)]
    trades = round_trips(
        [
            fill("BUY", 1, 10, base + 1 * MIN, symbol="A"),
            fill("BUY", 1, 10, base + 2 * MIN, symbol="B"),
            fill("SELL", 1, 10, base + 4 * MIN, symbol="A"),  # A open minutes 1-3
            fill("SELL", 1, 10, base + 5 * MIN, symbol="B"),  # B open minutes 2-4
            fill("BUY", 1, 10, base + 8 * MIN, symbol="A"),  # open to the end: 8, 9
        ]
    )
    assert exposure(trades, minutes, base + 10 * MIN) == pytest.approx(6 / 10)


def test_ratios_need_two_days_and_some_dispersion() -> None:
    assert sharpe([D(5)], CAPITAL) is None
    assert sharpe([D(5), D(5)], CAPITAL) is None
    assert sortino([D(5), D(6)], CAPITAL) is None  # no losing day


# --------------------------------------------------------------------------- invariants

_days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
_event = st.tuples(
    st.sampled_from(["A", "B", "C"]),
    st.sampled_from(["e1", "e2"]),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=1, max_value=20_000).map(lambda p: D(p) / 20),
    st.integers(min_value=0, max_value=2_000).map(lambda c: D(c) / 100),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_event, max_size=60))
def test_figures_add_up_and_drawdown_bounds_the_worst_day(events) -> None:
    fills = []
    for i, (sym, eng, side, qty, price, charge) in enumerate(events):
        day = _days[min(len(_days) - 1, i * len(_days) // max(1, len(events)))]
        when = ts(day, "09:15") + (i % 300) * MIN
        fills.append(fill(side, qty, price, when, symbol=sym, engine=eng, brokerage=charge))
    trades = round_trips(fills, marks={"A": D(100), "B": D(200)})
    days = [date.fromisoformat(d) for d in _days]
    minutes = sorted({f.ts_ns for f in fills})
    total = figures(trades, capital=CAPITAL, days=days, minutes=minutes)

    assert total.net_pnl == total.gross_pnl - total.charges.total
    assert total.charges.total == sum((f.charges for f in fills), Charges()).total
    for key in (lambda t: t.symbol, lambda t: t.engine, trade_day):
        parts = [
            figures(p, capital=CAPITAL, days=days, minutes=minutes)
            for p in grouped(trades, key).values()
        ]
        assert sum(p.gross_pnl for p in parts) == total.gross_pnl
        assert sum(p.net_pnl for p in parts) == total.net_pnl
        assert sum(p.charges.total for p in parts) == total.charges.total
        assert sum(p.turnover for p in parts) == total.turnover
        assert sum(p.trades for p in parts) == total.trades
        assert sum(p.wins for p in parts) == total.wins

    dd = total.max_drawdown.amount
    assert dd >= 0
    worst_day = min([D(0), *daily_net(trades, days)])
    assert dd >= -worst_day
    assert total.max_drawdown.duration_days >= 0
    if total.exposure is not None:
        assert 0 <= total.exposure <= 1
    if total.win_rate is not None:
        assert 0 <= total.win_rate <= 1
    points = closed_equity(trades)
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    assert all(ist_date(t.exit_ts_ns) >= ist_date(t.entry_ts_ns) for t in trades)


# --------------------------------------------------------------------------- one at a time


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-50_000, max_value=50_000), max_size=40))
def test_drawdown_tracker_point_by_point_equals_drawdown_of_every_prefix(values) -> None:
    tracker = DrawdownTracker()
    points = [(i * MIN, D(v) / 100) for i, v in enumerate(values)]
    for n, (when, value) in enumerate(points, start=1):
        tracker.add(when, value)
        assert tracker.drawdown == drawdown_of(points[:n])


def test_tally_with_a_trade_out_of_exit_order_measures_the_drawdown_sorted_by_exit() -> None:
    trades = _day_trades()  # +1000, -400, -700 net, closed in that order
    tally = Tally()
    for trade in reversed(trades):  # the latest exit first
        tally.add(trade)
    assert tally.drawdown == drawdown_of(closed_equity(trades))
    assert tally.drawdown.amount == D(1100)
    assert tally.figures().net_pnl == D(-100)


def test_a_tally_read_after_an_out_of_order_trade_does_not_measure_every_trade_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The desk's Performance tab reads the run's tally at every snapshot: one trade
    closed out of exit order (a stop filled at its bar's start after another symbol's
    exit a minute later, once in the benchmark's year) made every later read measure the
    whole run's trades again, quadratic in trades (7 % of the year's backtest)."""
    trades = _day_trades()
    tally = Tally()
    tally.add(trades[1])
    tally.add(trades[0])  # closed before the first one added
    expected = drawdown_of(closed_equity(trades[:2]))

    def measured_again(*_: object) -> None:
        raise AssertionError("the drawdown was measured again from every closed trade")

    monkeypatch.setattr(metrics, "closed_drawdown", measured_again)
    monkeypatch.setattr(metrics, "closed_equity", measured_again)
    assert tally.drawdown == expected
    tally.add(trades[2])
    assert tally.figures().max_drawdown == drawdown_of(closed_equity(trades))


@settings(max_examples=150, deadline=None)
@given(st.permutations(range(6)), st.lists(st.integers(-3, 3), min_size=6, max_size=6))
def test_a_tally_fed_in_any_order_measures_the_drawdown_of_the_trades_sorted_by_exit(
    order: list[int], minutes: list[int]
) -> None:
    """Whatever order trades are added in (ties in exit time included), every read of
    the tally equals ``closed_drawdown`` of the trades added so far."""
    base = ts("2024-01-02", "10:00")
    made = []
    for i, shift in enumerate(minutes):
        entry = ts("2024-01-02", "09:20") + i * MIN
        out = base + shift * MIN
        price = 100 + (7 * i) % 11 - 5
        made.extend(
            [
                fill("BUY", 10, 100, entry, symbol=f"S{i}"),
                fill("SELL", 10, price, out, symbol=f"S{i}"),
            ]
        )
    trades = round_trips(made)
    tally = Tally()
    for n, k in enumerate(order, start=1):
        tally.add(trades[k])
        assert tally.drawdown == drawdown_of(closed_equity([trades[j] for j in order[:n]]))


def _halted_together() -> list[Trade]:
    """Three symbols closed in the same minute (a loss halt flattening them): -2,000,
    -1,500 and +3,000 net; the account went from its peak 0 to -500 in one step."""
    at, out = ts("2024-01-02", "09:30"), ts("2024-01-02", "10:27")
    return round_trips(
        [
            fill("BUY", 10, 300, at, symbol="A"),
            fill("BUY", 10, 300, at, symbol="B"),
            fill("BUY", 10, 300, at, symbol="C"),
            fill("SELL", 10, 100, out, symbol="A"),
            fill("SELL", 10, 150, out, symbol="B"),
            fill("SELL", 10, 600, out, symbol="C"),
        ]
    )


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_trades_closed_at_the_same_moment_are_one_step_of_the_drawdown(order) -> None:
    """The probe's F1: the halt's losers added before its winner passed through a level
    the account never had (its ₹158,219.82 against ₹154,270.76), and the figure
    depended on the order the trades were listed in."""
    trades = [_halted_together()[i] for i in order]
    assert sorted(t.net for t in trades) == [D(-2000), D(-1500), D(3000)]
    tally = Tally()
    for trade in trades:
        tally.add(trade)
    assert tally.drawdown.amount == D(500)
    assert drawdown_of(closed_equity(trades)).amount == D(500)
    assert closed_equity(trades)[1:] == [(ts("2024-01-02", "10:27"), D(-500))]


def test_the_drawdown_of_trades_closed_together_starts_at_their_first_entry() -> None:
    """The probe's F8: the amount no longer depended on how tied trades were listed, but
    the peak's time and the duration did (the curve began at whichever entry came first
    in the list)."""
    trades = round_trips(
        [
            fill("BUY", 10, 100, ts("2024-01-02", "09:31"), symbol="A"),
            fill("BUY", 10, 100, ts("2024-01-02", "09:30"), symbol="B"),
            fill("SELL", 10, 99.5, ts("2024-01-02", "09:40"), symbol="A"),
            fill("SELL", 10, 99.7, ts("2024-01-02", "09:40"), symbol="B"),
        ]
    )
    seen = set()
    for listed in (trades, trades[::-1]):
        tally = Tally()
        for trade in listed:
            tally.add(trade)
        for drawdown in (tally.drawdown, drawdown_of(closed_equity(listed))):
            seen.add((drawdown.amount, drawdown.peak_ts_ns, drawdown.duration_days))
    assert seen == {(D(8), ts("2024-01-02", "09:30"), 10 / (24 * 60))}


def test_tally_with_open_leaves_the_closed_figures_alone() -> None:
    trades = round_trips(
        [
            fill("BUY", 10, 100, ts("2024-01-02", "09:30"), brokerage=10),
            fill("SELL", 10, 110, ts("2024-01-02", "10:00"), brokerage=10),
            fill("SELL", 5, 200, ts("2024-01-02", "11:00"), brokerage=10),
        ],
        marks={"NIFTY24JANFUT": D(190)},
    )
    closed, still_open = trades
    tally = Tally()
    tally.add(closed)
    both = tally.with_open([still_open])
    assert (both.trades, both.open_trades, both.gross) == (1, 1, D(100) + D(50))
    assert (tally.trades, tally.open_trades, tally.gross) == (1, 0, D(100))
    assert both.figures().max_drawdown == tally.figures().max_drawdown
    with pytest.raises(ValueError, match="open trades only"):
        tally.with_open([closed])


def _charged(trade: Trade, n: int) -> Trade:
    """``trade`` with charges of ``n``'s own digits (sub-paisa, of several exponents)."""
    charges = Charges(
        brokerage=D(n) * D("0.03"),
        stt=D(n % 7) * D("0.025"),
        exchange=D(n) * D("0.0000297") * 100,
        sebi=D(n) * D("0.00000001"),
        stamp=D(3),
        gst=D(n) * D("0.18") * D("0.0000297"),
    )
    return replace(trade, charges=charges)


def test_a_tally_sums_its_trades_charges_exactly_however_many_and_whenever_read() -> None:
    """A tally sums the charges it was given when they are read (or every 256 trades):
    each read, and the figures, are the very digits of adding each trade's charges as it
    came, and an open trade measured with ``with_open`` leaves the tally's own alone."""
    first, *_ = _day_trades()
    tally = Tally()
    added = Charges()
    for n in range(1, 600):
        trade = _charged(first, n)
        tally.add(trade)
        added = added + trade.charges
        if n % 97 == 0 or n == 300:
            assert repr(tally.charges) == repr(added)
    still_open = replace(_charged(first, 7), closed=False)
    both = tally.with_open([still_open])
    assert repr(both.charges) == repr(added + still_open.charges)
    assert repr(tally.charges) == repr(added)
    assert repr(tally.figures().charges.total) == repr(added.total)
