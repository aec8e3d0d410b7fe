"""The secret values this process has read, and ``scrub``: text with each one as ``***``.

The session module (``kitetui.kite.session``) builds its own errors without secrets,
but an unexpected exception carries text no one planned for: a library quoting the
Authorization header, a URL with the token in its query, a checksum's inputs. So every
secret kitetui reads (Kite's API key and secret, the day's access token, a login's
request token: from the environment, the credentials file or the token file) is
``register``-ed the moment it is read, and every way text leaves the process passes
through ``scrub``:

* the command line's error line, and the traceback of an unexpected error
  (``kitetui.cli.main``; ``install_hooks`` for a thread's or an uncaught one);
* every log record, whatever handler writes it (a log record factory, installed with
  the first secret: also Python's last-resort handler, and other libraries' records);
* every event journaled or shown (``Trader.record_event``, ``Journal.add_event``, a
  refused run's note) and an order's reason in the journal.

Standard library only and importing nothing of kitetui: the store, the CLI and the
session all use it. With no secret read (a replay, a backtest) ``scrub`` returns its
text at once.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

__all__ = ["forget_all", "install_hooks", "register", "scrub"]

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words; no Kite secret is that short
_lock = threading.Lock()
_values: tuple[str, ...] = ()  # longest first: a value holding another is masked whole
_factory_installed = False


def register(*values: str | None) -> None:
    """Remember ``values`` as secrets (empty and very short ones are ignored)."""
    global _values
    new = [v for v in values if v and len(v) >= _MIN_LENGTH and v not in _values]
    if not new:
        return
    with _lock:
        _values = tuple(sorted({*_values, *new}, key=len, reverse=True))
    _install_record_factory()


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for value in _values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def forget_all() -> None:
    """Forget every secret (a test's made-up token is no secret of the next test's)."""
    global _values
    with _lock:
        _values = ()


# -- log records ---------------------------------------------------------------------


def _install_record_factory() -> None:
    """Scrub each log record as it is made: its message with the arguments put in, its
    traceback and stack text. Done at the factory, not a handler, so every handler,
    formatter and library logger gets the scrubbed record."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
        made = logging.getLogRecordFactory()

    def scrubbed_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = made(*args, **kwargs)
        if not _values:
            return record
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging says so itself
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    logging.setLogRecordFactory(scrubbed_record)


# -- tracebacks ----------------------------------------------------------------------


def format_unexpected(error: BaseException) -> str:
    """The traceback of ``error`` as Python prints it, scrubbed."""
    return scrub("".join(traceback.format_exception(error)))


def install_hooks() -> None:
    """An exception no code caught (in the main thread or another) is printed scrubbed:
    Python's own hooks would print its text, a secret included, to stderr."""

    def excepthook(
        kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        sys.stderr.write(scrub("".join(traceback.format_exception(kind, error, tb))))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        text = "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        )
        sys.stderr.write(scrub(f"Exception in thread {name}:\n{text}"))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
