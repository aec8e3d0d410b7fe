"""Each fill's charges by component, for the report.

The report reads each fill's charges as the desk journaled them with the fill (schema
4, ``kitetui.trading.fill_charges``). ``fill_charges`` prices the fills of a database
older than that, exactly as the desk does: per order (brokerage's ₹20 cap and the flat
option brokerage apply to an order, however it is split into fills), each fill charged
the difference it makes to its order's charges, on the rates in force on the fill's
IST trade date, an expiry settlement priced as the settlement its order's reason names
(``kitetui.trading.expiry_settlement``), and each CNC fill netted against its symbol's
other CNC fills that day (``kitetui.trading.same_day``: what squares off the day is
intraday, and a scrip's day with a net delivery sale pays one DP charge).

What an order's charges depend on besides its fills — the segment (futures, options,
cash) and the underlying (BSE options) — comes from the instrument master the run
cached for that day (the ``instruments`` table), or failing that from the symbol's
shape (``…FUT``, ``…CE``/``…PE`` on NFO/BFO; cash on NSE/BSE).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kitetui.clock import ist_date
from kitetui.domain import Product, Side
from kitetui.trading import expiry_settlement, same_day
from kitetui.trading.charges import (
    ChargeCalculator,
    ChargeError,
    Charges,
    OrderCharges,
    OrderSpec,
    segment_kind,
)

_OPTION = re.compile(r".+\d(CE|PE)$")


@dataclass(frozen=True, slots=True)
class JournaledFill:
    """A fill row as the journal holds it, with its order's exchange."""

    seq: int
    fill_id: str
    tag: str
    ts_ns: int
    engine: str
    exchange: str
    symbol: str
    product: str
    side: Side
    quantity: int
    price: Decimal
    reason: str = ""  # its order's: names an expiry settlement (expiry_settlement)


# (IST trade date ISO, exchange, tradingsymbol) -> (Kite segment, underlying name)
InstrumentLookup = Callable[[str, str, str], tuple[str, str] | None]


def segment_from_symbol(exchange: str, symbol: str) -> str:
    """Kite's segment for a contract the master does not list, from its shape."""
    if exchange in ("NFO", "BFO"):
        if symbol.endswith("FUT"):
            return f"{exchange}-FUT"
        if _OPTION.fullmatch(symbol):
            return f"{exchange}-OPT"
    return exchange


def fill_charges(
    fills: Sequence[JournaledFill],
    instruments: InstrumentLookup,
    calculator: ChargeCalculator | None = None,
) -> tuple[list[Charges | None], list[str]]:
    """The charges of each of ``fills`` (in journal order), and one line per order the
    rate table cannot price (those fills are None: charged nothing, shown unpriced, and
    the report says so)."""
    calculator = calculator or ChargeCalculator()
    orders: dict[str, OrderCharges | None] = {}
    days: dict[str, same_day.DayLots] = {}  # CNC: each symbol's day (same_day)
    problems: list[str] = []
    out: list[Charges | None] = []
    for fill in fills:
        if fill.tag not in orders:
            orders[fill.tag] = _open(calculator, fill, instruments, problems)
        state = orders[fill.tag]
        if state is None:
            out.append(None)
            continue
        if state.intraday_rates is None:
            priced = calculator.fill(state, fill.quantity, fill.price)
            orders[fill.tag] = priced.order
            out.append(priced.charges)
            continue
        priced, settlement = same_day.charge_fill(
            calculator, state, days.get(fill.symbol), fill, orders.get
        )
        orders[fill.tag] = priced.order
        orders.update(settlement.repriced)
        days[fill.symbol] = settlement.lots
        out.append(priced.charges + settlement.adjustment)
    return out, problems


def _open(
    calculator: ChargeCalculator,
    fill: JournaledFill,
    instruments: InstrumentLookup,
    problems: list[str],
) -> OrderCharges | None:
    day = ist_date(fill.ts_ns)
    found = instruments(day.isoformat(), fill.exchange, fill.symbol)
    segment, underlying = found if found else (segment_from_symbol(fill.exchange, fill.symbol), "")
    try:
        spec = OrderSpec(
            segment=segment_kind(segment),
            exchange=fill.exchange,
            product=Product(fill.product),
            side=fill.side,
            trade_date=day,
            underlying=underlying.upper(),
            settlement=expiry_settlement.kind_of(fill.reason),
        )
        return calculator.open_order(spec)
    except (ChargeError, ValueError) as exc:
        problems.append(
            f"order {fill.tag} ({fill.exchange}:{fill.symbol} {fill.product} on {day}): "
            f"charged nothing: {exc}"
        )
        return None
