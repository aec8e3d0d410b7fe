"""Rule 4: the broker is the truth. Drift is reported, never patched.

Every few seconds the reconciler reads Kite's order book — an order update the websocket
lost still lands, in stream order, as if the websocket had sent it; an order whose
placement was unknown is settled — then compares positions and open orders with the
desk's. A difference seen once may be an update still in flight; seen twice in a row it
is drift, journaled once and shown until it clears. A contract the desk booked settled
at its expiry (``kitetui.trading.expiry_booking``) is flat here while Kite lists it
until its day ends: that is the settlement, not drift. A pass that fails is an event, and
``ALARM_AFTER`` failures in a row raise the alarm: the desk can no longer see the
exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kitetui.brokers.kite import KiteBroker, map_status
from kitetui.clock import DataClock, ist_date
from kitetui.domain import Event, OrderStatus
from kitetui.events import EventKind
from kitetui.kite.session import LoginRequired
from kitetui.market.feeds import LiveFeed
from kitetui.trading.trader import Trader, broker_holdings

ALARM_AFTER = 3  # failed passes in a row before the alarm


class Reconciler:
    def __init__(
        self,
        broker: KiteBroker,
        trader: Trader,
        feed: LiveFeed,
        clock: DataClock,
        publish: Callable[[], None],
    ) -> None:
        self.broker = broker
        self.trader = trader
        self.feed = feed
        self.clock = clock
        self.publish = publish
        self.failures = 0  # consecutive failed passes
        self._last_drift: tuple[str, ...] = ()  # the drift last reported
        self._candidate_drift: tuple[str, ...] = ()  # the drift the last pass saw

    async def run(self, interval_s: float) -> None:
        """Pass after pass until cancelled."""
        while True:
            try:
                await self.poll_orders()
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
            else:
                self._recovered()
            await asyncio.sleep(interval_s)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if isinstance(exc, LoginRequired):  # it said "trading must halt" and nothing did
            self.trader.require_login(exc)
        self.trader.record_event(
            Event(
                ts_ns=self.clock.now_ns,
                kind=EventKind.RECONCILE_FAILED,
                level="ERROR" if self.failures >= ALARM_AFTER else "WARNING",
                message=f"reconcile pass {self.failures} in a row failed: "
                f"{type(exc).__name__}: {exc}",
                data={"failures": self.failures},
            )
        )
        self.publish()

    def _recovered(self) -> None:
        if not self.failures:
            return
        self.trader.record_event(
            Event(
                ts_ns=self.clock.now_ns,
                kind=EventKind.RECONCILE_RECOVERED,
                message=f"reconcile works again after {self.failures} failed passes",
            )
        )
        self.failures = 0
        self.publish()

    async def poll_orders(self) -> None:
        """Read the order book: changes the websocket did not bring go into the feed in
        stream order; an unknown placement not in the book was never placed."""
        working = {o.tag: o for o in self.trader.open_orders()}
        if not working:
            return
        seen: set[str] = set()
        for data in await self.broker.orders():
            known = working.get(data.get("tag") or "")
            if known is None:
                continue
            seen.add(known.tag)
            status = map_status(data.get("status"), known.order_type, known.status)
            filled = int(data.get("filled_quantity") or 0)
            if status is not known.status or filled != known.filled_qty:
                self.feed.push_order_update(data)
        await self.trader.settle_unknown(seen)

    async def reconcile(self) -> list[str]:
        """Compare positions and open orders with the broker; the differences seen."""
        positions = await self.broker.positions()
        broker_positions = {p.symbol: p.quantity for p in positions}
        broker_open = {o.tag for o in await self.broker.open_orders()}
        self.trader.note_exchange_ns(self.broker.exchange_ns)
        # Orders of an earlier day that Kite no longer lists lapsed unheard: written off,
        # and their positions covered again for no more than Kite holds of them; a
        # position held to Kite's so far is looked at again (``Trader.lapse_earlier_orders``).
        await self.trader.lapse_earlier_orders(
            ist_date(self.clock.now_ns), broker_open, broker_holdings(positions)
        )
        ours = {p.symbol: p.quantity for p in self.trader.portfolio.open_positions()}
        our_open = {o.tag for o in self.trader.open_orders() if o.status is not OrderStatus.NEW}
        drift = []
        settled = self.trader.settled_at_expiry
        for symbol in sorted(set(broker_positions) | set(ours)):
            theirs, mine = broker_positions.get(symbol, 0), ours.get(symbol, 0)
            if mine == 0 and theirs and theirs == settled.get(symbol):
                continue  # settled at expiry: Kite lists it until its day ends
            if theirs != mine:
                drift.append(f"{symbol}: broker {theirs:+d}, kitetui {mine:+d}")
        for tag in sorted(broker_open ^ our_open):
            side = "broker only" if tag in broker_open else "kitetui only"
            drift.append(f"open order {tag}: {side}")
        signature = tuple(drift)
        seen_before, self._candidate_drift = self._candidate_drift, signature
        if drift and signature != seen_before:
            return drift  # perhaps only in flight: it counts when seen twice in a row
        if drift and signature != self._last_drift:
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.RECONCILE_DRIFT,
                    level="WARNING",
                    message="; ".join(drift),
                    data={"drift": drift},
                )
            )
        elif not drift and self._last_drift:
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.RECONCILE_CLEAN,
                    message="positions and open orders agree with the broker again",
                )
            )
        self._last_drift = signature
        return drift
