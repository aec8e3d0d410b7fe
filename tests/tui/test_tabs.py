"""The tab specs, without a screen: what each tab lists, and what its row keys do.

Table-driven over the busy desk of ``fakes.py``: every table tab's rows fit its columns
and have unique keys in display order; each row action is ready exactly for the rows it
can act on, builds the command for that row and asks the question the trader must
answer first.
"""

from __future__ import annotations

import dataclasses

import pytest

from kitetui.commands import (
    CancelOrder,
    FlattenPosition,
    PauseEntries,
    ResumeEntries,
    StartEngine,
    StopEngine,
)
from kitetui.tui.cells import keyed
from kitetui.tui.tabs import ENGINES, ORDERS, POSITIONS, TAB_SPECS, TABLE_TABS, TABS
from kitetui.views import EngineView, OrderDetail

from .fakes import busy_snapshot


def test_tabs_with_specs_are_numbered_in_order_and_risk_is_a_panel() -> None:
    assert TABS == (
        "positions", "orders", "signals", "risk", "engines", "log", "blocked", "performance"
    )  # fmt: skip
    assert TABLE_TABS == (
        "positions", "orders", "signals", "engines", "log", "blocked", "performance"
    )  # fmt: skip
    risk = next(spec for spec in TAB_SPECS if spec.name == "risk")
    assert not risk.is_table and risk.panel is not None


@pytest.mark.parametrize("spec", [s for s in TAB_SPECS if s.is_table], ids=lambda s: s.name)
def test_table_tab_with_busy_desk_builds_a_full_row_and_a_detail_per_view(spec) -> None:
    snapshot = busy_snapshot()
    views = keyed(spec.views(snapshot), spec.row_key)
    assert views
    rows = spec.rows(views, snapshot)
    assert list(rows) == list(views)
    assert all(len(row) == len(spec.columns) for row in rows.values())

    def history(order):
        return OrderDetail(order.tag), False

    assert spec.detail is not None
    assert all(spec.detail(view, snapshot, history) for view in views.values())


def test_views_with_busy_desk_list_the_newest_first_where_they_accumulate() -> None:
    snapshot = busy_snapshot()
    orders = [o.ts_ns for o in ORDERS.views(snapshot)]
    assert orders == sorted(orders, reverse=True)
    signals = next(s for s in TAB_SPECS if s.name == "signals")
    assert [s.seq for s in signals.views(snapshot)] == [s.seq for s in snapshot.signals][::-1]


@pytest.mark.parametrize(
    ("state", "start", "stop", "pause", "sends"),
    [
        ("RUNNING", None, True, True, PauseEntries("eng")),
        ("PAUSED", True, True, True, ResumeEntries("eng")),
        ("STOPPED", True, None, None, PauseEntries("eng")),
        ("ERROR", True, True, None, PauseEntries("eng")),
    ],
)
def test_engine_row_actions_with_engine_state_are_ready_as_the_state_allows(
    state, start, stop, pause, sends
) -> None:
    engine = EngineView("eng", "equity", state, "orb", 60, ())
    actions = ENGINES.actions
    assert actions["start_engine"].ready(engine) is start
    assert actions["stop_engine"].ready(engine) is stop
    assert actions["toggle_engine_pause"].ready(engine) is pause
    assert actions["start_engine"].command(engine) == StartEngine("eng")
    assert actions["stop_engine"].command(engine) == StopEngine("eng")
    assert actions["toggle_engine_pause"].command(engine) == sends
    assert all(action.confirm is None for action in actions.values())


def test_flatten_with_long_and_short_positions_asks_for_the_closing_side() -> None:
    flatten = POSITIONS.actions["flatten"]
    long, _, short, flat = busy_snapshot().positions
    assert flatten.ready(long) is True and flatten.ready(short) is True
    assert flatten.ready(flat) is None  # nothing to close
    assert flatten.command(short) == FlattenPosition("RELIANCE")
    assert flatten.confirm is not None
    question, detail = flatten.confirm(long)
    assert question == "Flatten NIFTY24JANFUT?"
    assert "MARKET SELL for 50" in detail and "(fno-trend)" in detail
    assert "MARKET BUY for 20" in flatten.confirm(short)[1]


def test_cancel_with_open_and_done_orders_is_ready_for_open_ones_and_warns_on_stops() -> None:
    cancel = ORDERS.actions["cancel_order"]
    orders = {o.tag: o for o in busy_snapshot().orders}
    assert cancel.ready(orders["fno-0001"]) is None  # COMPLETE
    assert cancel.ready(orders["eq-0003"]) is True  # OPEN
    stop = next(o for o in orders.values() if o.purpose == "STOP")
    assert cancel.ready(stop) is True  # TRIGGER_PENDING
    assert cancel.command(stop) == CancelOrder(stop.tag)
    assert cancel.confirm is not None
    assert "refuses to cancel it" in cancel.confirm(stop)[1]
    entry = dataclasses.replace(stop, purpose="ENTRY")
    assert "stop-loss" not in cancel.confirm(entry)[1]
    assert cancel.confirm(entry)[0] == f"Cancel order {stop.tag}?"
