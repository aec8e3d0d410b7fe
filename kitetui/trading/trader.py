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
from typing import TYPE_CHECKING

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
from kitetui.store.journal import Journal
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import ExposureView, RiskEngine
from kitetui.trading.sizing import size_by_risk, stop_price_for
from kitetui.views import EventView, SignalView

if TYPE_CHECKING:
    from engines.base import Engine
    from kitetui.brokers.base import Broker
    from kitetui.config import SizingConfig

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
        self.stops: dict[str, str] = {}  # symbol -> tag of its resting protective stop
        self.engines_by_symbol: dict[str, Engine] = {}
        self.signals: deque[SignalView] = deque(maxlen=signal_buffer)
        self.events: deque[EventView] = deque(maxlen=event_buffer)
        self.signal_seq = 0
        self.event_seq = 0
        self.counts = {"signals": 0, "orders": 0, "fills": 0, "events": 0, "decisions": 0}
        self.quiet = False  # True while warming up after a restart: nothing is journaled
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

    async def _exit(self, engine: Engine, signal: Signal, qty: int) -> tuple[RiskDecision, int]:
        intent = OrderIntent(
            engine=engine.name,
            symbol=signal.symbol,
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
            for o in self.open_orders(signal.symbol)
        ):
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "an exit order is already working", "pending_exit"
            )
            self._record_decision(intent, decision)
            return decision, 0
        decision = self.risk.check(intent, signal.price, self._exposure(signal.symbol))
        self._record_decision(intent, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return decision, 0
        await self._cancel_stop(signal.symbol, "position exiting")
        if self.position_qty(signal.symbol) == 0:  # the stop filled first
            return decision, 0
        tag = make_tag(self.run_id, signal.signal_id, intent.purpose.value)
        placed = await self.submit(replace(intent, quantity=decision.quantity), tag)
        return decision, int(placed)

    async def _enter(self, engine: Engine, signal: Signal) -> tuple[RiskDecision, int]:
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
        stop = (
            stop_price_for(side, signal.price, atr, self.sizing.atr_stop_multiple, self.tick_size)
            if quantity
            else 0.0
        )
        intent = OrderIntent(
            engine=engine.name,
            symbol=signal.symbol,
            exchange=engine.exchange,
            side=side,
            quantity=quantity,
            purpose=OrderPurpose.ENTRY,
            product=engine.product,
            stop_price=stop,
            signal_id=signal.signal_id,
            reason=f"{signal.kind.value}: {signal.reason}",
        )
        if engine.entries_paused:
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, f"engine {engine.name} is paused", "engine_paused"
            )
        elif ist_minute_of_day(signal.ts_ns) >= self.entry_cutoff_minute:
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "after the entry cut-off time", "entry_cutoff"
            )
        elif quantity <= 0:
            decision = RiskDecision(
                RiskVerdict.BLOCK,
                0,
                f"sizing gave 0 (atr={atr:.4g}, price={signal.price})",
                "sizing",
            )
        elif self.open_orders(signal.symbol):
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "an order is already working", "pending_order"
            )
        else:
            decision = self.risk.check(
                intent, signal.price, self._exposure(signal.symbol), lot_size=lot
            )
        self._record_decision(intent, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return decision, 0
        self.risk.record_entry(signal.symbol)
        tag = make_tag(self.run_id, signal.signal_id, intent.purpose.value)
        placed = await self.submit(replace(intent, quantity=decision.quantity), tag)
        return decision, int(placed)

    # -- the one door to the broker ------------------------------------------------------

    async def submit(self, intent: OrderIntent, tag: str) -> bool:
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
            ts_ns=self.clock.now_ns,
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
        accepted = await self.broker.place(order)
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
        if self.stops.get(order.symbol) == tag:
            del self.stops[order.symbol]
        self.changed = True
        return True

    async def _cancel_stop(self, symbol: str, reason: str) -> None:
        tag = self.stops.get(symbol)
        if tag is not None:
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
            self.counts["fills"] += 1
            self.changed = True
            await self._after_fill(order, fill)

    def replay_fill(self, fill: Fill) -> None:
        """Apply a journaled fill while rebuilding state (it is already committed)."""
        self.portfolio.apply_fill(fill)
        self.counts["fills"] += 1

    async def _after_fill(self, order: Order, fill: Fill) -> None:
        symbol = order.symbol
        qty = self.position_qty(symbol)
        if order.purpose is OrderPurpose.STOP:
            self.stops.pop(symbol, None)
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

    async def protect(self, order: Order) -> None:
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
            placed = await self.submit(stop, tag)
            if placed and self.orders[tag].status is not OrderStatus.REJECTED:
                self.stops[symbol] = tag

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
        engine = self.engines_by_symbol.get(symbol)
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
        return await self.submit(replace(intent, quantity=decision.quantity), tag)

    async def flatten_all(self, purpose: OrderPurpose, reason: str) -> int:
        count = 0
        for order in self.open_orders():
            if order.purpose is OrderPurpose.ENTRY:
                await self.cancel(order.tag, reason)
        symbols = {p.symbol for p in self.portfolio.open_positions()}
        for symbol in sorted(symbols):
            count += await self.flatten(symbol, purpose, reason)
        return count
