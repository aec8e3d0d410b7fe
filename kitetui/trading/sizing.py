"""Position sizing: how many units a trade may take, and where its stop goes.

Sizing is fixed-fractional: risk a percentage of equity between entry and stop, then
cap by the capital the position would tie up, then round *down* to whole lots. It is
computed in exact rational arithmetic on the decimal values the caller meant
(``kitetui.money.exact_ratio``: 0.7 is seven tenths, not the binary float below it), so
"risk 700 over a 0.70 stop" gives exactly 1000 units and the budget is never exceeded
by a float rounding. Bad inputs (non-finite, zero, negative) size to 0: no trade is the
safe answer.
"""

from __future__ import annotations

import math

from kitetui.domain import Side
from kitetui.money import exact_fraction as _exact
from kitetui.money import exact_ratio

# Ratios read so far, by value: half of an entry's (the risk per trade, the capital and
# its fraction, the ATR multiple, the tick) are the config's, the same on every entry,
# and each costs a repr and a Decimal to read. Bounded: a price or an equity seen once
# fills it up to ``_RATIOS_KEPT`` and is then read afresh every time.
_RATIOS: dict[float, tuple[int, int]] = {}
_BUY = Side.BUY  # bound once (why: ``kitetui/domain.py``, "Bound members")
_RATIOS_KEPT = 512


def _ratio(value: float) -> tuple[int, int]:
    """``exact_ratio``, remembered for the first ``_RATIOS_KEPT`` values (the
    config's among them; equal floats read as one decimal, -0.0 as 0.0 is 0/1)."""
    known = _RATIOS.get(value)
    if known is None:
        known = exact_ratio(value)
        if len(_RATIOS) < _RATIOS_KEPT:
            _RATIOS[value] = known
    return known


# ``int | float`` spelled as a tuple bound once: the union in an ``isinstance`` call
# is built anew for every value tested (six a sizing, two a stop), the same test.
_REAL = (int, float)


def _positive_finite(*values: float) -> bool:
    for v in values:
        if not (isinstance(v, _REAL) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
            return False
    return True


def size_by_risk(
    equity_rupees: float,
    risk_per_trade_pct: float,
    entry_price: float,
    stop_distance: float,
    lot_size: int = 1,
    max_capital_fraction: float = 1.0,
    capital_rupees: float | None = None,
) -> int:
    """Quantity such that ``stop_distance * qty <= equity * risk_pct / 100`` and
    ``entry_price * qty <= capital * max_capital_fraction``, rounded down to whole lots.

    ``capital_rupees`` defaults to ``equity_rupees``. ``max_capital_fraction`` may
    exceed 1 to allow intraday leverage. Returns 0 for any non-finite, zero or
    negative input, or a ``lot_size`` that is not a positive integer.
    """
    if capital_rupees is None:
        capital_rupees = equity_rupees
    if not _positive_finite(
        equity_rupees,
        risk_per_trade_pct,
        entry_price,
        stop_distance,
        max_capital_fraction,
        capital_rupees,
    ):
        return 0
    if not isinstance(lot_size, int) or isinstance(lot_size, bool) or lot_size < 1:
        return 0

    # floor(equity * pct / 100 / stop) and floor(capital * fraction / entry), exactly:
    # every input is positive, so floor division of the cross-multiplied integers.
    (e, ed), (r, rd), (d, dd) = (
        _ratio(equity_rupees),
        _ratio(risk_per_trade_pct),
        _ratio(stop_distance),
    )
    by_risk = (e * r * dd) // (ed * rd * 100 * d)
    (c, cd), (f, fd), (p, pd) = (
        _ratio(capital_rupees),
        _ratio(max_capital_fraction),
        _ratio(entry_price),
    )
    by_capital = (c * f * pd) // (cd * fd * p)
    quantity = min(by_risk, by_capital)
    return max(0, quantity - quantity % lot_size)


def stop_price_for(
    side: Side,
    entry_price: float,
    atr: float,
    atr_multiple: float,
    tick_size: float = 0.05,
) -> float:
    """A protective stop ``atr * atr_multiple`` from entry: below it for a BUY, above it
    for a SELL, rounded to the tick *away* from entry (so the stop is never tighter
    than asked for).

    A zero ATR gives a stop at entry (rounded away), which ``size_by_risk`` sizes to 0.
    Raises ``ValueError`` for non-finite or negative inputs, a non-positive entry or
    tick, or a BUY stop that would land at or below zero.
    """
    if not _positive_finite(entry_price, tick_size):
        raise ValueError(
            f"entry price and tick size must be finite and positive: {entry_price!r}, {tick_size!r}"
        )
    if not (math.isfinite(atr) and math.isfinite(atr_multiple)) or atr < 0 or atr_multiple < 0:
        raise ValueError(
            f"ATR and multiple must be finite and non-negative: {atr!r}, {atr_multiple!r}"
        )
    (t, td), (p, pd) = _ratio(tick_size), _ratio(entry_price)
    (a, ad), (m, md) = _ratio(atr), _ratio(atr_multiple)
    buy = side is _BUY
    sign = 1 if buy else -1  # ``side.sign``, without its property's call
    # raw = entry - sign * atr * multiple = raw_n / raw_d; the stop is raw in whole ticks
    raw_n = p * ad * md - sign * a * m * pd
    raw_d = pd * ad * md
    ticks_n, ticks_d = raw_n * td, raw_d * t
    n = ticks_n // ticks_d if buy else -(-ticks_n // ticks_d)
    if n <= 0:
        raise ValueError(f"a {side} stop {raw_n / raw_d:.4f} would be at or below zero")
    return n * t / td  # int / int: correctly rounded, as float(Fraction) is


def premium_stop(premium: float, stop_pct: float, tick_size: float = 0.05) -> float:
    """A bought option's stop: ``stop_pct`` % below the premium, rounded down to the tick.

    Never below one tick: an option cannot trade at zero.
    """
    if not _positive_finite(premium, stop_pct, tick_size) or stop_pct >= 100:
        raise ValueError(f"bad premium stop inputs: {premium}, {stop_pct}%, tick {tick_size}")
    raw = _exact(premium) * (1 - _exact(stop_pct) / 100)
    ticks = max(1, math.floor(raw / _exact(tick_size)))
    return float(round(ticks * _exact(tick_size), 10))


def stop_limit_price(trigger: float, offset_pct: float, tick: float, sells: bool) -> float:
    """An option stop's limit: ``offset_pct`` % beyond the trigger (NSE refuses SL-M on
    options, so the stop is an SL), on the tick in the direction that keeps it
    marketable, never below one tick. The worst price the stop fills at."""
    offset = trigger * offset_pct / 100
    return max(tick, tick_toward(trigger - offset if sells else trigger + offset, tick, sells))


def tick_toward(price: float, tick: float, sells: bool) -> float:
    """A limit on the tick, in the direction that keeps it marketable (down for a sell)."""
    ticks = round(price / tick, 6)
    # floor and ceil: int() truncates toward zero, which made a buy's limit round down
    whole = math.floor(ticks) if sells else math.ceil(ticks)
    return round(whole * tick, 2)


def premium_quantity(
    premium: float,
    stop: float,
    lot_size: int,
    max_premium_at_risk: float,
    max_premium_outlay: float,
) -> int:
    """Whole lots of an option so that (premium - stop) lost on all of them, and the
    premium paid, each stay within their caps. 0 for unusable inputs. ``stop`` is the
    worst price the stop sells at (its limit, below its trigger: ``stop_limit_price``),
    so a stop filled at its limit still keeps the loss within the cap."""
    if not _positive_finite(premium, max_premium_at_risk, max_premium_outlay) or lot_size < 1:
        return 0
    if not (math.isfinite(stop) and 0 <= stop < premium):
        return 0
    risk_per_lot = (_exact(premium) - _exact(stop)) * lot_size
    cost_per_lot = _exact(premium) * lot_size
    lots = min(
        math.floor(_exact(max_premium_at_risk) / risk_per_lot),
        math.floor(_exact(max_premium_outlay) / cost_per_lot),
    )
    return max(0, lots) * lot_size


# Zerodha's RMS blocks an equity (NSE/BSE cash) order above 1,00,000 shares before it
# reaches the order book ("Order quantity greater than 1,00,000 shares", Zerodha support:
# Kite order rejections; docs/exchange-rules.md row 13). Cash equity has no exchange freeze
# quantity, so this cap slices an equity order as the freeze slices an F&O one: a position
# built from several entries still closes, and is still covered by its stops. (A
# square-off the paper desk plays at the bell is charged the RMS's fees across its
# slices: auto_square_off.broker_orders.)
MAX_EQUITY_ORDER_QUANTITY = 100_000


def slice_quantity(quantity: int, freeze: int | None, lot_size: int = 1) -> list[int]:
    """Split an order so that no child exceeds the exchange freeze quantity.

    Children are whole lots (the freeze is rounded down to a lot multiple), the largest
    first; their sum is the quantity. No freeze, or a quantity within it: one order.
    """
    if quantity <= 0:
        return [quantity]
    if freeze is None or quantity <= freeze:
        return [quantity]
    lot = max(1, lot_size)
    cap = (freeze // lot) * lot
    if cap <= 0:
        raise ValueError(f"freeze quantity {freeze} is below one lot of {lot}")
    full, rest = divmod(quantity, cap)
    return [cap] * full + ([rest] if rest else [])
