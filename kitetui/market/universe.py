"""Which stocks a day's engines may trade: index membership, then data and price filters.

Membership comes from snapshots shipped in ``kitetui/data/universe/`` (sources and dates
in the README there): ``nifty50.csv`` and ``nifty100.csv`` are the current lists, and
``nifty50_history.csv`` holds NIFTY 50 membership per rebalance period back to
2022-03-31, so a replay of 2023 can pick the 2023 members. Nothing here guesses: a date
before the earliest period raises ``UniverseError``, naming the first date that is known.
Known periods always run up to today, so ``first_known_date`` alone says whether a
replay can use an index: ``kitetui.preflight`` refuses a config whose replay starts
before it (``check-config`` and the run's start, exit 2), instead of the equity engine
failing on the first session.

``select_universe`` is a pure function of its inputs, so the same day, members, data and
prices always give the same choice, and every rejected member says why.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

__all__ = [
    "KNOWN_INDICES",
    "SYMBOL_RENAMES",
    "UniverseChoice",
    "UniverseError",
    "current_symbol",
    "first_known_date",
    "load_index_members",
    "select_universe",
]

_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "universe"

# index name -> (current list file, date from which that list is in force)
_CURRENT: Mapping[str, tuple[str, date]] = {
    "NIFTY 50": ("nifty50.csv", date(2025, 9, 30)),
    "NIFTY 100": ("nifty100.csv", date(2026, 3, 30)),
}
_HISTORY: Mapping[str, str] = {"NIFTY 50": "nifty50_history.csv"}

KNOWN_INDICES: tuple[str, ...] = tuple(_CURRENT)

# Tradingsymbol changes seen in the snapshots (same ISIN before and after): old -> new.
SYMBOL_RENAMES: Mapping[str, str] = {
    "TATAMOTORS": "TMPV",  # INE155A01022; demerger, Oct 2025 (Kite data files keep the old name)
    "LTIM": "LTM",  # INE214T01019; LTIMindtree Ltd renamed LTM Ltd
}


class UniverseError(ValueError):
    """No sourced membership list for an index on a date (or an unknown index)."""


def current_symbol(symbol: str) -> str:
    """Follow ``SYMBOL_RENAMES`` to today's tradingsymbol (unchanged if never renamed)."""
    seen = {symbol}
    while symbol in SYMBOL_RENAMES:
        symbol = SYMBOL_RENAMES[symbol]
        if symbol in seen:  # pragma: no cover - guards a bad edit of the table
            raise ValueError(f"rename cycle at {symbol}")
        seen.add(symbol)
    return symbol


@cache
def _current_members(filename: str) -> tuple[str, ...]:
    with (_DATA_DIR / filename).open(newline="", encoding="utf-8") as fh:
        return tuple(sorted(row["symbol"].strip() for row in csv.DictReader(fh)))


@cache
def _history(filename: str) -> tuple[tuple[date, tuple[str, ...]], ...]:
    periods: dict[date, list[str]] = {}
    with (_DATA_DIR / filename).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            periods.setdefault(date.fromisoformat(row["effective_from"]), []).append(
                row["symbol"].strip()
            )
    return tuple((start, tuple(sorted(syms))) for start, syms in sorted(periods.items()))


def _canonical_index(index: str) -> str:
    key = " ".join(index.upper().replace("NIFTY", "NIFTY ").split())
    if key not in _CURRENT:
        raise UniverseError(f"unknown index {index!r}; known: {', '.join(KNOWN_INDICES)}")
    return key


def first_known_date(index: str) -> date:
    """The earliest date with a sourced membership list of ``index``; every later date
    has one too (the history runs into the current list)."""
    key = _canonical_index(index)
    history = _history(_HISTORY[key]) if key in _HISTORY else ()
    return history[0][0] if history else _CURRENT[key][1]


def load_index_members(index: str, as_of: date | None = None) -> tuple[str, ...]:
    """Sorted NSE tradingsymbols of ``index`` ("NIFTY 50" or "NIFTY 100").

    ``as_of=None`` gives the current list. With a date, the list in force on that date;
    a date before the earliest sourced period raises ``UniverseError`` (a ``ValueError``).
    """
    key = _canonical_index(index)
    filename, current_from = _CURRENT[key]
    if as_of is None or as_of >= current_from:
        return _current_members(filename)
    history = _history(_HISTORY[key]) if key in _HISTORY else ()
    chosen: tuple[str, ...] | None = None
    for start, members in history:
        if start <= as_of:
            chosen = members
    if chosen is None:
        first = history[0][0] if history else current_from
        raise UniverseError(
            f"no sourced {key} membership for {as_of.isoformat()}; known from {first.isoformat()}"
        )
    return chosen


@dataclass(frozen=True, slots=True)
class UniverseChoice:
    """The symbols a day trades, and each rejected member with its reason."""

    day: date
    selected: tuple[str, ...]
    rejected: tuple[tuple[str, str], ...]


def select_universe(
    day: date,
    members: Iterable[str],
    available: Iterable[str],
    prices: Mapping[str, float],
    *,
    min_price: float = 0,
    max_count: int | None = None,
    ranking: Mapping[str, float] | None = None,
) -> UniverseChoice:
    """Members with data and a usable price, best ``max_count`` by ``ranking``.

    Rules, in order: a member not in ``available`` is rejected "no data"; a missing or
    non-finite price "no price"; a price below ``min_price`` "price X below min"; then,
    if ``max_count`` is set, survivors are ordered by ``ranking`` (highest first, ties and
    unranked members by symbol, unranked last) and the rest rejected "beyond max_count".
    ``selected`` keeps that order; ``rejected`` is sorted by symbol.
    """
    if max_count is not None and max_count < 0:
        raise ValueError("max_count must be >= 0")
    have = set(available)
    rejected: list[tuple[str, str]] = []
    survivors: list[str] = []
    for symbol in sorted(set(members)):
        if symbol not in have:
            rejected.append((symbol, "no data"))
            continue
        price = prices.get(symbol)
        if price is None or not math.isfinite(price):
            rejected.append((symbol, "no price"))
            continue
        if price < min_price:
            rejected.append((symbol, f"price {price:g} below min"))
            continue
        survivors.append(symbol)

    if ranking is not None:
        ranks = ranking

        def sort_key(symbol: str) -> tuple[int, float, str]:
            value = ranks.get(symbol)
            if value is None or not math.isfinite(value):
                return (1, 0.0, symbol)
            return (0, -value, symbol)

        survivors.sort(key=sort_key)
    if max_count is not None and len(survivors) > max_count:
        rejected.extend((symbol, "beyond max_count") for symbol in survivors[max_count:])
        survivors = survivors[:max_count]
    rejected.sort()
    return UniverseChoice(day=day, selected=tuple(survivors), rejected=tuple(rejected))
