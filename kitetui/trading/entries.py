"""From a strategy's signal to a sized, gated order intent: the trader's first half.

A signal against a position closes it through the exit manager (and, with
``exits.on_opposite_signal: reverse``, takes the other side once the close filled); a
signal from flat is sized (risk per trade and an ATR stop; options by premium at risk)
and then passes every entry gate of the risk engine before ``Trader.submit`` writes and
sends it. ``SignalEntries`` is mixed into ``Trader`` and works on its state; it is a
module of its own so that the order book's side of the trader stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kitetui.domain import (
    Order,
    OrderIntent,
    OrderPurpose,
    OrderType,
    RiskDecision,
    RiskVerdict,
    Side,
    Signal,
    SignalKind,
    evolve,
)
from kitetui.drafts import maker
from kitetui.trading.sizing import (
    premium_quantity,
    premium_stop,
    size_by_risk,
    stop_limit_price,
    stop_price_for,
)

#: How a person's order ticket's reason starts (``kitetui.supervisor.manual``).
MANUAL_TICKET = "manual ticket:"

# The enum members every signal reads (an entry with its stop read some sixty), bound
# once (why: ``kitetui/domain.py``, "Bound members").
_LONG, _SHORT, _EXIT, _HOLD = SignalKind.LONG, SignalKind.SHORT, SignalKind.EXIT, SignalKind.HOLD
_BUY, _SELL = Side.BUY, Side.SELL
_ENTRY, _EXIT_ORDER = OrderPurpose.ENTRY, OrderPurpose.EXIT
_BLOCK = RiskVerdict.BLOCK
_GOES_ON = frozenset({RiskVerdict.ALLOW, RiskVerdict.REDUCE})  # a decision that places
_KEEP = {_LONG: _BUY, _SHORT: _SELL}  # the side a signal keeps working (``on_signal``)
_MARKET = OrderType.MARKET
# An intent made positionally (``drafts.maker``: one frame, one ``__class__`` store): built
# with keywords, a frozen record goes through ``type.__call__`` and a dict of them, about
# three times the cost, and every signal that is not a HOLD makes one (``market_intent``).
_MAKE_INTENT = maker(OrderIntent)

if TYPE_CHECKING:
    from kitetui.market.instruments import Instrument
    from kitetui.market.resolve import OptionPair
    from kitetui.trading.ports import EnginePort as Engine
    from kitetui.trading.trader import Trader


class SignalEntries:
    """The signal side of ``Trader``: ``on_signal``, ``on_option_signal`` and the
    second half of a stop-and-reverse, ``enter_reversal``."""

    async def on_signal(self: Trader, engine: Engine, signal: Signal) -> int:
        """Act on one strategy signal; returns how many orders were placed.

        A signal against a position closes it through the exit manager; with
        ``exits.on_opposite_signal: reverse`` the other side is entered once the close
        has filled (an entry while the exit still works would be refused as "an order is
        already working", and two orders would race for one position).
        """
        symbol = signal.symbol
        kind = signal.kind
        if kind is not _HOLD:
            working = self._working.entries()
            if working:  # (most signals find none: no coroutine, no predicate made)
                keep = _KEEP.get(kind)
                await self._cancel_stale_entries(
                    signal,
                    lambda order: order.symbol == symbol and order.side is not keep,
                    working,
                )
        qty = self.position_qty(symbol)
        decision: RiskDecision | None = None
        placed = 0
        against = (kind is _LONG and qty < 0) or (kind is _SHORT and qty > 0)
        if (kind is _EXIT and qty != 0) or against:
            reverse = against and self.exits.config.on_opposite_signal == "reverse"
            decision, placed = await self._exit(engine, signal, qty, reverse=reverse)
        elif qty == 0 and (kind is _LONG or kind is _SHORT):
            decision, placed = await self._enter(engine, signal)
        self._record_signal(signal, decision)
        return placed

    async def _cancel_stale_entries(
        self: Trader,
        signal: Signal,
        stale: Callable[[Order], bool],
        working: list[Order] | None = None,
    ) -> None:
        """The engine's entry still working on the other side (the second half of a
        reversal, waiting for its fill) is stale once the strategy signals this side or
        an exit: cancelled, it no longer takes the side the strategy has just left,
        and the signal is acted on as if it were not there (an entry from flat, or an
        exit of whatever part of it filled). A person's ticket is theirs to cancel.

        Looked for among the working entries (``WorkingOrders.entries``, in placement
        order as ``open_orders`` has them): every signal that is not a HOLD comes here,
        and most find none in a book of mostly stops. ``working``: that list, when the
        caller has read it already."""
        for order in self._working.entries() if working is None else working:
            if (
                order.engine == signal.engine
                and not order.reason.startswith(MANUAL_TICKET)
                and stale(order)
            ):
                why = f"stale: a {signal.kind.value} signal came after it ({signal.reason})"
                await self.cancel(order.tag, why)

    async def _exit(
        self: Trader,
        engine: Engine,
        signal: Signal,
        qty: int,
        symbol: str | None = None,
        reverse: bool = False,
    ) -> tuple[RiskDecision, int]:
        """Close ``qty`` of ``symbol`` (the signal's own symbol unless a contract is named)."""
        symbol = symbol or signal.symbol
        intent = market_intent(
            engine, symbol, _SELL if qty > 0 else _BUY, abs(qty), _EXIT_ORDER, 0.0, signal
        )
        if self.exits.is_closing(symbol):
            if reverse:  # the latest opposite signal is the side to take once flat
                self.exits.restore_reversal(symbol, engine.name, signal)
            decision = RiskDecision(
                RiskVerdict.BLOCK, 0, "an exit order is already working", "pending_exit"
            )
            self._record_decision(intent, decision)
            return decision, 0
        decision = self.risk.check_exit(intent, self.position_qty(symbol))
        self._record_decision(intent, decision)
        if decision.verdict not in _GOES_ON:
            return decision, 0
        started = await self.exits.close(
            symbol,
            _EXIT_ORDER,
            intent.reason,
            cause=signal.signal_id,
            reverse=(engine, signal) if reverse else None,
        )
        return decision, int(started)

    async def _enter(
        self: Trader, engine: Engine, signal: Signal, ts_ns: int | None = None
    ) -> tuple[RiskDecision, int]:
        """Enter the signal's own symbol, sized by risk per trade with an ATR stop.

        A strategy may scale the size down with ``indicators["size_scale"]`` in (0, 1]
        (a volatility regime, say); whole lots still round down."""
        side = _BUY if signal.kind is _LONG else _SELL
        atr = signal.indicators.get("atr", float("nan"))
        stop_distance = atr * self.sizing.atr_stop_multiple
        equity = self.portfolio.equity_paise / 100
        lot = engine.lot_size(signal.symbol)
        quantity = size_by_risk(
            equity,
            self.sizing.risk_per_trade_pct * _size_scale(signal),
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
        # (read only for an entry sized to nothing: its two floats' text is most of an
        # entry's string work, so it is made only for one)
        why_zero = "" if quantity > 0 else f"sizing gave 0 (atr={atr:.4g}, price={signal.price})"
        return await self._place_entry(
            engine, signal, signal.symbol, side, quantity, stop, signal.price, why_zero, ts_ns=ts_ns
        )

    async def enter_reversal(
        self: Trader, engine: Engine, signal: Signal, ts_ns: int | None
    ) -> int:
        """Stop-and-reverse, second half: the close filled, now take the signal's side
        (``ts_ns``: the instant the close filled, also after a restart)."""
        if self.position_qty(signal.symbol) != 0:
            return 0
        _, placed = await self._enter(engine, signal, ts_ns)
        engine.orders_placed += placed
        return placed

    async def _place_entry(
        self: Trader,
        engine: Engine,
        signal: Signal,
        symbol: str,
        side: Side,
        quantity: int,
        stop: float,
        price: float,
        why_zero: str,
        block: RiskDecision | None = None,
        ts_ns: int | None = None,
    ) -> tuple[RiskDecision, int]:
        """Sizing and the engine's own refusals first; every entry gate is the risk
        engine's (its named blocks, cut-off, working orders, limits), journaled."""
        intent = market_intent(engine, symbol, side, quantity, _ENTRY, stop, signal)
        lot = engine.lot_size(symbol)
        instrument = engine.instrument(symbol)
        if block is not None:
            decision = block
        elif symbol in engine.exits_only:
            decision = RiskDecision(
                RiskVerdict.BLOCK,
                0,
                f"{symbol} is not among {engine.name}'s symbols today, only held from an "
                "earlier session (a rolled contract, a stock out of the universe): it is "
                "closed, never entered",
                "exits_only",
            )
        elif instrument is not None and not instrument.is_tradable:
            decision = RiskDecision(
                RiskVerdict.BLOCK,
                0,
                f"{symbol} is {instrument.untradable_reason}: not a tradable instrument",
                "untradable",
            )
        elif quantity <= 0:
            decision = RiskDecision(_BLOCK, 0, why_zero, "sizing")
        else:
            decision = self.risk.check(intent, price, self._exposure(symbol, engine), lot_size=lot)
        self._record_decision(intent, decision)
        if decision.verdict not in _GOES_ON:
            return decision, 0
        tag = self.tag_for(signal.signal_id, _ENTRY._value_, symbol)
        if tag not in self.placed_tags:
            # Counted once: an entry placed before a crash is in the restored risk state
            # (written with its order row), and its signal is decided again on resume.
            self.risk.record_entry(symbol)
        # Live, its placement goes on in the symbol's lane (``Trader.place_later``): the
        # batch does not wait on Kite, and the order, written ahead, counts as working.
        if decision.quantity != intent.quantity:  # reduced by a cap
            intent = evolve(intent, quantity=decision.quantity)
        orders = await self.submit(intent, tag, engine, ts_ns=ts_ns, defer=True)
        return decision, int(bool(orders))

    async def on_option_signal(
        self: Trader, engine: Engine, signal: Signal, pair: OptionPair
    ) -> int:
        """Options are bought, never written: LONG buys the CE, SHORT the PE, EXIT sells.

        A held contract of the other right is closed first; one already held in the
        wanted right is kept even if ATM has moved on (no churn on re-centring).
        """
        kind = signal.kind
        want = {SignalKind.LONG: pair.ce, SignalKind.SHORT: pair.pe}.get(kind)
        if kind is not SignalKind.HOLD:
            await self._cancel_stale_entries(
                signal,
                lambda order: (
                    want is None
                    or getattr(engine.instrument(order.symbol), "right", "") != want.right
                ),
            )
        held = self.held_by(engine.name)
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
        self: Trader, engine: Engine, signal: Signal, pair: OptionPair, contract: Instrument
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
            worst = stop_limit_price(stop, self.exits.config.option_stop_limit_pct, tick, True)
            quantity = premium_quantity(
                premium, worst, lot, cfg.max_premium_at_risk, cfg.max_premium_outlay
            )
        why_zero = (
            f"premium sizing gave 0 lots (premium {premium}, stop {stop}, "
            f"risk cap {cfg.max_premium_at_risk:g})"
        )
        return await self._place_entry(
            engine, signal, symbol, Side.BUY, quantity, stop, premium or 0.0, why_zero, block
        )


def market_intent(
    engine: Engine,
    symbol: str,
    side: Side,
    quantity: int,
    purpose: OrderPurpose,
    stop_price: float,
    signal: Signal,
) -> OrderIntent:
    """A signal's MARKET intent in the engine's exchange and product: ``OrderIntent(
    engine=engine.name, symbol=symbol, exchange=engine.exchange, side=side, quantity=
    quantity, purpose=purpose, product=engine.product, stop_price=stop_price, signal_id=
    signal.signal_id, reason="KIND: the signal's reason")``, no price and no trigger,
    in ``OrderIntent``'s field order (tests hold it to the keyword form)."""
    return _MAKE_INTENT(
        engine.name,
        symbol,
        engine.exchange,
        side,
        quantity,
        purpose,
        _MARKET,  # order_type
        engine.product,
        0.0,  # price
        0.0,  # trigger_price
        stop_price,
        signal.signal_id,
        f"{signal.kind._value_}: {signal.reason}",  # reason
    )


def _size_scale(signal: Signal) -> float:
    """A strategy's size adjustment in (0, 1]; anything else means full size."""
    scale = signal.indicators.get("size_scale", 1.0)
    return scale if 0 < scale <= 1 else 1.0
