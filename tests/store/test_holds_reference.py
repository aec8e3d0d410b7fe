"""``HoldCounter`` counts exactly what the reference tally does: a batch's HOLDs in a
dict of their own, merged into the finished counts when the batch closes (the counter
as it was before it noted a batch's HOLDs and counted them at its close).

A property over random runs: HOLDs in or out of time order within a batch, across IST
midnight, past the reason cap, with transactions taken, failed (given back) and
batches dropped anywhere. The counts, their keys' order and the known reasons agree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.clock import ist_day_number
from kitetui.store.holds import MAX_REASONS, OTHER_REASONS, Counts, HoldCounter, merge

NS = 1_000_000_000
MORNING = 1_672_631_100 * NS  # 2023-01-02 09:15 IST
MIDNIGHT = 1_672_684_200 * NS  # 2023-01-03 00:00 IST


class ReferenceCounter:
    """The reference tally (``HoldCounter`` as it was: a dict per batch)."""

    def __init__(self) -> None:
        self._day_ts = self._day = -1
        self._current: Counts = {}
        self.ready: Counts = {}
        self._reasons: dict[str, set[str]] = {}

    def count(self, engine: str, symbol: str, reason: str, ts_ns: int) -> None:
        if ts_ns != self._day_ts:
            self._day_ts, self._day = ts_ns, ist_day_number(ts_ns)
        key = (self._day, engine, symbol, reason)
        entry = self._current.get(key)
        if entry is not None:
            entry[0] += 1
            entry[2] = ts_ns
            return
        known = self._reasons.setdefault(engine, set())
        if reason not in known:
            if len(known) >= MAX_REASONS:
                key = (key[0], engine, symbol, OTHER_REASONS)
                entry = self._current.get(key)
                if entry is not None:
                    entry[0] += 1
                    entry[2] = ts_ns
                    return
            else:
                known.add(reason)
        self._current[key] = [1, ts_ns, ts_ns]

    def close_batch(self) -> None:
        current = self._current
        if not current:
            return
        self._current = {}
        if not self.ready:
            self.ready = current
            return
        merge(self.ready, current)

    def drop_batch(self) -> None:
        self._current = {}

    def take(self) -> Counts:
        ready, self.ready = self.ready, {}
        return ready

    def give_back(self, counts: Counts) -> None:
        if counts:
            merge(self.ready, counts)


_hold = st.tuples(
    st.sampled_from(["eq", "fno"]),
    st.sampled_from(["A", "B", "C"]),
    st.integers(0, MAX_REASONS + 8),  # a reason number: past the cap sometimes
    st.sampled_from([MORNING, MORNING + 60 * NS, MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + NS]),
)
_step = st.one_of(
    st.lists(_hold, max_size=12).map(lambda holds: ("batch", holds)),
    st.just(("drop", None)),
    st.just(("take", None)),
    st.just(("fail", None)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=30), st.booleans())
def test_the_counter_counts_what_the_reference_tally_counts(steps, sort_batches) -> None:
    ours, reference = HoldCounter(), ReferenceCounter()
    written_ours: list[list[tuple]] = []
    written_reference: list[list[tuple]] = []
    for kind, holds in steps:
        if kind == "batch":
            if sort_batches:  # in time order, the common case (the fast path)
                holds = sorted(holds, key=lambda h: h[3])
            for engine, symbol, n, ts_ns in holds:
                reason = OTHER_REASONS if n == MAX_REASONS + 8 else f"reason {n % 70}"
                ours.count(engine, symbol, reason, ts_ns)
                reference.count(engine, symbol, reason, ts_ns)
            ours.close_batch()
            reference.close_batch()
        elif kind == "drop":
            ours.drop_batch()
            reference.drop_batch()
        elif kind == "take":
            written_ours.append([(k, tuple(v)) for k, v in ours.take().items()])
            written_reference.append([(k, tuple(v)) for k, v in reference.take().items()])
        else:  # a transaction taken, then rolled back: its counts come back
            ours.give_back(ours.take())
            reference.give_back(reference.take())
        assert [(k, tuple(v)) for k, v in ours.ready.items()] == [
            (k, tuple(v)) for k, v in reference.ready.items()
        ]
    assert written_ours == written_reference
    assert ours._reasons == reference._reasons


_one_time_batch = st.tuples(
    st.sampled_from([MORNING, MORNING + 60 * NS, MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + NS]),
    st.lists(
        st.tuples(
            st.sampled_from(["eq", "fno"]),
            st.sampled_from(["A", "B", "C"]),
            st.integers(0, MAX_REASONS + 8),
        ),
        min_size=1,
        max_size=8,
    ),
)
_one_time_step = st.one_of(
    _one_time_batch.map(lambda batch: ("batch", batch)),
    st.just(("take", None)),
    st.just(("fail", None)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_one_time_step, max_size=30))
def test_batches_of_one_time_each_count_what_the_reference_counts_whatever_their_order(
    steps,
) -> None:
    """A batch whose HOLDs share one time (a data minute's: every batch of a backtest)
    takes ``close_batch``'s short path when that time is at or after every time counted
    so far: a key's last time becomes it and its first stays. Batches here go back in
    time too (the short path must not be taken then: a key's first time would stay
    after the batch's), over taken and given-back transactions."""
    ours, reference = HoldCounter(), ReferenceCounter()
    for kind, batch in steps:
        if kind == "batch":
            ts_ns, holds = batch
            for engine, symbol, n in holds:
                reason = OTHER_REASONS if n == MAX_REASONS + 8 else f"reason {n % 70}"
                ours.count(engine, symbol, reason, ts_ns)
                reference.count(engine, symbol, reason, ts_ns)
            ours.close_batch()
            reference.close_batch()
        elif kind == "take":
            assert [(k, tuple(v)) for k, v in ours.take().items()] == [
                (k, tuple(v)) for k, v in reference.take().items()
            ]
        else:
            ours.give_back(ours.take())
            reference.give_back(reference.take())
        assert [(k, tuple(v)) for k, v in ours.ready.items()] == [
            (k, tuple(v)) for k, v in reference.ready.items()
        ]
    assert ours._reasons == reference._reasons


def test_batches_after_a_time_gone_back_keep_the_latest_time_as_the_last() -> None:
    """The short path's guard, by hand: a key counted at 09:16, then in two batches at
    09:15 (time gone back, as a live feed's may). The second of those is in order after
    the first, yet before 09:16: the key's last time stays 09:16."""
    counter = HoldCounter()
    for ts_ns in (MORNING + 60 * NS, MORNING, MORNING):
        counter.count("eq", "A", "flat", ts_ns)
        counter.close_batch()
    (entry,) = counter.ready.values()
    assert entry == [3, MORNING, MORNING + 60 * NS]
