"""A live desk's Kite limits: the reserve its config calls for, a protective request's
wait at the limits journaled as ``RateLimitWaited``, and the Risk tab's two rows."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kitetui.brokers.kite import LimitWait, protective_reserve
from kitetui.config import RiskConfig
from kitetui.domain import Exchange, Order, OrderPurpose, OrderStatus, OrderType, Product, Side
from kitetui.events import EventKind
from kitetui.venues import kite as kite_venue
from kitetui.venues.kite import KiteVenue


@pytest.mark.parametrize(
    ("max_open_positions", "reserve"),
    [(1, 100), (5, 100), (25, 100), (26, 104), (200, 800), (1000, 2500)],
)
def test_protective_reserve_with_positions_allowed(max_open_positions, reserve):
    assert protective_reserve(max_open_positions) == reserve


def test_live_broker_keeps_the_configs_reserve_and_journals_a_protective_wait(monkeypatch):
    async def none_sent_today(*_args) -> int:
        return 0

    monkeypatch.setattr(kite_venue.runs_repo, "count_orders_since", none_sent_today)
    venue = KiteVenue.__new__(KiteVenue)
    venue.config = SimpleNamespace(risk=RiskConfig(max_open_positions=40))  # type: ignore[assignment]
    venue.kite_cfg = SimpleNamespace(root=None, timeout_s=7.0, market_protection=-1)  # type: ignore[assignment]
    venue.live = True
    journaled: list[tuple] = []
    host = SimpleNamespace(
        db=None,
        trader=SimpleNamespace(
            record_order_event=lambda *args, **kwargs: journaled.append((args, kwargs))
        ),
    )
    broker = asyncio.run(venue._kite_broker(host, "key", "token"))  # type: ignore[arg-type]
    venue.broker = broker
    assert broker.limits.urgent_reserve == 160  # 4 orders for each of 40 positions
    assert [(v.name, v.used, v.limit) for v in venue.limits()] == [
        ("Kite orders today", 0, 5000),
        ("Kite orders for entries", 0, 4840),
    ]
    # a person allows more positions open (set-limit): more of the day is kept back
    assert broker.keep_reserve_for(200) == 800
    assert venue.limits()[1].limit == 4200
    with pytest.raises(ValueError, match="urgent_reserve must be at least 0 and below"):
        broker.limits.set_urgent_reserve(5000)
    assert broker.limits.urgent_reserve == 800  # a refused size changes nothing
    stop = Order(
        tag="S1",
        engine="fno",
        symbol="NIFTY23NOVFUT",
        exchange=Exchange.NFO,
        side=Side.SELL,
        quantity=50,
        order_type=OrderType.SL_M,
        product=Product.NRML,
        purpose=OrderPurpose.STOP,
        status=OrderStatus.NEW,
        ts_ns=1,
        trigger_price=19_000.0,
    )
    broker._on_limit_wait(LimitWait(stop, "placement", 1.25))
    [((order, kind, level, message), kwargs)] = journaled
    assert (order, kind, level) == (stop, EventKind.RATE_LIMIT_WAITED, "WARNING")
    assert message == (
        "the placement of STOP S1 (SELL 50 NIFTY23NOVFUT) waited 1.25 s at Kite's rate "
        "limits, behind requests already sent and other protective ones only"
    )
    assert kwargs == {"data": {"action": "placement", "waited_s": 1.25}}
