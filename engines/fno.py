"""Index and stock futures: each underlying trades its near-month contract, in lots.

The contract is resolved from the instrument master every session and rolls to the
next month ``roll_sessions`` sessions before expiry. A position still open in the old
contract at a roll is closed (the strategy re-enters the new one on its own signals);
intraday positions are normally already flat by then. The next month's contract is
watched before the roll, its bars warming its strategy without a signal: on the roll
day the strategy decides from the first bar, where a cold one waited out its slowest
indicator (20 minutes of an EMA 21 on 1-minute bars, a whole session on 15-minute
ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from engines.base import Engine
from kitetui.domain import Exchange, OrderPurpose
from kitetui.events import EventKind
from kitetui.market.instruments import InstrumentError
from kitetui.market.resolve import near_future


class FnoEngine(Engine):
    kind: ClassVar[str] = "fno"
    exchange: ClassVar[Exchange] = Exchange.NFO

    async def start_session(
        self, day: date, prices: Mapping[str, float], turnover: Mapping[str, float]
    ) -> None:
        await super().start_session(day, prices, turnover)
        contracts: set[str] = set()
        warming: set[str] = set()
        missing: list[str] = []
        for underlying in self.config.underlyings:
            try:
                future = near_future(
                    self.master, underlying, day, self.calendar, self.config.roll_sessions
                )
            except InstrumentError as exc:
                self.record(
                    EventKind.INSTRUMENT_MISSING, str(exc), level="WARNING", symbol=underlying
                )
                missing.append(str(exc))
                continue
            contracts.add(future.tradingsymbol)
            later = [
                f
                for f in self.master.futures(underlying)
                if f.expiry is not None and future.expiry is not None and f.expiry > future.expiry
            ]
            if later:
                warming.add(later[0].tradingsymbol)  # the next roll's: warm, never traded
            if future.tradingsymbol not in self.available:
                self.record(
                    EventKind.NO_DATA_FOR_CONTRACT,
                    f"{future.tradingsymbol} has no data feed",
                    level="WARNING",
                    symbol=future.tradingsymbol,
                )
            self.record(
                EventKind.CONTRACT_RESOLVED,
                f"{underlying} -> {future.tradingsymbol} (expiry {future.expiry}, "
                f"lot {future.lot_size}, tick {future.tick_size})",
                symbol=future.tradingsymbol,
                underlying=underlying,
                expiry=str(future.expiry),
                lot_size=future.lot_size,
            )
        for symbol in self.trader.held_by(self.name):
            if symbol not in contracts:
                await self.trader.flatten(symbol, OrderPurpose.EXIT, "rolled to the next contract")
        self.subscribe(contracts, held=self.trader.held_by(self.name), warming=warming)
        if not contracts:
            self.nothing_to_trade("NO CONTRACTS", "; ".join(missing) or "no underlying")
