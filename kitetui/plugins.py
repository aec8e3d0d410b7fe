"""Engines and strategies, found by name.

The core (everything in ``kitetui``) never imports ``engines`` or ``strategies``: they
are plugins that build on it, and an import-linter contract keeps the layering honest.
The core reaches them only through these lookups, by the names the config gives.
"""

from __future__ import annotations

import importlib
from typing import Any


def engine_class(kind: str) -> type[Any]:
    """The engine class for a config's ``kind`` (``fno``, ``options``, ``equity``)."""
    return importlib.import_module("engines").ENGINE_KINDS[kind]


def strategy_class(name: str) -> type[Any]:
    """The registered strategy called ``name``; ``KeyError`` lists the known ones."""
    return importlib.import_module("strategies.registry").get_strategy(name)


def strategy_catalog() -> tuple[Any, ...]:
    """Every registered strategy with its parameters (``kitetui strategies``)."""
    return importlib.import_module("strategies.catalog").catalog()
