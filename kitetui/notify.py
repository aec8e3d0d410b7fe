"""The systemd notify protocol (``sd_notify``), written by hand: no dependency.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (an absolute path, or ``@name``
for a Linux abstract socket) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and maybe
``WATCHDOG_PID``). A message is one datagram of ``KEY=value`` lines. Without
``NOTIFY_SOCKET`` (a terminal, a test, another supervisor) every call is a no-op, so
``kitetui run --no-ui`` can always call these.

Sending never raises: a full or missing socket costs a lost status line, never a stopped
desk. Nothing here reads or prints secrets: :func:`status_line` shows mode, engines,
positions and day P&L only.

The watchdog is :func:`watchdog_loop`, a task on the *same* asyncio loop as the
supervisor. That is the point: if the loop hangs (a blocking call, a deadlock, a runaway
computation) the task cannot run, no ``WATCHDOG=1`` goes out, and systemd kills and
restarts the service after ``WatchdogSec``. There is deliberately no timer thread: a
thread would keep pinging from a process whose trading loop is dead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitetui.views import DeskSnapshot

log = logging.getLogger(__name__)


def _address(value: str | None) -> str | bytes | None:
    """The socket address for ``NOTIFY_SOCKET``, or None when unset or unsupported."""
    if not value:
        return None
    if value.startswith("@"):  # Linux abstract namespace: a leading NUL byte
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # relative paths and vsock: addresses are not ours to guess


def _usec(value: str | None) -> int | None:
    try:
        usec = int(value) if value else 0
    except ValueError:
        return None
    return usec if usec > 0 else None


class Notifier:
    """Sends ``sd_notify`` datagrams to ``address``; with no address, does nothing."""

    def __init__(
        self,
        address: str | bytes | None = None,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self.watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        pid = environ.get("WATCHDOG_PID")
        try:
            watchdog_pid = int(pid) if pid else None
        except ValueError:
            watchdog_pid = -1  # set but unreadable: not provably ours, so no watchdog
        return cls(
            _address(environ.get("NOTIFY_SOCKET")),
            _usec(environ.get("WATCHDOG_USEC")),
            watchdog_pid,
        )

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: object) -> bool:
        """One datagram ``KEY=value\\n...``; True if it was handed to the socket."""
        if self.address is None or not fields:
            return False
        lines = []
        for key, value in fields.items():
            text = " ".join(str(value).splitlines())  # one field, one line
            lines.append(f"{key}={text}")
        payload = ("\n".join(lines) + "\n").encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)  # a stalled receiver must not stall us
            self._sock.sendto(payload, self.address)
        except OSError as exc:
            log.debug("sd_notify %s failed: %s", list(fields), exc)
            return False
        return True

    def ready(self) -> bool:
        return self.send(READY=1)

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        return self.send(STOPPING=1)

    def watchdog_interval_s(self) -> float | None:
        """``WATCHDOG_USEC`` in seconds, or None: unset, or ``WATCHDOG_PID`` names
        another process (the variable was inherited, the watchdog is not ours)."""
        if self.address is None or self.watchdog_usec is None:
            return None
        if self.watchdog_pid is not None and self.watchdog_pid != os.getpid():
            return None
        return self.watchdog_usec / 1_000_000

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


async def watchdog_loop(notifier: Notifier, healthy: Callable[[], bool]) -> None:
    """Ping ``WATCHDOG=1`` every half interval while ``healthy()`` is true.

    Run it as a task on the supervisor's own loop (see the module docstring): a blocked
    loop sends nothing, and an unhealthy desk (``healthy()`` false or raising) stops
    pinging so systemd restarts it. Returns at once when there is no watchdog; ends when
    cancelled.
    """
    interval = notifier.watchdog_interval_s()
    if interval is None:
        return
    period = interval / 2
    while True:
        try:
            ok = bool(healthy())
        except Exception:
            log.exception("watchdog health check raised; not pinging")
            ok = False
        if ok:
            notifier.watchdog()
        await asyncio.sleep(period)


def _money(value: float) -> str:
    return f"{value:+,.2f}"


def status_line(snapshot: DeskSnapshot | None) -> str:
    """A short ``STATUS=`` line for ``systemctl status``: no secrets, no symbols' orders.

    e.g. ``paper RUNNING | engines 2/3 running | 1 open | day P&L net +1,234.50``
    """
    if snapshot is None:
        return "starting"
    running = sum(1 for e in snapshot.engines if e.state == "RUNNING")
    open_positions = sum(1 for p in snapshot.positions if p.quantity != 0)
    parts = [
        f"{snapshot.mode} {snapshot.feed_state}",
        f"engines {running}/{len(snapshot.engines)} running",
        f"{open_positions} open",
        f"day P&L net {_money(snapshot.risk.day_pnl)}",
    ]
    risk = snapshot.risk
    if risk.kill_switch:
        parts.append("KILL SWITCH")
    elif risk.state != "ACTIVE":
        parts.append(risk.state)
    return " | ".join(parts)
