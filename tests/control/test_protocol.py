"""The protocol's words and JSON, without a socket: codec round trips and validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import ClassVar

import pytest
from control_helpers import CHART, ORDER_DETAIL, make_snapshot

from kitetui.commands import (
    COMMANDS,
    CancelOrder,
    FlattenPosition,
    PauseEntries,
    ResetKillSwitch,
    StartEngine,
    TriggerKillSwitch,
)
from kitetui.control.protocol import (
    IDENTIFIER_MAX,
    KNOWN_COMMANDS,
    OFFSET_MAX,
    PAGE_MAX,
    PATH_MAX,
    READS,
    REQUESTS,
    TEXT_MAX,
    chart_from_json,
    chart_to_json,
    command_kind,
    command_to_request,
    order_detail_from_json,
    order_detail_to_json,
    parse_request,
    request_to_command,
    snapshot_from_json,
    snapshot_to_json,
    socket_path_for,
)
from kitetui.views import (
    ChartMark,
    ChartView,
    DeskSnapshot,
    FeedView,
    FillView,
    LimitView,
    OrderDetail,
    OrderEventView,
    PerformanceRow,
    PerformanceView,
)


def test_snapshot_json_round_trip_is_exact():
    snapshot = make_snapshot()
    data = json.loads(json.dumps(snapshot_to_json(snapshot)))
    back = snapshot_from_json(data)
    assert back == snapshot
    assert isinstance(back.engines, tuple) and isinstance(back.engines[0].symbols, tuple)
    assert isinstance(back.signals[0].indicators[0], tuple)
    assert isinstance(back.risk.limits[0], LimitView)
    assert isinstance(back.equity_curve[0], tuple)
    assert isinstance(back.feed, FeedView) and back.feed == snapshot.feed
    assert back.feed.items_per_s == 412.5 and back.feed.session == "OPEN"
    assert back.published_wall_ns == snapshot.published_wall_ns == 1_704_440_701_250_000_000
    assert snapshot_from_json(snapshot_to_json(DeskSnapshot(0, "replay", "r", 0, "S", "max"))) == (
        DeskSnapshot(0, "replay", "r", 0, "S", "max")
    )


def test_order_detail_json_round_trip_is_exact():
    back = order_detail_from_json(json.loads(json.dumps(order_detail_to_json(ORDER_DETAIL))))
    assert back == ORDER_DETAIL
    assert isinstance(back.history, tuple) and isinstance(back.history[0], OrderEventView)
    assert isinstance(back.fills, tuple) and isinstance(back.fills[1], FillView)
    assert order_detail_from_json(order_detail_to_json(OrderDetail("x"))) == OrderDetail("x")


def test_socket_path_for_a_database_is_beside_it():
    assert socket_path_for("/var/lib/kitetui/state.db") == Path("/var/lib/kitetui/state.db.sock")
    assert socket_path_for(Path("runs") / "a.db") == Path("runs/a.db.sock")


def test_chart_json_round_trip_is_exact_with_missing_values():
    data = json.loads(json.dumps(chart_to_json(CHART), allow_nan=False))
    back = chart_from_json(data)
    assert back == CHART
    assert isinstance(back.bars, tuple) and isinstance(back.bars[0], tuple)
    assert back.indicators[0] == ("ema_fast", (None, 601.5))
    assert isinstance(back.marks[0], ChartMark) and back.marks[1].until_ns == 0
    empty = ChartView("X", "X", "e", "s", 60)
    assert chart_from_json(chart_to_json(empty)) == empty


def test_chart_read_needs_a_symbol_and_is_not_offered_by_ctl():
    _, request = parse_request(b'{"id": 3, "cmd": "chart", "symbol": "SBIN"}')
    assert not isinstance(request, str) and request.symbol == "SBIN"
    assert request_to_command(request) is None
    _, error = parse_request(b'{"cmd": "chart"}')
    assert isinstance(error, str) and "symbol" in error
    _, error = parse_request(b'{"cmd": "chart", "symbol": ""}')
    assert isinstance(error, str) and "symbol" in error
    assert REQUESTS["chart"].ctl is False


def test_parse_request_models():
    assert parse_request(b'{"cmd": "pause"}')[1].engine == ""
    assert isinstance(parse_request(b'{"cmd": "start", "engine": ""}')[1], str)


def test_known_commands_with_reads_first_then_the_declared_commands():
    assert KNOWN_COMMANDS == (
        "status",
        "watch",
        "order",
        "chart",
        "runs",
        "history",
        "run-report",
        "export",
        "start",
        "stop",
        "pause",
        "resume",
        "kill",
        "reset-kill",
        "flatten",
        "cancel",
        "set-limit",
        "ticket",
        "modify-stop",
    )
    assert [REQUESTS[c.name].command for c in COMMANDS] == list(COMMANDS)
    assert all(kind.command is None for kind in READS)


@pytest.mark.parametrize(
    ("line", "request_id", "error"),
    [
        (b"{not json", None, "bad JSON"),
        (b"[1, 2]", None, "a request is a JSON object"),
        (b'{"id": 7, "cmd": "launch-missiles"}', 7, "unknown cmd 'launch-missiles'; known: stat"),
        (b'{"id": 8, "cmd": "flatten"}', 8, "bad flatten request: symbol: Field required"),
        (b'{"id": "a", "cmd": "cancel", "tag": ""}', "a", "bad cancel request: tag: String sh"),
        (b'{"id": 9, "cmd": "status", "bogus": 1}', 9, "bad status request: bogus: Extra inp"),
        (b'{"id": true, "cmd": "kill", "reason": 5}', None, "bad kill request: reason: Input"),
        (b'{"cmd": "order"}', None, "bad order request: tag: Field required"),
        (b'{"cmd": "reset-kill", "reason": "x"}', None, "bad reset-kill request: reason: Extra"),
        # shapes that used to raise (unhashable cmd, recursion) instead of refusing
        (b'{"id": 7, "cmd": ["status"]}', 7, "unknown cmd <a JSON array>; known: status"),
        (b'{"cmd": {"a": 1}}', None, "unknown cmd <a JSON object>; known: status"),
        (b"[" * 100_000, None, "bad JSON: nested too deeply"),
        (b'{"cmd": "status", "id": ' + b"[" * 5000 + b"]" * 5000 + b"}", None, "bad JSON: nes"),
        (b'{"id": 3, "cmd": "' + b"x" * 5000 + b'"}', 3, "unknown cmd 'xxxxxxxxxxxxx"),
    ],
)
def test_parse_request_with_bad_line_names_what_is_wrong(line, request_id, error):
    got_id, got = parse_request(line)
    assert got_id == request_id
    assert isinstance(got, str) and got.startswith(error)
    assert len(got) < 400  # a refusal never quotes a whole hostile line


WIDEST = "x" * IDENTIFIER_MAX


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ({"cmd": "cancel", "tag": WIDEST + "x"}, "tag: String should have at most 100"),
        ({"cmd": "flatten", "symbol": WIDEST + "x"}, "symbol: String should have at most"),
        ({"cmd": "pause", "engine": WIDEST + "x"}, "engine: String should have at most"),
        ({"cmd": "order", "tag": WIDEST + "x"}, "tag: String should have at most"),
        ({"cmd": "history", "table": "events", "run": WIDEST + "x"}, "run: String should"),
        ({"cmd": "kill", "reason": "r" * (TEXT_MAX + 1)}, "reason: String should have at most"),
        ({"cmd": "ticket", "ticket": "t" * (TEXT_MAX + 1)}, "ticket: String should have"),
        ({"cmd": "history", "table": "events", "filter": "f" * (TEXT_MAX + 1)}, "filter: Str"),
        ({"cmd": "export", "what": "events", "path": "p" * (PATH_MAX + 1)}, "path: String"),
        ({"cmd": "kill", "reason": "x\x1b[2K\rrisk ACTIVE"}, "reason: Value error, must be prin"),
        ({"cmd": "kill", "reason": "two\nlines"}, "reason: Value error, must be printable"),
        ({"cmd": "cancel", "tag": "\x1b]0;title\x07"}, "tag: Value error, must be printable"),
        ({"cmd": "flatten", "symbol": "SBIN\x00"}, "symbol: Value error, must be printable"),
        ({"cmd": "export", "what": "events", "path": "a\x00b"}, "path: Value error, must be"),
    ],
)
def test_text_arguments_are_bounded_and_printable(wire, error):
    """Nothing unbounded or able to repaint a terminal reaches a journaled event or a
    snapshot from the socket: a refusal quotes what a command carried."""
    _id, got = parse_request(json.dumps(wire).encode())
    assert isinstance(got, str) and error in got


def test_text_arguments_at_their_limit_and_non_ascii_letters_pass():
    for request in (
        {"cmd": "cancel", "tag": WIDEST},
        {"cmd": "kill", "reason": "é" * TEXT_MAX},
        {"cmd": "kill", "reason": "fat finger — रुपया"},
    ):
        _id, got = parse_request(json.dumps(request).encode())
        assert not isinstance(got, str), got


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"limit": True}, "limit: Input should be a valid integer"),
        ({"offset": "5"}, "offset: Input should be a valid integer"),
        ({"limit": 1.0}, "limit: Input should be a valid integer"),
        ({"offset": -1}, "offset: Input should be greater than or equal to 0"),
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": PAGE_MAX + 1}, "limit: Input should be less than or equal to 1000"),
        ({"offset": 99999999999999999999999}, "offset: Input should be less than or equal"),
    ],
)
def test_history_paging_is_strict_and_bounded(fields, error):
    _id, got = parse_request(json.dumps({"cmd": "history", "table": "events", **fields}).encode())
    assert isinstance(got, str) and error in got
    _id, ok = parse_request(
        json.dumps({"cmd": "history", "table": "events", "offset": OFFSET_MAX, "limit": 7}).encode()
    )
    assert not isinstance(ok, str) and (ok.offset, ok.limit) == (OFFSET_MAX, 7)


@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (StartEngine("fno"), {"cmd": "start", "engine": "fno"}),
        (PauseEntries(), {"cmd": "pause", "engine": ""}),
        (TriggerKillSwitch(), {"cmd": "kill", "reason": "manual"}),
        (ResetKillSwitch(), {"cmd": "reset-kill"}),
        (FlattenPosition("SBIN"), {"cmd": "flatten", "symbol": "SBIN"}),
        (CancelOrder("eq-2"), {"cmd": "cancel", "tag": "eq-2"}),
    ],
)
def test_command_to_request_with_command_names_its_word_and_field(command, wire):
    assert command_to_request(command) == wire


def test_reads_are_no_command():
    for line in (b'{"cmd": "status"}', b'{"cmd": "watch"}', b'{"cmd": "order", "tag": "t"}'):
        _id, request = parse_request(line)
        assert not isinstance(request, str) and request_to_command(request) is None


def test_command_to_request_with_foreign_object_raises():
    @dataclasses.dataclass(frozen=True)
    class LaunchMissiles:
        name: ClassVar[str] = "launch"

    with pytest.raises(TypeError, match="not a desk command"):
        command_to_request(LaunchMissiles())  # type: ignore[arg-type]


def test_command_kind_with_two_fields_is_refused_naming_them():
    @dataclasses.dataclass(frozen=True)
    class ModifyStop:
        name: ClassVar[str] = "modify-stop"
        symbol: str
        price: float

    with pytest.raises(TypeError, match=r"ModifyStop: .* at most one argument.*symbol, price"):
        command_kind(ModifyStop)  # type: ignore[arg-type]


def test_command_kind_with_typed_argument_validates_that_type():
    @dataclasses.dataclass(frozen=True)
    class SetSpeed:
        name: ClassVar[str] = "speed"
        factor: float = 1.0

    kind = command_kind(SetSpeed)  # type: ignore[arg-type]
    assert (kind.argument, kind.argument_type, kind.required, kind.default) == (
        "factor",
        float,
        False,
        1.0,
    )


def test_snapshot_json_round_trip_carries_the_performance_rows():
    rows = (
        PerformanceRow("run", "all", trades=3, wins=2, losses=1, gross=1250.5, net=1190.25),
        PerformanceRow(
            "run",
            "engine",
            "fno",
            strategy="ema_cross",
            trades=3,
            avg_win=900.0,
            avg_loss=-610.0,
            profit_factor=2.95,
            expectancy=396.75,
            max_drawdown=610.0,
        ),
        PerformanceRow("2024-01-05", "all", open_trades=1, gross=-12.0, charges=60, net=-72.0),
    )
    snapshot = dataclasses.replace(make_snapshot(), performance=PerformanceView(rows))
    back = snapshot_from_json(json.loads(json.dumps(snapshot_to_json(snapshot))))
    assert back == snapshot
    assert isinstance(back.performance, PerformanceView)
    assert isinstance(back.performance.rows, tuple)
    assert all(isinstance(r, PerformanceRow) for r in back.performance.rows)
    assert back.performance.rows[1].avg_loss == -610.0 and back.performance.rows[0].avg_win is None
    assert isinstance(back.performance.rows[2].charges, float)  # an int on the wire
    assert back.performance.scoped("run") == rows[:2]
