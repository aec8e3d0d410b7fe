"""What the trader records: events, signals, risk decisions and refusal counts.

Every record goes to the journal (a HOLD that changed nothing only as a count) and to
the bounded views the desk publishes, and
nothing is recorded while a resumed run replays its past (the warm-up): that history is
in the journal already. ``TraderRecords`` is mixed into ``Trader`` and works on its
state; it is a module of its own so the order book's side of the trader stays short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from kitetui.domain import (
    Event,
    Order,
    OrderIntent,
    RiskDecision,
    RiskVerdict,
    Signal,
    SignalKind,
)
from kitetui.drafts import maker
from kitetui.events import EventKind
from kitetui.secret_values import scrub
from kitetui.views import BlockedView, EventView, SignalView

if TYPE_CHECKING:
    from kitetui.store.holds import Run
    from kitetui.trading.ports import EnginePort as Engine
    from kitetui.trading.trader import Trader

# Read on every signal and decision, bound once (why: ``kitetui/domain.py``, "Bound members").
_HOLD, _ALLOW = SignalKind.HOLD, RiskVerdict.ALLOW
_BAR_SKIPPED = EventKind.BAR_SKIPPED
# A listed signal's view, made positionally (``drafts.maker``: one frame, one
# ``__class__`` store; with keywords a frozen record goes through ``type.__call__`` and a
# dict of them, about three times the cost): every signal that is not a HOLD makes one.
_MAKE_SIGNAL_VIEW = maker(SignalView)
_MAKE_EVENT_VIEW = maker(EventView)  # (every event recorded: the same, positionally)

_DECISION_EVENTS = {
    RiskVerdict.REDUCE: EventKind.RISK_REDUCED,
    RiskVerdict.BLOCK: EventKind.RISK_BLOCKED,
    RiskVerdict.HALT: EventKind.RISK_HALTED,
}


class TraderRecords:
    """The recording side of ``Trader`` (module docstring)."""

    def record_event(self: Trader, event: Event) -> None:
        if self.warmup.active:
            return
        if not event.ts_ns:
            event = replace(event, ts_ns=self.clock.now_ns)
        message = scrub(event.message)  # the screen and the log get it as the journal does
        if message != event.message:
            event = replace(event, message=message)
        self.journal.add_event(event)
        self.event_seq += 1
        self.counts["events"] += 1
        self.events.append(
            _MAKE_EVENT_VIEW(  # (``EventView``'s fields in order)
                self.event_seq,  # seq
                event.ts_ns,
                event.kind,
                event.level,
                event.message,
                event.symbol,
                event.engine,
            )
        )
        for listener in self.listeners:
            listener(event)

    def record_order_event(
        self: Trader,
        order: Order,
        kind: str,
        level: str,
        message: str,
        ts_ns: int = 0,
        data: dict[str, object] | None = None,
    ) -> None:
        """An event about one order, under its symbol and engine; at ``ts_ns`` (a fill's
        own time) or, left 0, the data clock's now (``record_event``); ``data`` what a
        restart reads back from it."""
        self.record_event(
            Event(
                ts_ns=ts_ns,
                kind=kind,
                level=level,
                symbol=order.symbol,
                engine=order.engine,
                message=message,
                data=data or {},
            )
        )

    def record_universe(
        self: Trader,
        engine: str,
        day: date,
        selected: tuple[str, ...],
        rejected: tuple[tuple[str, str], ...],
    ) -> None:
        if not self.warmup.active:
            self.journal.add_universe(day.isoformat(), engine, selected, rejected)

    def skip_not_ready(self: Trader, engine: Engine, bar) -> None:
        self.record_event(
            Event(
                ts_ns=bar.end_ns,
                kind=_BAR_SKIPPED,
                level="DEBUG",
                symbol=bar.symbol,
                engine=engine.name,
                message="indicators not ready",
                data={"reason": "indicators not ready", "timeframe_s": bar.timeframe_s},
            )
        )

    def count_hold(
        self: Trader,
        engine: str,
        symbol: str,
        reason: str,
        ts_ns: int,
        make: Callable[..., Signal],
        args: tuple[Any, ...] = (),
    ) -> None:
        """A HOLD that changed nothing, the engines' hot path: counted like
        ``_record_signal`` would count it, its ``Signal`` built by ``make(*args)`` only
        if the journal writes it as a row (``journal.hold_rows``, or the end of the data)."""
        self.counts["signals"] += 1
        self.journal.add_hold(engine, symbol, reason, ts_ns, make, args)

    def count_holds(self: Trader, runs: list[Run], count: int) -> None:
        """``count_hold`` for each of the ``count`` HOLDs of ``runs`` (``Run``: a time, a
        ``make``, and each HOLD's key and arguments), in order: an engine's HOLDs in a
        batch, handed over at once."""
        self.journal.add_holds(runs)
        self.counts["signals"] += count

    def _record_signal(self: Trader, signal: Signal, decision: RiskDecision | None) -> None:
        """A signal to the journal and the desk's recent list. A HOLD that changed
        nothing (no risk decision) is only counted: most bars are one, and nobody reads
        them row by row (kitetui/store/holds.py); the desk lists the others."""
        self.counts["signals"] += 1
        if signal.kind is _HOLD:
            if decision is None:
                self.journal.add_hold(
                    signal.engine, signal.symbol, signal.reason, signal.ts_ns, lambda: signal
                )
            else:
                self.journal.add_signal(signal)
            return
        self.journal.add_signal(signal)
        self.signal_seq += 1
        self.counts["signals_listed"] += 1  # the Signals tab's total (HOLDs are only counted)
        self.signals.append(
            _MAKE_SIGNAL_VIEW(  # (``SignalView``'s fields in order)
                self.signal_seq,  # seq
                signal.signal_id,
                signal.ts_ns,
                signal.engine,
                signal.strategy,
                signal.symbol,
                signal.kind._value_,  # kind
                signal.price,
                signal.reason,
                signal.confidence,
                tuple(sorted(signal.indicators.items())),  # indicators
                decision.verdict._value_ if decision else "",  # risk_verdict
                decision.reason if decision else "",  # risk_reason
            )
        )

    def _record_decision(self: Trader, intent: OrderIntent, decision: RiskDecision) -> None:
        self.journal.add_risk_decision(
            self.clock.now_ns,
            intent.signal_id,
            intent.engine,
            intent.symbol,
            intent.purpose._value_,
            intent.side._value_,
            intent.quantity,
            decision,
        )
        self.counts["decisions"] += 1
        if decision.verdict is not _ALLOW:
            self.note_blocked(
                intent.engine,
                decision.rule,
                decision.verdict._value_,
                self.clock.now_ns,
                intent.symbol,
                decision.reason,
            )
            self.record_event(
                Event(
                    ts_ns=self.clock.now_ns,
                    kind=_DECISION_EVENTS[decision.verdict],
                    level="WARNING",
                    symbol=intent.symbol,
                    engine=intent.engine,
                    message=f"{intent.purpose._value_} {intent.side._value_} {intent.quantity}: "
                    f"{decision.reason}",
                    data={"rule": decision.rule, "quantity": decision.quantity},
                )
            )

    def note_blocked(
        self: Trader,
        engine: str,
        rule: str,
        verdict: str,
        ts_ns: int,
        symbol: str,
        reason: str,
        n=1,
    ) -> None:
        """Count a refusal per (engine, rule, verdict): the Blocked tab's rows."""
        key = (engine, rule, verdict)
        known = self.blocked.get(key)
        count = (known.count if known else 0) + n
        self.blocked[key] = BlockedView(engine, rule, verdict, count, ts_ns, symbol, reason)
