"""Value objects that travel the pipeline: feed -> bars -> engine -> broker -> journal.

They are frozen, slotted dataclasses so the hot path pays no validation cost and no
object can be changed behind a reader's back (the TUI reads them from another thread).
Timestamps are epoch nanoseconds in UTC, named ``ts_ns``; display code converts them to
IST. Prices are floats rounded to the instrument's tick size; money in the ledger
(P&L) is kept in integer paise by the portfolio, never as a float sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kitetui.money import FillCost

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND


# Readers on a per-row path (the journal's rows, the snapshots' order views, the
# records, the alerts) read a member's value as ``member._value_``: enum's documented
# sunder attribute, the same ``str``, read as a plain attribute. ``.value`` is a
# property that costs two Python frames a read (~130k reads in a 25-day backtest).
class Exchange(StrEnum):
    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"


class Segment(StrEnum):
    """Kite's segment names; an equity and its future live in different segments."""

    NSE = "NSE"
    NFO_FUT = "NFO-FUT"
    NFO_OPT = "NFO-OPT"
    INDICES = "INDICES"


class Product(StrEnum):
    CNC = "CNC"
    MIS = "MIS"
    NRML = "NRML"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Validity(StrEnum):
    DAY = "DAY"
    IOC = "IOC"
    TTL = "TTL"


class Variety(StrEnum):
    REGULAR = "regular"
    AMO = "amo"


class OrderStatus(StrEnum):
    """Our order lifecycle. NEW means journaled but not yet acknowledged by a broker."""

    NEW = "NEW"
    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER PENDING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OrderStatus.COMPLETE, OrderStatus.CANCELLED, OrderStatus.REJECTED})


class SignalKind(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    EXIT = "EXIT"
    HOLD = "HOLD"


class RiskVerdict(StrEnum):
    ALLOW = "ALLOW"
    REDUCE = "REDUCE"
    BLOCK = "BLOCK"
    HALT = "HALT"


class TradingState(StrEnum):
    """Risk's state machine: every order command is gated on it."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # exits only (entries paused, or a symbol/engine winding down)
    HALTED = "HALTED"  # kill switch or max daily loss: nothing but flattening


class EngineState(StrEnum):
    """An engine's state, set by a person (start, stop, pause) or by an error."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"  # signals and exits go on; no new entries
    STOPPED = "STOPPED"
    ERROR = "ERROR"


class OrderPurpose(StrEnum):
    """Why an order exists, so risk and recovery treat entries and exits differently."""

    ENTRY = "ENTRY"
    EXIT = "EXIT"
    STOP = "STOP"
    SQUARE_OFF = "SQUARE_OFF"
    FLATTEN = "FLATTEN"


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    ts_ns: int
    price: float
    qty: int = 0
    oi: int = 0


@dataclass(frozen=True, slots=True)
class Bar:
    """An OHLCV bar; ``ts_ns`` is the bar's start, ``timeframe_s`` its length."""

    symbol: str
    ts_ns: int
    timeframe_s: int
    open: float
    high: float
    low: float
    close: float
    volume: int = 0
    oi: int = 0

    @property
    def end_ns(self) -> int:
        return self.ts_ns + self.timeframe_s * NS_PER_SECOND


@dataclass(frozen=True, slots=True)
class Signal:
    signal_id: str
    ts_ns: int
    engine: str
    strategy: str
    symbol: str
    timeframe_s: int
    kind: SignalKind
    price: float
    reason: str
    confidence: float = 0.0
    indicators: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What an engine wants; risk may reduce or refuse it before it becomes an Order."""

    engine: str
    symbol: str
    exchange: Exchange
    side: Side
    quantity: int
    purpose: OrderPurpose
    order_type: OrderType = OrderType.MARKET
    product: Product = Product.MIS
    price: float = 0.0
    trigger_price: float = 0.0
    stop_price: float = 0.0  # protective stop to place once an entry fills (0 = none)
    signal_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    """An order as journaled. ``tag`` is the client id written before any broker call."""

    tag: str
    engine: str
    symbol: str
    exchange: Exchange
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    purpose: OrderPurpose
    status: OrderStatus
    ts_ns: int
    price: float = 0.0
    trigger_price: float = 0.0
    stop_price: float = 0.0
    filled_qty: int = 0
    avg_price: float = 0.0
    broker_order_id: str = ""
    signal_id: str = ""
    reason: str = ""
    validity: Validity = Validity.DAY
    variety: Variety = Variety.REGULAR

    @property
    def pending_qty(self) -> int:
        return self.quantity - self.filled_qty


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    tag: str
    symbol: str
    side: Side
    quantity: int
    price: float
    ts_ns: int
    engine: str = ""
    product: Product = Product.MIS
    # What the fill is charged (its share of its order's brokerage and levies), set by
    # the trader before the fill is journaled; None for a fill straight from a broker,
    # or one journaled before kitetui recorded charges.
    charges: FillCost | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A net position. Money fields are integer paise (exact); prices are floats."""

    symbol: str
    engine: str
    product: Product
    quantity: int  # signed: long > 0, short < 0
    avg_price: float
    last_price: float
    realized_paise: int
    unrealized_paise: int
    charges_paise: int = 0  # what its fills were charged (brokerage and levies)

    @property
    def pnl_paise(self) -> int:
        """Gross: realized + unrealized, before charges."""
        return self.realized_paise + self.unrealized_paise

    @property
    def net_paise(self) -> int:
        """Net of the charges paid so far (a close's own charges come with its fill)."""
        return self.pnl_paise - self.charges_paise


@dataclass(frozen=True, slots=True)
class RiskDecision:
    verdict: RiskVerdict
    quantity: int
    reason: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """A structured journal/log record. ``kind`` is a past-tense name (``TickSkipped``)."""

    ts_ns: int
    kind: str
    message: str
    symbol: str = ""
    engine: str = ""
    level: str = "INFO"
    data: dict[str, object] = field(default_factory=dict)


def to_paise(price: float) -> int:
    """Convert a rupee price to integer paise, rounding half away from zero."""
    return int(price * 100 + (0.5 if price >= 0 else -0.5))


def round_to_tick(price: float, tick_size: float = 0.05) -> float:
    """Round a price to the instrument's tick, returning a float with no binary fuzz."""
    ticks = round(price / tick_size)
    return round(ticks * tick_size, 2)


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class _Layout:
    """How ``evolve`` copies one record class: all its fields read at once (``read``),
    each field's place among them, the draft class the copy is built in (``draft``) and
    the function that sets a draft's slots from the values in field order (``fill``)."""

    read: Any  # operator.attrgetter of every field: a tuple of their values
    place: dict[str, int]
    draft: type
    fill: Any


# Per record class: its ``_Layout``, or None when it must go through ``replace``.
_LAYOUTS: dict[type, _Layout | None] = {}
_new_object = object.__new__
_set_class = object.__setattr__


def evolve(record: R, **changes: Any) -> R:
    """``dataclasses.replace(record, **changes)``: the same new record, built without
    its ``__init__``. ``replace`` checks every field and goes through ``__init__``, which
    for a frozen class is an ``object.__setattr__`` call per field: several µs an order
    or a fill, on paths a backtest runs a hundred thousand times.

    The copy is made in the class's draft (``_layout``): a plain class with the very
    same slots, whose fields are set by ordinary attribute stores (one specialised
    instruction each, where a frozen slot takes a call through its descriptor: half of
    ``evolve``'s cost when it set them so), and which then becomes an instance of the
    record's class (``__class__`` assignment, which CPython allows between classes of
    one layout and checks). What comes back is an ordinary ``cls`` instance, frozen.

    A class with a ``__post_init__``, a field ``__init__`` does not set, no slots of its
    own fields alone, or a base class goes through ``replace`` itself; an unknown field
    raises ``TypeError`` as there."""
    cls = type(record)
    layout = _LAYOUTS.get(cls, _MISSING)
    if layout is _MISSING:
        layout = _LAYOUTS[cls] = _layout(cls)
    if layout is None:
        return replace(record, **changes)  # type: ignore[type-var]
    values = list(layout.read(record))
    place = layout.place
    for name, value in changes.items():
        at = place.get(name)
        if at is None:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        values[at] = value
    new = _new_object(layout.draft)
    layout.fill(new, values)
    _set_class(new, "__class__", cls)
    return new  # type: ignore[no-any-return]


_MISSING: Any = object()


def _layout(cls: type) -> _Layout | None:
    """``evolve``'s way to copy ``cls``, or None to use ``replace``.

    The draft is ``type(name, (), {"__slots__": the fields})``: the same instance layout
    as a slotted dataclass on ``object`` (CPython refuses the ``__class__`` assignment
    otherwise, which is tried here once: a refusal means ``replace``). ``fill`` is made
    from source, as ``dataclasses`` makes ``__init__``: one unpacking assignment to the
    draft's fields in field order (the names are the class's own identifiers)."""
    record_fields = fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in record_fields)
    if (
        len(names) < 2  # attrgetter of one field gives its value, not a tuple
        or cls.__bases__ != (object,)
        or hasattr(cls, "__post_init__")
        or any(not f.init for f in record_fields)
        or getattr(cls, "__slots__", None) != names
        or len(cls.__dataclass_fields__) != len(names)  # type: ignore[attr-defined]
        or not all(name.isidentifier() for name in names)
    ):
        return None
    draft = type(f"{cls.__name__}Draft", (), {"__slots__": names, "__module__": __name__})
    source = f"def fill(draft, values):\n    ({', '.join(f'draft.{n}' for n in names)},) = values\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # (the field names of a dataclass: identifiers)
    try:
        _set_class(_new_object(draft), "__class__", cls)
    except TypeError:
        return None
    return _Layout(
        read=attrgetter(*names),
        place={name: at for at, name in enumerate(names)},
        draft=draft,
        fill=namespace["fill"],
    )
