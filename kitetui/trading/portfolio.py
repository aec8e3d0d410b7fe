"""The ledger: net positions, exact P&L in integer paise, and the equity curve.

Money never lives in a float sum here. Every fill is converted once to integer paise
(``to_paise``) and the book per symbol keeps a signed quantity and an integer cost
basis, so a round trip that ends flat realizes exactly the cash that changed hands —
no drift after ten thousand fills, and a rebuild from the journal gives the same
numbers to the paisa.

Cost basis is kept as a positive total (what was paid for a long, what was received
for a short). Reducing ``q`` of ``Q`` removes ``cost * q // Q``: the floor leaves any
odd paisa in the remaining basis, and the last unit to close takes it, so rounding
never leaks into the realized total over a round trip.

Charges are kept beside the gross figures, never folded into them: each fill carries
its charges (its share of its order's brokerage and levies, set by the trader before
the fill is journaled, ``Fill.charges``), and the book adds the fill's paise share to
its symbol's and the day's charges and its exact components to the run's breakdown.
Net = gross - charges. The daily-loss and symbol-loss limits see NET P&L (``day_pnl_paise``,
``day_pnl_by_symbol``): a trader's loss limit is on money lost, and charges are money
lost. The equity curve and its drawdown (followed at every fill and mark) are net too.
Sizing still reads ``equity_paise``, which stays gross (capital + realized +
unrealized): see docs/charges.md for why.

The portfolio is plain synchronous state with no I/O. After a restart the caller
rebuilds it by replaying the journaled fills (rule 2: a fill is committed before it
changes a position): replay the fills before today, call ``start_day()``, then replay
today's fills. A fill id seen before is ignored, so replaying a fill twice is harmless.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from kitetui.domain import Fill, Position, Product, Side, to_paise
from kitetui.money import ChargesSum
from kitetui.trading.charges import Charges

# Bound once (why: ``kitetui/domain.py``, "Bound members").
_BUY = Side.BUY
_INF = math.inf


@dataclass(frozen=True, slots=True)
class DayPosition:
    """What one symbol realized, and was charged, on one past day."""

    symbol: str
    engine: str
    product: Product
    realized_paise: int
    charges_paise: int = 0


@dataclass(frozen=True, slots=True)
class PastDay:
    """An earlier trading day of the run: its ISO date and each symbol it traded."""

    label: str
    positions: tuple[DayPosition, ...]


@dataclass(slots=True)
class _Book:
    """The mutable state of one symbol's net position (never handed out)."""

    symbol: str
    engine: str
    product: Product
    quantity: int = 0  # signed: long > 0, short < 0
    cost_paise: int = 0  # positive total basis of the open quantity
    realized_paise: int = 0
    last_price: float = 0.0
    # ``to_paise(last_price)`` while the position is open, worked out once a mark: the
    # held symbols' marks on every bar and the loss limits after every batch read it.
    # Only a fill and a mark move either, and a fill sets both. While flat, a mark moves
    # neither: the book's price is the portfolio's ``marks`` entry, caught up when its
    # view is asked for (``Portfolio._view``); this is then stale, and nothing reads it.
    last_paise: int = 0
    day_start_realized_paise: int = 0
    charges_paise: int = 0  # what this symbol's fills were charged
    day_start_charges_paise: int = 0
    traded_today: bool = False  # a fill since the last ``start_day``
    trade_start_paise: int = 0  # realized when the open position was opened from flat
    # The frozen view last handed out, until a fill or a new mark changes the book: the
    # engines ask for positions on every bar, and most bars change nothing in most books.
    view: Position | None = None

    @property
    def pnl_paise(self) -> int:
        return self.realized_paise + self.unrealized_paise

    @property
    def day_realized_paise(self) -> int:
        return self.realized_paise - self.day_start_realized_paise

    @property
    def day_charges_paise(self) -> int:
        return self.charges_paise - self.day_start_charges_paise

    @property
    def day_net_paise(self) -> int:
        """Net day P&L: realized since the day started, the open quantity's
        unrealized, less the day's charges (the symbol-loss limit's figure)."""
        return (
            self.realized_paise
            - self.day_start_realized_paise
            + self.unrealized_paise
            - (self.charges_paise - self.day_start_charges_paise)
        )

    @property
    def unrealized_paise(self) -> int:
        if self.quantity == 0:
            return 0
        market_value = abs(self.quantity) * self.last_paise
        if self.quantity > 0:
            return market_value - self.cost_paise
        return self.cost_paise - market_value

    @property
    def avg_price(self) -> float:
        if self.quantity == 0:
            return 0.0
        return self.cost_paise / abs(self.quantity) / 100

    def to_position(self) -> Position:
        view = self.view
        if view is None:
            view = self.view = self._build_position()
        return view

    def _build_position(self) -> Position:
        return Position(
            symbol=self.symbol,
            engine=self.engine,
            product=self.product,
            quantity=self.quantity,
            avg_price=self.avg_price,
            last_price=self.last_price,
            realized_paise=self.realized_paise,
            unrealized_paise=self.unrealized_paise,
            charges_paise=self.charges_paise,
        )


class _DayParts:
    """The parts of the day's P&L that only a fill or a new day moves, as of
    ``settled_at`` = ``(fills_applied, days)`` (``Portfolio._settle_day``); kept apart
    from the portfolio's own attributes, which are as many as CPython keeps in an
    instance's compact form (a thirty-first moves them all to a dict, and every read
    of one on the marks' and fills' paths slows: +0.3% of a backtest)."""

    __slots__ = ("closed", "filled", "flat", "open_parts", "settled_at", "worst_flat")

    def __init__(self) -> None:
        self.settled_at: tuple[int, int] | None = None
        self.closed: dict[str, int] = {}  # each book's day P&L less its open part, in order
        self.flat: dict[str, int] = {}  # the closed parts of the books not open
        self.filled: dict[str, _Book] = {}  # the books filled since ``settled_at``
        # For ``day_loss``: the open books (``held``'s, in its order: what reads them
        # takes their lowest, the same integers in any order), each as ``(base,
        # quantity, book)`` with its day figure ``base + quantity * book.last_paise``
        # (its closed part plus its unrealized P&L at the mark: ``base`` is the closed
        # part less the cost of a long, plus the cost of a short; only a fill moves
        # either), and the lowest closed part of the books not open (``math.inf`` when
        # every book is open).
        self.open_parts: list[tuple[int, int, _Book]] = []
        self.worst_flat: int | float = math.inf


class Portfolio:
    """Net positions per symbol with exact paise accounting and an equity curve.

    ``capital_rupees`` is the starting capital; equity is capital + realized +
    unrealized. A symbol that goes flat keeps its book (and its realized P&L), so
    ``positions()`` lists every symbol traded and ``open_positions()`` only those
    with a non-zero quantity.
    """

    def __init__(self, capital_rupees: float) -> None:
        if not math.isfinite(capital_rupees) or capital_rupees < 0:
            raise ValueError(f"capital must be a finite, non-negative amount: {capital_rupees!r}")
        self.capital_paise: int = to_paise(capital_rupees)
        self._books: dict[str, _Book] = {}
        # The books with an open position, by symbol (in no particular order): only these
        # does a mark move. A caller that marks every print may skip ``mark`` for a
        # symbol not in here and store a sound price in ``marks`` itself (the gate's bars).
        self.held: dict[str, _Book] = {}
        # The market's last price of every symbol seen, and a flat book's price.
        self.marks: dict[str, float] = {}
        self._fill_ids: set[str] = set()
        self.fills_applied = 0  # positions move only by a fill: equal counts, same positions
        # Symbols filled since the exit manager's timer last looked at them (it takes each
        # one out as it looks; ``WorkingOrders.touched`` says why).
        self.filled: set[str] = set()
        self._day_start_realized_paise = 0
        self._charges_paise = 0
        self._day_start_charges_paise = 0
        # The exact components, summed when read (``charges``): the ledger moves by
        # ``charges_paise``; the components are for the run's summary.
        self._charges = ChargesSum()
        # The equity curve, one point a batch: as two int64 columns (16 B a point) rather
        # than a list of tuples (~140 B), since a year's backtest records ~94,000 points.
        self._curve_ts = array("q")
        self._curve_paise = array("q")
        # Equity kept as a running total (each fill or mark adds its book's change), so
        # the drawdown can follow every mark at O(1) instead of summing every book.
        self._equity_paise = self.capital_paise
        self._peak_equity_paise = self.capital_paise
        self._max_drawdown_paise = 0
        self._day_peak_paise = self.capital_paise
        self._day_max_drawdown_paise = 0
        self._day_label = ""
        self._past_days: tuple[PastDay, ...] = ()
        self._days = 0  # trading days begun
        # Round trips (a symbol from flat back to flat, or through zero): count, winners.
        self.trades_closed = 0
        self.trades_won = 0
        # ``day_pnls``' figures that only a fill or a new day moves (``_settle_day``), and
        # every book's realized P&L, summed as fills move it.
        self._day = _DayParts()
        self._day_realized = 0

    # ------------------------------------------------------------------ fills and marks

    def apply_fill(self, fill: Fill, *, lapse: bool = False) -> int:
        """Apply one fill and return the paise it realized (0 for an opening fill).

        Handles open, add, partial reduce, full close and a flip through zero in one
        fill (the excess opens a new position at the fill price). The position is
        valued at the market's last price; only a symbol the market has not printed yet
        is valued at its fill price (a fill's price carries slippage: it is not where the
        market is, and using it would make equity depend on whether a fill was applied
        before or after the mark of the same instant). A fill id already applied is
        ignored (returns 0).
        Raises ``ValueError`` for a non-positive quantity or a non-finite/non-positive
        price: a bad fill must never silently change the ledger. The one fill at zero is
        an option's ``lapse`` at expiry (its order names it: ``kitetui.trading.
        expiry_settlement``): NSE settles an option out of the money at zero. Even then
        it may only close what is held, never open or add.
        """
        if fill.quantity <= 0:
            raise ValueError(f"fill {fill.fill_id}: quantity must be positive, got {fill.quantity}")
        if not math.isfinite(fill.price) or fill.price < 0 or (fill.price == 0 and not lapse):
            raise ValueError(f"fill {fill.fill_id}: price must be finite and positive")
        if fill.fill_id in self._fill_ids:
            return 0
        if (
            fill.price == 0
            and (held := self.quantity(fill.symbol)) * fill.side.sign > -fill.quantity
        ):
            raise ValueError(
                f"fill {fill.fill_id}: a lapse at zero closes a position, and "
                f"{fill.side.value} {fill.quantity} {fill.symbol} would open or add to {held:+d}"
            )
        self._fill_ids.add(fill.fill_id)
        self.fills_applied += 1
        self.filled.add(fill.symbol)

        book = self._book_for(fill)
        pnl_before = book.pnl_paise
        book.traded_today = True
        was_flat = book.quantity == 0
        round_trip = False

        price_paise = to_paise(fill.price)
        sign = 1 if fill.side is _BUY else -1  # ``Side.sign``, read once (a property call)
        signed_qty = sign * fill.quantity
        realized = 0
        remaining = fill.quantity

        if book.quantity != 0 and (book.quantity > 0) != (signed_qty > 0):
            # Reducing (and possibly flipping) the open position.
            held = abs(book.quantity)
            closed = min(held, remaining)
            removed_cost = book.cost_paise * closed // held
            exit_value = closed * price_paise
            realized = exit_value - removed_cost if book.quantity > 0 else removed_cost - exit_value
            book.cost_paise -= removed_cost
            book.quantity += sign * closed
            remaining -= closed
            if book.quantity == 0:
                book.cost_paise = 0  # already exact: closed == held removes all of it
                round_trip = True

        if remaining > 0:
            # Opening or adding, in the fill's direction.
            book.quantity += sign * remaining
            book.cost_paise += remaining * price_paise

        book.realized_paise += realized
        self._day_realized += realized
        self._day.filled[fill.symbol] = book
        if round_trip:  # a round trip ended (flat, or flipped through zero)
            self._trade_closed(book.realized_paise - book.trade_start_paise)
        if (was_flat or round_trip) and book.quantity != 0:
            book.trade_start_paise = book.realized_paise
        book.last_price = self.marks.get(fill.symbol, fill.price)
        book.last_paise = to_paise(book.last_price)
        if book.quantity:
            self.held[fill.symbol] = book
        else:
            self.held.pop(fill.symbol, None)
        self._moved(book.pnl_paise - pnl_before, self._charge(book, fill))
        book.view = None  # quantity, cost, realized, charges or last price moved
        return realized

    def _book_for(self, fill: Fill) -> _Book:
        book = self._books.get(fill.symbol)
        if book is None:
            book = _Book(symbol=fill.symbol, engine=fill.engine, product=fill.product)
            self._books[fill.symbol] = book
        return book

    def _charge(self, book: _Book, fill: Fill) -> int:
        """Book the charges journaled with ``fill``; the paise charged (0 without)."""
        if fill.charges is None:
            return 0
        charged = fill.charges.paise
        book.charges_paise += charged
        self._charges_paise += charged
        self._charges.add(fill.charges.charges)
        return charged

    def mark(self, symbol: str, price: float) -> bool:
        """Set a symbol's last price; returns False (and changes nothing) for an unknown
        symbol or a non-finite/non-positive price, so bad data cannot corrupt equity.

        Only an open position is valued at it: a symbol without one (never traded, or
        flat) needs its price in ``marks`` and nothing else (a flat book's view reads it
        there, ``_view``), which is all a caller that marks every print does for a
        symbol not ``held``."""
        if not 0.0 < price < _INF:  # ``math.isfinite(price) and price > 0`` (NaN fails)
            return False
        self.marks[symbol] = price
        book = self.held.get(symbol)
        if book is None:
            return symbol in self._books
        if price != book.last_price:
            book.view = None
        # ``unrealized_paise`` after less before, in whole paise: the quantity times the
        # move of the price (for a short too: its quantity is negative).
        paise = int(price * 100 + 0.5)  # ``to_paise`` of a positive price
        change = book.quantity * (paise - book.last_paise)
        book.last_price, book.last_paise = price, paise
        if change:
            # ``_moved(change)`` spelled out: a held symbol's bar in a backtest is this
            # mark (38% of the bench's bars), and the call was a third of its cost.
            gross = self._equity_paise + change
            self._equity_paise = gross
            equity = gross - self._charges_paise
            peak = self._peak_equity_paise
            if equity > peak:
                self._peak_equity_paise = equity
            elif peak - equity > self._max_drawdown_paise:
                self._max_drawdown_paise = peak - equity
            peak = self._day_peak_paise
            if equity > peak:
                self._day_peak_paise = equity
            elif peak - equity > self._day_max_drawdown_paise:
                self._day_max_drawdown_paise = peak - equity
        return True

    def _trade_closed(self, pnl_paise: int) -> None:
        self.trades_closed += 1
        if pnl_paise > 0:
            self.trades_won += 1

    def _moved(self, change_paise: int, charged_paise: int = 0) -> None:
        """Gross equity moved by ``change_paise`` and ``charged_paise`` was charged:
        follow the peaks and the drawdowns (on NET equity, after charges) at once, so a
        loss between two equity points (a spike against a position) is never smaller in
        the drawdown than it was on screen. (``mark`` spells this out for its change.)"""
        if not change_paise and not charged_paise:
            return
        self._equity_paise += change_paise
        equity = self._equity_paise - self._charges_paise
        if equity > self._peak_equity_paise:
            self._peak_equity_paise = equity
        elif self._peak_equity_paise - equity > self._max_drawdown_paise:
            self._max_drawdown_paise = self._peak_equity_paise - equity
        if equity > self._day_peak_paise:
            self._day_peak_paise = equity
        elif self._day_peak_paise - equity > self._day_max_drawdown_paise:
            self._day_max_drawdown_paise = self._day_peak_paise - equity

    # ------------------------------------------------------------------ positions

    def position(self, symbol: str) -> Position | None:
        book = self._books.get(symbol)
        return None if book is None else self._view(book)

    def _view(self, book: _Book) -> Position:
        """``book``'s view, a flat book's at the market's last price: marks do not move a
        flat book (``mark``), so its price is caught up here, to what a mark of each
        print would have left it at (the last sound price, or the fill's while none)."""
        if not book.quantity:
            price = self.marks.get(book.symbol, book.last_price)
            if price != book.last_price:
                book.last_price = price
                book.view = None
        return book.to_position()

    def quantity(self, symbol: str) -> int:
        """The signed net quantity (0 for a symbol never traded): O(1), no view built,
        for the callers that ask on every bar."""
        book = self._books.get(symbol)
        return 0 if book is None else book.quantity

    def positions(self) -> list[Position]:
        """Every symbol traded, flat ones included, in first-fill order."""
        return [self._view(book) for book in self._books.values()]

    def open_positions(self) -> list[Position]:
        return [book.to_position() for book in self._books.values() if book.quantity != 0]

    def symbol_pnl_paise(self, symbol: str) -> int:
        """Realized + unrealized for one symbol since the portfolio was created."""
        book = self._books.get(symbol)
        return 0 if book is None else book.realized_paise + book.unrealized_paise

    # ------------------------------------------------------------------ totals

    @property
    def realized_paise(self) -> int:
        return sum(book.realized_paise for book in self._books.values())

    @property
    def unrealized_paise(self) -> int:
        return sum(book.unrealized_paise for book in self._books.values())

    @property
    def gross_pnl_paise(self) -> int:
        """Realized + unrealized since the portfolio was created, before charges."""
        return self.realized_paise + self.unrealized_paise

    @property
    def charges_paise(self) -> int:
        """Every fill's charges (each its order's rounded share), since it was created."""
        return self._charges_paise

    @property
    def charges(self) -> Charges:
        """The charges by component, exact rupees (their total rounds to about
        ``charges_paise``: that one rounds each order, this sums exactly)."""
        return self._charges.total

    @property
    def net_pnl_paise(self) -> int:
        return self.gross_pnl_paise - self._charges_paise

    @property
    def equity_paise(self) -> int:
        """Gross equity: capital + realized + unrealized (what sizing reads; a running
        total, O(1))."""
        return self._equity_paise

    @property
    def net_equity_paise(self) -> int:
        """Capital + net P&L: what the account would hold after the contract note."""
        return self.equity_paise - self._charges_paise

    @property
    def gross_exposure_paise(self) -> int:
        """Sum over open positions of |quantity| * last price (``last_paise``: the risk
        check of every entry asks). Over ``held``, the open books, which every fill
        keeps exactly in step with the quantities: a walk over every book the run ever
        traded, flat ones included, was most of an entry's exposure (an exact integer
        sum: the order of its terms does not matter)."""
        return sum([abs(b.quantity) * b.last_paise for b in self.held.values()])

    @property
    def open_position_count(self) -> int:
        """The books with a non-zero quantity: ``held``'s (see ``gross_exposure_paise``)."""
        return len(self.held)

    # ------------------------------------------------------------------ the trading day

    def start_day(self, label: str = "") -> None:
        """Begin a trading day (``label``: its ISO date): day P&L counts realized P&L
        from here on, the day's drawdown starts afresh, and what each symbol realized
        on the day that ends is kept (``past_days``) so a screen can show any day.

        Unrealized P&L of positions carried in counts in full (against their cost,
        not against yesterday's close) — conservative for a daily-loss limit, and
        intraday (MIS) books are flat at the start of a day anyway.
        """
        ended = tuple(
            DayPosition(b.symbol, b.engine, b.product, b.day_realized_paise, b.day_charges_paise)
            for b in self._books.values()
            if b.traded_today
        )
        if self._day_label and ended:
            self._past_days = (*self._past_days, PastDay(self._day_label, ended))
        self._day_label = label
        self._days += 1
        self._day_start_realized_paise = self.realized_paise
        self._day_start_charges_paise = self._charges_paise
        for book in self._books.values():
            book.day_start_realized_paise = book.realized_paise
            book.day_start_charges_paise = book.charges_paise
            book.traded_today = False
        self._day_peak_paise = self.net_equity_paise
        self._day_max_drawdown_paise = 0

    @property
    def day_label(self) -> str:
        """The ISO date given to the last ``start_day`` ("" before the first)."""
        return self._day_label

    @property
    def days(self) -> int:
        """Trading days begun so far (``start_day`` calls)."""
        return self._days

    @property
    def equity_points(self) -> int:
        return len(self._curve_ts)

    def equity_tail(self, count: int) -> tuple[tuple[int, int], ...]:
        """The newest ``count`` equity points, without copying the whole curve."""
        if count <= 0:
            return ()
        return tuple(zip(self._curve_ts[-count:], self._curve_paise[-count:], strict=True))

    def equity_sampled(self, count: int) -> tuple[tuple[int, int], ...]:
        """At most ``count`` points spread evenly over the whole curve (its first and last
        always among them): the run's shape for a chart, at a bounded size."""
        times, paise = self._curve_ts, self._curve_paise
        n = len(times)
        if n <= count:
            return self.equity_curve
        step = (n - 1) / (count - 1)
        picked = [round(i * step) for i in range(count)]
        return tuple((times[i], paise[i]) for i in picked)

    @property
    def past_days(self) -> tuple[PastDay, ...]:
        """Each earlier day of the run that traded: what each symbol realized on it."""
        return self._past_days

    def traded_today(self, symbol: str) -> bool:
        book = self._books.get(symbol)
        return book is not None and book.traded_today

    def symbol_day_realized_paise(self, symbol: str) -> int:
        book = self._books.get(symbol)
        return 0 if book is None else book.day_realized_paise

    def symbol_day_charges_paise(self, symbol: str) -> int:
        book = self._books.get(symbol)
        return 0 if book is None else book.day_charges_paise

    @property
    def day_realized_paise(self) -> int:
        return self.realized_paise - self._day_start_realized_paise

    @property
    def day_charges_paise(self) -> int:
        return self._charges_paise - self._day_start_charges_paise

    @property
    def day_gross_pnl_paise(self) -> int:
        """Realized since ``start_day()`` plus all unrealized, before charges."""
        return self.day_realized_paise + self.unrealized_paise

    @property
    def day_pnl_paise(self) -> int:
        """NET day P&L, what the daily-loss limit sees: realized since ``start_day()``
        plus all unrealized, minus the day's charges."""
        return self.day_gross_pnl_paise - self.day_charges_paise

    def symbol_day_pnl_paise(self, symbol: str) -> int:
        """One symbol's net day P&L (the symbol-loss limit's figure)."""
        book = self._books.get(symbol)
        return 0 if book is None else book.day_net_paise

    def day_pnl_by_symbol(self) -> dict[str, int]:
        """Net day P&L per symbol traded (the mapping ``RiskEngine.on_pnl`` takes)."""
        return {symbol: book.day_net_paise for symbol, book in self._books.items()}

    def day_pnls(self) -> tuple[int, dict[str, int]]:
        """``(day_pnl_paise, day_pnl_by_symbol())``: the loss limits read both after every
        batch. A book's realized P&L and charges, and which books are open, move only by
        a fill or a new day, so those parts are worked out once per fill or day
        (``_settle_day``); each batch adds the open books' unrealized P&L at their marks,
        in whole paise (the same integers, summed in another order)."""
        if self._day.settled_at != (self.fills_applied, self._days):
            self._settle_day()
        by_symbol = self._day.closed.copy()
        unrealized = 0
        for symbol, book in self.held.items():  # the open books
            quantity = book.quantity  # ``_Book.unrealized_paise`` spelled out
            value = abs(quantity) * book.last_paise
            open_paise = value - book.cost_paise if quantity > 0 else book.cost_paise - value
            unrealized += open_paise
            by_symbol[symbol] += open_paise
        return self._day_pnl(unrealized), by_symbol

    def day_loss(self) -> tuple[int, int | float]:
        """``(day_pnl_paise, worst)``: ``day_pnls()``'s day figure, and the lowest of its
        per-symbol figures (``math.inf`` with no symbol traded), without building that
        mapping. The loss limits ask after every batch and need the mapping only when
        one may trip (``RiskEngine.may_breach``): the same integers. The day figure is
        the running gross equity's (capital + every book's realized and unrealized
        P&L, kept exact at every fill and mark) less the capital, the realized P&L
        and charges before the day; each open book's figure is its closed part plus
        its unrealized P&L at its mark, one product and one sum (``_DayParts``): the
        walk is a held symbol's share of every batch."""
        day = self._day
        if day.settled_at != (self.fills_applied, self._days):
            self._settle_day()
        worst = day.worst_flat
        for base, quantity, book in day.open_parts:
            pnl = base + quantity * book.last_paise
            if pnl < worst:
                worst = pnl
        return (
            self._equity_paise
            - self.capital_paise
            - self._day_start_realized_paise
            - (self._charges_paise - self._day_start_charges_paise)
        ), worst

    def _day_pnl(self, unrealized: int) -> int:
        """The day's P&L in paise, net of its charges, given the open books' unrealized
        P&L at their marks (``day_pnls``; ``day_loss`` reads the same integer off the
        running equity, which holds every book's realized and unrealized P&L)."""
        return (
            self._day_realized
            - self._day_start_realized_paise
            + unrealized
            - (self._charges_paise - self._day_start_charges_paise)
        )

    def _settle_day(self) -> None:
        """``day_pnls``' parts a mark does not move (``_DayParts``). A new day moves every
        book's closed part (to 0, from its ``start_day``), so the books are walked once a
        day; between fills of one day only the books filled since the last look moved,
        and only those are worked out again (a walk of every book after every batch with
        a fill was ~0.8% of a backtest)."""
        day = self._day
        settled = day.settled_at
        day.settled_at = (self.fills_applied, self._days)
        filled, day.filled = day.filled, {}
        if settled is None or settled[1] != self._days:
            filled = self._books  # a new day: every book, in the books' order
            day.closed, day.flat = {}, {}
        closed, flat = day.closed, day.flat
        for symbol, book in filled.items():
            part = closed[symbol] = (
                book.realized_paise
                - book.day_start_realized_paise
                - (book.charges_paise - book.day_start_charges_paise)
            )
            if book.quantity:
                flat.pop(symbol, None)
            else:
                flat[symbol] = part
        # a long's unrealized P&L is quantity * mark - cost, a short's cost - |quantity| *
        # mark, which is quantity * mark + cost: ``_Book.unrealized_paise``
        day.open_parts = [
            (
                closed[symbol] - book.cost_paise
                if book.quantity > 0
                else closed[symbol] + book.cost_paise,
                book.quantity,
                book,
            )
            for symbol, book in self.held.items()
        ]
        day.worst_flat = min(flat.values(), default=math.inf)

    # ------------------------------------------------------------------ equity curve

    def record_equity(self, ts_ns: int) -> int:
        """Append (ts_ns, net equity) to the curve and return it. Net: capital +
        realized + unrealized - charges, as the account would show.

        Peak and drawdowns follow every fill and mark already (``_moved``); the peak
        starts at the starting capital, so a session that only loses still shows its
        drawdown.
        """
        equity = self._equity_paise - self._charges_paise  # ``net_equity_paise``
        self._curve_ts.append(ts_ns)
        self._curve_paise.append(equity)
        return equity

    @property
    def equity_curve(self) -> tuple[tuple[int, int], ...]:
        return tuple(zip(self._curve_ts, self._curve_paise, strict=True))

    @property
    def peak_equity_paise(self) -> int:
        return self._peak_equity_paise

    @property
    def drawdown_paise(self) -> int:
        """Current distance below the peak (as of now, not of the last record)."""
        return max(0, self._peak_equity_paise - self.net_equity_paise)

    @property
    def max_drawdown_paise(self) -> int:
        """The deepest fall below the run's peak equity, at any fill or mark."""
        return self._max_drawdown_paise

    @property
    def day_max_drawdown_paise(self) -> int:
        """The deepest fall below today's peak equity (from ``start_day``)."""
        return self._day_max_drawdown_paise
