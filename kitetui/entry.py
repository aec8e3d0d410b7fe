"""The ``kitetui`` program's entry: hold signals first, then import and run the CLI.

Kept apart from ``kitetui.cli`` so that importing the CLI (tests do) changes no signal
handler, while the program itself never loses a signal sent during its start-up.
"""

from __future__ import annotations

from kitetui import startup


def main() -> int:
    startup.capture()
    from kitetui.secret_values import install_hooks

    install_hooks()  # an uncaught error's text is printed with its secrets as ***
    from kitetui.cli import main as cli_main

    return cli_main()
