"""Column parsers: exactly the careful path's values, or None (never a near miss)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.market.columnar import decimal_column, integer_column, split_fields


def one_column(values: list[str]):
    fields = split_fields(("\n".join(values) + "\n").encode(), 1)
    assert fields is not None
    return fields


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**9), st.integers(0, 6), st.integers(0, 10**6)),
        min_size=1,
        max_size=50,
    )
)
def test_decimal_column_is_float_of_the_text(parts: list[tuple[int, int, int]]) -> None:
    texts = []
    for whole, places, frac in parts:
        text = str(whole) if places == 0 else f"{whole}.{frac % 10**places:0{places}d}"
        texts.append(text)
    values = decimal_column(one_column(texts), 0)
    digits = max(len(t.replace(".", "")) for t in texts)
    if digits > 15:
        assert values is None
        return
    assert values is not None
    assert values.tolist() == [float(t) for t in texts]


def test_decimal_column_refuses_what_float_reads_differently_or_not_at_all() -> None:
    for bad in ["1e3", "-5", "+5", "5 ", "1_000", "nan", "inf", "5.", ".5", "1.2.3", ""]:
        fields = split_fields(f"1.5,{bad}\n2.5,3\n".encode(), 2)
        assert fields is None or decimal_column(fields, 1) is None, bad


def test_leading_spaces_are_skipped_as_float_and_int_skip_them() -> None:
    fields = one_column([" 1297", "  1284.75", "3"])
    assert decimal_column(fields, 0).tolist() == [1297.0, 1284.75, 3.0]
    assert integer_column(one_column([" 43721", "5"]), 0).tolist() == [43721, 5]
    assert decimal_column(one_column(["   ", "5"]), 0) is None
    assert decimal_column(one_column([" 5 ", "5"]), 0) is None  # trailing: careful path


def test_integer_column_reads_whole_numbers_and_whole_floats_only() -> None:
    assert integer_column(one_column(["0", "007", "116485", "75.0", "12.000"]), 0).tolist() == [
        0,
        7,
        116485,
        75,
        12,
    ]
    assert integer_column(one_column(["1", "2.5"]), 0) is None


def test_split_fields_refuses_what_the_csv_module_must_judge() -> None:
    for text in [
        b'1,"2",3\n',  # quoting
        b"1,2,3\n\n4,5,6\n",  # a blank line
        b"1,2\n3,4,5\n",  # field counts
        b"1,2,3\r4,5,6\n",  # a lone carriage return
        b"1,2,\x003\n",  # NUL
        "1,2,\u00e93\n".encode(),  # not ASCII
        b"",
    ]:
        assert split_fields(text, 3) is None, text
    fields = split_fields(b"1,22,333\r\n4444,5,66", 3)
    assert fields is not None
    assert fields.rows == 2
    assert (fields.ends - fields.starts).tolist() == [[1, 2, 3], [4, 1, 2]]
    assert isinstance(fields.starts, np.ndarray)
