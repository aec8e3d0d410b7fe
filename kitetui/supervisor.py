"""The supervisor: owns every trading task, the data clock, recovery and commands.

One loop moves the market forward a batch at a time (batches share one event time):
bad data is filtered, prices mark the portfolio and fill resting paper orders, risk
looks at the day's P&L, square-off runs at its time, and then each engine gets its
bars, in a fixed order, so a replay decides the same way at any speed and after any
crash. Commands (start/stop an engine, pause entries, kill switch, flatten, cancel)
run on the same loop between awaits, and every change is published as an immutable
``DeskSnapshot`` at a bounded rate for whoever is watching.

Recovery: an unfinished run of the same config is resumed. Data up to the journaled
cursor is replayed silently to rebuild bars and indicators while the journaled fills
are re-applied at their data times; then risk state, open orders and the kill switch
are restored from the database and trading continues from the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from engines import ENGINE_KINDS, Engine, EngineState
from kitetui.brokers.paper import PaperBroker
from kitetui.clock import (
    IST,
    DataClock,
    ist_date,
    ist_day_number,
    ist_minute_of_day,
)
from kitetui.commands import (
    CancelOrder,
    Command,
    CommandResult,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    ResumeEntries,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.config import AppConfig
from kitetui.domain import (
    Bar,
    Event,
    Order,
    OrderPurpose,
    OrderStatus,
    Tick,
    TradingState,
    Validity,
)
from kitetui.market.calendar import nse as nse_calendar
from kitetui.market.feeds import LiveFeed, OrderUpdate, ReplayFeed
from kitetui.market.instruments import Instrument, InstrumentMaster
from kitetui.market.loaders import data_path
from kitetui.market.replay import Item, Pacer, load_replay_sources, merge_batches
from kitetui.market.validate import GapDetector, PriceValidator
from kitetui.preflight import check_replay_days
from kitetui.store import runs as runs_repo
from kitetui.store.database import open_database
from kitetui.store.journal import Journal
from kitetui.store.recording import (
    TickRecorder,
    load_recording,
    master_beside,
    recorded_symbols,
    recording_path,
)
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import ENTRY_CUTOFF, FEED_STALE, RiskEngine, RiskLimits
from kitetui.trading.session import plan_session
from kitetui.trading.trader import Trader
from kitetui.views import (
    DeskSnapshot,
    FeedView,
    LimitView,
    OrderDetail,
    OrderView,
    PositionView,
    RiskView,
)

_RECENT_ORDERS = 300
HEARTBEAT_S = 1.0  # the longest a running desk goes without publishing a snapshot
RECONCILE_ALARM_AFTER = 3  # failed reconcile passes in a row before the alarm
OPTION_MAX_JUMP = 0.6  # premiums of thin strikes jump tens of percent between trades


@dataclass
class RunSummary:
    run_id: str
    resumed: bool
    batches: int = 0
    bars: int = 0
    ticks: int = 0
    wall_s: float = 0.0
    fills: int = 0
    orders: int = 0
    entries: int = 0
    signals: int = 0
    realized: float = 0.0
    unrealized: float = 0.0
    max_drawdown: float = 0.0
    open_positions: list[tuple[str, int, float]] = field(default_factory=list)
    events_by_kind: dict[str, int] = field(default_factory=dict)
    risk_state: str = "ACTIVE"
    first_ts_ns: int = 0
    last_ts_ns: int = 0


def config_hash(config: AppConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


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
    ) -> None:
        self.config = config
        self.config_path = str(config_path)
        self.db_path = Path(database if database is not None else config.database)
        if speed == "config":
            replay = config.replay
            speed = None if replay is None or replay.speed == "max" else float(replay.speed)
        self.speed: float | None = speed  # type: ignore[assignment]
        # A recorded paper/live session to replay through the paper broker, batch by batch.
        self.recording = Path(recording) if recording is not None else None
        self.publish_interval_s = publish_interval_s
        self.clock = DataClock()
        self.published: DeskSnapshot | None = None
        self.feed_state = "STARTING"
        self.summary: RunSummary | None = None
        self._publish_seq = 0
        self._last_publish = 0.0
        self._last_item_wall_ns = 0  # wall time of the newest processed tick or bar
        self._rate_mark = (0.0, 0)  # (monotonic s, items processed) at the last rate sample
        self._items_per_s = 0.0
        self._closed = False
        self._last_drop_event = 0.0
        self.reconcile_failures = 0  # consecutive failed reconcile passes (live)

    # -- start-up and recovery ---------------------------------------------------------

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
        self.run_mode = mode
        resumable = await runs_repo.find_resumable_run(self.db, mode, digest)
        if resumable is not None:
            self.run_id = resumable.run_id
            self.resume_cursor = resumable.cursor_ns
            await runs_repo.mark_restarted(self.db, self.run_id)
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            self.run_id = f"{stamp}-{secrets.token_hex(3)}"
            self.resume_cursor = 0
            await runs_repo.create_run(self.db, self.run_id, mode, self.config_path, digest)
        self.resumed = resumable is not None
        self.summary = RunSummary(run_id=self.run_id, resumed=self.resumed)

    async def open_market(self) -> None:
        """Load masters and data, build engines and read back the run's journal."""
        cfg = self.config
        self.journal = Journal(
            self.db,
            self.run_id,
            flush_interval_s=cfg.journal.flush_interval_ms / 1000,
            flush_rows=cfg.journal.flush_rows,
        )
        await self.journal.load_sequences()
        self.portfolio = Portfolio(cfg.capital)
        self.risk = RiskEngine(RiskLimits(**cfg.risk.model_dump()))
        self.broker = PaperBroker(
            slippage_bps=cfg.paper.slippage_bps, tick_size=cfg.paper.tick_size
        )
        self.trader = Trader(
            journal=self.journal,
            broker=self.broker,
            portfolio=self.portfolio,
            risk=self.risk,
            clock=self.clock,
            sizing=cfg.sizing,
            exits=cfg.exits,
            tick_size=cfg.paper.tick_size,
            run_id=self.run_id,
            # Exits re-price and retry on the data clock in replay (the same decisions at
            # any speed and after a restart), on the wall clock in paper and live.
            timer_ns=None if cfg.mode == "replay" or self.recording else time.monotonic_ns,
        )
        self.calendar = nse_calendar(
            data_path(cfg.calendar.holidays_override) if cfg.calendar.holidays_override else None
        )
        # The day's cut-off, square-off and close, from the calendar's own windows; set
        # for each session as it starts (a regular session's until then).
        self.session = plan_session(self.calendar, ist_date(time.time_ns()), cfg.session)
        self._session_closed = False
        self.master = await self._load_master()
        self.broker = PaperBroker(
            slippage_bps=cfg.paper.slippage_bps,
            tick_size=cfg.paper.tick_size,
            tick_sizes={i.tradingsymbol: i.tick_size for i in self.master if i.tick_size > 0},
        )
        self.trader.broker = self.broker
        self._simulated_fills = True  # paper: fills come from our simulator, not a broker
        self._contracts = {i.tradingsymbol: i for i in self.master}
        self._known = frozenset(self._contracts)
        self.last_prices: dict[str, float] = {}
        self._turnover: dict[str, float] = {}  # today's, per symbol (rupees)
        self._prev_turnover: dict[str, float] = {}
        self.trader.last_prices = self.last_prices
        self.recorder: TickRecorder | None = None
        if self.recording is not None:
            recorded = load_recording(self.recording)
            available = frozenset(recorded_symbols(recorded))
            self.feed = ReplayFeed(recorded, Pacer(self.speed, 1.0))
        elif cfg.mode == "replay":
            self._streams = self._load_sources()
            available = frozenset(s[0].symbol for s in self._streams if s)
            self.feed: ReplayFeed | LiveFeed = ReplayFeed(
                merge_batches(self._streams), Pacer(self.speed, cfg.replay.max_gap_seconds)
            )
        else:
            available = frozenset(self._contracts)
            self.feed = LiveFeed(on_drop=self._on_dropped_batch)
            await self._connect_kite()
        run_tag = self.run_id.rsplit("-", 1)[-1]
        self.engines: list[Engine] = []
        self.routes: dict[str, list[Engine]] = {}
        for engine_cfg in cfg.engines:
            engine = ENGINE_KINDS[engine_cfg.kind](
                engine_cfg, self.trader, run_tag, self.master, self.calendar
            )
            engine.available = available
            engine.freeze_limits = cfg.freeze_limits
            engine.on_subscriptions = self._reroute
            self.engines.append(engine)
            self.trader.engines[engine.name] = engine
        self.day: int | None = None
        self._last_equity_minute = -1
        self._fills_applied = 0
        self.validator = PriceValidator(
            jump_overrides={i.tradingsymbol: OPTION_MAX_JUMP for i in self.master if i.is_option}
        )
        self.gaps = GapDetector()
        self._unknown_symbols: set[str] = set()
        self._last_drift: tuple[str, ...] = ()  # the drift last reported
        self._candidate_drift: tuple[str, ...] = ()  # the drift the last pass saw
        # What the journal already holds for this run (empty for a new run).
        self._journal_fills = await runs_repo.load_fills(self.db, self.run_id)
        for order in await runs_repo.load_orders(self.db, self.run_id):
            self.trader.track(order)
        self.trader.counts["orders"] = len(self.trader.orders)
        kill = await runs_repo.load_desk_state(self.db, "kill_switch")
        self._kill_on_start = kill if kill and kill.get("on") else None
        self.journal.start()
        self.trader.record_event(
            Event(
                ts_ns=0,
                kind="RunResumed" if self.resumed else "RunStarted",
                message=(
                    f"resumed run {self.run_id} from cursor {self.resume_cursor}"
                    if self.resumed
                    else f"started run {self.run_id}"
                ),
                data={"config": self.config_path, "database": str(self.db_path)},
            )
        )

    async def _load_master(self) -> InstrumentMaster:
        if self.recording is not None:  # the master the session traded with, kept beside it
            specs: list[str] = [str(master_beside(self.recording))]
        elif not self.config.instruments:  # paper/live: today's dump from Kite
            return await self._fetch_kite_master()
        else:
            specs = list(self.config.instruments)
        instruments = []
        for spec in specs:
            master, events = InstrumentMaster.from_csv(data_path(spec))
            instruments.extend(master)
            for event in events:
                self.trader.record_event(event)
        return InstrumentMaster(instruments)

    def _load_sources(self) -> list[list[Item]]:
        """Every replay file is the market; engines subscribe to what they trade. Days the
        calendar does not cover, or a universe without a membership list for a replayed
        day, are found here, before the first batch."""
        loaded = load_replay_sources(self.config.replay.sources)
        checks = check_replay_days(self.config, loaded.days, self.calendar, self.config_path)
        for event in (*loaded.events, *checks):
            self.trader.record_event(event)
        return [list(stream) for stream in loaded.streams]

    def _reroute(self, _engine: Engine | None = None) -> None:
        routes: dict[str, list[Engine]] = {}
        for engine in self.engines:
            for symbol in engine.subscriptions:
                routes.setdefault(symbol, []).append(engine)
        self.routes = routes
        # Held positions keep their prices flowing even when no engine watches them.
        self.feed.set_subscriptions(frozenset(routes) | frozenset(self.trader.holders))

    async def _finish_recovery(self) -> None:
        """After the silent warm-up: restore risk, open orders, stops and the kill switch."""
        for _, fill in self._journal_fills[self._fills_applied :]:
            self.trader.replay_fill(fill)
        self._fills_applied = len(self._journal_fills)
        state = await runs_repo.load_risk_state(self.db, self.run_id)
        if state is not None:
            restored = RiskEngine.from_state(state, self.risk.limits)
            restored.blocks.update(self.risk.blocks)  # live conditions, not journaled
            self.risk = restored
            self.trader.risk = self.risk
        open_orders = [o for o in self.trader.orders.values() if not o.status.is_terminal]
        self.broker.restore(open_orders)
        await self.trader.recover_new_orders()
        await self._ensure_cover()
        if self._kill_on_start or self.risk.kill_switch:
            # On before the restart, or pulled while the desk was starting: the positions
            # the journal rebuilt are closed now.
            if self._kill_on_start:
                self.risk.trigger_kill(self._kill_on_start.get("reason", "kill switch"))
            await self._apply_kill("kill switch still on after restart")
        if self.resumed:
            positions = {p.symbol: p.quantity for p in self.portfolio.open_positions()}
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="StateRebuilt",
                    message=f"rebuilt {len(self._journal_fills)} fills, {len(positions)} open "
                    f"positions, {len(open_orders)} open orders from the journal",
                    data={"positions": positions, "open_orders": [o.tag for o in open_orders]},
                )
            )

    async def _ensure_cover(self) -> None:
        """A crash between a fill and the order it called for (a stop after an entry, a
        closing order, the entry of a reversal) leaves it missing: the exit manager
        settles each open position as it would have right after its last fill, with the
        same cause, so the order gets the same tag and time it would have had."""
        last_entry: dict[str, Order] = {}
        for order in self.trader.orders.values():
            if order.purpose is OrderPurpose.ENTRY and order.filled_qty and order.stop_price:
                last_entry[order.symbol] = order
        exits = self.trader.exits
        exits.rebuild(last_entry)
        await self._restore_reversals()
        last_fill: dict[str, tuple[int, str]] = {}
        for clock_ns, fill in self._journal_fills:
            last_fill[fill.symbol] = (clock_ns, fill.fill_id)
        symbols = {p.symbol for p in self.portfolio.open_positions()}
        symbols |= {o.symbol for o in self.trader.open_orders()}
        symbols |= set(exits.reversal_symbols())
        for symbol in sorted(symbols):
            clock_ns, fill_id = last_fill.get(symbol, (None, ""))
            await exits.settle(symbol, cause=fill_id, ts_ns=clock_ns)

    async def _restore_reversals(self) -> None:
        """Stop-and-reverse survives a restart: a close that a signal against the
        position started still enters the other side once it has filled, unless the
        entry was already tried (an order or a risk decision for it is journaled)."""
        if self.config.exits.on_opposite_signal != "reverse":
            return
        latest: dict[str, Order] = {}
        for order in self.trader.orders.values():  # placement order: the last one wins
            latest[order.symbol] = order
        for symbol, order in latest.items():
            kind = order.reason.split(":", 1)[0]
            if order.purpose is not OrderPurpose.EXIT or kind not in ("LONG", "SHORT"):
                continue
            if await runs_repo.has_decision(self.db, self.run_id, order.signal_id, "ENTRY"):
                continue
            signal = await runs_repo.load_signal(self.db, order.signal_id)
            if signal is not None:
                self.trader.exits.restore_reversal(symbol, signal.engine, signal)

    # -- the main loop ----------------------------------------------------------------

    async def run(self) -> RunSummary:
        """Replay the data to its end (or until stopped) and return the summary."""
        assert self.summary is not None
        started = time.perf_counter()
        for engine in self.engines:
            engine.launch()
        heartbeat = asyncio.create_task(self._heartbeat(), name="snapshot-heartbeat")
        try:
            if self.feed.live:
                return await self._run_live(started)
            return await self._run_replay(started)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self) -> None:
        """Publish at least once a second, so a quiet market still shows a live desk (a
        reader that sees no new snapshot for seconds knows the desk itself is stuck)."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if time.monotonic() - self._last_publish >= HEARTBEAT_S:
                self._publish(force=True)

    async def _run_replay(self, started: float) -> RunSummary:
        assert self.summary is not None
        pacer = self.feed.pacer
        warm = self.resume_cursor > 0
        self.trader.quiet = warm
        for engine in self.engines:
            engine.warming_up = warm
        if not warm:
            await self._finish_recovery()
        self.feed_state = "RUNNING"
        self._publish(force=True)
        try:
            for ts, batch in self.feed.batches():
                if warm and ts > self.resume_cursor:
                    warm = False
                    self.trader.quiet = False
                    for engine in self.engines:
                        engine.warming_up = False
                    await self._finish_recovery()
                if not warm:
                    if pacer is not None:
                        await pacer.wait(ts)
                    if self._stopping:
                        break
                await self._process(ts, batch, warm)
            else:
                if warm:  # the crash came after the last batch
                    self.trader.quiet = False
                    for engine in self.engines:
                        engine.warming_up = False
                    await self._finish_recovery()
                await self._end_session()
                self.feed_state = "FINISHED"
        except Exception as exc:
            self._failed(exc)
            raise
        finally:
            self.summary.wall_s = time.perf_counter() - started
            if self.feed_state == "RUNNING":
                self.feed_state = "STOPPED"
            self._publish(force=True)
        return self.summary

    _stopping = False

    def _failed(self, exc: Exception) -> None:
        self.feed_state = "ERROR"
        self.trader.record_event(
            Event(
                ts_ns=self.clock.now_ns,
                kind="SupervisorFailed",
                level="ERROR",
                message=f"{type(exc).__name__}: {exc}",
            )
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

    # -- live and paper on Kite ----------------------------------------------------------

    async def _kite_login(self) -> tuple[str, str]:
        """The API key and today's access token (never logged, journaled or shown)."""

        from kitetui.kite.session import Credentials, describe_expiry, load_token

        if getattr(self, "_kite_auth", None) is None:
            kite_cfg = self.config.kite
            assert kite_cfg is not None
            credentials = Credentials.load(Path(kite_cfg.credentials_file).expanduser())
            token = load_token(Path(kite_cfg.token_file).expanduser())
            self._kite_auth = (credentials.api_key, token.value)
            # Tokens expire daily: say when, before it fails.
            self.trader.record_event(
                Event(
                    ts_ns=0, kind="KiteTokenLoaded", message=f"Kite token {describe_expiry(token)}"
                )
            )
        return self._kite_auth

    async def _kite_client(self):
        """One REST client for the supervisor's own reads (the broker keeps its own)."""
        from kiteconnect import KiteConnect  # only paper/live pay for Twisted and requests

        if getattr(self, "_kite_rest", None) is None:
            api_key, access_token = await self._kite_login()
            kite_cfg = self.config.kite
            assert kite_cfg is not None
            self._kite_rest = KiteConnect(
                api_key,
                access_token=access_token,
                root=kite_cfg.root,
                timeout=kite_cfg.timeout_s,
            )
        return self._kite_rest

    async def _fetch_kite_master(self) -> InstrumentMaster:
        """Today's instruments dump from Kite (or the local exchange), kept for replays."""
        client = await self._kite_client()
        kite_cfg = self.config.kite
        assert kite_cfg is not None
        raw = await asyncio.to_thread(client._get, "market.instruments.all")
        master, events = InstrumentMaster.from_csv(bytes(raw))
        for event in events:
            self.trader.record_event(event)
        folder = Path(kite_cfg.record_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        self._recording_path = recording_path(folder, self.run_id)
        master_beside(self._recording_path).write_bytes(bytes(raw))
        return master

    async def _connect_kite(self) -> None:
        """Paper: Kite's ticks, our fills. Live: Kite's ticks and Kite's orders."""

        kite_cfg = self.config.kite
        assert kite_cfg is not None and isinstance(self.feed, LiveFeed)
        from kitetui.brokers.kite import KiteBroker
        from kitetui.market.kite_feed import KiteFeed

        api_key, access_token = await self._kite_login()
        feed = self.feed
        self.kite_feed = KiteFeed(
            api_key,
            access_token,
            root_ws=kite_cfg.ws_root,
            loop=asyncio.get_running_loop(),
            on_ticks=feed.push,
            on_order_update=feed.push_order_update,
            on_state=self._on_feed_state,
            stale_after_s=kite_cfg.stale_after_s,
            symbols_by_token={i.instrument_token: i.tradingsymbol for i in self.master},
        )
        feed.on_subscriptions(self._subscribe_feed)
        if self.config.mode == "live":
            self.broker = KiteBroker.connect(
                api_key,
                access_token,
                root=kite_cfg.root,
                timeout=kite_cfg.timeout_s,
                market_protection=kite_cfg.market_protection,
            )
            midnight = datetime.now(IST).replace(hour=0, minute=0, second=0, microsecond=0)
            sent_today = await runs_repo.count_orders_since(
                self.db, int(midnight.timestamp()) * 1_000_000_000, "live"
            )
            self.broker.limits.seed_orders_today(sent_today)
            self.trader.broker = self.broker
            self._simulated_fills = False
        self.recorder = TickRecorder(self._recording_path)

    async def _exchange_now_ns(self) -> int:
        """The exchange's clock: the NIFTY 50 quote's timestamp, else this machine's."""
        client = await self._kite_client()
        try:
            quote = await asyncio.to_thread(client.quote, ["NSE:NIFTY 50"])
            stamp = quote["NSE:NIFTY 50"].get("timestamp") or quote["NSE:NIFTY 50"].get(
                "last_trade_time"
            )
            if isinstance(stamp, datetime):
                aware = stamp if stamp.tzinfo else stamp.replace(tzinfo=IST)
                return int(aware.timestamp() * 1_000_000_000)
        except Exception as exc:  # a clock is not worth failing the start over
            self.trader.record_event(
                Event(
                    ts_ns=0,
                    kind="ExchangeClockUnknown",
                    level="WARNING",
                    message=f"using this machine's clock: {type(exc).__name__}",
                )
            )
        return time.time_ns()

    def _subscribe_feed(self, symbols: frozenset[str]) -> None:

        from kitetui.market.kite_feed import SubscriptionLimitError

        try:
            self.kite_feed.set_subscriptions(symbols)
        except SubscriptionLimitError as exc:
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="SubscriptionRefused",
                    level="ERROR",
                    message=str(exc),
                )
            )

    def _on_feed_state(self, state, reason: str) -> None:
        """A stale or reconnecting feed blocks new entries until ticks flow again. It
        sets and clears its own block only: a reconnect never lifts another's."""
        healthy = state.value == "CONNECTED"
        if healthy:
            was_blocked = self.risk.clear_block(FEED_STALE)
        else:
            was_blocked = not self.risk.set_block(
                FEED_STALE, f"market data {state.value.lower()}", "when ticks flow again"
            )
        if healthy == was_blocked or not healthy:
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=f"Feed{state.value.title()}",
                    level="INFO" if healthy else "WARNING",
                    message=reason or f"feed {state.value.lower()}",
                )
            )
        self._publish(force=True)

    async def _run_live(self, started: float) -> RunSummary:
        """Trade on the ticker's batches until stopped; record each batch as processed."""
        assert self.summary is not None
        await self._finish_recovery()
        # Engines choose today's contracts before any tick can arrive: subscriptions
        # follow from their choice, so the session starts on the exchange's own date.
        now = await self._exchange_now_ns()
        self.clock.now_ns = now
        self.day = ist_day_number(now)
        self.portfolio.start_day()
        self.risk.roll_day(ist_date(now).isoformat())
        await self._start_session(now)
        self.feed_state = "RUNNING"
        self._publish(force=True)
        self.kite_feed.start()
        reconcile = (
            asyncio.create_task(self._reconcile_loop(), name="reconcile")
            if self.config.mode == "live"
            else None
        )
        timer = asyncio.create_task(self._exit_timer(), name="exit-timer")
        try:
            async for item in self.feed.batches():
                if self._stopping:
                    break
                if isinstance(item, OrderUpdate):
                    await self._on_order_update(item.data)
                    continue
                ts, batch = item
                await self._process(ts, batch, False)
                if self.recorder is not None:
                    self.recorder.record(ts, batch)
            await self._settle_updates()
        except Exception as exc:
            self._failed(exc)
            raise
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
            self.kite_feed.stop()
            if self.recorder is not None:
                await asyncio.to_thread(self.recorder.close)
            if reconcile is not None:
                reconcile.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconcile
            self.summary.wall_s = time.perf_counter() - started
            if self.feed_state == "RUNNING":
                self.feed_state = "STOPPED"
            self._publish(force=True)
        return self.summary

    async def _exit_timer(self) -> None:
        """Paper and live: retries and re-pricing go on even when no tick arrives, and
        the session closes at its bell even when the feed has gone quiet."""
        while True:
            await asyncio.sleep(0.25)
            try:
                await self.trader.exits.service()
                now = time.time_ns()
                session = self.session
                if ist_date(now) == session.day and ist_minute_of_day(now) >= session.close_minute:
                    await self._close_session(now)
            except Exception as exc:  # the timer must outlive one bad pass; say so
                self._record_failure("ExitServiceFailed", exc)

    async def _settle_updates(self) -> None:
        """On stop: order updates still queued are journaled before the journal closes,
        and in live mode the order book is read once more so the journal ends where the
        exchange does (a stop that filled as we stopped is COMPLETE, not TRIGGER PENDING)."""
        if self.config.mode == "live" and self.trader.open_orders():
            try:
                await asyncio.wait_for(self._poll_orders(), timeout=5.0)
            except Exception as exc:
                self._record_failure("FinalPollFailed", exc)
        for update in self.feed.drain_updates():
            await self._on_order_update(update.data)

    def _on_dropped_batch(self, ts_ns: int, ticks: int) -> None:
        """The pipeline fell so far behind that a tick batch was dropped: journaled (one
        event a second at most, with the running count) and shown in the header."""
        now = time.monotonic()
        if now - self._last_drop_event < 1.0:
            return
        self._last_drop_event = now
        feed = self.feed
        self.trader.record_event(
            Event(
                ts_ns=ts_ns,
                kind="TickBatchDropped",
                level="ERROR",
                message=f"the desk fell behind the feed: {feed.dropped_batches} tick batches "
                f"({feed.dropped_ticks} ticks) dropped so far, the last of {ticks} ticks",
                data={"batches": feed.dropped_batches, "ticks": feed.dropped_ticks},
            )
        )

    def _record_failure(self, kind: str, exc: BaseException) -> None:
        self.trader.record_event(
            Event(
                ts_ns=self.clock.now_ns,
                kind=kind,
                level="ERROR",
                message=f"{type(exc).__name__}: {exc}",
            )
        )

    async def _on_order_update(self, data: dict) -> None:
        """A broker order update: journal its new state and any fills it carries."""
        try:
            order, fills = self.broker.apply_update(data)
        except (ValueError, KeyError) as exc:
            self._record_failure("OrderUpdateSkipped", exc)
            return
        if order is not None:
            await self.trader.on_broker_update(order, fills)

    async def _reconcile_loop(self) -> None:
        """Rule 4: the broker is the truth. Drift is reported, never patched. The same
        pass polls the order book, so an order update the websocket lost still lands.

        A pass that fails is an event; ``RECONCILE_ALARM_AFTER`` failures in a row raise
        the alarm (the desk can no longer see the exchange), and the first good pass
        after them says so."""
        interval = self.config.kite.reconcile_interval_s if self.config.kite else 5.0
        while True:
            try:
                await self._poll_orders()
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.reconcile_failures += 1
                self.trader.record_event(
                    Event(
                        ts_ns=self.clock.now_ns,
                        kind="ReconcileFailed",
                        level="ERROR"
                        if self.reconcile_failures >= RECONCILE_ALARM_AFTER
                        else "WARNING",
                        message=f"reconcile pass {self.reconcile_failures} in a row failed: "
                        f"{type(exc).__name__}: {exc}",
                        data={"failures": self.reconcile_failures},
                    )
                )
                self._publish(force=True)
            else:
                if self.reconcile_failures:
                    self.trader.record_event(
                        Event(
                            ts_ns=self.clock.now_ns,
                            kind="ReconcileRecovered",
                            message=f"reconcile works again after "
                            f"{self.reconcile_failures} failed passes",
                        )
                    )
                    self.reconcile_failures = 0
                    self._publish(force=True)
            await asyncio.sleep(interval)

    async def _poll_orders(self) -> None:
        from kitetui.brokers.kite import map_status

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
                self.feed.push_order_update(data)  # in stream order, like a websocket one
        await self.trader.settle_unknown(seen)

    async def reconcile(self) -> list[str]:
        broker_positions = {p.symbol: p.quantity for p in await self.broker.positions()}
        ours = {p.symbol: p.quantity for p in self.portfolio.open_positions()}
        broker_open = {o.tag for o in await self.broker.open_orders()}
        our_open = {o.tag for o in self.trader.open_orders() if o.status is not OrderStatus.NEW}
        drift = []
        for symbol in sorted(set(broker_positions) | set(ours)):
            theirs, mine = broker_positions.get(symbol, 0), ours.get(symbol, 0)
            if theirs != mine:
                drift.append(f"{symbol}: broker {theirs:+d}, kitetui {mine:+d}")
        for tag in sorted(broker_open ^ our_open):
            side = "broker only" if tag in broker_open else "kitetui only"
            drift.append(f"open order {tag}: {side}")
        signature = tuple(drift)
        # An order the broker has filled may still be on its way to us as an update, so
        # one pass can see a difference that is only in flight. Drift counts when the
        # same difference is seen twice in a row.
        seen_before, self._candidate_drift = self._candidate_drift, signature
        if drift and signature != seen_before:
            return drift
        if drift and signature != self._last_drift:
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="ReconcileDrift",
                    level="WARNING",
                    message="; ".join(drift),
                    data={"drift": drift},
                )
            )
        elif not drift and self._last_drift:
            self.trader.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind="ReconcileClean",
                    message="positions and open orders agree with the broker again",
                )
            )
        self._last_drift = signature
        return drift

    async def _process(self, ts: int, batch: list[Item], warm: bool) -> None:
        summary = self.summary
        assert summary is not None
        day = ist_day_number(ts)
        new_day = day != self.day
        if new_day:
            if self.day is not None:
                await self._end_session()
            self.day = day
            self.portfolio.start_day()
            self._prev_turnover, self._turnover = self._turnover, {}
            if not warm:
                self.risk.roll_day(ist_date(ts).isoformat())
        self.clock.now_ns = ts
        if not summary.first_ts_ns:
            summary.first_ts_ns = ts
        summary.last_ts_ns = ts
        summary.batches += 1
        trader = self.trader
        if warm:
            fills = self._journal_fills
            while self._fills_applied < len(fills) and fills[self._fills_applied][0] <= ts:
                trader.replay_fill(fills[self._fills_applied][1])
                self._fills_applied += 1
        accepted: list[Item] = []
        validator = self.validator
        for item in batch:
            reason = validator.check(item)
            released: list[Item] = []
            if validator.has_news:  # a held jump confirmed (or dropped) by this print
                for note in validator.take_notes():
                    trader.record_event(note)
                released = validator.take_released()
            if reason is not None:
                trader.record_event(
                    Event(
                        ts_ns=ts,
                        kind="TickSkipped" if isinstance(item, Tick) else "BarSkipped",
                        level="WARNING",
                        symbol=item.symbol,
                        message=reason,
                        data={"reason": reason},
                    )
                )
                continue
            for earlier in released:  # news, not noise: it goes to bars and indicators
                await self._accept(earlier, ts, warm, accepted)
            await self._accept(item, ts, warm, accepted)
        if accepted and not warm:
            self._last_item_wall_ns = time.time_ns()
        if new_day:
            await self._start_session(ts)
        self._entry_window(ts)
        if not warm:
            await self._risk_checks(ts)
        per_engine: dict[str, list[Item]] = {}
        routes = self.routes
        for item in accepted:
            for engine in routes.get(item.symbol, ()):
                per_engine.setdefault(engine.name, []).append(item)
        for engine in self.engines:
            items = per_engine.get(engine.name)
            if items:
                await engine.deliver(items)
        if not warm:
            await trader.exits.service()  # retries due, resting orders re-priced
            if ist_minute_of_day(ts) >= self.session.close_minute:
                await self._close_session(ts)
            minute = ts // 60_000_000_000
            if minute != self._last_equity_minute:
                self._last_equity_minute = minute
                self.portfolio.record_equity(ts)
                self.journal.add_equity_point(ts, self.portfolio.equity_paise)
                self.journal.set_positions(self.portfolio.positions())
            # Risk state travels with the cursor: a resumed run must see the blocks and
            # counters exactly as they stood after the last batch it will not redo.
            self.journal.set_risk_state(self.risk.to_state())
            self.journal.set_cursor(ts)
        self._publish()

    async def _accept(self, item: Item, ts: int, warm: bool, accepted: list[Item]) -> None:
        """A print that passed the gate: it marks the book, fills paper orders resting at
        its price, and goes on to the engines (``accepted``)."""
        summary = self.summary
        assert summary is not None
        trader = self.trader
        if item.symbol not in self._known:
            if item.symbol not in self._unknown_symbols:
                self._unknown_symbols.add(item.symbol)
                trader.record_event(
                    Event(
                        ts_ns=ts,
                        kind="UnknownSymbol",
                        level="WARNING",
                        symbol=item.symbol,
                        message="not in the instrument master: its data is skipped",
                    )
                )
            return
        gap = self.gaps.check(item)
        if gap is not None and item.symbol in self.routes:
            trader.record_event(
                Event(ts_ns=ts, kind="DataGap", level="WARNING", symbol=item.symbol, message=gap)
            )
        if isinstance(item, Bar):
            summary.bars += 1
            price = item.close
            if item.volume:
                self._turnover[item.symbol] = (
                    self._turnover.get(item.symbol, 0.0) + item.close * item.volume
                )
        else:
            summary.ticks += 1
            price = item.price
        self.last_prices[item.symbol] = price
        self.portfolio.mark(item.symbol, price)
        if not warm and self._simulated_fills:
            filled = (
                self.broker.on_bar(item)
                if isinstance(item, Bar)
                else self.broker.on_price(item.symbol, item.ts_ns, item.price)
            )
            if filled:
                await trader.on_fills(filled)
            for triggered in self.broker.take_triggered():  # resting stops: re-priced
                await trader.on_order_state(triggered)
        accepted.append(item)

    async def _start_session(self, ts: int) -> None:
        """A new trading day: plan it from the calendar, cache the master, let engines
        choose, and re-protect positions carried over (their DAY stops expired)."""
        today = ist_date(ts)
        self.session = plan_session(self.calendar, today, self.config.session)
        self._session_closed = False
        if self.session.special and not self.trader.quiet:
            self.trader.record_event(
                Event(ts_ns=ts, kind="SpecialSession", message=self.session.describe())
            )
        if not self.calendar.is_trading_day(today):
            self.trader.record_event(
                Event(
                    ts_ns=ts,
                    kind="DataOnHoliday",
                    level="WARNING",
                    message=f"data on {today}, which the NSE calendar says is not a trading day",
                )
            )
        if not self.trader.quiet:
            await self.journal.cache_instruments(
                today.isoformat(), [_instrument_row(i) for i in self.master]
            )
        for engine in self.engines:
            await engine.start_session(today, self.last_prices, self._prev_turnover)
        await self.trader.exits.market_opened()

    async def _risk_checks(self, ts: int) -> None:
        trader = self.trader
        symbol_pnl = self.portfolio.day_pnl_by_symbol()  # today, not all-time
        was_halted = self.risk.state is TradingState.HALTED
        blocked_before = set(self.risk.blocked_symbols)
        self.risk.on_pnl(self.portfolio.day_pnl_paise, symbol_pnl)
        if self.risk.state is TradingState.HALTED and not was_halted:
            reason = self.risk.halted_reason or "max daily loss"
            trader.record_event(
                Event(ts_ns=ts, kind="TradingHalted", level="ERROR", message=reason)
            )
            self.journal.set_risk_state(self.risk.to_state())
            await trader.flatten_all(OrderPurpose.FLATTEN, reason)
        for symbol in set(self.risk.blocked_symbols) - blocked_before:
            reason = self.risk.blocked_symbols[symbol]
            trader.record_event(
                Event(
                    ts_ns=ts, kind="SymbolBlocked", level="WARNING", symbol=symbol, message=reason
                )
            )
            await trader.flatten(symbol, OrderPurpose.FLATTEN, reason)
        minute = ist_minute_of_day(ts)
        due = [
            p
            for p in self.portfolio.open_positions()
            if p.product.value == "MIS"
            and minute >= self._square_off_minute(p.engine)
            and not trader.exits.is_closing(p.symbol)
        ]
        for position in due:
            await trader.flatten(
                position.symbol, OrderPurpose.SQUARE_OFF, "intraday square-off time"
            )
        if due:
            trader.record_event(
                Event(
                    ts_ns=ts,
                    kind="SquaredOff",
                    level="INFO",
                    message=f"squared off {len(due)} intraday positions: "
                    + ", ".join(f"{p.symbol} {p.quantity:+d}" for p in due),
                )
            )

    def _entry_window(self, ts: int) -> None:
        """Past the day's entry cut-off no entry goes out; the next session lifts it."""
        cutoff = self.session.entry_cutoff_minute
        if ist_minute_of_day(ts) >= cutoff:
            self.risk.set_block(
                ENTRY_CUTOFF,
                f"after the entry cut-off {cutoff // 60:02d}:{cutoff % 60:02d}",
                "at the next session's open",
            )
        else:
            self.risk.clear_block(ENTRY_CUTOFF)

    def _square_off_minute(self, engine_name: str) -> int:
        engine = self.trader.engines.get(engine_name)
        return self.session.square_off_minute(engine.kind if engine is not None else "equity")

    async def _end_session(self) -> None:
        """Close the session's partial bars so the last bar of the day is not lost, then
        close the session if its data ended before its bell."""
        for engine in self.engines:
            bars = engine.flush_bars()
            for bar in bars:
                await engine.on_bar(bar)
        if not self.trader.quiet:
            await self._close_session(self.clock.now_ns)

    async def _close_session(self, ts: int) -> None:
        """The bell: no intraday position outlives its session, no DAY order outlives the
        session it was placed in, and no stop is re-placed until the next open.

        In paper and replay the exchange's own auto square-off is played here: an MIS
        position still open is closed at the last price. Live, Kite does both itself;
        kitetui says loudly what it left open."""
        if self._session_closed:
            return
        self._session_closed = True
        trader = self.trader
        carried = [p for p in self.portfolio.open_positions() if p.product.value == "MIS"]
        if carried and self._simulated_fills:
            for position in carried:
                await trader.flatten(
                    position.symbol, OrderPurpose.SQUARE_OFF, "auto square-off at the close"
                )
            for position in carried:
                price = self.last_prices.get(position.symbol)
                filled = self.broker.on_price(position.symbol, ts + 1, price) if price else []
                if filled:
                    await trader.on_fills(filled)
            trader.record_event(
                Event(
                    ts_ns=ts,
                    kind="AutoSquaredOff",
                    level="WARNING",
                    message=f"{len(carried)} intraday positions closed at the session's "
                    "last price: " + ", ".join(f"{p.symbol} {p.quantity:+d}" for p in carried),
                )
            )
        trader.exits.market_closed()
        if self._simulated_fills:
            for order in trader.open_orders():
                if order.validity is Validity.DAY:
                    await trader.cancel(order.tag, "expired at the session close (DAY order)")
        held = [p for p in self.portfolio.open_positions() if p.product.value == "MIS"]
        if held:
            trader.record_event(
                Event(
                    ts_ns=ts,
                    kind="IntradayCarried",
                    level="ERROR",
                    message=f"{len(held)} intraday positions still open at the session end: "
                    + ", ".join(f"{p.symbol} {p.quantity}" for p in held),
                )
            )

    # -- commands ----------------------------------------------------------------------

    async def execute(self, command: Command) -> CommandResult:
        try:
            result = await self._execute(command)
        except Exception as exc:  # a command must never take the desk down
            result = CommandResult(False, f"{type(command).__name__} failed: {exc}")
        self.trader.record_event(
            Event(
                ts_ns=self.clock.now_ns,
                kind="CommandExecuted" if result.ok else "CommandRefused",
                level="INFO" if result.ok else "WARNING",
                message=result.message,
                data={"command": type(command).__name__},
            )
        )
        self._publish(force=True)
        return result

    def _engine(self, name: str) -> Engine | None:
        return next((e for e in self.engines if e.name == name), None)

    async def _execute(self, command: Command) -> CommandResult:
        match command:
            case StartEngine(engine=name):
                engine = self._engine(name)
                if engine is None:
                    return CommandResult(False, f"no engine named {name!r}")
                if engine.state is EngineState.RUNNING:
                    return CommandResult(False, f"engine {name} is already running")
                engine.state = EngineState.RUNNING
                engine.last_error = ""
                return CommandResult(True, f"engine {name} started")
            case StopEngine(engine=name):
                engine = self._engine(name)
                if engine is None:
                    return CommandResult(False, f"no engine named {name!r}")
                if engine.state is EngineState.STOPPED:
                    return CommandResult(False, f"engine {name} is already stopped")
                engine.state = EngineState.STOPPED
                return CommandResult(True, f"engine {name} stopped (positions and stops stay)")
            case PauseEntries(engine=name) if name:
                engine = self._engine(name)
                if engine is None or engine.state is not EngineState.RUNNING:
                    return CommandResult(False, f"engine {name!r} is not running")
                engine.state = EngineState.PAUSED
                return CommandResult(True, f"engine {name}: entries paused, exits go on")
            case ResumeEntries(engine=name) if name:
                engine = self._engine(name)
                if engine is None or engine.state is not EngineState.PAUSED:
                    return CommandResult(False, f"engine {name!r} is not paused")
                engine.state = EngineState.RUNNING
                return CommandResult(True, f"engine {name}: entries resumed")
            case PauseEntries():
                self.risk.pause_entries()
                await self._persist_risk()
                return CommandResult(True, "entries paused; exits and stops keep working")
            case ResumeEntries():
                self.risk.resume_entries()
                await self._persist_risk()
                return CommandResult(True, "entries resumed")
            case TriggerKillSwitch(reason=reason):
                self.risk.trigger_kill(reason)
                await self.journal.set_desk_state("kill_switch", {"on": True, "reason": reason})
                placed = await self._apply_kill(reason)
                return CommandResult(
                    True,
                    f"KILL SWITCH ON: orders cancelled, {placed} "
                    "flatten orders placed; trading halted until reset",
                )
            case ResetKillSwitch():
                if not self.risk.kill_switch:
                    return CommandResult(False, "the kill switch is not on")
                self.risk.reset_kill()
                await self.journal.set_desk_state("kill_switch", {"on": False, "reason": ""})
                await self._persist_risk()
                return CommandResult(True, "kill switch reset")
            case FlattenPosition(symbol=symbol):
                if self.trader.position_qty(symbol) == 0:
                    return CommandResult(False, f"no open position in {symbol}")
                placed = await self.trader.flatten(symbol, OrderPurpose.FLATTEN, "manual flatten")
                return CommandResult(
                    placed,
                    f"flatten {symbol}: " + ("order placed" if placed else "already working"),
                )
            case CancelOrder(tag=tag):
                done = await self.trader.cancel(tag, "cancelled by user")
                return CommandResult(
                    done, f"order {tag} " + ("cancelled" if done else "is not open")
                )
        return CommandResult(False, f"unknown command {command!r}")

    async def order_detail(self, tag: str) -> OrderDetail | None:
        """An order's history and fills for the detail pane, read after a journal flush."""
        await self.journal.flush()
        return await runs_repo.load_order_detail(self.db, tag)

    async def _apply_kill(self, reason: str) -> int:
        """Entries are cancelled; every position is closed through the exit manager,
        which turns each stop into the close in place (never a moment uncovered)."""
        placed = await self.trader.flatten_all(OrderPurpose.FLATTEN, f"kill switch: {reason}")
        await self._persist_risk()
        return placed

    async def _persist_risk(self) -> None:
        self.journal.set_risk_state(self.risk.to_state())
        await self.journal.flush()

    # -- publishing ------------------------------------------------------------------

    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_publish < self.publish_interval_s:
            return
        self._last_publish = now
        self._publish_seq += 1
        self._sample_rate(now)
        self.published = self.build_snapshot(self._publish_seq)

    def _sample_rate(self, now: float) -> None:
        """Items per wall second, re-measured at most once a second so it reads steadily."""
        mark_s, mark_items = self._rate_mark
        summary = self.summary
        items = summary.bars + summary.ticks if summary is not None else 0
        if mark_s == 0.0:
            self._rate_mark = (now, items)
        elif now - mark_s >= 1.0:
            self._items_per_s = (items - mark_items) / (now - mark_s)
            self._rate_mark = (now, items)

    def _feed_view(self) -> FeedView:
        state, reconnects = self.feed_state, 0
        kite_feed = getattr(self, "kite_feed", None)
        if kite_feed is not None:
            health = kite_feed.health()
            reconnects = health.reconnects
            if state == "RUNNING" and health.state.value != "CONNECTED":
                state = health.state.value
        ts = self.clock.now_ns
        calendar = getattr(self, "calendar", None)
        return FeedView(
            state=state,
            items_per_s=self._items_per_s,
            last_item_wall_ns=self._last_item_wall_ns,
            reconnects=reconnects,
            session=calendar.phase(ts) if calendar is not None and ts > 0 else "",
            dropped_batches=getattr(self.feed, "dropped_batches", 0),
        )

    def build_snapshot(self, seq: int) -> DeskSnapshot:
        trader, portfolio, risk, limits = self.trader, self.portfolio, self.risk, self.config.risk
        stops: dict[str, float] = {}
        for order in trader.open_orders():
            if order.purpose is OrderPurpose.STOP:
                stops.setdefault(order.symbol, order.trigger_price)
        covers = {p.symbol: trader.exits.protection(p.symbol) for p in portfolio.open_positions()}
        positions = tuple(
            PositionView(
                symbol=p.symbol,
                engine=p.engine,
                product=p.product.value,
                quantity=p.quantity,
                avg_price=p.avg_price,
                last_price=p.last_price,
                realized=p.realized_paise / 100,
                unrealized=p.unrealized_paise / 100,
                stop_price=stops.get(p.symbol, 0.0),
                lot_size=_lot(self._contracts.get(p.symbol)),
                expiry=_expiry(self._contracts.get(p.symbol)),
                cover_state=covers[p.symbol].state if p.symbol in covers else "",
                cover=covers[p.symbol].text if p.symbol in covers else "",
            )
            for p in portfolio.positions()
        )
        # Newest orders plus every working one; never a copy of the whole day's book.
        recent = list(islice(reversed(trader.orders.values()), _RECENT_ORDERS))[::-1]
        recent_tags = {o.tag for o in recent}
        shown = [o for o in trader.open_orders() if o.tag not in recent_tags] + recent
        order_views = tuple(
            OrderView(
                tag=o.tag,
                ts_ns=o.ts_ns,
                engine=o.engine,
                symbol=o.symbol,
                side=o.side.value,
                quantity=o.quantity,
                order_type=o.order_type.value,
                purpose=o.purpose.value,
                status=o.status.value,
                price=o.price,
                trigger_price=o.trigger_price,
                filled_qty=o.filled_qty,
                avg_price=o.avg_price,
                reason=o.reason,
            )
            for o in shown
        )
        day_pnl = portfolio.day_pnl_paise / 100
        trades = dict(self.risk.entries_today)
        risk_view = RiskView(
            state=risk.state.value,
            kill_switch=risk.kill_switch,
            entries_paused=risk.entries_paused,
            halt_reason=risk.halted_reason or "",
            day_pnl=day_pnl,
            realized=portfolio.realized_paise / 100,
            unrealized=portfolio.unrealized_paise / 100,
            max_drawdown=portfolio.max_drawdown_paise / 100,
            limits=(
                LimitView("daily loss", max(0.0, -day_pnl), limits.max_daily_loss, "₹"),
                LimitView(
                    "open positions", len(portfolio.open_positions()), limits.max_open_positions
                ),
                LimitView(
                    "gross exposure",
                    portfolio.gross_exposure_paise / 100,
                    limits.max_gross_exposure,
                    "₹",
                ),
                *self._broker_limits(),
                LimitView(
                    "trades/symbol/day",
                    max(trades.values(), default=0),
                    limits.max_trades_per_symbol_per_day,
                ),
            ),
            blocked_symbols=tuple(sorted(risk.blocked_symbols)),
            trades_today=tuple(sorted(trades.items())),
            blocks=tuple((b.name, b.reason, b.clears) for b in risk.blocks.values()),
            naked=tuple(sorted(trader.exits.naked().items())),
            reconcile_failures=self.reconcile_failures,
        )
        return DeskSnapshot(
            seq=seq,
            mode=self.config.mode,
            run_id=self.run_id,
            data_ts_ns=self.clock.now_ns,
            feed_state=self.feed_state,
            speed="max" if self.speed is None else f"{self.speed:g}x",
            engines=tuple(engine.view() for engine in self.engines),
            positions=positions,
            orders=order_views,
            signals=tuple(trader.signals),
            events=tuple(trader.events),
            risk=risk_view,
            equity_curve=tuple((ts, eq / 100) for ts, eq in portfolio.equity_curve[-500:]),
            counts=tuple(sorted(trader.counts.items())),
            feed=self._feed_view(),
            published_wall_ns=time.time_ns(),
        )

    def _broker_limits(self) -> tuple[LimitView, ...]:
        """Kite's own daily order cap, shown beside our limits when orders go to Kite."""
        limits = getattr(self.broker, "limits", None)
        if limits is None or not hasattr(limits, "orders_today"):
            return ()
        return (LimitView("Kite orders today", limits.orders_today, limits.orders_per_day),)

    # -- shutdown --------------------------------------------------------------------

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
                    kind="SquaredOffOnStop",
                    level="WARNING",
                    message=f"{placed} square-off orders placed as kitetui stops",
                )
            )
        for engine in self.engines:
            await engine.shutdown()
        status = {"FINISHED": "FINISHED", "ERROR": "FAILED"}.get(self.feed_state, "STOPPED")
        self.journal.set_risk_state(self.risk.to_state())
        await self.journal.close()
        await runs_repo.finish_run(self.db, self.run_id, status)
        await self._fill_summary()
        await self.db.close()

    async def _fill_summary(self) -> None:
        summary = self.summary
        assert summary is not None
        summary.fills = await runs_repo.count_rows(self.db, "fills", self.run_id)
        summary.orders = await runs_repo.count_rows(self.db, "orders", self.run_id)
        summary.signals = await runs_repo.count_rows(self.db, "signals", self.run_id)
        summary.entries = sum(
            1
            for o in self.trader.orders.values()
            if o.purpose is OrderPurpose.ENTRY and o.filled_qty
        )
        summary.realized = self.portfolio.realized_paise / 100
        summary.unrealized = self.portfolio.unrealized_paise / 100
        summary.max_drawdown = self.portfolio.max_drawdown_paise / 100
        summary.open_positions = [
            (p.symbol, p.quantity, p.last_price) for p in self.portfolio.open_positions()
        ]
        summary.events_by_kind = await runs_repo.events_by_kind(self.db, self.run_id)
        summary.risk_state = self.risk.state.value


def _instrument_row(i: Instrument) -> tuple:
    return (
        i.instrument_token,
        i.exchange_token,
        i.tradingsymbol,
        i.name,
        i.last_price,
        i.expiry.isoformat() if i.expiry else "",
        i.strike,
        i.tick_size,
        i.lot_size,
        i.instrument_type,
        i.segment,
        i.exchange,
    )


def _lot(instrument: Instrument | None) -> int:
    return instrument.lot_size if instrument is not None and instrument.lot_size > 0 else 1


def _expiry(instrument: Instrument | None) -> str:
    return instrument.expiry.isoformat() if instrument is not None and instrument.expiry else ""
