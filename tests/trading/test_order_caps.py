"""The most one order may carry (``Engine.freeze_quantity``), which the trader slices to.

F&O has the exchange's freeze quantity; cash equity has none, but Zerodha's RMS blocks
an equity order above 1,00,000 shares before it reaches the book (the strict exchange
does too: tests/sim/test_exchange_rules.py). A position built from several entries
must still close and be covered by stops, so equity orders slice at that cap.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engines.base import Engine
from kitetui.trading.sizing import MAX_EQUITY_ORDER_QUANTITY, slice_quantity

from .desk import CALL, FUTURE, STOCK


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
