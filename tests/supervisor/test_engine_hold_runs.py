"""A backtest's engine counts a run of HOLDs decided from its columns in one go
(``Engine.process``): whether it counts them is read once, and again after anything it
awaits, so an engine stopped while a signal of the batch was acted on counts none of
the batch's HOLDs after it, as bar by bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engines.base import Engine
from engines.column_cursor import ColumnCursor
from kitetui.config import parse_config
from kitetui.domain import EngineState
from kitetui.supervisor import Supervisor
from strategies.columns import ALWAYS, FIRST_HOLD
from strategies.registry import get_strategy, strategy_names
from tests.supervisor.test_ledger_parity import _generated_config, _write_year


def test_a_cursors_always_table_is_each_codes_hold_whatever_the_position() -> None:
    for name in strategy_names():
        decider = get_strategy(name)().column_decider()
        if decider is None:
            continue
        cursor = ColumnCursor(None, decider)  # type: ignore[arg-type]
        assert len(cursor.always) == 257 and cursor.always[-1] is None
        for code in range(256):
            k = code - FIRST_HOLD
            always = 0 <= k < len(decider.held) and decider.held[k] == ALWAYS
            assert cursor.always[code] == (decider.reasons[k] if always else None), (name, code)


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
