"""Immutable snapshots of the desk, published by the supervisor for any reader.

The supervisor builds a ``DeskSnapshot`` at a bounded rate and swaps one reference;
readers (the TUI in another thread, an attached client, the headless summary) only
ever see a complete, consistent picture and never touch live trading objects. A reader
that falls behind simply reads the newest snapshot: it can never slow a tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kitetui.drafts import built_in_draft


@built_in_draft
@dataclass(frozen=True, slots=True)
class EngineView:
    name: str
    kind: str  # "equity", "fno"
    state: str  # STOPPED / RUNNING / PAUSED / ERROR
    strategy: str
    timeframe_s: int
    symbols: tuple[str, ...]
    bars_seen: int = 0
    signals_emitted: int = 0
    orders_placed: int = 0
    heartbeat_ts_ns: int = 0  # data time of the last bar it processed
    last_error: str = ""
    # Nothing to trade today although it runs: "NO CONTRACTS" (every future expired,
    # no option expiry listed) or "IDLE" (no symbol passed the universe), and why.
    idle: str = ""
    idle_reason: str = ""

    @property
    def shown_state(self) -> str:
        """The state a person reads: an active engine with nothing to trade says so."""
        active = self.state.upper() in ("RUNNING", "PAUSED")
        return self.idle if self.idle and active else self.state


@built_in_draft
@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    engine: str
    product: str
    quantity: int
    avg_price: float
    last_price: float
    realized: float  # rupees, converted from exact paise for display
    unrealized: float
    stop_price: float = 0.0
    lot_size: int = 1  # from the instrument master: F&O quantities are whole lots
    expiry: str = ""  # ISO date for futures and options, "" for equities
    # Rule 11: PROTECTED (a working stop covers it), EXITING (a close is being worked)
    # or NAKED (neither: an alarm); ``cover`` says it in words ("STOP @ 18210.5").
    cover_state: str = ""
    cover: str = ""
    charges: float = 0.0  # what its fills were charged (brokerage and levies)
    # Today's share of ``realized`` and of ``charges`` (since the trading day began),
    # and whether the symbol is open or traded today: the Positions tab shows today
    # unless asked.
    day_realized: float = 0.0
    day_charges: float = 0.0
    today: bool = True

    @property
    def pnl(self) -> float:
        """Gross: realized + unrealized."""
        return self.realized + self.unrealized

    @property
    def net(self) -> float:
        return self.realized + self.unrealized - self.charges

    @property
    def day_pnl(self) -> float:
        """Gross, today: today's realized + unrealized."""
        return self.day_realized + self.unrealized

    @property
    def day_net(self) -> float:
        """Net, today: today's realized + unrealized - today's charges."""
        return self.day_realized + self.unrealized - self.day_charges


@built_in_draft
@dataclass(frozen=True, slots=True)
class DayView:
    """An earlier trading day of the run: what each symbol realized (and was charged)
    on it."""

    day: str  # ISO date
    positions: tuple[PositionView, ...] = ()


@built_in_draft
@dataclass(frozen=True, slots=True)
class OrderView:
    tag: str
    ts_ns: int
    engine: str
    symbol: str
    side: str
    quantity: int
    order_type: str
    purpose: str
    status: str
    price: float = 0.0
    trigger_price: float = 0.0
    filled_qty: int = 0
    avg_price: float = 0.0
    reason: str = ""


@built_in_draft
@dataclass(frozen=True, slots=True)
class SignalView:
    seq: int
    signal_id: str
    ts_ns: int
    engine: str
    strategy: str
    symbol: str
    kind: str
    price: float
    reason: str
    confidence: float
    indicators: tuple[tuple[str, float], ...] = ()
    risk_verdict: str = ""  # ALLOW / REDUCE / BLOCK / HALT, or "" when no order was wanted
    risk_reason: str = ""


@built_in_draft
@dataclass(frozen=True, slots=True)
class EventView:
    seq: int
    ts_ns: int
    kind: str
    level: str
    message: str
    symbol: str = ""
    engine: str = ""


@built_in_draft
@dataclass(frozen=True, slots=True)
class BlockedView:
    """How often one risk rule stopped one engine's orders this run, and the last time."""

    engine: str
    rule: str  # the RiskEngine rule (a named block, a limit)
    verdict: str  # BLOCK / REDUCE / HALT
    count: int
    last_ts_ns: int
    last_symbol: str
    last_reason: str


@built_in_draft
@dataclass(frozen=True, slots=True)
class AlertView:
    """Something a trader must hear about (kitetui/alerts.py): a screen rings and
    notifies once for each alert whose ``seq`` it has not seen."""

    seq: int
    ts_ns: int  # the data clock when it happened
    kind: str  # an event kind, "Filled" or "KillSwitch"
    title: str
    message: str
    level: str
    symbol: str = ""


@built_in_draft
@dataclass(frozen=True, slots=True)
class LimitView:
    """One risk limit against its usage, e.g. open positions 3 / 5."""

    name: str
    used: float
    limit: float
    unit: str = ""

    @property
    def fraction(self) -> float:
        return 0.0 if self.limit <= 0 else min(1.0, abs(self.used) / self.limit)


@built_in_draft
@dataclass(frozen=True, slots=True)
class LimitSetting:
    """One risk limit a person may change: its value now, the config's and the bounds
    the config allows (``kitetui/risk_limits.py``)."""

    name: str  # the config key, e.g. max_daily_loss
    value: float
    config_value: float
    bounds: str  # in words: "1 to 1,000", "above 0, at most 100,000,000,000"
    integer: bool = False

    @property
    def changed(self) -> bool:
        return self.value != self.config_value


@built_in_draft
@dataclass(frozen=True, slots=True)
class RiskView:
    state: str  # ACTIVE / REDUCING / HALTED
    kill_switch: bool
    entries_paused: bool
    halt_reason: str
    day_pnl: float  # NET of the day's charges: what the daily-loss limit sees
    realized: float  # the run's, gross
    unrealized: float
    max_drawdown: float  # of the net equity curve
    day_gross_pnl: float = 0.0
    day_charges: float = 0.0
    charges: float = 0.0  # the run's, every fill's share of its order's rounded total
    # The run's charges by component as the contract note bills them, rupees:
    # brokerage, stt, exchange (with IPFT), sebi, stamp, gst; then dp (the depository
    # charge, off the contract note) when the run sold delivery shares.
    charges_by_component: tuple[tuple[str, float], ...] = ()
    limits: tuple[LimitView, ...] = ()
    blocked_symbols: tuple[str, ...] = ()
    trades_today: tuple[tuple[str, int], ...] = ()  # (symbol, entries) pairs
    # Named entry blocks: (name, reason, when it clears), e.g. feed_stale.
    blocks: tuple[tuple[str, str, str], ...] = ()
    naked: tuple[tuple[str, str], ...] = ()  # (symbol, why) of positions without cover
    reconcile_failures: int = 0  # live: failed reconcile passes in a row
    # Today's figures beside the run's: ``realized`` and ``max_drawdown`` are run-wide.
    day_realized: float = 0.0
    day_max_drawdown: float = 0.0
    days: int = 1  # trading days the run has seen so far
    # Every limit a person may change, with the config's value and its bounds.
    settings: tuple[LimitSetting, ...] = ()
    # Margin used and available, rupees; source "rates" (computed from the engines'
    # margin rates) or "Kite" (its margins()); "" before the first figure.
    margin_used: float = 0.0
    margin_available: float = 0.0
    margin_source: str = ""

    @property
    def changed_settings(self) -> tuple[LimitSetting, ...]:
        return tuple(s for s in self.settings if s.changed)

    @property
    def entries(self) -> str:
        """Whether a new entry could go out now, in one word (TUI and ``ctl`` alike):
        BLOCKED under the kill switch, a halt or a named block, PAUSED, else open."""
        if self.kill_switch or self.state.upper() == "HALTED":
            return "BLOCKED"
        if self.entries_paused:
            return "PAUSED"
        return "BLOCKED" if self.blocks else "open"

    @property
    def gross_pnl(self) -> float:
        """The run's realized + unrealized, before charges."""
        return self.realized + self.unrealized

    @property
    def net_pnl(self) -> float:
        return self.realized + self.unrealized - self.charges


@built_in_draft
@dataclass(frozen=True, slots=True)
class FeedView:
    """How the market data is flowing, for the header's feed-health readout.

    ``last_item_wall_ns`` is a wall-clock stamp (not the data clock) so a reader computes
    the age of the last tick at the moment it paints: a frozen feed visibly ages.
    """

    state: str = "STARTING"  # STARTING / RUNNING / STALE / RECONNECTING / FINISHED / …
    items_per_s: float = 0.0  # ticks and bars processed per wall second, recent
    last_item_wall_ns: int = 0  # wall time the newest tick or bar was processed; 0 = none
    reconnects: int = 0  # ticker re-connections after the first connect
    session: str = ""  # CLOSED / PRE_OPEN / OPEN / POST_CLOSE at the data clock
    dropped_batches: int = 0  # tick batches dropped because the desk fell behind


@dataclass(frozen=True, slots=True)
class OrderEventView:
    ts_ns: int
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillView:
    fill_id: str
    ts_ns: int
    side: str
    quantity: int
    price: float


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """One order's life from the journal: every state it passed through and its fills."""

    tag: str
    history: tuple[OrderEventView, ...] = ()
    fills: tuple[FillView, ...] = ()


@dataclass(frozen=True, slots=True)
class ChartMark:
    """Something the desk did at a price on the chart: a fill (an entry, an exit, a
    stop filled) or a protective stop standing at its trigger from ``ts_ns`` to
    ``until_ns`` (0: still working)."""

    kind: str  # ENTRY / EXIT / STOP_FILL (a fill), STOP (a stop order's trigger level)
    ts_ns: int
    price: float
    side: str  # BUY / SELL
    quantity: int
    tag: str
    until_ns: int = 0  # STOP: when the stop stopped working (filled, cancelled), 0 if not


@dataclass(frozen=True, slots=True)
class ChartView:
    """The price chart of one symbol: the newest bars its engine decided on, the values
    of the strategy's indicators on each bar, and the desk's fills and stops on it.

    ``bars`` are (start ts_ns, open, high, low, close), oldest first. Each indicator
    series has one value per bar (None where the strategy had none, e.g. warming up);
    ``overlays`` names those in price units (drawn over the candles). ``bars_symbol`` is
    whose bars they are: the asked ``symbol`` itself, or, for an option, the underlying
    whose signals it trades (its marks are then in premium, not on the candles' scale).
    """

    symbol: str
    bars_symbol: str
    engine: str
    strategy: str
    timeframe_s: int
    bars: tuple[tuple[int, float, float, float, float], ...] = ()
    indicators: tuple[tuple[str, tuple[float | None, ...]], ...] = ()
    overlays: tuple[str, ...] = ()
    marks: tuple[ChartMark, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class HeadlineView:
    """A finished run's headline figures (the summary screen at the end of a replay)."""

    gross: float  # realized + unrealized, rupees
    charges: float  # the journaled charges of every fill, rupees
    trades: int  # round trips, as the report counts them (kitetui.performance)
    won: int  # of those, the ones with a positive net P&L
    max_drawdown: float  # the deepest fall below peak net equity, rupees (a magnitude)
    orders: int = 0
    fills: int = 0
    days: int = 0
    open_positions: int = 0
    note: str = ""  # e.g. fills the rate table could not price (charged nothing)

    @property
    def net(self) -> float:
        return self.gross - self.charges

    @property
    def win_rate(self) -> float | None:
        return self.won / self.trades if self.trades else None


@built_in_draft
@dataclass(frozen=True, slots=True)
class PerformanceRow:
    """One part of the run measured as the report measures it (``kitetui.performance``):
    round trips paired from the fills, a win is a trade with a positive NET P&L, the
    drawdown is of the closed-trade net equity. A trade still open is in ``gross``,
    ``charges`` and ``net`` marked at the last price, and in no trade statistic.
    Money in rupees, each figure rounded half-up to paise from its exact value."""

    scope: str  # "run", or an ISO date: the figures of that one day
    part: str  # "all", "engine", "symbol" or "day" (a day of the run)
    name: str = ""  # the engine, the symbol or the ISO day; "" for all
    strategy: str = ""  # the engine's strategy, for an engine's row
    trades: int = 0  # closed round trips
    open_trades: int = 0
    wins: int = 0
    losses: int = 0
    gross: float = 0.0
    charges: float = 0.0
    net: float = 0.0
    avg_win: float | None = None  # net, None without a win
    avg_loss: float | None = None  # net (<= 0), None without a loss
    profit_factor: float | None = None  # wins' net / |losses' net|, None without a loss
    expectancy: float | None = None  # net per closed trade
    max_drawdown: float = 0.0  # a magnitude, >= 0
    turnover: float = 0.0

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None


@built_in_draft
@dataclass(frozen=True, slots=True)
class PerformanceView:
    """The Performance tab: the run's figures (whole, per engine, per symbol, per day)
    and each day's (whole, per engine, per symbol), kept by the desk as fills arrive."""

    rows: tuple[PerformanceRow, ...] = ()

    def scoped(self, scope: str) -> tuple[PerformanceRow, ...]:
        """The rows of ``scope``: ``"run"`` or an ISO day."""
        return tuple(row for row in self.rows if row.scope == scope)


@built_in_draft
@dataclass(frozen=True, slots=True)
class DeskSnapshot:
    seq: int
    mode: str  # replay / paper / live
    run_id: str
    data_ts_ns: int  # the data clock: what time it is in the market being traded
    feed_state: str  # STARTING / RUNNING / FINISHED / STOPPED / ERROR
    speed: str  # "60x" or "max"
    engines: tuple[EngineView, ...] = ()
    positions: tuple[PositionView, ...] = ()
    orders: tuple[OrderView, ...] = ()  # all open orders plus the most recent ones
    signals: tuple[SignalView, ...] = ()  # the newest signals, oldest first
    events: tuple[EventView, ...] = ()  # the newest events, oldest first
    alerts: tuple[AlertView, ...] = ()  # the newest alerts, oldest first
    blocked: tuple[BlockedView, ...] = ()  # risk refusals this run, per engine and rule
    alert_bell: bool = True  # the desk's `alerts.bell`: screens ring for new alerts
    alert_desktop: bool = True  # the desk's `alerts.desktop`: and notify the desktop
    risk: RiskView = field(
        default_factory=lambda: RiskView(
            state="ACTIVE",
            kill_switch=False,
            entries_paused=False,
            halt_reason="",
            day_pnl=0.0,
            realized=0.0,
            unrealized=0.0,
            max_drawdown=0.0,
        )
    )
    equity_curve: tuple[tuple[int, float], ...] = ()  # (ts_ns, equity rupees)
    counts: tuple[tuple[str, int], ...] = ()  # totals: signals, orders, fills, events…
    feed: FeedView = field(default_factory=FeedView)
    published_wall_ns: int = 0  # wall time the snapshot was built: an idle desk ages
    # The whole run's equity, sampled to a bounded size (``equity_curve`` is the newest).
    equity_run: tuple[tuple[int, float], ...] = ()
    day: str = ""  # the trading day at the data clock (ISO date), "" before the first
    past_days: tuple[DayView, ...] = ()  # earlier days of the run that traded, oldest first
    headline: HeadlineView | None = None  # set once a replay has finished
    performance: PerformanceView = field(default_factory=PerformanceView)


# -- the database's history, read on request (Runs screen, history search, export) --------


@dataclass(frozen=True, slots=True)
class RunView:
    """One run a database holds, as ``kitetui runs`` lists it."""

    run_id: str
    mode: str
    config: str
    status: str
    restarts: int
    started: str  # wall clock, IST, to the minute
    data_from: str  # the market days it covered (IST dates), "" before any data
    data_to: str
    orders: int
    fills: int
    open_positions: int
    realized_pnl: float  # rupees, gross of charges
    charges: float = 0.0  # journaled with the fills
    net_pnl: float = 0.0  # what `kitetui runs` shows as net: realized less charges
    unpriced_fills: int = 0  # fills journaled without charges (the net leaves them out)


@dataclass(frozen=True, slots=True)
class HistoryFillView:
    """A journaled fill with what a table of fills shows (``FillView`` is an order's)."""

    fill_id: str
    ts_ns: int
    tag: str
    engine: str
    symbol: str
    side: str
    quantity: int
    price: float


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a journal table, newest first, filtered in the database.

    ``total`` is how many rows match the filter in the whole run, so a screen can say
    "rows 101-200 of 4,512"; only the list of ``table`` is filled.
    """

    run_id: str
    table: str  # orders / fills / signals / events
    filter: str
    offset: int
    total: int
    orders: tuple[OrderView, ...] = ()
    fills: tuple[HistoryFillView, ...] = ()
    signals: tuple[SignalView, ...] = ()
    events: tuple[EventView, ...] = ()
    dated: bool = False  # the table's rows span more than one day: show their dates

    @property
    def count(self) -> int:
        return len(self.orders) + len(self.fills) + len(self.signals) + len(self.events)


@dataclass(frozen=True, slots=True)
class RunReportView:
    """A run's report headline (``kitetui report``'s figures) and its listing line."""

    run: RunView
    headline: HeadlineView


@dataclass(frozen=True, slots=True)
class ExportResult:
    """A CSV ``kitetui export`` would write, written by the desk: where, and how many rows."""

    path: str  # absolute, as the desk wrote it
    run_id: str
    what: str
    rows: int
