"""Prices in the paper book: ticks, slippage against the taker, and the exchange's checks.

``PaperPricing`` is kept apart from the book (``kitetui.brokers.paper_book``) because
it is pure arithmetic on exact fractions: a price is rounded to the instrument's tick
*against* the order (a buy up, a sell down) so a simulated fill never beats the real
one, and the same tick grid decides whether the exchange would take a price at all.
Floats enter through ``exact`` (the shortest repr, so ``0.05`` is exactly 1/20).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction

from kitetui.domain import Order, OrderType, Side
from kitetui.money import exact_fraction as exact

__all__ = ["PaperPricing", "exact"]


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
        self._tick = exact(tick_size)
        self._symbol_ticks = {
            symbol: exact(tick) for symbol, tick in (tick_sizes or {}).items() if tick > 0
        }
        self._slip = exact(slippage_bps) / 10_000

    # ------------------------------------------------------------------ fill prices

    def limit_fill(self, order: Order, price: float) -> float | None:
        """Where a resting limit trades against ``price``: at the price rounded against
        the order, never through its limit; None when the price is beyond the limit."""
        limit = order.price
        if order.side is Side.BUY:
            if price > limit:
                return None
            return min(self.round_against(exact(price), Side.BUY, order.symbol), limit)
        if price < limit:
            return None
        return max(self.round_against(exact(price), Side.SELL, order.symbol), limit)

    def slipped(self, price: float, order: Order) -> float:
        """A market fill at ``price``: moved ``slippage_bps`` the wrong way, on the tick."""
        value = exact(price)
        side = order.side
        moved = value * (1 + self._slip) if side is Side.BUY else value * (1 - self._slip)
        return self.round_against(moved, side, order.symbol)

    def tick_of(self, symbol: str) -> Fraction:
        return self._symbol_ticks.get(symbol, self._tick)

    def round_against(self, price: Fraction, side: Side, symbol: str) -> float:
        """``price`` on the symbol's tick, up for a buy and down (never below one tick)
        for a sell."""
        tick = self.tick_of(symbol)
        ticks = price / tick
        n = math.ceil(ticks) if side is Side.BUY else max(1, math.floor(ticks))
        return float(n * tick)

    # ------------------------------------------------------------------ validation

    def rejection(self, order: Order) -> str:
        """Why the exchange would refuse this order, or "" if it would take it.

        The checks run in a fixed order (``_CHECKS``) and the first problem is the
        answer, as an exchange names one reason."""
        for check in _CHECKS:
            reason = check(self, order)
            if reason:
                return reason
        return ""

    def price_problem(self, order: Order, what: str, value: float) -> str:
        """Why ``value``, the order's ``what`` (price or trigger price), would be refused.

        A limit price and a trigger price pass the same two checks at the exchange
        (positive, on the instrument's tick), with the same wording; "" when it passes.
        """
        if value <= 0:
            return f"{order.order_type} order needs a positive {what}, got {value}"
        if exact(value) % self.tick_of(order.symbol) != 0:
            tick = float(self.tick_of(order.symbol))
            return f"{what} {value} is not a multiple of the tick {tick:g}"
        return ""


def _tag_problem(_pricing: PaperPricing, order: Order) -> str:
    return "" if order.tag else "order has no tag"


def _quantity_problem(_pricing: PaperPricing, order: Order) -> str:
    if not isinstance(order.quantity, int) or isinstance(order.quantity, bool):
        return f"quantity {order.quantity!r} is not a whole number"
    if order.quantity <= 0:
        return f"quantity {order.quantity} must be positive"
    return ""


def _finite_problem(_pricing: PaperPricing, order: Order) -> str:
    for name in ("price", "trigger_price", "stop_price"):
        value = getattr(order, name)
        if not math.isfinite(value):
            return f"{name} {value!r} is not a finite number"
    return ""


def _limit_price_problem(pricing: PaperPricing, order: Order) -> str:
    if order.order_type in (OrderType.LIMIT, OrderType.SL):
        return pricing.price_problem(order, "price", order.price)
    return ""


def _trigger_problem(pricing: PaperPricing, order: Order) -> str:
    if order.order_type in (OrderType.SL, OrderType.SL_M):
        return pricing.price_problem(order, "trigger price", order.trigger_price)
    return ""


def _stop_limit_problem(_pricing: PaperPricing, order: Order) -> str:
    """An SL's trigger must be inside its limit, so it can fill where it triggers."""
    if order.order_type is not OrderType.SL:
        return ""
    if order.side is Side.BUY and order.trigger_price > order.price:
        return f"SL buy trigger {order.trigger_price} is above its price {order.price}"
    if order.side is Side.SELL and order.trigger_price < order.price:
        return f"SL sell trigger {order.trigger_price} is below its price {order.price}"
    return ""


_CHECKS: tuple[Callable[[PaperPricing, Order], str], ...] = (
    _tag_problem,
    _quantity_problem,
    _finite_problem,
    _limit_price_problem,
    _trigger_problem,
    _stop_limit_problem,
)
