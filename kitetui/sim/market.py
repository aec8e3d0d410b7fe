"""The simulated exchange's market: replay files played as the exchange's own prices.

``SimMarket`` loads the same replay sources the app replays (Kite candles, vendor
ticks, index values; ``pkg:`` paths and globs as in ``kitetui.config.SourceConfig``)
and Kite instrument masters, merges them into one data-time stream
(``kitetui.market.replay.merge_batches``) and advances a market clock through it:

* ``step()`` plays the next batch, ``advance_to(ts_ns)`` / ``advance_by(seconds)``
  play everything up to a time, ``inject_tick`` adds a synthetic trade (tests),
  ``run(speed)`` plays at N x wall time (``None`` = as fast as possible).
  Tests drive the clock by hand; the server runs it at the configured speed.
* Per instrument it keeps what Kite's quote shows: last price / quantity / trade time,
  day OHLC (``close`` = the previous session's last price in the data; on the first
  day of data there is none, so it is the day's first price), volume, VWAP (ticks:
  price x quantity; candles: typical price x volume), open interest and its day range.
* **Depth is synthetic** (the data has none): five bids at ``ltp, ltp-1t, ... ltp-4t``
  and five offers at ``ltp+1t ... ltp+5t`` (``t`` = the master's tick size, 0.05 when
  it has none), each with a quantity of 1-20 lots and 1-10 orders drawn from a
  deterministic hash of (token, second, level), so a replay always shows the same
  book. Indices have an all-zero depth, volume 0 and no circuit limits. Circuit limits
  (rounded to the tick) are ``close`` +/- 20 % for equities (NSE's widest common price
  band; each stock's own 2-20 % band is not in the data), +/- 10 % for futures (the
  exchange's dynamic price band for equity derivatives, Zerodha support), and one tick
  to 4 x ``close`` for options (NSE derives option ranges from the underlying; the band
  is the sim's choice, see docs/exchange-rules.md). The exchange refuses limit prices
  and triggers outside them. Depth is cosmetic: fills come from the paper matcher
  (``kitetui.brokers.paper``), not from the book.
* Historical candles are built once from all data (ticks aggregated per minute,
  1-minute candles as they are) and served only once complete on the market clock
  (``end <= now``), so a client never sees the future. Longer intervals are resampled
  with the app's session-anchored buckets (09:15 IST, ``day`` at 00:00 IST).

Instruments are identified by token through the master (``InstrumentMaster``); a data
symbol missing from the masters gets a synthetic instrument (token
``exchange_token << 8 | segment`` with exchange tokens from 9,000,000 up) and a
``SimInstrumentSynthesised`` load event.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from kitetui.domain import NS_PER_SECOND, Bar, Event, Tick
from kitetui.events import EventKind
from kitetui.market.bars import DAY_NS, DAY_S, IST_OFFSET_NS, SessionBuckets
from kitetui.market.index_loader import load_index_values
from kitetui.market.instruments import Instrument, InstrumentMaster, load_masters
from kitetui.market.load_cache import LoadCache
from kitetui.market.loaders import data_path, load_candles, load_ticks, with_symbol
from kitetui.market.replay import Item, Pacer, event_time, merge_batches

__all__ = [
    "INTERVALS",
    "IST",
    "InstrumentState",
    "MarketSource",
    "SimMarket",
    "ist_iso",
    "ist_str",
]

IST = timezone(timedelta(hours=5, minutes=30), "IST")
NS_PER_MINUTE = 60 * NS_PER_SECOND

# Kite's historical intervals -> seconds.
INTERVALS = {
    "minute": 60,
    "3minute": 180,
    "5minute": 300,
    "10minute": 600,
    "15minute": 900,
    "30minute": 1800,
    "60minute": 3600,
    "day": DAY_S,
}

# Kite segment ids (token & 0xFF), for synthetic instruments.
_SEGMENT_IDS = {"NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7, "INDICES": 9}


def ist_str(ts_ns: int) -> str:
    """Kite's naive IST wall-clock text: ``YYYY-MM-DD HH:MM:SS``."""
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, IST).strftime("%Y-%m-%d %H:%M:%S")


def ist_iso(ts_ns: int) -> str:
    """Kite's historical candle stamp: ``YYYY-MM-DDTHH:MM:SS+0530``."""
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, IST).strftime("%Y-%m-%dT%H:%M:%S%z")


def ist_day(ts_ns: int) -> int:
    """The IST calendar day of ``ts_ns`` as days since the epoch."""
    return (ts_ns + IST_OFFSET_NS) // DAY_NS


def _round_tick(price: float, tick: float) -> float:
    if tick <= 0:
        return round(price, 2)
    return round(round(price / tick) * tick, 4)


def _mix(*values: int) -> int:
    """A small deterministic integer hash (splitmix64 steps)."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x


class SourceLike(Protocol):
    path: str
    kind: str
    symbol: str | None
    exchange: str


@dataclass(frozen=True, slots=True)
class MarketSource:
    """One replay source, the same fields as ``kitetui.config.SourceConfig``."""

    path: str
    kind: str = "candles"  # candles | ticks | index
    symbol: str | None = None
    exchange: str = "NSE"


@dataclass(slots=True)
class InstrumentState:
    """What the exchange knows about one instrument at the current market time."""

    instrument: Instrument
    key: str  # "NFO:NIFTY22NOVFUT"
    has_data: bool = False
    last_price: float = 0.0
    last_quantity: int = 0
    last_trade_ns: int = 0
    volume: int = 0
    turnover: float = 0.0
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0  # previous session's close
    day: int = -1
    updated_ns: int = 0

    @property
    def token(self) -> int:
        return self.instrument.instrument_token

    @property
    def is_index(self) -> bool:
        return self.instrument.segment == "INDICES"

    @property
    def tick_size(self) -> float:
        return self.instrument.tick_size if self.instrument.tick_size > 0 else 0.05

    @property
    def average_price(self) -> float:
        if self.volume <= 0:
            return 0.0
        return round(self.turnover / self.volume, 2)

    @property
    def net_change(self) -> float:
        return round(self.last_price - self.close, 4) if self.close else 0.0

    def circuit_limits(self) -> tuple[float, float]:
        """The day's price band from the previous close (module docstring)."""
        base = self.close or self.open
        if self.is_index or base <= 0:
            return 0.0, 0.0
        tick = self.tick_size
        kind = self.instrument.instrument_type
        if self.instrument.exchange in ("NFO", "BFO") and kind in ("CE", "PE"):
            return tick, _round_tick(base * 4, tick)
        band = 0.1 if self.instrument.exchange in ("NFO", "BFO") else 0.2
        return _round_tick(base * (1 - band), tick), _round_tick(base * (1 + band), tick)

    def depth(self) -> dict[str, list[dict[str, Any]]]:
        """Five synthetic levels a side around the last price (module docstring)."""
        empty = {"price": 0, "quantity": 0, "orders": 0}
        if self.is_index or not self.has_data:
            return {"buy": [dict(empty) for _ in range(5)], "sell": [dict(empty) for _ in range(5)]}
        tick = self.tick_size
        lot = max(1, self.instrument.lot_size)
        second = self.updated_ns // NS_PER_SECOND
        book: dict[str, list[dict[str, Any]]] = {"buy": [], "sell": []}
        for side, sign, offset in (("buy", -1, 0), ("sell", 1, 1)):
            for level in range(5):
                price = _round_tick(self.last_price + sign * (level + offset) * tick, tick)
                h = _mix(self.token, second, level, offset)
                book[side].append(
                    {
                        "price": price if price > 0 else 0,
                        "quantity": lot * (1 + h % 20) if price > 0 else 0,
                        "orders": 1 + (h >> 8) % 10 if price > 0 else 0,
                    }
                )
        return book

    def total_quantities(self) -> tuple[int, int]:
        depth = self.depth()
        return (
            sum(level["quantity"] for level in depth["buy"]),
            sum(level["quantity"] for level in depth["sell"]),
        )


@dataclass(slots=True)
class _Candle:
    start_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: int
    oi: int


BatchListener = Callable[[int, list[Item], list[int]], None]
DayListener = Callable[[int, int], None]


@dataclass(slots=True)
class _Listeners:
    batch: list[BatchListener] = field(default_factory=list)
    day: list[DayListener] = field(default_factory=list)


def _expand(spec: str, symbol: str | None) -> list[tuple[Path, str]]:
    """A source path, or a glob whose files are named by their tradingsymbol."""
    if "*" not in spec:
        return [(data_path(spec), symbol or "")]
    folder, _, pattern = spec.rpartition("/")
    paths = sorted(data_path(folder).glob(pattern))
    return [(path, path.name.split(".", 1)[0]) for path in paths]


def _sources_of(sources: Any) -> list[SourceLike]:
    """Accept a ``ReplayConfig`` (its ``.sources``), ``SourceConfig``s, ``MarketSource``s
    or plain mappings with the same keys."""
    if hasattr(sources, "sources"):
        sources = sources.sources
    out: list[SourceLike] = []
    for source in sources:
        if isinstance(source, dict):
            source = MarketSource(**source)
        out.append(source)
    return out


class SimMarket:
    """A replayed market with a clock the caller controls (see the module docstring).

    ``sources``: a ``ReplayConfig`` or a list of ``SourceConfig``/``MarketSource``/dicts.
    ``instruments``: Kite master CSV path specs (``pkg:`` allowed) and/or a prepared
    ``InstrumentMaster``.
    """

    def __init__(
        self,
        sources: Any,
        instruments: Iterable[str | Path] | InstrumentMaster = (),
        *,
        master: InstrumentMaster | None = None,
    ) -> None:
        self.load_events: list[Event] = []
        self.master = self._load_master(instruments, master)
        self._states: dict[int, InstrumentState] = {}
        self._by_key: dict[str, InstrumentState] = {}
        self._synthetic: list[Instrument] = []
        streams = self._load_streams(_sources_of(sources))
        if self._synthetic:
            self.master = InstrumentMaster([*self.master, *self._synthetic])
        self._candles: dict[int, list[_Candle]] = {}
        for stream in streams:
            self._build_candles(stream)
        self._batches: list[tuple[int, list[Item]]] = list(merge_batches(streams))
        self._next = 0
        self.now_ns: int = self._batches[0][0] - NS_PER_SECOND if self._batches else 0
        self._listeners = _Listeners()
        self._day = ist_day(self.now_ns) if self._batches else -1

    # ------------------------------------------------------------------ loading

    def _load_master(
        self, specs: Iterable[str | Path] | InstrumentMaster, master: InstrumentMaster | None
    ) -> InstrumentMaster:
        items: list[Instrument] = []
        if isinstance(specs, InstrumentMaster):
            items.extend(specs)
        else:
            loaded, events = load_masters([data_path(spec) for spec in specs])
            items.extend(loaded)
            self.load_events.extend(events)
        if master is not None:
            items.extend(master)
        return InstrumentMaster(items)

    def _instrument_for(self, exchange: str, symbol: str, kind: str) -> Instrument:
        found = self.master.get(exchange, symbol)
        if found is None:
            found = next((i for i in self._synthetic if i.tradingsymbol == symbol), None)
            if found is not None and found.exchange == exchange:
                return found
            segment = "INDICES" if kind == "index" else exchange
            exchange_token = 9_000_000 + len(self._synthetic)
            found = Instrument(
                instrument_token=exchange_token << 8 | _SEGMENT_IDS.get(segment, 1),
                exchange_token=exchange_token,
                tradingsymbol=symbol,
                name=symbol if kind == "index" else "",
                last_price=0.0,
                expiry=None,
                strike=0.0,
                tick_size=0.0 if kind == "index" else 0.05,
                lot_size=0 if kind == "index" else 1,
                instrument_type="EQ",
                segment=segment,
                exchange=exchange,
            )
            self._synthetic.append(found)
            self.load_events.append(
                Event(
                    ts_ns=0,
                    kind=EventKind.SIM_INSTRUMENT_SYNTHESISED,
                    message=f"{exchange}:{symbol} is not in the instrument masters; "
                    f"using synthetic token {found.instrument_token}",
                    symbol=symbol,
                    level="WARNING",
                )
            )
        return found

    def _load_streams(self, sources: Sequence[SourceLike]) -> list[list[Item]]:
        streams: list[list[Item]] = []
        cache = LoadCache.from_env()  # the replay's parsed-file cache (load_cache.py)
        for source in sources:
            kind = getattr(source, "kind", "candles")
            exchange = getattr(source, "exchange", "NSE")
            for path, symbol in _expand(source.path, getattr(source, "symbol", None)):
                if kind == "ticks":
                    result = load_ticks(path, symbol, cache=cache)
                    items: Sequence[Tick] | Sequence[Bar] = result.ticks
                elif kind == "index":
                    result = load_index_values(path, symbol, cache=cache)
                    items = result.ticks
                else:
                    result = load_candles(path, symbol, cache=cache)
                    items = result.bars
                self.load_events.extend(result.events)
                if not items:
                    continue
                instrument = self._instrument_for(exchange, symbol, kind)
                key = f"{instrument.exchange}:{instrument.tradingsymbol}"
                if instrument.instrument_token not in self._states:
                    state = InstrumentState(instrument=instrument, key=key)
                    self._states[instrument.instrument_token] = state
                    self._by_key[key] = state
                streams.append(list(with_symbol(items, key)))
        return streams

    def _build_candles(self, stream: list[Item]) -> None:
        if not stream:
            return
        state = self._by_key[stream[0].symbol]
        candles = self._candles.setdefault(state.token, [])
        for item in stream:
            if isinstance(item, Bar):
                if item.timeframe_s == 60:
                    candles.append(
                        _Candle(
                            item.ts_ns,
                            item.open,
                            item.high,
                            item.low,
                            item.close,
                            item.volume,
                            item.oi,
                        )
                    )
                continue
            start = item.ts_ns - item.ts_ns % NS_PER_MINUTE
            last = candles[-1] if candles else None
            if last is not None and last.start_ns == start:
                last.high = max(last.high, item.price)
                last.low = min(last.low, item.price)
                last.close = item.price
                last.volume += item.qty
                last.oi = item.oi
            else:
                price = item.price
                candles.append(_Candle(start, price, price, price, price, item.qty, item.oi))
        candles.sort(key=lambda c: c.start_ns)

    # ------------------------------------------------------------------ lookups

    @property
    def states(self) -> dict[int, InstrumentState]:
        """Instruments with replay data, by instrument token."""
        return self._states

    def state(self, token: int) -> InstrumentState | None:
        return self._states.get(token)

    def state_for_key(self, key: str) -> InstrumentState | None:
        """``"NSE:SBIN"`` -> its state (only instruments with replay data)."""
        found = self._by_key.get(key)
        if found is None:
            exchange, _, symbol = key.partition(":")
            found = self._by_key.get(f"{exchange.strip().upper()}:{symbol.strip().upper()}")
        return found

    def instrument(self, exchange: str, tradingsymbol: str) -> Instrument | None:
        return self.master.get(exchange, tradingsymbol)

    def resolve(self, spec: str) -> InstrumentState | None:
        """A quote ``i`` value: ``EXCHANGE:TRADINGSYMBOL`` or a bare instrument token."""
        spec = spec.strip()
        if spec.isdigit():
            return self._states.get(int(spec))
        if ":" not in spec:
            return None
        return self.state_for_key(spec)

    def last_price(self, key: str) -> float | None:
        state = self.state_for_key(key)
        return state.last_price if state is not None and state.has_data else None

    # ------------------------------------------------------------------ listeners

    def add_listener(self, callback: BatchListener) -> Callable[[], None]:
        """``callback(ts_ns, items, tokens)`` after each played batch (items' ``symbol``
        is ``EXCH:SYM``; ``tokens`` the instrument tokens it updated). Returns a remover."""
        self._listeners.batch.append(callback)
        return lambda: self._listeners.batch.remove(callback)

    def on_day_change(self, callback: DayListener) -> Callable[[], None]:
        """``callback(old_day, new_day)`` (IST days since the epoch) when data time
        crosses into a new IST calendar day."""
        self._listeners.day.append(callback)
        return lambda: self._listeners.day.remove(callback)

    # ------------------------------------------------------------------ the clock

    @property
    def finished(self) -> bool:
        return self._next >= len(self._batches)

    @property
    def start_ns(self) -> int:
        return self._batches[0][0] if self._batches else 0

    @property
    def end_ns(self) -> int:
        return self._batches[-1][0] if self._batches else 0

    def peek_ts(self) -> int | None:
        """Event time of the next batch, or ``None`` at the end of the data."""
        return self._batches[self._next][0] if not self.finished else None

    def step(self) -> int | None:
        """Play the next batch; its time, or ``None`` when the data is exhausted."""
        if self.finished:
            return None
        ts, batch = self._batches[self._next]
        self._next += 1
        self._play(ts, batch)
        return ts

    def advance_to(self, ts_ns: int) -> int:
        """Play every batch with event time <= ``ts_ns``; the clock ends at ``ts_ns``
        (never goes back). Returns the number of batches played."""
        played = 0
        while not self.finished and self._batches[self._next][0] <= ts_ns:
            self.step()
            played += 1
        if ts_ns > self.now_ns:
            self._set_clock(ts_ns)
        return played

    def advance_by(self, seconds: float) -> int:
        return self.advance_to(self.now_ns + int(seconds * NS_PER_SECOND))

    def inject_tick(
        self,
        key: str,
        price: float,
        qty: int = 1,
        *,
        ts_ns: int | None = None,
        oi: int | None = None,
    ) -> int:
        """Trade ``key`` at ``price`` (tests): data due before it is played first. The
        tick is stamped ``ts_ns`` or one second after the clock. Returns its time."""
        state = self.state_for_key(key)
        if state is None:
            instrument = self._lookup_instrument(key)
            if instrument is None:
                raise KeyError(f"unknown instrument {key!r}")
            state = InstrumentState(instrument=instrument, key=key)
            self._states[instrument.instrument_token] = state
            self._by_key[key] = state
        if not math.isfinite(price) or price <= 0:
            raise ValueError(f"price must be positive, got {price!r}")
        ts = self.now_ns + NS_PER_SECOND if ts_ns is None else ts_ns
        self.advance_to(ts - 1)
        ts = max(ts, self.now_ns + 1)
        tick = Tick(state.key, ts, float(price), qty, state.oi if oi is None else oi)
        self._play(ts, [tick])
        return ts

    def _lookup_instrument(self, key: str) -> Instrument | None:
        exchange, _, symbol = key.partition(":")
        return self.master.get(exchange, symbol)

    def _set_clock(self, ts_ns: int) -> None:
        self.now_ns = ts_ns
        day = ist_day(ts_ns)
        if day != self._day:
            old, self._day = self._day, day
            for callback in list(self._listeners.day):
                callback(old, day)

    def _play(self, ts_ns: int, batch: list[Item]) -> None:
        self._set_clock(max(ts_ns, self.now_ns))
        tokens: list[int] = []
        for item in batch:
            state = self._by_key.get(item.symbol)
            if state is None:
                continue
            self._apply(state, item)
            if not tokens or tokens[-1] != state.token:
                tokens.append(state.token)
        for callback in list(self._listeners.batch):
            callback(ts_ns, batch, tokens)

    @staticmethod
    def _apply(state: InstrumentState, item: Item) -> None:
        ts = event_time(item)
        day = ist_day(ts)
        if isinstance(item, Bar):
            first, price, high, low = item.open, item.close, item.high, item.low
            qty, volume = 0, item.volume
            turnover = volume * (item.high + item.low + item.close) / 3
            oi = item.oi
        else:
            first = price = high = low = item.price
            qty = volume = item.qty
            turnover = item.price * item.qty
            oi = item.oi
        if day != state.day:
            if state.has_data:
                state.close = state.last_price
            elif not state.close:
                state.close = first
            state.day = day
            state.open, state.high, state.low = first, high, low
            state.volume = 0
            state.turnover = 0.0
            state.oi_day_high = state.oi_day_low = oi
        state.has_data = True
        state.high = max(state.high, high)
        state.low = min(state.low, low) if state.low else low
        state.last_price = price
        state.last_quantity = qty
        state.last_trade_ns = ts
        state.updated_ns = ts
        state.volume += volume
        state.turnover += turnover
        if oi:
            state.oi = oi
            state.oi_day_high = max(state.oi_day_high, oi)
            state.oi_day_low = min(state.oi_day_low, oi) if state.oi_day_low else oi

    async def run(
        self,
        speed: float | None,
        *,
        max_gap_s: float = 1.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Play the rest of the data at ``speed`` x data time (``None``: as fast as
        possible, yielding to the loop), until the end or ``stop`` is set."""
        pacer = Pacer(speed, max_gap_s=max_gap_s)
        while not self.finished and not (stop is not None and stop.is_set()):
            ts = self.peek_ts()
            if ts is None:
                break
            await pacer.wait(ts)
            self.advance_to(ts)  # plays nothing if someone else got there first
            if speed is None:
                await asyncio.sleep(0)

    # ------------------------------------------------------------------ Kite payloads

    def quote(self, state: InstrumentState) -> dict[str, Any]:
        """One instrument of ``GET /quote`` (keys as in quote.json)."""
        buy_qty, sell_qty = state.total_quantities()
        lower, upper = state.circuit_limits()
        return {
            "instrument_token": state.token,
            "timestamp": ist_str(self.now_ns),
            "last_trade_time": ist_str(state.last_trade_ns) if state.last_trade_ns else None,
            "last_price": state.last_price,
            "last_quantity": state.last_quantity,
            "buy_quantity": buy_qty,
            "sell_quantity": sell_qty,
            "volume": state.volume,
            "average_price": state.average_price,
            "oi": state.oi,
            "oi_day_high": state.oi_day_high,
            "oi_day_low": state.oi_day_low,
            "net_change": state.net_change,
            "lower_circuit_limit": lower,
            "upper_circuit_limit": upper,
            "ohlc": self._ohlc(state),
            "depth": state.depth(),
        }

    @staticmethod
    def _ohlc(state: InstrumentState) -> dict[str, float]:
        return {"open": state.open, "high": state.high, "low": state.low, "close": state.close}

    def ohlc(self, state: InstrumentState) -> dict[str, Any]:
        return {
            "instrument_token": state.token,
            "last_price": state.last_price,
            "ohlc": self._ohlc(state),
        }

    @staticmethod
    def ltp(state: InstrumentState) -> dict[str, Any]:
        return {"instrument_token": state.token, "last_price": state.last_price}

    def historical(
        self, token: int, interval: str, from_ns: int, to_ns: int, *, oi: bool = False
    ) -> list[list[Any]]:
        """Complete candles (``end <= now``) starting in ``[from_ns, to_ns]``."""
        seconds = INTERVALS[interval]
        minutes = self._candles.get(token, [])
        now = self.now_ns
        buckets = SessionBuckets(seconds)
        out: list[list[Any]] = []
        current: list[Any] | None = None
        current_end = 0
        for candle in minutes:
            if candle.start_ns + NS_PER_MINUTE > now:
                break
            start, end = buckets.bucket(candle.start_ns)
            if current is not None and current[0] == start:
                current[2] = max(current[2], candle.high)
                current[3] = min(current[3], candle.low)
                current[4] = candle.close
                current[5] += candle.volume
                current[6] = candle.oi
                continue
            if current is not None:
                out.append(current)
            current = [
                start,
                candle.open,
                candle.high,
                candle.low,
                candle.close,
                candle.volume,
                candle.oi,
            ]
            current_end = end
        if current is not None and current_end <= now:
            out.append(current)
        result = []
        for start, o, h, lo, c, v, open_interest in out:
            if not from_ns <= start <= to_ns:
                continue
            row: list[Any] = [ist_iso(start), o, h, lo, c, v]
            if oi:
                row.append(open_interest)
            result.append(row)
        return result


def parse_ist(text: str, *, end_of_day: bool = False) -> int:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` (IST) -> epoch ns; a bare date is 00:00, or 23:59:59
    with ``end_of_day``. Raises ``ValueError``."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            parsed = datetime.strptime(text, fmt).replace(tzinfo=IST)
            if fmt == "%Y-%m-%d" and end_of_day:
                parsed += timedelta(days=1, seconds=-1)
            return int(parsed.astimezone(UTC).timestamp()) * NS_PER_SECOND
    raise ValueError(f"bad date/time {text!r}")
