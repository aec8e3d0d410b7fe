"""Signals from the first instant of the process, before the desk can act on them.

A desk takes seconds to start (imports, the database check, the market data); a SIGTERM
or SIGUSR1 in that time used to kill the process with the default action, and a kill
switch sent then was never recorded. The program's entry (``kitetui.entry``) calls
``capture`` before it imports anything heavy; the desk ``take``s what arrived once it
can act (a stop, or the kill switch recorded as soon as the journal is open). Commands
that run no desk ``release`` the signals back to their defaults, re-raising one that
arrived meanwhile so it acts as it always would.

Standard library only: this module is imported before everything else.
"""

from __future__ import annotations

import os
import signal

CAPTURED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
_pending: list[int] = []
_captured = False
_ignored: set[int] = set()  # ignored when the program started (``nohup``): left so


def capture() -> None:
    """Hold SIGTERM, SIGINT, SIGHUP and SIGUSR1 until a desk takes them (or ``release``).
    A SIGHUP the program was started ignoring (``nohup kitetui …``) stays ignored."""
    global _captured
    for signum in CAPTURED:
        if signum == signal.SIGHUP and signal.getsignal(signum) is signal.SIG_IGN:
            _ignored.add(signum)
            continue
        signal.signal(signum, _remember)
    _captured = True


def ignored(signum: int) -> bool:
    """Whether the program was started ignoring ``signum`` (it must not start hearing it)."""
    return signum in _ignored


def _remember(signum: int, _frame: object) -> None:
    _pending.append(signum)


def take() -> list[int]:
    """The signals that arrived since ``capture``, oldest first (and forget them)."""
    pending = list(_pending)
    _pending.clear()
    return pending


def release() -> None:
    """Back to the default handlers; a signal held meanwhile is delivered again now."""
    global _captured
    if not _captured:
        return
    _captured = False
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not ignored(signal.SIGHUP):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in take():
        os.kill(os.getpid(), signum)
