"""The desk's lifecycle: build → start → run → stop → dispose, the same for every door.

The TUI, the headless daemon, replays and tests all run a desk this way, so what must
always happen happens in one place:

* **Signals first.** SIGTERM, SIGINT and SIGHUP ask for a stop, SIGUSR1 pulls the kill switch,
  from the first instant: a signal during start-up (the demo loads for seconds) is not
  lost. A stop asked for before trading begins means trading never begins; a kill
  switch pulled then is recorded as soon as the journal is open, and the positions the
  journal rebuilds are closed.
* **One desk per database.** The store is opened exclusively (``store/lock.py``): a
  second desk is refused before it writes anything.
* **The control socket in every mode**, so ``kitetui ctl kill`` reaches a TUI desk too.
* **One ``finally``.** The control socket closes, the run records how it ended (FINISHED,
  STOPPED or FAILED) and the store is closed, whatever failed and wherever.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

from kitetui import startup
from kitetui.commands import TriggerKillSwitch
from kitetui.config import one_line
from kitetui.control.protocol import socket_path_for
from kitetui.control.reads import HistoryReads
from kitetui.control.server import ControlServer, check_socket_path
from kitetui.store import runs as runs_repo
from kitetui.supervisor import Supervisor
from kitetui.supervisor.run_summary import RunSummary

Hook = Callable[[], object]


class Desk:
    """One supervisor's life on one event loop (see the module docstring)."""

    def __init__(
        self,
        supervisor: Supervisor,
        *,
        control: bool = True,
        control_path: Path | None = None,
        reads: HistoryReads | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.reads = reads  # the database's history, served on the socket (history_reads)
        self._control_wanted = control
        self._control_path = control_path
        self.control: ControlServer | None = None
        self._kill_reason = ""  # a kill switch pulled before the journal was open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._market_open = False
        # Why ``serve`` failed: a run refused before its market opened (its data, say)
        # is journaled with the reason, not left FAILED with no word (probe B 11).
        self._failure: Exception | None = None
        # The first signal that stopped the desk (SIGTERM, SIGINT), if one did: a backtest
        # cut short exits with 128 + its number, as a shell reports it.
        self.stop_signal: int | None = None

    # -- signals and requests (any thread) ----------------------------------------------

    def install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        """SIGTERM/SIGINT/SIGHUP stop, SIGUSR1 kills; for a desk on the main thread's loop.
        Signals the program held since its first instant (``startup``) act now. SIGHUP
        (the SSH session that started it dropped) killed the desk outright: no summary,
        no ``on_stop``, the run left RUNNING; it is a graceful stop like SIGTERM."""
        self._loop = loop
        loop.add_signal_handler(signal.SIGTERM, self._stop_on, signal.SIGTERM)
        loop.add_signal_handler(signal.SIGINT, self._stop_on, signal.SIGINT)
        if not startup.ignored(signal.SIGHUP):  # under nohup it stays ignored
            loop.add_signal_handler(signal.SIGHUP, self._stop_on, signal.SIGHUP)
        loop.add_signal_handler(signal.SIGUSR1, self.request_kill, "SIGUSR1")
        for signum in startup.take():
            if signum == signal.SIGUSR1:
                self.request_kill("SIGUSR1")
            else:
                self._stop_on(signum)

    def _stop_on(self, signum: int) -> None:
        if self.stop_signal is None:
            self.stop_signal = int(signum)
        self.request_stop()

    def request_stop(self) -> None:
        """Stop trading at the next batch (on the desk's loop)."""
        self.supervisor.request_stop()

    def request_kill(self, reason: str) -> None:
        """Pull the kill switch (on the desk's loop): now if trading, else at the start."""
        if self._market_open:
            asyncio.get_running_loop().create_task(
                self.supervisor.execute(TriggerKillSwitch(reason))
            )
        else:
            self._kill_reason = reason

    def threadsafe(self, action: Callable[..., object], *args: object) -> None:
        """Run ``action`` on the desk's loop from another thread (a signal in the TUI)."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(action, *args)

    # -- the life --------------------------------------------------------------------

    async def serve(
        self,
        *,
        on_store: Hook | None = None,
        on_market: Hook | None = None,
        linger: asyncio.Event | None = None,
    ) -> RunSummary | None:
        """Start, run to the end of the data (or a stop), then dispose — always.

        ``on_store``: called once the database is open (a refused one raises first);
        ``on_market``: once the market is loaded and trading is about to start;
        ``linger``: after the data ends, keep serving commands until it is set (the TUI
        stays up on a finished replay).
        """
        self._loop = self._loop or asyncio.get_running_loop()
        supervisor = self.supervisor
        summary: RunSummary | None = None
        failed = True
        try:
            if self._control_wanted:  # refused before the database gets a new run
                check_socket_path(self._socket_path())
            await supervisor.open_store()
            if on_store is not None:
                on_store()
            await supervisor.open_market()
            self._market_open = True
            if self._kill_reason:
                await supervisor.execute(TriggerKillSwitch(f"{self._kill_reason} during start-up"))
            if self._control_wanted:
                self.control = ControlServer(
                    supervisor,
                    self._socket_path(),
                    reads=self.reads,
                    on_event=supervisor.trader.record_event,  # a re-bound socket, journaled
                )
                await self.control.start()
            if on_market is not None:
                on_market()
            if not supervisor.stopping:
                summary = await supervisor.run()
                if linger is not None and not supervisor.stopping:
                    await linger.wait()
            failed = False
        except Exception as exc:
            self._failure = exc  # journaled by _dispose when the run never got going
            raise
        finally:
            await self._dispose(failed)
        return summary

    def _socket_path(self) -> Path:
        return self._control_path or socket_path_for(self.supervisor.db_path)

    async def _dispose(self, failed: bool) -> None:
        """Close the socket, record how the run ended, close the store; each step runs
        even when the one before it failed."""
        supervisor = self.supervisor
        try:
            if self.control is not None:
                await self.control.stop()
        finally:
            try:
                if self._market_open:
                    await supervisor.close()
                elif getattr(supervisor, "run_id", None) and hasattr(supervisor, "db"):
                    # The run was created, the market never opened: keep what was
                    # journaled (why it failed) and say how it ended.
                    journal = getattr(supervisor, "journal", None)
                    with contextlib.suppress(Exception):
                        if journal is not None:
                            await journal.close()
                    status = "FAILED" if failed and not supervisor.stopping else "STOPPED"
                    if status == "FAILED" and self._failure is not None:
                        with contextlib.suppress(Exception):  # a full disk: no reason kept
                            await runs_repo.note_refusal(
                                supervisor.db, supervisor.run_id, _refusal(self._failure)
                            )
                    with contextlib.suppress(Exception):
                        await runs_repo.finish_run(supervisor.db, supervisor.run_id, status)
            finally:
                db = getattr(supervisor, "db", None)
                if db is not None:
                    await db.close()


def _refusal(error: Exception) -> str:
    """The line a refused run keeps: what the terminal said, on one line."""
    return one_line(f"the run did not start: {error or type(error).__name__}", 500)
