"""A manual order ticket and a stop move, as a person writes them: parsed in one place.

The control protocol carries one text field per command, so a ticket travels as one
line and both doors (the TUI's forms, ``kitetui ctl ticket …``) send the same text::

    BUY 2 NIFTY24MAYFUT STOP 22400            a MARKET entry, its protective stop at 22400
    SELL 10 SBIN LIMIT 812.50 STOP 830        a LIMIT entry at 812.50
    NIFTY24MAYFUT 22410                       (modify-stop) move that position's stop

The quantity is shares for an equity and **lots** for futures and options (the desk
multiplies by the instrument's lot size). A ticket must name its stop: a manual
position is protected like every other from its first fill (design rule 11), and the
level is the trader's decision, not a guess. What only the desk can check (the symbol's
engine, the tick size, the side of the market, the risk gate) it checks when the ticket
arrives; this module refuses what is wrong in the text itself, with one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from kitetui.typed_numbers import typed_count, typed_number

_SIDES = ("BUY", "SELL")
_TYPES = ("MARKET", "LIMIT")
MAX_LOTS = 100_000  # a typo guard: the risk gate's quantity cap is the real limit


def price_text(price: float) -> str:
    """A price as typed back: up to four decimals, no trailing zeros (``22400.05``,
    ``812.5``, ``800``); never ``:g``, which drops the paise of a five-digit price."""
    return f"{price:.4f}".rstrip("0").rstrip(".")


class TicketRefused(ValueError):
    """A ticket or stop move that cannot be read; the message is one line."""


@dataclass(frozen=True, slots=True)
class Ticket:
    side: str  # BUY / SELL
    quantity: int  # shares, or lots for F&O
    symbol: str
    order_type: str  # MARKET / LIMIT
    price: float  # the LIMIT price, 0 for MARKET
    stop: float  # the protective stop's trigger

    @property
    def text(self) -> str:
        """The ticket as one line (what ``parse_ticket`` reads back)."""
        kind = f"LIMIT {price_text(self.price)}" if self.order_type == "LIMIT" else "MARKET"
        return f"{self.side} {self.quantity} {self.symbol} {kind} STOP {price_text(self.stop)}"


@dataclass(frozen=True, slots=True)
class StopMove:
    symbol: str
    trigger: float

    @property
    def text(self) -> str:
        return f"{self.symbol} {price_text(self.trigger)}"


def _price(word: str, what: str) -> float:
    """A typed price (``kitetui.typed_numbers``: ASCII digits, commas only grouping)."""
    value = typed_number(word)
    if value is None:
        raise TicketRefused(f"{what} {word[:20]!r} is not a price (digits 0-9, a point for paise)")
    if value <= 0:
        raise TicketRefused(f"{what} {word[:20]!r} is not a positive price")
    return float(value)


def _symbol(word: str) -> str:
    symbol = word.upper()
    if (
        not symbol
        or len(symbol) > 40
        or not symbol.isascii()
        or not all(c.isalnum() or c in "&-_." for c in symbol)
    ):
        raise TicketRefused(f"{word[:40]!r} is not a trading symbol")
    return symbol


def parse_ticket(text: str) -> Ticket:
    """``SIDE QTY SYMBOL [MARKET | LIMIT PRICE] STOP PRICE`` (words in any case)."""
    usage = "a ticket is SIDE QTY SYMBOL [MARKET | LIMIT PRICE] STOP PRICE"
    words = text.split()
    if len(words) < 3:
        raise TicketRefused(f"{usage}, e.g. BUY 1 SBIN STOP 800")
    side, qty, symbol, *rest = words
    if side.upper() not in _SIDES:
        raise TicketRefused(f"side {side[:10]!r} is not BUY or SELL")
    count = typed_count(qty)
    if count is None or not 0 < count <= MAX_LOTS:
        raise TicketRefused(f"quantity {qty[:12]!r} is not a whole number from 1 to {MAX_LOTS:,}")
    order_type, price, stop = "MARKET", 0.0, 0.0
    rest = [w.upper() if w.isalpha() else w for w in rest]
    while rest:
        word = rest.pop(0)
        if word == "MARKET":
            order_type = "MARKET"
        elif word == "LIMIT":
            if not rest:
                raise TicketRefused("LIMIT needs its price, e.g. LIMIT 812.50")
            order_type, price = "LIMIT", _price(rest.pop(0), "limit price")
        elif word == "STOP":
            if not rest:
                raise TicketRefused("STOP needs its trigger price, e.g. STOP 800")
            stop = _price(rest.pop(0), "stop")
        else:
            raise TicketRefused(f"unexpected {word[:20]!r}: {usage}")
    if not stop:
        raise TicketRefused("a manual entry needs its protective stop: add STOP PRICE")
    side = side.upper()
    if order_type == "LIMIT" and (stop >= price if side == "BUY" else stop <= price):
        where = "below" if side == "BUY" else "above"
        raise TicketRefused(
            f"the stop {price_text(stop)} must be {where} the limit price {price_text(price)}"
        )
    return Ticket(side, count, _symbol(symbol), order_type, price, stop)


def parse_stop_move(text: str) -> StopMove:
    """``SYMBOL PRICE``: the position's protective stop to trigger at ``PRICE``."""
    words = text.split()
    if len(words) != 2:
        raise TicketRefused("a stop move is SYMBOL PRICE, e.g. NIFTY24MAYFUT 22410")
    return StopMove(_symbol(words[0]), _price(words[1], "stop"))


def on_tick(price: float, tick: float) -> bool:
    """Whether ``price`` is a whole number of ``tick``s (to a thousandth of a tick)."""
    ticks = price / tick
    return abs(ticks - round(ticks)) < 1e-6
