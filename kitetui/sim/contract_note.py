"""The sim's virtual contract note: ``POST /charges/orders``, priced by kitetui's own table.

Kite answers a JSON array of executed orders (``get_virtual_contract_note``; body
``[{order_id, exchange, tradingsymbol, transaction_type, variety, product, order_type,
quantity, average_price}, ...]``, ``../shared/docs/kite-contract.md`` 3.8) with each
order echoed and its ``charges`` object, in request order, shaped as Zerodha's mock
``virtual_contract_note.json``: ``price`` is the average price sent, every amount an
unrounded float, GST as IGST. The sim prices each order with
``kitetui.trading.charges`` on ``average_price × quantity`` at the order's trade date
(IST: the day its id names, else the sim market's), so a desk that holds its journaled
charges against the sim's note tests the whole path (request, client, parsing,
comparison) with figures it can predict.

CNC orders of one symbol and trade date are netted as Zerodha's note nets a day: what
the day's buys and sells square off is billed as intraday, the rest as delivery
(``kitetui.trading.same_day``; Zerodha's support on the virtual contract note: "intraday
charges will be displayed after positions are squared off on the same day, whether
through CNC or MIS"). The sim matches them in request order, each order at its average
price (all Kite is sent); which of several orders Kite counts as squared off is not
documented.

Refusals are Kite's ``InputException`` (HTTP 400), one naming the order and field:
a body that is not an array of objects, a missing or mistyped field, a side or product
Kite does not have, an instrument the market does not list. Kite's own wording for
these is not documented; the sim's says which order and which field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from kitetui.domain import Product, Side
from kitetui.market.instruments import Instrument
from kitetui.sim.errors import input_error
from kitetui.trading import same_day
from kitetui.trading.charges import EXACT, ChargeCalculator, ChargeError, OrderCharges, OrderSpec
from kitetui.trading.contract_note import NoteCharges

__all__ = ["virtual_contract_note"]

_TEXT_FIELDS = ("exchange", "tradingsymbol", "transaction_type", "variety", "product", "order_type")


def virtual_contract_note(
    calculator: ChargeCalculator,
    instrument: Any,
    trade_date: date,
    body: object,
) -> list[dict[str, Any]]:
    """Kite's ``data`` for ``body``; ``instrument(exchange, symbol)`` looks contracts up.

    Raises ``KiteError`` (InputException) naming the first bad order and field.
    """
    if not isinstance(body, list):
        raise input_error("Body must be a JSON array of orders.")
    priced = [
        _line(calculator, instrument, trade_date, index, raw) for index, raw in enumerate(body)
    ]
    states = _net_same_day(priced)
    return [
        {**line, "charges": NoteCharges.from_charges(state.charges, state.rates.tax_type).to_kite()}
        for (line, _, _), state in zip(priced, states, strict=True)
    ]


def _net_same_day(
    priced: list[tuple[dict[str, Any], Decimal, OrderCharges]],
) -> list[OrderCharges]:
    """Each order's state once the CNC orders of its symbol and day are netted."""
    out = {index: state for index, (_, _, state) in enumerate(priced)}
    days: dict[tuple[str, str], same_day.DayLots] = {}
    for index, (line, average, state) in enumerate(priced):
        if state.intraday_rates is None:
            continue
        key = (line["exchange"], line["tradingsymbol"])
        settlement = same_day.settle(
            days.get(key),
            state.spec.trade_date,
            state.spec.side,
            str(index),
            state.quantity,
            average,
            lambda other: out[int(other)],
        )
        days[key] = settlement.lots
        for other, repriced in settlement.repriced:
            out[int(other)] = repriced
        if settlement.matched:
            with localcontext(EXACT):
                turnover = average * settlement.matched
            out[index] = state.squared_same_day(settlement.matched, turnover)
    return [out[index] for index in range(len(priced))]


def _traded_on(raw: dict[str, Any], market_day: date) -> date:
    """The order's trade date: Kite prices an order on the day it traded, which it knows
    by its id; the sim's ids begin with that day (YYMMDD, ``OrderDesk._new_order_id``).
    An id not of that form is priced at the market's day."""
    order_id = str(raw.get("order_id") or "")
    if len(order_id) == 15 and order_id.isdigit():
        try:
            return date(2000 + int(order_id[:2]), int(order_id[2:4]), int(order_id[4:6]))
        except ValueError:
            pass
    return market_day


def _line(
    calculator: ChargeCalculator, instrument: Any, trade_date: date, index: int, raw: object
) -> tuple[dict[str, Any], Decimal, OrderCharges]:
    """One order echoed (its ``charges`` come once the day is netted) and its state."""
    where = f"order {index}"
    if not isinstance(raw, dict):
        raise input_error(f"{where}: must be an object.")
    for name in _TEXT_FIELDS:
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise input_error(f"{where}: missing or invalid `{name}`.")
    quantity = raw.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise input_error(f"{where}: `quantity` must be a positive integer.")
    average = raw.get("average_price")
    if not isinstance(average, int | float) or isinstance(average, bool) or not average > 0:
        raise input_error(f"{where}: `average_price` must be a positive number.")
    try:
        side = Side(raw["transaction_type"])
    except ValueError:
        raise input_error(
            f"{where}: invalid `transaction_type` {raw['transaction_type']!r}."
        ) from None
    try:
        product = Product(raw["product"])
    except ValueError:
        raise input_error(f"{where}: invalid `product` {raw['product']!r}.") from None
    found: Instrument | None = instrument(raw["exchange"], raw["tradingsymbol"])
    if found is None:
        raise input_error(f"{where}: invalid `tradingsymbol` {raw['tradingsymbol']!r}.")
    price = Decimal(repr(float(average)))
    try:
        spec = OrderSpec.for_instrument(found, product, side, _traded_on(raw, trade_date))
        state = calculator.for_order(spec, [(quantity, price)])
    except ChargeError as exc:
        raise input_error(f"{where}: {exc}.") from None
    line = {
        "transaction_type": side.value,
        "tradingsymbol": found.tradingsymbol,
        "exchange": found.exchange,
        "variety": raw["variety"],
        "product": product.value,
        "order_type": raw["order_type"],
        "quantity": quantity,
        "price": float(average),
    }
    return line, price, state
