"""kitetui.sim.order_gate: Kite's field checks on placements and modifications, in order.

The gate is driven directly over a synthetic market: SBIN last traded at 500 (circuit
400-600), the NIFTY future at 19,500 (17,550-21,450, lot 50, freeze 1,800) and a NIFTY
call at 100 (LPP band 60-140 around its reference).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_units import AFTER_CLOSE_S, CALL_KEY, FUT_KEY, STOCK_KEY, T0, new_market, refused

from kitetui.sim.errors import KiteError
from kitetui.sim.order_book import SimOrder
from kitetui.sim.order_gate import OrderGate
from kitetui.sim.rules import (
    MSG_CIRCUIT,
    MSG_NO_PROTECTION,
    MSG_SL_M_OPTIONS,
    MSG_TAG_CHARACTERS,
    MSG_TAG_LENGTH,
    SimRules,
    freeze_message,
    trigger_circuit_message,
)
from kitetui.sim.tape import TradeTape


def make_gate(**rules: Any) -> OrderGate:
    market = new_market()
    sim_rules = SimRules(**rules)
    tape = TradeTape(market.master, lpp=sim_rules.lpp)
    market.add_listener(lambda _ts, items, _tokens: tape.record(items))
    market.inject_tick(STOCK_KEY, 500.0, ts_ns=T0)
    market.inject_tick(FUT_KEY, 19_500.0, ts_ns=T0 + 1)
    market.inject_tick(CALL_KEY, 100.0, ts_ns=T0 + 2)
    return OrderGate(market, sim_rules, tape, {"NIFTY": 1800})


@pytest.fixture
def gate() -> OrderGate:
    return make_gate()


def stock(**extra: Any) -> dict[str, Any]:
    base = {
        "exchange": "NSE",
        "tradingsymbol": "SBIN",
        "transaction_type": "BUY",
        "quantity": "10",
        "product": "MIS",
        "order_type": "LIMIT",
        "price": "500",
    }
    return {**base, **extra}


def future(**extra: Any) -> dict[str, Any]:
    return stock(**{"exchange": "NFO", "tradingsymbol": "NIFTY23NOVFUT", "quantity": 50,
                    "price": 19_500, **extra})  # fmt: skip


def call(**extra: Any) -> dict[str, Any]:
    return stock(**{"exchange": "NFO", "tradingsymbol": "NIFTY23NOV19500CE", "quantity": 50,
                    "price": 100, **extra})  # fmt: skip


LOTS = "Quantity should be a multiple of lot size (50) for NIFTY23NOVFUT."
NO_BO = "Product `BO` is not supported by the simulated exchange."
NO_CO = "Product `CO` is not supported by the simulated exchange."
NO_CNC = "CNC is not allowed for F&O instruments; use NRML or MIS."


def as_order(gate: OrderGate, params: dict[str, Any], variety: str = "regular") -> SimOrder:
    fields = gate.placement(variety, params)
    return SimOrder(order_id="1", user_id="U", variety=variety, order_ns=T0, guid="g", **fields)


# ---------------------------------------------------------------------- placement


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (stock(), ("LIMIT", 10, 500.0, 0.0, 0)),
        (stock(order_type="market", price="", market_protection="2"), ("MARKET", 10, 0.0, 0.0, 2)),
        (stock(order_type="SL", trigger_price="501"), ("SL", 10, 500.0, 501.0, 0)),
        (
            stock(order_type="SL-M", trigger_price="501", market_protection="-1", price="7"),
            ("SL-M", 10, 0.0, 501.0, -1),
        ),
        (stock(trigger_price="480"), ("LIMIT", 10, 500.0, 0.0, 0)),  # unused trigger: 0
    ],
)
def test_placement_with_valid_fields_keeps_only_what_the_type_uses(gate, params, expected):
    fields = gate.placement("regular", params)
    got = (
        fields["order_type"],
        fields["quantity"],
        fields["price"],
        fields["trigger_price"],
        fields["market_protection"],
    )
    assert got == expected
    assert (fields["validity"], fields["validity_ttl"], fields["disclosed_quantity"]) == (
        "DAY",
        0,
        0,
    )
    assert fields["instrument"].key == STOCK_KEY and fields["tag"] is None


@pytest.mark.parametrize(
    ("variety", "params", "message"),
    [
        ("co", stock(), "Variety `co` is not supported by the simulated exchange."),
        ("gtt", stock(), "Invalid `variety`."),
        ("regular", stock(quantity=""), "Missing or empty field `quantity`."),
        ("regular", stock(product=" "), "Missing or empty field `product`."),
        ("regular", stock(exchange="MCX"), "Invalid `exchange`."),
        ("regular", stock(tradingsymbol="NOPE"), "Invalid `tradingsymbol`: instrument not found."),
        ("regular", stock(tradingsymbol="NIFTY 50"), "Index instruments cannot be traded."),
        ("regular", stock(transaction_type="HOLD"), "Invalid `transaction_type`."),
        ("regular", stock(order_type="STOP"), "Invalid `order_type`."),
        (
            "regular",
            stock(product="BO"),
            "Product `BO` is not supported by the simulated exchange.",
        ),
        ("regular", stock(product="XX"), "Invalid `product`."),
        ("regular", stock(product="NRML"), "NRML is not allowed for equity; use CNC or MIS."),
        (
            "regular",
            future(product="CNC"),
            "CNC is not allowed for F&O instruments; use NRML or MIS.",
        ),
        ("regular", stock(quantity="0"), "Invalid `quantity`."),
        ("regular", stock(quantity="2.5"), "Invalid `quantity`."),
        ("regular", stock(quantity="ten"), "Invalid `quantity`."),
        ("regular", stock(quantity="inf"), "Invalid `quantity`."),
        (
            "regular",
            future(quantity=70),
            "Quantity should be a multiple of lot size (50) for NIFTY23NOVFUT.",
        ),
        ("regular", future(quantity=1850), freeze_message(1850, 1800, 50)),
        ("regular", stock(price="0"), "Invalid `price`."),
        ("regular", stock(price="-5"), "Invalid `price`."),
        ("regular", stock(order_type="SL", trigger_price="0"), "Invalid `trigger_price`."),
        (
            "regular",
            stock(market_protection="x"),
            ("Invalid request (failed to decode market_protection, got: x (expected decimal))"),
        ),
        ("regular", stock(market_protection="101"), "Invalid `market_protection`."),
        ("regular", stock(market_protection="-2"), "Invalid `market_protection`."),
        (
            "regular",
            call(order_type="SL-M", trigger_price=110, market_protection=2),
            MSG_SL_M_OPTIONS,
        ),
        ("regular", stock(order_type="MARKET"), MSG_NO_PROTECTION),
        (
            "regular",
            stock(order_type="SL-M", trigger_price=501, market_protection=0),
            MSG_NO_PROTECTION,
        ),
        ("regular", stock(price="600.05"), MSG_CIRCUIT),
        ("regular", stock(transaction_type="SELL", price="399.95"), MSG_CIRCUIT),
        (
            "regular",
            stock(order_type="SL", price=500, trigger_price=601),
            trigger_circuit_message(True, 600.0),
        ),
        (
            "regular",
            stock(transaction_type="SELL", order_type="SL", price=500, trigger_price=399),
            trigger_circuit_message(False, 400.0),
        ),
        ("regular", call(price=140.05), MSG_CIRCUIT),  # the LPP band, in the circuit's words
        ("regular", call(transaction_type="SELL", price=59.95), MSG_CIRCUIT),
        ("regular", stock(validity="GTC"), "Invalid `validity`."),
        ("regular", stock(validity="TTL"), "Invalid `validity_ttl`."),
        ("regular", stock(validity="TTL", validity_ttl="-1"), "Invalid `validity_ttl`."),
        ("regular", stock(disclosed_quantity="11"), "Invalid `disclosed_quantity`."),
        ("regular", stock(disclosed_quantity="-1"), "Invalid `disclosed_quantity`."),
        ("regular", stock(tag="x" * 21), MSG_TAG_LENGTH),
        ("regular", stock(tag="has space"), MSG_TAG_CHARACTERS),
    ],
)
def test_placement_with_a_bad_field_answers_kites_input_exception(gate, variety, params, message):
    with refused(message):
        gate.placement(variety, params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        # each pair: the first check in Kite's order names the problem
        (stock(transaction_type="HOLD", order_type="STOP"), "Invalid `transaction_type`."),
        (
            stock(product="CO", quantity="0"),
            "Product `CO` is not supported by the simulated exchange.",
        ),
        (
            future(quantity=70, price="-1"),
            "Quantity should be a multiple of lot size (50) for NIFTY23NOVFUT.",
        ),
        (stock(price="0", market_protection="x"), "Invalid `price`."),
        (
            stock(market_protection="x", price="700"),
            ("Invalid request (failed to decode market_protection, got: x (expected decimal))"),
        ),
        (stock(price="700", validity="GTC"), MSG_CIRCUIT),
        (stock(validity="GTC", disclosed_quantity="-1"), "Invalid `validity`."),
        (stock(disclosed_quantity="-1", tag="bad tag"), "Invalid `disclosed_quantity`."),
    ],
)
def test_placement_with_two_bad_fields_names_the_first_in_kites_order(gate, params, message):
    with refused(message):
        gate.placement("regular", params)


def test_placement_with_relaxed_rules_takes_what_strict_rules_refuse():
    gate = make_gate(
        sl_m_options=False,
        require_market_protection=False,
        circuit_limits=False,
        lpp=False,
        tag_alphanumeric=False,
    )
    gate.placement("regular", call(order_type="SL-M", trigger_price=110))
    gate.placement("regular", stock(order_type="MARKET", tag="has space"))
    gate.placement("regular", stock(price=700))
    gate.placement("regular", call(price=300))


def test_placement_with_a_contract_past_its_expiry_day_is_unknown(gate):
    """On its expiry day a contract trades; the day after it is gone from Kite's master,
    and an order for it (a stop re-placed for a position carried over) is refused."""
    gate.market.advance_by(15 * 86_400)  # 2023-11-30 09:30 IST, the NOV expiry
    gate.placement("regular", future())
    gate.placement("regular", call())
    gate.market.advance_by(86_400)  # 2023-12-01
    for params in (future(), call()):
        with refused("Invalid `tradingsymbol`: instrument not found."):
            gate.placement("regular", params)
    gate.placement("regular", stock())  # no expiry: unaffected


def test_placement_with_amo_skips_the_lpp_band_but_not_the_circuit(gate):
    gate.market.advance_by(AFTER_CLOSE_S)
    gate.placement("amo", call(price=150))
    with refused(MSG_CIRCUIT):
        gate.placement("amo", call(price=400.05))


def test_placement_with_ttl_and_tag_keeps_them(gate):
    fields = gate.placement("regular", stock(validity="ttl", validity_ttl="5", tag="Ab12"))
    assert (fields["validity"], fields["validity_ttl"], fields["tag"]) == ("TTL", 5, "Ab12")
    assert gate.placement("regular", stock(validity_ttl="5"))["validity_ttl"] == 0


# ---------------------------------------------------------------------- modification


def test_modification_with_no_fields_keeps_the_order_as_it_stands(gate):
    order = as_order(gate, stock(validity="IOC", disclosed_quantity="3"))
    fields = gate.modification(order, {})
    assert (fields.order_type, fields.quantity, fields.price, fields.trigger_price) == (
        "LIMIT",
        10,
        500.0,
        0.0,
    )
    assert (fields.validity, fields.disclosed_quantity, fields.market_protection) == (
        "IOC",
        None,  # absent: unchanged
        0,
    )


def test_modification_with_quantity_not_above_the_filled_is_refused(gate):
    order = as_order(gate, stock())
    order.filled_quantity = 4
    with refused("Invalid `quantity`."):
        gate.modification(order, {"quantity": "4"})
    assert gate.modification(order, {"quantity": "5"}).quantity == 5


def test_modification_with_protected_order_carries_its_protection(gate):
    order = as_order(gate, stock(order_type="MARKET", price="", market_protection="3"))
    fields = gate.modification(order, {"order_type": "SL-M", "trigger_price": "505"})
    assert (fields.order_type, fields.trigger_price, fields.market_protection) == ("SL-M", 505, 3)
    plain = as_order(gate, stock())
    with refused(MSG_NO_PROTECTION):
        gate.modification(plain, {"order_type": "MARKET"})


def test_modification_with_two_bad_fields_checks_validity_before_protection(gate):
    order = as_order(gate, stock())
    with refused("Invalid `validity`."):
        gate.modification(order, {"validity": "GTC", "market_protection": "x"})
    with refused("Invalid `price`."):
        gate.modification(order, {"price": "0", "order_type": "LIMIT"})


# ---------------------------------------------------------------------- property

fields = st.fixed_dictionaries(
    {},
    optional={
        "exchange": st.sampled_from(["NSE", "NFO", "nse", "", "MCX"]),
        "tradingsymbol": st.sampled_from(["SBIN", "NIFTY23NOVFUT", "NIFTY23NOV19500CE", "X"]),
        "transaction_type": st.sampled_from(["BUY", "SELL", "sell", "", "X"]),
        "quantity": st.one_of(st.integers(-100, 2000), st.sampled_from(["", "1.5", "x"])),
        "product": st.sampled_from(["MIS", "NRML", "CNC", "CO", ""]),
        "order_type": st.sampled_from(["MARKET", "LIMIT", "SL", "SL-M", "", "X"]),
        "price": st.one_of(st.floats(allow_nan=True), st.sampled_from(["", "x"])),
        "trigger_price": st.one_of(st.floats(allow_nan=True), st.sampled_from(["", "x"])),
        "market_protection": st.one_of(st.floats(-3, 120), st.sampled_from(["", "x"])),
        "validity": st.sampled_from(["DAY", "IOC", "TTL", "", "X"]),
        "validity_ttl": st.one_of(st.integers(-5, 5), st.just("x")),
        "disclosed_quantity": st.integers(-5, 100),
        "tag": st.one_of(st.none(), st.text(max_size=25)),
    },
)


@settings(max_examples=300, deadline=None)
@given(params=fields, variety=st.sampled_from(["regular", "amo", "co", "x"]))
def test_property_with_any_form_the_gate_refuses_as_kite_or_returns_a_sound_order(params, variety):
    gate = GATE
    try:
        got = gate.placement(variety, params)
    except KiteError as error:
        assert (error.status, error.error_type) == (400, "InputException")
        return
    kind, price, trigger = got["order_type"], got["price"], got["trigger_price"]
    assert (price > 0) == (kind in ("LIMIT", "SL"))
    assert (trigger > 0) == (kind in ("SL", "SL-M"))
    lot = max(1, got["instrument"].lot_size)
    assert got["quantity"] > 0 and got["quantity"] % lot == 0
    assert 0 <= got["disclosed_quantity"] <= got["quantity"]
    assert got["tag"] is None or (0 < len(got["tag"]) <= 20 and got["tag"].isalnum())


GATE = make_gate()
