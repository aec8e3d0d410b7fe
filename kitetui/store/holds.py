"""HOLD decisions counted, not journaled one row per bar.

A strategy answers every bar; most answers are HOLD and change nothing. Journaled as a
signal row each (with its indicator snapshot as JSON) they were 90% of a backtest's
database and a good part of its journal work, while nobody reads them one by one. So a
HOLD that changes nothing is counted per trading day, engine, symbol and reason, and
the counts go to ``hold_counts`` (schema 6); ``journal.hold_rows: true`` keeps the old
row per bar for debugging a strategy.

The counts must survive a crash exactly like the rest of the journal: a resumed run
replays, silently, every batch up to the journaled cursor and processes the ones after
it again, so the counts committed must be those of the batches up to that cursor, no
more and no fewer. ``HoldCounter`` therefore keeps the current batch's counts apart
(``count``) and hands them over only when the batch is finished (``close_batch``, called
with the cursor); the journal writes what was handed over in the same transaction as
the cursor. A crash loses the counts of the unfinished batch, which is processed again.
What is decided after the last batch (the end of the data flushes partial bars) has no
cursor to go with: a resumed run decides it again, so the journal writes those few
HOLDs as signal rows, whose ids make a second write a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from kitetui.clock import date_of_day_number, ist_day_number, ist_day_start_ns

OTHER_REASONS = "(other reasons)"
_DAY_NS = 86_400 * 1_000_000_000
MAX_REASONS = 64  # per engine: a reason with numbers in it must not make a row per bar

HOLD_UPSERT = (
    "INSERT INTO hold_counts (run_id, trading_day, engine, symbol, reason, holds, "
    "first_ts_ns, last_ts_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, trading_day, engine, symbol, reason) DO UPDATE SET "
    "holds = holds + excluded.holds, first_ts_ns = min(first_ts_ns, excluded.first_ts_ns), "
    "last_ts_ns = max(last_ts_ns, excluded.last_ts_ns)"
)

# (IST day number, engine, symbol, reason) -> [holds, first ts, last ts]
Counts = dict[tuple[int, str, str, str], list[int]]

# One HOLD of the current batch: engine, symbol, reason, time, and what builds its
# ``Signal`` (``make(*args)``) should the batch be dropped and its HOLDs become rows.
Hold = tuple[str, str, str, int, Callable[..., Any] | None, tuple[Any, ...]]

# HOLDs of one time and one ``make``, as the counter keeps them: (time, make, holds),
# each of ``holds`` its key (engine, symbol, reason), one tuple an engine builds once,
# followed by ``make``'s arguments. An engine hands over its HOLDs so (``count_runs``):
# a time and ``make`` once for a run of them, and no key built per HOLD.
Run = tuple[int, Callable[..., Any] | None, list[tuple[Any, ...]]]


def unrolled(runs: list[Run]) -> list[Hold]:
    """``runs``' HOLDs one by one, in order."""
    return [
        (key[0], key[1], key[2], ts_ns, make, hold[1:])
        for ts_ns, make, holds in runs
        for hold in holds
        for key in (hold[0],)
    ]


def day_text(day_number: int) -> str:
    return date.fromordinal(719_163 + day_number).isoformat()  # 719,163: 1970-01-01


class HoldCounter:
    """HOLD counts of the batch being processed, and of the finished batches not yet
    written (module docstring).

    ``count`` is the engines' hot path (most bars): it only notes the HOLD, and the
    batch's notes are counted when the batch is finished (``close_batch``), straight
    into ``ready``. That gives the counts a batch-by-batch tally would (``_tally``:
    the batch's own counts, then merged), because a key's first and last times are its
    earliest and latest when the batch's times never go back, which ``count`` checks;
    a batch whose times do go back is tallied the reference way. A reason is known
    (``MAX_REASONS``) from the close of the batch that first counted it; a dropped
    batch (the end of the data: nothing is counted after it) teaches none.

    A batch's HOLDs are kept as runs of one time (``Run``), whose HOLDs carry their key
    without the day: ``ready``'s entries of the day being counted are looked up by that
    key in ``_index`` (the same lists), so a HOLD counted costs one look-up of a tuple
    that exists already, not a key built and hashed."""

    __slots__ = (
        "_batch",
        "_day",
        "_day_ns",
        "_in_order",
        "_index",
        "_index_day",
        "_last_ts",
        "_latest",
        "_reasons",
        "ready",
    )

    def __init__(self) -> None:
        # The IST day of the last time counted: a batch's bars share their time.
        self._day = -1
        self._day_ns = (0, 0)  # the span of ``_day`` in epoch ns (``_day_of``): none yet
        self._batch: list[Run] = []  # the current batch's HOLDs
        self._last_ts = -1
        self._in_order = True  # the current batch's times never went back
        self.ready: Counts = {}  # finished batches' counts, for the next transaction
        # The latest time counted into ``ready`` so far (handed over or not): no count
        # in ``ready`` has a first or last time after it (``close_batch``).
        self._latest = -1
        self._reasons: dict[str, set[str]] = {}
        # ``ready``'s entries of the IST day ``_index_day``, by (engine, symbol, reason):
        # a HOLD's own key, whatever ``_key`` made of it. Emptied whenever ``ready`` is
        # replaced (``take``, a batch out of time order); an entry ``give_back`` or
        # ``merge`` adds is found in ``ready`` at its first look-up.
        self._index: dict[tuple[str, str, str], list[int]] = {}
        self._index_day = -1

    def know(self, engine: str, reasons: list[str]) -> None:
        """The reasons a resumed run had counted before (``hold_counts``), so that the
        reasons past ``MAX_REASONS`` fall under ``OTHER_REASONS`` exactly as they would
        have without the restart: the counts written up to the cursor hold exactly the
        reasons seen up to it."""
        self._reasons.setdefault(engine, set()).update(r for r in reasons if r != OTHER_REASONS)

    def count(
        self,
        engine: str,
        symbol: str,
        reason: str,
        ts_ns: int,
        make: Callable[..., Any] | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        """One HOLD of the current batch (noted, counted at its close); ``make(*args)``
        builds its ``Signal`` if the batch is dropped (``drop_batch``)."""
        if ts_ns < self._last_ts:
            self._in_order = False
        self._last_ts = ts_ns
        self._batch.append((ts_ns, make, [((engine, symbol, reason), *args)]))

    def count_runs(self, runs: list[Run]) -> None:
        """``count`` for each HOLD of ``runs``, in their order (an engine's HOLDs in a
        batch, handed over at once: the hot path of a backtest)."""
        last = self._last_ts
        for run in runs:
            ts_ns = run[0]
            if ts_ns < last:
                self._in_order = False
            last = ts_ns
        self._last_ts = last
        self._batch.extend(runs)

    def close_batch(self) -> None:
        """The batch is finished: its counts may be written with its cursor."""
        batch = self._batch
        in_order = self._in_order
        self._batch, self._in_order = [], True
        if not batch:
            return
        if not in_order:
            holds = unrolled(batch)
            current = self._tally(holds)
            self._latest = max(self._latest, max(hold[3] for hold in holds))
            if not self.ready:
                self.ready = current
            else:
                merge(self.ready, current)
            self._index = {}
            return
        for ts, _, holds in batch:
            day = self._day_of(ts)
            if day != self._index_day:
                self._index, self._index_day = {}, day
            found = self._index.get
            if ts >= self._latest:
                # At or after every time counted so far (a backtest's batches: always).
                # A key counted before has its first and last times at or before it, so
                # its last becomes this time and its first stays: the same figures as
                # the loop below, with fewer steps.
                self._latest = ts
                for hold in holds:
                    entry = found(hold[0])
                    if entry is None:
                        entry = self._entry(day, hold[0], ts)
                    entry[0] += 1
                    entry[2] = ts
                continue
            for hold in holds:  # in time order, but before a time counted earlier
                entry = found(hold[0])
                if entry is None:
                    entry = self._entry(day, hold[0], ts)
                entry[0] += 1
                if ts < entry[1]:
                    entry[1] = ts
                if ts > entry[2]:
                    entry[2] = ts

    def _entry(self, day: int, key: tuple[str, str, str], ts_ns: int) -> list[int]:
        """``ready``'s entry for a HOLD of ``key`` on ``day`` (a new one counts nothing
        yet, first and last at ``ts_ns``), noted in ``_index``."""
        ready = self.ready
        full = (day, *key)
        entry = ready.get(full)
        if entry is None:
            full = self._key(full)
            entry = ready.get(full)
            if entry is None:
                entry = ready[full] = [0, ts_ns, ts_ns]
        self._index[key] = entry
        return entry

    def _day_of(self, ts_ns: int) -> int:
        """``ist_day_number(ts_ns)``, worked out once a day: a batch of a new time on the
        day of the last is two comparisons, not a division of its epoch-ns integer."""
        start, end = self._day_ns
        if not start <= ts_ns < end:
            self._day = day = ist_day_number(ts_ns)
            start = ist_day_start_ns(date_of_day_number(day))
            self._day_ns = (start, start + _DAY_NS)
        return self._day

    def _key(self, key: tuple[int, str, str, str]) -> tuple[int, str, str, str]:
        """The key a HOLD is counted under the first time it is (in a batch's counts, or
        in ``ready``): its own, or its engine's ``OTHER_REASONS`` once the engine has
        ``MAX_REASONS`` others (a reason with numbers in it, say: one bucket)."""
        day, engine, symbol, reason = key
        known = self._reasons.setdefault(engine, set())
        if reason not in known:
            if len(known) >= MAX_REASONS:
                return (day, engine, symbol, OTHER_REASONS)
            known.add(reason)
        return key

    def _tally(self, batch: list[Hold]) -> Counts:
        """The batch's own counts, its HOLDs in the order counted: a key's first and
        last times are those of its first and last HOLD (the reference tally)."""
        current: Counts = {}
        for engine, symbol, reason, ts_ns, _, _ in batch:
            key = (self._day_of(ts_ns), engine, symbol, reason)
            entry = current.get(key)
            if entry is None:
                key = self._key(key)
                entry = current.get(key)
                if entry is None:
                    current[key] = [1, ts_ns, ts_ns]
                    continue
            entry[0] += 1
            entry[2] = ts_ns
        return current

    def drop_batch(self) -> list[Hold]:
        """Forget the current batch's counts and hand back its HOLDs, in the order
        counted (the journal writes them as rows)."""
        batch = self._batch
        self._batch, self._in_order = [], True
        return unrolled(batch)

    def take(self) -> Counts:
        """The finished batches' counts, for a transaction (``give_back`` if it fails)."""
        ready, self.ready = self.ready, {}
        self._index = {}
        return ready

    def give_back(self, counts: Counts) -> None:
        """A transaction that did not commit: its counts wait for the next one."""
        if counts:
            merge(self.ready, counts)

    @property
    def pending(self) -> int:
        """Counts not yet written, finished batches and the current one (for tests)."""
        return sum(e[0] for e in self.ready.values()) + sum(len(r[2]) for r in self._batch)


def merge(into: Counts, counts: Counts) -> None:
    """Add ``counts`` to ``into`` (every finished batch: kept to plain comparisons)."""
    for key, (n, first, last) in counts.items():
        entry = into.get(key)
        if entry is None:
            into[key] = [n, first, last]
        else:
            entry[0] += n
            if first < entry[1]:
                entry[1] = first
            if last > entry[2]:
                entry[2] = last


def hold_rows(run_id: str, counts: Counts) -> list[tuple]:
    """The upsert parameters (``HOLD_UPSERT``) of ``counts``."""
    return [
        (run_id, day_text(day), engine, symbol, reason, n, first, last)
        for (day, engine, symbol, reason), (n, first, last) in counts.items()
    ]
