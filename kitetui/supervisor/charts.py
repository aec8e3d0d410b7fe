"""The ``chart`` read: one symbol's price chart, built on the desk's loop on request.

Nothing is computed for a chart until someone looks at one: the engines only keep
their newest bars and indicator values (``kitetui.market.bar_history``, O(1) a bar),
and this read copies one symbol's out, with the fills and stops the journal holds for
it since the first of those bars. The screen asks at most about once a second while a
chart is open, so the journal flush and two indexed queries it costs are noise.

Whose bars: the engine that holds the symbol, else the engine with its newest bar. An
option has no bars of its own (the options engine decides on the underlying's), so its
chart is the underlying's candles and indicators with the option's fills listed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kitetui.domain import Bar
from kitetui.market.bar_history import BarHistory, Entry
from kitetui.store.chart_marks import load_chart_marks
from kitetui.views import ChartView

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor


def _history(engine: Any) -> BarHistory | None:
    history = getattr(engine, "history", None)
    return history if isinstance(history, BarHistory) else None


def chart_source(
    engines: Iterable[Any], symbol: str, holder: str = "", traded_by: str = ""
) -> tuple[Any, str] | None:
    """The engine whose bars chart ``symbol`` and the symbol of those bars, or None.

    ``holder`` is the engine holding a position in it, ``traded_by`` the engine that
    placed its newest order (either may be ""): they win when several engines have bars.
    """
    engines = [e for e in engines if _history(e) is not None]
    having = [e for e in engines if symbol in e.history]
    if having:
        for name in (holder, traded_by):
            chosen = next((e for e in having if name and e.name == name), None)
            if chosen is not None:
                return chosen, symbol
        return max(having, key=lambda e: e.history.last_ts(symbol)), symbol
    # No bars of its own (an option): the bars its engine decided on, the newest.
    owner = next((e for e in engines if e.name in (holder, traded_by) and e.name), None)
    if owner is None or not owner.history.symbols():
        return None
    return owner, max(owner.history.symbols(), key=owner.history.last_ts)


def chart_series(
    entries: Iterable[Entry],
) -> tuple[
    tuple[tuple[int, float, float, float, float], ...],
    tuple[tuple[str, tuple[float | None, ...]], ...],
]:
    """Bars as (ts, open, high, low, close) and each indicator as one value per bar
    (None where the strategy had none or it was not finite), in first-seen order.
    Bars with a non-finite price are left out."""
    # A bar with a non-finite price was never fed to the indicators: not charted either.
    entries = [entry for entry in entries if bar_is_finite(entry[0])]
    bars = tuple((b.ts_ns, b.open, b.high, b.low, b.close) for b, _ in entries)
    names: dict[str, None] = {}
    for _, indicators in entries:
        for name in indicators:
            names.setdefault(name)
    series = tuple(
        (name, tuple(_finite(indicators.get(name)) for _, indicators in entries)) for name in names
    )
    return bars, series


def bar_is_finite(bar: Bar) -> bool:
    return all(math.isfinite(price) for price in (bar.open, bar.high, bar.low, bar.close))


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


async def chart_view(desk: Supervisor, symbol: str) -> ChartView | None:
    """The chart of ``symbol``; None when no engine has bars for it or traded it."""
    trader = desk.trader
    holder = trader.holders.get(symbol, "")
    traded_by = "" if holder else trader.traded_by(symbol)
    source = chart_source(desk.engines, symbol, holder, traded_by)
    if source is None:
        return None
    engine, bars_symbol = source
    entries = engine.history.recent(bars_symbol)
    bars, series = chart_series(entries)
    await desk.journal.flush()  # the newest fills are on the chart too
    since = bars[0][0] if bars else 0
    marks = await load_chart_marks(desk.db, desk.run_id, symbol, since)
    note = ""
    if bars_symbol != symbol:
        note = f"{bars_symbol}'s bars: {engine.name} trades {symbol} on them; its fills:"
    present = {name for name, _ in series}
    return ChartView(
        symbol=symbol,
        bars_symbol=bars_symbol,
        engine=engine.name,
        strategy=engine.config.strategy,
        timeframe_s=engine.timeframe_s,
        bars=bars,
        indicators=series,
        overlays=tuple(name for name in engine.history.overlays if name in present),
        marks=marks,
        note=note,
    )
