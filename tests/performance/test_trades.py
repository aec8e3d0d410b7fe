"""Round trips from fills: hand-computed cases, then invariants over random fill streams."""

from __future__ import annotations

import operator
from decimal import Decimal
from functools import reduce

import pytest
from backtest.factories import fill, ts
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import Side
from kitetui.performance.metrics import ClosedTrade, Tally
from kitetui.performance.trades import FillRecord, RoundTrips, round_trips, split_charges
from kitetui.trading.charges import Charges

D = Decimal
DAY = "2024-01-02"


def test_round_trips_with_one_long_trade_priced_from_its_two_fills() -> None:
    trades = round_trips(
        [
            fill("BUY", 50, "21700.05", ts(DAY, "09:20"), brokerage=20, stt=0),
            fill("SELL", 50, "21750.15", ts(DAY, "10:05"), brokerage=20, stt="27.19"),
        ]
    )
    (trade,) = trades
    assert trade.direction is Side.BUY and trade.closed
    assert trade.quantity == 50
    assert trade.gross == D("2505.00")  # (21750.15 - 21700.05) x 50
    assert trade.charges.total == D("67.19")
    assert trade.net == D("2437.81")
    assert trade.turnover == D("2172510.00")
    assert (trade.entry_ts_ns, trade.exit_ts_ns) == (ts(DAY, "09:20"), ts(DAY, "10:05"))


def test_round_trips_with_a_short_scaled_in_and_out_matches_lots_fifo() -> None:
    # Sell 10 @ 100, sell 10 @ 110, buy 15 @ 90 (closes 10 @100 then 5 @110), buy 5 @ 120.
    trades = round_trips(
        [
            fill("SELL", 10, 100, ts(DAY, "09:30")),
            fill("SELL", 10, 110, ts(DAY, "09:31")),
            fill("BUY", 15, 90, ts(DAY, "09:40")),
            fill("BUY", 5, 120, ts(DAY, "09:50")),
        ]
    )
    (trade,) = trades
    assert trade.direction is Side.SELL and trade.quantity == 20
    # FIFO: 10 x (100-90) + 5 x (110-90) + 5 x (110-120) = 100 + 100 - 50
    assert trade.gross == D(150)
    assert trade.entry_price == D(105) and trade.exit_price == D("97.5")
    assert trade.fills == 4


def test_round_trips_with_a_reversing_fill_split_qty_and_charges_in_proportion() -> None:
    trades = round_trips(
        [
            fill("BUY", 50, 100, ts(DAY, "09:30"), brokerage=20),
            fill("SELL", 150, 104, ts(DAY, "10:00"), brokerage=30, stt="0.9"),
            fill("BUY", 100, 101, ts(DAY, "11:00"), brokerage=20),
        ]
    )
    first, second = trades
    assert first.direction is Side.BUY and first.gross == D(200)
    assert first.charges.brokerage == D(30) and first.charges.stt == D("0.3")
    assert second.direction is Side.SELL and second.quantity == 100
    assert second.gross == D(300)  # short 100 @ 104, covered @ 101
    assert second.charges.brokerage == D(40) and second.charges.stt == D("0.6")
    assert second.entry_ts_ns == ts(DAY, "10:00")


def test_round_trips_with_a_position_left_open_marks_it_at_the_last_price() -> None:
    trades = round_trips(
        [fill("BUY", 10, 100, ts(DAY, "09:30"), symbol="SBIN", engine="equity")],
        marks={"SBIN": D("103.5")},
    )
    (trade,) = trades
    assert not trade.closed and trade.gross == D(35) and trade.exit_price == D("103.5")


def test_round_trips_keep_engines_and_symbols_apart() -> None:
    trades = round_trips(
        [
            fill("BUY", 1, 100, ts(DAY, "09:30"), symbol="A"),
            fill("SELL", 1, 50, ts(DAY, "09:31"), symbol="B"),
            fill("SELL", 1, 101, ts(DAY, "09:32"), symbol="A"),
            fill("BUY", 1, 40, ts(DAY, "09:33"), symbol="B"),
        ]
    )
    assert [(t.symbol, t.gross) for t in trades] == [("A", D(1)), ("B", D(10))]


def test_round_trips_refuse_a_fill_without_quantity() -> None:
    with pytest.raises(ValueError, match="quantity"):
        round_trips([fill("BUY", 0, 100, ts(DAY))])


def test_split_charges_always_adds_up_exactly() -> None:
    charges = Charges(brokerage=D(20), stt=D("0.0033768"), gst=D("3.613527"))
    head, tail = split_charges(charges, 1, 3)
    assert head + tail == charges
    assert head.brokerage == D("6.666666666667")


# --------------------------------------------------------------------------- invariants

_prices = st.integers(min_value=1, max_value=500_000).map(lambda p: D(p) / 20)  # 0.05 ticks
_fill = st.tuples(
    st.sampled_from(["A", "B"]),
    st.sampled_from(["e1", "e2"]),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=300),
    _prices,
    st.integers(min_value=0, max_value=4000).map(lambda c: D(c) / 100),
)


def _stream(raw) -> list[FillRecord]:
    base = ts(DAY, "09:15")
    return [
        fill(side, qty, price, base + i * 60_000_000_000, symbol=sym, engine=eng, brokerage=c)
        for i, (sym, eng, side, qty, price, c) in enumerate(raw)
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(_fill, max_size=40))
def test_round_trips_conserve_charges_and_cash(raw) -> None:
    fills = _stream(raw)
    trades = round_trips(fills)
    assert sum((t.charges for t in trades), Charges()) == sum((f.charges for f in fills), Charges())
    assert sum(t.turnover for t in trades) == sum(f.turnover for f in fills)
    for engine, symbol in {(f.engine, f.symbol) for f in fills}:
        mine = [f for f in fills if (f.engine, f.symbol) == (engine, symbol)]
        position = sum(f.quantity * f.side.sign for f in mine)
        closed = [t for t in trades if (t.engine, t.symbol) == (engine, symbol) and t.closed]
        still_open = [
            t for t in trades if (t.engine, t.symbol) == (engine, symbol) and not t.closed
        ]
        assert len(still_open) == (1 if position else 0)
        if position == 0:  # flat: the closed trades' gross is the cash the fills moved
            cash = sum(f.price * f.quantity * -f.side.sign for f in mine)
            assert sum(t.gross for t in closed) == cash
        for trade in trades:
            assert trade.net == trade.gross - trade.charges.total


# ------------------------------------------- a trade's charges summed when read, not per fill

# Charge amounts as the charger and the journal make them: exact decimals of many scales
# (a rate's product has up to a dozen places), negative for a CNC order's same-day
# correction, and a DP charge on some.
_amount = st.builds(
    lambda digits, places, negative: D(-digits if negative else digits).scaleb(-places),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=14),
    st.booleans(),
)
_charges = st.builds(Charges, *[_amount] * 8)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(1, 50), _prices, _charges),
        min_size=1,
        max_size=12,
    )
)
def test_a_trades_charges_and_net_are_the_sums_of_its_fills_charges_as_they_came(raw) -> None:
    """``OpenTrade`` keeps each fill's charges and sums them when read: ``charges`` is the
    record adding each as it came made (the reference, repr for repr), and ``net`` the
    gross less their total, as a value (what the Performance tab's tallies read)."""
    pairs = RoundTrips()
    came: list[Charges] = []  # the charges of the trade open (or just closed), as they came
    for i, (side, qty, price, charges) in enumerate(raw):
        current = pairs._book.get(("e", "S"))
        closing = 0 if current is None or current.direction is Side(side) else current.position
        head, rest = split_charges(charges, min(qty, closing), qty)
        closed = pairs.add_fill(f"f{i}", "e", "S", "NSE", "MIS", Side(side), qty, price, charges, i)
        came.append(head if closing else rest)
        if closed is not None:
            reference = reduce(operator.add, came, Charges())
            assert repr(closed.charges) == repr(reference)
            assert closed.net == closed.gross - reference.total
            came = [rest] if qty > closing else []  # a fill that crossed zero opens the next
    if came:
        (still_open,) = pairs._book.values()
        reference = reduce(operator.add, came, Charges())
        assert repr(still_open.charges) == repr(reference)
        assert repr(still_open.finish("e", "S", False, None).charges) == repr(reference)


def test_a_tally_that_keeps_charge_components_refuses_a_trade_without_them() -> None:
    """The desk's book hands its totals-only tallies a closed trade without its charges
    summed (None); a tally that keeps the components cannot count such a trade."""
    record = ClosedTrade(ts(DAY, "09:15"), ts(DAY, "10:15"), D("-1.5"))
    totals = Tally.totals_only()
    totals.add_closed(D("2"), D("200"), None, record)
    assert totals.charges_total == D("3.5")
    with pytest.raises(ValueError, match="needs the trade's charges"):
        Tally().add_closed(D("2"), D("200"), None, record)
