"""The key footer every screen docks at its bottom: Textual's ``Footer``, rebuilt once
per burst of binding changes instead of once per change.

Textual's ``Footer`` throws its keys away and composes new ones whenever the screen
says its bindings changed, and it queues one such rebuild per change. A desk changes
them in bursts: starting up (the screen resumes, the table takes focus, the first
snapshot greys keys out), and on every tab switch (the tab changes, focus moves, the
keys that can run change). Each rebuild mounts and styles ~20 widgets, so the desk
built its footer five times to show it once at start and twice per tab switch.

``KeyFooter`` keeps at most one rebuild queued: a change that arrives while one waits
is served by it, because a rebuild reads the screen's bindings when it runs, not when
it was asked for. What it shows once the burst is over is what ``Footer`` would show.
In compact mode it also gives each key its ``-compact`` class as it is built, so the
key is styled once when it mounts instead of again when its ``compact`` watcher adds
the class (the same class, so the same look).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """A ``Footer`` that coalesces its rebuilds (see the module docstring)."""

    def __init__(self, *, compact: bool = False, show_command_palette: bool = True) -> None:
        super().__init__(compact=compact, show_command_palette=show_command_palette)
        self.rebuilds = 0
        """Rebuilds for changed bindings so far (tests read it)."""
        self._rebuild_queued = False

    def bindings_changed(self, screen: Screen) -> None:
        """Queue one rebuild, unless one is already queued (it will read these too)."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_queued:
            self._rebuild_queued = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        # Cleared before composing: a change from here on queues a rebuild of its own.
        self._rebuild_queued = False
        self.rebuilds += 1
        await self.recompose()

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if self.compact and isinstance(widget, FooterKey):
                widget.add_class("-compact", update=False)
            yield widget
