"""A number as a person types it into a form or ``kitetui ctl``: the one reading of it.

Python reads more than a trader means. ``int("²")`` fails although ``"²".isdigit()``,
``float("８００")`` is 800, and dropping every comma made ``812,50`` (a decimal comma)
81250 and ``25000,00`` two and a half million, applied without a prompt by ``ctl``.
So digits are ASCII, and a comma is only a thousands separator where it groups
digits as India (``1,00,000``) or the West (``100,000``) does; anything else is not
a number, and the caller says so in one line.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["typed_count", "typed_number"]

_GROUPED = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})*,\d{3})(?:\.\d*)?")


def typed_number(text: str) -> Decimal | None:
    """``text`` as a finite number (``₹`` and ``_`` allowed, commas only grouping), or
    None when it is not one."""
    cleaned = text.strip().removeprefix("₹").replace("_", "")
    if not cleaned.isascii():
        return None
    if "," in cleaned:
        if not _GROUPED.fullmatch(cleaned):
            return None
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def typed_count(text: str) -> int | None:
    """``text`` as a whole number written in ASCII digits only, or None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None
