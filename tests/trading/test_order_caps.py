"""The most one order may carry (``Engine.freeze_quantity``), which the trader slices to.

F&O has the exchange's freeze quantity; cash equity has none, but Zerodha's RMS blocks
an equity order above 1,00,000 shares before it reaches the book (the strict exchange
does too: tests/sim/test_exchange_rules.py). A position built from several entries
must still close and be covered by stops, so equity orders slice at that cap. A
square-off the paper desk plays at the bell is then charged the fees of the RMS's own
30,000-share orders, counted across the slices.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from engines.base import Engine
from kitetui.domain import (
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
)
from kitetui.trading import auto_square_off
from kitetui.trading.charges import default_calculator
from kitetui.trading.fill_charges import FillCharger
from kitetui.trading.sizing import MAX_EQUITY_ORDER_QUANTITY, slice_quantity

from .desk import CALL, FUTURE, STOCK, T0


def _cap(instrument, freeze_limits=None) -> int | None:
    engine = SimpleNamespace(
        instrument=lambda symbol: instrument, freeze_limits=freeze_limits or {}
    )
    return Engine.freeze_quantity(engine, "X")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("instrument", "limits", "expected"),
    [
        (STOCK, {}, MAX_EQUITY_ORDER_QUANTITY),  # cash equity: Zerodha's cap
        (FUTURE, {"NIFTY": 1_800}, 1_800),  # F&O: the exchange's freeze quantity
        (CALL, {"NIFTY": 1_800}, 1_800),
        (FUTURE, {}, None),  # no freeze known: one order, as before
        (None, {}, None),  # an unknown instrument
    ],
)
def test_the_most_one_order_may_carry(instrument, limits, expected) -> None:
    assert _cap(instrument, limits) == expected


def test_an_equity_position_beyond_the_cap_closes_in_orders_kite_takes() -> None:
    assert MAX_EQUITY_ORDER_QUANTITY == 100_000
    slices = slice_quantity(250_001, _cap(STOCK))
    assert slices == [100_000, 100_000, 50_001]


@pytest.mark.parametrize("position", [30_000, 90_001, 250_001, 452_056, 1_000_000])
def test_a_square_off_played_at_the_bell_pays_the_rmss_number_of_fees(position) -> None:
    """The probe's F7: each 1,00,000-share slice paid ceil(slice / 30,000) fees, 18 for a
    452,056-share position the RMS squares off in 16 orders. The charger counts the
    broker's units of the symbol that day across its orders."""
    charger = FillCharger(default_calculator(), {STOCK.tradingsymbol: STOCK})
    fees = Decimal(0)
    for n, size in enumerate(slice_quantity(position, _cap(STOCK))):
        order = Order(
            tag=f"SQ{n}", engine="equity", symbol=STOCK.tradingsymbol, exchange=Exchange.NSE,
            side=Side.SELL, quantity=size, order_type=OrderType.MARKET, product=Product.MIS,
            purpose=OrderPurpose.SQUARE_OFF, status=OrderStatus.OPEN, ts_ns=T0,
            reason=f"{auto_square_off.REASON} at the close",
        )  # fmt: skip
        fill = Fill(f"F{n}", order.tag, order.symbol, Side.SELL, size, 100.0, T0 + n, "equity",
                    Product.MIS)  # fmt: skip
        charged = charger.quote(order, fill)
        charger.take(order.tag, charged)
        assert charged.fill.charges is not None
        fees += charged.fill.charges.charges.brokerage
        again = charger.quote(order, fill)  # a quote again (a re-delivery) counts nothing more
        assert again.squared is None
    rms_orders = -(-position // auto_square_off.EQUITY_ORDER_MAX)
    slices = len(slice_quantity(position, _cap(STOCK)))
    brokerage = Decimal(20) * slices  # each slice's own: the ₹20 cap (₹100 a share)
    assert fees == brokerage + 50 * rms_orders
