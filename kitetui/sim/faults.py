"""Fault injection for the simulated Kite exchange.

A fault applies to the next ``count`` calls of a route (``count=None``: every call
until removed). Set them from Python (``exchange.faults.add(...)``/``add_spec``), at
run time over HTTP (``/_sim/faults``, see ``kitetui.sim.rest``) or with the CLI flag
``--fault SPEC`` (``kitetui.sim.server``).

Spec syntax (``parse_fault_spec``)::

    ROUTE:KIND[:COUNT][:OPTIONS]

ROUTE
    a REST route name (``place_order``, ``modify_order``, ``cancel_order``, ``orders``,
    ``order_history``, ``order_trades``, ``trades``, ``positions``, ``holdings``,
    ``contract_note``, ``margins``, ``profile``, ``quote``, ``ohlc``, ``ltp``, ``historical``,
    ``instruments``, ``session_token``, ``session_logout``), a glob over those names
    (``*``, ``quote*``), a path glob starting with ``/`` (``/portfolio/*``), or
    ``ticker`` for the WebSocket side.
KIND
    ``429 500 502 503 504`` (any 4xx/5xx): answer with that status and Kite's envelope
    (429 ``NetworkException`` "Too many requests", 500 ``GeneralException``,
    502/503/504 ``NetworkException``; override with ``error_type=``).
    ``delay``: wait ``seconds`` (default 2), then handle the call normally.
    ``timeout``: handle the call (a placement IS accepted and reaches the book), then
    withhold the response for ``seconds`` (default: until the server stops), so the
    client times out while the order exists.
    ``hang``: withhold the response without handling the call (nothing happens).
    ``drop_before``: refuse with 504 ``NetworkException`` before handling (for a
    placement: the order never exists).
    ``token``: expire the caller's access token, answer 403 ``TokenException``.
    ``reject`` (``place_order`` only): the order is created and immediately REJECTED
    with ``message`` as its ``status_message`` (Kite's way: HTTP 200, then status).
    ``drop`` / ``silent`` (``ticker`` only): close the WebSocket(s) / send nothing,
    not even heartbeats, for ``seconds`` (default 10).
COUNT
    a positive whole number (default 1), or ``*`` for every call until removed.
OPTIONS
    comma-separated ``key=value``: ``seconds=FLOAT``, ``error_type=NAME``,
    ``message=TEXT`` (``message`` must come last; it may contain commas and colons).

Examples: ``place_order:timeout``, ``place_order:drop_before:2``, ``orders:503:3``,
``quote:429:*``, ``*:token``, ``profile:delay:1:seconds=1.5``,
``place_order:reject:1:message=Insufficient funds``, ``ticker:silent:1:seconds=5``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "HTTP_KINDS",
    "KINDS",
    "ROUTE_NAMES",
    "TICKER_KINDS",
    "Fault",
    "FaultInjector",
    "FaultSpecError",
    "parse_fault_spec",
]

ROUTE_NAMES = (
    "session_token",
    "session_logout",
    "profile",
    "margins",
    "instruments",
    "quote",
    "ohlc",
    "ltp",
    "historical",
    "place_order",
    "modify_order",
    "cancel_order",
    "orders",
    "order_history",
    "order_trades",
    "trades",
    "positions",
    "holdings",
    "contract_note",
)
HTTP_KINDS = frozenset({"http", "delay", "timeout", "hang", "drop_before", "token"})
TICKER_KINDS = frozenset({"drop", "silent"})
KINDS = HTTP_KINDS | TICKER_KINDS | {"reject"}

DEFAULT_ERROR_TYPES = {429: "NetworkException", 502: "NetworkException", 503: "NetworkException"}
DEFAULT_MESSAGES = {
    429: "Too many requests",
    500: "Something went wrong. Please try again later.",
    502: "Bad gateway: the order management system is unavailable.",
    503: "Service unavailable. Please try again later.",
    504: "Gateway timeout.",
}
_DEFAULT_SECONDS = {"delay": 2.0, "silent": 10.0}
_MAX_HANG_S = 3600.0


class FaultSpecError(ValueError):
    """A fault that cannot be understood; the message says what and shows the syntax."""


@dataclass(slots=True)
class Fault:
    """One armed fault. ``count`` None = unlimited; ``fired`` counts uses so far."""

    id: int
    route: str
    kind: str
    count: int | None = 1
    seconds: float | None = None
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    fired: int = 0

    @property
    def spent(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, route: str, path: str = "") -> bool:
        if self.route.startswith("/"):
            return bool(path) and fnmatch.fnmatchcase(path, self.route)
        return fnmatch.fnmatchcase(route, self.route)

    def error_type_for_status(self) -> str:
        if self.error_type:
            return self.error_type
        status = self.status or 500
        if status in DEFAULT_ERROR_TYPES:
            return DEFAULT_ERROR_TYPES[status]
        if status == 504:
            return "NetworkException"
        if status == 403:
            return "TokenException"
        if status == 400:
            return "InputException"
        return "GeneralException"

    def message_for_status(self) -> str:
        if self.message:
            return self.message
        return DEFAULT_MESSAGES.get(self.status or 500, f"Simulated HTTP {self.status} error.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec()
        return data

    def spec(self) -> str:
        kind = str(self.status) if self.kind == "http" else self.kind
        count = "*" if self.count is None else str(self.count)
        options = []
        if self.seconds is not None:
            options.append(f"seconds={self.seconds:g}")
        if self.error_type:
            options.append(f"error_type={self.error_type}")
        if self.message:
            options.append(f"message={self.message}")
        text = f"{self.route}:{kind}:{count}"
        return f"{text}:{','.join(options)}" if options else text


_SYNTAX = "expected ROUTE:KIND[:COUNT][:key=value,...], e.g. 'place_order:timeout:1'"


def _normalise(
    route: str,
    kind: str | int,
    count: int | str | None,
    seconds: float | None,
    status: int | None,
    error_type: str | None,
    message: str | None,
) -> dict[str, Any]:
    """One fault's fields, checked in a fixed order (the first problem is reported)."""
    route = _route(route)
    text, status = _kind(kind, status)
    _check_pairing(route, text, kind)
    count = _count(count)
    seconds = _seconds(seconds, text)
    if error_type is not None and not str(error_type).isidentifier():
        raise FaultSpecError(f"error_type must be an exception name, got {error_type!r}")
    return {
        "route": route,
        "kind": text,
        "count": count,
        "seconds": seconds,
        "status": status if text == "http" else None,
        "error_type": error_type,
        "message": message,
    }


def _route(route: str) -> str:
    """A route name, ``ticker``, or a glob of names or paths."""
    route = str(route).strip()
    if not route:
        raise FaultSpecError(f"empty route; {_SYNTAX}")
    plain = not route.startswith("/") and not any(c in route for c in "*?[")
    if plain and route != "ticker" and route not in ROUTE_NAMES:
        raise FaultSpecError(
            f"unknown route {route!r}; use one of {', '.join(ROUTE_NAMES)}, 'ticker', "
            "a glob such as '*', or a path glob such as '/orders*'"
        )
    return route


def _kind(kind: str | int, status: int | None) -> tuple[str, int | None]:
    """(kind, status): a bare status such as ``503`` is an ``http`` fault."""
    text = str(kind).strip().lower()
    if text.isdigit():
        status = int(text)
        text = "http"
    if text == "http":
        if status is None or not 400 <= status <= 599:
            raise FaultSpecError(f"an HTTP fault needs a 4xx/5xx status, got {status!r}")
    elif text not in KINDS:
        raise FaultSpecError(
            f"unknown fault kind {kind!r}; use a status (429, 500, 502, 503, 504) or one of "
            f"{', '.join(sorted(KINDS))}"
        )
    return text, status


def _check_pairing(route: str, text: str, kind: str | int) -> None:
    """Ticker faults go to the ticker only, and ``reject`` to placements only."""
    if route == "ticker" and text not in TICKER_KINDS:
        raise FaultSpecError(f"the ticker takes 'drop' or 'silent', not {kind!r}")
    if text in TICKER_KINDS and route != "ticker":
        raise FaultSpecError(f"{text!r} is a ticker fault; write 'ticker:{text}'")
    if text == "reject" and route != "place_order":
        raise FaultSpecError("'reject' applies to place_order only")


def _count(count: int | str | None) -> int | None:
    """How many calls the fault hits; None for every call (``*``)."""
    if isinstance(count, str):
        word = count.strip().lower()
        if word in ("*", "always", "inf"):
            count = None
        elif word.isdigit():
            count = int(word)
        else:
            raise FaultSpecError(
                f"count must be a whole number or '*', got {count!r} "
                "(a duration goes in the options: 'place_order:delay:1:seconds=2.5')"
            )
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultSpecError(f"count must be a whole number >= 1 or '*', got {count!r}")
    return count


def _seconds(seconds: float | None, text: str) -> float | None:
    """The fault's duration: given, or the kind's default."""
    if seconds is None:
        return _DEFAULT_SECONDS.get(text)
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise FaultSpecError(f"seconds must be a number, got {seconds!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise FaultSpecError(f"seconds must be finite and >= 0, got {seconds!r}")
    return seconds


def parse_fault_spec(text: str) -> dict[str, Any]:
    """``"orders:503:3"`` -> keyword arguments for ``FaultInjector.add`` (module doc).

    Raises ``FaultSpecError`` with a message that names the problem and the syntax."""
    if not isinstance(text, str) or not text.strip():
        raise FaultSpecError(f"empty fault spec; {_SYNTAX}")
    parts = text.strip().split(":", 3)
    if len(parts) < 2:
        raise FaultSpecError(f"{text!r}: missing KIND; {_SYNTAX}")
    route, kind = parts[0], parts[1]
    count: str | None = parts[2] if len(parts) > 2 and parts[2].strip() else "1"
    options: dict[str, str] = {}
    if len(parts) == 4:
        rest = parts[3]
        while rest:
            key, eq, value = rest.partition("=")
            key = key.strip().lower()
            if not eq:
                raise FaultSpecError(f"{text!r}: option {key!r} needs '=value'; {_SYNTAX}")
            if key == "message":
                options[key] = value
                break
            value, _, rest = value.partition(",")
            if key not in ("seconds", "error_type"):
                raise FaultSpecError(
                    f"{text!r}: unknown option {key!r}; use seconds=, error_type=, message="
                )
            options[key] = value.strip()
    try:
        return _normalise(
            route,
            kind,
            count,
            options.get("seconds"),  # type: ignore[arg-type]
            None,
            options.get("error_type"),
            options.get("message"),
        )
    except FaultSpecError as exc:
        raise FaultSpecError(f"{text!r}: {exc}") from None


class FaultInjector:
    """The armed faults, consumed by the REST layer, the exchange and the ticker."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._listeners: list[Callable[[Fault], None]] = []
        self._release: asyncio.Event | None = None
        self.history: list[dict[str, Any]] = []  # every fault that fired, in order

    # ------------------------------------------------------------------ arming

    def add(
        self,
        route: str,
        kind: str | int,
        count: int | str | None = 1,
        *,
        seconds: float | None = None,
        status: int | None = None,
        error_type: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Arm a fault; raises ``FaultSpecError`` on a bad one. See the module doc."""
        fields = _normalise(route, kind, count, seconds, status, error_type, message)
        fault = Fault(id=next(self._ids), **fields)
        self._faults.append(fault)
        for callback in list(self._listeners):
            callback(fault)
        return fault

    def add_spec(self, spec: str) -> Fault:
        return self.add(**parse_fault_spec(spec))

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def active(self) -> list[Fault]:
        return [f for f in self._faults if not f.spent]

    def on_add(self, callback: Callable[[Fault], None]) -> Callable[[], None]:
        """``callback(fault)`` whenever a fault is armed (the ticker reacts to
        ``ticker`` faults at once). Returns a remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    # ------------------------------------------------------------------ consuming

    def take(self, route: str, path: str = "", kinds: frozenset[str] = HTTP_KINDS) -> Fault | None:
        """The first armed fault for this call with a kind in ``kinds``; uses it once."""
        for fault in self._faults:
            if fault.kind in kinds and not fault.spent and fault.matches(route, path):
                fault.fired += 1
                self.history.append({"route": route, "path": path, **fault.to_dict()})
                if fault.spent:
                    self._faults.remove(fault)
                return fault
        return None

    def take_reject(self) -> Fault | None:
        """For the exchange: a pending ``place_order:reject``."""
        return self.take("place_order", "", frozenset({"reject"}))

    def take_ticker(self) -> Fault | None:
        """For the ticker server: the next ``drop``/``silent`` fault, used once."""
        return self.take("ticker", "", TICKER_KINDS)

    # ------------------------------------------------------------------ hanging

    def _release_event(self) -> asyncio.Event:
        if self._release is None:
            self._release = asyncio.Event()
        return self._release

    async def hang(self, seconds: float | None) -> None:
        """Wait ``seconds`` (None: until ``release_all``, at most an hour)."""
        limit = _MAX_HANG_S if seconds is None else min(seconds, _MAX_HANG_S)
        event = self._release_event()
        if event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=limit)

    def release_all(self) -> None:
        """End every hang (server shutdown)."""
        self._release_event().set()

    def rearm_hangs(self) -> None:
        self._release = None
