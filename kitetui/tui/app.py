"""The desk in a terminal: a Textual app around one ``DeskScreen``.

The app is the shell: it owns the theme (``app.tcss``), the breakpoints, the garbage
collector's policy while a desk really runs and the command palette's system commands;
the desk itself — layout, snapshots, keys and commands — is ``DeskScreen``
(``desk_screen.py``), built from the tab specs (``tabs.py``) and the key table
(``keys.py``). Quitting the app stops nothing: the owner of the supervisor decides what
happens to trading.

Build it with ``make_app(link)``: the CLI passes a real link, tests a fake one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widget import AwaitMount

from kitetui.control.link import DeskLink
from kitetui.tui.desk_screen import DeskScreen

#: The collector's first threshold while a desk runs (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def quiet_collector() -> None:
    """Keep garbage-collection pauses out of a long-running desk's frames.

    Every frame allocates (rows, rich segments, the new snapshot) and each full pass of
    the collector walks every live object: with a 2,000-order table on screen that is
    100-190 ms, several times a minute at CPython's defaults (scripts/bench_desk_load.py).
    Freezing what exists at start-up (modules, config, data already loaded) takes it out
    of every pass, and a higher first threshold makes passes rare; what a desk allocates
    is acyclic and freed by reference counting anyway. It is process-wide, so the app
    applies it only when it really runs (not headless, as tests run it).
    """
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), max(middle, 20), old)


class KiteTuiApp(App[None]):
    """The trading desk. Construct it with :func:`make_app`."""

    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]

    def __init__(
        self,
        link: DeskLink,
        *,
        refresh_hz: float = 4.0,
        title: str = "kitetui",
        wall_clock: Callable[[], int] = time.time_ns,
    ):
        if refresh_hz <= 0:
            raise ValueError(f"refresh_hz must be positive, got {refresh_hz}")
        super().__init__()
        # Monochrome turns the cursor's shade into one grey among the zebra stripes: the
        # selected row (the one f, c, s and x act on) is drawn reversed and bold instead.
        self.set_class(self.no_color, "-no-color")
        self.title = title
        self.started_at: float | None = None
        """``time.perf_counter()`` at process start, if the caller wants a first-frame time."""
        self.first_frame_s: float | None = None
        """Seconds from ``started_at`` to the first rendered snapshot."""
        self._desk = DeskScreen(
            link,
            refresh_hz=refresh_hz,
            title=title,
            wall_clock=wall_clock,
            on_first_frame=self._first_frame,
        )

    @property
    def desk(self) -> DeskScreen:
        """The desk's screen (modal screens stack on top of it)."""
        return self._desk

    def get_default_screen(self) -> Screen:
        # The desk is the bottom of the stack, so ``app.query_one`` finds its widgets.
        return self._desk

    async def on_mount(self) -> None:
        # The default screen mounts in its own task: wait for it, so the desk is composed
        # and shows the snapshot the link already has before the app reads its first key.
        await AwaitMount(self._desk, [self._desk])

    def _first_frame(self) -> None:
        if self.started_at is not None:
            self.first_frame_s = time.perf_counter() - self.started_at

    async def run_async(self, *, headless: bool = False, **kwargs: Any) -> None:
        if not headless:
            quiet_collector()
        return await super().run_async(headless=headless, **kwargs)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers every desk key that can run now, and nothing else:
        Textual's own Theme, Screenshot and Quit are not the desk's (its quit is ``q``,
        which says that trading goes on), and a trader scanning for an action should
        find only actions on the desk."""
        yield from self._desk.palette_commands()


def make_app(
    link: DeskLink,
    *,
    refresh_hz: float = 4.0,
    title: str = "kitetui",
    wall_clock: Callable[[], int] = time.time_ns,
) -> KiteTuiApp:
    """Build the desk app on a link (a real supervisor link, or a fake in tests).

    ``wall_clock`` (epoch ns) drives the header's clock and feed ages; tests fix it.
    """
    return KiteTuiApp(link, refresh_hz=refresh_hz, title=title, wall_clock=wall_clock)
