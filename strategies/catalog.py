"""What every registered strategy takes: params with defaults and bounds, read from the
strategies' own pydantic ``Params`` models, so ``kitetui strategies`` cannot drift from
what the config loader enforces.

Cross-field rules (``fast < slow``, ordered RSI levels) are validators, not bounds;
the per-field description says what they are where it matters.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import annotated_types

from strategies.base import Strategy
from strategies.registry import get_strategy, strategy_names

__all__ = ["ParamSpec", "StrategySpec", "catalog", "describe"]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: its type, default, bounds and what it means."""

    name: str
    kind: str  # "int", "float", "bool" or "choice"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[Any, ...] = ()
    description: str = ""

    def bounds(self) -> str:
        """``[1, 1000]``, ``(0, 10]``, ``15|30|60``; empty for a flag."""
        if self.choices:
            return "|".join(str(c) for c in self.choices)
        if self.minimum is None and self.maximum is None:
            return ""
        low = "(" if self.min_exclusive else "["
        high = ")" if self.max_exclusive else "]"
        return f"{low}{_number(self.minimum)}, {_number(self.maximum)}{high}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "min": self.minimum,
            "max": self.maximum,
            "min_exclusive": self.min_exclusive,
            "max_exclusive": self.max_exclusive,
            "choices": list(self.choices),
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class StrategySpec:
    name: str
    summary: str
    params: tuple[ParamSpec, ...]

    def line(self) -> str:
        """``name  param=default bounds  ...``: one line for ``kitetui strategies``."""
        parts = [f"{self.name:<20}"]
        for p in self.params:
            default = str(p.default).lower() if p.kind == "bool" else _number(p.default)
            bounds = p.bounds()
            parts.append(f"{p.name}={default}" + (f" {bounds}" if bounds else ""))
        return "  ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "params": [p.as_dict() for p in self.params],
        }


def _number(value: Any) -> str:
    """A default or bound as typed in YAML: floats keep their point (``2.0``)."""
    if value is None:
        return "none"
    return repr(value) if isinstance(value, float) else str(value)


def _param(name: str, field: Any) -> ParamSpec:
    annotation = field.annotation
    description = field.description or ""
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        return ParamSpec(name, "choice", field.default, choices=choices, description=description)
    if annotation is bool:
        return ParamSpec(name, "bool", field.default, description=description)
    if annotation not in (int, float):
        raise TypeError(f"param {name!r}: type {annotation!r} has no catalog form")
    minimum = maximum = None
    min_exclusive = max_exclusive = False
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge):
            minimum = bound.ge
        elif isinstance(bound, annotated_types.Gt):
            minimum, min_exclusive = bound.gt, True
        elif isinstance(bound, annotated_types.Le):
            maximum = bound.le
        elif isinstance(bound, annotated_types.Lt):
            maximum, max_exclusive = bound.lt, True
    return ParamSpec(
        name,
        annotation.__name__,
        field.default,
        minimum,
        maximum,
        min_exclusive,
        max_exclusive,
        description=description,
    )


def describe(cls: type[Strategy]) -> StrategySpec:
    module = sys.modules[cls.__module__]
    doc = inspect.getdoc(module) or inspect.getdoc(cls) or ""
    summary = doc.split("\n", 1)[0].replace("``", "")
    fields = cls.Params.model_fields
    return StrategySpec(cls.name, summary, tuple(_param(n, f) for n, f in fields.items()))


def catalog() -> tuple[StrategySpec, ...]:
    """Every registered strategy, by name."""
    return tuple(describe(get_strategy(name)) for name in strategy_names())
