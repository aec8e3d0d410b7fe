"""``POST /charges/orders`` on the sim, through the real kiteconnect client, and the live
check that holds the desk's journaled charges against it (kitetui/venues/contract_check.py).

The sim prices with kitetui's own rate table, so a desk that charged its fills right
sees no difference; a figure changed on our side is reported figure by figure; a
refused call is said, never silent. Hand-derived figures pin one line (rates.yaml on
2022-11-18: brokerage 0.03 %, NSE 0.00345 %, SEBI ₹10/crore, stamp 0.003 % on buys).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import pytest
from kiteconnect import exceptions as kex
from sim_support import API_KEY

from kitetui.brokers.kite import KiteBroker
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
from kitetui.trading.charges import default_calculator
from kitetui.trading.fill_charges import FillCharger
from kitetui.venues.contract_check import check_contract_note

SBIN = {
    "order_id": "221118000000001",
    "exchange": "NSE",
    "tradingsymbol": "SBIN",
    "transaction_type": "BUY",
    "variety": "regular",
    "product": "MIS",
    "order_type": "MARKET",
    "quantity": 10,
    "average_price": 600.0,
}
FUT = {
    **SBIN,
    "order_id": "221118000000002",
    "exchange": "NFO",
    "tradingsymbol": "NIFTY22NOVFUT",
    "transaction_type": "SELL",
    "product": "NRML",
    "quantity": 50,
    "average_price": 18300.5,
}


def test_note_prices_each_order_as_kites_mock_shapes_it(sim_rest) -> None:
    kite = sim_rest.kite()
    sbin, fut = kite.get_virtual_contract_note([SBIN, FUT])
    assert (sbin["tradingsymbol"], sbin["quantity"], sbin["price"]) == ("SBIN", 10, 600.0)
    charges = sbin["charges"]
    assert charges["brokerage"] == pytest.approx(1.8, abs=1e-12)  # 0.03 % of ₹6,000
    assert charges["transaction_tax"] == 0  # intraday STT is on the sell side
    assert charges["transaction_tax_type"] == "stt"
    assert charges["stamp_duty"] == pytest.approx(0.18, abs=1e-12)
    assert charges["sebi_turnover_charge"] == pytest.approx(0.006, abs=1e-12)
    assert charges["exchange_turnover_charge"] == pytest.approx(0.207, abs=1e-12)
    gst = 0.18 * (1.8 + 0.207 + 0.006)
    assert charges["gst"]["igst"] == charges["gst"]["total"] == pytest.approx(gst, abs=1e-12)
    assert (charges["gst"]["cgst"], charges["gst"]["sgst"]) == (0, 0)
    assert charges["total"] == pytest.approx(1.8 + 0.18 + 0.006 + 0.207 + gst, abs=1e-12)
    assert fut["charges"]["brokerage"] == 20  # 0.03 % of ₹9.15 lakh is far above the cap
    assert fut["charges"]["transaction_tax"] > 0  # futures STT on the sell side


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([{**SBIN, "quantity": 0}], "order 0: `quantity` must be a positive integer"),
        ([SBIN, {**FUT, "average_price": "x"}], "order 1: `average_price` must be a positive"),
        ([{k: v for k, v in SBIN.items() if k != "exchange"}], "order 0: missing or invalid"),
        ([{**SBIN, "product": "BO"}], "order 0: invalid `product` 'BO'"),
        ([{**SBIN, "transaction_type": "HOLD"}], "invalid `transaction_type` 'HOLD'"),
        ([{**SBIN, "tradingsymbol": "NOPE"}], "order 0: invalid `tradingsymbol` 'NOPE'"),
        ([{**SBIN, "product": "NRML"}], "cash equity takes product MIS or CNC"),
        (["SBIN"], "order 0: must be an object"),
    ],
)
def test_a_bad_order_is_an_input_exception_naming_it(sim_rest, body, says: str) -> None:
    with pytest.raises(kex.InputException, match=says.replace("(", r"\(")):
        sim_rest.kite().get_virtual_contract_note(body)


def test_the_note_needs_a_session(sim_rest) -> None:
    with pytest.raises(kex.TokenException):
        sim_rest.kite(login=False).get_virtual_contract_note([SBIN])


# --------------------------------------------------------------------------- the live check


class _Desk:
    """What the check reads of a trader: its orders, its charger and its event door."""

    def __init__(self, instruments) -> None:
        self.orders: dict[str, Order] = {}
        self.events: list[Event] = []
        self.charger = FillCharger(default_calculator(), instruments)

    def record_event(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def _filled(
    desk: _Desk,
    raw: dict,
    tag: str,
    ts_ns: int,
    parts: list[tuple[int, float]],
    reason: str = "",
) -> None:
    order = Order(
        tag=tag,
        engine="fno",
        symbol=raw["tradingsymbol"],
        exchange=Exchange(raw["exchange"]),
        side=Side(raw["transaction_type"]),
        quantity=sum(q for q, _ in parts),
        order_type=OrderType.MARKET,
        product=Product(raw["product"]),
        purpose=OrderPurpose.ENTRY,
        status=OrderStatus.COMPLETE,
        ts_ns=ts_ns,
        filled_qty=sum(q for q, _ in parts),
        avg_price=sum(q * p for q, p in parts) / sum(q for q, _ in parts),
        broker_order_id=raw["order_id"],
        reason=reason,
    )
    desk.orders[tag] = order
    for n, (qty, price) in enumerate(parts):
        fill = Fill(f"{tag}-{n}", tag, order.symbol, order.side, qty, price, ts_ns, "fno")
        desk.charger.take(tag, desk.charger.quote(order, fill))


def _check(sim_rest, desk: _Desk):
    kite = sim_rest.kite()
    broker = KiteBroker.connect(API_KEY, kite.access_token, root=sim_rest.url, timeout=3.0)
    broker.read_attempts = 1
    day = ist_date(sim_rest.market.now_ns)
    return asyncio.run(asyncio.wait_for(check_contract_note(broker, desk, day), 20))


def _desk(sim_rest) -> _Desk:
    market = sim_rest.market
    instruments = {
        symbol: market.instrument(exchange, symbol)
        for exchange, symbol in (("NSE", "SBIN"), ("NFO", "NIFTY22NOVFUT"))
    }
    desk = _Desk(instruments)
    now = market.now_ns
    _filled(desk, SBIN, "SB1", now, [(10, 600.0)])
    _filled(desk, FUT, "FU1", now, [(25, 18300.0), (25, 18301.0)])  # one order, two fills
    return desk


def test_charges_the_desk_journaled_agree_with_the_sims_note(sim_rest) -> None:
    desk = _desk(sim_rest)
    check = _check(sim_rest, desk)
    assert check is not None and check.differences == ()
    assert [o.tag for o in check.orders] == ["SB1", "FU1"]
    assert desk.kinds() == ["ContractNoteChecked"]
    assert "2 orders of 2022-11-18 held against Kite's contract note: 0 difference(s)" in (
        desk.events[0].message
    )


def test_a_figure_that_differs_is_one_event_per_figure_naming_the_order(sim_rest) -> None:
    desk = _desk(sim_rest)
    state = desk.charger.state("SB1")
    charges = replace(state.charges, stt=state.charges.stt + Decimal("0.01"))
    # As if we had charged more STT (an order's state computes its charges from its
    # turnover, so the stand-in says them instead).
    desk.charger._orders["SB1"] = SimpleNamespace(  # type: ignore[assignment]
        spec=state.spec,
        rates=state.rates,
        quantity=state.quantity,
        turnover=state.turnover,
        charges=charges,
    )
    check = _check(sim_rest, desk)
    assert check is not None
    assert [(d.line, d.field) for d in check.differences] == [
        (1, "transaction_tax"),
        (1, "total"),
    ]
    mismatches = [e for e in desk.events if e.kind == "ChargesMismatched"]
    assert [e.data["field"] for e in mismatches] == ["transaction_tax", "total"]
    assert mismatches[0].data["tag"] == "SB1" and mismatches[0].symbol == "SBIN"
    assert mismatches[0].data["ours"] == "0.01" and mismatches[0].data["kite"] == "0"
    assert desk.events[-1].kind == "ContractNoteChecked" and desk.events[-1].level == "WARNING"


def test_a_refused_note_is_said_and_changes_nothing(sim_rest) -> None:
    desk = _desk(sim_rest)
    sim_rest.call(sim_rest.exchange.faults.add_spec, "contract_note:500:1")
    assert _check(sim_rest, desk) is None
    assert desk.kinds() == ["ContractNoteCheckFailed"]
    assert "2 orders of 2022-11-18 could not be checked" in desk.events[0].message
    assert desk.charger.state("SB1").quantity == 10


def test_a_day_without_executed_orders_asks_nothing(sim_rest) -> None:
    desk = _Desk({})
    check = _check(sim_rest, desk)
    assert check is not None and check.orders == ()
    assert desk.kinds() == ["ContractNoteChecked"]


def test_an_order_the_broker_squared_off_is_checked_without_its_fee(sim_rest) -> None:
    """Kite's virtual note is priced from the order's fields: it cannot know the RMS
    placed it, so the ₹50 + GST we charged is left out of the comparison (it is on the
    day's real contract note), not reported as a difference on every such order."""
    desk = _desk(sim_rest)
    now = sim_rest.market.now_ns
    squared = {**SBIN, "order_id": "221118000000003", "transaction_type": "SELL"}
    _filled(desk, squared, "RMS1", now, [(10, 601.0)], "auto square-off by the broker (order 3)")
    assert desk.charger.state("RMS1").charges.brokerage > 50  # charged the fee
    check = _check(sim_rest, desk)
    assert check is not None and check.differences == ()


def test_an_order_of_an_earlier_day_is_priced_at_that_days_rates(sim_rest) -> None:
    """A desk that checks after the market moved on (or a night later): the note prices
    each order on the day its id names, as Kite does, not at today's rates (futures
    STT went from 0.01 % to 0.0125 % on 2023-04-01)."""
    desk = _Desk({"NIFTY22NOVFUT": sim_rest.market.instrument("NFO", "NIFTY22NOVFUT")})
    then = 1_680_493_500 * 1_000_000_000  # 2023-04-03 09:15 IST
    sold = {**FUT, "order_id": "230403000000009", "transaction_type": "SELL"}
    _filled(desk, sold, "OLD1", then, [(50, 18300.0)])
    kite = sim_rest.kite()
    broker = KiteBroker.connect(API_KEY, kite.access_token, root=sim_rest.url, timeout=3.0)
    broker.read_attempts = 1
    check = asyncio.run(asyncio.wait_for(check_contract_note(broker, desk, ist_date(then)), 20))
    assert check is not None and [o.tag for o in check.orders] == ["OLD1"]
    assert check.differences == ()


def test_a_cnc_position_squared_off_the_same_day_agrees_with_the_sims_netted_note(
    sim_rest,
) -> None:
    """CNC bought 100 and sold 60 the same day: both the desk and the sim's note bill 60 of
    the buy and the whole sell as intraday, 40 of the buy as delivery (kitetui.trading.
    same_day); before, the sim priced both orders as delivery, and so did the desk."""
    desk = _Desk({"SBIN": sim_rest.market.instrument("NSE", "SBIN")})
    now = sim_rest.market.now_ns
    bought = {**SBIN, "order_id": "221118000000011", "product": "CNC"}
    sold = {**bought, "order_id": "221118000000012", "transaction_type": "SELL"}
    _filled(desk, bought, "CB1", now, [(100, 600.0)])
    _filled(desk, sold, "CS1", now + 1, [(60, 605.0)])
    assert desk.charger.state("CB1").intraday_quantity == 60
    check = _check(sim_rest, desk)
    assert check is not None and check.differences == ()
    assert desk.charger.state("CS1").charges.stt == Decimal("9.075")  # 0.025 % of ₹36,300
