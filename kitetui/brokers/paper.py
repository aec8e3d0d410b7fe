"""The paper broker: the ``Broker`` protocol over a synchronous ``PaperBook``.

The fill rules (next price only, slippage against you, bars walk a path, whole fills
or opt-in partial fills) are the book's; see ``kitetui.brokers.paper_book``. This
adapter exists because the order manager awaits every broker call (live Kite does
I/O): ``place``, ``modify``, ``cancel``, ``lookup``, ``refresh`` and ``open_orders``
are ``async`` here only to satisfy the protocol and never suspend. What the desk
drives itself — ``restore``, ``on_market`` (``on_price``, ``on_bar``),
``take_triggered`` — stays synchronous, as it is on the hot path. Code that needs
no protocol (the local exchange) uses ``PaperBook`` directly.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence, Sized

from kitetui.brokers.paper_book import Liquidity, OrderFill, PaperBook
from kitetui.domain import Bar, Fill, Order, OrderType, Tick

__all__ = ["KEEP_FINISHED", "Liquidity", "OrderFill", "PaperBook", "PaperBroker"]

# Finished orders the desk's paper book keeps readable (``PaperBook(keep_finished=)``):
# the trader hears of a finish in the batch that made it, so this is ample.
KEEP_FINISHED = 1024


class PaperBroker:
    """A ``Broker`` backed by one ``PaperBook`` (``self.book``)."""

    exchange_ns = 0  # the paper book's clock is the desk's own: never ahead of it
    # ``place`` answers with the very order it was given, only its broker state set
    # (status, ``broker_order_id``, nothing filled; a refusal's reason): the trader's
    # merge of that answer into the order it sent is an equal of the answer, so the
    # trader keeps the answer itself (``Trader._place``; a test holds the two equal).
    answers_as_placed = True

    def __init__(
        self,
        slippage_bps: float = 2.0,
        tick_size: float = 0.05,
        tick_sizes: Mapping[str, float] | None = None,
        liquidity: Liquidity | None = None,
        keep_finished: int | None = KEEP_FINISHED,
        rest_of_bar: bool = True,
    ) -> None:
        """``tick_size`` is the default; ``tick_sizes`` the instrument master's per symbol;
        ``liquidity`` turns partial fills on (None: whole fills, as backtests expect);
        ``keep_finished`` bounds the finished orders the book keeps (None: all)."""
        self.book = PaperBook(
            slippage_bps, tick_size, tick_sizes, liquidity, keep_finished, rest_of_bar=rest_of_bar
        )
        # The two calls the supervisor makes on every print reach the book without a hop
        # through this adapter (the methods below, which these shadow, say what they do).
        self.on_market = self.book.on_market  # type: ignore[method-assign]
        self.take_triggered = self.book.take_triggered  # type: ignore[method-assign]

    @property
    def slippage_bps(self) -> float:
        return self.book.slippage_bps

    @property
    def tick_size(self) -> float:
        return self.book.tick_size

    @property
    def liquidity(self) -> Liquidity | None:
        return self.book.liquidity

    # ------------------------------------------------------------------ Broker protocol

    async def place(self, order: Order) -> Order:
        return self.book.place(order)

    async def modify(
        self,
        tag: str,
        *,
        ts_ns: int,
        order_type: OrderType | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        quantity: int | None = None,
    ) -> Order | None:
        """See ``PaperBook.modify``: same tag, acts on prices after ``ts_ns``; raises
        ``ModifyRefused`` when the change is refused and the order stands."""
        return self.book.modify(
            tag,
            ts_ns=ts_ns,
            order_type=order_type,
            price=price,
            trigger_price=trigger_price,
            quantity=quantity,
        )

    async def cancel(self, tag: str) -> Order | None:
        return self.book.cancel(tag)

    async def lookup(self, tag: str) -> Order | None:
        return self.book.lookup(tag)

    async def refresh(self, tag: str) -> tuple[Order | None, list[Fill]]:
        """Paper fills are handed over as they happen: a refresh never brings one."""
        return self.book.refresh(tag)

    async def open_orders(self) -> list[Order]:
        return self.book.open_orders()

    # ------------------------------------------------------------------ driven by the desk

    def on_market(self, item: Bar | Tick) -> list[OrderFill]:
        """A print reaching the exchange: what rests at its price fills (``on_bar`` /
        ``on_price``); the one call the supervisor makes for every broker."""
        return self.book.on_market(item)

    def apply_update(self, data: Mapping[str, object]) -> tuple[Order | None, list[Fill]]:
        """The paper exchange reports through ``on_market``; an update from Kite's
        websocket in paper mode is about an order placed elsewhere: nothing of ours."""
        del data
        return None, []

    def take_triggered(self) -> list[Order]:
        """Stops that triggered but did not fill since the last call (now OPEN limits)."""
        return self.book.take_triggered()

    def watched(self) -> tuple[Container[str], Sized]:
        """The symbols with an order working, and the stops triggered and not yet taken
        (``PaperBook.watched``)."""
        return self.book.watched()

    def stop_bands(self) -> Mapping[str, tuple[float, float]]:
        """The symbols whose working orders are all stops waiting for their triggers,
        with their bands (``PaperBook.stop_bands``)."""
        return self.book.stop_bands()

    def settle_at_expiry(self, tags: Sequence[str], ts_ns: int, price: float) -> list[OrderFill]:
        """The exchange's settlement of an expired contract: the named closes filled at
        exactly ``price``, zero included (``PaperBook.settle_at_expiry``)."""
        return self.book.settle_at_expiry(tags, ts_ns, price)

    def take_filled(self) -> list[OrderFill]:
        """Fills placements made since the last call (``PaperBook.take_filled``)."""
        return self.book.take_filled()

    def restore(self, orders: list[Order]) -> None:
        """Re-register journaled orders after a restart (``PaperBook.restore``)."""
        self.book.restore(orders)

    def on_price(
        self, symbol: str, ts_ns: int, price: float, quantity: int | None = None
    ) -> list[OrderFill]:
        """A traded price at ``ts_ns``: the fills it makes (``PaperBook.on_price``)."""
        return self.book.on_price(symbol, ts_ns, price, quantity)

    def on_bar(self, bar: Bar) -> list[OrderFill]:
        """A bar's OHLC path: the fills it makes (``PaperBook.on_bar``)."""
        return self.book.on_bar(bar)
