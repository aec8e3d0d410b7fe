"""The read side of an account: order book, order history, trades, positions, holdings.

Each answer is Kite's payload shape (``../shared/kite-mocks``: orders.json,
order_info.json, trades.json, positions.json, holdings.json), built from the
account's ``AccountBook`` and priced by the market where Kite prices it (positions'
and holdings' last and close prices). Copies are returned, so a caller cannot edit
the book through an answer. Positions are day positions: ``net`` and ``day`` carry
the same rows, since the sim keeps no overnight book.
"""

from __future__ import annotations

from typing import Any

from kitetui.sim.market import SimMarket, ist_str
from kitetui.sim.order_book import AccountBook, PositionRow, num
from kitetui.sim.sessions import SimAccount

__all__ = [
    "find_by_tag",
    "holdings",
    "order_history",
    "order_trades",
    "orders",
    "position_dict",
    "positions",
    "trades",
]


def orders(book: AccountBook) -> list[dict[str, Any]]:
    """``GET /orders``: every order of the day in placement order."""
    return [order.to_kite() for order in book.orders.values()]


def order_history(book: AccountBook, order_id: str) -> list[dict[str, Any]]:
    """``GET /orders/{order_id}``: each state the order walked through."""
    return [dict(row) for row in book.order(order_id).history]


def find_by_tag(book: AccountBook, tag: str) -> list[dict[str, Any]]:
    return [o.to_kite() for o in book.orders.values() if o.tag == tag]


def trades(book: AccountBook) -> list[dict[str, Any]]:
    """``GET /trades``."""
    return [dict(t) for t in book.trades]


def order_trades(book: AccountBook, order_id: str) -> list[dict[str, Any]]:
    """``GET /orders/{order_id}/trades`` (an unknown id is Kite's InputException)."""
    book.order(order_id)
    return [dict(t) for t in book.trades if t["order_id"] == order_id]


def last_and_close(market: SimMarket, key: str, fallback: float) -> tuple[float, float]:
    """The instrument's last and previous close prices; ``fallback`` for both before
    the market has data for it."""
    state = market.state_for_key(key)
    if state is None or not state.has_data:
        return fallback, fallback
    return state.last_price, state.close


def positions(book: AccountBook, market: SimMarket) -> dict[str, list[dict[str, Any]]]:
    """``GET /portfolio/positions``."""
    rows = []
    for (_exchange, key, _product), row in book.positions.items():
        rows.append(position_dict(market, key, row))
    return {"net": rows, "day": [dict(r) for r in rows]}


def position_dict(market: SimMarket, key: str, row: PositionRow) -> dict[str, Any]:
    """One position row in Kite's shape, marked to the market's last price."""
    buy_avg = row.buy_value / row.buy_quantity if row.buy_quantity else 0.0
    sell_avg = row.sell_value / row.sell_quantity if row.sell_quantity else 0.0
    last, close = last_and_close(market, key, buy_avg or sell_avg)
    quantity = row.quantity
    value = row.sell_value - row.buy_value
    pnl = value + quantity * last
    closed = min(row.buy_quantity, row.sell_quantity)
    realised = closed * (sell_avg - buy_avg) if closed else 0.0
    average = buy_avg if quantity > 0 else sell_avg if quantity < 0 else 0.0
    inst = row.instrument
    return {
        "tradingsymbol": inst.tradingsymbol,
        "exchange": inst.exchange,
        "instrument_token": inst.instrument_token,
        "product": row.product,
        "quantity": quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": num(average),
        "close_price": num(close),
        "last_price": num(last),
        "value": num(value),
        "pnl": num(pnl),
        "m2m": num(pnl),
        "unrealised": num(pnl - realised),
        "realised": num(realised),
        "buy_quantity": row.buy_quantity,
        "buy_price": num(buy_avg),
        "buy_value": num(row.buy_value),
        "buy_m2m": num(row.buy_value),
        "sell_quantity": row.sell_quantity,
        "sell_price": num(sell_avg),
        "sell_value": num(row.sell_value),
        "sell_m2m": num(row.sell_value),
        "day_buy_quantity": row.buy_quantity,
        "day_buy_price": num(buy_avg),
        "day_buy_value": num(row.buy_value),
        "day_sell_quantity": row.sell_quantity,
        "day_sell_price": num(sell_avg),
        "day_sell_value": num(row.sell_value),
    }


def holdings(account: SimAccount, market: SimMarket) -> list[dict[str, Any]]:
    """``GET /portfolio/holdings``: the account's configured holdings, priced now."""
    return [_holding(item, market) for item in account.holdings]


def _holding(item: dict[str, Any], market: SimMarket) -> dict[str, Any]:
    exchange = str(item.get("exchange", "NSE"))
    symbol = str(item["tradingsymbol"])
    quantity = int(item.get("quantity", 0))
    average = float(item.get("average_price", 0.0))
    inst = market.instrument(exchange, symbol)
    last, close = last_and_close(market, f"{exchange}:{symbol}", average)
    change = last - close if close else 0.0
    return {
        "tradingsymbol": symbol,
        "exchange": exchange,
        "instrument_token": inst.instrument_token if inst else 0,
        "isin": str(item.get("isin", "")),
        "product": "CNC",
        "price": 0,
        "quantity": quantity,
        "used_quantity": 0,
        "t1_quantity": 0,
        "realised_quantity": quantity,
        "authorised_quantity": 0,
        "authorised_date": ist_str(market.now_ns)[:10] + " 00:00:00",
        "authorisation": {},
        "opening_quantity": quantity,
        "short_quantity": 0,
        "collateral_quantity": 0,
        "collateral_type": "",
        "discrepancy": False,
        "average_price": num(average),
        "last_price": num(last),
        "close_price": num(close),
        "pnl": (last - average) * quantity,
        "day_change": change,
        "day_change_percentage": change * 100 / close if close else 0.0,
        "mtf": {
            "quantity": 0,
            "used_quantity": 0,
            "average_price": 0,
            "value": 0,
            "initial_margin": 0,
        },
    }
