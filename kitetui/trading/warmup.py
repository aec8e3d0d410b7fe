"""``WarmUp``: the one flag that says "silent" while a resumed run replays its past.

The supervisor's ``Recovery`` sets and clears it; the trader, the exit manager, the
session keeper and the engines only read it. It lives in ``trading`` (the lowest of its
readers) so that the trader needs nothing from the supervisor's side.
"""

from __future__ import annotations


class WarmUp:
    """True while a resumed run replays what it had already done: nothing is journaled,
    no order is sent, engines emit no signal."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = False
