"""``--grid NAME=START:STOP:STEP`` and ``--grid NAME=a,b,c``: the axes of a sweep, and
the points they span.

A name is spelt as the backtest's ``--param`` spells it (``fast``, or ``fno.fast`` for
one engine), so a point is exactly a list of ``--param`` overrides and runs through the
same ``apply_overrides``. A range includes STOP when the steps land on it; it is
counted in exact decimals, so ``0.1:0.5:0.1`` is five values, not four and a rounding
error. Values stay text here: each is converted and checked against its strategy's
``Params`` by ``check_axes`` before anything runs (its type and its own bounds, e.g.
``fast`` at least 1), so a typo is one line and exit 2, not a sweep of failed points.
A rule between params (``fast`` below ``slow``) is checked per point: a point that
breaks it is reported failed and the others run, but a grid none of whose points
passes (``check_points``) is one line and exit 2 as well.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, DecimalException

from pydantic import ValidationError

from kitetui.backtest.runner import ParamOverride, _convert, apply_overrides, parse_param
from kitetui.config import AppConfig, ConfigError, one_line
from kitetui.plugins import strategy_class

MAX_POINTS = 10_000  # a grid beyond this is a mistake, not a plan


@dataclass(frozen=True, slots=True)
class GridAxis:
    """One ``--grid`` flag: a param name (``[ENGINE.]NAME``) and its values, as typed."""

    text: str
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GridPoint:
    """One combination: ``(name, value)`` per axis, in the order the axes were given."""

    index: int
    params: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        return one_line(" ".join(f"{name}={value}" for name, value in self.params))

    def overrides(self) -> list[ParamOverride]:
        return [parse_param(f"{name}={value}") for name, value in self.params]


def _grid_error(text: str, reason: str) -> ConfigError:
    return ConfigError(f"--grid {text}", "", reason)


def parse_axis(text: str) -> GridAxis:
    """``NAME=START:STOP:STEP`` (a range, STOP included) or ``NAME=a,b,c`` (a list)."""
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        raise _grid_error(text, "expected NAME=START:STOP:STEP or NAME=a,b,c")
    if ":" in spec:
        values = _range(text, spec)
    else:
        values = tuple(v.strip() for v in spec.split(","))
        if any(not v for v in values):
            raise _grid_error(text, "an empty value in the list")
        if len(values) > MAX_POINTS:
            too_many = f"{len(values):,} values (at most {MAX_POINTS:,} points a sweep)"
            raise _grid_error(text, too_many)
    if len(set(values)) != len(values):
        raise _grid_error(text, "a value is repeated")
    return GridAxis(text, name, values)


def _range(text: str, spec: str) -> tuple[str, ...]:
    parts = spec.split(":")
    if len(parts) != 3:
        raise _grid_error(text, "a range is START:STOP:STEP")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except DecimalException:
        raise _grid_error(text, f"a range needs numbers, got {spec!r}") from None
    if not all(v.is_finite() for v in (start, stop, step)):
        raise _grid_error(text, "a range needs finite numbers")
    if step <= 0:
        raise _grid_error(text, f"STEP must be positive, got {parts[2].strip()}")
    if stop < start:
        raise _grid_error(text, f"STOP ({parts[1].strip()}) is below START ({parts[0].strip()})")
    try:  # 1e999999999 parses, but arithmetic on it overflows the decimal context
        count = int((stop - start) / step) + 1
        if count > MAX_POINTS:
            raise _grid_error(text, f"{count:,} values (at most {MAX_POINTS:,} points a sweep)")
        return tuple(_plain(start + step * i) for i in range(count))
    except DecimalException:
        raise _grid_error(text, "a range's numbers are too large or too small") from None


def _plain(value: Decimal) -> str:
    """A decimal as typed: 5, 0.25, never 5.00 or 2.5E+1."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def expand(axes: list[GridAxis]) -> list[GridPoint]:
    """Every combination of the axes' values (the first axis varies slowest)."""
    if not axes:
        raise ConfigError("--grid", "", "give at least one --grid NAME=VALUES")
    names = [axis.name for axis in axes]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"--grid {repeated[0]}", "", "the same name in two --grid flags")
    total = 1
    for axis in axes:
        total *= len(axis.values)
    if total > MAX_POINTS:
        raise ConfigError("--grid", "", f"{total:,} points (at most {MAX_POINTS:,} a sweep)")
    combos = itertools.product(*(axis.values for axis in axes))
    return [GridPoint(i, tuple(zip(names, combo, strict=True))) for i, combo in enumerate(combos)]


def check_axes(config: AppConfig, axes: list[GridAxis]) -> None:
    """Each axis names a param some engine's strategy has, and each of its values is
    one that param takes on its own (its type and bounds): a ``ConfigError`` naming
    the ``--grid`` flag and the value otherwise. (Whether a combination satisfies the
    strategy's rules between params, e.g. fast < slow, is the point's business.)"""
    scopes = [parse_param(f"{axis.name}=0") for axis in axes]
    for axis, scope in zip(axes, scopes, strict=True):
        engines = [e for e in config.engines if scope.engine in (None, e.name)]
        if scope.engine is not None and not engines:
            known = ", ".join(e.name for e in config.engines)
            raise _grid_error(axis.text, f"no engine {scope.engine!r} (engines: {known})")
        owners = [
            (engine, model)
            for engine in engines
            if scope.name in (model := strategy_class(engine.strategy).Params).model_fields
        ]
        if not owners:
            raise _grid_error(axis.text, f"no engine's strategy has a param {scope.name!r}")
        if scope.engine is None:  # ENGINE.NAME wins over NAME on its engine
            own = {s.engine for s in scopes if s.engine is not None and s.name == scope.name}
            owners = [(engine, model) for engine, model in owners if engine.name not in own]
            if not owners:
                shadows = ", ".join(f"{e}.{scope.name}" for e in sorted(own))
                raise _grid_error(
                    axis.text, f"sweeps nothing: {shadows} wins over it on every engine with it"
                )
        seen: list[dict[object, str]] = [{} for _ in owners]  # typed value -> as written
        for value in axis.values:
            for (engine, model), typed_seen in zip(owners, seen, strict=True):
                try:
                    typed = _convert(model.model_fields[scope.name].annotation, value)
                except ValueError as exc:
                    raise _grid_error(axis.text, str(exc)) from None
                earlier = typed_seen.setdefault(typed, value)
                if earlier != value:  # 1.5 and 1.50: the same backtest twice
                    raise _grid_error(axis.text, f"{earlier} and {value} are the same value")
                refused = _refused_alone(model, {**engine.params, scope.name: typed}, scope.name)
                if refused:
                    raise _grid_error(axis.text, f"{scope.name}={value}: {refused}")


def _refused_alone(model: type, params: dict, name: str) -> str:
    """Why ``model`` refuses ``params[name]`` whatever the other params are (its own
    bounds), or "" (a rule between params is not this check's)."""
    try:
        model.model_validate(params)
    except ValidationError as exc:
        for error in exc.errors():
            if tuple(error["loc"]) == (name,):
                return str(error["msg"]).removeprefix("Value error, ")
    return ""


def check_points(config: AppConfig, points: Sequence[GridPoint]) -> None:
    """At least one point is a config the strategies accept: a grid every point of
    which breaks a rule between params (``fast=30 slow=20``) is one line and exit 2,
    not a sweep of failed points. The search stops at the first good point."""
    first: tuple[GridPoint, ConfigError] | None = None
    for point in points:
        try:
            apply_overrides(config, None, point.overrides())
        except ConfigError as exc:
            first = first or (point, exc)
            continue
        return
    if first is not None:
        point, exc = first
        where = f"{exc.key_path}: " if exc.key_path else ""
        raise ConfigError(
            "--grid", "", f"every point is refused, e.g. {point.label}: {where}{exc.reason}"
        )
