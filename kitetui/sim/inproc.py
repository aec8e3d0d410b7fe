"""The official Kite client answered by the local exchange in this process.

``InProcessKite`` is ``kiteconnect.KiteConnect`` itself — its order, read and error code
runs unchanged — with the one method that sends HTTP (``_request``) replaced by a call
into a ``SimExchange``: the same validation, matching and order states as over the
network, without the network. That makes thousands of fault sequences affordable in a
property test, where the REST server would cost a socket round trip per call.

Faults are injected at the client's edge, where the network would fail, and say which
side of the exchange they fall on: ``refuse`` answers before the exchange sees the call
(a 429 or 5xx at the gate: nothing happened), ``lose`` lets the exchange act and then
loses the answer (a timeout after acceptance: the order exists, the client cannot tell).
Errors are raised exactly as kiteconnect raises them from Kite's JSON envelope.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from kitetui.sim.exchange import KiteError, SimAccount, SimExchange

__all__ = ["ClientFault", "InProcessKite"]

_REFUSALS = {
    429: ("NetworkException", "Too many requests"),
    500: ("GeneralException", "Internal server error"),
    502: ("NetworkException", "Bad gateway"),
    503: ("NetworkException", "Service unavailable"),
    504: ("NetworkException", "Gateway timeout"),
}


@dataclass(frozen=True, slots=True)
class ClientFault:
    """One injected outcome of one call: ``refuse`` (``status`` before the exchange
    sees it), ``lose`` (the exchange acts, the answer times out), ``reject`` (a placement
    the exchange takes and rejects, as its RMS does) or ``pass`` (this call goes through:
    the next fault is for the call after it)."""

    kind: str  # "refuse" | "lose" | "reject" | "pass"
    status: int = 429


class InProcessKite(KiteConnect):
    """``KiteConnect`` over a ``SimExchange`` in this process; see the module doc."""

    def __init__(self, exchange: SimExchange, account: SimAccount) -> None:
        super().__init__(account.api_key, access_token="in-process")
        self.exchange = exchange
        self.account = account
        self.faults: dict[str, deque[ClientFault]] = {}
        self.calls: list[str] = []  # route names, in order
        self._routes_in: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
            "order.place": self._place,
            "order.modify": self._modify,
            "order.cancel": self._cancel,
            "orders": lambda _a, _p: exchange.orders(account),
            "order.info": lambda a, _p: exchange.order_history(account, a["order_id"]),
            "order.trades": lambda a, _p: exchange.order_trades(account, a["order_id"]),
            "trades": lambda _a, _p: exchange.trades(account),
            "portfolio.positions": lambda _a, _p: exchange.positions(account),
            "user.margins": lambda _a, _p: exchange.margins(account),
            "user.profile": lambda _a, _p: exchange.profile(account),
            "market.quote": lambda _a, p: self._quote(p.get("i") or []),
        }

    def fail(self, route: str, *faults: ClientFault) -> None:
        """Fail the next calls of ``route`` (``order.place``, ``order.modify``, …)."""
        self.faults.setdefault(route, deque()).extend(faults)

    def _request(
        self,
        route: str,
        method: str,
        url_args: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        is_json: bool = False,
        query_params: dict[str, Any] | None = None,
    ) -> Any:
        self.calls.append(route)
        handler = self._routes_in.get(route)
        if handler is None:
            raise kex.GeneralException(f"route {route} is not served in process", code=500)
        pending = self.faults.get(route)
        fault = pending.popleft() if pending else None
        if fault is not None and fault.kind == "reject" and route == "order.place":
            self.exchange.faults.add_spec("place_order:reject:1:message=RMS: order refused")
        if fault is not None and fault.kind == "refuse":
            error_type, message = _REFUSALS.get(fault.status, ("GeneralException", "Error"))
            raise getattr(kex, error_type)(message, code=fault.status)
        try:
            data = handler(dict(url_args or {}), dict(params or {}))
        except KiteError as error:
            raise getattr(kex, error.error_type, kex.GeneralException)(
                error.message, code=error.status
            ) from None
        if fault is not None and fault.kind == "lose":
            raise requests.Timeout("read timed out (the exchange acted)")
        return data

    def _quote(self, wanted: list[str]) -> dict[str, Any]:
        """``GET /quote``: the instruments with data (Kite leaves the others out)."""
        market = self.exchange.market
        data: dict[str, Any] = {}
        for spec in wanted:
            state = market.resolve(spec)
            if state is not None and state.has_data:
                data[spec] = market.quote(state)
        return data

    def _place(self, url_args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        order_id = self.exchange.place_order(self.account, url_args["variety"], params)
        return {"order_id": order_id}

    def _modify(self, url_args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        order_id = self.exchange.modify_order(
            self.account, url_args["variety"], url_args["order_id"], params
        )
        return {"order_id": order_id}

    def _cancel(self, url_args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        del params
        order_id = self.exchange.cancel_order(
            self.account, url_args["variety"], url_args["order_id"]
        )
        return {"order_id": order_id}
