"""A run's report as one value: the figures, the parts, the trades and the curves.

Built once from a ``Ledger`` and then only rendered (``files``, ``html``, ``terminal``),
so the JSON, the CSVs, the web page and the terminal all show the same numbers.

The equity curve is the desk's own marked-to-market curve (a point a data minute,
journaled gross of charges) less the charges of the fills made up to each point: the
net equity a trader would have seen, and its drawdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from kitetui.backtest.ledger import Ledger
from kitetui.clock import date_of_day_number, ist_day_number
from kitetui.performance.metrics import (
    Drawdown,
    Figures,
    drawdown_of,
    figures,
    grouped,
    trade_day,
    with_sessions,
)
from kitetui.performance.trades import ZERO, Trade, round_trips
from kitetui.trading.charges import EXACT


@dataclass(frozen=True, slots=True)
class EquityPoint:
    ts_ns: int
    gross: Decimal  # capital + P&L, marked to market, before charges
    charges: Decimal  # paid up to this point, as ``net`` subtracted them: gross - charges = net
    net: Decimal
    drawdown: Decimal  # below the running peak of ``net``, >= 0


@dataclass(frozen=True, slots=True)
class Report:
    ledger: Ledger
    total: Figures
    by_strategy: dict[str, Figures]  # by engine (each runs one strategy)
    by_symbol: dict[str, Figures]
    by_day: dict[str, Figures]
    trades: tuple[Trade, ...]
    equity: tuple[EquityPoint, ...]
    mtm_drawdown: Drawdown  # on the net marked-to-market curve

    @property
    def run_id(self) -> str:
        return self.ledger.run.run_id


def build_report(ledger: Ledger) -> Report:
    trades = round_trips(ledger.fills, ledger.marks)
    days = ledger.days
    minutes = ledger.minutes
    end_ns = minutes[-1] + 60_000_000_000 if minutes else None
    capital = ledger.capital

    def measure(part: list[Trade], part_days=days) -> Figures:
        return figures(part, capital=capital, days=part_days, minutes=minutes, end_ns=end_ns)

    minutes_by_number: dict[int, list[int]] = {}
    for minute in minutes:
        minutes_by_number.setdefault(ist_day_number(minute), []).append(minute)
    minutes_by_day = {date_of_day_number(n).isoformat(): m for n, m in minutes_by_number.items()}
    by_day = {  # one day: no daily ratios; exposure within that day's minutes
        day: figures(
            part, capital=capital, days=[], minutes=minutes_by_day.get(day, []), end_ns=end_ns
        )
        for day, part in grouped(trades, trade_day).items()
    }
    equity = net_equity(ledger)
    return Report(
        ledger=ledger,
        total=measure(trades),
        by_strategy={k: measure(v) for k, v in grouped(trades, lambda t: t.engine).items()},
        by_symbol={k: measure(v) for k, v in grouped(trades, lambda t: t.symbol).items()},
        by_day=by_day,
        trades=tuple(sorted(trades, key=lambda t: (t.entry_ts_ns, t.engine, t.symbol))),
        equity=equity,
        mtm_drawdown=with_sessions(drawdown_of((p.ts_ns, p.net) for p in equity), days),
    )


def net_equity(ledger: Ledger) -> tuple[EquityPoint, ...]:
    """The equity curve, net and gross. The desk journals NET equity (schema 4 on): the
    gross is it plus the paise it took off for the fills up to each point. A run from
    before charges were journaled has a gross curve: its net is that less the charges
    priced for the report.

    A point has the fills the desk had applied when it was taken: those of its batch
    and before (``applied_ns``), not those stamped at or before its time. A candle
    fill is stamped at its bar's open and applied a batch later, after the point of
    that time: by its stamp the point's gross and charges ran a fill ahead of its net.

    A point's charges are the ones its net is net of: the paise the desk took off (each
    order's total rounded to paise), not the exact sum the report's totals use, so that
    equity.csv's gross − charges_paid = net on every row (they differ by a few paise
    over many orders: docs/charges.md)."""
    fills = sorted(ledger.fills, key=lambda f: (f.applied_ns, f.seq))
    journaled_net = any(f.charges_paise is not None for f in fills)
    points: list[EquityPoint] = []
    paid = ZERO  # exact
    taken = 0  # paise the desk subtracted
    index = 0
    peak: Decimal | None = None
    with localcontext(EXACT):
        for ts, paise in ledger.equity:
            while index < len(fills) and fills[index].applied_ns <= ts:
                fill = fills[index]
                paid += fill.charges.total
                taken += (
                    fill.charges_paise
                    if fill.charges_paise is not None
                    else fill.charges.total_paise
                )
                index += 1
            if journaled_net:  # the charges the desk took off: the row adds up
                charged = Decimal(taken) / 100
                net = Decimal(paise) / 100
                gross = net + charged
            else:
                charged = paid
                gross = Decimal(paise) / 100
                net = gross - paid
            peak = net if peak is None or net > peak else peak
            points.append(EquityPoint(ts, gross, charged, net, peak - net))
    return tuple(points)
