"""``--walk-forward IN:OUT``: the folds of a walk-forward sweep, in trading days.

Fold k optimises on IN trading days and is judged on the OUT days that follow them;
the next fold starts OUT days later, so the out-of-sample stretches tile the data
without overlap and each is seen by exactly one fold. A last stretch shorter than OUT
is still judged (it is data the folds before it never saw); one with no day is not a
fold. Days are the days that have data and that the NSE calendar says traded, so a
holiday or a gap in the files never counts as a day of the window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from kitetui.config import ConfigError
from kitetui.market.replay import DateWindow

_SPEC = re.compile(r"\s*([0-9]+)d?\s*:\s*([0-9]+)d?\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WalkForward:
    in_days: int
    out_days: int


@dataclass(frozen=True, slots=True)
class Fold:
    number: int  # from 1
    in_sample: DateWindow
    out_sample: DateWindow
    out_days: int  # trading days in the out-of-sample window


def parse_walk_forward(text: str) -> WalkForward:
    """``60d:20d`` or ``60:20``: trading days in sample, then out of sample."""
    match = _SPEC.fullmatch(text)
    if match is None:
        raise ConfigError(f"--walk-forward {text}", "", "expected IN:OUT, e.g. 60d:20d")
    spec = WalkForward(int(match[1]), int(match[2]))
    if spec.in_days < 1 or spec.out_days < 1:
        raise ConfigError(f"--walk-forward {text}", "", "both IN and OUT need at least 1 day")
    return spec


def folds(days: Sequence[date], spec: WalkForward) -> list[Fold]:
    """The folds over ``days`` (sorted trading days); empty when there are not more
    than ``in_days`` of them."""
    out: list[Fold] = []
    start = 0
    while start + spec.in_days < len(days):
        in_days = days[start : start + spec.in_days]
        out_days = days[start + spec.in_days : start + spec.in_days + spec.out_days]
        out.append(
            Fold(
                number=len(out) + 1,
                in_sample=DateWindow(in_days[0], in_days[-1]),
                out_sample=DateWindow(out_days[0], out_days[-1]),
                out_days=len(out_days),
            )
        )
        start += spec.out_days
    return out
