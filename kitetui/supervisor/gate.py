"""The supervisor: the batch gate every mode runs through, one batch at a time.

A batch is every item with one event time (a bar is known at its end, a tick at its
time), so batch boundaries — and therefore every decision — are the same at any replay
speed and after any restart. For each batch the gate:

1. lets through only sound prices (``PriceValidator``: noise is skipped with a reason,
   a jump confirmed by the prints after it is news and passes),
2. marks the book and lets the exchange fill what rests at those prices,
3. checks the day's P&L against the loss limits (halt, or block a symbol) and the
   session's clock (entry cut-off, square-off),
4. hands each engine, in the config's order, the items it subscribed to,
5. services the exit manager (retries, re-pricing) and closes the session at its bell,
6. journals an equity point a minute and the cursor, and publishes a snapshot.

Everything else lives beside it, each in its own module: where the market and the
exchange come from (``venues/``), how a restart picks up (``recovery.py``), the
session's clock (``session_keeper.py``), commands from a person
(``command_handler.py``) and what the screen sees (``snapshots.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any

from kitetui.clock import DataClock, ist_date, ist_day_number, ist_day_start_ns
from kitetui.commands import Command, CommandResult
from kitetui.config import AppConfig, check_armed
from kitetui.domain import NS_PER_SECOND, Bar, Event, OrderPurpose, Tick
from kitetui.events import EventKind
from kitetui.kite.session import LoginRequired
from kitetui.market.calendar import nse as nse_calendar
from kitetui.market.certified import CertifiedBars
from kitetui.market.feeds import OrderUpdate
from kitetui.market.instruments import Instrument
from kitetui.market.loaders import data_path
from kitetui.market.replay import DateWindow, Item
from kitetui.market.validate import GapDetector, PriceValidator, session_breaks
from kitetui.performance.book import PerformanceBook
from kitetui.store import runs as runs_repo
from kitetui.store.compact import compact_single_run
from kitetui.store.database import open_database
from kitetui.store.errors import find_cause
from kitetui.store.journal import Journal
from kitetui.supervisor.assembly import (
    build_engines,
    build_trader,
    not_resumed_note,
    run_started_event,
)
from kitetui.supervisor.charts import chart_view
from kitetui.supervisor.collector import full_speed_collection
from kitetui.supervisor.command_handler import CommandHandler
from kitetui.supervisor.headline import headline
from kitetui.supervisor.recovery import Recovery
from kitetui.supervisor.run_summary import RunSummary, fill_summary
from kitetui.supervisor.session_keeper import SessionKeeper
from kitetui.supervisor.snapshots import Publisher
from kitetui.supervisor.update_lanes import UpdateLanes
from kitetui.trading.exits import CLOSING
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import LimitBreached, RiskEngine, RiskLimits
from kitetui.trading.trader import Trader
from kitetui.trading.warmup import WarmUp
from kitetui.venues import build_venue
from kitetui.views import ChartView, DeskSnapshot, HeadlineView, OrderDetail

OPTION_MAX_JUMP = 0.6  # premiums of thin strikes jump tens of percent between trades
_BEYOND_THE_BANDS = frozenset({EventKind.OPENING_GAP, EventKind.BAND_JUMP})


def _cash_equity(instrument: Instrument) -> bool:
    """An NSE/BSE stock: bound by the price bands (an index is not traded, not banded)."""
    return instrument.instrument_type == "EQ" and instrument.segment.upper() != "INDICES"


def config_hash(config: AppConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


#: Seconds a live desk stopping with ``on_stop: square_off`` reads its closes back.
ON_STOP_READ_BACK_S = 10.0


async def read_back_closes(trader: Trader, seconds: float, every_s: float = 0.5) -> None:
    """Live, stopping: the feed has stopped, so no order update will bring the closes'
    fills. Each working close is read back from Kite until it is done or ``seconds``
    pass, so the journal ends where the exchange does (a slow exchange left the
    square-off journaled OPEN and the summary saying "open -50" of a closed position)."""
    deadline = time.monotonic() + seconds
    while True:
        working = [o.tag for o in trader.open_orders() if o.purpose in CLOSING]
        if not working:
            return
        if time.monotonic() >= deadline:  # never silent: the summary will say "open"
            trader.record_event(
                Event(
                    ts_ns=trader.clock.now_ns,
                    kind=EventKind.SQUARED_OFF_ON_STOP,
                    level="ERROR",
                    message=f"{len(working)} close(s) still working at Kite after "
                    f"{seconds:g} s as kitetui stops: {', '.join(working[:10])}; check "
                    "the positions at Kite",
                )
            )
            return
        for tag in working:
            await trader.refresh(tag)
        if any(o.purpose in CLOSING for o in trader.open_orders()):
            await asyncio.sleep(every_s)


class Supervisor:
    def __init__(
        self,
        config: AppConfig,
        config_path: str | Path,
        *,
        database: str | Path | None = None,
        speed: float | str | None = "config",
        publish_interval_s: float = 0.1,
        recording: str | Path | None = None,
        window: DateWindow | None = None,
    ) -> None:
        check_armed(config, config_path)  # whoever builds a live desk, it must be armed
        self.config = config
        self.config_path = str(config_path)
        self.db_path = Path(database if database is not None else config.database).expanduser()
        if speed == "config":
            replay = config.replay
            speed = None if replay is None or replay.speed == "max" else float(replay.speed)
        self.speed: float | None = speed  # type: ignore[assignment]
        # A recorded paper/live session to replay through the paper broker, batch by batch.
        self.recording = Path(recording) if recording is not None else None
        # A backtest's --from/--to: the replay's days, and part of the run's identity.
        self.window = window
        self.venue = build_venue(config, speed=self.speed, recording=self.recording, window=window)
        self.clock = DataClock()
        self.warmup = WarmUp()
        self.publisher = Publisher(self, publish_interval_s)
        self.feed_state = "STARTING"
        self.summary: RunSummary | None = None
        self.headline: HeadlineView | None = None  # a finished replay's figures
        # ``kitetui run --new-run``: begin a new paper/live run although the last one,
        # not resumable, still holds positions or orders (``left_behind`` says which).
        self.new_run = False
        self.left_behind: list[str] = []
        # Not --new-run: the last run of the mode, unfinished, that this one did not
        # resume (another config or window), said once in the journal and the summary.
        self.not_resumed = ""
        self.performance = PerformanceBook()  # the Performance tab, fed every fill
        self._stopping = False
        self._closed = False
        self._full_speed = False  # a replay run at full speed (set by run)

    @property
    def published(self) -> DeskSnapshot | None:
        return self.publisher.published

    # -- start-up ------------------------------------------------------------------------

    async def open(self) -> None:
        await self.open_store()
        try:
            await self.open_market()
        except BaseException:
            await self.db.close()  # its thread would otherwise keep the process alive
            raise

    async def open_store(self) -> None:
        """Open (or refuse) the database and find the run to resume: fast, done first."""
        cfg = self.config
        self.db = await open_database(
            self.db_path, synchronous=cfg.journal.synchronous, exclusive=True
        )
        digest = config_hash(cfg)
        mode = cfg.mode
        if self.recording is not None:  # its own kind of run: never resumes the session
            mode = "replay"
            digest = hashlib.sha256(f"{digest}|{self.recording.resolve()}".encode()).hexdigest()
            digest = digest[:16]
        if self.window is not None:  # another window is another run, never a resume
            digest = hashlib.sha256(f"{digest}|{self.window.describe()}".encode()).hexdigest()
            digest = digest[:16]
        previous = await runs_repo.unfinished_run(self.db, mode)
        self.run_id, self.resume_cursor, self.resumed, self.left_behind = await runs_repo.begin_run(
            self.db, mode, digest, self.config_path, new_run=self.new_run
        )
        if previous is not None and not self.resumed and not self.new_run:
            self.not_resumed = not_resumed_note(
                previous, await runs_repo.held_by_run(self.db, previous.run_id)
            )
        self.summary = RunSummary(
            run_id=self.run_id, resumed=self.resumed, not_resumed=self.not_resumed
        )

    async def open_market(self) -> None:
        """Open the venue (masters, data, broker, feed), build the trading core and the
        engines, and read back what the journal holds of this run."""
        cfg = self.config
        self.journal = Journal(
            self.db,
            self.run_id,
            flush_interval_s=cfg.journal.flush_interval_ms / 1000,
            flush_rows=cfg.journal.flush_rows,
            commits=self.venue.commits,
            hold_rows=cfg.journal.hold_rows,
        )
        await self.journal.load_sequences()
        self.portfolio = Portfolio(cfg.capital)
        self.risk = RiskEngine(RiskLimits(**cfg.risk.model_dump()))
        self.calendar = nse_calendar(
            data_path(cfg.calendar.holidays_override) if cfg.calendar.holidays_override else None
        )
        opened = await self.venue.open(self)
        self.master = opened.master
        self.contracts = {i.tradingsymbol: i for i in self.master}
        self.broker = self.venue.broker
        self.feed = self.venue.feed
        opening = opened.events
        if self.resumed:  # the data's warnings are the run's already: say them once
            said = await runs_repo.journaled_events(self.db, self.run_id, {e.kind for e in opening})
            opening = [e for e in opening if (e.kind, e.message) not in said]
        self.trader, self.alerts = build_trader(self, opening)
        if self.left_behind:
            self.trader.record_event(
                Event(
                    ts_ns=0,
                    kind=EventKind.PREVIOUS_RUN_LEFT,
                    level="WARNING",
                    message="a new run began (--new-run) though the last one still held "
                    + "; ".join(self.left_behind[:10]),
                    data={"held": self.left_behind},
                )
            )
        if self.not_resumed:
            self.trader.record_event(
                Event(
                    ts_ns=0,
                    kind=EventKind.PREVIOUS_RUN_LEFT,
                    level="WARNING",
                    message=self.not_resumed,
                )
            )
        self.last_prices: dict[str, float] = {}
        self.trader.last_prices = self.last_prices
        self._turnover: dict[str, float] = {}  # today's, per symbol (rupees)
        self.prev_turnover: dict[str, float] = {}
        self.engines: list[Any] = []
        self.routes: dict[str, list[Any]] = {}
        build_engines(self, opened.available)
        self.sessions = SessionKeeper(self, time.time_ns())
        self.commands = CommandHandler(self)
        self.recovery = Recovery(self)
        self.day: int | None = None
        self._day_ns = (0, 0)  # ``day``'s span, epoch ns (``_enter_day``): none yet
        self._last_equity_minute = -1
        self.validator = PriceValidator(
            jump_overrides={i.tradingsymbol: OPTION_MAX_JUMP for i in self.master if i.is_option},
            banded=[i.tradingsymbol for i in self.master if _cash_equity(i)],
            gap_watched=[i.tradingsymbol for i in self.master if _cash_equity(i) or i.is_future],
        )
        self.gaps = GapDetector(breaks=session_breaks(self.calendar.special_sessions))
        self._certified: CertifiedBars | None = None  # at full speed (``run``)
        self._known = frozenset(self.contracts)
        # ``_deliver``: whether every known symbol is routed, for the routes checked.
        self._routes_checked: dict[str, list[Any]] | None = None
        self._routes_all = False
        self._unknown_symbols: set[str] = set()
        # What the print just accepted filled or triggered (``_accept``, ``_react``).
        self._filled: list[Any] = []
        self._triggered: list[Any] = []
        # Before the recovery's load turns the warm-up on (it silences the journal): a
        # restart is said in the journal, not only counted in the run's row.
        self.trader.record_event(run_started_event(self))
        await self.recovery.load()
        self.journal.start()
        # A desk that answers `status` has something to show from its first reply.
        self.publish()

    def reroute(self, _engine: Any = None) -> None:
        """Route each symbol to the engines that watch it, and subscribe those symbols
        and every held one: after an engine's choice changes, and after a restart
        rebuilt the positions."""
        routes: dict[str, list[Any]] = {}
        for engine in self.engines:
            for symbol in engine.subscriptions | engine.warming:
                routes.setdefault(symbol, []).append(engine)
        self.routes = routes
        # Held positions keep their prices flowing even when no engine watches them.
        self.feed.set_subscriptions(frozenset(routes) | frozenset(self.trader.holders))

    # -- the one driver loop -------------------------------------------------------------

    async def run(self) -> RunSummary:
        """Take the feed's items to their end (or until stopped); return the summary."""
        assert self.summary is not None
        started = time.perf_counter()
        # Full speed over recorded data: engines run in this task, batch by batch (a
        # paced replay and a live market keep a task each, free between batches).
        inline = self._full_speed = self.speed is None and not self.feed.live
        # ... and decide a column at a time where the strategy can; a debugging run that
        # journals every HOLD as a row stays bar by bar, on the reference path.
        columns = self.venue.bar_columns if inline and not self.config.journal.hold_rows else None
        if inline:  # bars certified sound from their columns skip the per-bar checks
            found = {s: c for s in self._known if (c := self.venue.bar_columns(s))}
            self._certified = CertifiedBars(self.validator, self.gaps, found)
            self._certified.turnover = self._turnover
        for engine in self.engines:
            engine.launch(inline=inline, columns=columns)
        heartbeat = asyncio.create_task(self.publisher.heartbeat(), name="snapshot-heartbeat")
        try:
            if not self.warmup.active:
                await self.recovery.finish()
            await self.venue.start(self)
            self.alerts.start()
            self.feed_state = "RUNNING"
            self.publish()
            self.journal.inline = inline
            try:
                with full_speed_collection(inline):
                    ended = await self._drive()
            finally:
                self.journal.inline = False
                if self._certified is not None:  # the validator as the per-bar path leaves it
                    self._certified.settle_all()
            if ended and not self.feed.live:
                if self.warmup.active:  # the crash came after the last batch
                    await self.recovery.finish()
                await self.sessions.end()
                self.headline = await headline(self)
                self.feed_state = "FINISHED"
        except Exception as exc:
            self._failed(exc)
            raise
        finally:
            try:
                await self.venue.stop(self)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
                self.summary.wall_s = time.perf_counter() - started
                if self.feed_state == "RUNNING":
                    self.feed_state = "STOPPED"
                self.publish()
        return self.summary

    async def _drive(self) -> bool:
        """Feed items through the gate; True when the feed ended, False when stopped.
        The warm-up (a resumed run replaying what it had done) ends at the first batch
        the dead process had not finished."""
        cursor = self.recovery.cursor_ns
        # Live, each symbol's order updates go in a lane of their own: one waiting on
        # the exchange (a hung placement) holds no other symbol's fill and stop; and
        # an update of an order the desk knows, in its order's lane, none of its own
        # symbol's other orders.
        lanes = (
            UpdateLanes(self.trader.on_update, self._lane_failed, self.trader.order_tag_of)
            if self.feed.live
            else None
        )
        # ... and so does each strategy entry's placement: a hung one holds no batch;
        # a flatten runs beside its lane, never behind its symbol's hung placement.
        self.trader.place_later = lanes.queue if lanes is not None else None
        self.trader.act_now = lanes.beside if lanes is not None else None
        try:
            async for item in self.feed.items():
                if isinstance(item, OrderUpdate):
                    if lanes is not None:
                        lanes.dispatch(item.data)
                    else:
                        await self.trader.on_update(item.data)
                    continue
                ts, batch = item
                if self.warmup.active and ts > cursor:
                    await self.recovery.finish()
                if not self.warmup.active:
                    pause = self.feed.pace(ts)  # None: due now (most batches at full speed)
                    if pause is not None:
                        await pause
                    if self._stopping:
                        return False
                await self._process(ts, batch, self.warmup.active)
                self.venue.record(ts, batch)
            return not self._stopping
        finally:
            if lanes is not None:
                try:
                    await lanes.drain()  # raises an update's failure: the run fails on it
                finally:
                    # from here on, entries place and flattens run inline
                    self.trader.place_later = self.trader.act_now = None

    def _lane_failed(self, _exc: BaseException) -> None:
        """An order update failed in its lane: the loop stops, and ``drain`` raises it."""
        self.request_stop()

    def _failed(self, exc: Exception) -> None:
        refused = find_cause(exc, LoginRequired)
        if refused is None:
            state, kind, message = (
                "ERROR",
                EventKind.SUPERVISOR_FAILED,
                f"{type(exc).__name__}: {exc}",
            )
        else:
            # Kite refused the token mid-session (a cancel, a modify, a read). Not a
            # failed run: it ends STOPPED, so after `kitetui login` the next start
            # resumes it with its positions, stops and working orders (as FAILED a new
            # run began with none of them, and the live position went unmanaged).
            state, kind = "STOPPED", EventKind.LOGIN_REQUIRED
            message = (
                f"Kite refused the access token ({refused}); the desk stopped: run "
                "`kitetui login`, then start it again and the run resumes with its open "
                "positions and orders"
            )
        self.feed_state = state
        self.trader.record_event(
            Event(ts_ns=self.clock.now_ns, kind=kind, level="ERROR", message=message)
        )

    def request_stop(self) -> None:
        """Stop at the next batch (also before the run has begun: it then never starts)."""
        self._stopping = True
        feed = getattr(self, "feed", None)
        if feed is not None and feed.live:  # wake the live loop, waiting for the market
            asyncio.get_running_loop().create_task(feed.close())

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- the venue's hooks ----------------------------------------------------------------

    async def begin_day(self, ts_ns: int, prices: Mapping[str, float] | None = None) -> None:
        """Live: start the trading day on the exchange's clock, before any tick, with
        the prices the venue read for the engines' choice (``Engine.wants_prices``)."""
        self.last_prices.update(prices or {})
        self.clock.now_ns = ts_ns
        self._enter_day(ts_ns)
        today = ist_date(ts_ns).isoformat()
        rebuilt = ""
        if self.warmup.active:
            # A resumed live desk has no market data to replay up to its cursor: its
            # state comes back now, before the feed, the reconciler or an order update
            # can act on an empty book (a stop cancelled as "position flat"), and its
            # events, commands and alerts are journaled from the start, not from the
            # first tick (which at night is hours away).
            rebuilt = self.recovery.replay_days()
            await self.recovery.finish()
        if rebuilt != today:
            self.portfolio.start_day(today)
        self.risk.roll_day(today)
        await self.sessions.start(ts_ns)

    async def close_session_if_due(self, wall_ns: int) -> None:
        if self.sessions.due(wall_ns):
            await self.sessions.close(wall_ns)

    def publish(self) -> None:
        """Publish now: something a person must see changed."""
        self.publisher.publish(force=True)

    # -- the gate -----------------------------------------------------------------------

    async def _process(self, ts: int, batch: list[Item], warm: bool) -> None:
        summary = self.summary
        assert summary is not None
        start, end = self._day_ns
        new_day = not start <= ts < end  # ``ist_day_number(ts) != self.day``
        if new_day:
            await self._roll_day(ts, warm)
        self.clock.now_ns = ts
        summary.first_ts_ns = summary.first_ts_ns or ts
        summary.last_ts_ns = ts
        summary.batches += 1
        if warm:
            self.recovery.replay_fills(ts)
        accepted = await self._gate(ts, batch, warm)
        if accepted and not warm:
            self.publisher.last_item_wall_ns = time.time_ns()
        if new_day:
            await self.sessions.start(ts)
        sessions = self.sessions
        # Before the day's first clock event the clock has nothing to do (``steady``):
        # its three questions below are asked only from then on.
        steady = sessions.steady(ts)
        if not steady:
            sessions.entry_window(ts)
        if not warm:
            # The loss limits and the square-off are asked synchronously: on most batches
            # no limit newly trips and no square-off is due, and they await nothing; no
            # limit is near on most, and the per-symbol P&L is not even built.
            if self.risk.may_breach(*self.portfolio.day_loss()):
                breaches = self.risk.on_pnl(*self.portfolio.day_pnls())
                if breaches:
                    await self._risk_checks(ts, breaches)
            if not steady and sessions.square_off_may_be_due(ts):
                await sessions.square_off(ts)
        delivering = self._deliver(accepted)
        if delivering is not None:
            await delivering
        if not warm:
            if not self.feed.live:  # live, the venue's timer does it beside the ticks
                await self.trader.exits.service()  # retries due, resting orders re-priced
            if not steady and self.sessions.due(ts):
                await self.sessions.close(ts)
            self._checkpoint(ts)
        self.publisher.publish()

    def _enter_day(self, ts: int) -> None:
        """``day`` becomes ``ts``'s IST day, and ``_day_ns`` its span in epoch ns: the
        batch path's new-day test is two comparisons, not a call and a division."""
        self.day = ist_day_number(ts)
        start = ist_day_start_ns(ist_date(ts))
        self._day_ns = (start, start + 86_400 * NS_PER_SECOND)

    async def _roll_day(self, ts: int, warm: bool) -> None:
        if self.day is not None:
            await self.sessions.end()
        self._enter_day(ts)
        self.portfolio.start_day(ist_date(ts).isoformat())
        certified = self._certified
        if certified is not None:  # the certified bars' turnover in before it is read
            certified.settle_all()
        self.prev_turnover, self._turnover = self._turnover, {}
        if certified is not None:
            certified.turnover = self._turnover
        if not warm:
            self.risk.roll_day(ist_date(ts).isoformat())

    async def _gate(self, ts: int, batch: list[Item], warm: bool) -> list[Item]:
        """The items of the batch that pass, each after the held prints it confirmed.

        Most prints pass alone and trade nothing: they go through synchronously, and
        only a print that filled or triggered an order waits on the trader.

        While every item so far is a bar accepted here, the accepted items are the
        batch's first ``taken`` and nothing is appended (``accepted`` is None): the list
        is made from the batch at the first item that is not one (not accepted, or
        accepted elsewhere with the prints it released). The bars are tallied in
        ``taken`` and added to the run's count before anything awaits (a snapshot
        taken meanwhile sees every bar accepted so far) and at the end. A quiet bar's
        ``append`` and attribute increment were a good part of the loop's steps."""
        accepted: list[Item] | None = None  # None: the batch's first ``taken`` items
        taken = counted = 0  # bars accepted here; of them, added to ``summary.bars``
        validator = self.validator
        check, check_bar = validator.check, validator.check_bar
        known = self._known
        # Bars certified sound from their columns (``market/certified.py``, full speed):
        # the one that follows the symbol's last accepted bar takes a step, not the checks.
        certified = self._certified
        until_get = certified.until.get if certified is not None else {}.get
        settle = certified.settle if certified is not None else None
        ends = self.gaps.ends
        ends_get = ends.get
        # The common case, a sound bar that fills and triggers nothing, is ``_accept``
        # spelled out over these locals: most prints of a backtest are one, and the call
        # and its attribute reads were a good part of a quiet bar's cost in the gate.
        summary = self.summary
        assert summary is not None
        gap_check, mark = self.gaps.check, self.portfolio.mark
        # ``mark`` moves only a held symbol's book; a bar's close is sound (the
        # validator's ``0 < low <= close``), so any other symbol's is only stored.
        held, marks = self.portfolio.held, self.portfolio.marks
        turnover, last_prices = self._turnover, self.last_prices
        on_market, take_triggered = self.broker.on_market, self.broker.take_triggered
        # Both answer [] and change nothing for a print of a symbol with nothing working
        # while no triggered stop waits to be taken (``Broker.watched``): most bars.
        resting, untaken = self.broker.watched()
        # And for a bar strictly inside its symbol's stops' band, while every order of
        # the symbol that works is a stop waiting for its trigger (``Broker.stop_bands``):
        # a held symbol's protective stop, which most of its bars pass by.
        bands_get = self.broker.stop_bands().get
        for item in batch:
            symbol = item.symbol
            if symbol not in known:  # before the validator: its notes would follow
                if accepted is None:
                    accepted = batch[:taken]
                self._unknown(symbol, ts)
                continue
            if type(item) is not Bar:
                if accepted is None:
                    accepted = batch[:taken]
                summary.bars += taken - counted
                counted = taken
                reason = check(item)
                if reason is None and not validator.has_news:  # the common case
                    if self._accept(item, ts, warm, accepted):
                        await self._react()
                else:
                    await self._refused_or_news(item, reason, ts, warm, accepted)
                continue
            start = item.ts_ns
            if start <= until_get(symbol, -1) and start == ends_get(symbol):
                # Certified: the validator's fast path and the gap check pass it (its
                # turnover is added from the columns, ``CertifiedBars.settle``). No check
                # ran, so the validator has no news: only a check gives it some, and
                # every one that does is taken right after it (``_refused_or_news``).
                ends[symbol] = start + item.timeframe_s * NS_PER_SECOND
            else:
                if settle is not None:
                    settle(symbol, start)
                reason = check_bar(item)
                if reason is not None or validator.has_news:
                    if accepted is None:
                        accepted = batch[:taken]
                    summary.bars += taken - counted
                    counted = taken
                    await self._refused_or_news(item, reason, ts, warm, accepted)
                    continue
                gap = gap_check(item)
                if gap is not None:
                    self._gap(symbol, ts, gap)
                if item.volume:
                    turnover[symbol] = turnover.get(symbol, 0.0) + item.close * item.volume
            # ``_accept``, a bar
            taken += 1
            price = item.close
            last_prices[symbol] = price
            if symbol in held:
                mark(symbol, price)
            else:
                marks[symbol] = price
            if accepted is not None:
                accepted.append(item)
            if (symbol not in resting and not untaken) or warm:
                continue
            if not untaken:
                band = bands_get(symbol)
                if band is not None and item.low > band[0] and item.high < band[1]:
                    continue
            filled = on_market(item)
            if filled:
                self._filled = filled
                summary.bars += taken - counted
                counted = taken
                await self._react()
                continue
            triggered = take_triggered()
            if triggered:
                self._triggered = triggered
                summary.bars += taken - counted
                counted = taken
                await self._react()
        summary.bars += taken - counted
        return batch if accepted is None else accepted

    async def _refused_or_news(
        self, item: Item, reason: str | None, ts: int, warm: bool, accepted: list[Item]
    ) -> None:
        """A print the validator refused (``reason``), or after which it has news: its
        notes are journaled, and the prints it released go on first, then the print
        itself if it passed."""
        validator = self.validator
        released: list[Item] = []
        if validator.has_news:  # a held jump confirmed (or dropped) by this print
            for note in validator.take_notes():
                self.trader.record_event(note)
                if note.kind in _BEYOND_THE_BANDS and not warm:
                    self._refuse_entries_after_gap(note)
            released = validator.take_released()
        if reason is not None:
            kind = EventKind.TICK_SKIPPED if isinstance(item, Tick) else EventKind.BAR_SKIPPED
            _warn(self.trader, ts, kind, item.symbol, reason, {"reason": reason})
            return
        for earlier in released:  # news, not noise: it goes to bars and indicators
            if self._accept(earlier, ts, warm, accepted):
                await self._react()
        if self._accept(item, ts, warm, accepted):
            await self._react()

    def _refuse_entries_after_gap(self, note: Event) -> None:
        """A session opening beyond the price bands is most likely a corporate action
        the data was not adjusted for: no new entry in the symbol for the rest of the
        day (its signals come from nonsense), but nothing is flattened either — a
        position carried into the gap is the person's to judge (``OpeningGap``)."""
        moved = "opened" if note.kind == EventKind.OPENING_GAP else "moved"
        self.risk.block_symbol(
            note.symbol,
            f"it {moved} beyond NSE's price bands ({note.data['open']:g} after "
            f"{note.data['last']:g}): possible unadjusted corporate action",
        )

    def _accept(self, item: Item, ts: int, warm: bool, accepted: list[Item]) -> bool:
        """A print that passed the gate: it marks the book, lets the exchange fill what
        rests at its price, and goes on to the engines (``accepted``). True when the
        exchange filled or triggered something the trader must hear of (``_react``)."""
        symbol = item.symbol
        gap = self.gaps.check(item)
        if gap is not None:
            self._gap(symbol, ts, gap)
        summary = self.summary
        assert summary is not None
        if type(item) is Bar:
            summary.bars += 1
            price = item.close
            if item.volume:
                turnover = self._turnover
                turnover[symbol] = turnover.get(symbol, 0.0) + price * item.volume
        else:
            summary.ticks += 1
            price = item.price
        self.last_prices[symbol] = price
        self.portfolio.mark(symbol, price)
        accepted.append(item)
        if warm:
            return False
        filled = self.broker.on_market(item)
        if filled:
            self._filled = filled
            return True
        self._triggered = self.broker.take_triggered()
        return bool(self._triggered)

    def _gap(self, symbol: str, ts: int, gap: str) -> None:
        """A hole in a routed symbol's data (``GapDetector``), said in the journal."""
        if symbol in self.routes:
            _warn(self.trader, ts, EventKind.DATA_GAP, symbol, gap)

    async def _react(self) -> None:
        """The trader hears of what the last accepted print filled (and of what the rest
        of a bar filled of the stops placed in reaction), then of the stops it
        triggered that rest unfilled (re-priced like Kite's order updates would ask):
        those are taken after the fills, which may have cancelled some."""
        filled, self._filled = self._filled, []
        triggered, self._triggered = self._triggered, []
        if filled:
            while filled:  # a stop the rest of its entry's bar went through fills too
                await self.trader.on_fills(filled)
                filled = self.broker.take_filled()
            triggered = self.broker.take_triggered()
        for order in triggered:
            await self.trader.on_order_state(order)

    def _unknown(self, symbol: str, ts: int) -> None:
        if symbol in self._unknown_symbols:
            return
        self._unknown_symbols.add(symbol)
        _warn(
            self.trader,
            ts,
            EventKind.UNKNOWN_SYMBOL,
            symbol,
            "not in the instrument master: its data is skipped",
        )

    async def _risk_checks(self, ts: int, breaches: list[LimitBreached] | None = None) -> None:
        """The day's P&L against the loss limits: a halt flattens everything, a blocked
        symbol is flattened. Live, each flatten runs beside its symbol's lane
        (``Trader.flatten_soon``): one hung at Kite holds no other symbol's batch, and
        none waits behind its symbol's hung entry placement.

        ``breaches``: what ``RiskEngine.on_pnl`` just tripped, when the caller asked it
        (the batch path does, synchronously, and calls this only when something
        tripped: on most batches nothing does). ``on_pnl`` reports the loss halt only
        while no loss halt was set, so before it the desk was halted by the kill switch
        alone; and it blocks only symbols not blocked before, so the others were."""
        if breaches is None:
            breaches = self.risk.on_pnl(*self.portfolio.day_pnls())
            if not breaches:
                return
        trader, risk = self.trader, self.risk
        newly_blocked = {b.symbol for b in breaches if b.symbol}
        blocked_before = set(risk.blocked_symbols) - newly_blocked
        if any(not b.symbol for b in breaches) and not risk.kill_switch:
            reason = risk.halted_reason or "max daily loss"
            trader.record_event(
                Event(ts_ns=ts, kind=EventKind.TRADING_HALTED, level="ERROR", message=reason)
            )
            self.journal.set_risk_state(risk.to_state())
            await trader.flatten_all_soon(OrderPurpose.FLATTEN, reason)
        for symbol in set(risk.blocked_symbols) - blocked_before:
            reason = risk.blocked_symbols[symbol]
            _warn(trader, ts, EventKind.SYMBOL_BLOCKED, symbol, reason)
            await trader.flatten_soon(symbol, OrderPurpose.FLATTEN, reason)

    def _deliver(self, accepted: list[Item]) -> Awaitable[None] | None:
        """Each engine, in the config's order, gets the items it subscribed to: what to
        await for that, or None when no engine gets any. With one engine that is its
        own ``deliver``, awaited by the caller: a coroutine frame fewer a batch."""
        routes = self.routes
        if len(self.engines) == 1:  # every route leads to it: no sorting by engine
            if routes is not self._routes_checked:  # a reroute: its routes anew
                self._routes_checked = routes
                self._routes_all = self._known <= routes.keys()
            # Every print accepted is of a known symbol: when all are routed, all go.
            items = (
                accepted
                if self._routes_all
                else [item for item in accepted if item.symbol in routes]
            )
            return self.engines[0].deliver(items) if items else None
        per_engine: dict[str, list[Item]] = {}
        for item in accepted:
            for engine in routes.get(item.symbol, ()):
                per_engine.setdefault(engine.name, []).append(item)
        return self._deliver_each(per_engine) if per_engine else None

    async def _deliver_each(self, per_engine: dict[str, list[Item]]) -> None:
        """``_deliver`` to several engines, one after another in the config's order."""
        for engine in self.engines:
            items = per_engine.get(engine.name)
            if items:
                await engine.deliver(items)

    def _checkpoint(self, ts: int) -> None:
        """An equity point a data minute, and the cursor with the risk state: a resumed
        run must see the blocks and counters as they stood after its last batch."""
        minute = ts // 60_000_000_000
        if minute != self._last_equity_minute:
            self._last_equity_minute = minute
            self.equity_point(ts)
        self.journal.set_risk_state(self.risk.to_state())
        self.journal.set_cursor(ts)

    def equity_point(self, ts: int) -> None:
        """A point of the equity curve (net of charges), and the positions it stands on."""
        equity = self.portfolio.record_equity(ts)
        self.journal.add_equity_point(ts, equity)
        self.journal.set_positions(self.portfolio.positions)

    # -- commands -------------------------------------------------------------------------

    async def execute(self, command: Command) -> CommandResult:
        return await self.commands.execute(command)

    async def order_detail(self, tag: str) -> OrderDetail | None:
        return await self.commands.order_detail(tag)

    async def chart(self, symbol: str) -> ChartView | None:
        """The price chart of ``symbol`` (``kitetui.supervisor.charts``)."""
        return await chart_view(self, symbol)

    # -- shutdown -----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop engines, drain the journal and record how the run ended."""
        if self._closed:
            return
        self._closed = True
        if self.config.on_stop == "square_off" and self.portfolio.open_positions():
            placed = await self.trader.flatten_all(
                OrderPurpose.SQUARE_OFF, "stopping: on_stop is square_off"
            )
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=EventKind.SQUARED_OFF_ON_STOP,
                    level="WARNING",
                    message=f"{placed} square-off orders placed as kitetui stops",
                )
            )
            if self.config.mode == "live":
                await read_back_closes(self.trader, ON_STOP_READ_BACK_S)
        for engine in self.engines:
            await engine.shutdown()
        await self.alerts.stop()
        status = {"FINISHED": "FINISHED", "ERROR": "FAILED"}.get(self.feed_state, "STOPPED")
        self.journal.set_risk_state(self.risk.to_state())
        # The positions as they stand now, with the last batch's marks: the minute's
        # checkpoint was written at its first commit, and a run stopped later in the
        # minute journaled older marks than its summary printed (probe C 7).
        self.journal.set_positions(self.portfolio.positions)
        await self.journal.close()
        await runs_repo.finish_run(self.db, self.run_id, status)
        await fill_summary(self.summary, self)
        if status == "FINISHED" and self._full_speed:  # a backtest's own database
            await compact_single_run(self.db, self.run_id, self.clock.now_ns)
        await self.db.close()


def _warn(
    trader: Any,
    ts: int,
    kind: EventKind,
    symbol: str,
    message: str,
    data: dict[str, object] | None = None,
) -> None:
    """A WARNING about ``symbol``'s data or limits, journaled (never silent)."""
    trader.record_event(
        Event(ts_ns=ts, kind=kind, level="WARNING", symbol=symbol, message=message, data=data or {})
    )
