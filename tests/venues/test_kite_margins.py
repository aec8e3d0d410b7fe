"""Kite's margins on the Risk tab in paper and live: read from ``GET /user/margins``
with the real ``kiteconnect`` client against ``kitetui sim-exchange`` on 127.0.0.1,
refreshed after a fill, and a failed read journaled once (never silent)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_rehearsal import Exchange, _config

from kitetui.config import load_config
from kitetui.trading.margins import Margins
from kitetui.venues import kite as kite_venue
from kitetui.venues.kite import KiteVenue

T = 20.0


@pytest.fixture
def sim(tmp_path: Path):
    """``kitetui sim-exchange`` on 127.0.0.1, as the dress rehearsal starts it."""
    exchange = Exchange(tmp_path, "--speed", "600")
    yield exchange
    exchange.stop()


async def _until(predicate) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), T)


def _venue(tmp_path: Path, sim) -> tuple[KiteVenue, list]:
    from kiteconnect import KiteConnect

    config = load_config(_config(tmp_path, sim, "paper"))
    venue = KiteVenue(config)
    token = json.loads(Path(config.kite.token_file).read_text())
    access = token.get("access_token") or token.get("value")
    venue._rest = KiteConnect("kitetui_demo", access_token=access, root=sim.rest)
    events: list = []
    venue._host = SimpleNamespace(  # type: ignore[assignment]
        trader=SimpleNamespace(record_event=events.append), clock=SimpleNamespace(now_ns=1)
    )
    return venue, events


async def test_margins_with_sim_exchange_are_read_then_refreshed_on_a_fill(
    tmp_path: Path,
    sim,
    monkeypatch,
) -> None:
    monkeypatch.setattr(kite_venue, "MARGINS_AFTER_FILL_S", 0.0)
    venue, events = _venue(tmp_path, sim)
    assert venue.margins() is None  # nothing read yet: the desk computes its own
    task = asyncio.create_task(venue._poll_margins(venue._host))
    try:
        await _until(lambda: venue.margins() is not None)
        # a fresh account: its cash, nothing used
        assert venue.margins() == Margins(0.0, 1_000_000.0, "Kite")
        calls: list[str] = []
        real = venue._rest.margins
        venue._rest.margins = lambda segment=None: calls.append(segment) or real(segment)
        venue._margins_due.set()  # what a fill does (the venue's fill listener)
        await _until(lambda: calls == ["equity"])
    finally:
        task.cancel()
    assert events == []


async def test_margins_with_failing_read_journal_one_event_and_keep_the_last(
    tmp_path: Path,
    sim,
    monkeypatch,
) -> None:
    monkeypatch.setattr(kite_venue, "MARGINS_AFTER_FILL_S", 0.0)
    venue, events = _venue(tmp_path, sim)
    venue._margins = Margins(10.0, 20.0, "Kite")

    tries: list[str] = []

    def refuse(segment=None):
        tries.append(segment)
        raise ConnectionError("Kite is down")

    venue._rest.margins = refuse
    task = asyncio.create_task(venue._poll_margins(venue._host))
    try:
        await _until(lambda: len(events) == 1)
        venue._margins_due.set()  # a second failure in a row is not a second event
        await _until(lambda: len(tries) == 2)
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert [(e.kind, e.level) for e in events] == [("MarginsReadFailed", "WARNING")]
    assert "Kite is down" in events[0].message
    assert venue.margins() == Margins(10.0, 20.0, "Kite")
