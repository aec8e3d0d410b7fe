"""The TUI on a real supervisor replaying the bundled day through LocalLink: every tab
shows the desk's own data, and every key reaches the supervisor and changes its state."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.widgets import Input

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import load_config
from kitetui.control.link import LocalLink
from kitetui.domain import OrderPurpose, OrderStatus
from kitetui.runner import SupervisorThread
from kitetui.supervisor import Supervisor
from kitetui.tui.app import make_app
from kitetui.tui.screens import ConfirmScreen, HelpScreen, KillSwitchScreen
from kitetui.tui.tabs import TABS


async def _until(predicate, pilot, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def _ask_to_flatten(app, pilot) -> str:
    """Select an open position and press ``f``: it asks first; the position's symbol.
    The replay runs on, so a position can close by itself between choosing its row and
    the key (then ``f`` is greyed out and asks nothing): choose again."""
    table = app.desk.pane("positions").table
    for _ in range(20):
        await _until(lambda: any(p.quantity for p in app.desk.snapshot.positions), pilot, 60)
        rows = [
            i for i in range(table.row_count) if table.shown_rows[table.key_at(i)][1].text != "0"
        ]
        if not rows:
            continue
        table.move_cursor(row=rows[0])
        await pilot.pause()
        symbol = app.desk.selected("positions").symbol
        await pilot.press("f")
        await pilot.pause()
        if isinstance(app.screen, ConfirmScreen):
            return symbol
    raise AssertionError("no position stayed open from choosing its row to pressing f")


def _detail(app, tab: str) -> str:
    pane = app.desk.pane(tab).detail_pane
    return "\n".join("".join(c.text for c in line) for line in (pane.detail or ()))


async def test_every_tab_and_key_against_a_real_supervisor_on_replay(tmp_path: Path) -> None:
    config = load_config(DEFAULT_CONFIG)
    runner = SupervisorThread(
        Supervisor(config, "dev.yaml", database=tmp_path / "s.db", speed=1500.0)
    )
    runner.start()
    assert await asyncio.to_thread(runner.ready.wait, 60)
    assert runner.error is None
    supervisor = runner.supervisor
    app = make_app(LocalLink(runner), refresh_hz=10)
    notes: list[tuple[str, str]] = []
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            app.notify = lambda message, *, title="", **_: notes.append((title, str(message)))
            await _until(
                lambda: app.desk.snapshot is not None and app.desk.snapshot.data_ts_ns > 0, pilot
            )
            header = str(app.query_one("#status-line").render())
            assert "REPLAY" in header and "data 2022-11-18" in header

            # Every tab renders the desk's own rows.
            await _until(lambda: len(supervisor.trader.orders) >= 3, pilot, 60)
            for number, tab in enumerate(TABS, start=1):
                await pilot.press(str(number))
                await pilot.pause(0.2)
                assert app.desk.active_tab == tab
            for tab in ("orders", "signals", "engines", "log"):
                await pilot.press(str(TABS.index(tab) + 1))
                await _until(lambda tab=tab: app.desk.pane(tab).table.row_count > 0, pilot)

            # The order detail pane reads the journal through the link.
            await pilot.press("2", "end")
            # "loading history…" says "history" too: wait for the journal's rows
            await _until(lambda: "NEW" in _detail(app, "orders"), pilot)
            assert "loading history" not in _detail(app, "orders")

            # Sort, filter and help.
            await pilot.press("o")
            assert app.desk.pane("orders").table.sort_column == "time"
            await pilot.press("slash", *"nifty", "enter")
            await pilot.pause(0.2)
            shown = app.desk.pane("orders").table.shown_rows
            assert shown and all("NIFTY" in row[2].text for row in shown.values())
            app.desk.pane("orders").filter_input.focus()
            await pilot.press("escape", "question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")

            # Engine keys act on the Engines tab's selection.
            await pilot.press("5", "home")
            await pilot.pause(0.2)
            name = app.desk.selected("engines").name
            engine = next(e for e in supervisor.engines if e.name == name)
            await pilot.press("e")
            await _until(lambda: engine.state.value == "PAUSED", pilot)
            await _until(lambda: app.desk.selected("engines").state == "PAUSED", pilot)
            await pilot.press("e")
            await _until(lambda: engine.state.value == "RUNNING", pilot)
            await _until(lambda: app.desk.selected("engines").state == "RUNNING", pilot)
            await pilot.press("x")
            await _until(lambda: engine.state.value == "STOPPED", pilot)
            await _until(lambda: app.desk.selected("engines").state == "STOPPED", pilot)
            await pilot.press("s")
            await _until(lambda: engine.state.value == "RUNNING", pilot)

            # Pause and resume entries everywhere.
            await pilot.press("p")
            await _until(lambda: supervisor.risk.entries_paused, pilot)
            await _until(lambda: app.desk.snapshot.risk.entries_paused, pilot)
            await pilot.press("p")
            await _until(lambda: not supervisor.risk.entries_paused, pilot)

            # Flatten the selected position (asks first).
            await pilot.press("1")
            symbol = await _ask_to_flatten(app, pilot)
            await pilot.press("y")
            await _until(lambda: any(t.startswith("Flatten ") for t, _ in notes), pilot)
            message = next(m for t, m in notes if t == f"Flatten {symbol}")
            flattened = any(
                o.symbol == symbol and o.purpose is OrderPurpose.FLATTEN
                for o in supervisor.trader.orders.values()
            )
            # Either our order went out, or the position closed itself in between.
            assert flattened or "no open position" in message, message

            # Cancel a working order (asks first).
            await pilot.press("2")

            def working_row() -> int | None:
                table = app.desk.pane("orders").table
                for index in range(table.row_count):
                    order = app.desk.view_at("orders", table.key_at(index))
                    if order is not None and order.status in ("OPEN", "TRIGGER PENDING"):
                        return index
                return None

            await _until(lambda: working_row() is not None, pilot, 60)
            app.desk.pane("orders").table.move_cursor(row=working_row())
            await pilot.pause()
            tag = app.desk.selected("orders").tag
            await pilot.press("c", "y")
            await _until(lambda: supervisor.trader.orders[tag].status.is_terminal, pilot)
            # Cancelled by us, unless the market filled it in the same instant.
            assert supervisor.trader.orders[tag].status in (
                OrderStatus.CANCELLED,
                OrderStatus.COMPLETE,
            )

            # Kill switch: type KILL and Enter; the supervisor halts and goes flat.
            await pilot.press("k")
            await pilot.pause()
            assert isinstance(app.screen, KillSwitchScreen)
            app.screen.query_one("#kill-word", Input).value = "KILL"
            await pilot.press("enter")
            await _until(lambda: supervisor.risk.kill_switch, pilot)
            await _until(lambda: app.desk.snapshot.risk.kill_switch, pilot)
            await _until(lambda: not supervisor.trader.open_orders(), pilot)
            await _until(lambda: not supervisor.portfolio.open_positions(), pilot)
            banner = str(app.query_one("#banner").render())
            assert "KILL SWITCH" in banner

            # Reset it (y/n).
            await pilot.press("r", "y")
            await _until(lambda: not supervisor.risk.kill_switch, pilot)
            await pilot.press("q")
    finally:
        await asyncio.to_thread(runner.stop)
    assert not runner._thread.is_alive()
    assert runner.error is None
