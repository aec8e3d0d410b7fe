"""Bars certified sound ahead, a column at a time, so the gate checks them in a step.

At full speed every bar of a backtest goes through the price validator's ``check_bar``
and the gap detector's ``check``: some forty lines of Python a bar, for data that is
almost all sound. But the loaded columns are there before the run, so numpy can say
for every row at once whether its bar *certainly* passes both, given that the row
before it was the symbol's last bar accepted (``PriceValidator.sound_successors``: a
whole bar, continuous in time, on the same day, within the jump limit and with wicks
in proportion; conservative: a bar it cannot vouch for goes the per-bar way).

What stays per bar is knowing that the premise holds. The gap detector already keeps
each symbol's last accepted end, and a certified row begins where the row before it
ends: a bar whose start is that end, and whose row lies in a certified run, follows
the row the validator last accepted (a skipped or held bar, or one that never reached
the gate, leaves the end behind it, and its successor goes the per-bar way). The gate
then only moves that end (``GapDetector.ends``), which is all the gap detector would
have done. The validator's own state (last close, range average) is folded in when it
next looks at the symbol (``settle``, before every per-bar check of it, and
``settle_all`` at the end), term by term as ``check_bar`` would have left it, so the
next uncertified bar is judged exactly as on the per-bar path: no decision changes, and
every skipped print is still a ``BarSkipped`` (``tests/market/test_certified.py``).
The day's turnover (the gate's, which ranks tomorrow's universe) is folded in the same
way: the taken bars' close times volume, summed after the symbol's earlier bars in the
order the gate would have added them.

Only the symbols whose bars the merge hands over exactly as their columns hold them
are certified (``bar_columns``: lazy bar streams of one timeframe, no overlap).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from kitetui.domain import NS_PER_SECOND
from kitetui.market.bar_columns import BarColumns
from kitetui.market.packed import price_array
from kitetui.market.validate import GapDetector, PriceValidator

__all__ = ["CertifiedBars"]


@dataclass(frozen=True, slots=True)
class _Runs:
    """A symbol's certified runs, in time order: each run's first and last bar start,
    and where its first row is (segment, row)."""

    step_ns: int
    firsts: list[int]
    lasts: list[int]
    segments: list[int]
    rows: list[int]


class CertifiedBars:
    """The certified runs of each symbol of ``columns``, and the bookkeeping that keeps
    ``validator`` as the per-bar path would leave it.

    The gate takes a bar of ``symbol`` starting at ``start`` as certified when
    ``start <= until[symbol]`` and ``start == gaps.ends[symbol]``; it then sets
    ``gaps.ends[symbol]`` to the bar's end. Any other bar of the symbol: ``settle``
    first, then the per-bar checks. ``turnover`` is the gate's dict of the day's
    turnover per symbol (rupees), which the certified bars add to when folded: the gate
    adds only the bars it checked, and hands over each day's new dict after a
    ``settle_all``."""

    __slots__ = ("_armed", "_columns", "_ends", "_runs", "_validator", "turnover", "until")

    def __init__(
        self, validator: PriceValidator, gaps: GapDetector, columns: Mapping[str, BarColumns]
    ) -> None:
        self._validator = validator
        self._ends = gaps.ends
        self._columns = dict(columns)
        self._runs: dict[str, _Runs] = {}
        # The last certified bar start the gate may take next, per symbol (absent: none).
        self.until: dict[str, int] = {}
        # The run the gate may be taking bars of, per symbol: its index in ``_runs``.
        self._armed: dict[str, int] = {}
        self.turnover: dict[str, float] = {}
        if gaps.max_gap_ns < 0:  # not even a continuous bar passes it: certify nothing
            return
        for symbol, found in self._columns.items():
            self._runs[symbol] = _runs_of(validator, found)

    def settle(self, symbol: str, start: int) -> None:
        """Before the per-bar check of ``symbol``'s bar starting at ``start``: fold the
        bars taken as certified since the last per-bar check into the validator, and
        arm the run that begins right after this bar, if one does."""
        runs = self._runs.get(symbol)
        if runs is None:
            return
        self._fold(symbol, runs)
        following = start + runs.step_ns
        index = bisect_left(runs.firsts, following)
        if index < len(runs.firsts) and runs.firsts[index] == following:
            self.until[symbol] = runs.lasts[index]
            self._armed[symbol] = index
        else:
            self.until.pop(symbol, None)

    def settle_all(self) -> None:
        """Fold every symbol's certified bars in: the validator and the turnover as the
        per-bar path leaves them (at a day's end and the end of a run)."""
        for symbol, runs in self._runs.items():
            self._fold(symbol, runs)
            self.until.pop(symbol, None)

    def _fold(self, symbol: str, runs: _Runs) -> None:
        """The bars of the armed run the gate took (from its first to the symbol's end
        in the gap detector), folded into the validator's state and the turnover."""
        index = self._armed.pop(symbol, None)
        if index is None:
            return
        first = runs.firsts[index]
        taken = (self._ends.get(symbol, first) - first) // runs.step_ns
        if taken <= 0:
            return
        assert first + (taken - 1) * runs.step_ns <= runs.lasts[index], "taken past the run"
        part = self._columns[symbol].segments[runs.segments[index]]
        row = runs.rows[index]
        high = price_array(part["high"][row : row + taken])
        low = price_array(part["low"][row : row + taken])
        closes = price_array(part["close"][row : row + taken])
        self._validator.fold_accepted(symbol, float(closes[-1]), (high - low).tolist())
        volumes = part["volume"][row : row + taken]
        turnover = self.turnover
        if symbol in turnover or volumes.any():
            # The gate's ``turnover.get(symbol, 0.0) + close * volume`` for each bar with
            # a volume, in order: a running sum (``add.accumulate`` adds one term after
            # another, as the loop did), where a bar without adds 0.0 to a positive sum,
            # which leaves it as it was; a symbol without any keeps no entry.
            terms = np.empty(taken + 1)
            terms[0] = turnover.get(symbol, 0.0)
            np.multiply(closes, volumes, out=terms[1:])
            turnover[symbol] = float(np.add.accumulate(terms)[-1])


def _runs_of(validator: PriceValidator, columns: BarColumns) -> _Runs:
    """Every maximal run of certified rows of each segment of ``columns``."""
    firsts: list[int] = []
    lasts: list[int] = []
    segments: list[int] = []
    rows: list[int] = []
    for number, part in enumerate(columns.segments):
        sound = validator.sound_successors(columns.symbol, columns.timeframe_s, part)
        if not sound.any():
            continue
        # Row r + 1 is certified when sound[r]: runs are where sound turns on and off.
        edges = np.diff(sound.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1) + 1
        ends = np.flatnonzero(edges == -1)  # each run's last row
        ts = part["ts_ns"]
        firsts.extend(ts[starts].tolist())
        lasts.extend(ts[ends].tolist())
        segments.extend([number] * len(starts))
        rows.extend(starts.tolist())
    return _Runs(columns.timeframe_s * NS_PER_SECOND, firsts, lasts, segments, rows)
