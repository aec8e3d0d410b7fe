"""Behaviour of the simulated exchange through the real kiteconnect client: login,
token expiry, order types x products x varieties, fills as the replay moves, modify,
cancel, rejections, tags, order history, positions vs trades, rate limits."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex
from sim_support import API_KEY, API_SECRET, sim_config

from kitetui.sim.market import parse_ist
from kitetui.sim.server import SimServer, run_sim_exchange

FUT = "NIFTY22NOVFUT"


def _statuses(kite: KiteConnect, order_id: str) -> list[str]:
    return [row["status"] for row in kite.order_history(order_id)]


def _order(kite: KiteConnect, order_id: str) -> dict:
    return kite.order_history(order_id)[-1]


@pytest.fixture
def sbin(sim_rest):
    """SBIN trading at 520 (a synthetic tick), logged-in client."""
    sim_rest.tick("NSE:SBIN", 520.0, 100)
    return sim_rest, sim_rest.kite()


# ---------------------------------------------------------------------- sessions


def test_login_checksum(sim_rest):
    kite = KiteConnect(API_KEY, root=sim_rest.url, timeout=3)
    token = sim_rest.call(sim_rest.exchange.issue_request_token, API_KEY)
    with pytest.raises(kex.TokenException) as wrong:
        kite.generate_session(token, "not-the-secret")
    assert wrong.value.code == 403
    session = kite.generate_session(token, API_SECRET)
    expected = hashlib.sha256((API_KEY + token + API_SECRET).encode()).hexdigest()
    assert sim_rest.account.checksum(token) == expected
    assert session["user_id"] == "ST0001" and session["api_key"] == API_KEY
    with pytest.raises(kex.TokenException):  # a request token is single use
        KiteConnect(API_KEY, root=sim_rest.url, timeout=3).generate_session(token, API_SECRET)
    with pytest.raises(kex.TokenException):
        KiteConnect(API_KEY, root=sim_rest.url, timeout=3).generate_session("bogus", API_SECRET)
    anonymous = KiteConnect(API_KEY, root=sim_rest.url, timeout=3)
    with pytest.raises(kex.TokenException):
        anonymous.profile()


def test_token_expiry_and_logout(sim_rest):
    kite = sim_rest.kite()
    calls = []
    kite.set_session_expiry_hook(lambda: calls.append(1))
    assert kite.profile()["user_id"] == "ST0001"
    assert sim_rest.call(sim_rest.exchange.expire_access_tokens) == 1
    with pytest.raises(kex.TokenException) as expired:
        kite.orders()
    assert expired.value.code == 403 and calls == [1]
    fresh = sim_rest.kite()
    assert fresh.orders() == []
    fresh.invalidate_access_token()
    with pytest.raises(kex.TokenException):
        fresh.positions()


def test_login_route_and_ttl(sim_factory):
    now = [1_700_000_000.0]
    sim = sim_factory(clock=lambda: now[0], token_ttl_seconds=60.0)
    answer = requests.get(f"{sim.url}/connect/login", params={"api_key": API_KEY}, timeout=3)
    request_token = answer.json()["data"]["request_token"]
    kite = KiteConnect(API_KEY, root=sim.url, timeout=3)
    kite.generate_session(request_token, API_SECRET)
    assert kite.margins("equity")["enabled"] is True
    now[0] += 61
    with pytest.raises(kex.TokenException):
        kite.margins()


# ---------------------------------------------------------------------- order types


@pytest.mark.parametrize("product", ["MIS", "CNC"])
def test_equity_order_types(sbin, product):
    sim, kite = sbin
    market = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 5, product, "MARKET", tag="m1", market_protection=2
    )
    limit = kite.place_order("regular", "NSE", "SBIN", "BUY", 5, product, "LIMIT", price=519.0)
    stop = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 5, product, "SL", price=521.5, trigger_price=521.0
    )
    stop_market = kite.place_order(
        "regular",
        "NSE",
        "SBIN",
        "SELL",
        5,
        product,
        "SL-M",
        trigger_price=515.0,
        market_protection=-1,
    )
    first = _order(kite, market)
    # a protected MARKET is a LIMIT at LTP + 2 % (530.40), filled at the traded price
    assert (first["status"], first["order_type"], first["price"]) == ("COMPLETE", "LIMIT", 530.4)
    assert first["average_price"] == 520 and first["market_protection"] == 0
    assert first["tags"][-2:] == ["mktp", "mktp:2.00"]  # Kite's labels (orders.json)
    assert _order(kite, limit)["status"] == "OPEN"
    assert _order(kite, stop)["status"] == "TRIGGER PENDING"
    assert _order(kite, stop_market)["status"] == "TRIGGER PENDING"

    sim.tick("NSE:SBIN", 518.5)
    assert _order(kite, limit)["status"] == "COMPLETE"
    assert _order(kite, limit)["average_price"] == 518.5
    sim.tick("NSE:SBIN", 521.2)
    filled_stop = _order(kite, stop)
    assert filled_stop["status"] == "COMPLETE" and 521.0 <= filled_stop["average_price"] <= 521.5
    sim.tick("NSE:SBIN", 514.0)
    filled = _order(kite, stop_market)
    assert filled["status"] == "COMPLETE" and filled["average_price"] <= 514.0
    # triggered, the SL-M became a LIMIT at the automatic band (0.5 % above 500) below 514
    assert (filled["order_type"], filled["price"]) == ("LIMIT", 511.45)
    assert _statuses(kite, stop) == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "TRIGGER PENDING",
        "COMPLETE",
    ]
    assert all(o["product"] == product for o in kite.orders())


@pytest.mark.parametrize("product", ["MIS", "NRML"])
def test_futures_fill_as_the_replay_moves(sim_rest, product):
    sim = sim_rest
    sim.call(sim.market.advance_by, 60)
    kite = sim.kite()
    state = sim.market.state_for_key(f"NFO:{FUT}")
    start = state.last_price
    below = round(start - 20, 0)
    order_id = kite.place_order("regular", "NFO", FUT, "BUY", 50, product, "LIMIT", price=below)
    assert _order(kite, order_id)["status"] == "OPEN"
    # Play the recorded day until the future trades at the limit (it falls ~30 points
    # in the first ten minutes of 2022-11-18).
    for _ in range(60):
        if sim.call(lambda: sim.market.state_for_key(f"NFO:{FUT}").low) <= below:
            break
        sim.call(sim.market.advance_by, 30)
    assert state.low <= below
    done = _order(kite, order_id)
    assert done["status"] == "COMPLETE" and done["average_price"] <= below
    assert done["filled_quantity"] == 50 and done["pending_quantity"] == 0
    sl_m = kite.place_order(
        "regular",
        "NFO",
        FUT,
        "SELL",
        50,
        product,
        "SL-M",
        trigger_price=round(below - 500),
        market_protection=-1,
    )
    assert _order(kite, sl_m)["status"] == "TRIGGER PENDING"


def test_amo_waits_for_the_next_day(sim_factory):
    sim = sim_factory(rules={"liquidity_fraction": None})  # whole fills: timing is the point
    # After 3:45 PM: Zerodha blocks AMOs from 9:10 AM to 3:45 PM for F&O.
    sim.call(sim.market.advance_to, parse_ist("2022-11-18 15:50:00"))
    kite = sim.kite()
    amo = kite.place_order(
        "amo", "NFO", FUT, "BUY", 50, "NRML", "MARKET", tag="amo1", market_protection=-1
    )
    assert _order(kite, amo)["status"] == "AMO REQ RECEIVED"
    assert _order(kite, amo)["variety"] == "amo"
    sim.call(sim.market.advance_by, 3600)
    assert _order(kite, amo)["status"] == "AMO REQ RECEIVED"
    # The next data day: SBIN candles of 2023-04-03 follow the NIFTY day.
    sim.call(sim.market.advance_to, parse_ist("2023-04-03 09:20:00"))
    history = _statuses(kite, amo)
    assert history[-4:] == ["AMO REQ RECEIVED", "OPEN PENDING", "OPEN", "COMPLETE"]


# ---------------------------------------------------------------------- modify / cancel


def test_modify_and_cancel(sbin):
    sim, kite = sbin
    order_id = kite.place_order("regular", "NSE", "SBIN", "BUY", 5, "MIS", "LIMIT", price=510.0)
    assert kite.modify_order("regular", order_id, price=511.0, quantity=6) == order_id
    row = _order(kite, order_id)
    assert (row["status"], row["price"], row["quantity"]) == ("OPEN", 511, 6)
    assert _statuses(kite, order_id)[-4:] == [
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "OPEN",
    ]
    kite.modify_order("regular", order_id, price=521.0)  # now marketable: fills at once
    assert _order(kite, order_id)["status"] == "COMPLETE"
    with pytest.raises(kex.OrderException):
        kite.modify_order("regular", order_id, price=500.0)
    with pytest.raises(kex.OrderException):
        kite.cancel_order("regular", order_id)

    resting = kite.place_order("regular", "NSE", "SBIN", "SELL", 5, "MIS", "LIMIT", price=530.0)
    assert kite.cancel_order("regular", resting) == resting
    cancelled = _order(kite, resting)
    assert cancelled["status"] == "CANCELLED" and cancelled["cancelled_quantity"] == 5
    assert _statuses(kite, resting)[-2:] == ["CANCEL PENDING", "CANCELLED"]
    with pytest.raises(kex.OrderException):
        kite.cancel_order("regular", resting)
    with pytest.raises(kex.InputException):
        kite.cancel_order("regular", "999999999999999")
    sim.tick("NSE:SBIN", 531.0)
    assert _order(kite, resting)["status"] == "CANCELLED"


def test_triggered_stop_stays_triggered_after_modify(sbin):
    sim, kite = sbin
    order_id = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 5, "MIS", "SL", price=521.0, trigger_price=520.5
    )
    sim.tick("NSE:SBIN", 522.0)  # through the trigger, above the limit: rests OPEN
    assert _order(kite, order_id)["status"] == "OPEN"
    kite.modify_order("regular", order_id, price=521.5)
    assert _order(kite, order_id)["status"] == "OPEN"
    sim.tick("NSE:SBIN", 521.4)
    assert _order(kite, order_id)["status"] == "COMPLETE"


# ---------------------------------------------------------------------- rejections


INPUT_ERRORS = [
    ("regular", {"quantity": 0}, "quantity"),
    ("regular", {"order_type": "STOP"}, "order_type"),
    ("regular", {"tradingsymbol": "NOSUCH"}, "tradingsymbol"),
    ("regular", {"product": "CNC"}, "CNC"),
    ("regular", {"quantity": 30}, "lot size"),
    ("regular", {"quantity": 1850}, "higher than the maximum quantity of 1800 (36 lots)"),
    ("regular", {"order_type": "LIMIT"}, "price"),
    ("regular", {"order_type": "SL-M"}, "trigger_price"),
    ("regular", {"tag": "x" * 21}, "`tag` should be max 20 characters"),
    ("regular", {"validity": "GTC"}, "validity"),
    ("regular", {"market_protection": 101}, "market_protection"),
    ("regular", {"market_protection": -2}, "market_protection"),
    ("regular", {"market_protection": "yes"}, "failed to decode market_protection"),
    ("co", {}, "not supported"),
    ("iceberg", {}, "not supported"),
    ("regular", {"exchange": "MCX"}, "exchange"),
]


def test_input_exceptions(sim_factory):
    sim = sim_factory(freeze_limits={"NIFTY": 1800})
    sim.call(sim.market.advance_by, 60)
    kite = sim.kite()
    for variety, changes, words in INPUT_ERRORS:
        params = {
            "exchange": "NFO",
            "tradingsymbol": FUT,
            "transaction_type": "BUY",
            "quantity": 50,
            "product": "NRML",
            "order_type": "MARKET",
            "market_protection": -1,
            **changes,
        }
        with pytest.raises(kex.InputException) as error:
            kite.place_order(variety, **params)
        assert error.value.code == 400 and words in str(error.value), (changes, error.value)
    with pytest.raises(kex.InputException):
        kite.order_history("123")
    assert kite.orders() == []
    assert kite.place_order(
        "regular", "NFO", FUT, "BUY", 50, "NRML", "MARKET", market_protection=-1
    )
    assert kite.place_order(
        "regular", "NFO", FUT, "BUY", 50, "NRML", "MARKET", market_protection=2.5
    )


def test_rms_rejections_are_order_states(sbin):
    _sim, kite = sbin
    funds = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 100_000, "CNC", "MARKET", market_protection=-1
    )
    row = _order(kite, funds)
    assert row["status"] == "REJECTED" and row["status_message"].startswith("Insufficient funds")
    assert _statuses(kite, funds) == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "REJECTED"]
    tick = kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "MIS", "LIMIT", price=500.03)
    assert "Tick size" in _order(kite, tick)["status_message"]
    stop = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 1, "MIS", "SL-M", trigger_price=519.0, market_protection=-1
    )
    assert "higher than the last traded price" in _order(kite, stop)["status_message"]
    assert kite.trades() == []


# ---------------------------------------------------------------------- tags, updates


def test_tag_round_trip_and_order_updates(sbin):
    sim, kite = sbin
    updates: list[dict] = []
    sim.call(sim.exchange.on_order_update, updates.append)
    order_id = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 2, "MIS", "LIMIT", price=519.0, tag="kt0000000000abcd"
    )
    sim.tick("NSE:SBIN", 518.0)
    (row,) = [o for o in kite.orders() if o["tag"] == "kt0000000000abcd"]
    assert row["order_id"] == order_id and row["tags"] == ["kt0000000000abcd"]
    assert all(h["tag"] == "kt0000000000abcd" for h in kite.order_history(order_id))
    assert [u["status"] for u in updates] == ["OPEN", "COMPLETE"]
    assert all(u["tag"] == "kt0000000000abcd" and u["user_id"] == "ST0001" for u in updates)
    assert updates[-1]["filled_quantity"] == 2 and updates[-1]["unfilled_quantity"] == 0
    assert len(updates[-1]["checksum"]) == 64


def test_positions_match_trades(sbin):
    sim, kite = sbin
    kite.place_order("regular", "NSE", "SBIN", "BUY", 10, "MIS", "MARKET", market_protection=-1)
    sim.tick("NSE:SBIN", 525.0)
    kite.place_order("regular", "NSE", "SBIN", "SELL", 4, "MIS", "MARKET", market_protection=1)
    kite.place_order("regular", "NSE", "SBIN", "BUY", 3, "CNC", "MARKET", market_protection=0.5)
    trades = kite.trades()
    assert len(trades) == 3
    net = {p["product"]: p for p in kite.positions()["net"]}
    mis = net["MIS"]
    buys = [t for t in trades if t["product"] == "MIS" and t["transaction_type"] == "BUY"]
    sells = [t for t in trades if t["product"] == "MIS" and t["transaction_type"] == "SELL"]
    assert mis["buy_quantity"] == sum(t["quantity"] for t in buys) == 10
    assert mis["sell_quantity"] == sum(t["quantity"] for t in sells) == 4
    assert mis["quantity"] == 6 and net["CNC"]["quantity"] == 3
    buy_value = sum(t["quantity"] * t["average_price"] for t in buys)
    sell_value = sum(t["quantity"] * t["average_price"] for t in sells)
    assert mis["buy_value"] == pytest.approx(buy_value)
    assert mis["pnl"] == pytest.approx(sell_value - buy_value + 6 * 525.0)
    assert mis["realised"] + mis["unrealised"] == pytest.approx(mis["pnl"])
    assert kite.positions()["day"] == kite.positions()["net"]
    margins = kite.margins("equity")
    assert margins["utilised"]["delivery"] > 0 and margins["net"] < 5_000_000


# ---------------------------------------------------------------------- rate limits


def test_rate_limits(sim_factory):
    now = [1_700_000_000.25]
    sim = sim_factory(clock=lambda: now[0], rate_limits=True)
    sim.call(sim.market.advance_by, 60)
    kite = sim.kite()
    kite.ltp(f"NFO:{FUT}")
    with pytest.raises(kex.NetworkException) as limited:
        kite.ltp(f"NFO:{FUT}")
    assert limited.value.code == 429 and str(limited.value) == "Too many requests"
    now[0] += 1.0  # the next calendar second
    kite.quote(f"NFO:{FUT}")
    for _ in range(10):
        kite.place_order("regular", "NFO", FUT, "BUY", 50, "NRML", "LIMIT", price=17000.0)
    with pytest.raises(kex.NetworkException):
        kite.place_order("regular", "NFO", FUT, "BUY", 50, "NRML", "LIMIT", price=17000.0)
    for _ in range(10):  # other routes: 10/s of their own
        kite.orders()
    with pytest.raises(kex.NetworkException):
        kite.orders()
    now[0] += 1.0
    assert len(kite.orders()) == 10


# ---------------------------------------------------------------------- the server


async def test_run_sim_exchange_prints_and_stops():
    stop = asyncio.Event()
    lines: list[str] = []
    seen: list[object] = []

    def ready(server) -> None:
        seen.append(server)
        stop.set()

    config = sim_config(manual_clock=False)
    await asyncio.wait_for(
        run_sim_exchange(config, "127.0.0.1", 0, stop=stop, out=lines.append, ready=ready),
        timeout=20,
    )
    (line,) = lines
    assert line.startswith("sim-exchange: REST http://127.0.0.1:") and API_KEY in line
    assert "WS " in line


async def test_start_on_connect_holds_the_clock_until_a_ticker_client_connects():
    """``--start-on-connect``: a desk slow to start finds the session at its open, not
    minutes into it (a loaded machine at 600x lost the market before the desk was up)."""
    import websockets

    config = sim_config(manual_clock=False, start_on_connect=True)
    server = SimServer(config, host="127.0.0.1", port=0, secrets={API_KEY: API_SECRET})
    await server.start()
    clock = asyncio.create_task(server.run_clock())
    try:
        await asyncio.sleep(0.3)  # at "max" an unheld clock plays the whole data by now
        before = server.market.now_ns  # the first minute, played at once
        assert before == server.market.start_ns + 60_000_000_000 and not clock.done()
        assert server.market.quote(server.market.state_for_key(f"NFO:{FUT}"))["last_price"]
        kite = KiteConnect(API_KEY, root=server.rest_url, timeout=5)
        request_token = server.exchange.issue_request_token(API_KEY)
        session = await asyncio.to_thread(kite.generate_session, request_token, API_SECRET)
        url = f"{server.ws_url}?api_key={API_KEY}&access_token={session['access_token']}"
        async with websockets.connect(url):
            await asyncio.wait_for(clock, 20)  # the data plays out once a client is there
        assert server.market.now_ns > before
    finally:
        clock.cancel()
        await asyncio.gather(clock, return_exceptions=True)
        await server.stop()


def test_start_on_connect_flag():
    from kitetui.sim.server import build_arg_parser, config_from_args

    parser = build_arg_parser()
    assert not config_from_args(parser.parse_args([])).start_on_connect
    assert config_from_args(parser.parse_args(["--start-on-connect"])).start_on_connect
