"""RiskState.parse: the journaled risk state, read strictly (the store and the risk
engine both rely on it)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.risk_state import STATE_VERSION, RiskState
from kitetui.trading.risk import RiskEngine, RiskLimits

GOOD = {
    "version": STATE_VERSION,
    "trading_day": "2024-01-02",
    "kill_switch": False,
    "kill_reason": "",
    "loss_halt_reason": "",
    "entries_paused": True,
    "blocked_symbols": {"SBIN": "symbol loss"},
    "entries_today": {"SBIN": 2},
}


def test_parse_with_a_written_state_reads_every_field() -> None:
    state = RiskState.parse(GOOD)
    assert state == RiskState(
        "2024-01-02", False, "", "", True, {"SBIN": "symbol loss"}, {"SBIN": 2}
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": STATE_VERSION + 1}, "version"),
        ({"kill_switch": 1}, "'kill_switch' has the wrong type"),
        ({"entries_paused": "no"}, "'entries_paused' has the wrong type"),
        ({"trading_day": None}, "'trading_day' has the wrong type"),
        ({"blocked_symbols": {"SBIN": 3}}, "blocked_symbols entry is malformed"),
        ({"entries_today": {"SBIN": True}}, "entries_today entry is malformed"),
        ({"entries_today": {"SBIN": 1.5}}, "entries_today entry is malformed"),
    ],
)
def test_parse_with_a_wrong_field_refuses_it(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RiskState.parse({**GOOD, **change})


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_parse_with_a_missing_key_refuses_it(missing: str) -> None:
    state = {key: value for key, value in GOOD.items() if key != missing}
    with pytest.raises(ValueError, match=f"has no '{missing}'"):
        RiskState.parse(state)


def test_parse_with_kill_switch_on_and_no_reason_names_one() -> None:
    """An engaged kill switch is never shown without a reason."""
    state = RiskState.parse({**GOOD, "kill_switch": True, "kill_reason": ""})
    assert state.kill_reason == "kill switch"


words = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8)


@given(
    kill=st.booleans(),
    reason=st.text(max_size=20),
    halt=st.text(max_size=20),
    paused=st.booleans(),
    blocked=st.dictionaries(words, st.text(max_size=10), max_size=4),
    entries=st.dictionaries(words, st.integers(0, 50), max_size=4),
)
def test_risk_engine_state_with_any_values_round_trips(
    kill: bool, reason: str, halt: str, paused: bool, blocked: dict, entries: dict
) -> None:
    engine = RiskEngine(RiskLimits(1, 1, 1, 1, 1, 1, 1), trading_day="2024-01-02")
    engine.kill_switch, engine.kill_reason = kill, reason
    engine.loss_halt_reason, engine.entries_paused = halt, paused
    engine.blocked_symbols.update(blocked)
    engine.entries_today.update(entries)
    back = RiskEngine.from_state(engine.to_state(), engine.limits)
    assert back.to_state() == {
        **engine.to_state(),
        "kill_reason": reason or ("kill switch" if kill else ""),
    }
