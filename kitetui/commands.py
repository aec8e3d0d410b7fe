"""Commands a person (or a script) sends to the supervisor, and what comes back.

One set of imperatives for every door: a TUI key, ``kitetui ctl`` and the attach socket
all build these and hand them to the same control façade, so there is exactly one
place where a command is checked and carried out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StartEngine:
    engine: str


@dataclass(frozen=True, slots=True)
class StopEngine:
    engine: str


@dataclass(frozen=True, slots=True)
class PauseEntries:
    """Stop opening positions; exits, stops and square-off keep working.

    With ``engine`` set, only that engine stops opening positions.
    """

    engine: str = ""


@dataclass(frozen=True, slots=True)
class ResumeEntries:
    engine: str = ""


@dataclass(frozen=True, slots=True)
class TriggerKillSwitch:
    reason: str = "manual"


@dataclass(frozen=True, slots=True)
class ResetKillSwitch:
    pass


@dataclass(frozen=True, slots=True)
class FlattenPosition:
    symbol: str


@dataclass(frozen=True, slots=True)
class CancelOrder:
    tag: str


Command = (
    StartEngine
    | StopEngine
    | PauseEntries
    | ResumeEntries
    | TriggerKillSwitch
    | ResetKillSwitch
    | FlattenPosition
    | CancelOrder
)


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str
