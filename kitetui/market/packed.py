"""A loaded file's columns stored narrow, and read back to exactly the values loaded.

A replay keeps every stream's columns for the whole run (``lazy_items.py``): a year of
1-minute bars for 20 symbols is 1.875 M rows, 105 MB as int64/float64 columns (56 bytes
a bar). Most of those bytes say nothing: a price on NSE is a whole number of paise, a
volume or an open interest of a minute fits in 32 bits (an equity's open interest is
0). So the loaders keep

* a price column as ``int32`` paise when *every* price of the file comes back from
  ``paise / 100`` as the very same double (checked bit for bit over the whole column,
  with the same numpy division the reading uses), else as the float64 it was loaded as
  (a price with a third decimal, or above ₹21,474,836.47, keeps its float64);
* a count column (volume, quantity, open interest) as the narrowest signed integer type
  that holds its smallest and largest value;
* the timestamps as they are (int64 nanoseconds).

A bar is then 8 + 4×4 + 4 + 1 = 29 bytes instead of 56. Nothing else changes: the
values handed to ``Bar``/``Tick`` are the Python floats and ints an unpacked column
gives, so a packed load equals the unpacked one value for value (tested on the bundled
files and on generated ones), and the golden ledgers do not move.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PAISE", "narrow_counts", "narrow_prices", "price_array", "price_values"]

PAISE = 100  # a price is stored as price × PAISE, a whole number
_INT32_MAX = np.iinfo(np.int32).max
_COUNT_TYPES = (np.int8, np.int16, np.int32)


def narrow_prices(values: np.ndarray) -> np.ndarray:
    """``values`` (float64) as int32 paise when ``price_values`` gives every one of them
    back bit for bit; otherwise ``values`` unchanged."""
    if values.dtype != np.float64 or not len(values) or not np.isfinite(values).all():
        return values
    if values.min() < 0 or values.max() > _INT32_MAX / PAISE:
        return values
    paise = np.rint(values * PAISE).astype(np.int32)
    # Compare the bits, not the values: -0.0 == 0.0, but only one of them comes back.
    if not np.array_equal((paise / PAISE).view(np.int64), values.view(np.int64)):
        return values
    return paise


def narrow_counts(values: np.ndarray) -> np.ndarray:
    """Whole numbers in the narrowest signed integer type that holds them all."""
    if values.dtype.kind != "i" or not len(values):
        return values
    low, high = int(values.min()), int(values.max())
    for kind in _COUNT_TYPES:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return values if values.dtype.itemsize <= info.bits // 8 else values.astype(kind)
    return values


def price_values(column: np.ndarray) -> list[float]:
    """A price column's values as Python floats: paise divided back, or the floats."""
    return price_array(column).tolist()


def price_array(column: np.ndarray) -> np.ndarray:
    """A price column as float64: paise divided back, or the floats themselves."""
    if column.dtype.kind == "f":
        return column
    return column / PAISE
