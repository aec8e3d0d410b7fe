"""The collector's full-speed setting is scoped to the replay and undone after it."""

from __future__ import annotations

import gc
import weakref

import pytest

from kitetui.supervisor.collector import MIDDLE, OLD, YOUNG, full_speed_collection


def test_full_speed_freezes_and_raises_thresholds_then_restores() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with full_speed_collection(True):
        assert gc.get_threshold() == (YOUNG, MIDDLE, OLD)
        assert gc.get_freeze_count() > frozen_before  # what existed is out of collections
        assert gc.isenabled()  # collection stays on
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_replay_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), full_speed_collection(True):
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_disabled_changes_nothing() -> None:
    before = gc.get_threshold()
    with full_speed_collection(False):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0


def test_a_cycle_made_during_the_run_is_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    with full_speed_collection(True):
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
        assert ref() is not None  # a cycle: reference counts alone never free it
        gc.collect()
        assert ref() is None
