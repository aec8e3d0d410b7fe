"""Portfolio: exact paise accounting through opens, adds, reduces, closes and flips."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kitetui.domain import Fill, Product, Side, to_paise
from kitetui.money import Charges, FillCost
from kitetui.trading.portfolio import Portfolio

_counter = iter(range(10**9))


def fill(side: Side, qty: int, price: float, symbol: str = "NIFTY", engine: str = "fno") -> Fill:
    n = next(_counter)
    return Fill(f"f{n}", f"t{n}", symbol, side, qty, price, ts_ns=n, engine=engine)


B, S = Side.BUY, Side.SELL


@pytest.mark.parametrize(
    ("fills", "qty", "avg", "realized", "last_realized"),
    [
        # open long
        ([(B, 10, 100.0)], 10, 100.0, 0, 0),
        # add to a long: average of 10@100 and 10@110
        ([(B, 10, 100.0), (B, 10, 110.0)], 20, 105.0, 0, 0),
        # partial reduce of a long keeps the average
        ([(B, 10, 100.0), (S, 4, 110.0)], 6, 100.0, 4000, 4000),
        # full close of a long
        ([(B, 10, 100.0), (S, 10, 95.5)], 0, 0.0, -4500, -4500),
        # open short, cover at a profit
        ([(S, 5, 200.0), (B, 5, 190.0)], 0, 0.0, 5000, 5000),
        # partial cover of a short
        ([(S, 10, 200.0), (B, 3, 210.0)], -7, 200.0, -3000, -3000),
        # flip long to short in one fill: close 10 at +10, open 5 short at 110
        ([(B, 10, 100.0), (S, 15, 110.0)], -5, 110.0, 10000, 10000),
        # flip short to long in one fill
        ([(S, 10, 100.0), (B, 12, 90.0)], 2, 90.0, 10000, 10000),
    ],
)
def test_apply_fill_with_sequence_tracks_quantity_average_and_realized(
    fills, qty, avg, realized, last_realized
):
    book = Portfolio(100_000)
    deltas = [book.apply_fill(fill(side, q, p)) for side, q, p in fills]
    position = book.position("NIFTY")
    assert position is not None
    assert position.quantity == qty
    assert position.avg_price == pytest.approx(avg)
    assert position.realized_paise == realized
    assert book.realized_paise == realized
    assert deltas[-1] == last_realized


def test_apply_fill_with_odd_paise_partial_reduce_floors_removed_cost():
    book = Portfolio(0)
    book.apply_fill(fill(B, 1, 100.01))
    book.apply_fill(fill(B, 2, 100.00))  # cost 30001 paise over 3 units
    # reducing 1 of 3 removes 30001 // 3 = 10000 paise of cost
    assert book.apply_fill(fill(S, 1, 100.00)) == 0
    # the remaining 2 units carry the odd paisa: closing them at 100 realizes -1
    assert book.apply_fill(fill(S, 2, 100.00)) == -1
    assert book.realized_paise == -1  # exactly the cash flow: paid 30001, received 30000


def test_apply_fill_with_duplicate_fill_id_is_ignored():
    book = Portfolio(0)
    f = fill(B, 10, 100.0)
    book.apply_fill(f)
    assert book.apply_fill(f) == 0
    assert book.position("NIFTY").quantity == 10


@pytest.mark.parametrize(
    ("qty", "price"),
    [(0, 100.0), (-1, 100.0), (1, 0.0), (1, float("nan")), (1, float("inf"))],
)
def test_apply_fill_with_bad_fill_raises(qty, price):
    book = Portfolio(0)
    with pytest.raises(ValueError):
        book.apply_fill(Fill("x", "x", "NIFTY", B, qty, price, 1))
    assert book.position("NIFTY") is None


def test_apply_fill_with_a_lapse_at_zero_closes_and_realizes_the_whole_premium():
    """An option out of the money at expiry settles at zero: the long loses what it
    paid, exactly (not a tick less), and a short keeps what it was paid."""
    book = Portfolio(0)
    book.apply_fill(fill(B, 75, 30.0, symbol="CE"))
    book.apply_fill(fill(S, 50, 12.5, symbol="PE"))
    assert book.apply_fill(fill(S, 75, 0.0, symbol="CE"), lapse=True) == -75 * 3000
    assert book.apply_fill(fill(B, 50, 0.0, symbol="PE"), lapse=True) == 50 * 1250
    assert book.open_positions() == [] and book.realized_paise == -75 * 3000 + 50 * 1250


@pytest.mark.parametrize(
    ("held", "side", "qty", "price"),
    [
        (0, S, 75, 0.0),  # nothing held: it would open a short at zero
        (75, B, 75, 0.0),  # a buy adds to the long
        (75, S, 150, 0.0),  # through zero: would open a short at zero
        (75, S, 75, -0.05),  # never below zero
    ],
)
def test_apply_fill_with_a_lapse_that_opens_or_adds_raises(held, side, qty, price):
    book = Portfolio(0)
    if held:
        book.apply_fill(fill(B, held, 30.0, symbol="CE"))
    with pytest.raises(ValueError):
        book.apply_fill(fill(side, qty, price, symbol="CE"), lapse=True)
    assert book.quantity("CE") == held and book.realized_paise == 0


def test_mark_with_long_and_short_computes_unrealized_and_exposure():
    book = Portfolio(1_000)
    book.apply_fill(fill(B, 10, 100.0, symbol="A"))
    book.apply_fill(fill(S, 4, 50.0, symbol="B"))
    assert book.mark("A", 101.5)
    assert book.mark("B", 55.0)
    assert book.position("A").unrealized_paise == 1500
    assert book.position("B").unrealized_paise == -2000
    assert book.unrealized_paise == -500
    assert book.gross_exposure_paise == 10 * 10150 + 4 * 5500
    assert book.equity_paise == 100_000 - 500
    assert book.symbol_pnl_paise("B") == -2000


@pytest.mark.parametrize("price", [float("nan"), float("inf"), 0.0, -1.0])
def test_mark_with_bad_price_changes_nothing(price):
    book = Portfolio(0)
    book.apply_fill(fill(B, 1, 100.0))
    assert not book.mark("NIFTY", price)
    assert book.position("NIFTY").last_price == 100.0


def test_mark_with_unknown_symbol_returns_false():
    assert not Portfolio(0).mark("NOPE", 10.0)


def test_positions_with_flat_symbol_keeps_realized_but_not_open():
    book = Portfolio(0)
    book.apply_fill(fill(B, 1, 100.0, symbol="A", engine="eq"))
    book.apply_fill(fill(S, 1, 101.0, symbol="A", engine="other"))
    book.apply_fill(fill(B, 1, 10.0, symbol="B"))
    assert [p.symbol for p in book.positions()] == ["A", "B"]
    assert [p.symbol for p in book.open_positions()] == ["B"]
    a = book.position("A")
    assert (a.quantity, a.realized_paise, a.engine, a.product) == (0, 100, "eq", Product.MIS)
    assert book.open_position_count == 1


def test_start_day_with_earlier_realized_counts_day_pnl_from_there():
    book = Portfolio(0)
    book.apply_fill(fill(B, 1, 100.0, symbol="A"))
    book.apply_fill(fill(S, 1, 90.0, symbol="A"))  # -1000 yesterday
    book.start_day()
    book.apply_fill(fill(B, 2, 100.0, symbol="A"))
    book.apply_fill(fill(S, 1, 103.0, symbol="A"))  # +300 today
    book.mark("A", 99.0)  # 1 open at 100, marked 99: -100
    assert book.realized_paise == -700
    assert book.day_realized_paise == 300
    assert book.day_pnl_paise == 200
    assert book.symbol_day_pnl_paise("A") == 200
    assert book.day_pnl_by_symbol() == {"A": 200}


def test_record_equity_with_rise_and_fall_tracks_peak_and_max_drawdown():
    book = Portfolio(1_000)
    book.apply_fill(fill(B, 10, 100.0))
    curve = []
    for ts, price in enumerate([100.0, 110.0, 90.0, 105.0, 95.0]):
        book.mark("NIFTY", price)
        curve.append((ts, book.record_equity(ts)))
    assert book.equity_curve == tuple(curve)
    assert book.peak_equity_paise == 100_000 + 10_000
    assert book.max_drawdown_paise == 20_000
    assert book.drawdown_paise == 15_000


def test_record_equity_with_only_losses_measures_drawdown_from_capital():
    book = Portfolio(1_000)
    book.apply_fill(fill(B, 1, 100.0))
    book.mark("NIFTY", 90.0)
    book.record_equity(1)
    assert book.max_drawdown_paise == 1_000


# ---------------------------------------------------------------------- properties

prices = st.integers(min_value=1, max_value=2_000_000).map(lambda p: p / 100)
fill_steps = st.lists(
    st.tuples(st.sampled_from([B, S]), st.integers(min_value=1, max_value=500), prices),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(steps=fill_steps, close_price=prices)
def test_property_with_any_fills_closed_flat_realized_equals_cash_flow(steps, close_price):
    book = Portfolio(0)
    cash = 0
    realized = 0
    for side, qty, price in steps:
        realized += book.apply_fill(fill(side, qty, price))
        cash -= side.sign * qty * to_paise(price)
    net = book.position("NIFTY").quantity
    if net:
        side = S if net > 0 else B
        realized += book.apply_fill(fill(side, abs(net), close_price))
        cash -= side.sign * abs(net) * to_paise(close_price)
    assert book.position("NIFTY").quantity == 0
    assert book.realized_paise == cash == realized
    assert book.unrealized_paise == 0
    assert book.gross_exposure_paise == 0


@settings(max_examples=200, deadline=None)
@given(steps=fill_steps, mark=prices)
def test_property_with_any_fills_quantity_is_signed_sum_and_pnl_is_mark_to_market(steps, mark):
    book = Portfolio(0)
    cash = 0
    for side, qty, price in steps:
        book.apply_fill(fill(side, qty, price))
        cash -= side.sign * qty * to_paise(price)
    net = sum(side.sign * qty for side, qty, _ in steps)
    book.mark("NIFTY", mark)
    position = book.position("NIFTY")
    assert position.quantity == net
    # realized + unrealized is exactly the cash flow plus the open quantity at the mark
    assert position.pnl_paise == cash + net * to_paise(mark)
    assert book.gross_exposure_paise == abs(net) * to_paise(mark)


def test_fill_with_market_mark_keeps_the_market_price_not_the_fill_price():
    p = Portfolio(100_000)
    p.mark("X", 100.0)  # the market prints before our order fills with slippage
    p.apply_fill(fill(Side.BUY, 10, 100.05, symbol="X"))
    assert p.position("X").last_price == 100.0
    assert p.unrealized_paise == -50


def test_fill_and_mark_of_one_instant_value_the_same_in_either_order():
    first, second = Portfolio(100_000), Portfolio(100_000)
    for p in (first, second):
        p.mark("X", 99.0)
    same = fill(Side.BUY, 10, 100.05, symbol="X")
    first.mark("X", 100.0)
    first.apply_fill(same)
    second.apply_fill(same)  # a rebuild applies the journaled fill before the marks
    second.mark("X", 100.0)
    assert first.equity_paise == second.equity_paise


# ------------------------------------------------- drawdown on every mark; the day's figures


def test_max_drawdown_with_spike_between_equity_points_counts_the_spike():
    """Issue 14: Max DD smaller than the loss on screen, because it moved only at the
    once-a-minute equity points. A mark against the position between them counts."""
    book = Portfolio(1_000)
    book.apply_fill(fill(B, 10, 100.0))
    book.record_equity(0)
    book.mark("NIFTY", 80.0)  # -200 rupees, never recorded as an equity point
    book.mark("NIFTY", 99.0)
    book.record_equity(1)
    assert book.max_drawdown_paise == 20_000
    assert book.day_max_drawdown_paise == 20_000


def test_start_day_restarts_the_day_drawdown_and_keeps_the_run_one():
    book = Portfolio(1_000)
    book.start_day("2024-01-15")
    book.apply_fill(fill(B, 10, 100.0))
    book.mark("NIFTY", 90.0)
    book.apply_fill(fill(S, 10, 90.0))  # -100 realized on day one
    book.start_day("2024-01-16")
    assert book.day_max_drawdown_paise == 0
    assert book.max_drawdown_paise == 10_000
    book.apply_fill(fill(B, 1, 100.0, symbol="SBIN"))
    book.mark("SBIN", 97.0)
    assert book.day_max_drawdown_paise == 300
    assert book.max_drawdown_paise == 10_300  # from the run's peak, the capital
    assert book.traded_today("SBIN") and not book.traded_today("NIFTY")
    assert book.symbol_day_realized_paise("NIFTY") == 0
    (day,) = book.past_days
    assert day.label == "2024-01-15"
    assert [(p.symbol, p.realized_paise) for p in day.positions] == [("NIFTY", -10_000)]


marks_and_fills = st.lists(
    st.one_of(
        st.tuples(st.just("fill"), st.sampled_from([B, S]), st.integers(1, 50), prices),
        st.tuples(st.just("charged"), st.sampled_from([B, S]), st.integers(1, 50), prices),
        st.tuples(st.just("mark"), st.just(B), st.just(0), prices),
        st.tuples(st.just("day"), st.just(B), st.just(0), st.just(0.0)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps=marks_and_fills)
def test_property_drawdowns_equal_the_deepest_fall_after_every_fill_and_mark(steps):
    """Equity is kept as a running total; it must equal capital + realized + unrealized
    (gross: what sizing reads) after every step, and both drawdowns must be the deepest
    fall of NET equity (after each fill's charges) seen step by step."""
    book = Portfolio(10_000)
    peak = day_peak = book.capital_paise
    deepest = day_deepest = 0
    charged = 0
    for n, (kind, side, qty, price) in enumerate(steps):
        if kind in ("fill", "charged"):
            done = fill(side, qty, price)
            if kind == "charged":
                paise = 1 + n * 37 % 2_000
                done = replace(
                    done, charges=FillCost(Charges(brokerage=Decimal(paise) / 100), paise)
                )
                charged += paise
            book.apply_fill(done)
        elif kind == "mark":
            book.mark("NIFTY", price)
        else:
            book.start_day()
            day_peak, day_deepest = book.net_equity_paise, 0
        gross = book.capital_paise + book.realized_paise + book.unrealized_paise
        assert book.equity_paise == gross
        assert book.charges_paise == charged
        equity = gross - charged
        assert book.net_equity_paise == equity
        peak, day_peak = max(peak, equity), max(day_peak, equity)
        deepest, day_deepest = max(deepest, peak - equity), max(day_deepest, day_peak - equity)
        assert book.max_drawdown_paise == deepest
        assert book.day_max_drawdown_paise == day_deepest


@settings(max_examples=200, deadline=None)
@given(steps=fill_steps)
def test_property_round_trips_are_counted_each_time_a_position_returns_to_or_crosses_zero(
    steps,
):
    book = Portfolio(0)
    held, closed, won, start = 0, 0, 0, 0
    for side, qty, price in steps:
        book.apply_fill(fill(side, qty, price))
        after = held + side.sign * qty
        if held != 0 and (after == 0 or (after > 0) != (held > 0)):
            closed += 1
            pnl = book.realized_paise - start
            won += pnl > 0
        if after != 0 and (held == 0 or (after > 0) != (held > 0)):
            start = book.realized_paise
        held = after
    assert (book.trades_closed, book.trades_won) == (closed, won)


def test_round_trips_with_a_win_a_loss_and_a_flip():
    book = Portfolio(0)
    book.apply_fill(fill(B, 10, 100.0))
    book.apply_fill(fill(S, 10, 105.0))  # +50: a win
    book.apply_fill(fill(S, 5, 105.0))
    book.apply_fill(fill(B, 10, 110.0))  # the short loses 25 and flips long 5
    book.apply_fill(fill(S, 5, 110.0))  # flat at cost: not a win
    assert (book.trades_closed, book.trades_won) == (3, 1)


def test_charged_fill_deepens_the_net_drawdown_at_once_and_leaves_gross_equity():
    """A fill's charges are money lost the moment it fills: the drawdown (of net equity)
    shows them without waiting for the minute's equity point; sizing's equity is gross."""
    book = Portfolio(10_000)
    opened = fill(B, 10, 100.0)
    book.apply_fill(replace(opened, charges=FillCost(Charges(brokerage=Decimal("20")), 2_000)))
    assert book.equity_paise == book.capital_paise  # gross: nothing moved yet
    assert book.net_equity_paise == book.capital_paise - 2_000
    assert book.max_drawdown_paise == book.day_max_drawdown_paise == 2_000
    book.mark("NIFTY", 99.0)  # -10 rupees more, on a mark
    assert book.max_drawdown_paise == 3_000
    book.start_day("2024-01-16")
    assert book.day_max_drawdown_paise == 0 and book.max_drawdown_paise == 3_000


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("fill"), st.sampled_from([B, S]), st.integers(1, 50)),
            st.tuples(st.just("mark"), st.just(B), st.integers(9_000, 11_000)),
        ),
        max_size=30,
    )
)
def test_the_position_handed_out_is_always_the_book_as_it_stands(steps) -> None:
    """Positions are cached between changes: after any fill or mark the cached view is
    what a fresh one would be, and ``quantity`` agrees with it."""
    portfolio = Portfolio(1_000_000)
    for action, side, number in steps:
        if action == "fill":
            portfolio.apply_fill(fill(side, number, 100.0, symbol="X"))
        else:
            portfolio.mark("X", number / 100)
        position = portfolio.position("X")
        if position is None:
            assert portfolio.quantity("X") == 0
            continue
        assert position == portfolio._books["X"]._build_position()
        assert portfolio.quantity("X") == position.quantity
        assert portfolio.open_positions() == ([position] if position.quantity else [])


def _take_step(book: Portfolio, n: int, kind: str, symbol: str, side, qty: int, price) -> None:
    """One step of the day-P&L properties: a new day, a mark, or the ``n``-th step's fill
    (``charged``: with a brokerage that varies with ``n``)."""
    if kind == "day":
        book.start_day()
    elif kind == "mark":
        book.mark(symbol, price)
    else:
        done = fill(side, qty, price, symbol=symbol)
        if kind == "charged":
            paise = 1 + n * 37 % 2_000
            done = replace(done, charges=FillCost(Charges(brokerage=Decimal(paise) / 100), paise))
        book.apply_fill(done)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["fill", "charged", "mark", "day"]),
            st.sampled_from(["NIFTY", "SBIN", "INFY"]),
            st.sampled_from([B, S]),
            st.integers(1, 50),
            prices,
        ),
        min_size=1,
        max_size=40,
    )
)
def test_property_day_pnls_in_one_pass_equal_the_two_figures_read_apart(steps) -> None:
    """The loss limits read ``day_pnls()`` every batch: it must be exactly the day's net
    P&L and each symbol's, as read one by one, after any fills, charges, marks and days
    (its parts that only a fill or a day moves are kept between them: marks between
    two fills read the kept parts)."""
    book = Portfolio(1_000_000)
    for n, step in enumerate(steps):
        _take_step(book, n, *step)
        day, by_symbol = book.day_pnls()
        assert day == book.day_pnl_paise
        # in the books' order too: the symbol-loss limit blocks them in this order
        assert list(by_symbol.items()) == list(book.day_pnl_by_symbol().items())


def _book_steps(*kinds: str) -> st.SearchStrategy[list[tuple]]:
    """Runs of ``_take_step``'s steps (and the test's own ``kinds``) over four books."""
    return st.lists(
        st.tuples(
            st.sampled_from(kinds),
            st.sampled_from(["NIFTY", "SBIN", "INFY", "TCS"]),
            st.sampled_from([B, S]),
            st.integers(1, 50),
            prices,
        ),
        min_size=1,
        max_size=50,
    )


@settings(max_examples=300, deadline=None)
@given(_book_steps("fill", "charged", "mark", "day", "read"))
@example(  # a loss closed and read, the book opened again and marked well up
    [
        ("fill", "SBIN", B, 10, 100.0),
        ("fill", "SBIN", S, 10, 90.0),
        ("read", "", B, 0, 0.0),
        ("fill", "SBIN", B, 10, 90.0),
        ("mark", "SBIN", B, 0, 200.0),
    ]
)
def test_property_the_day_figures_read_now_and_then_are_those_read_apart(steps) -> None:
    """The kept parts of the day's P&L are worked out again only for the books filled
    since the last read, or for every book after a new day: read after any run of
    fills, charges, marks and days (several fills of a book between two reads, a book
    going flat and opening again, a day with none), ``day_pnls`` and ``day_loss`` are
    the figures read one by one, the symbols in the books' order."""
    book = Portfolio(1_000_000)
    for n, (kind, symbol, side, qty, price) in enumerate([*steps, ("read", "", B, 0, 0.0)]):
        if kind == "read":
            day, by_symbol = book.day_pnls()
            assert day == book.day_pnl_paise
            assert list(by_symbol.items()) == list(book.day_pnl_by_symbol().items())
            assert book.day_loss() == (day, min(by_symbol.values(), default=math.inf))
        else:
            _take_step(book, n, kind, symbol, side, qty, price)


def test_the_runs_charges_by_component_are_each_fills_added_in_order_whenever_read() -> None:
    """The components are summed when read (or every 256 fills), the ledger's paise as
    each fill comes: every read is the very digits of adding each fill's charges."""
    p = Portfolio(10_000_000)
    added = Charges()
    for n in range(1, 700):
        charges = Charges(
            brokerage=Decimal(n) * Decimal("0.0003"),
            stt=Decimal(n % 5) * Decimal("0.025"),
            sebi=Decimal(n) * Decimal("0.00000001"),
            gst=Decimal(n) * Decimal("0.000054"),
        )
        side = B if n % 2 else S
        cost = FillCost(charges, to_paise(float(charges.total)))
        p.apply_fill(Fill(f"F{n}", f"T{n}", "SBIN", side, 1, 100.0, n, "e", Product.MIS, cost))
        added = added + charges
        if n % 113 == 0 or n == 256:
            assert repr(p.charges) == repr(added)
    assert repr(p.charges) == repr(added)


def _state(p: Portfolio) -> tuple:
    """Everything a reader of the portfolio sees: its views, equity, drawdowns, P&L."""
    return (
        p.positions(),
        p.open_positions(),
        p.equity_paise,
        p.net_equity_paise,
        p.peak_equity_paise,
        p.max_drawdown_paise,
        p.day_max_drawdown_paise,
        p.day_pnls(),
        p.gross_exposure_paise,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["fill", "mark", "bad mark", "look", "day"]),
            st.sampled_from(["NIFTY", "SBIN", "INFY"]),
            st.sampled_from([B, S]),
            st.integers(1, 3),  # small: books often go flat and open again
            prices,
        ),
        max_size=60,
    )
)
def test_property_a_mark_moves_held_books_only_and_flat_ones_read_the_last_price(steps) -> None:
    """A mark moves only an open position (``Portfolio.held``); a symbol without one
    needs only its price in ``marks``, which the gate's bars store straight, and a flat
    book's view reads its price there. Read at any point, whether marked with ``mark``
    or the gate's way, every view is at the last sound price (or the last fill's, while
    the symbol has none), and equity and the drawdowns are the same: a book opened after
    a mark is marked by the next (fails if ``held`` misses an open book, or a flat book's
    view keeps the price of its last fill or mark through ``mark``)."""
    marked, gated = Portfolio(1_000_000), Portfolio(1_000_000)
    last: dict[str, float] = {}  # the last sound mark, else the last fill's price
    sound: set[str] = set()
    for kind, symbol, side, qty, price in steps:
        if kind == "fill":
            done = fill(side, qty, price, symbol=symbol)
            marked.apply_fill(done)
            gated.apply_fill(done)
            if symbol not in sound:
                last[symbol] = price
        elif kind == "day":
            marked.start_day()
            gated.start_day()
        elif kind == "look":  # a reader between two marks (a snapshot, a checkpoint)
            assert _state(marked) == _state(gated)
            assert [p.last_price for p in gated.positions()] == [
                last[p.symbol] for p in gated.positions()
            ]
        else:
            bad = kind == "bad mark"
            price = -price if bad else price
            marked.mark(symbol, price)
            if bad:
                assert not gated.mark(symbol, price)
            elif symbol in gated.held:  # the gate's bar loop
                gated.mark(symbol, price)
            else:
                gated.marks[symbol] = price
            if not bad:
                last[symbol] = price
                sound.add(symbol)
        assert set(gated.held) == {p.symbol for p in gated.open_positions()}
    assert _state(marked) == _state(gated)
    for position in gated.positions():
        assert position.last_price == last[position.symbol]
        held = position.quantity
        value = abs(held) * to_paise(last[position.symbol])
        cost = round(position.avg_price * abs(held) * 100) if held else 0
        assert abs(position.unrealized_paise - (value - cost if held > 0 else cost - value)) <= 1


def test_a_flat_book_shows_the_last_mark_and_a_reopened_one_is_valued_at_it() -> None:
    """Flat, a book is not marked: its view catches up with ``marks`` when read, and a
    fill that opens it again is valued at the market's last price, not its own."""
    p = Portfolio(1_000_000)
    p.apply_fill(fill(B, 10, 100.0, symbol="X"))
    p.apply_fill(fill(S, 10, 101.0, symbol="X"))  # flat, at its fill price
    first = p.position("X")
    assert first is not None and first.last_price == 101.0 and "X" not in p.held
    assert p.mark("X", 103.0)  # a flat book's symbol is known: True, as before
    p.marks["X"] = 104.0  # the gate's bar of a symbol not held
    assert p.position("X").last_price == 104.0
    assert p.positions()[0].last_price == 104.0
    p.apply_fill(fill(B, 5, 104.5, symbol="X"))  # opened again: valued at the market's 104
    assert "X" in p.held and p.position("X").unrealized_paise == 5 * (10_400 - 10_450)
    equity = p.equity_paise
    p.mark("X", 105.0)  # held now: the mark moves it
    assert p.equity_paise - equity == 5 * 100 and p.position("X").last_price == 105.0


@settings(max_examples=200, deadline=None)
@given(_book_steps("fill", "charged", "mark", "day"))
@example(  # a book opened, flat again, another opened: one open, one flat book
    [
        ("fill", "SBIN", B, 10, 100.0),
        ("fill", "SBIN", S, 10, 90.0),
        ("fill", "INFY", S, 5, 50.0),
        ("mark", "INFY", B, 0, 55.0),
    ]
)
def test_property_the_exposure_read_from_the_open_books_is_every_books_sum(steps) -> None:
    """The risk gate reads ``open_position_count`` and ``gross_exposure_paise`` from the
    open books alone (``held``): after any fills (going flat, flipping, opening again),
    charges, marks and days they are what every book's quantity and last price give."""
    book = Portfolio(1_000_000)
    for n, step in enumerate(steps):
        _take_step(book, n, *step)
        positions = book.positions()
        assert book.open_position_count == sum(1 for p in positions if p.quantity)
        assert book.gross_exposure_paise == sum(
            abs(p.quantity) * to_paise(p.last_price) for p in positions
        )
