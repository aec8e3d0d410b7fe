"""The figures of round trips: the report's, and the desk's Performance tab's.

One function (``figures``) computes the same set for the whole run and for any part
of it (an engine, a symbol, a day), so a part is never measured differently from the
whole. Its trade figures come from a ``Tally``, which takes trades one at a time: the
report fills one from a run's trades, the desk keeps one per part and adds each trade
as it closes, so a figure on the screen is the report's by construction, computed on
a fill and never per bar. Definitions, chosen so the figures add up and can be checked
by hand:

* ``gross_pnl`` — the trades' P&L before charges (a trade still open at the end is
  marked at the last price); ``charges`` — every fill's charges by component (the
  exchange charge with NSE's IPFT in it, as the contract note shows); ``net_pnl`` =
  gross − charges, exactly. Parts are partitions of the trades, so the parts' gross,
  charges, net, turnover and trade counts sum to the whole's.
* ``trades`` — closed round trips; a win is a trade whose NET P&L is above zero.
  ``avg_win``/``avg_loss`` are net; ``profit_factor`` = wins' net ÷ |losses' net|
  (``None`` without a loss); ``expectancy`` = net per closed trade.
* ``max_drawdown`` — on the CLOSED-trade equity, net of charges: the largest fall from
  a running peak, measured at each exit time (trades that close at the same moment, a
  halt flattening three symbols, are one step: the account never stood between
  them, and their order must not change the figure). Its ``duration_days`` runs from that
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
import operator
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, localcontext
from typing import Any, ClassVar, NamedTuple

from kitetui.clock import ist_date
from kitetui.drafts import built_in_draft, evolve
from kitetui.money import _SUBTRACT, EXACT, Charges, ChargesSum
from kitetui.performance.trades import ZERO, Trade

TRADING_DAYS_PER_YEAR = 252
NS_PER_DAY = 86_400 * 1_000_000_000
_ADD = EXACT.add  # ``+`` under ``localcontext(EXACT)``, without entering it (money._ADD)


@built_in_draft
@dataclass(frozen=True, slots=True)
class ChargeTotals:
    """Charges by component as the report shows them (exchange includes IPFT; ``dp`` is
    the depository charge, GST in it, which is not on the contract note)."""

    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange: Decimal = ZERO
    sebi: Decimal = ZERO
    stamp: Decimal = ZERO
    gst: Decimal = ZERO
    dp: Decimal = ZERO
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
            dp=charges.dp,
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
            "dp": self.dp,
            "total": self.total,
        }


@built_in_draft
@dataclass(frozen=True, slots=True)
class Drawdown:
    amount: Decimal = ZERO  # rupees, >= 0
    duration_days: float = 0.0  # calendar time, gaps in the data included
    duration_sessions: int = 0  # the run's trading days it spans (what a trader counts)
    peak_ts_ns: int = 0
    trough_ts_ns: int = 0
    recovered_ts_ns: int | None = None  # None: not regained by the end
    end_ts_ns: int = 0  # the recovery, or the last point when not regained


@built_in_draft
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
    tally = Tally()
    for trade in trades:
        tally.add(trade)
    closed = tally.closed
    return tally.figures(
        drawdown=with_sessions(tally.drawdown, days),
        sharpe=sharpe(daily_net(closed, days), capital),
        sortino=sortino(daily_net(closed, days), capital),
        exposure=exposure(trades, minutes, end_ns),
    )


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """What the figures read of a closed trade once it is tallied: when it opened and
    closed, and its net. A run's tallies keep one for every closed trade (to measure the
    drawdown again when a trade closes out of exit order, and for the daily ratios);
    the whole ``Trade`` (a dozen exact ``Decimal`` figures and its charges) was ~1.6 kB
    of them, 20 MB over a year of 20 symbols."""

    entry_ts_ns: int
    exit_ts_ns: int
    net: Decimal
    closed: ClassVar[bool] = True  # read as a ``Trade``'s is

    @classmethod
    def of(cls, trade: Trade) -> ClosedTrade:
        return cls(trade.entry_ts_ns, trade.exit_ts_ns, trade.net)


_exit_time = operator.attrgetter("exit_ts_ns")


@dataclass(slots=True)
class Tally:
    """The trade figures of a set of trades, taken one at a time (``add``).

    Sums are exact; the closed-trade equity and its drawdown follow each trade as it is
    added in exit order (the order trades close in), one point per exit time: the point
    of an exit time is taken once the next time comes (``_step``). A trade added out of
    that order (an earlier exit after a later one) is still counted exactly: the curve is
    then followed again from the closed trades sorted by exit (``_rebuild_curve``), so the
    drawdown is always ``closed_drawdown``'s.
    """

    gross: Decimal = ZERO
    # The trades' charges, summed when read (``charges``): a trade's ``Charges`` added
    # to each of its seven parts' tallies as it closed was a new record of eight sums
    # per part, a third of what a tally's ``add`` cost. None in a totals-only tally
    # (``totals_only``), which keeps ``charged`` instead.
    _charges: ChargesSum | None = field(default_factory=ChargesSum)
    charged: Decimal = ZERO  # a totals-only tally's charges in all (``charges_total``)
    turnover: Decimal = ZERO
    trades: int = 0  # closed round trips
    open_trades: int = 0
    wins: int = 0
    won: Decimal = ZERO  # the wins' net
    losses: int = 0
    lost: Decimal = ZERO  # the losses' net (<= 0)
    closed: list[ClosedTrade] = field(default_factory=list)  # in the order added
    equity: Decimal = ZERO  # cumulative net of the closed trades
    last_exit_ns: int | None = None
    curve: DrawdownTracker = field(default_factory=lambda: DrawdownTracker())
    _step: tuple[int, Decimal] | None = None  # the latest exit time's equity, not in curve yet
    _start: int = 0  # the curve's 0 point: the first entry of the first exit time's trades
    _started: bool = False  # the 0 point is in the curve

    def add(self, trade: Trade, record: ClosedTrade | None = None) -> None:
        """Count ``trade``; ``record`` is its ``ClosedTrade`` when the caller adds it to
        several tallies (one record shared by all of them). The sums are ``EXACT``'s own
        additions (``_ADD``: ``+`` under ``localcontext(EXACT)``, without entering it)."""
        if trade.closed:
            record = record or ClosedTrade.of(trade)
            self.add_closed(trade.gross, trade.turnover, trade.charges, record)
            return
        add = _ADD
        self.gross = add(self.gross, trade.gross)
        self.turnover = add(self.turnover, trade.turnover)
        if self._charges is None:
            self.charged = add(self.charged, trade.charges.total)
        else:
            self._charges.add(trade.charges)
        self.open_trades += 1

    def add_closed(
        self, gross: Decimal, turnover: Decimal, charges: Charges | None, record: ClosedTrade
    ) -> None:
        """``add`` of a closed trade given by its sums and its record: the desk's book has
        them from the round trip as it closed (``RoundTrips.add_fill``), with no ``Trade``
        built. ``charges`` are read only by a tally that keeps the components; a caller
        whose tallies are all totals-only passes None (the round trip's fills' charges
        are then never summed by component), which such a tally refuses."""
        add = _ADD
        self.gross = add(self.gross, gross)
        self.turnover = add(self.turnover, turnover)
        net = record.net
        if self._charges is None:  # the trade's total is its gross less its net: one step
            self.charged = add(self.charged, _SUBTRACT(gross, net))
        elif charges is None:
            raise ValueError("a tally that keeps charge components needs the trade's charges")
        else:
            self._charges.add(charges)
        if net > 0:
            self.wins += 1
            self.won = add(self.won, net)
        else:
            self.losses += 1
            self.lost = add(self.lost, net)
        self.trades += 1
        self.closed.append(record)
        last = self.last_exit_ns
        if last is not None and record.exit_ts_ns < last:
            self._rebuild_curve()
        else:
            self._follow(record)

    @classmethod
    def totals_only(cls) -> Tally:
        """A tally that keeps its trades' charges as one sum of their totals, for figures
        that show the total alone (the desk's Performance rows: ``charges_total``, and the
        figures ``row_figures`` gives): the components of every trade's charges waited in
        each of its parts' tallies only to be summed, eight sums a trade a part, at the
        next snapshot. ``charges`` and ``figures`` need the components: such a tally
        refuses them."""
        return cls(_charges=None)

    @property
    def charges(self) -> Charges:
        """Every added trade's charges, summed component by component in the order the
        trades were added (the same exact sums as adding each as it came)."""
        if self._charges is None:
            raise ValueError("a totals-only tally keeps no charge components")
        return self._charges.total

    @property
    def charges_total(self) -> Decimal:
        """Every added trade's charges in all: ``charges.total``'s value (exact sums of
        the same amounts, however grouped), or a totals-only tally's own sum."""
        return self.charged if self._charges is None else self.charges.total

    def _follow(self, record: ClosedTrade) -> None:
        """``record`` (closing at or after every trade followed so far) into the curve."""
        last = self.last_exit_ns
        if last is None:  # the curve starts at 0 when the first trade opened
            self._start = record.entry_ts_ns
        elif not self._started and record.exit_ts_ns == last:  # of those that closed first
            self._start = min(self._start, record.entry_ts_ns)
        self.equity = _ADD(self.equity, record.net)
        if self._step is not None and record.exit_ts_ns != last:
            self._take_step(self.curve)
        self._step = (record.exit_ts_ns, self.equity)
        self.last_exit_ns = record.exit_ts_ns

    def _rebuild_curve(self) -> None:
        """The curve again from the closed trades in exit order, after one closed before
        the latest exit followed (a fill stamped at its bar's start, say, after another
        symbol's exit at the next minute). Once a rebuild, not once a look: the desk's
        Performance tab measures the run's drawdown at every snapshot, and measuring it
        afresh from every closed trade each time made the view quadratic in trades (7 %
        of a year's backtest, after a single such trade)."""
        self.equity, self.last_exit_ns, self.curve = ZERO, None, DrawdownTracker()
        self._step, self._start, self._started = None, 0, False
        for record in sorted(self.closed, key=_exit_time):
            self._follow(record)

    def _take_step(self, curve: DrawdownTracker) -> None:
        """The latest exit time's point into ``curve`` (the tally's own, or a copy the
        drawdown is read from), after the 0 start if it is the first point: the start's
        time is known only once every trade of the first exit time came."""
        if not self._started:
            curve.add(self._start, ZERO)
            self._started = curve is self.curve
        assert self._step is not None
        curve.add(*self._step)

    def copy(self) -> Tally:
        """A tally of its own in the same state: adding to either leaves the other (the
        closed trades, their charges and the curve copied; the records in them are
        frozen, shared)."""
        both = evolve(self)
        if self._charges is not None:
            both._charges = self._charges.copy()
        both.closed = list(self.closed)
        both.curve = evolve(self.curve)
        return both

    def with_open(self, trades: Iterable[Trade]) -> Tally:
        """A copy with ``trades`` (still open, marked now) added: the desk's closed
        figures stay as they are while the open ones move with every mark."""
        # A copy made in the class's draft (``evolve``: ``copy.copy``'s shallow copy, at
        # a fraction of its cost): open trades touch neither the closed list nor the
        # curve, but they add charges. The closed trades' charges are summed here, in
        # this tally (``charges``: the same digits however grouped), so the copy starts
        # from the sum: a copy of the waiting addends was summed again at every snapshot.
        both = evolve(self)
        if self._charges is not None:
            both._charges = ChargesSum(self.charges)
        for trade in trades:
            if trade.closed:
                raise ValueError("with_open takes open trades only")
            both.add(trade)
        return both

    @property
    def drawdown(self) -> Drawdown:
        """Of the closed-trade equity, net of charges (module docstring)."""
        if self._step is None:
            return self.curve.drawdown
        curve = evolve(self.curve)  # the last exit time's point, without keeping it
        self._take_step(curve)
        return curve.drawdown

    def figures(
        self,
        *,
        drawdown: Drawdown | None = None,
        sharpe: float | None = None,
        sortino: float | None = None,
        exposure: float | None = None,
    ) -> Figures:
        """The figures; the ratios the tally cannot know (they need the run's days and
        minutes) are given, or None."""
        charges = self.charges
        row = self.row_figures(charges.total)
        closed = self.trades
        return Figures(
            gross_pnl=self.gross,
            net_pnl=row.net,
            charges=ChargeTotals.of(charges),
            trades=closed,
            open_trades=self.open_trades,
            wins=self.wins,
            losses=self.losses,
            win_rate=self.wins / closed if closed else None,
            avg_win=row.avg_win,
            avg_loss=row.avg_loss,
            profit_factor=row.profit_factor,
            expectancy=row.expectancy,
            max_drawdown=drawdown if drawdown is not None else self.drawdown,
            sharpe=sharpe,
            sortino=sortino,
            exposure=exposure,
            turnover=self.turnover,
        )

    def row_figures(self, charged: Decimal | None = None) -> RowFigures:
        """The figures besides the counts that ``figures`` derives from the sums (one
        formula for the report's and the desk's): net of ``charged`` (the charges in all;
        by default ``charges_total``), the averages, the profit factor, the expectancy."""
        if charged is None:
            charged = self.charges_total
        with localcontext(EXACT):
            net = self.gross - charged
            nets = self.won + self.lost
        closed = self.trades
        return RowFigures(
            charged=charged,
            net=net,
            avg_win=self.won / self.wins if self.wins else None,
            avg_loss=self.lost / self.losses if self.losses else None,
            profit_factor=float(self.won / -self.lost) if self.lost < 0 else None,
            expectancy=nets / closed if closed else None,
        )


class RowFigures(NamedTuple):
    """What ``Tally.row_figures`` derives from a tally's sums."""

    charged: Decimal
    net: Decimal
    avg_win: Decimal | None
    avg_loss: Decimal | None
    profit_factor: float | None
    expectancy: Decimal | None


# --------------------------------------------------------------------------- drawdown


@dataclass(slots=True)
class DrawdownTracker:
    """The largest fall from a running peak, taking ``(ts_ns, equity)`` points one at a
    time in time order (``drawdown_of`` is this over a whole curve)."""

    best: Drawdown = field(default_factory=lambda: Drawdown())
    peak_value: Decimal | None = None
    peak_ts: int = 0
    trough_ts: int = 0
    depth: Decimal = ZERO  # the deepest fall since the current peak
    last_ts: int = 0

    def add(self, ts: int, value: Decimal) -> None:
        self.last_ts = ts
        if self.peak_value is None or value >= self.peak_value:
            if self.peak_value is not None and self.depth > 0 and self.depth >= self.best.amount:
                self.best = _episode(self.depth, self.peak_ts, self.trough_ts, ts)
            self.peak_value, self.peak_ts, self.depth = value, ts, ZERO
            return
        fall = self.peak_value - value
        if fall > self.depth:
            self.depth, self.trough_ts = fall, ts

    @property
    def drawdown(self) -> Drawdown:
        """The deepest episode so far; one not regained lasts to the last point."""
        if self.depth > 0 and self.depth >= self.best.amount:
            return _episode(self.depth, self.peak_ts, self.trough_ts, None, self.last_ts)
        return self.best


def drawdown_of(points: Iterable[tuple[int, Decimal]]) -> Drawdown:
    """The largest fall from a running peak of ``(ts_ns, equity)`` points in time order,
    with the time from that peak to the point that regained it (or to the last point)."""
    tracker = DrawdownTracker()
    for ts, value in points:
        tracker.add(ts, value)
    return tracker.drawdown


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


def closed_equity(trades: Iterable[Trade | ClosedTrade]) -> list[tuple[int, Decimal]]:
    """Cumulative net P&L after each exit time, in exit order, from a 0 start: trades
    that close at the same moment are one point, whatever order they are listed in."""
    points: list[tuple[int, Decimal]] = []
    total = ZERO
    ordered = sorted((t for t in trades if t.closed), key=lambda t: t.exit_ts_ns)
    if ordered:  # from the first entry among the trades that closed first
        first = ordered[0].exit_ts_ns
        points.append((min(t.entry_ts_ns for t in ordered if t.exit_ts_ns == first), ZERO))
    with localcontext(EXACT):
        for trade in ordered:
            total += trade.net
            if len(points) > 1 and points[-1][0] == trade.exit_ts_ns:
                points[-1] = (trade.exit_ts_ns, total)
            else:
                points.append((trade.exit_ts_ns, total))
    return points


def closed_drawdown(trades: Iterable[Trade | ClosedTrade]) -> Drawdown:
    return drawdown_of(closed_equity(trades))


# --------------------------------------------------------------------------- daily ratios


def daily_net(trades: Iterable[Trade | ClosedTrade], days: Sequence[date]) -> list[Decimal]:
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
    return exit_day(trade.exit_ts_ns)


def exit_day(exit_ts_ns: int) -> str:
    """``trade_day`` of a trade that closed (or was last marked) at ``exit_ts_ns``."""
    return ist_date(exit_ts_ns).isoformat()


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
