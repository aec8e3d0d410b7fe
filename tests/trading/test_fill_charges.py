"""Charges per fill: each fill's share of its ORDER's charges, journaled with the fill.

Brokerage is billed per order (the ₹20 cap, the flat ₹20 of an option order), so an
order's partial fills must share one cap; the fills of an order add up exactly to the
order's charges and, in paise, to its rounded total; a restart rebuilds each order's
running charges from the journal so a later fill of the same order is charged as if
nothing had happened. Figures are ``derived`` from rates.yaml (see test_charges.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.clock import ist_date
from kitetui.domain import (
    Event,
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
)
from kitetui.store.runs import load_fills
from kitetui.trading import expiry_settlement
from kitetui.trading.charges import (
    ChargeCalculator,
    ChargeError,
    Charges,
    OrderSpec,
    SegmentKind,
    SettlementKind,
    default_calculator,
)
from kitetui.trading.fill_charges import FillCharger, order_spec
from kitetui.trading.portfolio import Portfolio

from .desk import CALL, FUTURE, STOCK, T0, TraderDesk, make_desk

D = Decimal
DAY = ist_date(T0)


def _order(tag: str = "T1", symbol: str = FUTURE.tradingsymbol, **changes) -> Order:
    fields = {
        "tag": tag,
        "engine": "fno",
        "symbol": symbol,
        "exchange": Exchange.NFO,
        "side": Side.BUY,
        "quantity": 150,
        "order_type": OrderType.MARKET,
        "product": Product.MIS,
        "purpose": OrderPurpose.ENTRY,
        "status": OrderStatus.OPEN,
        "ts_ns": T0,
    }
    fields.update(changes)
    return Order(**fields)


def _fill(n: int, qty: int, price: float, tag: str = "T1", symbol: str = FUTURE.tradingsymbol):
    return Fill(f"{tag}-{n}", tag, symbol, Side.BUY, qty, price, T0 + n, "fno", Product.MIS)


def _charger(events: list[Event] | None = None) -> FillCharger:
    instruments = {i.tradingsymbol: i for i in (FUTURE, CALL, STOCK)}
    listener = events.append if events is not None else None
    return FillCharger(default_calculator(), instruments, listener)


def _take_all(charger: FillCharger, order: Order, fills: list[Fill]) -> list[Fill]:
    out = []
    for fill in fills:
        charged = charger.quote(order, fill)
        charger.take(order.tag, charged)
        out.append(charged.fill)
    return out


# --------------------------------------------------------------------------- per order


def test_partial_fills_of_one_futures_order_pay_one_twenty_rupee_cap() -> None:
    """NIFTY futures at 19,400: 50 units are ₹9.7 lakh, 0.03 % of it ₹291 > ₹20, so the
    first fill pays the whole cap and the two after it pay no brokerage."""
    fills = _take_all(_charger(), _order(), [_fill(1, 50, 19400.0), _fill(2, 50, 19401.0),
                                             _fill(3, 50, 19402.5)])  # fmt: skip
    brokerage = [f.charges.charges.brokerage for f in fills]
    assert brokerage == [D(20), D(0), D(0)]
    whole = default_calculator().for_order(
        order_spec(_order(), FUTURE, T0), [(50, 19400.0), (50, 19401.0), (50, 19402.5)]
    )
    assert sum((f.charges.charges for f in fills), Charges()) == whole.charges
    assert sum(f.charges.paise for f in fills) == whole.total_paise


def test_small_partial_fills_pay_percent_brokerage_until_the_cap_is_crossed() -> None:
    """SBIN MIS at ₹600: 0.03 % is ₹1.80 per 10 shares; the cap is crossed inside the
    fill that takes the order past ₹66,666.67 of turnover, and nothing after it pays."""
    order = _order(symbol="SBIN", exchange=Exchange.NSE, quantity=200)
    fills = [_fill(n, qty, 600.0, symbol="SBIN") for n, qty in enumerate([10, 50, 60, 80])]
    got = [f.charges.charges.brokerage for f in _take_all(_charger(), order, fills)]
    assert got == [D("1.8"), D("9"), D("9.2"), D(0)]  # 10.8 + 9.2 = 20 exactly
    assert sum(got) == 20


def test_two_orders_each_pay_their_own_brokerage() -> None:
    """Freeze slices are separate orders at the exchange: each pays its own ₹20."""
    charger = _charger()
    first = _take_all(charger, _order("A"), [_fill(1, 50, 19400.0, tag="A")])
    second = _take_all(charger, _order("B"), [_fill(1, 50, 19400.0, tag="B")])
    assert first[0].charges == second[0].charges
    assert first[0].charges.charges.brokerage == 20


def test_option_order_pays_flat_brokerage_on_its_first_fill_only() -> None:
    order = _order(symbol=CALL.tradingsymbol)
    fills = [_fill(n, 50, 120.0, symbol=CALL.tradingsymbol) for n in range(3)]
    got = [f.charges.charges.brokerage for f in _take_all(_charger(), order, fills)]
    assert got == [D(20), D(0), D(0)]


def test_a_quote_not_taken_leaves_the_order_as_it_was() -> None:
    """A fill that was not journaled (a duplicate delivery, a full disk) must not move
    its order's charges: the delivery that is journaled is priced as the first."""
    charger = _charger()
    order = _order()
    ignored = charger.quote(order, _fill(1, 50, 19400.0))
    assert charger.state(order.tag) is None
    taken = charger.quote(order, _fill(1, 50, 19400.0))
    assert taken.fill.charges == ignored.fill.charges
    charger.take(order.tag, taken)
    assert charger.state(order.tag).quantity == 50


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.integers(1, 400), st.integers(1, 400_000).map(lambda p: p / 20)),
        min_size=1,
        max_size=8,
    ),
    kind=st.sampled_from(["SBIN", FUTURE.tradingsymbol, CALL.tradingsymbol]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
def test_an_orders_fills_sum_to_the_order_however_it_is_split(
    parts: list[tuple[int, float]], kind: str, side: Side
) -> None:
    """Any split: components add up exactly, paise add up to the order's rounded total,
    no fill is charged a negative amount, brokerage never passes ₹20 an order."""
    exchange = Exchange.NSE if kind == "SBIN" else Exchange.NFO
    order = _order(symbol=kind, exchange=exchange, side=side)
    fills = [_fill(n, q, p, symbol=kind) for n, (q, p) in enumerate(parts)]
    charged = _take_all(_charger(), order, fills)
    whole = default_calculator().for_order(
        order_spec(order, _charger().instruments.get(kind), T0), parts
    )
    assert sum((f.charges.charges for f in charged), Charges()) == whole.charges
    assert sum(f.charges.paise for f in charged) == whole.total_paise
    for f in charged:
        assert f.charges.paise >= 0
        assert all(amount >= 0 for _, amount in f.charges.charges.items())
    assert whole.charges.brokerage <= 20


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.integers(380_000, 400_000).map(lambda p: p / 20), min_size=2, max_size=6),
    data=st.data(),
)
def test_restore_rebuilds_an_order_so_later_fills_are_charged_the_same(
    prices: list[float], data: st.DataObject
) -> None:
    """A restart after k of an order's fills: the journaled fills restored into a new
    charger leave the order where it was, and the fills after them cost the same."""
    order = _order()
    fills = [_fill(n, 5 + n, p) for n, p in enumerate(prices)]
    straight = _take_all(_charger(), order, fills)
    k = data.draw(st.integers(1, len(fills) - 1))
    rebuilt = _charger()
    for journaled in straight[:k]:
        assert rebuilt.restore(order, journaled) == journaled  # keeps what was journaled
    assert _take_all(rebuilt, order, fills[k:]) == straight[k:]


def test_a_fill_journaled_without_charges_is_priced_when_restored() -> None:
    charger = _charger()
    old = _fill(1, 50, 19400.0)
    restored = charger.restore(_order(), old)
    assert restored.charges == _take_all(_charger(), _order(), [old])[0].charges
    assert charger.restore(None, old) == old  # an order the journal lost: nothing to rebuild


# --------------------------------------------------------------------------- orders opened alike


def _fresh_cost(order: Order, fill: Fill, instruments: dict) -> object:
    """What a charger that never saw another order charges ``fill``."""
    return FillCharger(default_calculator(), instruments).quote(order, fill).fill.charges


def test_orders_opened_alike_are_charged_as_a_fresh_charger_charges_each() -> None:
    """The charger keeps an order's opened state for the next order of its symbol,
    exchange, product, side, IST day and settlement: every other order is charged as
    if it were the first. The day matters (STT on futures rose on 1 April 2023, IST)."""
    march_31 = 1_680_264_000_000_000_000  # 2023-03-31 12:00 UTC, 17:30 IST
    april_1 = 1_680_289_200_000_000_000  # 2023-03-31 19:00 UTC, 00:30 IST on 1 April
    instruments = {i.tradingsymbol: i for i in (FUTURE, CALL, STOCK)}
    charger = FillCharger(default_calculator(), instruments)
    cases = [
        (FUTURE.tradingsymbol, Side.SELL, march_31),
        (FUTURE.tradingsymbol, Side.SELL, april_1),
        (FUTURE.tradingsymbol, Side.BUY, april_1),
        (CALL.tradingsymbol, Side.SELL, april_1),
        (CALL.tradingsymbol, Side.SELL, april_1 + 60 * 10**9),
        ("SBIN", Side.SELL, april_1),
    ]
    costs = []
    for n, (symbol, side, ts) in enumerate(cases):
        exchange = Exchange.NSE if symbol == "SBIN" else Exchange.NFO
        order = _order(f"O{n}", symbol=symbol, side=side, exchange=exchange, ts_ns=ts)
        fill = Fill(f"O{n}-1", f"O{n}", symbol, side, 50, 120.0, ts, "fno", Product.MIS)
        charged = charger.quote(order, fill)
        charger.take(order.tag, charged)
        assert charged.fill.charges == _fresh_cost(order, fill, instruments)
        costs.append(charged.fill.charges)
    assert costs[0].charges.stt < costs[1].charges.stt  # the April rate, not March's


def test_a_settlement_is_not_charged_as_the_trade_opened_before_it() -> None:
    """A lapse on the day and side of a trade in the same option: nothing is charged."""
    instruments = {CALL.tradingsymbol: CALL}
    charger = FillCharger(default_calculator(), instruments)
    trade = _order("T", symbol=CALL.tradingsymbol, side=Side.SELL)
    fill = Fill("T-1", "T", CALL.tradingsymbol, Side.SELL, 50, 3.0, T0, "fno", Product.MIS)
    charger.take("T", charger.quote(trade, fill))
    lapse = _order(
        "L",
        symbol=CALL.tradingsymbol,
        side=Side.SELL,
        reason=expiry_settlement.reason(SettlementKind.LAPSE, "the close"),
    )
    closing = Fill("L-1", "L", CALL.tradingsymbol, Side.SELL, 50, 0.5, T0 + 1, "fno", Product.MIS)
    charged = charger.quote(lapse, closing)
    assert charged.fill.charges.charges == Charges()
    assert charged.fill.charges == _fresh_cost(lapse, closing, instruments)


def test_an_order_after_the_master_changed_is_charged_on_the_new_instrument() -> None:
    """The master's instrument for a symbol is what the kept state was opened on: a
    symbol the day's master now lists differently (an option re-listed as a future,
    say) is charged as the new instrument, not as the state kept from before."""
    instruments = {CALL.tradingsymbol: CALL}
    charger = FillCharger(default_calculator(), instruments)
    symbol = CALL.tradingsymbol
    first = charger.quote(_order("A", symbol=symbol), _fill(1, 50, 120.0, "A", symbol))
    charger.take("A", first)
    instruments[symbol] = replace(FUTURE, tradingsymbol=symbol)
    second = charger.quote(_order("B", symbol=symbol), _fill(1, 50, 120.0, "B", symbol))
    assert first.fill.charges.charges.brokerage == 20  # an option order's flat ₹20
    assert second.fill.charges.charges.brokerage == D("1.8")  # 0.03 % of ₹6,000
    assert second.fill.charges == _fresh_cost(
        _order("B", symbol=symbol), _fill(1, 50, 120.0, "B", symbol), instruments
    )


# --------------------------------------------------------------------------- what is charged


def test_spec_comes_from_the_instrument_then_from_the_symbol() -> None:
    assert order_spec(_order(), FUTURE, T0) == OrderSpec(
        SegmentKind.FUTURES, "NFO", Product.MIS, Side.BUY, DAY, "NIFTY"
    )
    cases = {
        ("NFO", "NIFTY23DECFUT"): SegmentKind.FUTURES,
        ("NFO", "BANKNIFTY23DEC45000PE"): SegmentKind.OPTIONS,
        ("NSE", "HDFCBANK"): SegmentKind.EQUITY,
    }
    for (exchange, symbol), kind in cases.items():
        spec = order_spec(_order(symbol=symbol, exchange=Exchange(exchange)), None, T0)
        assert (spec.segment, spec.exchange, spec.underlying) == (kind, exchange, "")


def test_an_nfo_symbol_that_is_neither_future_nor_option_is_not_guessed() -> None:
    with pytest.raises(ChargeError, match="cannot tell the segment of NFO:NIFTY"):
        order_spec(_order(symbol="NIFTY"), None, T0)


def test_a_fill_the_table_cannot_price_is_journaled_without_charges_and_said() -> None:
    """A trade date before the table's first row: no guess, an event instead."""
    events: list[Event] = []
    charger = _charger(events)
    old_day = 1_500_000_000_000_000_000  # 2017: before the table starts (2020-07-01)
    fill = Fill("F1", "T1", FUTURE.tradingsymbol, Side.BUY, 50, 9000.0, old_day, "fno")
    charged = charger.quote(_order(), fill)
    assert charged.fill.charges is None and charged.state is None
    assert charger.unpriced == 1
    assert [e.kind for e in events] == ["ChargesUnpriced"]
    assert "F1" in events[0].message and "no brokerage rate" in events[0].message


def test_trade_date_is_the_ist_day_of_the_first_fill() -> None:
    """19:00 UTC on 31 Mar 2023 is 1 Apr in IST: the April STT rise applies (F&O)."""
    utc_evening = 1_680_289_200_000_000_000  # 2023-03-31 19:00 UTC = 2023-04-01 00:30 IST
    spec = order_spec(_order(), FUTURE, utc_evening)
    assert spec.trade_date == date(2023, 4, 1)


# --------------------------------------------------------------------------- the desk


async def _rebuilt(tmp_path: Path) -> TraderDesk:
    """A new process on the same file (a run of its own, ``run2``): run1's orders
    tracked and its fills replayed, as a restart rebuilds the portfolio."""
    again = await make_desk(tmp_path, database=tmp_path / "state.db", run_id="run2")
    for order in await _orders(again):
        again.trader.track(order)
    for _, fill in await load_fills(again.db, "run1"):
        again.trader.replay_fill(fill)
    return again


async def test_trader_journals_each_fill_with_its_share_and_a_rebuild_equals_it(
    tmp_path: Path,
) -> None:
    """Through the real trader and journal: partial fills of one order journaled with
    their charges; a new portfolio rebuilt from the journal has the same charges."""
    desk = await make_desk(tmp_path)
    order = _order()
    desk.trader.track(order)
    await desk.trader.journal.write_order(order)
    parts = [_fill(1, 50, 19400.0), _fill(2, 50, 19401.0), _fill(3, 50, 19402.5)]
    for fill in parts:
        await desk.trader.on_fills([(order, fill)])
    await desk.trader.on_fills([(order, parts[1])])  # delivered twice: charged once
    portfolio = desk.trader.portfolio
    journaled = [f for _, f in await load_fills(desk.db, "run1")]
    assert [f.charges.charges.brokerage for f in journaled] == [D(20), D(0), D(0)]
    assert portfolio.charges_paise == sum(f.charges.paise for f in journaled) > 2000
    assert portfolio.charges == sum((f.charges.charges for f in journaled), Charges())
    position = portfolio.position(FUTURE.tradingsymbol)
    assert position.charges_paise == portfolio.charges_paise
    assert position.net_paise == position.pnl_paise - portfolio.charges_paise
    await desk.close()

    # A new process on the same file (a run of its own, so its writes are apart).
    again = await _rebuilt(tmp_path)
    assert again.trader.portfolio.charges_paise == portfolio.charges_paise
    assert again.trader.portfolio.charges == portfolio.charges
    # the order's running charges were rebuilt: a fourth fill pays no second ₹20
    await again.trader.on_fills([(order, _fill(4, 10, 19403.0))])
    [(_, last)] = await load_fills(again.db, "run2")
    assert last.charges is not None and last.charges.charges.brokerage == 0
    await again.close()


async def test_a_lapse_at_zero_is_journaled_and_a_rebuild_takes_it(tmp_path: Path) -> None:
    """An option that lapsed at expiry closes at zero, charged nothing; a new process
    rebuilding the portfolio from the journal takes that fill at zero (its order's
    reason names the lapse) and ends with the same P&L, not refusing it as bad."""
    from kitetui.trading import expiry_settlement
    from kitetui.trading.charges import SettlementKind

    desk = await make_desk(tmp_path)
    symbol = CALL.tradingsymbol
    bought = _order("B1", symbol, quantity=50)
    reason = expiry_settlement.reason(SettlementKind.LAPSE, "intrinsic value 0.00")
    lapsed = _order(
        "S1", symbol, quantity=50, side=Side.SELL, purpose=OrderPurpose.SQUARE_OFF, reason=reason
    )
    for order, fill in (
        (bought, Fill("B1-1", "B1", symbol, Side.BUY, 50, 30.0, T0 + 1, "fno", Product.MIS)),
        (lapsed, Fill("S1-1", "S1", symbol, Side.SELL, 50, 0.0, T0 + 2, "fno", Product.MIS)),
    ):
        desk.trader.track(order)
        await desk.trader.journal.write_order(order)
        await desk.trader.on_fills([(order, fill)])
    portfolio = desk.trader.portfolio
    assert portfolio.quantity(symbol) == 0 and portfolio.realized_paise == -50 * 3000
    journaled = [f for _, f in await load_fills(desk.db, "run1")]
    assert [(f.price, f.charges.paise) for f in journaled][1] == (0.0, 0)
    await desk.close()

    again = await _rebuilt(tmp_path)
    assert again.trader.portfolio.realized_paise == portfolio.realized_paise
    assert again.trader.portfolio.charges_paise == portfolio.charges_paise
    await again.close()


async def _orders(desk) -> list[Order]:
    from kitetui.store.runs import load_orders

    return await load_orders(desk.db, "run1")


# --------------------------------------------------------------------------- the book


def _charged(fill: Fill, paise: int, brokerage: str = "20") -> Fill:
    from dataclasses import replace

    from kitetui.trading.charges import FillCost

    return replace(fill, charges=FillCost(Charges(brokerage=D(brokerage)), paise))


def test_portfolio_keeps_gross_and_charges_apart_and_net_is_their_difference() -> None:
    book = Portfolio(1_000_000)
    book.start_day()
    book.apply_fill(_charged(_fill(1, 50, 100.0), 2000))
    sell = Fill("S1", "T2", FUTURE.tradingsymbol, Side.SELL, 50, 101.0, T0 + 9, "fno")
    book.apply_fill(_charged(sell, 2000))
    assert book.realized_paise == 5000  # 50 × ₹1
    assert book.charges_paise == 4000
    assert book.net_pnl_paise == 1000
    assert book.day_gross_pnl_paise == 5000
    assert book.day_pnl_paise == 1000  # the loss limits see net
    assert book.day_pnl_by_symbol() == {FUTURE.tradingsymbol: 1000}
    assert book.charges.brokerage == 40
    assert book.equity_paise == book.capital_paise + 5000  # gross: what sizing reads
    assert book.record_equity(T0) == book.capital_paise + 1000  # the curve is net
    book.start_day()
    assert (book.day_charges_paise, book.day_pnl_paise) == (0, 0)


def test_daily_loss_trips_on_net_when_gross_alone_would_not() -> None:
    """Gross -₹24,990 is inside a ₹25,000 limit; with ₹20 of charges it is not."""
    from kitetui.trading.risk import RiskEngine, RiskLimits

    book = Portfolio(10_000_000)
    book.start_day()
    book.apply_fill(_charged(_fill(1, 100, 1000.0), 1000, "10"))
    sell = Fill("S1", "T2", FUTURE.tradingsymbol, Side.SELL, 100, 750.1, T0 + 9, "fno")
    book.apply_fill(_charged(sell, 1000, "10"))
    assert book.day_gross_pnl_paise == -2_499_000
    risk = RiskEngine(RiskLimits(25_000, 100_000, 5, 4, 6_000_000, 3_000_000, 10_000))
    assert risk.on_pnl(book.day_gross_pnl_paise, {}) == []
    tripped = risk.on_pnl(book.day_pnl_paise, book.day_pnl_by_symbol())
    assert [b.decision.rule for b in tripped] == ["max_daily_loss"]


def test_calculator_default_is_loaded_once() -> None:
    assert default_calculator() is default_calculator()
    assert isinstance(default_calculator(), ChargeCalculator)


@settings(max_examples=100, deadline=None)
@given(
    trades=st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(1, 300),
            st.integers(2_000, 40_000).map(lambda p: p / 20),
            st.integers(0, 5_000),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_net_is_gross_minus_the_fills_charges_and_a_rebuild_is_equal(
    trades: list[tuple[Side, int, float, int]],
) -> None:
    """Whatever is traded: net = gross - the paise the fills carry, the day's net is the
    loss limits' figure, and replaying the same fills into a new book gives the same
    charges to the paisa and by component."""
    fills = [
        _charged(Fill(f"F{n}", f"T{n}", "SBIN", side, qty, price, T0 + n, "eq"), paise, "1.5")
        for n, (side, qty, price, paise) in enumerate(trades)
    ]
    book = Portfolio(1_000_000)
    book.start_day()
    for fill in fills:
        book.apply_fill(fill)
    paid = sum(paise for *_, paise in trades)
    assert book.charges_paise == book.day_charges_paise == paid
    assert book.net_pnl_paise == book.gross_pnl_paise - paid
    assert book.day_pnl_paise == book.day_gross_pnl_paise - paid
    assert sum(book.day_pnl_by_symbol().values()) == book.day_pnl_paise
    assert book.charges.brokerage == D("1.5") * len(trades)
    again = Portfolio(1_000_000)
    for fill in [*fills, *fills]:  # a fill applied twice is applied once
        again.apply_fill(fill)
    assert (again.charges_paise, again.charges) == (book.charges_paise, book.charges)


@pytest.mark.parametrize(
    ("symbol", "exchange", "quantity", "orders"),
    [
        (STOCK.tradingsymbol, Exchange.NSE, 30_000, 1),
        (STOCK.tradingsymbol, Exchange.NSE, 30_001, 2),
        (STOCK.tradingsymbol, Exchange.NSE, 380_445, 13),  # the RMS's 30,000-unit orders
        (FUTURE.tradingsymbol, Exchange.NFO, 1_800, 1),  # sliced to the freeze already
    ],
)
def test_a_square_off_by_the_broker_is_charged_once_per_order_the_rms_would_place(
    symbol, exchange, quantity, orders
):
    instrument = {i.tradingsymbol: i for i in (FUTURE, STOCK)}[symbol]
    squared = _order(
        symbol=symbol,
        exchange=exchange,
        quantity=quantity,
        purpose=OrderPurpose.SQUARE_OFF,
        reason="auto square-off by the broker at the close",
    )
    assert order_spec(squared, instrument, T0).squared_off == orders
    ours = _order(symbol=symbol, exchange=exchange, quantity=quantity, reason="square-off")
    assert order_spec(ours, instrument, T0).squared_off == 0
