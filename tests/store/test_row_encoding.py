"""A journal row's JSON and an event's kind come out as they did before stop 38.

``journal._json`` calls one C encoder made once instead of ``JSONEncoder.encode``
(which builds that encoder on every call); ``_finite_snapshot`` compares with module
constants instead of parsing ``float("inf")`` twice a value; ``add_event`` binds the
kind as an exact ``str``. The oracle for each is the code as it was (01397dd).
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import Event
from kitetui.events import EventKind
from kitetui.store import journal

_OLD_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False)


def _old_finite_snapshot(indicators: dict) -> dict:
    return {
        k: (v if v == v and v not in (float("inf"), float("-inf")) else None)
        for k, v in indicators.items()
    }


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False).map(Decimal)  # via default=str
    | st.dates().map(date.isoformat)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(-5, 5), inner, max_size=4)
    ),
    max_leaves=20,
)


def _outcome(encode, value):  # type: ignore[no-untyped-def]
    try:
        return encode(value)
    except (ValueError, TypeError) as exc:
        return type(exc), str(exc)


@settings(max_examples=300, deadline=None)
@given(values)
def test_json_with_any_row_value_is_the_encoders_text(value: object) -> None:
    assert _outcome(journal._json, value) == _outcome(_OLD_ENCODER.encode, value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_json_after_a_refused_value_encodes_the_next_as_before(bad: float) -> None:
    nested = {"ok": [1, {"deep": [2, bad]}]}
    with pytest.raises(ValueError, match="Out of range float"):
        journal._json(nested)
    with pytest.raises(ValueError, match="Out of range float"):
        _OLD_ENCODER.encode(nested)
    assert journal._MARKERS == {}  # the circular check was left partway: cleared
    same = {"ok": [1, {"deep": [2, 3.5]}]}
    assert journal._json(same) == _OLD_ENCODER.encode(same)


def test_json_with_a_circular_value_refuses_it_as_the_encoder_does() -> None:
    loop: list = [1]
    loop.append({"back": loop})
    with pytest.raises(ValueError, match="Circular reference detected"):
        journal._json(loop)
    assert journal._MARKERS == {}
    assert journal._json([loop[0], {"x": 1}]) == '[1,{"x":1}]'


def test_json_of_a_bare_string_is_the_encoders_text() -> None:
    for text in ("plain", 'quo"te', "ünïcode\n", ""):
        assert journal._json(text) == _OLD_ENCODER.encode(text)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=6),
        st.floats() | st.integers(-(10**20), 10**20) | st.none(),
        max_size=6,
    )
)
def test_finite_snapshot_with_any_indicators_is_the_old_snapshot(indicators: dict) -> None:
    new, old = journal._finite_snapshot(indicators), _old_finite_snapshot(indicators)
    assert list(new) == list(old)
    assert all(
        (a is None and b is None) or (a == b and type(a) is type(b))
        for a, b in zip(new.values(), old.values(), strict=True)
    )


@pytest.mark.parametrize("kind", [EventKind.RISK_BLOCKED, "SomePlainKind"])
def test_event_kind_is_stored_as_the_text_the_member_binds_as(kind: str) -> None:
    class Rows:  # what ``Journal.add_event`` touches of its journal
        def __init__(self) -> None:
            self.run_id = "r"
            self._events: list[tuple] = []

        def _added(self) -> None:
            pass

    rows = Rows()
    journal.Journal.add_event(rows, Event(ts_ns=1, kind=kind, message="m"))  # type: ignore[arg-type]
    (row,) = rows._events
    assert type(row[2]) is str and row[2] == str(kind)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (k TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", [(kind,), (row[2],)])
    assert con.execute("SELECT typeof(k), k FROM t").fetchall() == [("text", str(kind))] * 2
