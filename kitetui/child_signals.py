"""Signals a spawned child ignores from its first instant.

An ignored disposition survives exec, and Python installs its own SIGINT handler only
where SIGINT is not ignored. So a parent that ignores a signal while it starts a child,
then puts its own handler back, hands the child an ignore no code of the child's could
install early enough: a Ctrl-C while the child is still importing is not a traceback
from it. Used by the sweep's workers and by the backtest's report process.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def ignored_by_children(signums: Sequence[int]) -> Iterator[None]:
    """Ignore ``signums`` while the block starts children; restore them after. Only the
    main thread can set handlers: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = [(signum, signal.signal(signum, signal.SIG_IGN)) for signum in signums]
    try:
        yield
    finally:
        for signum, handler in held:
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
