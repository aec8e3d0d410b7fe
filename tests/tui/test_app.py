"""Pilot tests of the desk: keys become commands on the link, tables update by diff.

Every test drives ``make_app(FakeLink(...))`` at 120×40 and asserts on widget state and
on the commands the fake link received. Awaits are bounded: ``pilot.pause()`` or
``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from textual.widgets import Button, Input, TabbedContent

from kitetui.commands import (
    CommandResult,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.tui import cells
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.header import fit_banner
from kitetui.tui.screens import ConfirmScreen, KillSwitchScreen
from kitetui.tui.tabs import TABS
from kitetui.tui.widgets import DeskTable, HeaderBar
from kitetui.views import PositionView

from .fakes import (
    FakeLink,
    busy_snapshot,
    empty_snapshot,
    halted_snapshot,
    next_snapshot,
    ts,
    wall_clock,
)

SIZE = (120, 40)
STEP_S = 5.0  # upper bound for any single wait in these tests


async def settle(app: KiteTuiApp, pilot) -> None:
    """Let queued command workers finish and the screen catch up (bounded)."""
    await asyncio.wait_for(app.workers.wait_for_complete(), STEP_S)
    await pilot.pause()


def table(app: KiteTuiApp, table_id: str) -> DeskTable:
    return app.query_one(f"#{table_id}", DeskTable)


def column(app: KiteTuiApp, table_id: str, row_key: str, column_key: str) -> str:
    return table(app, table_id).get_cell(row_key, column_key).plain


def record_notifications(app: KiteTuiApp) -> list[tuple[str, str, str]]:
    notes: list[tuple[str, str, str]] = []

    def notify(message, *, title="", severity="information", **_kwargs) -> None:
        notes.append((str(message), title, severity))

    app.notify = notify  # type: ignore[method-assign]
    return notes


# ---- pure formatting (no event loop) ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.00"),
        (3070.5, "+3,070.50"),
        (-10250.0, "-10,250.00"),
        (1640000.0, "+16,40,000.00"),
        (-0.004, "0.00"),
        (123.456, "+123.46"),
    ],
)
def test_money_with_value_groups_the_indian_way(value: float, text: str) -> None:
    assert cells.money(value) == text


def test_ist_clock_with_epoch_ns_shows_ist_wall_time() -> None:
    assert cells.ist_clock(ts(9, 15, 7)) == "2024-01-15 09:15:07 IST"
    assert cells.ist_clock(0).endswith("IST")
    assert cells.ist_time(ts(15, 29, 59)) == "15:29:59"


@pytest.mark.parametrize(
    ("columns", "rows"),
    [
        (cells.ENGINE_COLUMNS, cells.engine_rows(busy_snapshot().engines)),
        (cells.POSITION_COLUMNS, cells.position_rows(busy_snapshot().positions)),
        (cells.ORDER_COLUMNS, cells.order_rows(busy_snapshot().orders)),
        (cells.SIGNAL_COLUMNS, cells.signal_rows(busy_snapshot().signals)),
        (cells.LIMIT_COLUMNS, cells.limit_rows(busy_snapshot().risk.limits)),
        (cells.EVENT_COLUMNS, cells.event_rows(busy_snapshot().events)),
    ],
)
def test_rows_with_busy_snapshot_have_one_cell_per_column(columns, rows) -> None:
    assert rows
    assert all(len(row) == len(columns) for row in rows.values())


def test_unique_keys_with_repeats_suffixes_them() -> None:
    assert cells.unique_keys(["A", "B", "A", "A"]) == ["A", "B", "A#2", "A#3"]


def test_usage_bar_with_fraction_fills_proportionally() -> None:
    assert cells.usage_bar(0.5) == "█████░░░░░  50%"
    assert cells.usage_bar(2.0).startswith("█" * cells.BAR_WIDTH)


# ---- start-up and header -------------------------------------------------------------


async def test_app_before_first_snapshot_shows_starting_then_the_desk() -> None:
    link = FakeLink(None)
    app = make_app(link, refresh_hz=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#starting").display
        assert not app.query_one("#desk").display
        assert "starting" in str(app.query_one("#starting").render())
        assert app.desk.render_count == 0

        link.publish(busy_snapshot())
        await pilot.pause(0.1)
        assert app.desk.render_count == 1
        assert not app.query_one("#starting").display
        assert app.query_one("#desk").display
        assert app.focused is table(app, "positions-table")


def header_text(app: KiteTuiApp) -> str:
    return str(app.query_one("#status-line").render())


async def test_header_with_busy_snapshot_shows_mode_clocks_session_feed_pnl_and_risk() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        text = header_text(app)
        for part in (
            "PAPER",
            "10:31:05 IST",  # the wall clock
            "data 2024-01-15 10:30:15",  # the data clock
            "OPEN",  # the market session at the data clock
            "RUNNING 1.2k/s 1.0s rc 1",  # feed: rate, age of the last tick, reconnects
            "eng 2/3",
            "net +3,070.50 gross +3,214.30",  # the day's P&L net of charges, gross beside
            "ACTIVE",
        ):
            assert part in text, part
        banner = app.query_one("#banner")
        assert banner.display and "NAKED: RELIANCE" in str(banner.render())
        assert banner.has_class("-alarm")  # a position without cover is a red alarm


async def test_header_at_80_columns_keeps_mode_data_clock_pnl_and_risk() -> None:
    app = make_app(FakeLink(busy_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = header_text(app)
        assert len(text) <= 78
        for part in ("PAPER", "10:30:15", "net +3,070.50", "ACTIVE"):
            assert part in text, part


async def test_header_with_halted_live_snapshot_shows_alarm_banner() -> None:
    app = make_app(FakeLink(halted_snapshot()), wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert header_text(app).startswith("LIVE") or " LIVE " in header_text(app)
        assert "HALTED" in header_text(app)
        banner = app.query_one("#banner")
        assert banner.display and banner.has_class("-alarm")
        banner_text = str(banner.render())
        assert "HALTED: max daily loss hit" in banner_text
        assert "KILL SWITCH" in banner_text
        assert "ENTRIES PAUSED" in banner_text


def test_a_banner_too_long_keeps_whole_alarms_and_says_how_many_more() -> None:
    alarms = ("NAKED: SBIN", "HALTED: " + "x" * 40, "KILL SWITCH", "ENTRIES PAUSED")
    assert fit_banner(alarms, 200) == "  │  ".join(alarms)
    assert fit_banner(alarms, 76) == "NAKED: SBIN  │  HALTED: " + "x" * 40 + "  │  +2 more"
    assert fit_banner(alarms, 40) == "NAKED: SBIN  │  +3 more"
    assert fit_banner(alarms, 12) == "NAK… +3 more"
    assert fit_banner(("KILL SWITCH",), 8) == "KILL SW…"


async def test_a_naked_position_leads_the_banner_before_a_long_halt_reason() -> None:
    """At 120 columns a long kill reason pushed NAKED off the line, with no sign of it."""
    snapshot = halted_snapshot()
    risk = dataclasses.replace(
        snapshot.risk,
        halt_reason="kill switch: " + "the trader typed a very long reason " * 4,
        naked=(("SBIN", "no stop"),),
    )
    app = make_app(FakeLink(dataclasses.replace(snapshot, risk=risk)), wall_clock=wall_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        banner_text = str(app.query_one("#banner").render())
        assert banner_text.startswith("NAKED: SBIN") and banner_text.endswith("more")


async def test_header_with_link_problem_says_so_and_keeps_the_last_snapshot() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        link.problem = "reconnecting to the desk (attempt 2): connection refused"
        app.query_one(HeaderBar).paint()
        await pilot.pause()
        banner = app.query_one("#banner")
        assert banner.display
        assert "reconnecting to the desk" in str(banner.render())
        assert app.desk.snapshot is not None and app.is_running


async def test_header_with_silent_desk_warns_after_five_seconds() -> None:
    now = [ts(10, 31, 5)]
    busy = busy_snapshot()
    snapshot = dataclasses.replace(
        busy, published_wall_ns=ts(10, 31, 4), risk=dataclasses.replace(busy.risk, naked=())
    )
    app = make_app(FakeLink(snapshot), wall_clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        header = app.query_one(HeaderBar)
        assert not app.query_one("#banner").display
        now[0] = ts(10, 31, 20)
        header.paint()
        await pilot.pause()
        assert "NO UPDATE FROM THE DESK FOR 16s" in str(app.query_one("#banner").render())


# ---- engine keys -----------------------------------------------------------------------


async def test_start_and_stop_with_cursor_act_on_the_selected_engine() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.desk.allows("stop_engine") is False  # not on the Positions tab
        await pilot.press("5")
        await pilot.pause()
        # Row 0: fno-trend is RUNNING, so start is greyed out and does nothing.
        assert app.desk.selected("engines").name == "fno-trend"
        assert app.desk.allows("start_engine") is None
        await pilot.press("s", "x")
        await settle(app, pilot)
        assert link.sent == [StopEngine("fno-trend")]

        # Row 1: equity-mr is PAUSED: both keys work.
        await pilot.press("down")
        await pilot.pause()
        assert app.desk.selected("engines").name == "equity-mr"
        await pilot.press("s", "x")
        await settle(app, pilot)
        assert link.sent[1:] == [StartEngine("equity-mr"), StopEngine("equity-mr")]

        # Row 2: options-atm is STOPPED: stop is greyed out.
        await pilot.press("down")
        await pilot.pause()
        assert app.desk.allows("stop_engine") is None
        await pilot.press("x", "s")
        await settle(app, pilot)
        assert link.sent[3:] == [StartEngine("options-atm")]


async def test_command_result_with_ok_and_failure_is_notified() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("x")
        await settle(app, pilot)
        link.reply = lambda command: CommandResult(False, "engine fno-trend is busy")
        await pilot.press("x")
        await settle(app, pilot)
        assert notes == [
            ("StopEngine done", "Stop engine fno-trend", "information"),
            ("engine fno-trend is busy", "Stop engine fno-trend", "error"),
        ]


async def test_send_with_slow_link_keeps_the_screen_responsive() -> None:
    link = FakeLink(busy_snapshot())
    link.gate = asyncio.Event()
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert link.sent == [StopEngine("fno-trend")]
        assert notes == []  # still waiting for the reply …
        await pilot.press("2")  # … and the keys still work
        await pilot.pause()
        assert app.query_one("#tabs", TabbedContent).active == "orders"
        link.gate.set()
        await settle(app, pilot)
        assert notes == [("StopEngine done", "Stop engine fno-trend", "information")]


async def test_send_with_link_error_notifies_and_keeps_running() -> None:
    link = FakeLink(busy_snapshot())

    def explode(command):
        raise ConnectionError("socket closed")

    link.reply = explode
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("x")
        await settle(app, pilot)
        assert notes == [("ConnectionError: socket closed", "Stop engine fno-trend", "error")]
        assert app.is_running


# ---- entries, kill switch, reset -------------------------------------------------------


async def test_pause_key_with_entries_open_pauses_and_with_paused_resumes() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.active_bindings["p"].binding.action == "pause_entries"
        await pilot.press("p")
        await settle(app, pilot)
        assert link.sent == [PauseEntries()]

        snapshot = app.desk.snapshot
        paused = dataclasses.replace(snapshot.risk, entries_paused=True)
        link.publish(next_snapshot(snapshot, risk=paused))
        app.desk.pull_snapshot()
        await pilot.pause()
        assert app.screen.active_bindings["p"].binding.action == "resume_entries"
        await pilot.press("p")
        await settle(app, pilot)
        assert link.sent == [PauseEntries(), ResumeEntries()]


async def test_engine_pause_key_with_running_engine_pauses_it_and_with_paused_resumes() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        selected = app.desk.selected("engines")
        assert selected is not None and selected.state == "RUNNING"
        await pilot.press("e")
        await settle(app, pilot)
        assert link.sent == [PauseEntries(selected.name)]

        snapshot = app.desk.snapshot
        engines = tuple(
            dataclasses.replace(e, state="PAUSED") if e.name == selected.name else e
            for e in snapshot.engines
        )
        link.publish(next_snapshot(snapshot, engines=engines))
        app.desk.pull_snapshot()
        await pilot.pause()
        await pilot.press("e")
        await settle(app, pilot)
        assert link.sent == [PauseEntries(selected.name), ResumeEntries(selected.name)]


async def test_kill_key_with_escape_cancel_stray_enter_or_wrong_word_sends_nothing() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, KillSwitchScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, KillSwitchScreen)

        await pilot.press("k")
        await pilot.pause()
        await pilot.click("#cancel")
        await pilot.pause()
        assert not isinstance(app.screen, KillSwitchScreen)

        await pilot.press("k", "enter", "enter")  # a stray Enter confirms nothing
        await pilot.pause()
        assert isinstance(app.screen, KillSwitchScreen)
        await pilot.press("k", "i", "l", "l", "enter")  # lower case is not KILL
        await pilot.pause()
        assert isinstance(app.screen, KillSwitchScreen)
        assert app.screen.query_one("#confirm", Button).disabled
        await settle(app, pilot)
        assert link.sent == []


async def test_kill_key_with_typed_kill_and_enter_triggers_the_kill_switch() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notifications(app)
        await pilot.pause()
        await pilot.press("k")
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#kill-word", Input)
        await pilot.press("K", "I", "L", "L")
        await pilot.pause()
        assert not app.screen.query_one("#confirm", Button).disabled
        assert link.sent == []  # typing alone does nothing
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, KillSwitchScreen)
        assert link.sent == [TriggerKillSwitch("manual from TUI")]
        assert notes == [("TriggerKillSwitch done", "Kill switch", "information")]


async def test_reset_key_with_kill_switch_off_is_hidden_and_does_nothing() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.desk.allows("reset_kill_switch") is False  # hidden from the footer
        assert "r" not in app.screen.active_bindings
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert link.sent == []


async def test_reset_key_with_kill_switch_on_asks_and_sends_on_yes_only() -> None:
    link = FakeLink(halted_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.desk.allows("kill_switch") is None  # already on
        for answer in ("n", "escape"):
            await pilot.press("r")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(answer)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        await settle(app, pilot)
        assert link.sent == []

        await pilot.press("r")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert link.sent == [ResetKillSwitch()]


# ---- tabs, diffing, refresh ------------------------------------------------------------


async def test_number_keys_switch_tabs_showing_keyed_rows_newest_first() -> None:
    snapshot = busy_snapshot()
    app = make_app(FakeLink(snapshot))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.active == "positions"
        positions = table(app, "positions-table")
        assert list(positions.shown_rows) == [
            "NIFTY24JANFUT",
            "NIFTY2411121700CE",
            "RELIANCE",
            "INFY",
        ]
        assert column(app, "positions-table", "RELIANCE", "qty") == "-20"
        assert column(app, "positions-table", "RELIANCE", "pnl") == "+1,136.00"
        assert column(app, "positions-table", "RELIANCE", "charges") == "30.12"
        assert column(app, "positions-table", "RELIANCE", "net") == "+1,105.88"
        for key, tab in (
            ("2", "orders"),
            ("3", "signals"),
            ("4", "risk"),
            ("5", "engines"),
            ("6", "log"),
            ("7", "blocked"),
            ("8", "performance"),
            ("1", "positions"),
        ):
            await pilot.press(key)
            assert tabs.active == tab
            assert app.desk.active_tab == tab
        await pilot.pause()
        assert app.desk.tab_renders == {tab: 1 for tab in TABS}
        orders = table(app, "orders-table")
        assert [orders.key_at(i) for i in range(orders.row_count)] == [
            "eq-0003",
            "eq-0002",
            "eq-0001",
            "fno-0002",
            "fno-0001",
        ]
        signals = table(app, "signals-table")
        assert [signals.key_at(i) for i in range(signals.row_count)] == [
            "15",
            "14",
            "13",
            "12",
            "11",
        ]
        assert column(app, "signals-table", "13", "verdict") == "BLOCK"
        events = table(app, "log-table")
        assert events.row_count == 25
        assert events.key_at(0) == str(snapshot.events[-1].seq)  # newest first
        engines = table(app, "engines-table")
        assert list(engines.shown_rows) == ["fno-trend", "equity-mr", "options-atm"]
        assert column(app, "engines-table", "fno-trend", "heartbeat") == "10:30:00"
        assert column(app, "engines-table", "fno-trend", "lag") == "15s"
        assert column(app, "engines-table", "options-atm", "error").startswith("no ATM strike")
        assert column(app, "limits", "trades INFY", "usage") == "██████████ 100%"


async def test_new_snapshot_with_changed_values_updates_only_changed_cells() -> None:
    snapshot = busy_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        positions = table(app, "positions-table")
        updated: list[tuple[str, str]] = []
        original = positions._set_cell

        def spy(row_key, spec, value):
            updated.append((str(row_key), spec.key))
            return original(row_key, spec, value)

        positions._set_cell = spy  # type: ignore[method-assign]
        whole_table_repaints: list[tuple] = []
        original_refresh = positions.refresh

        def refresh_spy(*regions, **kwargs):
            if not regions:
                whole_table_repaints.append(regions)
            return original_refresh(*regions, **kwargs)

        positions.refresh = refresh_spy  # type: ignore[method-assign]

        nifty = snapshot.positions[0]
        moved = dataclasses.replace(nifty, last_price=21760.5, unrealized=2525.0)
        link.publish(next_snapshot(snapshot, positions=(moved, *snapshot.positions[1:])))
        assert app.desk.pull_snapshot()
        await pilot.pause()
        assert sorted(updated) == [
            ("NIFTY24JANFUT", "ltp"),
            ("NIFTY24JANFUT", "net"),
            ("NIFTY24JANFUT", "pnl"),
            ("NIFTY24JANFUT", "unrealized"),
        ]
        # Only the changed row is repainted: a slow link is not sent the whole table.
        assert whole_table_repaints == []
        assert column(app, "positions-table", "NIFTY24JANFUT", "ltp") == "21,760.50"
        assert column(app, "positions-table", "NIFTY24JANFUT", "pnl") == "+2,525.00"
        assert column(app, "positions-table", "RELIANCE", "ltp") == "2,751.00"

        # A position that closes out goes away; a new one is added; no other cell moves.
        updated.clear()
        sbin = PositionView("SBIN", "equity-mr", "MIS", 100, 612.0, 613.5, 0.0, 150.0)
        current = app.desk.snapshot
        link.publish(next_snapshot(current, positions=(current.positions[0], sbin)))
        assert app.desk.pull_snapshot()
        await pilot.pause()
        assert updated == []
        assert list(positions.shown_rows) == ["NIFTY24JANFUT", "SBIN"]
        assert positions.row_count == 2
        assert column(app, "positions-table", "SBIN", "qty") == "+100"


async def test_snapshot_with_unchanged_seq_does_not_render() -> None:
    snapshot = busy_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link, refresh_hz=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.desk.render_count == 1
        calls = link.snapshot_calls
        await pilot.pause(0.2)  # several timer ticks
        assert link.snapshot_calls > calls  # the timer does poll …
        assert app.desk.render_count == 1  # … but an unchanged seq renders nothing

        # Same seq, different content: still not rendered.
        changed = dataclasses.replace(snapshot, feed_state="FINISHED", positions=())
        link.publish(changed)
        assert app.desk.pull_snapshot() is False
        assert app.desk.render_count == 1
        assert table(app, "positions-table").row_count == 4

        link.publish(next_snapshot(changed))
        assert app.desk.pull_snapshot() is True
        assert app.desk.render_count == 2
        assert table(app, "positions-table").row_count == 0


async def test_hidden_tab_renders_only_when_shown() -> None:
    snapshot = busy_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.desk.tab_renders == {"positions": 1}
        assert table(app, "orders-table").row_count == 0  # never shown yet

        first = snapshot.orders[0]
        cancelled = dataclasses.replace(snapshot.orders[4], status="CANCELLED")
        link.publish(next_snapshot(snapshot, orders=(*snapshot.orders[:4], cancelled)))
        app.desk.pull_snapshot()
        await pilot.pause()
        assert app.desk.tab_renders == {"positions": 2}

        await pilot.press("2")
        await pilot.pause()
        assert app.desk.tab_renders["orders"] == 1
        assert column(app, "orders-table", "eq-0003", "status") == "CANCELLED"
        assert column(app, "orders-table", first.tag, "status") == "COMPLETE"

        # Back to a tab that is already current: nothing to redo.
        await pilot.press("1")
        await pilot.pause()
        assert app.desk.tab_renders["positions"] == 2


async def test_quit_key_exits_without_sending_commands() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert link.sent == []


async def test_command_palette_with_kill_switch_on_offers_reset_not_kill() -> None:
    app = make_app(FakeLink(halted_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Reset kill switch", "Resume entries", "Start engine"} <= titles
        assert "Kill switch" not in titles
        assert "Pause entries" not in titles


def test_make_app_with_bad_refresh_rate_raises() -> None:
    with pytest.raises(ValueError, match="refresh_hz"):
        make_app(FakeLink(empty_snapshot()), refresh_hz=0)


async def test_link_failing_before_first_snapshot_exits_with_its_reason() -> None:
    link = FakeLink(None)
    link.stopped = "DataFormatError: x.csv.gz: unknown header"
    app = make_app(link, refresh_hz=20)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(40):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert app.return_code == 1
