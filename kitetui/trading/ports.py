"""What the trading core asks of an engine, declared here so the core never imports the
``engines`` plugins (they import the core)."""

from __future__ import annotations

from typing import Any, Protocol

from kitetui.domain import Exchange, Product
from kitetui.market.instruments import Instrument


class EnginePort(Protocol):
    name: str
    kind: str
    exchange: Exchange
    product: Product
    config: Any  # its EngineConfig (margin rate; the options engine's premium caps)
    orders_placed: int
    exits_only: frozenset[str]  # held from an earlier session: closed, never entered

    @property
    def entries_paused(self) -> bool: ...

    @property
    def trading(self) -> bool: ...

    def instrument(self, symbol: str) -> Instrument | None: ...

    def lot_size(self, symbol: str) -> int: ...

    def tick_size(self, symbol: str) -> float: ...

    def freeze_quantity(self, symbol: str) -> int | None: ...

    def past_expiry_cutoff(self, ts_ns: int, expiry: Any) -> bool: ...
