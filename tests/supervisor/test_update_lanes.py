"""A live desk's order updates: a lane per symbol (``UpdateLanes``).

An outside probe held one symbol's stop placement at the exchange (a timeout): the
other symbol's fill waited behind it, its position at the exchange without a stop for
the whole timeout and no alarm, because updates were handled one after another."""

from __future__ import annotations

import asyncio

import pytest

from kitetui.supervisor.update_lanes import UpdateLanes


def _update(symbol: str, n: int) -> dict:
    return {"tradingsymbol": symbol, "n": n}


async def test_an_update_waiting_on_the_exchange_holds_no_other_symbols() -> None:
    hung = asyncio.Event()
    handled: list[tuple[str, int]] = []

    async def handle(data) -> None:
        if data["tradingsymbol"] == "A":
            await hung.wait()  # a placement whose answer does not come
        handled.append((data["tradingsymbol"], data["n"]))

    lanes = UpdateLanes(handle)
    lanes.dispatch(_update("A", 1))
    lanes.dispatch(_update("B", 1))
    lanes.dispatch(_update("B", 2))
    await asyncio.sleep(0.01)
    assert handled == [("B", 1), ("B", 2)] and lanes.busy
    lanes.dispatch(_update("A", 2))  # the same symbol waits its turn, in order
    hung.set()
    await lanes.drain()
    assert handled == [("B", 1), ("B", 2), ("A", 1), ("A", 2)] and not lanes.busy


async def test_a_symbols_updates_keep_their_order_across_awaits() -> None:
    handled: list[int] = []

    async def handle(data) -> None:
        await asyncio.sleep(0.001 * (5 - data["n"]))  # the earlier, the slower
        handled.append(data["n"])

    lanes = UpdateLanes(handle)
    for n in range(5):
        lanes.dispatch(_update("A", n))
    await lanes.drain()
    assert handled == [0, 1, 2, 3, 4]


async def test_a_failed_update_is_said_at_once_and_raised_by_drain() -> None:
    heard: list[BaseException] = []

    async def handle(data) -> None:
        if data["n"] == 1:
            raise RuntimeError("journal write failed")

    lanes = UpdateLanes(handle, heard.append)
    lanes.dispatch(_update("A", 1))
    lanes.dispatch(_update("A", 2))  # dropped with its lane: the run is failing
    await asyncio.sleep(0.01)
    assert [str(e) for e in heard] == ["journal write failed"]
    with pytest.raises(RuntimeError, match="journal write failed"):
        await lanes.drain()
    await lanes.drain()  # raised once


async def test_a_job_beside_a_lane_runs_at_once_and_drain_waits_for_it() -> None:
    """A flatten does not wait behind its symbol's hung placement (``beside``)."""
    hung, go_on = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def placement() -> None:
        await hung.wait()  # Kite does not answer
        done.append("placement")

    async def flatten() -> None:
        done.append("flatten started")
        await go_on.wait()
        done.append("flatten")

    lanes = UpdateLanes(lambda data: asyncio.sleep(0))
    assert lanes.queue("A", placement)
    assert lanes.beside("A", flatten)
    await asyncio.sleep(0.01)
    assert done == ["flatten started"] and lanes.busy
    hung.set()
    await asyncio.sleep(0.01)
    assert done == ["flatten started", "placement"] and lanes.busy  # still working
    drained = asyncio.ensure_future(lanes.drain())
    await asyncio.sleep(0.01)
    assert not drained.done()  # drain waits for the job beside the lane too
    go_on.set()
    await asyncio.wait_for(drained, 1)
    assert done[-1] == "flatten" and not lanes.busy


async def test_a_job_beside_a_lane_that_fails_fails_the_run() -> None:
    heard: list[BaseException] = []

    async def flatten() -> None:
        raise RuntimeError("journal write failed")

    lanes = UpdateLanes(lambda data: asyncio.sleep(0), heard.append)
    assert lanes.beside("A", flatten)
    await asyncio.sleep(0.01)
    assert [str(e) for e in heard] == ["journal write failed"]
    assert not lanes.beside("A", flatten)  # the run is stopping: the caller does it inline
    with pytest.raises(RuntimeError, match="journal write failed"):
        await lanes.drain()
