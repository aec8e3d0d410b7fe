"""The orders the paper-book tests place: one builder, each file's defaults on top."""

from __future__ import annotations

from kitetui.domain import Exchange, Order, OrderPurpose, OrderStatus, OrderType, Product, Side

B, S = Side.BUY, Side.SELL
MKT, LMT, SL, SLM = OrderType.MARKET, OrderType.LIMIT, OrderType.SL, OrderType.SL_M


def order(
    side: Side = B,
    kind: OrderType = MKT,
    price: float = 0.0,
    trigger: float = 0.0,
    qty: int = 10,
    tag: str = "t1",
    ts_ns: int = 100,
    symbol: str = "INFY",
) -> Order:
    """A NEW MIS entry order on NSE (a MARKET buy of 10 INFY unless told otherwise)."""
    return Order(
        tag=tag,
        engine="eq",
        symbol=symbol,
        exchange=Exchange.NSE,
        side=side,
        quantity=qty,
        order_type=kind,
        product=Product.MIS,
        purpose=OrderPurpose.ENTRY,
        status=OrderStatus.NEW,
        ts_ns=ts_ns,
        price=price,
        trigger_price=trigger,
    )
