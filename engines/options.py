"""Index options around ATM: buy the CE on a long signal, the PE on a short one.

Signals come from the underlying's own bars (the index); the contracts are the
nearest listed expiry's ATM strike (± ``offset_steps``), re-centred with hysteresis
when the underlying moves a full strike away, and on expiry. Buying only: the most a
trade can lose is the premium paid, and the premium stop caps it at
``max_premium_at_risk``. On an expiry day, from ``expiry_day_cutoff`` on, the contracts
come from the next listed expiry (the weekly rolls to the next weekly, journaled once as
``OptionsRolled``): no new entry goes into the expiring contracts, whose positions keep
their stops, exits and square-off. With no later expiry listed the engine keeps the
expiring pair, its entries refused by the cut-off rule, and says so (``InstrumentMissing``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import ClassVar

from engines.base import Engine
from kitetui.clock import ist_date, ist_minute_of_day, minute_of
from kitetui.config import parse_clock
from kitetui.domain import Bar, Exchange, Signal, Tick
from kitetui.events import EventKind
from kitetui.market.instruments import InstrumentError
from kitetui.market.resolve import OptionPair, OptionSelector, nearest_expiry


class OptionsEngine(Engine):
    kind: ClassVar[str] = "options"
    exchange: ClassVar[Exchange] = Exchange.NFO

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.selector = OptionSelector(
            self.master, cfg.underlying, offset_steps=cfg.offset_steps, hysteresis=cfg.hysteresis
        )
        self.pair: OptionPair | None = None
        self._signal_pair: OptionPair | None = None  # the pair of the bar last decided
        self._cutoff_minute = minute_of(parse_clock(cfg.expiry_day_cutoff))
        self._expiring: date | None = None  # today, when the nearest listed expiry is today
        self._said_roll: date | None = None  # the expiry day whose roll was journaled

    async def start_session(
        self, day: date, prices: Mapping[str, float], turnover: Mapping[str, float]
    ) -> None:
        await super().start_session(day, prices, turnover)
        if self.pair is not None and self.pair.expiry < day:
            self.pair = None  # expired: never listed (or watched) again
        self._expiring = None
        try:
            if nearest_expiry(self.master, self.config.underlying, day) == day:
                self._expiring = day
        except InstrumentError as exc:
            self.nothing_to_trade("NO CONTRACTS", str(exc))
        self._subscribe_pair()

    def _subscribe_pair(self) -> None:
        symbols = {self.config.underlying_symbol}
        if self.pair is not None:
            symbols |= {self.pair.ce.tradingsymbol, self.pair.pe.tradingsymbol}
        self.subscribe(symbols, held=self.trader.held_by(self.name))

    async def process(self, items: Sequence[Tick | Bar]) -> None:
        # Only the underlying makes bars here; option prices reach the portfolio and the
        # broker through the supervisor whether or not this engine looks at them.
        underlying = self.config.underlying_symbol
        await super().process([item for item in items if item.symbol == underlying])

    def past_expiry_cutoff(self, ts_ns: int, expiry: date) -> bool:
        return ist_date(ts_ns) == expiry and ist_minute_of_day(ts_ns) >= self._cutoff_minute

    def direction(self) -> int:
        """+1 holding calls, -1 holding puts, 0 flat: what the strategy sees as position."""
        for symbol in self.trader.held_by(self.name):
            instrument = self.instrument(symbol)
            if instrument is not None:
                return 1 if instrument.right == "CE" else -1
        return 0

    def decide(self, bar: Bar) -> Signal | None:
        self.bars_seen += 1
        self.heartbeat_ns = bar.end_ns
        strategy = self.strategy_for(bar.symbol)
        decision = strategy.on_bar(bar, self.direction())
        self.history.add(bar, decision.indicators)
        day = ist_date(bar.end_ns)
        rolling = self._expiring == day and ist_minute_of_day(bar.end_ns) >= self._cutoff_minute
        try:
            pair, changed = self._select(bar, day, rolling)
        except InstrumentError as exc:
            if self.trading:
                self.record(
                    EventKind.INSTRUMENT_MISSING, str(exc), level="WARNING", symbol=bar.symbol
                )
            return None
        if changed:
            old = self.pair
            self.pair = pair
            self._subscribe_pair()
            if self.trading:
                why = ""
                if rolling and pair.expiry > day and self._said_roll != day:
                    self._said_roll = day  # said once: later moves are re-centrings
                    why = (
                        f"after {self.config.expiry_day_cutoff} on its expiry day {day}, "
                        f"rolled to the next expiry {pair.expiry} (the expiring contracts "
                        "are only closed): "
                    )
                self.record(
                    EventKind.OPTIONS_ROLLED,
                    f"{why}{self.config.underlying} {bar.close:g}: ATM {pair.atm:g} step "
                    f"{pair.step:g} expiry {pair.expiry} -> {pair.ce.tradingsymbol} / "
                    f"{pair.pe.tradingsymbol}"
                    + (f" (was {old.ce.tradingsymbol} / {old.pe.tradingsymbol})" if old else ""),
                    symbol=bar.symbol,
                    notes=list(self.selector.last_notes),
                )
        self._signal_pair = pair
        return self.make_signal(bar, strategy.name, decision, {"atm": pair.atm})

    def _select(self, bar: Bar, day: date, rolling: bool) -> tuple[OptionPair, bool]:
        """The pair for ``bar``: past the cut-off on an expiry day (``rolling``), the next
        expiry's, as a trader rolls weeklies, so signals keep trading after the cut-off.
        No later expiry listed: the expiring pair stays (its entries refused by the
        cut-off rule, its held contracts closed as ever), and the engine says so once."""
        if rolling:
            try:
                return self.selector.select(bar.close, day, past_today=True)
            except InstrumentError as exc:
                if self.trading and self._said_roll != day:
                    self._said_roll = day
                    cfg = self.config
                    self.record(
                        EventKind.INSTRUMENT_MISSING,
                        f"after {cfg.expiry_day_cutoff} on the expiry day {day}: no "
                        f"{self.exchange.value}:{cfg.underlying} option expiry is listed "
                        f"after {day}, so there is nothing to roll to; new entries stay "
                        f"refused for the rest of the day ({exc})",
                        level="WARNING",
                        symbol=bar.symbol,
                    )
        return self.selector.select(bar.close, day)

    async def act(self, signal: Signal) -> None:
        """Buy the CE or PE of the pair the signal was decided with."""
        pair = self._signal_pair
        assert pair is not None
        self.orders_placed += await self.trader.on_option_signal(self, signal, pair)
