"""Value objects that travel the pipeline: feed -> bars -> engine -> broker -> journal.

They are frozen, slotted dataclasses so the hot path pays no validation cost and no
object can be changed behind a reader's back (the TUI reads them from another thread).
Timestamps are epoch nanoseconds in UTC, named ``ts_ns``; display code converts them to
IST. Prices are floats rounded to the instrument's tick size; money in the ledger
(P&L) is kept in integer paise by the portfolio, never as a float sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from kitetui.drafts import built_in_draft
from kitetui.drafts import evolve as evolve  # (kitetui's records are copied with it)

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
        return 1 if self is _BUY else -1

    @property
    def opposite(self) -> Side:
        return _SELL if self is _BUY else _BUY


# Bound members. An enum member read through its class (``Side.BUY``) passes
# ``EnumType.__getattr__``'s attribute hook in Python 3.11: ~900 instructions a read,
# measured, about ten times a global's cost. So the modules on the bar's and the order's
# path bind the members they read to module constants once (``_BUY = Side.BUY``); a
# wrong binding fails the tests that reach it (those no other test reached are in
# ``tests/trading/test_bound_members.py``). Here:
# ``sign`` and ``opposite`` read these on every closing fill and exit check.
_BUY, _SELL = Side.BUY, Side.SELL


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


@built_in_draft
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


@built_in_draft
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


@built_in_draft
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


@built_in_draft
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


@built_in_draft
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


@built_in_draft
@dataclass(frozen=True, slots=True)
class RiskDecision:
    verdict: RiskVerdict
    quantity: int
    reason: str
    rule: str = ""


@built_in_draft
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
