"""Paper and live on Kite: Kite's ticker for the market; our fills, or Kite's orders.

All of kitetui's Kite wiring lives here: the credentials and the day's token (never
logged, journaled or shown), the day's instrument dump (kept beside the recording for
``kitetui replay``), the ticker bridged onto the desk's loop, subscriptions following the
engines, the feed's health as an entry block, the exchange's clock to start the day on,
and — live only — ``KiteBroker`` with the day's order count carried over a restart, the
reconciler, and a last read of the order book on stop so the journal ends where the
exchange does. Both paper and live record every processed batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kitetui.brokers.base import Broker
from kitetui.brokers.paper import PaperBroker
from kitetui.clock import IST, ist_date
from kitetui.config import AppConfig, KiteConfig
from kitetui.domain import Event
from kitetui.events import FEED_STATE_EVENTS, EventKind
from kitetui.market.feeds import Batch, LiveFeed
from kitetui.market.instruments import InstrumentMaster
from kitetui.store import runs as runs_repo
from kitetui.store.commit_policy import CommitPolicy
from kitetui.store.recording import TickRecorder, recording_path, save_master
from kitetui.trading.margins import Margins
from kitetui.trading.risk import FEED_STALE
from kitetui.venues import Opened, VenueHost
from kitetui.views import LimitView

TIMER_S = 0.25  # exits retried and re-priced even when no tick comes
MARGINS_S = 30.0  # Kite's margins are read this often, and soon after a fill
MARGINS_AFTER_FILL_S = 2.0  # (at most this soon: a burst of fills is one read)
LTP_BATCH = 1000  # instruments one /quote/ltp call may name (Kite's limit)
STOP_DRAIN_S = 20.0  # at most this long journaling queued updates while stopping


class KiteVenue:
    def __init__(self, config: AppConfig) -> None:
        assert config.kite is not None
        self.config = config
        self.kite_cfg: KiteConfig = config.kite
        self.live = config.mode == "live"
        self.simulated = not self.live  # paper: Kite's ticks, our fills
        self.timer_ns = time.monotonic_ns  # exits on the wall clock
        # Kite's ticks come from outside, and live orders go there: each money row is
        # committed before anything acts on it (paper too: kept as before).
        self.commits = CommitPolicy.DURABLE_EACH
        self.feed = LiveFeed(on_drop=self._on_dropped_batch)
        self.broker: Broker
        self.recorder: TickRecorder | None = None
        self.reconciler: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._auth: tuple[str, str] | None = None
        self._rest: Any = None
        self._host: VenueHost | None = None
        self._last_drop_event = 0.0
        self._margins: Margins | None = None
        self._margins_due = asyncio.Event()
        self._margins_failing = False

    @property
    def reconcile_failures(self) -> int:
        return self.reconciler.failures if self.reconciler is not None else 0

    # -- opening ------------------------------------------------------------------------

    async def open(self, host: VenueHost) -> Opened:
        self._host = host
        events: list[Event] = []
        api_key, access_token = self._login(events)
        raw = await asyncio.to_thread((await self._client())._get, "market.instruments.all")
        master, found = InstrumentMaster.from_csv(bytes(raw))
        events.extend(found)
        folder = Path(self.kite_cfg.record_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        recording = recording_path(folder, host.run_id)
        save_master(recording, bytes(raw))
        self.recorder = TickRecorder(recording)
        if self.recorder.mended is not None:
            events.append(
                Event(
                    ts_ns=0,
                    kind=EventKind.RECORDING_MENDED,
                    level="WARNING",
                    message=self.recorder.mended,
                    data={"path": str(recording)},
                )
            )
        self._connect_ticker(api_key, access_token, master)
        if self.live:
            self.broker = await self._kite_broker(host, api_key, access_token)
        else:
            self.broker = PaperBroker(
                slippage_bps=self.config.paper.slippage_bps,
                tick_size=self.config.paper.tick_size,
                tick_sizes={i.tradingsymbol: i.tick_size for i in master if i.tick_size > 0},
            )
        return Opened(master, frozenset(i.tradingsymbol for i in master), events)

    def _login(self, events: list[Event]) -> tuple[str, str]:
        """The API key and today's access token (never logged, journaled or shown)."""
        from kitetui.kite.session import Credentials, describe_expiry, kite_paths, load_token

        if self._auth is None:
            credentials_path, token_path, _root = kite_paths(self.kite_cfg)
            credentials = Credentials.load(credentials_path)
            token = load_token(token_path)
            self._auth = (credentials.api_key, token.value)
            # Tokens expire daily: say when, before it fails.
            events.append(
                Event(
                    ts_ns=0,
                    kind=EventKind.KITE_TOKEN_LOADED,
                    message=f"Kite token {describe_expiry(token)}",
                )
            )
        return self._auth

    async def _client(self) -> Any:
        """One REST client for the venue's own reads (the broker keeps its own)."""
        from kiteconnect import KiteConnect  # only paper/live pay for Twisted and requests

        if self._rest is None:
            assert self._auth is not None
            api_key, access_token = self._auth
            self._rest = KiteConnect(
                api_key, access_token=access_token, root=self.kite_cfg.root,
                timeout=self.kite_cfg.timeout_s,
            )  # fmt: skip
        return self._rest

    def _connect_ticker(self, api_key: str, access_token: str, master: InstrumentMaster) -> None:
        from kitetui.market.kite_feed import KiteFeed

        self.kite_feed = KiteFeed(
            api_key,
            access_token,
            root_ws=self.kite_cfg.ws_root,
            loop=asyncio.get_running_loop(),
            on_ticks=self.feed.push,
            on_order_update=self.feed.push_order_update,
            on_state=self._on_feed_state,
            stale_after_s=self.kite_cfg.stale_after_s,
            symbols_by_token={i.instrument_token: i.tradingsymbol for i in master},
        )
        self.feed.on_subscriptions(self._subscribe)

    async def _kite_broker(self, host: VenueHost, api_key: str, access_token: str) -> Broker:
        from kitetui.brokers.kite import KiteBroker, LimitWait, protective_reserve
        from kitetui.brokers.ratelimit import KiteRateLimits

        def limit_waited(wait: LimitWait) -> None:
            """A stop, a close or a cancel that stood at Kite's rate limits is said."""
            host.trader.record_order_event(
                wait.order,
                EventKind.RATE_LIMIT_WAITED,
                "WARNING",
                wait.describe(),
                data={"action": wait.action, "waited_s": round(wait.waited_s, 3)},
            )

        # Stops and closes go ahead of entries at Kite's limits and may spend the day's
        # last orders, which entries may not (kitetui/brokers/kite.py).
        reserve = protective_reserve(self.config.risk.max_open_positions)
        broker = KiteBroker.connect(
            api_key,
            access_token,
            root=self.kite_cfg.root,
            timeout=self.kite_cfg.timeout_s,
            market_protection=self.kite_cfg.market_protection,
            limits=KiteRateLimits(urgent_reserve=reserve),
            on_limit_wait=limit_waited,
        )
        # Kite holds us to 5,000 orders a day: a restart goes on from the journal's count.
        midnight = datetime.now(IST).replace(hour=0, minute=0, second=0, microsecond=0)
        sent_today = await runs_repo.count_orders_since(
            host.db, int(midnight.timestamp()) * 1_000_000_000, "live"
        )
        broker.limits.seed_orders_today(sent_today)
        return broker

    # -- the session ------------------------------------------------------------------

    async def start(self, host: VenueHost) -> None:
        """Engines choose today's contracts before any tick can arrive: subscriptions
        follow from their choice, so the day starts on the exchange's own date."""
        now_ns = await self._exchange_now_ns(host)
        await host.begin_day(now_ns, await self._opening_prices(host, ist_date(now_ns)))
        self.kite_feed.start()
        if self.live:
            from kitetui.venues.reconciler import Reconciler

            assert self.kite_cfg is not None
            self.reconciler = Reconciler(
                self.broker,  # type: ignore[arg-type]
                host.trader,
                self.feed,
                host.clock,
                host.publish,
            )
            self._tasks.append(
                asyncio.create_task(
                    self.reconciler.run(self.kite_cfg.reconcile_interval_s), name="reconcile"
                )
            )
        self._tasks.append(asyncio.create_task(self._timer(host), name="exit-timer"))
        host.trader.fill_listeners.append(lambda _order, _fill: self._margins_due.set())
        self._tasks.append(asyncio.create_task(self._poll_margins(host), name="margins"))

    async def _opening_prices(self, host: VenueHost, day: date) -> dict[str, float]:
        """Kite's last prices of what the engines' choice of the day needs
        (``Engine.wants_prices``): before the first tick nothing is subscribed, so an
        equity universe filtered on price would otherwise choose nothing, subscribe
        nothing, and never see a tick. A failed read is said, and the choice made
        without."""
        wanted = sorted(
            {s for engine in host.trader.engines.values() for s in engine.wants_prices(day)}
        )
        if not wanted:
            return {}
        client = await self._client()
        prices: dict[str, float] = {}
        try:
            for start in range(0, len(wanted), LTP_BATCH):
                keys = [f"NSE:{symbol}" for symbol in wanted[start : start + LTP_BATCH]]
                answer = await asyncio.to_thread(client.ltp, keys)
                for key, row in answer.items():
                    price = row.get("last_price") if isinstance(row, dict) else None
                    if isinstance(price, int | float) and math.isfinite(price) and price > 0:
                        prices[key.split(":", 1)[1]] = float(price)
        except Exception as exc:  # the day starts anyway; the universe says what it lacked
            host.trader.record_event(
                Event(
                    ts_ns=0,
                    kind=EventKind.OPENING_PRICES_UNREAD,
                    level="WARNING",
                    message=f"Kite's last prices for the day's universe could not be read "
                    f"({type(exc).__name__}): symbols without one are left out today",
                )
            )
        return prices

    async def _exchange_now_ns(self, host: VenueHost) -> int:
        """The exchange's clock: the NIFTY 50 quote's timestamp, else this machine's."""
        client = await self._client()
        try:
            quote = await asyncio.to_thread(client.quote, ["NSE:NIFTY 50"])
            stamp = quote["NSE:NIFTY 50"].get("timestamp") or quote["NSE:NIFTY 50"].get(
                "last_trade_time"
            )
            if isinstance(stamp, datetime):
                aware = stamp if stamp.tzinfo else stamp.replace(tzinfo=IST)
                return int(aware.timestamp() * 1_000_000_000)
        except Exception as exc:  # a clock is not worth failing the start over
            host.trader.record_event(
                Event(
                    ts_ns=0,
                    kind=EventKind.EXCHANGE_CLOCK_UNKNOWN,
                    level="WARNING",
                    message=f"using this machine's clock: {type(exc).__name__}",
                )
            )
        return time.time_ns()

    async def _timer(self, host: VenueHost) -> None:
        """Retries and re-pricing go on when no tick arrives, and the session closes at
        its bell when the feed has gone quiet."""
        while True:
            await asyncio.sleep(TIMER_S)
            try:
                await host.trader.exits.service()
                await host.close_session_if_due(time.time_ns())
            except Exception as exc:  # the timer must outlive one bad pass; say so
                host.trader.record_event(
                    Event(
                        ts_ns=host.clock.now_ns,
                        kind=EventKind.EXIT_SERVICE_FAILED,
                        level="ERROR",
                        message=f"{type(exc).__name__}: {exc}",
                    )
                )

    def record(self, ts_ns: int, batch: Batch) -> None:
        if self.recorder is not None:
            self.recorder.record(ts_ns, batch)

    async def stop(self, host: VenueHost) -> None:
        """Stop the ticker and the tasks; then the order updates still queued are
        journaled and, live, the order book is read once more, so the journal ends where
        the exchange does (a stop that filled as we stopped is COMPLETE)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.kite_feed.stop()
        try:
            if self.reconciler is not None and host.trader.open_orders():
                try:
                    await asyncio.wait_for(self.reconciler.poll_orders(), timeout=5.0)
                except Exception as exc:
                    host.trader.record_event(
                        Event(
                            ts_ns=host.clock.now_ns,
                            kind=EventKind.FINAL_POLL_FAILED,
                            level="ERROR",
                            message=f"{type(exc).__name__}: {exc}",
                        )
                    )
            await self._drain_updates(host)
            if self.live and self.kite_cfg is not None and self.kite_cfg.check_contract_note:
                await self.check_charges(host)
        finally:
            if self.recorder is not None:
                await asyncio.to_thread(self.recorder.close)

    async def _drain_updates(self, host: VenueHost) -> None:
        """Journal the order updates still queued, within ``STOP_DRAIN_S``: each may set
        the exit manager working (a re-placed stop, a read with its retries), and an
        exchange that no longer knows the orders (a night later) would hold the stop for
        minutes. What is left is said; the next start reads the book again."""
        updates = list(self.feed.drain_updates())

        async def journal() -> None:
            while updates:
                await host.trader.on_update(updates.pop(0).data)

        try:
            await asyncio.wait_for(journal(), timeout=STOP_DRAIN_S)
        except TimeoutError:
            host.trader.record_event(
                Event(
                    ts_ns=host.clock.now_ns,
                    kind=EventKind.FINAL_POLL_FAILED,
                    level="ERROR",
                    message=f"{len(updates) + 1} order updates not journaled within "
                    f"{STOP_DRAIN_S:g} s of the stop: the next start reads Kite's book again",
                )
            )

    async def check_charges(self, host: VenueHost) -> None:
        """The day's charges against Kite's virtual contract note (contract_check.py):
        bounded, so a slow Kite never holds up the stop; a failure is an event."""
        from kitetui.venues.contract_check import check_contract_note

        if host.clock.now_ns <= 0:
            return
        try:
            await asyncio.wait_for(
                check_contract_note(self.broker, host.trader, ist_date(host.clock.now_ns)),
                timeout=15.0,
            )
        except TimeoutError:
            host.trader.record_event(
                Event(
                    ts_ns=host.clock.now_ns,
                    kind=EventKind.CONTRACT_NOTE_CHECK_FAILED,
                    level="WARNING",
                    message="Kite's contract note was not answered within 15 s",
                )
            )

    # -- callbacks from the ticker ------------------------------------------------------

    def _subscribe(self, symbols: frozenset[str]) -> None:
        from kitetui.market.kite_feed import SubscriptionLimitError

        try:
            self.kite_feed.set_subscriptions(symbols)
        except SubscriptionLimitError as exc:
            self._event(EventKind.SUBSCRIPTION_REFUSED, str(exc), level="ERROR")

    def _on_feed_state(self, state: Any, reason: str) -> None:
        """A stale or reconnecting feed blocks new entries until ticks flow again. It
        sets and clears its own block only: a reconnect never lifts another's."""
        host = self._host
        assert host is not None
        healthy = state.value == "CONNECTED"
        if healthy:
            was_blocked = host.risk.clear_block(FEED_STALE)
        else:
            was_blocked = not host.risk.set_block(
                FEED_STALE, f"market data {state.value.lower()}", "when ticks flow again"
            )
        if healthy == was_blocked or not healthy:
            self._event(
                FEED_STATE_EVENTS[state.value],
                reason or f"feed {state.value.lower()}",
                level="INFO" if healthy else "WARNING",
            )
        host.publish()

    def _on_dropped_batch(self, ts_ns: int, ticks: int) -> None:
        """The desk fell so far behind that a tick batch was dropped: journaled (one
        event a second at most, with the running count) and shown in the header."""
        now = time.monotonic()
        if now - self._last_drop_event < 1.0:
            return
        self._last_drop_event = now
        feed = self.feed
        self._event(
            EventKind.TICK_BATCH_DROPPED,
            f"the desk fell behind the feed: {feed.dropped_batches} tick batches "
            f"({feed.dropped_ticks} ticks) dropped so far, the last of {ticks} ticks",
            level="ERROR",
            ts_ns=ts_ns,
            batches=feed.dropped_batches,
            ticks=feed.dropped_ticks,
        )

    def _event(
        self, kind: EventKind, message: str, *, level: str = "INFO", ts_ns: int = 0, **data: object
    ) -> None:
        host = self._host
        if host is not None:
            host.trader.record_event(
                Event(
                    ts_ns=ts_ns or host.clock.now_ns,
                    kind=kind,
                    level=level,
                    message=message,
                    data=dict(data),
                )
            )

    async def _poll_margins(self, host: VenueHost) -> None:
        """Kite's equity margins (``GET /user/margins/equity``) every ``MARGINS_S`` and
        soon after a fill, off the event loop; a failed read is an event (once until a
        read succeeds again) and the last figures stay on screen."""
        while True:
            try:
                client = await self._client()
                data = await asyncio.to_thread(client.margins, "equity")
                used = float(data["utilised"]["debits"])
                self._margins = Margins(used, float(data["net"]), "Kite")
                self._margins_failing = False
            except Exception as exc:
                if not self._margins_failing:
                    self._margins_failing = True
                    self._event(
                        EventKind.MARGINS_READ_FAILED,
                        f"Kite's margins could not be read: {type(exc).__name__}: {exc}",
                        level="WARNING",
                    )
            self._margins_due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._margins_due.wait(), timeout=MARGINS_S)
                await asyncio.sleep(MARGINS_AFTER_FILL_S)

    def margins(self) -> Margins | None:
        """Kite's margins as last read (None until the first read answers)."""
        return self._margins

    def bar_columns(self, symbol: str) -> None:
        """A live market comes a print at a time: nothing to read ahead."""
        return None

    # -- the screen -------------------------------------------------------------------

    def health(self) -> tuple[str, int]:
        health = self.kite_feed.health()
        return health.state.value, health.reconnects

    def limits(self) -> tuple[LimitView, ...]:
        """Kite's own daily order cap, shown beside our limits when orders go to Kite."""
        limits = getattr(self.broker, "limits", None) if self.live else None
        if limits is None:
            return ()
        spent, cap = limits.orders_today, limits.orders_per_day
        return (
            LimitView("Kite orders today", spent, cap),
            # entries stop here: the rest of the day's orders are kept for stops and closes
            LimitView("Kite orders for entries", spent, cap - limits.urgent_reserve),
        )
