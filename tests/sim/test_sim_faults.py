"""Fault injection: each fault gives the exception the real kiteconnect client raises,
placement timeouts leave the order in the book (findable by tag), and the spec parser,
the admin route and the CLI flag agree."""

from __future__ import annotations

import time

import pytest
import requests
from kiteconnect import exceptions as kex

from kitetui.sim.faults import FaultInjector, FaultSpecError, parse_fault_spec
from kitetui.sim.server import build_arg_parser

FUT = "NIFTY22NOVFUT"


def _place(kite, tag: str | None = None, price: float = 17000.0):
    return kite.place_order("regular", "NFO", FUT, "BUY", 50, "NRML", "LIMIT", price=price, tag=tag)


@pytest.fixture
def live(sim_rest):
    sim_rest.call(sim_rest.market.advance_by, 60)
    return sim_rest, sim_rest.kite(timeout=1.0)


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (429, kex.NetworkException),
        (500, kex.GeneralException),
        (502, kex.NetworkException),
        (503, kex.NetworkException),
        (504, kex.NetworkException),
    ],
)
def test_http_faults(live, status, exception):
    sim, kite = live
    sim.call(sim.exchange.faults.add, "orders", status, 2)
    for _ in range(2):
        with pytest.raises(exception) as error:
            kite.orders()
        assert error.value.code == status
    assert kite.orders() == []  # the fault is spent


def test_placement_timeout_leaves_the_order_in_the_book(live):
    sim, kite = live
    sim.call(sim.exchange.faults.add_spec, "place_order:timeout")
    with pytest.raises(requests.exceptions.Timeout):
        _place(kite, tag="lookme0000000001")
    # kitetui's rule: look the tag up before retrying. It is there.
    (order,) = [o for o in kite.orders() if o["tag"] == "lookme0000000001"]
    assert order["status"] == "OPEN"
    assert order["order_id"].isdigit()


def test_placement_timeout_with_a_late_answer(live):
    sim, kite = live
    sim.call(sim.exchange.faults.add, "place_order", "timeout", seconds=1.5)
    with pytest.raises(requests.exceptions.Timeout):  # the client's 1 s, before the answer
        _place(kite, tag="late")
    assert [o["tag"] for o in kite.orders()] == ["late"]


def test_drop_before_and_hang_create_nothing(live):
    sim, kite = live
    sim.call(sim.exchange.faults.add_spec, "place_order:drop_before")
    with pytest.raises(kex.NetworkException) as error:
        _place(kite, tag="dropped")
    assert error.value.code == 504
    sim.call(sim.exchange.faults.add_spec, "place_order:hang")
    with pytest.raises(requests.exceptions.Timeout):
        _place(kite, tag="hung")
    assert kite.orders() == []
    assert _place(kite, tag="third")  # faults spent: back to normal


def test_slow_response(live):
    sim, kite = live
    sim.call(sim.exchange.faults.add_spec, "profile:delay:1:seconds=0.4")
    started = time.monotonic()
    assert kite.profile()["user_id"] == "ST0001"
    assert time.monotonic() - started >= 0.4


def test_token_fault_expires_the_session(live):
    sim, kite = live
    hook_calls = []
    kite.set_session_expiry_hook(lambda: hook_calls.append(1))
    sim.call(sim.exchange.faults.add_spec, "*:token")
    with pytest.raises(kex.TokenException):
        kite.positions()
    with pytest.raises(kex.TokenException):  # the token stays dead
        kite.holdings()
    assert hook_calls == [1, 1]


def test_reject_fault(live):
    sim, kite = live
    sim.call(
        sim.exchange.faults.add_spec,
        "place_order:reject:1:message=Insufficient funds. Required margin is 1.00",
    )
    order_id = _place(kite, tag="rej")
    (row,) = kite.orders()
    assert row["order_id"] == order_id and row["status"] == "REJECTED"
    assert row["status_message"].startswith("Insufficient funds")
    assert _place(kite) and kite.orders()[-1]["status"] == "OPEN"


def test_custom_error_type_and_path_glob(live):
    sim, kite = live
    sim.call(
        sim.exchange.faults.add,
        "/portfolio/*",
        400,
        1,
        error_type="OrderException",
        message="nope",
    )
    with pytest.raises(kex.OrderException, match="nope"):
        kite.positions()
    assert kite.holdings()


def test_admin_route(live):
    sim, kite = live
    url = f"{sim.url}/_sim/faults"
    armed = requests.post(url, json={"spec": "trades:503:*"}, timeout=3).json()["data"]
    assert armed["count"] is None and armed["status"] == 503
    for _ in range(3):
        with pytest.raises(kex.NetworkException):
            kite.trades()
    listed = requests.get(url, timeout=3).json()["data"]
    assert [f["spec"] for f in listed] == ["trades:503:*"]
    bad = requests.post(url, json={"spec": "trades:teapot"}, timeout=3)
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["message"]
    fields = {"route": "margins", "kind": "delay", "seconds": 0.1}
    assert requests.post(url, json=fields, timeout=3).json()["data"]["kind"] == "delay"
    assert requests.delete(url, timeout=3).json()["data"] is True
    assert kite.trades() == []
    assert requests.get(url, timeout=3).json()["data"] == []


def test_ticker_fault_hooks():
    faults = FaultInjector()
    seen = []
    faults.on_add(seen.append)
    faults.add_spec("ticker:silent:1:seconds=3")
    faults.add_spec("ticker:drop:2")
    assert faults.take("orders") is None  # ticker faults never hit REST routes
    first = faults.take_ticker()
    assert (first.kind, first.seconds) == ("silent", 3.0)
    assert [faults.take_ticker().kind for _ in range(2)] == ["drop", "drop"]
    assert faults.take_ticker() is None and len(seen) == 2


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("place_order:timeout", {"route": "place_order", "kind": "timeout", "count": 1}),
        ("orders:503:3", {"kind": "http", "status": 503, "count": 3}),
        ("quote:429:*", {"count": None}),
        ("*:token", {"route": "*", "kind": "token"}),
        ("profile:delay:2:seconds=1.5", {"seconds": 1.5, "count": 2}),
        ("place_order:reject:1:message=a, b: c", {"message": "a, b: c"}),
        ("ticker:silent", {"seconds": 10.0}),
        ("/orders*:502", {"route": "/orders*", "status": 502}),
    ],
)
def test_spec_parser(spec, expected):
    parsed = parse_fault_spec(spec)
    assert {key: parsed[key] for key in expected} == expected
    assert FaultInjector().add(**parsed).spec()  # round-trips into a spec string


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("orders", "missing KIND"),
        ("ordres:500", "unknown route"),
        ("orders:teapot", "unknown fault kind"),
        ("orders:500:2.5", "whole number"),
        ("orders:500:0", ">= 1"),
        ("orders:200", "4xx/5xx"),
        ("orders:delay:1:secs=2", "unknown option"),
        ("orders:delay:1:seconds=-1", "seconds"),
        ("orders:drop", "ticker fault"),
        ("ticker:500", "ticker takes"),
        ("orders:reject", "place_order only"),
    ],
)
def test_spec_parser_errors(spec, message):
    with pytest.raises(FaultSpecError, match=message):
        parse_fault_spec(spec)


def test_cli_flags(capsys):
    parser = build_arg_parser()
    args = parser.parse_args(
        ["--fault", "place_order:timeout:1", "--fault", "orders:503:2", "--speed", "max"]
    )
    assert args.fault == ["place_order:timeout:1", "orders:503:2"] and args.speed == "max"
    with pytest.raises(SystemExit):
        parser.parse_args(["--fault", "orders:nonsense"])
    assert "unknown fault kind" in capsys.readouterr().err


async def test_server_applies_ticker_faults():
    """``ticker:drop`` armed at run time closes the live WebSocket (server wiring)."""
    import asyncio

    from sim_support import API_KEY, API_SECRET, sim_config
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from kitetui.sim.server import SimServer

    server = SimServer(sim_config(), secrets={API_KEY: API_SECRET})
    await server.start()
    try:
        if server.ticker is None:
            pytest.skip(server.ticker_note)
        exchange = server.exchange
        token = exchange.issue_request_token(API_KEY)
        session = exchange.create_session(API_KEY, token, exchange.account(API_KEY).checksum(token))
        url = f"{server.ws_url}/?api_key={API_KEY}&access_token={session['access_token']}"
        async with connect(url, open_timeout=5) as ws:
            await asyncio.wait_for(ws.recv(), timeout=5)  # a heartbeat: the feed is alive
            exchange.faults.add_spec("ticker:drop")
            with pytest.raises(ConnectionClosed):
                for _ in range(20):
                    await asyncio.wait_for(ws.recv(), timeout=5)
        assert exchange.faults.active() == []
    finally:
        await asyncio.wait_for(server.stop(), timeout=20)


def test_server_says_each_load_warning_at_start():
    """What the market met loading its data (here a symbol in no instrument master, given
    a synthetic token) is said on the way up, not only kept in ``load_events``."""
    from sim_support import API_KEY, API_SECRET, SOURCES, sim_config

    from kitetui.sim.server import SimServer

    said: list[str] = []
    sources = [*SOURCES, {"symbol": "NOSUCH", "path": "pkg:replay/SBIN.csv.gz"}]
    server = SimServer(
        sim_config(replay={"speed": "max", "sources": sources}),
        secrets={API_KEY: API_SECRET},
        warn=said.append,
    )
    assert any(e.level == "WARNING" for e in server.market.load_events)
    assert any("NSE:NOSUCH is not in the instrument masters" in line for line in said), said
