"""The trading day's clock on the desk: open, entry cut-off, square-off, the bell.

Each session is planned from the calendar's own windows (``trading/session.py``), so a
special session (a Saturday drill closing at 12:30) moves its cut-off and square-off
with its close. At the session's first batch engines choose what they trade today and
positions carried over are covered again; past the cut-off no entry goes out; at the
square-off every intraday position is closed; at the bell — in paper and replay, where
kitetui plays the exchange — an intraday position still open is closed at the last
price (the broker's auto square-off) and DAY orders expire; a contract expiring that
day is settled (``expiry.py``: by the paper exchange, or live booked in the desk's
books, as Kite settles it by itself), and no stop is re-placed until the next open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitetui.clock import ist_date, ist_day_start_ns, ist_minute_of_day
from kitetui.domain import Event, OrderPurpose, Tick, Validity
from kitetui.events import EventKind
from kitetui.supervisor.expiry import expired_positions, settle_expired
from kitetui.trading import auto_square_off
from kitetui.trading.risk import ENTRY_CUTOFF, EntryBlock
from kitetui.trading.session import SessionPlan, plan_session

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor

_MINUTE_NS = 60_000_000_000
_DAY_NS = 1_440 * _MINUTE_NS


class SessionKeeper:
    def __init__(self, desk: Supervisor, ts_ns: int) -> None:
        self.desk = desk
        self.plan = plan_session(desk.calendar, ist_date(ts_ns), desk.config.session)
        self.closed = False

    @property
    def plan(self) -> SessionPlan:
        return self._plan

    @plan.setter
    def plan(self, plan: SessionPlan) -> None:
        """The day's plan, with its minutes as epoch ns on its IST day. The batch path
        asks the clock after every batch (``entry_window``, ``square_off_may_be_due``,
        ``due``): for a ``ts`` on the plan's day, ``ts`` at or past a minute's first
        nanosecond is exactly its minute of the day at or past that minute, so one
        comparison answers; a ``ts`` of another day is asked the long way."""
        self._plan = plan
        start = ist_day_start_ns(plan.day)
        self._day_ns = (start, start + _DAY_NS)
        self._cutoff_ns = start + plan.entry_cutoff_minute * _MINUTE_NS
        self._square_off_ns = start + min(plan.square_off_equity, plan.square_off_fno) * _MINUTE_NS
        self._bell_ns = start + plan.close_minute * _MINUTE_NS
        # ``steady``: up to the day's first clock event, nothing on the clock moves
        self._steady_ns = (
            start,
            min(self._cutoff_ns, self._square_off_ns, self._bell_ns, start + _DAY_NS),
        )
        cutoff = plan.entry_cutoff_minute
        self._cutoff_block = EntryBlock(
            ENTRY_CUTOFF,
            f"after the entry cut-off {cutoff // 60:02d}:{cutoff % 60:02d}",
            "at the next session's open",
        )

    async def start(self, ts: int) -> None:
        """A new trading day: plan it, check the calendar, cache the master, let the
        engines choose, and re-protect positions carried over (their DAY stops expired:
        live, one whose expiry went unheard is written off first)."""
        desk = self.desk
        trader = desk.trader
        today = ist_date(ts)
        self.plan = plan_session(desk.calendar, today, desk.config.session)
        self.closed = False
        if self.plan.special and not desk.warmup.active:
            trader.record_event(
                Event(ts_ns=ts, kind=EventKind.SPECIAL_SESSION, message=self.plan.describe())
            )
        if not desk.calendar.is_trading_day(today):
            trader.record_event(
                Event(
                    ts_ns=ts,
                    kind=EventKind.DATA_ON_HOLIDAY,
                    level="WARNING",
                    message=f"data on {today}, which the NSE calendar says is not a trading day",
                )
            )
        if not desk.warmup.active:
            desk.journal.add_instruments(today.isoformat(), [i.journal_row() for i in desk.master])
        # found before the engines choose (one may close it as rolled away from), settled
        # once the session is open (the exit manager sends nothing before)
        stale = [] if desk.warmup.active else expired_positions(desk, today, before=True)
        for engine in desk.engines:
            await engine.start_session(today, desk.last_prices, desk.prev_turnover)
        if not desk.venue.simulated and not desk.warmup.active:
            # Where kitetui plays the exchange, ``close`` expired them at the bell; at Kite
            # they lapsed, perhaps unheard (``Trader.lapse_earlier_orders``).
            await trader.lapse_unlisted(today)
        await trader.exits.market_opened()
        await settle_expired(desk, ts, stale, "before this session")

    def steady(self, ts: int) -> bool:
        """Whether the batch at ``ts`` leaves the clock's work undone: on the plan's day,
        before its first clock event (the entry cut-off, the square-off, the bell), with
        no cut-off block left to lift. Then ``entry_window`` changes nothing and
        ``square_off_may_be_due`` and ``due`` answer False, so the batch path asks this
        one question instead of those three (most of a day's batches: three calls and
        their comparisons fewer a batch)."""
        start, until = self._steady_ns
        return start <= ts < until and ENTRY_CUTOFF not in self.desk.risk.blocks

    def entry_window(self, ts: int) -> None:
        """Past the day's entry cut-off no entry goes out; the next session lifts it.
        Asked after every batch: the block is set (or lifted) only when it is not
        already as it must be (an equal block set again is the same block)."""
        start, end = self._day_ns
        if start <= ts < end:
            after = ts >= self._cutoff_ns
        else:
            after = ist_minute_of_day(ts) >= self._plan.entry_cutoff_minute
        risk = self.desk.risk
        if after:
            block = self._cutoff_block
            if risk.blocks.get(ENTRY_CUTOFF) != block:
                risk.set_block(ENTRY_CUTOFF, block.reason, block.clears)
        elif ENTRY_CUTOFF in risk.blocks:
            risk.clear_block(ENTRY_CUTOFF)

    def square_off_may_be_due(self, ts: int) -> bool:
        """From the earlier of the day's square-off times on: asked synchronously after
        every batch, so the many before it await nothing (``square_off`` checks again)."""
        start, end = self._day_ns
        if start <= ts < end:
            return ts >= self._square_off_ns
        plan = self._plan
        return ist_minute_of_day(ts) >= min(plan.square_off_equity, plan.square_off_fno)

    async def square_off(self, ts: int) -> None:
        """At the day's square-off time every intraday position is closed (live, each in
        beside its symbol's lane: ``Trader.flatten_soon``)."""
        desk = self.desk
        trader = desk.trader
        minute = ist_minute_of_day(ts)
        if minute < min(self.plan.square_off_equity, self.plan.square_off_fno):
            return  # before either square-off time: nothing can be due (most batches)
        due = [
            p
            for p in desk.portfolio.open_positions()
            if p.product.value == "MIS"
            and minute >= self._square_off_minute(p.engine)
            and not trader.exits.is_closing(p.symbol)
            and not trader.is_flattening(p.symbol)  # live: under way beside its lane, said once
        ]
        for position in due:
            await trader.flatten_soon(
                position.symbol, OrderPurpose.SQUARE_OFF, "intraday square-off time"
            )
        if due:
            trader.record_event(
                Event(
                    ts_ns=ts,
                    kind=EventKind.SQUARED_OFF,
                    level="INFO",
                    message=f"squared off {len(due)} intraday positions: "
                    + ", ".join(f"{p.symbol} {p.quantity:+d}" for p in due),
                )
            )

    def _square_off_minute(self, engine_name: str) -> int:
        engine = self.desk.trader.engines.get(engine_name)
        return self.plan.square_off_minute(engine.kind if engine is not None else "equity")

    def due(self, ts_ns: int) -> bool:
        """The bell of this session has rung at ``ts_ns``: at or past its close minute,
        on its day (asked after every batch: two comparisons, ``plan``'s setter)."""
        return self._bell_ns <= ts_ns < self._day_ns[1]

    async def end(self) -> None:
        """The session's data ended: close its partial bars, so its last bar is not lost,
        then close the session if its data ended before its bell."""
        desk = self.desk
        for engine in desk.engines:
            await engine.close_partial_bars()
        if not desk.warmup.active:
            await self.close(desk.clock.now_ns)

    async def close(self, ts: int) -> None:
        """The bell: no intraday position outlives its session, no DAY order outlives the
        session it was placed in, and no stop is re-placed until the next open. Where
        kitetui plays the exchange the broker's auto square-off is played here: an MIS
        position still open is closed at the last price. Live, Kite does both itself;
        kitetui says loudly what it left open."""
        if self.closed:
            return
        self.closed = True
        desk = self.desk
        trader = desk.trader
        simulated = desk.venue.simulated
        carried = [p for p in desk.portfolio.open_positions() if p.product.value == "MIS"]
        if carried and simulated:
            await self._auto_square_off(ts, carried)
        expiring = expired_positions(desk, self.plan.day, before=False)
        await settle_expired(desk, ts, expiring, "at today's close")
        trader.exits.market_closed()
        if simulated:
            for order in trader.open_orders():
                if order.validity is Validity.DAY:
                    await trader.cancel(order.tag, "expired at the session close (DAY order)")
        held = [p for p in desk.portfolio.open_positions() if p.product.value == "MIS"]
        if held:
            trader.record_event(
                Event(
                    ts_ns=ts,
                    kind=EventKind.INTRADAY_CARRIED,
                    level="ERROR",
                    message=f"{len(held)} intraday positions still open at the session end: "
                    + ", ".join(f"{p.symbol} {p.quantity}" for p in held),
                )
            )

    async def _auto_square_off(self, ts: int, carried: list) -> None:
        desk = self.desk
        trader = desk.trader
        for position in carried:
            await trader.flatten(
                position.symbol, OrderPurpose.SQUARE_OFF, f"{auto_square_off.REASON} at the close"
            )
        for position in carried:
            price = desk.last_prices.get(position.symbol)
            # the exchange's auto square-off: at the last price, just after the bell
            last = Tick(position.symbol, ts + 1, price) if price else None
            filled = desk.broker.on_market(last) if last is not None else []
            if filled:
                await trader.on_fills(filled)
        # the curve's last point had the positions open: the square-off's slippage and
        # charges belong on it, or the report's curve ends above the run's net
        desk.equity_point(ts + 1)
        trader.record_event(
            Event(
                ts_ns=ts,
                kind=EventKind.AUTO_SQUARED_OFF,
                level="WARNING",
                message=f"{len(carried)} intraday positions closed at the session's last "
                "price: " + ", ".join(f"{p.symbol} {p.quantity:+d}" for p in carried),
            )
        )
