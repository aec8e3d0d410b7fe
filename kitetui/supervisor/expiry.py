"""Contracts that expire while held: settled at the exchange's price, never carried.

A future or option held into the close of its expiry day (an NRML position, or an
MIS one the square-off could not close) stops existing at 15:30: the exchange settles
it at the final settlement price, which for NSE index derivatives is the underlying
index's close that day (an option at its intrinsic value, ``max(0, close - strike)``
for a call, ``max(0, strike - close)`` for a put; a future at the close itself).
Without this the desk carried the dead contract into the next session as an open
position, marked at its last traded premium (time value and all), and sent exit
orders for it all day that no exchange would take.

Where kitetui plays the exchange (replay, paper, backtest) it settles the position at
the bell of its expiry day, through the one exit path, like the broker's auto
square-off: the closing order is filled by the paper exchange at exactly the settlement
price (``Broker.settle_at_expiry``: not a trade, so no slippage and no tick), a
worthless option at zero (NSE settles it at zero; it lapses). A position found already
past its expiry at a session's start (a desk not run on its expiry day) is settled the
same way once that session opens, against the underlying's price then (the desk never
saw the expiry day's close; the event says which price it used). Live, the exchange
settles it and kitetui does not yet book that settlement: it says so, as an ERROR, at
the bell and at every later session's start while the position is still in its book.

The settlement is charged as what it is, not as a sale (``kitetui.trading.
expiry_settlement``; docs/charges.md "Held into expiry"): the closing order names its
kind in its reason, and the charger prices its fill from it. An option in the money is
exercised (long: STT on exercise, 0.125 % of the intrinsic value, 0.15 % from 1 April
2026) or assigned (short: no STT), with brokerage and the exchange's levies on the
intrinsic value; one out of the money lapses at zero and is charged nothing; a future
is charged as a trade at the settlement price. Where the sources are silent or disagree
(the levies on an exercise, a future's STT and brokerage) the cost is charged, and the
event says so. A close already under way at the bell (placed before it, with its own
reason) is a trade: it fills at the settlement price as the market's last (at least one
tick), is charged as that trade, and the event says so. Not modelled: stock
derivatives are physically settled at NSE (delivery STT and brokerage on the whole
value), and are settled here in cash at the stock's last price; a contract settled on
its own last price (no price of its underlying) is charged on that price, an option
then as exercised or assigned (its moneyness unknown: the dearer reading).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from kitetui.domain import Event, OrderPurpose, Tick
from kitetui.events import EventKind
from kitetui.trading import expiry_settlement

if TYPE_CHECKING:
    from kitetui.domain import Position
    from kitetui.market.instruments import Instrument
    from kitetui.supervisor.gate import Supervisor

__all__ = ["Settlement", "expired_positions", "settle_expired", "settlement_price"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """The price a held contract is settled at, and what it was worked out from."""

    price: float
    basis: str


def settlement_price(
    instrument: Instrument, underlying: str, underlying_price: float | None, last: float | None
) -> Settlement | None:
    """The final settlement price of ``instrument`` from its underlying's close.

    An option: its intrinsic value at the underlying's price. A future: that price. No
    underlying price: the contract's own last price (a future converges on its
    underlying by the close; an option's last premium still holds some time value),
    and the basis says so. None when there is no price at all."""
    if underlying_price is not None and underlying_price > 0:
        if instrument.is_option:
            strike = instrument.strike
            gap = (
                underlying_price - strike if instrument.right == "CE" else strike - underlying_price
            )
            value = max(0.0, round(gap, 6))
            return Settlement(
                value,
                f"intrinsic value {value:.2f} ({underlying} last at {underlying_price:.2f}, "
                f"strike {strike:g})",
            )
        return Settlement(underlying_price, f"{underlying}'s last price {underlying_price:.2f}")
    if last is not None and last > 0:
        return Settlement(last, f"its own last price {last:.2f} (no price of {underlying})")
    return None


def expired_positions(desk: Supervisor, today: date, *, before: bool) -> list[Position]:
    """Open positions whose contract expires ``today`` (``before=False``) or expired
    before it (``before=True``)."""
    found = []
    for position in desk.portfolio.open_positions():
        instrument = desk.contracts.get(position.symbol)
        expiry = instrument.expiry if instrument is not None else None
        if expiry is None:
            continue
        if (expiry < today) if before else (expiry == today):
            found.append(position)
    return found


def _underlying_feeds(desk: Supervisor) -> Mapping[str, str]:
    """The price feed of each derivative underlying the desk knows of: an options
    engine names its index's (``NIFTY`` -> ``NIFTY 50``); a stock's is its own name."""
    feeds: dict[str, str] = {}
    for engine in desk.engines:
        cfg = engine.config
        underlying = getattr(cfg, "underlying", None)
        symbol = getattr(cfg, "underlying_symbol", None)
        if underlying and symbol:
            feeds[underlying] = symbol
    return feeds


async def settle_expired(desk: Supervisor, ts: int, positions: list[Position], when: str) -> None:
    """Settle ``positions`` (simulated venues) or say they are left to the exchange
    (live), one event each."""
    trader = desk.trader
    if not positions:
        return
    if not desk.venue.simulated:
        for position in positions:
            _said(
                desk,
                ts,
                position.symbol,
                "ERROR",
                f"{position.symbol} {position.quantity:+d} held into its expiry {when}: the "
                "exchange settles it at its final settlement price; live, kitetui does not "
                "book that settlement, so the position stays in its book, and Kite refuses "
                "any order for the expired contract",
            )
        return
    feeds = _underlying_feeds(desk)
    for position in positions:
        symbol = position.symbol
        instrument = desk.contracts[symbol]
        underlying = feeds.get(instrument.name, instrument.name)
        last = desk.last_prices.get(symbol) or position.last_price  # a restart's: its mark
        settled = settlement_price(instrument, underlying, desk.last_prices.get(underlying), last)
        if settled is None:
            _said(
                desk,
                ts,
                symbol,
                "ERROR",
                f"{symbol} {position.quantity:+d} expired {when} and cannot be settled: no "
                "price of it or of its underlying",
            )
            continue
        kind = expiry_settlement.kind_for(
            instrument.is_option, position.quantity > 0, settled.price
        )
        basis = settled.basis
        if settled.price > 0:  # the contract's last print (a lapse has none: no trade)
            desk.last_prices[symbol] = settled.price
            desk.portfolio.mark(symbol, settled.price)
        placed = await trader.flatten(
            symbol, OrderPurpose.SQUARE_OFF, expiry_settlement.reason(kind, basis)
        )
        # The exchange settles: the closes naming the settlement fill at exactly its
        # price, zero for a lapse, with no slippage or tick (not a trade).
        settling = [
            order.tag
            for order in trader.open_orders()
            if order.symbol == symbol and expiry_settlement.kind_of(order.reason) is not None
        ]
        filled = desk.broker.settle_at_expiry(settling, ts + 1, settled.price)
        if filled:
            await trader.on_fills(filled)
        traded = None
        if trader.position_qty(symbol):
            # A close already under way at the bell (placed before it, with its own
            # reason) is a trade: it fills at the settlement price as the market's last,
            # at least one tick (no trade is at zero), and is charged as that trade.
            price = max(settled.price, instrument.tick_size)
            late = desk.broker.on_market(Tick(symbol, ts + 1, price))
            if late:
                await trader.on_fills(late)
                traded = price
        left = trader.position_qty(symbol)
        if left:
            outcome = f"settling at {basis} did not fill; {left:+d} still open"
        elif placed and traded is None:
            outcome = f"settled at {basis}; {expiry_settlement.charged_as(kind)}"
        else:  # a close under way before the bell filled: its own order, its own charges
            outcome = (
                f"settled at {basis} by the close already under way, charged as that "
                f"close (a trade), not as the {kind.value}"
            )
            if traded is not None and traded > settled.price:
                outcome += f"; a trade is never at zero: it filled at one tick {traded:g}"
        _said(
            desk,
            ts,
            symbol,
            "ERROR" if left else "WARNING",
            f"{symbol} {position.quantity:+d} expired {when}: {outcome}",
        )
    desk.equity_point(ts + 1)


def _said(desk: Supervisor, ts: int, symbol: str, level: str, message: str) -> None:
    """One ``ExpirySettled`` event (an alert too): what became of an expired position."""
    desk.trader.record_event(
        Event(ts_ns=ts, kind=EventKind.EXPIRY_SETTLED, level=level, symbol=symbol, message=message)
    )
