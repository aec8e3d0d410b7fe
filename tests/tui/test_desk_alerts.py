"""The desk screen rings and notifies once per new alert, never for history."""

from __future__ import annotations

import dataclasses

from kitetui.tui.app import make_app
from kitetui.views import AlertView

from .fakes import FakeLink, busy_snapshot, next_snapshot, ts

OLD = AlertView(1, ts(10, 0), "Filled", "Filled BUY NIFTY", "entry BUY 50 NIFTY", "INFO")
NAKED = AlertView(2, ts(10, 30), "PositionNaked", "Position NAKED", "NIFTY: no stop", "ERROR")


async def test_desk_with_new_alert_rings_notifies_and_toasts_once() -> None:
    link = FakeLink(dataclasses.replace(busy_snapshot(), alerts=(OLD,)))
    app = make_app(link, refresh_hz=50)
    written: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.desk.write_terminal = written.append  # what would reach the terminal
        await pilot.pause(0.1)
        assert written == []  # the alert the desk already had when we looked: history
        link.publish(next_snapshot(link.current, alerts=(OLD, NAKED)))
        await pilot.pause(0.1)
        (text,) = written
        assert text.startswith("\a\x1b]9;Position NAKED: NIFTY: no stop\x07")
        assert "\x1b]777;notify;kitetui Position NAKED;NIFTY: no stop\x07" in text
        toasts = [(n.title, n.message, n.severity) for n in app._notifications]
        assert ("Position NAKED", "NIFTY: no stop", "error") in toasts
        link.publish(next_snapshot(link.current))  # nothing new: silence
        await pilot.pause(0.1)
        assert len(written) == 1


async def test_desk_with_bell_and_desktop_off_stays_quiet_but_toasts() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, refresh_hz=50)
    written: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.desk.write_terminal = written.append
        await pilot.pause(0.1)
        link.publish(
            next_snapshot(link.current, alerts=(NAKED,), alert_bell=False, alert_desktop=False)
        )
        await pilot.pause(0.1)
        assert written == []
        assert any(n.title == "Position NAKED" for n in app._notifications)
