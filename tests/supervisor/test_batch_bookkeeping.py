"""What the desk asks after every batch, asked the short way, answers as the long way does.

Each batch ends with the same bookkeeping (``Supervisor._process``): the session clock
(entry cut-off, square-off, the bell), the loss limits, and the checkpoint's risk
state. On most batches nothing there moved, so each is answered by a comparison or a
kept figure: the session's minutes as epoch ns of its day (``SessionKeeper.plan``), the
loss limits from the day's P&L and the worst symbol's (``Portfolio.day_loss``,
``RiskEngine.may_breach``), and the risk state's last snapshot given again while what
it is made of is unchanged (``RiskEngine.to_state``). These tests hold each short way
to the long one, and fail when a skip is wrong (a limit near and not asked, a counter
moved and the old state given).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date
from itertools import count
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loss_limit_helpers import LIMITS

from kitetui.clock import ist_date, ist_day_number, ist_day_start_ns, ist_minute_of_day
from kitetui.domain import Fill, Side
from kitetui.money import Charges, FillCost
from kitetui.supervisor.gate import Supervisor
from kitetui.supervisor.session_keeper import SessionKeeper
from kitetui.trading.portfolio import Portfolio
from kitetui.trading.risk import ENTRY_CUTOFF, RiskEngine
from kitetui.trading.session import SessionPlan

MINUTE_NS = 60_000_000_000
DAY = date(2024, 5, 17)
START = ist_day_start_ns(DAY)

# -- the session clock ------------------------------------------------------------------


def _keeper(plan: SessionPlan) -> SessionKeeper:
    keeper = SessionKeeper.__new__(SessionKeeper)
    keeper.desk = SimpleNamespace(risk=RiskEngine(LIMITS, "2024-05-17"))  # type: ignore[assignment]
    keeper.plan = plan
    keeper.closed = False
    return keeper


def test_the_day_start_is_the_first_nanosecond_of_its_ist_day() -> None:
    assert ist_date(START) == DAY and ist_minute_of_day(START) == 0
    assert ist_date(START - 1) != DAY


_plans = st.builds(
    lambda open_m, close_m, cut, sq_eq, sq_fno: SessionPlan(
        DAY, open_m, close_m, cut, sq_eq, sq_fno, False
    ),
    st.integers(0, 700),
    st.integers(700, 1439),
    st.integers(0, 1439),
    st.integers(0, 1439),
    st.integers(0, 1439),
)
# the plan's day, its edges and minutes, and other days (the long way's answers)
_stamps = st.one_of(
    st.integers(-3, 1443).map(lambda m: START + m * MINUTE_NS),
    st.integers(-3, 1443).map(lambda m: START + m * MINUTE_NS - 1),
    st.integers(START - 2 * 86_400 * 10**9, START + 3 * 86_400 * 10**9),
)


@settings(max_examples=300, deadline=None)
@given(_plans, st.lists(_stamps, min_size=1, max_size=12))
def test_the_session_clock_answers_what_the_minute_of_the_day_answers(plan, stamps) -> None:
    """Each answer is the minute-of-the-day one (the code before the ns thresholds),
    for stamps on the plan's day and off it, and the cut-off block is set with its
    reason past the cut-off and lifted before it, whatever the order of the stamps."""
    keeper = _keeper(plan)
    risk = keeper.desk.risk
    for ts in stamps:
        minute = ist_minute_of_day(ts)
        keeper.entry_window(ts)
        if minute >= plan.entry_cutoff_minute:
            cutoff = plan.entry_cutoff_minute
            block = risk.blocks[ENTRY_CUTOFF]
            assert block.reason == f"after the entry cut-off {cutoff // 60:02d}:{cutoff % 60:02d}"
            assert block.clears == "at the next session's open"
        else:
            assert ENTRY_CUTOFF not in risk.blocks
        assert keeper.square_off_may_be_due(ts) == (
            minute >= min(plan.square_off_equity, plan.square_off_fno)
        )
        assert keeper.due(ts) == (minute >= plan.close_minute and ist_date(ts) == plan.day)


@settings(max_examples=300, deadline=None)
@given(_plans, st.lists(st.tuples(_stamps, st.booleans()), min_size=1, max_size=12))
def test_a_steady_batch_is_one_the_clock_has_nothing_to_do_for(plan, stamps) -> None:
    """``steady`` (the batch path's one question before the day's first clock event)
    is True only where ``entry_window`` would change nothing and ``square_off_may_be_due``
    and ``due`` answer False: for stamps on and off the plan's day, at its minutes' edges,
    with a cut-off block left standing (a resumed day's) or not. It fails when the span
    ends one nanosecond late, leaves an event out, or forgets the block to lift."""
    keeper = _keeper(plan)
    risk = keeper.desk.risk
    for ts, blocked in stamps:
        if blocked:
            risk.set_block(ENTRY_CUTOFF, "after the entry cut-off (yesterday)", "at the open")
        if not keeper.steady(ts):
            keeper.entry_window(ts)  # the batch path asks the long way
            continue
        before = dict(risk.blocks)
        keeper.entry_window(ts)
        assert risk.blocks == before
        assert not keeper.square_off_may_be_due(ts)
        assert not keeper.due(ts)


def test_the_morning_is_steady_until_the_first_clock_event() -> None:
    """The skip happens: a plan's morning is steady, its first event's minute is not, and
    a cut-off block left from before makes the next batch lift it the long way."""
    keeper = _keeper(SessionPlan(DAY, 555, 930, 900, 920, 925, False))
    assert keeper.steady(START + 600 * MINUTE_NS)
    assert keeper.steady(START + 900 * MINUTE_NS - 1)
    assert not keeper.steady(START + 900 * MINUTE_NS)  # the cut-off
    assert not keeper.steady(START - 1)  # the day before: the long way
    keeper.desk.risk.set_block(ENTRY_CUTOFF, "after the entry cut-off 15:00", "at the open")
    assert not keeper.steady(START + 600 * MINUTE_NS)
    keeper.entry_window(START + 600 * MINUTE_NS)
    assert keeper.steady(START + 600 * MINUTE_NS)


@pytest.mark.parametrize(
    ("plan", "first"),
    [
        (SessionPlan(DAY, 555, 930, 900, 920, 925, False), 900),  # the cut-off
        (SessionPlan(DAY, 555, 930, 925, 910, 920, False), 910),  # the equity square-off
        (SessionPlan(DAY, 555, 930, 925, 920, 905, False), 905),  # the F&O square-off
        (SessionPlan(DAY, 555, 700, 900, 920, 925, False), 700),  # the bell
    ],
)
def test_each_clock_event_ends_the_steady_stretch(plan: SessionPlan, first: int) -> None:
    """Whichever of the day's clock events comes first ends the steady stretch at its
    minute's first nanosecond, and the clock's own answer there is not nothing."""
    keeper = _keeper(plan)
    at = START + first * MINUTE_NS
    assert keeper.steady(at - 1) and not keeper.steady(at)
    keeper.entry_window(at)
    moved = ENTRY_CUTOFF in keeper.desk.risk.blocks
    assert moved or keeper.square_off_may_be_due(at) or keeper.due(at)


@given(st.integers(START - 3 * 86_400 * 10**9, START + 3 * 86_400 * 10**9), _stamps)
def test_the_desks_day_span_is_its_ist_day(entered: int, ts: int) -> None:
    """The batch path's new-day test (``Supervisor._day_ns``, two comparisons) answers
    what ``ist_day_number(ts) != day`` answers, at midnight IST's edges and elsewhere."""
    desk = Supervisor.__new__(Supervisor)
    desk._enter_day(entered)
    start, end = desk._day_ns
    assert desk.day == ist_day_number(entered)
    assert (start <= ts < end) == (ist_day_number(ts) == desk.day)
    assert start <= entered < end


def test_a_new_plan_moves_the_clock_and_the_cutoff_blocks_reason() -> None:
    """The thresholds follow ``plan`` however it is set (a test or ``start``): a
    special session's earlier cut-off is said in the block, not the day before's."""
    keeper = _keeper(SessionPlan(DAY, 555, 930, 900, 920, 925, False))
    at_1215 = START + 735 * MINUTE_NS
    keeper.entry_window(at_1215)
    assert ENTRY_CUTOFF not in keeper.desk.risk.blocks
    keeper.plan = SessionPlan(DAY, 555, 750, 720, 740, 745, True)
    keeper.entry_window(at_1215)
    assert keeper.desk.risk.blocks[ENTRY_CUTOFF].reason == "after the entry cut-off 12:00"
    assert not keeper.due(at_1215) and keeper.due(START + 750 * MINUTE_NS)


# -- the loss limits --------------------------------------------------------------------

_ids = count()


def _fill(side: Side, qty: int, price: float, symbol: str) -> Fill:
    n = next(_ids)
    return Fill(f"f{n}", f"t{n}", symbol, side, qty, price, ts_ns=n, engine="eq")


_prices = st.integers(min_value=1, max_value=200_000).map(lambda p: p / 100)
_steps = st.lists(
    st.tuples(
        st.sampled_from(["fill", "charged", "mark", "day"]),
        st.sampled_from(["NIFTY", "SBIN", "INFY"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 50),
        _prices,
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_steps)
def test_the_day_loss_is_the_day_pnls_figure_and_its_lowest_symbol(steps) -> None:
    """``day_loss`` after any fills, charges, marks and days: ``day_pnls``' day figure
    and the lowest of its per-symbol figures (infinite when no symbol traded)."""
    book = Portfolio(1_000_000)
    for n, (kind, symbol, side, qty, price) in enumerate(steps):
        if kind == "day":
            book.start_day()
        elif kind == "mark":
            book.mark(symbol, price)
        else:
            done = _fill(side, qty, price, symbol)
            if kind == "charged":
                paise = 1 + n * 37 % 2_000
                done = replace(done, charges=FillCost(Charges(brokerage=paise / 100), paise))
            book.apply_fill(done)
        day, by_symbol = book.day_pnls()
        assert book.day_loss() == (day, min(by_symbol.values(), default=math.inf))


def _risk(halted: bool, blocked: list[str]) -> RiskEngine:
    risk = RiskEngine(LIMITS, trading_day="2024-05-17")
    if halted:
        risk.on_pnl(-100_000, {})
    for symbol in blocked:
        risk.on_pnl(0, {symbol: -40_000})
    return risk


@settings(max_examples=400, deadline=None)
@given(
    st.booleans(),
    st.lists(st.sampled_from(["A", "B"]), max_size=2, unique=True),
    st.integers(-150_000, 50_000) | st.sampled_from([-100_001, -100_000, -99_999]),
    st.dictionaries(
        st.sampled_from(["A", "B", "C"]),
        st.integers(-60_000, 20_000) | st.sampled_from([-40_001, -40_000, -39_999]),
    ),
)
def test_a_batch_not_asked_the_loss_limits_would_have_tripped_nothing(
    halted, blocked, day, by_symbol
) -> None:
    """``may_breach`` False means ``on_pnl`` returns nothing and changes nothing; and
    ``on_pnl`` trips something only where ``may_breach`` said it may."""
    risk = _risk(halted, blocked)
    before = risk.to_state()
    worst = min(by_symbol.values(), default=math.inf)
    may = risk.may_breach(day, worst)
    breaches = risk.on_pnl(day, by_symbol)
    if not may:
        assert breaches == [] and risk.to_state() == before
    if breaches:
        assert may


def test_a_changed_loss_limit_is_asked_at_once() -> None:
    """``may_breach`` keeps the limits in paise per limits object: a limit a person
    changes is the one the next batch is checked against."""
    risk = RiskEngine(LIMITS, trading_day="2024-05-17")
    assert not risk.may_breach(-50_000, -30_000)  # ₹500 down: within ₹1,000 and ₹400
    risk.set_limit("max_symbol_loss", 250.0)
    assert risk.may_breach(-50_000, -30_000)
    risk.set_limit("max_symbol_loss", 400.0)
    risk.set_limit("max_daily_loss", 400.0)
    assert risk.may_breach(-50_000, -30_000)


# -- the risk state the checkpoint journals ---------------------------------------------


def _fresh(risk: RiskEngine) -> dict[str, Any]:
    """The snapshot built anew (what ``to_state`` built every batch before)."""
    return {
        "version": risk.to_state()["version"],
        "trading_day": risk.trading_day,
        "kill_switch": risk.kill_switch,
        "kill_reason": risk.kill_reason,
        "loss_halt_reason": risk.loss_halt_reason,
        "entries_paused": risk.entries_paused,
        "blocked_symbols": dict(risk.blocked_symbols),
        "entries_today": dict(risk.entries_today),
        "limits": risk.changed_limits,
    }


CHANGES = [
    ("an entry counted", lambda r: r.record_entry("A")),
    ("another entry of the same symbol", lambda r: (r.record_entry("A"), r.record_entry("A"))),
    ("a symbol blocked", lambda r: r.block_symbol("B", "gap")),
    ("a blocked symbol's reason changed", lambda r: r.block_symbol("A", "another reason")),
    ("the counters changed in place", lambda r: r.entries_today.update(A=7)),
    ("the kill switch", lambda r: r.trigger_kill("by hand")),
    ("entries paused", lambda r: r.pause_entries()),
    ("a limit changed", lambda r: r.set_limit("max_open_positions", 3)),
    ("the loss halt", lambda r: r.on_pnl(-100_000, {})),
    ("a new day", lambda r: r.roll_day("2024-05-20")),
    ("restored", lambda r: r.restore({**r.to_state(), "entries_today": {"Z": 2}})),
]


def test_the_risk_state_after_each_kind_of_change_is_the_changed_state() -> None:
    """Each change, after a snapshot was taken and kept: the next snapshot is the new
    state (a counter moved and the old state given would resume a run with it), the
    earlier one handed out is unchanged, and with nothing changed the same one comes."""
    for name, change in CHANGES:
        risk = RiskEngine(LIMITS, trading_day="2024-05-17")
        risk.record_entry("A")
        risk.block_symbol("A", "opening gap")
        earlier = risk.to_state()
        kept = {k: dict(v) if isinstance(v, dict) else v for k, v in earlier.items()}
        assert risk.to_state() is earlier  # nothing moved: the same snapshot
        change(risk)
        after = risk.to_state()
        assert after == _fresh(risk) and after != kept, name
        assert earlier == kept, name  # the journal may still hold it: never changed
        assert risk.to_state() is after, name


def test_each_checkpoint_journals_the_risk_state_as_it_stands_after_its_batch() -> None:
    """The checkpoint hands the journal the risk state with every cursor: a batch that
    counted an entry hands the counted state (a resumed run starts from it), a quiet
    batch the same state again."""
    journaled: list[tuple[str, Any]] = []
    desk = SimpleNamespace(
        _last_equity_minute=None,
        equity_point=lambda ts: None,
        risk=RiskEngine(LIMITS, trading_day="2024-05-17"),
        journal=SimpleNamespace(
            set_risk_state=lambda state: journaled.append(("risk", state)),
            set_cursor=lambda ts: journaled.append(("cursor", ts)),
        ),
    )
    for batch, entry in enumerate([None, "A", None, "A", "B"]):
        if entry:
            desk.risk.record_entry(entry)
        Supervisor._checkpoint(desk, START + batch * MINUTE_NS)  # type: ignore[arg-type]
    states = [json.dumps(s["entries_today"]) for kind, s in journaled if kind == "risk"]
    assert states == ["{}", '{"A": 1}', '{"A": 1}', '{"A": 2}', '{"A": 2, "B": 1}']
    assert [kind for kind, _ in journaled] == ["risk", "cursor"] * 5
