"""``kitetui ctl``: its arguments (derived from the protocol), output and exit codes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys

import pytest
from control_helpers import ORDER_DETAIL

from kitetui.commands import (
    CancelOrder,
    FlattenPosition,
    ModifyStop,
    PlaceTicket,
    SetRiskLimit,
    TriggerKillSwitch,
)
from kitetui.control.ctl import CTL_COMMANDS, build_ctl_parser, ctl_request, run_ctl
from kitetui.control.protocol import order_detail_from_json, snapshot_from_json

T = 5.0


async def ctl(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run_ctl, list(argv)), T)


@pytest.mark.parametrize(
    ("command", "arg", "expected"),
    [
        ("status", None, {}),
        ("status", "x", "status takes no argument"),
        ("order", "eq-1", {"tag": "eq-1"}),
        ("order", None, "order needs a tag"),
        ("start", "fno", {"engine": "fno"}),
        ("stop", "", "stop needs a engine"),
        ("pause", None, {}),
        ("pause", "eq", {"engine": "eq"}),
        ("kill", "fat finger", {"reason": "fat finger"}),
        ("reset-kill", None, {}),
        ("reset-kill", "now", "reset-kill takes no argument"),
        ("flatten", "SBIN", {"symbol": "SBIN"}),
        ("cancel", None, "cancel needs a tag"),
        # as argparse hands them over: a list of the words after the command
        ("flatten", ["SBIN"], {"symbol": "SBIN"}),
        ("flatten", ["SBIN", "NOW"], "flatten takes one symbol, not 2"),
        ("status", [], {}),
        ("set-limit", ["max_daily_loss=5000"], {"assignment": "max_daily_loss=5000"}),
        ("set-limit", [], "set-limit needs a assignment"),
        ("modify-stop", ["SBIN", "801.5"], {"stop": "SBIN 801.5"}),
        ("ticket", ["BUY", "1", "SBIN", "STOP", "800"], {"ticket": "BUY 1 SBIN STOP 800"}),
    ],
)
def test_ctl_request_with_command_line_gives_arguments_or_the_problem(command, arg, expected):
    assert ctl_request(command, arg) == expected


async def test_run_ctl_with_words_sends_them_as_one_text(served, capsys):
    desk, server = served
    path = str(server.path)
    assert await ctl("--socket", path, "set-limit", "max_open_positions=3") == 0
    assert await ctl("--socket", path, "modify-stop", "SBIN", "801.5") == 0
    assert (
        await ctl("--socket", path, "ticket", "SELL", "2", "SBIN", "LIMIT", "812", "STOP", "830")
        == 0
    )
    assert await ctl("--socket", path, "flatten", "SBIN", "NOW") == 2
    assert desk.commands == [
        SetRiskLimit("max_open_positions=3"),
        ModifyStop("SBIN 801.5"),
        PlaceTicket("SELL 2 SBIN LIMIT 812 STOP 830"),
    ]
    assert "flatten takes one symbol, not 2" in capsys.readouterr().err


def test_ctl_commands_with_protocol_offer_every_word_but_watch():
    assert CTL_COMMANDS == (
        "status",
        "order",
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
    help_text = build_ctl_parser().format_help()
    for argument in ("tag (order, cancel)", "engine (start, stop, pause, resume)", "symbol"):
        assert argument in " ".join(help_text.split())


async def test_run_ctl(served, capsys, sock_dir):
    desk, server = served
    path = str(server.path)
    assert await ctl("--socket", path, "status") == 0
    out = capsys.readouterr().out
    for text in ("paper", "2024-01-05", "ACTIVE", "eq", "fno", "NIFTY24JANFUT", "eq-2", "1,127.50"):
        assert text in out
    assert "eq-1" not in out  # complete: not an open order

    assert await ctl("--db", str(sock_dir / "state.db"), "--json", "status") == 0
    assert snapshot_from_json(json.loads(capsys.readouterr().out)["snapshot"]) == desk.published

    assert await ctl("--socket", path, "flatten", "SBIN") == 0
    assert "done: FlattenPosition" in capsys.readouterr().out
    assert await ctl("--socket", path, "--json", "cancel", "nope") == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert await ctl("--socket", path, "kill") == 0
    assert desk.commands == [FlattenPosition("SBIN"), CancelOrder("nope"), TriggerKillSwitch()]
    assert await ctl("--socket", path, "flatten") == 2
    capsys.readouterr()

    assert await ctl("--socket", path, "order", "eq-1") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "order eq-1"
    statuses = [line.split()[3] for line in lines if "IST" in line and "BUY" not in line]
    assert statuses == ["NEW", "OPEN", "COMPLETE"]
    assert "2024-01-05 13:15:00 IST" in out and "breakout" in out
    assert "eq-1-1" in out and "eq-1-2" in out and "601.00" in out
    assert "filled 10 at an average of 600.60" in out
    assert await ctl("--socket", path, "--json", "order", "eq-1") == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["ok"] is True and order_detail_from_json(reply["detail"]) == ORDER_DETAIL
    assert await ctl("--socket", path, "order", "zz-9") == 1
    assert "no order 'zz-9'" in capsys.readouterr().err
    assert await ctl("--socket", path, "--json", "order", "zz-9") == 1
    assert json.loads(capsys.readouterr().out)["detail"] is None
    assert await ctl("--socket", path, "order", "boom") == 1
    assert "database is locked" in capsys.readouterr().err
    assert await ctl("--socket", path, "order") == 2
    capsys.readouterr()

    assert await ctl("--socket", str(sock_dir / "nothing.sock"), "status") == 3
    assert "kitetui run --no-ui" in capsys.readouterr().err


async def test_run_ctl_with_missing_or_extra_argument_exits_2_saying_why(served, capsys):
    _desk, server = served
    path = str(server.path)
    assert await ctl("--socket", path, "start") == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kitetui ctl")
    assert err.rstrip().endswith("kitetui ctl: start needs a engine")
    assert await ctl("--socket", path, "status", "now") == 2
    assert capsys.readouterr().err == "kitetui ctl: status takes no argument\n"
    assert await ctl("--socket", path, "launch") == 2  # argparse's own refusal
    assert "invalid choice: 'launch'" in capsys.readouterr().err


async def test_cancel_with_protective_stop_needs_force_and_says_why(served, capsys):
    desk, server = served
    path = str(server.path)
    assert await ctl("--socket", path, "cancel", "eq-2") == 1
    err = capsys.readouterr().err
    assert "eq-2 is the protective stop of SBIN (SELL 10 SL-M @ 590.00)" in err
    assert "without a stop" in err and "--force" in err
    assert await ctl("--socket", path, "cancel", "eq") == 1  # a prefix of the same stop
    capsys.readouterr()
    assert desk.commands == []
    assert await ctl("--socket", path, "cancel", "--force", "eq") == 0
    assert desk.commands == [CancelOrder("eq-2")]  # the prefix resolved to the whole tag


async def test_cancel_with_a_repriced_stop_says_its_limit_not_zero(served, capsys):
    """Probe D: a stop that triggered and was re-priced is a LIMIT whose trigger is 0,
    and the refusal said "@ 0.00" of an order resting at 75.20."""
    desk, server = served
    stop = next(o for o in desk.published.orders if o.tag == "eq-2")
    repriced = dataclasses.replace(
        stop, order_type="LIMIT", status="OPEN", price=575.2, trigger_price=0.0
    )
    desk.published = dataclasses.replace(
        desk.published,
        orders=tuple(repriced if o.tag == "eq-2" else o for o in desk.published.orders),
    )
    assert await ctl("--socket", str(server.path), "cancel", "eq-2") == 1
    assert "(SELL 10 LIMIT @ 575.20)" in capsys.readouterr().err


async def test_cancel_of_an_order_that_is_not_a_stop_needs_no_force(served, capsys):
    desk, server = served
    assert await ctl("--socket", str(server.path), "cancel", "eq-1") == 0  # finished: desk says
    assert desk.commands == [CancelOrder("eq-1")]


async def test_status_with_kill_switch_on_says_entries_blocked_and_drawdown_negative(
    served, capsys
):
    desk, server = served
    snapshot = desk.published
    desk.published = dataclasses.replace(
        snapshot,
        risk=dataclasses.replace(snapshot.risk, kill_switch=True, max_drawdown=250.0),
    )
    assert await ctl("--socket", str(server.path), "status") == 0
    out = capsys.readouterr().out
    assert "kill switch ON  entries BLOCKED" in out
    assert "entries open" not in out
    assert "max drawdown -250.00" in out


async def test_status_into_a_closed_pipe_prints_no_traceback(served):
    """``kitetui ctl status | head -1``: the reader leaves before ctl has written."""
    _desk, server = served
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kitetui",
            "ctl",
            "--socket",
            str(server.path),
            "status",
            stdout=write_end,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert "Traceback" not in err.decode() and "BrokenPipe" not in err.decode()
    assert process.returncode == 0


async def test_status_of_a_multi_day_run_says_today_and_the_run_and_lists_todays_positions(
    served, capsys
):
    desk, server = served
    snapshot = desk.published
    old, today = snapshot.positions
    desk.published = dataclasses.replace(
        snapshot,
        day="2024-01-05",
        positions=(
            dataclasses.replace(old, quantity=0, realized=-300.0, today=False),
            dataclasses.replace(today, day_realized=10.0),
        ),
        risk=dataclasses.replace(
            snapshot.risk, day_realized=10.0, day_max_drawdown=0.0, max_drawdown=900.0, days=3
        ),
    )
    assert await ctl("--socket", str(server.path), "status") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    today = next(i for i, line in enumerate(lines) if line.startswith("today "))
    assert lines[today].startswith("today     net P&L +1,127.50")
    assert lines[today].endswith("(2024-01-05)")
    assert lines[today + 1].strip().startswith("realized +10.00")
    assert lines[today + 1].endswith("max drawdown 0.00")
    assert lines[today + 2].startswith("run ") and lines[today + 2].endswith("over 3 day(s)")
    assert lines[today + 3].endswith("max drawdown -900.00")
    assert "positions today (1)" in out
    listed = out.split("positions today")[1].split("open orders")[0]
    assert "NIFTY24JANFUT" in listed and "SBIN" not in listed


def test_status_shows_day_and_run_pnl_net_gross_and_charges_by_component() -> None:
    from kitetui.control.ctl import format_status
    from kitetui.views import DeskSnapshot, PositionView, RiskView

    risk = RiskView(
        state="ACTIVE",
        kill_switch=False,
        entries_paused=False,
        halt_reason="",
        day_pnl=-1243.5,
        realized=-1000.0,
        unrealized=-100.0,
        max_drawdown=1500.0,
        day_gross_pnl=-1100.0,
        day_charges=143.5,
        charges=143.5,
        charges_by_component=(("brokerage", 80.0), ("stt", 30.0), ("gst", 33.5)),
    )
    position = PositionView(
        "SBIN", "eq", "MIS", 10, 600.0, 590.0, 0.0, -100.0, charges=12.3, day_charges=12.3
    )
    text = format_status(
        DeskSnapshot(1, "paper", "run", 0, "RUNNING", "max", positions=(position,), risk=risk)
    )
    assert "today     net P&L -1,243.50  gross -1,100.00  charges 143.50" in text
    assert "run       net P&L -1,243.50  gross -1,100.00  charges 143.50" in text
    assert "charges   143.50  = brokerage 80.00  stt 30.00  gst 33.50" in text
    header, row = [line for line in text.splitlines() if "SBIN" in line or "CHARGES" in line]
    assert header.split()[6:9] == ["NET", "GROSS", "CHARGES"]
    assert row.split()[6:9] == ["-112.30", "-100.00", "12.30"]


def test_status_shows_margins_and_the_limits_changed_by_hand() -> None:
    from kitetui.control.ctl import format_status
    from kitetui.views import DeskSnapshot, LimitSetting, RiskView

    risk = RiskView(
        state="ACTIVE",
        kill_switch=False,
        entries_paused=False,
        halt_reason="",
        day_pnl=0.0,
        realized=0.0,
        unrealized=0.0,
        max_drawdown=0.0,
        settings=(
            LimitSetting("max_daily_loss", 5000.0, 20000.0, "above 0, at most 1"),
            LimitSetting("max_open_positions", 2.0, 5.0, "1 to 1,000", integer=True),
            LimitSetting("max_order_quantity", 100.0, 100.0, "1 to 1,000", integer=True),
        ),
        margin_used=109_503.0,
        margin_available=890_497.5,
        margin_source="rates",
    )
    text = format_status(DeskSnapshot(1, "replay", "run", 0, "RUNNING", "max", risk=risk))
    lines = text.splitlines()
    assert "margin    used 109,503.00  available 890,497.50  (rates)" in lines
    assert "limit     max_daily_loss 5,000.00 changed by hand (config 20,000.00)" in lines
    assert "limit     max_open_positions 2 changed by hand (config 5)" in lines
    assert "max_order_quantity" not in text
    # before any figure (an old desk, or none yet) there is no margin line
    quiet = format_status(
        DeskSnapshot(
            1,
            "replay",
            "run",
            0,
            "RUNNING",
            "max",
            risk=RiskView("ACTIVE", False, False, "", 0.0, 0.0, 0.0, 0.0),
        )
    )
    assert "margin" not in quiet and "limit " not in quiet


def test_status_prints_a_stored_kill_reason_escaped() -> None:
    """A reason an old database kept raw (ESC, CR, a newline) cannot repaint ``ctl status``."""
    from kitetui.control.ctl import format_status
    from kitetui.views import DeskSnapshot, RiskView

    forged = "x\x1b[2K\rrisk      ACTIVE  kill switch off\nentries open"
    risk = RiskView(
        state="HALTED",
        kill_switch=True,
        entries_paused=False,
        halt_reason=f"kill switch: {forged}",
        day_pnl=0.0,
        realized=0.0,
        unrealized=0.0,
        max_drawdown=0.0,
        blocks=(("loss", "over \x1b]0;t\x07", "tomorrow"),),
    )
    text = format_status(DeskSnapshot(1, "paper", "run", 0, "RUNNING", "max", risk=risk))
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    risk_lines = [line for line in text.splitlines() if line.startswith("risk")]
    assert len(risk_lines) == 1 and "kill switch ON" in risk_lines[0]
    assert "x\\x1b[2K\\rrisk" in risk_lines[0] and "\\nentries open" in risk_lines[0]
    assert "over \\x1b]0;t\\x07" in text


def test_an_orders_history_prints_a_brokers_reason_escaped() -> None:
    from kitetui.control.ctl import format_order
    from kitetui.views import OrderDetail, OrderEventView

    detail = OrderDetail(
        tag="T1",
        history=(OrderEventView(0, "REJECTED", "Bad \x1b]0;PWNED\x07\nfake line kind=Filled"),),
        fills=(),
    )
    text = format_order(detail)
    assert "\x1b" not in text and "\x07" not in text
    assert "Bad \\x1b]0;PWNED\\x07\\nfake line kind=Filled" in text
