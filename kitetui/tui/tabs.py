"""The desk's tabs, each declared once as a ``TabSpec``.

A table tab is its columns, the views it lists (in display order), the row key and the
row of each view, the detail pane of the selected one, and the keys that act on that
row: when each may run (``ready``), the command it sends and the question it asks
first. ``DeskScreen`` turns the specs into panes, renders the visible one by diff and
answers ``check_action`` from them, so a new tab is one more spec here (its keys go in
``keys.py``). A tab that is not a table (Risk) names the panel that shows the snapshot.

Nothing here builds a widget at import or needs a running app: specs are plain values,
and their functions take views and return rows, details and command objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from textual.widget import Widget

from kitetui.commands import (
    CancelOrder,
    Command,
    FlattenPosition,
    ModifyStop,
    PauseEntries,
    ResumeEntries,
    StartEngine,
    StopEngine,
)
from kitetui.order_ticket import price_text
from kitetui.tui.cells import (
    BLOCKED_COLUMNS,
    ENGINE_COLUMNS,
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    PERFORMANCE_COLUMNS,
    POSITION_COLUMNS,
    SIGNAL_COLUMNS,
    ColumnSpec,
    Row,
    blocked_key,
    blocked_row,
    engine_key,
    engine_row,
    event_key,
    event_row,
    order_key,
    order_row,
    performance_key,
    performance_row,
    position_key,
    position_row,
    signal_key,
    signal_row,
    spans_days,
)
from kitetui.tui.details import (
    OPEN_STATUSES,
    Detail,
    blocked_detail,
    engine_detail,
    event_detail,
    order_detail,
    performance_detail,
    position_detail,
    signal_detail,
)
from kitetui.tui.forms import StopForm
from kitetui.tui.risk_panel import RiskPanel
from kitetui.tui.scope import TODAY, performance_in, positions_in
from kitetui.views import DeskSnapshot, EngineView, OrderDetail, OrderView, PositionView

#: What the journal says of an order so far, and whether it is still being fetched.
OrderHistory = Callable[[OrderView], tuple[OrderDetail | None, bool]]


class SnapshotPanel(Protocol):
    """The body of a tab that is not a table: it shows a whole snapshot (of a scope:
    today, the run or a past day, ``scope.py``)."""

    def show(self, snapshot: DeskSnapshot, scope: str = "today") -> None: ...


@dataclass(frozen=True, slots=True)
class RowAction:
    """A key that acts on the selected row of a tab.

    ``ready(view)``: True when it can run for that row, None to show it greyed out.
    ``command(view)``: what it sends. ``confirm(view)``: the (question, detail) of the
    y/n screen asked first, or None to send at once. ``form(view)``: a screen that asks
    for the command's text first (``forms.py``); ``filled(view, text)`` is then the
    command and its (question, detail), asked y/n before it is sent.
    """

    ready: Callable[[Any], bool | None]
    command: Callable[[Any], Command]
    confirm: Callable[[Any], tuple[str, str]] | None = None
    form: Callable[[Any], Any] | None = None
    filled: Callable[[Any, str], tuple[Command, tuple[str, str]]] | None = None


@dataclass(frozen=True, slots=True)
class TabSpec:
    """One tab of the desk (see the module docstring)."""

    name: str
    title: str
    columns: tuple[ColumnSpec, ...] = ()
    noun: str = ""
    views: Callable[[DeskSnapshot], Iterable[Any]] = lambda snapshot: ()
    row_key: Callable[[Any], str] = str
    row: Callable[[Any, DeskSnapshot], Row] | None = None
    #: Rows depend on the view alone, so an unchanged view reuses last frame's row.
    #: False when the row reads the snapshot too (the engines' lag behind the data clock).
    rows_cached: bool = True
    #: The ``snapshot.counts`` entry of how many exist when only the newest are listed.
    total: str = ""
    detail: Callable[[Any, DeskSnapshot, OrderHistory], Detail] | None = None
    actions: Mapping[str, RowAction] = field(default_factory=dict)
    panel: Callable[[], Widget] | None = None
    #: What a row reads of the snapshot besides its view (the time column's dated form):
    #: cached rows are built again when it changes.
    row_context: Callable[[DeskSnapshot], object] = lambda snapshot: None
    #: ``v`` steps this tab through today, the run and each past day (``scope.py``).
    scoped: bool = False
    #: The views of a scope, for a scoped table tab (``views`` is then today's).
    scoped_views: Callable[[DeskSnapshot, str], Iterable[Any]] | None = None

    @property
    def is_table(self) -> bool:
        return bool(self.columns)

    def rows(self, views: Mapping[str, Any], snapshot: DeskSnapshot) -> dict[str, Row]:
        """Each view's row, uncached (``DeskScreen`` caches when ``rows_cached``)."""
        assert self.row is not None
        return {key: self.row(view, snapshot) for key, view in views.items()}


_DATED: list[Any] = [None, False]  # the last snapshot asked about, and its answer


def _dated(snapshot: DeskSnapshot) -> bool:
    """``spans_days`` once per snapshot: it scans the orders, and a row is built for
    every view new on the tab (2,000 at a first frame)."""
    if _DATED[0] is not snapshot:
        _DATED[:] = [snapshot, spans_days(snapshot)]
    return bool(_DATED[1])


# ---- positions -------------------------------------------------------------------------


def _flatten_question(position: PositionView) -> tuple[str, str]:
    side = "SELL" if position.quantity > 0 else "BUY"
    return (
        f"Flatten {position.symbol}?",
        f"Cancels its working orders (the stop too), then sends a MARKET {side} for "
        f"{abs(position.quantity)} to close it ({position.engine}).",
    )


def _stop_question(position: PositionView, move: str) -> tuple[Command, tuple[str, str]]:
    new = move.split()[-1]
    was = f"{price_text(position.stop_price)}" if position.stop_price else "none working"
    return ModifyStop(move), (
        f"Move the stop of {position.symbol} to {new}?",
        f"Now {was}; last {price_text(position.last_price)}. The exit manager modifies the working "
        "stop in place.",
    )


def _position_detail(position: PositionView, snapshot: DeskSnapshot, _: OrderHistory) -> Detail:
    return position_detail(position, (o for o in snapshot.orders if o.symbol == position.symbol))


POSITIONS = TabSpec(
    name="positions",
    title="Positions",
    columns=POSITION_COLUMNS,
    noun="positions",
    views=lambda snapshot: positions_in(snapshot, TODAY),
    scoped=True,
    scoped_views=positions_in,
    row_key=position_key,
    row=lambda position, _: position_row(position),
    detail=_position_detail,
    actions={
        "flatten": RowAction(
            ready=lambda position: True if position.quantity else None,
            command=lambda position: FlattenPosition(position.symbol),
            confirm=_flatten_question,
        ),
        "modify_stop": RowAction(
            ready=lambda position: True if position.quantity else None,
            command=lambda position: ModifyStop(position.symbol),
            form=StopForm,
            filled=_stop_question,
        ),
    },
)


# ---- orders ----------------------------------------------------------------------------


def _is_open(order: OrderView) -> bool:
    return order.status.upper() in OPEN_STATUSES


def _cancel_question(order: OrderView) -> tuple[str, str]:
    warning = (
        " This is a protective stop: while its position is open the desk refuses to "
        "cancel it (move it with m, or flatten with f)."
        if order.purpose.upper() == "STOP"
        else ""
    )
    return (
        f"Cancel order {order.tag}?",
        f"{order.side} {order.quantity} {order.symbol} {order.order_type} "
        f"{order.purpose}, {order.status}.{warning}",
    )


def _order_detail(order: OrderView, _: DeskSnapshot, history: OrderHistory) -> Detail:
    known, loading = history(order)
    return order_detail(order, known, loading=loading)


ORDERS = TabSpec(
    name="orders",
    title="Orders",
    columns=ORDER_COLUMNS,
    noun="orders",
    views=lambda snapshot: sorted(snapshot.orders, key=lambda o: o.ts_ns, reverse=True),
    row_key=order_key,
    row=lambda order, snapshot: order_row(order, _dated(snapshot)),
    row_context=_dated,
    total="orders",
    detail=_order_detail,
    actions={
        "cancel_order": RowAction(
            ready=lambda order: True if _is_open(order) else None,
            command=lambda order: CancelOrder(order.tag),
            confirm=_cancel_question,
        )
    },
)


# ---- signals, risk, engines, log -------------------------------------------------------

SIGNALS = TabSpec(
    name="signals",
    title="Signals",
    columns=SIGNAL_COLUMNS,
    noun="signals",
    views=lambda snapshot: reversed(snapshot.signals),
    row_key=signal_key,
    row=lambda signal, snapshot: signal_row(signal, _dated(snapshot)),
    row_context=_dated,
    total="signals_listed",  # not the HOLDs counted beside them
    detail=lambda signal, _snapshot, _history: signal_detail(signal),
)

RISK = TabSpec(name="risk", title="Risk", panel=lambda: RiskPanel(id="risk-panel"), scoped=True)

_PAUSABLE = frozenset({"RUNNING", "PAUSED"})


def _pause_or_resume(engine: EngineView) -> Command:
    if engine.state.upper() == "PAUSED":
        return ResumeEntries(engine.name)
    return PauseEntries(engine.name)


ENGINES = TabSpec(
    name="engines",
    title="Engines",
    columns=ENGINE_COLUMNS,
    noun="engines",
    views=lambda snapshot: snapshot.engines,
    row_key=engine_key,
    row=lambda engine, snapshot: engine_row(engine, snapshot.data_ts_ns),
    rows_cached=False,
    detail=lambda engine, snapshot, _history: engine_detail(engine, snapshot.data_ts_ns),
    actions={
        "start_engine": RowAction(
            ready=lambda engine: None if engine.state.upper() == "RUNNING" else True,
            command=lambda engine: StartEngine(engine.name),
        ),
        "stop_engine": RowAction(
            ready=lambda engine: None if engine.state.upper() == "STOPPED" else True,
            command=lambda engine: StopEngine(engine.name),
        ),
        "toggle_engine_pause": RowAction(
            ready=lambda engine: True if engine.state.upper() in _PAUSABLE else None,
            command=_pause_or_resume,
        ),
    },
)

LOG = TabSpec(
    name="log",
    title="Log",
    columns=EVENT_COLUMNS,
    noun="events",
    views=lambda snapshot: reversed(snapshot.events),
    row_key=event_key,
    row=lambda event, snapshot: event_row(event, _dated(snapshot)),
    row_context=_dated,
    total="events",
    detail=lambda event, _snapshot, _history: event_detail(event),
)


BLOCKED = TabSpec(
    name="blocked",
    title="Blocked",
    columns=BLOCKED_COLUMNS,
    noun="rules",
    views=lambda snapshot: sorted(snapshot.blocked, key=lambda b: (-b.count, blocked_key(b))),
    row_key=blocked_key,
    row=lambda blocked, _: blocked_row(blocked),
    detail=lambda blocked, _snapshot, _history: blocked_detail(blocked),
)


# ---- performance -----------------------------------------------------------------------

PERFORMANCE = TabSpec(
    name="performance",
    title="Perf",
    columns=PERFORMANCE_COLUMNS,
    noun="parts",
    views=lambda snapshot: performance_in(snapshot, TODAY),
    scoped=True,
    scoped_views=performance_in,
    row_key=performance_key,
    row=lambda row, _: performance_row(row),
    detail=lambda row, _snapshot, _history: performance_detail(row),
)


#: The tabs in the order they are shown (and numbered 1, 2, …).
TAB_SPECS: tuple[TabSpec, ...] = (
    POSITIONS,
    ORDERS,
    SIGNALS,
    RISK,
    ENGINES,
    LOG,
    BLOCKED,
    PERFORMANCE,
)
TAB_BY_NAME: dict[str, TabSpec] = {spec.name: spec for spec in TAB_SPECS}
TABS = tuple(spec.name for spec in TAB_SPECS)
TABLE_TABS = tuple(spec.name for spec in TAB_SPECS if spec.is_table)
SCOPED_TABS = tuple(spec.name for spec in TAB_SPECS if spec.scoped)
