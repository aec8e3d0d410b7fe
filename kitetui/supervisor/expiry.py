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
saw the expiry day's close; the event says which price it used).

Live, Kite (NSE) settles it by itself: no order, no trade, no order update; Kite lists
the position until that day ends and not the next morning, its P&L in the account. The
desk books the same settlement in its books at the same moments, by the same price
rules (``kitetui.trading.expiry_booking``): the contract is marked settled first, so
nothing is sent for it again (``Trader.contract_expired``: the exit manager places no
stop or close for it, the trader refuses any order); each of its working orders is
cancelled at Kite, or marked ended when Kite no longer works it; what is held is
closed by an order journaled COMPLETE and never sent, and its fill at the settlement
price, charged as the settlement's kind. The price is provisional and said so: NSE's
final settlement price is the underlying's official close (for an index, a weighted
average of its last half hour), which kitetui does not read; the desk books the
underlying's last price it saw (at a start-up with no print of it yet, Kite's last
price read then: before the open, the last close). The reconciler takes Kite's
listing of the settled position until its day ends as the settlement, not drift.

A close still working when the settlement runs (a square-off, an exit or a person's
flatten whose MARKET order found no print before the bell) is cancelled first, and
journaled: the settlement closes what is still held, at its price. Left working, it
filled as a trade at the market's last, at least one tick: an option that lapses at
zero was booked 0.05 × quantity better than NSE settles it, and charged as a sale.

The settlement is charged as what it is, not as a sale (``kitetui.trading.
expiry_settlement``; docs/charges.md "Held into expiry"): the closing order names its
kind in its reason, and the charger prices its fill from it. An option in the money is
exercised (long: STT on exercise, 0.125 % of the intrinsic value, 0.15 % from 1 April
2026) or assigned (short: no STT), with brokerage and the exchange's levies on the
intrinsic value; one out of the money lapses at zero and is charged nothing; a future
is charged as a trade at the settlement price. Where the sources are silent or disagree
(the levies on an exercise, a future's STT and brokerage) the cost is charged, and the
event says so. Not modelled: stock
derivatives are physically settled at NSE (delivery STT and brokerage on the whole
value), and are settled here in cash at the stock's last price; a contract settled on
its own last price (no price of its underlying) is charged on that price, an option
then as exercised or assigned (its moneyness unknown: the dearer reading).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from kitetui.domain import Event, Exchange, OrderPurpose
from kitetui.events import EventKind
from kitetui.trading import expiry_booking, expiry_settlement
from kitetui.trading.exits import CLOSING

if TYPE_CHECKING:
    from kitetui.domain import Position
    from kitetui.market.instruments import Instrument
    from kitetui.supervisor.gate import Supervisor

__all__ = ["Settlement", "expired_positions", "settle_expired", "settlement_price"]

QUOTE_WAIT_S = 10.0  # live: the most a read of the underlying's price may hold the start


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
    """Settle ``positions``: closed by the simulated exchange at the settlement price,
    or, live, booked in the desk's books (Kite settles them itself); one event each."""
    if not positions:
        return
    for position in positions:
        settle = _settle_booked if not desk.venue.simulated else _settle_simulated
        await settle(desk, ts, position, when)
    desk.equity_point(ts + 1)


def _settlement_of(
    desk: Supervisor, position: Position, underlying_price: float | None = None
) -> tuple[Instrument, Settlement | None]:
    """The contract of ``position`` and its settlement price as the desk knows it: the
    underlying's last price (an options engine names its index's feed; or
    ``underlying_price``, read from Kite), else the contract's own last price (a
    restart's: its mark)."""
    symbol = position.symbol
    instrument = desk.contracts[symbol]
    underlying = _underlying_of(desk, instrument)
    last = desk.last_prices.get(symbol) or position.last_price
    price = desk.last_prices.get(underlying) or underlying_price
    return instrument, settlement_price(instrument, underlying, price, last)


def _underlying_of(desk: Supervisor, instrument: Instrument) -> str:
    return _underlying_feeds(desk).get(instrument.name, instrument.name)


async def _read_underlying(desk: Supervisor, ts: int, instrument: Instrument) -> float | None:
    """Live, when the desk has no print of the underlying yet (a start-up: settled
    before the first tick), its last price read from Kite now (``/quote``; before the
    open, the last session's close), bounded; a failed read is said, and the settlement
    falls back to the contract's own last price. Only Kite's broker reads prices."""
    underlying = _underlying_of(desk, instrument)
    quote = getattr(desk.broker, "quote", None)
    listed = desk.contracts.get(underlying)  # (a future's "NIFTY" is no instrument)
    if desk.last_prices.get(underlying) or quote is None or listed is None:
        return None
    key = f"{listed.exchange}:{underlying}"
    try:
        answer = await asyncio.wait_for(quote(key), QUOTE_WAIT_S)
        price = float(answer[key]["last_price"])
    except Exception as exc:  # the settlement goes on without it, and says on what
        _said(
            desk,
            ts,
            instrument.tradingsymbol,
            "WARNING",
            f"Kite's last price of {underlying} could not be read to settle "
            f"{instrument.tradingsymbol} ({type(exc).__name__}: {exc})",
        )
        return None
    return price if math.isfinite(price) and price > 0 else None


def _unpriced(desk: Supervisor, ts: int, position: Position, when: str) -> None:
    _said(
        desk,
        ts,
        position.symbol,
        "ERROR",
        f"{position.symbol} {position.quantity:+d} expired {when} and cannot be settled: no "
        "price of it or of its underlying",
    )


def _mark(desk: Supervisor, symbol: str, price: float) -> None:
    """The settlement price is the contract's last print (a lapse has none: no trade)."""
    if price > 0:
        desk.last_prices[symbol] = price
        desk.portfolio.mark(symbol, price)


async def _cancel_closes(desk: Supervisor, symbol: str, basis: str) -> list[str]:
    """A close of the contract still working when the settlement runs (a square-off, an
    exit or a person's flatten whose MARKET order found no print before the bell) is
    cancelled first: the settlement closes what is still held, at its price. Left
    working, it filled as a trade at the market's last (at least one tick: an option
    that lapses at zero was booked 0.05 × quantity better than NSE settles it)."""
    trader = desk.trader
    cancelled = []
    for order in trader.open_orders(symbol):
        if order.purpose not in CLOSING or expiry_settlement.kind_of(order.reason) is not None:
            continue
        why = f"cancelled by the settlement at expiry ({basis})"
        if await trader.cancel(order.tag, why):
            cancelled.append(order.tag)
    trader.exits.forget_contract(symbol)  # its close: the settlement's from here
    return cancelled


async def _settle_simulated(desk: Supervisor, ts: int, position: Position, when: str) -> None:
    """Where kitetui plays the exchange: the settlement's close, filled by the paper
    exchange at exactly the settlement price (``Broker.settle_at_expiry``)."""
    trader = desk.trader
    symbol = position.symbol
    instrument, settled = _settlement_of(desk, position)
    if settled is None:
        _unpriced(desk, ts, position, when)
        return
    basis = settled.basis
    cancelled = await _cancel_closes(desk, symbol, basis)
    held = trader.position_qty(symbol)
    kind = expiry_settlement.kind_for(instrument.is_option, held > 0, settled.price)
    _mark(desk, symbol, settled.price)
    before = trader.portfolio.position(symbol)
    realized_before = before.realized_paise if before is not None else 0
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
    left = trader.position_qty(symbol)
    after = trader.portfolio.position(symbol)
    realized = (after.realized_paise if after is not None else 0) - realized_before
    first = f"the close under way ({', '.join(cancelled)}) cancelled first; " if cancelled else ""
    if left:
        outcome = f"{first}settling at {basis} did not fill; {left:+d} still open"
    elif placed:
        outcome = (
            f"{first}settled {held:+d} at {settled.price:.2f} ({basis}), P&L "
            f"{realized / 100:+.2f}; {expiry_settlement.charged_as(kind)}"
        )
    else:  # a close filled before the settlement ran (cancelled too late): its own trade
        outcome = f"{first}closed by its own order before the settlement at {basis}"
    _said(
        desk,
        ts,
        symbol,
        "ERROR" if left else "WARNING",
        f"{symbol} {position.quantity:+d} expired {when}: {outcome}",
        data={
            "symbol": symbol,
            "quantity": held,
            "price": settled.price,
            "basis": basis,
            "kind": kind.value,
            "pnl_paise": realized,
            "cancelled": cancelled,
        },
    )


async def _settle_booked(desk: Supervisor, ts: int, position: Position, when: str) -> None:
    """Live: Kite settles the contract itself and reports nothing; the desk books it
    (``kitetui.trading.expiry_booking``) at the price it knows, said as provisional."""
    trader = desk.trader
    symbol = position.symbol
    # first: from here nothing is sent for it (``Trader.contract_expired``)
    trader.settled_at_expiry[symbol] = position.quantity
    trader.exits.forget_contract(symbol)
    ended = await expiry_booking.end_orders(
        trader, symbol, f"its contract expired {when}: the exchange settles it"
    )
    read = await _read_underlying(desk, ts, desk.contracts[symbol])
    instrument, settled = _settlement_of(desk, position, read)
    if settled is None:
        _unpriced(desk, ts, position, when)
        return
    held = trader.position_qty(symbol)
    kind = expiry_settlement.kind_for(instrument.is_option, held > 0, settled.price)
    had = "Kite's last price of it read now" if read else "the last price the desk had"
    basis = (
        f"{settled.basis}, provisional: NSE settles at the official close of the "
        f"underlying, which kitetui does not read; this is {had}"
    )
    _mark(desk, symbol, settled.price)
    booked = await expiry_booking.book(
        trader,
        symbol,
        Exchange(instrument.exchange),
        settled.price,
        expiry_settlement.reason(kind, basis),
        ts + 1,
    )
    stops = f"; its orders: {', '.join(ended)}" if ended else ""
    if booked is None:
        trader.settled_at_expiry[symbol] = 0  # flat before it: Kite lists nothing held
        message = f"nothing left to settle{stops}"
    else:
        message = (
            f"the exchange settles it; booked here {booked.quantity:+d} at "
            f"{settled.price:.2f} ({basis}), P&L {booked.realized_paise / 100:+.2f}, "
            f"charges {booked.charges_paise / 100:.2f}; "
            f"{expiry_settlement.charged_as(kind)}{stops}; no order was sent"
        )
    _said(
        desk,
        ts,
        symbol,
        "WARNING",
        f"{symbol} {position.quantity:+d} expired {when}: {message}",
        data={
            "symbol": symbol,
            "quantity": booked.quantity if booked else 0,
            "price": settled.price,
            "basis": basis,
            "kind": kind.value,
            "provisional": True,
            "pnl_paise": booked.realized_paise if booked else 0,
            "charges_paise": booked.charges_paise if booked else 0,
            "order": booked.order.tag if booked else "",
            "ended": ended,
        },
    )


def _said(
    desk: Supervisor,
    ts: int,
    symbol: str,
    level: str,
    message: str,
    data: dict[str, object] | None = None,
) -> None:
    """One ``ExpirySettled`` event (an alert too): what became of an expired position."""
    desk.trader.record_event(
        Event(
            ts_ns=ts,
            kind=EventKind.EXPIRY_SETTLED,
            level=level,
            symbol=symbol,
            message=message,
            data=data or {},
        )
    )
