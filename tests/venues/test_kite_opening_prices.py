"""A live or paper desk's opening prices: read from Kite's ``/quote/ltp`` (the real
``kiteconnect`` client against ``kitetui sim-exchange`` on 127.0.0.1) for what the
engines' choice of the day needs, before any tick can arrive.

Without them an equity engine's universe, filtered on price, chose nothing at a live
start, subscribed nothing, and never saw a tick (found by an outside probe)."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from test_rehearsal import Exchange

from kitetui.market.universe import select_universe

from .test_kite_margins import _venue

DAY = date(2023, 4, 3)
STOCKS = ("SBIN", "HDFCBANK")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim(tmp_path: Path):
    """The sim exchange on the bundled stocks alone (its default config opens with a day
    of NIFTY ticks, and a stock has no last price until it trades)."""
    config = yaml.safe_load((REPO / "configs" / "sim-exchange.yaml").read_text())
    config["replay"]["sources"] = [
        source for source in config["replay"]["sources"] if source.get("symbol") in STOCKS
    ]
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(config))
    exchange = Exchange(tmp_path, "--config", str(path), "--speed", "600")
    yield exchange
    exchange.stop()


def _host(events: list, *wanted: str) -> SimpleNamespace:
    engine = SimpleNamespace(wants_prices=lambda day: list(wanted))
    idle = SimpleNamespace(wants_prices=lambda day: [])
    trader = SimpleNamespace(engines={"equity": engine, "fno": idle}, record_event=events.append)
    return SimpleNamespace(trader=trader)


async def test_the_universe_gets_kites_last_prices_before_the_first_tick(tmp_path, sim):
    venue, events = _venue(tmp_path, sim)
    host = _host(events, "SBIN", "HDFCBANK", "NOTLISTED")
    prices: dict[str, float] = {}
    for _ in range(200):  # until the sim's market has traded both stocks
        prices = await venue._opening_prices(host, DAY)  # type: ignore[arg-type]
        if {"SBIN", "HDFCBANK"} <= set(prices):
            break
        await asyncio.sleep(0.05)
    assert set(prices) == {"SBIN", "HDFCBANK"} and all(p > 0 for p in prices.values())
    assert events == []
    choice = select_universe(DAY, ["SBIN", "HDFCBANK"], {"SBIN", "HDFCBANK"}, prices)
    assert set(choice.selected) == {"SBIN", "HDFCBANK"}  # (with no price: none)


async def test_prices_that_cannot_be_read_are_said_and_the_day_starts_without(tmp_path, sim):
    venue, events = _venue(tmp_path, sim)

    def refuse(instruments):
        raise ConnectionError("Kite is down")

    venue._rest.ltp = refuse
    prices = await venue._opening_prices(_host(events, "SBIN"), DAY)  # type: ignore[arg-type]
    assert prices == {}
    assert [e.kind for e in events] == ["OpeningPricesUnread"]
    assert await venue._opening_prices(_host(events), DAY) == {}  # nothing wanted: no call
