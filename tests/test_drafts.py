"""``@built_in_draft``: a record class's ``__init__`` made in its draft is the one
``dataclass`` wrote, argument for argument: the same record, the same defaults, a fresh
object from each default factory, the same errors, the same signature; and what it makes
is an ordinary frozen instance of the class."""

from __future__ import annotations

import inspect
from dataclasses import FrozenInstanceError, dataclass, field, fields
from decimal import Decimal
from itertools import repeat

import pytest

from kitetui.domain import (
    Bar,
    Event,
    Exchange,
    Fill,
    Order,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Position,
    Product,
    RiskDecision,
    RiskVerdict,
    Side,
    Signal,
    SignalKind,
)
from kitetui.drafts import build_rows, built_in_draft, maker
from kitetui.money import Charges, FillCost
from kitetui.performance.metrics import ChargeTotals, Drawdown, Figures
from kitetui.performance.trades import FillRecord, Trade
from kitetui.trading.charges import FillCharges, OrderCharges, OrderSpec, SegmentRates
from kitetui.trading.exits import Level
from kitetui.trading.fill_charges import ChargedFill
from kitetui.trading.risk import ExposureView
from kitetui.views import (
    AlertView,
    BlockedView,
    DayView,
    DeskSnapshot,
    EngineView,
    EventView,
    FeedView,
    LimitSetting,
    LimitView,
    OrderView,
    PerformanceRow,
    PerformanceView,
    PositionView,
    RiskView,
    SignalView,
)

DRAFTED = (
    Signal,
    OrderIntent,
    Order,
    Fill,
    Position,
    RiskDecision,
    Event,
    Charges,
    FillCost,
    SegmentRates,
    OrderSpec,
    OrderCharges,
    FillCharges,
    ChargedFill,
    FillRecord,
    Trade,
    Level,
    ExposureView,
    SignalView,
    EventView,
    AlertView,
    # what the snapshot publisher builds (supervisor/snapshots.py, performance/book.py)
    OrderView,
    PositionView,
    DayView,
    EngineView,
    BlockedView,
    LimitView,
    LimitSetting,
    RiskView,
    FeedView,
    PerformanceRow,
    PerformanceView,
    DeskSnapshot,
    ChargeTotals,
    Drawdown,
    Figures,
)


def _dataclass_made(cls: type, *args: object, **kwargs: object) -> object:
    """What ``dataclass``'s own ``__init__`` (kept as ``__wrapped__``) makes of them."""
    made = object.__new__(cls)
    cls.__init__.__wrapped__(made, *args, **kwargs)  # type: ignore[misc]
    return made


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and all(
        getattr(a, f.name) is getattr(b, f.name) or getattr(a, f.name) == getattr(b, f.name)
        for f in fields(a)  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("cls", DRAFTED, ids=lambda c: c.__name__)
def test_every_drafted_record_keeps_dataclass_s_signature(cls: type) -> None:
    assert hasattr(cls.__init__, "__wrapped__"), f"{cls.__name__} has no draft"
    drafted = inspect.signature(cls.__init__, follow_wrapped=False)
    written = inspect.signature(cls.__init__.__wrapped__)
    assert list(drafted.parameters) == list(written.parameters)
    for name, parameter in drafted.parameters.items():
        other = written.parameters[name]
        assert parameter.kind is other.kind
        has_default = other.default is not inspect.Parameter.empty
        assert (parameter.default is not inspect.Parameter.empty) is has_default
        if has_default and not repr(other.default).startswith("<factory>"):
            assert parameter.default is other.default


ORDER_ARGS = dict(
    tag="t1",
    engine="eq",
    symbol="INFY",
    exchange=Exchange.NSE,
    side=Side.BUY,
    quantity=5,
    order_type=OrderType.SL,
    product=Product.MIS,
    purpose=OrderPurpose.STOP,
    status=OrderStatus.TRIGGER_PENDING,
    ts_ns=7,
    trigger_price=100.0,
    reason="why",
)


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (Order, (), ORDER_ARGS),
        (Order, tuple(ORDER_ARGS.values())[:11], {"price": 99.5}),
        (Fill, ("f1", "t1", "INFY", Side.SELL, 5, 99.5, 8), {}),
        (Fill, ("f1", "t1", "INFY", Side.SELL, 5, 99.5, 8, "eq", Product.CNC, None), {}),
        (Event, (), {"ts_ns": 1, "kind": "K", "message": "m"}),
        (Event, (1, "K", "m", "S", "E", "WARNING", {"a": 1}), {}),
        (RiskDecision, (RiskVerdict.ALLOW, 3, "fits"), {}),
        (Charges, (Decimal("1.5"),), {"gst": Decimal("0.27")}),
        (Charges, (), {}),
        (FillCost, (Charges(stt=Decimal(2)), 200), {}),
        (
            Signal,
            ("s1", 5, "eq", "ema", "INFY", 60, SignalKind.LONG, 10.0, "cross"),
            {"indicators": {"fast": 1.0}},
        ),
        (OrderView, ("t1", 7, "eq", "INFY", "BUY", 5, "SL", "STOP", "OPEN"), {"price": 99.5}),
        (PositionView, ("INFY", "eq", "MIS", 5, 100.0, 101.0, 2.5, 5.0), {"today": False}),
        (PerformanceRow, ("run", "all"), {"avg_win": 1.5, "profit_factor": None}),
        (ChargeTotals, (), {"stt": Decimal("0.25"), "total": Decimal("0.25")}),
        (Drawdown, (Decimal(3), 0.5, 1, 2, 3), {"recovered_ts_ns": None}),
        (DeskSnapshot, (1, "replay", "r1", 5, "RUNNING", "max"), {}),
        (DeskSnapshot, (1, "replay", "r1", 5, "RUNNING", "max"), {"feed": FeedView("STALE")}),
    ],
)
def test_a_drafted_init_makes_what_dataclass_s_makes(cls: type, args: tuple, kwargs: dict) -> None:
    drafted, written = cls(*args, **kwargs), _dataclass_made(cls, *args, **kwargs)
    assert _same(drafted, written)
    assert drafted == written
    if cls not in (Event, Signal):  # (a dict field: neither hashes)
        assert hash(drafted) == hash(written)
    assert repr(drafted) == repr(written)
    assert type(drafted) is cls and not hasattr(drafted, "__dict__")
    first = fields(cls)[0].name
    with pytest.raises(FrozenInstanceError):
        setattr(drafted, first, 0)


def test_a_default_factory_gives_each_record_a_fresh_object() -> None:
    one, two = Event(ts_ns=1, kind="K", message="m"), Event(ts_ns=1, kind="K", message="m")
    assert one.data == {} and one.data is not two.data
    given = {"x": 1}
    assert Event(ts_ns=1, kind="K", message="m", data=given).data is given


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {"ts_ns": 1, "kind": "K"}),  # a required argument missing
        ((), {"ts_ns": 1, "kind": "K", "message": "m", "colour": "red"}),  # unknown
        ((1, "K", "m"), {"ts_ns": 2}),  # given twice
        ((1, "K", "m", "S", "E", "INFO", {}, "extra"), {}),  # too many
    ],
)
def test_wrong_arguments_raise_type_error_like_dataclass_s(args: tuple, kwargs: dict) -> None:
    with pytest.raises(TypeError):
        _dataclass_made(Event, *args, **kwargs)
    with pytest.raises(TypeError):
        Event(*args, **kwargs)


def test_a_subclass_is_still_built_by_dataclass_s_init() -> None:
    """A subclass without slots has another layout: no draft for it, the same record."""

    class Noted(Event):
        pass

    noted = Noted(ts_ns=1, kind="K", message="m")
    assert type(noted) is Noted and noted.message == "m" and noted.data == {}
    with pytest.raises(FrozenInstanceError):
        noted.message = "changed"  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class _Checked:
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


@dataclass(frozen=True, slots=True)
class _KeywordOnly:
    a: int
    b: int = field(default=0, kw_only=True)


@dataclass(frozen=True, slots=True)
class _Base:
    a: int


@dataclass(frozen=True, slots=True)
class _Child(_Base):
    b: int = 0


@pytest.mark.parametrize("cls", [_Checked, _KeywordOnly, _Child])
def test_a_class_that_does_not_fit_keeps_dataclass_s_init(cls: type) -> None:
    written = cls.__init__
    assert built_in_draft(cls) is cls and cls.__init__ is written


def test_a_class_that_does_not_fit_still_checks_itself() -> None:
    with pytest.raises(ValueError, match="low above high"):
        built_in_draft(_Checked)(3, 1)
    assert built_in_draft(_KeywordOnly)(1, b=2) == _KeywordOnly(1, b=2)


def test_build_rows_makes_each_row_s_record_as_its_init_does() -> None:
    """A loader's bars built in the draft (``build_rows``) are ``Bar(*row)``: equal,
    frozen, of the class itself; an endless ``repeat`` column ends with the others."""
    ts = [1_672_631_100_000_000_000 + k * 60_000_000_000 for k in range(5)]
    prices = [[100.0 + k + d for k in range(5)] for d in (0.0, 1.5, -1.25, 0.5)]
    columns = [repeat("SBIN"), ts, repeat(60), *prices, [7, 0, 3, 2, 1], repeat(0)]
    built = build_rows(Bar, columns)
    rows = zip(repeat("SBIN"), ts, repeat(60), *prices, [7, 0, 3, 2, 1], repeat(0), strict=False)
    assert built == [Bar(*row) for row in rows]
    assert built is not None and all(type(bar) is Bar for bar in built)
    assert [bar.close for bar in built] == prices[3] and built[2].volume == 3
    with pytest.raises(FrozenInstanceError):
        built[0].close = 1.0  # type: ignore[misc]
    assert build_rows(Bar, [repeat("SBIN"), [], repeat(60)]) == []


def test_build_rows_leaves_a_class_without_a_draft_to_its_init() -> None:
    """A class with checks to run (``__post_init__``) has no draft: None, the caller
    builds it through its ``__init__``."""
    assert build_rows(_Checked, [[1], [2]]) is None


# -- maker: a record built with every field, in one draft pass ---------------------------


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (
            Charges,
            tuple(Decimal(f"{n}.{n}") for n in range(1, 9)),
        ),
        (FillCost, (Charges(stt=Decimal("2.5")), 250)),
        (
            Fill,
            ("f1", "t1", "INFY", Side.SELL, 7, 99.5, 11, "eq", Product.NRML, None),
        ),
    ],
)
def test_a_maker_makes_what_the_class_makes(cls: type, values: tuple) -> None:
    made, built = maker(cls)(*values), cls(*values)
    assert type(made) is cls and made == built and hash(made) == hash(built)
    assert [getattr(made, f.name) for f in fields(cls)] == list(values)  # each in its field
    assert not hasattr(made, "__dict__")
    with pytest.raises(FrozenInstanceError):
        setattr(made, fields(cls)[0].name, values[1])


def test_a_maker_takes_every_field_and_nothing_else() -> None:
    make = maker(FillCost)
    with pytest.raises(TypeError):
        make(Charges())  # no defaults: every field is given
    with pytest.raises(TypeError):
        make(Charges(), 1, 2)


def test_a_maker_of_a_class_without_a_draft_is_the_class() -> None:
    assert maker(_Checked) is _Checked
