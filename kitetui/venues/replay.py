"""Replay: recorded market data through the paper broker, paced or at full speed.

The data are files named by the config (the demo's, a backtest's) or a session kitetui
recorded in paper or live mode (``kitetui replay``), with the master it traded with
kept beside it. Either way the exchange is simulated: the paper broker fills resting
orders on the replayed prices.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kitetui.brokers.paper import PaperBroker
from kitetui.config import AppConfig, ConfigError
from kitetui.domain import Event
from kitetui.market.bar_columns import BarColumns, bar_columns
from kitetui.market.coverage import session_coverage
from kitetui.market.feeds import Batch, ReplayFeed
from kitetui.market.instruments import load_masters
from kitetui.market.loaders import data_path
from kitetui.market.replay import (
    DateWindow,
    Pacer,
    ReplaySources,
    clip_sources,
    index_symbols,
    load_replay_sources,
    merge_batches,
    quiet_index_volume,
)
from kitetui.market.session_hours import SessionHours
from kitetui.preflight import check_replay_days
from kitetui.store.commit_policy import CommitPolicy
from kitetui.store.recording import load_recording, master_beside, recorded_symbols
from kitetui.venues import Opened, VenueHost
from kitetui.views import LimitView


class ReplayVenue:
    simulated = True
    # The paper book lives in this process: money rows share the journal's flushes.
    commits = CommitPolicy.BATCH
    timer_ns: Callable[[], int] | None = None  # exits time on the data clock: repeatable
    reconcile_failures = 0

    def __init__(
        self,
        config: AppConfig,
        *,
        speed: float | None,
        recording: Path | None,
        window: DateWindow | None = None,
    ) -> None:
        self.config = config
        self.speed = speed
        self.recording = recording
        self.window = window
        # The data's first and last item times (epoch ns) once open: what a backtest's
        # progress bar measures the data clock against.
        self.span_ns: tuple[int, int] = (0, 0)
        self._columns: dict[str, BarColumns] = {}

    async def open(self, host: VenueHost) -> Opened:
        cfg = self.config
        events: list[Event] = []
        specs = (
            [str(master_beside(self.recording))]
            if self.recording is not None
            else list(cfg.instruments)
        )
        master, found = load_masters([data_path(spec) for spec in specs])
        events.extend(found)
        if self.recording is not None:
            recorded = load_recording(self.recording)
            available = frozenset(recorded_symbols(recorded))
            self.feed = ReplayFeed(recorded, Pacer(self.speed, 1.0))
        else:
            # Days the calendar does not cover, or a universe without a membership list
            # for a replayed day, are found here, before the first batch.
            loaded_sources = load_replay_sources(
                cfg.replay.sources,
                hours=SessionHours.of(host.calendar.special_sessions),
                calendar=host.calendar,
            )
            if self.window is not None:
                loaded_sources = self._clipped(loaded_sources, host.config_path)
            events.extend(quiet_index_volume(loaded_sources.events, index_symbols(master)))
            events.extend(
                check_replay_days(cfg, loaded_sources.days, host.calendar, host.config_path)
            )
            # Sessions the files lack or cut short, said once here (not looked for per bar).
            options = {i.tradingsymbol for i in master if i.is_option}
            events.extend(session_coverage(loaded_sources.streams, host.calendar, options))
            streams = list(loaded_sources.streams)  # lazy: bars built as the merge needs them
            self._columns = bar_columns(streams)
            available = frozenset(s[0].symbol for s in streams if s)
            if streams:
                self.span_ns = (min(s[0].ts_ns for s in streams), max(s[-1].ts_ns for s in streams))
            self.feed = ReplayFeed(
                merge_batches(streams), Pacer(self.speed, cfg.replay.max_gap_seconds)
            )
        self.broker = PaperBroker(
            slippage_bps=cfg.paper.slippage_bps,
            tick_size=cfg.paper.tick_size,
            tick_sizes={i.tradingsymbol: i.tick_size for i in master if i.tick_size > 0},
        )
        return Opened(master, available, events)

    def _clipped(self, loaded: ReplaySources, config_path: str) -> ReplaySources:
        assert self.window is not None
        return clipped_to_window(loaded, self.window, config_path)

    async def start(self, host: VenueHost) -> None:
        """The data bring their own days."""

    def record(self, ts_ns: int, batch: Batch) -> None:
        """A replay is not recorded again."""

    async def stop(self, host: VenueHost) -> None:
        """Nothing runs beside the feed."""

    def health(self) -> tuple[str, int]:
        return "", 0

    def limits(self) -> tuple[LimitView, ...]:
        return ()

    def margins(self) -> None:
        return None  # computed from the engines' margin rates

    def bar_columns(self, symbol: str) -> BarColumns | None:
        """The files' bars of ``symbol`` (a recorded session's are not: ticks)."""
        return self._columns.get(symbol)


def clipped_to_window(loaded: ReplaySources, window: DateWindow, config_path: str) -> ReplaySources:
    """The loaded data cut to a backtest's (or a sweep's) window; a window with no data
    at all is a usage error (exit 2) naming what the data do cover."""
    clipped = clip_sources(loaded, window)
    if not clipped.streams:
        covered = (
            f"the data cover {loaded.days[0]} … {loaded.days[-1]}"
            if loaded.days
            else "the data are empty"
        )
        raise ConfigError(
            config_path, "--from/--to", f"no replay data in {window.describe()} ({covered})"
        )
    return clipped
