"""What the simulated exchange keeps per account: its orders, trades and positions.

``SimOrder`` is an order as the exchange holds it, ``to_kite()`` its wire shape (Kite's
order dict, ``../shared/kite-mocks/orders.json``) and ``record()`` one row of its
history, so every state an order walks through is answered by
``GET /orders/{order_id}`` exactly as it was. ``AccountBook`` is one account's state:
the orders, the trade rows, the day positions, the AMO queue, the protected SL-M
orders the sim watches itself, and the ``PaperBook`` that matches the rest. Each
order reaches the paper book under its own tag ``<order_id>.<modification>`` (a
modification is a new paper order), which ``for_paper`` maps back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kitetui.brokers.paper_book import PaperBook
from kitetui.domain import Exchange, Order, OrderPurpose, OrderStatus, OrderType, Product, Side
from kitetui.market.instruments import Instrument
from kitetui.sim.errors import input_error
from kitetui.sim.market import ist_str
from kitetui.sim.sessions import SimAccount

__all__ = ["TERMINAL", "WORKING", "AccountBook", "PositionRow", "SimOrder", "num"]

TERMINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})
EQUITY_EXCHANGES = frozenset({"NSE", "BSE"})
WORKING = frozenset({"OPEN", "TRIGGER PENDING"})


def num(value: float) -> float | int:
    """Kite prints whole prices as integers (``"price": 300``)."""
    value = round(float(value), 4)
    return int(value) if value.is_integer() else value


@dataclass(slots=True)
class SimOrder:
    """An order as the exchange keeps it; ``to_kite()`` is the wire shape."""

    order_id: str
    user_id: str
    variety: str
    instrument: Instrument
    transaction_type: str
    order_type: str
    product: str
    quantity: int
    price: float
    trigger_price: float
    validity: str
    validity_ttl: int
    disclosed_quantity: int
    market_protection: float
    tag: str | None
    order_ns: int
    guid: str
    status: str = "PUT ORDER REQ RECEIVED"
    status_message: str | None = None
    status_message_raw: str | None = None
    exchange_order_id: str | None = None
    exchange_ns: int | None = None
    exchange_update_ns: int | None = None
    average_price: float = 0.0
    filled_quantity: int = 0
    cancelled_quantity: int = 0
    modifications: int = 0
    refused_trials: int = 0  # modifications the matcher refused: their paper tags are spent
    paper_tag: str = ""
    triggered: bool = False
    # The percent a protected MARKET order was priced at when it became a LIMIT
    # (``OrderDesk.protect``); 0 for an order never converted.
    protected_pct: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.instrument.exchange}:{self.instrument.tradingsymbol}"

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def buy(self) -> bool:
        return self.transaction_type == "BUY"

    @property
    def watched_by_sim(self) -> bool:
        """A protected SL-M before its trigger: the sim, not the paper book, watches it,
        since once triggered it must become a LIMIT around the price that triggered it."""
        return self.order_type == "SL-M" and self.market_protection != 0 and not self.triggered

    def record(self, status: str | None = None) -> None:
        """Move to ``status`` (if given) and append the order as it now is to its history."""
        if status is not None:
            self.status = status
        self.history.append(self.to_kite())

    def to_paper(self, ts_ns: int) -> Order:
        """The paper book's view: what is left to fill of the order, as it is now."""
        return Order(
            tag=self.paper_tag,
            engine="sim",
            symbol=self.key,
            exchange=Exchange(self.instrument.exchange),
            side=Side(self.transaction_type),
            quantity=self.quantity - self.filled_quantity,
            order_type=OrderType(self.order_type),
            product=Product(self.product),
            purpose=OrderPurpose.ENTRY,
            status=OrderStatus.NEW,
            ts_ns=ts_ns,
            price=self.price,
            trigger_price=self.trigger_price,
        )

    def kite_reason(self, reason: str) -> str:
        """The paper book's refusal in Kite's words where Kite has its own."""
        if "multiple of the tick" in reason:
            tick = self.instrument.tick_size or 0.05
            return (
                f"Tick size for this script is {tick:g}. Kindly enter price in the "
                "multiple of tick size for this script"
            )
        return reason

    def to_kite(self) -> dict[str, Any]:
        return {
            "placed_by": self.user_id,
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "parent_order_id": None,
            "status": self.status,
            "status_message": self.status_message,
            "status_message_raw": self.status_message_raw,
            "order_timestamp": ist_str(self.order_ns),
            "exchange_update_timestamp": (
                ist_str(self.exchange_update_ns) if self.exchange_update_ns else None
            ),
            "exchange_timestamp": ist_str(self.exchange_ns) if self.exchange_ns else None,
            "variety": self.variety,
            "modified": False,  # Kite's mocks keep false even after a modification
            "exchange": self.instrument.exchange,
            "tradingsymbol": self.instrument.tradingsymbol,
            "instrument_token": self.instrument.instrument_token,
            "order_type": self.order_type,
            "transaction_type": self.transaction_type,
            "validity": self.validity,
            "validity_ttl": self.validity_ttl,
            "product": self.product,
            "quantity": self.quantity,
            "disclosed_quantity": self.disclosed_quantity,
            "price": num(self.price),
            "trigger_price": num(self.trigger_price),
            "average_price": num(self.average_price),
            "filled_quantity": self.filled_quantity,
            "pending_quantity": self.pending_quantity if self.status != "REJECTED" else 0,
            "cancelled_quantity": self.cancelled_quantity,
            # Kite shows a protected market order it turned into a LIMIT as that LIMIT:
            # market_protection 0 and the percent in its tags (orders.json, 2025-08-07).
            "market_protection": 0 if self.protected_pct else num(self.market_protection),
            "meta": {},
            "tag": self.tag,
            "tags": self._tags(),
            "guid": self.guid,
        }

    def _tags(self) -> list[str]:
        tags = [self.tag] if self.tag else []
        if self.protected_pct:
            tags += ["mktp", f"mktp:{self.protected_pct:.2f}"]
        return tags


@dataclass(slots=True)
class PositionRow:
    """One day position (exchange, symbol, product): what was bought and sold."""

    instrument: Instrument
    product: str
    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0

    @property
    def quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity

    def add(self, buy: bool, quantity: int, price: float) -> None:
        if buy:
            self.buy_quantity += quantity
            self.buy_value += price * quantity
        else:
            self.sell_quantity += quantity
            self.sell_value += price * quantity


@dataclass(slots=True)
class AccountBook:
    """One account's orders, trades and positions (module docstring)."""

    account: SimAccount
    paper: PaperBook
    orders: dict[str, SimOrder] = field(default_factory=dict)
    by_paper_tag: dict[str, str] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[tuple[str, str, str], PositionRow] = field(default_factory=dict)
    amo_queue: list[str] = field(default_factory=list)
    amo_release: bool = False
    # protected SL-M orders waiting for their trigger, watched by the sim (not the paper)
    stops: dict[str, SimOrder] = field(default_factory=dict)
    # expired contracts the exchange settled (``DayEnd``): symbol, quantity, price, P&L
    settlements: list[dict[str, Any]] = field(default_factory=list)

    def order(self, order_id: str) -> SimOrder:
        """The order with this id, or Kite's refusal of an unknown one."""
        order = self.orders.get(order_id)
        if order is None:
            raise input_error("Couldn't find that `order_id`.")
        return order

    def for_paper(self, paper_tag: str) -> SimOrder | None:
        """The order a paper book tag belongs to (any of its modifications), or None."""
        order_id = self.by_paper_tag.get(paper_tag)
        return self.orders.get(order_id) if order_id else None

    def sellable(self, symbol: str, exclude: str = "") -> int:
        """The shares of ``symbol`` a new CNC sell may take: the holdings, plus today's
        CNC buys, less today's CNC sells and what the account's live CNC sells (other
        than ``exclude``) still wait to sell. NSE and BSE count together: holdings are
        one demat balance, sellable on either exchange."""
        held = sum(
            int(h.get("quantity", 0))
            for h in self.account.holdings
            if h.get("tradingsymbol") == symbol
        )
        for row in self.positions.values():
            if row.product == "CNC" and _equity(row.instrument, symbol):
                held += row.quantity
        for order in self.orders.values():
            live_sell = order.status not in TERMINAL and not order.buy
            if live_sell and order.order_id != exclude and order.product == "CNC":
                held -= order.pending_quantity if _equity(order.instrument, symbol) else 0
        return held

    def position_of(self, order: SimOrder) -> PositionRow | None:
        return self.positions.get((order.instrument.exchange, order.key, order.product))

    def position_for(self, order: SimOrder) -> PositionRow:
        """The order's day position, opened empty on its first trade."""
        key = (order.instrument.exchange, order.key, order.product)
        row = self.positions.get(key)
        if row is None:
            row = self.positions[key] = PositionRow(order.instrument, order.product)
        return row


def _equity(instrument: Instrument, symbol: str) -> bool:
    """``instrument`` is the stock ``symbol`` on NSE or BSE."""
    return instrument.exchange in EQUITY_EXCHANGES and instrument.tradingsymbol == symbol
