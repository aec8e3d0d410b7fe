"""Text from outside kitetui made safe to print on a terminal line.

A database path, a config path or a value read from a file is the user's (or an
attacker's) text: a newline in it would split a one-line message in two, and an ANSI
escape would repaint the terminal. Whatever prints such text goes through ``escaped``.
A leaf module (no kitetui imports) so the store, the config and the CLI all share it.
"""

from __future__ import annotations


def escaped(text: str) -> str:
    """``text`` with every unprintable character (a newline, an ESC) written as its
    Python escape (``\\n``, ``\\x1b``); printable text, non-ASCII letters included,
    is left as it is and nothing is cut."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


#: characters of a key path or reason echoed back from a file
MAX_SHOWN = 200


def one_line(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` safe to print as part of one terminal line: control characters (a
    newline, an ANSI escape from a hostile file) escaped, and at most ``limit`` chars."""
    safe = escaped(text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"
