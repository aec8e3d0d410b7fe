"""The entry path's records built positionally (``drafts.maker``) are the records the
keyword form builds: the order written ahead (``new_order``), a signal's intent
(``market_intent``), the risk gate's ``ExposureView`` (``Trader._exposure``), a listed
signal's ``SignalView`` and a recorded event's ``EventView``. Each field is given a value
of its own here, so a value put in the wrong slot or a default spelled wrong fails; the
types are compared too (0 == 0.0).
"""

from __future__ import annotations

import asyncio
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kitetui.brokers.paper import PaperBroker
from kitetui.config import RiskConfig
from kitetui.domain import (
    Exchange,
    Order,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
    Signal,
    SignalKind,
)
from kitetui.events import EventKind
from kitetui.market.instruments import Instrument
from kitetui.trading.entries import market_intent
from kitetui.trading.risk import ExposureView
from kitetui.trading.trader import new_order
from kitetui.views import EventView, SignalView

from .desk import STOCK, StubEngine, make_desk

T = 10.0
INFY = Instrument(4, 4, "INFY", "INFY", 0.0, None, 0.0, 0.05, 1, "EQ", "NSE", "NSE")
SBIN = STOCK.tradingsymbol


def _same(made: Any, expected: Any) -> None:
    assert made == expected
    assert type(made) is type(expected)
    for f in fields(expected):
        assert type(getattr(made, f.name)) is type(getattr(expected, f.name)), f.name


intents = st.builds(
    OrderIntent,
    engine=st.sampled_from(["eq", "fno"]),
    symbol=st.sampled_from(["SBIN", "INFY"]),
    exchange=st.sampled_from(list(Exchange)),
    side=st.sampled_from(list(Side)),
    quantity=st.integers(1, 10_000),
    purpose=st.sampled_from(list(OrderPurpose)),
    order_type=st.sampled_from(list(OrderType)),
    product=st.sampled_from(list(Product)),
    price=st.sampled_from([0.0, 101.5]),
    trigger_price=st.sampled_from([0.0, 99.25]),
    stop_price=st.sampled_from([0.0, 97.05]),
    signal_id=st.sampled_from(["", "sig-7"]),
    reason=st.sampled_from(["", "LONG: a cross"]),
)


@given(intent=intents, tag=st.sampled_from(["ABCDEFGHIJKLMNOP", "t2"]), ts=st.integers(0, 10**18))
def test_the_order_written_ahead_is_the_keyword_built_order(intent, tag, ts) -> None:
    expected = Order(
        tag=tag,
        engine=intent.engine,
        symbol=intent.symbol,
        exchange=intent.exchange,
        side=intent.side,
        quantity=intent.quantity,
        order_type=intent.order_type,
        product=intent.product,
        purpose=intent.purpose,
        status=OrderStatus.NEW,
        ts_ns=ts,
        price=intent.price,
        trigger_price=intent.trigger_price,
        stop_price=intent.stop_price,
        signal_id=intent.signal_id,
        reason=intent.reason,
    )
    _same(new_order(intent, tag, ts), expected)


@given(
    side=st.sampled_from(list(Side)),
    quantity=st.integers(1, 10_000),
    purpose=st.sampled_from(list(OrderPurpose)),
    stop=st.sampled_from([0.0, 97.05]),
    kind=st.sampled_from(list(SignalKind)),
    product=st.sampled_from(list(Product)),
)
def test_a_signals_intent_is_the_keyword_built_intent(
    side, quantity, purpose, stop, kind, product
) -> None:
    engine = SimpleNamespace(name="eq", exchange=Exchange.BSE, product=product)
    signal = Signal("sig-3", 5, "eq", "ema_cross", "SBIN", 60, kind, 500.0, "a cross")
    expected = OrderIntent(
        engine="eq",
        symbol="INFY",
        exchange=Exchange.BSE,
        side=side,
        quantity=quantity,
        purpose=purpose,
        product=product,
        stop_price=stop,
        signal_id="sig-3",
        reason=f"{kind.value}: a cross",
    )
    _same(market_intent(engine, "INFY", side, quantity, purpose, stop, signal), expected)  # type: ignore[arg-type]


async def test_the_exposure_and_the_signal_view_are_the_keyword_built_records(
    tmp_path: Path,
) -> None:
    """On a desk holding one position (SBIN, filled) with another entry working (INFY):
    every count of the exposure differs from the others, so a swapped slot shows."""
    risk = RiskConfig(max_order_value=1e9, max_order_quantity=1_000_000, max_gross_exposure=1e9)
    engine = StubEngine(
        name="eq", kind="equity", exchange=Exchange.NSE, instruments={SBIN: STOCK, "INFY": INFY}
    )
    broker = PaperBroker(slippage_bps=0, tick_size=0.05)
    desk = await asyncio.wait_for(make_desk(tmp_path, engine=engine, risk=risk, broker=broker), T)
    try:
        trader = desk.trader
        for symbol, price in ((SBIN, 500.0), ("INFY", 1500.0)):
            trader.last_prices[symbol] = price
            signal = desk.signal(SignalKind.LONG, symbol, price, atr=5.0)
            assert await asyncio.wait_for(trader.on_signal(desk.engine, signal), T) == 1
            if symbol == SBIN:
                await desk.price(SBIN, 510.0)  # SBIN fills and is marked at 510
        view = trader.signals[-1]
        assert not trader.blocked  # (both went on whole)
        _same(
            view,
            SignalView(
                seq=trader.signal_seq,
                signal_id=signal.signal_id,
                ts_ns=signal.ts_ns,
                engine=signal.engine,
                strategy=signal.strategy,
                symbol=signal.symbol,
                kind=signal.kind.value,
                price=signal.price,
                reason=signal.reason,
                confidence=signal.confidence,
                indicators=tuple(sorted(signal.indicators.items())),
                risk_verdict="ALLOW",
                risk_reason="within limits",
            ),
        )
        held = trader.position_qty(SBIN)
        (entry,) = [o for o in trader.open_orders() if o.purpose is OrderPurpose.ENTRY]
        assert held > 0 and entry.symbol == "INFY" and entry.quantity != held
        expected = ExposureView(
            open_positions=1,
            gross_exposure_paise=held * 51_000,
            position_qty=held,
            working_orders=len(trader.open_orders(SBIN)),
            engine_paused=False,
            entries_working=1,
            entries_working_paise=entry.quantity * 150_000,
        )
        _same(trader._exposure(SBIN, desk.engine), expected)
        # INFY again while its entry works: blocked, and the block's event listed
        signal = desk.signal(SignalKind.LONG, "INFY", 1500.0, atr=5.0)
        assert await asyncio.wait_for(trader.on_signal(desk.engine, signal), T) == 0
        view = trader.events[-1]
        assert view.message.startswith("ENTRY BUY ")
        assert view.message.endswith(": INFY: an order is already working")
        _same(
            view,
            EventView(
                seq=trader.event_seq,
                ts_ns=desk.clock.now_ns,
                kind=EventKind.RISK_BLOCKED,
                level="WARNING",
                message=view.message,
                symbol="INFY",
                engine="eq",
            ),
        )
    finally:
        await desk.close()
