"""The ``chart`` read: which engine's bars chart a symbol, the series it carries, and,
on a real replay served on the control socket, bars that are the engine's own and marks
that are the journal's fills and stops."""

from __future__ import annotations

import asyncio
import math
import tempfile
from pathlib import Path
from types import SimpleNamespace

from control_helpers import real_desk, rows

from kitetui.control.client import ControlClient
from kitetui.control.link import RemoteLink
from kitetui.domain import Bar
from kitetui.market.bar_history import CHART_BARS, BarHistory
from kitetui.supervisor.charts import chart_series, chart_source

REAL_T = 60.0
MINUTE = 60_000_000_000


def _bar(symbol: str, minute: int, close: float = 100.0) -> Bar:
    return Bar(symbol, minute * MINUTE, 60, close, close + 1, close - 1, close)


def _engine(name: str, *bars: Bar) -> SimpleNamespace:
    history = BarHistory(size=10, overlays=("ema",))
    for bar in bars:
        history.add(bar, {})
    return SimpleNamespace(name=name, history=history)


def test_chart_series_with_gaps_and_bad_values_keeps_one_value_a_bar() -> None:
    entries = [
        (_bar("X", 0), {}),
        (_bar("X", 1), {"ema": 100.5, "atr": math.inf}),
        (_bar("X", 2, math.nan), {"ema": 1.0}),  # a bad bar: never charted
        (_bar("X", 3), {"atr": 2.0, "ema": math.nan}),
    ]
    bars, series = chart_series(entries)
    assert bars == ((0, 100.0, 101.0, 99.0, 100.0), (MINUTE, 100.0, 101.0, 99.0, 100.0),
                    (3 * MINUTE, 100.0, 101.0, 99.0, 100.0))  # fmt: skip
    assert series == (("ema", (None, 100.5, None)), ("atr", (None, None, 2.0)))
    assert chart_series([]) == ((), ())


def test_chart_source_prefers_the_holder_then_the_trader_then_the_newest_bars() -> None:
    old = _engine("old", _bar("SBIN", 1))
    new = _engine("new", _bar("SBIN", 5))
    options = _engine("opt", _bar("NIFTY 50", 3), _bar("NIFTY 50", 4))
    engines = [old, new, options, SimpleNamespace(name="bare")]
    assert chart_source(engines, "SBIN") == (new, "SBIN")
    assert chart_source(engines, "SBIN", holder="old") == (old, "SBIN")
    assert chart_source(engines, "SBIN", traded_by="old") == (old, "SBIN")
    assert chart_source(engines, "SBIN", holder="gone", traded_by="old") == (old, "SBIN")
    # an option: no bars of its own, its engine's (the underlying's) instead
    assert chart_source(engines, "NIFTY22NOV18250CE", traded_by="opt") == (options, "NIFTY 50")
    assert chart_source(engines, "NIFTY22NOV18250CE") is None
    assert chart_source(engines, "TCS", holder="bare") is None
    assert chart_source([], "SBIN") is None


async def test_chart_over_the_socket_is_the_engines_bars_and_the_journals_marks() -> None:
    with tempfile.TemporaryDirectory(prefix="kt") as name:
        async with real_desk(Path(name), speed=None) as (supervisor, path):
            db = supervisor.db_path
            client = ControlClient(path, timeout=REAL_T)
            await asyncio.wait_for(client.connect(), REAL_T)
            try:
                assert await asyncio.wait_for(client.chart("NO-SUCH"), REAL_T) is None
                traded = rows(
                    db,
                    "SELECT f.symbol, f.engine, count(*) FROM fills f GROUP BY f.symbol, f.engine "
                    "ORDER BY count(*) DESC",
                )
                engines = {e.name: e for e in supervisor.engines}
                charted = 0
                for symbol, engine_name, _count in traded:
                    chart = await asyncio.wait_for(client.chart(symbol), REAL_T)
                    assert chart is not None and chart.symbol == symbol
                    engine = engines[chart.engine]
                    assert chart.timeframe_s == engine.timeframe_s
                    assert chart.strategy == engine.config.strategy
                    kept = engine.history.recent(chart.bars_symbol)
                    assert chart.bars == tuple(
                        (b.ts_ns, b.open, b.high, b.low, b.close) for b, _ in kept
                    )
                    assert 0 < len(chart.bars) <= CHART_BARS
                    starts = [bar[0] for bar in chart.bars]
                    assert starts == sorted(set(starts))
                    assert all(lo <= min(o, c) <= max(o, c) <= hi for _, o, hi, lo, c in chart.bars)
                    assert all(len(values) == len(chart.bars) for _, values in chart.indicators)
                    names = [n for n, _ in chart.indicators]
                    assert "atr" in names and set(chart.overlays) <= set(names)
                    assert chart.overlays == tuple(
                        n for n in type(engine.strategy_for(chart.bars_symbol)).chart_overlays
                        if n in names
                    )  # fmt: skip
                    # the marks are the journal's fills since the first bar, with purposes
                    fills = rows(
                        db,
                        "SELECT f.ts_ns, f.side, f.quantity, f.price, o.purpose FROM fills f "
                        "JOIN orders o USING (tag) WHERE f.symbol = ? AND f.ts_ns >= ? "
                        "ORDER BY f.seq",
                        symbol,
                        starts[0],
                    )
                    kinds = {"ENTRY": "ENTRY", "STOP": "STOP_FILL"}
                    assert [
                        (m.ts_ns, m.side, m.quantity, m.price, m.kind)
                        for m in chart.marks
                        if m.kind != "STOP"
                    ] == [(t, s, q, p, kinds.get(purpose, "EXIT")) for t, s, q, p, purpose in fills]
                    stops = [m for m in chart.marks if m.kind == "STOP"]
                    placed = rows(
                        db,
                        "SELECT tag, trigger_price FROM orders WHERE symbol = ? AND purpose = "
                        "'STOP' ORDER BY seq",
                        symbol,
                    )
                    assert {(m.tag, m.price) for m in stops} <= set(placed)
                    assert all(m.until_ns == 0 or m.until_ns >= starts[0] for m in stops)
                    if chart.bars_symbol == symbol:
                        assert chart.note == ""
                    else:  # an option: the underlying's bars, said in words
                        assert engine.kind == "options" and engine_name == engine.name
                        assert chart.bars_symbol in chart.note and symbol in chart.note
                    charted += 1
                assert charted == len(traded) and charted >= 2
                kinds_seen = {m.kind for s, *_ in traded for m in (await client.chart(s)).marks}
                assert {"ENTRY", "STOP"} <= kinds_seen
            finally:
                client.close()
            link = RemoteLink(path, timeout=REAL_T)
            try:
                await asyncio.wait_for(link.start(), REAL_T)
                first = traded[0][0]
                assert await asyncio.wait_for(link.chart(first), REAL_T) == await asyncio.wait_for(
                    supervisor.chart(first), REAL_T
                )
            finally:
                await asyncio.wait_for(link.close(), REAL_T)
