"""Changing a risk limit at run time: ``NAME=VALUE`` parsed and checked in one place.

A trader raises or lowers a limit from the TUI's Risk tab or ``kitetui ctl set-limit
max_daily_loss=5000``; both send ``SetRiskLimit("max_daily_loss=5000")`` and the desk
calls ``parse_assignment`` here. The bounds are the config's own (``RiskConfig``'s
field constraints), read from the model rather than restated, so a value the config
file would refuse is refused at run time too, with one line naming the limit and its
bounds. Money limits are rupees with at most two decimals (paise); counts are whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, localcontext

from annotated_types import Ge, Gt, Le, Lt

from kitetui.config import RiskConfig
from kitetui.typed_numbers import typed_number

#: Every limit a person may change, in the config's order.
LIMIT_NAMES: tuple[str, ...] = tuple(RiskConfig.model_fields)


class LimitRefused(ValueError):
    """A change that cannot be made; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class LimitBounds:
    """What the config allows for one limit: ``low < value <= high`` (or ``>=``)."""

    name: str
    integer: bool
    low: Decimal
    low_inclusive: bool
    high: Decimal

    def describe(self) -> str:
        """``1 to 1,000`` for a count, ``above 0, at most 100,000,000,000`` for money."""
        low, high = _shown(self.low), _shown(self.high)
        if self.integer or self.low_inclusive:
            return f"{low} to {high}"
        return f"above {low}, at most {high}"

    def check(self, value: Decimal) -> None:
        too_low = value < self.low if self.low_inclusive else value <= self.low
        if too_low or value > self.high:
            raise LimitRefused(
                f"{self.name}: {_shown(value)} is outside its bounds ({self.describe()})"
            )


def _bounds(name: str) -> LimitBounds:
    field = RiskConfig.model_fields[name]
    low, inclusive, high = Decimal(0), False, Decimal("Infinity")
    for rule in field.metadata:
        if isinstance(rule, Gt):
            low, inclusive = Decimal(str(rule.gt)), False
        elif isinstance(rule, Ge):
            low, inclusive = Decimal(str(rule.ge)), True
        elif isinstance(rule, Le):
            high = Decimal(str(rule.le))
        elif isinstance(rule, Lt):  # pragma: no cover - the config uses le
            high = Decimal(str(rule.lt))
    return LimitBounds(name, field.annotation is int, low, inclusive, high)


#: The bounds of each limit, from the config model.
BOUNDS: dict[str, LimitBounds] = {name: _bounds(name) for name in LIMIT_NAMES}


@dataclass(frozen=True, slots=True)
class LimitChange:
    """A checked change: the limit and its new value (an int for a count)."""

    name: str
    value: int | float

    @property
    def assignment(self) -> str:
        """As it goes over the control socket: ``max_daily_loss=5000``."""
        if isinstance(self.value, float):
            return f"{self.name}={self.value:.2f}".rstrip("0").rstrip(".")
        return f"{self.name}={self.value}"


#: Beyond this many places either side of the point no limit's bound or paise lies: such
#: a number is shown as ``1E+28``, not spelt out (``1e999999`` would be a million digits).
_PLAIN_PLACES = 15


def _shown(value: Decimal) -> str:
    """``5,000`` or ``12.345``: grouped, with no trailing zeros; ``1E+28`` or ``1E-18``
    for a number far outside every limit."""
    if abs(value.adjusted()) > _PLAIN_PLACES:
        with localcontext(rounding=ROUND_DOWN):  # 999…9 is not 1E+31
            mantissa, exponent = f"{value:.6E}".split("E")
        return f"{mantissa.rstrip('0').rstrip('.')}E{exponent}"
    if value == value.to_integral_value():
        return f"{int(value):,}"
    exact = Context(prec=max(len(value.as_tuple().digits), 1))  # 28 digits would round
    return f"{value.normalize(exact):,f}"


def check_value(name: str, text: str) -> LimitChange:
    """``text`` as the new value of limit ``name``, or ``LimitRefused`` saying why.

    Accepts ``5000``, ``5,000``, ``5_000`` and ``5000.50``; refuses a fraction for a
    count, more than two decimals for money, and anything outside the config's bounds.
    """
    if name not in BOUNDS:
        raise LimitRefused(f"no risk limit {name[:40]!r}; limits: {', '.join(LIMIT_NAMES)}")
    bounds = BOUNDS[name]
    value = _number(name, text)
    # Bounds first: a number far past them (1e28) is refused for that, and any number
    # within them has few enough digits for the checks below (quantize needs them).
    bounds.check(value)
    if bounds.integer and value != value.to_integral_value():
        raise LimitRefused(f"{name}: must be a whole number, not {_shown(value)}")
    if not bounds.integer and value != value.quantize(Decimal("0.01")):
        raise LimitRefused(f"{name}: at most two decimals (paise), not {_shown(value)}")
    return LimitChange(name, int(value) if bounds.integer else float(value))


def _number(name: str, text: str) -> Decimal:
    """``text`` as a finite number, or ``LimitRefused`` (``kitetui.typed_numbers``: digits
    are ASCII, a comma only groups thousands; ``25000,00`` is not 2,500,000)."""
    shown = repr(text.strip()[:40])
    value = typed_number(text)
    if value is not None:
        return value
    if not text.strip().removeprefix("₹").isascii():
        raise LimitRefused(f"{name}: {shown} is not a number (write its digits as 0-9)")
    raise LimitRefused(f"{name}: {shown} is not a number")


def parse_assignment(text: str) -> LimitChange:
    """``"max_daily_loss=5000"`` → ``LimitChange("max_daily_loss", 5000.0)``, or
    ``LimitRefused`` with one line naming the limit (and its bounds, when out of them)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise LimitRefused(
            f"a limit change is NAME=VALUE, e.g. max_daily_loss=5000, not {text.strip()[:40]!r}"
        )
    return check_value(name, value)
