"""The publisher's pace: a slow snapshot spaces out the next unforced ones.

A year-long backtest's snapshot (the Performance rows of every open trade) takes
milliseconds; built every ``interval_s`` at full speed it cost the run several percent.
The clock here is a fake one, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

from typing import Any

import pytest

from kitetui.supervisor import snapshots
from kitetui.supervisor.snapshots import SNAPSHOT_SHARE, Publisher


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(snapshots.time, "monotonic", fake)
    return fake


def _publisher(clock: _Clock, build_s: float) -> tuple[Publisher, list[int]]:
    publisher = Publisher(desk=None, interval_s=0.1)  # type: ignore[arg-type]
    built: list[int] = []

    def build(seq: int) -> Any:
        clock.now += build_s  # building takes this long
        built.append(seq)
        return seq

    publisher.build = build  # type: ignore[method-assign]
    publisher._sample_rate = lambda now: None  # type: ignore[method-assign]
    return publisher, built


def test_a_quick_snapshot_is_built_every_interval(clock: _Clock) -> None:
    publisher, built = _publisher(clock, build_s=0.001)
    for _ in range(10):
        publisher.publish()
        clock.now += 0.05
    assert len(built) == 5  # every other call: 0.1 s apart


def test_a_slow_snapshot_spaces_the_next_ones_but_a_forced_one_always_builds(
    clock: _Clock,
) -> None:
    build_s = 0.01  # five times the share of a 0.1 s interval
    publisher, built = _publisher(clock, build_s)
    publisher.publish()
    assert built == [1]
    gap = build_s / SNAPSHOT_SHARE  # 0.5 s
    clock.now += gap - build_s - 0.01  # just short of the gap since the build began
    publisher.publish()
    assert built == [1]
    publisher.publish(force=True)  # something a person must see: at once
    assert built == [1, 2]
    clock.now += gap
    publisher.publish()
    assert built == [1, 2, 3]
    assert publisher.published == 3
