"""NSE cash equities: whole shares, MIS by default, squared off intraday."""

from __future__ import annotations

from typing import ClassVar

from engines.base import Engine
from kitetui.domain import Exchange


class EquityEngine(Engine):
    kind: ClassVar[str] = "equity"
    exchange: ClassVar[Exchange] = Exchange.NSE
