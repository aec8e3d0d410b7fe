"""A person's hand on the book: a risk limit changed, an order ticket, a stop moved.

The three commands a trader uses to step in without stopping the desk
(``SetRiskLimit``, ``PlaceTicket``, ``ModifyStop``). None of them has a door of its
own: a limit goes into the one ``RiskEngine`` (journaled with its state, so a restart of
the run keeps it), a ticket's entry passes ``RiskEngine.check`` exactly as a strategy's
does and its position is protected by the one exit manager, and a stop moves through the
exit manager's ``move_stop``. A manual entry belongs to the engine that trades its
symbol (its product, exchange, lot and tick sizes, freeze quantity, and its exits); it
is journaled as a signal of strategy ``manual`` with its risk decision, an order whose
reason starts ``manual ticket:``, and a ``ManualOrderPlaced`` event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kitetui.commands import CommandResult
from kitetui.domain import (
    Event,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    RiskDecision,
    RiskVerdict,
    Side,
    Signal,
    SignalKind,
)
from kitetui.events import EventKind
from kitetui.order_ticket import (
    TicketRefused,
    on_tick,
    parse_stop_move,
    parse_ticket,
    price_text,
)
from kitetui.risk_limits import LimitRefused, parse_assignment
from kitetui.supervisor.order_reserve import follow_position_limit
from kitetui.trading.entries import MANUAL_TICKET

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor

MANUAL_STRATEGY = "manual"


def _amount(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


class ManualControls:
    def __init__(self, desk: Supervisor) -> None:
        self.desk = desk

    # -- a risk limit -----------------------------------------------------------------

    async def set_limit(self, assignment: str) -> CommandResult:
        try:
            change = parse_assignment(assignment)
        except LimitRefused as exc:
            return CommandResult(False, str(exc))
        desk = self.desk
        risk = desk.risk
        configured = getattr(risk.config_limits, change.name)
        old = risk.set_limit(change.name, change.value)
        shown = (
            f"{change.name} {_amount(old)} → {_amount(change.value)}"
            + (" (the config's value)" if change.value == configured else "")
            + ("" if change.value == configured else f" (config {_amount(configured)})")
        )
        data: dict[str, object] = {
            "limit": change.name,
            "old": old,
            "new": change.value,
            "config": configured,
        }
        if change.name == "max_open_positions":
            reserve = follow_position_limit(desk.broker, int(change.value))
            if reserve is not None:
                shown += f"; Kite's last {reserve:,} orders of the day kept for stops and closes"
                data["kite_reserve"] = reserve
        desk.trader.record_event(
            Event(
                ts_ns=desk.clock.now_ns,
                kind=EventKind.RISK_LIMIT_CHANGED,
                level="WARNING",
                message=f"risk limit changed by hand: {shown}",
                data=data,
            )
        )
        await desk.commands.persist_risk()
        return CommandResult(True, f"risk limit {shown}")

    # -- an order ticket ----------------------------------------------------------------

    def _engine_for(self, symbol: str) -> Any:
        """The engine that trades ``symbol``: the one holding it, else the first (in the
        config's order) that subscribes to it."""
        desk = self.desk
        holder = desk.trader.holders.get(symbol)
        for engine in desk.engines:
            if engine.name == holder:
                return engine
        return next((e for e in desk.engines if symbol in e.subscriptions), None)

    async def place_ticket(self, text: str) -> CommandResult:
        try:
            ticket = parse_ticket(text)
        except TicketRefused as exc:
            return CommandResult(False, f"ticket refused: {exc}")
        desk = self.desk
        trader = desk.trader
        symbol = ticket.symbol
        engine = self._engine_for(symbol)
        if engine is None:
            return CommandResult(
                False, f"ticket refused: no engine trades {symbol} (it must be an engine's symbol)"
            )
        if trader.position_qty(symbol) != 0:
            return CommandResult(
                False,
                f"ticket refused: {symbol} has an open position; a ticket opens one from "
                "flat (flatten it, or move its stop)",
            )
        tick = engine.tick_size(symbol)
        lot = max(1, engine.lot_size(symbol))
        for what, price in (("limit price", ticket.price), ("stop", ticket.stop)):
            if price and not on_tick(price, tick):
                return CommandResult(
                    False,
                    f"ticket refused: {what} {price_text(price)} is not a multiple of the "
                    f"tick {price_text(tick)}",
                )
        last = desk.last_prices.get(symbol, 0.0)
        reference = ticket.price if ticket.order_type == "LIMIT" else last
        if reference <= 0:
            return CommandResult(
                False, f"ticket refused: no price for {symbol} yet (a MARKET order needs one)"
            )
        side = Side(ticket.side)
        if ticket.order_type == "MARKET" and (
            ticket.stop >= last if side is Side.BUY else ticket.stop <= last
        ):
            where = "below" if side is Side.BUY else "above"
            return CommandResult(
                False,
                f"ticket refused: the stop {price_text(ticket.stop)} must be {where} the market "
                f"(last {price_text(last)})",
            )
        now = desk.clock.now_ns
        tag = trader.tag_for("MANUAL", symbol, now, trader.placed)
        reason = f"{MANUAL_TICKET} {ticket.text}"
        signal = Signal(
            signal_id=f"manual-{tag}",
            ts_ns=now,
            engine=engine.name,
            strategy=MANUAL_STRATEGY,
            symbol=symbol,
            timeframe_s=engine.config.timeframe_s,
            kind=SignalKind.LONG if side is Side.BUY else SignalKind.SHORT,
            price=reference,
            reason=reason,
            confidence=1.0,
        )
        intent = OrderIntent(
            engine=engine.name,
            symbol=symbol,
            exchange=engine.exchange,
            side=side,
            quantity=ticket.quantity * lot,
            purpose=OrderPurpose.ENTRY,
            order_type=OrderType(ticket.order_type),
            product=engine.product,
            price=ticket.price,
            stop_price=ticket.stop,
            signal_id=signal.signal_id,
            reason=reason,
        )
        instrument = engine.instrument(symbol)
        if instrument is not None and not instrument.is_tradable:
            decision = RiskDecision(
                RiskVerdict.BLOCK,
                0,
                f"{symbol} is {instrument.untradable_reason}: not a tradable instrument",
                "untradable",
            )
        else:  # the same gate, the same view of the book, as a strategy's entry
            exposure = trader._exposure(symbol, engine)
            decision = desk.risk.check(intent, reference, exposure, lot_size=lot)
        trader._record_decision(intent, decision)
        trader._record_signal(signal, decision)
        if decision.verdict not in (RiskVerdict.ALLOW, RiskVerdict.REDUCE):
            return CommandResult(
                False, f"ticket refused by risk ({decision.rule}): {decision.reason}"
            )
        desk.risk.record_entry(symbol)
        orders = await trader.submit(replace(intent, quantity=decision.quantity), tag, engine)
        engine.orders_placed += int(bool(orders))
        rejected = [o for o in orders if o.status is OrderStatus.REJECTED]
        placed = sum(o.quantity for o in orders if o.status is not OrderStatus.REJECTED)
        reduced = (
            f" (risk reduced it: {decision.reason})" if decision.quantity < intent.quantity else ""
        )
        trader.record_event(
            Event(
                ts_ns=now,
                kind=EventKind.MANUAL_ORDER_PLACED,
                level="WARNING" if rejected else "INFO",
                symbol=symbol,
                engine=engine.name,
                message=f"{reason} → {placed} placed as {tag}{reduced}"
                + (f"; rejected: {rejected[0].reason}" if rejected else ""),
                data={"tag": tag, "ticket": ticket.text, "quantity": decision.quantity},
            )
        )
        await desk.journal.flush()
        if not orders or (rejected and not placed):
            why = rejected[0].reason if rejected else "not placed"
            return CommandResult(False, f"ticket {tag} rejected: {why}")
        return CommandResult(
            True,
            f"ticket {tag}: {side.value} {decision.quantity} {symbol} "
            f"{ticket.order_type}{f' @ {price_text(ticket.price)}' if ticket.price else ''}, "
            f"stop {price_text(ticket.stop)} once filled{reduced}",
        )

    # -- a stop ---------------------------------------------------------------------------

    async def modify_stop(self, text: str) -> CommandResult:
        try:
            move = parse_stop_move(text)
        except TicketRefused as exc:
            return CommandResult(False, f"modify-stop refused: {exc}")
        done, message = await self.desk.trader.exits.move_stop(move.symbol, move.trigger)
        if done:
            await self.desk.journal.flush()
        return CommandResult(done, message if done else f"modify-stop refused: {message}")
