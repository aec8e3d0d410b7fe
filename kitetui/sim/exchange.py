"""The simulated exchange's broker side: one façade over accounts, orders and books.

``SimExchange`` is the state behind the REST routes (``kitetui.sim.rest``), the ticker
(``kitetui.sim.ticker``) and the in-process client (``kitetui.sim.inproc``), shaped
exactly like Kite's payloads (see ``../shared/docs/kite-contract.md`` and
``../shared/kite-mocks``). It owns nothing but the wiring; each job is its own module:

* ``sessions`` — accounts, request tokens, access tokens, the profile.
* ``order_gate`` — Kite's and NSE's field checks (HTTP 400 ``InputException``), as
  ordered tables of checks (rules in ``rules``, table in docs/exchange-rules.md).
* ``orders`` — placement through Kite's order states, the RMS, AMO requests,
  protected MARKET orders priced as a band LIMIT, cancellation.
* ``modifications`` — modify in place, tried in the matcher first, the 25 cap.
* ``matching`` — each market batch matched by the account's ``PaperBook``
  (``kitetui.brokers.paper_book``, one per account, used synchronously), protected
  SL-M orders the sim watches itself, LPP cancellations, TTL expiry.
* ``fills`` — paper fills booked as trade rows, positions and order states.
* ``reads`` — order book, history, trades, positions and holdings in Kite's shape.
* ``margins`` — Kite's margin buckets, approximated and enforced by the RMS.
* ``day_end`` — the intraday auto square-off at the cut-off, and the close: unmatched
  orders cancelled, each day's order book and tradebook starting empty, and the
  contracts that expired settled in cash (gone from the positions, P&L to the cash).
* ``order_updates`` — every order state change pushed to listeners (the ticker) as
  the order dict plus the postback-only keys.
* ``order_book`` (``SimOrder``, an account's ``AccountBook``), ``tape`` (last traded
  quantities, LPP references), ``errors`` (``KiteError``).

Everything runs on the caller's thread (the server's event loop); nothing blocks and
nothing awaits, so the market's batch listener can match in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from kitetui.brokers.paper_book import Liquidity, PaperBook
from kitetui.sim import reads
from kitetui.sim.day_end import DayEnd
from kitetui.sim.errors import KiteError, input_error, order_error, token_error
from kitetui.sim.faults import FaultInjector
from kitetui.sim.fills import FillRecorder
from kitetui.sim.margins import Margins
from kitetui.sim.market import SimMarket
from kitetui.sim.matching import Matcher
from kitetui.sim.modifications import OrderModifier
from kitetui.sim.order_book import AccountBook, SimOrder
from kitetui.sim.order_gate import OrderGate
from kitetui.sim.order_updates import OrderListener, OrderUpdates
from kitetui.sim.orders import OrderDesk
from kitetui.sim.rules import SimRules
from kitetui.sim.sessions import Sessions, SimAccount
from kitetui.sim.tape import TradeTape

__all__ = [
    "KiteError",
    "SimAccount",
    "SimExchange",
    "SimOrder",
    "input_error",
    "order_error",
    "token_error",
]


class SimExchange:
    """Accounts, sessions and order books over a ``SimMarket`` (module docstring)."""

    def __init__(
        self,
        market: SimMarket,
        accounts: Iterable[SimAccount],
        *,
        slippage_bps: float = 2.0,
        fill_on_placement: bool = True,
        freeze_limits: dict[str, int] | None = None,
        token_ttl_s: float | None = None,
        expire_tokens_on_new_day: bool = False,
        enforce_margins: bool = True,
        rules: SimRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.market = market
        self.rules = rules or SimRules()
        self.faults = FaultInjector()
        self.expire_tokens_on_new_day = expire_tokens_on_new_day
        self.sessions = Sessions(
            accounts, clock=clock, market_ns=lambda: market.now_ns, token_ttl_s=token_ttl_s
        )
        self.accounts = self.sessions.accounts
        self._books = {
            account.user_id: AccountBook(account, self._paper_book(slippage_bps))
            for account in self.accounts.values()
        }
        self._updates = OrderUpdates({uid: book.account for uid, book in self._books.items()})
        tape = TradeTape(market.master, lpp=self.rules.lpp)
        gate = OrderGate(market, self.rules, tape, freeze_limits)
        fills = FillRecorder(self._updates, lambda: market.now_ns)
        self._margins = Margins(market)
        self._desk = OrderDesk(
            market,
            self.rules,
            self.faults,
            gate,
            self._margins,
            fills,
            self._updates,
            tape,
            fill_on_placement=fill_on_placement,
            enforce_margins=enforce_margins,
        )
        self._modifier = OrderModifier(self._desk, gate)
        matcher = Matcher(self._books, self._desk, fills, tape)
        market.add_listener(matcher.on_batch)
        self._day_end = DayEnd(self._books, self._desk, self.rules, gate.freeze_limits)
        market.add_listener(self._day_end.on_batch)  # after the matcher: the batch traded
        market.on_day_change(self._on_day)

    def _paper_book(self, slippage_bps: float) -> PaperBook:
        """An account's matcher: the master's tick sizes, and partial fills in whole
        lots when the rules ask for them."""
        master = self.market.master
        ticks = {i.key: i.tick_size for i in master if i.tick_size > 0}
        fraction = self.rules.liquidity_fraction
        liquidity = None
        if fraction is not None:
            liquidity = Liquidity(fraction, {i.key: i.lot_size for i in master if i.lot_size > 1})
        return PaperBook(slippage_bps=slippage_bps, tick_sizes=ticks, liquidity=liquidity)

    def _on_day(self, _old: int, new: int) -> None:
        if self.expire_tokens_on_new_day:
            self.sessions.expire_access_tokens()
        self._day_end.on_day(new)
        for book in self._books.values():
            # Released after the new day's first batch is applied, at its prices.
            book.amo_release = bool(book.amo_queue)

    # ================================================================== sessions

    def account(self, api_key: str) -> SimAccount | None:
        return self.sessions.account(api_key)

    def issue_request_token(self, api_key: str) -> str:
        """What the browser login would hand back; single use, valid 5 minutes."""
        return self.sessions.issue_request_token(api_key)

    def create_session(self, api_key: str, request_token: str, checksum: str) -> dict[str, Any]:
        """``POST /session/token``: verify the checksum and issue an access token."""
        return self.sessions.create_session(api_key, request_token, checksum)

    def authenticate(self, api_key: str, access_token: str) -> SimAccount:
        """The account behind a valid token; raises 403 ``TokenException`` otherwise."""
        return self.sessions.authenticate(api_key, access_token)

    def account_for_token(self, api_key: str, access_token: str) -> SimAccount | None:
        """For the ticker's handshake: the account, or None when the token is bad."""
        return self.sessions.account_for_token(api_key, access_token)

    def check_access_token(self, api_key: str, access_token: str) -> str | None:
        """For the ticker's upgrade check: the user id of a valid pair, else None."""
        return self.sessions.check_access_token(api_key, access_token)

    def invalidate(self, api_key: str, access_token: str) -> bool:
        """``DELETE /session/token``: revoke one access token."""
        return self.sessions.invalidate(api_key, access_token)

    def expire_access_tokens(self, api_key: str | None = None) -> int:
        """Expire every live token (of one api_key); the next call gets 403."""
        return self.sessions.expire_access_tokens(api_key)

    def profile(self, account: SimAccount) -> dict[str, Any]:
        return self.sessions.profile(account)

    # ================================================================== orders

    def on_order_update(self, callback: OrderListener) -> Callable[[], None]:
        """``callback(order_dict)`` on every order state change; returns a remover.
        The dict is Kite's order shape plus ``user_id`` (route it per user)."""
        return self._updates.subscribe(callback)

    def book(self, account: SimAccount) -> AccountBook:
        return self._books[account.user_id]

    def place_order(self, account: SimAccount, variety: str, params: dict[str, Any]) -> str:
        """``POST /orders/{variety}``; returns the order id (the order may end REJECTED)."""
        return self._desk.place(account, self.book(account), variety, params)

    def modify_order(
        self, account: SimAccount, variety: str, order_id: str, params: dict[str, Any]
    ) -> str:
        """``PUT /orders/{variety}/{order_id}``: price/qty/type/trigger/validity."""
        return self._modifier.modify(self.book(account), variety, order_id, params)

    def cancel_order(self, account: SimAccount, variety: str, order_id: str) -> str:
        """``DELETE /orders/{variety}/{order_id}``."""
        return self._desk.cancel_order(self.book(account), variety, order_id)

    # ================================================================== reads

    def orders(self, account: SimAccount) -> list[dict[str, Any]]:
        return reads.orders(self.book(account))

    def order_history(self, account: SimAccount, order_id: str) -> list[dict[str, Any]]:
        return reads.order_history(self.book(account), order_id)

    def find_by_tag(self, account: SimAccount, tag: str) -> list[dict[str, Any]]:
        return reads.find_by_tag(self.book(account), tag)

    def trades(self, account: SimAccount) -> list[dict[str, Any]]:
        return reads.trades(self.book(account))

    def order_trades(self, account: SimAccount, order_id: str) -> list[dict[str, Any]]:
        return reads.order_trades(self.book(account), order_id)

    def positions(self, account: SimAccount) -> dict[str, list[dict[str, Any]]]:
        return reads.positions(self.book(account), self.market)

    def holdings(self, account: SimAccount) -> list[dict[str, Any]]:
        return reads.holdings(account, self.market)

    def margins(self, account: SimAccount, segment: str | None = None) -> dict[str, Any]:
        return self._margins.margins(account, self.book(account), segment)
