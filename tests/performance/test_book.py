"""The desk's performance book: fill by fill, the same rows the report's code gives for
the whole stream at once, and nothing rebuilt when nothing moved."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from backtest.factories import ts
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.domain import Fill, Product, Side
from kitetui.money import Charges, FillCost, to_paise
from kitetui.performance.book import PartKey, PerformanceBook, fill_record, parts_of, tally_row
from kitetui.performance.metrics import ClosedTrade, Figures, Tally, figures, grouped, trade_day
from kitetui.performance.trades import Trade, round_trips
from kitetui.views import PerformanceRow


def performance_row(part: PartKey, measured: Figures, strategy: str = "") -> PerformanceRow:
    """The reference a book's row is held to: the report's ``figures`` of the part,
    rupees rounded half-up to paise from exact (``tally_row`` reads the same from a
    tally's sums)."""

    def rupees(value: Decimal) -> float:
        return to_paise(value) / 100

    def maybe(value: Decimal | None) -> float | None:
        return None if value is None else rupees(value)

    scope, kind, name = part
    return PerformanceRow(
        scope=scope,
        part=kind,
        name=name,
        strategy=strategy,
        trades=measured.trades,
        open_trades=measured.open_trades,
        wins=measured.wins,
        losses=measured.losses,
        gross=rupees(measured.gross_pnl),
        charges=rupees(measured.charges.total),
        net=rupees(measured.net_pnl),
        avg_win=maybe(measured.avg_win),
        avg_loss=maybe(measured.avg_loss),
        profit_factor=measured.profit_factor,
        expectancy=maybe(measured.expectancy),
        max_drawdown=rupees(measured.max_drawdown.amount),
        turnover=rupees(measured.turnover),
    )


D = Decimal
STRATEGIES = {"e1": "ema_cross", "e2": "mean_reversion"}


def desk_fill(n: int, side: str, qty: int, price: float, when: int, **kw: object) -> Fill:
    brokerage = D(str(kw.pop("brokerage", 0)))
    return Fill(
        fill_id=f"f{n}",
        tag=f"t{n}",
        symbol=str(kw.pop("symbol", "SBIN")),
        side=Side(side),
        quantity=qty,
        price=price,
        ts_ns=when,
        engine=str(kw.pop("engine", "e1")),
        product=Product.MIS,
        charges=FillCost(Charges(brokerage=brokerage), round(brokerage * 100)),
    )


def rows(book: PerformanceBook, marks=None, today: str = "") -> dict[tuple, PerformanceRow]:
    view = book.view(marks or {}, today, STRATEGIES)
    return {(r.scope, r.part, r.name): r for r in view.rows}


def test_book_with_a_closed_and_an_open_trade_shows_run_engine_symbol_and_day() -> None:
    book = PerformanceBook()
    day = "2024-01-02"
    book.add(None, desk_fill(1, "BUY", 10, 100.0, ts(day, "09:30"), brokerage=10))
    book.add(None, desk_fill(2, "SELL", 10, 103.5, ts(day, "10:00"), brokerage=10))  # +15
    book.add(None, desk_fill(3, "SELL", 4, 250.0, ts(day, "11:00"), symbol="INFY", engine="e2"))
    shown = rows(book, {"INFY": D("245.25")}, today=day)
    run = shown["run", "all", ""]
    assert (run.trades, run.open_trades, run.wins, run.win_rate) == (1, 1, 1, 1.0)
    assert (run.gross, run.charges, run.net) == (35.0 + 19.0, 20.0, 35.0 + 19.0 - 20.0)
    assert (run.avg_win, run.avg_loss, run.max_drawdown) == (15.0, None, 0.0)
    assert shown["run", "engine", "e1"].strategy == "ema_cross"
    assert shown["run", "engine", "e2"].gross == 19.0  # short 4 from 250 marked at 245.25
    assert shown["run", "engine", "e2"].trades == 0
    assert shown["run", "symbol", "SBIN"].net == 15.0
    assert shown["run", "day", day].net == shown[day, "all", ""].net == 34.0
    assert set(shown) == {
        ("run", "all", ""),
        ("run", "engine", "e1"),
        ("run", "engine", "e2"),
        ("run", "symbol", "INFY"),
        ("run", "symbol", "SBIN"),
        ("run", "day", day),
        (day, "all", ""),
        (day, "engine", "e1"),
        (day, "engine", "e2"),
        (day, "symbol", "INFY"),
        (day, "symbol", "SBIN"),
    }
    # the open trade moves with its mark; the closed parts do not
    moved = rows(book, {"INFY": D("240")}, today=day)
    assert moved["run", "engine", "e2"].gross == 40.0
    assert moved["run", "engine", "e1"] is shown["run", "engine", "e1"]


def test_book_shows_the_run_and_today_even_before_a_trade() -> None:
    shown = rows(PerformanceBook(), today="2024-01-03")
    assert set(shown) == {("run", "all", ""), ("2024-01-03", "all", "")}
    assert shown["2024-01-03", "all", ""] == PerformanceRow("2024-01-03", "all")


def test_book_view_is_the_same_object_until_a_fill_or_a_new_day() -> None:
    book = PerformanceBook()
    day = "2024-01-02"
    book.add(None, desk_fill(1, "BUY", 10, 100.0, ts(day, "09:30")))
    book.add(None, desk_fill(2, "SELL", 10, 101.0, ts(day, "09:31")))
    first = book.view({}, day, STRATEGIES)
    assert book.view({}, day, STRATEGIES) is first  # nothing open, no fill: as it was
    assert book.view({}, "2024-01-03", STRATEGIES) is not first
    book.add(None, desk_fill(3, "BUY", 1, 100.0, ts(day, "09:40")))
    assert book.view({}, day, STRATEGIES) is not first


def test_a_part_s_kept_row_gives_way_to_one_with_its_new_open_trade() -> None:
    """A part's row is kept while it holds no open trade; a fill that opens a trade in
    it closes none (nothing drops the kept row), and the next view must measure the
    open trade all the same, then keep the closed row again once it closed."""
    book = PerformanceBook()
    day = "2024-01-02"
    book.add(None, desk_fill(1, "BUY", 10, 100.0, ts(day, "09:30")))
    book.add(None, desk_fill(2, "SELL", 10, 101.0, ts(day, "09:31")))  # +10
    kept = rows(book, today=day)
    book.add(None, desk_fill(3, "BUY", 5, 100.0, ts(day, "09:40")))  # opens, closes none
    shown = rows(book, {"SBIN": D(102)}, today=day)
    for part in (("run", "all", ""), ("run", "symbol", "SBIN"), (day, "engine", "e1")):
        assert (shown[part].trades, shown[part].open_trades) == (1, 1), part
        assert shown[part].gross == 10.0 + 10.0, part  # 5 marked 2 up
        assert kept[part].open_trades == 0
    book.add(None, desk_fill(4, "SELL", 5, 99.0, ts(day, "09:50")))  # -5
    closed = rows(book, {}, today=day)
    assert (closed["run", "symbol", "SBIN"].trades, closed["run", "symbol", "SBIN"].gross) == (
        2,
        5.0,
    )
    assert rows(book, {}, today=day)["run", "symbol", "SBIN"] is closed["run", "symbol", "SBIN"]


def test_fill_record_reads_a_desk_fill_as_the_journal_gives_it_back() -> None:
    fill = desk_fill(7, "SELL", 3, 18210.55, ts("2024-01-02"), brokerage="12.5")
    record = fill_record(fill, None, 7)
    assert record.price == D("18210.55") and record.charges.brokerage == D("12.5")
    assert (record.charges_paise, record.side, record.product) == (1250, Side.SELL, "MIS")
    assert fill_record(Fill("f", "t", "X", Side.BUY, 1, 1.0, 0), None, 1).charges == Charges()


# --------------------------------------------------------------------------- invariants

_DAYS = ("2024-01-02", "2024-01-03", "2024-01-04")
_fill = st.tuples(
    st.sampled_from(["A", "B"]),
    st.sampled_from(["e1", "e2"]),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=1, max_value=20_000).map(lambda p: p / 20),
    st.integers(min_value=0, max_value=3_000).map(lambda c: D(c) / 100),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_fill, max_size=50), st.integers(min_value=1, max_value=30_000))
def test_book_fill_by_fill_equals_the_reports_figures_of_the_whole_stream(raw, mark) -> None:
    book = PerformanceBook()
    fills = []
    for i, (symbol, engine, side, qty, price, charge) in enumerate(raw):
        day = _DAYS[i * len(_DAYS) // max(1, len(raw))]
        when = ts(day, "09:15") + i * 60_000_000_000
        fill = desk_fill(i, side, qty, price, when, symbol=symbol, engine=engine, brokerage=charge)
        book.add(None, fill)
        fills.append(fill_record(fill, None, i))
    marks = {"A": D(mark) / 20, "B": D(mark) / 10}
    _assert_rows_are_the_reports(book, fills, marks, _DAYS[-1])


def _assert_rows_are_the_reports(
    book: PerformanceBook, fills: list, marks: dict[str, Decimal], today: str
) -> None:
    """Every row the book shows is the one the report's code gives for ``fills``."""
    shown = rows(book, marks, today)
    trades = round_trips(fills, marks)  # the report's way: all at once
    expected = {("run", "all", ""): trades, (today, "all", ""): []}
    for part, key in (("engine", lambda t: t.engine), ("symbol", lambda t: t.symbol)):
        for name, part_trades in grouped(trades, key).items():
            expected["run", part, name] = part_trades
    for day, day_trades in grouped(trades, trade_day).items():
        expected["run", "day", day] = day_trades
        expected[day, "all", ""] = day_trades
        for part, key in (("engine", lambda t: t.engine), ("symbol", lambda t: t.symbol)):
            for name, part_trades in grouped(day_trades, key).items():
                expected[day, part, name] = part_trades
    assert set(shown) == set(expected)
    for part, part_trades in expected.items():
        measured = figures(part_trades, capital=D(10**6), days=[], minutes=[])
        strategy = STRATEGIES[part[2]] if part[1] == "engine" else ""
        assert shown[part] == performance_row(part, measured, strategy), part
    for trade in trades:
        assert all(key in shown for key in parts_of(trade))
    assert shown["run", "all", ""].trades == sum(
        shown["run", "engine", e].trades for e in ("e1", "e2") if ("run", "engine", e) in shown
    )


def _feed_and_read(
    raw: list[tuple],
    mark: int,
    read_after: Callable[[int], bool],
    marked: Callable[[int], bool] = lambda i: True,
) -> tuple[PerformanceBook, list]:
    """Fill a book with ``raw`` fills spread over ``_DAYS``; after each fill ``i`` that
    ``read_after`` picks, its view must be the report's for the fills so far (marked at
    ``mark`` when ``marked(i)``, else at no mark). The book and its fills' records."""
    book = PerformanceBook()
    fills = []
    marks = {"A": D(mark) / 20, "B": D(mark) / 10}
    for i, (symbol, engine, side, qty, price, charge) in enumerate(raw):
        day = _DAYS[i * len(_DAYS) // len(raw)]
        when = ts(day, "09:15") + i * 60_000_000_000
        fill = desk_fill(i, side, qty, price, when, symbol=symbol, engine=engine, brokerage=charge)
        book.add(None, fill)
        fills.append(fill_record(fill, None, i))
        if read_after(i):
            _assert_rows_are_the_reports(book, fills, marks if marked(i) else {}, day)
    return book, fills


@settings(max_examples=60, deadline=None)
@given(st.lists(_fill, min_size=1, max_size=24), st.integers(min_value=1, max_value=30_000))
def test_every_view_along_the_way_is_the_reports_as_a_second_engine_comes(raw, mark) -> None:
    """Parts that hold the same trades share a tally (a day's whole and the run's part
    for that day; an engine's part and its scope's whole while it is the scope's only
    engine): the rows read between fills, before and after a second engine's first
    closed trade splits a shared part, are the report's for the fills so far."""
    _feed_and_read(raw, mark, lambda i: True)


# quantities of 5 and 10: trades often end flat, so parts are often read with none open
_flat_prone_fill = st.tuples(
    st.sampled_from(["A", "B"]),
    st.sampled_from(["e1", "e2"]),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from([5, 10]),
    st.integers(min_value=1, max_value=20_000).map(lambda p: p / 20),
    st.integers(min_value=0, max_value=3_000).map(lambda c: D(c) / 100),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(_flat_prone_fill, min_size=1, max_size=30),
    st.integers(min_value=1, max_value=30_000),
    st.sets(st.integers(min_value=0, max_value=29)),
)
def test_views_read_at_any_points_are_the_reports_for_the_fills_so_far(raw, mark, reads) -> None:
    """A part's kept row stands while its tally's count of closed trades is the row's:
    nothing is dropped as a trade closes, so a view read after any number of fills, or
    after none, must still give way in every part a trade closed in since."""
    book, fills = _feed_and_read(raw, mark, reads.__contains__, marked=lambda i: i % 2 == 1)
    _assert_rows_are_the_reports(book, fills, {}, _DAYS[-1])


def test_a_second_engine_leaves_the_first_engines_part_as_it_was() -> None:
    """The first engine's part, shared with its scope's whole until the second engine's
    first trade, goes on as its own: its trades, and its curve followed again when its
    next trade closes before its latest exit (from its own closed trades alone)."""
    book = PerformanceBook()
    day = "2024-01-02"
    fills = [
        desk_fill(1, "BUY", 10, 100.0, ts(day, "09:30")),
        desk_fill(2, "SELL", 10, 103.0, ts(day, "09:45")),  # e1 +30
        desk_fill(3, "BUY", 10, 100.0, ts(day, "09:40"), engine="e2"),
        desk_fill(4, "SELL", 10, 99.0, ts(day, "09:41"), engine="e2"),  # e2 -10
        desk_fill(5, "BUY", 10, 100.0, ts(day, "09:40")),
        desk_fill(6, "SELL", 10, 101.0, ts(day, "09:42")),  # e1 +10, before e1's last exit
    ]
    records = []
    for i, fill in enumerate(fills):
        book.add(None, fill)
        records.append(fill_record(fill, None, i))
        _assert_rows_are_the_reports(book, records, {}, day)
    shown = rows(book, today=day)
    for scope in ("run", day):
        e1, e2, whole = (
            shown[scope, "engine", "e1"],
            shown[scope, "engine", "e2"],
            shown[scope, "all", ""],
        )
        assert (e1.trades, e1.net, e1.max_drawdown) == (2, 40.0, 0.0)
        assert (e2.trades, e2.net) == (1, -10.0)
        assert (whole.trades, whole.net) == (3, 30.0)


# --------------------------------------------------------------------------- totals-only

_charge_amount = st.tuples(st.integers(-50, 5_000), st.integers(0, 9)).map(
    lambda pair: D(pair[0]).scaleb(-pair[1])  # amounts of several exponents, zero, negative
)
_trade = st.tuples(
    st.integers(0, 40),  # exit minute: ties and exits out of order
    st.integers(-5_000, 5_000).map(lambda g: D(g) / 20),  # gross
    st.lists(_charge_amount, min_size=8, max_size=8),
    st.booleans(),  # still open (marked)
    st.integers(1, 10_000).map(lambda v: D(v) / 4),  # turnover
)


def _made_trade(exit_min: int, gross: D, amounts: list[D], still_open: bool, turnover: D):
    start = ts("2024-01-02", "09:15")
    return Trade(
        engine="e1",
        exchange="NSE",
        symbol="A",
        product="MIS",
        direction=Side.BUY,
        quantity=1,
        entry_ts_ns=start,
        entry_price=D(1),
        exit_ts_ns=start + (exit_min + 1) * 60_000_000_000,
        exit_price=D(1),
        gross=gross,
        charges=Charges(*amounts),
        turnover=turnover,
        fills=2,
        closed=not still_open,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(_trade, max_size=30), st.sets(st.integers(0, 30)))
def test_a_totals_only_tally_shows_the_row_the_full_figures_give(raw, reads) -> None:
    """The book's tallies sum each closed trade's charges as one total (its gross less its
    net) and an open trade's as its ``total``, not component by component: read at any
    point, alone or with the open trades measured on it, the row is ``performance_row``
    of a full tally's ``figures``, and the total is ``charges.total``'s value."""
    full, totals = Tally(), Tally.totals_only()
    opens: list[Trade] = []
    part = ("run", "all", "")
    for n, fields in enumerate(raw):
        trade = _made_trade(*fields)
        if trade.closed:
            record = ClosedTrade.of(trade)
            full.add(trade, record)
            totals.add(trade, record)
        else:
            opens.append(trade)
        if n in reads or n == len(raw) - 1:
            assert totals.charges_total == full.charges.total
            assert tally_row(part, totals) == performance_row(part, full.figures())
            marked = totals.with_open(opens)
            assert marked.charges_total == full.with_open(opens).charges.total
            assert tally_row(part, marked) == performance_row(part, full.with_open(opens).figures())
            assert tally_row(part, totals) == performance_row(part, full.figures())  # untouched
    with pytest.raises(ValueError, match="no charge components"):
        totals.figures()
