"""The command vocabulary, declared once in ``kitetui/commands.py``, reaches every door.

For each command class: it is part of ``Command``; it round-trips through the control
protocol (object → request → JSON line → validated request → the same object); ``kitetui
ctl NAME [ARG]`` delivers it to a desk behind a real socket; and, when the TUI's key
table says a key sends it, pressing that key (on a row and in a desk state where the key
can run) sends it. Nothing here lists the commands again: a new command is picked up
from its declaration, and fails here until every door carries it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import shutil
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from control_helpers import FakeDesk, ctl_captured, make_snapshot, serving
from tui.fakes import FakeLink, busy_snapshot, halted_snapshot

from kitetui import commands
from kitetui.commands import COMMANDS, Command
from kitetui.control.ctl import CTL_COMMANDS
from kitetui.control.protocol import (
    REQUESTS,
    command_to_request,
    parse_request,
    request_to_command,
)
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.forms import LimitForm, StopForm, TicketForm
from kitetui.tui.keys import DESK_KEYS, DeskKey
from kitetui.tui.screens import ConfirmScreen, KillSwitchScreen
from kitetui.tui.tabs import TABS

T = 10.0
#: A value of each argument type a command may carry, for the examples below.
SAMPLES: dict[object, object] = {str: "x-1", int: 3, float: 1.5, bool: True}


def examples(cls: type[Command]) -> Iterator[Command]:
    """The command with its argument given, and with its default when it has one."""
    kind = REQUESTS[cls.name]
    if not kind.argument:
        yield cls()
        return
    if kind.argument_type not in SAMPLES:
        raise AssertionError(f"{cls.__name__}: add a sample {kind.argument_type} to SAMPLES")
    yield cls(**{kind.argument: SAMPLES[kind.argument_type]})
    if not kind.required:
        yield cls()


EXAMPLES = [command for cls in COMMANDS for command in examples(cls)]


def test_commands_module_declares_each_command_in_the_union() -> None:
    declared = {
        cls
        for _name, cls in inspect.getmembers(commands, inspect.isclass)
        if cls.__module__ == commands.__name__
        and dataclasses.is_dataclass(cls)
        and "name" in typing.get_type_hints(cls)
    }
    assert declared == set(COMMANDS)
    assert len({cls.name for cls in COMMANDS}) == len(COMMANDS)


@pytest.mark.parametrize("command", EXAMPLES, ids=repr)
def test_command_with_its_arguments_round_trips_through_the_protocol(command: Command) -> None:
    line = json.dumps({"id": 7, **command_to_request(command)}).encode()
    request_id, request = parse_request(line)
    assert request_id == 7
    assert not isinstance(request, str), request
    assert request_to_command(request) == command


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kt", dir="/tmp"))  # short: a Unix socket path
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_every_command_is_reachable_from_kitetui_ctl(sock_dir: Path) -> None:
    desk = FakeDesk(make_snapshot())
    async with serving(desk, sock_dir / "state.db.sock") as server:
        for command in EXAMPLES:
            assert command.name in CTL_COMMANDS
            kind = REQUESTS[command.name]
            given = kind.argument and getattr(command, kind.argument) != kind.default
            argv = ["--socket", str(server.path), command.name]
            argv += [str(getattr(command, kind.argument))] if given else []
            code, out, err = await asyncio.wait_for(asyncio.to_thread(ctl_captured, argv), T)
            assert (code, err) == (0, ""), argv
            assert out == f"done: {type(command).__name__}\n"
            assert desk.commands[-1] == command


# ---- the TUI's key table ---------------------------------------------------------------


async def _answer(app: KiteTuiApp, pilot) -> None:
    """Fill in the form a key opened, then confirm whatever the key asked (a y/n
    question, or the typed KILL)."""
    if isinstance(app.screen, LimitForm):
        await pilot.press("enter", "enter")  # the first limit, its value as it is
        await pilot.pause()
    elif isinstance(app.screen, TicketForm):
        app.screen.query_one("#ticket-symbol").value = "SBIN"
        app.screen.query_one("#ticket-stop").value = "800"
        await pilot.press("enter")
        await pilot.pause()
    elif isinstance(app.screen, StopForm):
        position = app.screen.position
        below = position.quantity > 0
        stop = position.last_price * (0.99 if below else 1.01)
        app.screen.query_one("#stop-price").value = f"{stop:.2f}"
        await pilot.press("enter")
        await pilot.pause()
    if isinstance(app.screen, ConfirmScreen):
        await pilot.press("y")
    elif isinstance(app.screen, KillSwitchScreen):
        await pilot.press("K", "I", "L", "L", "enter")
    await asyncio.wait_for(app.workers.wait_for_complete(), T)
    await pilot.pause()


async def _press_everywhere(app: KiteTuiApp, pilot, link: FakeLink, key: DeskKey):
    """Press ``key`` on every row (or once) where it can run; yield what each sent."""
    tab = key.tabs[0] if key.tabs else TABS[0]
    await pilot.press(str(TABS.index(tab) + 1))
    await pilot.pause()
    rows = app.desk.pane(tab).table.row_count if key.row else 1
    for index in range(rows):
        if key.row:
            app.desk.pane(tab).table.move_cursor(row=index, animate=False)
            await pilot.pause()
        if app.desk.allows(key.action) is not True:
            continue
        before = len(link.sent)
        await pilot.press(key.key)
        await pilot.pause()
        await _answer(app, pilot)
        yield link.sent[before:]


async def test_every_command_with_a_key_is_sent_by_pressing_it() -> None:
    keyed = {cls for key in DESK_KEYS for cls in key.sends}
    assert keyed <= set(COMMANDS)
    sent_by: dict[type, set[str]] = {}
    for snapshot in (busy_snapshot(), halted_snapshot()):
        link = FakeLink(snapshot)
        app = make_app(link)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for key in DESK_KEYS:
                if not key.sends:
                    continue
                async for sent in _press_everywhere(app, pilot, link, key):
                    assert len(sent) == 1, (key.key, sent)
                    assert type(sent[0]) in key.sends, (key.key, sent)
                    sent_by.setdefault(type(sent[0]), set()).add(key.key)
    for cls in keyed:
        keys = {key.key for key in DESK_KEYS if cls in key.sends}
        assert sent_by.get(cls) == keys, f"{cls.__name__}: keys {keys} sent it by {sent_by}"
