"""kitetui.sim.order_updates: Kite's postback shape, and listeners that cannot stop it."""

from __future__ import annotations

import hashlib
import logging

from sim_units import new_account, sim_order

from kitetui.sim.order_updates import OrderUpdates


def test_publish_with_listener_sends_the_order_with_postback_keys():
    account = new_account()
    updates = OrderUpdates({account.user_id: account})
    heard: list[dict] = []
    updates.subscribe(heard.append)
    order = sim_order(filled_quantity=4)
    order.status = "OPEN"
    updates.publish(order)
    updates.publish(order, status="UPDATE")
    first, second = heard
    assert (first["status"], second["status"]) == ("OPEN", "UPDATE")
    assert (first["user_id"], first["unfilled_quantity"], first["app_id"]) == ("AB0001", 6, 0)
    text = order.order_id + first["order_timestamp"] + account.api_secret
    assert first["checksum"] == hashlib.sha256(text.encode()).hexdigest()
    order.status = "CANCELLED"
    updates.publish(order)
    assert heard[-1]["unfilled_quantity"] == 0  # only a working order has an unfilled rest


def test_publish_with_failing_listener_logs_it_and_tells_the_others(caplog):
    account = new_account()
    updates = OrderUpdates({account.user_id: account})
    heard: list[dict] = []

    def broken(_data: dict) -> None:
        raise RuntimeError("reader died")

    updates.subscribe(broken)
    updates.subscribe(heard.append)
    with caplog.at_level(logging.ERROR):
        updates.publish(sim_order())
    assert len(heard) == 1 and "order update listener failed" in caplog.text


def test_subscribe_with_remover_stops_the_updates_and_each_gets_a_copy():
    account = new_account()
    updates = OrderUpdates({account.user_id: account})
    first: list[dict] = []
    second: list[dict] = []
    remove = updates.subscribe(first.append)
    updates.subscribe(second.append)
    updates.publish(sim_order())
    first[0]["status"] = "EDITED"
    assert second[0]["status"] == "PUT ORDER REQ RECEIVED"
    remove()
    updates.publish(sim_order())
    assert (len(first), len(second)) == (1, 2)
