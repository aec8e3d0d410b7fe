"""The one small interface every strategy plugin implements.

Why this shape: an engine creates one strategy instance per symbol and calls
``on_bar`` on the hot path, so a strategy is a plain object that carries its own
incremental indicators (``kitetui.market.indicators``) and returns a ``Decision``, a
NamedTuple, without validating anything per bar. Validation happens once, at the edge:
each strategy declares a nested pydantic ``Params`` model that the config loader uses
to check the ``params:`` mapping of an engine (unknown keys and bad values are errors).
Params are strict: a string where a number or a flag belongs (``fast: "9"``,
``allow_short: "no"``) is an error, never coerced, and every number has bounds
(periods at most ``MAX_PERIOD`` bars), so a typo cannot become a silent default or a
billion-element ring buffer.

Contract with the engine and sizing:

* ``on_bar(bar, position_qty)`` gets the bar that just closed and the engine's signed
  position in this symbol (long > 0, short < 0, flat 0).
* While any indicator is warming up (or undefined, e.g. RSI on a flat window) the
  decision is ``HOLD`` with reason ``"indicators not ready"``; the engine journals it.
* Once ready, ``indicators`` always holds ``"atr"`` (ATR 14, Wilder), because sizing
  puts the protective stop at a multiple of ATR.
* LONG and SHORT name the direction the strategy wants to be in; the engine turns a
  LONG while short into "close the short, then go long". EXIT means "go flat".
* An entry may carry ``indicators["size_scale"]``, a float in (0, 1]: the fraction of
  the risk-based quantity to take (``vol_regime`` shrinks entries in a volatile
  regime). Absent means 1.
* ``confidence`` is in [0, 1]: 0 on a HOLD, and on a signal a score each strategy
  documents (how decisively its rule fired), so the journal can rank signals.
* ``indicators`` is a new dict on every decision: the engine keeps the newest ones
  (``kitetui.market.bar_history``) for the price chart, by reference.
* A bar with a non-finite price is not fed to the indicators (design rule 7): the
  decision is ``HOLD`` with a ``"bad bar: ..."`` reason.
* ``column_decider()`` may offer the same decisions a chunk of bars at a time
  (``strategies.columns``), for a backtest's engine; None (the default) keeps the
  strategy bar by bar everywhere.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

from kitetui.domain import Bar, SignalKind

if TYPE_CHECKING:
    from strategies.columns import ColumnDecider

__all__ = [
    "ATR_PERIOD",
    "BAD_BAR_REASON",
    "MAX_PERIOD",
    "NOT_READY_REASON",
    "Decision",
    "Strategy",
    "bar_is_finite",
]

ATR_PERIOD = 14
# Longest period any parameter may ask for, in bars: 2.7 sessions of 1-minute bars, 13
# of 5-minute bars. Longer than that is a daily indicator, not an intraday one.
MAX_PERIOD = 1_000
NOT_READY_REASON = "indicators not ready"
BAD_BAR_REASON = "bad bar: non-finite price"

_isfinite = math.isfinite


class Decision(NamedTuple):
    """What a strategy wants after one bar, with why and the numbers behind it."""

    kind: SignalKind
    reason: str
    confidence: float
    indicators: dict[str, float]


def must_be_below(params: BaseModel, low: str, high: str) -> None:
    """A params check shared by the strategies' validators: field ``low`` must be less
    than field ``high`` (a fast period under its slow one); the message names both."""
    below, above = getattr(params, low), getattr(params, high)
    if not below < above:
        raise ValueError(f"{low} ({below}) must be less than {high} ({above})")


def bar_is_finite(bar: Bar) -> bool:
    return (
        _isfinite(bar.open) and _isfinite(bar.high) and _isfinite(bar.low) and _isfinite(bar.close)
    )


def hold(reason: str, indicators: dict[str, float] | None = None) -> Decision:
    return Decision(SignalKind.HOLD, reason, 0.0, indicators if indicators is not None else {})


NOT_READY = Decision(SignalKind.HOLD, NOT_READY_REASON, 0.0, {})
BAD_BAR = Decision(SignalKind.HOLD, BAD_BAR_REASON, 0.0, {})


class Strategy(ABC):
    """Base class of strategy plugins; one instance per symbol.

    Subclasses set ``name``, define a nested ``Params(Strategy.Params)`` and implement
    ``warmup_bars`` and ``on_bar``. Register them with ``strategies.registry.register``.
    """

    name: ClassVar[str]
    #: The ``indicators`` in price units (moving averages, bands, channels): the price
    #: chart draws them over the candles; the others (RSI, ATR…) have scales of their own.
    chart_overlays: ClassVar[tuple[str, ...]] = ()

    class Params(BaseModel):
        """Strategy parameters; subclasses add fields with defaults and constraints."""

        model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def __init__(self, params: Params | None = None) -> None:
        params_type = type(self).Params
        if params is None:
            params = params_type()
        elif not isinstance(params, params_type):
            raise TypeError(
                f"{type(self).__name__} needs {params_type.__qualname__}, "
                f"got {type(params).__qualname__}"
            )
        self.params = params

    @classmethod
    def timeframe_problem(cls, params: Params, timeframe_s: int) -> str | None:
        """Why this strategy cannot run on bars of ``timeframe_s`` seconds with
        ``params``, or None when it can. The config check asks it, so a mismatch is one
        line at load (``engines[N].timeframe: …``), not an error on the first bar."""
        return None

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any] | None = None) -> Strategy:
        """Build from a raw ``params:`` mapping (raises ``pydantic.ValidationError``)."""
        return cls(cls.Params.model_validate(dict(params or {})))

    @property
    @abstractmethod
    def warmup_bars(self) -> int:
        """Bars needed before every indicator is ready (before that: HOLD, not ready)."""

    @abstractmethod
    def on_bar(self, bar: Bar, position_qty: int) -> Decision:
        """Update the indicators with ``bar`` and decide; ``position_qty`` is signed."""

    def column_decider(self) -> ColumnDecider | None:
        """This strategy's decisions a column of bars at a time (``strategies.columns``),
        starting from this instance's state, which must not have seen a bar; None when
        the strategy decides bar by bar only."""
        return None
