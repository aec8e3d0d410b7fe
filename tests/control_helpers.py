"""Desks for control-socket tests: hand-built snapshots, a fake desk, a real one, a server.

Shared by ``tests/control/`` and the attach tests in ``tests/tui/``. Every socket lives in
a short temporary folder (Unix socket paths are limited to ~107 bytes); every wait a
helper makes is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from kitetui.cli import DEFAULT_CONFIG
from kitetui.commands import CancelOrder, Command, CommandResult
from kitetui.config import load_config
from kitetui.control.ctl import run_ctl
from kitetui.control.protocol import socket_path_for
from kitetui.control.server import ControlServer
from kitetui.supervisor import Supervisor
from kitetui.views import (
    ChartMark,
    ChartView,
    DeskSnapshot,
    EngineView,
    EventView,
    FeedView,
    FillView,
    LimitView,
    OrderDetail,
    OrderEventView,
    OrderView,
    PositionView,
    RiskView,
    SignalView,
)


def make_snapshot(seq: int = 1, events: int = 2) -> DeskSnapshot:
    return DeskSnapshot(
        seq=seq,
        mode="paper",
        run_id="run-1",
        data_ts_ns=1_704_440_700_000_000_000,
        feed_state="RUNNING",
        speed="60x",
        engines=(
            EngineView("eq", "equity", "RUNNING", "orb", 300, ("SBIN", "INFY"), 12, 3, 2),
            EngineView("fno", "fno", "STOPPED", "trend", 60, (), last_error="boom"),
        ),
        positions=(
            PositionView("SBIN", "eq", "MIS", 10, 600.5, 612.25, 0.0, 117.5, stop_price=590),
            PositionView(
                "NIFTY24JANFUT",
                "fno",
                "NRML",
                -50,
                21500.0,
                21480.0,
                10.0,
                1000.0,
                lot_size=50,
                expiry="2024-01-25",
            ),
        ),
        orders=(
            OrderView(
                "eq-1",
                1,
                "eq",
                "SBIN",
                "BUY",
                10,
                "MARKET",
                "ENTRY",
                "COMPLETE",
                filled_qty=10,
                avg_price=600.5,
            ),
            OrderView(
                "eq-2",
                2,
                "eq",
                "SBIN",
                "SELL",
                10,
                "SL-M",
                "STOP",
                "TRIGGER PENDING",
                trigger_price=590.0,
            ),
        ),
        signals=(
            SignalView(
                1,
                "s1",
                1,
                "eq",
                "orb",
                "SBIN",
                "ENTER_LONG",
                600.5,
                "breakout",
                0.8,
                indicators=(("atr", 4.5), ("rsi", 61.0)),
                risk_verdict="ALLOW",
            ),
        ),
        events=tuple(
            EventView(i, i, "Note", "INFO", f"event {i} " + "x" * 80, symbol="SBIN")
            for i in range(events)
        ),
        risk=RiskView(
            "ACTIVE",
            False,
            False,
            "",
            1127.5,
            10.0,
            1117.5,
            -250.0,
            limits=(LimitView("positions", 2, 5), LimitView("loss", 0.0, 5000.0, "₹")),
            blocked_symbols=("YESBANK",),
            trades_today=(("SBIN", 1),),
        ),
        equity_curve=((1, 100000.0), (2, 101127.5)),
        counts=(("signals", 1), ("orders", 2)),
        feed=FeedView("RUNNING", 412.5, 1_704_440_701_000_000_000, 2, "OPEN"),
        published_wall_ns=1_704_440_701_250_000_000,
    )


ORDER_DETAIL = OrderDetail(
    "eq-1",
    history=(
        OrderEventView(1_704_440_700_000_000_000, "NEW", "breakout"),
        OrderEventView(1_704_440_700_000_000_000, "OPEN"),
        OrderEventView(1_704_440_701_000_000_000, "COMPLETE"),
    ),
    fills=(
        FillView("eq-1-1", 1_704_440_701_000_000_000, "BUY", 4, 600.0),
        FillView("eq-1-2", 1_704_440_701_000_000_000, "BUY", 6, 601.0),
    ),
)


def small_snapshot(seq: int, run_id: str = "run-1", paused: bool = False) -> DeskSnapshot:
    """A desk with nothing on it but its numbers (for reconnect and renumbering tests)."""
    base = DeskSnapshot(seq, "paper", run_id, 1_704_440_700_000_000_000 + seq, "RUNNING", "60x")
    return dataclasses.replace(base, risk=dataclasses.replace(base.risk, entries_paused=paused))


ORDER_DETAIL = OrderDetail(
    "eq-1",
    history=(
        OrderEventView(1_704_440_700_000_000_000, "NEW", "breakout"),
        OrderEventView(1_704_440_700_000_000_000, "OPEN"),
        OrderEventView(1_704_440_701_000_000_000, "COMPLETE"),
    ),
    fills=(
        FillView("eq-1-1", 1_704_440_701_000_000_000, "BUY", 4, 600.0),
        FillView("eq-1-2", 1_704_440_701_000_000_000, "BUY", 6, 601.0),
    ),
)


CHART = ChartView(
    symbol="SBIN",
    bars_symbol="SBIN",
    engine="eq",
    strategy="ema_cross",
    timeframe_s=300,
    bars=(
        (1_704_440_400_000_000_000, 600.0, 602.5, 599.0, 601.0),
        (1_704_440_700_000_000_000, 601.0, 603.0, 600.5, 602.25),
    ),
    indicators=(("ema_fast", (None, 601.5)), ("atr", (1.5, 1.75))),
    overlays=("ema_fast",),
    marks=(
        ChartMark("ENTRY", 1_704_440_701_000_000_000, 600.0, "BUY", 10, "eq-1"),
        ChartMark("STOP", 1_704_440_701_000_000_000, 590.0, "SELL", 10, "eq-2"),
    ),
)


class FakeDesk:
    """Just enough desk for a ControlServer: a published snapshot, commands, order reads.

    It records every command; ``CancelOrder("nope")`` is refused. ``order_detail`` knows
    ``ORDER_DETAIL`` and ``"known"`` (an empty history), and fails for ``"boom"``;
    ``chart`` knows ``CHART`` (SBIN) and fails for ``"BOOM"``.
    """

    def __init__(self, snapshot: DeskSnapshot | None = None) -> None:
        self.published = snapshot
        self.commands: list[Command] = []

    async def execute(self, command: Command) -> CommandResult:
        self.commands.append(command)
        if isinstance(command, CancelOrder) and command.tag == "nope":
            return CommandResult(False, "no open order nope")
        return CommandResult(True, f"done: {type(command).__name__}")

    async def order_detail(self, tag: str) -> OrderDetail | None:
        if tag == "boom":
            raise RuntimeError("database is locked")
        if tag == "known":
            return OrderDetail(tag)
        return ORDER_DETAIL if tag == ORDER_DETAIL.tag else None

    async def chart(self, symbol: str) -> ChartView | None:
        if symbol == "BOOM":
            raise RuntimeError("database is locked")
        return CHART if symbol == CHART.symbol else None


async def eventually(predicate: Callable[[], object], timeout: float) -> None:
    """Wait (bounded) until ``predicate()`` is true."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@contextlib.asynccontextmanager
async def serving(
    desk: object, path: Path, max_rate: float = 50.0, timeout: float = 10.0
) -> AsyncIterator[ControlServer]:
    """A ControlServer for ``desk`` on ``path``, stopped (bounded) on the way out."""
    server = ControlServer(desk, path, max_rate=max_rate)  # type: ignore[arg-type]
    await asyncio.wait_for(server.start(), timeout)
    try:
        yield server
    finally:
        await asyncio.wait_for(server.stop(), timeout)


@contextlib.asynccontextmanager
async def real_desk(folder: Path, speed: float | None) -> AsyncIterator[tuple[Supervisor, Path]]:
    """A supervisor on the bundled demo config with its own database, served on a socket.

    With ``speed`` None the replay runs to its end before the body starts; otherwise it
    runs while the body does and is stopped afterwards.
    """
    supervisor = Supervisor(
        load_config(DEFAULT_CONFIG), "dev.yaml", database=folder / "s.db", speed=speed
    )
    await asyncio.wait_for(supervisor.open(), 60)
    run: asyncio.Task | None = None
    try:
        async with serving(supervisor, socket_path_for(supervisor.db_path), 20.0) as server:
            run = asyncio.create_task(supervisor.run())
            if speed is None:
                await asyncio.wait_for(asyncio.shield(run), 120)
            yield supervisor, server.path
            supervisor.request_stop()
            await asyncio.wait_for(run, 30)
    finally:
        if run is not None and not run.done():
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
        await asyncio.wait_for(supervisor.close(), 30)


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    """Rows from a database, read-only (the desk may still have it open)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def ctl_captured(argv: list[str]) -> tuple[int, str, str]:
    """``kitetui ctl`` (run it in a worker thread: it runs its own event loop): exit code,
    stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_ctl(argv)
    return code, out.getvalue(), err.getvalue()
