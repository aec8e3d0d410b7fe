"""``evolve`` is ``dataclasses.replace``: the same record, field for field, or the same
error; classes it cannot copy through their slots go through ``replace`` itself."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, fields, replace
from decimal import Decimal

import pytest

from kitetui.domain import (
    Exchange,
    Fill,
    Order,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    evolve,
)
from kitetui.drafts import copier
from kitetui.money import Charges, FillCost

ORDER = Order(
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
    price=99.5,
    trigger_price=100.0,
)
FILL = Fill(fill_id="f1", tag="t1", symbol="INFY", side=Side.BUY, quantity=5, price=99.5, ts_ns=8)
INTENT = OrderIntent(
    engine="eq",
    symbol="INFY",
    exchange=Exchange.NSE,
    side=Side.SELL,
    quantity=3,
    purpose=OrderPurpose.ENTRY,
)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and all(
        getattr(a, f.name) is getattr(b, f.name) or getattr(a, f.name) == getattr(b, f.name)
        for f in fields(a)  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("record", "changes"),
    [
        (ORDER, {}),
        (ORDER, {"status": OrderStatus.OPEN}),
        (ORDER, {"status": OrderStatus.COMPLETE, "filled_qty": 5, "avg_price": 99.45}),
        (ORDER, {"tag": "t2", "price": 0.0, "trigger_price": 0.0, "reason": "why"}),
        (FILL, {"engine": "eq", "product": Product.NRML}),
        (FILL, {"charges": None}),
        (INTENT, {"quantity": 1}),
    ],
)
def test_evolve_gives_what_replace_gives(record: object, changes: dict) -> None:
    evolved, replaced = evolve(record, **changes), replace(record, **changes)  # type: ignore[type-var]
    assert _same(evolved, replaced)
    assert evolved == replaced and hash(evolved) == hash(replaced)
    assert evolved is not record
    assert _same(record, {ORDER: ORDER, FILL: FILL, INTENT: INTENT}[record])  # untouched


def test_an_unknown_field_raises_type_error_like_replace() -> None:
    with pytest.raises(TypeError):
        replace(ORDER, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        evolve(ORDER, colour="red")
    with pytest.raises(TypeError, match="colour"):
        evolve(ORDER, status=OrderStatus.OPEN, colour="red")


@dataclass(frozen=True, slots=True)
class _Checked:
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


@dataclass(frozen=True)
class _NoSlots:
    a: int
    b: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Derived:
    a: int
    b: int = field(init=False, default=0)


def test_classes_it_cannot_copy_through_slots_go_through_replace() -> None:
    with pytest.raises(ValueError, match="low above high"):  # __post_init__ still runs
        evolve(_Checked(1, 2), low=3)
    assert evolve(_Checked(1, 2), high=5) == _Checked(1, 5)
    assert evolve(_NoSlots(1, [2]), a=3) == _NoSlots(3, [2])
    with pytest.raises(ValueError):  # an init=False field: replace's own error
        evolve(_Derived(1), b=2)
    assert evolve(_Derived(1), a=2) == _Derived(2)


@pytest.mark.parametrize("record", [ORDER, FILL, INTENT])
def test_the_copy_is_the_records_own_frozen_class(record: object) -> None:
    evolved = evolve(record)
    assert type(evolved) is type(record)
    assert isinstance(evolved, type(record))
    first = fields(record)[0].name  # type: ignore[arg-type]
    with pytest.raises(FrozenInstanceError):
        setattr(evolved, first, "changed")
    assert not hasattr(evolved, "__dict__")  # no other layout than the class's own slots


@dataclass(frozen=True, slots=True)
class _Base:
    a: int


@dataclass(frozen=True, slots=True)
class _Child(_Base):
    b: int = 0


def test_a_class_with_a_base_goes_through_replace() -> None:
    child = _Child(1, 2)
    evolved = evolve(child, b=3)
    assert type(evolved) is _Child and evolved == _Child(1, 3)
    assert evolve(child, a=5) == _Child(5, 2)


# -- copier: evolve compiled for one set of fields --------------------------------------

# Every field of each record unlike its default and unlike every other field's value, so
# a copier that drops a field, keeps the old value or stores one in another's slot differs.
FULL_ORDER = Order(
    tag="t9",
    engine="e9",
    symbol="SYM9",
    exchange=Exchange.NFO,
    side=Side.SELL,
    quantity=91,
    order_type=OrderType.SL_M,
    product=Product.NRML,
    purpose=OrderPurpose.EXIT,
    status=OrderStatus.OPEN,
    ts_ns=92,
    price=93.5,
    trigger_price=94.5,
    stop_price=95.5,
    filled_qty=96,
    avg_price=97.5,
    broker_order_id="b98",
    signal_id="s99",
    reason="r100",
)
FULL_FILL = Fill(
    fill_id="f9",
    tag="t9",
    symbol="SYM9",
    side=Side.SELL,
    quantity=91,
    price=92.5,
    ts_ns=93,
    engine="e9",
    product=Product.NRML,
    charges=FillCost(Charges(brokerage=Decimal("20")), 2000),
)
MERGED = (
    "status",
    "order_type",
    "quantity",
    "price",
    "trigger_price",
    "filled_qty",
    "avg_price",
    "broker_order_id",
    "reason",
)


def _other(value: object) -> object:
    """A value unlike ``value`` and unlike anything else in the records above."""
    if isinstance(value, OrderStatus):
        return OrderStatus.COMPLETE
    if isinstance(value, OrderType):
        return OrderType.LIMIT
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value + 1000
    if isinstance(value, FillCost):
        return None
    return f"{value}-changed"


@pytest.mark.parametrize(
    ("record", "names"),
    [
        (FULL_ORDER, MERGED),
        (FULL_ORDER, ("status",)),
        (FULL_ORDER, ("reason", "tag")),
        (FULL_FILL, ("charges",)),
        (FULL_FILL, ("engine", "price", "fill_id")),
    ],
)
def test_a_copier_gives_what_evolve_and_replace_give(record: object, names: tuple) -> None:
    copy = copier(type(record), *names)
    values = [_other(getattr(record, name)) for name in names]
    copied = copy(record, *values)
    replaced = replace(record, **dict(zip(names, values, strict=True)))  # type: ignore[type-var]
    assert _same(copied, replaced) and copied == replaced
    assert _same(copied, evolve(record, **dict(zip(names, values, strict=True))))
    assert copied is not record and type(copied) is type(record)
    assert not hasattr(copied, "__dict__")
    with pytest.raises(FrozenInstanceError):
        setattr(copied, names[0], values[0])
    # and the values it was given, each in its own field (none kept from the record)
    assert [getattr(copied, name) for name in names] == values
    assert _same(record, FULL_ORDER if record is FULL_ORDER else FULL_FILL)  # untouched


def test_a_copier_refuses_what_evolve_would_refuse() -> None:
    with pytest.raises(TypeError, match="colour"):
        copier(Order, "status", "colour")
    with pytest.raises(TypeError, match="twice"):
        copier(Order, "status", "status")
    with pytest.raises(TypeError):
        copier(Order)
    copy = copier(Order, "status", "reason")
    with pytest.raises(TypeError):
        copy(ORDER, OrderStatus.OPEN)  # one value short
    with pytest.raises(TypeError):
        copy(ORDER, OrderStatus.OPEN, "why", "more")


def test_a_copier_of_a_class_without_a_draft_goes_through_evolve() -> None:
    copy = copier(_Checked, "low")
    with pytest.raises(ValueError, match="low above high"):  # __post_init__ still runs
        copy(_Checked(1, 2), 3)
    assert copier(_Checked, "high")(_Checked(1, 2), 5) == _Checked(1, 5)
    assert copier(_NoSlots, "a")(_NoSlots(1, [2]), 3) == _NoSlots(3, [2])
