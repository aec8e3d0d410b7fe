"""The config's YAML reader: duplicate keys, YAML 1.2 scalars, bombs, one-line problems."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kitetui.strict_yaml import MAX_DEPTH, YamlProblem, load_yaml


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: yes", "yes"),  # YAML 1.1 would say True
        ("a: No", "No"),  # ... and False: the Norway problem
        ("a: on", "on"),
        ("a: 09:15", "09:15"),  # YAML 1.1: the integer 555
        ("a: 0100", "0100"),  # YAML 1.1: octal 64
        ("a: 2024-01-01", "2024-01-01"),  # YAML 1.1: a date
        ("a: true", True),
        ("a: FALSE", False),
        ("a: 1_000_000", 1_000_000),
        ("a: 0x1f", 31),
        ("a: 0o17", 15),
        ("a: -7", -7),
        ("a: 1e3", 1000.0),
        ("a: 2.5", 2.5),
        ("a: .5", 0.5),
        ("a: ~", None),
        ("a:", None),
        ("a: null", None),
        ("a: inf", "inf"),
        ("a: NIFTY 50", "NIFTY 50"),
    ],
)
def test_load_yaml_with_plain_scalar_resolves_by_yaml_1_2(text: str, expected: object) -> None:
    value = load_yaml(text)["a"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "line", "key_path", "reason"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "a", "duplicate key 'a' (first at line 1)"),
        ("r:\n  x: 1\n  y: 2\n  x: 3\n", 4, "r.x", "duplicate key 'x' (first at line 2)"),
        ("e:\n- n: 1\n- {n: 1, n: 2}\n", 3, "e[1].n", "duplicate key 'n'"),
        ("a: 1\n'a': 2\n", 2, "a", "duplicate key 'a'"),  # quoting does not make it new
        ("1: x\n", 1, "", "is not a string"),
        ("a: &x [*x]\n", 1, "a[0]", "refers to its own parent"),
        ("a: *nope\n", 1, "", "undefined alias"),
        ("a: [1\n", 2, "", "not valid YAML"),
        ("a: 1\n---\nb: 2\n", 2, "", "single document"),
        ("a: !!python/name:os.system x\n", 1, "", "could not determine a constructor"),
        ("a: \x1b[31m\n", 1, "", "not allowed"),
    ],
)
def test_load_yaml_with_problem_names_line_key_and_reason(
    text: str, line: int, key_path: str, reason: str
) -> None:
    with pytest.raises(YamlProblem) as caught:
        load_yaml(text)
    assert (caught.value.line, caught.value.key_path) == (line, key_path)
    assert reason in caught.value.reason


def test_load_yaml_with_merge_key_overrides_without_duplicate_error() -> None:
    data = load_yaml("base: &b {x: 1, y: 2}\nengine:\n  <<: *b\n  x: 3\n")
    assert data["engine"] == {"x": 3, "y": 2}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # YAML: the first merged mapping wins; PyYAML let the last win (50,000)
        (
            "risk:\n  <<: [{max_daily_loss: 1000}, {max_daily_loss: 50000}]\n",
            "'max_daily_loss' comes from two mappings merged into risk",
        ),
        (
            "risk:\n  <<: {max_daily_loss: 1000}\n  <<: {max_daily_loss: 50000}\n",
            "'<<' is repeated in risk",
        ),
    ],
)
def test_merges_that_mean_two_things_are_refused(text: str, says: str) -> None:
    with pytest.raises(YamlProblem, match=re.escape(says)):
        load_yaml(text)


def test_merges_of_distinct_keys_and_an_explicit_override_still_load() -> None:
    data = load_yaml("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  x: 5\n")
    assert data["c"] == {"x": 5, "y": 2}


def test_load_yaml_with_billion_laughs_refuses_before_expanding() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for name, prev in zip("bcdefghi", "abcdefgh", strict=True):
        text += f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
    with pytest.raises(YamlProblem, match="alias bomb"):
        load_yaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 10_000 + "]" * 10_000,
        "x: " + "{a: " * 5_000 + "1" + "}" * 5_000,
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)),
        "a: &a " + "[" * 20 + "]" * 20 + "\nb: " + "[" * 20 + "*a" + "]" * 20,  # via alias
    ],
)
def test_load_yaml_with_deep_nesting_refuses(text: str) -> None:
    with pytest.raises(YamlProblem, match="nested deeper"):
        load_yaml(text)


keys = st.text(st.characters(whitelist_categories=("Ll", "Lu"), max_codepoint=0x7F), min_size=1)
plain = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Zs")), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    plain,
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, documents, max_size=6))
def test_property_with_any_safe_dump_document_load_yaml_reads_it_back(data: dict) -> None:
    assert load_yaml(yaml.safe_dump(data)) == data
