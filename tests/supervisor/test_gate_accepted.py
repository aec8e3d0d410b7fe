"""The gate's accepted list and bar count when a batch is not all quiet bars.

``_gate`` appends nothing while every item so far is a bar it accepted: the accepted items
are then a prefix of the batch, made into a list at the first item that is not one, and
the bars are added to the run's count from a local tally, before anything awaits and
at the end. These batches put every other kind of item after, between and before quiet
bars, and read the count while the trader is awaited."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kitetui.domain import Bar, Tick
from kitetui.supervisor import Supervisor
from tests.brokers.paper_orders import SL, B, order
from tests.demo_session import demo_config

TS = 1_700_000_000_000_000_000


def _bar(symbol: str, price: float = 50.0, ts: int = TS) -> Bar:
    return Bar(symbol, ts, 60, price, price + 0.5, price - 0.5, price, 1000)


@pytest.fixture
async def supervisor(tmp_path: Path):  # type: ignore[no-untyped-def]
    desk = Supervisor(demo_config(), "test.yaml", database=tmp_path / "s.db", speed=None)
    await desk.open()
    try:
        yield desk
    finally:
        await desk.close()


async def test_an_unknown_symbol_a_tick_and_a_refused_bar_leave_the_others_accepted_in_order(
    supervisor: Supervisor,
) -> None:
    """Fails if the prefix made at the first item that is not a quiet bar is cut one
    short or long, if a quiet bar after it is not appended, or if a bar counted in the
    local tally is lost or counted twice."""
    a, b, c, d = sorted(supervisor._known)[:4]
    summary = supervisor.summary
    assert summary is not None
    bars, ticks = summary.bars, summary.ticks

    first = [_bar(a), _bar(b), _bar("NOT-IN-THE-MASTER"), _bar(c), _bar(d)]
    assert await supervisor._gate(TS, first, False) == [first[0], first[1], first[3], first[4]]
    assert (summary.bars, summary.ticks) == (bars + 4, ticks)

    ts = TS + 60_000_000_000
    tick = Tick(b, ts, 50.0)
    second = [_bar(a, ts=ts), tick, _bar(c, ts=ts), _bar(d, ts=ts)]
    assert await supervisor._gate(ts, second, False) == second
    assert (summary.bars, summary.ticks) == (bars + 7, ticks + 1)

    ts += 60_000_000_000
    broken = Bar(c, ts, 60, 50.0, 49.0, 51.0, 50.0, 1000)  # its high under its low
    third = [_bar(a, ts=ts), _bar(b, ts=ts), broken, _bar(d, ts=ts)]
    assert await supervisor._gate(ts, third, False) == [third[0], third[1], third[3]]
    assert summary.bars == bars + 10

    ts += 60_000_000_000
    quiet = [_bar(s, ts=ts) for s in (a, b, c, d)]
    accepted = await supervisor._gate(ts, quiet, False)
    assert accepted == quiet
    assert summary.bars == bars + 14


async def test_the_bars_before_a_print_that_triggers_are_counted_when_the_trader_hears(
    supervisor: Supervisor,
) -> None:
    """Fails if the local tally is not added to the run's count before the gate awaits
    the trader (a snapshot taken then would show fewer bars than were accepted), or if
    a bar the paper book saw is left out of the list handed on."""
    a, b, held, d = sorted(supervisor._known)[:4]
    book = supervisor.broker.book
    book.place(
        replace(order(B, SL, price=100.0, trigger=100.0, tag="resting", ts_ns=1), symbol=held)
    )
    summary = supervisor.summary
    assert summary is not None
    bars = summary.bars
    heard: list[int] = []

    async def on_order_state(_order) -> None:  # type: ignore[no-untyped-def]
        heard.append(summary.bars)

    supervisor.trader.on_order_state = on_order_state  # type: ignore[method-assign]
    batch = [_bar(a), _bar(b), _bar(held, price=101.0), _bar(d)]
    assert await supervisor._gate(TS, batch, False) == batch
    assert heard == [bars + 3]  # the trader heard of the stop with three bars counted
    assert summary.bars == bars + 4
