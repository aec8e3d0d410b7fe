"""``Engine.process`` over a backtest's columns against the engine deciding each bar
itself (``decide`` through ``on_bar``): the same HOLDs, in the same order and at the same
times, the same signals acted on, and the same ``bars_seen``, ``signals_emitted`` and
``heartbeat_ns`` after every batch, across chunk ends, a stopped stretch (HOLDs not
counted), a symbol unsubscribed and taken up again, and a bar that is not the
column's next (the cursor left)."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from engines.base import Engine
from engines.column_cursor import CHUNK, ColumnCursor
from kitetui.config import parse_config
from kitetui.domain import NS_PER_MINUTE, Bar, EngineState
from kitetui.market.bar_columns import BarColumns
from strategies.registry import get_strategy
from tests.supervisor.test_ledger_parity import _generated_config

SYMBOLS = ("GENA", "GENB", "GENC")
T0 = 1_680_493_500 * 10**9


class _Trader:
    """What an engine asks of its trader on a quiet run, written down in order."""

    def __init__(self) -> None:
        self.warmup = SimpleNamespace(active=False)
        self.seen: list[tuple[Any, ...]] = []

    def position_qty(self, symbol: str) -> int:
        return 0

    def count_hold(self, engine, symbol, reason, ts_ns, make, args) -> None:
        self.seen.append(("hold", engine, symbol, reason, ts_ns, make(*args)))

    def count_holds(self, runs, count: int) -> None:
        assert count == sum(len(run[2]) for run in runs)
        for ts_ns, make, holds in runs:
            for key, *args in holds:
                self.seen.append(("hold", *key, ts_ns, make(*args)))

    def skip_not_ready(self, engine, bar) -> None:
        self.seen.append(("not ready", bar.symbol, bar.ts_ns))

    async def on_signal(self, engine, signal) -> int:
        self.seen.append(("signal", signal))
        return 0


def _columns(rows: int, seed: int) -> dict[str, BarColumns]:
    rng = np.random.default_rng(seed)
    out = {}
    for symbol in SYMBOLS:
        close = np.round(500 * np.exp(np.cumsum(rng.normal(0, 0.004, rows))), 2)
        part = {
            "ts_ns": np.arange(rows, dtype=np.int64) * NS_PER_MINUTE + T0,
            "open": close,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "volume": np.full(rows, 10, dtype=np.int64),
            "oi": np.zeros(rows, dtype=np.int64),
        }
        out[symbol] = BarColumns(symbol, 60, (part,))
    return out


def _engine(tmp_path: Path, columns: dict[str, BarColumns] | None) -> tuple[Engine, _Trader]:
    data = _generated_config(tmp_path, "1m", {"fast": 3, "slow": 8, "allow_short": True})
    data["engines"][0]["symbols"] = list(SYMBOLS)
    config = parse_config(data, "steps.yaml")
    trader = _Trader()
    engine = Engine(config.engines[0], trader, "run", None, None)  # type: ignore[arg-type]
    engine.subscribe(set(SYMBOLS))
    engine.launch(inline=True, columns=None if columns is None else columns.get)
    return engine, trader


async def test_process_over_columns_is_deciding_each_bar(tmp_path: Path) -> None:
    rows = 2 * CHUNK + 300
    columns = _columns(rows, seed=7)
    fast, fast_trader = _engine(tmp_path, columns)
    slow, slow_trader = _engine(tmp_path, None)
    bars = {s: columns[s].bars(0, 0, rows) for s in SYMBOLS}
    rng = random.Random(5)
    stopped = range(700, 760)  # HOLDs stepped over, not counted
    for row in range(rows):
        batch = [bars[s][row] for s in SYMBOLS]
        if row == 1500:  # GENB's bar is not its column's (a refused print's neighbour)
            b = batch[1]
            batch[1] = Bar(b.symbol, b.ts_ns + 1, 60, b.open, b.high, b.low, b.close, b.volume)
        if rng.random() < 0.1:
            batch.reverse()
        state = EngineState.STOPPED if row in stopped else EngineState.RUNNING
        for engine in (fast, slow):
            engine.state = state
            if row in (1800, 1900):  # GENC left and taken up again: its cursor is left
                engine.subscribe(set(SYMBOLS) if row == 1900 else set(SYMBOLS[:2]))
            await engine.process(batch)
        assert fast_trader.seen == slow_trader.seen, row
        figures = ("bars_seen", "signals_emitted", "heartbeat_ns")
        assert [getattr(fast, f) for f in figures] == [getattr(slow, f) for f in figures], row
    assert fast._columns["GENA"] is not None
    assert fast._columns["GENB"] is None and fast._columns["GENC"] is None
    kinds = {entry[0] for entry in fast_trader.seen}
    assert kinds == {"hold", "signal", "not ready"}


def test_a_cursors_keys_are_each_rows_hold_key() -> None:
    """``keys``: per row of the current chunk, ``hold_keys`` of its code."""
    columns = _columns(CHUNK + 50, seed=1)["GENA"]
    cursor = ColumnCursor(columns, get_strategy("ema_cross")().column_decider(), engine="eq")
    chunks = 0
    for bar in columns.bars(0, 0, CHUNK + 50):
        code = cursor.step(bar)
        assert code >= 0
        if cursor.offset == 0:
            chunks += 1
            assert cursor.keys == [cursor.hold_keys[c] for c in cursor.codes]
        assert cursor.keys[cursor.offset] == cursor.hold_keys[code]
    assert chunks == 2
