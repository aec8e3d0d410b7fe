"""Strategies by name, so a config file can say ``strategy: ema_cross``.

A plain dict filled by the ``register`` class decorator when a strategy module is
imported; ``strategies/__init__.py`` imports every built-in module, so importing this
module (which imports the package first) sees them all.
"""

from __future__ import annotations

from typing import TypeVar

from strategies.base import Strategy

__all__ = ["get_strategy", "register", "strategy_names"]

_REGISTRY: dict[str, type[Strategy]] = {}
_S = TypeVar("_S", bound=type[Strategy])


def register(cls: _S) -> _S:
    """Class decorator: make ``cls`` available as ``get_strategy(cls.name)``."""
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise TypeError(f"{cls!r} is not a Strategy subclass")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} must set a non-empty class attribute 'name'")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"strategy name {name!r} is taken by {existing.__module__}.{existing.__qualname__}"
        )
    _REGISTRY[name] = cls
    return cls


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as ``name``; ``KeyError`` names the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(strategy_names()) or "none"
        raise KeyError(f"unknown strategy {name!r}; known strategies: {known}") from None


def strategy_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))
