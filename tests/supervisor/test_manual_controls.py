"""A person's hand on a running desk, end to end on the bundled replay: a risk limit
changed (journaled, kept by a restart of the run), an order ticket through the risk
gate (refused with the reason; accepted and protected by a stop), and the stop moved.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml

from kitetui.brokers.kite import protective_reserve
from kitetui.brokers.ratelimit import KiteRateLimits
from kitetui.cli import DEFAULT_CONFIG
from kitetui.clock import ist_date
from kitetui.commands import (
    CancelOrder,
    ModifyStop,
    PauseEntries,
    PlaceTicket,
    ResumeEntries,
    SetRiskLimit,
    StopEngine,
)
from kitetui.config import AppConfig, parse_config
from kitetui.domain import OrderPurpose, round_to_tick
from kitetui.supervisor import Supervisor
from tests.demo_session import run_hooked

Hook = Callable[[Supervisor, int], Awaitable[None]]
EQUITY_DAY = "2023-04-03"  # the first day of the bundled equity candles


def _config() -> AppConfig:
    return parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), "test.yaml")


async def _run(db: Path, hook: Hook) -> Supervisor:
    async def each(supervisor: Supervisor, ts: int, warm: bool) -> None:
        if not warm:
            await hook(supervisor, ts)

    return await run_hooked(_config(), db, each)


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _stops(supervisor: Supervisor, symbol: str) -> list:
    return [o for o in supervisor.trader.open_orders(symbol) if o.purpose is OrderPurpose.STOP]


async def test_set_limit_with_bounds_is_journaled_shown_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    answers: list = []
    kite = KiteRateLimits()
    sized: list[int] = []

    def keep_reserve_for(max_open_positions: int) -> int:
        """Kite's broker's (``KiteBroker.keep_reserve_for``), on this paper desk."""
        sized.append(max_open_positions)
        reserve = protective_reserve(max_open_positions)
        kite.set_urgent_reserve(reserve)
        return reserve

    async def change_then_stop(supervisor: Supervisor, ts: int) -> None:
        if answers:
            return
        supervisor.broker.keep_reserve_for = keep_reserve_for  # type: ignore[attr-defined]
        answers.append(await supervisor.execute(SetRiskLimit("max_daily_loss=0")))
        answers.append(await supervisor.execute(SetRiskLimit("max_open_positions=40")))
        answers.append(kite.urgent_reserve)
        answers.append(await supervisor.execute(SetRiskLimit("max_open_positions=2")))
        supervisor.publish()
        answers.append(supervisor.published)
        supervisor.request_stop()

    first = await _run(db, change_then_stop)
    refused, raised, reserve_40, done, snapshot = answers
    assert not refused.ok
    assert refused.message == (
        "max_daily_loss: 0 is outside its bounds (above 0, at most 100,000,000,000)"
    )
    # Kite's orders kept for stops and closes follow the positions allowed open
    assert raised.ok and reserve_40 == 160 and "kept for stops and closes" in raised.message
    assert done.ok and "max_open_positions 40 → 2" in done.message
    assert sized == [40, 2] and kite.urgent_reserve == 100
    assert first.risk.limits.max_open_positions == 2
    # shown: the snapshot's limits and the setting that differs from the config
    assert [(s.name, s.value, s.config_value) for s in snapshot.risk.changed_settings] == [
        ("max_open_positions", 2.0, 5.0)
    ]
    gauge = {limit.name: limit.limit for limit in snapshot.risk.limits}
    assert gauge["open positions *"] == 2  # marked: changed from the config
    # journaled: the event and the risk state
    events = _rows(db, "SELECT data FROM events WHERE kind = 'RiskLimitChanged'")
    assert [json.loads(data) for (data,) in events] == [
        {"limit": "max_open_positions", "old": 5, "new": 40, "config": 5, "kite_reserve": 160},
        {"limit": "max_open_positions", "old": 40, "new": 2, "config": 5, "kite_reserve": 100},
    ]
    (state,) = _rows(db, "SELECT state FROM risk_state")[0]
    assert json.loads(state)["limits"] == {"max_open_positions": 2}
    assert _rows(db, "SELECT status FROM runs") == [("STOPPED",)]

    # the run resumes with the limit as it was changed, not the config's
    second = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(second.open(), 30)
    try:
        assert second.resumed
        sized.clear()
        second.broker.keep_reserve_for = keep_reserve_for  # type: ignore[attr-defined]
        await asyncio.wait_for(second.recovery.finish(), 30)
        assert second.risk.limits.max_open_positions == 2
        assert sized == [2]  # the reserve is sized for the limit restored, not the config's
        assert second.risk.config_limits.max_open_positions == 5
        assert second.risk.changed_limits == {"max_open_positions": 2}
    finally:
        await second.close()


async def test_ticket_refused_by_risk_says_why_and_is_journaled(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    answers: list = []

    async def paused_ticket(supervisor: Supervisor, ts: int) -> None:
        if answers or ist_date(ts).isoformat() != EQUITY_DAY:
            return
        symbol = next(s for s in ("SBIN", "ICICIBANK") if s in supervisor.last_prices)
        last = supervisor.last_prices[symbol]
        stop = round_to_tick(last * 0.98, 0.05)
        assert (await supervisor.execute(PauseEntries())).ok
        answers.append(await supervisor.execute(PlaceTicket(f"BUY 1 {symbol} STOP {stop}")))
        assert (await supervisor.execute(ResumeEntries())).ok
        answers.append(await supervisor.execute(PlaceTicket(f"BUY 1 {symbol} STOP {last + 5}")))
        answers.append(await supervisor.execute(PlaceTicket(f"BUY 1 {symbol} STOP {stop + 0.01}")))
        answers.append(await supervisor.execute(PlaceTicket("BUY 1 NOSUCH STOP 10")))
        supervisor.request_stop()

    await _run(db, paused_ticket)
    paused, wrong_side, off_tick, unknown = answers
    assert not paused.ok
    assert paused.message == "ticket refused by risk (entries_paused): entries are paused"
    assert not wrong_side.ok and "must be below the market" in wrong_side.message
    assert not off_tick.ok and "not a multiple of the tick 0.05" in off_tick.message
    assert not unknown.ok and "no engine trades NOSUCH" in unknown.message
    decisions = _rows(
        db,
        "SELECT d.verdict, d.rule, s.strategy FROM risk_decisions d "
        "JOIN signals s ON s.signal_id = d.signal_id WHERE d.signal_id LIKE 'manual-%'",
    )
    assert decisions == [("BLOCK", "entries_paused", "manual")]
    assert _rows(db, "SELECT count(*) FROM orders WHERE reason LIKE 'manual ticket:%'") == [(0,)]


async def test_ticket_accepted_gets_a_stop_and_the_stop_moves(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    seen: dict = {}

    async def ticket_then_move(supervisor: Supervisor, ts: int) -> None:
        if ist_date(ts).isoformat() != EQUITY_DAY or "done" in seen:
            return
        if "symbol" not in seen:
            symbol = next((s for s in ("SBIN", "ICICIBANK") if s in supervisor.last_prices), "")
            if not symbol:
                return
            for engine in supervisor.engines:  # no strategy trades: only the ticket
                await supervisor.execute(StopEngine(engine.name))
            last = supervisor.last_prices[symbol]
            stop = round_to_tick(last * 0.98, 0.05)
            seen.update(symbol=symbol, stop=stop)
            seen["ticket"] = await supervisor.execute(
                PlaceTicket(f"buy 3 {symbol} market stop {stop}")
            )
            return
        symbol = seen["symbol"]
        stops = _stops(supervisor, symbol)
        if not stops:
            return
        seen["position"] = supervisor.trader.position_qty(symbol)
        seen["first_stop"] = (stops[0].trigger_price, stops[0].quantity)
        last = supervisor.last_prices[symbol]
        seen["wrong"] = await supervisor.execute(ModifyStop(f"{symbol} {last + 1}"))
        new = round_to_tick(last * 0.99, 0.05)
        seen["new"] = new
        seen["moved"] = await supervisor.execute(ModifyStop(f"{symbol} {new}"))
        seen["after"] = [(o.tag, o.trigger_price) for o in _stops(supervisor, symbol)]
        seen["tag"] = stops[0].tag
        seen["cover"] = supervisor.trader.exits.protection(symbol).text
        seen["done"] = True
        supervisor.request_stop()

    supervisor = await _run(db, ticket_then_move)
    assert seen["ticket"].ok, seen["ticket"].message
    symbol = seen["symbol"]
    assert seen["position"] == 3
    assert seen["first_stop"] == (seen["stop"], 3)
    assert not seen["wrong"].ok and "must be below the market" in seen["wrong"].message
    assert seen["moved"].ok, seen["moved"].message
    assert seen["after"] == [(seen["tag"], seen["new"])]  # the same stop, modified in place
    assert seen["cover"] == f"STOP @ {seen['new']:.2f}".rstrip("0").rstrip(".")
    assert supervisor.trader.exits.levels[symbol].trigger == seen["new"]
    # journaled as manual: the order, its signal and decision, the events
    assert _rows(
        db,
        "SELECT engine, side, quantity, purpose, stop_price FROM orders "
        "WHERE reason LIKE 'manual ticket:%'",
    ) == [("equity", "BUY", 3, "ENTRY", seen["stop"])]
    kinds = {k for (k,) in _rows(db, "SELECT kind FROM events")}
    assert {"ManualOrderPlaced", "StopMoved"} <= kinds
    assert _rows(db, "SELECT trigger_price FROM orders WHERE tag = ?", seen["tag"]) == [
        (seen["new"],)
    ]

    # after a restart the level is where the stop was moved to (the working stop's)
    second = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(second.open(), 30)
    try:
        await asyncio.wait_for(second.recovery.finish(), 30)
        assert second.portfolio.position(symbol).quantity == 3
        assert second.trader.exits.levels[symbol].trigger == seen["new"]
    finally:
        await second.close()


async def test_a_protective_stop_is_not_cancelled_by_hand_while_its_position_is_open(
    tmp_path: Path,
) -> None:
    """Cancelled, it left the position NAKED with no alarm, no event and no new stop
    until something else moved the symbol (24 data minutes in the demo)."""
    db = tmp_path / "state.db"
    seen: list = []

    async def cancel_the_first_stop(supervisor: Supervisor, ts: int) -> None:
        if seen:
            return
        for position in supervisor.portfolio.open_positions():
            stops = _stops(supervisor, position.symbol)
            if stops:
                result = await supervisor.execute(CancelOrder(stops[0].tag))
                seen.append((result, stops[0], _stops(supervisor, position.symbol)))
                supervisor.request_stop()
                return

    await _run(db, cancel_the_first_stop)
    (result, stop, after) = seen[0]
    assert not result.ok and "protective stop of the open" in result.message
    assert [o.tag for o in after] == [stop.tag]  # still working
    refused = _rows(db, "SELECT message FROM events WHERE kind = 'CommandRefused'")
    assert refused == [(result.message,)]


async def test_an_engine_stopped_or_paused_by_hand_stays_so_when_the_run_resumes(
    tmp_path: Path,
) -> None:
    """They came back RUNNING after a restart, trading again with no word of it."""
    db = tmp_path / "state.db"
    answers: list = []

    async def stop_and_pause(supervisor: Supervisor, ts: int) -> None:
        if answers:
            return
        answers.append(await supervisor.execute(StopEngine("fno")))
        answers.append(await supervisor.execute(PauseEntries("options")))
        supervisor.request_stop()

    await _run(db, stop_and_pause)
    assert all(a.ok for a in answers), answers
    second = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(second.open(), 30)
    try:
        assert second.resumed
        await asyncio.wait_for(second.recovery.finish(), 30)
        states = {e.name: e.state.value for e in second.engines}
        assert states == {"fno": "STOPPED", "options": "PAUSED", "equity": "RUNNING"}
        await second.journal.flush()
    finally:
        await second.close()
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'StateRebuilt'")[0]
    assert message.endswith("; fno STOPPED as left; options PAUSED as left"), message
