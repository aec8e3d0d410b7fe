"""One worker per asset class on a shared base."""

from engines.base import Engine, EngineState
from engines.equity import EquityEngine
from engines.fno import FnoEngine
from engines.options import OptionsEngine

ENGINE_KINDS: dict[str, type[Engine]] = {
    "equity": EquityEngine,
    "fno": FnoEngine,
    "options": OptionsEngine,
}

__all__ = ["ENGINE_KINDS", "Engine", "EngineState", "EquityEngine", "FnoEngine", "OptionsEngine"]
