"""A CNC position bought and sold the same day is charged as intraday, as Zerodha bills it.

Zerodha: "if you have selected the CNC product type and bought and sold the shares on the
same day ... it will be considered an intraday trade (MIS), and intraday brokerage will be
charged" (support.zerodha.com, brokerage charged for partial delivery); the matched
quantity pays intraday STT and stamp duty, the rest stays delivery.

Every figure below is worked by hand from kitetui/data/charges/rates.yaml for a trade date
of 2023-11-14 (``T0``): NSE exchange 0.00325 %, IPFT 0.0001 %, SEBI 0.0001 %, GST 18 % of
brokerage + exchange + SEBI; delivery: no brokerage, STT 0.1 % both sides, stamp 0.015 %
on the buy; intraday: brokerage min(₹20, 0.03 %) per order, STT 0.025 % on the sell,
stamp 0.003 % on the buy.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.backtest.costs import JournaledFill, fill_charges
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
from kitetui.money import Charges
from kitetui.store.errors import RowError
from kitetui.store.journal import charge_columns
from kitetui.store.rows import decode_fill
from kitetui.trading.charges import default_calculator
from kitetui.trading.fill_charges import FillCharger

from .desk import STOCK, T0

D = Decimal
DAY_NS = 86_400 * 10**9

# Buy 100 @ ₹1,000.00 (turnover ₹1,00,000) as intraday: brokerage min(20, 30) = 20,
# exchange 3.25, IPFT 0.10, SEBI 0.10, stamp 0.003 % = 3.00, GST 0.18 × 23.35 = 4.203.
BUY_100_INTRADAY = Charges(D(20), D(0), D("3.25"), D("0.1"), D("0.1"), D(3), D("4.203"))
# The same buy as delivery: STT 0.1 % = 100, stamp 0.015 % = 15, GST 0.18 × 3.35 = 0.603.
BUY_100_DELIVERY = Charges(D(0), D(100), D("3.25"), D("0.1"), D("0.1"), D(15), D("0.603"))
# Sell 100 @ ₹1,010.00 (₹1,01,000) as intraday: brokerage 20, STT 0.025 % = 25.25,
# exchange 3.2825, IPFT 0.101, SEBI 0.101, GST 0.18 × 23.3835 = 4.20903.
SELL_100_INTRADAY = Charges(D(20), D("25.25"), D("3.2825"), D("0.101"), D("0.101"), D(0),
                            D("4.20903"))  # fmt: skip
# ... and as delivery (the next day): STT 0.1 % = 101, GST 0.18 × 3.3835 = 0.60903.
SELL_100_DELIVERY = Charges(D(0), D(101), D("3.2825"), D("0.101"), D("0.101"), D(0),
                            D("0.60903"))  # fmt: skip
# The DP charge of a scrip's day with a delivery sale (off the contract note, booked on
# the fill that makes the day's sales a delivery): ₹13.50 + 18 % GST = ₹15.93.
DP = Charges(dp=D("15.93"))


def _order(tag: str, side: Side, quantity: int, product: Product = Product.CNC) -> Order:
    return Order(tag=tag, engine="eq", symbol="SBIN", exchange=Exchange.NSE, side=side,
                 quantity=quantity, order_type=OrderType.MARKET, product=product,
                 purpose=OrderPurpose.ENTRY, status=OrderStatus.OPEN, ts_ns=T0)  # fmt: skip


def _charger() -> FillCharger:
    return FillCharger(default_calculator(), {"SBIN": STOCK})


def _take(charger: FillCharger, order: Order, n: int, qty: int, price: float, ts: int) -> Fill:
    fill = Fill(f"{order.tag}-{n}", order.tag, "SBIN", order.side, qty, price, ts, "eq",
                order.product)  # fmt: skip
    charged = charger.quote(order, fill)
    charger.take(order.tag, charged)
    return charged.fill


def _same(a: Charges, b: Charges) -> bool:
    return all(x == y for (_, x), (_, y) in zip(a.items(), b.items(), strict=True))


def test_a_cnc_round_trip_the_same_day_is_charged_as_intraday() -> None:
    charger = _charger()
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0 + 60 * 10**9)
    # The buy is journaled at delivery rates (nothing is squared off yet) ...
    assert _same(buy.charges.charges, BUY_100_DELIVERY)
    assert buy.charges.paise == 11905  # ₹119.053
    # ... and both orders end billed as intraday, exactly as an MIS round trip is.
    assert _same(charger.state("B").charges, BUY_100_INTRADAY)
    assert _same(charger.state("S").charges, SELL_100_INTRADAY)
    mis = _charger()
    _take(mis, _order("MB", Side.BUY, 100, Product.MIS), 1, 100, 1000.0, T0)
    _take(mis, _order("MS", Side.SELL, 100, Product.MIS), 1, 100, 1010.0, T0 + 1)
    assert charger.state("B").charges == mis.state("MB").charges
    assert charger.state("S").charges == mis.state("MS").charges
    # The sell carries the buy's correction: its own ₹52.94353 + (30.653 - 119.053).
    assert sell.charges.charges.total == D("-35.45647")
    assert sell.charges.paise == 5294 + (3065 - 11905)
    assert buy.charges.paise + sell.charges.paise == 3065 + 5294  # the day's two orders
    assert _same(buy.charges.charges + sell.charges.charges, BUY_100_INTRADAY + SELL_100_INTRADAY)


def test_a_partial_square_off_is_intraday_on_the_matched_quantity_only() -> None:
    """Sell 60 of 100: the buy is 60 intraday (₹60,000: brokerage 18, stamp 1.80) and
    40 delivery (₹40,000: STT 40, stamp 6); the sell is all intraday (₹60,600)."""
    charger = _charger()
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S", Side.SELL, 60), 1, 60, 1010.0, T0 + 60 * 10**9)
    buy_order = Charges(D(18), D(40), D("3.25"), D("0.1"), D("0.1"), D("7.8"),
                        D("3.843"))  # GST 0.18 × (18 + 3.25 + 0.1)  # fmt: skip
    sell_order = Charges(D("18.18"), D("15.15"), D("1.9695"), D("0.0606"), D("0.0606"), D(0),
                         D("3.637818"))  # GST 0.18 × 20.2101  # fmt: skip
    assert _same(charger.state("B").charges, buy_order)
    assert _same(charger.state("S").charges, sell_order)
    assert buy.charges.paise + sell.charges.paise == 7309 + 3906
    assert _same(buy.charges.charges + sell.charges.charges, buy_order + sell_order)
    # The 40 left over are delivered: a sell of them the next day is delivery.
    later = _take(charger, _order("S2", Side.SELL, 40), 1, 40, 1010.0, T0 + DAY_NS)
    assert later.charges.charges.stt == D("40.4")  # 0.1 % of ₹40,400
    assert later.charges.charges.brokerage == 0
    assert _same(charger.state("B").charges, buy_order)  # the buy is not touched again


def test_a_sell_on_a_later_day_is_delivery() -> None:
    charger = _charger()
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0 + DAY_NS)
    assert _same(buy.charges.charges, BUY_100_DELIVERY)
    # The contract note's delivery charges, and the DP charge of shares leaving the demat.
    assert _same(sell.charges.charges, SELL_100_DELIVERY + DP)
    assert _same(charger.state("S").charges, SELL_100_DELIVERY)  # the order: no DP
    assert _same(charger.state("B").charges, BUY_100_DELIVERY)


def test_holdings_sold_and_bought_back_the_same_day_are_intraday_on_the_bought_back_part() -> None:
    """Zerodha's second example: shares held, 50 sold, 25 bought back the same day."""
    charger = _charger()
    _take(charger, _order("H", Side.BUY, 100), 1, 100, 1000.0, T0 - DAY_NS)
    _take(charger, _order("S", Side.SELL, 50), 1, 50, 1000.0, T0)
    _take(charger, _order("B", Side.BUY, 25), 1, 25, 1000.0, T0 + 1)
    sell, back = charger.state("S"), charger.state("B")
    assert (sell.intraday_quantity, back.intraday_quantity) == (25, 25)
    assert sell.charges.stt == D("6.25") + D("25")  # 25 at 0.025 %, 25 at 0.1 %
    assert back.charges.stt == 0
    assert back.charges.brokerage == D("7.5")  # 0.03 % of ₹25,000


def test_the_squared_off_buy_is_repriced_even_after_the_trader_forgot_it() -> None:
    charger = _charger()
    _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    charger.forget("B")  # a finished order (Trader(keep_finished=))
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0 + 1)
    assert sell.charges.paise == 5294 + (3065 - 11905)


def test_restore_rebuilds_the_day_so_a_later_close_is_charged_the_same() -> None:
    straight = _charger()
    fills = [
        _take(straight, _order("B1", Side.BUY, 70), 1, 70, 1000.0, T0),
        _take(straight, _order("B2", Side.BUY, 30), 1, 30, 1002.5, T0 + 1),
        _take(straight, _order("S", Side.SELL, 100), 1, 50, 1010.0, T0 + 2),
    ]
    rebuilt = _charger()
    orders = {"B1": _order("B1", Side.BUY, 70), "B2": _order("B2", Side.BUY, 30),
              "S": _order("S", Side.SELL, 100)}  # fmt: skip
    for fill in fills:
        assert rebuilt.restore(orders[fill.tag], fill) == fill
    last = _take(rebuilt, orders["S"], 2, 50, 1011.0, T0 + 3)
    assert last == _take(straight, orders["S"], 2, 50, 1011.0, T0 + 3)
    for tag in orders:
        assert rebuilt.state(tag) == straight.state(tag)


def test_the_report_prices_an_uncharged_journal_the_same_way() -> None:
    """A journal from before charges were recorded is priced by the report
    (``costs.fill_charges``): a same-day CNC round trip the same as the desk's."""
    charger = _charger()
    trades = [("B", Side.BUY, 100, 1000.0, T0), ("S", Side.SELL, 60, 1010.0, T0 + 1),
              ("S2", Side.SELL, 40, 1005.0, T0 + DAY_NS)]  # fmt: skip
    desk = [
        _take(charger, _order(t, s, q), 1, q, p, ts).charges.charges for t, s, q, p, ts in trades
    ]
    journaled = [
        JournaledFill(n, f"{t}-1", t, ts, "eq", "NSE", "SBIN", "CNC", s, q, D(repr(p)))
        for n, (t, s, q, p, ts) in enumerate(trades)
    ]
    report, problems = fill_charges(journaled, lambda *_: ("NSE", "SBIN"))
    assert problems == []
    assert report == desk


@pytest.mark.parametrize("product", [Product.CNC, Product.MIS])
def test_only_a_cnc_fill_row_may_carry_a_negative_charge(product: Product) -> None:
    """The store decodes fill rows strictly: a negative amount is damage, except on a
    CNC fill, which may hand back the delivery STT and stamp of the fills it squared off."""
    charger = _charger()
    _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0 + 1)
    row = ["S-1", "S", "SBIN", "SELL", 100, 1010.0, T0 + 1, "eq", product.value, T0 + 1,
           *charge_columns(sell.charges)]  # fmt: skip
    assert row[11].startswith("-74.75")  # charge_stt: 25.25 - 100 handed back
    if product is Product.CNC:
        assert decode_fill(row)[1].charges == sell.charges
    else:
        with pytest.raises(RowError, match=r"charge_stt '-74\.750000' is not a non-negative"):
            decode_fill(row)


@settings(max_examples=60, deadline=None)
@given(
    trades=st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(1, 500),
            st.integers(19_000, 21_000).map(lambda p: p / 20),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_cnc_day_sums_to_its_orders_and_squares_off_the_matched_quantity(
    trades: list[tuple[Side, int, float]],
) -> None:
    """Whatever the day's CNC orders: the fills' journaled charges sum exactly to the
    orders' final charges (in paise, to their rounded totals) plus one DP charge if the
    day ends with a delivery sale (more sold than bought); the intraday units are
    min(bought, sold) on each side; and no order is charged less than nothing."""
    charger = _charger()
    fills = [
        _take(charger, _order(f"O{n}", side, qty), 1, qty, price, T0 + n)
        for n, (side, qty, price) in enumerate(trades)
    ]
    states = [charger.state(f"O{n}") for n in range(len(trades))]
    bought = sum(q for side, q, _ in trades if side is Side.BUY)
    sold = sum(q for side, q, _ in trades if side is Side.SELL)
    dp = DP if sold > bought else Charges()
    assert sum(f.charges.paise for f in fills) == sum(s.total_paise for s in states) + (
        dp.total_paise
    )
    total = sum((f.charges.charges for f in fills), Charges())
    assert _same(total, sum((s.charges for s in states), dp))
    for side in (Side.BUY, Side.SELL):
        squared = sum(s.intraday_quantity for s in states if s.spec.side is side)
        assert squared == min(bought, sold)
    assert all(s.total_paise >= 0 for s in states)
