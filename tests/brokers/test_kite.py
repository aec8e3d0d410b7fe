"""KiteBroker through the real kiteconnect client against a small fake Kite on 127.0.0.1.

The fake follows docs/kite-contract.md for the routes the broker uses and injects
faults per route: an order accepted but answered too late (a client timeout), 5xx
with or without the order accepted, 429, TokenException, gate rejections. It counts
every POST and the tags in them, so "placed exactly once" is checked at the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kite_helpers import ThreadedServer, kite_error, kite_ok

from kitetui.brokers.base import NotAccepted
from kitetui.brokers.kite import (
    NOT_PLACED_REASON,
    BrokerUnavailable,
    KiteBroker,
    PlacementUnknown,
    TokenExpired,
    map_status,
)
from kitetui.brokers.ratelimit import KiteRateLimits
from kitetui.domain import (
    Exchange,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Variety,
)

API_KEY = "fakeapikey123"
ACCESS_TOKEN = "SECRETaccessTOKEN987654"


class FakeKite(ThreadedServer):
    """Kite's REST routes for orders, positions and profile, with scripted faults.

    ``fault(route, *faults)`` queues faults consumed one per request on that route
    (``place``, ``orders``, ``history``, ``cancel``, ``positions``, ``profile``):

    - ``("error", status, error_type, message)``: answer that error, do nothing;
    - ``("accept_error", status, error_type, message)``: place the order, then err;
    - ``("accept_delay", seconds)``: place the order, answer only after ``seconds``;
    - ``("delay", seconds)``: answer normally after ``seconds`` (reads) / for place:
      wait then drop the order (a timeout where Kite never took it).
    """

    thread_name = "fake-kite"

    def __init__(self) -> None:
        super().__init__()
        self.book: list[dict[str, Any]] = []
        self.posts: list[dict[str, str]] = []
        self.hits: Counter[str] = Counter()
        self.faults: dict[str, deque] = defaultdict(deque)
        self.net_positions: list[dict[str, Any]] = []
        self.token = ACCESS_TOKEN
        self._next_id = 251121000000001

    # --------------------------------------------------------------- control

    def fault(self, route: str, *faults: tuple) -> None:
        self.faults[route].extend(faults)

    def tags_posted(self) -> Counter[str]:
        return Counter(p.get("tag", "") for p in self.posts)

    def order(self, tag: str) -> dict[str, Any]:
        return next(o for o in self.book if o["tag"] == tag)

    def add_order(self, **fields: Any) -> dict[str, Any]:
        order = {
            "placed_by": "XX0000",
            "order_id": str(self._next_id),
            "exchange_order_id": None,
            "parent_order_id": None,
            "status": "OPEN",
            "status_message": None,
            "order_timestamp": "2026-11-20 09:20:00",
            "exchange_update_timestamp": None,
            "exchange_timestamp": None,
            "variety": "regular",
            "exchange": "NSE",
            "tradingsymbol": "SBIN",
            "instrument_token": 779521,
            "order_type": "LIMIT",
            "transaction_type": "BUY",
            "validity": "DAY",
            "product": "MIS",
            "quantity": 1,
            "disclosed_quantity": 0,
            "price": 0,
            "trigger_price": 0,
            "average_price": 0,
            "filled_quantity": 0,
            "pending_quantity": 1,
            "cancelled_quantity": 0,
            "market_protection": 0,
            "meta": {},
            "tag": None,
            "tags": [],
            "guid": "x",
        }
        order.update(fields)
        self._next_id += 1
        self.book.append(order)
        return order

    # --------------------------------------------------------------- server

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"token {API_KEY}:{self.token}"

    def _next_fault(self, route: str) -> tuple | None:
        queue = self.faults.get(route)
        return queue.popleft() if queue else None

    async def _guard(self, request: web.Request, route: str) -> tuple[web.Response | None, tuple]:
        self.hits[route] += 1
        assert request.headers.get("X-Kite-Version") == "3"
        if not self._authorised(request):
            return kite_error(403, "TokenException", "Incorrect `api_key` or `access_token`."), ()
        fault = self._next_fault(route) or ()
        if fault and fault[0] == "error":
            return kite_error(*fault[1:]), fault
        return None, fault

    async def place(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.posts.append(form)
        early, fault = await self._guard(request, "place")
        if early is not None:
            return early
        if fault and fault[0] == "delay":
            await asyncio.sleep(fault[1])  # never placed
            return kite_error(504, "NetworkException", "Gateway timeout")
        stop = form["order_type"] in ("SL", "SL-M")
        order = self.add_order(
            variety=request.match_info["variety"],
            exchange=form["exchange"],
            tradingsymbol=form["tradingsymbol"],
            transaction_type=form["transaction_type"],
            quantity=int(form["quantity"]),
            pending_quantity=int(form["quantity"]),
            product=form["product"],
            order_type=form["order_type"],
            validity=form.get("validity", "DAY"),
            price=float(form.get("price", 0)),
            trigger_price=float(form.get("trigger_price", 0)),
            market_protection=float(form.get("market_protection", 0)),
            status="AMO REQ RECEIVED"
            if request.match_info["variety"] == "amo"
            else ("TRIGGER PENDING" if stop else "OPEN"),
            tag=form.get("tag"),
            tags=[form["tag"]] if form.get("tag") else [],
        )
        if fault and fault[0] == "accept_delay":
            await asyncio.sleep(fault[1])
        if fault and fault[0] == "accept_error":
            return kite_error(*fault[1:])
        return kite_ok({"order_id": order["order_id"]})

    async def orders(self, request: web.Request) -> web.Response:
        early, fault = await self._guard(request, "orders")
        if early is not None:
            return early
        if fault and fault[0] == "delay":
            await asyncio.sleep(fault[1])
        return kite_ok([dict(o) for o in self.book])

    async def history(self, request: web.Request) -> web.Response:
        early, _ = await self._guard(request, "history")
        if early is not None:
            return early
        found = [dict(o) for o in self.book if o["order_id"] == request.match_info["order_id"]]
        if not found:
            return kite_error(400, "InputException", "Couldn't find that `order_id`.")
        return kite_ok(found)

    async def cancel(self, request: web.Request) -> web.Response:
        early, _ = await self._guard(request, "cancel")
        if early is not None:
            return early
        for o in self.book:
            if o["order_id"] == request.match_info["order_id"]:
                if o["status"] not in ("OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED"):
                    return kite_error(400, "OrderException", f"Order is already {o['status']}")
                o["status"] = "CANCELLED"
                o["cancelled_quantity"] = o["quantity"] - o["filled_quantity"]
                return kite_ok({"order_id": o["order_id"]})
        return kite_error(400, "InputException", "Couldn't find that `order_id`.")

    async def positions(self, request: web.Request) -> web.Response:
        early, _ = await self._guard(request, "positions")
        if early is not None:
            return early
        return kite_ok({"net": self.net_positions, "day": []})

    async def profile(self, request: web.Request) -> web.Response:
        early, _ = await self._guard(request, "profile")
        if early is not None:
            return early
        return kite_ok({"user_id": "XX0000", "user_name": "Fake"})

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/orders/{variety}", self.place)
        app.router.add_get("/orders", self.orders)
        app.router.add_get("/orders/{order_id}", self.history)
        app.router.add_delete("/orders/{variety}/{order_id}", self.cancel)
        app.router.add_get("/portfolio/positions", self.positions)
        app.router.add_get("/user/profile", self.profile)
        return app


@pytest.fixture
def fake():
    with FakeKite() as server:
        yield server


def make_broker(root: str, **options: Any) -> KiteBroker:
    defaults: dict[str, Any] = {
        "timeout": 0.4,
        "backoff_s": 0.01,
        "unknown_lookups": 2,
        "unknown_lookup_delay_s": 0.01,
        "cancel_poll_s": 0.01,
        "poll_interval_s": 0.05,
    }
    defaults.update(options)
    return KiteBroker.connect(API_KEY, ACCESS_TOKEN, root=root, **defaults)


@pytest.fixture
def broker(fake):
    return make_broker(fake.url)


def make_order(tag: str = "TAG0001", **fields: Any) -> Order:
    base: dict[str, Any] = {
        "tag": tag,
        "engine": "equity",
        "symbol": "SBIN",
        "exchange": Exchange.NSE,
        "side": Side.BUY,
        "quantity": 10,
        "order_type": OrderType.LIMIT,
        "product": Product.MIS,
        "purpose": OrderPurpose.ENTRY,
        "status": OrderStatus.NEW,
        "ts_ns": 1_700_000_000_000_000_000,
        "price": 600.5,
    }
    base.update(fields)
    return Order(**base)


def run(coro, timeout: float = 10.0):
    return asyncio.wait_for(coro, timeout)


# ------------------------------------------------------------------ placing


@pytest.mark.parametrize(
    ("fields", "path_variety", "expected_form", "absent", "status"),
    [
        (
            {"order_type": OrderType.LIMIT, "price": 600.5},
            "regular",
            {"order_type": "LIMIT", "price": "600.5", "quantity": "10", "product": "MIS"},
            {"market_protection", "trigger_price"},
            OrderStatus.OPEN,
        ),
        (
            {"order_type": OrderType.MARKET, "price": 0.0},
            "regular",
            {"order_type": "MARKET", "market_protection": "-1"},
            {"price", "trigger_price"},
            OrderStatus.OPEN,
        ),
        (
            {"order_type": OrderType.SL_M, "trigger_price": 590.0, "side": Side.SELL},
            "regular",
            {"order_type": "SL-M", "trigger_price": "590.0", "market_protection": "-1"},
            {"price"},
            OrderStatus.TRIGGER_PENDING,
        ),
        (
            {"order_type": OrderType.SL, "price": 589.0, "trigger_price": 590.0},
            "regular",
            {"order_type": "SL", "price": "589.0", "trigger_price": "590.0"},
            {"market_protection"},
            OrderStatus.TRIGGER_PENDING,
        ),
        (
            {"variety": Variety.AMO, "product": Product.CNC},
            "amo",
            {"variety": "amo", "product": "CNC", "validity": "DAY", "exchange": "NSE"},
            {"market_protection"},
            OrderStatus.OPEN,
        ),
    ],
)
async def test_place_with_order_type_sends_kite_fields(
    fake, broker, fields, path_variety, expected_form, absent, status
):
    order = make_order(**fields)
    placed = await run(broker.place(order))
    assert placed.status is status
    assert placed.broker_order_id == fake.book[0]["order_id"]
    assert fake.book[0]["variety"] == path_variety
    form = fake.posts[0]
    for key, value in expected_form.items():
        assert form[key] == value, key
    assert not absent & form.keys()
    assert form["tag"] == order.tag and form["tradingsymbol"] == "SBIN"


async def test_place_with_timeout_but_accepted_finds_it_and_posts_once(fake, broker):
    fake.fault("place", ("accept_delay", 1.5))
    order = make_order(order_type=OrderType.MARKET)
    placed = await run(broker.place(order))
    assert placed.status is OrderStatus.OPEN
    assert placed.broker_order_id == fake.order(order.tag)["order_id"]
    assert placed.engine == "equity" and placed.purpose is OrderPurpose.ENTRY
    assert fake.hits["orders"] >= 1  # looked up before deciding
    # placing the same tag again never sends it again
    again = await run(broker.place(order))
    assert again.broker_order_id == placed.broker_order_id
    assert fake.tags_posted() == Counter({order.tag: 1})
    assert len(fake.book) == 1


async def test_place_with_timeout_not_in_the_book_is_not_accepted(fake, broker):
    fake.fault("place", ("delay", 1.0))
    with pytest.raises(NotAccepted) as refused:
        await run(broker.place(make_order()))
    assert NOT_PLACED_REASON in str(refused.value) and refused.value.tag == "TAG0001"
    assert fake.hits["orders"] == 2  # unknown_lookups
    assert fake.tags_posted() == Counter({"TAG0001": 1})
    again = await run(broker.place(make_order()))
    assert again.status is OrderStatus.REJECTED and "duplicate tag" in again.reason
    assert len(fake.posts) == 1


async def test_place_same_tag_concurrently_posts_once(fake, broker):
    order = make_order()
    results = await run(asyncio.gather(broker.place(order), broker.place(order)))
    assert fake.tags_posted() == Counter({order.tag: 1})
    assert results[0].status is OrderStatus.OPEN
    # the second found the first in the book, or not yet: either way it sent nothing
    assert results[1].status in (OrderStatus.OPEN, OrderStatus.REJECTED)


async def test_order_declared_not_placed_that_surfaces_later_comes_back(fake, broker):
    fake.fault("place", ("delay", 1.0))
    with pytest.raises(NotAccepted):
        await run(broker.place(make_order()))
    late = fake.add_order(tag="TAG0001", tags=["TAG0001"], quantity=10)
    order, fills = broker.apply_update(
        {**late, "status": "COMPLETE", "filled_quantity": 10, "average_price": 600.0}
    )
    assert order.status is OrderStatus.COMPLETE and order.engine == "equity"
    assert [f.quantity for f in fills] == [10]


@pytest.mark.parametrize(
    ("fault", "found", "reason"),
    [
        (("accept_error", 503, "NetworkException", "Service unavailable"), True, ""),
        (("accept_error", 502, "DataException", "Bad gateway"), True, ""),
        (("accept_error", 500, "GeneralException", "Oops"), True, ""),
        (
            ("error", 503, "NetworkException", "Service unavailable"),
            False,
            "not placed (HTTP 503 NetworkException, not in the order book)",
        ),
        (
            ("error", 500, "GeneralException", "Oops"),
            False,
            "not placed (HTTP 500 GeneralException, not in the order book)",
        ),
    ],
)
async def test_place_with_server_error_looks_up_then_decides(fake, broker, fault, found, reason):
    fake.fault("place", fault)
    if not found:
        with pytest.raises(NotAccepted, match=re.escape(reason)):
            await run(broker.place(make_order()))
        assert fake.hits["orders"] >= 1 and fake.book == []
        return
    placed = await run(broker.place(make_order()))
    assert fake.hits["orders"] >= 1
    assert len(fake.posts) == 1
    assert placed.status is OrderStatus.OPEN
    assert placed.broker_order_id == fake.book[0]["order_id"]


async def test_place_answered_429_is_not_accepted_without_a_lookup(fake, broker):
    """Kite answers 429 at its gate, before an order exists: nothing to look up, and a
    retry under a fresh tag is safe (the exit manager's)."""
    fake.fault("place", ("error", 429, "NetworkException", "Too many requests"))
    with pytest.raises(NotAccepted, match="429"):
        await run(broker.place(make_order()))
    assert fake.hits["orders"] == 0 and fake.book == []
    again = await run(broker.place(make_order()))  # the tag itself is never sent again
    assert again.status is OrderStatus.REJECTED and len(fake.posts) == 1


@pytest.mark.parametrize(("protection", "sent"), [(-1, "-1"), (2.5, "2.5"), (3, "3")])
async def test_market_protection_goes_as_kite_takes_it(fake, protection, sent):
    broker = make_broker(fake.url, market_protection=protection)
    await run(broker.place(make_order(order_type=OrderType.MARKET, price=0.0)))
    assert fake.posts[0]["market_protection"] == sent


@pytest.mark.parametrize("protection", [0, -2, 100.5, float("nan")])
def test_market_protection_kite_refuses_is_refused(fake, protection):
    with pytest.raises(ValueError, match="market_protection"):
        make_broker(fake.url, market_protection=protection)


async def test_place_with_order_rejected_at_kite_after_accept_maps_status(fake, broker):
    fake.fault("place", ("accept_delay", 1.0))
    order = make_order()

    async def reject_soon() -> None:
        await asyncio.sleep(0.1)
        o = fake.order(order.tag)
        o["status"], o["status_message"] = "REJECTED", "Insufficient funds"

    _, placed = await run(asyncio.gather(reject_soon(), broker.place(order)))
    assert placed.status is OrderStatus.REJECTED
    assert placed.reason == "Insufficient funds"


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (400, "InputException", "Invalid `price`."),
        (400, "OrderException", "Quantity exceeds the freeze limit of 1800"),
        (403, "PermissionException", "Not allowed for this segment"),
        (404, "GeneralException", "Route not found"),
    ],
)
async def test_place_with_gate_rejection_is_rejected_without_lookup(
    fake, broker, status, error_type, message
):
    fake.fault("place", ("error", status, error_type, message))
    placed = await run(broker.place(make_order()))
    assert placed.status is OrderStatus.REJECTED
    assert placed.reason == message
    assert fake.hits["orders"] == 0
    assert len(fake.posts) == 1


async def test_place_with_unreachable_broker_raises_placement_unknown():
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = make_broker(f"http://127.0.0.1:{port}", read_attempts=2)
    with pytest.raises(PlacementUnknown) as info:
        await run(broker.place(make_order()))
    assert info.value.tag == "TAG0001"
    assert "connection error" in str(info.value)


@pytest.mark.parametrize(
    "order",
    [make_order(tag=""), make_order(tag="X" * 21), make_order(tag="has space")],
)
async def test_place_with_bad_tag_is_rejected_locally(fake, broker, order):
    placed = await run(broker.place(order))
    assert placed.status is OrderStatus.REJECTED
    assert fake.posts == []


async def test_place_with_daily_cap_spent_is_not_accepted_without_post(fake):
    broker = make_broker(fake.url, limits=KiteRateLimits(orders_today=5000))
    with pytest.raises(NotAccepted, match="daily order limit"):
        await run(broker.place(make_order()))
    assert fake.posts == []


async def test_restored_tags_are_never_placed_again(fake, broker):
    broker.restore([make_order(status=OrderStatus.OPEN, broker_order_id="999")])
    placed = await run(broker.place(make_order()))
    assert placed.status is OrderStatus.REJECTED
    assert fake.posts == []


# ------------------------------------------------------------------ tokens and reads


async def test_place_with_token_exception_raises_token_expired_once(fake, broker):
    fake.token = "someoneelse"
    with pytest.raises(TokenExpired, match="kitetui login"):
        await run(broker.place(make_order()))
    assert len(fake.posts) == 1
    assert fake.hits["orders"] == 0


@pytest.mark.parametrize(
    "call",
    ["positions", "open_orders", "profile", "lookup"],
)
async def test_read_with_token_exception_is_not_retried(fake, broker, call):
    fake.token = "someoneelse"
    with pytest.raises(TokenExpired):
        if call == "lookup":
            await run(broker.lookup("TAG0001"))
        else:
            await run(getattr(broker, call)())
    assert sum(fake.hits.values()) == 1


@pytest.mark.parametrize(
    "faults",
    [
        [("error", 503, "NetworkException", "down")],
        [("error", 429, "NetworkException", "Too many requests")],
        [("error", 502, "DataException", "bad gateway"), ("error", 504, "NetworkException", "x")],
        [("delay", 1.0), ("error", 500, "GeneralException", "x"), ("error", 503, "N", "y")],
    ],
)
async def test_read_with_transient_faults_is_retried(fake, broker, faults):
    fake.fault("orders", *faults)
    fake.add_order(tag="MANUAL1", tags=["MANUAL1"])
    orders = await run(broker.open_orders())
    assert [o.tag for o in orders] == ["MANUAL1"]
    assert fake.hits["orders"] == len(faults) + 1


async def test_read_with_faults_past_every_attempt_gives_up(fake):
    broker = make_broker(fake.url, read_attempts=3)
    fake.fault("positions", *[("error", 503, "NetworkException", "down")] * 5)
    with pytest.raises(BrokerUnavailable, match="3 times"):
        await run(broker.positions())
    assert fake.hits["positions"] == 3


@pytest.mark.parametrize(
    ("kite_status", "order_type", "previous", "expected"),
    [
        ("OPEN", OrderType.LIMIT, None, OrderStatus.OPEN),
        ("COMPLETE", OrderType.MARKET, None, OrderStatus.COMPLETE),
        ("CANCELLED", OrderType.LIMIT, None, OrderStatus.CANCELLED),
        ("REJECTED", OrderType.LIMIT, None, OrderStatus.REJECTED),
        ("TRIGGER PENDING", OrderType.SL, None, OrderStatus.TRIGGER_PENDING),
        ("PUT ORDER REQ RECEIVED", OrderType.LIMIT, None, OrderStatus.OPEN),
        ("VALIDATION PENDING", OrderType.SL_M, None, OrderStatus.TRIGGER_PENDING),
        ("OPEN PENDING", OrderType.MARKET, None, OrderStatus.OPEN),
        ("MODIFY PENDING", OrderType.SL, OrderStatus.OPEN, OrderStatus.OPEN),
        ("CANCEL PENDING", OrderType.SL, OrderStatus.TRIGGER_PENDING, OrderStatus.TRIGGER_PENDING),
        ("AMO REQ RECEIVED", OrderType.LIMIT, OrderStatus.NEW, OrderStatus.OPEN),
        ("SOMETHING NEW", OrderType.LIMIT, None, OrderStatus.OPEN),
    ],
)
def test_map_status_with_kite_status_gives_ours(kite_status, order_type, previous, expected):
    assert map_status(kite_status, order_type, previous) is expected


# ------------------------------------------------------------------ updates and fills


def kite_update(order_id: str, tag: str, status: str, filled: int, avg: float) -> dict:
    return {
        "order_id": order_id,
        "tag": tag,
        "status": status,
        "exchange": "NSE",
        "tradingsymbol": "SBIN",
        "transaction_type": "BUY",
        "order_type": "LIMIT",
        "product": "MIS",
        "variety": "regular",
        "validity": "DAY",
        "quantity": 10,
        "price": 101.0,
        "trigger_price": 0,
        "filled_quantity": filled,
        "average_price": avg,
        "order_timestamp": "2026-11-20 09:20:00",
        "exchange_update_timestamp": "2026-11-20 09:20:05",
    }


async def test_apply_update_with_partial_fills_is_idempotent(fake, broker):
    placed = await run(broker.place(make_order(price=101.0)))
    oid = placed.broker_order_id
    steps = [
        (kite_update(oid, "TAG0001", "OPEN", 0, 0), OrderStatus.OPEN, []),
        (kite_update(oid, "TAG0001", "OPEN", 4, 100.0), OrderStatus.OPEN, [(4, 100.0)]),
        (kite_update(oid, "TAG0001", "OPEN", 4, 100.0), OrderStatus.OPEN, []),  # replay
        (kite_update(oid, "TAG0001", "COMPLETE", 10, 100.6), OrderStatus.COMPLETE, [(6, 101.0)]),
        (kite_update(oid, "TAG0001", "OPEN", 4, 100.0), OrderStatus.COMPLETE, []),  # stale
        (kite_update(oid, "TAG0001", "COMPLETE", 10, 100.6), OrderStatus.COMPLETE, []),
    ]
    ids: list[str] = []
    for update, status, expected in steps:
        order, fills = broker.apply_update(update)
        assert order.status is status
        assert order.engine == "equity"  # our journaled fields survive
        assert [(f.quantity, f.price) for f in fills] == expected
        ids += [f.fill_id for f in fills]
    assert ids == [f"{oid}-4", f"{oid}-10"]
    assert order.filled_qty == 10 and order.avg_price == pytest.approx(100.6)


async def test_apply_update_after_restore_starts_from_journaled_fills(broker):
    broker.restore(
        [make_order(status=OrderStatus.OPEN, broker_order_id="77", filled_qty=4, avg_price=100.0)]
    )
    _, fills = broker.apply_update(kite_update("77", "TAG0001", "COMPLETE", 10, 100.6))
    assert [(f.fill_id, f.quantity, f.price) for f in fills] == [("77-10", 6, 101.0)]


async def test_order_updates_with_websocket_push_and_polling(fake, broker):
    placed = await run(broker.place(make_order(price=101.0)))
    updates = broker.order_updates()
    first = asyncio.ensure_future(anext(updates))
    await asyncio.sleep(0.01)  # the consumer is waiting when the update arrives
    # a websocket update, pushed from another thread as KiteTicker does
    pusher = threading.Thread(
        target=broker.push_update,
        args=(kite_update(placed.broker_order_id, "TAG0001", "OPEN", 3, 100.0),),
    )
    pusher.start()
    pusher.join(5)
    order, fills = await run(first, 5)
    assert order.filled_qty == 3 and [f.quantity for f in fills] == [3]
    # no websocket: the poll of the order book finds the completion
    row = fake.order("TAG0001")
    row.update(status="COMPLETE", filled_quantity=10, average_price=100.7)
    order, fills = await run(anext(updates), 5)
    assert order.status is OrderStatus.COMPLETE
    assert [(f.quantity, f.price) for f in fills] == [(7, 101.0)]
    await updates.aclose()


# ------------------------------------------------------------------ cancel, book, positions


async def test_cancel_with_open_order_returns_cancelled(fake, broker):
    await run(broker.place(make_order()))
    cancelled = await run(broker.cancel("TAG0001"))
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert fake.order("TAG0001")["status"] == "CANCELLED"
    assert await run(broker.cancel("TAG0001")) is None
    assert await run(broker.open_orders()) == []


@pytest.mark.parametrize("status", ["COMPLETE", "REJECTED"])
async def test_cancel_with_settled_order_returns_none(fake, broker, status):
    await run(broker.place(make_order()))
    fake.order("TAG0001")["status"] = status
    assert await run(broker.cancel("TAG0001")) is None
    assert fake.hits["cancel"] == 0


async def test_cancel_with_unknown_tag_returns_none(fake, broker):
    assert await run(broker.cancel("NOSUCHTAG")) is None


async def test_open_orders_maps_working_orders_and_skips_foreign_ones(fake, broker):
    fake.add_order(tag="A1", tags=["A1"], status="OPEN")
    fake.add_order(tag="A2", tags=["A2"], status="TRIGGER PENDING", order_type="SL-M")
    fake.add_order(tag="A3", tags=["A3"], status="VALIDATION PENDING")
    fake.add_order(tag="A4", tags=["A4"], status="COMPLETE")
    fake.add_order(tag="C1", tags=["C1"], exchange="CDS", tradingsymbol="USDINR26NOVFUT")
    orders = await run(broker.open_orders())
    assert [(o.tag, o.status) for o in orders] == [
        ("A1", OrderStatus.OPEN),
        ("A2", OrderStatus.TRIGGER_PENDING),
        ("A3", OrderStatus.OPEN),
    ]
    assert orders[0].broker_order_id == fake.book[0]["order_id"]


async def test_protected_market_orders_placed_outside_kitetui_stay_two_orders(fake, broker):
    """Kite labels every protected market order it made a LIMIT ``mktp``/``mktp:2.00``
    (orders.json): two such orders from Kite web were one order, 'mktp', to the broker."""
    labels = ["mktp", "mktp:2.00"]
    fake.add_order(tag=None, tags=labels, status="OPEN", price=159.82)
    fake.add_order(tag=None, tags=labels, status="OPEN", price=160.1)
    fake.add_order(tag="K7", tags=["K7", *labels], status="OPEN")
    orders = await run(broker.open_orders())
    first, second = (f"kite-{row['order_id']}" for row in fake.book[:2])
    assert [(o.tag, o.price) for o in orders] == [(first, 159.82), (second, 160.1), ("K7", 0)]


async def test_positions_maps_net_rows(fake, broker):
    fake.net_positions = [
        {
            "tradingsymbol": "NIFTY26NOVFUT",
            "exchange": "NFO",
            "product": "NRML",
            "quantity": -75,
            "average_price": 26010.5,
            "last_price": 26000.0,
            "realised": 0,
            "unrealised": 787.5,
        },
        {"tradingsymbol": "X", "exchange": "NSE", "product": "CO", "quantity": 1},
    ]
    [position] = await run(broker.positions())
    assert position.symbol == "NIFTY26NOVFUT" and position.quantity == -75
    assert position.product is Product.NRML
    assert position.unrealized_paise == 78750 and position.avg_price == 26010.5


# ------------------------------------------------------------------ secrets


async def test_secrets_never_in_messages_reprs_or_logs(fake, broker, caplog):
    caplog.set_level(logging.DEBUG)
    # a failure path of each kind: timeout + lookup, token refused on read and place
    fake.fault("place", ("accept_delay", 1.0))
    await run(broker.place(make_order()))
    fake.fault("orders", ("error", 503, "NetworkException", f"echo {ACCESS_TOKEN}"))
    await run(broker.open_orders())
    errors: list[BaseException] = []
    fake.token = "rotated"
    for call in (broker.positions(), broker.place(make_order(tag="TAG0002"))):
        with pytest.raises(TokenExpired) as info:
            await run(call)
        errors.append(info.value)
    texts = [caplog.text, repr(broker), str(broker)] + [repr(e) + str(e) for e in errors]
    for text in texts:
        assert ACCESS_TOKEN not in text
    assert "***" in caplog.text  # the echoed token was redacted, not dropped silently


# ------------------------------------------------------------------ the real local exchange


def _sim_available() -> bool:
    try:
        import kitetui.sim.exchange
        import kitetui.sim.market
        import kitetui.sim.rest  # noqa: F401
    except Exception:
        return False
    return True


needs_sim = pytest.mark.skipif(not _sim_available(), reason="kitetui.sim is not available")
SIM_KEY, SIM_SECRET = "simkey", "SECRETsimSECRET321"


class SimServer(ThreadedServer):
    """kitetui.sim's REST app on 127.0.0.1 in a thread, one SBIN candle day loaded."""

    thread_name = "sim-rest"

    def __init__(self, **exchange_options: Any) -> None:
        from kitetui.sim.exchange import SimAccount, SimExchange
        from kitetui.sim.market import MarketSource, SimMarket
        from kitetui.sim.rest import create_app

        super().__init__()
        market = SimMarket(
            [MarketSource("pkg:replay/SBIN.csv.gz", symbol="SBIN")],
            ["pkg:replay/nse_instruments.csv"],
        )
        market.advance_by(600)  # ten minutes into the first session: SBIN has a price
        self.exchange = SimExchange(
            market, [SimAccount(SIM_KEY, SIM_SECRET, "SIM001")], **exchange_options
        )
        self._app = create_app(self.exchange, rate_limits=True)

    def make_app(self) -> web.Application:
        return self._app

    def login(self) -> str:
        from kitetui.kite.session import exchange_token

        request_token = self.exchange.issue_request_token(SIM_KEY)
        return exchange_token(SIM_KEY, SIM_SECRET, request_token, root=self.url).value


@pytest.fixture
def sim():
    with SimServer(fill_on_placement=True) as server:
        yield server


@pytest.fixture
def sim_broker(sim):
    token = sim.login()
    options: dict[str, Any] = {
        "timeout": 0.5,
        "backoff_s": 0.01,
        "unknown_lookups": 2,
        "unknown_lookup_delay_s": 0.01,
        "cancel_poll_s": 0.01,
    }
    return KiteBroker.connect(SIM_KEY, token, root=sim.url, **options), token


async def _book(broker: KiteBroker, tag: str) -> list[dict]:
    return [o for o in await broker.orders() if o.get("tag") == tag]


@needs_sim
async def test_sim_market_order_fills_and_updates_give_the_fill(sim, sim_broker):
    broker, _ = sim_broker
    placed = await run(broker.place(make_order(order_type=OrderType.MARKET, quantity=3)))
    assert placed.status is OrderStatus.OPEN and placed.broker_order_id
    [row] = await run(_book(broker, "TAG0001"))
    order, fills = broker.apply_update(row)
    assert order.status is OrderStatus.COMPLETE
    assert [(f.fill_id, f.quantity) for f in fills] == [(f"{placed.broker_order_id}-3", 3)]
    assert fills[0].price == pytest.approx(row["average_price"])
    assert broker.apply_update(row)[1] == []  # idempotent
    [position] = [p for p in await run(broker.positions()) if p.symbol == "SBIN"]
    assert position.quantity == 3


@needs_sim
@pytest.mark.parametrize(
    ("spec", "status", "reason"),
    [
        ("place_order:timeout:1:seconds=1.5", OrderStatus.COMPLETE, ""),
        ("place_order:503", OrderStatus.REJECTED, "not placed (HTTP 503 NetworkException, not"),
        ("place_order:drop_before", OrderStatus.REJECTED, "not placed (HTTP 504 NetworkExc"),
        ("place_order:hang:1:seconds=1.5", OrderStatus.REJECTED, NOT_PLACED_REASON),
    ],
)
async def test_sim_placement_faults_resolve_by_lookup_once(sim, sim_broker, spec, status, reason):
    broker, _ = sim_broker
    sim.exchange.faults.add_spec(spec)
    if status is OrderStatus.REJECTED:
        with pytest.raises(NotAccepted) as refused:
            await run(broker.place(make_order(order_type=OrderType.MARKET)))
        assert reason in str(refused.value)
    else:
        placed = await run(broker.place(make_order(order_type=OrderType.MARKET)))
        assert placed.status is status
    again = await run(broker.place(make_order(order_type=OrderType.MARKET)))
    assert again.status is status
    rows = await run(_book(broker, "TAG0001"))
    assert len(rows) == (1 if status is OrderStatus.COMPLETE else 0)


@needs_sim
async def test_sim_rejection_after_acceptance_shows_in_lookup(sim, sim_broker):
    broker, _ = sim_broker
    sim.exchange.faults.add_spec("place_order:reject:1:message=Insufficient funds")
    placed = await run(broker.place(make_order()))
    assert placed.status is OrderStatus.OPEN  # HTTP 200: Kite's rejection comes later
    found = await run(broker.lookup("TAG0001"))
    assert found is not None and found.status is OrderStatus.REJECTED
    assert found.reason == "Insufficient funds"


@needs_sim
async def test_sim_reads_retry_and_token_expiry_halts(sim, sim_broker):
    broker, token = sim_broker
    sim.exchange.faults.add_spec("orders:503:2")
    assert await run(broker.open_orders()) == []
    sim.exchange.faults.add_spec("*:token")
    with pytest.raises(TokenExpired) as info:
        await run(broker.positions())
    assert token not in str(info.value)


@needs_sim
async def test_sim_limit_order_cancel(sim, sim_broker):
    broker, _ = sim_broker
    placed = await run(broker.place(make_order(price=450.0)))  # below the market, in the circuit
    assert placed.status is OrderStatus.OPEN
    assert [o.tag for o in await run(broker.open_orders())] == ["TAG0001"]
    cancelled = await run(broker.cancel("TAG0001"))
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert await run(broker.open_orders()) == []


@needs_sim
async def test_sim_our_rate_limiter_keeps_the_sim_from_answering_429(sim, sim_broker):
    broker, _ = sim_broker
    placed = [await run(broker.place(make_order(tag=f"RL{i:03d}", price=450.0))) for i in range(12)]
    assert all(p.status is OrderStatus.OPEN for p in placed), [p.reason for p in placed]
    assert broker.limits.orders_today == 12


@needs_sim
def test_sim_doctor_connectivity(sim, tmp_path):
    import io
    from datetime import datetime

    from kitetui.clock import IST
    from kitetui.kite.session import AccessToken, run_doctor, save_token, trading_date

    now = datetime.now(IST)
    token = AccessToken(sim.login(), "SIM001", trading_date(now))
    save_token(tmp_path / "token.json", token)
    out = io.StringIO()
    code = run_doctor(
        Path(__file__).resolve().parents[2] / "configs" / "rehearsal.yaml",  # a Kite config
        stdout=out,
        env={"KITE_API_KEY": SIM_KEY, "KITE_API_SECRET": SIM_SECRET},
        token_path=tmp_path / "token.json",
        root=sim.url,
        database=tmp_path / "state.db",
        now=now,
    )
    assert code == 0, out.getvalue()
    assert "GET /user/profile in" in out.getvalue()
    assert token.value not in out.getvalue() and SIM_SECRET not in out.getvalue()


# ------------------------------------------------------------------ modifying


async def _resting_stop(broker: KiteBroker, sim: SimServer) -> Order:
    """A SELL SL-M well below the market: it rests TRIGGER PENDING."""
    ltp = sim.exchange.market.last_price("NSE:SBIN")
    trigger = round(ltp * 0.9, 1)
    stop = await run(
        broker.place(
            make_order(
                tag="STOP0001",
                side=Side.SELL,
                order_type=OrderType.SL_M,
                price=0.0,
                trigger_price=trigger,
                purpose=OrderPurpose.STOP,
            )
        )
    )
    assert stop.status is OrderStatus.TRIGGER_PENDING, stop.reason
    return stop


@needs_sim
async def test_sim_modify_turns_a_stop_into_a_protected_market_close(sim, sim_broker):
    broker, _ = sim_broker
    await _resting_stop(broker, sim)
    changed = await run(broker.modify("STOP0001", ts_ns=0, order_type=OrderType.MARKET))
    # Kite works a protected market order as a LIMIT at its band: filled at once here
    [row] = await run(_book(broker, "STOP0001"))
    assert row["order_type"] == "LIMIT" and row["status"] == "COMPLETE"
    assert changed is None  # no longer working: its fill comes as an update
    assert float(row["market_protection"]) == 0 and "mktp" in row["tags"]  # as Kite shows it


@needs_sim
async def test_sim_modify_of_a_finished_order_returns_none(sim, sim_broker):
    broker, _ = sim_broker
    await _resting_stop(broker, sim)
    assert (await run(broker.cancel("STOP0001"))).status is OrderStatus.CANCELLED
    assert await run(broker.modify("STOP0001", ts_ns=0, trigger_price=500.0)) is None


@needs_sim
async def test_sim_modify_refused_keeps_the_order(sim, sim_broker):
    from kitetui.brokers.base import ModifyRefused

    broker, _ = sim_broker
    stop = await _resting_stop(broker, sim)
    with pytest.raises(ModifyRefused):  # off the tick: refused, the stop stands
        await run(broker.modify("STOP0001", ts_ns=0, trigger_price=stop.trigger_price + 0.013))
    [row] = await run(_book(broker, "STOP0001"))
    assert row["status"] == "TRIGGER PENDING" and row["trigger_price"] == stop.trigger_price


@needs_sim
async def test_sim_modify_answered_429_is_retried(sim, sim_broker):
    broker, _ = sim_broker
    stop = await _resting_stop(broker, sim)
    sim.exchange.faults.add_spec("modify_order:429:2")
    lower = round(stop.trigger_price - 1.0, 1)
    changed = await run(broker.modify("STOP0001", ts_ns=0, trigger_price=lower))
    assert changed is not None and changed.trigger_price == lower


@needs_sim
async def test_sim_modify_past_kites_25_is_refused_not_retried(sim, sim_broker):
    """Probe D: Kite answers a 26th modification with a NetworkException, which was
    retried as a network error and then said "unavailable", for good: the exit manager
    tried again at every service and never replaced its close (a dead limit, the market
    running away). It is a refusal: the caller cancels and replaces."""
    from kitetui.brokers.base import ModifyRefused

    broker, _ = sim_broker
    stop = await _resting_stop(broker, sim)
    for step in range(25):
        trigger = round(stop.trigger_price - 0.05 * (1 + step % 2), 2)
        assert await run(broker.modify("STOP0001", ts_ns=0, trigger_price=trigger)) is not None
    with pytest.raises(ModifyRefused, match="Maximum allowed order modifications"):
        await run(broker.modify("STOP0001", ts_ns=0, trigger_price=stop.trigger_price))


def test_a_print_reaches_nothing_at_kite_so_it_offers_no_views_and_no_band(broker):
    """Kite works its own orders: the gate's views are empty and so is the stops' band,
    so a bar of a symbol with a stop at Kite is never matched by the desk."""
    resting, untaken = broker.watched()
    assert "SBIN" not in resting and not untaken
    assert dict(broker.stop_bands()) == {}
    with pytest.raises(TypeError):
        broker.stop_bands()["SBIN"] = (1.0, 2.0)  # type: ignore[index]
