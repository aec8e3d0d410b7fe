"""Where the market and the exchange come from: the only place that knows the mode.

The supervisor runs the same batch gate in every mode (rule 1); what differs is the
venue it trades at:

* **replay** — recorded data (files, or a recorded session) paced at N× or full speed,
  and the paper broker as the exchange;
* **paper** — Kite's live ticker, and the paper broker as the exchange;
* **live** — Kite's live ticker, and Kite's own orders (``KiteBroker``), reconciled.

``build_venue`` picks one from the config. A venue gives the supervisor a ``feed`` (one
async ``Feed`` protocol), a ``broker`` (one ``Broker`` protocol), and says whether the
exchange is ``simulated`` (kitetui plays it: paper fills, DAY orders expiring, the
broker's auto square-off at the bell) — never which class it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kitetui.domain import Event
from kitetui.market.instruments import InstrumentMaster

if TYPE_CHECKING:
    import aiosqlite

    from kitetui.brokers.base import Broker
    from kitetui.clock import DataClock
    from kitetui.config import AppConfig
    from kitetui.market.bar_columns import BarColumns
    from kitetui.market.calendar import TradingCalendar
    from kitetui.market.feeds import Batch, Feed
    from kitetui.market.replay import DateWindow
    from kitetui.store.commit_policy import CommitPolicy
    from kitetui.trading.margins import Margins
    from kitetui.trading.risk import RiskEngine
    from kitetui.trading.trader import Trader
    from kitetui.views import LimitView


class VenueHost(Protocol):
    """What a venue may use of the desk it serves (the supervisor)."""

    config: AppConfig
    config_path: str
    db: aiosqlite.Connection
    run_id: str
    calendar: TradingCalendar
    clock: DataClock
    trader: Trader
    risk: RiskEngine

    async def begin_day(self, ts_ns: int, prices: Mapping[str, float] | None = None) -> None:
        """Start the trading day at ``ts_ns`` before any tick (live), with ``prices`` read
        for the engines' choice of the day."""
        ...

    async def close_session_if_due(self, wall_ns: int) -> None:
        """The bell rang on the wall clock (live): close the session."""
        ...

    def publish(self) -> None:
        """Something the screen must show at once changed."""
        ...


@dataclass
class Opened:
    """What opening a venue brought: the day's instruments, the symbols that will have
    data (engines subscribe only to those), and what to journal about it."""

    master: InstrumentMaster
    available: frozenset[str]
    events: list[Event] = field(default_factory=list)


class Venue(Protocol):
    feed: Feed
    broker: Broker
    simulated: bool  # kitetui plays the exchange: fills from the market, the bell's rules
    commits: CommitPolicy  # when money rows reach the disk (kitetui/store/commit_policy.py)
    timer_ns: Callable[[], int] | None  # the exit manager's clock (None: the data clock)
    reconcile_failures: int

    async def open(self, host: VenueHost) -> Opened:
        """Log in, load the master and the data, build the broker and the feed."""
        ...

    async def start(self, host: VenueHost) -> None:
        """Just before the first item: live venues start their day and their tasks."""
        ...

    def record(self, ts_ns: int, batch: Batch) -> None:
        """A batch the desk processed (live sessions keep a recording)."""
        ...

    async def stop(self, host: VenueHost) -> None:
        """Stop the feed and the tasks; journal what the exchange still has to say."""
        ...

    def health(self) -> tuple[str, int]:
        """The ticker's state ("" when there is none) and its reconnects."""
        ...

    def limits(self) -> tuple[LimitView, ...]:
        """The exchange's own limits to show beside ours (Kite's daily order count)."""
        ...

    def margins(self) -> Margins | None:
        """Kite's margins, read every few seconds (None: the desk computes them)."""
        ...

    def bar_columns(self, symbol: str) -> BarColumns | None:
        """``symbol``'s recorded bars as columns, for an engine that decides a column
        at a time at full speed (``kitetui.market.bar_columns``); None: bar by bar."""
        ...


def build_venue(
    config: AppConfig,
    *,
    speed: float | None,
    recording: Path | None = None,
    window: DateWindow | None = None,
) -> Venue:
    """The venue the config asks for (a recording is always replayed on paper); a
    ``window`` (a backtest's --from/--to) cuts a replay's data to those days."""
    if recording is not None or config.mode == "replay":
        from kitetui.venues.replay import ReplayVenue

        return ReplayVenue(config, speed=speed, recording=recording, window=window)
    if window is not None:
        raise ValueError("a date window applies to a replay, not to paper or live trading")
    from kitetui.venues.kite import KiteVenue  # only paper/live pay for kiteconnect

    return KiteVenue(config)
