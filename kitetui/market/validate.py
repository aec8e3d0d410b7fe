"""Bad-data filter in front of the pipeline (rule 7: bad data never crashes an engine).

``PriceValidator.check(item)`` returns None for an item that may go on, else the reason
it is held back. It tells noise from news:

* **Broken values** are skipped: a missing, non-finite, zero or negative price, a
  price above ``MAX_PRICE``, a bar whose open or close lies outside its low-high range,
  a negative volume, quantity or open interest.
* **Wild wicks** are skipped: a bar's high (low) reaching further above (below) both
  its close and the previous close than the jump limit allows, or, once ~10 bars of
  the symbol set its typical range, more than ``wick_ranges`` typical ranges *and* a
  quarter of the jump limit. Such a bar would inflate ATR and let the paper broker
  fill a stop at a price that never traded; it is skipped whole (not repaired to its
  body: the body of a bar with a fantasy wick is not trusted either), with its reason.
* **Jumps** within a session are *held*, not dropped: a print (a tick's price, a
  bar's close) further than the limit from the last accepted one is held while the
  prints that follow decide. A following print nearer the new level than the old one
  confirms it (it is held too); ``confirmations`` prints in all make the move real:
  the one that completes the count is accepted and the held ones are *released*
  (``take_released``), so a real gap reaches bars and indicators, late by a few prints
  but complete. A print back within the limit of the old level and nearer it than the
  held level, or one jumping the other way, shows the held ones were spikes: they
  stay dropped (``SpikeRejected`` note).
* **A new session is never a spike**: the first item of an IST day is compared with
  nothing before it (a gap at the open, a circuit day, a split in unadjusted data is
  real); held items left from the previous session are dropped as unconfirmed. But
  for a cash equity or a future (``gap_watched``) an open more than ``BAND_LIMIT``
  from the last price is news a person must hear of (``OpeningGap``, WARNING): NSE's
  bands make it rare, and in vendor data it is most often a split, bonus or demerger
  the data was not adjusted for (the desk refuses that symbol's entries for the day).
* **A cash equity's confirmed move past the bands within a session** (``banded``) is
  news a person must hear of too (``BandJump``, WARNING; the desk takes no new entry
  in it that day): NSE's fixed bands stop at 20%, so in data it is most often a split
  or bonus the data was not adjusted for. It is not refused: an F&O stock's dynamic
  band relaxes step by step, and real sessions went far past it (Adani Enterprises
  -28% on 2023-02-01, YES BANK -85% on 2020-03-06). Refusing it froze the symbol at
  its old price for the day, its stops never triggering: a backtest flattered by a
  crash it never saw, where a split taken as a crash costs a loss that is said.

Limits scale with the bar length: ``max_jump`` is for ticks and 1-minute bars, and a
bar of ``T`` minutes allows ``sqrt(T)`` times more (a random walk's spread), so a
daily bar of a crash day is not a spike. ``jump_overrides`` sets the limit per symbol
(an option's premium can move 60% between two trades and still be real).

What the supervisor does with this (the integrator wires it; see ``take_released``):
after ``check``, if ``has_news``, journal ``take_notes()`` and feed
``take_released()`` (earlier items of the same symbol, in time order) through the
accepted path *before* the item just checked. At full speed the gate takes a bar that
``sound_successors`` certified from the loaded columns without asking ``check_bar``
(``kitetui.market.certified``: the same outcome, the state folded in before the next
per-bar check).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from itertools import pairwise

import numpy as np

from kitetui.domain import NS_PER_SECOND, Bar, Event, Tick
from kitetui.events import EventKind
from kitetui.market.packed import price_array

MAX_PRICE = 10_000_000.0  # rupees a unit, as the loaders' ceiling
BAND_LIMIT = 0.20  # NSE's widest fixed price band (cash equity 2/5/10/20%)
_DAY_NS = 86_400_000_000_000
_IST_NS = 19_800_000_000_000
_RANGE_SPAN = 20  # bars in the typical-range average
_RANGE_WARM = 10  # bars before the range rule applies
_RANGE_WEIGHT = 1.0 / _RANGE_SPAN

Item = Tick | Bar


class _SymbolState:
    """What the validator remembers of one symbol."""

    __slots__ = ("day", "held", "last", "limit", "range_avg", "range_n", "side", "timeframe_s")

    def __init__(self) -> None:
        self.last = 0.0  # the last accepted price (a bar's close)
        self.day = -1  # its IST day number
        self.timeframe_s = -1  # of the items seen (0: ticks); the limit depends on it
        self.limit = 0.0
        self.held: list[Item] = []
        self.side = 0  # +1 / -1: where the held prints are from ``last``
        self.range_avg = 0.0
        self.range_n = 0

    def learn_range(self, bar: Bar) -> None:
        self.range_n += 1
        weight = _RANGE_WEIGHT if self.range_n >= _RANGE_SPAN else 1.0 / self.range_n
        self.range_avg += (bar.high - bar.low - self.range_avg) * weight


class PriceValidator:
    """``max_jump`` is a fraction of the last price; ``jump_overrides`` sets it per
    symbol; ``confirmations`` prints in all (the first held one included) make a
    jump real; ``wick_ranges`` is the wick limit in typical bar ranges; ``banded``
    (cash equities) are noted when a move beyond ``BAND_LIMIT`` is confirmed, and
    ``gap_watched`` (cash equities and futures) are noted when they open beyond it."""

    __slots__ = (
        "_banded",
        "_day",
        "_day_ts",
        "_gap_watched",
        "_limits",
        "_notes",
        "_released",
        "_states",
        "confirmations",
        "has_news",
        "max_jump",
        "wick_ranges",
    )

    def __init__(
        self,
        max_jump: float = 0.08,
        confirmations: int = 3,
        jump_overrides: dict[str, float] | None = None,
        *,
        wick_ranges: float = 25.0,
        banded: Iterable[str] = (),
        gap_watched: Iterable[str] = (),
    ) -> None:
        if not (math.isfinite(max_jump) and max_jump > 0):
            raise ValueError(f"max_jump must be a positive fraction, not {max_jump!r}")
        self.max_jump = max_jump
        self.confirmations = max(1, int(confirmations))
        self.wick_ranges = wick_ranges
        self._limits = dict(jump_overrides or {})
        self._banded = frozenset(banded)
        self._gap_watched = frozenset(gap_watched)
        self._states: dict[str, _SymbolState] = {}
        self._released: list[Item] = []
        self._notes: list[Event] = []
        # True when ``take_released`` or ``take_notes`` has something: asked after every
        # print, so kept as a flag beside the two lists (``_news``), not a property.
        self.has_news = False
        # The IST day of the last time checked: a batch's prints share their time, and
        # the division is a good part of a print's check.
        self._day_ts = self._day = -1

    # ----------------------------------------------------------------------- results

    def _news(self) -> None:
        """``has_news`` again, after either list changed."""
        self.has_news = bool(self._released or self._notes)

    @property
    def held_count(self) -> int:
        """Items held back, waiting for the prints that confirm or reject them."""
        return sum(len(state.held) for state in self._states.values())

    def take_released(self) -> list[Item]:
        """Held items that the item just accepted by ``check`` confirmed, oldest first.

        They are earlier prints of that item's symbol: the caller feeds them through
        its accepted path before that item. Taking them empties the list.
        """
        released, self._released = self._released, []
        self._news()
        return released

    def take_notes(self) -> list[Event]:
        """``JumpConfirmed`` / ``SpikeRejected`` / ``HeldDropped`` / ``OpeningGap``
        events to journal."""
        notes, self._notes = self._notes, []
        self._news()
        return notes

    # ----------------------------------------------------------------------- checking

    def check(self, item: Tick | Bar) -> str | None:
        """None if the item may go on, else the reason it is skipped (or held).

        The common case (a sane print near the last one, nothing held) is the fast
        path, one per kind: a few comparisons, no further call; everything else is
        ``_decide``.
        """
        if type(item) is Bar:
            return self.check_bar(item)
        state = self._states.get(item.symbol)
        if state is None:
            state = self._states[item.symbol] = _SymbolState()
        return self._check_tick(item, state)

    def check_bar(self, item: Bar) -> str | None:
        """``check`` for a bar: whole and near the last close, with wicks in proportion
        (fast path). The replay's gate asks it straight, a call fewer on every bar."""
        state = self._states.get(item.symbol)
        if state is None:
            state = self._states[item.symbol] = _SymbolState()
        low, high, price = item.low, item.high, item.close
        if not (0.0 < low <= item.open <= high <= MAX_PRICE and low <= price <= high) or (
            item.volume < 0 or item.oi < 0
        ):
            return _broken_bar(item)
        if item.timeframe_s != state.timeframe_s:
            state.timeframe_s = item.timeframe_s
            state.limit = self._limit(item.symbol, item.timeframe_s)
        if item.ts_ns != self._day_ts:  # the IST day, worked out once a batch
            self._day_ts = item.ts_ns
            self._day = (item.ts_ns + _IST_NS) // _DAY_NS
        day = self._day
        last = state.last
        if day == state.day and not state.held:
            limit = state.limit
            top = price if price > last else last
            bottom = price if price < last else last
            up, down = high - top, bottom - low
            if abs(price - last) <= limit * last and up <= limit * top and (down <= limit * bottom):
                bound = self.wick_ranges * state.range_avg
                quarter = limit * 0.25
                if state.range_n < _RANGE_WARM or (
                    (up <= bound or up <= quarter * top)
                    and (down <= bound or down <= quarter * bottom)
                ):
                    state.last = price
                    n = state.range_n = state.range_n + 1
                    state.range_avg += (high - low - state.range_avg) * (
                        _RANGE_WEIGHT if n >= _RANGE_SPAN else 1.0 / n
                    )
                    return None
        return self._decide(item, state, price, day)

    def sound_successors(
        self, symbol: str, timeframe_s: int, columns: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """``check_bar``'s fast path over a symbol's loaded columns at once: for each row
        from the second on, True when the bar certainly passes it (and the gap
        detector with it) *provided that* the row before was the last bar of the symbol
        accepted, so that the validator holds its close, its day and nothing held.

        True means: the bar is whole; it starts where the row before ends (no gap) on the
        same IST day; its close and wicks lie within the jump limit of that close as the
        fast path computes them; and each wick is within a quarter of the limit, so the
        typical-range rule passes whatever the range average is (the average is not known
        ahead: it depends on what the run accepted). Conservative by design: it may leave
        a sound bar uncertified (a wick judged by the range rule, a day's first bar),
        never certify one the per-bar check would skip or hold; the same float64
        arithmetic, in the same order, as the per-bar check (``kitetui.market.certified``
        uses it; ``tests/market/test_certified.py`` holds it to the per-bar path)."""
        ts = columns["ts_ns"]
        if len(ts) < 2:
            return np.zeros(max(len(ts) - 1, 0), dtype=bool)
        limit = self._limit(symbol, timeframe_s)
        quarter = limit * 0.25
        open_, high, low, close = (
            price_array(columns[name]) for name in ("open", "high", "low", "close")
        )
        with np.errstate(invalid="ignore", over="ignore"):
            whole = (
                (low > 0.0)
                & (low <= open_)
                & (open_ <= high)
                & (high <= MAX_PRICE)
                & (low <= close)
                & (close <= high)
                & (columns["volume"] >= 0)
                & (columns["oi"] >= 0)
            )[1:]
            day = (ts + _IST_NS) // _DAY_NS
            last, price = close[:-1], close[1:]
            top, bottom = np.maximum(price, last), np.minimum(price, last)
            up, down = high[1:] - top, bottom - low[1:]
            return (
                whole
                & (ts[1:] == ts[:-1] + timeframe_s * NS_PER_SECOND)
                & (day[1:] == day[:-1])
                & (np.abs(price - last) <= limit * last)
                & (up <= limit * top)
                & (down <= limit * bottom)
                & (up <= quarter * top)
                & (down <= quarter * bottom)
            )

    def fold_accepted(self, symbol: str, close: float, ranges: Sequence[float]) -> None:
        """The symbol's state as if ``check_bar``'s fast path had accepted, in order, bars
        whose high-low ranges are ``ranges``, the last closing at ``close``: what the
        certified bars (``sound_successors``) leave, folded in when the validator next
        looks at the symbol. The range average is the same recurrence, term by term: its
        first terms (the average not yet over ``_RANGE_SPAN`` bars) weigh ``1 / n``,
        and the rest (nearly all: a fold runs a day's certified bars) the one constant
        weight, a loop that only adds (about half the steps of one that counts and
        picks the weight for every term)."""
        state = self._states[symbol]
        state.last = close
        n, average = state.range_n, state.range_avg
        warm = min(max(_RANGE_SPAN - 1 - n, 0), len(ranges))  # terms weighing 1 / n
        for spread in ranges[:warm]:
            n += 1
            average += (spread - average) * (1.0 / n)
        weight = _RANGE_WEIGHT
        for spread in ranges[warm:] if warm else ranges:
            average += (spread - average) * weight
        state.range_n, state.range_avg = n + len(ranges) - warm, average

    def _check_tick(self, item: Tick, state: _SymbolState) -> str | None:
        """A tick: a sane price near the last one (fast path)."""
        price = item.price
        if not (0.0 < price <= MAX_PRICE) or item.qty < 0 or item.oi < 0:
            return _broken_tick(item)
        if state.timeframe_s != 0:
            state.timeframe_s = 0
            state.limit = self._limit(item.symbol, 0)
        if item.ts_ns != self._day_ts:  # the IST day, worked out once a batch
            self._day_ts = item.ts_ns
            self._day = (item.ts_ns + _IST_NS) // _DAY_NS
        day = self._day
        if day == state.day and not state.held:
            last = state.last
            if abs(price - last) <= state.limit * last:
                state.last = price
                return None
        return self._decide(item, state, price, day)

    def _limit(self, symbol: str, timeframe_s: int) -> float:
        limit = self._limits.get(symbol, self.max_jump)
        return limit * math.sqrt(timeframe_s / 60) if timeframe_s > 60 else limit

    def _decide(self, item: Item, state: _SymbolState, price: float, day: int) -> str | None:
        """Everything off the fast path: wicks, a new session, holds and their outcome."""
        limit = state.limit
        new_session = day != state.day
        if type(item) is Bar:
            wick = self._wild_wick(item, state, limit, new_session)
            if wick:
                return wick
        if new_session:
            if state.held:
                self._drop_held(
                    state, EventKind.HELD_DROPPED, "the session ended before confirming"
                )
            if state.day >= 0 and item.symbol in self._gap_watched:
                self._opening_gap(item, state.last)
            state.day = day
            return self._accept(item, state, price)
        last = state.last
        near_old = abs(price - last) <= limit * last
        if not state.held:
            if near_old:
                return self._accept(item, state, price)
            return self._hold(item, state, price, last)
        return self._weigh_held(item, state, price, last, near_old)

    def _opening_gap(self, item: Item, last: float) -> None:
        """A session's first print far from the last one: noted, still accepted."""
        opening = item.open if type(item) is Bar else item.price
        if last <= 0.0 or abs(opening - last) <= BAND_LIMIT * last:
            return
        day = date.fromordinal(_EPOCH.toordinal() + (item.ts_ns + _IST_NS) // _DAY_NS)
        self._notes.append(
            _note(
                item,
                EventKind.OPENING_GAP,
                f"{item.symbol} opens {day} at {opening:g}, {opening / last - 1:+.1%} from the "
                f"last price {last:g}: possible corporate action (split, bonus, demerger): "
                "adjust the data; no new entries in it today",
                "WARNING",
                {"day": day.isoformat(), "open": opening, "last": last},
            )
        )
        self.has_news = True

    def _weigh_held(
        self, item: Item, state: _SymbolState, price: float, last: float, near_old: bool
    ) -> str | None:
        """A print while a jump is held: back near the old level, or a jump the other
        way, rejects the held spike; near the new level it counts as a confirmation."""
        held = state.held[-1]
        held_price = held.close if isinstance(held, Bar) else held.price
        if near_old and abs(price - last) <= abs(price - held_price):
            self._drop_held(
                state, EventKind.SPIKE_REJECTED, f"the next print {price:g} came back near {last:g}"
            )
            return self._accept(item, state, price)
        side = 1 if price > last else -1
        if not near_old and side != state.side:
            self._drop_held(
                state, EventKind.SPIKE_REJECTED, f"the next print {price:g} jumped the other way"
            )
            return self._hold(item, state, price, last)
        state.held.append(item)  # nearer the new level than the old: it confirms
        if len(state.held) < self.confirmations:
            return self._waiting(state, price, last)
        return self._confirm(item, state, price, last)

    def _confirm(self, item: Item, state: _SymbolState, price: float, last: float) -> None:
        """Enough prints agree: the move is news, the held items go on before ``item``."""
        confirmed = state.held[:-1]
        state.held = []
        self._released.extend(confirmed)
        for earlier in confirmed:
            if isinstance(earlier, Bar):
                state.learn_range(earlier)
        self._notes.append(
            _note(
                item,
                EventKind.JUMP_CONFIRMED,
                f"a move from {last:g} to {price:g} confirmed by {self.confirmations} "
                f"prints; {len(confirmed)} held item(s) released",
                "INFO",
            )
        )
        if item.symbol in self._banded and abs(price - last) > BAND_LIMIT * last:
            self._notes.append(
                _note(
                    item,
                    EventKind.BAND_JUMP,
                    f"{item.symbol} moved from {last:g} to {price:g} ({price / last - 1:+.1%}) "
                    f"within a session, past NSE's {BAND_LIMIT:.0%} price band: possible "
                    "corporate action (split, bonus), or a crash; no new entries in it today",
                    "WARNING",
                    {"open": price, "last": last},
                )
            )
        self.has_news = True
        return self._accept(item, state, price)

    def _hold(self, item: Item, state: _SymbolState, price: float, last: float) -> str | None:
        state.held.append(item)
        state.side = 1 if price > last else -1
        if self.confirmations <= 1:
            state.held = []
            return self._accept(item, state, price)
        return self._waiting(state, price, last)

    def _waiting(self, state: _SymbolState, price: float, last: float) -> str:
        waiting = self.confirmations - len(state.held)
        return (
            f"held: price {price:g} jumps {abs(price / last - 1):.1%} from {last:g}; "
            f"waiting for {waiting} more print(s) to confirm the move"
        )

    def _accept(self, item: Item, state: _SymbolState, price: float) -> None:
        state.last = price
        if isinstance(item, Bar):
            state.learn_range(item)
        return None

    def _drop_held(self, state: _SymbolState, kind: EventKind, why: str) -> None:
        held = state.held
        state.held = []
        first = held[0]
        price = first.close if isinstance(first, Bar) else first.price
        self._notes.append(
            _note(
                first,
                kind,
                f"{len(held)} held item(s) from {price:g} dropped: {why}",
                "WARNING",
            )
        )
        self.has_news = True

    def _wild_wick(
        self, bar: Bar, state: _SymbolState, limit: float, new_session: bool
    ) -> str | None:
        """A reason when the bar's high or low reaches implausibly far (module docstring)."""
        if new_session or state.last <= 0.0:
            anchor_hi, anchor_lo = max(bar.open, bar.close), min(bar.open, bar.close)
        else:
            anchor_hi, anchor_lo = max(bar.close, state.last), min(bar.close, state.last)
            if state.held:  # a move under confirmation is a level too
                held = state.held[-1]
                level = held.close if isinstance(held, Bar) else held.price
                anchor_hi, anchor_lo = max(anchor_hi, level), min(anchor_lo, level)
        up = bar.high - anchor_hi
        down = anchor_lo - bar.low
        if up > limit * anchor_hi:
            return f"wild wick: high {bar.high:g} is {up / anchor_hi:.1%} above {anchor_hi:g}"
        if down > limit * anchor_lo:
            return f"wild wick: low {bar.low:g} is {down / anchor_lo:.1%} below {anchor_lo:g}"
        if state.range_n >= _RANGE_WARM and state.range_avg > 0.0:
            bound = self.wick_ranges * state.range_avg
            if up > bound and up > limit / 4 * anchor_hi:
                return (
                    f"wild wick: high {bar.high:g} is {up / state.range_avg:.0f} typical "
                    f"ranges above {anchor_hi:g}"
                )
            if down > bound and down > limit / 4 * anchor_lo:
                return (
                    f"wild wick: low {bar.low:g} is {down / state.range_avg:.0f} typical "
                    f"ranges below {anchor_lo:g}"
                )
        return None


def _finite_positive(price: object) -> str:
    if not (isinstance(price, float | int) and math.isfinite(price)):
        return f"non-finite price {price!r}"
    if price <= 0:
        return f"non-positive price {price}"
    if price > MAX_PRICE:
        return f"implausible price {price:g}"
    return ""


def _broken_bar(bar: Bar) -> str:
    for price in (bar.open, bar.high, bar.low, bar.close):
        problem = _finite_positive(price)
        if problem:
            return problem
    if not (bar.low <= bar.open <= bar.high and bar.low <= bar.close <= bar.high):
        return (
            f"inconsistent bar open={bar.open:g} high={bar.high:g} low={bar.low:g} "
            f"close={bar.close:g}"
        )
    if bar.volume < 0 or bar.oi < 0:
        return f"negative volume {bar.volume} or oi {bar.oi}"
    return ""


def _broken_tick(tick: Tick) -> str:
    problem = _finite_positive(tick.price)
    if problem:
        return problem
    if tick.qty < 0 or tick.oi < 0:
        return f"negative quantity {tick.qty} or oi {tick.oi}"
    return ""


def _note(item: Item, kind: EventKind, message: str, level: str, data: dict | None = None) -> Event:
    return Event(
        ts_ns=item.ts_ns,
        kind=kind,
        message=message,
        symbol=item.symbol,
        level=level,
        data=data or {},
    )


class GapDetector:
    """Notices missing data inside a session (a silent vendor or a dropped feed).

    A gap is recorded, not repaired: indicators carry on from the last bar, and the
    journal says where the hole was so a person can judge the signals around it.
    ``breaks`` (``session_breaks``) are the closed hours between a split day's windows
    (the 2024 DR drills closed 10:00-11:30): no data there is the exchange, not a gap.
    """

    __slots__ = ("_breaks", "_last_end", "max_gap_ns")

    def __init__(
        self, max_gap_s: float = 180.0, breaks: Mapping[int, tuple[Break, ...]] | None = None
    ) -> None:
        self.max_gap_ns = int(max_gap_s * 1e9)
        self._last_end: dict[str, int] = {}
        self._breaks = dict(breaks or {})

    @property
    def ends(self) -> dict[str, int]:
        """Each symbol's last item end (the dict itself): a bar certified sound
        (``kitetui.market.certified``) sets its end here, which is all ``check`` would
        have done with it."""
        return self._last_end

    def check(self, item: Tick | Bar) -> str | None:
        start = item.ts_ns
        # A bar's end (``Bar.end_ns`` spelled out: the property is a call per bar on the
        # replay's hot path), a tick's time.
        end = start + item.timeframe_s * NS_PER_SECOND if isinstance(item, Bar) else start
        last = self._last_end.get(item.symbol)
        self._last_end[item.symbol] = end
        if last is None:
            return None
        gap = start - last
        if gap <= self.max_gap_ns or _ist_day(last) != _ist_day(start):
            return None  # most items: no gap (and a new day's first is no gap either)
        gap -= self._closed_within(last, start)
        if gap <= self.max_gap_ns:
            return None  # the hole was the exchange's break between two windows
        return f"no data for {gap / 60e9:.1f} min before this {type(item).__name__.lower()}"

    def _closed_within(self, a_ns: int, b_ns: int) -> int:
        """Nanoseconds of ``a_ns``..``b_ns`` (one IST day) the exchange was closed."""
        day = _ist_day(a_ns)
        closed = 0
        for lo, hi in self._breaks.get(day, ()):
            closed += max(0, min(b_ns, hi) - max(a_ns, lo))
        return closed


Break = tuple[int, int]  # epoch ns: the exchange closed from the first to the second


def session_breaks(
    windows: Mapping[date, Sequence[tuple[time, time]]],
) -> dict[int, tuple[Break, ...]]:
    """The closed hours between each split day's windows, by IST day number
    (``TradingCalendar.special_sessions``): one day of one window has none."""
    breaks: dict[int, tuple[Break, ...]] = {}
    for day, spans in windows.items():
        if len(spans) < 2:
            continue
        number = (day - _EPOCH).days
        base = number * _DAY_NS - _IST_NS  # the IST midnight, in epoch ns
        breaks[number] = tuple(
            (base + _of_day(close), base + _of_day(opening))
            for (_, close), (opening, _) in pairwise(spans)
        )
    return breaks


_EPOCH = date(1970, 1, 1)


def _of_day(clock: time) -> int:
    return (clock.hour * 3600 + clock.minute * 60 + clock.second) * NS_PER_SECOND


def _ist_day(ts_ns: int) -> int:
    return (ts_ns + 19_800_000_000_000) // 86_400_000_000_000
