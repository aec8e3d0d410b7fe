"""Accounts and sessions of the simulated exchange: Kite Connect's login, in memory.

Each ``SimAccount`` is one Kite Connect app and its user (api_key, api_secret,
user_id). ``Sessions.issue_request_token`` stands in for the browser login (single use,
valid five minutes); ``create_session`` checks ``sha256(api_key + request_token +
api_secret)`` as Kite does and issues an access token valid until it is revoked
(``invalidate``), expired (``expire_access_tokens``: a ``token`` fault, or a new IST
day when the exchange is configured so) or its optional wall-clock TTL runs out.
The wall clock is injected, so tests move it instead of sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kitetui.sim.errors import KiteError, input_error, token_error
from kitetui.sim.market import NS_PER_SECOND, ist_str

__all__ = ["REQUEST_TOKEN_TTL_S", "Session", "Sessions", "SimAccount", "user_fields"]

REQUEST_TOKEN_TTL_S = 300  # Kite's request tokens live a few minutes


@dataclass(slots=True)
class SimAccount:
    """One Kite Connect app + user. ``holdings``: rows with ``tradingsymbol``,
    ``exchange``, ``quantity``, ``average_price`` and optionally ``isin``."""

    api_key: str
    api_secret: str
    user_id: str
    user_name: str = "Sim Trader"
    user_shortname: str = "Sim"
    email: str = "sim@example.invalid"
    cash: float = 1_000_000.0
    commodity_cash: float = 0.0
    holdings: list[dict[str, Any]] = field(default_factory=list)
    redirect_url: str | None = None

    def checksum(self, request_token: str) -> str:
        return hashlib.sha256(
            (self.api_key + request_token + self.api_secret).encode("utf-8")
        ).hexdigest()


@dataclass(slots=True)
class Session:
    """One issued access token and whether it still opens the door."""

    api_key: str
    user_id: str
    access_token: str
    public_token: str
    issued_wall: float
    expires_wall: float | None
    login_ns: int
    valid: bool = True


def user_fields(account: SimAccount) -> dict[str, Any]:
    """The user keys Kite repeats in the session answer and the profile."""
    return {
        "user_type": "individual",
        "email": account.email,
        "user_name": account.user_name,
        "user_shortname": account.user_shortname,
        "broker": "ZERODHA",
        "exchanges": ["NSE", "NFO", "BFO", "BSE"],
        "products": ["CNC", "NRML", "MIS"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "avatar_url": None,
    }


class Sessions:
    """The accounts by api_key, their pending request tokens and issued sessions."""

    def __init__(
        self,
        accounts: Iterable[SimAccount],
        *,
        clock: Callable[[], float],
        market_ns: Callable[[], int],
        token_ttl_s: float | None = None,
    ) -> None:
        """``clock`` is the wall clock (seconds) tokens expire by; ``market_ns`` the
        market's clock, stamped on each login."""
        self.accounts: dict[str, SimAccount] = {}
        for account in accounts:
            if account.api_key in self.accounts:
                raise ValueError(f"duplicate api_key {account.api_key!r}")
            self.accounts[account.api_key] = account
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self._market_ns = market_ns
        self._request_tokens: dict[str, tuple[str, float]] = {}
        self._sessions: dict[str, Session] = {}

    def account(self, api_key: str) -> SimAccount | None:
        return self.accounts.get(api_key)

    def issue_request_token(self, api_key: str) -> str:
        """What the browser login would hand back; single use, valid 5 minutes."""
        if api_key not in self.accounts:
            raise token_error("Invalid `api_key`.")
        token = secrets.token_hex(16)
        self._request_tokens[token] = (api_key, self.clock())
        return token

    def create_session(self, api_key: str, request_token: str, checksum: str) -> dict[str, Any]:
        """``POST /session/token``: verify the checksum and issue an access token."""
        account = self._redeem(api_key, request_token, checksum)
        now = self.clock()
        session = Session(
            api_key=api_key,
            user_id=account.user_id,
            access_token=secrets.token_hex(16),
            public_token=secrets.token_hex(16),
            issued_wall=now,
            expires_wall=None if self.token_ttl_s is None else now + self.token_ttl_s,
            login_ns=self._market_ns(),
        )
        self._sessions[session.access_token] = session
        return {
            **user_fields(account),
            "user_id": account.user_id,
            "api_key": api_key,
            "access_token": session.access_token,
            "public_token": session.public_token,
            "enctoken": secrets.token_hex(16),
            "refresh_token": "",
            "silo": "",
            "login_time": ist_str(int(now * NS_PER_SECOND)),
            "meta": {"demat_consent": "physical"},
        }

    def _redeem(self, api_key: str, request_token: str, checksum: str) -> SimAccount:
        """The account a login's request token and checksum prove; the token is used up.
        Kite's refusals in its order: an empty field, an unknown key, a stale token, a
        wrong checksum."""
        for name, value in (
            ("api_key", api_key),
            ("request_token", request_token),
            ("checksum", checksum),
        ):
            if not value:
                raise input_error(f"Missing or empty `{name}`.")
        account = self.accounts.get(api_key)
        if account is None:
            raise token_error("Invalid `api_key`.")
        issued = self._request_tokens.get(request_token)
        if issued is None or issued[0] != api_key or self.clock() - issued[1] > REQUEST_TOKEN_TTL_S:
            raise token_error("Token is invalid or has expired.")
        if not secrets.compare_digest(checksum.lower(), account.checksum(request_token)):
            raise token_error("Invalid `checksum`.")
        del self._request_tokens[request_token]
        return account

    def authenticate(self, api_key: str, access_token: str) -> SimAccount:
        """The account behind a valid token; raises 403 ``TokenException`` otherwise."""
        session = self._sessions.get(access_token)
        if session is None or session.api_key != api_key or not session.valid:
            raise token_error()
        if session.expires_wall is not None and self.clock() >= session.expires_wall:
            session.valid = False
            raise token_error()
        return self.accounts[api_key]

    def account_for_token(self, api_key: str, access_token: str) -> SimAccount | None:
        """For the ticker's handshake: the account, or None when the token is bad."""
        try:
            return self.authenticate(api_key, access_token)
        except KiteError:
            return None

    def check_access_token(self, api_key: str, access_token: str) -> str | None:
        """For the ticker's upgrade check: the user id of a valid pair, else None."""
        account = self.account_for_token(api_key, access_token)
        return account.user_id if account is not None else None

    def invalidate(self, api_key: str, access_token: str) -> bool:
        """``DELETE /session/token``: revoke one access token."""
        session = self._sessions.get(access_token)
        if session is None or session.api_key != api_key:
            return False
        session.valid = False
        return True

    def expire_access_tokens(self, api_key: str | None = None) -> int:
        """Expire every live token (of one api_key); the next call gets 403."""
        count = 0
        for session in self._sessions.values():
            if session.valid and (api_key is None or session.api_key == api_key):
                session.valid = False
                count += 1
        return count

    @staticmethod
    def profile(account: SimAccount) -> dict[str, Any]:
        """``GET /user/profile``."""
        return {
            "user_id": account.user_id,
            **user_fields(account),
            "meta": {"demat_consent": "physical"},
        }
