"""The desk as the screen sees it: one immutable ``DeskSnapshot``, swapped by reference.

Readers (the TUI in-process, attached TUIs over the control socket, ``ctl status``, the
systemd STATUS line) never touch live objects: the publisher builds a frozen snapshot at
most every ``interval_s`` (less often when building one is slow: ``SNAPSHOT_SHARE``),
at once when something a person must see changed, and at least once a ``HEARTBEAT_S``
so a quiet market is not mistaken for a stuck desk. A snapshot never copies the day's
whole book: the newest orders plus every working one.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING

from kitetui.domain import Order, OrderPurpose
from kitetui.market.instruments import Instrument
from kitetui.money import Charges, to_paise
from kitetui.risk_limits import BOUNDS
from kitetui.trading.margins import Margins, computed
from kitetui.views import (
    DayView,
    DeskSnapshot,
    EngineView,
    FeedView,
    LimitSetting,
    LimitView,
    OrderView,
    PerformanceView,
    PositionView,
    RiskView,
)

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor

RECENT_ORDERS = 300
EQUITY_POINTS = 500  # today's newest points, and the whole run's sampled to as many
HEARTBEAT_S = 1.0  # the longest a running desk goes without publishing a snapshot
# At most this share of the desk's time goes to unforced snapshots: a build that took
# longer than ``interval_s * SNAPSHOT_SHARE`` spaces the next ones out (``publish``);
# forced ones (a change a person must see, the heartbeat, the last one) always build.
SNAPSHOT_SHARE = 0.02
MARGIN_REFRESH_S = 5.0  # margins are recomputed on a fill, else at most this often


class Publisher:
    def __init__(self, desk: Supervisor, interval_s: float) -> None:
        self.desk = desk
        self.interval_s = interval_s
        self.published: DeskSnapshot | None = None
        self.last_publish = 0.0  # monotonic
        self._gap_s = interval_s  # the least time between two unforced builds (publish)
        self.last_item_wall_ns = 0  # wall time of the newest processed tick or bar
        self._seq = 0
        self._rate_mark = (0.0, 0)  # (monotonic s, items processed) at the last sample
        self._items_per_s = 0.0
        self._days: tuple[DayView, ...] = ()
        self._run_curve: tuple[tuple[int, float], ...] = ()
        self._run_curve_size = -1
        self._order_views: dict[str, tuple[Order, OrderView]] = {}  # tag -> (state, view)
        self._margins: Margins | None = None
        self._margins_at = (-1, 0.0)  # (fills, monotonic s) when they were computed
        self._settings: tuple[object, tuple[LimitSetting, ...]] = (None, ())

    def publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_publish < self._gap_s:
            return
        self.last_publish = now
        self._seq += 1
        self._sample_rate(now)
        self.published = self.build(self._seq)
        # A snapshot of a long backtest (the Performance rows of every open trade) can
        # take milliseconds; at full speed a build every ``interval_s`` then costs the
        # run several percent, for a screen that changes faster than anyone reads it.
        took = time.monotonic() - now
        self._gap_s = max(self.interval_s, took / SNAPSHOT_SHARE)

    async def heartbeat(self) -> None:
        """Publish at least once a second, so a quiet market still shows a live desk (a
        reader that sees no new snapshot for seconds knows the desk itself is stuck)."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if time.monotonic() - self.last_publish >= HEARTBEAT_S:
                self.publish(force=True)

    def _sample_rate(self, now: float) -> None:
        """Items per wall second, re-measured at most once a second so it reads steadily."""
        mark_s, mark_items = self._rate_mark
        summary = self.desk.summary
        items = summary.bars + summary.ticks if summary is not None else 0
        if mark_s == 0.0:
            self._rate_mark = (now, items)
        elif now - mark_s >= 1.0:
            self._items_per_s = (items - mark_items) / (now - mark_s)
            self._rate_mark = (now, items)

    def build(self, seq: int) -> DeskSnapshot:
        desk = self.desk
        trader, portfolio = desk.trader, desk.portfolio
        engines = tuple(engine.view() for engine in desk.engines)
        return DeskSnapshot(
            seq=seq,
            mode=desk.config.mode,
            run_id=desk.run_id,
            data_ts_ns=desk.clock.now_ns,
            feed_state=desk.feed_state,
            speed="max" if desk.speed is None else f"{desk.speed:g}x",
            engines=engines,
            positions=self._positions(),
            orders=self._orders(),
            signals=tuple(trader.signals),
            events=tuple(trader.events),
            alerts=tuple(desk.alerts.recent),
            blocked=tuple(trader.blocked.values()),
            alert_bell=desk.config.alerts.bell,
            alert_desktop=desk.config.alerts.desktop,
            risk=self._risk(),
            equity_curve=tuple((ts, eq / 100) for ts, eq in portfolio.equity_tail(EQUITY_POINTS)),
            equity_run=self._equity_run(),
            counts=tuple(sorted(trader.counts.items())),
            feed=self._feed(),
            published_wall_ns=time.time_ns(),
            day=portfolio.day_label,
            past_days=self._past_days(),
            headline=desk.headline,
            performance=self._performance(engines),
        )

    def _performance(self, engines: tuple[EngineView, ...]) -> PerformanceView:
        """The Performance tab: rebuilt by the book only after a fill, or for the parts
        holding a trade still open (marked at each symbol's last price, as the report
        marks a trade open at the end of its data)."""
        desk = self.desk
        portfolio = desk.portfolio
        marks = {}
        for symbol in desk.performance.open_symbols():
            position = portfolio.position(symbol)
            if position is not None:
                marks[symbol] = Decimal(repr(float(position.last_price)))
        strategies = {engine.name: engine.strategy for engine in engines}
        return desk.performance.view(marks, portfolio.day_label, strategies)

    def _equity_run(self) -> tuple[tuple[int, float], ...]:
        """The whole run's curve, sampled; rebuilt only when a point was added (a minute)."""
        portfolio = self.desk.portfolio
        size = portfolio.equity_points
        if size != self._run_curve_size:
            self._run_curve_size = size
            self._run_curve = tuple(
                (ts, eq / 100) for ts, eq in portfolio.equity_sampled(EQUITY_POINTS)
            )
        return self._run_curve

    def _past_days(self) -> tuple[DayView, ...]:
        """Earlier days, converted once each: they never change after their day ends."""
        past = self.desk.portfolio.past_days
        done = len(self._days)
        if done > len(past):  # a portfolio that forgot days (none does today): redo all
            self._days, done = (), 0
        if done < len(past):
            # Only the days that ended since: converting them all again at every new day
            # made a year's run of 20 symbols build ~630,000 views (days² x symbols / 2).
            self._days += tuple(
                DayView(
                    day.label,
                    tuple(
                        PositionView(
                            symbol=p.symbol,
                            engine=p.engine,
                            product=p.product._value_,
                            quantity=0,
                            avg_price=0.0,
                            last_price=0.0,
                            realized=p.realized_paise / 100,
                            unrealized=0.0,
                            charges=p.charges_paise / 100,
                            day_realized=p.realized_paise / 100,
                            day_charges=p.charges_paise / 100,
                            today=False,
                        )
                        for p in day.positions
                    ),
                )
                for day in past[done:]
            )
        return self._days

    def _positions(self) -> tuple[PositionView, ...]:
        desk = self.desk
        trader, portfolio, contracts = desk.trader, desk.portfolio, desk.contracts
        stops: dict[str, float] = {}
        for order in trader.open_orders():
            if order.purpose is OrderPurpose.STOP:
                stops.setdefault(order.symbol, order.trigger_price)
        covers = {p.symbol: trader.exits.protection(p.symbol) for p in portfolio.open_positions()}
        return tuple(
            PositionView(
                symbol=p.symbol,
                engine=p.engine,
                product=p.product._value_,
                quantity=p.quantity,
                avg_price=p.avg_price,
                last_price=p.last_price,
                realized=p.realized_paise / 100,
                unrealized=p.unrealized_paise / 100,
                charges=p.charges_paise / 100,
                stop_price=stops.get(p.symbol, 0.0),
                lot_size=_lot(contracts.get(p.symbol)),
                expiry=_expiry(contracts.get(p.symbol)),
                cover_state=covers[p.symbol].state if p.symbol in covers else "",
                cover=covers[p.symbol].text if p.symbol in covers else "",
                day_realized=portfolio.symbol_day_realized_paise(p.symbol) / 100,
                day_charges=portfolio.symbol_day_charges_paise(p.symbol) / 100,
                today=bool(p.quantity) or portfolio.traded_today(p.symbol),
            )
            for p in portfolio.positions()
        )

    def _orders(self) -> tuple[OrderView, ...]:
        """Newest orders plus every working one; never a copy of the whole day's book."""
        trader = self.desk.trader
        recent = list(islice(reversed(trader.orders.values()), RECENT_ORDERS))[::-1]
        recent_tags = {o.tag for o in recent}
        shown = [o for o in trader.open_orders() if o.tag not in recent_tags] + recent
        # An order's view is built once per state: orders are frozen, so the same object
        # means the same view (a backtest publishes ten times a second, 300 orders each).
        views, fresh = self._order_views, {}
        for o in shown:
            cached = views.get(o.tag)
            fresh[o.tag] = cached if cached is not None and cached[0] is o else (o, _order_view(o))
        self._order_views = fresh
        return tuple(view for _, view in fresh.values())

    def _risk(self) -> RiskView:
        desk = self.desk
        portfolio, risk, limits = desk.portfolio, desk.risk, desk.risk.limits
        margins = self._margin_figures()
        changed = risk.changed_limits

        def mark(name: str) -> str:
            """A limit a person changed from the config's value is marked on the gauge."""
            return " *" if name in changed else ""

        day_pnl = portfolio.day_pnl_paise / 100
        trades = dict(risk.entries_today)
        return RiskView(
            state=risk.state.value,
            kill_switch=risk.kill_switch,
            entries_paused=risk.entries_paused,
            halt_reason=risk.halted_reason or "",
            day_pnl=day_pnl,
            realized=portfolio.realized_paise / 100,
            unrealized=portfolio.unrealized_paise / 100,
            max_drawdown=portfolio.max_drawdown_paise / 100,
            day_gross_pnl=portfolio.day_gross_pnl_paise / 100,
            day_charges=portfolio.day_charges_paise / 100,
            charges=portfolio.charges_paise / 100,
            charges_by_component=charge_components(portfolio.charges),
            limits=(
                LimitView(
                    "daily loss" + mark("max_daily_loss"),
                    max(0.0, -day_pnl),
                    limits.max_daily_loss,
                    "₹",
                ),
                LimitView(
                    "open positions" + mark("max_open_positions"),
                    len(portfolio.open_positions()),
                    limits.max_open_positions,
                ),
                LimitView(
                    "gross exposure" + mark("max_gross_exposure"),
                    portfolio.gross_exposure_paise / 100,
                    limits.max_gross_exposure,
                    "₹",
                ),
                *desk.venue.limits(),
                LimitView(
                    "trades/symbol/day" + mark("max_trades_per_symbol_per_day"),
                    max(trades.values(), default=0),
                    limits.max_trades_per_symbol_per_day,
                ),
                # Used against all there is (used + available): the gauge fills as the
                # account's margin is blocked.
                LimitView(
                    "margin used",
                    margins.used,
                    max(0.0, margins.used + margins.available),
                    "₹",
                ),
            ),
            blocked_symbols=tuple(sorted(risk.blocked_symbols)),
            trades_today=tuple(sorted(trades.items())),
            blocks=tuple((b.name, b.reason, b.clears) for b in risk.blocks.values()),
            naked=tuple(sorted(desk.trader.exits.naked().items())),
            reconcile_failures=desk.venue.reconcile_failures,
            day_realized=portfolio.day_realized_paise / 100,
            day_max_drawdown=portfolio.day_max_drawdown_paise / 100,
            days=max(1, portfolio.days),
            settings=self._limit_settings(),
            margin_used=margins.used,
            margin_available=margins.available,
            margin_source=margins.source,
        )

    def _limit_settings(self) -> tuple[LimitSetting, ...]:
        """The limits a person may change (rebuilt only when one changed)."""
        risk = self.desk.risk
        seen, settings = self._settings
        if seen is not risk.limits:
            settings = tuple(
                LimitSetting(
                    name,
                    float(getattr(risk.limits, name)),
                    float(getattr(risk.config_limits, name)),
                    bounds.describe(),
                    bounds.integer,
                )
                for name, bounds in BOUNDS.items()
            )
            self._settings = (risk.limits, settings)
        return settings

    def _margin_figures(self) -> Margins:
        """Kite's margins when the venue has them, else computed from the engines'
        rates: on a fill, else at most every ``MARGIN_REFRESH_S`` (never per tick)."""
        desk = self.desk
        kite = desk.venue.margins()
        if kite is not None:
            return kite
        fills = desk.trader.counts.get("fills", 0)
        now = time.monotonic()
        last_fills, last_at = self._margins_at
        if self._margins is None or fills != last_fills or now - last_at >= MARGIN_REFRESH_S:
            self._margins = computed(self._exposures(), desk.portfolio.net_equity_paise)
            self._margins_at = (fills, now)
        return self._margins

    def _exposures(self) -> list[tuple[int, float, float]]:
        """(quantity, price, margin rate) of each open position and working entry."""
        desk = self.desk
        rates = {e.name: float(getattr(e.config, "margin_rate", 1.0)) for e in desk.engines}
        exposures = [
            (p.quantity, p.last_price or p.avg_price, rates.get(p.engine, 1.0))
            for p in desk.portfolio.open_positions()
        ]
        for order in desk.trader.open_orders():
            if order.purpose is OrderPurpose.ENTRY:
                price = order.price or desk.last_prices.get(order.symbol, 0.0)
                exposures.append((order.pending_qty, price, rates.get(order.engine, 1.0)))
        return exposures

    def _feed(self) -> FeedView:
        desk = self.desk
        state = desk.feed_state
        ticker, reconnects = desk.venue.health()
        if ticker and state == "RUNNING" and ticker != "CONNECTED":
            state = ticker
        ts = desk.clock.now_ns
        return FeedView(
            state=state,
            items_per_s=self._items_per_s,
            last_item_wall_ns=self.last_item_wall_ns,
            reconnects=reconnects,
            session=desk.calendar.phase(ts) if ts > 0 else "",
            dropped_batches=desk.venue.feed.dropped_batches,
        )


def charge_components(charges: Charges) -> tuple[tuple[str, float], ...]:
    """Charges as the contract note lists them, each rounded to paise for the screen:
    brokerage, stt, exchange (the transaction charge with IPFT in it), sebi, stamp, gst;
    then dp, the depository charge off the contract note (GST in it), when there is one
    (a run that sold delivery shares)."""
    amounts = (
        ("brokerage", charges.brokerage),
        ("stt", charges.stt),
        ("exchange", charges.exchange_turnover),
        ("sebi", charges.sebi),
        ("stamp", charges.stamp),
        ("gst", charges.gst),
    )
    if charges.dp:
        amounts = (*amounts, ("dp", charges.dp))
    return tuple((name, to_paise(amount) / 100) for name, amount in amounts)


def _order_view(o: Order) -> OrderView:
    return OrderView(
        tag=o.tag,
        ts_ns=o.ts_ns,
        engine=o.engine,
        symbol=o.symbol,
        side=o.side._value_,
        quantity=o.quantity,
        order_type=o.order_type._value_,
        purpose=o.purpose._value_,
        status=o.status._value_,
        price=o.price,
        trigger_price=o.trigger_price,
        filled_qty=o.filled_qty,
        avg_price=o.avg_price,
        reason=o.reason,
    )


def _lot(instrument: Instrument | None) -> int:
    return instrument.lot_size if instrument is not None and instrument.lot_size > 0 else 1


def _expiry(instrument: Instrument | None) -> str:
    return instrument.expiry.isoformat() if instrument is not None and instrument.expiry else ""
