"""A backtest's engine counts a run of HOLDs decided from its columns in one go
(``Engine.process``): whether it counts them is read once, and again after anything it
awaits, so an engine stopped while a signal of the batch was acted on counts none of
the batch's HOLDs after it, as bar by bar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from engines.base import Engine
from engines.column_cursor import ColumnCursor
from kitetui.config import parse_config
from kitetui.domain import NS_PER_MINUTE, Bar, EngineState
from kitetui.market.bar_columns import BarColumns
from kitetui.supervisor import Supervisor
from strategies.columns import ALWAYS, FIRST_HOLD
from strategies.registry import get_strategy, strategy_names
from tests.supervisor.test_ledger_parity import _generated_config, _write_year


def test_a_cursors_always_table_is_each_codes_hold_whatever_the_position() -> None:
    """``always`` (the reason) and ``hold_keys`` (the key the counter counts it under:
    engine, symbol, reason) for each code that is a HOLD whatever the position."""
    for name in strategy_names():
        decider = get_strategy(name)().column_decider()
        if decider is None:
            continue
        columns = SimpleNamespace(symbol="INFY")
        cursor = ColumnCursor(columns, decider, engine="eq")  # type: ignore[arg-type]
        assert len(cursor.always) == 257 and cursor.always[-1] is None
        assert len(cursor.hold_keys) == 257 and cursor.hold_keys[-1] is None
        for code in range(256):
            k = code - FIRST_HOLD
            always = 0 <= k < len(decider.held) and decider.held[k] == ALWAYS
            assert cursor.always[code] == (decider.reasons[k] if always else None), (name, code)
            key = ("eq", "INFY", decider.reasons[k]) if always else None
            assert cursor.hold_keys[code] == key, (name, code)


def test_the_engine_steps_itself_only_over_a_chunk_of_the_files_own_bars() -> None:
    """``Engine.process`` takes a cursor's step to the next row itself only for a cursor
    over the files' own bars (not ``built``: ``Engine._live_cursors``), while the row is
    in the chunk (``starts`` ends with a None); a bar the engine builds is compared
    whole in ``step``."""
    t0 = 1_680_493_500 * 10**9
    rows = 5
    part = {
        "ts_ns": np.arange(rows, dtype=np.int64) * NS_PER_MINUTE + t0,
        **{name: np.full(rows, 100.0) for name in ("open", "high", "low", "close")},
        "volume": np.full(rows, 10, dtype=np.int64),
        "oi": np.zeros(rows, dtype=np.int64),
    }
    columns = BarColumns("A", 60, (part,))
    decider = get_strategy("ema_cross")().column_decider()
    bars = [
        Bar("A", t0 + k * NS_PER_MINUTE, 60, 100.0, 100.0, 100.0, 100.0, 10) for k in range(rows)
    ]
    own, built = ColumnCursor(columns, decider), ColumnCursor(columns, decider, built=True)
    assert own.starts == [None] and not own.built and built.built  # no chunk yet
    assert own.step(bars[0]) == built.step(bars[0]) >= 0
    assert own.starts == [*part["ts_ns"].tolist(), None] and own.codes == own.chunk.codes
    changed = Bar("A", bars[1].ts_ns, 60, 100.0, 101.0, 100.0, 100.0, 10)  # not the row
    assert built.step(changed) == -1 and own.step(changed) >= 0


async def test_an_engine_stopped_mid_batch_counts_none_of_the_batchs_later_holds(
    tmp_path: Path, monkeypatch
) -> None:
    bars = tmp_path / "bars"
    bars.mkdir()
    symbols = ["GENA", "GENB", "GENC", "GEND"]
    _write_year(bars, symbols, days=20, seed=3)
    data = _generated_config(bars, "1m", {"fast": 3, "slow": 8, "allow_short": True})
    data["engines"][0]["symbols"] = symbols
    config = parse_config(data, "stop.yaml")
    act = Engine.act
    at_stop: dict[str, int] = {}

    async def act_then_stop(self: Engine, signal) -> None:
        await act(self, signal)
        if not at_stop and signal.symbol == "GENA":  # the batch's first symbol
            self.state = EngineState.STOPPED  # a StopEngine taking effect meanwhile
            at_stop["signals"] = self.signals_emitted
            at_stop["bars"] = self.bars_seen

    monkeypatch.setattr(Engine, "act", act_then_stop)
    supervisor = Supervisor(config, "stop.yaml", database=tmp_path / "s.db", speed=None)
    await asyncio.wait_for(supervisor.open(), 60)
    try:
        await asyncio.wait_for(supervisor.run(), 300)
    finally:
        await asyncio.wait_for(supervisor.close(), 60)
    (engine,) = supervisor.engines
    assert at_stop and engine.state is EngineState.STOPPED
    assert engine.signals_emitted == at_stop["signals"]  # not one HOLD after the stop
    assert engine.bars_seen > at_stop["bars"]  # its bars still came (indicators warm)
