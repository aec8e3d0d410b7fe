"""One worker per asset class on a shared base."""

from engines.base import Engine, EngineState
from engines.equity import EquityEngine
from engines.fno import FnoEngine

ENGINE_KINDS: dict[str, type[Engine]] = {"equity": EquityEngine, "fno": FnoEngine}

__all__ = ["ENGINE_KINDS", "Engine", "EngineState", "EquityEngine", "FnoEngine"]
