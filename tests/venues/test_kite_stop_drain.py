"""A stopping live desk journals the order updates still queued, but within a bound:
each may set the exit manager working against an exchange that no longer knows the
orders (a night later), and a SIGTERM once waited minutes on it (found by a probe)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from kitetui.market.feeds import LiveFeed
from kitetui.venues import kite as kite_venue
from kitetui.venues.kite import KiteVenue


def _venue_with(updates: int) -> KiteVenue:
    venue = KiteVenue.__new__(KiteVenue)
    venue.feed = LiveFeed()
    for n in range(updates):
        venue.feed.push_order_update({"order_id": str(n)})
    return venue


def test_queued_updates_are_journaled_at_the_stop(monkeypatch) -> None:
    heard: list[dict] = []

    async def on_update(data: dict) -> None:
        heard.append(data)

    host = SimpleNamespace(
        trader=SimpleNamespace(on_update=on_update, record_event=heard.append),
        clock=SimpleNamespace(now_ns=1),
    )
    asyncio.run(_venue_with(3)._drain_updates(host))  # type: ignore[arg-type]
    assert heard == [{"order_id": "0"}, {"order_id": "1"}, {"order_id": "2"}]


def test_a_drain_that_hangs_is_cut_off_and_said(monkeypatch) -> None:
    monkeypatch.setattr(kite_venue, "STOP_DRAIN_S", 0.2)
    events: list = []

    async def on_update(data: dict) -> None:
        await asyncio.sleep(3600)  # an exit working against an exchange that is gone

    host = SimpleNamespace(
        trader=SimpleNamespace(on_update=on_update, record_event=events.append),
        clock=SimpleNamespace(now_ns=1),
    )
    started = time.monotonic()
    asyncio.run(_venue_with(5)._drain_updates(host))  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert [e.kind for e in events] == ["FinalPollFailed"]
    assert "5 order updates not journaled" in events[0].message
