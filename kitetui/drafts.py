"""Frozen, slotted records built and copied without a call per field.

The records that travel the pipeline are frozen dataclasses with slots (``domain``): no
object changes behind a reader's back. Their cost is in being made: a frozen class's
``__init__`` sets each field with an ``object.__setattr__`` call (a frozen instance
refuses ordinary stores), and ``dataclasses.replace`` goes through that ``__init__``
after checking every field. An order is 21 of those calls, a charge split eight, and a
backtest's round trip makes some forty records.

A record class's *draft* is a plain class with the very same slots. Its fields are set
by ordinary attribute stores (one specialised instruction each), and an object moves
between the two classes by ``__class__`` assignment, which CPython allows between
classes of one instance layout (same slots, same base) and checks on every assignment.
So a record is built in its draft and becomes a record of its class; what the rest of
the program ever sees is an ordinary, frozen instance of the record's class:

* ``evolve(record, **changes)``: ``dataclasses.replace``'s record, copied through a draft;
* ``copier(cls, *names)``: a function ``copy(record, *values)`` that is
  ``evolve(record, **dict(zip(names, values)))`` for a path that always changes the same
  fields (a fill merged into its order), without the keyword dict and its loop;
* ``maker(cls)``: a function ``make(*values)`` that is ``cls(*values)`` with every field
  given in field order, for records built on every fill;
* ``@built_in_draft``: the class's ``__init__`` takes the same arguments as the one
  ``dataclass`` wrote (defaults, factories, errors) and sets the fields in the draft;
* ``build_rows(cls, columns)``: ``[cls(*row) for row in zip(*columns)]`` built in the
  draft by one loop (a loader's bars and ticks, a chunk at a time).

A class that does not fit (a base class, a ``__post_init__``, a field ``__init__`` does
not set, keyword-only fields, class variables or init-only variables among its fields,
slots other than its fields) keeps what ``dataclass`` gave it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, fields, replace
from operator import attrgetter
from typing import Any, TypeVar

R = TypeVar("R")
T = TypeVar("T", bound=type)

_new_object = object.__new__
_set_class = object.__setattr__
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class _Layout:
    """How ``evolve`` copies one record class: all its fields read at once (``read``),
    each field's place among them, the class's draft and the function that sets a
    draft's slots from the values in field order (``fill``)."""

    read: Any  # operator.attrgetter of every field: a tuple of their values
    place: dict[str, int]
    draft: type
    fill: Any


# Per record class: its ``_Layout``, or None when it must go through ``replace``.
_LAYOUTS: dict[type, _Layout | None] = {}
# Per record class: its draft, or None when it has none (``_draft``).
_DRAFTS: dict[type, type | None] = {}
# Per record class: its ``build_rows`` loop, or None when it has no draft.
_ROW_BUILDERS: dict[type, Callable[[Iterable[Any]], list[Any]] | None] = {}


def evolve(record: R, **changes: Any) -> R:
    """``dataclasses.replace(record, **changes)``: the same new record, made in the
    class's draft (module docstring), at half ``replace``'s cost even where the class's
    ``__init__`` is the draft's own. A class without a draft goes through ``replace``
    itself; an unknown field raises ``TypeError`` as there."""
    cls = type(record)
    layout = _LAYOUTS.get(cls, _MISSING)
    if layout is _MISSING:
        layout = _LAYOUTS[cls] = _layout(cls)
    if layout is None:
        return replace(record, **changes)  # type: ignore[type-var]
    values = list(layout.read(record))
    place = layout.place
    for name, value in changes.items():
        at = place.get(name)
        if at is None:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        values[at] = value
    new = _new_object(layout.draft)
    layout.fill(new, values)
    _set_class(new, "__class__", cls)
    return new  # type: ignore[no-any-return]


def copier(cls: type[R], *names: str) -> Callable[..., R]:
    """``copy(record, *values)``: the record ``evolve(record, **dict(zip(names, values)))``
    gives (``dataclasses.replace``'s), for a record of exactly ``cls``. Made once per call
    site, from source like ``build_rows``'s loop: each field read from the record or
    taken from its argument and stored in the draft by name, so a copy is one Python
    frame of specialised loads and stores, where ``evolve`` builds a keyword dict, reads
    every field into a list, looks each name up and calls the draft's ``fill`` (a fill
    merged into its order changes nine fields, on every fill). An unknown or repeated
    name raises ``TypeError`` here, when the copier is made; a class without a draft
    gets ``evolve`` itself behind the same signature."""
    if not names or len(set(names)) != len(names):
        raise TypeError(f"{cls.__name__}: a field named twice in {names}")
    record_names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    for name in names:
        if name not in record_names:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
    draft = _draft(cls)
    if draft is None or any(n in ("_new", "_record") or n.startswith("_v") for n in record_names):

        def copy_by_evolve(record: R, *values: Any) -> R:
            return evolve(record, **dict(zip(names, values, strict=True)))

        return copy_by_evolve
    given = {name: f"_v{at}" for at, name in enumerate(names)}
    source = (
        f"def copy(_record, {', '.join(given.values())}, /):\n"
        "    _new = _new_object(_draft)\n"
        + "".join(f"    _new.{n} = {given.get(n, f'_record.{n}')}\n" for n in record_names)
        + "    _new.__class__ = _cls\n"
        "    return _new\n"
    )
    namespace: dict[str, Any] = {"_new_object": _new_object, "_draft": draft, "_cls": cls}
    exec(source, namespace)  # (the field names of a dataclass: identifiers)
    return namespace["copy"]  # type: ignore[no-any-return]


def maker(cls: type[R]) -> Callable[..., R]:
    """``make(*values)``: ``cls(*values)`` with a value for every field, in field order
    (no defaults, positional only). Made once, from source like ``copier``'s: the record
    is filled in the class's draft and moved to ``cls`` by one ``__class__`` store. The
    class's own ``__init__`` (``built_in_draft``) is reached through ``type.__call__``
    and must move the instance into the draft and back, two class assignments; this is
    one frame and one assignment, about half a record's cost (a fill builds five
    records for its charges). A class without a draft gets ``cls`` itself."""
    draft = _draft(cls)
    if draft is None:
        return cls
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = [f"_v{at}" for at in range(len(names))]
    if any(n == "_new" or n.startswith("_v") for n in names):
        return cls
    source = (
        f"def make({', '.join(values)}, /):\n"
        "    _new = _new_object(_draft)\n"
        + "".join(f"    _new.{n} = {v}\n" for n, v in zip(names, values, strict=True))
        + "    _new.__class__ = _cls\n"
        "    return _new\n"
    )
    namespace: dict[str, Any] = {"_new_object": _new_object, "_draft": draft, "_cls": cls}
    exec(source, namespace)  # (the field names of a dataclass: identifiers)
    return namespace["make"]  # type: ignore[no-any-return]


def build_rows(cls: type[R], columns: Iterable[Iterable[Any]]) -> list[R] | None:
    """``[cls(*row) for row in zip(*columns)]`` (one column per field, in field order;
    a column may be an endless ``repeat``, so the rows end with the shortest),
    each record filled in the class's draft by ordinary stores and moved to ``cls``:
    one Python loop, a specialised store a field. Setting each slot through its
    descriptor over a whole column with ``map`` (a loader's way before) runs in C but
    pays a C call, an argument tuple and its parsing per field and row, about twice
    this loop's instructions for a 9-field ``Bar``. None when ``cls`` has no draft (a
    ``__post_init__`` to run, say): build it through its ``__init__`` then."""
    build = _ROW_BUILDERS.get(cls, _MISSING)
    if build is _MISSING:
        build = _ROW_BUILDERS[cls] = _row_builder(cls)
    return None if build is None else build(columns)


def _row_builder(cls: type) -> Callable[[Iterable[Any]], list[Any]] | None:
    """``build_rows``'s loop for ``cls``, made from source like ``_layout``'s ``fill``
    (the row's values in locals ``_v0``, ``_v1``, ...: no field name can shadow the
    loop's own names)."""
    draft = _draft(cls)
    if draft is None:
        return None
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = [f"_v{at}" for at in range(len(names))]
    source = (
        "def build(columns):\n"
        "    records = []\n"
        "    append = records.append\n"
        f"    for ({', '.join(values)},) in zip(*columns, strict=False):\n"
        "        record = _new_object(_draft)\n"
        + "".join(f"        record.{n} = {v}\n" for n, v in zip(names, values, strict=True))
        + "        record.__class__ = _cls\n"
        "        append(record)\n"
        "    return records\n"
    )
    namespace: dict[str, Any] = {"_new_object": _new_object, "_draft": draft, "_cls": cls}
    exec(source, namespace)  # (the field names of a dataclass: identifiers)
    return namespace["build"]  # type: ignore[no-any-return]


def _layout(cls: type) -> _Layout | None:
    """``evolve``'s way to copy ``cls``, or None to use ``replace``. ``fill`` is made from
    source, as ``dataclass`` makes ``__init__``: one unpacking assignment to the draft's
    fields in field order."""
    draft = _draft(cls)
    if draft is None:
        return None
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    if len(names) < 2:  # attrgetter of one field gives its value, not a tuple
        return None
    source = f"def fill(draft, values):\n    ({', '.join(f'draft.{n}' for n in names)},) = values\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # (the field names of a dataclass: identifiers)
    return _Layout(
        read=attrgetter(*names),
        place={name: at for at, name in enumerate(names)},
        draft=draft,
        fill=namespace["fill"],
    )


def _draft(cls: type) -> type | None:
    """``cls``'s draft: ``type(name, (), {"__slots__": its fields})``, the instance layout
    of a slotted dataclass on ``object`` (CPython refuses the ``__class__`` assignment
    otherwise, which is tried here once: a refusal means no draft); None when the class
    does not fit (module docstring)."""
    if cls in _DRAFTS:
        return _DRAFTS[cls]
    _DRAFTS[cls] = None
    record_fields = fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in record_fields)
    if (
        cls.__bases__ != (object,)
        or hasattr(cls, "__post_init__")
        or any(not f.init or f.kw_only for f in record_fields)
        or getattr(cls, "__slots__", None) != names
        or len(cls.__dataclass_fields__) != len(names)  # type: ignore[attr-defined]
        or not all(name.isidentifier() and not name.startswith("__") for name in names)
    ):
        return None
    draft = type(f"{cls.__name__}Draft", (), {"__slots__": names, "__module__": __name__})
    try:
        _set_class(_new_object(draft), "__class__", cls)
    except TypeError:
        return None
    _DRAFTS[cls] = draft
    return draft


def built_in_draft(cls: T) -> T:
    """Class decorator, under ``@dataclass(frozen=True, slots=True)``: the class's
    ``__init__`` sets its fields in the class's draft (module docstring). The same
    parameters, defaults and default factories as the ``__init__`` ``dataclass`` wrote,
    which it keeps as ``__wrapped__`` (so ``inspect.signature`` shows it) and which still
    builds an instance of a subclass (another layout). A class without a draft is left
    as it is."""
    draft = _draft(cls)
    if draft is None:
        return cls
    original = cls.__init__
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_draft": draft,
        "_set_class": _set_class,
        "_original": original,
        "_FACTORY": _MISSING,
    }
    parameters: list[str] = []
    factories: list[str] = []
    for f in fields(cls):
        name = f.name
        if f.default is not MISSING:
            namespace[f"_default_{name}"] = f.default
            parameters.append(f"{name}=_default_{name}")
        elif f.default_factory is not MISSING:
            namespace[f"_factory_{name}"] = f.default_factory
            parameters.append(f"{name}=_FACTORY")
            factories.append(f"    if {name} is _FACTORY:\n        {name} = _factory_{name}()\n")
        else:
            parameters.append(name)
    names = [f.name for f in fields(cls)]
    source = (
        f"def __init__(self, {', '.join(parameters)}):\n"
        + "".join(factories)
        + "    if type(self) is not _cls:\n"
        + f"        _original(self, {', '.join(names)})\n"
        + "        return\n"
        + "    _set_class(self, '__class__', _draft)\n"
        + "".join(f"    self.{name} = {name}\n" for name in names)
        + "    _set_class(self, '__class__', _cls)\n"
    )
    exec(source, namespace)  # (the field names of a dataclass: identifiers)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = original.__doc__
    init.__wrapped__ = original
    cls.__init__ = init  # type: ignore[misc]
    return cls
