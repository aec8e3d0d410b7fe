"""A resumed run over the paper broker, with a trader that forgets old finished orders.

Recovery reads every reloaded order (the fills replayed, the cover of each open
position, a stop-and-reverse still waiting); the trader keeps them all until recovery
has finished, then forgets the old ones. With a window of two finished orders (so
forgetting happens all the time), a run stopped and resumed must leave the same ledger
as one that ran through, and both the same as a trader that keeps every order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kitetui.supervisor import Supervisor, assembly
from tests.demo_session import read_ledger, run_demo


async def _session(
    db: Path, stop_after: int | None = None, warm: list[bool] | None = None
) -> Supervisor:
    """One run of the demo config; ``stop_after`` orders it stops; ``warm`` notes, for
    each batch of a resumed run's warm-up, whether every reloaded order is still kept."""

    async def hook(supervisor: Supervisor, warming: bool) -> None:
        if warming and warm is not None:
            warm.append(len(supervisor.trader.orders) == supervisor.trader.placed)
        if stop_after is not None and supervisor.trader.placed >= stop_after:
            supervisor.request_stop()

    return await run_demo(db, hook)


def _ledger(db: Path) -> dict[str, list[tuple]]:
    return read_ledger(db, ("orders", "fills"))


async def test_a_bounded_run_stopped_and_resumed_leaves_the_ledger_of_one_that_ran_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assembly, "KEEP_FINISHED", None)
    kept_all = await _session(tmp_path / "all.db")
    monkeypatch.setattr(assembly, "KEEP_FINISHED", 2)
    through = await _session(tmp_path / "through.db")
    assert len(through.trader.orders) <= 4 + len(through.trader.open_orders())
    assert through.trader.placed == kept_all.trader.placed >= 10
    assert through.trader.filled_entries() == kept_all.trader.filled_entries()
    first = await _session(tmp_path / "resumed.db", stop_after=through.trader.placed // 2)
    assert first.trader.placed < through.trader.placed
    warm: list[bool] = []
    second = await _session(tmp_path / "resumed.db", warm=warm)
    assert warm and all(warm)  # recovery kept every order until it finished
    assert second.resumed and second.run_id == first.run_id
    assert second.trader.placed == through.trader.placed
    assert second.summary.entries == through.summary.entries
    assert len(second.trader.orders) <= 4 + len(second.trader.open_orders())
    expected = _ledger(tmp_path / "all.db")
    assert _ledger(tmp_path / "through.db") == expected
    assert _ledger(tmp_path / "resumed.db") == expected
