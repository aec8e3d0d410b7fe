"""Which days the Positions, Risk and Performance tabs show: today, the whole run, or one
past day.

A multi-day run keeps every symbol it ever traded; shown together, a closed row from
Monday sits beside Wednesday's open one and the P&L column adds up to the run while the
header shows today. So the tabs show *today* by default and say so, and ``v`` steps to
the whole run and then to each earlier day (newest first). Pure functions of a snapshot
and a scope name: ``"today"``, ``"run"`` or an ISO date from ``snapshot.past_days``.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time

from kitetui.tui.cells import IST
from kitetui.views import DeskSnapshot, PerformanceRow, PositionView

TODAY = "today"
RUN = "run"


def scopes(snapshot: DeskSnapshot | None) -> tuple[str, ...]:
    """The scopes ``v`` steps through: today, the run, then each earlier day, newest first."""
    if snapshot is None:
        return (TODAY,)
    return (TODAY, RUN, *(day.day for day in reversed(snapshot.past_days)))


def next_scope(scope: str, snapshot: DeskSnapshot | None) -> str:
    order = scopes(snapshot)
    return order[(order.index(scope) + 1) % len(order)] if scope in order else TODAY


def valid_scope(scope: str, snapshot: DeskSnapshot | None) -> str:
    """``scope`` while the snapshot still has it (a restarted desk may not): else today."""
    return scope if scope in scopes(snapshot) else TODAY


def scope_label(scope: str, snapshot: DeskSnapshot | None) -> str:
    """``today 2022-11-18``, ``whole run, 5 days``, ``day 2022-11-17``."""
    if scope == TODAY:
        day = snapshot.day if snapshot is not None else ""
        return f"today {day}".rstrip()
    if scope == RUN:
        days = snapshot.risk.days if snapshot is not None else 1
        return f"whole run, {days} day{'s' if days != 1 else ''}"
    return f"day {scope}"


def short_label(scope: str, snapshot: DeskSnapshot | None) -> str:
    """The Risk table's row label, short enough for six figures in 80 columns:
    ``today 11-18``, ``run, 5 days``, ``day 11-17``."""
    if scope == TODAY:
        day = snapshot.day[5:] if snapshot is not None else ""
        return f"today {day}".rstrip()
    if scope == RUN:
        return scope_label(RUN, snapshot).removeprefix("whole ")
    return f"day {scope[5:]}"


def positions_in(snapshot: DeskSnapshot, scope: str) -> tuple[PositionView, ...]:
    """The Positions rows of ``scope``. Today: what is open or traded today, with today's
    realized P&L and charges (so the net column adds up to the header's day P&L). The
    run: every symbol with its run-wide figures. A past day: what each symbol realized,
    and was charged, on it."""
    if scope == RUN:
        return snapshot.positions
    if scope == TODAY:
        return tuple(
            dataclasses.replace(p, realized=p.day_realized, charges=p.day_charges)
            if (p.realized, p.charges) != (p.day_realized, p.day_charges)
            else p
            for p in snapshot.positions
            if p.today
        )
    for day in snapshot.past_days:
        if day.day == scope:
            return day.positions
    return ()


def performance_in(snapshot: DeskSnapshot, scope: str) -> tuple[PerformanceRow, ...]:
    """The Performance rows of ``scope``: today's or one past day's figures (the day, its
    engines, its symbols), or the whole run's (the run, its engines, symbols and days)."""
    if scope == TODAY:
        return snapshot.performance.scoped(snapshot.day) if snapshot.day else ()
    return snapshot.performance.scoped(scope)


def curve_in(snapshot: DeskSnapshot, scope: str) -> tuple[tuple[int, float], ...]:
    """The equity points of ``scope``: today's (newest first kept), the whole run's
    sample, or the run's sample on one past day."""
    if scope == RUN:
        return snapshot.equity_run or snapshot.equity_curve
    if scope == TODAY:
        curve, day = snapshot.equity_curve, snapshot.day
    else:
        curve, day = snapshot.equity_run, scope
    if not day:
        return curve
    start = int(datetime.combine(date.fromisoformat(day), time(), IST).timestamp()) * 10**9
    end = start + 86_400 * 10**9
    return tuple(p for p in curve if start <= p[0] < end)


Figures = tuple[tuple[str, tuple[float | None, ...]], ...]

#: The Risk tab's P&L columns, in the order ``pnl_figures`` gives them.
FIGURE_HEADINGS = ("net", "gross", "charges", "realized", "unrealized", "max DD")


def pnl_figures(snapshot: DeskSnapshot, scope: str) -> Figures:
    """The Risk tab's P&L rows: (label, (net, gross, charges, realized, unrealized,
    max DD)). Today and the whole run always, each labelled, and the chosen past day
    too; net is gross less charges, a drawdown (of net equity) is negative money, a
    figure not kept for a past day is None."""
    risk = snapshot.risk
    rows: list[tuple[str, tuple[float | None, ...]]] = [
        (
            short_label(TODAY, snapshot),
            (
                risk.day_pnl,
                risk.day_gross_pnl,
                risk.day_charges,
                risk.day_realized,
                risk.unrealized,
                -abs(risk.day_max_drawdown),
            ),
        ),
        (
            short_label(RUN, snapshot),
            (
                risk.net_pnl,
                risk.gross_pnl,
                risk.charges,
                risk.realized,
                risk.unrealized,
                -abs(risk.max_drawdown),
            ),
        ),
    ]
    if scope not in (TODAY, RUN):
        shown = positions_in(snapshot, scope)
        realized = sum(p.realized for p in shown)
        charges = sum(p.charges for p in shown)
        rows.append(
            (
                short_label(scope, snapshot),
                (realized - charges, realized, charges, realized, 0.0, None),
            )
        )
    return tuple(rows)
