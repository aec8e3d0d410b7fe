"""Bars certified sound from their columns (``CertifiedBars``) are judged exactly as the
per-bar path judges them: the same bars accepted and released in the same order, the
same skip reasons, notes and gaps, and the validator and gap detector left in the same
state, on generated bars with bad prints, wild wicks, gaps, day changes, jumps past the
bands, and bars that never reach the gate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitetui.domain import NS_PER_SECOND, Bar
from kitetui.market import validate
from kitetui.market.bar_columns import BarColumns
from kitetui.market.certified import CertifiedBars
from kitetui.market.validate import GapDetector, PriceValidator

IST = timezone(timedelta(hours=5, minutes=30))
DAY0 = datetime(2023, 4, 3, 9, 15, tzinfo=IST)


def drive(
    bars: list[Bar],
    validator: PriceValidator,
    gaps: GapDetector,
    certified: CertifiedBars | None,
) -> list[tuple]:
    """What the gate's bar branch (``Supervisor._gate``) does with each bar, as a list
    of outcomes: accepted bars (released ones first), skip reasons, notes and gaps, and
    each day's turnover as its next day begins (``Supervisor._roll_day``) and at the end."""
    out: list[tuple] = []
    ends = gaps.ends
    until = certified.until if certified is not None else {}
    turnover: dict[str, float] = {}
    if certified is not None:
        certified.turnover = turnover
    day = None

    def add(bar: Bar) -> None:  # the gate's sum of a checked bar's turnover
        if bar.volume:
            turnover[bar.symbol] = turnover.get(bar.symbol, 0.0) + bar.close * bar.volume

    def roll() -> None:
        nonlocal turnover
        if certified is not None:
            certified.settle_all()
        out.append(("turnover", turnover))
        turnover = {}
        if certified is not None:
            certified.turnover = turnover

    for item in bars:
        symbol, start = item.symbol, item.ts_ns
        today = (start + 19_800 * NS_PER_SECOND) // (86_400 * NS_PER_SECOND)
        if today != day:
            if day is not None:
                roll()
            day = today
        if start <= until.get(symbol, -1) and start == ends.get(symbol):
            ends[symbol] = start + item.timeframe_s * NS_PER_SECOND
            out.append(("accepted", item))
            continue
        if certified is not None:
            certified.settle(symbol, start)
        reason = validator.check_bar(item)
        released: list = []
        if validator.has_news:
            out.extend(("note", n.kind, n.message, n.ts_ns) for n in validator.take_notes())
            released = validator.take_released()
        if reason is not None:
            out.append(("skipped", item, reason))
            continue
        for accepted in [*released, item]:
            gap = gaps.check(accepted)
            if gap is not None:
                out.append(("gap", accepted, gap))
            add(accepted)
            out.append(("accepted", accepted))
    roll()
    return out


def state_of(validator: PriceValidator, gaps: GapDetector) -> dict:
    states = {
        symbol: (
            s.last,
            s.day,
            s.timeframe_s,
            s.limit,
            list(s.held),
            s.side,
            s.range_avg,
            s.range_n,
        )
        for symbol, s in validator._states.items()
    }
    return {"validator": states, "gaps": dict(gaps.ends), "held": validator.held_count}


# One step of a generated symbol: what kind of bar, how far it moves, its wicks.
STEP = st.tuples(
    st.sampled_from(
        ["move"] * 12
        + ["swing", "jump", "back", "wick", "wick", "range_wick", "range_wick", "range_wick"]
        + ["broken", "gap", "day", "midnight", "drop"]
    ),
    st.integers(-100, 100).map(lambda n: n / 100),
    st.integers(0, 100).map(lambda n: n / 100),
    st.integers(0, 100).map(lambda n: n / 100),
)


def columns_of(
    symbol: str, steps: list[tuple[str, float, float, float]]
) -> tuple[BarColumns, list[bool]]:
    """A symbol's bars as loaded columns, and which of them reach the gate."""
    minute, price, anchor = 0, 100.0, 100.0  # minutes from the first day's 09:15
    rows: list[tuple[int, float, float, float, float, int]] = []
    delivered: list[bool] = []
    for kind, move, wick_up, wick_down in steps:
        volume = int(wick_down * 4) * 1_237  # none, some or a lot: 0 adds no turnover
        if kind == "gap":
            minute += 2 + int(wick_up * 10)  # a hole of 2..12 minutes
        if kind == "day":  # the next day's 09:15
            minute = (minute // (24 * 60) + 1) * 24 * 60
        if kind == "midnight":  # the next 23:59 IST (09:15 + 14:44): the next bar follows it
            minute += (14 * 60 + 44 - minute) % (24 * 60)
        if kind == "jump":  # past the 8% limit: held, then confirmed or rejected
            close = price * (1 + (0.09 + 0.3 * abs(move)) * (1 if move >= 0 else -1))
        elif kind == "back":  # back to where a jump came from
            close = anchor
        elif kind == "swing":
            close = price * (1 + 0.03 * move)
        else:  # small: the typical range stays small, so that the range rule bites
            close = price * (1 + 0.002 * move)
        open_ = price
        top, bottom = max(open_, close), min(open_, close)
        if kind == "wick":  # from inside a quarter of the limit to far past it
            high, low = top * (1 + 0.12 * wick_up), bottom * (1 - 0.12 * wick_down)
        elif kind == "range_wick":  # past a quarter of the limit: the range rule judges
            far, near = 0.02 + 0.06 * wick_up, 0.0005 * wick_down
            high, low = (
                (top * (1 + far), bottom * (1 - near))
                if move >= 0
                else (top * (1 + near), bottom * (1 - far))
            )
        else:
            high, low = top * (1 + 0.0005 * wick_up), bottom * (1 - 0.0005 * wick_down)
        if kind == "broken":
            choice = int(wick_up * 4)
            if choice == 0:
                open_ = high * 1.01  # open above high
            elif choice == 1:
                volume = -1
            elif choice == 2:
                low = 0.0
            else:
                close = float("nan")
        ts = int((DAY0 + timedelta(minutes=minute)).timestamp()) * NS_PER_SECOND
        rows.append((ts, round(open_, 2), round(high, 2), round(low, 2), round(close, 2), volume))
        delivered.append(kind != "drop")
        if kind in ("jump", "move", "swing", "back") and close == close:
            anchor, price = (price, close) if kind == "jump" else (anchor, close)
        minute += 1
    ts, o, h, lo, c, v = (np.array(column) for column in zip(*rows, strict=True))
    part = {
        "ts_ns": ts.astype(np.int64),
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": v.astype(np.int64),
        "oi": np.zeros(len(ts), dtype=np.int64),
    }
    return BarColumns(symbol, 60, (part,)), delivered


def run_both(symbols: dict[str, list], confirmations: int, banded: bool) -> tuple:
    columns, bars = {}, []
    for symbol, steps in symbols.items():
        found, delivered = columns_of(symbol, steps)
        columns[symbol] = found
        made = found.bars(0, 0, len(delivered))
        bars.extend(b for b, keep in zip(made, delivered, strict=True) if keep)
    bars.sort(key=lambda b: b.ts_ns)  # the merge's batches: by time, symbols in order

    def desk() -> tuple[PriceValidator, GapDetector]:
        watched = list(symbols) if banded else []
        validator = PriceValidator(confirmations=confirmations, banded=watched, gap_watched=watched)
        return validator, GapDetector()

    reference_validator, reference_gaps = desk()
    reference = drive(bars, reference_validator, reference_gaps, None)
    validator, gaps = desk()
    certified = CertifiedBars(validator, gaps, columns)
    fast = drive(bars, validator, gaps, certified)
    return (
        (reference, state_of(reference_validator, reference_gaps)),
        (fast, state_of(validator, gaps)),
        certified,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbols=st.dictionaries(
        st.sampled_from(["A", "B", "C"]),
        st.lists(STEP, min_size=20, max_size=150),
        min_size=1,
        max_size=3,
    ),
    confirmations=st.sampled_from([1, 2, 3]),
    banded=st.booleans(),
)
def test_certified_bars_are_judged_as_the_per_bar_path_judges_them(
    symbols: dict[str, list], confirmations: int, banded: bool
) -> None:
    (reference, reference_state), (fast, fast_state), _ = run_both(symbols, confirmations, banded)
    assert fast == reference
    # Each day's turnover bit for bit (its order is not the gate's: a symbol is ranked
    # by a look-up, ``select_universe``).
    days = [repr(sorted(o[1].items())) for o in fast if o[0] == "turnover"]
    assert days == [repr(sorted(o[1].items())) for o in reference if o[0] == "turnover"]
    assert repr(fast_state) == repr(reference_state)  # repr: NaN-safe, bit for bit floats


def test_quiet_bars_are_certified_all_but_each_days_first() -> None:
    """The premise of the speed: on sound data the per-bar checks run once a day."""
    up, down = ("move", 0.3, 0.5, 0.5), ("move", -0.2, 0.5, 0.5)
    steps = [up] * 50 + [("day", 0.1, 0.5, 0.5)] + [down] * 49
    _, _, certified = run_both({"A": steps}, 3, True)
    runs = certified._runs["A"]
    assert len(runs.firsts) == 2
    spans = zip(runs.firsts, runs.lasts, strict=True)
    assert sum((last - first) // runs.step_ns + 1 for first, last in spans) == 98


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("broken", "a broken bar"),
        ("wick", "a wick past a quarter of the limit"),
        ("gap", "a hole before it"),
        ("day", "a new day"),
        ("jump", "a jump past the limit"),
    ],
)
def test_a_bar_the_checks_may_refuse_is_not_certified(kind: str, why: str) -> None:
    steps = [("move", 0.2, 0.5, 0.5)] * 30 + [(kind, 0.9, 0.9, 0.9)] + [("move", 0.2, 0.5, 0.5)] * 5
    found, _ = columns_of("A", steps)
    sound = PriceValidator().sound_successors("A", 60, found.segments[0])
    assert not sound[29], why  # row 30 follows row 29
    assert sound[:29].all()


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 45),
    st.floats(0.0, 50.0),
    st.lists(st.floats(0.0, 50.0), max_size=60),
)
def test_a_fold_leaves_the_range_average_check_bar_leaves_bit_for_bit(
    before: int, average: float, ranges: list[float]
) -> None:
    """``fold_accepted`` splits the range average's terms into those weighing ``1 / n``
    (the first ``_RANGE_SPAN``) and the rest: across that boundary too, each term is the
    recurrence ``check_bar``'s fast path computes (``learn_range``), the very float."""
    validator = PriceValidator()
    state = validator._states["A"] = validate._SymbolState()
    state.range_n, state.range_avg = before, average
    reference = validate._SymbolState()
    reference.range_n, reference.range_avg = before, average
    for spread in ranges:
        reference.learn_range(Bar("A", 0, 60, 0.0, spread, 0.0, 0.0))  # high - low: spread
    validator.fold_accepted("A", 2.5, ranges)
    assert (state.range_n, state.range_avg, state.last) == (
        reference.range_n,
        reference.range_avg,
        2.5,
    )
