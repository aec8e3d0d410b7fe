"""Commands from a person — a key in the TUI, ``kitetui ctl``, a signal — acted on.

Every door sends the same command objects (``kitetui/commands.py``); this is where they
become actions on the desk, on the desk's own loop between batches. A command that fails
never takes the desk down: it is refused, with the reason, and journaled either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitetui.commands import (
    CancelOrder,
    Command,
    CommandResult,
    FlattenPosition,
    ModifyStop,
    PauseEntries,
    PlaceTicket,
    ResetKillSwitch,
    ResumeEntries,
    SetRiskLimit,
    StartEngine,
    StopEngine,
    TriggerKillSwitch,
)
from kitetui.domain import EngineState, Event, OrderPurpose
from kitetui.events import EventKind
from kitetui.store import runs as runs_repo
from kitetui.store.rows import ENGINE_STATES_KEY, KEPT_ENGINE_STATES
from kitetui.supervisor.manual import ManualControls
from kitetui.views import OrderDetail

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor

_ALL = frozenset(EngineState)

# An engine command: the states it acts from, the state it leaves, and what it says when
# it acts, when the engine is in no state to, and when there is no such engine.
_ENGINE_MOVES = {
    StartEngine: (_ALL - {EngineState.RUNNING}, EngineState.RUNNING,
                  "engine {} started", "engine {} is already running", "no engine named {!r}"),
    StopEngine: (_ALL - {EngineState.STOPPED}, EngineState.STOPPED,
                 "engine {} stopped (positions and stops stay)", "engine {} is already stopped",
                 "no engine named {!r}"),
    PauseEntries: ({EngineState.RUNNING}, EngineState.PAUSED,
                   "engine {}: entries paused, exits go on", "engine {!r} is not running",
                   "engine {!r} is not running"),
    ResumeEntries: ({EngineState.PAUSED}, EngineState.RUNNING, "engine {}: entries resumed",
                    "engine {!r} is not paused", "engine {!r} is not paused"),
}  # fmt: skip


class CommandHandler:
    def __init__(self, desk: Supervisor) -> None:
        self.desk = desk
        self.manual = ManualControls(desk)

    async def execute(self, command: Command) -> CommandResult:
        desk = self.desk
        try:
            result = await self._execute(command)
        except Exception as exc:  # a command must never take the desk down
            result = CommandResult(False, f"{type(command).__name__} failed: {exc}")
        desk.trader.record_event(
            Event(
                ts_ns=desk.clock.now_ns,
                kind=EventKind.COMMAND_EXECUTED if result.ok else EventKind.COMMAND_REFUSED,
                level="INFO" if result.ok else "WARNING",
                message=result.message,
                data={"command": type(command).__name__},
            )
        )
        desk.publish()
        return result

    async def _execute(self, command: Command) -> CommandResult:
        match command:
            case StartEngine(engine=name) | StopEngine(engine=name):
                return await self._move_engine(command, name)
            case PauseEntries(engine=name) | ResumeEntries(engine=name) if name:
                return await self._move_engine(command, name)
            case PauseEntries() | ResumeEntries():
                return await self._desk_entries(isinstance(command, PauseEntries))
            case TriggerKillSwitch(reason=reason):
                return await self._kill(reason)
            case ResetKillSwitch():
                return await self._reset_kill()
            case FlattenPosition(symbol=symbol):
                return await self._flatten(symbol)
            case CancelOrder(tag=tag):
                return await self._cancel(tag)
            case SetRiskLimit(assignment=assignment):
                return await self.manual.set_limit(assignment)
            case PlaceTicket(ticket=ticket):
                return await self.manual.place_ticket(ticket)
            case ModifyStop(stop=stop):
                return await self.manual.modify_stop(stop)
        return CommandResult(False, f"unknown command {command!r}")

    async def _cancel(self, tag: str) -> CommandResult:
        """A working order, cancelled; not the protective stop of an open position:
        without it the position would sit unprotected until something else moved
        (rule 11), so the stop is moved (``m``) or the position closed (``f``)."""
        trader = self.desk.trader
        order = trader.orders.get(tag)
        if trader.not_ours(tag):
            return CommandResult(
                False, f"order {tag} was not placed by kitetui: cancel or change it in Kite"
            )
        if (
            order is not None
            and order.purpose is OrderPurpose.STOP
            and not order.status.is_terminal
            and trader.position_qty(order.symbol) != 0
        ):
            return CommandResult(
                False,
                f"order {tag} is the protective stop of the open {order.symbol} position: "
                "move it (m, ctl modify-stop) or close the position (f, ctl flatten)",
            )
        done = await trader.cancel(tag, "cancelled by user")
        if order is not None:
            await trader.exits.settle(order.symbol, cause=f"cancel-{tag}")
        return CommandResult(done, f"order {tag} " + ("cancelled" if done else "is not open"))

    async def _move_engine(self, command: Command, name: str) -> CommandResult:
        """Start, stop, pause or resume one engine; journaled, so a restart of the run
        keeps an engine the trader stopped stopped (it came back RUNNING)."""
        sources, target, done, refused, unknown = _ENGINE_MOVES[type(command)]
        desk = self.desk
        engine = next((e for e in desk.engines if e.name == name), None)
        if engine is None:
            return CommandResult(False, unknown.format(name))
        if engine.state not in sources:
            return CommandResult(False, refused.format(name))
        engine.state = target
        if isinstance(command, StartEngine):
            engine.last_error = ""
        states = {e.name: e.state.value for e in desk.engines if e.state in KEPT_ENGINE_STATES}
        await desk.journal.set_desk_state(
            ENGINE_STATES_KEY, {"run_id": desk.run_id, "states": states}
        )
        return CommandResult(True, done.format(name))

    async def _desk_entries(self, pause: bool) -> CommandResult:
        risk = self.desk.risk
        if pause:
            risk.pause_entries()
        else:
            risk.resume_entries()
        await self.persist_risk()
        return CommandResult(
            True, "entries paused; exits and stops keep working" if pause else "entries resumed"
        )

    async def _kill(self, reason: str) -> CommandResult:
        desk = self.desk
        desk.risk.trigger_kill(reason)
        # Said and committed before the flatten waits on the exchange: the bell and the
        # hook ring now, and a crash mid-flatten still leaves the pull in the journal.
        desk.trader.record_event(
            Event(
                ts_ns=desk.clock.now_ns,
                kind=EventKind.KILL_SWITCH_PULLED,
                level="ERROR",
                message=f"kill switch pulled ({reason}): cancelling entries, closing positions",
            )
        )
        await desk.journal.set_desk_state("kill_switch", {"on": True, "reason": reason})
        closing = await self.apply_kill(reason)
        unsent = desk.trader.exits.unsent_closes()
        waiting = (
            f", {len(unsent)} not accepted yet and retrying ({', '.join(unsent)}: "
            "see ExitRetryScheduled)"
            if unsent
            else ""
        )
        return CommandResult(
            True,
            f"KILL SWITCH ON: entries cancelled; {closing - len(unsent)} positions closing at "
            f"the exchange{waiting}; trading halted until reset",
        )

    async def _reset_kill(self) -> CommandResult:
        desk = self.desk
        if not desk.risk.kill_switch:
            return CommandResult(False, "the kill switch is not on")
        desk.risk.reset_kill()
        await desk.journal.set_desk_state("kill_switch", {"on": False, "reason": ""})
        await self.persist_risk()
        return CommandResult(True, "kill switch reset")

    async def _flatten(self, symbol: str) -> CommandResult:
        trader = self.desk.trader
        if trader.position_qty(symbol) == 0:
            return CommandResult(False, f"no open position in {symbol}")
        placed = await trader.flatten(symbol, OrderPurpose.FLATTEN, "manual flatten")
        held = trader.exits.held_as(symbol)
        if held is not None:  # Kite holds less than kitetui: only that is closed
            qty = trader.position_qty(symbol)
            return CommandResult(
                placed,
                f"flatten {symbol}: closing at most what Kite holds of kitetui's {qty:+d}, "
                f"not the {held[0]} it is not known to hold ({held[1]})",
            )
        if not placed:
            return CommandResult(False, f"flatten {symbol}: already working")
        if symbol in trader.exits.unsent_closes():
            return CommandResult(
                True,
                f"flatten {symbol}: the close was not accepted yet and is retrying "
                "(see ExitRetryScheduled)",
            )
        return CommandResult(True, f"flatten {symbol}: closing order at the exchange")

    async def apply_kill(self, reason: str) -> int:
        """Entries are cancelled; every position is closed through the exit manager,
        which turns each stop into the close in place (never a moment uncovered)."""
        placed = await self.desk.trader.flatten_all(OrderPurpose.FLATTEN, f"kill switch: {reason}")
        await self.persist_risk()
        return placed

    async def persist_risk(self) -> None:
        desk = self.desk
        desk.journal.set_risk_state(desk.risk.to_state())
        await desk.journal.flush()

    async def order_detail(self, tag: str) -> OrderDetail | None:
        """An order's history and fills for the detail pane, read after a journal flush."""
        desk = self.desk
        await desk.journal.flush()
        return await runs_repo.load_order_detail(desk.db, tag)
