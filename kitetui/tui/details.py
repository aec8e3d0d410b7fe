"""What the detail pane says about the selected row, as plain toned text.

A table row is one line and clips; the pane under it tells the whole story of one
thing: an order's every state and fill, the indicator values and the risk decision
behind a signal, an engine's full instrument list and last error, an event's whole
message. Lines are tuples of ``Cell`` (text + tone, with "label" for the bold field
names), so this module needs no screen and two identical panes compare equal.
"""

from __future__ import annotations

from collections.abc import Iterable

from kitetui.tui.cells import (
    DASH,
    STATE_TONES,
    Cell,
    confidence_text,
    ist_clock,
    ist_time,
    lag_text,
    money,
    optional_pnl,
    performance_name,
    pnl_cell,
    price,
    timeframe,
    tone_of,
    win_rate_text,
)
from kitetui.views import (
    BlockedView,
    EngineView,
    EventView,
    OrderDetail,
    OrderView,
    PerformanceRow,
    PositionView,
    SignalView,
)

Line = tuple[Cell, ...]
Detail = tuple[Line, ...]

OPEN_STATUSES = frozenset({"NEW", "OPEN", "TRIGGER PENDING", "TRIGGER_PENDING"})


def _label(text: str) -> Cell:
    return Cell(f"{text} ", "label")


def _state(text: str) -> Cell:
    return Cell(text, STATE_TONES.get(text.upper(), ""))


def _words(pairs: Iterable[tuple[str, str]]) -> Line:
    cells: list[Cell] = []
    for label, value in pairs:
        if value:
            if cells:
                cells.append(Cell("  "))
            cells.extend((_label(label), Cell(value)))
    return tuple(cells)


def order_detail(order: OrderView, detail: OrderDetail | None, *, loading: bool) -> Detail:
    side_tone = {"BUY": "up", "SELL": "down"}.get(order.side.upper(), "")
    filled = f"{order.filled_qty}/{order.quantity}"
    if order.avg_price:
        filled += f" @ {price(order.avg_price)}"
    lines: list[Line] = [
        (
            Cell(order.side, side_tone),
            Cell(f" {order.quantity} {order.symbol} {order.order_type} {order.purpose}  "),
            _state(order.status),
            Cell(f"  filled {filled}"),
        ),
        _words(
            (
                ("tag", order.tag),
                ("engine", order.engine),
                ("placed", ist_clock(order.ts_ns)),
                ("price", price(order.price)),
                ("trigger", price(order.trigger_price)),
            )
        ),
    ]
    if order.reason:
        lines.append((_label("reason"), Cell(order.reason)))
    if detail is None:
        lines.append((Cell("loading history…" if loading else "no journal history", "warn"),))
        return tuple(lines)
    history: list[Cell] = [_label("history")]
    for index, event in enumerate(detail.history):
        if index:
            history.append(Cell(" → "))
        history.extend((Cell(f"{ist_time(event.ts_ns)} "), _state(event.status)))
        if event.reason and event.status.upper() in ("REJECTED", "CANCELLED"):
            history.append(Cell(f" ({event.reason})"))
    if not detail.history:
        history.append(Cell(DASH))
    lines.append(tuple(history))
    if detail.fills:
        total = sum(f.quantity for f in detail.fills)
        value = sum(f.quantity * f.price for f in detail.fills)
        lines.append(
            (
                _label("fills"),
                Cell(f"{len(detail.fills)} for {total} @ avg {price(value / total)}"),
            )
        )
        lines.extend(
            (Cell(f"  {ist_time(f.ts_ns)} {f.side} {f.quantity} @ {price(f.price)}  {f.fill_id}"),)
            for f in detail.fills
        )
    else:
        lines.append((_label("fills"), Cell("none")))
    return tuple(lines)


def _number(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.2f}"
    if magnitude >= 1:
        return f"{value:.4g}" if magnitude < 10 else f"{value:.2f}"
    return f"{value:.4f}"


def signal_detail(signal: SignalView) -> Detail:
    kind_tone = {"LONG": "up", "BUY": "up", "SHORT": "down", "SELL": "down"}.get(
        signal.kind.upper(), ""
    )
    lines: list[Line] = [
        (
            Cell(signal.kind, kind_tone),
            Cell(
                f" {signal.symbol} @ {price(signal.price)}"
                f"  conf {confidence_text(signal.confidence)}  "
            ),
            Cell(f"{signal.strategy} on {signal.engine}  {ist_clock(signal.ts_ns)}"),
        ),
    ]
    if signal.reason:
        lines.append((_label("why"), Cell(signal.reason)))
    if signal.indicators:
        cells: list[Cell] = [_label("indicators")]
        for index, (name, value) in enumerate(signal.indicators):
            if index:
                cells.append(Cell("  "))
            cells.append(Cell(f"{name} {_number(value)}"))
        lines.append(tuple(cells))
    if signal.risk_verdict:
        risk: list[Cell] = [_label("risk"), _state(signal.risk_verdict)]
        if signal.risk_reason:
            risk.append(Cell(f"  {signal.risk_reason}"))
        lines.append(tuple(risk))
    else:
        lines.append((_label("risk"), Cell("no order wanted (exit or information only)")))
    return tuple(lines)


def engine_detail(engine: EngineView, data_ts_ns: int) -> Detail:
    beat = engine.heartbeat_ts_ns
    lag = lag_text(max(0.0, (data_ts_ns - beat) / 1e9)) if beat > 0 and data_ts_ns > 0 else ""
    lines: list[Line] = [
        (
            Cell(f"{engine.name} "),
            _state(engine.state),
            Cell(f"  {engine.kind} · {engine.strategy} · {timeframe(engine.timeframe_s)} bars"),
        ),
        _words(
            (
                ("heartbeat", ist_clock(beat) if beat > 0 else "no bar yet"),
                ("behind the data clock", lag),
                ("bars", str(engine.bars_seen)),
                ("signals", str(engine.signals_emitted)),
                ("orders", str(engine.orders_placed)),
            )
        ),
        (
            _label(f"instruments ({len(engine.symbols)})"),
            Cell(", ".join(engine.symbols) or DASH),
        ),
    ]
    if engine.shown_state != engine.state:
        lines.append((_label(engine.idle.lower()), Cell(engine.idle_reason, "warn")))
    if engine.last_error:
        lines.append((_label("last error"), Cell(engine.last_error, "down")))
    return tuple(lines)


def event_detail(event: EventView) -> Detail:
    level_tone = {"WARNING": "warn", "ERROR": "down", "CRITICAL": "down"}.get(
        event.level.upper(), ""
    )
    where = "/".join(part for part in (event.engine, event.symbol) if part)
    return (
        (
            Cell(event.level, level_tone),
            Cell(f"  {event.kind}  {ist_clock(event.ts_ns)}" + (f"  {where}" if where else "")),
        ),
        (Cell(event.message),),
    )


def blocked_detail(blocked: BlockedView) -> Detail:
    """Why this rule keeps saying no: its count and the last refusal in full."""
    return (
        (
            _label("rule"),
            Cell(blocked.rule),
            Cell(f"  {blocked.verdict}  ×{blocked.count:,}  {blocked.engine}"),
        ),
        (
            _label("last"),
            Cell(f"{ist_clock(blocked.last_ts_ns)}  {blocked.last_symbol}"),
        ),
        (Cell(blocked.last_reason),),
    )


def performance_detail(row: PerformanceRow) -> Detail:
    """Every figure of one part, as the report defines it: net is gross less charges; a
    win is a trade with positive net; the drawdown is of closed-trade net equity."""
    scope = "the whole run" if row.scope == "run" else row.scope
    part = "" if row.part == "all" else f"{row.part} {performance_name(row)}, "
    if row.strategy:
        part = f"{row.part} {row.name} ({row.strategy}), "
    pf = DASH if row.profit_factor is None else f"{row.profit_factor:.2f}"
    return (
        (_label("part"), Cell(f"{part}{scope}")),
        (
            _label("net"),
            pnl_cell(row.net),
            Cell("  "),
            _label("gross"),
            pnl_cell(row.gross),
            Cell("  "),
            _label("charges"),
            Cell(money(row.charges, signed=False)),
        ),
        (
            _label("trades"),
            Cell(f"{row.trades:,} closed ({row.wins:,} won, {row.losses:,} lost)"),
            Cell("  "),
            _label("win rate"),
            Cell(win_rate_text(row)),
            *((Cell("  "), _label("open"), Cell(f"{row.open_trades:,}")) * bool(row.open_trades)),
        ),
        (
            _label("avg win"),
            optional_pnl(row.avg_win),
            Cell("  "),
            _label("avg loss"),
            optional_pnl(row.avg_loss),
            Cell("  "),
            _label("per trade"),
            optional_pnl(row.expectancy),
        ),
        (
            _label("max DD (closed trades)"),
            pnl_cell(-abs(row.max_drawdown)),
            Cell("  "),
            _label("profit factor"),
            Cell(pf),
            Cell("  "),
            _label("turnover"),
            Cell(money(row.turnover, signed=False)),
        ),
    )


def position_detail(position: PositionView, working: Iterable[OrderView]) -> Detail:
    lot = max(1, position.lot_size)
    size = f"{position.quantity:+d}"
    if position.lot_size > 1 and position.quantity % lot == 0:
        size += f" ({position.quantity // lot:+d} lots of {lot})"
    lines: list[Line] = [
        (
            Cell(f"{position.symbol} "),
            Cell(size, tone_of(position.quantity)),
            Cell(f"  {position.product} · {position.engine}"),
            Cell(f" · expires {position.expiry}" if position.expiry else ""),
        ),
        (
            _label("avg"),
            Cell(price(position.avg_price) or DASH),
            Cell("  "),
            _label("LTP"),
            Cell(price(position.last_price) or DASH),
            Cell("  "),
            _label("net"),
            Cell(money(position.net), tone_of(position.net)),
            Cell("  "),
            _label("gross"),
            Cell(money(position.pnl), tone_of(position.pnl)),
            Cell("  "),
            _label("charges"),
            Cell(money(position.charges, signed=False)),
            Cell("  "),
            _label("stop"),
            Cell(price(position.stop_price) or "none", "" if position.stop_price else "warn"),
        ),
    ]
    orders = [o for o in working if o.status.upper() in OPEN_STATUSES]
    if orders:
        lines.append((_label("working orders"),))
        lines.extend(
            (
                Cell(
                    f"  {o.side} {o.quantity} {o.order_type} {o.purpose} "
                    f"{price(o.trigger_price or o.price)}  {o.status}  {o.tag}"
                ),
            )
            for o in orders
        )
    else:
        lines.append((_label("working orders"), Cell("none")))
    return tuple(lines)
