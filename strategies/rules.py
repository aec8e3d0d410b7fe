"""Rule pieces the strategies share: a sign-change detector and the position logic.

Why a module: every trend strategy here has the same two questions after its own
indicators have spoken. "Did the sign of this gap just change?" (a cross, a flip)
and "given the position, what does a wish to be long or short mean?" (enter, reverse,
exit, or hold because it is already done). Answering them in one place keeps the
strategies' rules identical where they should be and their modules about their rules.

Both pieces follow ``ema_cross``, the first strategy: a gap of exactly zero has no
sign, so touching and turning back is not a cross; the first sign seen is a start,
not a cross; a position already on the wished side is a HOLD ("already long"); a wish
to be short with shorts disabled closes a long and otherwise holds.
"""

from __future__ import annotations

from kitetui.domain import SignalKind
from strategies.base import Decision

__all__ = ["SignChange", "clamp01", "close_position", "go"]

_LONG, _SHORT, _EXIT, _HOLD = SignalKind.LONG, SignalKind.SHORT, SignalKind.EXIT, SignalKind.HOLD


class SignChange:
    """Tracks the sign of a gap and reports when it changes.

    ``update(gap)`` returns +1 on the first positive gap after a negative one, -1 on
    the first negative after a positive, else 0 (a zero gap keeps the last sign).
    ``sign`` is the last non-zero sign seen (0 before any).
    """

    __slots__ = ("sign",)

    def __init__(self) -> None:
        self.sign = 0

    def update(self, gap: float) -> int:
        sign = 1 if gap > 0.0 else -1 if gap < 0.0 else 0
        if sign == 0:
            return 0
        previous, self.sign = self.sign, sign
        if previous == 0 or previous == sign:
            return 0
        return sign

    def reset(self) -> None:
        """Forget the last sign: the next non-zero gap is a start, not a change."""
        self.sign = 0


def clamp01(x: float) -> float:
    """``x`` limited to [0, 1] (nan counts as 0): confidences and scales."""
    return 1.0 if x > 1.0 else x if x > 0.0 else 0.0


def go(
    direction: int,
    position_qty: int,
    allow_short: bool,
    reason: str,
    confidence: float,
    indicators: dict[str, float],
) -> Decision:
    """The decision for a wish to be long (``direction`` > 0) or short (< 0).

    LONG from flat or short (the engine closes the short first); SHORT from flat or
    long if shorts are allowed, else EXIT a long; HOLD when already there or when a
    short is wished with shorts disabled and nothing to close.
    """
    if direction > 0:
        if position_qty > 0:
            return Decision(_HOLD, f"{reason}, already long", 0.0, indicators)
        return Decision(_LONG, reason, clamp01(confidence), indicators)
    if position_qty < 0:
        return Decision(_HOLD, f"{reason}, already short", 0.0, indicators)
    if allow_short:
        return Decision(_SHORT, reason, clamp01(confidence), indicators)
    if position_qty > 0:
        return Decision(_EXIT, reason, clamp01(confidence), indicators)
    return Decision(_HOLD, f"{reason}, shorts disabled", 0.0, indicators)


def close_position(reason: str, indicators: dict[str, float]) -> Decision:
    """EXIT with confidence 1: an exit rule is not a guess about the market."""
    return Decision(_EXIT, reason, 1.0, indicators)
