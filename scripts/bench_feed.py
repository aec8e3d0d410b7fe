"""Figure 8 of bench.py: the live path's timings, against the project's own exchange.

    python scripts/bench.py --only 8 [--quick]

The test suite checks what the live feed and the simulated exchange *do* (they
reconnect, go stale, recover, time out, send heartbeats) and, since a loaded 2-core
machine stretches every wait, not how fast. The figures here are those waits:

8a  ``KiteFeed`` on the real ``kiteconnect.KiteTicker`` against ``TickerServer``: the
    scenarios of ``tests/sim/ticker_feed_scenarios.py``, run as the tests run them (one
    process, ``TZ=Asia/Kolkata``), whose facts include their timings; ``--bench`` (not
    with --quick) makes the 1,000-instrument load window 8 s instead of 1.5 s.
8b  ``TickerServer`` alone: the gaps between one-byte heartbeats on an idle connection.
8c  ``SimServer``'s REST faults through the real ``KiteConnect`` client: a placement
    whose answer comes after the client's timeout, and a delayed ``profile``.

The fakes and the sim harness are the tests' own (``tests/sim``), imported, not copied.
Everything listens on 127.0.0.1 with OS-chosen ports.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from typing import Any

from benchlib.procs import REPO, ChildFailed, run_json_child
from benchlib.report import Figure, log
from benchlib.stats import median, percentile

SIM_TESTS = REPO / "tests" / "sim"
SCENARIOS = SIM_TESTS / "ticker_feed_scenarios.py"
HEARTBEAT_S = 0.2  # the TickerServer tests' own heartbeat
CLIENT_TIMEOUT_S = 1.0  # tests/sim/test_sim_faults.py's kite client
LATE_ANSWER_S = 1.5  # ... and its late placement answer
DELAY_S = 0.4  # ... and its delayed profile


def _sim_tests_importable() -> None:
    """``tests/sim`` holds plain modules (no package): put it on the path once."""
    if str(SIM_TESTS) not in sys.path:
        sys.path.insert(0, str(SIM_TESTS))


# ------------------------------------------------------------------ 8a: KiteFeed scenarios

#: (scenario, fact, what it is, unit): the timed facts the scenarios report
SCENARIO_TIMINGS = (
    ("modes", "connect_s", "start() -> CONNECTED", "s"),
    ("drop", "reconnect_s", "socket dropped -> CONNECTED again", "s"),
    ("silent", "stale_s", "server silent -> STALE (stale_after_s 1)", "s"),
    ("silent", "recovered_s", "server silent -> CONNECTED on a new socket", "s"),
    ("restart", "restart_s", "stop(), start() -> CONNECTED (same reactor)", "s"),
    ("heartbeats", "last_message_age_s", "quiet 3 s: age of the last message at the end", "s"),
)


def run_scenarios(load_bench: bool) -> dict[str, Any]:
    command = [sys.executable, str(SCENARIOS), *(["--bench"] if load_bench else [])]
    env = {**os.environ, "TZ": "Asia/Kolkata", "PYTHONUNBUFFERED": "1"}
    return run_json_child(command, cwd=SIM_TESTS, timeout=300, env=env)


def figure_feed_scenarios(repeats: int, load_bench: bool) -> Figure:
    fig = Figure(
        "8a",
        "KiteFeed + the real KiteTicker against the local TickerServer: waits and load",
        f"`python {SCENARIOS.relative_to(REPO)}{' --bench' if load_bench else ''}` "
        f"(TZ=Asia/Kolkata), {repeats}x: the scenarios tests/sim/test_ticker_feed.py asserts "
        "on, one process each, timed with time.monotonic inside it (heartbeat_s 0.25, "
        "stale_after_s 1.0). Medians over the runs; the load rows are 1,000 instruments in "
        f"full mode, every one changing each loop turn, for {8 if load_bench else 1.5:g} s.",
    )
    runs: list[dict[str, Any]] = []
    for i in range(repeats):
        try:
            runs.append(run_scenarios(load_bench))
        except ChildFailed as exc:
            fig.add("problem", str(exc))
            continue
        log(f"feed scenarios {i + 1}/{repeats} done")
    if not runs:
        fig.skipped = "the scenario process failed every time"
        return fig
    for scenario, fact, what, unit in SCENARIO_TIMINGS:
        values = [r[scenario][fact] for r in runs if fact in r.get(scenario, {})]
        errors = sum("error" in r.get(scenario, {}) for r in runs)
        note = f"n={len(values)}" + (f"; {errors} run(s) raised" if errors else "")
        fig.add(what, median(values), unit, note)
    quiet = [r["heartbeats"] for r in runs if "heartbeats" in r.get("heartbeats", {})]
    if quiet:
        fig.add(
            "heartbeats sent in the quiet 3 s",
            median([q["heartbeats"] for q in quiet]),
            "",
            f"{median([q['heartbeats'] / q['quiet_s'] for q in quiet]):.1f}/s",
        )
    loads = [r["load"] for r in runs if "ticks_per_s" in r.get("load", {})]
    if loads:
        fig.add("load: ticks/s delivered to on_ticks", median([x["ticks_per_s"] for x in loads]))
        fig.add("load: packets/s the server sent", median([x["packets_per_s"] for x in loads]))
        fig.add("load: the feed's own ticks/s", median([x["feed_ticks_per_s"] for x in loads]))
        fig.add(
            "load: every instrument's last price arrived",
            f"{sum(bool(x['all_final']) for x in loads)}/{len(loads)}",
        )
    walls = [sum(v.get("wall_s", 0.0) for v in r.values() if isinstance(v, dict)) for r in runs]
    fig.add("all scenarios, wall", median(walls), "s")
    return fig


# ------------------------------------------------------------ 8b: TickerServer heartbeats


async def _heartbeat_gaps(count: int) -> list[float]:
    _sim_tests_importable()
    import ticker_feed_scenarios as sc
    from websockets.asyncio.client import connect

    from kitetui.sim import packets
    from kitetui.sim.ticker import TickerServer

    market = sc.FakeMarket()
    market.states = {token: state for token, (_, state) in sc.initial_states().items()}
    server = TickerServer(sc.FakeExchange(), market, heartbeat_s=HEARTBEAT_S)
    market.server = server
    await server.start()
    try:
        url = f"{server.url}?api_key={sc.API_KEY}&access_token={sc.GOOD_TOKEN}"
        async with connect(url) as ws:
            stamps = [time.monotonic()]
            while len(stamps) <= count:
                message = await asyncio.wait_for(ws.recv(), 10)
                if message == packets.HEARTBEAT:
                    stamps.append(time.monotonic())
    finally:
        await asyncio.wait_for(server.stop(), 10)
    return [b - a for a, b in itertools.pairwise(stamps)]


def figure_heartbeats(count: int) -> Figure:
    fig = Figure(
        "8b",
        "TickerServer alone: heartbeats on an idle connection",
        f"A TickerServer with heartbeat_s {HEARTBEAT_S:g} and the tests' fake exchange and "
        "market; a websockets client connects with a good token, subscribes to nothing and "
        f"stamps (time.monotonic) each of {count} one-byte heartbeats. The first gap is "
        "from the connection being open.",
    )
    gaps = asyncio.run(_heartbeat_gaps(count))
    fig.add("gap between heartbeats, median", median(gaps), "s", f"n={len(gaps)}")
    fig.add("gap, min / max", f"{min(gaps):.3f} / {max(gaps):.3f}", "s")
    fig.add("gap, p95", percentile(gaps, 95), "s")
    return fig


# --------------------------------------------------------------------- 8c: sim REST faults


def figure_sim_faults(repeats: int) -> Figure:
    _sim_tests_importable()
    import requests
    from sim_support import Harness, sim_config

    fig = Figure(
        "8c",
        "Simulated exchange REST faults through the real KiteConnect client",
        "A SimServer (REST only, manual clock, 127.0.0.1) as tests/sim/test_sim_faults.py "
        f"starts it; KiteConnect with timeout {CLIENT_TIMEOUT_S:g} s. {repeats}x each: a "
        f"LIMIT placement whose answer the fault holds {LATE_ANSWER_S:g} s (time until "
        f"requests raises Timeout), and profile() behind a {DELAY_S:g} s delay fault "
        "(time until it returns). time.perf_counter around the client call.",
    )
    harness = Harness(sim_config())
    timeouts, delays, booked = [], [], 0
    try:
        harness.call(harness.market.advance_by, 60)
        kite = harness.kite(timeout=CLIENT_TIMEOUT_S)
        faults = harness.exchange.faults
        for i in range(repeats):
            harness.call(faults.add, "place_order", "timeout", seconds=LATE_ANSWER_S)
            tag = f"bench{i:011d}"
            started = time.perf_counter()
            try:
                kite.place_order(
                    "regular", "NFO", "NIFTY22NOVFUT", "BUY", 50, "NRML", "LIMIT",
                    price=17000.0, tag=tag,
                )  # fmt: skip
            except requests.exceptions.Timeout:
                timeouts.append(time.perf_counter() - started)
            booked += any(o["tag"] == tag for o in kite.orders())
            harness.call(faults.add_spec, f"profile:delay:1:seconds={DELAY_S}")
            started = time.perf_counter()
            kite.profile()
            delays.append(time.perf_counter() - started)
    finally:
        harness.close()
    fig.add(
        "late answer: place_order -> Timeout (median)",
        median(timeouts),
        "s",
        f"{len(timeouts)}/{repeats} timed out; {booked} in the book after",
    )
    fig.add(f"{DELAY_S:g} s delay: profile() returned (median)", median(delays), "s")
    fig.add("  max", max(delays, default=float("nan")), "s")
    return fig


def figure_feed(quick: bool) -> list[Figure]:
    return [
        figure_feed_scenarios(1 if quick else 3, load_bench=not quick),
        figure_heartbeats(5 if quick else 20),
        figure_sim_faults(2 if quick else 5),
    ]
