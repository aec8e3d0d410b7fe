"""The risk engine's journaled state: its shape, read strictly.

It lives below both the risk engine (which writes and restores it) and the store (which
refuses a database whose ``risk_state`` rows the engine could not read back), so that
the store needs nothing from ``kitetui.trading`` to check it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class RiskState:
    """Everything the risk engine journals; its limits come from the config, but for
    those a person changed during the run (``limits``)."""

    trading_day: str
    kill_switch: bool
    kill_reason: str
    loss_halt_reason: str
    entries_paused: bool
    blocked_symbols: dict[str, str]
    entries_today: dict[str, int]
    # Limits a person changed during the run (name -> value), over the config's. Absent
    # in states written before limits could change: read as none changed.
    limits: dict[str, int | float] = field(default_factory=dict)

    @classmethod
    def parse(cls, state: Mapping[str, Any]) -> RiskState:
        """Strict: a missing key or a wrong type raises ``ValueError`` rather than
        quietly forgetting, say, an engaged kill switch."""

        def get(key: str, kind: type | tuple[type, ...]) -> Any:
            if key not in state:
                raise ValueError(f"risk state has no {key!r}")
            value = state[key]
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ValueError(f"risk state {key!r} has the wrong type: {value!r}")
            return value

        version = get("version", int)
        if version != STATE_VERSION:
            raise ValueError(f"risk state version {version} is not {STATE_VERSION}")
        trading_day = get("trading_day", str)
        kill_switch = get("kill_switch", bool)
        kill_reason = get("kill_reason", str)
        loss_halt_reason = get("loss_halt_reason", str)
        entries_paused = get("entries_paused", bool)
        blocked = get("blocked_symbols", dict)
        entries = get("entries_today", dict)
        for symbol, reason in blocked.items():
            if not isinstance(symbol, str) or not isinstance(reason, str):
                raise ValueError(f"risk state blocked_symbols entry is malformed: {symbol!r}")
        for symbol, count in entries.items():
            if not isinstance(symbol, str) or not isinstance(count, int) or isinstance(count, bool):
                raise ValueError(f"risk state entries_today entry is malformed: {symbol!r}")
        limits = state.get("limits", {})
        if not isinstance(limits, dict):
            raise ValueError(f"risk state 'limits' has the wrong type: {limits!r}")
        for name, value in limits.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not isinstance(name, str) or not number or not math.isfinite(value):
                raise ValueError(f"risk state limits entry is malformed: {name!r}")
        return cls(
            trading_day,
            kill_switch,
            kill_reason or ("kill switch" if kill_switch else ""),
            loss_halt_reason,
            entries_paused,
            dict(blocked),
            dict(entries),
            dict(limits),
        )
