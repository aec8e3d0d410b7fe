"""Each fill's charges: per order, as the charges module prices the whole order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from backtest.factories import ts
from kitetui.backtest.costs import JournaledFill, fill_charges, segment_from_symbol
from kitetui.domain import Product, Side
from kitetui.trading.charges import ChargeCalculator, Charges, OrderSpec, SegmentKind

D = Decimal
DAY = "2024-01-02"


def _fill(tag: str, qty: int, price: str, *, side="SELL", symbol="NIFTY24JANFUT", exchange="NFO",
          product="MIS", seq=1) -> JournaledFill:  # fmt: skip
    return JournaledFill(seq, f"f{seq}", tag, ts(DAY, "10:00") + seq, "fno", exchange, symbol,
                         product, Side(side), qty, D(price))  # fmt: skip


def _futures(day: str, exchange: str, symbol: str) -> tuple[str, str] | None:
    return ("NFO-FUT", "NIFTY") if symbol.endswith("FUT") else None


def test_fill_charges_of_a_split_order_sum_to_the_whole_orders_charges() -> None:
    fills = [_fill("a", 25, "21700", seq=1), _fill("a", 50, "21705.5", seq=2),
             _fill("a", 25, "21690", seq=3)]  # fmt: skip
    charged, problems = fill_charges(fills, _futures)
    assert problems == []
    whole = ChargeCalculator().for_order(
        OrderSpec(SegmentKind.FUTURES, "NFO", Product.MIS, Side.SELL, date(2024, 1, 2), "NIFTY"),
        [(25, D("21700")), (50, D("21705.5")), (25, D("21690"))],
    )
    assert sum(charged, Charges()) == whole.charges
    # brokerage is the order's ₹20, once, however many fills it took
    assert sum(c.brokerage for c in charged) == D(20)
    assert charged[0].brokerage == D(20) and charged[1].brokerage == 0


def test_fill_charges_price_each_order_on_its_own() -> None:
    fills = [_fill("a", 50, "21700", seq=1), _fill("b", 50, "21700", side="BUY", seq=2)]
    charged, _ = fill_charges(fills, _futures)
    assert charged[0].stt > 0 and charged[1].stt == 0  # futures STT is on the sell side
    assert charged[1].stamp > 0 and charged[0].stamp == 0  # stamp duty on the buy side
    assert charged[0].brokerage == charged[1].brokerage == D(20)


def test_fill_charges_without_a_master_row_go_by_the_symbols_shape() -> None:
    equity = _fill("e", 10, "1600", symbol="HDFCBANK", exchange="NSE", side="BUY")
    option = _fill("o", 50, "100", symbol="NIFTY24JAN21700CE", seq=2)
    charged, problems = fill_charges([equity, option], lambda *_: None)
    assert problems == []
    assert charged[0].brokerage == D("4.8")  # 0.03 % of ₹16,000: under the ₹20 cap
    assert charged[1].brokerage == D(20)  # options: flat ₹20 an order


def test_fill_charges_report_an_order_they_cannot_price_and_charge_it_nothing() -> None:
    index = _fill("x", 1, "21700", symbol="NIFTY 50", exchange="NSE", product="NRML")
    charged, problems = fill_charges([index], lambda *_: ("INDICES", "NIFTY 50"))
    assert charged == [None]  # unpriced, not a priced zero
    (line,) = problems
    assert line.startswith("order x (NSE:NIFTY 50 NRML on 2024-01-02): charged nothing:")


def test_segment_from_symbol() -> None:
    assert segment_from_symbol("NFO", "NIFTY24JANFUT") == "NFO-FUT"
    assert segment_from_symbol("NFO", "NIFTY24JAN21700PE") == "NFO-OPT"
    assert segment_from_symbol("BFO", "SENSEX24JAN72000CE") == "BFO-OPT"
    assert segment_from_symbol("NSE", "SBIN") == "NSE"
