"""Putting the desk's trading core together: the trader with its charger, its alerts and
the performance book it feeds, the engines by name, and the event that opens (or
resumes) a run.

Kept out of ``gate.py`` so the supervisor holds the batch gate and the driver loop, and
this wiring, which changes whenever a part is added, has a room of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kitetui.alerts import Alerter
from kitetui.brokers.paper import PaperBroker
from kitetui.domain import Event
from kitetui.events import EventKind
from kitetui.plugins import engine_class
from kitetui.trading.charges import default_calculator
from kitetui.trading.fill_charges import FillCharger
from kitetui.trading.trader import KEEP_FINISHED, Trader

if TYPE_CHECKING:
    from kitetui.store.runs import RunRow
    from kitetui.supervisor.gate import Supervisor


def build_trader(desk: Supervisor, opened_events: Iterable[Event]) -> tuple[Trader, Alerter]:
    """The trader on the desk's journal, broker, book and risk; the venue's opening events
    recorded; alerts listening to its events and fills. Over the in-process paper broker
    it keeps only the newest finished orders (``Trader(keep_finished=)``), so a long
    backtest's memory does not grow with its orders; over Kite it keeps them all."""
    cfg = desk.config
    trader = Trader(
        journal=desk.journal,
        broker=desk.broker,
        portfolio=desk.portfolio,
        risk=desk.risk,
        clock=desk.clock,
        sizing=cfg.sizing,
        exits=cfg.exits,
        tick_size=cfg.paper.tick_size,
        run_id=desk.run_id,
        timer_ns=desk.venue.timer_ns,
        warmup=desk.warmup,
        charger=FillCharger(default_calculator(), desk.contracts),
        keep_finished=KEEP_FINISHED if isinstance(desk.broker, PaperBroker) else None,
    )
    # At Kite, MIS past the intraday cut-off is Zerodha's RMS's to close; where kitetui
    # plays the exchange its own square-off and the bell do it.
    trader.exits.broker_squares_off = not desk.venue.simulated
    for event in opened_events:
        trader.record_event(event)
    alerts = Alerter(
        cfg.alerts, trader.record_event, context={"mode": cfg.mode, "run_id": desk.run_id}
    )
    trader.listeners.append(alerts.on_event)
    trader.fill_listeners.append(alerts.on_fill)
    trader.fill_books.append(desk.performance.add)
    return trader, alerts


def build_engines(desk: Supervisor, available: frozenset[str]) -> None:
    """The config's engines, found by name (``kitetui.plugins``), in its order, added to
    ``desk.engines`` one by one (an engine may subscribe while it is being built)."""
    run_tag = desk.run_id.rsplit("-", 1)[-1]
    for engine_cfg in desk.config.engines:
        engine = engine_class(engine_cfg.kind)(
            engine_cfg, desk.trader, run_tag, desk.master, desk.calendar
        )
        engine.available = available
        engine.freeze_limits = desk.config.freeze_limits
        engine.on_subscriptions = desk.reroute
        desk.engines.append(engine)
        desk.trader.engines[engine.name] = engine


def run_started_event(desk: Supervisor) -> Event:
    return Event(
        ts_ns=desk.resume_cursor if desk.resumed else 0,  # a resume: where it goes on from
        kind=EventKind.RUN_RESUMED if desk.resumed else EventKind.RUN_STARTED,
        message=(
            f"resumed run {desk.run_id} from cursor {desk.resume_cursor}"
            if desk.resumed
            else f"started run {desk.run_id}"
        ),
        data={"config": desk.config_path, "database": str(desk.db_path)},
    )


def not_resumed_note(previous: RunRow, held: list[str]) -> str:
    """What a new run says of the unfinished run it did not resume: a config edited
    while a paper or replay desk was stopped began a new run, and the old one (and
    what it held) could never be resumed again, without a word."""
    note = (
        f"run {previous.run_id} ({previous.status}) was not resumed: it was started with "
        "another config (or --from/--to); a new run began, and the old one can no longer "
        "be resumed"
    )
    if held:
        more = f" and {len(held) - 10} more" if len(held) > 10 else ""
        note += ". It still held " + ", ".join(held[:10]) + more
    return note
