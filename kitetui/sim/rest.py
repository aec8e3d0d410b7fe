"""The simulated exchange's REST API: Kite Connect v3 routes over aiohttp.

``create_app(exchange)`` serves, at the server root (the client discards any path in
``root``), the routes kitetui uses, with Kite's envelopes and error types
(``../shared/docs/kite-contract.md`` sections 1-3, 5):

====================================================  =================================
route                                                 name (for faults / rate limits)
====================================================  =================================
POST /session/token, DELETE /session/token            session_token, session_logout
GET /user/profile, GET /user/margins[/{segment}]      profile, margins
GET /instruments[/{exchange}] (CSV, gzip if asked)    instruments (no auth, like Kite)
GET /quote, /quote/ohlc, /quote/ltp (``i`` repeated)  quote, ohlc, ltp
GET /instruments/historical/{token}/{interval}        historical
POST/PUT/DELETE /orders/{variety}[/{order_id}]        place_order, modify_order,
                                                      cancel_order
GET /orders, /orders/{id}, /orders/{id}/trades        orders, order_history,
                                                      order_trades
GET /trades, /portfolio/positions, /portfolio/holdings  trades, positions, holdings
POST /charges/orders (JSON array)                     contract_note (contract_note.py)
====================================================  =================================

Every JSON answer is ``{"status": "success", "data": ...}`` or
``{"status": "error", "message": ..., "error_type": ...}`` with the HTTP status; every
response has a Content-Type. Authenticated routes need ``X-Kite-Version: 3`` (else 400
``InputException``) and ``Authorization: token api_key:access_token`` (else 403
``TokenException``). Unknown routes answer 404 ``GeneralException``, wrong methods 405.

Rate limits (``RateLimiter``, per api_key and calendar second/minute/IST day, HTTP 429
``NetworkException``): order writes (placements and modifications, which Kite counts
alike) 10/s, 400/min, 5000/day; quote routes 1/s; historical 3/s; everything else
10/s. Over a second or minute limit the message is "Too many requests"; over the day's
order limit it is Kite's "Maximum allowed order requests exceeded.". A refused call is
not counted. ``rate_limits=False`` turns them off.

``/quote`` takes up to 500 instruments, ``/quote/ohlc`` and ``/quote/ltp`` 1,000 (more:
400 ``InputException`` in Kite's envelope). The server reads request lines and header
fields of up to 1 MiB (aiohttp's default is 8 KiB, which a few hundred ``i=`` fail),
so such a call reaches the route and every answer keeps Kite's JSON envelope.

Not Kite routes (the sim's own, never faulted or rate limited): ``/_sim/faults``
(GET list, POST arm - JSON ``{"spec": "orders:503:2"}`` or the fields of
``FaultInjector.add`` - DELETE clear, ``?id=N`` for one), ``POST /_sim/request_token``
(``{"api_key"}`` -> a request token, the browser login's stand-in), ``GET
/connect/login?api_key=..`` (redirects to the account's ``redirect_url`` with
``request_token``, or shows it as JSON), ``POST /_sim/expire_tokens``, ``GET
/_sim/state``, ``POST /_sim/market/advance`` (``{"seconds": N}`` or ``{"steps": N}``)
and ``POST /_sim/market/tick`` (``{"instrument": "NSE:SBIN", "price": 500.5}``).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import gzip
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import urlencode

from aiohttp import web

from kitetui.clock import ist_date
from kitetui.market.bars import IST_OFFSET_S
from kitetui.market.instruments import KITE_COLUMNS
from kitetui.sim.contract_note import virtual_contract_note
from kitetui.sim.errors import KiteError, input_error, token_error
from kitetui.sim.exchange import SimAccount, SimExchange
from kitetui.sim.faults import Fault, FaultSpecError
from kitetui.sim.market import INTERVALS, NS_PER_SECOND, SimMarket, ist_str, parse_ist
from kitetui.sim.rules import MSG_DAY_LIMIT, MSG_TOO_MANY_INSTRUMENTS, MSG_TOO_MANY_REQUESTS
from kitetui.trading.charges import default_calculator

__all__ = ["EXCHANGE_KEY", "RateLimiter", "create_app"]

log = logging.getLogger(__name__)

EXCHANGE_KEY: web.AppKey[SimExchange] = web.AppKey("sim_exchange", SimExchange)

_QUOTE_ROUTES = frozenset({"quote", "ohlc", "ltp"})
_MAX_INSTRUMENTS = {"quote": 500, "ohlc": 1000, "ltp": 1000}
MAX_REQUEST_LINE = 1 << 20  # bytes: 1,000 ``i=EXCHANGE:SYMBOL`` need ~30 KiB
# Max span of one historical request, days (minute: 60 per the forum; others commonly
# quoted, unverified).
_MAX_SPAN_DAYS = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}


# ====================================================================== rate limits


class RateLimiter:
    """Kite's per-api_key limits, counted per calendar window (second/minute/IST day)."""

    LIMITS: ClassVar[dict[str, tuple[tuple[int, int], ...]]] = {
        "orders": ((1, 10), (60, 400), (86_400, 5000)),
        "quote": ((1, 1),),
        "historical": ((1, 3),),
        "other": ((1, 10),),
    }

    def __init__(self, enabled: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.enabled = enabled
        self.clock = clock
        self._counts: dict[tuple[str, str, int], tuple[int, int]] = {}

    @staticmethod
    def bucket(route: str) -> str:
        if route in ("place_order", "modify_order"):
            return "orders"
        if route in _QUOTE_ROUTES:
            return "quote"
        if route == "historical":
            return "historical"
        return "other"

    def allow(self, key: str, route: str) -> bool:
        """Count the call; False when it exceeds a limit (then it is not counted)."""
        return self.refusal(key, route) is None

    def refusal(self, key: str, route: str) -> str | None:
        """Count the call and return None, or Kite's message for the limit it exceeds
        (then it is not counted)."""
        if not self.enabled:
            return None
        bucket = self.bucket(route)
        now = self.clock()
        windows = []
        for period, limit in self.LIMITS[bucket]:
            offset = IST_OFFSET_S if period == 86_400 else 0
            window = int((now + offset) // period)
            seen_window, count = self._counts.get((key, bucket, period), (window, 0))
            if seen_window != window:
                count = 0
            if count >= limit:
                day = period == 86_400 and bucket == "orders"
                return MSG_DAY_LIMIT if day else MSG_TOO_MANY_REQUESTS
            windows.append((period, window, count))
        for period, window, count in windows:
            self._counts[(key, bucket, period)] = (window, count + 1)
        return None


_LIMITER_KEY: web.AppKey[RateLimiter] = web.AppKey("sim_rate_limiter", RateLimiter)

# ====================================================================== envelopes


def ok(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def error_response(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response(
        {"status": "error", "message": message, "error_type": error_type, "data": None},
        status=status,
    )


def _exchange(request: web.Request) -> SimExchange:
    return request.app[EXCHANGE_KEY]


def _market(request: web.Request) -> SimMarket:
    return request.app[EXCHANGE_KEY].market


def _credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "token" or ":" not in value:
        return None
    api_key, _, access_token = value.strip().partition(":")
    return api_key, access_token


def _account(request: web.Request) -> SimAccount:
    credentials = _credentials(request)
    if credentials is None:
        raise token_error()
    return _exchange(request).authenticate(*credentials)


_ROUTE_ALIASES = {"margins_segment": "margins", "instruments_exchange": "instruments"}


def _route_name(request: web.Request) -> str:
    """The route's name in fault specs and rate-limit buckets ("" when unmatched)."""
    name = getattr(request.match_info.route, "name", None) or ""
    return _ROUTE_ALIASES.get(name, name)


# ====================================================================== middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
KiteRouteMiddleware = Callable[[web.Request, Handler, str], Awaitable[web.StreamResponse]]


async def _run(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``handler``'s answer, with a ``KiteError`` it raises turned into Kite's error envelope.

    Shared by the outermost middleware and the ``timeout`` fault, which must let the call
    take effect (or fail as Kite would) before it holds the answer back.
    """
    try:
        return await handler(request)
    except KiteError as exc:
        return error_response(exc.status, exc.error_type, exc.message)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await _run(request, handler)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_type = "InputException" if exc.status == 400 else "GeneralException"
        message = {404: "Route not found", 405: "Method not allowed"}.get(exc.status, exc.reason)
        return error_response(exc.status, error_type, message)
    except Exception:
        log.exception("sim exchange: unhandled error on %s %s", request.method, request.path)
        return error_response(500, "GeneralException", "Internal error in the sim exchange.")


def _is_kite_route(name: str) -> bool:
    return bool(name) and not name.startswith("_sim")


def _kite_routes_only(inner: KiteRouteMiddleware) -> Middleware:
    """A middleware that runs ``inner(request, handler, route_name)`` on Kite routes only.

    Faults and rate limits are Kite's behaviour: the sim's own ``/_sim`` routes and
    unmatched paths (name "") pass straight through, so a test can always reach the admin
    routes, even with every Kite route faulted or throttled.
    """

    @web.middleware
    @functools.wraps(inner)
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = _route_name(request)
        if not _is_kite_route(name):
            return await handler(request)
        return await inner(request, handler, name)

    return middleware


@_kite_routes_only
async def _faults(request: web.Request, handler: Handler, name: str) -> web.StreamResponse:
    exchange = _exchange(request)
    fault = exchange.faults.take(name, request.path)
    if fault is None:
        return await handler(request)
    return await _apply_fault(request, handler, exchange, fault)


async def _apply_fault(
    request: web.Request, handler: Handler, exchange: SimExchange, fault: Fault
) -> web.StreamResponse:
    kind = fault.kind
    if kind == "http":
        return error_response(
            fault.status or 500, fault.error_type_for_status(), fault.message_for_status()
        )
    if kind == "drop_before":
        return error_response(
            504, fault.error_type or "NetworkException", fault.message or "Gateway timeout."
        )
    if kind == "token":
        credentials = _credentials(request)
        if credentials is not None:
            exchange.invalidate(*credentials)
        return error_response(
            403,
            fault.error_type or "TokenException",
            fault.message or "Incorrect `api_key` or `access_token`.",
        )
    if kind == "delay":
        await asyncio.sleep(fault.seconds or 0.0)
        return await handler(request)
    if kind == "timeout":
        # The call takes effect (a placement reaches the book); only the answer is late.
        response = await _run(request, handler)
        await exchange.faults.hang(fault.seconds)
        return response
    if kind == "hang":
        await exchange.faults.hang(fault.seconds)
        return error_response(504, "NetworkException", "Gateway timeout.")
    return await handler(request)


@_kite_routes_only
async def _gate(request: web.Request, handler: Handler, name: str) -> web.StreamResponse:
    """Rate limits and the version header, for Kite routes."""
    credentials = _credentials(request)
    key = credentials[0] if credentials else request.query.get("api_key") or request.remote or ""
    refusal = request.app[_LIMITER_KEY].refusal(key, name)
    if refusal is not None:
        return error_response(429, "NetworkException", refusal)
    if name != "instruments" and request.headers.get("X-Kite-Version") != "3":
        raise input_error("Missing or invalid `X-Kite-Version` header; send `3`.")
    return await handler(request)


# ====================================================================== session & user


async def session_token(request: web.Request) -> web.Response:
    form = await request.post()
    data = _exchange(request).create_session(
        str(form.get("api_key", "")),
        str(form.get("request_token", "")),
        str(form.get("checksum", "")),
    )
    return ok(data)


async def session_logout(request: web.Request) -> web.Response:
    api_key = request.query.get("api_key", "")
    access_token = request.query.get("access_token")
    if not api_key:
        raise input_error("Missing or empty `api_key`.")
    if access_token:
        _exchange(request).invalidate(api_key, access_token)
    elif not request.query.get("refresh_token"):
        raise input_error("Missing `access_token` or `refresh_token`.")
    return ok(True)


def _account_read(read: Callable[..., Any], *path_params: str) -> Handler:
    """A route that answers ``read(exchange, account, *path values)`` in Kite's envelope.

    The profile, margins, order book, trade book, positions and holdings routes differ
    only in which ``SimExchange`` read they serve and which path parameters (absent ones
    as None) it takes after the caller's account.
    """

    async def handler(request: web.Request) -> web.Response:
        exchange = _exchange(request)
        account = _account(request)
        values = [request.match_info.get(param) for param in path_params]
        return ok(read(exchange, account, *values))

    return handler


profile = _account_read(SimExchange.profile)
margins = _account_read(SimExchange.margins, "segment")


# ====================================================================== market data

_CSV_KEY: web.AppKey[dict[str, bytes]] = web.AppKey("sim_instruments_csv", dict)


def _instruments_csv(market: SimMarket, exchange: str | None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(KITE_COLUMNS)
    for inst in market.master:
        if exchange and inst.exchange != exchange:
            continue
        writer.writerow(
            [
                inst.instrument_token,
                inst.exchange_token,
                inst.tradingsymbol,
                inst.name,
                repr(float(inst.last_price)),
                inst.expiry.isoformat() if inst.expiry else "",
                repr(float(inst.strike)),
                repr(float(inst.tick_size)),
                inst.lot_size,
                inst.instrument_type,
                inst.segment,
                inst.exchange,
            ]
        )
    return out.getvalue().encode("utf-8")


async def instruments(request: web.Request) -> web.Response:
    exchange = (request.match_info.get("exchange") or "").upper()
    cache = request.app[_CSV_KEY]  # the master never changes while the app lives
    body = cache.get(exchange)
    if body is None:
        body = cache[exchange] = _instruments_csv(_market(request), exchange or None)
    headers = {"Content-Type": "text/csv; charset=utf-8"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers)


def _quote_route(kind: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        _account(request)
        market = _market(request)
        wanted = request.query.getall("i", [])
        if not wanted:
            raise input_error("No instruments given: pass `i=EXCHANGE:TRADINGSYMBOL`.")
        if len(wanted) > _MAX_INSTRUMENTS[kind]:
            raise input_error(MSG_TOO_MANY_INSTRUMENTS.format(limit=_MAX_INSTRUMENTS[kind]))
        data: dict[str, Any] = {}
        for spec in wanted:
            state = market.resolve(spec)
            if state is None or not state.has_data:
                continue  # Kite leaves instruments without data out
            if kind == "quote":
                data[spec] = market.quote(state)
            elif kind == "ohlc":
                data[spec] = market.ohlc(state)
            else:
                data[spec] = market.ltp(state)
        return ok(data)

    return handler


async def historical(request: web.Request) -> web.Response:
    _account(request)
    market = _market(request)
    interval = request.match_info["interval"]
    if interval not in INTERVALS:
        raise input_error("invalid interval")
    try:
        token = int(request.match_info["token"])
    except ValueError:
        raise input_error("invalid token") from None
    if market.master.by_token(token) is None and market.state(token) is None:
        raise input_error("invalid token")
    query = request.query
    if not query.get("from") or not query.get("to"):
        raise input_error("Missing `from` or `to`.")
    try:
        start = parse_ist(query["from"])
        end = parse_ist(query["to"], end_of_day=True)
    except ValueError as exc:
        raise input_error(f"invalid from/to: {exc}") from None
    if end < start:
        raise input_error("`from` date is after the `to` date")
    days = _MAX_SPAN_DAYS[interval]
    if end - start > days * 86_400 * NS_PER_SECOND:
        raise input_error(f"interval exceeds max limit: {days} days")
    with_oi = query.get("oi") in ("1", "true", "True")
    candles = market.historical(token, interval, start, end, oi=with_oi)
    return ok({"candles": candles})


# ====================================================================== orders


async def _form_params(request: web.Request) -> dict[str, str]:
    """The form body as the str → str params ``SimExchange`` takes (Kite posts forms)."""
    form = await request.post()
    return {k: str(v) for k, v in form.items()}


async def place_order(request: web.Request) -> web.Response:
    account = _account(request)
    params = await _form_params(request)
    order_id = _exchange(request).place_order(account, request.match_info["variety"], params)
    return ok({"order_id": order_id})


async def modify_order(request: web.Request) -> web.Response:
    account = _account(request)
    params = await _form_params(request)
    order_id = _exchange(request).modify_order(
        account, request.match_info["variety"], request.match_info["order_id"], params
    )
    return ok({"order_id": order_id})


async def cancel_order(request: web.Request) -> web.Response:
    account = _account(request)
    order_id = _exchange(request).cancel_order(
        account, request.match_info["variety"], request.match_info["order_id"]
    )
    return ok({"order_id": order_id})


orders = _account_read(SimExchange.orders)
order_history = _account_read(SimExchange.order_history, "order_id")
order_trades = _account_read(SimExchange.order_trades, "order_id")
trades = _account_read(SimExchange.trades)
positions = _account_read(SimExchange.positions)
holdings = _account_read(SimExchange.holdings)


async def charges_orders(request: web.Request) -> web.Response:
    """Kite's virtual contract note for the orders in the JSON body (contract_note.py)."""
    _account(request)
    market = _market(request)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise input_error("Body must be a JSON array of orders.") from None
    data = virtual_contract_note(
        default_calculator(), market.instrument, ist_date(market.now_ns), body
    )
    return ok(data)


# ====================================================================== sim admin


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise input_error("Body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise input_error("Body must be a JSON object.")
    return body


async def admin_faults(request: web.Request) -> web.Response:
    faults = _exchange(request).faults
    if request.method == "GET":
        return ok([fault.to_dict() for fault in faults.active()])
    if request.method == "DELETE":
        fault_id = request.query.get("id")
        if fault_id:
            if not fault_id.isdigit() or not faults.remove(int(fault_id)):
                raise input_error(f"no fault with id {fault_id!r}")
        else:
            faults.clear()
        return ok(True)
    body = await _json_body(request)
    try:
        if "spec" in body:
            fault = faults.add_spec(str(body["spec"]))
        else:
            allowed = {"route", "kind", "count", "seconds", "status", "error_type", "message"}
            unknown = set(body) - allowed
            if unknown:
                raise FaultSpecError(f"unknown keys {sorted(unknown)}; use {sorted(allowed)}")
            if "route" not in body or "kind" not in body:
                raise FaultSpecError("give 'spec' or at least 'route' and 'kind'")
            fault = faults.add(**body)
    except (FaultSpecError, TypeError) as exc:
        raise input_error(str(exc)) from None
    return ok(fault.to_dict())


async def admin_request_token(request: web.Request) -> web.Response:
    body = await _json_body(request)
    api_key = str(body.get("api_key") or request.query.get("api_key") or "")
    return ok({"request_token": _exchange(request).issue_request_token(api_key)})


async def connect_login(request: web.Request) -> web.Response:
    exchange = _exchange(request)
    api_key = request.query.get("api_key", "")
    token = exchange.issue_request_token(api_key)
    account = exchange.account(api_key)
    if account is not None and account.redirect_url:
        query = urlencode({"request_token": token, "action": "login", "status": "success"})
        separator = "&" if "?" in account.redirect_url else "?"
        raise web.HTTPFound(f"{account.redirect_url}{separator}{query}")
    return ok({"request_token": token, "action": "login", "status": "success"})


async def admin_expire_tokens(request: web.Request) -> web.Response:
    body = await _json_body(request)
    api_key = body.get("api_key")
    return ok({"expired": _exchange(request).expire_access_tokens(api_key)})


def _state(market: SimMarket) -> dict[str, Any]:
    return {
        "now": ist_str(market.now_ns),
        "now_ns": market.now_ns,
        "finished": market.finished,
        "instruments_with_data": len(market.states),
    }


async def admin_state(request: web.Request) -> web.Response:
    return ok(_state(_market(request)))


async def admin_advance(request: web.Request) -> web.Response:
    market = _market(request)
    body = await _json_body(request)
    if "steps" in body:
        for _ in range(int(body["steps"])):
            if market.step() is None:
                break
    elif "seconds" in body:
        market.advance_by(float(body["seconds"]))
    else:
        raise input_error("give 'seconds' or 'steps'")
    return ok(_state(market))


async def admin_tick(request: web.Request) -> web.Response:
    market = _market(request)
    body = await _json_body(request)
    try:
        ts = market.inject_tick(
            str(body["instrument"]), float(body["price"]), int(body.get("quantity", 1))
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise input_error(f"bad tick: {exc}") from None
    return ok({"ts_ns": ts, **_state(market)})


# ====================================================================== factory


def create_app(
    exchange: SimExchange,
    *,
    rate_limits: bool = True,
    clock: Callable[[], float] = time.time,
    admin: bool = True,
) -> web.Application:
    """The aiohttp application of the sim's REST side (module docstring)."""
    app = web.Application(
        middlewares=[_errors, _faults, _gate],
        handler_args={"max_line_size": MAX_REQUEST_LINE, "max_field_size": MAX_REQUEST_LINE},
    )
    app[EXCHANGE_KEY] = exchange
    app[_LIMITER_KEY] = RateLimiter(enabled=rate_limits, clock=clock)
    app[_CSV_KEY] = {}
    r = app.router
    r.add_post("/session/token", session_token, name="session_token")
    r.add_delete("/session/token", session_logout, name="session_logout")
    r.add_get("/user/profile", profile, name="profile")
    r.add_get("/user/margins", margins, name="margins")
    r.add_get("/user/margins/{segment}", margins, name="margins_segment")
    r.add_get("/instruments", instruments, name="instruments")
    r.add_get("/instruments/historical/{token}/{interval}", historical, name="historical")
    r.add_get("/instruments/{exchange}", instruments, name="instruments_exchange")
    r.add_get("/quote", _quote_route("quote"), name="quote")
    r.add_get("/quote/ohlc", _quote_route("ohlc"), name="ohlc")
    r.add_get("/quote/ltp", _quote_route("ltp"), name="ltp")
    r.add_get("/orders", orders, name="orders")
    r.add_post("/orders/{variety}", place_order, name="place_order")
    r.add_get("/orders/{order_id}", order_history, name="order_history")
    r.add_put("/orders/{variety}/{order_id}", modify_order, name="modify_order")
    r.add_delete("/orders/{variety}/{order_id}", cancel_order, name="cancel_order")
    r.add_get("/orders/{order_id}/trades", order_trades, name="order_trades")
    r.add_get("/trades", trades, name="trades")
    r.add_get("/portfolio/positions", positions, name="positions")
    r.add_get("/portfolio/holdings", holdings, name="holdings")
    r.add_post("/charges/orders", charges_orders, name="contract_note")
    if admin:
        r.add_route("*", "/_sim/faults", admin_faults, name="_sim_faults")
        r.add_post("/_sim/request_token", admin_request_token, name="_sim_request_token")
        r.add_post("/_sim/expire_tokens", admin_expire_tokens, name="_sim_expire_tokens")
        r.add_get("/_sim/state", admin_state, name="_sim_state")
        r.add_post("/_sim/market/advance", admin_advance, name="_sim_advance")
        r.add_post("/_sim/market/tick", admin_tick, name="_sim_tick")
        r.add_get("/connect/login", connect_login, name="_sim_connect_login")
    return app
