"""The control socket's words and its JSON, each declared once.

A Unix stream socket beside the database (``state.db.sock``, ``socket_path_for``)
carries JSON lines::

    → {"id": 1, "cmd": "status"}
    ← {"id": 1, "ok": true, "snapshot": {...}}
    → {"id": 2, "cmd": "flatten", "symbol": "SBIN"}
    ← {"id": 2, "ok": true, "message": "..."}
    → {"id": 3, "cmd": "watch"}
    ← {"id": 3, "ok": true, "message": "watching"}
    ← {"snapshot": {...}}            (pushed when the desk publishes, at most N a second)
    → {"id": 4, "cmd": "order", "tag": "eq-1"}
    ← {"id": 4, "ok": true, "detail": {"tag": "eq-1", "history": [...], "fills": [...]}}
    → {"id": 5, "cmd": "chart", "symbol": "SBIN"}
    ← {"id": 5, "ok": true, "chart": {"symbol": "SBIN", "bars": [...], ...}}

There are two kinds of request. The reads — ``status``, ``watch``, ``order`` (tag),
``chart`` (symbol, for the screen's price chart) and
the database's history: ``runs``, ``history`` (table, run, filter, offset, limit),
``run-report`` (run) and ``export`` (what, run, path), answered by
``kitetui/control/reads.py`` — are declared in ``READS`` here. The desk's commands are
declared only in ``kitetui.commands``: a class's ``name`` is its word and its one field
(if any) its argument, so ``{"cmd": "flatten", "symbol": "SBIN"}`` is
``FlattenPosition("SBIN")``.
``REQUESTS`` joins both, and everything else is derived from it: the pydantic models
that validate a request (one per word, generated, in a discriminated union), the
``unknown cmd`` list, ``kitetui ctl``'s arguments and the client's requests. A bad
request gets ``{"ok": false, "error": ...}`` and the connection stays usable.

Every text argument is bounded here, at the boundary, because what a command carries
ends up in the journal and in every snapshot (a refusal quotes it): an identifier (tag,
symbol, engine, table, run, what) at most ``IDENTIFIER_MAX`` characters, free text
(``reason``, a ticket, a limit assignment, a stop, a history filter) at most
``TEXT_MAX``, an export path at most ``PATH_MAX``. Text with an unprintable character
(a newline, an ESC, a NUL) is refused, not cleaned: a request is one line the sender
typed, so a control character in it is a mistake or an attack, and a silently altered
kill reason would be worse than a refusal. ``offset`` and ``limit`` are strict integers
(no ``true``, no ``"5"``) within SQLite's range.

``snapshot_to_json`` / ``snapshot_from_json`` carry a ``DeskSnapshot`` over JSON with an
exact round trip (tuples stay tuples, nested views come back as the same dataclasses),
and ``order_detail_to_json`` / ``order_detail_from_json`` do the same for an
``OrderDetail``, and ``chart_to_json`` / ``chart_from_json`` for a ``ChartView``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import socket
import struct
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from kitetui.commands import COMMANDS, Command
from kitetui.views import ChartView, DeskSnapshot, OrderDetail

RequestId = int | str | None

#: The longest identifier a request may carry (tag, symbol, engine, table, run, what).
IDENTIFIER_MAX = 100
#: The longest free text (a kill reason, a ticket, a limit, a stop, a history filter).
TEXT_MAX = 500
#: The longest export path.
PATH_MAX = 4096
#: The fields that carry free text or a path; every other text field is an identifier.
TEXT_LIMITS = {
    "reason": TEXT_MAX,
    "assignment": TEXT_MAX,
    "ticket": TEXT_MAX,
    "stop": TEXT_MAX,
    "filter": TEXT_MAX,
    "path": PATH_MAX,
}
#: ``history``'s paging: a row offset SQLite can hold, a page the reads allow.
OFFSET_MAX = 2**62
PAGE_MAX = 1000
#: How much of an unknown ``cmd`` a refusal quotes.
_QUOTED_MAX = 40


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where unknown):
    the server lets only its own user in, a client talks only to its own user's desk."""
    if sock is None:
        return None
    if hasattr(socket, "SO_PEERCRED"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return uid
    getpeereid = getattr(sock, "getpeereid", None)  # not in CPython, but cheap to honour
    return getpeereid()[0] if getpeereid else None


def socket_path_for(database: str | Path) -> Path:
    """The control socket that lives beside a database: ``state.db`` → ``state.db.sock``."""
    database = Path(database)
    return database.with_name(database.name + ".sock")


# -- the words -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RequestKind:
    """One word of the protocol: what it carries and, for a desk command, its class.

    ``argument`` is the name of the one field it carries ("" for none); a ``required``
    text argument may not be empty. ``ctl`` says whether ``kitetui ctl`` offers it
    (``watch`` streams, which a one-shot command line cannot show). ``words``: ``ctl``
    takes the rest of its line, several words, as the argument.
    """

    name: str
    argument: str = ""
    argument_type: Any = str
    required: bool = False
    default: Any = None
    command: type[Command] | None = None
    ctl: bool = True
    #: A read's further optional fields: (name, type, default) each.
    more: tuple[tuple[str, Any, Any], ...] = ()
    words: bool = False  # ``kitetui ctl`` joins the rest of its line into the argument


#: The reads: they ask the desk for something and change nothing.
READS = (
    RequestKind("status"),
    RequestKind("watch", ctl=False),
    RequestKind("order", "tag", required=True),
    RequestKind("chart", "symbol", required=True, ctl=False),
    # The database's history (kitetui/history_reads.py): ``run`` is an id, a unique
    # prefix or "latest"; "" is the desk's own run.
    RequestKind("runs", ctl=False),
    RequestKind(
        "history",
        "table",
        required=True,
        ctl=False,
        more=(
            ("run", str, ""),
            ("filter", str, ""),
            ("offset", Annotated[int, Field(strict=True, ge=0, le=OFFSET_MAX)], 0),
            ("limit", Annotated[int, Field(strict=True, ge=1, le=PAGE_MAX)], 100),
        ),
    ),
    RequestKind("run-report", "run", default="", ctl=False),
    RequestKind(
        "export", "what", required=True, ctl=False, more=(("run", str, ""), ("path", str, ""))
    ),
)


def command_kind(cls: type[Command]) -> RequestKind:
    """The word of a command class, from its ``name`` and its dataclass field."""
    fields = dataclasses.fields(cls)
    if len(fields) > 1:
        raise TypeError(
            f"{cls.__name__}: a control command carries at most one argument "
            f"(kitetui ctl takes one); it has {', '.join(f.name for f in fields)}"
        )
    if not fields:
        return RequestKind(cls.name, command=cls)
    field = fields[0]
    required = field.default is dataclasses.MISSING
    if required and field.default_factory is not dataclasses.MISSING:
        raise TypeError(f"{cls.__name__}.{field.name}: give it a plain default, not a factory")
    return RequestKind(
        cls.name,
        field.name,
        argument_type=typing.get_type_hints(cls)[field.name],
        required=required,
        default=None if required else field.default,
        command=cls,
        words=getattr(cls, "words", False),
    )


def _requests() -> dict[str, RequestKind]:
    requests: dict[str, RequestKind] = {}
    for kind in (*READS, *(command_kind(cls) for cls in COMMANDS)):
        if not kind.name or kind.name in requests:
            raise TypeError(f"request word {kind.name!r} is empty or declared twice")
        requests[kind.name] = kind
    return requests


#: Every word the socket understands, reads first, then the commands in declared order.
REQUESTS: dict[str, RequestKind] = _requests()
KNOWN_COMMANDS = tuple(REQUESTS)


def command_to_request(command: Command) -> dict[str, Any]:
    """``FlattenPosition("SBIN")`` → ``{"cmd": "flatten", "symbol": "SBIN"}``."""
    if type(command) not in COMMANDS:
        raise TypeError(f"not a desk command: {command!r}")
    fields = dataclasses.fields(command)
    return {"cmd": command.name, **{f.name: getattr(command, f.name) for f in fields}}


# -- validating a request --------------------------------------------------------------


class Request(BaseModel):
    """What every request has; the generated model of each word adds its argument."""

    # defer_build: a model's validator is built by ``_request_adapter``, when needed
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    id: RequestId = None
    cmd: str


def _printable(text: str) -> str:
    if not text.isprintable():
        raise ValueError("must be printable text: no newline, tab, ESC or other control character")
    return text


def bounded_text(name: str) -> Any:
    """The type of text field ``name``: strict text of at most its limit, printable only
    (``TEXT_LIMITS``, else ``IDENTIFIER_MAX``): nothing unbounded or able to repaint a
    terminal reaches the journal or a snapshot from the socket."""
    limit = TEXT_LIMITS.get(name, IDENTIFIER_MAX)
    return Annotated[str, Field(strict=True, max_length=limit), AfterValidator(_printable)]


def _field_type(name: str, tp: Any) -> Any:
    return bounded_text(name) if tp is str else tp


def _model(kind: RequestKind) -> type[Request]:
    fields: dict[str, Any] = {"cmd": (Literal[kind.name], ...)}
    if kind.argument:
        tp = _field_type(kind.argument, kind.argument_type)
        if kind.required:
            needed = Field(min_length=1) if kind.argument_type is str else ...
            fields[kind.argument] = (tp, needed)
        else:
            fields[kind.argument] = (tp, kind.default)
    for name, tp, default in kind.more:
        fields[name] = (_field_type(name, tp), default)
    title = "".join(part.title() for part in kind.name.split("-"))
    return create_model(f"{title}Request", __base__=Request, **fields)


@functools.cache
def _request_adapter() -> TypeAdapter[Request]:
    """The validator of every word, built on the first request a desk is sent, not at
    import: every process that starts a desk or runs ``kitetui ctl`` imports this module,
    and most never parse a request (the build was ~20 ms of each start-up)."""
    models = tuple(_model(kind) for kind in REQUESTS.values())
    return TypeAdapter(
        Annotated[Union[models], Field(discriminator="cmd")]  # noqa: UP007 (a runtime tuple)
    )


def parse_request(line: bytes) -> tuple[RequestId, Request | str]:
    """The request on one line, or an error message; the id is echoed when it can be read."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        return None, f"bad JSON: {exc}"
    except RecursionError:  # ``[[[[…`` a hundred thousand deep
        return None, "bad JSON: nested too deeply"
    if not isinstance(data, dict):
        return None, 'a request is a JSON object like {"id": 1, "cmd": "status"}'
    request_id = data.get("id")
    if not isinstance(request_id, int | str) or isinstance(request_id, bool):
        request_id = None
    cmd = data.get("cmd")
    if not isinstance(cmd, str) or cmd not in REQUESTS:  # a list or a dict is unhashable
        return request_id, f"unknown cmd {_quoted(cmd)}; known: {', '.join(KNOWN_COMMANDS)}"
    try:
        return request_id, _request_adapter().validate_python(data)
    except RecursionError:
        return request_id, f"bad {cmd} request: nested too deeply"
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        return request_id, f"bad {cmd} request: {problems}"


def _quoted(value: Any) -> str:
    """A short repr of what a client sent, for a refusal (never the whole of it)."""
    if isinstance(value, str | int | float | bool | None):
        text = repr(value)
    else:
        text = f"<a JSON {'array' if isinstance(value, list) else 'object'}>"
    return text if len(text) <= _QUOTED_MAX else text[: _QUOTED_MAX - 1] + "…"


def request_to_command(request: Request) -> Command | None:
    """The command object a request names, or None for a read (status, watch, order)."""
    kind = REQUESTS[request.cmd]
    if kind.command is None:
        return None
    return kind.command(**request.model_dump(exclude={"id", "cmd"}))


def encode_line(message: dict[str, Any]) -> bytes:
    """One JSON line as the socket carries it (compact, newline-terminated)."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


# -- snapshots over JSON ---------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _from_json(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        if not args:
            return tuple(value)
        return tuple(_from_json(a, v) for a, v in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        # Optional[X]: the None case was handled above
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _from_json(inner[0], value) if len(inner) == 1 else value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(
            **{
                f.name: _from_json(hints[f.name], value[f.name])
                for f in dataclasses.fields(tp)
                if f.name in value
            }
        )
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def snapshot_to_json(snapshot: DeskSnapshot) -> dict[str, Any]:
    """A JSON-ready dict of every field of the snapshot and its views."""
    return _to_json(snapshot)


def snapshot_from_json(data: dict[str, Any]) -> DeskSnapshot:
    """The exact inverse of ``snapshot_to_json``."""
    return _from_json(DeskSnapshot, data)


def order_detail_to_json(detail: OrderDetail) -> dict[str, Any]:
    """A JSON-ready dict of an order's history and fills."""
    return _to_json(detail)


def order_detail_from_json(data: dict[str, Any]) -> OrderDetail:
    """The exact inverse of ``order_detail_to_json``."""
    return _from_json(OrderDetail, data)


def chart_to_json(chart: ChartView) -> dict[str, Any]:
    """A JSON-ready dict of a price chart (None stands for an indicator's missing value)."""
    return _to_json(chart)


def chart_from_json(data: dict[str, Any]) -> ChartView:
    """The exact inverse of ``chart_to_json``."""
    return _from_json(ChartView, data)


def view_to_json(view: Any) -> Any:
    """Any view (a ``HistoryPage``, a ``RunReportView``, a tuple of ``RunView``…) as JSON."""
    return _to_json(view)


def view_from_json(tp: Any, data: Any) -> Any:
    """The exact inverse of ``view_to_json`` for a view of type ``tp``
    (``tuple[RunView, ...]`` for a list)."""
    return _from_json(tp, data)
