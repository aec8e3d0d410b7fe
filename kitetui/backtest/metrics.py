"""The report's figures: pure functions of round trips, trading days and data minutes.

One function (``figures``) computes the same set for the whole run and for any part
of it (an engine, a symbol, a day), so a part is never measured differently from the
whole. Definitions, chosen so the figures add up and can be checked by hand:

* ``gross_pnl`` — the trades' P&L before charges (a trade still open at the end is
  marked at the last price); ``charges`` — every fill's charges by component (the
  exchange charge with NSE's IPFT in it, as the contract note shows); ``net_pnl`` =
  gross − charges, exactly. Parts are partitions of the trades, so the parts' gross,
  charges, net, turnover and trade counts sum to the whole's.
* ``trades`` — closed round trips; a win is a trade whose NET P&L is above zero.
  ``avg_win``/``avg_loss`` are net; ``profit_factor`` = wins' net ÷ |losses' net|
  (``None`` without a loss); ``expectancy`` = net per closed trade.
* ``max_drawdown`` — on the CLOSED-trade equity, net of charges: the largest fall from
  a running peak, measured at each trade's exit. Its ``duration_days`` runs from that
  peak to the exit that regained it (or to the last trade if none did). Being measured
  on the same points, it is never below the worst single day's closed loss. The
  marked-to-market curve (a point a data minute) has its own figure in the report.
* ``sharpe``/``sortino`` — of daily net P&L as a fraction of the starting capital over
  every trading day of the run (days without a trade count as 0), annualised with
  √252; ``None`` with fewer than two days or no dispersion.
* ``exposure`` — the fraction of data minutes with a position open;
  ``turnover`` — Σ price × quantity over the fills (rupees).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from kitetui.backtest.trades import ZERO, Trade
from kitetui.clock import ist_date
from kitetui.trading.charges import EXACT, Charges

TRADING_DAYS_PER_YEAR = 252
NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ChargeTotals:
    """Charges by component as the report shows them (exchange includes IPFT)."""

    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange: Decimal = ZERO
    sebi: Decimal = ZERO
    stamp: Decimal = ZERO
    gst: Decimal = ZERO
    total: Decimal = ZERO

    @classmethod
    def of(cls, charges: Charges) -> ChargeTotals:
        return cls(
            brokerage=charges.brokerage,
            stt=charges.stt,
            exchange=charges.exchange_turnover,
            sebi=charges.sebi,
            stamp=charges.stamp,
            gst=charges.gst,
            total=charges.total,
        )

    def as_dict(self) -> dict[str, Decimal]:
        return {
            "brokerage": self.brokerage,
            "stt": self.stt,
            "exchange": self.exchange,
            "sebi": self.sebi,
            "stamp": self.stamp,
            "gst": self.gst,
            "total": self.total,
        }


@dataclass(frozen=True, slots=True)
class Drawdown:
    amount: Decimal = ZERO  # rupees, >= 0
    duration_days: float = 0.0  # calendar time, gaps in the data included
    duration_sessions: int = 0  # the run's trading days it spans (what a trader counts)
    peak_ts_ns: int = 0
    trough_ts_ns: int = 0
    recovered_ts_ns: int | None = None  # None: not regained by the end
    end_ts_ns: int = 0  # the recovery, or the last point when not regained


@dataclass(frozen=True, slots=True)
class Figures:
    gross_pnl: Decimal
    net_pnl: Decimal
    charges: ChargeTotals
    trades: int  # closed round trips
    open_trades: int
    wins: int
    losses: int
    win_rate: float | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    profit_factor: float | None
    expectancy: Decimal | None
    max_drawdown: Drawdown
    sharpe: float | None
    sortino: float | None
    exposure: float | None
    turnover: Decimal


def figures(
    trades: Sequence[Trade],
    *,
    capital: Decimal,
    days: Sequence[date],
    minutes: Sequence[int],
    end_ns: int | None = None,
) -> Figures:
    """The figures of ``trades`` (module docstring). ``days`` are the run's trading days
    (for the daily ratios), ``minutes`` its data minutes in order (for exposure), and
    ``end_ns`` the data's end (where a trade still open stops counting as exposed)."""
    with localcontext(EXACT):
        charges = sum((t.charges for t in trades), Charges())
        gross = sum((t.gross for t in trades), ZERO)
        turnover = sum((t.turnover for t in trades), ZERO)
        closed = [t for t in trades if t.closed]
        nets = [t.net for t in closed]
        won = [n for n in nets if n > 0]
        lost = [n for n in nets if n <= 0]
        won_sum = sum(won, ZERO)
        lost_sum = sum(lost, ZERO)
        net = gross - charges.total
    return Figures(
        gross_pnl=gross,
        net_pnl=net,
        charges=ChargeTotals.of(charges),
        trades=len(closed),
        open_trades=len(trades) - len(closed),
        wins=len(won),
        losses=len(lost),
        win_rate=len(won) / len(closed) if closed else None,
        avg_win=_mean(won),
        avg_loss=_mean(lost),
        profit_factor=float(won_sum / -lost_sum) if lost_sum < 0 else None,
        expectancy=_mean(nets),
        max_drawdown=with_sessions(closed_drawdown(closed), days),
        sharpe=sharpe(daily_net(closed, days), capital),
        sortino=sortino(daily_net(closed, days), capital),
        exposure=exposure(trades, minutes, end_ns),
        turnover=turnover,
    )


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    return sum(values, ZERO) / len(values)


# --------------------------------------------------------------------------- drawdown


def drawdown_of(points: Iterable[tuple[int, Decimal]]) -> Drawdown:
    """The largest fall from a running peak of ``(ts_ns, equity)`` points in time order,
    with the time from that peak to the point that regained it (or to the last point)."""
    best = Drawdown()
    peak_value: Decimal | None = None
    peak_ts = 0
    trough_ts = 0
    depth = ZERO  # the deepest fall since the current peak
    last_ts = 0
    for ts, value in points:
        last_ts = ts
        if peak_value is None or value >= peak_value:
            if peak_value is not None and depth > 0 and depth >= best.amount:
                best = _episode(depth, peak_ts, trough_ts, ts)
            peak_value, peak_ts, depth = value, ts, ZERO
            continue
        fall = peak_value - value
        if fall > depth:
            depth, trough_ts = fall, ts
    if depth > 0 and depth >= best.amount:  # the last episode has not recovered
        best = _episode(depth, peak_ts, trough_ts, None, last_ts)
    return best


def _episode(
    depth: Decimal, peak_ts: int, trough_ts: int, recovered: int | None, last_ts: int = 0
) -> Drawdown:
    until = recovered if recovered is not None else last_ts
    return Drawdown(depth, (until - peak_ts) / NS_PER_DAY, 0, peak_ts, trough_ts, recovered, until)


def with_sessions(drawdown: Drawdown, days: Sequence[date]) -> Drawdown:
    """The drawdown with the number of the run's trading days from its peak to its end."""
    if not drawdown.amount:
        return drawdown
    first, last = ist_date(drawdown.peak_ts_ns), ist_date(drawdown.end_ts_ns)
    spanned = sum(1 for day in days if first <= day <= last)
    return replace(drawdown, duration_sessions=max(1, spanned))


def closed_equity(trades: Iterable[Trade]) -> list[tuple[int, Decimal]]:
    """Cumulative net P&L after each closed trade, in exit order, from a 0 start."""
    points: list[tuple[int, Decimal]] = []
    total = ZERO
    ordered = sorted((t for t in trades if t.closed), key=lambda t: t.exit_ts_ns)
    if ordered:
        points.append((ordered[0].entry_ts_ns, ZERO))
    with localcontext(EXACT):
        for trade in ordered:
            total += trade.net
            points.append((trade.exit_ts_ns, total))
    return points


def closed_drawdown(trades: Iterable[Trade]) -> Drawdown:
    return drawdown_of(closed_equity(trades))


# --------------------------------------------------------------------------- daily ratios


def daily_net(trades: Iterable[Trade], days: Sequence[date]) -> list[Decimal]:
    """Net P&L of the trades closed on each of ``days`` (0 for a day without one)."""
    by_day = dict.fromkeys(days, ZERO)
    with localcontext(EXACT):
        for trade in trades:
            if trade.closed:
                day = ist_date(trade.exit_ts_ns)
                by_day[day] = by_day.get(day, ZERO) + trade.net
    return [by_day[day] for day in sorted(by_day)]


def _returns(pnl: Sequence[Decimal], capital: Decimal) -> list[float]:
    return [float(p / capital) for p in pnl] if capital > 0 else []


def sharpe(pnl: Sequence[Decimal], capital: Decimal) -> float | None:
    """Mean over sample deviation of daily returns, × √252 (risk-free rate 0)."""
    returns = _returns(pnl, capital)
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if var <= 0:
        return None
    return mean / math.sqrt(var) * math.sqrt(TRADING_DAYS_PER_YEAR)


def sortino(pnl: Sequence[Decimal], capital: Decimal) -> float | None:
    """Mean over downside deviation (√ of the mean of squared losing days, over all
    days) of daily returns, × √252; ``None`` without a losing day."""
    returns = _returns(pnl, capital)
    if len(returns) < 2:
        return None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside <= 0:
        return None
    return sum(returns) / len(returns) / downside * math.sqrt(TRADING_DAYS_PER_YEAR)


# --------------------------------------------------------------------------- exposure


def exposure(trades: Iterable[Trade], minutes: Sequence[int], end_ns: int | None) -> float | None:
    """The share of ``minutes`` (sorted data-minute stamps) at which a trade was open:
    from its entry up to (not including) its exit; an open trade to ``end_ns``."""
    if not minutes:
        return None
    last = end_ns if end_ns is not None else minutes[-1] + 1
    spans = sorted((t.entry_ts_ns, t.exit_ts_ns if t.closed else last) for t in trades)
    covered = 0
    reach = None  # the end of the merged span so far
    start = 0
    for begin, end in spans:
        if reach is None or begin > reach:
            if reach is not None:
                covered += _count(minutes, start, reach)
            start, reach = begin, end
        else:
            reach = max(reach, end)
    if reach is not None:
        covered += _count(minutes, start, reach)
    return covered / len(minutes)


def _count(minutes: Sequence[int], start: int, end: int) -> int:
    return bisect_left(minutes, end) - bisect_left(minutes, start)


# --------------------------------------------------------------------------- parts


def grouped(trades: Iterable[Trade], key: Callable[[Trade], str]) -> dict[str, list[Trade]]:
    """Trades by ``key``, keys sorted: a partition, so the parts add up to the whole."""
    parts: dict[str, list[Trade]] = {}
    for trade in trades:
        parts.setdefault(key(trade), []).append(trade)
    return {k: parts[k] for k in sorted(parts)}


def trade_day(trade: Trade) -> str:
    """The IST day a trade's P&L belongs to: the day it closed (or was last marked)."""
    return ist_date(trade.exit_ts_ns).isoformat()


def as_json(value: Any, places: int = 6) -> Any:
    """Figures as JSON-ready values: Decimal rupees to ``places`` decimals (a note shows
    sub-paisa charges), dataclasses as dicts, the rest as is."""
    if isinstance(value, Decimal):
        return float(round(value, places))
    if isinstance(value, float):
        return round(value, places) if math.isfinite(value) else None
    if isinstance(value, ChargeTotals):
        return {k: as_json(v, places) for k, v in value.as_dict().items()}
    if isinstance(value, Drawdown | Figures):
        return {name: as_json(getattr(value, name), places) for name in value.__slots__}
    if isinstance(value, dict):
        return {k: as_json(v, places) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v, places) for v in value]
    return value
