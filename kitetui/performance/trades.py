"""Round trips: what a trader calls a trade, rebuilt from the fills alone.

A trade begins when an engine's position in a symbol leaves flat and ends when it is
flat again. Lots are matched first in, first out, so adding to a position and taking
part of it off are priced as the contract note prices them; a fill that crosses zero
(a stop-and-reverse filled as one order) closes one trade and opens the next, and its
quantity and its charges are split between the two in proportion.

Every amount is an exact ``Decimal`` (prices as they were journaled, charges as the
charges module computes them), so the figures built on trades add up to the paisa:
the trades' charges sum exactly to the fills' charges, and a trade's gross is the cash
it moved (sell value minus buy value) when it is closed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from kitetui.domain import Side
from kitetui.drafts import built_in_draft
from kitetui.money import _ADD, _MULTIPLY, _SUBTRACT, EXACT, Charges, sum_charges

ZERO = Decimal(0)
NO_CHARGES = Charges()
_SPLIT_QUANTUM = Decimal("1e-12")  # rupees: far below anything a note shows


@built_in_draft
@dataclass(frozen=True, slots=True)
class FillRecord:
    """One journaled fill with what a report needs of its order and its charges."""

    seq: int
    fill_id: str
    tag: str
    ts_ns: int
    engine: str
    exchange: str
    symbol: str
    product: str
    side: Side
    quantity: int
    price: Decimal
    charges: Charges = NO_CHARGES
    # the paise the desk took off its equity for this fill (its share of the order's
    # rounded total); None: not journaled, the exact total rounded stands in
    charges_paise: int | None = None
    # the data clock when the desk applied it (the batch it came in), which can be a
    # bar after ``ts_ns``: a candle fill is stamped at its bar's open; None: ``ts_ns``
    clock_ns: int | None = None
    # False: the rate table could not price it (``ChargesUnpriced``): its charges are
    # none taken, and the files show them blank rather than as a priced zero
    priced: bool = True

    @property
    def applied_ns(self) -> int:
        """When the desk's books had this fill: its equity points from then on do."""
        return self.ts_ns if self.clock_ns is None else self.clock_ns

    @property
    def turnover(self) -> Decimal:
        with localcontext(EXACT):
            return self.price * self.quantity


@built_in_draft
@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip. ``closed`` is False for a position still open at the end of the
    data; then ``exit_*`` is the last mark and ``gross`` its unrealized P&L."""

    engine: str
    exchange: str
    symbol: str
    product: str
    direction: Side  # BUY: a long trade, SELL: a short one
    quantity: int  # the largest position held during the trade
    entry_ts_ns: int
    entry_price: Decimal  # average of the opening fills
    exit_ts_ns: int
    exit_price: Decimal  # average of the closing fills (or the last mark)
    gross: Decimal
    charges: Charges
    turnover: Decimal
    fills: int
    closed: bool = True

    @property
    def net(self) -> Decimal:
        return EXACT.subtract(self.gross, self.charges.total)  # ``-`` in EXACT


def split_charges(charges: Charges, part: int, whole: int) -> tuple[Charges, Charges]:
    """``charges`` split ``part : whole - part``, each component rounded far below a
    paisa, the second taking the remainder: the two always add up exactly."""
    if part == whole:
        return charges, NO_CHARGES
    if part == 0:
        return NO_CHARGES, charges
    first: dict[str, Decimal] = {}
    for name, amount in charges.items():
        share = (amount * part / whole).quantize(_SPLIT_QUANTUM)
        first[name] = share
    head = Charges(**first)
    return head, charges - head


@dataclass(slots=True)
class OpenTrade:
    """A trade being built for one (engine, symbol); once flat, the closed round trip's
    sums as they stand (``RoundTrips.add_fill``), which ``finish`` makes a ``Trade``."""

    direction: Side
    entry_ts_ns: int
    exchange: str
    product: str
    lots: deque[list] = field(default_factory=deque)  # [quantity, price], FIFO
    position: int = 0  # unsigned
    peak: int = 0
    entry_qty: int = 0
    entry_value: Decimal = ZERO
    exit_qty: int = 0
    exit_value: Decimal = ZERO
    gross: Decimal = ZERO
    # Each fill's share of the charges, in order, summed when read (``charges``, ``net``):
    # added as they came, eight exact sums and a record a fill, they were over a third of
    # what pairing a fill cost, and the desk's book reads only the closed trade's net.
    parts: list[Charges] = field(default_factory=list)
    turnover: Decimal = ZERO
    fills: int = 0
    last_ts_ns: int = 0

    # The sums are ``EXACT``'s own operations (``money._ADD``, ``_MULTIPLY``,
    # ``_SUBTRACT``): ``localcontext(EXACT)``'s arithmetic, the same digits and traps,
    # without a context entered and left for every fill.

    def add(self, quantity: int, price: Decimal, charges: Charges, ts_ns: int) -> None:
        self.lots.append([quantity, price])
        self.position += quantity
        self.peak = max(self.peak, self.position)
        self.entry_qty += quantity
        value = _MULTIPLY(price, quantity)
        self.entry_value = _ADD(self.entry_value, value)
        self.turnover = _ADD(self.turnover, value)
        self.parts.append(charges)
        self.fills += 1
        self.last_ts_ns = ts_ns

    def take(self, quantity: int, price: Decimal, charges: Charges, ts_ns: int) -> None:
        """Close ``quantity`` against the oldest lots first."""
        sign = self.direction.sign
        left = quantity
        while left:
            lot = self.lots[0]
            matched = min(left, lot[0])
            moved = _MULTIPLY(_MULTIPLY(_SUBTRACT(price, lot[1]), matched), sign)
            self.gross = _ADD(self.gross, moved)
            lot[0] -= matched
            left -= matched
            if lot[0] == 0:
                self.lots.popleft()
        self.position -= quantity
        self.exit_qty += quantity
        value = _MULTIPLY(price, quantity)
        self.exit_value = _ADD(self.exit_value, value)
        self.turnover = _ADD(self.turnover, value)
        self.parts.append(charges)
        self.fills += 1
        self.last_ts_ns = ts_ns

    @property
    def charges(self) -> Charges:
        """The fills' charges summed component by component in the order they came:
        ``NO_CHARGES + first + second ...``, the same operations in the same context
        (``sum_charges``), so the same digits as adding each as it came."""
        return sum_charges(NO_CHARGES, self.parts)

    @property
    def net(self) -> Decimal:
        """A closed round trip's net: its ``Trade``'s ``net`` as a value (every charge
        of every fill taken off the gross, exactly; the figures built on it are shown
        to the paisa), without the summed ``Charges`` record a ``Trade`` carries."""
        add = _ADD
        charged = ZERO
        for c in self.parts:
            charged = add(charged, c.total)
        return _SUBTRACT(self.gross, charged)

    def finish(self, engine: str, symbol: str, closed: bool, mark: Decimal | None) -> Trade:
        # Averages are for display (28 digits, then 1/10,000 of a rupee); gross is exact.
        entry_price = self.entry_value / self.entry_qty
        gross = self.gross
        exit_ts = self.last_ts_ns
        if closed:
            exit_price = self.exit_value / self.exit_qty
        else:
            exit_price = mark if mark is not None else None
            with localcontext(EXACT):
                if exit_price is None:  # no mark: no unrealized P&L invented
                    held = ZERO
                    exit_price = entry_price
                else:
                    held = sum(((exit_price - p) * q for q, p in self.lots), ZERO)
                gross += held * self.direction.sign
        return Trade(
            engine=engine,
            exchange=self.exchange,
            symbol=symbol,
            product=self.product,
            direction=self.direction,
            quantity=self.peak,
            entry_ts_ns=self.entry_ts_ns,
            entry_price=_tidy(entry_price),
            exit_ts_ns=exit_ts,
            exit_price=_tidy(exit_price),
            gross=gross,
            charges=self.charges,
            turnover=self.turnover,
            fills=self.fills,
            closed=closed,
        )


_TIDY_QUANTUM = Decimal("0.0001")


def _tidy(price: Decimal) -> Decimal:
    """An average price to 1/10,000 of a rupee (display; gross uses the exact lots)."""
    return price.quantize(_TIDY_QUANTUM).normalize()


class RoundTrips:
    """Round trips built one fill at a time: the report feeds a run's whole journal,
    the desk each fill as it is applied, so both pair fills the same way.

    ``add`` returns the trades a fill closed (none, or one; a fill that crosses zero
    closes one and opens the next); ``open_trades`` prices the ones still open.
    """

    __slots__ = ("_book",)

    def __init__(self) -> None:
        self._book: dict[tuple[str, str], OpenTrade] = {}

    def add(self, fill: FillRecord) -> Trade | None:
        """Take one fill (in journal order); the trade it closed, if it closed one."""
        closed = self.add_fill(
            fill.fill_id,
            fill.engine,
            fill.symbol,
            fill.exchange,
            fill.product,
            fill.side,
            fill.quantity,
            fill.price,
            fill.charges,
            fill.ts_ns,
        )
        return None if closed is None else closed.finish(fill.engine, fill.symbol, True, None)

    def add_fill(
        self,
        fill_id: str,
        engine: str,
        symbol: str,
        exchange: str,
        product: str,
        side: Side,
        quantity: int,
        price: Decimal,
        charges: Charges,
        ts_ns: int,
    ) -> OpenTrade | None:
        """``add`` of a fill given by the fields it reads: the desk's book pairs each fill
        as it is applied, and a ``FillRecord`` built for this alone was a fifth of what
        its ``add`` cost. The round trip it closed comes as its ``OpenTrade`` (``finish``
        makes its ``Trade``, which ``add`` returns): the book reads the sums alone, and
        a ``Trade`` built for it, the average prices tidied, was a sixth of its add."""
        if quantity <= 0:
            raise ValueError(f"fill {fill_id}: quantity must be positive")
        book = self._book
        key = (engine, symbol)
        current = book.get(key)
        if current is None or current.direction is side:
            if current is None:
                current = book[key] = OpenTrade(side, ts_ns, exchange, product)
            current.add(quantity, price, charges, ts_ns)
            return None
        closing = min(quantity, current.position)
        head, rest = split_charges(charges, closing, quantity)
        current.take(closing, price, head, ts_ns)
        closed = None
        if current.position == 0:
            closed = current
            del book[key]
        opening = quantity - closing
        if opening:  # the fill crossed zero: the rest opens the other way
            reverse = book[key] = OpenTrade(side, ts_ns, exchange, product)
            reverse.add(opening, price, rest, ts_ns)
            reverse.fills = 1
        return closed

    @property
    def open_count(self) -> int:
        return len(self._book)

    def open_symbols(self) -> set[str]:
        """The symbols with a trade still open (what ``open_trades`` wants marks for)."""
        return {symbol for _, symbol in self._book}

    def open_trades(self, marks: Mapping[str, Decimal] | None = None) -> list[Trade]:
        """The trades still open, marked at ``marks[symbol]`` (at their entry price when
        there is no mark: no unrealized P&L invented)."""
        marks = marks or {}
        return [
            current.finish(engine, symbol, False, marks.get(symbol))
            for (engine, symbol), current in self._book.items()
        ]


def round_trips(
    fills: Iterable[FillRecord], marks: Mapping[str, Decimal] | None = None
) -> list[Trade]:
    """Every round trip in ``fills`` (taken in their journal order), closed trades in
    the order they closed, then the trades still open, marked at ``marks[symbol]``
    (their entry price when there is no mark: no unrealized P&L invented)."""
    pairs = RoundTrips()
    trades: list[Trade] = []
    for fill in fills:
        closed = pairs.add(fill)
        if closed is not None:
            trades.append(closed)
    trades.extend(pairs.open_trades(marks))
    return trades
