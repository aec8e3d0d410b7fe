"""Pilot tests of the price chart screen: ``g`` on a row opens it for that row's symbol,
it follows the desk (one read a second at most), says when there is no chart, and Esc
goes back. Against a fake link, then against a real supervisor replaying the demo."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import load_config
from kitetui.control.link import LocalLink
from kitetui.runner import SupervisorThread
from kitetui.supervisor import Supervisor
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.chart_screen import ChartScreen
from kitetui.tui.desk_screen import DeskScreen
from kitetui.views import ChartView

from .fakes import FakeLink, busy_snapshot, empty_snapshot, next_snapshot, nifty_chart, wall_clock

SIZE = (80, 24)
STEP_S = 5.0


async def settle(app: KiteTuiApp, pilot) -> None:
    await asyncio.wait_for(app.workers.wait_for_complete(), STEP_S)
    await pilot.pause()


def shown(screen: ChartScreen) -> str:
    """The chart screen's text as a person reads it: title, legend and the plot."""
    parts = [
        str(screen.query_one("#chart-title").render()),
        str(screen.query_one("#chart-legend").render()),
    ]
    parts.append(screen.query_one("#price-chart").render().plain)
    return "\n".join(parts)


async def test_g_on_a_position_opens_its_chart_and_escape_goes_back() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.desk.allows("chart") is True
        symbol = app.desk.selected("positions").symbol
        assert symbol == "NIFTY24JANFUT"
        await pilot.press("g")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ChartScreen) and screen.symbol == symbol
        assert link.chart_requests == [symbol] and screen.chart == nifty_chart()
        text = shown(screen)
        # 80 columns: the strategy's name gives way to the newest bar's prices
        assert text.startswith("NIFTY24JANFUT · fno-trend 5m · 10:25 O 21710.35 H 21761 L ")
        for glyph in ("█", "░", "▲", "▼", "!", "-----", "•", "+"):
            assert glyph in text, glyph
        assert "▲ buy" in text and "- stop" in text and "adx" in text and "atr 18.50" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)


async def test_g_charts_the_selected_order_and_signal_and_not_on_other_tabs() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for tab in ("2", "3"):
            await pilot.press(tab)
            await pilot.pause()
            symbol = app.desk.selected(app.desk.active_tab).symbol
            await pilot.press("g")
            await settle(app, pilot)
            assert isinstance(app.screen, ChartScreen) and app.screen.symbol == symbol
            await pilot.press("g")  # g closes it too
            await pilot.pause()
            assert isinstance(app.screen, DeskScreen)
        await pilot.press("5")
        await pilot.pause()
        assert app.desk.allows("chart") is False  # engines: hidden
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)


async def test_chart_with_no_bars_or_a_failed_read_says_so() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(ChartScreen(link, "INFY"))
        await settle(app, pilot)
        text = shown(app.screen)
        assert "INFY · no chart" in text and "No engine has bars" in text
        await pilot.press("escape")

        async def broken(symbol: str) -> ChartView | None:
            raise RuntimeError("database is locked")

        link.chart = broken  # type: ignore[method-assign]
        await app.push_screen(ChartScreen(link, "SBIN"))
        await settle(app, pilot)
        text = shown(app.screen)
        assert "could not be read" in text and "RuntimeError: database is locked" in text


async def test_g_with_no_row_selected_asks_for_one() -> None:
    link = FakeLink(empty_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    notes: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        app.desk.notify = lambda message, **_: notes.append(str(message))  # type: ignore[method-assign]
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen) and notes == ["Select a row first."]
        assert link.chart_requests == []


async def test_chart_follows_new_snapshots_at_most_once_a_refresh() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    now = [100.0]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = ChartScreen(link, "NIFTY24JANFUT", refresh_hz=50, clock=lambda: now[0])
        await app.push_screen(screen)
        await settle(app, pilot)
        assert screen.reads == 1
        screen.follow()
        assert screen.reads == 1  # the desk has not published since
        moved = dataclasses.replace(nifty_chart(), bars=nifty_chart().bars[:-1])
        link.charts["NIFTY24JANFUT"] = moved
        link.publish(next_snapshot(link.current))
        now[0] += ChartScreen.REFRESH_S / 2
        screen.follow()
        assert screen.reads == 1  # too soon
        now[0] += ChartScreen.REFRESH_S
        screen.follow()
        await settle(app, pilot)
        assert screen.reads == 2 and screen.chart == moved
        assert "10:20" in shown(screen).splitlines()[0]  # the newest bar is now 10:20's


# ---- a real desk ------------------------------------------------------------------------


async def _until(predicate, pilot, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def test_chart_of_a_traded_symbol_after_a_short_replay_has_its_fills(tmp_path: Path) -> None:
    runner = SupervisorThread(
        Supervisor(
            load_config(DEFAULT_CONFIG), "dev.yaml", database=tmp_path / "s.db", speed=1500.0
        )
    )
    runner.start()
    assert await asyncio.to_thread(runner.ready.wait, 60)
    assert runner.error is None
    app = make_app(LocalLink(runner), refresh_hz=10)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            app.notify = lambda *_, **__: None  # type: ignore[method-assign]
            # a position that an entry opened (its fills are journaled by now)
            await _until(lambda: any(p.quantity for p in app.desk.snapshot.positions)
                         if app.desk.snapshot else False, pilot)  # fmt: skip
            await pilot.press("1")
            await pilot.pause(0.2)
            table = app.desk.pane("positions").table
            # a symbol that traded: still open, or closed since by the running replay (a
            # flat row keeps its charges), its entry is on the chart either way
            traded_row = next(
                i for i in range(table.row_count)
                if (view := app.desk.view_at("positions", table.key_at(i))).quantity
                or view.charges
            )  # fmt: skip
            table.move_cursor(row=traded_row)
            await pilot.pause()
            symbol = app.desk.selected("positions").symbol
            await pilot.press("g")
            screen = app.screen
            assert isinstance(screen, ChartScreen) and screen.symbol == symbol
            await _until(lambda: screen.chart is not None and screen.chart.bars, pilot)
            chart = screen.chart
            assert chart is not None and any(m.kind == "ENTRY" for m in chart.marks)
            await pilot.pause(0.2)
            text = shown(screen)
            assert chart.symbol in text and ("█" in text or "░" in text)
            if chart.bars_symbol == symbol:  # the entry is drawn on the candles
                assert "▲" in text or "▼" in text
            else:  # an option: listed with its premium
                assert " entry " in text
            # it follows the replay: a later read carries newer bars
            first = chart.bars[-1][0]
            await _until(lambda: screen.chart.bars[-1][0] > first, pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, DeskScreen)
    finally:
        await asyncio.to_thread(runner.stop)
    assert runner.error is None
