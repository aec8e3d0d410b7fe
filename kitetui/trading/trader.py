"""The trader: from a signal to an order, and from a fill to a position.

Every order command passes through here, whichever door it came from (a strategy
signal, square-off, the daily-loss halt, the kill switch, a key in the TUI), so the
write-ahead rule lives in one place: the order row is committed with its client tag
before the broker sees it, and a fill is committed before it changes a position.
Client tags are derived from what caused the order (run, engine, symbol, bar time),
so after a crash the same bar yields the same tag and an order is never placed twice.
"""

from __future__ import annotations

import base64
import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from kitetui.brokers.base import PlacementUnknown
from kitetui.clock import DataClock, ist_minute_of_day
from kitetui.domain import (
    Event,
    Exchange,
    Fill,
    Order,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    RiskDecision,
    RiskVerdict,
    Side,
    Signal,
    SignalKind,
    TradingState,
)
from kitetui.kite.session import TokenExpired
from kitetui.store.journal import Journal
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import ExposureView, RiskEngine
from kitetui.trading.sizing import (
    premium_quantity,
    premium_stop,
    size_by_risk,
    slice_quantity,
    stop_price_for,
)
from kitetui.views import EventView, SignalView

if TYPE_CHECKING:
    from engines.base import Engine
    from kitetui.brokers.base import Broker
    from kitetui.config import SizingConfig
    from kitetui.market.instruments import Instrument
    from kitetui.market.resolve import OptionPair

_EXIT_PURPOSES = frozenset(
    {OrderPurpose.EXIT, OrderPurpose.STOP, OrderPurpose.SQUARE_OFF, OrderPurpose.FLATTEN}
)


def make_tag(*parts: object) -> str:
    """A 16-character alphanumeric client tag (Kite allows 20) derived from its cause."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:16]


class Trader:
    def __init__(
        self,
        *,
        journal: Journal,
        broker: Broker,
        portfolio: Portfolio,
        risk: RiskEngine,
        clock: DataClock,
        sizing: SizingConfig,
        tick_size: float,
        entry_cutoff_minute: int,
        run_id: str,
        signal_buffer: int = 300,
        event_buffer: int = 200,
    ) -> None:
        self.journal = journal
        self.broker = broker
        self.portfolio = portfolio
        self.risk = risk
        self.clock = clock
        self.sizing = sizing
        self.tick_size = tick_size
        self.entry_cutoff_minute = entry_cutoff_minute
        self.run_id = run_id
        self.orders: dict[str, Order] = {}  # every order of the run, in placement order
        self._working: dict[str, Order] = {}  # the non-terminal ones: scanned per signal
        # symbol -> tags of its resting protective stop (several when sliced)
        self.stops: dict[str, list[str]] = {}
        self.engines: dict[str, Engine] = {}
        self.last_prices: dict[str, float] = {}  # every symbol's last price (supervisor's)
        self.holders: dict[str, str] = {}  # symbol -> engine holding a position in it
        self.signals: deque[SignalView] = deque(maxlen=signal_buffer)
        self.events: deque[EventView] = deque(maxlen=event_buffer)
        self.signal_seq = 0
        self.event_seq = 0
        self.counts = {"signals": 0, "orders": 0, "fills": 0, "events": 0, "decisions": 0}
        # A resumed run's totals go on from what it journaled before the restart (fills
        # and orders are counted as the journal's ledger is read back).
        for kind in ("signals", "events", "decisions"):
            self.counts[kind] += journal.journaled.get(kind, 0)
        self.quiet = False  # True while warming up after a restart: nothing is journaled
        self.feed_problem = ""  # set while market data is stale: entries wait
        self.login_required = ""  # set when the broker refused our token: nothing is sent
        self.listeners: list[Callable[[Event], object]] = []  # e.g. the headless log
        self.changed = True

    # -- records ----------------------------------------------------------------------

    def record_event(self, event: Event) -> None:
        if self.quiet:
            return
        if not event.ts_ns:
            event = replace(event, ts_ns=self.clock.now_ns)
        self.journal.add_event(event)
        self.event_seq += 1
        self.counts["events"] += 1
        self.events.append(
            EventView(
                seq=self.event_seq,
                ts_ns=event.ts_ns,
                kind=event.kind,
                level=event.level,
                message=event.message,
                symbol=event.symbol,
                engine=event.engine,
            )
        )
        self.changed = True
        for listener in self.listeners:
            listener(event)

    def record_universe(
        self,
        engine: str,
        day: date,
        selected: tuple[str, ...],
        rejected: tuple[tuple[str, str], ...],
    ) -> None:
        if not self.quiet:
            self.journal.add_universe(day.isoformat(), engine, selected, rejected)

    def skip_not_ready(self, engine: Engine, bar) -> None:
        self.record_event(
            Event(
                ts_ns=bar.end_ns,
                kind="BarSkipped",
                level="DEBUG",
                symbol=bar.symbol,
                engine=engine.name,
                message="indicators not ready",
                data={"reason": "indicators not ready", "timeframe_s": bar.timeframe_s},
            )
        )

    def _record_signal(self, signal: Signal, decision: RiskDecision | None) -> None:
        self.journal.add_signal(signal)
        self.counts["signals"] += 1
        if signal.kind is SignalKind.HOLD:
            return
        self.signal_seq += 1
        self.signals.append(
            SignalView(
                seq=self.signal_seq,
                signal_id=signal.signal_id,
                ts_ns=signal.ts_ns,
                engine=signal.engine,
                strategy=signal.strategy,
                symbol=signal.symbol,
                kind=signal.kind.value,
                price=signal.price,
                reason=signal.reason,
                confidence=signal.confidence,
                indicators=tuple(sorted(signal.indicators.items())),
                risk_verdict=decision.verdict.value if decision else "",
                risk_reason=decision.reason if decision else "",
            )
        )
        self.changed = True

    def _record_decision(self, intent: OrderIntent, decision: RiskDecision) -> None:
        self.journal.add_risk_decision(
            self.clock.now_ns,
            intent.signal_id,
            intent.engine,
            intent.symbol,
            intent.purpose.value,
            intent.side.value,
            intent.quantity,
            decision,
        )
        self.counts["decisions"] += 1
        if decision.verdict is not RiskVerdict.ALLOW:
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=f"Risk{decision.verdict.value.title()}ed"
                    if decision.verdict is not RiskVerdict.HALT
                    else "RiskHalted",
                    level="WARNING",
                    symbol=intent.symbol,
                    engine=intent.engine,
                    message=f"{intent.purpose.value} {intent.side.value} {intent.quantity}: "
                    f"{decision.reason}",
                    data={"rule": decision.rule, "quantity": decision.quantity},
                )
            )

    # -- positions ----------------------------------------------------------------------

    def position_qty(self, symbol: str) -> int:
        position = self.portfolio.position(symbol)
        return 0 if position is None else position.quantity

    def track(self, order: Order) -> None:
        """Record an order's latest state; keeps the index of working orders current."""
        self.orders[order.tag] = order
        if order.status.is_terminal:
            self._working.pop(order.tag, None)
        else:
            self._working[order.tag] = order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._working.values() if symbol is None or o.symbol == symbol]

    def _exposure(self, symbol: str) -> ExposureView:
        return ExposureView(
            open_positions=len(self.portfolio.open_positions()),
            gross_exposure_paise=self.portfolio.gross_exposure_paise,
            position_qty=self.position_qty(symbol),
        )

    # -- from a signal to orders ----------------------------------------------------------

    async def on_signal(self, engine: Engine, signal: Signal) -> int:
        """Act on one strategy signal; returns how many orders were placed."""
        symbol = signal.symbol
        qty = self.position_qty(symbol)
        kind = signal.kind
        placed = 0
        decision: RiskDecision | None = None
        wants_exit = (kind is SignalKind.EXIT and qty != 0) or (
            (kind is SignalKind.LONG and qty < 0) or (kind is SignalKind.SHORT and qty > 0)
        )
        if wants_exit:
            decision, n = await self._exit(engine, signal, qty)
            placed += n
            qty = 0 if n else qty
        wants_entry = (kind is SignalKind.LONG and qty <= 0) or (
            kind is SignalKind.SHORT and qty >= 0
        )
        if wants_entry and qty == 0:
            decision, n = await self._enter(engine, signal)
            placed += n
        self._record_signal(signal, decision)
        return placed

    async def _exit(
        self, engine: Engine, signal: Signal, qty: int, symbol: str | None = None
    ) -> tuple[RiskDecision, int]:
        """Close ``qty`` of ``symbol`` (the signal's own symbol unless a contract is named)."""
        symbol = symbol or signal.symbol
        intent = OrderIntent(
            engine=engine.name,
            symbol=symbol,
            exchange=engine.exchange,
            side=Side.SELL if qty > 0 else Side.BUY,
            quantity=abs(qty),
            purpose=OrderPurpose.EXIT,
            product=engine.product,
            signal_id=signal.signal_id,
            reason=f"{signal.kind.value}: {signal.reason}",
        )
        if any(
            o.purpose in _EXIT_PURPOSES and o.purpose is not OrderPurpose.STOP
            for o in self.open_orders(symbol)
        ):
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "an exit order is already working", "pending_exit"
            )
            self._record_decision(intent, decision)
            return decision, 0
        price = self.last_prices.get(symbol, signal.price)
        decision = self.risk.check(intent, price, self._exposure(symbol))
        self._record_decision(intent, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return decision, 0
        await self._cancel_stop(symbol, "position exiting")
        if self.position_qty(symbol) == 0:  # the stop filled first
            return decision, 0
        tag = make_tag(self.run_id, signal.signal_id, intent.purpose.value, symbol)
        placed = await self.submit(replace(intent, quantity=decision.quantity), tag, engine)
        return decision, int(placed)

    async def _enter(self, engine: Engine, signal: Signal) -> tuple[RiskDecision, int]:
        """Enter the signal's own symbol, sized by risk per trade with an ATR stop."""
        side = Side.BUY if signal.kind is SignalKind.LONG else Side.SELL
        atr = signal.indicators.get("atr", float("nan"))
        stop_distance = atr * self.sizing.atr_stop_multiple
        equity = self.portfolio.equity_paise / 100
        lot = engine.lot_size(signal.symbol)
        quantity = size_by_risk(
            equity,
            self.sizing.risk_per_trade_pct,
            signal.price,
            stop_distance,
            lot_size=lot,
            max_capital_fraction=self.sizing.max_capital_fraction,
            capital_rupees=self.portfolio.capital_paise / 100 / engine.config.margin_rate,
        )
        tick = engine.tick_size(signal.symbol)
        stop = (
            stop_price_for(side, signal.price, atr, self.sizing.atr_stop_multiple, tick)
            if quantity
            else 0.0
        )
        why_zero = f"sizing gave 0 (atr={atr:.4g}, price={signal.price})"
        return await self._place_entry(
            engine, signal, signal.symbol, side, quantity, stop, signal.price, why_zero
        )

    async def _place_entry(
        self,
        engine: Engine,
        signal: Signal,
        symbol: str,
        side: Side,
        quantity: int,
        stop: float,
        price: float,
        why_zero: str,
        block: RiskDecision | None = None,
    ) -> tuple[RiskDecision, int]:
        """The gates every entry passes, in order, each refusal journaled with its rule."""
        intent = OrderIntent(
            engine=engine.name,
            symbol=symbol,
            exchange=engine.exchange,
            side=side,
            quantity=quantity,
            purpose=OrderPurpose.ENTRY,
            product=engine.product,
            stop_price=stop,
            signal_id=signal.signal_id,
            reason=f"{signal.kind.value}: {signal.reason}",
        )
        lot = engine.lot_size(symbol)
        if block is not None:
            decision = block
        elif self.login_required:
            decision = RiskDecision(RiskVerdict.BLOCK, 0, self.login_required, "login_required")
        elif self.feed_problem:
            decision = RiskDecision(RiskVerdict.BLOCK, 0, self.feed_problem, "feed_stale")
        elif engine.entries_paused:
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, f"engine {engine.name} is paused", "engine_paused"
            )
        elif ist_minute_of_day(signal.ts_ns) >= self.entry_cutoff_minute:
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "after the entry cut-off time", "entry_cutoff"
            )
        elif quantity <= 0:
            decision = RiskDecision(RiskVerdict.BLOCK, 0, why_zero, "sizing")
        elif self.open_orders(symbol):
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "an order is already working", "pending_order"
            )
        else:
            decision = self.risk.check(intent, price, self._exposure(symbol), lot_size=lot)
        self._record_decision(intent, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return decision, 0
        self.risk.record_entry(symbol)
        tag = make_tag(self.run_id, signal.signal_id, intent.purpose.value, symbol)
        placed = await self.submit(replace(intent, quantity=decision.quantity), tag, engine)
        return decision, int(placed)

    async def on_option_signal(self, engine: Engine, signal: Signal, pair: OptionPair) -> int:
        """Options are bought, never written: LONG buys the CE, SHORT the PE, EXIT sells.

        A held contract of the other right is closed first; one already held in the
        wanted right is kept even if ATM has moved on (no churn on re-centring).
        """
        held = self.held_by(engine.name)
        kind = signal.kind
        want = {SignalKind.LONG: pair.ce, SignalKind.SHORT: pair.pe}.get(kind)
        placed = 0
        decision: RiskDecision | None = None
        for symbol, qty in sorted(held.items()):
            instrument = engine.instrument(symbol)
            right = instrument.right if instrument is not None else ""
            if kind is SignalKind.EXIT or (want is not None and right != want.right):
                decision, n = await self._exit(engine, signal, qty, symbol)
                placed += n
                if n:
                    del held[symbol]
        if want is not None and not any(
            (inst := engine.instrument(symbol)) is not None and inst.right == want.right
            for symbol in held
        ):
            decision, n = await self._enter_option(engine, signal, pair, want)
            placed += n
        self._record_signal(signal, decision)
        return placed

    async def _enter_option(
        self, engine: Engine, signal: Signal, pair: OptionPair, contract: Instrument
    ) -> tuple[RiskDecision, int]:
        cfg = engine.config
        symbol = contract.tradingsymbol
        premium = self.last_prices.get(symbol)
        lot = contract.lot_size or 1
        block: RiskDecision | None = None
        quantity = 0
        stop = 0.0
        if engine.past_expiry_cutoff(signal.ts_ns, pair.expiry):
            block = RiskDecision(
                RiskVerdict.BLOCK,
                0,
                f"expiry day: no new option entries after {cfg.expiry_day_cutoff}",
                "expiry_day_cutoff",
            )
        elif premium is None or not premium > 0:
            block = RiskDecision(
                RiskVerdict.BLOCK, 0, f"no premium quote for {symbol} yet", "no_quote"
            )
        else:
            tick = contract.tick_size or self.tick_size
            stop = premium_stop(premium, cfg.premium_stop_pct, tick)
            quantity = premium_quantity(
                premium, stop, lot, cfg.max_premium_at_risk, cfg.max_premium_outlay
            )
        why_zero = (
            f"premium sizing gave 0 lots (premium {premium}, stop {stop}, "
            f"risk cap {cfg.max_premium_at_risk:g})"
        )
        return await self._place_entry(
            engine, signal, symbol, Side.BUY, quantity, stop, premium or 0.0, why_zero, block
        )

    # -- the one door to the broker ------------------------------------------------------

    async def submit(
        self,
        intent: OrderIntent,
        tag: str,
        engine: Engine | None = None,
        ts_ns: int | None = None,
    ) -> bool:
        """Place an intent, sliced to the exchange freeze quantity; False if already placed.

        Slices are whole lots; the first keeps ``tag``, the others add 2, 3, …
        """
        freeze = engine.freeze_quantity(intent.symbol) if engine is not None else None
        sizes = slice_quantity(
            intent.quantity, freeze, engine.lot_size(intent.symbol) if engine is not None else 1
        )
        placed = False
        for index, size in enumerate(sizes):
            child_tag = tag if index == 0 else f"{tag}{index + 1}"
            placed |= await self._submit_one(replace(intent, quantity=size), child_tag, ts_ns)
        if len(sizes) > 1:
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="OrderSliced",
                    symbol=intent.symbol,
                    engine=intent.engine,
                    message=f"{intent.quantity} split into {len(sizes)} orders of at most "
                    f"{freeze} (freeze quantity)",
                )
            )
        return placed

    async def _submit_one(self, intent: OrderIntent, tag: str, ts_ns: int | None = None) -> bool:
        """Journal the order durably, then place it. False if the tag already exists."""
        if tag in self.orders:
            return False  # placed before a restart: never twice
        order = Order(
            tag=tag,
            engine=intent.engine,
            symbol=intent.symbol,
            exchange=intent.exchange,
            side=intent.side,
            quantity=intent.quantity,
            order_type=intent.order_type,
            product=intent.product,
            purpose=intent.purpose,
            status=OrderStatus.NEW,
            ts_ns=self.clock.now_ns if ts_ns is None else ts_ns,
            price=intent.price,
            trigger_price=intent.trigger_price,
            stop_price=intent.stop_price,
            signal_id=intent.signal_id,
            reason=intent.reason,
        )
        self.track(order)
        self.journal.set_risk_state(self.risk.to_state())
        await self.journal.write_order(order)
        self.counts["orders"] += 1
        if intent.purpose is OrderPurpose.ENTRY and self.risk.state is TradingState.HALTED:
            # Halted while the order row was being written: it never reaches the broker.
            rejected = replace(order, status=OrderStatus.REJECTED, reason="trading halted")
            self.track(rejected)
            await self.journal.write_order_state(rejected, self.clock.now_ns)
            return True
        try:
            accepted = await self.broker.place(order)
        except TokenExpired as exc:
            # Refused at the door: nothing reached the exchange. Stop sending anything.
            self.login_required = f"Kite token expired: run `kitetui login` ({exc})"
            accepted = replace(order, status=OrderStatus.REJECTED, reason=self.login_required)
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="LoginRequired",
                    level="ERROR",
                    message=self.login_required,
                )
            )
        except PlacementUnknown as exc:
            # Sent, and the order book cannot be read to say what became of it: the order
            # stays NEW (unknown) for the reconciler and the next start to resolve by tag.
            self.feed_problem = f"order {tag} placement unknown: {exc}"
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="PlacementUnknown",
                    level="ERROR",
                    symbol=order.symbol,
                    message=self.feed_problem,
                )
            )
            return True
        self.track(accepted)
        self.journal.update_order(accepted, self.clock.now_ns)
        if accepted.status is OrderStatus.REJECTED:
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="OrderRejected",
                    level="WARNING",
                    symbol=order.symbol,
                    engine=order.engine,
                    message=f"{order.side.value} {order.quantity} {order.symbol}: "
                    f"{accepted.reason}",
                )
            )
        self.changed = True
        return True

    async def cancel(self, tag: str, reason: str) -> bool:
        order = self.orders.get(tag)
        if order is None or order.status.is_terminal:
            return False
        cancelled = await self.broker.cancel(tag)
        if cancelled is None:
            return False
        cancelled = replace(cancelled, reason=reason)
        self.track(cancelled)
        await self.journal.write_order_state(cancelled, self.clock.now_ns)
        self._forget_stop(order.symbol, tag)
        self.changed = True
        return True

    def _forget_stop(self, symbol: str, tag: str) -> None:
        tags = self.stops.get(symbol)
        if tags and tag in tags:
            tags.remove(tag)
            if not tags:
                del self.stops[symbol]

    async def _cancel_stop(self, symbol: str, reason: str) -> None:
        for tag in list(self.stops.get(symbol, ())):
            await self.cancel(tag, reason)
        self.stops.pop(symbol, None)

    # -- fills ---------------------------------------------------------------------------

    async def on_fills(self, fills: list[tuple[Order, Fill]]) -> None:
        for order, fill in fills:
            fill = replace(fill, engine=order.engine, product=order.product)
            self.track(order)
            if not await self.journal.write_fill(fill, order, None, self.clock.now_ns):
                continue
            self.portfolio.apply_fill(fill)
            self._track_holder(fill)
            self.counts["fills"] += 1
            self.changed = True
            await self._after_fill(order, fill)

    def replay_fill(self, fill: Fill) -> None:
        """Apply a journaled fill while rebuilding state (it is already committed)."""
        self.portfolio.apply_fill(fill)
        self._track_holder(fill)
        self.counts["fills"] += 1

    def _track_holder(self, fill: Fill) -> None:
        if self.position_qty(fill.symbol):
            self.holders[fill.symbol] = fill.engine
        else:
            self.holders.pop(fill.symbol, None)

    def held_by(self, engine: str) -> dict[str, int]:
        """The engine's open positions: symbol -> signed quantity."""
        return {
            symbol: self.position_qty(symbol)
            for symbol, holder in self.holders.items()
            if holder == engine
        }

    async def _after_fill(self, order: Order, fill: Fill) -> None:
        symbol = order.symbol
        qty = self.position_qty(symbol)
        if order.purpose is OrderPurpose.STOP:
            self._forget_stop(symbol, order.tag)
            self.record_event(
                Event(
                    ts_ns=fill.ts_ns,
                    kind="StopFilled",
                    level="WARNING",
                    symbol=symbol,
                    engine=order.engine,
                    message=f"protective stop filled at {fill.price}",
                )
            )
        if qty == 0:
            await self._cancel_stop(symbol, "position flat")
            return
        if order.purpose is OrderPurpose.ENTRY and order.stop_price > 0:
            await self.protect(order)

    async def protect(self, order: Order, ts_ns: int | None = None) -> None:
        """Rest a protective SL-M for the position an entry opened (tag: entry tag + S)."""
        symbol = order.symbol
        qty = self.position_qty(symbol)
        if qty != 0:
            await self._cancel_stop(symbol, "replaced")
            stop = OrderIntent(
                engine=order.engine,
                symbol=symbol,
                exchange=order.exchange,
                side=Side.SELL if qty > 0 else Side.BUY,
                quantity=abs(qty),
                purpose=OrderPurpose.STOP,
                order_type=OrderType.SL_M,
                product=order.product,
                trigger_price=order.stop_price,
                signal_id=order.signal_id,
                reason=f"protective stop for {order.tag}",
            )
            tag = order.tag + "S"
            await self.submit(stop, tag, self.engines.get(order.engine), ts_ns=ts_ns)
            live = [
                t
                for t in self.orders
                if t == tag or (t.startswith(tag) and t[len(tag) :].isdigit())
            ]
            tags = [t for t in live if not self.orders[t].status.is_terminal]
            if tags:
                self.stops[symbol] = tags

    # -- flattening: square-off, halts, the kill switch, a key press ----------------------

    async def flatten(self, symbol: str, purpose: OrderPurpose, reason: str) -> bool:
        """Cancel the symbol's working orders and close its position at market."""
        for order in self.open_orders(symbol):
            if order.purpose is not purpose:
                await self.cancel(order.tag, reason)
        qty = self.position_qty(symbol)
        if qty == 0 or any(o.purpose is purpose for o in self.open_orders(symbol)):
            return False
        position = self.portfolio.position(symbol)
        engine = self.engines.get(position.engine) if position else None
        intent = OrderIntent(
            engine=position.engine if position else "",
            symbol=symbol,
            exchange=engine.exchange if engine else Exchange.NSE,
            side=Side.SELL if qty > 0 else Side.BUY,
            quantity=abs(qty),
            purpose=purpose,
            product=position.product if position else Product.MIS,
            reason=reason,
        )
        decision = self.risk.check(
            intent, position.last_price if position else 0.0, self._exposure(symbol)
        )
        self._record_decision(intent, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return False
        tag = make_tag(self.run_id, symbol, purpose.value, self.clock.now_ns)
        return await self.submit(replace(intent, quantity=decision.quantity), tag, engine)

    async def flatten_all(self, purpose: OrderPurpose, reason: str) -> int:
        count = 0
        for order in self.open_orders():
            if order.purpose is OrderPurpose.ENTRY:
                await self.cancel(order.tag, reason)
        symbols = {p.symbol for p in self.portfolio.open_positions()}
        for symbol in sorted(symbols):
            count += await self.flatten(symbol, purpose, reason)
        return count
