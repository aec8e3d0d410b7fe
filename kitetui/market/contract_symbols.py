"""What a derivative's tradingsymbol says: Kite's spellings of expiry and strike.

Kite spells an expiry four ways inside a tradingsymbol (monthly ``25JAN``, weekly
``25O07``, ``07JAN25`` and ``250107``); the instrument master checks each contract's
expiry column against its name with these readers (``kitetui.market.instruments``'s
docstring has the rules), and search matches what a person types against them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

__all__ = ["MONTHS", "ContractName", "parse_contract_symbol", "spellings", "strike_text"]

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTH_CODES = "123456789OND"  # Kite's one-character month in weekly symbols


def strike_text(strike: float) -> str:
    """How Kite writes a strike inside a tradingsymbol: ``24350``, ``22.5``."""
    return str(int(strike)) if strike.is_integer() else repr(strike)


@dataclass(frozen=True, slots=True)
class ContractName:
    """What a derivative's tradingsymbol says. ``day`` is None for a monthly spelling
    (it names only the month); ``strike`` is 0 for a future."""

    underlying: str
    year: int
    month: int
    day: int | None
    strike: float
    instrument_type: str  # FUT, CE or PE

    def agrees_with(self, expiry: date) -> bool:
        if (self.year, self.month) != (expiry.year, expiry.month):
            return False
        return self.day is None or self.day == expiry.day

    @property
    def expiry(self) -> date | None:
        return date(self.year, self.month, self.day) if self.day is not None else None


_MONTH_OF = {name: i + 1 for i, name in enumerate(MONTHS)}
_MON = "|".join(MONTHS)
# Date spellings after the underlying, each with the rest (strike) in the last group.
_SPELLINGS = (
    ("monthly", re.compile(rf"(\d\d)({_MON})(.*)")),
    ("weekly", re.compile(r"(\d\d)([1-9OND])(\d\d)(.*)")),
    ("dmy", re.compile(rf"(\d\d)({_MON})(\d\d)(.*)")),
    ("ymd", re.compile(r"(\d\d)(0[1-9]|1[0-2])(\d\d)(.*)")),
)
_STRIKE_TEXT = re.compile(r"\d+(?:\.\d+)?")


def _spelled_dates(rest: str) -> Iterator[tuple[int, int, int | None, str]]:
    """(year, month, day or None, what follows) for each spelling ``rest`` starts with."""
    for kind, pattern in _SPELLINGS:
        m = pattern.fullmatch(rest)
        if m is None:
            continue
        if kind == "monthly":
            yield 2000 + int(m[1]), _MONTH_OF[m[2]], None, m[3]
            continue
        if kind == "weekly":
            year, month, day, tail = (
                2000 + int(m[1]),
                _WEEKLY_MONTH_CODES.index(m[2]) + 1,
                m[3],
                m[4],
            )
        elif kind == "dmy":
            year, month, day, tail = 2000 + int(m[3]), _MONTH_OF[m[2]], m[1], m[4]
        else:
            year, month, day, tail = 2000 + int(m[1]), int(m[2]), m[3], m[4]
        if 1 <= int(day) <= calendar.monthrange(year, month)[1]:
            yield year, month, int(day), tail


def parse_contract_symbol(
    symbol: str,
    *,
    underlying: str = "",
    strike: float | None = None,
    expiry: date | None = None,
) -> ContractName | None:
    """Read a futures or options tradingsymbol under every spelling (module docstring of
    ``kitetui.market.instruments``).

    What is known from other columns narrows the reading: ``underlying`` (the name
    column) fixes where the date starts, ``strike`` must equal the strike spelled, and
    a reading that agrees with ``expiry`` is preferred. Without ``underlying`` every
    split before a digit is tried, shortest underlying first. None when nothing fits.
    """
    text = symbol.strip().upper()
    kind = next((k for k in ("FUT", "CE", "PE") if text.endswith(k)), "")
    if not kind:
        return None
    body = text[: -len(kind)]
    if underlying:
        name = underlying.strip().upper()
        splits = [len(name)] if body.startswith(name) and len(body) > len(name) else []
    else:
        splits = [k for k in range(1, len(body)) if body[k].isdigit()]
    fallback: ContractName | None = None
    for k in splits:
        for year, month, day, tail in _spelled_dates(body[k:]):
            if kind == "FUT":
                if tail:
                    continue
                spelled = 0.0
            else:
                if _STRIKE_TEXT.fullmatch(tail) is None:
                    continue
                spelled = float(tail)
                if strike is not None and strike > 0.0 and spelled != strike:
                    continue
            found = ContractName(body[:k], year, month, day, spelled, kind)
            if expiry is None or found.agrees_with(expiry):
                return found
            fallback = fallback or found
    return fallback


def spellings(underlying: str, expiry: date) -> frozenset[str]:
    """Every tradingsymbol prefix (before strike and type) of ``underlying`` expiring
    on ``expiry``, under each spelling Kite uses."""
    yy, mon = f"{expiry.year % 100:02d}", MONTHS[expiry.month - 1]
    dd, mm = f"{expiry.day:02d}", f"{expiry.month:02d}"
    weekly = _WEEKLY_MONTH_CODES[expiry.month - 1]
    return frozenset(
        underlying + part
        for part in (f"{yy}{mon}", f"{yy}{weekly}{dd}", f"{dd}{mon}{yy}", f"{yy}{mm}{dd}")
    )
