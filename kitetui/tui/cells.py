"""What each table row says, as plain values, so the diff and the tests need no screen.

Every table in the desk is fed ``{row key: tuple[Cell, ...]}`` built here from the
immutable views. A ``Cell`` is text plus a *tone* ("up", "down", "warn" or ""), not a
colour: the widget turns tones into the theme's ``$success``/``$error``/``$warning``
when it paints, so NO_COLOR and theme changes keep working, and two cells compare equal
exactly when the screen would show the same thing. That equality is what lets a table
call ``update_cell`` only where something changed (design rule 10).

Nothing here imports textual; it runs (and is tested) without an event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple, TypeVar

from kitetui.views import (
    BlockedView,
    DeskSnapshot,
    EngineView,
    EventView,
    HeadlineView,
    LimitView,
    OrderView,
    PerformanceRow,
    PositionView,
    SignalView,
)

T = TypeVar("T")
IST = timezone(timedelta(hours=5, minutes=30), "IST")
DASH = "—"
BAR_WIDTH = 10


class Cell(NamedTuple):
    text: str
    tone: str = ""  # "up", "down", "warn" or ""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    numeric: bool = False  # right-aligned


Row = tuple[Cell, ...]


# ---- formatting -------------------------------------------------------------------


def ist_datetime(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(IST)


def ist_clock(ts_ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS IST`` for the data clock; a dash before the first tick."""
    if ts_ns <= 0:
        return f"{DASH} IST"
    return ist_datetime(ts_ns).strftime("%Y-%m-%d %H:%M:%S IST")


def ist_time(ts_ns: int, dated: bool = False) -> str:
    """``HH:MM:SS``; ``MM-DD HH:MM:SS`` when ``dated`` (the rows span more than a day)."""
    if ts_ns <= 0:
        return DASH
    return ist_datetime(ts_ns).strftime("%m-%d %H:%M:%S" if dated else "%H:%M:%S")


def spans_days(snapshot: DeskSnapshot) -> bool:
    """Whether the rows of the Orders, Signals and Log tabs may come from more than one
    day, so their time column must say the date: the run has seen more than one trading
    day, or its oldest row listed is of another day than the data clock's."""
    if snapshot.risk.days > 1 or snapshot.past_days:
        return True
    now = snapshot.data_ts_ns
    if now <= 0:
        return False
    oldest = [v[0].ts_ns for v in (snapshot.signals, snapshot.events) if v and v[0].ts_ns > 0]
    oldest += [o.ts_ns for o in snapshot.orders if o.ts_ns > 0]
    return bool(oldest) and ist_datetime(min(oldest)).date() != ist_datetime(now).date()


def group_indian(whole: int) -> str:
    """Digits grouped the Indian way: 12,34,567."""
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    if head:
        pairs.insert(0, head)
    return ",".join([*pairs, tail])


def money(value: float, *, signed: bool = True) -> str:
    """Rupees with paise, Indian grouping and an explicit sign: +1,23,456.70."""
    paise = round(value * 100)
    sign = "-" if paise < 0 else ("+" if signed and paise > 0 else "")
    whole, frac = divmod(abs(paise), 100)
    return f"{sign}{group_indian(whole)}.{frac:02d}"


def price(value: float) -> str:
    return "" if value == 0 else f"{value:,.2f}"


def tone_of(value: float) -> str:
    if round(value * 100) > 0:
        return "up"
    if round(value * 100) < 0:
        return "down"
    return ""


def pnl_cell(value: float) -> Cell:
    return Cell(money(value), tone_of(value))


def timeframe(seconds: int) -> str:
    if seconds <= 0:
        return DASH
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())  # one line: a table row is one line high
    return text if len(text) <= width else text[: width - 1] + "…"


def symbols_summary(symbols: Iterable[str], shown: int = 3) -> str:
    symbols = tuple(symbols)
    head = ",".join(symbols[:shown])
    return head if len(symbols) <= shown else f"{head} +{len(symbols) - shown}"


def usage_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A text gauge that still reads in monochrome: ``█████░░░░░  50%``."""
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    return f"{'█' * filled}{'░' * (width - filled)} {fraction * 100:3.0f}%"


def usage_tone(fraction: float) -> str:
    if fraction >= 0.9:
        return "down"
    if fraction >= 0.7:
        return "warn"
    return ""


STATE_TONES = {
    "RUNNING": "up",
    "ACTIVE": "up",
    "FILLED": "up",
    "COMPLETE": "up",
    "ALLOW": "up",
    "PAUSED": "warn",
    "REDUCING": "warn",
    "REDUCE": "warn",
    "PARTIAL": "warn",
    "OPEN": "warn",
    "PENDING": "warn",
    "TRIGGER_PENDING": "warn",
    "ERROR": "down",
    "HALTED": "down",
    "REJECTED": "down",
    "BLOCK": "down",
    "HALT": "down",
    "CANCELLED": "",
}


def state_cell(state: str) -> Cell:
    return Cell(state, STATE_TONES.get(state.upper(), ""))


def keyed(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    """Items by a unique row key (a repeated key gets ``#2``…), in the order given."""
    items = tuple(items)
    return dict(zip(unique_keys(key(item) for item in items), items, strict=True))


def unique_keys(keys: Iterable[str]) -> list[str]:
    """Row keys must be unique in a DataTable; a repeated key gets ``#2``, ``#3``…"""
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        count = seen.get(key, 0) + 1
        seen[key] = count
        out.append(key if count == 1 else f"{key}#{count}")
    return out


# ---- tables -----------------------------------------------------------------------


def engine_key(engine: EngineView) -> str:
    return engine.name


def position_key(position: PositionView) -> str:
    return position.symbol


def order_key(order: OrderView) -> str:
    return order.tag


def signal_key(signal: SignalView) -> str:
    return str(signal.seq)


def event_key(event: EventView) -> str:
    return str(event.seq)


ENGINE_COLUMNS = (
    ColumnSpec("name", "engine"),
    ColumnSpec("state", "state"),
    ColumnSpec("kind", "kind"),
    ColumnSpec("strategy", "strategy"),
    ColumnSpec("tf", "tf"),
    ColumnSpec("instruments", "instruments"),
    ColumnSpec("heartbeat", "heartbeat"),
    ColumnSpec("lag", "lag", numeric=True),
    ColumnSpec("bars", "bars", numeric=True),
    ColumnSpec("signals", "signals", numeric=True),
    ColumnSpec("orders", "orders", numeric=True),
    ColumnSpec("error", "last error"),
)


def lag_text(seconds: float) -> str:
    """How far an engine's last bar trails the data clock, in bar-sized words."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def engine_row(engine: EngineView, data_ts_ns: int = 0) -> Row:
    beat = engine.heartbeat_ts_ns
    lag = max(0.0, (data_ts_ns - beat) / 1e9) if beat > 0 and data_ts_ns > 0 else None
    # An engine more than two of its own bars behind the market is worth a look.
    late = lag is not None and engine.timeframe_s > 0 and lag > 2 * engine.timeframe_s
    count = len(engine.symbols)
    idle = engine.shown_state
    return (
        Cell(engine.name),
        state_cell(engine.state) if idle == engine.state else Cell(idle, "warn"),
        Cell(engine.kind),
        Cell(engine.strategy),
        Cell(timeframe(engine.timeframe_s)),
        Cell(f"{count}: {symbols_summary(engine.symbols, 2)}" if count else DASH),
        Cell(ist_time(beat)),
        Cell(DASH if lag is None else lag_text(lag), "warn" if late else ""),
        Cell(str(engine.bars_seen)),
        Cell(str(engine.signals_emitted)),
        Cell(str(engine.orders_placed)),
        Cell(clip(engine.last_error, 40), "down" if engine.last_error else ""),
    )


def engine_rows(engines: Iterable[EngineView], data_ts_ns: int = 0) -> dict[str, Row]:
    return {key: engine_row(e, data_ts_ns) for key, e in keyed(engines, engine_key).items()}


#: What a trader must see at 80 columns comes first: the contract, its size, its net P&L
#: and what protects it (the stop); gross, charges, lots, expiry and the split follow.
POSITION_COLUMNS = (
    ColumnSpec("symbol", "contract"),
    ColumnSpec("qty", "qty", numeric=True),
    ColumnSpec("net", "net", numeric=True),
    ColumnSpec("cover", "cover"),
    ColumnSpec("ltp", "LTP", numeric=True),
    ColumnSpec("avg", "avg", numeric=True),
    ColumnSpec("pnl", "gross", numeric=True),
    ColumnSpec("charges", "charges", numeric=True),
    ColumnSpec("lots", "lots", numeric=True),
    ColumnSpec("expiry", "expiry"),
    ColumnSpec("unrealized", "unrealized", numeric=True),
    ColumnSpec("realized", "realized", numeric=True),
    ColumnSpec("product", "prod"),
    ColumnSpec("engine", "engine"),
)


_COVER_TONES = {"PROTECTED": "up", "EXITING": "warn", "NAKED": "down"}


def position_row(position: PositionView) -> Row:
    qty = position.quantity
    lot = max(1, position.lot_size)
    lots = f"{qty // lot:+d}" if qty % lot == 0 else f"{qty / lot:+.2f}"
    return (
        Cell(position.symbol),
        Cell(f"{qty:+d}" if qty else "0", tone_of(qty)),
        pnl_cell(position.net),
        Cell(position.cover, _COVER_TONES.get(position.cover_state, "")),
        Cell(price(position.last_price)),
        Cell(price(position.avg_price)),
        pnl_cell(position.pnl),
        Cell(money(position.charges, signed=False)),
        Cell(lots if qty and position.lot_size > 1 else "", tone_of(qty)),
        Cell(position.expiry),
        pnl_cell(position.unrealized),
        pnl_cell(position.realized),
        Cell(position.product),
        Cell(position.engine),
    )


def position_rows(positions: Iterable[PositionView]) -> dict[str, Row]:
    return {key: position_row(p) for key, p in keyed(positions, position_key).items()}


#: The tag second: it is what ``kitetui ctl order``/``cancel`` take (any unique prefix),
#: and at the end of the row it was cut to four characters at 120 columns.
ORDER_COLUMNS = (
    ColumnSpec("time", "time"),
    ColumnSpec("tag", "tag"),
    ColumnSpec("symbol", "symbol"),
    ColumnSpec("side", "side"),
    ColumnSpec("qty", "qty", numeric=True),
    ColumnSpec("type", "type"),
    ColumnSpec("purpose", "purpose"),
    ColumnSpec("status", "status"),
    ColumnSpec("price", "price", numeric=True),
    ColumnSpec("trigger", "trigger", numeric=True),
    ColumnSpec("filled", "filled", numeric=True),
    ColumnSpec("avg", "avg", numeric=True),
    ColumnSpec("engine", "engine"),
    ColumnSpec("reason", "reason"),
)


def order_row(order: OrderView, dated: bool = False) -> Row:
    side_tone = {"BUY": "up", "SELL": "down"}.get(order.side.upper(), "")
    return (
        Cell(ist_time(order.ts_ns, dated)),
        Cell(order.tag),
        Cell(order.symbol),
        Cell(order.side, side_tone),
        Cell(str(order.quantity)),
        Cell(order.order_type),
        Cell(order.purpose),
        state_cell(order.status),
        Cell(price(order.price)),
        Cell(price(order.trigger_price)),
        Cell(str(order.filled_qty)),
        Cell(price(order.avg_price)),
        Cell(order.engine),
        Cell(clip(order.reason, 40)),
    )


def order_rows(orders: Iterable[OrderView]) -> dict[str, Row]:
    return {key: order_row(o) for key, o in keyed(orders, order_key).items()}


SIGNAL_COLUMNS = (
    ColumnSpec("time", "time"),
    ColumnSpec("symbol", "symbol"),
    ColumnSpec("kind", "kind"),
    ColumnSpec("price", "price", numeric=True),
    ColumnSpec("confidence", "conf", numeric=True),
    ColumnSpec("verdict", "risk"),
    ColumnSpec("reason", "reason"),
    ColumnSpec("risk_reason", "risk reason"),
    ColumnSpec("engine", "engine"),
    ColumnSpec("strategy", "strategy"),
)


def confidence_text(confidence: float) -> str:
    """A strategy's confidence in [0, 1] to two places, but never a bare ``0.00`` for a
    signal that fired: an EMA cross is decided by a gap a fraction of an ATR wide, and
    "0.00" beside ALLOW reads as "traded on no conviction at all"."""
    if 0 < confidence < 0.005:
        return "<0.01"
    return f"{confidence:.2f}"


def signal_row(signal: SignalView, dated: bool = False) -> Row:
    return (
        Cell(ist_time(signal.ts_ns, dated)),
        Cell(signal.symbol),
        Cell(signal.kind),
        Cell(price(signal.price)),
        Cell(confidence_text(signal.confidence)),
        state_cell(signal.risk_verdict) if signal.risk_verdict else Cell(DASH),
        Cell(clip(signal.reason, 40)),
        Cell(clip(signal.risk_reason, 40)),
        Cell(signal.engine),
        Cell(signal.strategy),
    )


def signal_rows(signals: Iterable[SignalView]) -> dict[str, Row]:
    return {key: signal_row(s) for key, s in keyed(signals, signal_key).items()}


LIMIT_COLUMNS = (
    ColumnSpec("name", "limit"),
    ColumnSpec("used", "used", numeric=True),
    ColumnSpec("limit", "of", numeric=True),
    ColumnSpec("usage", "usage"),
)


def _amount(value: float, unit: str) -> str:
    if unit in ("₹", "INR", "rupees", "Rs"):
        return money(value, signed=False)
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{text} {unit}".rstrip()


def limit_row(limit: LimitView) -> Row:
    fraction = limit.fraction
    return (
        Cell(limit.name),
        Cell(_amount(limit.used, limit.unit)),
        Cell(_amount(limit.limit, limit.unit)),
        Cell(usage_bar(fraction), usage_tone(fraction)),
    )


def limit_rows(limits: Iterable[LimitView]) -> dict[str, Row]:
    return {key: limit_row(limit) for key, limit in keyed(limits, lambda x: x.name).items()}


EVENT_COLUMNS = (
    ColumnSpec("time", "time"),
    ColumnSpec("level", "level"),
    ColumnSpec("kind", "kind"),
    ColumnSpec("where", "where"),
    ColumnSpec("message", "message"),
)

_LEVEL_TONES = {"WARNING": "warn", "WARN": "warn", "ERROR": "down", "CRITICAL": "down"}


def event_row(event: EventView, dated: bool = False) -> Row:
    where = "/".join(part for part in (event.engine, event.symbol) if part)
    return (
        Cell(ist_time(event.ts_ns, dated)),
        Cell(event.level, _LEVEL_TONES.get(event.level.upper(), "")),
        Cell(event.kind),
        Cell(where),
        Cell(clip(event.message, 120)),
    )


def event_rows(events: Iterable[EventView]) -> dict[str, Row]:
    return {key: event_row(e) for key, e in keyed(events, event_key).items()}


# ---- blocked signals ---------------------------------------------------------------

BLOCKED_COLUMNS = (
    ColumnSpec("count", "count", numeric=True),
    ColumnSpec("engine", "engine"),
    ColumnSpec("rule", "rule"),
    ColumnSpec("verdict", "verdict"),
    ColumnSpec("last", "last"),
    ColumnSpec("symbol", "symbol"),
    ColumnSpec("reason", "last reason"),
)

_VERDICT_TONES = {"BLOCK": "warn", "REDUCE": "", "HALT": "down"}


def blocked_key(blocked: BlockedView) -> str:
    return f"{blocked.engine}|{blocked.rule}|{blocked.verdict}"


def blocked_row(blocked: BlockedView) -> Row:
    return (
        Cell(f"{blocked.count:,}"),
        Cell(blocked.engine),
        Cell(blocked.rule),
        Cell(blocked.verdict, _VERDICT_TONES.get(blocked.verdict, "")),
        Cell(ist_time(blocked.last_ts_ns)),
        Cell(blocked.last_symbol),
        Cell(clip(blocked.last_reason, 100)),
    )


# ---- performance ---------------------------------------------------------------------

#: What a trader reads first comes first: at 80 columns the table shows the part, its
#: trades, win rate and net, gross and charges; the rest scroll (and are in the detail).
PERFORMANCE_COLUMNS = (
    ColumnSpec("by", "by"),
    ColumnSpec("name", "name"),
    ColumnSpec("trades", "trades", numeric=True),
    ColumnSpec("win", "win%", numeric=True),
    ColumnSpec("net", "net", numeric=True),
    ColumnSpec("gross", "gross", numeric=True),
    ColumnSpec("charges", "charges", numeric=True),
    ColumnSpec("avg_win", "avg win", numeric=True),
    ColumnSpec("avg_loss", "avg loss", numeric=True),
    ColumnSpec("max_dd", "max DD closed", numeric=True),  # on closed trades; Risk: marked
    ColumnSpec("open", "open", numeric=True),
    ColumnSpec("pf", "PF", numeric=True),
    ColumnSpec("expectancy", "per trade", numeric=True),
    ColumnSpec("strategy", "strategy"),
)


def performance_key(row: PerformanceRow) -> str:
    return f"{row.scope}|{row.part}|{row.name}"


def performance_name(row: PerformanceRow) -> str:
    """``whole run``, ``2023-04-05`` (a day's whole or a day of the run), the engine or
    the symbol (an engine's strategy has a column of its own, at the end)."""
    if row.part == "all":
        return "whole run" if row.scope == "run" else row.scope
    return row.name


def win_rate_text(row: PerformanceRow) -> str:
    rate = row.win_rate
    return DASH if rate is None else f"{rate * 100:.0f}%"


def optional_pnl(value: float | None) -> Cell:
    return Cell(DASH) if value is None else pnl_cell(value)


def performance_row(row: PerformanceRow) -> Row:
    return (
        Cell(row.part, "label" if row.part == "all" else ""),
        Cell(performance_name(row)),
        Cell(f"{row.trades:,}"),
        Cell(win_rate_text(row)),
        pnl_cell(row.net),
        pnl_cell(row.gross),
        Cell(money(row.charges, signed=False)),
        optional_pnl(row.avg_win),
        optional_pnl(row.avg_loss),
        pnl_cell(-abs(row.max_drawdown)),
        Cell(f"{row.open_trades:,}" if row.open_trades else ""),
        Cell(DASH if row.profit_factor is None else f"{row.profit_factor:.2f}"),
        optional_pnl(row.expectancy),
        Cell(row.strategy),
    )


# ---- risk summary ------------------------------------------------------------------


def trades_today_text(trades: Mapping[str, int] | Iterable[tuple[str, int]]) -> str:
    pairs = trades.items() if isinstance(trades, Mapping) else trades
    return "  ".join(f"{symbol} {count}" for symbol, count in pairs) or DASH


# ---- the end of a replay ---------------------------------------------------------------


def headline_rows(headline: HeadlineView) -> tuple[tuple[str, Cell], ...]:
    """The summary screen's figures, label and value, in the order a trader reads them."""
    rate = headline.win_rate
    rows = [
        ("gross P&L", pnl_cell(headline.gross)),
        ("charges", Cell(money(-headline.charges), "down" if headline.charges else "")),
        ("net P&L", pnl_cell(headline.net)),
        ("trades", Cell(f"{headline.trades:,} round trips")),
        (
            "win rate",
            Cell(DASH if rate is None else f"{rate * 100:.1f}% ({headline.won:,} won)"),
        ),
        ("max drawdown", pnl_cell(-abs(headline.max_drawdown))),
        ("orders · fills", Cell(f"{headline.orders:,} · {headline.fills:,}")),
        ("days", Cell(str(headline.days))),
    ]
    if headline.open_positions:
        rows.append(("still open", Cell(f"{headline.open_positions} positions", "warn")))
    if headline.note:
        rows.append(("note", Cell(headline.note, "warn")))
    return tuple(rows)
