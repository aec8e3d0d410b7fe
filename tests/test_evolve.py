"""``evolve`` is ``dataclasses.replace``: the same record, field for field, or the same
error; classes it cannot copy through their slots go through ``replace`` itself."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

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
    from dataclasses import FrozenInstanceError

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
