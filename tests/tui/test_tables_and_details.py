"""Pilot tests of the desk's tables and panes: sort, `/` filter, detail panes, flatten,
cancel, help, and NO_COLOR — each driven by keys against a fake link."""

from __future__ import annotations

import asyncio
import dataclasses

from textual.widgets import Input

from kitetui.commands import CancelOrder, FlattenPosition
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.screens import ConfirmScreen, HelpScreen
from kitetui.tui.widgets import DeskTable, DetailPane

from .fakes import FakeLink, busy_snapshot, next_snapshot, wall_clock

TALL = (160, 48)  # detail panes show by default
SHORT = (80, 24)  # detail panes hidden until Enter or d
STEP_S = 5.0


async def settle(app: KiteTuiApp, pilot) -> None:
    await asyncio.wait_for(app.workers.wait_for_complete(), STEP_S)
    await pilot.pause()


def keys(table: DeskTable) -> list[str]:
    return [table.key_at(i) for i in range(table.row_count)]


def detail_text(app: KiteTuiApp, tab: str) -> str:
    pane = app.desk.pane(tab).detail_pane
    assert pane is not None
    return "\n".join("".join(cell.text for cell in line) for line in pane.detail or ())


def info_text(app: KiteTuiApp, tab: str) -> str:
    return str(app.desk.pane(tab).query_one(".pane-info").render())


# ---- sorting ----------------------------------------------------------------------------


async def test_sort_key_cycles_columns_and_reverses_with_numbers_sorted_as_numbers() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        table = app.desk.pane("positions").table
        await pilot.press("o")  # first column: contract, A→Z
        await pilot.pause()
        assert keys(table) == ["INFY", "NIFTY2411121700CE", "NIFTY24JANFUT", "RELIANCE"]
        assert "sorted by contract ▲" in info_text(app, "positions")
        await pilot.press("o")  # qty, as numbers: -20 < 0 < +50 < +100
        await pilot.pause()
        assert keys(table) == ["RELIANCE", "INFY", "NIFTY24JANFUT", "NIFTY2411121700CE"]
        await pilot.press("O")
        await pilot.pause()
        assert keys(table) == ["NIFTY2411121700CE", "NIFTY24JANFUT", "INFY", "RELIANCE"]
        assert "qty ▼" in info_text(app, "positions")


async def test_sort_by_pnl_with_indian_grouping_and_blanks_last() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        table = app.desk.pane("positions").table
        table.set_sort("pnl", descending=True)
        assert keys(table) == ["NIFTY24JANFUT", "RELIANCE", "NIFTY2411121700CE", "INFY"]
        table.set_sort("avg")  # INFY is flat, no average: last in either direction
        assert keys(table)[-1] == "INFY"
        table.set_sort("avg", descending=True)
        assert keys(table)[-1] == "INFY"


async def test_sorted_table_keeps_its_order_and_cursor_row_across_snapshots() -> None:
    snapshot = busy_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        table = app.desk.pane("positions").table
        table.set_sort("symbol")
        await pilot.press("home", "down")  # INFY -> NIFTY2411121700CE
        await pilot.pause()
        assert table.cursor_key == "NIFTY2411121700CE"
        # A new position sorts in above the cursor: the cursor stays on its row.
        from kitetui.views import PositionView

        axis = PositionView("AXISBANK", "equity-mr", "MIS", 10, 1100.0, 1101.0, 0.0, 10.0)
        link.publish(next_snapshot(snapshot, positions=(*snapshot.positions, axis)))
        app.desk.pull_snapshot()
        await pilot.pause()
        assert keys(table)[0] == "AXISBANK"
        assert table.cursor_key == "NIFTY2411121700CE"


# ---- filtering --------------------------------------------------------------------------


async def test_slash_filter_narrows_rows_live_enter_keeps_and_escape_clears() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("2", "slash")
        await pilot.pause()
        box = app.desk.pane("orders").filter_input
        assert box.display and app.focused is box
        await pilot.press(*"equity open")  # every word must match; typing k is not kill
        await pilot.pause()
        table = app.desk.pane("orders").table
        assert keys(table) == ["eq-0003"]
        assert "1 of 5 shown" in info_text(app, "orders")
        assert "filter “equity open”" in info_text(app, "orders")
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is table and box.display  # kept, and visible as a reminder
        assert keys(table) == ["eq-0003"]
        # The filter holds across new snapshots.
        link.publish(next_snapshot(app.desk.snapshot))
        app.desk.pull_snapshot()
        await pilot.pause()
        assert keys(table) == ["eq-0003"]

        box.focus()
        await pilot.press("escape")
        await pilot.pause()
        assert not box.display and box.value == ""
        assert len(keys(table)) == 5
        assert app.focused is table


async def test_filter_is_per_tab_and_case_insensitive() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("3", "slash", *"Reduce", "enter")
        await pilot.pause()
        assert keys(app.desk.pane("signals").table) == ["12"]
        await pilot.press("6")
        await pilot.pause()
        assert app.desk.pane("log").table.row_count == 25


# ---- detail panes -----------------------------------------------------------------------


async def test_order_detail_shows_history_and_fills_from_the_link() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await settle(app, pilot)
        assert link.detail_requests == ["eq-0003"]
        text = detail_text(app, "orders")
        assert "BUY 5 TCS LIMIT ENTRY" in text
        assert "history 10:20:00 NEW → 10:20:00 OPEN" in text
        assert "fills none" in text
        await pilot.press("end")  # fno-0001: complete with two fills
        await settle(app, pilot)
        text = detail_text(app, "orders")
        assert "history 09:35:00 NEW → 09:35:00 OPEN → 09:35:01 COMPLETE" in text
        assert "fills 2 for 50 @ avg 21,710.00" in text
        assert "BUY 25 @ 21,709.00" in text
        # Seen once: no second request until the order changes.
        await pilot.press("home", "end")
        await settle(app, pilot)
        assert link.detail_requests.count("fno-0001") == 1


async def test_order_detail_unknown_to_the_journal_says_so() -> None:
    link = FakeLink(busy_snapshot())
    link.details.clear()
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await settle(app, pilot)
        assert "no journal history" in detail_text(app, "orders")


async def test_signal_detail_shows_indicators_and_the_risk_decision() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("3", "end")  # the oldest: s11 with an indicator snapshot
        await pilot.pause()
        text = detail_text(app, "signals")
        assert "LONG NIFTY24JANFUT @ 21,705.00" in text
        assert "indicators ema20 21,700.10" in text
        assert "risk ALLOW" in text
        await pilot.press("up")  # s12: REDUCE with its reason
        await pilot.pause()
        assert "risk REDUCE  exposure cap: qty 40 -> 20" in detail_text(app, "signals")


async def test_engine_and_log_details_show_what_the_row_clips() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("5", "down")
        await pilot.pause()
        text = detail_text(app, "engines")
        assert "instruments (5) RELIANCE, INFY, TCS, HDFCBANK, SBIN" in text
        assert "heartbeat 2024-01-15 10:30:00 IST" in text
        await pilot.press("6")
        await pilot.pause()
        assert "event number 24" in detail_text(app, "log")


async def test_detail_pane_hidden_on_short_terminal_until_enter_or_d() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=SHORT) as pilot:
        await pilot.pause()
        pane = app.desk.pane("positions").query_one(DetailPane)
        assert not pane.display
        await pilot.press("enter")
        await pilot.pause()
        assert pane.display
        assert "stop 21,650.00" in detail_text(app, "positions")
        await pilot.press("d")
        await pilot.pause()
        assert not pane.display


# ---- flatten and cancel -----------------------------------------------------------------


async def test_flatten_key_asks_first_and_sends_only_on_yes() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # "No" has the focus: a stray Enter sends nothing
        await settle(app, pilot)
        assert link.sent == []
        await pilot.press("f", "y")
        await settle(app, pilot)
        assert link.sent == [FlattenPosition("NIFTY24JANFUT")]


async def test_flatten_key_on_a_flat_row_or_another_tab_does_nothing() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("end")  # INFY is flat
        await pilot.pause()
        assert app.desk.allows("flatten") is None
        await pilot.press("f")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("3")
        await pilot.pause()
        assert app.desk.allows("flatten") is False
        assert link.sent == []


async def test_cancel_key_works_on_open_orders_only_after_yes() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("2")  # eq-0003 OPEN at the top
        await pilot.pause()
        assert app.desk.allows("cancel_order") is True
        await pilot.press("c", "n")
        await settle(app, pilot)
        assert link.sent == []
        await pilot.press("c", "y")
        await settle(app, pilot)
        assert link.sent == [CancelOrder("eq-0003")]
        await pilot.press("down")  # eq-0002 REJECTED: nothing to cancel
        await pilot.pause()
        assert app.desk.allows("cancel_order") is None
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)


async def test_cancel_of_a_stop_warns_that_the_position_stays_unprotected() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("2", "down", "down", "down")  # fno-0002, the SL-M stop
        await pilot.pause()
        assert app.desk.pane("orders").table.cursor_key == "fno-0002"
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        body = " ".join(str(w.render()) for w in app.screen.query(".dialog-body"))
        assert "refuses to cancel it" in body


# ---- help, palette, colour ----------------------------------------------------------------


async def test_question_mark_opens_help_with_every_desk_key_and_escape_closes() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = {key for _, section in app.screen._sections for key, _ in section}
        for key in ("p", "k", "r", "f", "c", "s / x", "e", "/", "o / O", "?", "q", "ctrl+p"):
            assert key in shown
        await pilot.press("k")  # desk keys do nothing while help is up
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_footer_bindings_follow_the_tab() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        assert app.desk.allows("flatten") is True
        assert app.desk.allows("cancel_order") is False
        assert app.desk.allows("stop_engine") is False
        await pilot.press("4")
        await pilot.pause()
        assert app.desk.allows("filter") is False  # the Risk tab has no table
        assert app.desk.allows("kill_switch") is True


async def test_no_color_environment_turns_the_desk_monochrome(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=SHORT) as pilot:
        await pilot.pause()
        assert app.no_color
        assert app.desk.snapshot is not None


async def test_filter_input_swallows_desk_keys() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        await pilot.press("slash", "k", "p", "q")
        await pilot.pause()
        assert app.screen.query_one(".pane-filter", Input).value == "kpq"
        assert app.is_running and link.sent == []


async def test_restarted_desk_with_the_same_seq_is_still_rendered() -> None:
    snapshot = dataclasses.replace(busy_snapshot(), published_wall_ns=1)
    link = FakeLink(snapshot)
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=TALL) as pilot:
        await pilot.pause()
        restarted = dataclasses.replace(snapshot, published_wall_ns=2, positions=())
        link.publish(restarted)
        assert app.desk.pull_snapshot()
        await pilot.pause()
        assert app.desk.pane("positions").table.row_count == 0
