"""YAML text -> plain Python data, refusing what a config file should never contain.

PyYAML's ``safe_load`` is safe against code execution but not against mistakes and
hostile input, and each gap here was seen in a real config or an attack on one:

* **Duplicate keys** silently keep the last value: a second ``max_daily_loss:`` (or a
  second ``risk:`` section) lower in the file replaces the first. Here any mapping,
  at any depth, that repeats a key is an error naming both lines.
* **YAML 1.1 scalars coerce**: ``yes``/``no``/``on``/``off`` become booleans (the
  Norway problem: ``symbols: [NO]``), ``09:15`` becomes the integer 555, ``0100`` is
  octal 64 and ``2024-01-01`` a date. This loader resolves plain scalars by the YAML
  1.2 core rules instead: only ``true``/``false`` are booleans, integers are decimal
  (underscores allowed, no leading zero) or ``0x``/``0o``, floats need a dot or an
  exponent, ``~``/``null``/empty is null, everything else stays a string.
* **Bombs**: nesting is limited to ``MAX_DEPTH`` levels, and the document is measured
  *as aliases expand it* before anything is built, so a billion-laughs file (a few
  lines of anchors that expand to 10^9 values) or a recursive alias is refused at
  once instead of hanging the validator that walks the expanded tree.

Every refusal is a ``YamlProblem`` with a one-line reason, the 1-based line when the
text has one, and the key path (``risk.max_daily_loss``) when it is known.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MAX_DEPTH", "MAX_VALUES", "YamlProblem", "load_yaml"]

MAX_DEPTH = 32  # a config is ~6 levels deep; 10,000 nested lists are an attack
MAX_VALUES = 100_000  # scalars + collections after alias expansion

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


class YamlProblem(Exception):
    """Why the text is refused: ``reason``, at ``line`` (1-based, 0 unknown), ``key_path``."""

    def __init__(self, reason: str, line: int = 0, key_path: str = "") -> None:
        self.reason = reason
        self.line = line
        self.key_path = key_path
        super().__init__(f"line {line}: {reason}" if line else reason)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalar resolution and a nesting limit while composing."""

    yaml_implicit_resolvers: dict = {}  # noqa: RUF012 - PyYAML's class-level registry

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        # The composer recurses once per level: bound it before Python's stack does.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        return int(text, 0)  # the resolver admits only forms base 0 reads


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F][0-9a-fA-F_]*|0o[0-7][0-7_]*)$"),
    list("-+0123456789"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_StrictLoader.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def _check_merge(key_node: Node, value_node: Node, path: str, merges: int) -> None:
    """One ``<<`` a mapping, and no key from two of the mappings it merges: YAML says
    the first of them wins and PyYAML lets the last win (for keys longer than one
    character), so ``<<: [{max_daily_loss: 1000}, {max_daily_loss: 50000}]`` loaded
    50,000 while a reader of the YAML sees 1,000. Written once, it means one thing."""
    where = path or "(top level)"
    if merges > 1:
        raise YamlProblem(f"'<<' is repeated in {where}", _line(key_node), path)
    if not isinstance(value_node, SequenceNode):
        return
    seen: dict[str, int] = {}
    for index, merged in enumerate(value_node.value):
        if not isinstance(merged, MappingNode):
            continue
        for inner_key, _value in merged.value:
            if not isinstance(inner_key, ScalarNode):
                continue
            earlier = seen.setdefault(inner_key.value, index)
            if earlier != index:
                raise YamlProblem(
                    f"key {inner_key.value[:60]!r} comes from two mappings merged into {where} "
                    "('<<' items "
                    f"{earlier + 1} and {index + 1}): give it once",
                    _line(inner_key),
                    path,
                )


def _check_tree(root: Node) -> None:
    """Depth, expanded size, cycles and duplicate keys, each node visited once."""
    _TreeCheck().visit(root, 1, "")


class _TreeCheck:
    """One walk over a composed document.

    ``sizes`` memoises (values, height) per node, so an alias costs a lookup and the
    walk is linear in the text while still measuring the expanded document.
    """

    __slots__ = ("active", "sizes", "total")

    def __init__(self) -> None:
        self.sizes: dict[int, tuple[int, int]] = {}
        self.active: set[int] = set()
        self.total = 0

    def visit(self, node: Node, depth: int, path: str) -> tuple[int, int]:
        known = self.sizes.get(id(node))
        if known is not None:
            count, height = known
        else:
            if id(node) in self.active:
                raise YamlProblem("an alias refers to its own parent", _line(node), path)
            self.active.add(id(node))
            count, height = self._children(node, depth, path)
            self.active.discard(id(node))
            self.sizes[id(node)] = (count, height)
        if depth + height > MAX_DEPTH:
            raise YamlProblem(
                f"nested deeper than {MAX_DEPTH} levels once aliases expand", _line(node), path
            )
        self.total += count if known is not None else 0
        if self.total > MAX_VALUES:
            raise YamlProblem(
                f"expands to more than {MAX_VALUES:,} values (an alias bomb?)", _line(node), path
            )
        return count, height

    def _children(self, node: Node, depth: int, path: str) -> tuple[int, int]:
        self.total += 1
        if self.total > MAX_VALUES:
            raise YamlProblem(f"holds more than {MAX_VALUES:,} values", _line(node), path)
        if isinstance(node, ScalarNode):
            return 1, 0
        count, height = 1, 0
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                c, h = self.visit(child, depth + 1, f"{path}[{index}]")
                count, height = count + c, max(height, h + 1)
            return count, height
        assert isinstance(node, MappingNode)
        first_line: dict[str, int] = {}
        merges = 0
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges += 1
                _check_merge(key_node, value_node, path, merges)
            child_path = path if key_node.tag == _MERGE else _key_path(key_node, path, first_line)
            c, h = self.visit(value_node, depth + 1, child_path)
            count, height = count + c, max(height, h + 1)
        return count, height


def _key_path(key_node: Node, path: str, first_line: dict[str, int]) -> str:
    """The path of a mapping's value: its key must be a string, and a new one."""
    if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
        shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
        raise YamlProblem(
            f"key {_short(str(shown))!r} is not a string (quote it)",
            _line(key_node),
            path,
        )
    key = key_node.value
    child_path = f"{path}.{key}" if path else key
    line = _line(key_node)
    if key in first_line:
        raise YamlProblem(
            f"duplicate key {_short(key)!r} (first at line {first_line[key]}); "
            "a repeated key would silently replace the first",
            line,
            child_path,
        )
    first_line[key] = line
    return child_path


def _line(node: Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_yaml(text: str) -> object:
    """Parse one YAML document under the rules in the module docstring.

    Raises ``YamlProblem``; never ``RecursionError`` or a PyYAML exception.
    """
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_tree(node)
        return loader.construct_document(node)
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        problem = problem or type(exc).__name__
        raise YamlProblem(f"not valid YAML: {problem}", mark.line + 1 if mark else 0) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise YamlProblem(
            f"not valid YAML: character #x{exc.character:04x} is not allowed", line
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {type(exc).__name__}") from None
    except (RecursionError, ValueError, OverflowError) as exc:
        raise YamlProblem(f"not valid YAML: {type(exc).__name__}: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
