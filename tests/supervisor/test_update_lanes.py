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


def _order_update(symbol: str, order_id: str, tag: str, n: int) -> dict:
    return {"tradingsymbol": symbol, "order_id": order_id, "tag": tag, "n": n}


def _known(*tags: str):
    """The desk's ``owner``: the tag when it is one of the desk's orders."""
    return lambda data: data.get("tag") if data.get("tag") in tags else ""


async def test_a_known_orders_update_does_not_wait_behind_its_symbols_hung_placement() -> None:
    """The symbol's stop filled while its second entry slice hangs at Kite: the stop's
    news is handled now; the hung slice's own news waits for its placement's answer;
    an order the desk does not know waits in the symbol's lane (it may be the hung one)."""
    hung = asyncio.Event()
    handled: list[tuple[str, int]] = []

    async def placement() -> None:
        await hung.wait()  # Kite does not answer
        handled.append(("answer", 0))

    async def handle(data) -> None:
        handled.append((data["tag"] or data["order_id"], data["n"]))

    lanes = UpdateLanes(handle, owner=_known("STOP", "SLICE2"))
    assert lanes.queue("A", placement, "SLICE2")
    lanes.dispatch(_order_update("A", "2", "SLICE2", 1))  # Kite's news before its answer
    lanes.dispatch(_order_update("A", "9", "", 1))  # an order not known here
    lanes.dispatch(_order_update("A", "1", "STOP", 1))
    lanes.dispatch(_order_update("A", "1", "STOP", 2))
    await asyncio.wait_for(_until(lambda: len(handled) == 2), 1)
    assert handled == [("STOP", 1), ("STOP", 2)] and lanes.busy
    hung.set()
    await asyncio.wait_for(lanes.drain(), 1)
    assert handled[2] == ("answer", 0)  # the answer first, then the news it waited for
    assert sorted(handled[3:]) == [("9", 1), ("SLICE2", 1)]


async def test_an_orders_updates_keep_their_order_when_it_becomes_known() -> None:
    """An order's first update waited in the symbol's lane (the desk did not know it
    then); its next, once known, goes behind it, never ahead."""
    hung = asyncio.Event()
    handled: list[int] = []
    known: set[str] = set()

    async def placement() -> None:
        await hung.wait()

    async def handle(data) -> None:
        handled.append(data["n"])

    lanes = UpdateLanes(handle, owner=lambda data: data["tag"] if data["tag"] in known else "")
    assert lanes.queue("A", placement, "SLICE2")
    lanes.dispatch(_order_update("A", "7", "THEIRS", 1))  # in the symbol's lane
    known.add("THEIRS")  # (taken as a close of ours, say)
    lanes.dispatch(_order_update("A", "7", "THEIRS", 2))
    await asyncio.sleep(0.01)
    assert handled == []  # behind its first, behind the placement
    hung.set()
    await asyncio.wait_for(lanes.drain(), 1)
    assert handled == [1, 2]
    lanes.dispatch(_order_update("A", "7", "THEIRS", 3))  # nothing waits: its own lane
    await asyncio.wait_for(lanes.drain(), 1)
    assert handled == [1, 2, 3] and not lanes.busy


async def test_a_failed_lane_lets_no_update_wait_for_its_dropped_placement() -> None:
    heard: list[BaseException] = []
    handled: list[str] = []

    async def failing() -> None:
        raise RuntimeError("journal write failed")

    async def never() -> None:  # dropped with its lane: never run, never answered
        handled.append("placed")

    async def handle(data) -> None:
        handled.append(data["tag"])

    lanes = UpdateLanes(handle, heard.append, owner=_known("SLICE2"))
    assert lanes.queue("A", failing)
    assert lanes.queue("A", never, "SLICE2")
    lanes.dispatch(_order_update("A", "2", "SLICE2", 1))
    with pytest.raises(RuntimeError, match="journal write failed"):
        await asyncio.wait_for(lanes.drain(), 1)  # not held by the update's wait
    assert handled == ["SLICE2"] and not lanes.busy


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.001)
