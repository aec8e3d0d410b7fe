"""kitetui.sim.exchange: the façade other code imports, wired over its parts."""

from __future__ import annotations

import pytest
from sim_units import STOCK_KEY, limit, new_account, new_market, rig

from kitetui.sim.exchange import KiteError, SimAccount, SimExchange, SimOrder


def login(made) -> str:
    exchange, account = made.exchange, made.account
    token = exchange.issue_request_token(account.api_key)
    return exchange.create_session(account.api_key, token, account.checksum(token))["access_token"]


def test_facade_with_duplicate_api_key_refuses_to_start():
    with pytest.raises(ValueError, match="duplicate api_key"):
        SimExchange(new_market(), [new_account(), new_account(user_id="OTHER")])


@pytest.mark.parametrize(("expire", "valid"), [(True, False), (False, True)])
def test_new_day_with_expire_tokens_on_new_day_logs_everyone_out(expire, valid):
    made = rig(expire_tokens_on_new_day=expire)
    made.tick(STOCK_KEY, 500.0)
    token = login(made)
    made.tick(STOCK_KEY, 500.0, after_s=3600)
    assert made.exchange.account_for_token("key", token) is made.account
    made.tick(STOCK_KEY, 500.0, after_s=24 * 3600)
    assert (made.exchange.account_for_token("key", token) is made.account) is valid


def test_reads_with_rest_routes_are_methods_taking_the_account_first():
    """rest.py serves each read as ``SimExchange.<read>(exchange, account, *path values)``."""
    made = rig()
    made.tick(STOCK_KEY, 500.0)
    order = made.place(**limit(price=501.0, tag="t1"))
    exchange, account = made.exchange, made.account
    assert isinstance(order, SimOrder)
    assert SimExchange.profile(exchange, account)["user_id"] == "AB0001"
    assert SimExchange.margins(exchange, account, "equity")["enabled"] is True
    assert [o["order_id"] for o in SimExchange.orders(exchange, account)] == [order.order_id]
    assert SimExchange.order_history(exchange, account, order.order_id)[-1]["status"] == (
        "COMPLETE"
    )
    assert len(SimExchange.order_trades(exchange, account, order.order_id)) == 1
    assert len(SimExchange.trades(exchange, account)) == 1
    assert SimExchange.positions(exchange, account)["net"][0]["quantity"] == 1
    assert SimExchange.holdings(exchange, account) == []
    assert [o["tag"] for o in exchange.find_by_tag(account, "t1")] == ["t1"]


def test_orders_with_two_users_stay_in_their_own_books_and_updates_name_them():
    market = new_market()
    first, second = new_account(), SimAccount("key2", "secret2", "AB0002")
    exchange = SimExchange(market, [first, second])
    heard: list[dict] = []
    exchange.on_order_update(heard.append)
    market.inject_tick(STOCK_KEY, 500.0, 1000)
    exchange.place_order(second, "regular", limit(price=499.0))
    assert exchange.orders(first) == [] and len(exchange.orders(second)) == 1
    assert {u["user_id"] for u in heard} == {"AB0002"}
    with pytest.raises(KiteError):
        exchange.cancel_order(first, "regular", exchange.orders(second)[0]["order_id"])
