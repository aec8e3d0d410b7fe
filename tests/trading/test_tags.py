"""Client tags: ``make_tag`` spells the base32 of its cause's digest as Python's encoder
does, character for character (a tag is journaled, sent to Kite and found again by it)."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from kitetui.trading.trader import make_tag


def reference_tag(*parts: object) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:16]


@given(st.lists(st.one_of(st.text(), st.integers(), st.floats()), max_size=6))
def test_a_tag_is_the_base32_of_its_digest(parts: list[object]) -> None:
    assert make_tag(*parts) == reference_tag(*parts)


def test_a_tag_is_16_characters_kite_accepts() -> None:
    for n in range(2_000):
        tag = make_tag("run", "STOP", "INFY", n)
        assert tag == reference_tag("run", "STOP", "INFY", n)
        assert len(tag) == 16 and tag.isalnum()
