"""The final settlement price of a contract held into its expiry (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from kitetui.market.instruments import Instrument
from kitetui.supervisor.expiry import settlement_price


def _contract(kind: str, strike: float = 0.0) -> Instrument:
    return Instrument(
        1,
        1,
        f"NIFTY22NOV{kind}",
        "NIFTY",
        0.0,
        date(2022, 11, 24),
        strike,
        0.05,
        50,
        kind,
        "NFO-OPT" if kind != "FUT" else "NFO-FUT",
        "NFO",
    )


@pytest.mark.parametrize(
    ("kind", "strike", "index", "last", "price"),
    [
        ("CE", 18150, 18411.0, 265.0, 261.0),  # in the money: intrinsic, not the premium
        ("CE", 18500, 18411.0, 0.3, 0.0),  # out of the money: worthless
        ("PE", 18500, 18411.0, 95.0, 89.0),
        ("PE", 18150, 18411.0, 0.05, 0.0),
        ("FUT", 0, 18411.0, 18418.0, 18411.0),  # a future: the index's close
        ("CE", 18150, None, 265.0, 265.0),  # no index price: its own last, said so
    ],
)
def test_settlement_price_with_underlying_close_is_intrinsic_value(
    kind: str, strike: float, index: float | None, last: float, price: float
) -> None:
    settled = settlement_price(_contract(kind, strike), "NIFTY 50", index, last)
    assert settled is not None and settled.price == price
    assert ("no price of NIFTY 50" in settled.basis) is (index is None)


def test_settlement_price_with_no_price_at_all_is_none() -> None:
    assert settlement_price(_contract("CE", 18150), "NIFTY 50", None, None) is None
