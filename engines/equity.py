"""NSE cash equities: whole shares, MIS by default, a universe chosen each session.

The day's universe is the configured list, or an index's members (NIFTY 50 / 100)
that have data, trade above ``min_price`` and rank in the top ``max_count`` by the
previous session's turnover. It is journaled and shown in the TUI; a symbol that
drops out keeps its open position until it is closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from engines.base import Engine
from kitetui.domain import Exchange
from kitetui.events import EventKind
from kitetui.market.universe import load_index_members, select_universe


class EquityEngine(Engine):
    kind: ClassVar[str] = "equity"
    exchange: ClassVar[Exchange] = Exchange.NSE

    def _members(self, day: date) -> list[str]:
        """The day's candidates: the index's members (narrowed by ``symbols``), or the
        ``symbols`` list."""
        cfg = self.config
        if cfg.universe is None:
            return list(cfg.symbols)
        members = list(load_index_members(cfg.universe, as_of=day))
        if cfg.symbols:  # an explicit list narrows the index
            members = [m for m in members if m in set(cfg.symbols)]
        return members

    def wants_prices(self, day: date) -> list[str]:
        """The candidates the day's universe needs a price for (it filters on price):
        a live or paper desk reads them from Kite before the first tick, since ticks
        come only for what is subscribed, and it subscribes only what it chose."""
        return [m for m in self._members(day) if self.instrument(m) is not None]

    async def start_session(
        self, day: date, prices: Mapping[str, float], turnover: Mapping[str, float]
    ) -> None:
        await super().start_session(day, prices, turnover)
        cfg = self.config
        members = self._members(day)
        listed = [m for m in members if self.instrument(m) is not None]
        for symbol in cfg.symbols:  # a symbol the config names, misspelt or delisted
            if self.instrument(symbol) is None:
                self.record(
                    EventKind.INSTRUMENT_MISSING,
                    f"{symbol} is not in the instrument master: "
                    f"engine {self.name} will not trade it",
                    level="WARNING",
                    symbol=symbol,
                )
        unlisted = [(m, "not in the instrument master") for m in members if m not in listed]
        choice = select_universe(
            day,
            listed,
            self.available,
            prices,
            min_price=cfg.min_price,
            max_count=cfg.max_count,
            ranking=turnover or None,
        )
        rejected = tuple(unlisted) + choice.rejected
        self.subscribe(set(choice.selected), held=self.trader.held_by(self.name))
        self.trader.record_universe(self.name, day, choice.selected, rejected)
        if not choice.selected:
            self.nothing_to_trade("IDLE", f"no symbol passed today's universe ({day})")
        self.record(
            EventKind.UNIVERSE_SELECTED,
            f"{len(choice.selected)} symbols: {', '.join(choice.selected) or 'none'}"
            + (f"; {len(rejected)} left out" if rejected else ""),
            selected=list(choice.selected),
            rejected=[f"{s}: {why}" for s, why in rejected],
        )
