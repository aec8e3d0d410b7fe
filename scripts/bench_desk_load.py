#!/usr/bin/env python
"""The desk under load: 200 positions, 2,000 orders and 50,000 signals in the database.

    python scripts/bench_desk_load.py [--quick] [--json out.json] [--only a,b,c]

A benchmark, not a test: it prints figures, each saying what it measures; progress goes
to stderr. Everything is written to a temporary directory. The machines have 2 cores and
are shared, so timed figures are medians (and p95) of many repeats, with the load
average printed in the header. kitetui's code is not edited: the measured objects are
the real ones, wrapped at run time where a phase needs its own stopwatch.

  a  The database. Built through the project's own store API (``open_database``,
     ``runs.create_run``, ``Journal``: write_order / update_order / write_order_state /
     write_fill / add_signal / add_risk_decision / add_event / add_equity_point /
     set_positions / set_risk_state) for one unfinished replay run of 2022-11-18:
     200 symbols (195 NIFTY options, 5 NSE banks), each with two closed trades (entry,
     protective stop later cancelled, exit), a rejected entry, a cancelled LIMIT entry,
     and an open position with its working SL-M stop: 2,000 orders (200 working), about
     1,400 fills and 6,000 order events; 50,000 signals (80 % HOLD) with indicator JSON,
     10,000 risk decisions, 5,000 events, the equity curve. Then, in a fresh interpreter
     each (so memory is the process's own), a ``Supervisor`` with the same config opens
     it and resumes the run: ``open_store``, ``open_market`` (with its journal reads timed
     on their own) and ``Recovery.finish``; peak and current RSS; every SQL statement
     the resume ran (traced), to show what is read into memory; then
     ``Supervisor.order_detail(tag)`` latency over many tags, and the query plans of its
     reads. Beside it the same run on an empty database. Finally the fills-by-tag read on
     a database holding many more fills (other runs), with and without an index, to say
     when ``fills(tag)`` would need one.
  b  ``Publisher.build`` on that resumed desk after 300 signals and 200 events
     were recorded through the trader (so the snapshot carries 200 positions, the newest
     300 orders plus every working one, 300 signals, 200 events), every position re-marked
     before each build; then the snapshot as the control socket ships it to ``attach`` at
     4 Hz: ``json.dumps(snapshot_to_json(s))`` time and size, and the client's decode.
  c  The TUI: ``make_app(link)`` under ``app.run_test(size=(160, 48))`` (headless) on that
     snapshot, and on the same desk with all 2,000 orders in it. The first render, the
     first show of each tab, then a stream of snapshots where every position's LTP and
     P&L moves and a few orders, signals and events arrive (an order changes status
     every other frame), per tab: ``app.desk.pull_snapshot()`` (the desk's own work: rows and
     diff) and the whole frame (pull, then Textual's idle work and paint until the app is
     idle, in CPU ms of the process), and the collector's pauses in those frames. Then
     sort and filter on the orders and signals tables, and frames while sorted/filtered.
     Each runs twice: with CPython's default collector (as tests run the app) and with
     ``kitetui.tui.app.quiet_collector()``, which the app applies when it really runs
     (skipped on a tree without it). A 4 Hz desk has 250 ms a frame.

--quick: fewer repeats (12 frames a tab instead of 40; the database is the same size).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import pickle
import random
import shutil
import sqlite3
import sys
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchlib.desk import temp_db
from benchlib.procs import REPO, ChildFailed, rss_mb, run_json_child
from benchlib.profiling import timed_async
from benchlib.report import Figure, log, machine_header, print_table
from benchlib.stats import describe, median, summary

sys.path.insert(0, str(REPO))

import yaml

from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import AppConfig, parse_config

IST = timezone(timedelta(hours=5, minutes=30))
DAY = date(2022, 11, 18)  # the bundled F&O day: its instrument master names the options
N_SYMBOLS = 200
N_SIGNALS = 50_000
N_EVENTS = 5_000
HOLD_SHARE = 0.8
EQUITIES = ("AXISBANK", "HDFCBANK", "ICICIBANK", "KOTAKBANK", "SBIN")
CONFIG_NAME = "bench-desk-load.yaml"
TUI_SIZE = (160, 48)
FRAME_BUDGET_MS = 250.0


def bench_config() -> AppConfig:
    """The bundled config with limits wide enough for a 200-position desk."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["risk"].update(
        max_open_positions=250,
        max_trades_per_symbol_per_day=10,
        max_gross_exposure=1e9,
        max_daily_loss=1e7,
        max_symbol_loss=1e6,
    )
    return parse_config(data, CONFIG_NAME)


def ist_ns(hh: int, mm: int, ss: float = 0.0) -> int:
    moment = datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=IST) + timedelta(seconds=ss)
    return int(moment.astimezone(UTC).timestamp() * 1e9)


# ---- a: building the database -------------------------------------------------------


def pick_symbols() -> list[tuple[str, str, int, str]]:
    """(symbol, engine, lot size, exchange): 195 NIFTY options nearest 18,300 and 5 banks."""
    from kitetui.market.instruments import InstrumentMaster
    from kitetui.market.loaders import data_path

    master, _ = InstrumentMaster.from_csv(data_path("pkg:replay/nfo_20221118/instruments.csv"))
    options = sorted(
        (i for i in master if i.is_option),
        key=lambda i: (abs(i.strike - 18_300), i.tradingsymbol),
    )
    chosen = [(i.tradingsymbol, "options", i.lot_size, "NFO") for i in options]
    chosen = chosen[: N_SYMBOLS - len(EQUITIES)]
    return chosen + [(symbol, "equity", 1, "NSE") for symbol in EQUITIES]


async def build_database(path: Path, config: AppConfig) -> dict[str, Any]:
    """One unfinished run holding the issue's numbers, written through the journal."""
    from kitetui.domain import (
        Event,
        Exchange,
        Fill,
        Order,
        OrderPurpose,
        OrderStatus,
        OrderType,
        Product,
        RiskDecision,
        RiskVerdict,
        Side,
        Signal,
        SignalKind,
    )
    from kitetui.store import runs as runs_repo
    from kitetui.store.database import open_database
    from kitetui.store.journal import Journal
    from kitetui.supervisor import config_hash
    from kitetui.trading.portfolio import Portfolio
    from kitetui.trading.risk import RiskEngine, RiskLimits
    from kitetui.trading.trader import make_tag

    rng = random.Random(20221118)
    # NORMAL: the build is not what is measured; WAL commits without an fsync each.
    db = await open_database(path, synchronous="NORMAL")
    run_id = "20221118T033000-bench0"
    run_tag = run_id.rsplit("-", 1)[-1]
    await runs_repo.create_run(db, run_id, "replay", CONFIG_NAME, config_hash(config))
    journal = Journal(db, run_id, flush_rows=10**6)
    portfolio = Portfolio(config.capital)
    risk = RiskEngine(RiskLimits(**config.risk.model_dump()), DAY.isoformat())
    symbols = pick_symbols()
    session_start, session_end = ist_ns(9, 15), ist_ns(15, 15)
    span = session_end - session_start
    actions: list[tuple[int, int, str, tuple]] = []  # (ts, order of insertion, kind, args)
    counter = 0

    def act(ts: int, kind: str, *args: object) -> None:
        nonlocal counter
        counter += 1
        actions.append((ts, counter, kind, args))

    base_price: dict[str, float] = {}
    signal_ids: set[str] = set()

    def signal_at(symbol: str, engine: str, ts: int, kind: SignalKind) -> Signal:
        sid = f"{run_tag}-{engine}-{symbol}-{ts}"
        while sid in signal_ids:  # one signal per engine, symbol and bar time
            ts += 1
            sid = f"{run_tag}-{engine}-{symbol}-{ts}"
        signal_ids.add(sid)
        price = round(base_price[symbol] * (1 + rng.gauss(0, 0.01)), 2)
        fast, slow = price * (1 + rng.gauss(0, 0.002)), price * (1 + rng.gauss(0, 0.002))
        return Signal(
            signal_id=sid,
            ts_ns=ts,
            engine=engine,
            strategy="ema_cross" if engine == "options" else "mean_reversion",
            symbol=symbol,
            timeframe_s=180,
            kind=kind,
            price=price,
            reason=(
                "ema 5 crossed above ema 13"
                if kind is SignalKind.LONG
                else "no cross: ema 5 above ema 13"
                if kind is SignalKind.HOLD
                else "ema 5 crossed below ema 13"
            ),
            confidence=round(rng.random(), 2) if kind is not SignalKind.HOLD else 0.0,
            indicators={"ema_fast": fast, "ema_slow": slow, "atr": price * 0.01},
        )

    # Orders: per symbol two closed trades, a rejected and a cancelled entry, one open.
    n_orders = 0
    for index, (symbol, engine, lot, exchange) in enumerate(symbols):
        base_price[symbol] = (
            round(rng.uniform(20, 400), 1) if engine == "options" else rng.uniform(800, 1600)
        )
        offset = index * span // (N_SYMBOLS * 9)  # symbols interleave through the day
        slot = span // 9
        qty = lot * rng.randint(1, 4) if engine == "options" else rng.randint(10, 200)
        for trade in range(2):
            t0 = session_start + offset + trade * slot
            act(t0, "trade", symbol, engine, exchange, qty, t0, t0 + slot // 2)
            n_orders += 3
        t_reject = session_start + offset + 2 * slot
        act(t_reject, "reject", symbol, engine, exchange, qty)
        t_cancel = session_start + offset + 3 * slot
        act(t_cancel, "limit", symbol, engine, exchange, qty, t_cancel + slot // 3)
        t_open = session_start + offset + 5 * slot
        act(t_open, "open", symbol, engine, exchange, qty)
        n_orders += 4
    others = N_SIGNALS - 7 * N_SYMBOLS  # each symbol's orders bring 7 signals of their own
    hold_share = HOLD_SHARE * N_SIGNALS / others
    for _ in range(others):
        symbol, engine, _, _ = rng.choice(symbols)
        kind = (
            SignalKind.HOLD
            if rng.random() < hold_share
            else rng.choice((SignalKind.LONG, SignalKind.SHORT, SignalKind.EXIT))
        )
        act(session_start + rng.randrange(span), "signal", symbol, engine, kind)
    event_kinds = (
        ("BarSkipped", "DEBUG", "indicators not ready"),
        ("RiskBlocked", "WARNING", "ENTRY BUY 50: an order is already working"),
        ("DataGap", "WARNING", "no data for 2 minutes"),
        ("OrderSliced", "INFO", "1800 split into 2 orders of at most 1800 (freeze quantity)"),
    )
    for _ in range(N_EVENTS):
        symbol, engine, _, _ = rng.choice(symbols)
        act(session_start + rng.randrange(span), "event", symbol, engine, rng.choice(event_kinds))
    for minute in range(0, span // 60_000_000_000, 1):
        act(session_start + minute * 60_000_000_000, "equity")
    actions.sort()
    assert n_orders == 2000, n_orders

    fills = 0
    order_events = 0
    decisions = 0

    def decide(signal: Signal, purpose: OrderPurpose, side: Side, qty: int, v: RiskVerdict):
        nonlocal decisions
        decisions += 1
        journal.add_risk_decision(
            signal.ts_ns,
            signal.signal_id,
            signal.engine,
            signal.symbol,
            purpose.value,
            side.value,
            qty,
            RiskDecision(v, qty if v is RiskVerdict.ALLOW else 0, "ok", "allow"),
        )

    def order_for(signal: Signal, purpose: OrderPurpose, side: Side, qty: int, **kw) -> Order:
        tag = kw.pop("tag", None) or make_tag(
            run_id, signal.signal_id, purpose.value, signal.symbol
        )
        return Order(
            tag=tag,
            engine=signal.engine,
            symbol=signal.symbol,
            exchange=Exchange(kw.pop("exchange")),
            side=side,
            quantity=qty,
            order_type=kw.pop("order_type", OrderType.MARKET),
            product=Product.MIS,
            purpose=purpose,
            status=OrderStatus.NEW,
            ts_ns=kw.pop("ts_ns", signal.ts_ns),
            signal_id=signal.signal_id,
            reason=kw.pop("reason", f"{signal.kind.value}: {signal.reason}"),
            **kw,
        )

    async def place(order: Order, status: OrderStatus) -> Order:
        nonlocal order_events
        await journal.write_order(order)
        accepted = dataclasses.replace(order, status=status, broker_order_id=f"P{order.tag}")
        journal.update_order(accepted, order.ts_ns)
        order_events += 2
        return accepted

    async def fill(order: Order, ts: int, price: float, parts: int = 1) -> Order:
        nonlocal fills, order_events
        done = 0
        current = order
        for part in range(parts):
            qty = order.quantity - done if part == parts - 1 else order.quantity // parts
            done += qty
            current = dataclasses.replace(
                current,
                status=OrderStatus.COMPLETE if done == order.quantity else OrderStatus.OPEN,
                filled_qty=done,
                avg_price=price,
            )
            the_fill = Fill(
                fill_id=f"F{order.tag}-{part}",
                tag=order.tag,
                symbol=order.symbol,
                side=order.side,
                quantity=qty,
                price=price,
                ts_ns=ts + part * 1_000_000,
                engine=order.engine,
                product=order.product,
            )
            await journal.write_fill(the_fill, current, None, ts)
            portfolio.apply_fill(the_fill)
            fills += 1
            order_events += 1
        return current

    async def cancel(order: Order, ts: int, reason: str) -> None:
        nonlocal order_events
        await journal.write_order_state(
            dataclasses.replace(order, status=OrderStatus.CANCELLED, reason=reason), ts
        )
        order_events += 1

    async def entry_with_stop(
        symbol: str, engine: str, exchange: str, qty: int, ts: int, parts: int
    ) -> tuple[Order, Order, Signal]:
        signal = signal_at(symbol, engine, ts, SignalKind.LONG)
        journal.add_signal(signal)
        decide(signal, OrderPurpose.ENTRY, Side.BUY, qty, RiskVerdict.ALLOW)
        risk.record_entry(symbol)
        entry = await place(
            order_for(signal, OrderPurpose.ENTRY, Side.BUY, qty, exchange=exchange),
            OrderStatus.OPEN,
        )
        entry = await fill(entry, ts + 500_000_000, signal.price, parts=parts)
        portfolio.mark(symbol, signal.price)
        stop_price = round(signal.price * 0.9, 1)
        stop = order_for(
            signal,
            OrderPurpose.STOP,
            Side.SELL,
            qty,
            exchange=exchange,
            tag=entry.tag + "S",
            order_type=OrderType.SL_M,
            trigger_price=stop_price,
            ts_ns=ts + 600_000_000,
            reason=f"protective stop for {entry.tag}",
        )
        stop = await place(stop, OrderStatus.TRIGGER_PENDING)
        return entry, stop, signal

    for ts, _, kind, args in actions:
        if kind == "signal":
            symbol, engine, signal_kind = args
            signal = signal_at(symbol, engine, ts, signal_kind)
            if signal_kind is not SignalKind.HOLD:  # risk saw it: blocked, a trade is on
                decide(signal, OrderPurpose.ENTRY, Side.BUY, 50, RiskVerdict.BLOCK)
            journal.add_signal(signal)
        elif kind == "event":
            symbol, engine, (event_kind, level, message) = args
            journal.add_event(
                Event(ts, event_kind, message, symbol=symbol, engine=engine, level=level)
            )
        elif kind == "equity":
            journal.add_equity_point(ts, portfolio.equity_paise)
        elif kind == "trade":
            symbol, engine, exchange, qty, t0, t1 = args
            _, stop, _ = await entry_with_stop(symbol, engine, exchange, qty, t0, parts=2)
            exit_signal = signal_at(symbol, engine, t1, SignalKind.EXIT)
            journal.add_signal(exit_signal)
            decide(exit_signal, OrderPurpose.EXIT, Side.SELL, qty, RiskVerdict.ALLOW)
            await cancel(stop, t1, "position exiting")
            exit_order = await place(
                order_for(exit_signal, OrderPurpose.EXIT, Side.SELL, qty, exchange=exchange),
                OrderStatus.OPEN,
            )
            await fill(exit_order, t1 + 400_000_000, exit_signal.price)
        elif kind == "reject":
            symbol, engine, exchange, qty = args
            signal = signal_at(symbol, engine, ts, SignalKind.LONG)
            journal.add_signal(signal)
            decide(signal, OrderPurpose.ENTRY, Side.BUY, qty, RiskVerdict.ALLOW)
            order = order_for(signal, OrderPurpose.ENTRY, Side.BUY, qty, exchange=exchange)
            await journal.write_order(order)
            await journal.write_order_state(
                dataclasses.replace(
                    order, status=OrderStatus.REJECTED, reason="RMS: margin exceeds"
                ),
                ts,
            )
            order_events += 2
        elif kind == "limit":
            symbol, engine, exchange, qty, t_cancel = args
            signal = signal_at(symbol, engine, ts, SignalKind.LONG)
            journal.add_signal(signal)
            decide(signal, OrderPurpose.ENTRY, Side.BUY, qty, RiskVerdict.ALLOW)
            limit = order_for(
                signal,
                OrderPurpose.ENTRY,
                Side.BUY,
                qty,
                exchange=exchange,
                order_type=OrderType.LIMIT,
                price=round(signal.price * 0.98, 1),
            )
            limit = await place(limit, OrderStatus.OPEN)
            await cancel(limit, t_cancel, "cancelled by user")
        elif kind == "open":
            symbol, engine, exchange, qty = args
            await entry_with_stop(symbol, engine, exchange, qty, ts, parts=1)
    journal.set_positions(portfolio.positions)
    journal.set_risk_state(risk.to_state())
    journal.set_cursor(0)  # resume from the start of the data: recovery runs first
    await journal.flush()
    await db.close()
    conn = sqlite3.connect(path)
    with contextlib.closing(conn), conn:
        counted = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "orders",
                "order_events",
                "fills",
                "signals",
                "risk_decisions",
                "events",
                "equity_curve",
                "positions",
            )
        }
        counted["working orders"] = conn.execute(
            "SELECT count(*) FROM orders WHERE status NOT IN ('COMPLETE','CANCELLED','REJECTED')"
        ).fetchone()[0]
        counted["open positions"] = conn.execute(
            "SELECT count(*) FROM positions WHERE quantity != 0"
        ).fetchone()[0]
    counted["file MB"] = path.stat().st_size / 1e6
    return counted


# ---- a + b: the resumed supervisor (a child process) --------------------------------


async def child_resume(db_path: Path, out_dir: Path, quick: bool, measure_b: bool) -> dict:
    import kitetui.supervisor.gate as supervisor_module
    from kitetui.store import runs as runs_repo
    from kitetui.store.journal import Journal
    from kitetui.supervisor import Supervisor

    result: dict[str, Any] = {"rss_start_mb": rss_mb()[0]}
    timings: dict[str, float] = {}
    statements: list[str] = []

    def timed(name: str, fn):
        def add(ns: int) -> None:
            timings[name] = timings.get(name, 0.0) + ns / 1e6

        return timed_async(fn, add)

    for name in ("load_fills", "load_orders", "load_risk_state", "load_desk_state"):
        setattr(runs_repo, name, timed(name, getattr(runs_repo, name)))
    Journal.load_sequences = timed("load_sequences", Journal.load_sequences)
    opener = supervisor_module.open_database

    async def traced_open(*args, **kwargs):
        db = await opener(*args, **kwargs)
        await db.set_trace_callback(statements.append)
        return db

    supervisor_module.open_database = traced_open

    config = bench_config()
    supervisor = Supervisor(config, CONFIG_NAME, database=db_path, speed=None)
    try:
        await resume_and_measure(supervisor, result, timings, statements, out_dir, quick, measure_b)
    finally:  # aiosqlite's thread would keep a failed child alive
        if getattr(supervisor, "journal", None) is not None:
            await supervisor.journal.close()
        if getattr(supervisor, "db", None) is not None:
            await supervisor.db.close()
    result["rss_end_mb"], result["rss_peak_mb"] = rss_mb()
    return result


async def resume_and_measure(
    supervisor,
    result: dict,
    timings: dict,
    statements: list,
    out_dir: Path,
    quick: bool,
    measure_b: bool,
) -> None:
    from kitetui.store import runs as runs_repo

    started = time.perf_counter()
    await supervisor.open_store()
    timings["open_store"] = (time.perf_counter() - started) * 1e3
    mark = time.perf_counter()
    await supervisor.open_market()
    timings["open_market"] = (time.perf_counter() - mark) * 1e3
    mark = time.perf_counter()
    await supervisor.recovery.finish()
    timings["finish_recovery"] = (time.perf_counter() - mark) * 1e3
    timings["total"] = (time.perf_counter() - started) * 1e3
    await supervisor.journal.flush()
    trader = supervisor.trader
    result.update(
        resumed=supervisor.resumed,
        timings=timings,
        rss_after_open_mb=rss_mb()[0],
        rss_peak_mb=rss_mb()[1],
        loaded={
            "orders in Trader.orders": len(trader.orders),
            "working orders": len(trader.open_orders()),
            "journal fills held for replay": len(supervisor.recovery.fills),
            "open positions": len(supervisor.portfolio.open_positions()),
            "signals in memory (Trader.signals)": len(trader.signals),
            "events in memory (Trader.events)": len(trader.events),
        },
        counts_after_resume=dict(trader.counts),
    )
    reads: dict[str, int] = {}
    for sql in statements:
        head = " ".join(sql.split())
        if head.upper().startswith("SELECT"):
            key = head if len(head) < 150 else head[:147] + "..."
            reads[key] = reads.get(key, 0) + 1
    result["selects_during_resume"] = reads
    result["signals_table_read"] = any("FROM signals" in s for s in statements)

    # order_detail: closed trades (history + fills), working stops, rejects.
    rng = random.Random(3)
    tags = list(trader.orders)
    if not tags:
        return
    sample = [rng.choice(tags) for _ in range(60 if quick else 400)]
    latencies = []
    detail_sizes = []
    for tag in sample:
        mark = time.perf_counter()
        detail = await supervisor.order_detail(tag)
        latencies.append((time.perf_counter() - mark) * 1e3)
        detail_sizes.append((len(detail.history), len(detail.fills)))
    result["order_detail_ms"] = summary(latencies)
    read_only = []
    for tag in sample:
        mark = time.perf_counter()
        await runs_repo.load_order_detail(supervisor.db, tag)
        read_only.append((time.perf_counter() - mark) * 1e3)
    result["load_order_detail_ms"] = summary(read_only)
    result["order_detail_rows"] = {
        "history median": median([h for h, _ in detail_sizes]),
        "fills max": max(f for _, f in detail_sizes),
    }

    if measure_b:
        result["b"] = measure_snapshot(supervisor, out_dir, quick, rng)


def measure_snapshot(supervisor, out_dir: Path, quick: bool, rng: random.Random) -> dict:
    import kitetui.supervisor.gate as supervisor_module
    from kitetui.control.protocol import snapshot_from_json as from_json
    from kitetui.control.protocol import snapshot_to_json as to_json
    from kitetui.domain import Event, RiskDecision, RiskVerdict, Signal, SignalKind

    trader, portfolio = supervisor.trader, supervisor.portfolio
    now = ist_ns(15, 16)
    supervisor.clock.now_ns = now
    positions = portfolio.open_positions()
    for index in range(300):  # through the trader, as an engine's signal would be
        position = positions[index % len(positions)]
        kind = (SignalKind.LONG, SignalKind.SHORT, SignalKind.EXIT)[index % 3]
        signal = Signal(
            signal_id=f"late-{index}",
            ts_ns=now - (300 - index) * 1_000_000_000,
            engine=position.engine,
            strategy="ema_cross",
            symbol=position.symbol,
            timeframe_s=180,
            kind=kind,
            price=position.last_price,
            reason="ema 5 crossed above ema 13",
            confidence=0.61,
            indicators={"ema_fast": 101.5, "ema_slow": 100.2, "atr": 1.9},
        )
        verdict = RiskVerdict.BLOCK if index % 4 else RiskVerdict.ALLOW
        trader._record_signal(signal, RiskDecision(verdict, 0, "an order is already working"))
    for index in range(200):
        position = positions[index % len(positions)]
        trader.record_event(
            Event(
                ts_ns=now - (200 - index) * 1_000_000_000,
                kind="RiskBlocked",
                level="WARNING",
                symbol=position.symbol,
                engine=position.engine,
                message="ENTRY BUY 50: an order is already working",
            )
        )
    result: dict[str, Any] = {}
    build = []
    seq = 1000
    prices = {p.symbol: p.last_price for p in positions}
    iterations = 60 if quick else 400
    for _ in range(iterations):
        for symbol, price in prices.items():  # every position re-marked, as ticks would
            prices[symbol] = max(0.05, round(price * (1 + rng.gauss(0, 0.002)), 2))
            portfolio.mark(symbol, prices[symbol])
        seq += 1
        mark = time.perf_counter()
        snapshot = supervisor.publisher.build(seq)
        build.append((time.perf_counter() - mark) * 1e3)
    result["build_ms"] = summary(build)
    result["contents"] = {
        "positions": len(snapshot.positions),
        "orders": len(snapshot.orders),
        "working orders": sum(
            1 for o in snapshot.orders if o.status in ("OPEN", "TRIGGER PENDING", "NEW")
        ),
        "signals": len(snapshot.signals),
        "events": len(snapshot.events),
        "equity points": len(snapshot.equity_curve),
        "counts": dict(snapshot.counts),
    }
    encode, decode = [], []
    for _ in range(max(20, iterations // 4)):
        mark = time.perf_counter()
        text = json.dumps(to_json(snapshot), separators=(",", ":"))
        encode.append((time.perf_counter() - mark) * 1e3)
        mark = time.perf_counter()
        from_json(json.loads(text))
        decode.append((time.perf_counter() - mark) * 1e3)
    result["json_encode_ms"] = summary(encode)
    result["json_decode_ms"] = summary(decode)
    result["json_bytes"] = len(text.encode())
    sections = {}
    for name in ("positions", "orders", "signals", "events", "equity_curve", "engines"):
        part = json.dumps(to_json(getattr(snapshot, name)), separators=(",", ":"))
        sections[name] = len(part.encode())
    result["json_bytes_by_field"] = sections
    # The same desk if the snapshot carried every order of the day (what the TUI bench
    # also renders): the cost a "ship all orders" design would pay.
    saved = supervisor_module._RECENT_ORDERS
    supervisor_module._RECENT_ORDERS = 10**6
    try:
        every = []
        for _ in range(max(20, iterations // 4)):
            seq += 1
            mark = time.perf_counter()
            all_orders = supervisor.publisher.build(seq)
            every.append((time.perf_counter() - mark) * 1e3)
    finally:
        supervisor_module._RECENT_ORDERS = saved
    result["build_all_orders_ms"] = summary(every)
    text_all = json.dumps(to_json(all_orders), separators=(",", ":"))
    result["json_bytes_all_orders"] = len(text_all.encode())
    result["all_orders"] = len(all_orders.orders)
    with (out_dir / "snapshots.pickle").open("wb") as handle:
        pickle.dump({"recent": snapshot, "all": all_orders}, handle)
    return result


def fills_index_probe(db_path: Path, quick: bool) -> dict[str, Any]:
    """The fills-by-tag read as the fills table grows (other runs' fills), with and
    without an index on fills(tag): when does the missing index start to matter?"""
    result: dict[str, Any] = {}
    query = "SELECT fill_id, ts_ns, side, quantity, price FROM fills WHERE tag = ? ORDER BY seq"
    events_query = "SELECT ts_ns, status, reason FROM order_events WHERE tag = ? ORDER BY id"
    with sqlite3.connect(db_path) as conn:
        result["plan fills by tag"] = " / ".join(
            row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", ("x",))
        )
        result["plan order_events by tag"] = " / ".join(
            row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {events_query}", ("x",))
        )
    rows = []
    for extra in (0, 20_000, 100_000) if not quick else (0, 100_000):
        copy = db_path.with_name(f"probe-{extra}.db")
        shutil.copy(db_path, copy)
        with sqlite3.connect(copy) as conn:
            tags = [r[0] for r in conn.execute("SELECT tag FROM fills LIMIT 200")]
            conn.executemany(
                "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, "
                "price, product, ts_ns, clock_ns) VALUES (?, ?, 'old-run', ?, 'options', 'X', "
                "'BUY', 1, 1.0, 'MIS', 0, 0)",
                ((f"old-{i}", i, f"OLDTAG{i // 2}") for i in range(extra)),
            )
            conn.commit()
            total = conn.execute("SELECT count(*) FROM fills").fetchone()[0]
            row = {"fills in table": total}
            for label in ("no index", "with index"):
                if label == "with index":
                    conn.execute("CREATE INDEX probe_fills_tag ON fills(tag)")
                times = []
                for tag in tags:
                    mark = time.perf_counter()
                    conn.execute(query, (tag,)).fetchall()
                    times.append((time.perf_counter() - mark) * 1e3)
                row[label] = summary(times)
            rows.append(row)
        copy.unlink()
    result["by size"] = rows
    return result


# ---- c: the TUI ----------------------------------------------------------------------


class BenchLink:
    """A link that serves whatever snapshot the bench publishes (like tests' FakeLink)."""

    def __init__(self, snapshot) -> None:
        self.current = snapshot

    def snapshot(self):
        return self.current

    async def send(self, command):
        from kitetui.commands import CommandResult

        return CommandResult(True, "ok")

    async def order_detail(self, tag):
        from kitetui.views import OrderDetail

        return OrderDetail(tag)

    def failure(self):
        return None

    def connection_problem(self):
        return None


OPEN_STATUSES = ("NEW", "OPEN", "TRIGGER PENDING")


class Churn:
    """The next snapshot of a busy desk: every position moves, a few records arrive.

    ``all_orders`` is the day's book; like ``Publisher.build``, a frame shows the newest
    300 plus every working order, or (``ship_all``) the whole book.
    """

    def __init__(self, snapshot, all_orders, ship_all: bool, seed: int = 5) -> None:
        self.snapshot = snapshot
        self.book = list(all_orders)
        self.ship_all = ship_all
        self.rng = random.Random(seed)
        self.signals = deque(snapshot.signals, maxlen=300)
        self.events = deque(snapshot.events, maxlen=200)
        self.frame = 0

    def next(self):
        rng, s = self.rng, self.snapshot
        self.frame += 1
        positions = []
        for p in s.positions:
            ltp = max(0.05, round(p.last_price * (1 + rng.gauss(0, 0.003)) / 0.05) * 0.05)
            ltp = round(ltp, 2)
            unrealized = round((ltp - p.avg_price) * p.quantity, 2)
            positions.append(dataclasses.replace(p, last_price=ltp, unrealized=unrealized))
        ts = s.data_ts_ns + 15_000_000_000
        # A new order each frame; every other frame a working order finishes.
        template = self.book[-1]
        symbol = rng.choice(positions).symbol
        new = dataclasses.replace(
            template,
            tag=f"BENCH{self.frame:06d}",
            ts_ns=ts,
            symbol=symbol,
            purpose="ENTRY",
            order_type="MARKET",
            status="COMPLETE",
            side=rng.choice(("BUY", "SELL")),
            trigger_price=0.0,
            reason="LONG: ema 5 crossed above ema 13",
        )
        self.book.append(new)
        if self.frame % 2 == 0:
            working = [i for i, o in enumerate(self.book) if o.status in OPEN_STATUSES]
            if working:
                index = rng.choice(working)
                self.book[index] = dataclasses.replace(
                    self.book[index], status="CANCELLED", reason="position exiting"
                )
        if self.ship_all:
            orders = tuple(self.book)
        else:
            recent = self.book[-300:]
            tags = {o.tag for o in recent}
            orders = tuple(
                [o for o in self.book if o.status in OPEN_STATUSES and o.tag not in tags] + recent
            )
        last = self.signals[-1]
        for j in range(3):
            self.signals.append(
                dataclasses.replace(
                    last,
                    seq=last.seq + j + 1,
                    signal_id=f"{last.signal_id}+{self.frame}.{j}",
                    ts_ns=ts + j,
                    symbol=rng.choice(positions).symbol,
                )
            )
        last_event = self.events[-1]
        for j in range(2):
            self.events.append(
                dataclasses.replace(last_event, seq=last_event.seq + j + 1, ts_ns=ts + j)
            )
        counts = dict(s.counts)
        counts["signals"] = counts.get("signals", 0) + 3
        counts["orders"] = counts.get("orders", 0) + 1
        counts["events"] = counts.get("events", 0) + 2
        self.snapshot = dataclasses.replace(
            s,
            seq=s.seq + 1,
            data_ts_ns=ts,
            published_wall_ns=s.published_wall_ns + 250_000_000,
            positions=tuple(positions),
            orders=orders,
            signals=tuple(self.signals),
            events=tuple(self.events),
            counts=tuple(sorted(counts.items())),
        )
        return self.snapshot


class GcPauses:
    """Every collector pass while installed: its time, and the longest one."""

    def __init__(self) -> None:
        self.total_ms = 0.0
        self.longest_ms = 0.0
        self.passes = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = (time.perf_counter() - self._started) * 1e3
        self.total_ms += pause
        self.longest_ms = max(self.longest_ms, pause)
        self.passes += 1

    def take(self) -> tuple[float, float, int]:
        taken = self.total_ms, self.longest_ms, self.passes
        self.total_ms = self.longest_ms = 0.0
        self.passes = 0
        return taken


async def tui_variant(snapshot, book, ship_all: bool, frames: int, desk_gc: bool) -> dict[str, Any]:
    from kitetui.tui import app as app_module
    from kitetui.tui.app import make_app

    result: dict[str, Any] = {"gc_policy": "CPython default"}
    if desk_gc:  # what KiteTuiApp.run_async applies when the desk really runs
        app_module.quiet_collector()
        result["gc_policy"] = f"quiet_collector(): thresholds {gc.get_threshold()}"
    pauses = GcPauses()
    churn = Churn(snapshot, book, ship_all)
    start = churn.next() if ship_all else snapshot
    link = BenchLink(start)
    app = make_app(link, refresh_hz=0.01)  # the bench pulls each frame itself
    mark_wall, mark_cpu = time.perf_counter(), time.process_time()
    async with app.run_test(size=TUI_SIZE) as pilot:
        await pilot.pause()
        result["first_render"] = {
            "wall_ms": (time.perf_counter() - mark_wall) * 1e3,
            "cpu_ms": (time.process_time() - mark_cpu) * 1e3,
        }
        # An idle frame: nothing new to show; what pilot.pause itself costs.
        idle = []
        for _ in range(5):
            cpu = time.process_time()
            app.desk.pull_snapshot()
            await pilot.pause()
            idle.append((time.process_time() - cpu) * 1e3)
        result["idle_frame_cpu_ms"] = summary(idle)
        tabs: dict[str, Any] = {}
        for tab in ("positions", "orders", "signals", "engines", "log", "risk"):
            wall, cpu = time.perf_counter(), time.process_time()
            app.desk.action_show_tab(tab)
            await pilot.pause()
            shown = {
                "wall_ms": (time.perf_counter() - wall) * 1e3,
                "cpu_ms": (time.process_time() - cpu) * 1e3,
            }
            pulls, frame_cpu, frame_wall = [], [], []
            pauses.take()
            for _ in range(frames):
                link.current = churn.next()
                wall, cpu = time.perf_counter(), time.process_time()
                assert app.desk.pull_snapshot()
                pulled = time.perf_counter()
                await pilot.pause()
                pulls.append((pulled - wall) * 1e3)
                frame_cpu.append((time.process_time() - cpu) * 1e3)
                frame_wall.append((time.perf_counter() - wall) * 1e3)
            rows = app.desk.pane(tab).table.row_count if tab not in ("risk",) else None
            gc_ms, gc_longest, gc_passes = pauses.take()
            tabs[tab] = {
                "gc_ms_per_frame": gc_ms / frames,
                "gc_longest_ms": gc_longest,
                "gc_passes": gc_passes,
                "first_show": shown,
                "rows": rows,
                "pull_ms": summary(pulls),
                "frame_cpu_ms": summary(frame_cpu),
                "frame_wall_ms": summary(frame_wall),
            }
            log(
                f"    c {'all' if ship_all else 'recent'} {tab:9s} rows={rows} "
                f"pull {describe(summary(pulls))}; frame cpu {describe(summary(frame_cpu))}"
            )
        result["tabs"] = tabs
        ops: dict[str, Any] = {}
        for tab, column, words in (("orders", "qty", "nifty"), ("signals", "price", "nifty")):
            app.desk.action_show_tab(tab)
            await pilot.pause()
            table = app.desk.pane(tab).table

            async def op(name: str, action, table=table, tab=tab) -> None:
                wall, cpu = time.perf_counter(), time.process_time()
                action()
                called = time.perf_counter()
                await pilot.pause()
                ops[f"{tab}: {name}"] = {
                    "call_ms": (called - wall) * 1e3,
                    "with_paint_cpu_ms": (time.process_time() - cpu) * 1e3,
                    "rows shown": table.row_count,
                }

            async def frames_now(name: str, tab=tab) -> None:
                cpu_times = []
                for _ in range(max(4, frames // 2)):
                    link.current = churn.next()
                    cpu = time.process_time()
                    app.desk.pull_snapshot()
                    await pilot.pause()
                    cpu_times.append((time.process_time() - cpu) * 1e3)
                ops[f"{tab}: frames {name}"] = summary(cpu_times)

            await op(f"sort by {column} descending", lambda t=table, c=column: t.set_sort(c, True))
            await frames_now(f"sorted by {column}")
            await op("sort by symbol", lambda t=table: t.set_sort("symbol"))
            await op(f'filter "{words}"', lambda t=table, w=words: t.set_filter(w))
            await frames_now(f'filtered "{words}"')
            await op('filter "sbin"', lambda t=table: t.set_filter("sbin"))
            await frames_now('filtered "sbin"')
            await op("clear filter", lambda t=table: t.set_filter(""))
            await op("unsorted", lambda t=table: t.set_sort(None))
        result["sort_filter"] = ops
    result["rss_mb"], result["rss_peak_mb"] = rss_mb()
    return result


async def child_tui(out_dir: Path, quick: bool, ship_all: bool, desk_gc: bool) -> dict[str, Any]:
    with (out_dir / "snapshots.pickle").open("rb") as handle:
        snapshots = pickle.load(handle)
    frames = 12 if quick else 40
    book = snapshots["all"].orders
    return await tui_variant(snapshots["recent"], book, ship_all, frames, desk_gc)


# ---- orchestration ---------------------------------------------------------------------


def run_child(args: list[str]) -> dict[str, Any]:
    """This script again in a fresh interpreter (its memory is its own); its JSON answer."""
    try:
        return run_json_child(
            [sys.executable, str(Path(__file__).resolve()), *args], cwd=REPO, timeout=1200
        )
    except ChildFailed as exc:
        raise SystemExit(str(exc)) from exc


def report_a(db: dict, empty: dict, loaded: dict, probe: dict) -> Figure:
    lines: list[str] = []
    lines.append(
        "   built: "
        + ", ".join(
            f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in db.items()
        )
    )
    lines.append(f"   build time {db.get('build_s', 0):.1f} s (journal API, synchronous=NORMAL)")
    for name, child in (("empty database (new run)", empty), ("loaded database (resume)", loaded)):
        t = child["timings"]
        lines.append(
            f"   {name}: resumed={child['resumed']}; open_store {t['open_store']:.0f} ms, "
            f"open_market {t['open_market']:.0f} ms (journal reads: load_sequences "
            f"{t.get('load_sequences', 0):.1f}, load_fills {t.get('load_fills', 0):.1f}, "
            f"load_orders {t.get('load_orders', 0):.1f} ms), Recovery.finish "
            f"{t['finish_recovery']:.0f} ms (load_risk_state "
            f"{t.get('load_risk_state', 0):.1f} ms); total {t['total']:.0f} ms"
        )
        lines.append(
            f"      RSS after open+recovery {child['rss_after_open_mb']:.1f} MB "
            f"(interpreter+imports at start {child['rss_start_mb']:.1f} MB), peak "
            f"{child['rss_peak_mb']:.1f} MB"
        )
    lines.append(
        f"   loaded into memory on resume: {loaded['loaded']}; signals table read: "
        f"{loaded['signals_table_read']}"
    )
    lines.append(
        f"   counts the snapshot carries right after resume: {loaded['counts_after_resume']}"
    )
    lines.append("   SELECTs during open+recovery (statement: times):")
    for sql, n in loaded["selects_during_resume"].items():
        lines.append(f"      {n:5d}  {sql}")
    lines.append(
        "   order_detail(tag) (journal flush + 3 reads): "
        + describe(loaded["order_detail_ms"], "ms", 2)
    )
    lines.append(
        f"   load_order_detail alone: {describe(loaded['load_order_detail_ms'], 'ms', 3)}; "
        f"rows {loaded['order_detail_rows']}"
    )
    lines.append(f"   plan, fills by tag: {probe['plan fills by tag']}")
    lines.append(f"   plan, order_events by tag: {probe['plan order_events by tag']}")
    for row in probe["by size"]:
        lines.append(
            f"   fills by tag with {row['fills in table']:,} fills in the table: no index "
            f"{describe(row['no index'], 'ms', 3)}; "
            f"with an index {describe(row['with index'], 'ms', 3)}"
        )
    return section(
        "a",
        "The database and resuming it",
        f"One unfinished replay run built through the journal ({N_SYMBOLS} symbols, 2,000 "
        f"orders, {N_SIGNALS:,} signals, {N_EVENTS:,} events), then resumed by a Supervisor "
        "in a fresh interpreter (open_store, open_market, Recovery.finish), beside the same "
        "on an empty database; order_detail latency; fills by tag as the table grows.",
        lines,
    )


def report_b(b: dict) -> Figure:
    lines: list[str] = []
    lines.append(f"   contents: {b['contents']}")
    lines.append(f"   build_snapshot: {describe(b['build_ms'], 'ms', 2)}")
    lines.append(f"   json.dumps(snapshot_to_json): {describe(b['json_encode_ms'], 'ms', 2)}")
    lines.append(
        "   attach decode (json.loads + snapshot_from_json): "
        + describe(b["json_decode_ms"], "ms", 2)
    )
    lines.append(
        f"   JSON size {b['json_bytes'] / 1024:.0f} KiB a snapshot "
        f"({b['json_bytes'] * 4 / 1024:.0f} KiB/s at 4 Hz); by field (KiB): "
        + ", ".join(f"{k} {v / 1024:.0f}" for k, v in b["json_bytes_by_field"].items())
    )
    lines.append(
        f"   with all {b['all_orders']:,} orders in it: build "
        f"{describe(b['build_all_orders_ms'], 'ms', 2)}, "
        f"JSON {b['json_bytes_all_orders'] / 1024:.0f} KiB"
    )
    return section(
        "b",
        "build_snapshot on the resumed desk",
        "Publisher.build after 300 signals and 200 events went through the trader, "
        "every position re-marked before each build; the snapshot's JSON as the control "
        "socket ships it to attach at 4 Hz, and the client's decode.",
        lines,
    )


def report_c(key: str, name: str, c: dict) -> Figure:
    lines: list[str] = []
    first = c["first_render"]
    lines.append(
        f"   first render (app start to idle, Positions tab): {first['wall_ms']:.0f} ms wall, "
        f"{first['cpu_ms']:.0f} ms CPU; idle frame (no new snapshot) "
        f"{c['idle_frame_cpu_ms']['median']:.1f} ms CPU; RSS {c['rss_mb']:.0f} MB"
    )
    lines.append(
        "   tab        rows  first show  pull ms (median/p95)  frame CPU ms (median/p95/max)"
        "  GC ms/frame (longest pause)"
    )
    for tab, t in c["tabs"].items():
        lines.append(
            f"   {tab:9s} {t['rows'] if t['rows'] is not None else '-':>5}  "
            f"{t['first_show']['cpu_ms']:7.0f} ms  "
            f"{t['pull_ms']['median']:8.1f} / {t['pull_ms']['p95']:6.1f}      "
            f"{t['frame_cpu_ms']['median']:7.1f} / {t['frame_cpu_ms']['p95']:6.1f} / "
            f"{t['frame_cpu_ms']['max']:6.1f}   {t['gc_ms_per_frame']:6.1f} "
            f"({t['gc_longest_ms']:.0f})"
        )
    for name_, op in c["sort_filter"].items():
        if "call_ms" in op:
            lines.append(
                f"   {name_}: call {op['call_ms']:.1f} ms, with paint {op['with_paint_cpu_ms']:.1f}"
                f" ms CPU, {op['rows shown']} rows"
            )
        else:
            lines.append(f"   {name_}: frame CPU {describe(op)}")
    return section(
        key,
        f"TUI at {TUI_SIZE[0]}x{TUI_SIZE[1]}, headless: {name}; GC: {c['gc_policy']}",
        "make_app under run_test on the desk's snapshot: first render, first show of each "
        "tab, then frames where every position moves and a few records arrive: "
        "pull_snapshot (the app's own work) and the whole frame in CPU ms of the process, "
        f"the collector's pauses; sort and filter. A 4 Hz desk has {FRAME_BUDGET_MS:.0f} ms "
        "a frame; CPU figures are the process's own (other load shows in wall times).",
        lines,
    )


def section(key: str, title: str, what: str, lines: list[str]) -> Figure:
    """A part of the report as a figure of preformatted lines."""
    return Figure(key, title, what, table=[f" {line}" for line in lines])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (~2 min)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--only", default="a,b,c", help="parts to run, e.g. a,b or c")
    parser.add_argument("--child", choices=("resume", "tui"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure-b", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ship-all", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--desk-gc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "resume":
        result = asyncio.run(child_resume(args.db, args.out, args.quick, args.measure_b))
        print(json.dumps(result))
        return 0
    if args.child == "tui":
        result = asyncio.run(child_tui(args.out, args.quick, args.ship_all, args.desk_gc))
        print(json.dumps(result))
        return 0

    parts = set(args.only.split(","))
    header = machine_header("bench_desk_load" + ("  (--quick)" if args.quick else ""), REPO)
    for line in header:
        print(line, file=sys.stderr)
    figures: dict[str, Any] = {"load_average": os.getloadavg()}
    report: list[Figure] = []
    with temp_db("desk.db", prefix="bench-desk-load-") as db:
        tmp_path = db.parent
        tmp = str(tmp_path)
        log("a: building the database through the journal …")
        mark = time.perf_counter()
        built = asyncio.run(build_database(db, bench_config()))
        built["build_s"] = time.perf_counter() - mark
        figures["database"] = built
        log(f"   {built}")
        if parts & {"a", "b", "c"}:
            quick = ["--quick"] if args.quick else []
            log("a: resuming on an empty database (fresh interpreter) …")
            empty = run_child(
                ["--child", "resume", "--db", str(tmp_path / "empty.db"), "--out", tmp, *quick]
            )
            log("a/b: resuming the loaded database (fresh interpreter) …")
            copy = tmp_path / "resume.db"
            shutil.copy(db, copy)
            loaded = run_child(
                ["--child", "resume", "--db", str(copy), "--out", tmp, "--measure-b", *quick]
            )
            probe = fills_index_probe(db, args.quick)
            figures.update(a_empty=empty, a_loaded=loaded, a_fills_probe=probe)
            if "a" in parts:
                report.append(report_a(built, empty, loaded, probe))
            if "b" in parts:
                figures["b"] = loaded["b"]
                report.append(report_b(loaded["b"]))
        if "c" in parts:
            from kitetui.tui import app as app_module

            policies = [False, True] if hasattr(app_module, "quiet_collector") else [False]
            variants = [
                (desk_gc, ship_all, name)
                for desk_gc in policies
                for ship_all, name in (
                    (False, "the supervisor's snapshot (newest 300 orders + working)"),
                    (True, "the same desk with every order in the snapshot (2,000+)"),
                )
            ]
            for number, (desk_gc, ship_all, name) in enumerate(variants, start=1):
                log(f"c: TUI, {name}{', desk GC' if desk_gc else ''} …")
                extra = ["--ship-all"] if ship_all else []
                extra += ["--desk-gc"] if desk_gc else []
                quick = ["--quick"] if args.quick else []
                c = run_child(["--child", "tui", "--out", tmp, *quick, *extra])
                key = f"c_{'all' if ship_all else 'recent'}{'_desk_gc' if desk_gc else ''}"
                figures[key] = c
                report.append(report_c(f"c{number}", name, c))
    print_table(header, report)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
