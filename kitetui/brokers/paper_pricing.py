"""Prices in the paper book: ticks, slippage against the taker, and the exchange's checks.

``PaperPricing`` is kept apart from the book (``kitetui.brokers.paper_book``) because
it is pure arithmetic on exact fractions: a price is rounded to the instrument's tick
*against* the order (a buy up, a sell down) so a simulated fill never beats the real
one, and the same tick grid decides whether the exchange would take a price at all.
Floats enter through ``exact_ratio`` (the shortest repr, so ``0.05`` is exactly 1/20),
and the arithmetic is on those whole-number pairs: a fill's price is two or three
multiplications and one floor division, the very rationals ``Fraction`` arithmetic
gives (``float`` of a quotient of integers is correctly rounded, as ``float`` of a
``Fraction`` is) at a fifth of its cost: every market fill and every stop placed
passes here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from kitetui.domain import Order, OrderType, Side
from kitetui.money import exact_fraction as exact
from kitetui.money import exact_ratio

__all__ = ["PaperPricing", "exact"]

# Read on every order placed or modified and every fill priced, bound once
# (why: ``kitetui/domain.py``, "Bound members").
_SL, _BUY, _SELL = OrderType.SL, Side.BUY, Side.SELL
_isfinite = math.isfinite
_PRICED = frozenset({OrderType.LIMIT, OrderType.SL})  # a limit price to check
_TRIGGERED = frozenset({OrderType.SL, OrderType.SL_M})  # a trigger price to check


class PaperPricing:
    """Tick grid (a default and one per symbol) and slippage of one paper book."""

    def __init__(
        self,
        slippage_bps: float = 2.0,
        tick_size: float = 0.05,
        tick_sizes: Mapping[str, float] | None = None,
    ) -> None:
        if not math.isfinite(slippage_bps) or slippage_bps < 0:
            raise ValueError(f"slippage_bps must be finite and >= 0, got {slippage_bps!r}")
        if not math.isfinite(tick_size) or tick_size <= 0:
            raise ValueError(f"tick_size must be finite and > 0, got {tick_size!r}")
        self.slippage_bps = slippage_bps
        self.tick_size = tick_size
        # Ticks as (numerator, denominator): the default and the master's per symbol.
        self._tick = exact_ratio(tick_size)
        self._symbol_ticks = {
            symbol: exact_ratio(tick) for symbol, tick in (tick_sizes or {}).items() if tick > 0
        }
        # A market fill's price factor, 1 ± slippage_bps / 10,000, as (numerator,
        # denominator): up for a buy, down for a sell.
        bps, bps_den = exact_ratio(slippage_bps)
        den = bps_den * 10_000
        self._buy_factor = (den + bps, den)
        self._sell_factor = (den - bps, den)

    # ------------------------------------------------------------------ fill prices

    def limit_fill(self, order: Order, price: float) -> float | None:
        """Where a resting limit trades against ``price``: at the price rounded against
        the order, never through its limit; None when the price is beyond the limit."""
        limit = order.price
        if order.side is _BUY:
            if price > limit:
                return None
            num, den = exact_ratio(price)
            return min(self._on_tick(num, den, _BUY, order.symbol), limit)
        if price < limit:
            return None
        num, den = exact_ratio(price)
        return max(self._on_tick(num, den, _SELL, order.symbol), limit)

    def slipped(self, price: float, order: Order) -> float:
        """A market fill at ``price``: moved ``slippage_bps`` the wrong way, on the tick."""
        num, den = exact_ratio(price)
        side = order.side
        up, down = self._buy_factor if side is _BUY else self._sell_factor
        return self._on_tick(num * up, den * down, side, order.symbol)

    def tick_of(self, symbol: str) -> Fraction:
        return Fraction(*self._symbol_ticks.get(symbol, self._tick))

    def round_against(self, price: Fraction, side: Side, symbol: str) -> float:
        """``price`` on the symbol's tick, up for a buy and down (never below one tick)
        for a sell."""
        return self._on_tick(price.numerator, price.denominator, side, symbol)

    def _on_tick(self, num: int, den: int, side: Side, symbol: str) -> float:
        """``round_against`` of the price ``num / den`` (``den`` > 0): the whole ticks
        it holds, rounded up for a buy and down (at least one) for a sell, times the
        tick (``n * t / d`` is correctly rounded, as ``float(Fraction)`` is)."""
        tick_num, tick_den = self._symbol_ticks.get(symbol, self._tick)
        ticks_num, ticks_den = num * tick_den, den * tick_num
        up = side is _BUY
        n = -(-ticks_num // ticks_den) if up else max(1, ticks_num // ticks_den)
        return n * tick_num / tick_den

    # ------------------------------------------------------------------ validation

    def rejection(self, order: Order) -> str:
        """Why the exchange would refuse this order, or "" if it would take it.

        The checks run in a fixed order and the first problem is the answer, as an
        exchange names one reason: a tag, a whole positive quantity, finite prices, a
        limit price and a trigger on the tick where the type has them, an SL's trigger
        inside its limit. Spelled as one function: every order placed and every modify
        passes here, and a call per check was most of its cost."""
        if not order.tag:
            return "order has no tag"
        quantity = order.quantity
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            return f"quantity {quantity!r} is not a whole number"
        if quantity <= 0:
            return f"quantity {quantity} must be positive"
        price, trigger = order.price, order.trigger_price
        if not (_isfinite(price) and _isfinite(trigger) and _isfinite(order.stop_price)):
            for name in ("price", "trigger_price", "stop_price"):
                value = getattr(order, name)
                if not _isfinite(value):
                    return f"{name} {value!r} is not a finite number"
        kind = order.order_type
        if kind in _PRICED:
            reason = self.price_problem(order, "price", price)
            if reason:
                return reason
        if kind in _TRIGGERED:
            reason = self.price_problem(order, "trigger price", trigger)
            if reason:
                return reason
        if kind is _SL:  # its trigger inside its limit, so it can fill where it triggers
            if order.side is _BUY and trigger > price:
                return f"SL buy trigger {trigger} is above its price {price}"
            if order.side is _SELL and trigger < price:
                return f"SL sell trigger {trigger} is below its price {price}"
        return ""

    def price_problem(self, order: Order, what: str, value: float) -> str:
        """Why ``value``, the order's ``what`` (price or trigger price), would be refused.

        A limit price and a trigger price pass the same two checks at the exchange
        (positive, on the instrument's tick), with the same wording; "" when it passes.
        """
        if value <= 0:
            return f"{order.order_type} order needs a positive {what}, got {value}"
        num, den = exact_ratio(value)
        tick_num, tick_den = self._symbol_ticks.get(order.symbol, self._tick)
        if (num * tick_den) % (den * tick_num):  # value / tick is not a whole number
            tick = tick_num / tick_den
            return f"{what} {value} is not a multiple of the tick {tick:g}"
        return ""
