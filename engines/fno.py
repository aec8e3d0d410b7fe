"""NSE index futures: quantities in whole lots of the contract's lot size."""

from __future__ import annotations

from typing import ClassVar

from engines.base import Engine
from kitetui.domain import Exchange


class FnoEngine(Engine):
    kind: ClassVar[str] = "fno"
    exchange: ClassVar[Exchange] = Exchange.NFO
