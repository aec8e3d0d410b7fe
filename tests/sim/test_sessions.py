"""kitetui.sim.sessions: Kite Connect's login on an injected wall clock."""

from __future__ import annotations

import hashlib
import re

import pytest

from kitetui.sim.errors import KiteError
from kitetui.sim.sessions import REQUEST_TOKEN_TTL_S, Sessions, SimAccount


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def sessions(ttl: float | None = None) -> tuple[Sessions, Clock, SimAccount]:
    clock = Clock()
    account = SimAccount("key", "secret", "AB0001", user_name="Asha")
    other = SimAccount("key2", "secret2", "AB0002")
    made = Sessions([account, other], clock=clock, market_ns=lambda: 42, token_ttl_s=ttl)
    return made, clock, account


def login(made: Sessions, account: SimAccount) -> dict:
    token = made.issue_request_token(account.api_key)
    return made.create_session(account.api_key, token, account.checksum(token))


def test_checksum_with_kites_formula_is_sha256_of_key_token_secret():
    account = SimAccount("k", "s", "U")
    assert account.checksum("t") == hashlib.sha256(b"kts").hexdigest()


def test_create_session_with_valid_checksum_opens_the_door():
    made, _clock, account = sessions()
    session = login(made, account)
    assert session["user_id"] == "AB0001" and session["user_name"] == "Asha"
    assert made.authenticate("key", session["access_token"]) is account
    assert made.check_access_token("key", session["access_token"]) == "AB0001"
    assert made.account_for_token("key2", session["access_token"]) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "tok", "sum"), "Missing or empty `api_key`."),
        (("key", "", "sum"), "Missing or empty `request_token`."),
        (("key", "tok", ""), "Missing or empty `checksum`."),
        (("nokey", "tok", "sum"), "Invalid `api_key`."),
        (("key", "unknown", "sum"), "Token is invalid or has expired."),
    ],
)
def test_create_session_with_bad_fields_answers_kites_refusal(fields, message):
    made, _clock, _account = sessions()
    with pytest.raises(KiteError, match=re.escape(message)):
        made.create_session(*fields)


def test_create_session_with_wrong_checksum_refuses_and_keeps_the_token():
    made, _clock, account = sessions()
    token = made.issue_request_token("key")
    with pytest.raises(KiteError, match=re.escape("Invalid `checksum`.")) as refused:
        made.create_session("key", token, "0" * 64)
    assert refused.value.status == 403
    made.create_session("key", token, account.checksum(token).upper())  # case-insensitive


def test_request_token_with_reuse_or_age_or_other_key_is_refused():
    made, clock, account = sessions()
    token = made.issue_request_token("key")
    made.create_session("key", token, account.checksum(token))
    with pytest.raises(KiteError, match=re.escape("Token is invalid or has expired.")):
        made.create_session("key", token, account.checksum(token))  # single use
    stale = made.issue_request_token("key")
    clock.now += REQUEST_TOKEN_TTL_S + 1
    with pytest.raises(KiteError, match=re.escape("Token is invalid or has expired.")):
        made.create_session("key", stale, account.checksum(stale))
    theirs = made.issue_request_token("key2")
    with pytest.raises(KiteError, match=re.escape("Token is invalid or has expired.")):
        made.create_session("key", theirs, account.checksum(theirs))
    with pytest.raises(KiteError, match=re.escape("Invalid `api_key`.")):
        made.issue_request_token("nokey")


def test_access_token_with_ttl_expires_on_the_wall_clock():
    made, clock, account = sessions(ttl=60.0)
    token = login(made, account)["access_token"]
    clock.now += 59
    assert made.authenticate("key", token) is account
    clock.now += 1
    with pytest.raises(KiteError) as refused:
        made.authenticate("key", token)
    assert (refused.value.status, refused.value.error_type) == (403, "TokenException")
    clock.now -= 30  # once expired, it stays expired
    assert made.account_for_token("key", token) is None


def test_invalidate_and_expire_with_tokens_revoke_only_what_they_name():
    made, _clock, account = sessions()
    first, second = login(made, account), login(made, account)
    assert made.invalidate("key2", first["access_token"]) is False  # not its token
    assert made.invalidate("key", first["access_token"]) is True
    assert made.account_for_token("key", first["access_token"]) is None
    assert made.expire_access_tokens("key2") == 0
    assert made.expire_access_tokens() == 1
    assert made.account_for_token("key", second["access_token"]) is None


def test_sessions_with_duplicate_api_key_refuse_to_start():
    with pytest.raises(ValueError, match="duplicate api_key 'k'"):
        Sessions(
            [SimAccount("k", "a", "U1"), SimAccount("k", "b", "U2")],
            clock=Clock(),
            market_ns=lambda: 0,
        )


def test_profile_with_account_is_kites_user_shape():
    account = SimAccount("k", "s", "U1", email="u@example.invalid")
    profile = Sessions.profile(account)
    assert profile["user_id"] == "U1" and profile["email"] == "u@example.invalid"
    assert profile["order_types"] == ["MARKET", "LIMIT", "SL", "SL-M"]
    assert profile["meta"] == {"demat_consent": "physical"}
