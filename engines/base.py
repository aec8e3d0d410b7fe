"""The shared engine: bars in, strategy decisions out, one asyncio task per engine.

An engine owns the bar builders and strategy instances for its symbols. It is fed
batches by the supervisor in data-time order and answers each batch before the next
one is sent, so several engines interleave deterministically. A stopped engine keeps
its indicators warm but stays silent (no signals, no orders), so starting it again
never trades on stale indicators. An unexpected error puts the engine in ERROR (silent)
with the error recorded; the other engines go on.

What an engine trades is decided per session (``start_session``): a fixed list, the
day's universe, the near-month future, or the options around ATM. Its
``subscriptions`` say which symbols' data it wants; the supervisor routes by them.
Lot and tick sizes come from the instrument master, never from guesses.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from engines.column_cursor import ColumnCursor
from kitetui.config import EngineConfig
from kitetui.domain import (
    NS_PER_SECOND,
    Bar,
    EngineState,
    Event,
    Exchange,
    Product,
    Signal,
    SignalKind,
    Tick,
)
from kitetui.events import EventKind
from kitetui.market.bar_columns import BarColumns
from kitetui.market.bar_history import BarHistory
from kitetui.market.bars import BarResampler, TickBarAggregator
from kitetui.market.calendar import TradingCalendar
from kitetui.market.instruments import Instrument, InstrumentMaster
from kitetui.trading.sizing import MAX_EQUITY_ORDER_QUANTITY
from kitetui.views import EngineView
from strategies.base import Decision, Strategy
from strategies.columns import ALWAYS, DECIDE, FIRST_HOLD, HELD_LONG, HELD_SHORT, NOT_READY, Chunk
from strategies.registry import get_strategy

if TYPE_CHECKING:
    from kitetui.store.holds import Run
    from kitetui.trading.trader import Trader

BASE_TIMEFRAME_S = 60


_ACTIVE = frozenset({EngineState.RUNNING, EngineState.PAUSED})
# Read on every decided bar and entry, bound once (why: ``kitetui/domain.py``, "Bound members").
_PAUSED, _HOLD = EngineState.PAUSED, SignalKind.HOLD
_CASH_SEGMENTS = frozenset({"NSE", "BSE"})  # Kite's instrument segment of cash equity
# A symbol whose cursor was not looked for yet (``Engine._columns`` holds None for one
# decided bar by bar): one dict lookup a bar instead of two.
_UNOPENED: Any = object()
ColumnSource = Callable[[str], BarColumns | None]


class Engine:
    kind: ClassVar[str] = "base"
    exchange: ClassVar[Exchange] = Exchange.NSE

    def __init__(
        self,
        config: EngineConfig,
        trader: Trader,
        run_tag: str,
        master: InstrumentMaster,
        calendar: TradingCalendar,
    ) -> None:
        self.config = config
        self.name = config.name
        self.trader = trader
        self.run_tag = run_tag
        self.master = master
        self.calendar = calendar
        self.product = Product(config.product)
        self.timeframe_s = config.timeframe_s
        self._strategy_cls = get_strategy(config.strategy)
        self._params = self._strategy_cls.Params.model_validate(config.params)
        self.strategies: dict[str, Strategy] = {}
        # The newest bars and indicator values per symbol, for the price chart.
        self.history = BarHistory(overlays=self._strategy_cls.chart_overlays)
        self.subscriptions: frozenset[str] = frozenset()
        # Subscribed only to close what is held from an earlier session (a contract
        # rolled away from, a stock that left the universe): no entry is placed in them.
        self.exits_only: frozenset[str] = frozenset()
        # Watched only to warm a strategy before the engine trades them (the future an
        # fno engine rolls to next): their bars move indicators, never make a signal.
        self.warming: frozenset[str] = frozenset()
        self.on_subscriptions: Callable[[Engine], None] = lambda engine: None
        self.day: date | None = None
        self.available: frozenset[str] = frozenset()  # symbols the feed has data for
        self.freeze_limits: Mapping[str, int] = {}  # underlying -> freeze quantity
        self._ticks: dict[str, TickBarAggregator] = {}
        self._resamplers: dict[str, BarResampler] = {}
        self.state = EngineState.RUNNING if config.enabled else EngineState.STOPPED
        self.bars_seen = 0
        self.signals_emitted = 0
        self.orders_placed = 0
        self.heartbeat_ns = 0
        self.last_error = ""
        # Set by start_session when the engine has nothing to trade today (a word for
        # the screen, "NO CONTRACTS" or "IDLE", and the reason): an amber alarm.
        self.idle = ""
        self.idle_reason = ""
        self._inbox: asyncio.Queue[tuple[Sequence[Tick | Bar], asyncio.Future[None]] | None] = (
            asyncio.Queue(maxsize=2)
        )
        self.task: asyncio.Task[None] | None = None
        self.inline = False  # see launch
        # A backtest's symbols decided a column at a time (``decide``); None for a
        # symbol that is decided bar by bar.
        self._column_source: ColumnSource | None = None
        self._columns: dict[str, ColumnCursor | None] = {}
        # The open cursors of the symbols subscribed to, and the subscriptions they were
        # taken for (None: the cursors changed since): ``_live_cursors``.
        self._live: dict[str, ColumnCursor] = {}
        self._live_for: frozenset[str] | None = None

    # -- lifecycle ------------------------------------------------------------------

    def launch(self, *, inline: bool = False, columns: ColumnSource | None = None) -> None:
        """Start the engine's task. ``inline``: no task; each batch is processed in the
        supervisor's own task (a replay at full speed, where nothing waits on the loop
        between batches and a queue and a future per batch cost more than the bars).
        The order is the same both ways: the supervisor waits for each batch's answer.
        ``columns``: where a backtest's symbols' bars are as columns, for a strategy
        that decides a column at a time (``decide``)."""
        self.inline = inline
        self._column_source = columns
        if not inline:
            self.task = asyncio.create_task(self.run(), name=f"engine-{self.name}")

    async def shutdown(self) -> None:
        if self.task is None:
            return
        await self._inbox.put(None)
        await self.task
        self.task = None

    async def run(self) -> None:
        """The engine's one loop: take a batch, process it, answer; None shuts down."""
        while True:
            work = await self._inbox.get()
            if work is None:
                return
            items, done = work
            try:
                await self._process_caught(items)
            finally:
                if not done.done():
                    done.set_result(None)

    async def _process_caught(self, items: Sequence[Tick | Bar]) -> None:
        try:
            await self.process(items)
        except Exception as exc:  # one place where unexpected errors are decided
            self.fail(exc)

    async def deliver(self, items: Sequence[Tick | Bar]) -> None:
        """Hand a batch to the engine's task (or, inline, process it here) and wait
        until it has been processed."""
        if self.inline:  # ``_process_caught`` spelled out: a coroutine fewer a batch
            try:
                await self.process(items)
            except Exception as exc:  # decided as ``_process_caught`` decides it
                self.fail(exc)
            return
        if self.task is None or self.task.done():
            await self.process(items)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._inbox.put((items, done))
        await done

    def fail(self, exc: BaseException) -> None:
        self.state = EngineState.ERROR
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.trader.record_event(
            Event(
                ts_ns=self.heartbeat_ns,
                kind=EventKind.ENGINE_FAILED,
                level="ERROR",
                engine=self.name,
                message=f"engine {self.name} stopped on an unexpected error: {self.last_error}",
            )
        )

    @property
    def entries_paused(self) -> bool:
        return self.state is _PAUSED

    @property
    def trading(self) -> bool:
        return self.state in _ACTIVE and not self.trader.warmup.active

    # -- bars -----------------------------------------------------------------------

    def _bars_from(self, item: Tick | Bar) -> list[Bar]:
        if isinstance(item, Tick):
            aggregator = self._ticks.get(item.symbol)
            if aggregator is None:
                aggregator = self._ticks[item.symbol] = TickBarAggregator(
                    item.symbol, BASE_TIMEFRAME_S
                )
            bar = aggregator.on_tick(item)
            return [] if bar is None else self._resampled(bar)
        return self._resampled(item)

    def _resampled(self, bar: Bar) -> list[Bar]:
        """Pass a bar of the engine's timeframe through; feed shorter ones upward."""
        if bar.timeframe_s == self.timeframe_s:
            return [bar]
        resampler = self._resamplers.get(bar.symbol)
        if resampler is None:
            resampler = self._resamplers[bar.symbol] = BarResampler(
                bar.symbol, bar.timeframe_s, self.timeframe_s
            )
        out = resampler.on_bar(bar)
        return [] if out is None else [out]

    def flush_bars(self) -> list[Bar]:
        """Close partial bars at the end of a session or of the data."""
        bars: list[Bar] = []
        for aggregator in self._ticks.values():
            bar = aggregator.flush()
            if bar is not None:
                bars.extend(self._resampled(bar))
        for resampler in self._resamplers.values():
            bar = resampler.flush()
            if bar is not None:
                bars.append(bar)
        return bars

    async def close_partial_bars(self) -> None:
        """Decide on the partial bars ``flush_bars`` closes at the end of a session. A
        strategy's error here is the engine's failure (EngineFailed), as on the bar
        path (``_process_caught``), never an exception out of the session's end."""
        try:
            for bar in self.flush_bars():
                await self.on_bar(bar)
        except Exception as exc:  # the flush's counterpart of ``_process_caught``
            self.fail(exc)

    async def process(self, items: Sequence[Tick | Bar]) -> None:
        """Decide on a batch's items, and act on the signals that may trade.

        Most items of a backtest are a bar of the engine's own timeframe, of a symbol
        decided from its columns, that its column codes a HOLD whatever the position:
        that case is ``decide`` spelled out here, over locals bound once a batch (the
        call and its attribute reads were a good part of a quiet bar's cost), and a run
        of such HOLDs goes to the trader at once (``Trader.count_holds``), before
        anything else the engine does (a decision, a signal) and at the batch's end: the
        journal sees every HOLD in the order ``count_hold`` would have shown it. They go
        as runs of one time (a batch's bars share theirs), each HOLD its key (the
        cursor's ``hold_keys``) and what builds its ``Signal``. Anything else goes
        through ``decide``. Deciding is synchronous; only a signal that may
        trade awaits the trader.

        The cursor's step to the next row of its chunk is taken here too (``step`` is
        called for the rest: a chunk's end, a built bar, a bar off the column).

        Over such a run nothing but the loop runs, so what each bar would set on the
        engine (``bars_seen``, ``heartbeat_ns``, ``signals_emitted``) is tallied in
        locals and set with the hand-over (``_caught_up``; a counted HOLD is a bar seen
        by being in a run, so only the bars not counted are tallied one by one), and
        whether the engine counts HOLDs (``_decided``'s ``trading``) and the open
        cursors of its subscribed symbols (``_live_cursors``, one look a bar) are read
        once, again after anything else. A row's HOLD key (``hold_keys`` of its code)
        is read from the cursor's ``keys``, made with its chunk."""
        timeframe_s = self.timeframe_s
        decide = self.decide
        trader, held_signal = self.trader, self._held_signal
        span_ns = timeframe_s * NS_PER_SECOND  # a bar's length: its end is ts_ns + span_ns
        runs: list[Run] = []  # the HOLDs not yet handed over
        run: list[tuple[Any, ...]] = []  # the last of them, of bars starting at ``run_ts``
        run_ts = -1
        # Bars stepped over and not in ``runs`` (the HOLDs not counted), and the newest
        # stepped-over bar's start: ``_caught_up`` adds the runs' HOLDs to the bars seen.
        seen = ts = 0
        live = self._live_cursors()  # only ``decide`` opens a cursor (``_open_columns``)
        counting = self.state in _ACTIVE and not trader.warmup.active
        try:
            for item in items:
                # A symbol with a live cursor has only its columns' bars, of this
                # timeframe (``_live_cursors``): no type or timeframe check a bar.
                cursor = live.get(item.symbol)
                if cursor is not None:
                    # ``decide`` with an open cursor
                    ts = item.ts_ns
                    # ``cursor.step(item)``, its common case spelled out; ``keys`` is
                    # the row's ``hold_keys[code]``, read a chunk ahead
                    i = cursor.offset + 1
                    if cursor.starts[i] == ts:  # None past the chunk's rows
                        cursor.offset = i
                        key = cursor.keys[i]
                    else:
                        code = cursor.step(item)
                        key = cursor.hold_keys[code]
                        i = cursor.offset if code >= 0 else -1
                    if key is not None:  # ``_decided`` for a HOLD whatever the position
                        if counting:
                            if ts != run_ts:
                                run_ts, run = ts, []
                                runs.append((ts + span_ns, held_signal, run))
                            # the arguments of ``held_signal``: the bar, ``where()``
                            run.append((key, item, cursor.chunk, i))
                        else:
                            seen += 1
                        continue
                    self._caught_up(seen + 1, ts, runs)  # ``_decided`` reads the end
                    seen, runs, run_ts = 0, [], -1
                    signal = self._stepped(item, cursor, cursor.codes[i] if i >= 0 else -1)
                    if signal is not None:
                        await self.act(signal)
                else:
                    if seen or runs:
                        self._caught_up(seen, ts, runs)
                        seen, runs, run_ts = 0, [], -1
                    if type(item) is Bar and item.timeframe_s == timeframe_s:
                        signal = decide(item)
                        if signal is not None:
                            await self.act(signal)
                    else:
                        for bar in self._bars_from(item):
                            await self.on_bar(bar)
                live = self._live_cursors()
                counting = self.state in _ACTIVE and not trader.warmup.active
        finally:
            if seen or runs:
                self._caught_up(seen, ts, runs)

    def _live_cursors(self) -> dict[str, ColumnCursor]:
        """The open cursors of the symbols subscribed to whose bars are the files' own:
        ``process``'s one look a bar for a symbol decided from its columns (``_columns``
        and ``subscriptions`` together), made again when either changed. Such a
        symbol's items are all its columns' bars, of the engine's timeframe:
        ``bar_columns`` makes columns only for a symbol whose every stream is a loaded
        file of bars of one timeframe, and a cursor over them is not ``built`` only when
        that is the engine's. A cursor whose bars the engine builds (resampled) is left
        to ``decide``, through ``_bars_from``."""
        subscriptions = self.subscriptions
        if self._live_for is not subscriptions:
            cursors = self._columns.items()
            self._live = {
                s: c for s, c in cursors if c is not None and not c.built and s in subscriptions
            }
            self._live_for = subscriptions
        return self._live

    def _caught_up(self, seen: int, ts_ns: int, runs: list[Run]) -> None:
        """``process``'s run of bars as ``decide`` leaves the engine after each: ``seen``
        bars stepped over besides the HOLDs of ``runs``, the newest starting at
        ``ts_ns``, and those HOLDs counted (each a signal emitted) and handed to the
        trader."""
        if runs:
            count = 0
            for run in runs:  # (a loop: a generator's frame per hand-over cost more)
                count += len(run[2])
            self.bars_seen += seen + count
            self.signals_emitted += count
            self.trader.count_holds(runs, count)
        else:
            self.bars_seen += seen
        self.heartbeat_ns = ts_ns + self.timeframe_s * NS_PER_SECOND

    async def on_bar(self, bar: Bar) -> None:
        """A bar closed: decide on it, and act on a signal that may trade."""
        signal = self.decide(bar)
        if signal is not None:
            await self.act(signal)

    def decide(self, bar: Bar) -> Signal | None:
        """The strategy's decision on ``bar`` (kept for the chart); the signal to act
        on, or None (a HOLD is counted by ``make_signal``).

        In a backtest whose strategy has a column form, a symbol's decisions come from
        its columns (``engines.column_cursor``): the same decisions, computed a chunk at
        a time, with the position asked only where it matters."""
        self.bars_seen += 1
        # ``bar.end_ns`` spelled out: the property is a call on every bar of a replay.
        self.heartbeat_ns = bar.ts_ns + bar.timeframe_s * NS_PER_SECOND
        symbol = bar.symbol
        if symbol not in self.subscriptions:
            if symbol in self.warming:  # indicators only: the strategy sees it flat
                self.strategy_for(symbol).on_bar(bar, 0)
            return None  # or a partial bar flushed after the symbol left the subscriptions
        source = self._column_source
        if source is not None:
            cursor = self._columns.get(symbol, _UNOPENED)
            if cursor is _UNOPENED:
                cursor = self._open_columns(symbol, source)
            if cursor is not None:
                return self._stepped(bar, cursor, cursor.step(bar))
        return self._by_bar(bar)

    def _stepped(self, bar: Bar, cursor: ColumnCursor, code: int) -> Signal | None:
        """``decide`` after its symbol's cursor answered ``code`` for ``bar``: from the
        columns, or (not the column's next bar) bar by bar from here on."""
        if code >= 0:
            return self._decided(bar, cursor, code)
        self._leave_columns(bar.symbol, cursor)
        return self._by_bar(bar)

    def _by_bar(self, bar: Bar) -> Signal | None:
        """``decide`` through the strategy's ``on_bar`` (the reference path)."""
        symbol = bar.symbol
        strategy = self.strategy_for(symbol)
        position_qty = self.trader.position_qty(symbol)
        decision = strategy.on_bar(bar, position_qty)
        self.history.add(bar, decision.indicators)
        return self.make_signal(bar, strategy.name, decision)

    def _open_columns(self, symbol: str, source: ColumnSource) -> ColumnCursor | None:
        """The symbol's cursor, if it has columns of this timeframe or a shorter one that
        divides it (resampled ahead) and the strategy a column form; a symbol already
        decided bar by bar stays so."""
        cursor = None
        if symbol not in self.strategies:
            columns = source(symbol)
            timeframe_s = self.timeframe_s
            if columns is not None and timeframe_s % columns.timeframe_s == 0:
                decider = self._strategy_cls(self._params).column_decider()
                if decider is not None:
                    built = columns.timeframe_s != timeframe_s  # resampled (``_resampled``)
                    if built:
                        columns = columns.resampled(timeframe_s)
                    cursor = ColumnCursor(columns, decider, built=built, engine=self.name)
                    self.history.follow(symbol, cursor)
        self._columns[symbol] = cursor
        self._live_for = None
        return cursor

    def _leave_columns(self, symbol: str, cursor: ColumnCursor) -> None:
        """The bar is not the column's next: from it on, bar by bar, with the strategy
        in the state the bars it saw left it in."""
        self.strategies[symbol] = cursor.strategy_now(self._strategy_cls(self._params))
        self.history.unfollow(symbol)
        self._columns[symbol] = None
        self._live_for = None

    def _decided(self, bar: Bar, cursor: ColumnCursor, code: int) -> Signal | None:
        """``make_signal`` for a bar decided from the columns: a HOLD is counted
        without building its ``Decision``."""
        trader = self.trader
        if code == DECIDE:
            decision = cursor.decision(trader.position_qty(bar.symbol))
            return self.make_signal(bar, self._strategy_cls.name, decision)
        # ``self.trading`` spelled out: a property call on nearly every bar of a replay.
        if self.state not in _ACTIVE or trader.warmup.active:
            return None
        if code == NOT_READY:
            trader.skip_not_ready(self, bar)
            return None
        reason = code - FIRST_HOLD
        held = cursor.held[reason]
        if held != ALWAYS:  # a HOLD while flat (and on one side, maybe): else, ask
            position_qty = trader.position_qty(bar.symbol)
            if position_qty and not held & (HELD_LONG if position_qty > 0 else HELD_SHORT):
                decision = cursor.decision(position_qty)
                return self.make_signal(bar, self._strategy_cls.name, decision)
        self.signals_emitted += 1
        chunk, offset = cursor.where()
        trader.count_hold(
            self.name,
            bar.symbol,
            cursor.reasons[reason],
            self.heartbeat_ns,  # the bar's end, as ``decide`` just set it
            self._held_signal,
            (bar, chunk, offset),
        )
        return None

    def _held_signal(self, bar: Bar, chunk: Chunk, offset: int) -> Signal:
        return self.signal(bar, self._strategy_cls.name, chunk.decision(offset, 0))

    async def act(self, signal: Signal) -> None:
        """Hand a signal that may trade to the trader (sizing, risk, the order)."""
        self.orders_placed += await self.trader.on_signal(self, signal)

    def make_signal(
        self,
        bar: Bar,
        strategy: str,
        decision: Decision,
        extra: Mapping[str, float] | None = None,
    ) -> Signal | None:
        """The signal for a decided bar that may act; None while silent or warming up
        (recorded) and on a HOLD, which changes nothing and is only counted: most bars
        are one, so its ``Signal`` is built only if the journal must write it as a row
        (``Trader.count_hold``)."""
        if not self.trading:
            return None
        if decision.kind is _HOLD:
            if decision.reason == "indicators not ready":
                self.trader.skip_not_ready(self, bar)
                return None
            self.signals_emitted += 1
            self.trader.count_hold(
                self.name,
                bar.symbol,
                decision.reason,
                bar.end_ns,
                self.signal,
                (bar, strategy, decision, extra),
            )
            return None
        self.signals_emitted += 1
        return self.signal(bar, strategy, decision, extra)

    def signal(
        self,
        bar: Bar,
        strategy: str,
        decision: Decision,
        extra: Mapping[str, float] | None = None,
    ) -> Signal:
        """The ``Signal`` of a decided bar (its id derives from the bar: written twice,
        a row is still one)."""
        return Signal(
            signal_id=f"{self.run_tag}-{self.name}-{bar.symbol}-{bar.end_ns}",
            ts_ns=bar.end_ns,
            engine=self.name,
            strategy=strategy,
            symbol=bar.symbol,
            timeframe_s=bar.timeframe_s,
            kind=decision.kind,
            price=bar.close,
            reason=decision.reason,
            confidence=_finite(decision.confidence),
            indicators={**decision.indicators, **(extra or {})},
        )

    # -- what it trades ---------------------------------------------------------------

    async def start_session(
        self, day: date, prices: Mapping[str, float], turnover: Mapping[str, float]
    ) -> None:
        """Decide what to trade today; called on the first batch of each trading day."""
        self.day = day
        self.idle = self.idle_reason = ""

    def wants_prices(self, day: date) -> list[str]:
        """Symbols whose price ``start_session`` needs before the day's first tick
        (a live start reads them from Kite); none here."""
        del day
        return []

    def nothing_to_trade(self, word: str, reason: str) -> None:
        """Today this engine has nothing to trade: say so on screen and in the journal."""
        self.idle, self.idle_reason = word, reason
        self.record(EventKind.ENGINE_IDLE, f"{word}: {reason}", level="WARNING")

    def subscribe(
        self,
        symbols: set[str] | frozenset[str],
        *,
        held: Iterable[str] = (),
        warming: Iterable[str] = (),
    ) -> None:
        """Today's ``symbols``, the ``held`` ones beside them, which only close, and
        the ``warming`` ones, whose bars only warm their strategies."""
        today = frozenset(symbols)
        self.exits_only = frozenset(held) - today
        symbols = today | self.exits_only
        warm = frozenset(warming) - symbols
        if symbols != self.subscriptions or warm != self.warming:
            self.subscriptions = symbols
            self.warming = warm
            self.on_subscriptions(self)

    def strategy_for(self, symbol: str) -> Strategy:
        strategy = self.strategies.get(symbol)
        if strategy is None:
            strategy = self.strategies[symbol] = self._strategy_cls(self._params)
        return strategy

    def instrument(self, symbol: str) -> Instrument | None:
        return self.master.get(self.exchange._value_, symbol)

    def lot_size(self, symbol: str) -> int:
        instrument = self.instrument(symbol)
        return instrument.lot_size if instrument is not None and instrument.lot_size > 0 else 1

    def tick_size(self, symbol: str) -> float:
        instrument = self.instrument(symbol)
        if instrument is not None and instrument.tick_size > 0:
            return instrument.tick_size
        return self.trader.tick_size

    def freeze_quantity(self, symbol: str) -> int | None:
        """The most one order may carry, in units: the exchange's freeze quantity (by
        underlying) for F&O, Zerodha's 1,00,000-share cap for cash equity; None when
        the instrument is unknown."""
        instrument = self.instrument(symbol)
        if instrument is None:
            return None
        freeze = self.freeze_limits.get(instrument.name)
        if freeze is None and instrument.segment in _CASH_SEGMENTS:
            return MAX_EQUITY_ORDER_QUANTITY
        return freeze

    def record(
        self,
        kind: EventKind,
        message: str,
        *,
        level: str = "INFO",
        symbol: str = "",
        **data: object,
    ) -> None:
        self.trader.record_event(
            Event(
                ts_ns=0,
                kind=kind,
                level=level,
                engine=self.name,
                symbol=symbol,
                message=message,
                data=dict(data),
            )
        )

    def view(self) -> EngineView:
        return EngineView(
            name=self.name,
            kind=self.kind,
            state=self.state.value,
            strategy=self.config.strategy,
            timeframe_s=self.timeframe_s,
            symbols=tuple(sorted(self.subscriptions)),
            bars_seen=self.bars_seen,
            signals_emitted=self.signals_emitted,
            orders_placed=self.trader.orders_by_engine[self.name],
            heartbeat_ts_ns=self.heartbeat_ns,
            last_error=self.last_error,
            idle=self.idle,
            idle_reason=self.idle_reason,
        )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
