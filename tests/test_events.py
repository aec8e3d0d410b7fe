"""The event catalogue (``kitetui/events.py``) is the only place that spells a kind.

The source of ``kitetui``, ``engines`` and ``strategies`` is parsed (nothing imported),
so a new module is covered as soon as it exists. A kind written as a string anywhere
else, an ``Event(...)`` whose kind is a string or an f-string, or a past-tense
PascalCase word handed to a call (a kind on its way to a helper that journals it) fails
here with the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kitetui.events import FEED_STATE_EVENTS, EventKind
from kitetui.market.kite_feed import FeedState

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "kitetui" / "events.py"
SOURCES = sorted(
    path
    for package in ("kitetui", "engines", "strategies")
    for path in (ROOT / package).rglob("*.py")
    if path != CATALOGUE
)
KINDS = {kind.value for kind in EventKind}
# What a journaled kind looks like: two or more capitalised words, the last one past
# tense ("OrderFilled"). Class names, Kite's error types and the like do not end so.
KIND_SHAPE = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*[A-Z][a-z0-9]*ed$")


def _exempt(tree: ast.Module) -> set[int]:
    """String nodes that are not code: docstrings and ``__all__`` entries."""
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            exempt.update(id(child) for child in ast.walk(node.value))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            exempt.add(id(body[0].value))
    return exempt


def _is_event_call(node: ast.Call) -> bool:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name == "Event"


def _event_kind(node: ast.Call) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == "kind":
            return keyword.value
    return node.args[1] if len(node.args) > 1 else None


def spelt_kinds(source: str, where: str) -> list[str]:
    """Every place in ``source`` (a module's text) that spells an event kind instead of
    naming it, each as ``where:line: why``."""
    tree = ast.parse(source, filename=where)
    exempt = _exempt(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in KINDS and id(node) not in exempt:
                found.append(f"{where}:{node.lineno}: {node.value!r} is EventKind's to spell")
        elif isinstance(node, ast.Call):
            kind = _event_kind(node) if _is_event_call(node) else None
            if isinstance(kind, ast.Constant | ast.JoinedStr):
                found.append(f"{where}:{node.lineno}: Event(kind=...) given a string")
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            found.extend(
                f"{where}:{argument.lineno}: {argument.value!r} looks like an event kind"
                for argument in arguments
                if isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
                and KIND_SHAPE.match(argument.value)
                and argument.value not in KINDS  # reported above already
            )
    return found


def test_event_kinds_are_spelt_only_in_the_catalogue() -> None:
    found = [
        line
        for path in SOURCES
        for line in spelt_kinds(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('Event(ts_ns=0, kind="RunStarted", message="")', "is EventKind's to spell"),
        ('Event(0, "SomethingNew", "")', "Event(kind=...) given a string"),
        ('Event(ts_ns=0, kind=f"Feed{state}", message="")', "Event(kind=...) given a string"),
        ('problems.add("RowSkipped", "bad", 3)', "is EventKind's to spell"),
        ('self.record("WidgetExploded", "boom")', "looks like an event kind"),
    ],
)
def test_spelt_kinds_with_a_spelt_kind_reports_it(source: str, expected: str) -> None:
    found = spelt_kinds(source, "probe.py")
    assert found and all(line.startswith("probe.py:1: ") for line in found)
    assert any(expected in line for line in found), found


def test_spelt_kinds_with_named_kinds_docstrings_and_all_reports_nothing() -> None:
    source = (
        '"""Journals ``RunStarted``: "RunStarted"."""\n'
        '__all__ = ["PlacementUnknown"]\n'
        "Event(ts_ns=0, kind=EventKind.RUN_STARTED, message='')\n"
        'raise KiteError("NetworkException", "down")\n'
    )
    assert spelt_kinds(source, "probe.py") == []


def test_event_kind_names_mirror_their_stored_strings() -> None:
    for kind in EventKind:
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", kind.value), kind.value
        assert re.sub(r"(?<!^)(?=[A-Z])", "_", kind.value).upper() == kind.name


def test_event_kinds_with_a_doubled_suffix_none_remain() -> None:
    """``RiskReduceed`` was journaled once; a suffix added to a word already ending in
    it must not come back."""
    assert not [kind.value for kind in EventKind if re.search(r"(?:eed|dd)$", kind.value)]


def test_every_feed_state_has_its_event() -> None:
    assert set(FEED_STATE_EVENTS) == {state.value for state in FeedState}
    assert {kind.value for kind in FEED_STATE_EVENTS.values()} == {
        f"Feed{state.value.title()}" for state in FeedState
    }


def test_every_event_kind_is_journaled_somewhere() -> None:
    """A kind nothing emits is a dead entry (or one whose emitter was lost)."""
    named: set[str] = {kind.name for kind in FEED_STATE_EVENTS.values()}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "EventKind"
            ):
                named.add(node.attr)
    assert {kind.name for kind in EventKind} - named == set()
