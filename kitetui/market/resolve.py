"""Turn "trade the NIFTY future" or "the ATM straddle" into listed contracts.

Everything is inferred from what the instrument master lists on the day, never from
rules of thumb that exchanges change: expiries are whatever is listed (weekly or
monthly, any weekday; NSE moved NIFTY's weekly expiry from Thursday to Tuesday in
2025), and the strike interval is measured from the listed strikes near the price
(NIFTY lists 50-point strikes near the money and 100/500-point ones far away). Trading
days come from a calendar object, so holidays move roll dates the way they move them
at the exchange; only ``sessions_between`` is used (see ``SessionCalendar``), which
``kitetui.market.calendar.TradingCalendar`` provides.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Protocol

from kitetui.market.instruments import Instrument, InstrumentError, InstrumentMaster

__all__ = [
    "STEP_WINDOW",
    "OptionPair",
    "OptionSelector",
    "SessionCalendar",
    "atm_strike",
    "near_future",
    "nearest_expiry",
    "strike_step",
]

STEP_WINDOW = 20  # strikes nearest the price that ``strike_step`` measures
_ONE_DAY = timedelta(days=1)


class SessionCalendar(Protocol):
    """What resolution needs of a trading calendar."""

    def sessions_between(self, a: date, b: date) -> int:
        """Trading days ``d`` with ``a < d <= b``."""
        ...


def near_future(
    master: InstrumentMaster,
    underlying: str,
    today: date,
    calendar: SessionCalendar,
    roll_sessions: int = 1,
    exchange: str = "NFO",
) -> Instrument:
    """The future to trade today: the nearest one not yet expired, rolled early.

    A future expiring on ``expiry`` is skipped for the next one when
    ``calendar.sessions_between(today, expiry) < roll_sessions``: with 0 it is held
    through its expiry day, with 1 (default) the roll happens on the expiry day itself,
    with 2 on the trading day before (a holiday in between moves that day earlier).
    Raises ``InstrumentError`` when nothing is listed, everything has expired, or the
    last listed future is inside the roll window.
    """
    if roll_sessions < 0:
        raise ValueError(f"roll_sessions must be >= 0, not {roll_sessions}")
    listed = master.futures(underlying, exchange)
    if not listed:
        raise InstrumentError(f"no futures listed for {exchange}:{underlying} in the master")
    live = [f for f in listed if f.expiry is not None and f.expiry >= today]
    if not live:
        last = listed[-1]
        raise InstrumentError(
            f"every {exchange}:{underlying} future has expired by {today} "
            f"(last listed {last.tradingsymbol} expired {last.expiry}); is the master stale?"
        )
    for future in live:
        expiry = future.expiry
        assert expiry is not None
        if roll_sessions == 0 or calendar.sessions_between(today, expiry) >= roll_sessions:
            return future
    last = live[-1]
    raise InstrumentError(
        f"{last.key} expires {last.expiry}, within the {roll_sessions}-session roll window "
        f"on {today}, and no later {exchange}:{underlying} future is listed"
    )


def strike_step(strikes: Sequence[float], around: float | None = None) -> float:
    """The strike interval: the most common gap between adjacent listed strikes.

    With ``around`` (a price) only the ``STEP_WINDOW`` strikes nearest it are measured,
    because far strikes are listed at wider intervals. Ties between gaps go to the
    smaller one. Raises ``InstrumentError`` for fewer than two distinct strikes.
    """
    unique = sorted({float(s) for s in strikes if math.isfinite(s)})
    if len(unique) < 2:
        raise InstrumentError(f"need at least two distinct strikes to infer a step, got {unique}")
    if around is not None and math.isfinite(around) and len(unique) > STEP_WINDOW:
        nearest = sorted(unique, key=lambda s: (abs(s - around), s))[:STEP_WINDOW]
        unique = sorted(nearest)
    gaps = Counter(round(b - a, 6) for a, b in pairwise(unique))
    best = max(gaps.values())
    return min(gap for gap, count in gaps.items() if count == best)


def _check_price(price: float) -> None:
    if not (isinstance(price, int | float) and math.isfinite(price) and price > 0.0):
        raise InstrumentError(f"price must be a positive finite number, not {price!r}")


def _nearest(target: float, strikes: Sequence[float]) -> float:
    """The strike closest to ``target``; halfway between two -> the lower one."""
    return float(min(strikes, key=lambda s: (round(abs(s - target), 9), s)))


def atm_strike(price: float, strikes: Sequence[float]) -> float:
    """The listed strike nearest ``price``; exactly halfway between two -> the lower.

    (Lower, so the choice is deterministic and a price sitting on the midpoint does
    not alternate.) Raises ``InstrumentError`` for a non-finite or non-positive price
    or an empty strike list.
    """
    _check_price(price)
    if not strikes:
        raise InstrumentError("no strikes listed to pick an ATM strike from")
    return _nearest(price, strikes)


def nearest_expiry(
    master: InstrumentMaster, underlying: str, today: date, exchange: str = "NFO"
) -> date:
    """The first listed option expiry on or after ``today`` (weekly or monthly alike)."""
    expiries = master.option_expiries(underlying, exchange)
    if not expiries:
        raise InstrumentError(f"no options listed for {exchange}:{underlying} in the master")
    i = bisect_left(expiries, today)
    if i == len(expiries):
        raise InstrumentError(
            f"every {exchange}:{underlying} option expiry is before {today} "
            f"(last {expiries[-1]}); is the master stale?"
        )
    return expiries[i]


@dataclass(frozen=True, slots=True)
class OptionPair:
    """A call and a put of one expiry around the ATM strike (``atm``, grid ``step``)."""

    underlying: str
    expiry: date
    atm: float
    step: float
    ce: Instrument
    pe: Instrument


class OptionSelector:
    """Picks a CE/PE pair around the money and keeps it until the market has moved.

    Rules, applied by ``select(price, today)``:

    * First call (or any re-resolution): the nearest listed expiry on or after today,
      the strike step measured near ``price`` (``strike_step``), the ATM strike
      (``atm_strike``: nearest listed, halfway -> lower), and CE at
      ``ATM + offset_steps * step``, PE at ``ATM - offset_steps * step`` (so a positive
      offset is out of the money on both legs, a negative one in the money).
    * Later calls keep the pair while ``|price - ATM| <= (0.5 + hysteresis) * step``
      and ``today <= expiry`` (``today < expiry`` once the caller says today's expiry
      is done with, ``past_today``: then the first expiry after today is resolved).
      With the default hysteresis 0.5 the price has to go a full strike past the
      current ATM before the pair moves, so a price hovering around a midpoint does
      not flap. A jump across several strikes re-resolves once,
      straight to the strike nearest the new price.
    * A wanted strike that is not listed for one right uses that right's nearest
      listed strike (halfway -> lower); ``last_notes`` says so. It describes the
      resolution behind the current pair and is reset when the pair is re-resolved.
      No strike at all for a right, or no expiry -> ``InstrumentError``.

    The returned bool is True when the contracts (or the expiry) differ from those
    returned by the previous call, and on the first call.
    """

    def __init__(
        self,
        master: InstrumentMaster,
        underlying: str,
        *,
        offset_steps: int = 0,
        hysteresis: float = 0.5,
        exchange: str = "NFO",
    ) -> None:
        if not (math.isfinite(hysteresis) and hysteresis >= 0.0):
            raise ValueError(f"hysteresis must be a finite number >= 0, not {hysteresis!r}")
        self.master = master
        self.underlying = underlying
        self.offset_steps = int(offset_steps)
        self.hysteresis = float(hysteresis)
        self.exchange = exchange
        self.last_notes: tuple[str, ...] = ()
        self._pair: OptionPair | None = None

    @property
    def pair(self) -> OptionPair | None:
        """The current pair (None before the first ``select``)."""
        return self._pair

    def select(
        self, price: float, today: date, *, past_today: bool = False
    ) -> tuple[OptionPair, bool]:
        """The pair to trade at ``price`` on ``today`` (class docstring), and whether it
        changed. ``past_today``: today's expiry is done with (the engine's expiry-day
        cut-off has passed), so a pair expiring today is rolled to the next listed
        expiry; ``InstrumentError`` when none is listed (the current pair stays)."""
        _check_price(price)
        current = self._pair
        if (
            current is not None
            and today <= current.expiry
            and not (past_today and current.expiry == today)
            and abs(price - current.atm) <= (0.5 + self.hysteresis) * current.step + 1e-9
        ):
            return current, False
        pair, notes = self._resolve(price, today + _ONE_DAY if past_today else today)
        changed = current is None or (pair.expiry, pair.ce, pair.pe) != (
            current.expiry,
            current.ce,
            current.pe,
        )
        self._pair = pair
        self.last_notes = notes
        return pair, changed

    def _resolve(self, price: float, today: date) -> tuple[OptionPair, tuple[str, ...]]:
        master, underlying, exchange = self.master, self.underlying, self.exchange
        expiry = nearest_expiry(master, underlying, today, exchange)
        strikes = master.strikes(underlying, expiry, None, exchange)
        # A single listed strike has no grid to move along: step 0.
        step = strike_step(strikes, around=price) if len(strikes) >= 2 else 0.0
        atm = atm_strike(price, strikes)
        notes: list[str] = []
        offset = self.offset_steps * step
        ce = self._leg(expiry, round(atm + offset, 6), "CE", notes)
        pe = self._leg(expiry, round(atm - offset, 6), "PE", notes)
        return OptionPair(underlying, expiry, atm, step, ce, pe), tuple(notes)

    def _leg(self, expiry: date, strike: float, right: str, notes: list[str]) -> Instrument:
        master, underlying, exchange = self.master, self.underlying, self.exchange
        found = master.option(underlying, expiry, strike, right, exchange)
        if found is not None:
            return found
        listed = master.strikes(underlying, expiry, right, exchange)
        if not listed:
            raise InstrumentError(
                f"no {right} options listed for {exchange}:{underlying} expiring {expiry}"
            )
        nearest = _nearest(strike, listed)
        found = master.option(underlying, expiry, nearest, right, exchange)
        if found is None:  # pragma: no cover - strikes() and option() share one index
            raise InstrumentError(f"{exchange}:{underlying} {expiry} {nearest:g} {right} vanished")
        notes.append(
            f"{exchange}:{underlying} {expiry} {strike:g} {right} is not listed; "
            f"using the nearest listed {right} strike {nearest:g} ({found.tradingsymbol})"
        )
        return found
