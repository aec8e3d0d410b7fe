"""What the report commands refuse, each a one-line message (exit 2 in the CLI)."""

from __future__ import annotations


class RunNotFound(Exception):
    """No run (or more than one) matches what was asked for; the message lists some."""


class OutputError(Exception):
    """The report directory cannot be written; the message names it and why."""
