"""The local ticker server and the live feed client, end to end.

Three layers, three ways of running:

* ``TickerServer`` alone (asyncio only, no Twisted): driven in-process by a plain
  ``websockets`` client or a raw socket, with fake exchange/market objects.
* ``KiteFeed``'s pure parts (tick conversion, subscription diffing): in-process,
  without starting anything.
* ``KiteFeed`` on the REAL ``kiteconnect.KiteTicker`` against a ``TickerServer``: the
  Twisted reactor is process-global and can never be restarted, so all of these
  scenarios run in ONE subprocess for this module (``ticker_feed_scenarios.py``, run
  with ``sys.executable`` and ``TZ=Asia/Kolkata``) that prints JSON facts; a
  module-scoped fixture runs it once and each test asserts on its scenario. A
  subprocess rather than a session-scoped reactor keeps pytest's own process free of
  a reactor thread that could never be stopped or reset between tests, and makes a
  wedged reactor a bounded, visible failure (``timeout``) instead of a hung run.

Every wait is bounded; everything listens on 127.0.0.1 with OS-chosen ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from base64 import b64encode
from pathlib import Path
from typing import Any

import pytest
from kiteconnect import KiteTicker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kitetui.domain import Tick
from kitetui.market.kite_feed import (
    MAX_INSTRUMENTS_PER_CONNECTION,
    FeedState,
    KiteFeed,
    SubscriptionLimitError,
)
from kitetui.sim import packets as p
from kitetui.sim.ticker import TickerServer, quote_state_of

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "ticker_feed_scenarios.py"
_spec = importlib.util.spec_from_file_location("ticker_feed_scenarios", SCRIPT)
assert _spec is not None and _spec.loader is not None
sc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sc)

STEP_TIMEOUT = 3.0


def decode(frame: bytes) -> list[dict]:
    return KiteTicker._parse_binary(KiteTicker.__new__(KiteTicker), frame)


# =========================================================================== server alone


@pytest.fixture
async def server():
    exchange = sc.FakeExchange()
    market = sc.FakeMarket()
    market.states = {token: state for token, (_, state) in sc.initial_states().items()}
    srv = TickerServer(exchange, market, heartbeat_s=0.2)
    market.server = srv
    await srv.start()
    try:
        yield srv
    finally:
        await asyncio.wait_for(srv.stop(), 10)


def url(srv: TickerServer, token: str = sc.GOOD_TOKEN) -> str:
    return f"{srv.url}?api_key={sc.API_KEY}&access_token={token}"


async def recv(ws: Any, timeout: float = STEP_TIMEOUT) -> Any:
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_ticks(ws: Any, timeout: float = STEP_TIMEOUT) -> list[dict]:
    """The next non-heartbeat binary message, decoded by the real client's parser."""
    deadline = time.monotonic() + timeout
    while True:
        message = await recv(ws, max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes) and len(message) > 1:
            return decode(message)


async def recv_text(ws: Any, timeout: float = STEP_TIMEOUT) -> dict:
    """The next text message as JSON, skipping heartbeats."""
    deadline = time.monotonic() + timeout
    while True:
        message = await recv(ws, max(0.01, deadline - time.monotonic()))
        if isinstance(message, str):
            return json.loads(message)


async def send(ws: Any, action: str, value: Any) -> None:
    await ws.send(json.dumps({"a": action, "v": value}))


@pytest.mark.parametrize(
    "query",
    [
        f"?api_key={sc.API_KEY}&access_token=wrong",
        f"?api_key=other&access_token={sc.GOOD_TOKEN}",
        f"?api_key={sc.API_KEY}",
        "",
    ],
)
async def test_handshake_with_bad_credentials_is_refused_with_403(server, query: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.url + "/" + query, open_timeout=STEP_TIMEOUT):
            pass
    assert info.value.response.status_code == 403
    assert server.handshakes_refused == 1
    assert server.connection_count == 0


async def test_a_fourth_connection_per_api_key_is_refused_with_429(server) -> None:
    """Kite allows 3 WebSocket connections per api_key (docs/kite-contract.md §4.1, §5;
    staff, kite.trade forum 7069); users see a 4th refused at the upgrade as "WebSocket
    connection upgrade failed (429 - TooManyRequests)" (forum 8500, 40313). A closed
    connection frees its place."""
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(connect(url(server)))
        for _ in range(2):
            await stack.enter_async_context(connect(url(server)))
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server), open_timeout=STEP_TIMEOUT):
                pass
        assert info.value.response.status_code == 429
        assert (server.handshakes_refused, server.connection_count) == (1, 3)
        await first.close()
        deadline = time.monotonic() + STEP_TIMEOUT
        while server.connection_count > 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        async with connect(url(server)) as again:
            await send(again, "subscribe", [sc.INFY])
            assert await recv_ticks(again)


async def test_subscribe_streams_quote_by_default_and_repeats_are_idempotent(server) -> None:
    async with connect(url(server)) as ws:
        await send(ws, "subscribe", [sc.INFY, sc.INFY])
        (tick,) = await recv_ticks(ws)
        assert (tick["instrument_token"], tick["mode"]) == (sc.INFY, "quote")
        assert tick["last_price"] == 1573.15
        await send(ws, "subscribe", [sc.INFY])  # the client does this after a reconnect
        # Nothing new to send: the next message is a heartbeat, not a packet.
        assert await recv(ws) == p.HEARTBEAT
        (info,) = server.connections()
        assert info.modes == {sc.INFY: "quote"}
        assert info.packets_sent == 1


async def test_mode_changes_layout_and_ignores_unsubscribed_tokens(server) -> None:
    async with connect(url(server)) as ws:
        await send(ws, "subscribe", [sc.INFY, sc.NIFTY_50])
        await recv_ticks(ws)
        await send(ws, "mode", ["full", [sc.INFY, sc.NIFTY_50, sc.USDINR]])
        ticks = await recv_ticks(ws)
        assert {(t["instrument_token"], t["mode"]) for t in ticks} == {
            (sc.INFY, "full"),
            (sc.NIFTY_50, "full"),
        }
        index = next(t for t in ticks if t["instrument_token"] == sc.NIFTY_50)
        assert index["tradable"] is False and "depth" not in index
        infy = next(t for t in ticks if t["instrument_token"] == sc.INFY)
        assert infy["depth"]["buy"][0] == {"quantity": 10, "price": 1573.15, "orders": 1}
        assert server.connections()[0].modes == {sc.INFY: "full", sc.NIFTY_50: "full"}
        await send(ws, "mode", ["ltp", [sc.INFY]])
        (ltp,) = await recv_ticks(ws)
        assert ltp == {
            "tradable": True,
            "mode": "ltp",
            "instrument_token": sc.INFY,
            "last_price": 1573.15,
        }


async def test_publish_sends_one_frame_with_changed_subscribed_tokens_only(server) -> None:
    market = server.market
    async with connect(url(server)) as ws:
        await send(ws, "subscribe", [sc.INFY, sc.USDINR])
        await send(ws, "mode", ["full", [sc.USDINR]])
        seen: set[int] = set()
        while seen != {sc.INFY, sc.USDINR}:  # the subscription snapshots
            seen |= {t["instrument_token"] for t in await recv_ticks(ws)}
        before = server.connections()[0].frames_sent
        market.step({sc.USDINR: {"last_price": 74.62}, sc.NIFTY_FUT: {"last_price": 15_900.0}})
        (tick,) = await recv_ticks(ws)
        assert (tick["instrument_token"], tick["last_price"]) == (sc.USDINR, 74.62)
        market.step({sc.INFY: {"last_price": 1580.0}, sc.USDINR: {"last_price": 74.63}})
        ticks = await recv_ticks(ws)
        assert [(t["instrument_token"], t["last_price"]) for t in ticks] == [
            (sc.INFY, 1580.0),
            (sc.USDINR, 74.63),
        ]
        assert server.connections()[0].frames_sent == before + 2
        await send(ws, "unsubscribe", [sc.INFY])
        await asyncio.sleep(0.05)
        market.step({sc.INFY: {"last_price": 1581.0}})
        assert await recv(ws) == p.HEARTBEAT


async def test_more_than_3000_instruments_on_one_connection_is_refused(server) -> None:
    assert server.max_instruments == 3000
    async with connect(url(server), max_size=None) as ws:
        await send(ws, "subscribe", list(range(1 << 8, 3001 << 8, 1 << 8)))  # 3000 tokens
        await send(ws, "subscribe", [999_999_001])
        message = await recv(ws)
        assert isinstance(message, str)
        error = json.loads(message)
        assert error["type"] == "error" and "3000" in error["data"]
        assert len(server.connections()[0].modes) == 3000
        # Re-subscribing known tokens is still fine at the limit.
        await send(ws, "subscribe", [1 << 8])
        assert await recv(ws) == p.HEARTBEAT
    async with connect(url(server)) as ws:
        await send(ws, "subscribe", list(range(1, 3002)))  # 3001 in one message
        assert (await recv_text(ws))["type"] == "error"
        assert server.connections()[-1].modes == {}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"a": "subscribe", "v": "408065"}',
        '{"a": "mode", "v": ["x", [1]]}',
        '{"a": "fly", "v": []}',
    ],
)
async def test_malformed_messages_get_an_error_text_and_keep_the_socket(server, text) -> None:
    async with connect(url(server)) as ws:
        await ws.send(text)
        message = await recv_text(ws)
        assert message["type"] == "error"
        await send(ws, "subscribe", [sc.INFY])
        assert (await recv_ticks(ws))[0]["instrument_token"] == sc.INFY


async def test_idle_connection_gets_one_byte_heartbeats(server) -> None:
    # How far apart they come is a figure of scripts/bench.py (8b), not an assertion.
    async with connect(url(server)) as ws:
        for _ in range(4):
            assert await recv(ws) == p.HEARTBEAT
        assert server.connections()[0].heartbeats_sent >= 4


async def test_order_updates_go_to_the_owners_connections_only(server) -> None:
    server.exchange.tokens[(sc.API_KEY, "other_token")] = "ZZ9999"
    async with connect(url(server)) as mine, connect(url(server, "other_token")) as other:
        order = {"order_id": "1", "user_id": sc.USER, "status": "OPEN", "meta": {}}
        server.exchange.emit(order)
        assert await recv_text(mine) == {"type": "order", "data": order}
        assert await recv(other) == p.HEARTBEAT
        # From another thread (the exchange may run anywhere).
        thread_order = {**order, "status": "COMPLETE"}
        await asyncio.to_thread(server.exchange.emit, thread_order)
        assert (await recv_text(mine))["data"]["status"] == "COMPLETE"


async def test_drop_all_aborts_without_a_close_frame(server) -> None:
    async with connect(url(server)) as ws:
        await send(ws, "subscribe", [sc.INFY])
        await recv_ticks(ws)
        assert server.drop_all() == 1
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await recv(ws)
        assert info.value.rcvd is None  # no close frame: the client reports 1006
    await asyncio.wait_for(_until(lambda: server.connection_count == 0), STEP_TIMEOUT)


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_go_silent_sends_nothing_but_keeps_the_socket_and_new_ones_talk(server) -> None:
    async with connect(url(server)) as ws:
        await send(ws, "subscribe", [sc.INFY])
        await recv_ticks(ws)
        server.go_silent(0.8)
        server.market.step({sc.INFY: {"last_price": 1590.0}})
        server.exchange.emit({"order_id": "7", "user_id": sc.USER})
        with pytest.raises(TimeoutError):
            await recv(ws, timeout=0.6)  # heartbeat_s is 0.2: silence, not idleness
        async with connect(url(server)) as fresh:  # a reconnect is not silent
            assert await recv(fresh) == p.HEARTBEAT
        # After the silence: the withheld order update, then life as usual. The tick
        # sent during the silence is lost, as on a stalled Kite socket.
        assert json.loads(await recv(ws))["data"]["order_id"] == "7"
        assert await recv(ws) == p.HEARTBEAT
        server.market.step({sc.INFY: {"last_price": 1591.0}})
        assert (await recv_ticks(ws))[0]["last_price"] == 1591.0


async def test_server_never_sends_pings_or_pongs(server) -> None:
    """Raw socket: every frame the server sends an idle client is a binary heartbeat."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /?api_key={sc.API_KEY}&access_token={sc.GOOD_TOKEN} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101")
    assert b"permessage-deflate" not in head.lower()
    opcodes = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            first, second = await asyncio.wait_for(reader.readexactly(2), 0.5)
        except TimeoutError:
            break
        payload = await reader.readexactly(second & 0x7F)
        opcodes.append((first & 0x0F, payload))
    writer.close()
    assert len(opcodes) >= 3
    assert all(frame == (0x2, b"\x00") for frame in opcodes), opcodes


# =========================================================================== KiteFeed, pure


def _feed(**kwargs: Any) -> KiteFeed:
    loop = asyncio.new_event_loop()
    loop.close()  # never run: these tests touch only the pure parts
    symbols = {token: symbol for token, (symbol, _) in sc.initial_states().items()}
    return KiteFeed(
        sc.API_KEY,
        sc.GOOD_TOKEN,
        loop=loop,
        on_ticks=lambda ticks: None,
        symbols_by_token=symbols,
        **kwargs,
    )


def _kite_ticks(mode: str, **changes: Any) -> list[dict]:
    states = sc.initial_states()
    items = []
    for token, (_, state) in states.items():
        items.append((token, mode, state.__class__(**{**_fields(state), **changes})))
    return decode(p.encode_many(items))


def _fields(state: p.QuoteState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


def test_full_ticks_convert_with_exchange_time_volume_delta_and_oi() -> None:
    feed = _feed()
    first = feed._r_convert(_kite_ticks("full"))
    ts = sc.EXCHANGE_TS * 1_000_000_000
    assert first == [
        Tick("INFY", ts, 1573.15, 7, 0),  # first packet: last traded quantity
        Tick("NIFTY21JULFUT", ts, 15_834.6, 7, 11_250_300),
        Tick("USDINR21JULFUT", ts, 74.6125, 7, 2_005_418),
        Tick("EURINR21JULFUT", ts, 88.1234, 7, 4_321),
        Tick("NIFTY 50", ts, 15_834.35, 0, 0),  # an index has no volume
    ]
    second = feed._r_convert(_kite_ticks("full", volume_traded=1_040, last_price=10.0))
    assert [t.qty for t in second] == [40, 40, 40, 40, 0]
    unchanged = feed._r_convert(_kite_ticks("full", volume_traded=1_040, last_price=10.0))
    assert [t.qty for t in unchanged] == [0] * 5  # a quote change without a trade
    new_day = feed._r_convert(_kite_ticks("full", volume_traded=3, last_traded_quantity=3))
    assert [t.qty for t in new_day][:4] == [3] * 4


def test_full_ticks_fall_back_to_last_trade_time_then_receive_time() -> None:
    feed = _feed()
    (ltt, *_) = feed._r_convert(_kite_ticks("full", exchange_timestamp=0))
    assert ltt.ts_ns == (sc.EXCHANGE_TS - 1) * 1_000_000_000
    before = time.time_ns()
    quote = feed._r_convert(_kite_ticks("quote"))
    ltp = feed._r_convert(_kite_ticks("ltp"))
    after = time.time_ns()
    assert all(before <= t.ts_ns <= after for t in quote + ltp)
    assert [t.qty for t in ltp] == [0] * 5


def test_ticks_for_unknown_tokens_are_counted_and_skipped() -> None:
    feed = _feed()
    feed.set_instruments({sc.INFY: "INFY"})
    assert [t.symbol for t in feed._r_convert(_kite_ticks("ltp"))] == ["INFY"]
    assert feed.health().unknown_tokens == 4


def test_set_subscriptions_diffs_and_reports_unknown_symbols() -> None:
    feed = _feed()
    change = feed.set_subscriptions(["INFY", "NIFTY 50", "NOPE"])
    assert change.added == ("INFY", "NIFTY 50") and change.unknown == ("NOPE",)
    assert feed.subscriptions == {"INFY": "full", "NIFTY 50": "full"}
    feed.set_mode("ltp", ["INFY"])
    change = feed.set_subscriptions(["INFY", "USDINR21JULFUT"])
    assert change.added == ("USDINR21JULFUT",) and change.removed == ("NIFTY 50",)
    assert feed.subscriptions == {"INFY": "ltp", "USDINR21JULFUT": "full"}  # INFY kept ltp
    feed.set_subscriptions(["INFY"], mode="quote")
    assert feed.subscriptions == {"INFY": "quote"}


def test_more_than_3000_symbols_raise_and_change_nothing() -> None:
    feed = _feed()
    feed.set_instruments({(i << 8) | 1: f"S{i}" for i in range(1, 3100)})
    feed.set_subscriptions([f"S{i}" for i in range(1, 3001)])
    assert len(feed.subscriptions) == MAX_INSTRUMENTS_PER_CONNECTION
    with pytest.raises(SubscriptionLimitError, match="3000"):
        feed.set_subscriptions([f"S{i}" for i in range(1, 3002)])
    assert len(feed.subscriptions) == 3000


def test_feed_rejects_bad_modes_and_starts_closed() -> None:
    with pytest.raises(ValueError, match="mode"):
        _feed(mode="snapquote")
    feed = _feed()
    with pytest.raises(ValueError, match="mode"):
        feed.set_subscriptions(["INFY"], mode="depth")
    assert feed.state is FeedState.CLOSED
    feed.stop()  # not started: nothing to do
    assert feed.health().state is FeedState.CLOSED


# =========================================================================== real KiteTicker


@pytest.fixture(scope="module")
def scenarios() -> dict[str, Any]:
    env = {**os.environ, "TZ": "Asia/Kolkata", "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT)],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
            cwd=HERE,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scenario process timed out; stderr tail:\n{str(exc.stderr)[-3000:]}")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(f"scenario process failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def result(scenarios: dict[str, Any], name: str) -> dict[str, Any]:
    out = scenarios[name]
    assert "error" not in out, out.get("error")
    return out


def test_connect_subscribe_and_ticks_decode_in_every_mode(scenarios) -> None:
    r = result(scenarios, "modes")
    assert r["connected"] == "CONNECTED"  # within the scenario's bounded wait
    assert r["change"]["unknown"] == ["NOT_A_SYMBOL"]
    assert r["got_full"]
    ts = sc.EXCHANGE_TS * 1_000_000_000
    # (qty of the first full tick depends on whether the quote snapshot came first.)
    assert {sym: [t, price, oi] for sym, (_, t, price, _qty, oi) in r["full"].items()} == {
        "INFY": [ts, 1573.15, 0],
        "NIFTY21JULFUT": [ts, 15_834.6, 11_250_300],
        "USDINR21JULFUT": [ts, 74.6125, 2_005_418],
        "EURINR21JULFUT": [ts, 88.1234, 4_321],
        "NIFTY 50": [ts, 15_834.35, 0],
    }
    assert r["full"]["NIFTY 50"][3] == 0  # an index carries no volume
    # A trade: qty is the day volume's growth; OI follows.
    assert sorted(r["after_trade"]) == sorted(
        [
            ["INFY", ts, 1574.0, 25, 0],
            ["NIFTY21JULFUT", ts, 15_836.0, 150, 11_250_450],
            ["USDINR21JULFUT", ts, 74.615, 1, 2_005_418],
        ]
    )
    # quote mode: no time on the wire, so the tick is stamped on receipt.
    low, high = r["wall_window"]
    last_quote = r["quote_ticks"][-1]
    assert last_quote[2:] == [1574.5, 5, 0]
    assert low <= last_quote[1] <= high
    assert r["ltp_ticks"][-1][2:] == [1575.25, 0, 0]
    assert r["server_modes"][str(sc.INFY)] == "ltp"
    assert r["server_modes"][str(sc.USDINR)] == "full"


def test_unsubscribe_stops_the_ticks(scenarios) -> None:
    r = result(scenarios, "unsubscribe")
    assert r["removed"] == ["EURINR21JULFUT"] and r["acked"]
    assert r["bcd_ticks_after"] == 0
    assert r["infy_ticks_after"] >= 1
    assert str(sc.EURINR_BCD) not in r["server_modes"]


def test_order_update_reaches_on_order_update(scenarios) -> None:
    r = result(scenarios, "order_update")
    assert r["got"]
    assert r["orders"] == [r["sent"]]  # the other user's order never arrived


def test_bad_token_is_refused_and_not_retried(scenarios) -> None:
    r = result(scenarios, "bad_token")
    assert r["final"] == "CLOSED"
    assert "CONNECTED" not in r["states"]
    assert "403" in r["last_error"]
    assert r["refused"] == 1  # no retry after the 403 (waited 1.5 s for one)


def test_dropped_socket_reconnects_resubscribes_once_and_ticks_resume(scenarios) -> None:
    r = result(scenarios, "drop")
    assert r["dropped"] == 1 and r["lost"] and r["back"]
    assert r["reconnect_s"] > 0.5  # Twisted's first retry waits ~1 s: no hammering
    assert r["reconnects"] == 1
    assert r["resubscribed"] and r["server_modes"] == r["wanted"]
    assert r["max_subscribes_per_token"] == 1  # the client's resubscribe, nothing from us
    assert r["connections"] == 1
    assert r["resumed"]
    assert [s for _, s, _ in r["states"]] == ["RECONNECTING", "CONNECTED"]


def test_silent_feed_goes_stale_reconnects_and_recovers(scenarios) -> None:
    r = result(scenarios, "silent")
    assert r["stale"] and r["stale_events"] == 1
    assert r["stale_s"] >= sc.STALE_AFTER_S  # never stale before stale_after_s
    # Ticks again while the old socket's 60 s silence lasts: only a reconnect does that.
    assert r["back"] and r["resumed"]
    assert [s for _, s, _ in r["states"]] == ["STALE", "RECONNECTING", "CONNECTED"]
    assert r["connections"] == 1  # the silent socket was closed, not leaked


def test_heartbeats_keep_a_quiet_feed_from_going_stale(scenarios) -> None:
    r = result(scenarios, "heartbeats")
    assert r["ticks_during"] == 0
    assert r["heartbeats"] >= 1
    assert r["states"] == [] and r["stale_events"] == 0
    assert r["state"] == "CONNECTED"
    assert r["last_message_age_s"] < r["quiet_s"]  # a heartbeat arrived in the quiet


def test_stopped_feed_restarts_on_the_same_reactor(scenarios) -> None:
    r = result(scenarios, "restart")
    assert (r["closed"], r["emptied"], r["connected"]) == ("CLOSED", True, "CONNECTED")
    assert r["resubscribed"] and r["resumed"]
    assert r["connections"] == 1
    assert r["reactor_threads"] == 1
    assert r["states"] == ["CLOSED", "CONNECTING", "CONNECTED"]


def test_a_thousand_instruments_in_full_mode_all_arrive_with_latest_prices(scenarios) -> None:
    r = result(scenarios, "load")
    assert r["subscribed"] and r["all_final"]
    assert r["ticks_received"] > 1000  # several whole frames of 1000 packets got through
    assert r["packets_sent"] % 1000 == 0  # frames carry every changed token, coalesced


def test_stop_closes_the_socket_and_leaves_the_server_empty(scenarios) -> None:
    assert scenarios["stop"] == {"state": "CLOSED", "connections_after": 0}


# =========================================================================== with the sim


def test_quote_state_of_reads_a_sim_instrument_state() -> None:
    class State:
        has_data = True
        last_price = 523.9
        last_quantity = 10
        average_price = 523.5
        volume = 1_000
        open, high, low, close = 524.75, 524.8, 522.6, 520.0
        last_trade_ns = 1_680_493_560 * 1_000_000_000
        updated_ns = 1_680_493_561 * 1_000_000_000
        oi = oi_day_high = oi_day_low = 0

        def depth(self) -> dict:
            return {
                "buy": [{"price": 523.9 - i * 0.05, "quantity": 5, "orders": 1} for i in range(5)],
                "sell": [
                    {"price": 523.95 + i * 0.05, "quantity": 3, "orders": 2} for i in range(5)
                ],
            }

    state = quote_state_of(State())
    assert state is not None
    assert (state.total_buy_quantity, state.total_sell_quantity) == (25, 15)
    assert (state.last_trade_time, state.exchange_timestamp) == (1_680_493_560, 1_680_493_561)
    (tick,) = decode(p.encode_frame([p.encode_for_mode(779521, "full", state)]))
    assert tick["last_price"] == 523.9 and tick["depth"]["sell"][4]["price"] == 524.15
    no_data = State()
    no_data.has_data = False
    assert quote_state_of(no_data) is None


async def test_with_the_real_sim_exchange_and_market() -> None:
    market_mod = pytest.importorskip("kitetui.sim.market")
    exchange_mod = pytest.importorskip("kitetui.sim.exchange")
    market = market_mod.SimMarket(
        [market_mod.MarketSource("pkg:replay/SBIN.csv.gz", "candles", "SBIN", "NSE")],
        ["pkg:replay/nse_instruments.csv"],
    )
    account = exchange_mod.SimAccount("sim_key", "sim_secret", "AB1234")
    exchange = exchange_mod.SimExchange(market, [account])
    request_token = exchange.issue_request_token("sim_key")
    session = exchange.create_session("sim_key", request_token, account.checksum(request_token))
    sbin = 779521
    srv = TickerServer(exchange, market, heartbeat_s=0.3)
    await srv.start()
    try:
        with pytest.raises(InvalidStatus):
            async with connect(f"{srv.url}?api_key=sim_key&access_token=nope"):
                pass
        root = f"{srv.url}?api_key=sim_key&access_token={session['access_token']}"
        async with connect(root) as ws:
            await send(ws, "subscribe", [sbin])
            await send(ws, "mode", ["full", [sbin]])
            for _ in range(3):
                market.step()  # the server follows the market's batches by itself
            state = market.state(sbin)
            deadline = time.monotonic() + STEP_TIMEOUT
            tick: dict = {}
            while tick.get("last_price") != state.last_price or tick.get("mode") != "full":
                assert time.monotonic() < deadline, tick
                ticks = await recv_ticks(ws)
                tick = ticks[-1]
            assert tick["instrument_token"] == sbin
            assert tick["volume_traded"] == state.volume
            assert tick["depth"]["buy"][0]["price"] == state.depth()["buy"][0]["price"]
            assert tick["exchange_timestamp"].timestamp() == state.updated_ns // 10**9
            srv.drop_all()
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv(ws)
    finally:
        await asyncio.wait_for(srv.stop(), 10)
