"""The snapshot of a multi-day run tells today from the run (kitetui/snapshots.py), and
an engine with nothing left to trade says so.

The bundled replay spans six trading days. Sampled through the run, the published
snapshot must show today's rows adding up to the day P&L, no closed row of an earlier
day among them, drawdowns at least as deep as the day's loss on screen, and every
earlier day kept with what each symbol realized on it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from kitetui.cli import DEFAULT_CONFIG
from kitetui.clock import ist_date
from kitetui.config import parse_config
from kitetui.supervisor import Supervisor
from kitetui.tui.header import header_model
from kitetui.views import DeskSnapshot

SAMPLE_EVERY = 97  # batches between checked snapshots (and each day's first batch)


def paise(value: float) -> int:
    return round(value * 100)


def check(snapshot: DeskSnapshot) -> None:
    risk = snapshot.risk
    today = [p for p in snapshot.positions if p.today]
    gross = sum(paise(p.day_realized) + paise(p.unrealized) for p in today)
    assert gross == paise(risk.day_gross_pnl)
    assert sum(paise(p.day_charges) for p in today) == paise(risk.day_charges)
    assert gross - paise(risk.day_charges) == paise(risk.day_pnl)  # net, the header's
    assert all(p.quantity == 0 for p in snapshot.positions if not p.today)
    loss = max(0, -paise(risk.day_pnl))
    assert paise(risk.day_max_drawdown) >= loss  # the day's own peak is at least its start
    assert paise(risk.max_drawdown) >= paise(risk.day_max_drawdown)


async def test_multi_day_replay_snapshots_separate_today_from_the_run(tmp_path: Path) -> None:
    config = parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), "test.yaml")
    supervisor = Supervisor(config, "test.yaml", database=tmp_path / "state.db", speed=None)
    await asyncio.wait_for(supervisor.open(), 60)
    process = supervisor._process
    seen_days: list[str] = []
    idle: dict[str, tuple[str, ...]] = {}
    checked = 0

    async def sampled(ts: int, batch: list, warm: bool) -> None:
        nonlocal checked
        await process(ts, batch, warm)
        day = ist_date(ts).isoformat()
        if not seen_days or seen_days[-1] != day:
            seen_days.append(day)
        elif supervisor.summary.batches % SAMPLE_EVERY:
            return
        snapshot = supervisor.publisher.build(0)
        assert snapshot.day == day
        assert snapshot.risk.days == len(seen_days)
        check(snapshot)
        for engine in snapshot.engines:  # no engine lists a contract expired today
            for symbol in engine.symbols:
                expiry = supervisor.contracts[symbol].expiry
                assert expiry is None or expiry.isoformat() >= day, (engine.name, symbol)
        if day >= "2023-01-01":  # the NIFTY Nov-2022 contracts have all expired
            idle[day] = header_model(snapshot).alarms
            assert {e.name: e.shown_state for e in snapshot.engines if e.kind != "equity"} == {
                "fno": "NO CONTRACTS",
                "options": "NO CONTRACTS",
            }
        checked += 1

    supervisor._process = sampled  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(supervisor.run(), 180)
        final = supervisor.publisher.build(0)
    finally:
        await asyncio.wait_for(supervisor.close(), 30)
    assert len(seen_days) >= 5 and checked > 100
    assert len(idle) >= 4 and all("NO CONTRACTS: fno, options" in a for a in idle.values())
    past = [day.day for day in final.past_days]
    assert past and set(past) <= set(seen_days[:-1])
    assert past == sorted(past) and seen_days[-1] not in past
    run_realized = sum(paise(d.realized) for d in final.past_days for d in d.positions)
    run_realized += paise(final.risk.day_realized)
    assert run_realized == paise(final.risk.realized)  # the days add up to the run
    run_charges = sum(paise(d.charges) for d in final.past_days for d in d.positions)
    assert run_charges + paise(final.risk.day_charges) == paise(final.risk.charges)

    # The end of the replay: its headline figures ride on the snapshot.
    headline = final.headline
    assert final.feed_state == "FINISHED" and headline is not None
    assert paise(headline.gross) == paise(final.risk.realized + final.risk.unrealized)
    assert headline.charges > 0 and not headline.note
    assert paise(headline.charges) == paise(final.risk.charges)  # the journaled charges
    assert paise(headline.net) == paise(headline.gross) - paise(headline.charges)
    assert 0 < headline.won <= headline.trades
    assert headline.max_drawdown == final.risk.max_drawdown
    assert headline.days == len(seen_days) and headline.fills > 0
