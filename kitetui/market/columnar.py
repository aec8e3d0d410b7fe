"""Whole-file, column-at-a-time parsing of the fixed CSV layouts, with numpy.

The loaders (``kitetui.market.loaders``) read a file row by row with the csv module and
judge every row; that careful path names each bad row and costs ~2 µs a row. Real files
are nearly always clean, so the loaders first try this module: the file's bytes become
one ``uint8`` array, rows and fields are found by the positions of the newlines and
commas, and each column is parsed by array arithmetic. It accepts only what it can parse
to *exactly* the value the careful path would produce, and answers ``None`` (go the
careful way) for everything else: a quote, a NUL, a non-ASCII byte, a blank or short
line, a number with a sign, an exponent or more than 15 digits, a timestamp whose shape
differs from the first row's. The careful path then decides, and names the row.

Why the values are exact, not merely close:

* a number is accepted only as ``digits[.digits]`` (after leading spaces, which
  ``float`` and ``int`` skip too) with at most 15 digits and converted
  by numpy's bytes-to-float cast, correctly rounded like ``float(text)`` (and within
  15 digits two decimals never share a double, so there is no close call to differ on);
* a timestamp column must have one shape: every row equal to the first row's bytes
  except at the digits of the date and of the time of day. The first row's text is
  parsed by the careful path's own functions, the dates through those functions once
  per distinct day, and the time of day is ``HH*3600 + MM*60 + SS`` with the careful
  path's range checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Fields", "decimal_column", "integer_column", "split_fields", "stamp_column"]

_MAX_DIGITS = 15  # 10**15 < 2**53: the mantissa is exact in a double
_DIGIT_LO, _DIGIT_HI, _DOT, _COMMA, _NEWLINE, _SPACE = 48, 57, 46, 44, 10, 32
_NOT_ALLOWED = b'"\x00\r'  # quoting, NUL and bare carriage returns: the careful path's
# The csv module's field limit (``csv.field_size_limit()``): a longer field is an error
# there, in any column, so the columnar path must not accept it in a column it ignores.
_FIELD_LIMIT = 131_072


@dataclass(frozen=True, slots=True)
class Fields:
    """Where each field of each row lies in ``buf`` (``starts``/``ends``: rows × columns).

    ``buf`` is padded with zeros past the data so that a fixed-width gather from any
    field start stays in bounds."""

    buf: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.starts)

    def chars(self, col: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The column's first ``width`` bytes of every row (zero past each field's end),
        and the field lengths."""
        start = self.starts[:, col]
        return self.gather(start, self.ends[:, col] - start, width)

    def gather(
        self, start: np.ndarray, length: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``width`` bytes from each ``start``, zero from each ``length`` on."""
        matrix = self.buf[start[:, None] + np.arange(width)]
        matrix *= np.arange(width) < length[:, None]
        return matrix, length

    def same_bytes(self, col: int) -> bytes | None:
        """The column's value when every row holds the same bytes there, else None."""
        start, end = self.starts[:, col], self.ends[:, col]
        width = int(end[0] - start[0])
        if not (end - start == width).all():
            return None
        matrix = self.buf[start[:, None] + np.arange(width)]
        if not (matrix == matrix[0]).all():
            return None
        return matrix[0].tobytes()


def split_fields(data: bytes, ncols: int) -> Fields | None:
    """Rows of exactly ``ncols`` unquoted fields, one a line (``\\n`` or ``\\r\\n``).

    None for anything the careful path must judge (blank lines, wrong field counts,
    quotes, NUL or non-ASCII bytes, a lone ``\\r``, a field over the csv module's
    limit) and for a file without rows.
    """
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not data or any(byte in data for byte in _NOT_ALLOWED) or not data.isascii():
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    # A blank line, found before any array is made: a line costs the arrays below ~24
    # bytes, so a file of blank lines would cost 24 times its size (``text_limits``).
    if data.startswith(b"\n") or b"\n\n" in data:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == _NEWLINE)
    line_starts = np.empty_like(newlines)
    line_starts[0] = 0
    line_starts[1:] = newlines[:-1] + 1
    commas = np.flatnonzero(buf == _COMMA)
    rows = len(newlines)
    per_row = ncols - 1
    if len(commas) != rows * per_row:
        return None
    if per_row:
        grid = commas.reshape(rows, per_row)
        # Each row's commas lie between its start and its newline: then, the counts
        # being equal, every row has exactly ``per_row`` of them.
        if not ((grid[:, 0] > line_starts).all() and (grid[:, -1] < newlines).all()):
            return None
        starts = np.concatenate([line_starts[:, None], grid + 1], axis=1)
        ends = np.concatenate([grid, newlines[:, None]], axis=1)
    else:
        starts, ends = line_starts[:, None], newlines[:, None]
    if int((ends - starts).max()) > _FIELD_LIMIT:  # the careful path refuses it: exit 4
        return None
    padded = np.zeros(len(buf) + 64, dtype=np.uint8)
    padded[: len(buf)] = buf
    return Fields(padded, starts, ends)


def _digits(matrix: np.ndarray) -> np.ndarray:
    return (matrix >= _DIGIT_LO) & (matrix <= _DIGIT_HI)


def _plain_decimals(fields: Fields, col: int) -> np.ndarray | None:
    """``digits[.digits]`` fields of at most 15 digits as float64; None for any other.

    The text is checked here and converted by numpy's own bytes-to-float cast, which
    reads the decimal exactly as ``float(text)`` does (correctly rounded); within 15
    digits there is no tie between neighbouring decimals to round differently anyway.
    """
    start = fields.starts[:, col]
    length = fields.ends[:, col] - start
    if int(length.min()) < 1:
        return None
    if (fields.buf[start] == _SPACE).any():  # " 1297": float() and int() skip the spaces
        start, length = _after_spaces(fields, col)
        if int(length.min()) < 1:
            return None
    if int(length.max()) > _MAX_DIGITS + 1:
        return None
    width = int(length.max())
    matrix, length = fields.gather(start, length, width)
    digit = (matrix >= _DIGIT_LO) & (matrix <= _DIGIT_HI)
    dot = matrix == _DOT
    if ((matrix != 0) & ~digit & ~dot).any():  # padding is 0 and NUL never gets here
        return None
    dots = dot.sum(axis=1)
    # One point at most, with a digit on each side of it ("5." and ".5" go careful).
    ends_in_digit = digit[np.arange(len(length)), length - 1]
    if (dots > 1).any() or not digit[:, 0].all() or not ends_in_digit.all():
        return None
    if (length - dots > _MAX_DIGITS).any():
        return None
    return matrix.view(f"S{width}").ravel().astype(np.float64)


def _after_spaces(fields: Fields, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Each field's start and length past its leading spaces (a field of spaces only
    comes out empty)."""
    start, end = fields.starts[:, col], fields.ends[:, col]
    width = int((end - start).max())
    matrix, length = fields.chars(col, width)
    spaces = np.where((matrix == _SPACE).all(axis=1), length, np.argmax(matrix != _SPACE, axis=1))
    return start + spaces, length - spaces


def decimal_column(fields: Fields, col: int) -> np.ndarray | None:
    """Plain decimals (``18476.05``, ``524``) as float64, exactly ``float(text)``."""
    return _plain_decimals(fields, col)


def integer_column(fields: Fields, col: int) -> np.ndarray | None:
    """Whole numbers (``116485``, also ``116485.0``) as int64, as the careful path's
    ``_to_int`` reads them; a fraction that is not zero goes careful. (Below 10**15 a
    decimal of at most 15 digits is a whole double only when it is a whole number.)"""
    values = _plain_decimals(fields, col)
    if values is None or (values != np.floor(values)).any():
        return None
    return values.astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Shape:
    """The first row's timestamp text and which of its positions may vary."""

    text: str
    day: tuple[int, ...]  # digit positions of the date part
    time: tuple[int, ...]  # positions of H H M M [S S], empty when there is no time


def stamp_column(
    fields: Fields,
    day_col: int,
    time_col: int,
    day_seconds: Callable[[str], int],
    split: Callable[[str], tuple[str, str, int, int]] | None,
) -> np.ndarray | None:
    """Epoch seconds of every row, or None.

    ``day_col`` holds the date (``time_col`` < 0: the whole datetime). ``split(first)``
    cuts the first row's text into (date text, time-of-day text, where the time starts
    in the field, seconds to add to date + time of day), raising ``ValueError`` when the
    careful path would not accept it; ``day_seconds`` is the careful path's date parser,
    called once per distinct date. With ``time_col`` >= 0, the time of day is that
    column's ``HH:MM[:SS]`` and ``split`` is not used (the offset is IST's).
    """
    day_shape = _shape(fields, day_col)
    if day_shape is None:
        return None
    day_text, time_text, time_at, extra = _cut(day_shape.text, split)
    day_width = len(day_text)
    day_pos = tuple(i for i in day_shape.day if i < day_width)
    matrix, _ = fields.chars(day_col, len(day_shape.text))
    if not _varies_only_at(matrix, day_shape.text, day_pos + _time_positions(time_text, time_at)):
        return None
    days = _day_values(matrix, day_shape.text[:day_width], day_pos, day_seconds)
    if days is None:
        return None
    if time_col >= 0:
        time_shape = _shape(fields, time_col)
        if time_shape is None:
            return None
        time_text, time_at = time_shape.text, 0
        positions = _time_positions(time_text, time_at)
        if not positions:
            return None
        matrix, _ = fields.chars(time_col, len(time_text))
        if not _varies_only_at(matrix, time_text, positions):
            return None
    tod = _time_of_day(matrix, _time_positions(time_text, time_at))
    if tod is None:
        return None
    return days + tod + extra


def _shape(fields: Fields, col: int) -> _Shape | None:
    start, end = fields.starts[:, col], fields.ends[:, col]
    width = int(end[0] - start[0])
    if width == 0 or not (end - start == width).all():
        return None
    text = fields.buf[start[0] : start[0] + width].tobytes().decode("ascii")
    digits = tuple(i for i, ch in enumerate(text) if ch.isdigit())
    return _Shape(text, digits, ())


def _cut(
    text: str, split: Callable[[str], tuple[str, str, int, int]] | None
) -> tuple[str, str, int, int]:
    if split is None:
        return text, "", 0, 0
    try:
        return split(text)
    except (ValueError, IndexError):
        return "", "", 0, 0


def _time_positions(time_text: str, at: int) -> tuple[int, ...]:
    """Digit positions of ``HH:MM:SS`` / ``HH:MM`` starting at ``at``; () otherwise."""
    if len(time_text) == 8 and time_text[2] == ":" and time_text[5] == ":":
        local = (0, 1, 3, 4, 6, 7)
    elif len(time_text) == 5 and time_text[2] == ":":
        local = (0, 1, 3, 4)
    else:
        return ()
    if not all(time_text[i].isdigit() for i in local):
        return ()
    return tuple(at + i for i in local)


def _varies_only_at(matrix: np.ndarray, text: str, positions: tuple[int, ...]) -> bool:
    """Every row equals ``text`` except at ``positions``, which hold ASCII digits."""
    template = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    fixed = np.ones(len(text), dtype=bool)
    fixed[list(positions)] = False
    if not (matrix[:, fixed] == template[fixed]).all():
        return False
    return bool(_digits(matrix[:, ~fixed]).all())


def _day_values(
    matrix: np.ndarray, text: str, positions: tuple[int, ...], day_seconds: Callable[[str], int]
) -> np.ndarray | None:
    """The date part through ``day_seconds``, once per distinct date."""
    if not positions or len(positions) > 18 or not text:
        return None
    key = np.zeros(len(matrix), dtype=np.int64)
    for i in positions:
        key = key * 10 + (matrix[:, i].astype(np.int64) - _DIGIT_LO)
    unique, inverse = np.unique(key, return_inverse=True)
    chars = list(text)
    values = np.empty(len(unique), dtype=np.int64)
    width = len(positions)
    for n, value in enumerate(unique.tolist()):
        digits = f"{value:0{width}d}"
        for i, digit in zip(positions, digits, strict=True):
            chars[i] = digit
        try:
            values[n] = day_seconds("".join(chars))
        except ValueError:
            return None
    return values[inverse.reshape(-1)]


def _time_of_day(matrix: np.ndarray, positions: tuple[int, ...]) -> np.ndarray | None:
    """``HH*3600 + MM*60 + SS`` with the careful path's range checks; 0 with no time."""
    if not positions:
        return np.zeros(len(matrix), dtype=np.int64)
    d = matrix[:, list(positions)].astype(np.int64) - _DIGIT_LO
    hours, minutes = d[:, 0] * 10 + d[:, 1], d[:, 2] * 10 + d[:, 3]
    seconds = d[:, 4] * 10 + d[:, 5] if len(positions) == 6 else np.zeros_like(hours)
    if (hours > 23).any() or (minutes > 59).any() or (seconds > 59).any():
        return None
    return hours * 3600 + minutes * 60 + seconds
