"""A risk limit changed at run time: it acts at once, is journaled with the risk state,
and a restart of the run takes it back; an old state without changes still reads."""

from __future__ import annotations

import json

import pytest

from kitetui.domain import Exchange, OrderIntent, OrderPurpose, Side
from kitetui.risk_state import RiskState
from kitetui.trading.risk import ExposureView, RiskEngine, RiskLimits

LIMITS = RiskLimits(
    max_daily_loss=20_000.0,
    max_symbol_loss=8_000.0,
    max_open_positions=5,
    max_trades_per_symbol_per_day=4,
    max_gross_exposure=3_000_000.0,
    max_order_value=1_500_000.0,
    max_order_quantity=10_000,
)


def _entry(quantity: int = 10) -> OrderIntent:
    return OrderIntent("eq", "SBIN", Exchange.NSE, Side.BUY, quantity, OrderPurpose.ENTRY)


def test_set_limit_with_lower_cap_acts_on_the_next_check() -> None:
    risk = RiskEngine(LIMITS, "2024-05-17")
    book = ExposureView(open_positions=2, gross_exposure_paise=0, position_qty=0)
    assert risk.check(_entry(), 500.0, book).verdict.value == "ALLOW"
    assert risk.set_limit("max_open_positions", 2) == 5
    decision = risk.check(_entry(), 500.0, book)
    assert (decision.verdict.value, decision.rule) == ("BLOCK", "max_open_positions")
    assert risk.changed_limits == {"max_open_positions": 2}
    assert risk.config_limits == LIMITS


def test_set_limit_back_to_the_config_value_is_no_change() -> None:
    risk = RiskEngine(LIMITS)
    risk.set_limit("max_daily_loss", 5_000.0)
    risk.set_limit("max_daily_loss", 20_000.0)
    assert risk.changed_limits == {}
    assert risk.to_state()["limits"] == {}


def test_set_limit_with_unknown_name_or_bad_value_is_refused_and_changes_nothing() -> None:
    risk = RiskEngine(LIMITS)
    with pytest.raises(ValueError, match="no risk limit 'capital'"):
        risk.set_limit("capital", 5)
    with pytest.raises(ValueError, match="must be a positive integer"):
        risk.set_limit("max_open_positions", 0)
    assert risk.limits == LIMITS


def test_changed_limits_with_state_round_trip_through_json_and_restore() -> None:
    risk = RiskEngine(LIMITS, "2024-05-17")
    risk.set_limit("max_daily_loss", 5_000.5)
    risk.set_limit("max_order_quantity", 50)
    state = json.loads(json.dumps(risk.to_state()))
    assert state["limits"] == {"max_daily_loss": 5_000.5, "max_order_quantity": 50}
    rebuilt = RiskEngine.from_state(state, LIMITS)
    assert rebuilt.limits == risk.limits and rebuilt.config_limits == LIMITS
    # restored in place (the trader holds this engine): the changes come back
    fresh = RiskEngine(LIMITS)
    fresh.restore(state)
    assert fresh.limits.max_daily_loss == 5_000.5 and fresh.limits.max_order_quantity == 50
    assert fresh.to_state() == risk.to_state()


def test_restore_with_state_from_before_limits_could_change_keeps_the_config() -> None:
    state = RiskEngine(LIMITS, "2024-05-17").to_state()
    del state["limits"]
    assert RiskState.parse(state).limits == {}
    risk = RiskEngine(LIMITS)
    risk.set_limit("max_open_positions", 1)
    risk.restore(state)
    assert risk.limits == LIMITS


@pytest.mark.parametrize(
    ("limits", "problem"),
    [
        ([], "'limits' has the wrong type"),
        ({"max_daily_loss": "5000"}, "limits entry is malformed"),
        ({"max_daily_loss": True}, "limits entry is malformed"),
        ({"max_daily_loss": float("inf")}, "limits entry is malformed"),
    ],
)
def test_risk_state_with_malformed_limits_is_refused(limits, problem) -> None:
    state = {**RiskEngine(LIMITS).to_state(), "limits": limits}
    with pytest.raises(ValueError, match=problem):
        RiskState.parse(state)


def test_from_state_with_unknown_or_non_positive_limit_is_refused() -> None:
    state = {**RiskEngine(LIMITS).to_state(), "limits": {"capital": 5}}
    with pytest.raises(ValueError, match="unknown limits: capital"):
        RiskEngine.from_state(state, LIMITS)
    state = {**RiskEngine(LIMITS).to_state(), "limits": {"max_daily_loss": -1}}
    with pytest.raises(ValueError, match="positive amount"):
        RiskEngine.from_state(state, LIMITS)
