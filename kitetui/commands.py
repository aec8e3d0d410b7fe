"""Commands a person (or a script) sends to the supervisor, and what comes back.

One set of imperatives for every door: a TUI key, ``kitetui ctl`` and the attach socket
all build these and hand them to the same control façade, so there is exactly one
place where a command is checked and carried out.

This module is the vocabulary's only declaration. ``name`` is a command's word on the
control socket and in ``kitetui ctl``; its fields (at most one, since ``ctl`` takes one
argument) are what it carries: a field without a default is required and may not be
empty, one with a default is optional. A command whose ``words`` is True takes the rest
of ``ctl``'s line as its text (``ctl modify-stop SBIN 801.5``). The socket's
validation, ``kitetui ctl``'s arguments and the client's requests are all derived from
these classes
(``kitetui/control/protocol.py``). A new command is one dataclass here, its entry in
``Command``, and one ``match`` arm in ``Supervisor._execute``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class StartEngine:
    """Let a stopped or paused engine trade again."""

    name: ClassVar[str] = "start"
    engine: str


@dataclass(frozen=True, slots=True)
class StopEngine:
    """Stop an engine's strategy; its positions and stops stay."""

    name: ClassVar[str] = "stop"
    engine: str


@dataclass(frozen=True, slots=True)
class PauseEntries:
    """Stop opening positions; exits, stops and square-off keep working.

    With ``engine`` set, only that engine stops opening positions.
    """

    name: ClassVar[str] = "pause"
    engine: str = ""


@dataclass(frozen=True, slots=True)
class ResumeEntries:
    """Allow new positions again (everywhere, or for one ``engine``)."""

    name: ClassVar[str] = "resume"
    engine: str = ""


@dataclass(frozen=True, slots=True)
class TriggerKillSwitch:
    """Cancel every order, flatten every position and halt until a reset."""

    name: ClassVar[str] = "kill"
    reason: str = "manual"


@dataclass(frozen=True, slots=True)
class ResetKillSwitch:
    """Clear the kill switch so trading may resume."""

    name: ClassVar[str] = "reset-kill"


@dataclass(frozen=True, slots=True)
class FlattenPosition:
    """Close one position at MARKET (its working orders are cancelled first)."""

    name: ClassVar[str] = "flatten"
    symbol: str


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel one open order by its client tag."""

    name: ClassVar[str] = "cancel"
    tag: str


@dataclass(frozen=True, slots=True)
class SetRiskLimit:
    """Change one risk limit for the rest of the run: ``max_daily_loss=5000``.

    Checked against the config's bounds (``kitetui/risk_limits.py``), journaled, and
    kept by a restart of the run. Its text may span words on ``kitetui ctl``'s line.
    """

    name: ClassVar[str] = "set-limit"
    words: ClassVar[bool] = True
    assignment: str


@dataclass(frozen=True, slots=True)
class PlaceTicket:
    """A manual entry: ``BUY 2 NIFTY24MAYFUT LIMIT 22500 STOP 22400``
    (``kitetui/order_ticket.py``): through the risk gate, protected by the exit manager."""

    name: ClassVar[str] = "ticket"
    words: ClassVar[bool] = True
    ticket: str


@dataclass(frozen=True, slots=True)
class ModifyStop:
    """Move a position's protective stop: ``NIFTY24MAYFUT 22410``."""

    name: ClassVar[str] = "modify-stop"
    words: ClassVar[bool] = True
    stop: str


Command = (
    StartEngine
    | StopEngine
    | PauseEntries
    | ResumeEntries
    | TriggerKillSwitch
    | ResetKillSwitch
    | FlattenPosition
    | CancelOrder
    | SetRiskLimit
    | PlaceTicket
    | ModifyStop
)

#: Every command class, in the order declared in ``Command``.
COMMANDS: tuple[type[Command], ...] = typing.get_args(Command)


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str
