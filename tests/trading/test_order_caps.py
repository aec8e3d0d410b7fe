"""The most one order may carry (``Engine.freeze_quantity``), which the trader slices to.

F&O has the exchange's freeze quantity; cash equity has none, but Zerodha's RMS blocks
an equity order above 1,00,000 shares before it reaches the book (the strict exchange
does too: tests/sim/test_exchange_rules.py). A position built from several entries
must still close and be covered by stops, so equity orders slice within that cap, at
90,000: a whole number of the RMS's 30,000-share square-off orders.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engines.base import Engine
from kitetui.trading import auto_square_off
from kitetui.trading.sizing import EQUITY_SLICE, MAX_EQUITY_ORDER_QUANTITY, slice_quantity

from .desk import CALL, FUTURE, STOCK


def _cap(instrument, freeze_limits=None) -> int | None:
    engine = SimpleNamespace(
        instrument=lambda symbol: instrument, freeze_limits=freeze_limits or {}
    )
    return Engine.freeze_quantity(engine, "X")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("instrument", "limits", "expected"),
    [
        (STOCK, {}, 90_000),  # cash equity: within Zerodha's cap
        (FUTURE, {"NIFTY": 1_800}, 1_800),  # F&O: the exchange's freeze quantity
        (CALL, {"NIFTY": 1_800}, 1_800),
        (FUTURE, {}, None),  # no freeze known: one order, as before
        (None, {}, None),  # an unknown instrument
    ],
)
def test_the_most_one_order_may_carry(instrument, limits, expected) -> None:
    assert _cap(instrument, limits) == expected


def test_an_equity_position_beyond_the_cap_closes_in_orders_kite_takes() -> None:
    assert EQUITY_SLICE == 90_000 <= MAX_EQUITY_ORDER_QUANTITY == 100_000
    slices = slice_quantity(250_001, _cap(STOCK))
    assert slices == [90_000, 90_000, 70_001]


@pytest.mark.parametrize("position", [30_000, 90_001, 250_001, 452_056, 1_000_000])
def test_a_square_off_played_at_the_bell_pays_the_rmss_number_of_fees(position) -> None:
    """The probe's F7: slices of 1,00,000 each paid ceil(slice / 30,000) fees, 18 for a
    452,056-share position the RMS squares off in 16 orders."""
    rms_orders = -(-position // auto_square_off.EQUITY_ORDER_MAX)
    fees = 0
    for size in slice_quantity(position, _cap(STOCK)):
        order = SimpleNamespace(quantity=size, reason=f"{auto_square_off.REASON} at the close")
        fees += auto_square_off.broker_orders(order, equity=True)  # type: ignore[arg-type]
    assert fees == rms_orders
