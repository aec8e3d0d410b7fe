"""Risk: the gate for entries, the always-open door for exits, halts and persistence."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import (
    Exchange,
    OrderIntent,
    OrderPurpose,
    RiskVerdict,
    Side,
    TradingState,
)
from kitetui.trading.risk import EXIT_PURPOSES, ExposureView, RiskEngine, RiskLimits

LIMITS = RiskLimits(
    max_daily_loss=10_000,
    max_symbol_loss=3_000,
    max_open_positions=3,
    max_trades_per_symbol_per_day=2,
    max_gross_exposure=500_000,
    max_order_value=200_000,
    max_order_quantity=1_000,
)
FLAT = ExposureView(open_positions=0, gross_exposure_paise=0, position_qty=0)


def intent(
    qty: int = 10,
    side: Side = Side.BUY,
    purpose: OrderPurpose = OrderPurpose.ENTRY,
    symbol: str = "INFY",
) -> OrderIntent:
    return OrderIntent("eq", symbol, Exchange.NSE, side, qty, purpose)


def engine(**changes) -> RiskEngine:
    risk = RiskEngine(LIMITS, trading_day="2024-05-17")
    for key, value in changes.items():
        setattr(risk, key, value)
    return risk


# ---------------------------------------------------------------------- entries


def test_a_cnc_entry_that_sells_is_blocked_as_a_short_without_holdings() -> None:
    """A replay with ``product: CNC`` booked 18 short entries Kite's RMS would reject."""
    from dataclasses import replace

    from kitetui.domain import Product

    risk = engine()
    short = replace(intent(side=Side.SELL), product=Product.CNC)
    decision = risk.check(short, 100.0, FLAT)
    assert (decision.verdict, decision.rule) == (RiskVerdict.BLOCK, "cnc_short")
    assert "sell short intraday with product MIS" in decision.reason
    long = replace(intent(side=Side.BUY), product=Product.CNC)
    assert risk.check(long, 100.0, FLAT).verdict is RiskVerdict.ALLOW
    mis_short = intent(side=Side.SELL)
    assert risk.check(mis_short, 100.0, FLAT).verdict is RiskVerdict.ALLOW
    held = ExposureView(open_positions=1, gross_exposure_paise=0, position_qty=10)
    closing = replace(intent(side=Side.SELL, purpose=OrderPurpose.EXIT), product=Product.CNC)
    assert risk.check(closing, 100.0, held).verdict is RiskVerdict.ALLOW  # selling what is held


@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        (lambda r: r.trigger_kill("manual"), "kill_switch"),
        (lambda r: r.on_pnl(-1_000_000, {}), "halted"),
        (lambda r: r.pause_entries(), "entries_paused"),
        (lambda r: r.block_symbol("INFY", "bad fills"), "symbol_blocked"),
        (lambda r: (r.record_entry("INFY"), r.record_entry("INFY")), "max_trades_per_symbol"),
    ],
)
def test_check_entry_with_blocking_state_blocks_with_rule(setup, rule):
    risk = engine()
    setup(risk)
    decision = risk.check(intent(), 100.0, FLAT)
    assert decision.verdict is RiskVerdict.BLOCK
    assert decision.quantity == 0
    assert decision.rule == rule
    assert decision.reason


def test_check_entry_with_kill_switch_reports_the_kill_reason():
    risk = engine()
    risk.trigger_kill("SIGUSR1")
    decision = risk.check(intent(), 100.0, FLAT)
    assert "SIGUSR1" in decision.reason
    assert risk.state is TradingState.HALTED
    assert risk.halted_reason == decision.reason


@pytest.mark.parametrize(
    ("exposure", "verdict", "rule"),
    [
        # a new symbol at the position limit is blocked
        (ExposureView(3, 0, 0), RiskVerdict.BLOCK, "max_open_positions"),
        # adding to a symbol already held is not a new position
        (ExposureView(3, 0, 50), RiskVerdict.ALLOW, "entry"),
        (ExposureView(2, 0, 0), RiskVerdict.ALLOW, "entry"),
    ],
)
def test_check_entry_with_open_positions_applies_limit_to_new_symbols(exposure, verdict, rule):
    decision = engine().check(intent(), 100.0, exposure)
    assert (decision.verdict, decision.rule) == (verdict, rule)


@pytest.mark.parametrize(
    ("exposure", "verdict", "reason"),
    [
        # entries placed earlier in the batch, not yet filled, are positions to come
        (
            ExposureView(2, 0, 0, entries_working=1),
            RiskVerdict.BLOCK,
            "2 positions open and 1 more with an entry working, limit 3",
        ),
        (
            ExposureView(0, 0, 0, entries_working=3),
            RiskVerdict.BLOCK,
            "0 positions open and 3 more with an entry working, limit 3",
        ),
        (ExposureView(1, 0, 0, entries_working=1), RiskVerdict.ALLOW, "within limits"),
        # adding to a symbol held is still not a new position
        (ExposureView(2, 0, 50, entries_working=1), RiskVerdict.ALLOW, "within limits"),
    ],
)
def test_check_entry_counts_working_entries_as_open_positions(exposure, verdict, reason):
    decision = engine().check(intent(), 100.0, exposure)
    assert (decision.verdict, decision.reason) == (verdict, reason)


def test_check_entry_counts_working_entries_in_the_gross_exposure():
    # 4,00,000 held + 90,000 in working entries: 10,000 room at 100 is 100
    exposure = ExposureView(1, 40_000_000, 0, entries_working=1, entries_working_paise=9_000_000)
    decision = engine().check(intent(500), 100.0, exposure)
    assert (decision.verdict, decision.quantity, decision.rule) == (
        RiskVerdict.REDUCE,
        100,
        "max_gross_exposure",
    )
    assert decision.reason == (
        "gross exposure ₹490,000.00 (₹90,000.00 of it in working entries) + ₹50,000.00 "
        "over the limit ₹500,000.00: reduced 500 to 100"
    )
    full = ExposureView(0, 0, 0, entries_working=2, entries_working_paise=50_000_000)
    assert engine().check(intent(), 100.0, full).rule == "max_gross_exposure"


@pytest.mark.parametrize(
    ("qty", "price", "gross_paise", "lot", "verdict", "expected_qty", "rule"),
    [
        (10, 100.0, 0, 1, RiskVerdict.ALLOW, 10, "entry"),
        # quantity cap 1000
        (1500, 10.0, 0, 1, RiskVerdict.REDUCE, 1000, "max_order_quantity"),
        # quantity cap in lots of 75: 975
        (1500, 10.0, 0, 75, RiskVerdict.REDUCE, 975, "max_order_quantity"),
        # value cap 2,00,000 at 300: 666
        (900, 300.0, 0, 1, RiskVerdict.REDUCE, 666, "max_order_value"),
        # value cap in lots of 50: 650
        (900, 300.0, 0, 50, RiskVerdict.REDUCE, 650, "max_order_value"),
        # gross exposure: 4,90,000 used, 10,000 room at 100: 100
        (500, 100.0, 49_000_000, 1, RiskVerdict.REDUCE, 100, "max_gross_exposure"),
        # gross exposure full: blocked
        (500, 100.0, 50_000_000, 1, RiskVerdict.BLOCK, 0, "max_gross_exposure"),
        # room for 100 but lots of 150: blocked
        (500, 100.0, 49_000_000, 150, RiskVerdict.BLOCK, 0, "max_gross_exposure"),
        # bad valuation price
        (10, float("nan"), 0, 1, RiskVerdict.BLOCK, 0, "invalid_price"),
        (10, 0.0, 0, 1, RiskVerdict.BLOCK, 0, "invalid_price"),
        # a non-positive quantity is refused outright
        (0, 100.0, 0, 1, RiskVerdict.BLOCK, 0, "invalid_quantity"),
    ],
)
def test_check_entry_with_size_limits_reduces_or_blocks(
    qty, price, gross_paise, lot, verdict, expected_qty, rule
):
    decision = engine().check(intent(qty), price, ExposureView(0, gross_paise, 0), lot_size=lot)
    assert (decision.verdict, decision.quantity, decision.rule) == (verdict, expected_qty, rule)
    assert decision.reason


def test_check_entry_with_several_caps_reports_the_binding_rule_and_all_reasons():
    # 1500 -> 1000 (quantity) -> 666 (value at 300) -> 333 (gross room 1,00,000)
    decision = engine().check(intent(1500), 300.0, ExposureView(0, 40_000_000, 0))
    assert (decision.verdict, decision.quantity, decision.rule) == (
        RiskVerdict.REDUCE,
        333,
        "max_gross_exposure",
    )
    assert "quantity" in decision.reason and "value" in decision.reason


# ---------------------------------------------------------------------- exits


@pytest.mark.parametrize("purpose", sorted(EXIT_PURPOSES))
@pytest.mark.parametrize(
    ("side", "qty", "held", "verdict", "expected_qty"),
    [
        (Side.SELL, 10, 10, RiskVerdict.ALLOW, 10),
        (Side.SELL, 4, 10, RiskVerdict.ALLOW, 4),
        (Side.SELL, 15, 10, RiskVerdict.REDUCE, 10),
        (Side.BUY, 15, -10, RiskVerdict.REDUCE, 10),
        (Side.SELL, 10, 0, RiskVerdict.BLOCK, 0),
        (Side.BUY, 10, 10, RiskVerdict.BLOCK, 0),  # would add to the long
    ],
)
def test_check_exit_with_any_state_is_bounded_by_the_position(
    purpose, side, qty, held, verdict, expected_qty
):
    risk = engine()
    risk.trigger_kill("test")
    risk.on_pnl(-(10**9), {"INFY": -(10**9)})
    risk.pause_entries()
    for _ in range(5):
        risk.record_entry("INFY")
    decision = risk.check(intent(qty, side, purpose), float("nan"), ExposureView(9, 10**12, held))
    assert (decision.verdict, decision.quantity) == (verdict, expected_qty)


# ---------------------------------------------------------------------- P&L limits


def test_on_pnl_with_daily_loss_at_limit_halts_once():
    risk = engine()
    assert risk.on_pnl(-999_999, {}) == []
    breaches = risk.on_pnl(-1_000_000, {})
    assert len(breaches) == 1
    assert breaches[0].symbol == ""
    assert breaches[0].verdict is RiskVerdict.HALT
    assert breaches[0].rule == "max_daily_loss"
    assert risk.state is TradingState.HALTED
    assert risk.on_pnl(-2_000_000, {}) == []  # reported once


def test_on_pnl_with_symbol_loss_at_limit_blocks_that_symbol_once():
    risk = engine()
    breaches = risk.on_pnl(-300_000, {"INFY": -300_000, "TCS": -299_999, "SBIN": 500})
    assert [(b.symbol, b.verdict, b.rule) for b in breaches] == [
        ("INFY", RiskVerdict.BLOCK, "max_symbol_loss")
    ]
    assert "INFY" in risk.blocked_symbols
    assert risk.state is TradingState.ACTIVE
    assert risk.check(intent(symbol="TCS"), 100.0, FLAT).verdict is RiskVerdict.ALLOW
    assert risk.on_pnl(-300_000, {"INFY": -400_000}) == []


def test_reset_kill_with_daily_loss_halt_stays_halted():
    risk = engine()
    risk.trigger_kill("manual")
    risk.on_pnl(-1_000_000, {})
    risk.reset_kill()
    assert not risk.kill_switch
    assert risk.state is TradingState.HALTED
    assert risk.check(intent(), 100.0, FLAT).rule == "halted"


def test_reset_kill_with_kill_only_returns_to_active():
    risk = engine()
    risk.trigger_kill("manual")
    risk.reset_kill()
    assert risk.state is TradingState.ACTIVE
    assert risk.halted_reason == ""


@pytest.mark.parametrize(
    ("paused", "killed", "loss_halt", "state"),
    [
        (False, False, "", TradingState.ACTIVE),
        (True, False, "", TradingState.REDUCING),
        (True, True, "", TradingState.HALTED),
        (False, False, "max daily loss", TradingState.HALTED),
    ],
)
def test_state_with_flags_is_derived(paused, killed, loss_halt, state):
    risk = engine(entries_paused=paused, kill_switch=killed, loss_halt_reason=loss_halt)
    assert risk.state is state


def test_roll_day_with_new_day_resets_counters_blocks_and_loss_halt_but_not_kill():
    risk = engine()
    risk.record_entry("INFY")
    risk.on_pnl(-1_000_000, {"TCS": -1_000_000})
    risk.trigger_kill("manual")
    risk.pause_entries()
    assert risk.roll_day("2024-05-20")
    assert risk.trading_day == "2024-05-20"
    assert risk.trades_today("INFY") == 0
    assert risk.blocked_symbols == {}
    assert risk.loss_halt_reason == ""
    assert risk.kill_switch and risk.entries_paused


def test_roll_day_with_same_day_keeps_counters():
    risk = engine()
    risk.record_entry("INFY")
    assert not risk.roll_day("2024-05-17")
    assert risk.trades_today("INFY") == 1


# ---------------------------------------------------------------------- persistence


def test_to_state_with_everything_set_round_trips_through_json():
    risk = engine()
    risk.record_entry("INFY")
    risk.record_entry("INFY")
    risk.record_entry("TCS")
    risk.on_pnl(-1_000_000, {"SBIN": -500_000})
    risk.block_symbol("HDFC", "manual")
    risk.trigger_kill("operator")
    risk.pause_entries()
    state = json.loads(json.dumps(risk.to_state()))
    restored = RiskEngine.from_state(state, LIMITS)
    assert restored.to_state() == risk.to_state()
    assert restored.state is TradingState.HALTED
    assert restored.kill_switch and restored.halted_reason == risk.halted_reason
    assert restored.trades_today("INFY") == 2
    assert restored.blocked_symbols == risk.blocked_symbols


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("kill_switch"),
        lambda s: s.update(kill_switch="yes"),
        lambda s: s.update(entries_today={"INFY": "2"}),
        lambda s: s.update(blocked_symbols=["INFY"]),
        lambda s: s.update(version=99),
    ],
)
def test_from_state_with_malformed_state_raises(damage):
    state = engine().to_state()
    damage(state)
    with pytest.raises(ValueError):
        RiskEngine.from_state(state, LIMITS)


@pytest.mark.parametrize(
    "change",
    [
        {"max_daily_loss": 0},
        {"max_symbol_loss": -1},
        {"max_gross_exposure": float("nan")},
        {"max_open_positions": 0},
        {"max_order_quantity": 1.5},
    ],
)
def test_risk_limits_with_non_positive_value_raises(change):
    fields = {
        "max_daily_loss": 1.0,
        "max_symbol_loss": 1.0,
        "max_open_positions": 1,
        "max_trades_per_symbol_per_day": 1,
        "max_gross_exposure": 1.0,
        "max_order_value": 1.0,
        "max_order_quantity": 1,
    }
    with pytest.raises(ValueError):
        RiskLimits(**{**fields, **change})


# ---------------------------------------------------------------------- properties

intents = st.builds(
    intent,
    qty=st.integers(min_value=-5, max_value=5_000),
    side=st.sampled_from(list(Side)),
    purpose=st.sampled_from(list(OrderPurpose)),
    symbol=st.sampled_from(["INFY", "TCS"]),
)
exposures = st.builds(
    ExposureView,
    open_positions=st.integers(min_value=0, max_value=6),
    gross_exposure_paise=st.integers(min_value=0, max_value=60_000_000),
    position_qty=st.integers(min_value=-3_000, max_value=3_000),
    entries_working=st.integers(min_value=0, max_value=3),
    entries_working_paise=st.integers(min_value=0, max_value=20_000_000),
)
prices = st.one_of(
    st.floats(min_value=0.05, max_value=50_000), st.sampled_from([0.0, float("nan")])
)


@settings(max_examples=400, deadline=None)
@given(
    order=intents,
    price=prices,
    exposure=exposures,
    lot=st.integers(min_value=1, max_value=100),
    killed=st.booleans(),
    paused=st.booleans(),
    loss_halted=st.booleans(),
    entries=st.integers(min_value=0, max_value=3),
)
def test_property_with_any_intent_risk_gates_entries_and_passes_exits(
    order, price, exposure, lot, killed, paused, loss_halted, entries
):
    risk = engine(
        kill_switch=killed,
        kill_reason="kill switch: test" if killed else "",
        entries_paused=paused,
        loss_halt_reason="max daily loss" if loss_halted else "",
    )
    for _ in range(entries):
        risk.record_entry(order.symbol)
    decision = risk.check(order, price, exposure, lot_size=lot)

    assert 0 <= decision.quantity <= max(0, order.quantity)
    assert decision.rule and decision.reason
    assert decision.verdict is not RiskVerdict.HALT
    if decision.verdict is RiskVerdict.BLOCK:
        assert decision.quantity == 0
    else:
        assert decision.quantity > 0
    if decision.verdict is RiskVerdict.REDUCE and order.purpose not in EXIT_PURPOSES:
        assert decision.quantity % lot == 0

    reducible = order.side.sign * exposure.position_qty < 0
    if order.purpose in EXIT_PURPOSES:
        if order.quantity > 0 and reducible:
            assert decision.verdict in (RiskVerdict.ALLOW, RiskVerdict.REDUCE)
            assert decision.quantity == min(order.quantity, abs(exposure.position_qty))
        else:
            assert decision.verdict is RiskVerdict.BLOCK
    elif killed or paused or loss_halted:
        assert decision.verdict is RiskVerdict.BLOCK
    elif decision.verdict is not RiskVerdict.BLOCK:
        value = decision.quantity * round(price * 100)
        assert value <= LIMITS.max_order_value * 100
        assert exposure.gross_counted_paise + value <= LIMITS.max_gross_exposure * 100
        if exposure.position_qty == 0:
            assert exposure.positions_counted < LIMITS.max_open_positions
        assert decision.quantity <= LIMITS.max_order_quantity


@settings(max_examples=200, deadline=None)
@given(
    qty=st.integers(-5, 30),
    held=st.integers(-40, 40),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    purpose=st.sampled_from(sorted(EXIT_PURPOSES)),
    halted=st.booleans(),
)
def test_check_exit_with_any_exit_decides_as_check_with_the_whole_book(
    qty, held, side, purpose, halted
) -> None:
    """``check_exit`` (the signal's exit asks it with the position alone) gives the very
    decision ``check`` gives with the whole book's exposure, whatever the book holds."""
    risk = engine(kill_switch=halted, entries_paused=halted)
    book = ExposureView(
        open_positions=7,
        gross_exposure_paise=10**12,
        position_qty=held,
        working_orders=3,
        engine_paused=True,
        entries_working=4,
        entries_working_paise=10**11,
    )
    exit_intent = intent(qty=qty, side=side, purpose=purpose)
    assert risk.check_exit(exit_intent, held) == risk.check(exit_intent, 100.0, book)


def test_check_exit_with_an_entry_raises() -> None:
    with pytest.raises(ValueError, match="entries need check"):
        engine().check_exit(intent(purpose=OrderPurpose.ENTRY), 10)
