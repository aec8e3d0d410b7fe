"""Small in-memory exchanges for the sim modules' unit tests: four synthetic instruments,
no data files, no server, no event loop. The market moves only by ``tick``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from kitetui.market.instruments import Instrument, InstrumentMaster
from kitetui.sim.errors import KiteError
from kitetui.sim.exchange import SimAccount, SimExchange
from kitetui.sim.market import NS_PER_SECOND, SimMarket
from kitetui.sim.order_book import AccountBook, SimOrder

T0 = 1_700_020_800 * NS_PER_SECOND  # 2023-11-15 09:30 IST, a Wednesday
AFTER_CLOSE_S = 6.5 * 3600  # T0 + this = 16:00 IST: Zerodha takes AMOs again
FUTURE = Instrument(1, 1, "NIFTY23NOVFUT", "NIFTY", 0.0, date(2023, 11, 30), 0.0, 0.05, 50,
                    "FUT", "NFO-FUT", "NFO")  # fmt: skip
CALL = Instrument(2, 2, "NIFTY23NOV19500CE", "NIFTY", 0.0, date(2023, 11, 30), 19500.0, 0.05,
                  50, "CE", "NFO-OPT", "NFO")  # fmt: skip
STOCK = Instrument(3, 3, "SBIN", "SBIN", 0.0, None, 0.0, 0.05, 1, "EQ", "NSE", "NSE")
INDEX = Instrument(4, 4, "NIFTY 50", "NIFTY 50", 0.0, None, 0.0, 0.0, 0, "EQ", "INDICES", "NSE")
FUT_KEY, CALL_KEY, STOCK_KEY = FUTURE.key, CALL.key, STOCK.key


def new_market() -> SimMarket:
    return SimMarket([], InstrumentMaster([FUTURE, CALL, STOCK, INDEX]))


def new_account(**overrides: Any) -> SimAccount:
    return SimAccount(
        **{"api_key": "key", "api_secret": "secret", "user_id": "AB0001", **overrides}
    )


def sim_order(instrument: Instrument = STOCK, **changes: Any) -> SimOrder:
    """A LIMIT buy of 10 at 500 as the exchange would hold it; ``changes`` override."""
    fields = {
        "order_id": "231115000000001",
        "user_id": "AB0001",
        "variety": "regular",
        "instrument": instrument,
        "transaction_type": "BUY",
        "order_type": "LIMIT",
        "product": "MIS",
        "quantity": 10,
        "price": 500.0,
        "trigger_price": 0.0,
        "validity": "DAY",
        "validity_ttl": 0,
        "disclosed_quantity": 0,
        "market_protection": 0.0,
        "tag": "abc",
        "order_ns": T0,
        "guid": "g1",
        **changes,
    }
    return SimOrder(**fields)


@contextmanager
def refused(
    message: str, error_type: str = "InputException", status: int = 400
) -> Iterator[pytest.ExceptionInfo[KiteError]]:
    """Expect Kite's error with exactly this message, type and HTTP status."""
    with pytest.raises(KiteError) as caught:
        yield caught
    error = caught.value
    assert (error.message, error.error_type, error.status) == (message, error_type, status)


@dataclass
class Rig:
    """An exchange over ``new_market()`` with one account and its order updates."""

    market: SimMarket
    account: SimAccount
    exchange: SimExchange
    updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def book(self) -> AccountBook:
        return self.exchange.book(self.account)

    def tick(self, key: str, price: float, qty: int = 1000, after_s: float = 1.0) -> int:
        """A trade ``after_s`` seconds after the clock (the first at ``T0``)."""
        at = T0 if not self.market.now_ns else self.market.now_ns + int(after_s * NS_PER_SECOND)
        return self.market.inject_tick(key, price, qty, ts_ns=at)

    def place(self, variety: str = "regular", **params: Any) -> SimOrder:
        order_id = self.exchange.place_order(self.account, variety, params)
        return self.book.orders[order_id]

    def modify(self, order: SimOrder, **params: Any) -> str:
        return self.exchange.modify_order(self.account, order.variety, order.order_id, params)

    def cancel(self, order: SimOrder) -> str:
        return self.exchange.cancel_order(self.account, order.variety, order.order_id)

    def statuses(self, order: SimOrder) -> list[str]:
        return [row["status"] for row in order.history]


def rig(account: SimAccount | None = None, **options: Any) -> Rig:
    """A fresh exchange; ``options`` go to ``SimExchange`` (strict rules by default)."""
    market = new_market()
    account = account or new_account()
    exchange = SimExchange(market, [account], **options)
    made = Rig(market, account, exchange)
    exchange.on_order_update(made.updates.append)
    return made


def limit(symbol: str = "SBIN", side: str = "BUY", price: float = 500.0, **extra: Any) -> dict:
    """Form fields of a LIMIT order (MIS) on ``symbol``; ``extra`` overrides."""
    exchange = "NSE" if symbol == "SBIN" else "NFO"
    quantity = 1 if symbol == "SBIN" else 50
    return {
        "exchange": exchange,
        "tradingsymbol": symbol,
        "transaction_type": side,
        "quantity": quantity,
        "product": "MIS",
        "order_type": "LIMIT",
        "price": price,
        **extra,
    }
