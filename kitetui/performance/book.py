"""The desk's Performance tab, kept as fills arrive: the report's figures, live.

The report pairs a run's journaled fills into round trips and measures each part of
the run with ``figures``; this book does the same work one fill at a time, with the same
code (``RoundTrips`` pairs, a ``Tally`` per part measures), so at any moment its rows are
what ``kitetui report`` would print for the fills so far. Nothing is read back from the
database and nothing is done per bar: a fill that closes a trade updates the parts it
belongs to (the run, its engine, its symbol, its day, and that day's engine and symbol),
and a snapshot re-measures only the parts a trade closed in since their row was kept and
the parts holding a trade still open, whose marks move. A row shows the charges' total
alone, so the book's tallies keep that (``Tally.totals_only``) and rows are read from
their sums (``tally_row``), the same figures as the report's ``figures`` give.

A trade belongs to the IST day it closed on (a trade still open: the day of its last
fill), as in the report's per-day figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from kitetui.domain import Fill, Order
from kitetui.money import NO_CHARGES, to_paise
from kitetui.performance.metrics import ClosedTrade, Tally, exit_day, trade_day
from kitetui.performance.trades import FillRecord, RoundTrips, Trade
from kitetui.views import PerformanceRow, PerformanceView

RUN = "run"
ALL, ENGINE, SYMBOL, DAY = "all", "engine", "symbol", "day"
_PART_ORDER = {ALL: 0, ENGINE: 1, SYMBOL: 2, DAY: 3}

# (scope, part, name): scope "run" or an ISO day; see PerformanceRow
PartKey = tuple[str, str, str]


def parts_of(trade: Trade) -> tuple[PartKey, ...]:
    """The parts a trade counts in: the run, its engine, symbol and day; its day's whole,
    engine and symbol."""
    day = trade_day(trade)
    return (
        (RUN, ALL, ""),
        (RUN, ENGINE, trade.engine),
        (RUN, SYMBOL, trade.symbol),
        (RUN, DAY, day),
        (day, ALL, ""),
        (day, ENGINE, trade.engine),
        (day, SYMBOL, trade.symbol),
    )


def fill_record(fill: Fill, order: Order | None, seq: int) -> FillRecord:
    """A desk fill as the report reads it back from the journal: the price as the float
    the journal stores (``Decimal(repr(price))``), the charges journaled with it."""
    cost = fill.charges
    return FillRecord(
        seq=seq,
        fill_id=fill.fill_id,
        tag=fill.tag,
        ts_ns=fill.ts_ns,
        engine=fill.engine,
        exchange=order.exchange._value_ if order is not None else "",
        symbol=fill.symbol,
        product=fill.product._value_,
        side=fill.side,
        quantity=fill.quantity,
        price=Decimal(repr(float(fill.price))),
        charges=cost.charges if cost is not None else NO_CHARGES,
        charges_paise=cost.paise if cost is not None else None,
        priced=cost is not None,
    )


class PerformanceBook:
    """Round trips and per-part tallies of one run (see the module docstring)."""

    def __init__(self) -> None:
        self._pairs = RoundTrips()
        # One tally per part; parts that hold the same trades share one (``_scope_tallies``).
        self._tallies: dict[PartKey, Tally] = {}
        # Per scope (the run, a day): the one engine whose trades its whole holds, while
        # there is one (its part is then the whole's tally); None once there are two.
        self._sole: dict[str, str | None] = {}
        # parts with no open trade, as of their tally's count of closed trades (``_row``)
        self._closed_rows: dict[PartKey, PerformanceRow] = {}
        self._order: list[PartKey] = []  # every part shown, in display order
        self._shape: tuple[int, frozenset[PartKey]] | None = None  # of ``_order``
        self._fills = 0
        self._view: PerformanceView | None = None
        self._view_key: tuple[int, str] | None = None  # (fills, today) of ``_view``

    @property
    def fills(self) -> int:
        return self._fills

    def closed_trades(self) -> tuple[int, int]:
        """The run's closed round trips and how many of them won (net > 0)."""
        tally = self._tallies.get((RUN, ALL, ""))
        return (0, 0) if tally is None else (tally.trades, tally.wins)

    def open_symbols(self) -> set[str]:
        return self._pairs.open_symbols()

    def add(self, order: Order | None, fill: Fill) -> None:
        """One fill, live or replayed from the journal, in journal order: paired as
        ``fill_record`` reads it (the fields pairing reads, given as they are)."""
        self._fills += 1
        cost = fill.charges
        closed = self._pairs.add_fill(
            fill.fill_id,
            fill.engine,
            fill.symbol,
            order.exchange._value_ if order is not None else "",
            fill.product._value_,
            fill.side,
            fill.quantity,
            Decimal(repr(float(fill.price))),
            cost.charges if cost is not None else NO_CHARGES,
            fill.ts_ns,
        )
        if closed is None:
            return
        # The closed round trip's sums as they stand (no ``Trade``: its average prices
        # are the report's) and its record, shared by its parts' tallies. A part's kept
        # row gives way when read, by its tally's count of trades (``_row``).
        exit_ns = closed.last_ts_ns
        record = ClosedTrade(closed.entry_ts_ns, exit_ns, closed.net)
        gross, turnover = closed.gross, closed.turnover
        engine, symbol, day = fill.engine, fill.symbol, exit_day(exit_ns)
        for tally in (
            *self._scope_tallies(RUN, engine),
            self._symbol_tally(RUN, symbol),
            *self._scope_tallies(day, engine),
            self._symbol_tally(day, symbol),
        ):
            tally.add_closed(gross, turnover, None, record)  # totals-only: no components

    def _scope_tallies(self, scope: str, engine: str) -> tuple[Tally, ...]:
        """The tallies of a trade of ``engine`` in ``scope`` (the run or a day) besides
        its symbol's: the scope's whole and the engine's, each once. Parts that hold the
        same trades share one tally, added to once: a day's whole is the run's part for
        that day, always; and an engine's part is its scope's whole while every trade
        of the scope was that engine's (a desk of one engine: four adds of a trade's
        seven). The second engine to close a trade in the scope gives the first its own
        copy of the whole, which has had exactly the trades the first engine's part
        would have had."""
        tallies = self._tallies
        whole = tallies.get((scope, ALL, ""))
        if whole is None:
            whole = tallies[scope, ALL, ""] = tallies[scope, ENGINE, engine] = _tally()
            if scope != RUN:
                tallies[RUN, DAY, scope] = whole
            self._sole[scope] = engine
            return (whole,)
        sole = self._sole[scope]
        if sole == engine:
            return (whole,)
        if sole is not None:  # the scope's second engine: the first's part is its own now
            tallies[scope, ENGINE, sole] = whole.copy()
            self._sole[scope] = None
        part = tallies.get((scope, ENGINE, engine))
        if part is None:
            part = tallies[scope, ENGINE, engine] = _tally()
        return (whole, part)

    def _symbol_tally(self, scope: str, symbol: str) -> Tally:
        tally = self._tallies.get((scope, SYMBOL, symbol))
        if tally is None:
            tally = self._tallies[scope, SYMBOL, symbol] = _tally()
        return tally

    def view(
        self, marks: Mapping[str, Decimal], today: str, strategies: Mapping[str, str]
    ) -> PerformanceView:
        """The rows now, open trades marked at ``marks[symbol]``; the same object as last
        time when no fill came and nothing is open (a quiet desk rebuilds nothing). The
        run's whole and today's whole always have a row, if only of zeros."""
        key = (self._fills, today)
        if self._view is not None and key == self._view_key and not self._pairs.open_count:
            return self._view
        opens: dict[PartKey, list[Trade]] = {}
        for trade in self._pairs.open_trades(marks):
            for part in parts_of(trade):
                opens.setdefault(part, []).append(trade)
        always = ((RUN, ALL, ""), (today, ALL, "")) if today else ((RUN, ALL, ""),)
        extras = frozenset(p for p in (*always, *opens) if p not in self._tallies)
        shape = (len(self._tallies), extras)  # tallies only ever grow
        if shape != self._shape:
            self._order = sorted([*self._tallies, *extras], key=_display_order)
            self._shape = shape
        rows = tuple(self._row(part, opens.get(part, ()), strategies) for part in self._order)
        self._view = PerformanceView(rows=rows)
        self._view_key = key
        return self._view

    def _row(
        self, part: PartKey, opens: Sequence[Trade], strategies: Mapping[str, str]
    ) -> PerformanceRow:
        tally = self._tallies.get(part)
        if not opens:
            # A book tally changes only by a closed trade, which counts: a kept row with
            # the tally's count of trades is the row of its tally as it is.
            cached = self._closed_rows.get(part)
            if cached is not None and cached.trades == (0 if tally is None else tally.trades):
                return cached
        if tally is None:
            tally = _tally()
        measured = tally.with_open(opens) if opens else tally
        strategy = strategies.get(part[2], "") if part[1] == ENGINE else ""
        row = tally_row(part, measured, strategy)
        if not opens:
            self._closed_rows[part] = row
        return row


_tally = Tally.totals_only  # a row shows the charges' total alone (``tally_row``)


def tally_row(part: PartKey, tally: Tally, strategy: str = "") -> PerformanceRow:
    """The row of ``tally.figures()`` (the report's), read from the tally's sums: the row
    shows of the charges their total alone, and of the drawdown its amount, so the
    book's tallies keep the total (``Tally.totals_only``) and no ``Figures`` is built."""
    scope, kind, name = part
    row = tally.row_figures()
    return PerformanceRow(
        scope=scope,
        part=kind,
        name=name,
        strategy=strategy,
        trades=tally.trades,
        open_trades=tally.open_trades,
        wins=tally.wins,
        losses=tally.losses,
        gross=_rupees(tally.gross),
        charges=_rupees(row.charged),
        net=_rupees(row.net),
        avg_win=_maybe_rupees(row.avg_win),
        avg_loss=_maybe_rupees(row.avg_loss),
        profit_factor=row.profit_factor,
        expectancy=_maybe_rupees(row.expectancy),
        max_drawdown=_rupees(tally.drawdown.amount),
        turnover=_rupees(tally.turnover),
    )


def _rupees(value: Decimal) -> float:
    return to_paise(value) / 100


def _maybe_rupees(value: Decimal | None) -> float | None:
    return None if value is None else _rupees(value)


def _display_order(part: PartKey) -> tuple[bool, str, int, str]:
    """The run's parts, then each day's; in each: the whole, engines, symbols, days
    (ISO dates sort in time order, as the report lists them)."""
    scope, kind, name = part
    return (scope != RUN, scope, _PART_ORDER[kind], name)
