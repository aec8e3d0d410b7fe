"""Alerts: the few things a trader must hear about even when not looking at the desk.

A fill, a stop filled, a rejection, a halt, the kill switch, a stale feed, reconcile drift
and a NAKED position each become an :class:`Alert`. The desk keeps the newest ones in its
snapshot, so every screen showing the desk (the TUI in the same process or one attached
over the control socket) rings the terminal bell and sends a desktop notification (OSC 9
and OSC 777) for the alerts it has not seen yet (``AlertView`` in kitetui/views.py). The
desk itself runs the optional ``alerts.command`` hook (a Telegram or mail script) with the
alert as JSON on stdin.

The hook must never hurt the desk, so it is:

* **non-blocking**: a bounded queue drained by one task; the trading loop only appends;
* **rate-limited**: at most ``max_per_minute`` runs; alerts beyond that are counted and
  said in the next run's payload (``suppressed``) and in an ``AlertsSuppressed`` event;
* **bounded in time**: a hook that outlives ``timeout_s`` is killed (``AlertHookFailed``);
* **without secrets**: it gets the desk's environment minus ``KITE_*`` variables (and
  kitetui's own ``KITETUI_*`` settings, which are none of its business), and no
  shell (``command`` is an argument list).

Nothing here is on the hot path unless an alert fires: ``on_event`` is a dict lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Protocol

from kitetui.domain import Event, OrderPurpose
from kitetui.events import EventKind
from kitetui.views import AlertView as Alert

if TYPE_CHECKING:
    from kitetui.domain import Fill, Order

KEEP = 50  # alerts kept in the snapshot: enough for a screen that looked away briefly
QUEUE = 100  # hook runs waiting; beyond it an alert is counted as suppressed
# How long a stopping desk gives the hook's backlog (at least one run's own timeout):
# a replay's burst of fills ended in a stop that gave the whole backlog one timeout, and
# on a loaded machine 13 of 59 fill alerts were dropped without a word.
STOP_DRAIN_S = 20.0

# event kind -> (title, level). Titles are what a notification shows: words, not classes.
EVENT_ALERTS: Mapping[str, tuple[str, str]] = {
    EventKind.STOP_FILLED: ("Stop filled", "WARNING"),
    EventKind.ORDER_REJECTED: ("Order rejected", "ERROR"),
    EventKind.STOP_REJECTED: ("Stop rejected", "ERROR"),
    EventKind.RISK_HALTED: ("Trading halted", "ERROR"),
    EventKind.TRADING_HALTED: ("Trading halted", "ERROR"),
    EventKind.FEED_STALE: ("Feed stale", "WARNING"),
    EventKind.RECONCILE_DRIFT: ("Reconcile drift", "ERROR"),
    EventKind.POSITION_NAKED: ("Position NAKED", "ERROR"),
    EventKind.AUTO_SQUARED_OFF: ("Squared off by the broker", "ERROR"),
    EventKind.ORDER_LAPSED: ("Order lapsed unheard", "WARNING"),
    EventKind.POSITION_UNCONFIRMED: ("Position not held at Kite", "ERROR"),
    EventKind.EXPIRY_SETTLED: ("Held into expiry", "WARNING"),
    "KillSwitch": ("Kill switch", "ERROR"),
}
ALERT_KINDS = (*EVENT_ALERTS, "Filled")
# Read on every journaled event and fill, bound once (why: ``kitetui/domain.py``, "Bound members").
_KILL_SWITCH_PULLED, _STOP = EventKind.KILL_SWITCH_PULLED, OrderPurpose.STOP


class AlertsConfig(Protocol):
    """What the alerter reads of the ``alerts:`` section (``kitetui.config``, which
    imports this module for ``ALERT_KINDS``: a protocol keeps the import one way)."""

    command: list[str] | None
    max_per_minute: int
    timeout_s: float
    kinds: list[str] | None


def _hook_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The desk's environment without Kite's credentials or kitetui's own settings: a
    hook never needs them."""
    return {k: v for k, v in environ.items() if not k.upper().startswith(("KITE_", "KITETUI_"))}


class Alerter:
    """Turns events and fills into alerts; keeps the newest; feeds the hook."""

    def __init__(
        self,
        config: AlertsConfig,
        record_event: Callable[[Event], None],
        *,
        wall: Callable[[], float] = time.monotonic,
        context: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.context = dict(context or {})  # the run's mode and id: a hook tells paper from live
        self._record_event = record_event
        self._wall = wall
        self.recent: deque[Alert] = deque(maxlen=KEEP)
        self.seq = 0
        self.suppressed = 0  # hook runs skipped by the rate limit or a full queue
        self._reported = 0  # of those, already told to the hook
        self._runs: deque[float] = deque()  # wall times of hook runs in the last minute
        self._queue: asyncio.Queue[tuple[Alert, int] | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending = 0  # 1 while a hook runs (cut short by a stop: unsent)
        kinds = config.kinds
        self._wanted = frozenset(ALERT_KINDS if kinds is None else kinds)

    # -- sources -------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Listener on the trader's journaled events (never called during warm-up)."""
        kind = event.kind
        if kind == _KILL_SWITCH_PULLED:
            kind = "KillSwitch"
        known = EVENT_ALERTS.get(kind)
        if known is None or kind not in self._wanted:
            return
        title, level = known
        self._raise(kind, title, event.message, level, event.ts_ns, event.symbol)

    def on_fill(self, order: Order, fill: Fill) -> None:
        if "Filled" not in self._wanted or order.purpose is _STOP:
            return  # a stop's fill is its own alert (StopFilled)
        what = order.purpose._value_.lower()
        side = fill.side._value_
        self._raise(
            "Filled",
            f"Filled {side} {fill.symbol}",
            f"{what} {side} {fill.quantity} {fill.symbol} @ {fill.price:,.2f} ({order.tag})",
            "INFO",
            fill.ts_ns,
            fill.symbol,
        )

    def _raise(
        self, kind: str, title: str, message: str, level: str, ts_ns: int, symbol: str
    ) -> None:
        self.seq += 1
        alert = Alert(self.seq, ts_ns, kind, title, message, level, symbol)
        self.recent.append(alert)
        if self._queue is None:
            return
        if not self._allowed() or self._queue.full():
            self.suppressed += 1
            return
        # the run says how many were held back since the last one that was let through
        self._queue.put_nowait((alert, self.suppressed - self._reported))
        self._reported = self.suppressed

    def _allowed(self) -> bool:
        now = self._wall()
        while self._runs and now - self._runs[0] >= 60.0:
            self._runs.popleft()
        if len(self._runs) >= self.config.max_per_minute:
            return False
        self._runs.append(now)
        return True

    # -- the hook ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the hook's task on the running loop (nothing without ``command``)."""
        if self.config.command and self._task is None:
            self._queue = asyncio.Queue(QUEUE)
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def stop(self) -> None:
        """Send what waits, for up to ``STOP_DRAIN_S`` (or one run's timeout, if longer);
        what is still unsent then, and what the hook was never told was held back, is
        counted in one ``AlertsSuppressed`` event: a stopping desk drops no alert unsaid."""
        if self._task is None:
            return
        task, self._task = self._task, None
        queue, self._queue = self._queue, None
        assert queue is not None
        if queue.full():  # the end marker needs a place: the newest alert gives it up
            queue.get_nowait()
            self.suppressed += 1
        queue.put_nowait(None)
        allowed = max(STOP_DRAIN_S, self.config.timeout_s + 1.0)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, allowed)
        unsent = self._sending + len(_items(queue))
        untold = self.suppressed - self._reported
        if not (unsent or untold):
            return
        held = f", {untold} held back earlier (rate limit or a full queue)" if untold else ""
        self._record_event(
            Event(
                ts_ns=self.recent[-1].ts_ns if self.recent else 0,
                kind=EventKind.ALERTS_SUPPRESSED,
                level="WARNING",
                message=f"{unsent + untold} alert(s) not sent to the hook as the desk "
                f"stopped: {unsent} unsent after {allowed:g} s{held}",
            )
        )

    async def _drain(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while (item := await queue.get()) is not None:
            alert, suppressed = item
            if suppressed:
                self._record_event(
                    Event(
                        ts_ns=alert.ts_ns,
                        kind=EventKind.ALERTS_SUPPRESSED,
                        level="WARNING",
                        message=f"{suppressed} alert(s) not sent to the hook: over "
                        f"{self.config.max_per_minute} a minute, or {QUEUE} already waiting",
                    )
                )
            self._sending = 1
            await self._run(alert, suppressed)
            self._sending = 0

    async def _run(self, alert: Alert, suppressed: int) -> None:
        command = self.config.command or []
        payload = json.dumps({**asdict(alert), "suppressed": suppressed, **self.context}).encode()
        problem = ""
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=_hook_env(os.environ),
                start_new_session=True,  # a Ctrl-C at the desk is not the hook's
            )
        except (OSError, ValueError) as exc:  # ValueError: an argument Popen refuses
            problem = f"could not start {command[0]!r}: {getattr(exc, 'strerror', None) or exc}"
        else:
            try:
                await asyncio.wait_for(proc.communicate(payload), self.config.timeout_s)
            except asyncio.CancelledError:  # the desk stopped: no hook left behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                raise
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                problem = f"{command[0]!r} ran over {self.config.timeout_s:g} s and was killed"
            else:
                if proc.returncode:
                    problem = f"{command[0]!r} exited {proc.returncode}"
        if problem:
            self._record_event(
                Event(
                    ts_ns=alert.ts_ns,
                    kind=EventKind.ALERT_HOOK_FAILED,
                    level="WARNING",
                    message=f"alert hook for {alert.title!r}: {problem}",
                )
            )


def _items(queue: asyncio.Queue[tuple[Alert, int] | None]) -> list[tuple[Alert, int]]:
    """The alerts still queued (the end marker left out)."""
    items = []
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            items.append(item)
    return items


def terminal_sequences(alert: Alert, *, bell: bool, desktop: bool) -> str:
    """What a screen writes to its terminal for an alert: BEL, then OSC 9 (iTerm2,
    Windows Terminal, kitty…) and OSC 777 (urxvt, foot, VTE/GNOME Terminal). Control
    characters are stripped from the text so an order tag or message cannot end the
    sequence early or inject another."""
    text = "".join(ch for ch in f"{alert.title}: {alert.message}" if ch.isprintable())
    title = "".join(ch for ch in alert.title if ch.isprintable() and ch != ";")
    body = "".join(ch for ch in alert.message if ch.isprintable() and ch != ";")
    out = "\a" if bell else ""
    if desktop:
        out += f"\x1b]9;{text}\x07\x1b]777;notify;kitetui {title};{body}\x07"
    return out
