"""KiteFeed + the REAL KiteTicker against TickerServer, all scenarios in one process.

Run by ``tests/sim/test_ticker_feed.py`` as ``python ticker_feed_scenarios.py`` (with
``TZ=Asia/Kolkata``): Twisted's reactor is process-global and cannot be restarted, so
every scenario that needs it runs here, in this one process, one after another on one
asyncio loop, and the last stdout line is a JSON object of *facts* (states seen, ticks
received, timings) that the tests assert on. Every wait is bounded; a scenario that
raises is recorded as ``{"error": ...}`` and the others still run. Not collected by
pytest (no ``test_`` prefix).

``--bench`` adds a longer throughput run (1000 instruments, full mode) for reporting.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kitetui.domain import Tick
from kitetui.market.kite_feed import FeedState, KiteFeed
from kitetui.sim.packets import DepthLevel, QuoteState
from kitetui.sim.ticker import TickerServer

API_KEY = "kite_key"
GOOD_TOKEN = "good_token"
USER = "AB1234"
STALE_AFTER_S = 1.0
HEARTBEAT_S = 0.25
EXCHANGE_TS = 1_625_462_487  # 2021-07-05 10:51:27 IST

# token -> (symbol, state); one instrument per layout/divisor family.
INFY = 408065  # NSE, segment 1
NIFTY_FUT = (52_223 << 8) | 2  # NFO
USDINR = (1_612 << 8) | 3  # CDS, prices ×10,000,000
EURINR_BCD = (1_000 << 8) | 6  # BCD, prices ×10,000
NIFTY_50 = 256_265  # INDICES, segment 9


def _depth(mid: float, step: float) -> tuple[tuple[DepthLevel, ...], tuple[DepthLevel, ...]]:
    bids = tuple(DepthLevel(round(mid - i * step, 7), 10 * (i + 1), i + 1) for i in range(5))
    offers = tuple(DepthLevel(round(mid + (i + 1) * step, 7), 5 * (i + 1), i + 2) for i in range(5))
    return bids, offers


def initial_states() -> dict[int, tuple[str, QuoteState]]:
    def tradable(price: float, step: float, oi: int) -> QuoteState:
        bids, offers = _depth(price, step)
        return QuoteState(
            last_price=price,
            last_traded_quantity=7,
            average_traded_price=price,
            volume_traded=1_000,
            total_buy_quantity=150,
            total_sell_quantity=75,
            open=price,
            high=price,
            low=price,
            close=price,
            last_trade_time=EXCHANGE_TS - 1,
            oi=oi,
            oi_day_high=oi,
            oi_day_low=oi,
            exchange_timestamp=EXCHANGE_TS,
            bids=bids,
            offers=offers,
        )

    return {
        INFY: ("INFY", tradable(1573.15, 0.05, 0)),
        NIFTY_FUT: ("NIFTY21JULFUT", tradable(15_834.6, 0.05, 11_250_300)),
        USDINR: ("USDINR21JULFUT", tradable(74.6125, 0.0025, 2_005_418)),
        EURINR_BCD: ("EURINR21JULFUT", tradable(88.1234, 0.0025, 4_321)),
        NIFTY_50: (
            "NIFTY 50",
            QuoteState(
                last_price=15_834.35,
                open=15_793.1,
                high=15_845.95,
                low=15_762.05,
                close=15_722.2,
                exchange_timestamp=EXCHANGE_TS,
            ),
        ),
    }


class FakeExchange:
    def __init__(self) -> None:
        self.tokens = {(API_KEY, GOOD_TOKEN): USER}
        self._callbacks: list[Callable[[dict[str, Any]], object]] = []

    def check_access_token(self, api_key: str, access_token: str) -> str | None:
        return self.tokens.get((api_key, access_token))

    def on_order_update(self, callback: Callable[[dict[str, Any]], object]) -> None:
        self._callbacks.append(callback)

    def emit(self, order: dict[str, Any]) -> None:
        for callback in self._callbacks:
            callback(order)


class FakeMarket:
    def __init__(self) -> None:
        self.states: dict[int, QuoteState] = {}
        self.server: TickerServer | None = None

    def quote_state(self, token: int) -> QuoteState | None:
        return self.states.get(token)

    def step(self, changes: dict[int, dict[str, Any]]) -> None:
        for token, fields in changes.items():
            self.states[token] = replace(self.states[token], **fields)
        assert self.server is not None
        self.server.publish(list(changes))


class Recorder:
    """Collects what the feed delivers, on the loop."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.orders: list[dict[str, Any]] = []
        self.states: list[tuple[float, str, str]] = []
        self.t0 = time.monotonic()
        self._cond = asyncio.Condition()

    def on_ticks(self, ticks: list[Tick]) -> None:
        self.ticks.extend(ticks)
        self._notify()

    def on_order(self, order: dict[str, Any]) -> None:
        self.orders.append(order)
        self._notify()

    def on_state(self, state: FeedState, reason: str) -> None:
        self.states.append((round(time.monotonic() - self.t0, 3), state.value, reason))
        self._notify()

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._cond:
                self._cond.notify_all()

        asyncio.get_running_loop().create_task(wake())

    async def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Until ``predicate()``; False (not an exception) after ``timeout`` s."""

        async def until() -> None:
            async with self._cond:
                await self._cond.wait_for(predicate)

        try:
            await asyncio.wait_for(until(), timeout)
            return True
        except TimeoutError:
            return False

    def ticks_for(self, symbol: str, since: int = 0) -> list[Tick]:
        return [t for t in self.ticks[since:] if t.symbol == symbol]


def tick_json(tick: Tick) -> list[Any]:
    return [tick.symbol, tick.ts_ns, tick.price, tick.qty, tick.oi]


async def poll(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------- scenarios


async def scenario_modes(ctx: dict[str, Any]) -> dict[str, Any]:
    """Subscribe everything in full mode; then quote and ltp for INFY."""
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    market: FakeMarket = ctx["market"]
    symbols = [symbol for symbol, _ in ctx["instruments"].values()]
    t0 = time.monotonic()
    feed.start()
    connected = await feed.wait_for_state(FeedState.CONNECTED, timeout=10)
    connect_s = time.monotonic() - t0
    change = feed.set_subscriptions([*symbols, "NOT_A_SYMBOL"], mode="full")

    def full_seen() -> bool:
        return all(any(t.ts_ns == EXCHANGE_TS * 10**9 for t in rec.ticks_for(s)) for s in symbols)

    got_full = await rec.wait(full_seen, 5)
    full = {s: tick_json([t for t in rec.ticks_for(s) if t.ts_ns][-1]) for s in symbols}

    # A trade: volume +25 at a new price, OI up.
    mark = len(rec.ticks)
    market.step(
        {
            INFY: {"last_price": 1574.0, "volume_traded": 1_025, "last_traded_quantity": 25},
            NIFTY_FUT: {"last_price": 15_836.0, "volume_traded": 1_150, "oi": 11_250_450},
            USDINR: {"last_price": 74.615, "volume_traded": 1_001},
        }
    )
    await rec.wait(lambda: len(rec.ticks_for("USDINR21JULFUT", mark)) >= 1, 3)
    await rec.wait(lambda: len(rec.ticks_for("NIFTY21JULFUT", mark)) >= 1, 3)
    after_trade = [tick_json(t) for t in rec.ticks[mark:]]

    # quote mode: no timestamps on the wire -> receive time.
    mark = len(rec.ticks)
    wall_before = time.time_ns()
    feed.set_mode("quote", ["INFY"])
    await poll(lambda: _server_mode(ctx, INFY) == "quote", 3)
    market.step({INFY: {"last_price": 1574.5, "volume_traded": 1_030}})
    await rec.wait(lambda: any(t.price == 1574.5 for t in rec.ticks_for("INFY", mark)), 3)
    quote_ticks = [tick_json(t) for t in rec.ticks_for("INFY", mark)]
    wall_after = time.time_ns()

    mark = len(rec.ticks)
    feed.set_mode("ltp", ["INFY"])
    await poll(lambda: _server_mode(ctx, INFY) == "ltp", 3)
    market.step({INFY: {"last_price": 1575.25, "volume_traded": 1_040}})
    await rec.wait(lambda: any(t.price == 1575.25 for t in rec.ticks_for("INFY", mark)), 3)
    ltp_ticks = [tick_json(t) for t in rec.ticks_for("INFY", mark)]
    return {
        "connected": connected.value,
        "connect_s": round(connect_s, 3),
        "change": {"added": change.added, "unknown": change.unknown},
        "got_full": got_full,
        "full": full,
        "after_trade": after_trade,
        "quote_ticks": quote_ticks,
        "ltp_ticks": ltp_ticks,
        "wall_window": [wall_before, wall_after],
        "server_modes": _server_modes(ctx),
    }


def _server_modes(ctx: dict[str, Any]) -> dict[str, str]:
    conns = ctx["server"].connections()
    return {str(k): v for k, v in conns[-1].modes.items()} if conns else {}


def _server_mode(ctx: dict[str, Any], token: int) -> str | None:
    return _server_modes(ctx).get(str(token))


async def scenario_unsubscribe(ctx: dict[str, Any]) -> dict[str, Any]:
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    market: FakeMarket = ctx["market"]
    feed.set_mode("full")
    keep = [s for s in feed.subscriptions if s != "EURINR21JULFUT"]
    change = feed.set_subscriptions(keep)
    acked = await poll(lambda: _server_mode(ctx, EURINR_BCD) is None, 3)
    mark = len(rec.ticks)
    for i in range(3):
        market.step(
            {
                EURINR_BCD: {"last_price": 88.2 + i / 100},
                INFY: {"last_price": 1580.0 + i},
            }
        )
        await asyncio.sleep(0.05)
    await rec.wait(lambda: any(t.price == 1582.0 for t in rec.ticks_for("INFY", mark)), 3)
    await asyncio.sleep(0.3)  # room for a wrongly sent BCD tick to show up
    return {
        "removed": change.removed,
        "acked": acked,
        "bcd_ticks_after": len(rec.ticks_for("EURINR21JULFUT", mark)),
        "infy_ticks_after": len(rec.ticks_for("INFY", mark)),
        "server_modes": _server_modes(ctx),
    }


async def scenario_order_update(ctx: dict[str, Any]) -> dict[str, Any]:
    rec: Recorder = ctx["rec"]
    exchange: FakeExchange = ctx["exchange"]
    other = {"order_id": "999", "user_id": "ZZ9999", "status": "OPEN"}
    mine = {
        "order_id": "220303000308932",
        "user_id": USER,
        "placed_by": USER,
        "status": "COMPLETE",
        "tradingsymbol": "SBIN",
        "filled_quantity": 1,
        "average_price": 470,
        "meta": {},
    }
    exchange.emit(other)
    exchange.emit(mine)
    got = await rec.wait(lambda: len(rec.orders) >= 1, 3)
    await asyncio.sleep(0.1)
    return {"got": got, "orders": rec.orders, "sent": mine}


async def scenario_bad_token(ctx: dict[str, Any]) -> dict[str, Any]:
    server: TickerServer = ctx["server"]
    bad = Recorder()
    refused_before = server.handshakes_refused
    feed = KiteFeed(
        API_KEY,
        "expired_token",
        root_ws=server.url,
        loop=asyncio.get_running_loop(),
        on_ticks=bad.on_ticks,
        on_state=bad.on_state,
        stale_after_s=STALE_AFTER_S,
    )
    t0 = time.monotonic()
    feed.start()
    try:
        final = await feed.wait_for_state(FeedState.CLOSED, timeout=8)
    except TimeoutError:
        final = feed.state
    elapsed = time.monotonic() - t0
    await asyncio.sleep(1.5)  # a retry would come ~1 s later: there must be none
    health = feed.health()
    feed.stop()
    return {
        "final": final.value,
        "elapsed_s": round(elapsed, 3),
        "states": [s for _, s, _ in bad.states],
        "last_error": health.last_error,
        "refused": server.handshakes_refused - refused_before,
    }


async def scenario_drop(ctx: dict[str, Any]) -> dict[str, Any]:
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    server: TickerServer = ctx["server"]
    market: FakeMarket = ctx["market"]
    wanted = {str(ctx["tokens"][s]): m for s, m in feed.subscriptions.items()}
    before = feed.health().reconnects
    mark_states = len(rec.states)
    t0 = time.monotonic()
    dropped = server.drop_all()
    lost = await rec.wait(
        lambda: any(s == "RECONNECTING" for _, s, _ in rec.states[mark_states:]), 3
    )
    back = await rec.wait(lambda: any(s == "CONNECTED" for _, s, _ in rec.states[mark_states:]), 10)
    reconnect_s = time.monotonic() - t0
    # The client re-subscribes by itself; wait until the server has the same set again.
    resubscribed = await poll(lambda: _server_modes(ctx) == wanted, 5)
    await asyncio.sleep(0.3)  # let any (wrong) duplicate subscribe arrive too
    conn = server.connections()[-1]
    subscribe_counts: dict[int, int] = {}
    for action, value in conn.actions:
        if action == "subscribe":
            for token in value:
                subscribe_counts[token] = subscribe_counts.get(token, 0) + 1
    mark = len(rec.ticks)
    market.step({INFY: {"last_price": 1590.0, "volume_traded": 1_100}})
    resumed = await rec.wait(lambda: any(t.price == 1590.0 for t in rec.ticks_for("INFY", mark)), 3)
    return {
        "dropped": dropped,
        "lost": lost,
        "back": back,
        "reconnect_s": round(reconnect_s, 3),
        "resubscribed": resubscribed,
        "server_modes": _server_modes(ctx),
        "wanted": wanted,
        "max_subscribes_per_token": max(subscribe_counts.values(), default=0),
        "connections": server.connection_count,
        "reconnects": feed.health().reconnects - before,
        "resumed": resumed,
        "states": rec.states[mark_states:],
    }


async def scenario_silent(ctx: dict[str, Any]) -> dict[str, Any]:
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    server: TickerServer = ctx["server"]
    market: FakeMarket = ctx["market"]
    mark_states = len(rec.states)
    stale_before = feed.health().stale_events
    t0 = time.monotonic()
    server.go_silent(60.0)  # longer than the test: only a reconnect can recover
    stale = await rec.wait(lambda: any(s == "STALE" for _, s, _ in rec.states[mark_states:]), 5)
    stale_s = time.monotonic() - t0
    back = await rec.wait(lambda: any(s == "CONNECTED" for _, s, _ in rec.states[mark_states:]), 10)
    recovered_s = time.monotonic() - t0
    await poll(lambda: _server_mode(ctx, INFY) is not None, 5)
    mark = len(rec.ticks)
    market.step({INFY: {"last_price": 1600.0, "volume_traded": 1_200}})
    resumed = await rec.wait(lambda: any(t.price == 1600.0 for t in rec.ticks_for("INFY", mark)), 3)
    return {
        "stale": stale,
        "stale_s": round(stale_s, 3),
        "back": back,
        "recovered_s": round(recovered_s, 3),
        "resumed": resumed,
        "stale_events": feed.health().stale_events - stale_before,
        "states": rec.states[mark_states:],
        "connections": server.connection_count,
    }


async def scenario_heartbeats(ctx: dict[str, Any]) -> dict[str, Any]:
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    server: TickerServer = ctx["server"]
    await feed.wait_for_state(FeedState.CONNECTED, timeout=5)
    mark_states = len(rec.states)
    mark_ticks = len(rec.ticks)
    hb_before = server.connections()[-1].heartbeats_sent
    stale_before = feed.health().stale_events
    quiet_s = 3 * STALE_AFTER_S
    await asyncio.sleep(quiet_s)  # no market steps at all
    health = feed.health()
    return {
        "quiet_s": quiet_s,
        "ticks_during": len(rec.ticks) - mark_ticks,
        "heartbeats": server.connections()[-1].heartbeats_sent - hb_before,
        "states": rec.states[mark_states:],
        "stale_events": health.stale_events - stale_before,
        "state": health.state.value,
        "last_message_age_s": health.last_message_age_s,
    }


async def scenario_restart(ctx: dict[str, Any]) -> dict[str, Any]:
    """stop() then start() the same feed: the one reactor thread is reused."""
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    server: TickerServer = ctx["server"]
    market: FakeMarket = ctx["market"]
    wanted = {str(ctx["tokens"][s]): m for s, m in feed.subscriptions.items()}
    mark_states = len(rec.states)
    feed.stop()
    closed = await feed.wait_for_state(FeedState.CLOSED, timeout=2)
    emptied = await poll(lambda: server.connection_count == 0, 3)
    t0 = time.monotonic()
    feed.start()
    connected = await feed.wait_for_state(FeedState.CONNECTED, timeout=5)
    restart_s = time.monotonic() - t0
    resubscribed = await poll(lambda: _server_modes(ctx) == wanted, 3)
    mark = len(rec.ticks)
    market.step({INFY: {"last_price": 1610.0, "volume_traded": 1_300}})
    resumed = await rec.wait(lambda: any(t.price == 1610.0 for t in rec.ticks_for("INFY", mark)), 3)
    return {
        "closed": closed.value,
        "emptied": emptied,
        "connected": connected.value,
        "restart_s": round(restart_s, 3),
        "resubscribed": resubscribed,
        "resumed": resumed,
        "connections": server.connection_count,
        "reactor_threads": sum(t.name == "twisted-reactor" for t in threading.enumerate()),
        "states": [s for _, s, _ in rec.states[mark_states:]],
    }


async def scenario_load(ctx: dict[str, Any], seconds: float) -> dict[str, Any]:
    """1000 instruments in full mode, every instrument changing on every step."""
    feed: KiteFeed = ctx["feed"]
    rec: Recorder = ctx["rec"]
    market: FakeMarket = ctx["market"]
    server: TickerServer = ctx["server"]
    base = initial_states()[INFY][1]
    tokens = [((100_000 + i) << 8) | 1 for i in range(1000)]
    symbols = {token: f"SYM{i:04d}" for i, token in enumerate(tokens)}
    for token in tokens:
        market.states[token] = base
    feed.set_instruments({**ctx["symbols"], **symbols})
    feed.set_subscriptions(list(symbols.values()), mode="full")
    # Generous bounds: this checks that every instrument arrives, not how fast (the
    # benchmark mode measures speed); a loaded 2-core CI machine must not fail it.
    ok = await poll(lambda: len(_server_modes(ctx)) == 1000, 20)
    await rec.wait(lambda: len(rec.ticks) > 0, 10)
    conn_before = server.connections()[-1]
    mark = len(rec.ticks)
    steps = 0
    t0 = time.monotonic()
    price = base.last_price
    while time.monotonic() - t0 < seconds:
        steps += 1
        price = round(1500 + (steps % 1000) * 0.05, 2)
        for token in tokens:
            market.states[token] = replace(base, last_price=price, volume_traded=1_000 + steps)
        server.publish(tokens)
        await asyncio.sleep(0)  # one market step per loop turn
    final_price = price
    received_in_window = len(rec.ticks) - mark
    window = time.monotonic() - t0

    def all_final() -> bool:
        seen: dict[str, float] = {}
        for tick in rec.ticks[mark:]:
            seen[tick.symbol] = tick.price
        return len(seen) == 1000 and all(p == final_price for p in seen.values())

    settled = await rec.wait(all_final, 40)
    conn = server.connections()[-1]
    frames = conn.frames_sent - conn_before.frames_sent
    packets = conn.packets_sent - conn_before.packets_sent
    return {
        "subscribed": ok,
        "steps": steps,
        "seconds": round(window, 3),
        "frames": frames,
        "packets_sent": packets,
        "ticks_received": received_in_window,
        "ticks_per_s": round(received_in_window / window),
        "packets_per_s": round(packets / window),
        "all_final": settled,
        "feed_ticks_per_s": round(feed.health().ticks_per_s),
    }


async def main(bench: bool) -> dict[str, Any]:
    instruments = initial_states()
    exchange = FakeExchange()
    market = FakeMarket()
    market.states = {token: state for token, (_, state) in instruments.items()}
    server = TickerServer(exchange, market, heartbeat_s=HEARTBEAT_S)
    market.server = server
    await server.start()
    rec = Recorder()
    symbols = {token: symbol for token, (symbol, _) in instruments.items()}
    feed = KiteFeed(
        API_KEY,
        GOOD_TOKEN,
        root_ws=server.url,
        loop=asyncio.get_running_loop(),
        on_ticks=rec.on_ticks,
        on_order_update=rec.on_order,
        on_state=rec.on_state,
        stale_after_s=STALE_AFTER_S,
        symbols_by_token=symbols,
    )
    ctx = {
        "server": server,
        "market": market,
        "exchange": exchange,
        "feed": feed,
        "rec": rec,
        "instruments": instruments,
        "symbols": symbols,
        "tokens": {symbol: token for token, symbol in symbols.items()},
    }
    results: dict[str, Any] = {"port": server.port}
    scenarios: list[tuple[str, Callable[[], Any]]] = [
        ("modes", lambda: scenario_modes(ctx)),
        ("unsubscribe", lambda: scenario_unsubscribe(ctx)),
        ("order_update", lambda: scenario_order_update(ctx)),
        ("bad_token", lambda: scenario_bad_token(ctx)),
        ("drop", lambda: scenario_drop(ctx)),
        ("silent", lambda: scenario_silent(ctx)),
        ("heartbeats", lambda: scenario_heartbeats(ctx)),
        ("restart", lambda: scenario_restart(ctx)),
        ("load", lambda: scenario_load(ctx, 8.0 if bench else 1.5)),
    ]
    for name, run in scenarios:
        t0 = time.monotonic()
        try:
            results[name] = await asyncio.wait_for(run(), timeout=90)
        except BaseException as exc:  # record and go on with the next scenario
            results[name] = {"error": "".join(traceback.format_exception(exc))[-3000:]}
        results[name]["wall_s"] = round(time.monotonic() - t0, 3)
    feed.stop()
    closed = await feed.wait_for_state(FeedState.CLOSED, timeout=2)
    await asyncio.sleep(0.3)
    results["stop"] = {"state": closed.value, "connections_after": server.connection_count}
    await server.stop()
    return results


if __name__ == "__main__":
    bench_mode = "--bench" in sys.argv
    out = asyncio.run(asyncio.wait_for(main(bench_mode), timeout=120))
    print(json.dumps(out, default=str))
