"""Kite's daily order cap keeps room for closes: the desk on the strict exchange.

Entries could spend all 5,000 orders of Kite's day, and then the last position's close
was refused by our own limiter (``RateLimitExceeded``) before Kite ever saw it. Now the
last ``urgent_reserve`` orders are kept for stops and closes: an entry past that is a
clear refusal, journaled as every refusal is (``OrderNotAccepted``, the order REJECTED
with the reason), and the close of an open position still goes out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from limit_helpers import SteppedClock

from kitetui.brokers.kite import KiteBroker, LimitWait
from kitetui.brokers.ratelimit import KiteRateLimits
from kitetui.domain import (
    Exchange,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    SignalKind,
)
from kitetui.sim.inproc import InProcessKite

from .desk import rule_11
from .kite_rig import OPTION, SYMBOL, T0, Rig, drawn_signal
from .test_entry_lanes import _at_exchange, _live


def test_entries_stop_at_the_reserve_and_the_close_still_goes(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig, lanes = await _live(tmp_path)
        trader = rig.trader
        limits = rig.broker.limits
        await trader.on_signal(rig.engine, drawn_signal(rig, SignalKind.LONG))  # type: ignore[arg-type]
        await lanes.drain()  # the entry is at Kite, its fill not yet heard
        entries_cap = limits.orders_per_day - limits.urgent_reserve
        limits.seed_orders_today(entries_cap)  # entries spent every order they may
        await rig.deliver()
        await trader.exits.service()
        # the fill's stops (one a freeze-quantity slice) were placed from the reserve
        stops = [o for o in trader.orders.values() if o.purpose is OrderPurpose.STOP]
        assert stops and limits.orders_today == entries_cap + len(stops)
        assert trader.position_qty(SYMBOL) > 0 and not rule_11(trader)
        # a new position's entry: refused on our side, clearly, and journaled
        await rig.buy_option()
        await rig.deliver()
        entry = next(
            o
            for o in trader.orders.values()
            if o.symbol == OPTION and o.purpose is OrderPurpose.ENTRY
        )
        assert entry.status is OrderStatus.REJECTED
        assert "last 100 are kept for stops, exits and square-offs" in entry.reason
        assert _at_exchange(rig, OPTION) == []  # Kite never saw it
        assert trader.position_qty(OPTION) == 0
        # the open position's close still goes out, and fills
        await trader.flatten(SYMBOL, OrderPurpose.FLATTEN, "test flatten")
        for _ in range(3):
            await rig.deliver()
            await trader.exits.service()
        assert trader.position_qty(SYMBOL) == 0 and rig.exchange_position(SYMBOL) == 0
        await rig.journal.flush()
        rows = await (
            await rig.db.execute("SELECT kind, level, symbol, message FROM events")
        ).fetchall()
        refused = [r for r in rows if r[0] == "OrderNotAccepted"]
        assert len(refused) == 1
        _, level, symbol, message = refused[0]
        assert (level, symbol) == ("WARNING", OPTION)
        assert f"order {entry.tag} not sent: daily order limit reached for new positions" in (
            message
        )
        assert f"{entries_cap + len(stops):,} of 5,000 orders" in message
        assert "no more entries until tomorrow" in message
        assert await asyncio.wait_for(lanes.drain(), 10) is None
        await rig.journal.close()
        await rig.db.close()

    asyncio.run(scenario())


def _order(tag: str, purpose: OrderPurpose, side: Side, **terms) -> Order:
    return Order(
        tag=tag,
        engine="fno",
        symbol=SYMBOL,
        exchange=Exchange.NFO,
        side=side,
        quantity=50,
        order_type=terms.pop("order_type", OrderType.LIMIT),
        product=Product.NRML,
        purpose=purpose,
        status=OrderStatus.NEW,
        ts_ns=T0,
        **terms,
    )


class CountingKite(InProcessKite):
    """The client over the strict exchange, noting which order each call was about."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: list[tuple[str, str]] = []  # (route, order id or tag)

    def _request(self, route: str, method: str, url_args=None, params=None, **kw: Any) -> Any:
        about = (url_args or {}).get("order_id") or (params or {}).get("tag") or ""
        self.seen.append((route, str(about)))
        return super()._request(route, method, url_args, params, **kw)

    def said(self, routes: set[str]) -> list[tuple[str, str]]:
        """The calls of ``routes`` in order, each named by its order's tag."""
        tags = {o["order_id"]: o["tag"] for o in self.exchange.orders(self.account)}
        return [(route, tags.get(about, about)) for route, about in self.seen if route in routes]


async def _inline(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """The exchange answers at once in this process: no worker thread, so the stepped
    clock knows every call has come back before it moves."""
    return fn(*args, **kwargs)


async def test_protective_requests_reach_kite_ahead_of_queued_ones(
    tmp_path: Path, monkeypatch
) -> None:
    """The broker over the strict exchange, Kite's windows full (1 a second here). Three
    entries wait, then a stop for a filled position comes: it reaches Kite next, ahead
    of all three, and its wait is said (``on_limit_wait``), the entries' are not. A
    cancel's lookups and the cancel go ahead of reads waiting at the other endpoints'
    limit; a stop's modification goes ahead of an entry's that waited before it."""
    monkeypatch.setattr(asyncio, "to_thread", _inline)
    rig = Rig(tmp_path)
    await rig.tick(0, 1000)
    kite = CountingKite(rig.exchange, rig.account)
    clock = SteppedClock()
    waits: list[LimitWait] = []
    broker = KiteBroker(
        kite,
        limits=KiteRateLimits(
            clock=clock, sleep=clock.sleep, orders_per_second=1, others_per_second=1
        ),
        sleep=clock.sleep,
        on_limit_wait=waits.append,
    )
    below = rig.price - 500

    def entry(tag: str) -> Order:
        return _order(tag, OrderPurpose.ENTRY, Side.BUY, price=below)

    def later(call: Awaitable[Any]) -> asyncio.Future[Any]:
        return asyncio.ensure_future(call)

    await asyncio.wait_for(broker.place(entry("E1")), 5)
    entries = [later(broker.place(entry(f"E{i}"))) for i in (2, 3, 4)]
    await clock.advance_to(1000.5)
    stop = _order(
        "S1", OrderPurpose.STOP, Side.SELL, order_type=OrderType.SL_M, trigger_price=below
    )
    stopped = later(broker.place(stop))
    await clock.advance_to(1004.0)
    await asyncio.wait_for(asyncio.gather(stopped, *entries), 5)
    assert [o["tag"] for o in rig.exchange.orders(rig.account)] == ["E1", "S1", "E2", "E3", "E4"]
    assert [(w.order.tag, w.action, w.waited_s) for w in waits] == [("S1", "placement", 0.5)]

    await asyncio.wait_for(broker.positions(), 5)  # the other endpoints' window, full
    reads = [later(broker.positions()) for _ in range(2)]
    await clock.advance_to(1004.5)
    cancelled = later(broker.cancel("E2"))
    await clock.advance_to(1010.0)
    await asyncio.wait_for(asyncio.gather(cancelled, *reads), 5)
    assert cancelled.result().status is OrderStatus.CANCELLED
    reads_routes = {"order.info", "order.cancel", "portfolio.positions"}
    assert kite.said(reads_routes) == [
        ("portfolio.positions", ""),
        ("order.info", "E2"),  # the cancel's lookup
        ("order.cancel", "E2"),
        ("order.info", "E2"),  # its confirmation
        ("portfolio.positions", ""),
        ("portfolio.positions", ""),
    ]
    assert (waits[-1].order.tag, waits[-1].action, waits[-1].waited_s) == ("E2", "cancel", 2.5)

    await asyncio.wait_for(broker.modify("E3", ts_ns=T0, price=below - 5), 5)
    changes = [later(broker.modify("E4", ts_ns=T0, price=below - 5))]
    await clock.advance_to(1010.5)
    changes.append(later(broker.modify("S1", ts_ns=T0, trigger_price=below - 5)))
    await clock.advance_to(1020.0)
    await asyncio.wait_for(asyncio.gather(*changes), 5)
    assert kite.said({"order.modify"}) == [
        ("order.modify", "E3"),
        ("order.modify", "S1"),
        ("order.modify", "E4"),
    ]
