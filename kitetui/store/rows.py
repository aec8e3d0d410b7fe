"""Decoding journaled rows into domain values, strictly: a bad row is a ``RowError``.

Recovery rebuilds money from these rows, so nothing is coerced or defaulted: a status
that is not an ``OrderStatus``, a quantity stored as text, risk state that is not the
JSON ``RiskEngine.to_state`` wrote, each names its field and value. The store turns a
``RowError`` into a one-line refusal naming the table and row (exit 3), never a
traceback after the file was already changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation, localcontext
from enum import Enum
from typing import Any, TypeVar

from kitetui.domain import (
    EngineState,
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Validity,
    Variety,
)
from kitetui.money import EXACT, Charges, FillCost
from kitetui.risk_state import RiskState
from kitetui.store.errors import RowError, show

E = TypeVar("E", bound=Enum)

ORDER_COLUMNS = (
    "tag",
    "engine",
    "symbol",
    "exchange",
    "side",
    "quantity",
    "order_type",
    "product",
    "purpose",
    "status",
    "ts_ns",
    "price",
    "trigger_price",
    "stop_price",
    "filled_qty",
    "avg_price",
    "broker_order_id",
    "signal_id",
    "reason",
    "validity",
    "variety",
)
FILL_BASE_COLUMNS = (
    "fill_id",
    "tag",
    "symbol",
    "side",
    "quantity",
    "price",
    "ts_ns",
    "engine",
    "product",
    "clock_ns",
)
# Schema 4: the fill's charges (schema.py). Exact rupees as decimal text, in this order,
# then the fill's share of its order's rounded total in paise.
# Schema 8: charge_dp, the DP charge (GST in it) a CNC fill books or hands back
# (kitetui.trading.same_day), last of the components: NULL on a fill journaled before
# (read as none: kitetui did not charge it then).
CHARGE_COMPONENTS = ("brokerage", "stt", "exchange", "ipft", "sebi", "stamp", "gst", "dp")
FILL_CHARGE_COLUMNS = (*(f"charge_{name}" for name in CHARGE_COMPONENTS), "charges_paise")
FILL_COLUMNS = FILL_BASE_COLUMNS + FILL_CHARGE_COLUMNS
ORDER_EVENT_COLUMNS = ("id", "tag", "ts_ns", "status", "reason")
RUN_COLUMNS = (
    "run_id",
    "mode",
    "config_path",
    "config_hash",
    "status",
    "started_wall_ns",
    "ended_wall_ns",
    "cursor_ns",
    "restarts",
)
RUN_STATUSES = frozenset({"RUNNING", "FINISHED", "STOPPED", "FAILED"})


def text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RowError(f"{name} {show(value)} is not text")
    return value


def integer(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RowError(f"{name} {show(value)} is not an integer")
    return value


def real(value: Any, name: str) -> float:
    if not isinstance(value, float | int) or isinstance(value, bool):
        raise RowError(f"{name} {show(value)} is not a number")
    return float(value)


def member(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(m.value) for m in kind)
        raise RowError(f"{name} {show(value)} is not one of {known}") from None


def decode_order(r: Sequence[Any]) -> Order:
    """A row of ``ORDER_COLUMNS``."""
    return Order(
        tag=text(r[0], "tag"),
        engine=text(r[1], "engine"),
        symbol=text(r[2], "symbol"),
        exchange=member(Exchange, r[3], "exchange"),
        side=member(Side, r[4], "side"),
        quantity=integer(r[5], "quantity"),
        order_type=member(OrderType, r[6], "order_type"),
        product=member(Product, r[7], "product"),
        purpose=member(OrderPurpose, r[8], "purpose"),
        status=member(OrderStatus, r[9], "status"),
        ts_ns=integer(r[10], "ts_ns"),
        price=real(r[11], "price"),
        trigger_price=real(r[12], "trigger_price"),
        stop_price=real(r[13], "stop_price"),
        filled_qty=integer(r[14], "filled_qty"),
        avg_price=real(r[15], "avg_price"),
        broker_order_id=text(r[16], "broker_order_id"),
        signal_id=text(r[17], "signal_id"),
        reason=text(r[18], "reason"),
        validity=member(Validity, r[19], "validity"),
        variety=member(Variety, r[20], "variety"),
    )


def decode_fill(r: Sequence[Any]) -> tuple[int, Fill]:
    """A row of ``FILL_COLUMNS`` (or of ``FILL_BASE_COLUMNS``, from a database older than
    schema 4): the data clock it was processed at, and the fill with its charges."""
    base = len(FILL_BASE_COLUMNS)
    product = member(Product, r[8], "product")
    signed = product is Product.CNC
    # A CNC fill may carry the re-pricing of as many orders as it has units (same_day).
    carried = integer(r[4], "quantity") if signed else 0
    charges = decode_fill_charges(r[base:], signed, carried) if len(r) > base else None
    fill = Fill(
        fill_id=text(r[0], "fill_id"),
        tag=text(r[1], "tag"),
        symbol=text(r[2], "symbol"),
        side=member(Side, r[3], "side"),
        quantity=integer(r[4], "quantity"),
        price=real(r[5], "price"),
        ts_ns=integer(r[6], "ts_ns"),
        engine=text(r[7], "engine"),
        product=product,
        charges=charges,
    )
    return integer(r[9], "clock_ns"), fill


def decode_fill_charges(
    r: Sequence[Any], signed: bool = False, carried: int = 0
) -> FillCost | None:
    """The charge columns of a fill row (``FILL_CHARGE_COLUMNS``, in order): its
    ``FillCost``, or None when they were never recorded (all NULL: a fill journaled
    before schema 4). Some NULL and some not, an amount that is not an exact
    non-negative decimal, or a paise share that does not match the components by less
    than a paisa each way, is damage: a ``RowError``.

    ``signed``: a CNC fill's amounts may be negative: a fill that squares off the day's
    earlier CNC fills carries their move from delivery to intraday rates, which hands
    back their delivery STT and stamp duty (``kitetui.trading.same_day``). Every other
    fill's must not be (a DP charge is booked on CNC fills only).

    ``carried``: how many other orders' re-pricing the fill may carry (a CNC fill: its
    quantity, since each order it squares off gives at least one of its units). Its
    paise share is its own order's rounded total after minus before (within a paisa of
    the exact share) plus each such order's rounded total after minus before (within a
    paisa each), so it may be off the exact components by up to ``1 + carried`` paise:
    a same-day CNC close of one order may be off by up to 2 (a CNC backtest's close off
    by 1.17 paise made kitetui refuse its own database when the bound was 1 for all).

    ``charge_dp`` NULL with the rest recorded is a fill journaled before schema 8, when
    kitetui did not book the DP charge: none."""
    if len(r) != len(FILL_CHARGE_COLUMNS):
        raise RowError(f"charges: {len(r)} columns, not {len(FILL_CHARGE_COLUMNS)}")
    if all(value is None for value in r):
        return None
    dp_at = CHARGE_COMPONENTS.index("dp")
    if r[dp_at] is None:  # journaled before schema 8: no DP charge was booked
        r = [*r[:dp_at], "0", *r[dp_at + 1 :]]
    amounts = [
        _amount(v, name, signed) for v, name in zip(r[:-1], FILL_CHARGE_COLUMNS, strict=False)
    ]
    paise = integer(r[-1], "charges_paise")
    exchange, ipft = amounts[2], amounts[3]
    if ipft > exchange:
        raise RowError(f"charge_ipft {show(r[3])} is more than charge_exchange {show(r[2])}")
    with localcontext(EXACT):
        charges = Charges(
            brokerage=amounts[0],
            stt=amounts[1],
            exchange=exchange - ipft,
            ipft=ipft,
            sebi=amounts[4],
            stamp=amounts[5],
            gst=amounts[6],
            dp=amounts[7],
        )
        exact_paise = charges.total * 100
    if abs(exact_paise - paise) > 1 + carried:
        raise RowError(
            f"charges_paise {paise} does not match its components (₹{charges.total} in all)"
        )
    return FillCost(charges, paise)


def fill_charges_from_row(row: Mapping[str, Any]) -> FillCost | None:
    """A fill's charges by component from a journal row read with column names (a
    ``sqlite3.Row`` or a dict of ``fills`` columns): for readers outside the desk (the
    backtest report). None for a fill journaled before charges were recorded. A CNC
    fill's amounts may be signed (``decode_fill_charges``) when the row has its product."""
    # (keys(): ``in`` on a sqlite3.Row looks at its values)
    signed = "product" in row.keys() and row["product"] == Product.CNC.value  # noqa: SIM118
    quantity = row["quantity"] if "quantity" in row.keys() else 0  # noqa: SIM118
    carried = quantity if signed and isinstance(quantity, int) else 0
    return decode_fill_charges([row[name] for name in FILL_CHARGE_COLUMNS], signed, carried)


def _amount(value: Any, name: str, signed: bool = False) -> Decimal:
    """An exact, finite rupee amount written as decimal text: non-negative unless
    ``signed``."""
    if not isinstance(value, str):
        raise RowError(f"{name} {show(value)} is not decimal text")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RowError(f"{name} {show(value)} is not a decimal amount") from None
    if not amount.is_finite() or value != format(amount, "f"):
        raise RowError(f"{name} {show(value)} is not a {_KIND[signed]} decimal amount")
    if amount.is_signed() and not (signed and amount):
        raise RowError(f"{name} {show(value)} is not a {_KIND[signed]} decimal amount")
    return amount


_KIND = {False: "non-negative", True: "signed"}


def decode_order_event(r: Sequence[Any]) -> None:
    """A row of ``ORDER_EVENT_COLUMNS`` (checked only: readers show it as stored)."""
    integer(r[0], "id")
    text(r[1], "tag")
    integer(r[2], "ts_ns")
    member(OrderStatus, r[3], "status")
    if r[4] is not None:  # NULL: the order's previous event's reason (schema 7)
        text(r[4], "reason")


def decode_run(r: Sequence[Any]) -> None:
    """A row of ``RUN_COLUMNS``: what resuming a run reads."""
    text(r[0], "run_id")
    text(r[1], "mode")
    text(r[2], "config_path")
    text(r[3], "config_hash")
    status = text(r[4], "status")
    if status not in RUN_STATUSES:
        raise RowError(f"status {show(status)} is not one of {', '.join(sorted(RUN_STATUSES))}")
    integer(r[5], "started_wall_ns")
    if r[6] is not None:
        integer(r[6], "ended_wall_ns")
    integer(r[7], "cursor_ns")
    integer(r[8], "restarts")


def json_value(value: Any, name: str) -> Any:
    try:
        return json.loads(text(value, name))
    except json.JSONDecodeError as exc:
        raise RowError(f"{name} is not JSON ({exc.msg} at character {exc.pos})") from None


def decode_risk_state(value: Any) -> dict[str, Any]:
    """The ``state`` column: JSON that ``RiskEngine.from_state`` accepts.

    Checked with the risk engine's own strict reader (``RiskState.parse``), so a state
    the supervisor would choke on is refused here instead.
    """
    state = json_value(value, "state")
    if not isinstance(state, dict):
        raise RowError(f"state is {type(state).__name__} JSON, not an object")
    try:
        RiskState.parse(state)
    except (ValueError, TypeError, AttributeError) as exc:
        raise RowError(f"state is not a risk state: {exc}") from None
    return state


#: ``desk_state`` key of the engines a person started, stopped or paused, by run.
ENGINE_STATES_KEY = "engine_states"
#: What it keeps of an engine (an ERROR is the run's own, and a restart may clear it).
KEPT_ENGINE_STATES = frozenset({EngineState.RUNNING, EngineState.PAUSED, EngineState.STOPPED})


def decode_desk_state(key: Any, value: Any) -> Any:
    """A ``desk_state`` value; the kill switch must be ``{"on": bool, "reason": str}``,
    the engine states ``{"run_id": str, "states": {name: RUNNING|PAUSED|STOPPED}}``."""
    decoded = json_value(value, "value")
    name = text(key, "key")
    if name == "kill_switch" and (
        not isinstance(decoded, dict)
        or not isinstance(decoded.get("on"), bool)
        or not isinstance(decoded.get("reason", ""), str)
    ):
        raise RowError(f"kill_switch value {show(value)} is not {{on: bool, reason: text}}")
    if name == ENGINE_STATES_KEY and not _engine_states(decoded):
        raise RowError(
            f"{ENGINE_STATES_KEY} value {show(value)} is not "
            "{run_id: text, states: {engine: RUNNING|PAUSED|STOPPED}}"
        )
    return decoded


def _engine_states(value: Any) -> bool:
    kept = {state.value for state in KEPT_ENGINE_STATES}
    return (
        isinstance(value, dict)
        and isinstance(value.get("run_id"), str)
        and isinstance(value.get("states"), dict)
        and all(isinstance(k, str) and v in kept for k, v in value["states"].items())
    )
