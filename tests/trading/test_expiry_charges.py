"""A contract held into its expiry is charged as the exchange settles it, not as a trade.

Zerodha (support.zerodha.com "What charges are levied if option positions get
exercised?"; tradingqna "Brokerage charged if F&O contracts held till expiry"): a
bought option exercised in the money pays STT on exercise, 0.125 % of its intrinsic
value (0.15 % from 1 April 2026), and ₹20 brokerage for the close-out; a sold option
assigned pays no more STT; an option that expires worthless is charged nothing; a
future is closed at the settlement price with the normal charges.

Every figure below is worked by hand from kitetui/data/charges/rates.yaml for a trade
date of 2025-07-01 (NSE, ``DAY``): options brokerage ₹20 an order; exchange 0.03503 % of
the (premium) turnover, IPFT 0.0005 %, SEBI 0.0001 %, stamp 0.003 % on a buy, GST 18 %
of brokerage + exchange + SEBI; options STT on a sale 0.1 %, on exercise 0.125 %;
futures brokerage min(₹20, 0.03 %), exchange 0.00173 %, IPFT 0.0001 %, STT 0.02 % on
the sale. The closing fill's price is the settlement value: an option's intrinsic value.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kitetui.backtest.costs import JournaledFill, fill_charges
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
from kitetui.market.instruments import Instrument
from kitetui.money import Charges
from kitetui.trading import expiry_settlement
from kitetui.trading.charges import SettlementKind, default_calculator
from kitetui.trading.fill_charges import FillCharger

D = Decimal
IST = timezone(timedelta(hours=5, minutes=30))


def _ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 15, 30, tzinfo=IST).timestamp()) * 10**9


DAY = date(2025, 7, 1)
CALL = Instrument(1, 1, "NIFTY25JUL24000CE", "NIFTY", 0.0, DAY, 24000.0, 0.05, 75, "CE",
                  "NFO-OPT", "NFO")  # fmt: skip
PUT = Instrument(2, 2, "NIFTY25JUL24000PE", "NIFTY", 0.0, DAY, 24000.0, 0.05, 75, "PE",
                 "NFO-OPT", "NFO")  # fmt: skip
FUT = Instrument(3, 3, "NIFTY25JULFUT", "NIFTY", 0.0, DAY, 0.0, 0.05, 75, "FUT", "NFO-FUT",
                 "NFO")  # fmt: skip
CONTRACTS = {i.tradingsymbol: i for i in (CALL, PUT, FUT)}

# A long call exercised: SELL 75 at its intrinsic value 120.00 (₹9,000). Brokerage 20,
# STT on exercise 0.125 % = 11.25, exchange 3.1527, IPFT 0.045, SEBI 0.009, no stamp (a
# sale), GST 0.18 × (20 + 3.1527 + 0.009) = 4.169106: ₹38.625806.
EXERCISED = Charges(D(20), D("11.25"), D("3.1527"), D("0.045"), D("0.009"), D(0),
                    D("4.169106"))  # fmt: skip
# The same fill charged as a sale (what kitetui did before): STT 0.1 % of the premium, 9.
SOLD = Charges(D(20), D(9), D("3.1527"), D("0.045"), D("0.009"), D(0), D("4.169106"))
# A short put assigned: BUY 75 at its intrinsic value 89.00 (₹6,675). Brokerage 20, no
# STT, exchange 2.3382525, IPFT 0.033375, SEBI 0.006675, stamp 0.003 % = 0.20025,
# GST 0.18 × (20 + 2.3382525 + 0.006675) = 4.02208695: ₹26.60063945.
ASSIGNED = Charges(D(20), D(0), D("2.3382525"), D("0.033375"), D("0.006675"), D("0.20025"),
                   D("4.02208695"))  # fmt: skip
# A long future cash-settled: SELL 75 at 24,000.00 (₹18,00,000). Brokerage min(20, 540)
# = 20, STT 0.02 % = 360, exchange 31.14, IPFT 1.80, SEBI 1.80, GST 0.18 × 52.94 = 9.5292:
# ₹424.2692.
FUTURE_SETTLED = Charges(D(20), D(360), D("31.14"), D("1.8"), D("1.8"), D(0), D("9.5292"))


def _order(symbol: str, side: Side, quantity: int, reason: str) -> Order:
    return Order(tag=f"{symbol}-{side.value}", engine="options", symbol=symbol,
                 exchange=Exchange.NFO, side=side, quantity=quantity,
                 order_type=OrderType.MARKET, product=Product.NRML,
                 purpose=OrderPurpose.SQUARE_OFF, status=OrderStatus.OPEN, ts_ns=_ns(DAY),
                 reason=reason)  # fmt: skip


def _charge(
    symbol: str, side: Side, quantity: int, price: float, kind: SettlementKind | None, day=DAY
) -> tuple[Fill, list[Event]]:
    """One settlement fill through the desk's charger, its order named by its reason."""
    events: list[Event] = []
    charger = FillCharger(default_calculator(), CONTRACTS, events.append)
    why = expiry_settlement.reason(kind, "test") if kind else "exit"
    order = _order(symbol, side, quantity, why)
    fill = Fill("f1", order.tag, symbol, side, quantity, price, _ns(day), "options",
                Product.NRML)  # fmt: skip
    charged = charger.quote(order, fill)
    charger.take(order.tag, charged)
    return charged.fill, events


def _same(a: Charges, b: Charges) -> bool:
    return all(x == y for (_, x), (_, y) in zip(a.items(), b.items(), strict=True))


@pytest.mark.parametrize(
    ("symbol", "side", "price", "kind", "expected", "paise"),
    [
        (CALL.tradingsymbol, Side.SELL, 120.0, SettlementKind.EXERCISE, EXERCISED, 3863),
        (PUT.tradingsymbol, Side.BUY, 89.0, SettlementKind.ASSIGNMENT, ASSIGNED, 2660),
        (FUT.tradingsymbol, Side.SELL, 24000.0, SettlementKind.FUTURE, FUTURE_SETTLED, 42427),
        (CALL.tradingsymbol, Side.SELL, 120.0, None, SOLD, 3638),  # a trade, for contrast
    ],
)
def test_settlement_fill_with_its_kind_is_charged_as_worked_by_hand(
    symbol: str,
    side: Side,
    price: float,
    kind: SettlementKind | None,
    expected: Charges,
    paise: int,
) -> None:
    fill, events = _charge(symbol, side, 75, price, kind)
    assert fill.charges is not None and not events
    assert _same(fill.charges.charges, expected), fill.charges.charges
    assert fill.charges.paise == paise


@pytest.mark.parametrize("side", [Side.SELL, Side.BUY])
def test_option_lapsing_worthless_with_its_one_tick_close_is_charged_nothing(side: Side) -> None:
    """Out of the money at expiry, long or short: no order reaches the exchange, so no
    brokerage, STT or levy; kitetui's close at one tick (no fill is at zero) costs 0."""
    fill, events = _charge(CALL.tradingsymbol, side, 75, 0.05, SettlementKind.LAPSE)
    assert fill.charges is not None and not events
    assert fill.charges.charges.total == 0 and fill.charges.paise == 0
    traded, _ = _charge(CALL.tradingsymbol, side, 75, 0.05, None)
    assert traded.charges is not None and traded.charges.charges.brokerage == 20  # a trade


@pytest.mark.parametrize(
    ("day", "exercise", "sale"),
    [
        (date(2023, 6, 1), "0.00125", "0.000625"),  # options sold 0.0625 % from Apr 2023
        (date(2025, 7, 1), "0.00125", "0.001"),  # 0.1 % from Oct 2024
        (date(2026, 4, 1), "0.0015", "0.0015"),  # both 0.15 % from 1 April 2026
    ],
)
def test_exercise_stt_with_each_period_is_its_rate_of_the_intrinsic_value(
    day: date, exercise: str, sale: str
) -> None:
    """120.00 × 75 = ₹9,000 of intrinsic value: STT on exercise by the table's period,
    never the sale's rate on the premium."""
    exercised, _ = _charge(CALL.tradingsymbol, Side.SELL, 75, 120.0, SettlementKind.EXERCISE, day)
    sold, _ = _charge(CALL.tradingsymbol, Side.SELL, 75, 120.0, None, day)
    assert exercised.charges is not None and sold.charges is not None
    assert exercised.charges.charges.stt == D(exercise) * 9000
    assert sold.charges.charges.stt == D(sale) * 9000


def test_settlement_kind_that_does_not_fit_the_contract_is_journaled_unpriced() -> None:
    """A future cannot lapse: the fill is never charged a guess, and an event says so."""
    fill, events = _charge(FUT.tradingsymbol, Side.SELL, 75, 24000.0, SettlementKind.LAPSE)
    assert fill.charges is None
    assert [e.kind.value for e in events] == ["ChargesUnpriced"]
    assert "only an option lapses" in events[0].message


@pytest.mark.parametrize(
    ("is_option", "long", "value", "kind"),
    [
        (True, True, 120.0, SettlementKind.EXERCISE),
        (True, False, 89.0, SettlementKind.ASSIGNMENT),
        (True, True, 0.0, SettlementKind.LAPSE),
        (True, False, 0.0, SettlementKind.LAPSE),
        (False, True, 24000.0, SettlementKind.FUTURE),
        (False, False, 24000.0, SettlementKind.FUTURE),
    ],
)
def test_kind_for_with_moneyness_and_side_names_the_settlement(
    is_option: bool, long: bool, value: float, kind: SettlementKind
) -> None:
    assert expiry_settlement.kind_for(is_option, long, value) is kind
    said = expiry_settlement.reason(kind, "intrinsic value 1.00 (NIFTY 50 last at 2.00)")
    assert expiry_settlement.kind_of(said) is kind


@pytest.mark.parametrize(
    "reason",
    [
        "expiry settlement at intrinsic value 261.00",  # journaled before kinds: a trade
        "expiry settlement (bogus) at 1.00",
        "expiry settlement (exercise",
        "auto square-off by the broker",
        "",
    ],
)
def test_kind_of_with_a_reason_naming_no_settlement_is_none(reason: str) -> None:
    assert expiry_settlement.kind_of(reason) is None


def test_report_pricing_of_an_old_journal_reads_the_settlement_from_the_order_reason() -> None:
    """A database from before fills carried charges is priced by ``backtest.costs`` the
    same way the desk charges it: the order's reason names the settlement."""

    def journaled(kind: SettlementKind | None, tag: str) -> JournaledFill:
        reason = expiry_settlement.reason(kind, "t") if kind else ""
        return JournaledFill(1, "f", tag, _ns(DAY), "options", "NFO", CALL.tradingsymbol,
                             "NRML", Side.SELL, 75, D("120.0"), reason)  # fmt: skip

    def lookup(day: str, exchange: str, symbol: str) -> tuple[str, str]:
        return ("NFO-OPT", "NIFTY")

    fills = [journaled(SettlementKind.EXERCISE, "A"), journaled(None, "B")]
    charges, problems = fill_charges(fills, lookup)
    assert not problems
    assert charges[0] is not None and _same(charges[0], EXERCISED)
    assert charges[1] is not None and _same(charges[1], SOLD)
