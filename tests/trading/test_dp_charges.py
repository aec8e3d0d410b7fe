"""Zerodha's DP charge: ₹13.50 + 18 % GST per scrip and IST day with a delivery sale.

support.zerodha.com "What do DP charges mean?": levied by CDSL (₹5.50) and Zerodha (₹8)
when shares are sold FROM the demat account, once per scrip per day whatever the
quantity, posted to the funds statement (not on the contract note). "DP charges for BTST
trades": a BTST sell pays it too. A same-day CNC buy and sell is intraday and takes
nothing out of the demat (kitetui.trading.same_day), and so does MIS: no DP charge.

Every figure is worked by hand: ₹13.50 × 1.18 = ₹15.93 (1593 paise), booked on the fill
that gives the scrip's day a net delivery sale and handed back by a fill that nets it
away, so the day's fills always sum to one charge per scrip that ends the day sold.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

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
from kitetui.store.journal import charge_columns
from kitetui.store.rows import decode_fill
from kitetui.trading.charges import ChargeTable, ChargeTableError, default_calculator
from kitetui.trading.contract_note import NoteOrder, contract_note
from kitetui.trading.fill_charges import FillCharger, order_spec

from .desk import STOCK, T0

D = Decimal
DAY_NS = 86_400 * 10**9
MINUTE = 60 * 10**9
DP = D("15.93")  # ₹13.50 + 18 % GST


def _order(tag: str, side: Side, qty: int, symbol: str = "SBIN", product=Product.CNC) -> Order:
    return Order(tag=tag, engine="eq", symbol=symbol, exchange=Exchange.NSE, side=side,
                 quantity=qty, order_type=OrderType.MARKET, product=product,
                 purpose=OrderPurpose.ENTRY, status=OrderStatus.OPEN, ts_ns=T0)  # fmt: skip


def _charger() -> FillCharger:
    return FillCharger(default_calculator(), {"SBIN": STOCK})


def _take(charger: FillCharger, order: Order, n: int, qty: int, price: float, ts: int) -> Fill:
    fill = Fill(f"{order.tag}-{n}", order.tag, order.symbol, order.side, qty, price, ts, "eq",
                order.product)  # fmt: skip
    charged = charger.quote(order, fill)
    charger.take(order.tag, charged)
    return charged.fill


def _dp(fill: Fill) -> Decimal:
    assert fill.charges is not None
    return fill.charges.charges.dp


def test_the_rate_table_gives_dp_with_its_gst() -> None:
    table = ChargeTable.load()
    assert table.dp(date(2023, 11, 14), "NSE") == DP
    assert table.dp(date(2026, 6, 1), "BSE") == DP


def test_a_sale_from_holdings_pays_one_dp_charge_off_the_contract_note() -> None:
    """Sell 100 held shares: the fill carries ₹15.93 DP on top of its order's delivery
    charges; the order's own charges (what the contract note bills) hold no DP."""
    charger = _charger()
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0)
    state = charger.state("S")
    assert state is not None and state.charges.dp == 0
    assert sell.charges is not None
    assert sell.charges.charges == state.charges + Charges(dp=DP)
    assert sell.charges.paise == state.total_paise + 1593
    order = _order("S", Side.SELL, 100)
    note = contract_note(
        default_calculator(),
        [NoteOrder("1", "SBIN", order_spec(order, STOCK, T0), [(100, 1010.0)])],
    )
    assert note.lines[0].charges.total == state.charges.total  # no DP on the note


def test_two_sales_of_one_scrip_in_a_day_pay_one_charge() -> None:
    charger = _charger()
    first = _take(charger, _order("S1", Side.SELL, 50), 1, 50, 1010.0, T0)
    part = _take(charger, _order("S2", Side.SELL, 50), 1, 20, 1011.0, T0 + MINUTE)
    rest = _take(charger, _order("S2", Side.SELL, 50), 2, 30, 1012.0, T0 + 2 * MINUTE)
    assert [_dp(first), _dp(part), _dp(rest)] == [DP, 0, 0]


def test_two_scrips_sold_the_same_day_pay_two_charges() -> None:
    charger = _charger()
    a = _take(charger, _order("A", Side.SELL, 50), 1, 50, 1010.0, T0)
    b = _take(charger, _order("B", Side.SELL, 10, "INFY"), 1, 10, 1500.0, T0 + MINUTE)
    assert _dp(a) + _dp(b) == 2 * DP


def test_a_sale_on_the_next_day_pays_again_as_does_a_btst_sale() -> None:
    charger = _charger()
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S1", Side.SELL, 50), 1, 50, 1010.0, T0 + DAY_NS)
    again = _take(charger, _order("S2", Side.SELL, 50), 1, 50, 1010.0, T0 + 2 * DAY_NS)
    assert [_dp(buy), _dp(sell), _dp(again)] == [0, DP, DP]


def test_a_same_day_buy_and_sell_pays_none() -> None:
    charger = _charger()
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0 + MINUTE)
    assert _dp(buy) == _dp(sell) == 0


def test_a_sale_bought_back_the_same_day_hands_the_charge_back() -> None:
    """Sell 100 held shares, buy 100 back: nothing left the demat. The sell books ₹15.93,
    the buy hands it back (a signed amount, which a CNC fill row may carry); sold again,
    it is booked again: one charge, as the day ends with a delivery sale."""
    charger = _charger()
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0)
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0 + MINUTE)
    assert (_dp(sell), _dp(buy)) == (DP, -DP)
    row = ["B-1", "B", "SBIN", "BUY", 100, 1000.0, T0 + MINUTE, "eq", "CNC", T0 + MINUTE,
           *charge_columns(buy.charges)]  # fmt: skip
    assert D(row[17]) == -DP  # charge_dp
    assert decode_fill(row)[1].charges == buy.charges
    again = _take(charger, _order("S2", Side.SELL, 10), 1, 10, 1005.0, T0 + 2 * MINUTE)
    assert _dp(again) == DP


def test_a_partial_buy_back_leaves_the_charge_booked() -> None:
    """Sell 100, buy 60 back: 40 left the demat, the charge stays."""
    charger = _charger()
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0)
    buy = _take(charger, _order("B", Side.BUY, 60), 1, 60, 1000.0, T0 + MINUTE)
    assert (_dp(sell), _dp(buy)) == (DP, 0)


def test_a_buy_then_a_larger_sale_pays_for_the_part_from_holdings() -> None:
    """Buy 100, sell 150: 100 are intraday, 50 come from the demat: one charge."""
    charger = _charger()
    buy = _take(charger, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0)
    sell = _take(charger, _order("S", Side.SELL, 150), 1, 150, 1010.0, T0 + MINUTE)
    assert (_dp(buy), _dp(sell)) == (0, DP)


def test_an_mis_sale_pays_none() -> None:
    charger = _charger()
    sell = _take(charger, _order("S", Side.SELL, 100, product=Product.MIS), 1, 100, 1010.0, T0)
    assert _dp(sell) == 0


def test_a_restarted_charger_hands_back_what_the_journal_booked() -> None:
    """Recovery feeds the journaled fills back (``restore``): a buy-back after a restart
    hands back the DP charge the sell booked before it."""
    charger = _charger()
    sell = _take(charger, _order("S", Side.SELL, 100), 1, 100, 1010.0, T0)
    again = _charger()
    again.restore(_order("S", Side.SELL, 100), sell)
    buy = _take(again, _order("B", Side.BUY, 100), 1, 100, 1000.0, T0 + MINUTE)
    assert _dp(buy) == -DP


def test_a_rate_file_without_dp_rows_is_refused_naming_them(tmp_path: Path) -> None:
    text = Path("kitetui/data/charges/rates.yaml").read_text(encoding="utf-8")
    cut = text[: text.index("\n  dp:\n")] + "\n"
    path = tmp_path / "rates.yaml"
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(ChargeTableError, match=r"charges\.dp: missing"):
        ChargeTable.load(path)
    path.write_text(text.replace('flat: "13.5"', 'percent: "13.5"'), encoding="utf-8")
    with pytest.raises(ChargeTableError, match=r"dp is a 'flat' amount"):
        ChargeTable.load(path)


SYMBOLS = ("SBIN", "INFY", "TCS")


@settings(max_examples=120, deadline=None)
@given(
    fills=st.lists(
        st.tuples(
            st.sampled_from(SYMBOLS),
            st.sampled_from([Side.BUY, Side.SELL]),
            st.sampled_from([Product.CNC, Product.CNC, Product.MIS]),
            st.integers(1, 300),
            st.integers(19_000, 21_000).map(lambda p: p / 20),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_order_of_a_days_fills_pays_one_charge_per_scrip_sold_from_the_demat(
    fills: list[tuple[str, Side, Product, int, float]],
) -> None:
    """Whatever the order of a day's CNC and MIS fills across scrips: the DP booked sums
    to ₹15.93 × the scrips whose CNC sales exceed their CNC buys (a net delivery sale),
    each fill books, hands back or leaves it (±₹15.93 or 0, on CNC fills only), the
    paise shares say the same, and the report's pricing of the journal agrees."""
    charger = _charger()
    taken = [
        _take(charger, _order(f"O{n}", side, qty, symbol, product), 1, qty, price, T0 + n)
        for n, (symbol, side, product, qty, price) in enumerate(fills)
    ]
    net = dict.fromkeys(SYMBOLS, 0)
    for symbol, side, product, qty, _ in fills:
        if product is Product.CNC:
            net[symbol] += qty if side is Side.SELL else -qty
    sold = sum(1 for q in net.values() if q > 0)
    assert sum(_dp(f) for f in taken) == DP * sold
    for fill, (_, _, product, _, _) in zip(taken, fills, strict=True):
        assert _dp(fill) in ((DP, 0, -DP) if product is Product.CNC else (0,))
    states = [charger.state(f"O{n}") for n in range(len(fills))]
    assert sum(f.charges.paise for f in taken if f.charges) == (
        sum(s.total_paise for s in states if s) + 1593 * sold
    )
    journaled = [
        JournaledFill(
            n,
            f"O{n}-1",
            f"O{n}",
            T0 + n,
            "eq",
            "NSE",
            symbol,
            product.value,
            side,
            qty,
            D(repr(price)),
        )
        for n, (symbol, side, product, qty, price) in enumerate(fills)
    ]
    report, problems = fill_charges(journaled, lambda *_: None)
    assert problems == []
    assert report == [f.charges.charges for f in taken if f.charges]
